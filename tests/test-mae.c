/* test-mae.c — the MAE objective: the kept count, masking as an argsort
 * of the step's noise, norm_pix, the decoder's names and default size, the
 * loss against a plain-C decoder, gradients against finite differences,
 * and a short training run whose loss falls. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "finite-diff.h"
#include "m3ret-check.h"
#include "mae-maths.h"

static M3retRegistry *registry;

/* ------------------------------------------------------------ fixture */

typedef struct {
  M3retDevice *device;
  M3retParams *params;
  M3retVit *vit;
  M3retGraph *graph;
  M3retConfig *config;
  const M3retObjectiveVTable *vt;
  gpointer obj;
  gint size, depth, tubelet_t;
  guint64 seed;
} Fixture;

/* @kv: key, value, ..., NULL: [objective] settings over the defaults */
static void
fixture_init (Fixture *f, const gchar *preset, gint size, gint depth, guint64 seed,
              const gchar *const *kv)
{
  g_autoptr (GError) error = NULL;
  const gint tubelet[3] = { 2, 8, 8 };
  memset (f, 0, sizeof *f);
  f->size = size;
  f->depth = depth;
  f->tubelet_t = tubelet[0];
  f->seed = seed;
  f->device = m3ret_device_new_by_name (registry, "cpu", 2, NULL, &error);
  ck_assert_msg (f->device != NULL, "%s", error ? error->message : "");
  const M3retPlugin *plugin = m3ret_registry_require (registry, M3RET_PLUGIN_OBJECTIVE, "mae",
                                                      &error);
  ck_assert_msg (plugin != NULL, "%s", error ? error->message : "");
  const M3retPluginDesc *desc = m3ret_plugin_get_desc (plugin);
  f->vt = m3ret_plugin_get_vtable (plugin);
  f->config = m3ret_config_new ("objective");
  ck_assert (m3ret_config_add_keys (f->config, desc->keys, NULL));
  for (guint i = 0; kv != NULL && kv[i] != NULL; i += 2)
    ck_assert_msg (m3ret_config_set (f->config, kv[i], kv[i + 1], &error), "%s",
                   error ? error->message : "");
  ck_assert (m3ret_config_fill_defaults (f->config, NULL, NULL));

  M3retVitConfig vc;
  M3retPreset p;
  ck_assert (m3ret_vit_preset_from_name (preset, &p, NULL));
  ck_assert (m3ret_vit_config_init (&vc, p, size, depth, tubelet, NULL));
  f->params = m3ret_params_new (f->device);
  M3retRng rng;
  m3ret_rng_init (&rng, seed, M3RET_RNG_STREAM_INIT);
  f->vit = m3ret_vit_new (f->params, "", &vc, &rng, NULL);
  ck_assert_ptr_nonnull (f->vit);
  M3retObjectiveSetup setup = {
    .params = f->params, .encoder = f->vit, .init_rng = &rng, .seed = seed,
    .total_steps = 100, .size = (guint) size, .depth = (guint) depth,
    .image_depth = (guint) tubelet[0],
  };
  f->obj = f->vt->create (f->config, &setup, &error);
  ck_assert_msg (f->obj != NULL, "%s", error ? error->message : "");
  f->graph = m3ret_graph_new (f->device);
}

static void
fixture_clear (Fixture *f)
{
  m3ret_graph_free (f->graph);
  f->vt->destroy (f->obj);
  m3ret_vit_free (f->vit);
  m3ret_params_free (f->params);
  m3ret_config_unref (f->config);
  m3ret_device_free (f->device);
}

/* A batch of @n samples of @frames frames around @data (not copied). */
static void
batch_init (M3retBatch *batch, M3retBatchView *view, gint n, gint frames, gint size, float *data)
{
  memset (batch, 0, sizeof *batch);
  view->channels = 3;
  view->frames = (guint) frames;
  view->height = view->width = (guint) size;
  view->data = data;
  batch->n = (guint) n;
  batch->layout = frames == 2 ? M3RET_LAYOUT_IMAGE : M3RET_LAYOUT_SEQUENCE;
  batch->n_views = 1;
  batch->views = view;
}

static float *
normal_data (guint64 seed, gsize n)
{
  float *x = g_new (float, n);
  M3retRng rng;
  m3ret_rng_init (&rng, seed, 77);
  m3ret_rng_fill_normal (&rng, x, n, 0.0f, 1.0f);
  return x;
}

