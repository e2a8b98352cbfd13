/* test-vit.c — the encoder: names and shapes, patchification, position
 * table, token subsets, embeddings, overfitting a batch with flat memory,
 * and seeded reproducibility. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "finite-diff.h"
#include "graph-private.h"
#include "m3ret-check.h"
#include "m3ret-readout.h"

static M3retRegistry *registry;

static M3retDevice *
new_device (gint threads)
{
  g_autoptr (GError) error = NULL;
  M3retDevice *device = m3ret_device_new_by_name (registry, "cpu", threads, NULL, &error);
  ck_assert_msg (device != NULL, "%s", error ? error->message : "");
  return device;
}

static void
micro_config (M3retVitConfig *c, gint size, gint frames)
{
  const gint tubelet[3] = { 2, 8, 8 };
  g_autoptr (GError) error = NULL;
  ck_assert_msg (m3ret_vit_config_init (c, M3RET_PRESET_MICRO, size, frames, tubelet, &error), "%s",
                 error ? error->message : "");
}

static void
assert_shape (M3retParams *params, const gchar *name, gint ndim, const gint64 *shape)
{
  M3retTensor *t = m3ret_params_lookup (params, name);
  ck_assert_msg (t != NULL, "no parameter %s", name);
  ck_assert_int_eq (t->ndim, ndim);
  for (gint i = 0; i < ndim; i++)
    ck_assert_int_eq (t->shape[i], shape[i]);
}

START_TEST (test_names_and_shapes)
{
  M3retDevice *device = new_device (1);
  M3retParams *params = m3ret_params_new (device);
  M3retVitConfig c;
  micro_config (&c, 32, 4);
  M3retRng rng;
  m3ret_rng_init (&rng, 0, M3RET_RNG_STREAM_INIT);
  M3retVit *vit = m3ret_vit_new (params, "", &c, &rng, NULL);
  ck_assert_ptr_nonnull (vit);
  gint64 l = 2 * 4 * 4, d = 64;
  assert_shape (params, "cls_token", 3, (gint64[]) { 1, 1, d });
  assert_shape (params, "pos_embed", 3, (gint64[]) { 1, 1 + l, d });
  assert_shape (params, "patch_embed.proj.weight", 5, (gint64[]) { d, 3, 2, 8, 8 });
  assert_shape (params, "patch_embed.proj.bias", 1, (gint64[]) { d });
  assert_shape (params, "blocks.0.norm1.weight", 1, (gint64[]) { d });
  assert_shape (params, "blocks.0.attn.qkv.weight", 2, (gint64[]) { 3 * d, d });
  assert_shape (params, "blocks.0.attn.qkv.bias", 1, (gint64[]) { 3 * d });
  assert_shape (params, "blocks.1.attn.proj.weight", 2, (gint64[]) { d, d });
  assert_shape (params, "blocks.1.norm2.bias", 1, (gint64[]) { d });
  assert_shape (params, "blocks.1.mlp.fc1.weight", 2, (gint64[]) { 4 * d, d });
  assert_shape (params, "blocks.1.mlp.fc2.weight", 2, (gint64[]) { d, 4 * d });
  assert_shape (params, "norm.weight", 1, (gint64[]) { d });
  ck_assert_ptr_null (m3ret_params_lookup (params, "blocks.2.norm1.weight"));
  /* pos_embed is a buffer; biases and norms get no decay, matrices do */
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    const gchar *name = m3ret_params_get_name (params, i);
    ck_assert_int_eq (m3ret_params_is_trainable (params, i), strcmp (name, "pos_embed") != 0);
    gboolean vector = m3ret_params_get_tensor (params, i)->ndim == 1;
    if (m3ret_params_is_trainable (params, i))
      ck_assert_int_eq (m3ret_params_get_decay (params, i), !vector);
  }
  /* trainable count: blocks 12D²+13D each, patch D·P+D, cls D, final norm 2D */
  gsize p = 3 * 2 * 8 * 8;
  gsize want = 2 * (12 * d * d + 13 * d) + d * p + d + d + 2 * d;
  ck_assert_uint_eq (m3ret_params_count (params, TRUE), want);
  /* init: LayerNorm weights one, biases zero, a qkv weight within the xavier bound */
  float *w = m3ret_tensor_to_host (m3ret_params_lookup (params, "blocks.0.norm1.weight"));
  float *bias = m3ret_tensor_to_host (m3ret_params_lookup (params, "blocks.0.attn.qkv.bias"));
  float *qkv = m3ret_tensor_to_host (m3ret_params_lookup (params, "blocks.0.attn.qkv.weight"));
  gdouble bound = sqrt (6.0 / (d + 3 * d)), maxabs = 0;
  for (gint i = 0; i < d; i++) {
    ck_assert_float_eq (w[i], 1.0f);
    ck_assert_float_eq (bias[i], 0.0f);
  }
  for (gint i = 0; i < 3 * d * d; i++)
    maxabs = MAX (maxabs, fabs (qkv[i]));
  ck_assert (maxabs <= bound && maxabs > 0.9 * bound);
  g_free (w);
  g_free (bias);
  g_free (qkv);
  /* a 2-D image (2 frames = one tubelet deep) through an encoder set up for
   * 4-frame volumes: 16 tokens on the t = 0 rows of the position table */
  M3retGraph *g = m3ret_graph_new (device);
  float *img = g_new0 (float, 3 * 2 * 32 * 32);
  M3retTensor *out = m3ret_vit_forward (g, vit, m3ret_vit_patchify (g, vit, img, 1, 2), NULL, 0);
  ck_assert_int_eq (out->shape[0], 1);
  ck_assert_int_eq (out->shape[1], 1 + 16);
  ck_assert_int_eq (out->shape[2], d);
  g_free (img);
  m3ret_graph_free (g);
  m3ret_vit_free (vit);
  m3ret_params_free (params);
  m3ret_device_free (device);
}
END_TEST

