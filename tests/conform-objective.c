/* conform-objective.c — the same checks on every objective plugin on the
 * plugin path (the build tree's, or M3RET_PLUGIN_PATH's when the program
 * is run by hand), each with its default [objective] keys on a micro ViT
 * (16², depth 4, tubelet 2×8×8, cpu, two threads) and a batch of four
 * random stills rendered as the views it asks for:
 *
 * - views() asks for 1 .. M3RET_LOADER_MAX_VIEWS views on the grid, the
 *   loss of the batch is finite, and a batch with one view more is refused
 *   with a GError;
 * - the encoder's gradients are not all zero and match central finite
 *   differences of the plugin's loss (step 2e-3, |d − g| ≤ 0.03·|g| + 3e-4,
 *   as test-mae and test-simdino judge theirs) at the largest and two fixed
 *   entries of every trainable encoder tensor;
 * - after two training steps, a checkpoint of the trained tensors and the
 *   objective's state (its `state` entry, when it has one) loaded into
 *   another instance made from another initialisation gives the same next
 *   loss, bit for bit;
 * - two runs of three steps from the same seed give identical losses.
 *
 * A plugin is named on stdout as it is checked; no objective at all fails. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "finite-diff.h"
#include "m3ret-checkpoint.h"
#include "m3ret-check.h"

#define SIZE 16
#define DEPTH 4
#define BATCH 4

static M3retRegistry *registry;

typedef struct {
  const M3retPlugin *plugin;
  M3retDevice *device;
  M3retParams *params;
  M3retVit *vit;
  M3retGraph *graph;
  M3retConfig *config;
  const M3retObjectiveVTable *vt;
  gpointer obj;
  M3retAdamW *optimizer;
  guint n_encoder;
  M3retBatch batch;
  M3retBatchView views[M3RET_LOADER_MAX_VIEWS + 1];
  guint n_views;
} Fixture;

static const gchar *
name_of (const M3retPlugin *plugin)
{
  return m3ret_plugin_get_desc (plugin)->name;
}

/* Every objective plugin, sorted by name.  (transfer container) */
static GPtrArray *
objectives (void)
{
  GPtrArray *list = m3ret_registry_list (registry, M3RET_PLUGIN_OBJECTIVE);
  ck_assert_msg (list->len > 0, "no objective plugin on the plugin path");
  return list;
}

/* @seed: the run's seed (the objective's own draws); @init_seed: the
 * parameters' initialisation stream. */