static gfloat
loss_of (Fixture *f, const M3retBatch *batch, gint64 step)
{
  g_autoptr (GError) error = NULL;
  M3retTensor *loss = f->vt->loss (f->obj, f->graph, batch, step, &error);
  ck_assert_msg (loss != NULL, "%s", error ? error->message : "");
  gfloat value = m3ret_tensor_item (loss);
  m3ret_graph_reset (f->graph);
  return value;
}

static float *
host_of (Fixture *f, const gchar *name)
{
  M3retTensor *t = m3ret_params_lookup (f->params, name);
  ck_assert_msg (t != NULL, "no parameter %s", name);
  return m3ret_tensor_to_host (t);
}

static void
set_param (Fixture *f, const gchar *name, const float *values)
{
  M3retTensor *t = m3ret_params_lookup (f->params, name);
  ck_assert_msg (t != NULL, "no parameter %s", name);
  m3ret_tensor_upload (t, values);
}

/* ------------------------------------------------------------ masking */

START_TEST (test_keep_count)
{
  ck_assert_int_eq (mae_n_keep (16, 0.75), 4);
  ck_assert_int_eq (mae_n_keep (64, 0.75), 16);
  ck_assert_int_eq (mae_n_keep (512, 0.75), 128);
  ck_assert_int_eq (mae_n_keep (196, 0.75), 49);
  ck_assert_int_eq (mae_n_keep (7, 0.5), 3);
  ck_assert_int_eq (mae_n_keep (5, 0.75), 1);
  ck_assert_int_eq (mae_n_keep (3, 0.75), 0);
  ck_assert_int_eq (mae_n_keep (10, 0.6), 4);
}
END_TEST

/* keep = the n_keep smallest draws in ascending order, restore = the rank
 * of each token's draw, mask = 1 exactly off the kept set; the same
 * (seed, step) masks the same, another step differently. */
START_TEST (test_masking_is_argsort)
{
  const gint b = 3, l = 37;
  const gdouble ratios[] = { 0.75, 0.5, 0.9 };
  for (guint ri = 0; ri < G_N_ELEMENTS (ratios); ri++) {
    gint k = mae_n_keep (l, ratios[ri]);
    gint32 keep[3 * 37], restore[3 * 37], keep2[3 * 37], restore2[3 * 37];
    gfloat mask[3 * 37];
    M3retRng rng, noise_rng;
    mae_step_rng (&rng, 42, 7);
    noise_rng = rng;
    mae_random_masking (&rng, b, l, k, keep, restore, mask);
    for (gint s = 0; s < b; s++) {
      gdouble noise[37];
      for (gint i = 0; i < l; i++)
        noise[i] = m3ret_rng_uniform_double (&noise_rng);
      /* restore is the rank of each draw */
      gboolean seen[37] = { FALSE };
      for (gint i = 0; i < l; i++) {
        gint rank = 0;
        for (gint j = 0; j < l; j++)
          rank += noise[j] < noise[i];
        ck_assert_int_eq (restore[s * l + i], rank);
        ck_assert (!seen[rank]);
        seen[rank] = TRUE;
        ck_assert_float_eq (mask[s * l + i], rank < k ? 0.0f : 1.0f);
      }
      gint masked = 0;
      for (gint i = 0; i < l; i++)
        masked += mask[s * l + i] == 1.0f;
      ck_assert_int_eq (masked, l - k);
      /* keep: ascending draws, restore undoes it */
      for (gint j = 0; j < k; j++) {
        gint32 token = keep[s * k + j];
        ck_assert_int_eq (restore[s * l + token], j);
        if (j > 0)
          ck_assert (noise[keep[s * k + j - 1]] < noise[token]);
      }
    }
    mae_step_rng (&rng, 42, 7);
    mae_random_masking (&rng, b, l, k, keep2, restore2, NULL);
    ck_assert (memcmp (restore, restore2, sizeof restore) == 0);
    mae_step_rng (&rng, 42, 8);
    mae_random_masking (&rng, b, l, k, keep2, restore2, NULL);
    ck_assert (memcmp (restore, restore2, sizeof restore) != 0);
    /* samples of one batch differ */
    ck_assert (memcmp (restore, restore + l, sizeof (gint32) * l) != 0);
  }
}
END_TEST

