/* test-simdino.c — the SimDINO objective: alignment and coding rate on
 * fixed inputs against closed forms, the whole loss against a plain-C
 * forward (with a teacher that has drifted from the student), gradients
 * against finite differences, the teacher's momentum and EMA, names and
 * views, and a short training run whose loss falls. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finite-diff.h"
#include "m3ret-check.h"
#include "simdino-maths.h"

static M3retRegistry *registry;

static M3retDevice *
new_device (void)
{
  g_autoptr (GError) error = NULL;
  M3retDevice *device = m3ret_device_new_by_name (registry, "cpu", 2, NULL, &error);
  ck_assert_msg (device != NULL, "%s", error ? error->message : "");
  return device;
}

static float *
normal_data (guint64 seed, gsize n, gfloat std)
{
  float *x = g_new (float, n);
  M3retRng rng;
  m3ret_rng_init (&rng, seed, 77);
  m3ret_rng_fill_normal (&rng, x, n, 0.0f, std);
  return x;
}

/* ------------------------------------------------- terms, closed form */

/* Rows at known angles in the first two coordinates, with lengths that
 * are not one: cosine(t_i, s_i) = cos(θ_s,i − θ_t,i). */
START_TEST (test_alignment_closed_form)
{
  M3retDevice *device = new_device ();
  M3retGraph *g = m3ret_graph_new (device);
  const gint b = 2, p = 3, nt = 2, ns = 4;
  const gdouble angle[4][2] = { { 0.0, 1.0 }, { 0.5, -0.3 }, { 2.0, 0.25 }, { -1.0, 3.0 } };
  const gdouble length[4] = { 1.0, 2.5, 0.3, 7.0 };
  M3retTensor *views[4];
  for (gint v = 0; v < ns; v++) {
    float x[6];
    for (gint i = 0; i < b; i++) {
      x[i * p + 0] = (float) (length[v] * cos (angle[v][i]));
      x[i * p + 1] = (float) (length[v] * sin (angle[v][i]));
      x[i * p + 2] = 0.0f;
    }
    views[v] = m3ret_graph_from_host (g, 2, (gint64[]) { b, p }, x, FALSE);
  }
  /* teacher views are the first two student views (the same crops) */
  M3retTensor *a = simdino_alignment (g, views, nt, views, ns);
  gdouble want = 0;
  for (gint t = 0; t < nt; t++)
    for (gint s = 0; s < ns; s++)
      if (s != t)
        want += (cos (angle[s][0] - angle[t][0]) + cos (angle[s][1] - angle[t][1])) / b;
  want /= nt * ns - nt;
  ck_assert_double_eq_tol (m3ret_tensor_item (a), want, 1e-6);
  /* one view and nothing to pair it with: no alignment */
  ck_assert_ptr_null (simdino_alignment (g, views, 1, views, 1));
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

/* Z with orthogonal columns: ZᵀZ is diagonal, so logdet(I + c·ZᵀZ) =
 * Σ_j log(1 + c·‖z_j‖²). */
static void
orthogonal_z (float *z, const gdouble *scale)
{
  /* columns of a 4×4 Hadamard matrix (3 of them), scaled */
  const gint h[4][3] = { { 1, 1, 1 }, { 1, -1, 1 }, { 1, 1, -1 }, { 1, -1, -1 } };
  for (gint i = 0; i < 4; i++)
    for (gint j = 0; j < 3; j++)
      z[i * 3 + j] = (float) (h[i][j] * scale[j]);
}

static gdouble
rate_closed_form (const gdouble *scale, gint b, gint p, gdouble eps)
{
  gdouble c = p / (b * eps), r = 0;
  for (gint j = 0; j < p; j++)
    r += log (1.0 + c * b * scale[j] * scale[j]); /* ‖z_j‖² = b·scale² */
  return 0.5 * r;
}

START_TEST (test_coding_rate_closed_form)
{
  M3retDevice *device = new_device ();
  M3retGraph *g = m3ret_graph_new (device);
  const gint b = 4, p = 3;
  const gdouble s1[3] = { 0.3, 1.1, 0.05 }, s2[3] = { 2.0, 0.0, 0.7 };
  const gdouble eps_values[2] = { 0.5, 0.1 };
  for (gint e = 0; e < 2; e++) {
    gdouble eps = eps_values[e];
    float z1[12], z2[12];
    orthogonal_z (z1, s1);
    orthogonal_z (z2, s2);
    M3retTensor *t1 = m3ret_graph_from_host (g, 2, (gint64[]) { b, p }, z1, FALSE);
    ck_assert_double_eq_tol (m3ret_tensor_item (simdino_coding_rate (g, t1, eps)),
                             rate_closed_form (s1, b, p, eps), 1e-5);
    /* expansion: student ± d and teacher ∓ d average to Z; γ = (p+b)/(p·b) */
    float d[12], st[2][12], te[2][12];
    M3retRng rng;
    m3ret_rng_init (&rng, 3, 3);
    m3ret_rng_fill_normal (&rng, d, 12, 0.0f, 0.5f);
    for (gint i = 0; i < 12; i++) {
      st[0][i] = z1[i] + d[i];
      te[0][i] = z1[i] - d[i];
      st[1][i] = z2[i] - 2 * d[i];
      te[1][i] = z2[i] + 2 * d[i];
    }
    M3retTensor *sv[2], *tv[2];
    for (gint v = 0; v < 2; v++) {
      sv[v] = m3ret_graph_from_host (g, 2, (gint64[]) { b, p }, st[v], FALSE);
      tv[v] = m3ret_graph_from_host (g, 2, (gint64[]) { b, p }, te[v], FALSE);
    }
    gdouble gamma = (gdouble) (p + b) / (p * b);
    gdouble want = gamma * 0.5
                   * (rate_closed_form (s1, b, p, eps) + rate_closed_form (s2, b, p, eps));
    ck_assert_double_eq_tol (m3ret_tensor_item (simdino_expansion (g, tv, sv, 2, eps)), want,
                             1e-5);
    m3ret_graph_reset (g);
  }
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

START_TEST (test_momentum)
{
  ck_assert_double_eq_tol (simdino_momentum (0, 100, 0.996), 0.996, 1e-12);
  ck_assert_double_eq_tol (simdino_momentum (50, 100, 0.996), 0.998, 1e-12);
  ck_assert_double_eq_tol (simdino_momentum (100, 100, 0.996), 1.0, 1e-12);
  ck_assert_double_eq_tol (simdino_momentum (25, 100, 0.996),
                           1.0 - 0.004 * 0.5 * (1.0 + cos (G_PI / 4)), 1e-12);
  ck_assert_double_eq_tol (simdino_momentum (75, 100, 0.9), 1.0 - 0.1 * 0.5 * (1.0 + cos (0.75 * G_PI)),
                           1e-12);
}
END_TEST

/* ------------------------------------------------------------ fixture */

typedef struct {
  M3retDevice *device;
  M3retParams *params;
  M3retVit *vit;
  M3retGraph *graph;
  M3retConfig *config;
  const M3retObjectiveVTable *vt;
  gpointer obj;
  gint size, depth;
} Fixture;

static M3retConfig *
objective_config (const gchar *const *kv)
{
  g_autoptr (GError) error = NULL;
  const M3retPlugin *plugin = m3ret_registry_require (registry, M3RET_PLUGIN_OBJECTIVE, "simdino",
                                                      &error);
  ck_assert_msg (plugin != NULL, "%s", error ? error->message : "");
  M3retConfig *config = m3ret_config_new ("objective");
  ck_assert (m3ret_config_add_keys (config, m3ret_plugin_get_desc (plugin)->keys, NULL));
  for (guint i = 0; kv != NULL && kv[i] != NULL; i += 2)
    ck_assert_msg (m3ret_config_set (config, kv[i], kv[i + 1], &error), "%s",
                   error ? error->message : "");
  ck_assert (m3ret_config_fill_defaults (config, NULL, NULL));
  return config;
}

static gpointer
fixture_try (Fixture *f, gint size, gint depth, guint64 seed, const gchar *const *kv,
             GError **error)
{
  const gint tubelet[3] = { 2, 8, 8 };
  memset (f, 0, sizeof *f);
  f->size = size;
  f->depth = depth;
  f->device = new_device ();
  f->vt = m3ret_plugin_get_vtable (m3ret_registry_lookup (registry, M3RET_PLUGIN_OBJECTIVE,
                                                          "simdino"));
  f->config = objective_config (kv);
  M3retVitConfig vc;
  ck_assert (m3ret_vit_config_init (&vc, M3RET_PRESET_MICRO, size, depth, tubelet, NULL));
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
  f->obj = f->vt->create (f->config, &setup, error);
  f->graph = m3ret_graph_new (f->device);
  return f->obj;
}

static void
fixture_init (Fixture *f, gint size, gint depth, guint64 seed, const gchar *const *kv)
{
  g_autoptr (GError) error = NULL;
  ck_assert_msg (fixture_try (f, size, depth, seed, kv, &error) != NULL, "%s",
                 error ? error->message : "");
}

static void
fixture_clear (Fixture *f)
{
  m3ret_graph_free (f->graph);
  if (f->obj != NULL)
    f->vt->destroy (f->obj);
  m3ret_vit_free (f->vit);
  m3ret_params_free (f->params);
  m3ret_config_unref (f->config);
  m3ret_device_free (f->device);
}

static M3retParams *
teacher_of (Fixture *f)
{
  const gchar *prefix = NULL;
  M3retParams *teacher = f->vt->state (f->obj, &prefix);
  ck_assert_ptr_nonnull (teacher);
  ck_assert_str_eq (prefix, "teacher.");
  return teacher;
}

/* @n_views views of @b samples of @frames frames, data from @x (views
 * one after the other, each b × 3×frames×size×size; not copied). */
static void
batch_init (M3retBatch *batch, M3retBatchView *views, guint n_views, gint b, gint frames,
            gint size, float *x)
{
  memset (batch, 0, sizeof *batch);
  gsize per_view = (gsize) b * 3 * frames * size * size;
  for (guint v = 0; v < n_views; v++) {
    views[v].channels = 3;
    views[v].frames = (guint) frames;
    views[v].height = views[v].width = (guint) size;
    views[v].data = x + v * per_view;
  }
  batch->n = (guint) b;
  batch->layout = frames == 2 ? M3RET_LAYOUT_IMAGE : M3RET_LAYOUT_SEQUENCE;
  batch->n_views = n_views;
  batch->views = views;
}

static gfloat
loss_of (Fixture *f, const M3retBatch *batch)
{
  g_autoptr (GError) error = NULL;
  M3retTensor *loss = f->vt->loss (f->obj, f->graph, batch, 0, &error);
  ck_assert_msg (loss != NULL, "%s", error ? error->message : "");
  gfloat value = m3ret_tensor_item (loss);
  m3ret_graph_reset (f->graph);
  return value;
}

/* ----------------------------------------------- names, views, state */

START_TEST (test_names_views_state)
{
  const gchar *kv[] = { "head_hidden", "24", "head_out", "10", "local_crops", "3", NULL };
  Fixture f;
  fixture_init (&f, 16, 4, 1, kv);
  const struct { const gchar *name; gint64 rows, cols; } head[] = {
    { "head.mlp.0", 24, 64 }, { "head.mlp.2", 24, 24 }, { "head.mlp.4", 10, 24 }
  };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++) {
    g_autofree gchar *wn = g_strconcat (head[i].name, ".weight", NULL);
    g_autofree gchar *bn = g_strconcat (head[i].name, ".bias", NULL);
    M3retTensor *w = m3ret_params_lookup (f.params, wn), *b = m3ret_params_lookup (f.params, bn);
    ck_assert_msg (w != NULL && b != NULL, "no %s", head[i].name);
    ck_assert_int_eq (w->ndim, 2);
    ck_assert_int_eq (w->shape[0], head[i].rows);
    ck_assert_int_eq (w->shape[1], head[i].cols);
    ck_assert_int_eq (b->shape[0], head[i].rows);
  }
  ck_assert_ptr_null (m3ret_params_lookup (f.params, "head.mlp.6.weight"));
  /* the teacher: the same names and values as the student at creation */
  M3retParams *teacher = teacher_of (&f);
  ck_assert_uint_eq (m3ret_params_get_n (teacher), m3ret_params_get_n (f.params));
  for (guint i = 0; i < m3ret_params_get_n (teacher); i++) {
    ck_assert_str_eq (m3ret_params_get_name (teacher, i), m3ret_params_get_name (f.params, i));
    float *a = m3ret_tensor_to_host (m3ret_params_get_tensor (teacher, i));
    float *b = m3ret_tensor_to_host (m3ret_params_get_tensor (f.params, i));
    ck_assert (memcmp (a, b, sizeof (float) * m3ret_params_get_tensor (teacher, i)->numel) == 0);
    g_free (a);
    g_free (b);
  }
  /* 2 global views then 3 local ones, all on the grid */
  M3retView views[16];
  ck_assert_uint_eq (f.vt->views (f.obj, views, 16), 5);
  ck_assert_uint_eq (f.vt->views (f.obj, views, 4), 0);
  f.vt->views (f.obj, views, 16);
  for (gint v = 0; v < 5; v++) {
    ck_assert_int_eq (views[v].mode, M3RET_VIEW_TRAIN);
    ck_assert_uint_eq (views[v].size, 16);
    ck_assert_uint_eq (views[v].depth, 4);
    ck_assert_uint_eq (views[v].image_depth, 2);
    ck_assert_double_eq (views[v].scale_min, v < 2 ? 0.4 : 0.05);
    ck_assert_double_eq (views[v].scale_max, v < 2 ? 1.0 : 0.4);
  }
  M3retOptimizerSettings s;
  f.vt->optimizer (f.obj, &s);
  ck_assert_double_eq (s.beta1, 0.9);
  ck_assert_double_eq (s.beta2, 0.999);
  ck_assert_double_eq (s.weight_decay, 0.04);
  ck_assert_double_eq (s.weight_decay_end, 0.4);
  /* a batch with the wrong number of views is an error */
  float *x = normal_data (1, (gsize) 4 * 2 * 3 * 4 * 16 * 16, 1.0f);
  M3retBatch batch;
  M3retBatchView bv[4];
  batch_init (&batch, bv, 4, 2, 4, 16, x);
  g_autoptr (GError) error = NULL;
  ck_assert_ptr_null (f.vt->loss (f.obj, f.graph, &batch, 0, &error));
  ck_assert_ptr_nonnull (error);
  g_free (x);
  fixture_clear (&f);
  /* one view in all cannot be aligned with anything */
  const gchar *lonely[] = { "global_crops", "1", "local_crops", "0", NULL };
  g_clear_error (&error);
  ck_assert_ptr_null (fixture_try (&f, 16, 4, 1, lonely, &error));
  ck_assert_ptr_nonnull (strstr (error->message, "global_crops"));
  fixture_clear (&f);
}
END_TEST

/* check() refuses what create() refuses, with the same message, before
 * any tensor exists: too few views, scales written max,min. */
START_TEST (test_check_refuses)
{
  const gchar *cases[][5] = {
    { "global_crops", "1", "local_crops", "0", "[objective] local_crops=0: global_crops + "
      "local_crops is 1; it must be 2" },
    { "local_scale", "0.5,0.1", NULL, NULL, "[objective] local_scale=0.5,0.1: write it min,max" },
    { "global_crops", "1", "local_crops", "1", NULL },
  };
  const gint tubelet[3] = { 2, 8, 8 };
  M3retVitConfig vc;
  ck_assert (m3ret_vit_config_init (&vc, M3RET_PRESET_MICRO, 16, 4, tubelet, NULL));
  const M3retObjectiveVTable *vt =
    m3ret_plugin_get_vtable (m3ret_registry_lookup (registry, M3RET_PLUGIN_OBJECTIVE, "simdino"));
  ck_assert_ptr_nonnull (vt->check);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    const gchar *kv[] = { "head_hidden", "16", "head_out", "8", cases[c][0], cases[c][1],
                          cases[c][2], cases[c][3], NULL };
    g_autoptr (M3retConfig) config = objective_config (kv);
    M3retObjectiveSetup setup = {
      .seed = 1, .total_steps = 100, .size = 16, .depth = 4, .image_depth = 2,
      .encoder_config = &vc,
    };
    g_autoptr (GError) error = NULL;
    gboolean ok = vt->check (config, &setup, &error);
    ck_assert_msg (ok == (cases[c][4] == NULL), "case %u: %s", c, error ? error->message : "ok");
    Fixture f;
    g_autoptr (GError) create_error = NULL;
    ck_assert ((fixture_try (&f, 16, 4, 1, kv, &create_error) != NULL) == ok);
    if (!ok) {
      ck_assert_msg (g_str_has_prefix (error->message, cases[c][4]), "%s", error->message);
      ck_assert_str_eq (create_error->message, error->message);
    }
    fixture_clear (&f);
  }
}
END_TEST