START_TEST (test_presets)
{
  const gint tubelet[3] = { 2, 8, 8 };
  const struct { const gchar *name; gint d, depth, heads; } want[] = {
    { "micro", 64, 2, 2 }, { "tiny", 192, 12, 3 }, { "small", 384, 12, 6 }, { "base", 768, 12, 12 }
  };
  for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
    M3retVitConfig c;
    M3retPreset p;
    ck_assert (m3ret_vit_preset_from_name (want[i].name, &p, NULL));
    ck_assert_str_eq (m3ret_vit_preset_name (p), want[i].name);
    ck_assert (m3ret_vit_config_init (&c, p, 64, 16, tubelet, NULL));
    ck_assert_int_eq (c.dim, want[i].d);
    ck_assert_int_eq (c.depth, want[i].depth);
    ck_assert_int_eq (c.heads, want[i].heads);
    ck_assert_int_eq (c.mlp_hidden, 4 * want[i].d);
    ck_assert_int_eq (m3ret_vit_config_n_tokens (&c, 16), 8 * 8 * 8);
    ck_assert_int_eq (m3ret_vit_config_n_tokens (&c, 2), 8 * 8);
  }
  M3retVitConfig c;
  g_autoptr (GError) error = NULL;
  M3retPreset p;
  ck_assert (!m3ret_vit_preset_from_name ("huge", &p, &error));
  ck_assert_ptr_nonnull (strstr (error->message, "huge"));
  g_clear_error (&error);
  const gint bad[3] = { 3, 8, 8 };
  ck_assert (!m3ret_vit_config_init (&c, M3RET_PRESET_TINY, 64, 16, bad, &error));
}
END_TEST