START_TEST (test_norm_pix)
{
  /* by hand: mean 2.5, unbiased variance 5/3 */
  const float row[4] = { 1, 2, 3, 4 };
  float out[4];
  mae_patch_targets (row, 1, 4, TRUE, out);
  gdouble sd = sqrt (5.0 / 3.0 + 1e-6);
  const gdouble want[4] = { -1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd };
  for (gint i = 0; i < 4; i++)
    ck_assert_double_eq_tol (out[i], want[i], 1e-6);
  mae_patch_targets (row, 1, 4, FALSE, out);
  ck_assert (memcmp (row, out, sizeof row) == 0);
  /* a constant row becomes zeros (the eps keeps it finite) */
  const float flat[3] = { 5, 5, 5 };
  mae_patch_targets (flat, 1, 3, TRUE, out);
  for (gint i = 0; i < 3; i++)
    ck_assert_float_eq (out[i], 0.0f);
  /* random rows of 384: mean 0, unbiased variance var/(var + 1e-6) */
  const gint p = 384, rows = 5;
  float *x = normal_data (3, (gsize) rows * p), *y = g_new (float, (gsize) rows * p);
  for (gint i = 0; i < rows * p; i++)
    x[i] = 3.0f + 0.01f * (1 + i / p) * x[i];
  mae_patch_targets (x, rows, p, TRUE, y);
  for (gint r = 0; r < rows; r++) {
    gdouble mx = 0, vx = 0, my = 0, vy = 0;
    for (gint c = 0; c < p; c++) {
      mx += x[r * p + c];
      my += y[r * p + c];
    }
    mx /= p;
    my /= p;
    for (gint c = 0; c < p; c++) {
      vx += (x[r * p + c] - mx) * (x[r * p + c] - mx);
      vy += (y[r * p + c] - my) * (y[r * p + c] - my);
    }
    vx /= p - 1;
    vy /= p - 1;
    ck_assert_double_eq_tol (my, 0.0, 1e-5);
    ck_assert_double_eq_tol (vy, vx / (vx + 1e-6), 1e-4);
  }
  g_free (x);
  g_free (y);
}
END_TEST

/* ------------------------------------------------------------ decoder */

START_TEST (test_decoder_size)
{
  const struct { gint d, dim, depth, heads; } want[] = {
    { 768, 512, 8, 16 }, { 384, 256, 4, 8 }, { 192, 128, 2, 4 }, { 64, 32, 1, 2 }
  };
  for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
    gint dim = 0, depth = 0, heads = 0;
    mae_decoder_size (want[i].d, &dim, &depth, &heads);
    ck_assert_int_eq (dim, want[i].dim);
    ck_assert_int_eq (depth, want[i].depth);
    ck_assert_int_eq (heads, want[i].heads);
  }
  /* set values stay; heads follow a set width */
  gint dim = 96, depth = 3, heads = 0;
  mae_decoder_size (768, &dim, &depth, &heads);
  ck_assert_int_eq (dim, 96);
  ck_assert_int_eq (depth, 3);
  ck_assert_int_eq (heads, 3);
}
END_TEST

static void
assert_shape (M3retParams *params, const gchar *name, gint ndim, const gint64 *shape,
              gboolean trainable)
{
  M3retTensor *t = m3ret_params_lookup (params, name);
  ck_assert_msg (t != NULL, "no parameter %s", name);
  ck_assert_int_eq (t->ndim, ndim);
  for (gint i = 0; i < ndim; i++)
    ck_assert_int_eq (t->shape[i], shape[i]);
  for (guint i = 0; i < m3ret_params_get_n (params); i++)
    if (strcmp (m3ret_params_get_name (params, i), name) == 0)
      ck_assert_int_eq (m3ret_params_is_trainable (params, i), trainable);
}