/* ------------------------------------------- the whole loss, by hand */

/* The projections of one view on the host, in double: the encoder's CLS
 * (m3ret_vit_forward, tested in test-vit) through the head written out. */
static void
project (M3retGraph *g, M3retVit *vit, M3retParams *params, const M3retBatchView *bv, gint b,
         gdouble *out, gint *p_out)
{
  gint d = m3ret_vit_get_config (vit)->dim;
  M3retTensor *patches = m3ret_vit_patchify (g, vit, bv->data, b, (gint) bv->frames);
  M3retTensor *tokens = m3ret_vit_forward (g, vit, patches, NULL, 0);
  float *tok = m3ret_tensor_to_host (tokens);
  gint n = (gint) tokens->shape[1];
  m3ret_graph_reset (g);
  float *w[3], *bias[3];
  gint widths[4];
  widths[0] = d;
  for (gint i = 0; i < 3; i++) {
    g_autofree gchar *wn = g_strdup_printf ("head.mlp.%d.weight", 2 * i);
    g_autofree gchar *bn = g_strdup_printf ("head.mlp.%d.bias", 2 * i);
    M3retTensor *wt = m3ret_params_lookup (params, wn);
    widths[i + 1] = (gint) wt->shape[0];
    w[i] = m3ret_tensor_to_host (wt);
    bias[i] = m3ret_tensor_to_host (m3ret_params_lookup (params, bn));
  }
  gint p = widths[3];
  gdouble *in = g_new (gdouble, 1024), *next = g_new (gdouble, 1024);
  for (gint s = 0; s < b; s++) {
    for (gint c = 0; c < d; c++)
      in[c] = tok[(gsize) s * n * d + c]; /* token 0: the CLS */
    for (gint layer = 0; layer < 3; layer++) {
      for (gint o = 0; o < widths[layer + 1]; o++) {
        gdouble acc = bias[layer][o];
        for (gint c = 0; c < widths[layer]; c++)
          acc += w[layer][o * widths[layer] + c] * in[c];
        next[o] = layer < 2 ? 0.5 * acc * (1.0 + erf (acc / G_SQRT2)) : acc;
      }
      memcpy (in, next, sizeof (gdouble) * widths[layer + 1]);
    }
    gdouble norm = 0;
    for (gint o = 0; o < p; o++)
      norm += in[o] * in[o];
    norm = sqrt (norm);
    for (gint o = 0; o < p; o++)
      out[s * p + o] = in[o] / norm;
  }
  *p_out = p;
  for (gint i = 0; i < 3; i++) {
    g_free (w[i]);
    g_free (bias[i]);
  }
  g_free (in);
  g_free (next);
  g_free (tok);
}