START_TEST (test_patchify)
{
  gint b = 2, ch = 3, t = 4, h = 16, w = 24;
  const gint tub[3] = { 2, 8, 4 };
  gsize n = (gsize) b * ch * t * h * w;
  float *x = g_new (float, n), *out = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) i;
  m3ret_patchify (x, b, ch, t, h, w, tub, out);
  gint gt = 2, gh = 2, gw = 6, p = ch * 2 * 8 * 4;
  for (gint bi = 0; bi < b; bi++)
    for (gint c = 0; c < ch; c++)
      for (gint ti = 0; ti < t; ti++)
        for (gint hi = 0; hi < h; hi++)
          for (gint wi = 0; wi < w; wi++) {
            gsize src = ((((gsize) bi * ch + c) * t + ti) * h + hi) * w + wi;
            gint token = ((ti / 2) * gh + hi / 8) * gw + wi / 4;
            gint within = ((c * 2 + ti % 2) * 8 + hi % 8) * 4 + wi % 4;
            ck_assert_float_eq (out[((gsize) bi * gt * gh * gw + token) * p + within], x[src]);
          }
  g_free (x);
  g_free (out);
}
END_TEST

START_TEST (test_pos_embed)
{
  gint d = 64, gt = 2, gh = 3, gw = 4, l = gt * gh * gw;
  float *pos = g_new (float, l * d);
  m3ret_sincos_pos_embed_3d (d, gt, gh, gw, pos);
  gint part = 2 * (d / 6);
  /* origin: sin 0 = 0, cos 0 = 1 in each axis part; padding columns zero */
  for (gint a = 0; a < 3; a++)
    for (gint i = 0; i < part / 2; i++) {
      ck_assert_float_eq (pos[a * part + i], 0.0f);
      ck_assert_float_eq (pos[a * part + part / 2 + i], 1.0f);
    }
  for (gint r = 0; r < l; r++)
    for (gint c = 3 * part; c < d; c++)
      ck_assert_float_eq (pos[r * d + c], 0.0f);
  /* every row distinct, every value in [−1, 1]; w moves only the w part */
  for (gint r = 0; r < l; r++)
    for (gint q = r + 1; q < l; q++)
      ck_assert (memcmp (pos + r * d, pos + q * d, sizeof (float) * d) != 0);
  for (gint i = 0; i < l * d; i++)
    ck_assert (fabsf (pos[i]) <= 1.0f);
  ck_assert (memcmp (pos, pos + d, sizeof (float) * 2 * part) == 0);
  g_free (pos);
}
END_TEST

typedef struct {
  M3retDevice *device;
  M3retParams *params;
  M3retVit *vit;
  M3retGraph *graph;
  M3retVitConfig config;
} Model;

static void
model_init (Model *m, gint threads, guint64 seed, gint size, gint frames)
{
  m->device = new_device (threads);
  m->params = m3ret_params_new (m->device);
  micro_config (&m->config, size, frames);
  M3retRng rng;
  m3ret_rng_init (&rng, seed, M3RET_RNG_STREAM_INIT);
  m->vit = m3ret_vit_new (m->params, "", &m->config, &rng, NULL);
  ck_assert_ptr_nonnull (m->vit);
  m->graph = m3ret_graph_new (m->device);
}

static void
model_clear (Model *m)
{
  m3ret_graph_free (m->graph);
  m3ret_vit_free (m->vit);
  m3ret_params_free (m->params);
  m3ret_device_free (m->device);
}

static float *
random_images (guint64 seed, gint b, gint frames, gint size)
{
  gsize n = (gsize) b * 3 * frames * size * size;
  float *x = g_new (float, n);
  M3retRng rng;
  m3ret_rng_init (&rng, seed, 77);
  m3ret_rng_fill_normal (&rng, x, n, 0.0f, 1.0f);
  return x;
}

/* Attention is equivariant in the patch tokens: encoding a permuted
 * subset gives the permuted rows, and the identity subset is the full
 * forward. */