static void
fixture_init (Fixture *f, const M3retPlugin *plugin, guint64 seed, guint64 init_seed)
{
  g_autoptr (GError) error = NULL;
  const gint tubelet[3] = { 2, 8, 8 };
  const gchar *name = name_of (plugin);
  memset (f, 0, sizeof *f);
  f->plugin = plugin;
  f->device = m3ret_device_new_by_name (registry, "cpu", 2, NULL, &error);
  ck_assert_msg (f->device != NULL, "%s", error ? error->message : "");
  f->vt = m3ret_plugin_get_vtable (plugin);
  f->config = m3ret_config_new ("objective");
  ck_assert (m3ret_config_add_keys (f->config, m3ret_pipeline_core_keys ("objective"), NULL));
  const M3retKeySpec *keys = m3ret_plugin_get_desc (plugin)->keys;
  ck_assert_msg (keys == NULL || m3ret_config_add_keys (f->config, keys, &error), "%s: %s", name,
                 error ? error->message : "");
  ck_assert (m3ret_config_set (f->config, "plugin", name, NULL));
  ck_assert_msg (m3ret_config_fill_defaults (f->config, NULL, &error), "%s: %s", name,
                 error ? error->message : "");
  M3retVitConfig vc;
  ck_assert (m3ret_vit_config_init (&vc, M3RET_PRESET_MICRO, SIZE, DEPTH, tubelet, NULL));
  f->params = m3ret_params_new (f->device);
  M3retRng rng;
  m3ret_rng_init (&rng, init_seed, M3RET_RNG_STREAM_INIT);
  f->vit = m3ret_vit_new (f->params, "", &vc, &rng, NULL);
  ck_assert_ptr_nonnull (f->vit);
  f->n_encoder = m3ret_params_get_n (f->params);
  M3retObjectiveSetup setup = {
    .params = f->params, .encoder = f->vit, .init_rng = &rng, .seed = seed,
    .total_steps = 100, .size = SIZE, .depth = DEPTH, .image_depth = (guint) tubelet[0],
    .encoder_config = m3ret_vit_get_config (f->vit),
  };
  if (f->vt->check != NULL)
    ck_assert_msg (f->vt->check (f->config, &setup, &error), "%s: check() refuses its defaults: "
                   "%s", name, error ? error->message : "");
  f->obj = f->vt->create (f->config, &setup, &error);
  ck_assert_msg (f->obj != NULL, "%s: %s", name, error ? error->message : "");
  f->graph = m3ret_graph_new (f->device);
  M3retOptimizerSettings s;
  f->vt->optimizer (f->obj, &s);
  f->optimizer = m3ret_adamw_new (f->params, s.beta1, s.beta2, s.eps, &error);
  ck_assert_msg (f->optimizer != NULL, "%s: %s", name, error ? error->message : "");

  /* The batch: random stills, each view on its own grid (a still has the
   * tubelet depth in frames), from a stream of its own. */
  M3retView views[M3RET_LOADER_MAX_VIEWS];
  f->n_views = f->vt->views (f->obj, views, M3RET_LOADER_MAX_VIEWS);
  ck_assert_msg (f->n_views >= 1 && f->n_views <= M3RET_LOADER_MAX_VIEWS,
                 "%s asks for %u views", name, f->n_views);
  M3retRng data_rng;
  m3ret_rng_init (&data_rng, 4242, M3RET_RNG_STREAM_USER + 77);
  for (guint v = 0; v < f->n_views; v++) {
    ck_assert_msg (views[v].size >= 1 && views[v].size <= SIZE && views[v].depth <= DEPTH
                   && views[v].image_depth >= 1 && views[v].rand == NULL,
                   "%s: view %u: size %u, depth %u, image depth %u", name, v, views[v].size,
                   views[v].depth, views[v].image_depth);
    M3retBatchView *bv = &f->views[v];
    bv->channels = 3;
    bv->frames = views[v].image_depth;
    bv->height = bv->width = views[v].size;
    gsize n = (gsize) BATCH * 3 * bv->frames * bv->height * bv->width;
    bv->data = g_new (gfloat, n);
    m3ret_rng_fill_uniform (&data_rng, bv->data, n, -1.0f, 1.0f);
  }
  f->batch.n = BATCH;
  f->batch.layout = M3RET_LAYOUT_IMAGE;
  f->batch.n_views = f->n_views;
  f->batch.views = f->views;
  f->batch.entries = g_new0 (guint, BATCH);
}

static void
fixture_clear (Fixture *f)
{
  m3ret_graph_free (f->graph);
  m3ret_adamw_free (f->optimizer);
  if (f->obj != NULL)
    f->vt->destroy (f->obj);
  m3ret_vit_free (f->vit);
  m3ret_params_free (f->params);
  m3ret_config_unref (f->config);
  m3ret_device_free (f->device);
  for (guint v = 0; v < f->n_views; v++)
    g_free (f->views[v].data);
  g_free (f->batch.entries);
}

static gfloat
loss_of (Fixture *f, gint64 step)
{
  g_autoptr (GError) error = NULL;
  M3retTensor *loss = f->vt->loss (f->obj, f->graph, &f->batch, step, &error);
  ck_assert_msg (loss != NULL, "%s: %s", name_of (f->plugin), error ? error->message : "");
  gfloat value = m3ret_tensor_item (loss);
  m3ret_graph_reset (f->graph);
  return value;
}

/* One training step @step: loss, backward, AdamW, the after-step hook. */
static gfloat
train_step (Fixture *f, gint64 step)
{
  g_autoptr (GError) error = NULL;
  m3ret_graph_reset (f->graph);
  m3ret_params_zero_grad (f->params);
  M3retTensor *loss = f->vt->loss (f->obj, f->graph, &f->batch, step, &error);
  ck_assert_msg (loss && m3ret_graph_backward (f->graph, loss, &error), "%s: %s",
                 name_of (f->plugin), error ? error->message : "");
  gfloat value = m3ret_tensor_item (loss);
  m3ret_graph_reset (f->graph);
  m3ret_adamw_step (f->optimizer, 1e-3, 0.05);
  if (f->vt->after_step != NULL)
    f->vt->after_step (f->obj, step);
  return value;
}

