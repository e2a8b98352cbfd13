/* validate.c — the checks a run makes of its configuration, made up front. */
#include "config.h"

#include <string.h>

#include "config-private.h"
#include "m3ret.h"
#include "m3ret-validate.h"
#include "pipeline-private.h"

void
m3ret_validate_objective_setup (M3retObjectiveSetup *setup, const M3retPipeline *pipeline,
                                const M3retVitConfig *vit, gint64 total_steps)
{
  g_return_if_fail (setup != NULL && pipeline != NULL && vit != NULL);
  memset (setup, 0, sizeof *setup);
  const M3retSettings *s = m3ret_pipeline_get_settings (pipeline);
  setup->seed = (guint64) s->pipeline.seed;
  setup->total_steps = total_steps;
  setup->size = (guint) s->input.size;
  setup->depth = (guint) s->input.depth;
  setup->image_depth = (guint) s->input.tubelet[0];
  setup->encoder_config = vit;
}

typedef gboolean (*CheckFunc) (const M3retConfig *config, const M3retObjectiveSetup *setup,
                               GError **error);

/* The objective's check() entry, or NULL when it was built without one. */
static CheckFunc
objective_check (const M3retPipeline *pipeline)
{
  const M3retPlugin *plugin = m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_OBJECTIVE);
  const M3retObjectiveVTable *vt = m3ret_plugin_get_vtable (plugin);
  return m3ret_plugin_get_desc (plugin)->abi_minor >= 4 ? vt->check : NULL;
}

gboolean
m3ret_validate_objective (const M3retPipeline *pipeline, const M3retVitConfig *vit,
                          gint64 total_steps, GError **error)
{
  g_return_val_if_fail (pipeline != NULL && vit != NULL, FALSE);
  CheckFunc check = objective_check (pipeline);
  if (check == NULL)
    return TRUE;
  M3retObjectiveSetup setup;
  m3ret_validate_objective_setup (&setup, pipeline, vit, total_steps);
  M3retConfig *config = m3ret_pipeline_get_config (pipeline, "objective");
  GError *local = NULL;
  if (check (config, &setup, &local))
    return TRUE;
  if (local == NULL)
    g_set_error (&local, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_BAD_VALUE,
                 "[objective] plugin '%s' refused its keys without saying why",
                 m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (pipeline,
                                                                   M3RET_PLUGIN_OBJECTIVE))->name);
  m3ret_config_locate_error (config, NULL, local);
  g_propagate_error (error, local);
  return FALSE;
}

M3retManifest *
m3ret_validate_load_train_manifest (const M3retPipeline *pipeline, GError **error)
{
  g_return_val_if_fail (pipeline != NULL, NULL);
  const M3retDataSettings *settings = &m3ret_pipeline_get_settings (pipeline)->data;
  const gchar *train = settings->train;
  if (train == NULL || *train == '\0') {
    g_autofree gchar *at = m3ret_pipeline_where (pipeline, "data", "train");
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_MISSING_KEY,
                 "%s: [data] train= is empty: name the training manifest CSV", at);
    return NULL;
  }
  g_autofree gchar *path = m3ret_pipeline_resolve_path (pipeline, train);
  M3retLimits limits;
  m3ret_limits_init (&limits, settings);
  GError *local = NULL;
  M3retManifest *manifest = NULL;
  if (m3ret_limits_check_file (&limits, path, &local))
    manifest = m3ret_manifest_load (path, &local);
  if (manifest != NULL)
    return manifest;
  /* A row that does not parse names the manifest's own line; a file that
   * cannot be read is the pipeline's train= to fix. */
  if (!g_error_matches (local, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST))
    m3ret_config_locate_error (m3ret_pipeline_get_config (pipeline, "data"), "train", local);
  g_propagate_error (error, local);
  return NULL;
}

/* The lines of a skips summary after its first ("skipped N files ..."). */
static gchar **
summary_lines (M3retSkips *skips)
{
  g_autofree gchar *summary = m3ret_skips_summary (skips);
  g_auto (GStrv) lines = g_strsplit (summary, "\n", -1);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 1; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      g_ptr_array_add (out, g_strdup (g_strstrip (lines[i])));
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}