START_TEST (test_token_subset)
{
  Model m;
  model_init (&m, 2, 3, 32, 2);
  gint b = 2, l = 16, d = 64;
  float *x = random_images (1, b, 2, 32);
  M3retTensor *patches = m3ret_vit_patchify (m.graph, m.vit, x, b, 2);
  ck_assert_int_eq (patches->shape[1], l);
  float *full = m3ret_tensor_to_host (m3ret_vit_forward (m.graph, m.vit, patches, NULL, 0));
  gint32 ident[32], perm[32];
  for (gint i = 0; i < b * l; i++)
    ident[i] = i % l;
  M3retRng rng;
  m3ret_rng_init (&rng, 4, 4);
  for (gint bi = 0; bi < b; bi++)
    m3ret_rng_permutation (&rng, perm + bi * l, l);
  float *same = m3ret_tensor_to_host (m3ret_vit_forward (m.graph, m.vit, patches, ident, l));
  for (gint i = 0; i < b * (1 + l) * d; i++)
    ck_assert_float_eq (same[i], full[i]);
  /* keep 5 tokens in permuted order */
  gint k = 5;
  gint32 keep[10];
  for (gint bi = 0; bi < b; bi++)
    for (gint j = 0; j < k; j++)
      keep[bi * k + j] = perm[bi * l + j];
  M3retTensor *sub = m3ret_vit_forward (m.graph, m.vit, patches, keep, k);
  ck_assert_int_eq (sub->shape[1], 1 + k);
  M3retTensor *sub_all = m3ret_vit_forward (m.graph, m.vit, patches, perm, l);
  float *sa = m3ret_tensor_to_host (sub_all);
  for (gint bi = 0; bi < b; bi++)
    for (gint j = 0; j < l; j++)
      for (gint c = 0; c < d; c++)
        ck_assert_float_eq_tol (sa[((gsize) bi * (1 + l) + 1 + j) * d + c],
                                full[((gsize) bi * (1 + l) + 1 + perm[bi * l + j]) * d + c], 1e-4f);
  g_free (sa);
  g_free (full);
  g_free (same);
  g_free (x);
  model_clear (&m);
}
END_TEST

START_TEST (test_embedding_normalised)
{
  Model m;
  model_init (&m, 1, 5, 16, 2);
  gint b = 3;
  float *x = random_images (2, b, 2, 16);
  float *halves[2] = { NULL, NULL }; /* the cls and mean embeddings, for cls+mean */
  const M3retPool pools[3] = { M3RET_POOL_CLS, M3RET_POOL_MEAN, M3RET_POOL_CLS_MEAN };
  for (gint p = 0; p < 3; p++) {
    m3ret_vit_set_pool (m.vit, pools[p]);
    gint width = m3ret_vit_pool_dim (pools[p], 64);
    M3retTensor *e = m3ret_vit_embed (m.graph, m.vit, m3ret_vit_patchify (m.graph, m.vit, x, b, 2));
    ck_assert_int_eq (e->ndim, 2);
    ck_assert_int_eq (e->shape[0], b);
    ck_assert_int_eq (e->shape[1], width);
    float *h = m3ret_tensor_to_host (e);
    for (gint r = 0; r < b; r++) {
      double ss = 0;
      for (gint c = 0; c < width; c++)
        ss += (double) h[r * width + c] * h[r * width + c];
      ck_assert_double_eq_tol (ss, 1.0, 1e-5);
    }
    if (p < 2)
      halves[p] = h;
    else {
      /* cls+mean: each half is the unit cls or mean embedding over √2 */
      for (gint r = 0; r < b; r++)
        for (gint c = 0; c < 64; c++) {
          ck_assert_double_eq_tol (h[r * 128 + c], halves[0][r * 64 + c] / G_SQRT2, 1e-5);
          ck_assert_double_eq_tol (h[r * 128 + 64 + c], halves[1][r * 64 + c] / G_SQRT2, 1e-5);
        }
      g_free (h);
    }
    m3ret_graph_reset (m.graph);
  }
  ck_assert_str_eq (m3ret_vit_pool_name (M3RET_POOL_CLS_MEAN), "cls+mean");
  g_free (halves[0]);
  g_free (halves[1]);
  g_free (x);
  model_clear (&m);
}
END_TEST

/* The mean over blocks: blocks 1..2 of a stack averaged equals the mean of
 * what running 1 and 2 blocks gives, with and without a tape. */