START_TEST (test_views_and_finite_loss)
{
  g_autoptr (GPtrArray) list = objectives ();
  for (guint p = 0; p < list->len; p++) {
    Fixture f;
    fixture_init (&f, list->pdata[p], 1, 1);
    gfloat loss = loss_of (&f, 0);
    ck_assert_msg (isfinite (loss), "%s: loss %g", name_of (f.plugin), loss);
    /* One view more than it asked for: an error, not a crash. */
    f.views[f.n_views] = f.views[f.n_views - 1];
    f.batch.n_views = f.n_views + 1;
    g_autoptr (GError) error = NULL;
    ck_assert_msg (f.vt->loss (f.obj, f.graph, &f.batch, 0, &error) == NULL && error != NULL,
                   "%s: a batch of %u views for %u passes", name_of (f.plugin), f.n_views + 1,
                   f.n_views);
    m3ret_graph_reset (f.graph);
    f.batch.n_views = f.n_views;
    g_print ("conform-objective: %s: %u view(s), loss %.6g\n", name_of (f.plugin), f.n_views,
             loss);
    fixture_clear (&f);
  }
}
END_TEST

typedef struct {
  Fixture *f;
  gint64 step;
} GradLoss;

static gdouble
grad_loss_of (gpointer user_data)
{
  GradLoss *l = user_data;
  return loss_of (l->f, l->step);
}

START_TEST (test_encoder_gradients)
{
  g_autoptr (GPtrArray) list = objectives ();
  for (guint p = 0; p < list->len; p++) {
    Fixture f;
    fixture_init (&f, list->pdata[p], 13, 13);
    const gint64 step = 3;
    g_autoptr (GError) error = NULL;
    m3ret_params_zero_grad (f.params);
    M3retTensor *loss = f.vt->loss (f.obj, f.graph, &f.batch, step, &error);
    ck_assert_msg (loss && m3ret_graph_backward (f.graph, loss, &error), "%s: %s",
                   name_of (f.plugin), error ? error->message : "");
    m3ret_graph_reset (f.graph);
    GradLoss l = { &f, step };
    g_autofree gchar *what = g_strdup_printf ("%s: encoder gradients", name_of (f.plugin));
    const M3retCheckGrad spec = { .what = what, .loss = grad_loss_of, .user_data = &l,
                                  .step = 2e-3f, .rule = M3RET_CHECK_GRAD_EACH, .tol = 0.03,
                                  .atol = 3e-4 };
    gdouble norm2 = 0;
    guint checked = 0;
    for (guint i = 0; i < f.n_encoder; i++) {
      if (!m3ret_params_is_trainable (f.params, i))
        continue;
      M3retTensor *t = m3ret_params_get_tensor (f.params, i);
      float *v = m3ret_tensor_to_host (t), *gr = g_new (float, t->numel);
      m3ret_tensor_download_grad (t, gr);
      gsize big = 0;
      for (gsize j = 0; j < t->numel; j++) {
        norm2 += (gdouble) gr[j] * gr[j];
        if (fabsf (gr[j]) > fabsf (gr[big]))
          big = j;
      }
      /* the largest gradient and two fixed entries */
      gsize pick[3] = { big, t->numel / 3, t->numel - 1 };
      const M3retCheckGradTensor probe = { .name = m3ret_params_get_name (f.params, i),
                                           .values = v, .n = t->numel, .upload_to = t,
                                           .grad = gr, .probe = pick, .n_probe = 3 };
      m3ret_check_gradient (&spec, &probe, 1);
      checked++;
      g_free (v);
      g_free (gr);
    }
    ck_assert_msg (norm2 > 0, "%s: the encoder's gradients are all zero", name_of (f.plugin));
    g_print ("conform-objective: %s: %u encoder tensors match finite differences\n",
             name_of (f.plugin), checked);
    fixture_clear (&f);
  }
}
END_TEST

