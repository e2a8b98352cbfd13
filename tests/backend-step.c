/* backend-step.c — one training step of a ViT and an objective plugin. */
#include "config.h"

#include "backend-step.h"

struct _BackendStep {
  M3retDevice *device;
  M3retParams *params;
  M3retVit *vit;
  const M3retObjectiveVTable *vt;
  gpointer objective;
  M3retAdamW *optimizer;
  M3retGraph *graph;
  guint n_encoder; /* the first n_encoder tensors of params are the encoder's */
  M3retBatch batch;
  M3retBatchView views[M3RET_LOADER_MAX_VIEWS];
  guint *entries;
  gint tokens, kept; /* tokens of a view; those the encoder sees (MAE keeps fewer) */
};

/* The [objective] group for plugin @name: core keys, the plugin's keys,
 * every default.  (transfer full) */
static M3retConfig *
objective_config (const M3retPlugin *plugin, const gchar *name, GError **error)
{
  g_autoptr (M3retConfig) config = m3ret_config_new ("objective");
  if (!m3ret_config_add_keys (config, m3ret_pipeline_core_keys ("objective"), error))
    return NULL;
  const M3retKeySpec *keys = m3ret_plugin_get_desc (plugin)->keys;
  if (keys != NULL && !m3ret_config_add_keys (config, keys, error))
    return NULL;
  if (!m3ret_config_set (config, "plugin", name, error)
      || !m3ret_config_fill_defaults (config, NULL, error))
    return NULL;
  return g_steal_pointer (&config);
}

/* Random stills for every view the objective asks for: each view is a
 * crop of its own size, and a still has the tubelet depth in frames. */
static void
fill_batch (BackendStep *s, const M3retView *views, guint n_views, gint batch, M3retRng *rng)
{
  s->batch.number = 0;
  s->batch.n = (guint) batch;
  s->batch.layout = M3RET_LAYOUT_IMAGE;
  s->batch.n_views = n_views;
  s->batch.views = s->views;
  s->entries = g_new0 (guint, batch);
  s->batch.entries = s->entries;
  for (guint v = 0; v < n_views; v++) {
    M3retBatchView *bv = &s->views[v];
    bv->channels = 3;
    bv->frames = views[v].image_depth;
    bv->height = views[v].size;
    bv->width = views[v].size;
    gsize n = (gsize) batch * bv->channels * bv->frames * bv->height * bv->width;
    bv->data = g_new (gfloat, n);
    m3ret_rng_fill_uniform (rng, bv->data, n, -1.0f, 1.0f);
  }
}