START_TEST (test_blocks_forward_mean)
{
  M3retDevice *device = new_device (1);
  M3retParams *params = m3ret_params_new (device);
  M3retRng rng;
  m3ret_rng_init (&rng, 7, M3RET_RNG_STREAM_INIT);
  M3retBlocks *blocks = m3ret_blocks_new (params, "b", 16, 3, 2, 64, 1e-6f, &rng, NULL);
  ck_assert_ptr_nonnull (blocks);
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[3] = { 2, 5, 16 };
  float x[160];
  for (gint i = 0; i < 160; i++)
    x[i] = (gfloat) sin (0.37 * i);
  for (gint taped = 0; taped < 2; taped++) {
    m3ret_graph_set_grad_enabled (g, taped);
    float *out[3];
    const gint runs[3][2] = { { 2, 1 }, { 3, 1 }, { 3, 2 } };
    for (gint r = 0; r < 3; r++) {
      M3retTensor *in = m3ret_graph_from_host (g, 3, shape, x, FALSE);
      M3retTensor *y = m3ret_blocks_forward_mean (g, blocks, in, runs[r][0], runs[r][1]);
      ck_assert_ptr_nonnull (y);
      out[r] = m3ret_tensor_to_host (y);
      m3ret_graph_reset (g);
    }
    for (gint i = 0; i < 160; i++)
      ck_assert_double_eq_tol (out[2][i], 0.5 * (out[0][i] + out[1][i]), 1e-5);
    /* the whole stack is m3ret_blocks_forward() */
    M3retTensor *in = m3ret_graph_from_host (g, 3, shape, x, FALSE);
    g_autofree float *all = m3ret_tensor_to_host (m3ret_blocks_forward (g, blocks, in));
    ck_assert_mem_eq (all, out[1], sizeof (float) * 160);
    m3ret_graph_reset (g);
    for (gint r = 0; r < 3; r++)
      g_free (out[r]);
  }
  m3ret_graph_free (g);
  m3ret_blocks_free (blocks);
  m3ret_params_free (params);
  m3ret_device_free (device);
}
END_TEST

/* The host read-out of cls, mean and cls+mean is the graph's pooling. */
START_TEST (test_readout_matches_graph_pool)
{
  Model m;
  model_init (&m, 1, 5, 16, 2);
  gint b = 3;
  float *x = random_images (4, b, 2, 16);
  const M3retPool pools[3] = { M3RET_POOL_CLS, M3RET_POOL_MEAN, M3RET_POOL_CLS_MEAN };
  for (gint p = 0; p < 3; p++) {
    m3ret_vit_set_pool (m.vit, pools[p]);
    M3retTensor *patches = m3ret_vit_patchify (m.graph, m.vit, x, b, 2);
    g_autofree float *want = m3ret_tensor_to_host (m3ret_vit_embed (m.graph, m.vit, patches));
    g_autofree float *tokens = m3ret_tensor_to_host (m3ret_vit_forward (m.graph, m.vit, patches,
                                                                        NULL, 0));
    M3retReadout r = { .pool = pools[p], .cells = 1, .last = 2, .count = 1 };
    guint width = m3ret_readout_dim (&r, 64);
    ck_assert_int_eq (width, m3ret_vit_pool_dim (pools[p], 64));
    g_autofree float *got = g_new (float, (gsize) b * width);
    m3ret_readout_rows (&r, tokens, b, (const gint[]) { 1, 2, 2 }, 64, got);
    for (guint i = 0; i < b * width; i++)
      ck_assert_double_eq_tol (got[i], want[i], 1e-5);
    m3ret_graph_reset (m.graph);
  }
  g_free (x);
  model_clear (&m);
}
END_TEST

/* One training step of the regression: pooled features → target. */
static gfloat
train_step (Model *m, M3retAdamW *opt, const float *x, gint b, const float *target, gdouble lr)
{
  M3retGraph *g = m->graph;
  M3retTensor *patches = m3ret_vit_patchify (g, m->vit, x, b, 2);
  M3retTensor *pooled = m3ret_vit_pool (g, m->vit, m3ret_vit_forward (g, m->vit, patches, NULL, 0));
  M3retTensor *t = m3ret_graph_from_host (g, 2, pooled->shape, target, FALSE);
  M3retTensor *loss = m3ret_op_mse (g, pooled, t, NULL);
  m3ret_params_zero_grad (m->params);
  g_autoptr (GError) error = NULL;
  ck_assert_msg (m3ret_graph_backward (g, loss, &error), "%s", error ? error->message : "");
  gfloat value = m3ret_tensor_item (loss);
  m3ret_params_clip_grad_norm (m->params, 5.0);
  m3ret_adamw_step (opt, lr, 0.0);
  m3ret_graph_reset (g);
  return value;
}