START_TEST (test_names_and_views)
{
  Fixture f;
  fixture_init (&f, "micro", 16, 4, 1, NULL);
  gint64 l = 2 * 2 * 2, p = 3 * 2 * 8 * 8, dd = 32;
  assert_shape (f.params, "mask_token", 3, (gint64[]) { 1, 1, dd }, TRUE);
  assert_shape (f.params, "decoder_pos_embed", 3, (gint64[]) { 1, 1 + l, dd }, FALSE);
  assert_shape (f.params, "decoder_embed.weight", 2, (gint64[]) { dd, 64 }, TRUE);
  assert_shape (f.params, "decoder_embed.bias", 1, (gint64[]) { dd }, TRUE);
  assert_shape (f.params, "decoder_blocks.0.attn.qkv.weight", 2, (gint64[]) { 3 * dd, dd }, TRUE);
  assert_shape (f.params, "decoder_blocks.0.mlp.fc1.weight", 2, (gint64[]) { 4 * dd, dd }, TRUE);
  assert_shape (f.params, "decoder_norm.weight", 1, (gint64[]) { dd }, TRUE);
  assert_shape (f.params, "decoder_norm.bias", 1, (gint64[]) { dd }, TRUE);
  assert_shape (f.params, "decoder_pred.weight", 2, (gint64[]) { p, dd }, TRUE);
  assert_shape (f.params, "decoder_pred.bias", 1, (gint64[]) { p }, TRUE);
  ck_assert_ptr_null (m3ret_params_lookup (f.params, "decoder_blocks.1.norm1.weight"));
  /* the table: CLS row zero, then the 3-D sin-cos table of the full grid */
  float *pos = host_of (&f, "decoder_pos_embed");
  float *want = g_new (float, l * dd);
  m3ret_sincos_pos_embed_3d ((gint) dd, 2, 2, 2, want);
  for (gint c = 0; c < dd; c++)
    ck_assert_float_eq (pos[c], 0.0f);
  ck_assert (memcmp (pos + dd, want, sizeof (float) * l * dd) == 0);
  /* mask token ~ N(0, 0.02): small, not zero */
  float *mt = host_of (&f, "mask_token");
  gdouble ss = 0;
  for (gint c = 0; c < dd; c++)
    ss += mt[c] * mt[c];
  ck_assert (ss > 0 && sqrt (ss / dd) < 0.06);
  /* one training view of the grid, MAE's crop scale */
  M3retView views[4];
  ck_assert_uint_eq (f.vt->views (f.obj, views, 4), 1);
  ck_assert_int_eq (views[0].mode, M3RET_VIEW_TRAIN);
  ck_assert_uint_eq (views[0].size, 16);
  ck_assert_uint_eq (views[0].depth, 4);
  ck_assert_uint_eq (views[0].image_depth, 2);
  ck_assert_double_eq (views[0].scale_min, 0.2);
  ck_assert_double_eq (views[0].scale_max, 1.0);
  M3retOptimizerSettings s;
  f.vt->optimizer (f.obj, &s);
  ck_assert_double_eq (s.beta1, 0.9);
  ck_assert_double_eq (s.beta2, 0.95);
  ck_assert_double_eq (s.weight_decay, 0.05);
  ck_assert_double_eq (s.weight_decay_end, 0.05);
  /* a batch with a view too many is refused: conform-objective */
  g_free (mt);
  g_free (pos);
  g_free (want);
  fixture_clear (&f);
}
END_TEST

/* A ratio that keeps no tubelet of a still (4 tokens on a 16² grid) is
 * refused before anything is built, by check() and by create() alike, and
 * so are the decoder's sizes and the crop's scales when they disagree. */