/* log det of the symmetric positive definite n×n @a, by Cholesky */
static gdouble
logdet_spd (gdouble *a, gint n)
{
  gdouble sum = 0;
  for (gint j = 0; j < n; j++) {
    gdouble diag = a[j * n + j];
    for (gint k = 0; k < j; k++)
      diag -= a[j * n + k] * a[j * n + k];
    ck_assert (diag > 0);
    gdouble l = sqrt (diag);
    a[j * n + j] = l;
    sum += 2.0 * log (l);
    for (gint i = j + 1; i < n; i++) {
      gdouble v = a[i * n + j];
      for (gint k = 0; k < j; k++)
        v -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = v / l;
    }
  }
  return sum;
}

/* A second encoder + head holding the teacher's values, so the teacher's
 * projections can be computed through the public API. */
typedef struct {
  M3retParams *params;
  M3retVit *vit;
} Copy;

static void
copy_teacher (Fixture *f, Copy *c)
{
  c->params = m3ret_params_new (f->device);
  M3retRng rng;
  m3ret_rng_init (&rng, 0, 5);
  c->vit = m3ret_vit_new (c->params, "", m3ret_vit_get_config (f->vit), &rng, NULL);
  for (guint i = m3ret_params_get_n (c->params); i < m3ret_params_get_n (f->params); i++) {
    M3retTensor *t = m3ret_params_get_tensor (f->params, i);
    ck_assert_ptr_nonnull (m3ret_params_add (c->params, m3ret_params_get_name (f->params, i),
                                             t->ndim, t->shape, TRUE, NULL));
  }
  g_autoptr (GError) error = NULL;
  ck_assert_msg (m3ret_params_copy (c->params, teacher_of (f), &error), "%s", error->message);
}