START_TEST (test_overfit_flat_memory)
{
  Model m;
  model_init (&m, 2, 11, 16, 2);
  gint b = 4, steps = 400;
  float *x = random_images (3, b, 2, 16);
  float *target = g_new (float, b * 64);
  M3retRng rng;
  m3ret_rng_init (&rng, 12, 12);
  m3ret_rng_fill_normal (&rng, target, b * 64, 0.0f, 1.0f);
  M3retAdamW *opt = m3ret_adamw_new (m.params, 0.9, 0.95, 1e-8, NULL);
  gfloat first = 0, last = 0;
  gsize reserved_after_warmup = 0;
  for (gint s = 0; s < steps; s++) {
    gdouble lr = m3ret_schedule_warmup_cosine (s, 20, steps, 3e-3, 1e-5);
    last = train_step (&m, opt, x, b, target, lr);
    if (s == 0)
      first = last;
    if (s == 2)
      reserved_after_warmup = m3ret_graph_get_reserved_bytes (m.graph);
    if (s > 2)
      ck_assert_uint_eq (m3ret_graph_get_reserved_bytes (m.graph), reserved_after_warmup);
  }
  ck_assert_msg (first > 0.5f, "initial loss %g", first);
  ck_assert_msg (last < 1e-3f * first && last < 1e-3f, "loss %g → %g after %d steps", first, last,
                 steps);
  ck_assert_uint_le (m3ret_graph_get_peak_bytes (m.graph), reserved_after_warmup);
  m3ret_adamw_free (opt);
  g_free (x);
  g_free (target);
  model_clear (&m);
}
END_TEST

/* Weights after a few steps, on the host. */
static float *
weights_after (guint64 seed, gint threads, gint steps, gsize *n)
{
  Model m;
  model_init (&m, threads, seed, 16, 2);
  gint b = 2;
  float *x = random_images (seed + 100, b, 2, 16);
  float *target = g_new0 (float, b * 64);
  target[0] = 1.0f;
  M3retAdamW *opt = m3ret_adamw_new (m.params, 0.9, 0.999, 1e-8, NULL);
  for (gint s = 0; s < steps; s++)
    train_step (&m, opt, x, b, target, 1e-3);
  *n = m3ret_params_count (m.params, FALSE);
  float *all = g_new (float, *n), *p = all;
  for (guint i = 0; i < m3ret_params_get_n (m.params); i++) {
    M3retTensor *t = m3ret_params_get_tensor (m.params, i);
    m3ret_tensor_download (t, p);
    p += t->numel;
  }
  m3ret_adamw_free (opt);
  g_free (x);
  g_free (target);
  model_clear (&m);
  return all;
}

START_TEST (test_seeded)
{
  gsize n1, n2, n3;
  float *a = weights_after (7, 2, 3, &n1);
  float *b = weights_after (7, 2, 3, &n2);
  float *c = weights_after (8, 2, 3, &n3);
  ck_assert_uint_eq (n1, n2);
  ck_assert_uint_eq (n1, n3);
  ck_assert (memcmp (a, b, sizeof (float) * n1) == 0);
  ck_assert (memcmp (a, c, sizeof (float) * n1) != 0);
  g_free (a);
  g_free (b);
  g_free (c);
}
END_TEST

/* The whole encoder's backward against finite differences on a sample of
 * parameter values, through a token subset and mean pooling. */
