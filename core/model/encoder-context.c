/* encoder-context.c — device, parameters, ViT and its weights, modalities. */
#include "config.h"

#include <string.h>

#include "config-private.h"
#include "dist-private.h"
#include "m3ret-checkpoint.h"
#include "m3ret-encoder-context.h"
#include "m3ret-fileio.h"
#include "m3ret-pretrained.h"
#include "m3ret-provenance.h"
#include "m3ret-readout.h"
#include "m3ret-settings.h"

struct _M3retEncoderContext {
  M3retDevice *device;
  M3retParams *params;
  M3retVit *vit;
  M3retRng init_rng;
  gchar *provenance;
  M3retModalities *modalities;
};

void
m3ret_encoder_context_free (M3retEncoderContext *c)
{
  if (c == NULL)
    return;
  m3ret_modalities_free (c->modalities);
  g_free (c->provenance);
  m3ret_vit_free (c->vit);
  m3ret_params_free (c->params);
  m3ret_device_free (c->device);
  g_free (c);
}

gboolean
m3ret_encoder_vit_config (const M3retPipeline *pipeline, M3retVitConfig *config, GError **error)
{
  const M3retSettings *s = m3ret_pipeline_get_settings (pipeline);
  const gint tubelet[3] = { (gint) s->input.tubelet[0], (gint) s->input.tubelet[1],
                            (gint) s->input.tubelet[2] };
  if (!m3ret_vit_config_init (config, s->encoder.preset, (gint) s->input.size,
                              (gint) s->input.depth, tubelet, error))
    return FALSE;
  config->pool = s->encoder.pool;
  return TRUE;
}

M3retDevice *
m3ret_encoder_device_new (const M3retPipeline *pipeline, GError **error)
{
  const M3retPlugin *plugin = m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_BACKEND);
  M3retConfig *config = m3ret_pipeline_get_config (pipeline, "pipeline");
  gint threads = (gint) m3ret_pipeline_get_settings (pipeline)->pipeline.threads;
  /* Ranks of one machine share its cores: a threads the file does not
   * write is held to their share (an explicit one is taken as written). */
  gint local_ranks = m3ret_dist_launcher_local_size ();
  if (local_ranks > 1 && m3ret_config_is_default (config, "threads"))
    threads = MAX (1, MIN (threads, (gint) g_get_num_processors () / local_ranks));
  GError *local = NULL;
  M3retDevice *device = m3ret_device_new (plugin, config, threads, &local);
  if (device == NULL) {
    m3ret_config_locate_error (config, "backend", local); /* the line choosing it */
    g_propagate_error (error, local);
  }
  return device;
}

M3retDevice *
m3ret_device_new_by_name (M3retRegistry *registry, const gchar *name, gint threads,
                          const gchar *const *settings, GError **error)
{
  const M3retPlugin *plugin = m3ret_registry_require (registry, M3RET_PLUGIN_BACKEND, name, error);
  if (plugin == NULL)
    return NULL;
  g_autoptr (M3retConfig) config = m3ret_config_new ("pipeline");
  if (!m3ret_config_add_keys (config, m3ret_pipeline_core_keys ("pipeline"), error))
    return NULL;
  const M3retKeySpec *keys = m3ret_plugin_get_desc (plugin)->keys;
  if (keys != NULL && !m3ret_config_add_keys (config, keys, error))
    return NULL;
  g_autofree gchar *threads_text = g_strdup_printf ("%d", threads);
  if (!m3ret_config_set (config, "backend", name, error)
      || !m3ret_config_set (config, "threads", threads_text, error))
    return NULL;
  for (guint i = 0; settings != NULL && settings[i] != NULL; i++) {
    g_auto (GStrv) kv = g_strsplit (settings[i], "=", 2);
    if (kv[0] == NULL || kv[1] == NULL) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_PARSE, "'%s' is not key=value",
                   settings[i]);
      return NULL;
    }
    if (!m3ret_config_set (config, kv[0], kv[1], error))
      return NULL;
  }
  if (!m3ret_config_fill_defaults (config, NULL, error))
    return NULL;
  return m3ret_device_new (plugin, config, threads, error);
}