START_TEST (test_state_saved_and_loaded)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autoptr (GPtrArray) list = objectives ();
  for (guint p = 0; p < list->len; p++) {
    const M3retPlugin *plugin = list->pdata[p];
    g_autofree gchar *file = g_strconcat (name_of (plugin), ".safetensors", NULL);
    g_autofree gchar *path = g_build_filename (dir, file, NULL);
    Fixture a, b;
    fixture_init (&a, plugin, 21, 21);
    train_step (&a, 0);
    train_step (&a, 1);
    const gchar *prefix = NULL;
    M3retParams *state = a.vt->state != NULL ? a.vt->state (a.obj, &prefix) : NULL;
    ck_assert_msg (state == NULL || (prefix != NULL && *prefix != '\0'),
                   "%s: its state has no prefix", name_of (plugin));
    const M3retCheckpointContents contents = {
      .model = a.params, .state = state, .state_prefix = prefix, .optimizer = a.optimizer,
      .step = 2, .total_steps = 100, .pipeline_text = "", .objective = name_of (plugin),
      .preset = "micro",
    };
    GError *error = NULL;
    ck_assert_msg (m3ret_checkpoint_save (path, &contents, &error), "%s: %s", name_of (plugin),
                   error ? error->message : "");
    gfloat want = loss_of (&a, 2);

    /* Another initialisation, the same run seed: only the file can make it agree. */
    fixture_init (&b, plugin, 21, 99);
    gfloat before = loss_of (&b, 2);
    M3retSafetensors *st = m3ret_safetensors_open (path, &error);
    ck_assert_msg (st != NULL, "%s", error ? error->message : "");
    ck_assert_msg (m3ret_checkpoint_load_params (st, path, b.params, "", &error), "%s: %s",
                   name_of (plugin), error ? error->message : "");
    const gchar *b_prefix = NULL;
    M3retParams *b_state = b.vt->state != NULL ? b.vt->state (b.obj, &b_prefix) : NULL;
    if (b_state != NULL)
      ck_assert_msg (m3ret_checkpoint_load_params (st, path, b_state, b_prefix, &error),
                     "%s: %s", name_of (plugin), error ? error->message : "");
    m3ret_safetensors_close (st);
    gfloat got = loss_of (&b, 2);
    ck_assert_msg (memcmp (&got, &want, sizeof got) == 0, "%s: next loss %.9g after loading, "
                   "%.9g before saving (%.9g from the other initialisation)", name_of (plugin),
                   got, want, before);
    g_print ("conform-objective: %s: saved and loaded (%s) gives the next loss %.9g again\n",
             name_of (plugin), state != NULL ? "trained tensors and its state"
                                             : "trained tensors; no state entry", got);
    fixture_clear (&a);
    fixture_clear (&b);
  }
  m3ret_check_rmtree (dir);
}
END_TEST

START_TEST (test_same_seed_same_losses)
{
  g_autoptr (GPtrArray) list = objectives ();
  for (guint p = 0; p < list->len; p++) {
    gfloat losses[2][3];
    for (guint run = 0; run < 2; run++) {
      Fixture f;
      fixture_init (&f, list->pdata[p], 31, 31);
      for (gint64 step = 0; step < 3; step++)
        losses[run][step] = train_step (&f, step);
      fixture_clear (&f);
    }
    for (guint step = 0; step < 3; step++)
      ck_assert_msg (memcmp (&losses[0][step], &losses[1][step], sizeof (gfloat)) == 0,
                     "%s: step %u: loss %.9g, then %.9g from the same seed",
                     name_of (list->pdata[p]), step, losses[0][step], losses[1][step]);
    g_print ("conform-objective: %s: two runs from one seed: the same three losses\n",
             name_of (list->pdata[p]));
  }
}
END_TEST

static Suite *
conform_objective_suite (void)
{
  Suite *s = suite_create ("conform-objective");
  TCase *tc = tcase_create ("objective");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_views_and_finite_loss);
  tcase_add_test (tc, test_encoder_gradients);
  tcase_add_test (tc, test_state_saved_and_loaded);
  tcase_add_test (tc, test_same_seed_same_losses);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = conform_objective_suite, .registry = &registry)