static gfloat
subset_loss (Model *m, const float *x, const gint32 *keep, const float *target, gboolean backward)
{
  M3retGraph *g = m->graph;
  M3retTensor *patches = m3ret_vit_patchify (g, m->vit, x, 2, 2);
  M3retTensor *pooled = m3ret_vit_pool (g, m->vit, m3ret_vit_forward (g, m->vit, patches, keep, 3));
  M3retTensor *loss = m3ret_op_mse (g, pooled, m3ret_graph_from_host (g, 2, pooled->shape, target, FALSE), NULL);
  if (backward)
    ck_assert (m3ret_graph_backward (g, loss, NULL));
  gfloat v = m3ret_tensor_item (loss);
  m3ret_graph_reset (g);
  return v;
}

typedef struct {
  Model *m;
  const float *x, *target;
  const gint32 *keep;
} SubsetLoss;

static gdouble
subset_loss_of (gpointer user_data)
{
  SubsetLoss *l = user_data;
  return subset_loss (l->m, l->x, l->keep, l->target, FALSE);
}

START_TEST (test_encoder_gradient)
{
  Model m;
  model_init (&m, 1, 21, 16, 2);
  m3ret_vit_set_pool (m.vit, M3RET_POOL_MEAN);
  float *x = random_images (9, 2, 2, 16);
  float target[2 * 64];
  M3retRng rng;
  m3ret_rng_init (&rng, 22, 22);
  m3ret_rng_fill_normal (&rng, target, 2 * 64, 0.0f, 1.0f);
  const gint32 keep[6] = { 3, 0, 2, 1, 3, 2 };
  m3ret_params_zero_grad (m.params);
  subset_loss (&m, x, keep, target, TRUE);
  const gchar *names[] = { "cls_token", "patch_embed.proj.weight", "patch_embed.proj.bias",
                           "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.bias",
                           "blocks.1.norm1.weight", "blocks.1.mlp.fc1.weight",
                           "blocks.1.mlp.fc2.bias", "norm.bias" };
  /* four random entries of each, judged together */
  M3retCheckGradTensor probes[G_N_ELEMENTS (names)];
  gsize picks[G_N_ELEMENTS (names)][4];
  for (guint p = 0; p < G_N_ELEMENTS (names); p++) {
    M3retTensor *t = m3ret_params_lookup (m.params, names[p]);
    float *data = m3ret_tensor_to_host (t), *grad = g_new (float, t->numel);
    m3ret_tensor_download_grad (t, grad);
    for (gint k = 0; k < 4; k++)
      picks[p][k] = m3ret_rng_below (&rng, t->numel);
    probes[p] = (M3retCheckGradTensor) { .name = names[p], .values = data, .n = t->numel,
                                         .upload_to = t, .grad = grad, .probe = picks[p],
                                         .n_probe = 4 };
  }
  SubsetLoss l = { &m, x, target, keep };
  const M3retCheckGrad spec = { .what = "encoder", .loss = subset_loss_of, .user_data = &l,
                                .step = 1e-2f, .rule = M3RET_CHECK_GRAD_NORM_OF_DIFFERENCES,
                                .tol = 1e-2 };
  m3ret_check_gradient (&spec, probes, G_N_ELEMENTS (names));
  for (guint p = 0; p < G_N_ELEMENTS (names); p++) {
    g_free (probes[p].values);
    g_free ((gpointer) probes[p].grad);
  }
  g_free (x);
  model_clear (&m);
}
END_TEST

typedef struct {
  M3retTensor **tensors;
  float **at_report; /* each gradient as it was when reported */
  guint reports;
} Reports;

static void
on_grad_ready (gpointer user_data, guint i)
{
  Reports *r = user_data;
  ck_assert_msg (r->at_report[i] == NULL, "tensor %u reported twice", i);
  M3retTensor *t = r->tensors[i];
  r->at_report[i] = g_new0 (float, t->numel);
  if (t->grad != NULL)
    m3ret_tensor_download_grad (t, r->at_report[i]);
  r->reports++;
}

/* graph_backward_notify() (data-parallel training sends each gradient when
 * reported): every parameter reported once, its gradient already final
 * then, and the gradients those of a plain backward. */