/* `[encoder] init=`, the path taken relative to the pipeline file. */
static gboolean
load_init (M3retEncoderContext *c, const M3retPipeline *pipeline, GError **error)
{
  const gchar *init = m3ret_pipeline_get_settings (pipeline)->encoder.init;
  if (init == NULL || *init == '\0')
    return TRUE;
  g_autofree gchar *path = m3ret_pipeline_resolve_path (pipeline, init);
  guint n = 0;
  GError *local = NULL;
  if (!m3ret_pretrained_load (c->params, path, &n, &local)) {
    /* the line of init= first: that is what to fix */
    m3ret_config_locate_error (m3ret_pipeline_get_config (pipeline, "encoder"), "init", local);
    g_propagate_error (error, local);
    return FALSE;
  }
  g_info ("%s: %u encoder tensors loaded (pos_embed stays the fixed 3-D table)", path, n);
  return TRUE;
}

static gboolean
load_checkpoint (M3retEncoderContext *c, M3retPreset want, const gchar *path, GError **error)
{
  g_autoptr (M3retSafetensors) file = m3ret_safetensors_open (path, error);
  if (file == NULL)
    return FALSE;
  const gchar *preset = m3ret_safetensors_get_metadata (file, M3RET_CHECKPOINT_META_PRESET);
  const gchar *name = m3ret_vit_preset_name (want);
  if (preset != NULL && strcmp (preset, name) != 0) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: holds a %s encoder, the pipeline asks for [encoder] preset=%s", path, preset,
                 name);
    return FALSE;
  }
  return m3ret_checkpoint_load_params (file, path, c->params, "", error);
}

M3retEncoderContext *
m3ret_encoder_context_new (M3retRegistry *registry, const M3retPipeline *pipeline,
                           const M3retEncoderContextOptions *options, GError **error)
{
  g_return_val_if_fail (registry != NULL && pipeline != NULL, NULL);
  static const M3retEncoderContextOptions none = { 0 };
  if (options == NULL)
    options = &none;
  const M3retSettings *s = m3ret_pipeline_get_settings (pipeline);
  M3retVitConfig config;
  if (!m3ret_encoder_vit_config (pipeline, &config, error))
    return NULL;
  M3retEncoderContext *c = g_new0 (M3retEncoderContext, 1);
  c->device = m3ret_encoder_device_new (pipeline, error);
  if (c->device == NULL)
    goto fail;
  c->params = m3ret_params_new (c->device);
  /* The random baseline of `m3ret eval` is the very start of `m3ret train`. */
  m3ret_rng_init (&c->init_rng, (guint64) s->pipeline.seed, M3RET_RNG_STREAM_INIT);
  c->vit = m3ret_vit_new (c->params, "", &config, &c->init_rng, error);
  if (c->vit == NULL || !load_init (c, pipeline, error))
    goto fail;
  if (options->checkpoint != NULL
      && !load_checkpoint (c, s->encoder.preset, options->checkpoint, error))
    goto fail;
  if (options->provenance) {
    M3retReadout readout;
    m3ret_readout_from_settings (&readout, &s->encoder, config.depth);
    g_autofree gchar *read = m3ret_readout_describe (&readout, config.depth);
    c->provenance = m3ret_provenance_of_encoder (
      c->params, m3ret_vit_preset_name (s->encoder.preset), (guint) s->input.size,
      (guint) s->input.depth, config.tubelet, read);
  }
  c->modalities = m3ret_modalities_new (registry, pipeline, error);
  if (c->modalities == NULL)
    goto fail;
  return c;
fail:
  m3ret_encoder_context_free (c);
  return NULL;
}

M3retDevice *
m3ret_encoder_context_get_device (const M3retEncoderContext *c)
{
  return c->device;
}

M3retParams *
m3ret_encoder_context_get_params (const M3retEncoderContext *c)
{
  return c->params;
}

M3retVit *
m3ret_encoder_context_get_vit (const M3retEncoderContext *c)
{
  return c->vit;
}

M3retRng *
m3ret_encoder_context_get_init_rng (M3retEncoderContext *c)
{
  return &c->init_rng;
}

const gchar *
m3ret_encoder_context_get_provenance (const M3retEncoderContext *c)
{
  return c->provenance;
}

M3retModalities *
m3ret_encoder_context_get_modalities (const M3retEncoderContext *c)
{
  return c->modalities;
}