START_TEST (test_check_refuses)
{
  const gchar *cases[][5] = {
    { "mask_ratio", "0.9", NULL, NULL, "[objective] mask_ratio=0.9: keeps none of the 4 tubelets" },
    { "mask_ratio", "0.7", NULL, NULL, NULL },
    { "decoder_dim", "96", "decoder_heads", "5",
      "[objective] decoder_heads=5: decoder_dim 96 is not a multiple of decoder_heads 5" },
    { "scale_max", "0.1", NULL, NULL, "[objective] scale_max=0.1: scale_min 0.2 is larger" },
  };
  const gint tubelet[3] = { 2, 8, 8 };
  M3retVitConfig vc;
  ck_assert (m3ret_vit_config_init (&vc, M3RET_PRESET_MICRO, 16, 4, tubelet, NULL));
  const M3retPlugin *plugin =
    m3ret_registry_require (registry, M3RET_PLUGIN_OBJECTIVE, "mae", NULL);
  const M3retObjectiveVTable *vt = m3ret_plugin_get_vtable (plugin);
  ck_assert_ptr_nonnull (vt->check);
  g_autoptr (M3retDevice) device = m3ret_device_new_by_name (registry, "cpu", 1, NULL, NULL);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    g_autoptr (M3retConfig) config = m3ret_config_new ("objective");
    ck_assert (m3ret_config_add_keys (config, m3ret_plugin_get_desc (plugin)->keys, NULL));
    for (guint k = 0; k < 4 && cases[c][k] != NULL; k += 2)
      ck_assert (m3ret_config_set (config, cases[c][k], cases[c][k + 1], NULL));
    ck_assert (m3ret_config_fill_defaults (config, NULL, NULL));
    M3retObjectiveSetup setup = {
      .seed = 1, .total_steps = 100, .size = 16, .depth = 4, .image_depth = 2,
      .encoder_config = &vc,
    };
    g_autoptr (GError) error = NULL;
    gboolean ok = vt->check (config, &setup, &error);
    ck_assert_msg (ok == (cases[c][4] == NULL), "case %u: %s", c, error ? error->message : "ok");
    if (!ok)
      ck_assert_msg (g_str_has_prefix (error->message, cases[c][4]), "%s", error->message);
    /* create() says the same */
    M3retParams *params = m3ret_params_new (device);
    M3retRng rng;
    m3ret_rng_init (&rng, 1, M3RET_RNG_STREAM_INIT);
    M3retVit *vit = m3ret_vit_new (params, "", &vc, &rng, NULL);
    setup.params = params;
    setup.encoder = vit;
    setup.init_rng = &rng;
    g_autoptr (GError) create_error = NULL;
    gpointer obj = vt->create (config, &setup, &create_error);
    ck_assert ((obj != NULL) == ok);
    if (!ok)
      ck_assert_str_eq (create_error->message, error->message);
    vt->destroy (obj);
    m3ret_vit_free (vit);
    m3ret_params_free (params);
  }
}
END_TEST

/* ------------------------------------------------- loss by hand, in C */

static void
randomise (Fixture *f, const gchar *name, guint64 seed, gfloat std)
{
  M3retTensor *t = m3ret_params_lookup (f->params, name);
  float *v = normal_data (seed, t->numel);
  for (gsize i = 0; i < t->numel; i++)
    v[i] *= std;
  m3ret_tensor_upload (t, v);
  g_free (v);
}

static void
zero_param (Fixture *f, const gchar *name)
{
  M3retTensor *t = m3ret_params_lookup (f->params, name);
  float *v = g_new0 (float, t->numel);
  m3ret_tensor_upload (t, v);
  g_free (v);
}

/* The loss with decoder blocks whose residual branches are zero (so the
 * identity), written out in double: every masked place t holds the mask
 * token plus position row t, then LayerNorm, prediction, and the MSE
 * against the (normalised) tubelet, averaged over masked places only. */