START_TEST (test_backward_reports_final_gradients)
{
  Model m;
  model_init (&m, 1, 31, 16, 2);
  float *x = random_images (32, 2, 2, 16);
  float target[2 * 64];
  M3retRng rng;
  m3ret_rng_init (&rng, 33, 33);
  m3ret_rng_fill_normal (&rng, target, 2 * 64, 0.0f, 1.0f);
  guint n = m3ret_params_get_n (m.params);
  M3retTensor **tensors = g_new (M3retTensor *, n);
  for (guint i = 0; i < n; i++)
    tensors[i] = m3ret_params_get_tensor (m.params, i);
  float **plain = g_new0 (float *, n);
  Reports r = { tensors, g_new0 (float *, n), 0 };
  for (gint pass = 0; pass < 2; pass++) {
    M3retGraph *g = m.graph;
    M3retTensor *patches = m3ret_vit_patchify (g, m.vit, x, 2, 2);
    M3retTensor *pooled = m3ret_vit_pool (g, m.vit, m3ret_vit_forward (g, m.vit, patches, NULL, 0));
    M3retTensor *t = m3ret_graph_from_host (g, 2, pooled->shape, target, FALSE);
    M3retTensor *loss = m3ret_op_mse (g, pooled, t, NULL);
    /* cls_token read twice: its gradient is final only after the earlier reader */
    M3retTensor *cls = m3ret_params_lookup (m.params, "cls_token");
    loss = m3ret_op_add (g, loss, m3ret_op_sum (g, m3ret_op_scale (g, cls, 0.5f)));
    m3ret_params_zero_grad (m.params);
    g_autoptr (GError) error = NULL;
    gboolean ok = pass == 0 ? m3ret_graph_backward (g, loss, &error)
                            : graph_backward_notify (g, loss, tensors, n, on_grad_ready, &r, &error);
    ck_assert_msg (ok, "%s", error ? error->message : "");
    for (guint i = 0; i < n; i++) {
      float *now = g_new0 (float, tensors[i]->numel);
      if (tensors[i]->grad != NULL)
        m3ret_tensor_download_grad (tensors[i], now);
      if (pass == 0) {
        plain[i] = now;
        continue;
      }
      ck_assert_msg (memcmp (now, r.at_report[i], tensors[i]->numel * sizeof (float)) == 0,
                     "%s changed after it was reported", m3ret_params_get_name (m.params, i));
      ck_assert_msg (memcmp (now, plain[i], tensors[i]->numel * sizeof (float)) == 0,
                     "%s differs from a plain backward", m3ret_params_get_name (m.params, i));
      g_free (now);
    }
    m3ret_graph_reset (g);
  }
  ck_assert_uint_eq (r.reports, n);
  for (guint i = 0; i < n; i++) {
    g_free (plain[i]);
    g_free (r.at_report[i]);
  }
  g_free (plain);
  g_free (r.at_report);
  g_free (tensors);
  g_free (x);
  model_clear (&m);
}
END_TEST

static Suite *
vit_suite (void)
{
  Suite *s = suite_create ("vit");
  TCase *tc = tcase_create ("encoder");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_names_and_shapes);
  tcase_add_test (tc, test_presets);
  tcase_add_test (tc, test_patchify);
  tcase_add_test (tc, test_pos_embed);
  tcase_add_test (tc, test_token_subset);
  tcase_add_test (tc, test_embedding_normalised);
  tcase_add_test (tc, test_blocks_forward_mean);
  tcase_add_test (tc, test_readout_matches_graph_pool);
  tcase_add_test (tc, test_overfit_flat_memory);
  tcase_add_test (tc, test_seeded);
  tcase_add_test (tc, test_encoder_gradient);
  tcase_add_test (tc, test_backward_reports_final_gradients);
  suite_add_tcase (s, tc);
  return s;
}

/* Every test builds its own device and frees it, so the suite runs in
 * one process: a forked child's exit also runs the static destructors of
 * every loaded plugin's libraries (libtorch's take about a second).
 * CK_FORK=yes in the environment restores forking. */
M3RET_CHECK_MAIN (.suite = vit_suite, .one_process = TRUE, .registry = &registry)