static gdouble
reference_loss (Fixture *f, const M3retBatch *batch, guint n_global, gdouble eps, gdouble coeff)
{
  Copy teacher;
  copy_teacher (f, &teacher);
  gint b = (gint) batch->n, p = 0;
  guint nv = batch->n_views;
  gdouble *st = g_new (gdouble, (gsize) nv * b * 1024), *te = g_new (gdouble, (gsize) nv * b * 1024);
  for (guint v = 0; v < nv; v++) {
    project (f->graph, f->vit, f->params, &batch->views[v], b, st + (gsize) v * b * 1024, &p);
    if (v < n_global)
      project (f->graph, teacher.vit, teacher.params, &batch->views[v], b,
               te + (gsize) v * b * 1024, &p);
  }
  gdouble align = 0;
  gint pairs = 0;
  for (guint t = 0; t < n_global; t++)
    for (guint s = 0; s < nv; s++) {
      if (s == t)
        continue;
      gdouble sum = 0;
      for (gint i = 0; i < b * p; i++)
        sum += te[(gsize) t * b * 1024 + i] * st[(gsize) s * b * 1024 + i];
      align += sum / b;
      pairs++;
    }
  align /= pairs;
  gdouble rate = 0, c = p / (b * eps);
  gdouble *m = g_new (gdouble, p * p), *z = g_new (gdouble, b * p);
  for (guint v = 0; v < n_global; v++) {
    for (gint i = 0; i < b * p; i++)
      z[i] = 0.5 * (st[(gsize) v * b * 1024 + i] + te[(gsize) v * b * 1024 + i]);
    for (gint i = 0; i < p; i++)
      for (gint j = 0; j < p; j++) {
        gdouble acc = i == j;
        for (gint r = 0; r < b; r++)
          acc += c * z[r * p + i] * z[r * p + j];
        m[i * p + j] = acc;
      }
    rate += 0.5 * logdet_spd (m, p);
  }
  gdouble gamma = (gdouble) (p + b) / (p * b);
  g_free (m);
  g_free (z);
  g_free (st);
  g_free (te);
  m3ret_vit_free (teacher.vit);
  m3ret_params_free (teacher.params);
  return -coeff * align - gamma * rate / n_global;
}