BackendStep *
backend_step_new (M3retRegistry *registry, M3retDevice *device, const BackendStepSpec *spec,
                  GError **error)
{
  const M3retPlugin *plugin =
    m3ret_registry_require (registry, M3RET_PLUGIN_OBJECTIVE, spec->objective, error);
  if (plugin == NULL)
    return NULL;
  g_autoptr (M3retConfig) config = objective_config (plugin, spec->objective, error);
  if (config == NULL)
    return NULL;
  M3retVitConfig vit_config;
  M3retPreset preset;
  if (!m3ret_vit_preset_from_name (spec->preset, &preset, error) ||
      !m3ret_vit_config_init (&vit_config, preset, spec->size, spec->tubelet[0],
                              spec->tubelet, error))
    return NULL;

  BackendStep *s = g_new0 (BackendStep, 1);
  s->device = device;
  s->params = m3ret_params_new (device);
  M3retRng init_rng;
  m3ret_rng_init (&init_rng, spec->seed, M3RET_RNG_STREAM_INIT);
  s->vit = m3ret_vit_new (s->params, "", &vit_config, &init_rng, error);
  if (s->vit == NULL)
    goto fail;
  s->n_encoder = m3ret_params_get_n (s->params);
  s->vt = m3ret_plugin_get_vtable (plugin);
  M3retObjectiveSetup setup = {
    .params = s->params,
    .encoder = s->vit,
    .init_rng = &init_rng,
    .seed = spec->seed,
    .total_steps = 100,
    .size = (guint) spec->size,
    .depth = (guint) spec->tubelet[0],
    .image_depth = (guint) spec->tubelet[0],
  };
  s->objective = s->vt->create (config, &setup, error);
  if (s->objective == NULL)
    goto fail;
  M3retOptimizerSettings settings;
  s->vt->optimizer (s->objective, &settings);
  s->optimizer = m3ret_adamw_new (s->params, settings.beta1, settings.beta2, settings.eps, error);
  if (s->optimizer == NULL)
    goto fail;
  s->graph = m3ret_graph_new (device);
  s->tokens = (spec->size / spec->tubelet[1]) * (spec->size / spec->tubelet[2]);
  s->kept = s->tokens;
  if (m3ret_config_has_key (config, "mask_ratio")) /* MAE keeps ⌊L·(1 − r)⌋ */
    s->kept = (gint) (s->tokens * (1.0 - m3ret_config_get_double (config, "mask_ratio")));

  M3retView views[M3RET_LOADER_MAX_VIEWS];
  guint n_views = s->vt->views (s->objective, views, M3RET_LOADER_MAX_VIEWS);
  if (n_views == 0 || n_views > M3RET_LOADER_MAX_VIEWS) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_INVALID,
                 "objective '%s' asks for %u views", spec->objective, n_views);
    goto fail;
  }
  M3retRng data_rng;
  m3ret_rng_init (&data_rng, spec->seed, M3RET_RNG_STREAM_USER + 77);
  fill_batch (s, views, n_views, spec->batch, &data_rng);
  return s;

fail:
  backend_step_free (s);
  return NULL;
}

void
backend_step_free (BackendStep *s)
{
  if (s == NULL)
    return;
  m3ret_graph_free (s->graph);
  m3ret_adamw_free (s->optimizer);
  if (s->objective != NULL)
    s->vt->destroy (s->objective);
  m3ret_vit_free (s->vit);
  m3ret_params_free (s->params);
  for (guint v = 0; v < s->batch.n_views; v++)
    g_free (s->views[v].data);
  g_free (s->entries);
  g_free (s);
}

gboolean
backend_step_run (BackendStep *s, gboolean update, gfloat *loss, GError **error)
{
  m3ret_graph_reset (s->graph);
  m3ret_params_zero_grad (s->params);
  M3retTensor *l = s->vt->loss (s->objective, s->graph, &s->batch, 0, error);
  if (l == NULL || !m3ret_graph_backward (s->graph, l, error))
    return FALSE;
  if (loss != NULL)
    *loss = m3ret_tensor_item (l);
  if (update) {
    m3ret_adamw_step (s->optimizer, 1e-4, 0.05);
    if (s->vt->after_step != NULL)
      s->vt->after_step (s->objective, 0);
  }
  return TRUE;
}

M3retParams *
backend_step_get_params (BackendStep *s)
{
  return s->params;
}

M3retVit *
backend_step_get_encoder (BackendStep *s)
{
  return s->vit;
}

guint
backend_step_get_n_encoder (BackendStep *s)
{
  return s->n_encoder;
}

gint
backend_step_get_kept_tokens (BackendStep *s)
{
  return s->kept;
}

gdouble
backend_step_flops (BackendStep *s)
{
  gdouble fwd = 0;
  for (guint i = 0; i < m3ret_params_get_n (s->params); i++) {
    M3retTensor *t = m3ret_params_get_tensor (s->params, i);
    if (!m3ret_params_is_trainable (s->params, i) || t->ndim < 2 || t->shape[0] == 1)
      continue;
    gdouble n = 1 + (i < s->n_encoder ? s->kept : s->tokens);
    fwd += 2.0 * t->numel * s->batch.n * n;
    if (g_str_has_suffix (m3ret_params_get_name (s->params, i), "attn.qkv.weight"))
      fwd += 4.0 * s->batch.n * n * n * (gdouble) t->shape[1];
  }
  return 3.0 * fwd;
}