static gdouble
reference_loss (Fixture *f, const M3retBatch *batch, gint64 step, gboolean norm_pix,
                gdouble mask_ratio)
{
  const M3retBatchView *bv = &batch->views[0];
  const M3retVitConfig *vc = m3ret_vit_get_config (f->vit);
  gint b = (gint) batch->n, frames = (gint) bv->frames, dd = 32;
  gint l = m3ret_vit_config_n_tokens (vc, frames), p = m3ret_vit_config_patch_values (vc);
  gint k = mae_n_keep (l, mask_ratio);
  gint32 *keep = g_new (gint32, b * k), *restore = g_new (gint32, b * l);
  M3retRng rng;
  mae_step_rng (&rng, f->seed, step);
  mae_random_masking (&rng, b, l, k, keep, restore, NULL);

  float *px = g_new (float, (gsize) b * l * p);
  m3ret_patchify (bv->data, b, 3, frames, (gint) bv->height, (gint) bv->width, vc->tubelet, px);

  float *mt = host_of (f, "mask_token");
  float *nw = host_of (f, "decoder_norm.weight"), *nb = host_of (f, "decoder_norm.bias");
  float *pw = host_of (f, "decoder_pred.weight"), *pb = host_of (f, "decoder_pred.bias");
  float *pos = g_new (float, (gsize) l * dd);
  /* the first frames/pt rows along t of the full table */
  gint gh = vc->grid[1], gw = vc->grid[2];
  m3ret_sincos_pos_embed_3d (dd, frames / vc->tubelet[0], gh, gw, pos);

  gdouble total = 0;
  gint n_masked = 0;
  gdouble *tok = g_new (gdouble, dd);
  for (gint s = 0; s < b; s++) {
    /* the kept tokens (latent → decoder_embed) fill the other places: were
     * the unshuffle wrong, some masked place would hold one of them */
    for (gint t = 0; t < l; t++) {
      gint j = restore[s * l + t];
      if (j < k)
        continue; /* the loss only sees masked tubelets */
      for (gint o = 0; o < dd; o++)
        tok[o] = (gdouble) mt[o] + pos[(gsize) t * dd + o];
      gdouble mean = 0, var = 0;
      for (gint o = 0; o < dd; o++)
        mean += tok[o];
      mean /= dd;
      for (gint o = 0; o < dd; o++)
        var += (tok[o] - mean) * (tok[o] - mean);
      var /= dd;
      for (gint o = 0; o < dd; o++)
        tok[o] = (tok[o] - mean) / sqrt (var + 1e-6) * nw[o] + nb[o];
      /* target */
      const float *x = px + ((gsize) s * l + t) * p;
      gdouble tm = 0, tv = 0;
      for (gint c = 0; c < p; c++)
        tm += x[c];
      tm /= p;
      for (gint c = 0; c < p; c++)
        tv += (x[c] - tm) * (x[c] - tm);
      tv /= p - 1;
      gdouble err = 0;
      for (gint c = 0; c < p; c++) {
        gdouble y = pb[c];
        for (gint o = 0; o < dd; o++)
          y += tok[o] * pw[c * dd + o];
        gdouble target = norm_pix ? (x[c] - tm) / sqrt (tv + 1e-6) : x[c];
        err += (y - target) * (y - target);
      }
      total += err / p;
      n_masked++;
    }
  }
  ck_assert_int_eq (n_masked, b * (l - k));
  g_free (tok);
  g_free (pos);
  g_free (mt);
  g_free (nw);
  g_free (nb);
  g_free (pw);
  g_free (pb);
  g_free (px);
  g_free (keep);
  g_free (restore);
  return total / n_masked;
}

static void
make_blocks_identity (Fixture *f)
{
  zero_param (f, "decoder_blocks.0.attn.proj.weight");
  zero_param (f, "decoder_blocks.0.attn.proj.bias");
  zero_param (f, "decoder_blocks.0.mlp.fc2.weight");
  zero_param (f, "decoder_blocks.0.mlp.fc2.bias");
}

START_TEST (test_loss_by_hand)
{
  const struct { const gchar *norm_pix; const gchar *ratio; gint frames; } cases[] = {
    { "true", "0.75", 4 }, { "false", "0.75", 4 }, { "true", "0.5", 2 }, { "false", "0.6", 2 }
  };
  for (guint ci = 0; ci < G_N_ELEMENTS (cases); ci++) {
    const gchar *kv[] = { "norm_pix", cases[ci].norm_pix, "mask_ratio", cases[ci].ratio, NULL };
    Fixture f;
    fixture_init (&f, "micro", 16, 4, 5 + ci, kv);
    make_blocks_identity (&f);
    /* give every decoder tensor that reaches the loss visible values */
    randomise (&f, "mask_token", 10 + ci, 0.5f);
    randomise (&f, "decoder_norm.weight", 20 + ci, 1.0f);
    randomise (&f, "decoder_norm.bias", 30 + ci, 0.3f);
    randomise (&f, "decoder_pred.bias", 40 + ci, 0.3f);
    gint b = 3, frames = cases[ci].frames;
    float *x = normal_data (50 + ci, (gsize) b * 3 * frames * 16 * 16);
    for (gsize i = 0; i < (gsize) b * 3 * frames * 16 * 16; i++)
      x[i] = 0.5f + 0.2f * x[i];
    M3retBatch batch;
    M3retBatchView bv;
    batch_init (&batch, &bv, b, frames, 16, x);
    for (gint64 step = 0; step < 2; step++) {
      gdouble want = reference_loss (&f, &batch, step, strcmp (cases[ci].norm_pix, "true") == 0,
                                     g_ascii_strtod (cases[ci].ratio, NULL));
      gfloat got = loss_of (&f, &batch, step);
      ck_assert_msg (fabs (got - want) <= 1e-4 * fabs (want), "case %u step %" G_GINT64_FORMAT
                     ": loss %.7g, by hand %.7g", ci, step, got, want);
    }
    g_free (x);
    fixture_clear (&f);
  }
}
END_TEST