/* Moves every trainable teacher tensor away from the student's values. */
static void
drift_teacher (Fixture *f, guint64 seed)
{
  M3retParams *teacher = teacher_of (f);
  for (guint i = 0; i < m3ret_params_get_n (teacher); i++) {
    if (!m3ret_params_is_trainable (teacher, i))
      continue;
    M3retTensor *t = m3ret_params_get_tensor (teacher, i);
    float *v = m3ret_tensor_to_host (t), *d = normal_data (seed + i, t->numel, 0.05f);
    for (gsize j = 0; j < t->numel; j++)
      v[j] += d[j];
    m3ret_tensor_upload (t, v);
    g_free (v);
    g_free (d);
  }
}

START_TEST (test_loss_by_hand)
{
  const struct { const gchar *global, *local, *eps, *coeff; gint frames; } cases[] = {
    { "2", "2", "0.5", "1", 4 }, { "2", "1", "0.2", "0.5", 2 }, { "3", "0", "1", "2", 4 }
  };
  for (guint ci = 0; ci < G_N_ELEMENTS (cases); ci++) {
    const gchar *kv[] = { "head_hidden", "16", "head_out", "8", "global_crops", cases[ci].global,
                          "local_crops", cases[ci].local, "eps", cases[ci].eps,
                          "coeff", cases[ci].coeff, NULL };
    Fixture f;
    fixture_init (&f, 16, 4, 30 + ci, kv);
    /* larger head weights than the init, so the projections spread */
    for (gint i = 0; i < 3; i++) {
      g_autofree gchar *wn = g_strdup_printf ("head.mlp.%d.weight", 2 * i);
      M3retTensor *t = m3ret_params_lookup (f.params, wn);
      float *w = normal_data (40 + ci * 3 + i, t->numel, 0.3f);
      m3ret_tensor_upload (t, w);
      g_free (w);
    }
    drift_teacher (&f, 50 + ci);
    guint ng = (guint) atoi (cases[ci].global), nv = ng + (guint) atoi (cases[ci].local);
    gint b = 5, frames = cases[ci].frames;
    float *x = normal_data (60 + ci, (gsize) nv * b * 3 * frames * 16 * 16, 1.0f);
    M3retBatch batch;
    M3retBatchView bv[8];
    batch_init (&batch, bv, nv, b, frames, 16, x);
    gdouble want = reference_loss (&f, &batch, ng, g_ascii_strtod (cases[ci].eps, NULL),
                                   g_ascii_strtod (cases[ci].coeff, NULL));
    gfloat got = loss_of (&f, &batch);
    ck_assert_msg (fabs (got - want) <= 1e-4 * fabs (want) + 1e-5, "case %u: loss %.7g, by hand %.7g",
                   ci, got, want);
    g_free (x);
    fixture_clear (&f);
  }
}
END_TEST