/* The weight the loader gives @modality: as listed, 0 when unlisted, 1 each
 * when [data] weights is empty. */
static gdouble
weight_of (const M3retKeyWeights *weights, const gchar *modality)
{
  if (weights->n == 0)
    return 1.0;
  for (guint k = 0; k < weights->n; k++)
    if (strcmp (weights->names[k], modality) == 0)
      return weights->values[k];
  return 0.0;
}

/* Files per modality and the weights the loader would sample them with. */
static gboolean
check_sampling (const M3retPipeline *pipeline, const M3retManifest *manifest, GPtrArray *lines,
                GError **error)
{
  M3retConfig *data = m3ret_pipeline_get_config (pipeline, "data");
  const M3retKeyWeights *weights = &m3ret_pipeline_get_settings (pipeline)->data.weights;
  const gchar *source = m3ret_manifest_get_source (manifest);
  guint n = m3ret_manifest_size (manifest);
  if (n == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                 "%s: nothing to sample: the manifest has no entry", source);
    return FALSE;
  }
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++) {
    const gchar *modality = m3ret_manifest_get_modality (manifest, i);
    guint c = GPOINTER_TO_UINT (g_hash_table_lookup (counts, modality));
    g_hash_table_insert (counts, (gpointer) modality, GUINT_TO_POINTER (c + 1));
  }
  g_autoptr (GList) names = g_list_sort (g_hash_table_get_keys (counts), (GCompareFunc) strcmp);
  g_autoptr (GString) text = g_string_new (NULL);
  gdouble sampled = 0;
  for (GList *l = names; l != NULL; l = l->next) {
    gdouble w = weight_of (weights, l->data);
    sampled += w;
    g_string_append_printf (text, "%s%s %u%s", text->len ? ", " : "", (const gchar *) l->data,
                            GPOINTER_TO_UINT (g_hash_table_lookup (counts, l->data)),
                            w > 0 ? "" : " (weight 0: never drawn)");
  }
  if (sampled <= 0) {
    m3ret_config_key_error (data, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, "weights",
                            "gives 0 to every modality of %s (%s): nothing to sample", source,
                            text->str);
    return FALSE;
  }
  g_ptr_array_add (lines, g_strdup_printf ("%s: %u file%s: %s", source, n, n == 1 ? "" : "s",
                                           text->str));
  const gchar *const *weighted = weights->names;
  for (; weighted && *weighted; weighted++)
    if (!g_hash_table_contains (counts, *weighted))
      g_ptr_array_add (lines, g_strdup_printf ("note: [data] weights names %s, which %s has no "
                                               "file of", *weighted, source));
  return TRUE;
}

/* The training manifest: read, every file resolved as the loader does. */
static gboolean
check_train_data (const M3retPipeline *pipeline, const M3retModalities *set, GPtrArray *lines,
                  GError **error)
{
  const M3retDataSettings *data = &m3ret_pipeline_get_settings (pipeline)->data;
  if (*data->train == '\0') {
    g_ptr_array_add (lines, g_strdup ("note: [data] train is empty: `m3ret train` needs a training "
                                      "manifest (embed, eval and query take theirs on the command "
                                      "line)"));
    return TRUE;
  }
  g_autoptr (M3retManifest) manifest = m3ret_validate_load_train_manifest (pipeline, error);
  if (manifest == NULL)
    return FALSE;
  guint total = m3ret_manifest_size (manifest);
  /* Every bad entry is recorded, whatever on_error says, to count them. */
  g_autoptr (M3retSkips) skips = m3ret_skips_new ();
  GError *none_left = NULL;
  gboolean any = total == 0 || m3ret_manifest_resolve_skipping (manifest, set, skips, &none_left);
  g_clear_error (&none_left);
  /* What a run would warn of: rows listed twice, probes between close scores. */
  for (guint i = 0; i < m3ret_manifest_n_notices (manifest); i++)
    g_ptr_array_add (lines, g_strdup_printf ("warning: %s", m3ret_manifest_get_notice (manifest, i)));
  guint bad = m3ret_skips_count (skips);
  gboolean skip = data->on_error == M3RET_ON_ERROR_SKIP;
  g_auto (GStrv) reasons = bad > 0 ? summary_lines (skips) : NULL;
  if (bad > 0 && (!skip || !any)) {
    /* The error a run would stop at, then how many more there are. */
    g_autoptr (M3retManifest) again = m3ret_validate_load_train_manifest (pipeline, error);
    if (again == NULL)
      return FALSE;
    GError *first = NULL;
    if (m3ret_manifest_resolve (again, set, &first)) /* cannot be: the same files failed above */
      g_set_error (&first, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s: entries failed to resolve",
                   m3ret_manifest_get_source (manifest));
    g_autofree gchar *joined = g_strjoinv ("; ", reasons);
    g_set_error (error, first->domain, first->code, "%s (%s%u of %u entries fail: %s%s)",
                 first->message, !any ? "all " : "", bad, total, joined,
                 skip ? "" : "; [data] on_error=skip would leave them out");
    g_error_free (first);
    return FALSE;
  }
  if (bad > 0) {
    g_ptr_array_add (lines, g_strdup_printf ("%s: a run would skip %u of %u file%s (on_error=skip):",
                                             m3ret_manifest_get_source (manifest), bad, total,
                                             total == 1 ? "" : "s"));
    for (gchar **r = reasons; *r != NULL; r++)
      g_ptr_array_add (lines, g_strdup_printf ("  %s", *r));
  }
  return check_sampling (pipeline, manifest, lines, error);
}