/* A decoder whose prediction weight is zero predicts its bias for every
 * tubelet: the loss is the mean over masked tubelets of mean_c (bias −
 * target)², whatever the encoder and the blocks do. */
START_TEST (test_loss_zero_decoder)
{
  Fixture f;
  fixture_init (&f, "micro", 16, 4, 9, NULL);
  zero_param (&f, "decoder_pred.weight");
  gint p = 384;
  float *bias = normal_data (3, p);
  set_param (&f, "decoder_pred.bias", bias);
  gint b = 2, frames = 4, l = 8, k = 2;
  float *x = normal_data (4, (gsize) b * 3 * frames * 16 * 16);
  M3retBatch batch;
  M3retBatchView bv;
  batch_init (&batch, &bv, b, frames, 16, x);
  float *patches = g_new (float, (gsize) b * l * p), *target = g_new (float, (gsize) b * l * p);
  m3ret_patchify (x, b, 3, frames, 16, 16, (const gint[]) { 2, 8, 8 }, patches);
  mae_patch_targets (patches, (gsize) b * l, p, TRUE, target);
  gint32 keep[4], restore[16];
  gfloat mask[16];
  M3retRng rng;
  mae_step_rng (&rng, 9, 3);
  mae_random_masking (&rng, b, l, k, keep, restore, mask);
  gdouble want = 0;
  for (gint r = 0; r < b * l; r++) {
    if (mask[r] == 0.0f)
      continue;
    gdouble e = 0;
    for (gint c = 0; c < p; c++)
      e += (bias[c] - target[r * p + c]) * (bias[c] - target[r * p + c]);
    want += e / p;
  }
  want /= b * (l - k);
  gfloat got = loss_of (&f, &batch, 3);
  ck_assert_double_eq_tol (got, want, 1e-5 * want);
  g_free (bias);
  g_free (x);
  g_free (patches);
  g_free (target);
  fixture_clear (&f);
}
END_TEST

/* -------------------------------------------------------- gradients */

typedef struct {
  Fixture *f;
  const M3retBatch *batch;
  gint64 step;
} GradLoss;

static gdouble
grad_loss_of (gpointer user_data)
{
  GradLoss *l = user_data;
  return loss_of (l->f, l->batch, l->step);
}

/* Analytic gradients of a few entries of several tensors (encoder and
 * decoder) against central differences of the plugin's float loss. */
START_TEST (test_gradients)
{
  Fixture f;
  fixture_init (&f, "micro", 16, 4, 13, NULL);
  gint b = 2, frames = 4;
  float *x = normal_data (6, (gsize) b * 3 * frames * 16 * 16);
  M3retBatch batch;
  M3retBatchView bv;
  batch_init (&batch, &bv, b, frames, 16, x);
  const gint64 step = 5;
  g_autoptr (GError) error = NULL;
  m3ret_params_zero_grad (f.params);
  M3retTensor *loss = f.vt->loss (f.obj, f.graph, &batch, step, &error);
  ck_assert_msg (loss && m3ret_graph_backward (f.graph, loss, &error), "%s",
                 error ? error->message : "");
  m3ret_graph_reset (f.graph);
  const gchar *names[] = { "mask_token", "decoder_embed.weight", "decoder_pred.bias",
                           "decoder_pred.weight", "decoder_norm.weight",
                           "decoder_blocks.0.attn.qkv.weight", "decoder_blocks.0.mlp.fc1.bias",
                           "blocks.1.mlp.fc2.weight", "patch_embed.proj.weight", "cls_token" };
  GradLoss l = { &f, &batch, step };
  const M3retCheckGrad spec = { .what = "mae gradients", .loss = grad_loss_of, .user_data = &l,
                                .step = 2e-3f, .rule = M3RET_CHECK_GRAD_EACH, .tol = 0.03,
                                .atol = 2e-4 };
  for (guint ni = 0; ni < G_N_ELEMENTS (names); ni++) {
    M3retTensor *t = m3ret_params_lookup (f.params, names[ni]);
    float *v = m3ret_tensor_to_host (t), *gr = g_new (float, t->numel);
    m3ret_tensor_download_grad (t, gr);
    /* the largest gradient and two fixed entries */
    gsize big = 0;
    for (gsize i = 0; i < t->numel; i++)
      if (fabsf (gr[i]) > fabsf (gr[big]))
        big = i;
    gsize pick[3] = { big, t->numel / 3, t->numel - 1 };
    const M3retCheckGradTensor probe = { .name = names[ni], .values = v, .n = t->numel,
                                         .upload_to = t, .grad = gr, .probe = pick, .n_probe = 3 };
    m3ret_check_gradient (&spec, &probe, 1);
    g_free (v);
    g_free (gr);
  }
  g_free (x);
  fixture_clear (&f);
}
END_TEST