/* -------------------------------------------------------- gradients */

typedef struct {
  Fixture *f;
  const M3retBatch *batch;
} GradLoss;

static gdouble
grad_loss_of (gpointer user_data)
{
  GradLoss *l = user_data;
  return loss_of (l->f, l->batch);
}

START_TEST (test_gradients)
{
  const gchar *kv[] = { "head_hidden", "16", "head_out", "8", "local_crops", "1", NULL };
  Fixture f;
  fixture_init (&f, 16, 2, 7, kv);
  for (gint i = 0; i < 3; i++) {
    g_autofree gchar *wn = g_strdup_printf ("head.mlp.%d.weight", 2 * i);
    M3retTensor *t = m3ret_params_lookup (f.params, wn);
    float *w = normal_data (70 + i, t->numel, 0.3f);
    m3ret_tensor_upload (t, w);
    g_free (w);
  }
  drift_teacher (&f, 80);
  gint b = 4, frames = 2;
  float *x = normal_data (90, (gsize) 3 * b * 3 * frames * 16 * 16, 1.0f);
  M3retBatch batch;
  M3retBatchView bv[3];
  batch_init (&batch, bv, 3, b, frames, 16, x);
  g_autoptr (GError) error = NULL;
  M3retParams *teacher = teacher_of (&f);
  m3ret_params_zero_grad (f.params);
  m3ret_params_zero_grad (teacher);
  M3retTensor *loss = f.vt->loss (f.obj, f.graph, &batch, 0, &error);
  ck_assert_msg (loss && m3ret_graph_backward (f.graph, loss, &error), "%s",
                 error ? error->message : "");
  m3ret_graph_reset (f.graph);
  /* the teacher is never differentiated */
  ck_assert_double_eq (m3ret_params_grad_norm (teacher), 0.0);
  ck_assert (m3ret_params_grad_norm (f.params) > 0.0);
  const gchar *names[] = { "head.mlp.4.weight", "head.mlp.4.bias", "head.mlp.2.weight",
                           "head.mlp.0.bias", "blocks.1.attn.qkv.weight", "norm.weight",
                           "patch_embed.proj.weight", "cls_token" };
  GradLoss l = { &f, &batch };
  const M3retCheckGrad spec = { .what = "simdino gradients", .loss = grad_loss_of, .user_data = &l,
                                .step = 2e-3f, .rule = M3RET_CHECK_GRAD_EACH, .tol = 0.03,
                                .atol = 3e-4 };
  for (guint ni = 0; ni < G_N_ELEMENTS (names); ni++) {
    M3retTensor *t = m3ret_params_lookup (f.params, names[ni]);
    float *v = m3ret_tensor_to_host (t), *gr = g_new (float, t->numel);
    m3ret_tensor_download_grad (t, gr);
    gsize big = 0;
    for (gsize i = 0; i < t->numel; i++)
      if (fabsf (gr[i]) > fabsf (gr[big]))
        big = i;
    /* the largest gradient and two fixed entries */
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

/* ------------------------------------------------------------- EMA */

static void
fill_all (M3retParams *params, gfloat value)
{
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    M3retTensor *t = m3ret_params_get_tensor (params, i);
    float *v = g_new (float, t->numel);
    for (gsize j = 0; j < t->numel; j++)
      v[j] = value;
    m3ret_tensor_upload (t, v);
    g_free (v);
  }
}

START_TEST (test_ema)
{
  const gchar *kv[] = { "head_hidden", "16", "head_out", "8", NULL };
  Fixture f;
  fixture_init (&f, 16, 2, 3, kv); /* total_steps 100 */
  M3retParams *teacher = teacher_of (&f);
  const gint64 steps[3] = { 0, 50, 100 };
  const gdouble momentum[3] = { 0.996, 0.998, 1.0 };
  for (gint k = 0; k < 3; k++) {
    fill_all (teacher, 1.0f);
    fill_all (f.params, 3.0f);
    f.vt->after_step (f.obj, steps[k]);
    gdouble want = momentum[k] * 1.0 + (1.0 - momentum[k]) * 3.0;
    for (guint i = 0; i < m3ret_params_get_n (teacher); i++) {
      float *v = m3ret_tensor_to_host (m3ret_params_get_tensor (teacher, i));
      /* trainable tensors move by the momentum; buffers are copied */
      gdouble expect = m3ret_params_is_trainable (teacher, i) ? want : 3.0;
      ck_assert_msg (fabs (v[0] - expect) < 1e-6, "%s after step %" G_GINT64_FORMAT ": %g, not %g",
                     m3ret_params_get_name (teacher, i), steps[k], v[0], expect);
      g_free (v);
    }
  }
  fixture_clear (&f);
}
END_TEST

/* ---------------------------------------------------- a short run */

/* Per sample a random smooth image; its views are that image with their
 * own brightness, contrast and strong noise (so that views of one sample
 * start out far apart). */
static void
views_batch (M3retRng *rng, float *x, guint n_views, gint b, gint frames, gint size)
{
  gsize per_sample = (gsize) 3 * frames * size * size;
  for (gint s = 0; s < b; s++) {
    gdouble a[6];
    for (gint i = 0; i < 6; i++)
      a[i] = m3ret_rng_normal (rng, 0, 1);
    for (guint v = 0; v < n_views; v++) {
      gdouble gain = 1.0 + 0.2 * m3ret_rng_normal (rng, 0, 1);
      gdouble off = 0.2 * m3ret_rng_normal (rng, 0, 1);
      float *out = x + ((gsize) v * b + s) * per_sample;
      for (gsize i = 0; i < per_sample; i++) {
        gint w = (gint) (i % size), h = (gint) (i / size % size), c = (gint) (i / ((gsize) frames * size * size));
        gdouble u = (gdouble) w / size, y = (gdouble) h / size;
        gdouble value = a[0] * u + a[1] * y + a[2] * sin (3.0 * u + a[3]) + a[4] * cos (3.0 * y) + 0.3 * a[5] * c;
        out[i] = (float) (gain * value + off + m3ret_rng_normal (rng, 0, 1));
      }
    }
  }
}

START_TEST (test_loss_falls)
{
    /* a teacher that follows within tens of steps (0.996 is for 10⁵) */
  const gchar *kv[] = { "head_hidden", "64", "head_out", "16", "local_crops", "2",
                        "ema_start", "0.9", NULL };
  Fixture f;
  fixture_init (&f, 16, 2, 17, kv);
  M3retOptimizerSettings s;
  f.vt->optimizer (f.obj, &s);
  M3retAdamW *opt = m3ret_adamw_new (f.params, s.beta1, s.beta2, s.eps, NULL);
  gint b = 8, frames = 2, steps = 60;
  guint nv = 4;
  float *x = g_new (float, (gsize) nv * b * 3 * frames * 16 * 16);
  M3retRng data_rng;
  m3ret_rng_init (&data_rng, 2, 99);
  M3retBatch batch;
  M3retBatchView bv[4];
  batch_init (&batch, bv, nv, b, frames, 16, x);
  gdouble first = 0, last = 0;
  /* the loss of a collapsed student (every projection the same unit
   * vector): alignment 1, and Z of rank one with ZᵀZ's eigenvalue b */
  gdouble p = 16, gamma = (p + b) / (p * b);
  gdouble collapsed = -1.0 - gamma * 0.5 * log (1.0 + p / 0.5);
  for (gint step = 0; step < steps; step++) {
    views_batch (&data_rng, x, nv, b, frames, 16);
    g_autoptr (GError) error = NULL;
    m3ret_params_zero_grad (f.params);
    M3retTensor *loss = f.vt->loss (f.obj, f.graph, &batch, step, &error);
    ck_assert_msg (loss && m3ret_graph_backward (f.graph, loss, &error), "%s",
                   error ? error->message : "");
    gdouble value = m3ret_tensor_item (loss);
    m3ret_graph_reset (f.graph);
    m3ret_adamw_step (opt, m3ret_schedule_warmup_cosine (step, 5, steps, 1e-3, 1e-4),
                      m3ret_schedule_cosine (step, steps, s.weight_decay, s.weight_decay_end));
    f.vt->after_step (f.obj, step);
    if (step < 5)
      first += value / 5;
    if (step >= steps - 5)
      last += value / 5;
  }
  /* it falls, and well below what collapse would give: the projections
   * spread out while the views of a sample come together */
  ck_assert_msg (last < first - 0.15 && last < collapsed - 0.3,
                 "loss %g → %g over %d steps (collapse: %g)", first, last, steps, collapsed);
  m3ret_adamw_free (opt);
  g_free (x);
  fixture_clear (&f);
}
END_TEST

static Suite *
simdino_suite (void)
{
  Suite *s = suite_create ("simdino");
  TCase *tc = tcase_create ("objective");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_alignment_closed_form);
  tcase_add_test (tc, test_coding_rate_closed_form);
  tcase_add_test (tc, test_momentum);
  tcase_add_test (tc, test_names_views_state);
  tcase_add_test (tc, test_check_refuses);
  tcase_add_test (tc, test_loss_by_hand);
  tcase_add_test (tc, test_gradients);
  tcase_add_test (tc, test_ema);
  tcase_add_test (tc, test_loss_falls);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = simdino_suite, .registry = &registry)