/* The retriever created empty, as `m3ret index` creates it. */
static gboolean
check_retriever (const M3retPipeline *pipeline, guint dim, GError **error)
{
  const M3retPlugin *plugin = m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_RETRIEVER);
  M3retConfig *config = m3ret_pipeline_get_config (pipeline, "retriever");
  GError *local = NULL;
  M3retIndex *index = m3ret_index_new (plugin, config, dim, 1, &local);
  if (index == NULL) {
    m3ret_config_locate_error (config, "plugin", local);
    g_propagate_error (error, local);
    return FALSE;
  }
  m3ret_index_free (index);
  return TRUE;
}

/* `[encoder] init`: the file opens as safetensors (its tensors are matched
 * to the encoder when a run loads them). */
static gboolean
check_init (const M3retPipeline *pipeline, GError **error)
{
  const gchar *init = m3ret_pipeline_get_settings (pipeline)->encoder.init;
  if (*init == '\0')
    return TRUE;
  M3retConfig *encoder = m3ret_pipeline_get_config (pipeline, "encoder");
  g_autofree gchar *path = m3ret_pipeline_resolve_path (pipeline, init);
  GError *local = NULL;
  M3retSafetensors *file = m3ret_safetensors_open (path, &local);
  if (file == NULL) {
    m3ret_config_locate_error (encoder, "init", local);
    g_propagate_error (error, local);
    return FALSE;
  }
  m3ret_safetensors_close (file);
  return TRUE;
}

GPtrArray *
m3ret_validate_pipeline (M3retRegistry *registry, const M3retPipeline *pipeline, GError **error)
{
  g_return_val_if_fail (registry != NULL && pipeline != NULL, NULL);
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  M3retVitConfig vit;
  if (!m3ret_encoder_vit_config (pipeline, &vit, error))
    return NULL;
  gint64 steps = m3ret_pipeline_get_settings (pipeline)->train.steps;
  if (!m3ret_validate_objective (pipeline, &vit, steps, error))
    return NULL;
  const M3retPluginDesc *desc =
    m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_OBJECTIVE));
  if (desc->abi_minor < 4) { /* a newer one without the entry has nothing more to check */
    g_ptr_array_add (lines, g_strdup_printf ("note: objective '%s' has no check entry (plugin ABI "
                                             "minor %u): `m3ret train` checks its keys when it "
                                             "builds it", desc->name, desc->abi_minor));
  }
  M3retDevice *device = m3ret_encoder_device_new (pipeline, error);
  if (device == NULL)
    return NULL;
  m3ret_device_free (device);
  g_autoptr (M3retModalities) set = m3ret_modalities_new (registry, pipeline, error);
  if (set == NULL || !check_retriever (pipeline, (guint) vit.dim, error)
      || !check_init (pipeline, error) || !check_train_data (pipeline, set, lines, error))
    return NULL;
  return g_steal_pointer (&lines);
}