/* ---------------------------------------------------- a short run */

/* Smooth random volumes: per sample a random linear ramp along (t, h, w)
 * plus a little noise.  With norm_pix every tubelet of a sample has the
 * same normalised pattern, so the visible tubelets tell the masked ones. */
static void
ramp_batch (M3retRng *rng, float *x, gint b, gint frames, gint size)
{
  for (gint s = 0; s < b; s++) {
    gdouble a[3], off = m3ret_rng_normal (rng, 0, 1);
    for (gint i = 0; i < 3; i++)
      a[i] = m3ret_rng_normal (rng, 0, 1);
    for (gint c = 0; c < 3; c++)
      for (gint t = 0; t < frames; t++)
        for (gint h = 0; h < size; h++)
          for (gint w = 0; w < size; w++) {
            gsize i = ((((gsize) s * 3 + c) * frames + t) * size + h) * size + w;
            x[i] = (float) (off + a[0] * t / frames + a[1] * h / size + a[2] * w / size
                            + 0.02 * m3ret_rng_normal (rng, 0, 1));
          }
  }
}

START_TEST (test_loss_falls)
{
  Fixture f;
  fixture_init (&f, "micro", 16, 4, 21, NULL);
  M3retOptimizerSettings s;
  f.vt->optimizer (f.obj, &s);
  M3retAdamW *opt = m3ret_adamw_new (f.params, s.beta1, s.beta2, s.eps, NULL);
  gint b = 8, frames = 4, steps = 60;
  float *x = g_new (float, (gsize) b * 3 * frames * 16 * 16);
  M3retRng data_rng;
  m3ret_rng_init (&data_rng, 1, 99);
  M3retBatch batch;
  M3retBatchView bv;
  batch_init (&batch, &bv, b, frames, 16, x);
  gdouble first = 0, last = 0;
  for (gint step = 0; step < steps; step++) {
    ramp_batch (&data_rng, x, b, frames, 16);
    g_autoptr (GError) error = NULL;
    m3ret_params_zero_grad (f.params);
    M3retTensor *loss = f.vt->loss (f.obj, f.graph, &batch, step, &error);
    ck_assert_msg (loss && m3ret_graph_backward (f.graph, loss, &error), "%s",
                   error ? error->message : "");
    gdouble value = m3ret_tensor_item (loss);
    m3ret_graph_reset (f.graph);
    m3ret_adamw_step (opt, m3ret_schedule_warmup_cosine (step, 5, steps, 4e-3, 1e-4),
                      s.weight_decay);
    if (step < 5)
      first += value / 5;
    if (step >= steps - 5)
      last += value / 5;
  }
  /* predicting zeros scores 1 with norm_pix: the run must do clearly better */
  ck_assert_msg (last < 0.6 * first && last < 0.7, "loss %g → %g over %d steps", first, last,
                 steps);
  m3ret_adamw_free (opt);
  g_free (x);
  fixture_clear (&f);
}
END_TEST

static Suite *
mae_suite (void)
{
  Suite *s = suite_create ("mae");
  TCase *tc = tcase_create ("objective");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_keep_count);
  tcase_add_test (tc, test_masking_is_argsort);
  tcase_add_test (tc, test_norm_pix);
  tcase_add_test (tc, test_decoder_size);
  tcase_add_test (tc, test_names_and_views);
  tcase_add_test (tc, test_check_refuses);
  tcase_add_test (tc, test_loss_by_hand);
  tcase_add_test (tc, test_loss_zero_decoder);
  tcase_add_test (tc, test_gradients);
  tcase_add_test (tc, test_loss_falls);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = mae_suite, .registry = &registry)
