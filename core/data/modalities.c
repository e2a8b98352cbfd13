/* modalities.c — the configured modality plugins, probing and reading. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "config-private.h"
#include "m3ret-fileio.h"
#include "m3ret-modalities.h"
#include "m3ret-settings.h"

typedef struct {
  const M3retPluginDesc *desc;
  const M3retModalityVTable *vtable;
  gpointer instance;
} Entry;

struct _M3retModalities {
  GArray *entries; /* Entry, alphabetical */
  M3retLimits limits;
};

void
m3ret_modalities_free (M3retModalities *set)
{
  if (set == NULL)
    return;
  for (guint i = 0; i < set->entries->len; i++) {
    Entry *e = &g_array_index (set->entries, Entry, i);
    e->vtable->destroy (e->instance);
  }
  g_array_unref (set->entries);
  g_free (set);
}

M3retModalities *
m3ret_modalities_new (M3retRegistry *registry, const M3retPipeline *pipeline, GError **error)
{
  g_return_val_if_fail (registry != NULL, NULL);
  M3retModalities *set = g_new0 (M3retModalities, 1);
  set->entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  m3ret_limits_init (&set->limits, pipeline ? &m3ret_pipeline_get_settings (pipeline)->data : NULL);
  g_autoptr (GPtrArray) plugins = m3ret_registry_list (registry, M3RET_PLUGIN_MODALITY);
  for (guint i = 0; i < plugins->len; i++) {
    Entry e = { 0 };
    e.desc = m3ret_plugin_get_desc (plugins->pdata[i]);
    e.vtable = m3ret_plugin_get_vtable (plugins->pdata[i]);
    g_autoptr (M3retConfig) config = NULL;
    M3retConfig *configured =
      pipeline != NULL ? m3ret_pipeline_get_modality_config (pipeline, e.desc->name) : NULL;
    if (configured != NULL) {
      config = m3ret_config_ref (configured);
    } else {
      g_autofree gchar *group = g_strconcat ("modality ", e.desc->name, NULL);
      config = m3ret_config_new_defaults (group, e.desc->keys, error);
      if (config == NULL) {
        m3ret_modalities_free (set);
        return NULL;
      }
    }
    GError *local = NULL;
    e.instance = e.vtable->create (config, &local);
    if (e.instance == NULL && local != NULL && local->domain == M3RET_CONFIG_ERROR) {
      m3ret_config_locate_error (config, NULL, local); /* FILE:LINE: [modality NAME] ... */
      g_propagate_error (error, local);
      m3ret_modalities_free (set);
      return NULL;
    }
    if (e.instance == NULL) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN,
                   "modality '%s' refused its configuration: %s", e.desc->name,
                   local ? local->message : "no reason given");
      g_clear_error (&local);
      m3ret_modalities_free (set);
      return NULL;
    }
    /* A plugin built before the entry existed keeps its own defaults. */
    if (e.desc->abi_minor >= 1 && e.vtable->set_limits != NULL)
      e.vtable->set_limits (e.instance, &set->limits);
    g_array_append_val (set->entries, e);
  }
  return set;
}

const M3retLimits *
m3ret_modalities_get_limits (const M3retModalities *set)
{
  return &set->limits;
}

guint
m3ret_modalities_count (const M3retModalities *set)
{
  return set->entries->len;
}

const gchar *
m3ret_modalities_name (const M3retModalities *set, guint i)
{
  g_return_val_if_fail (i < set->entries->len, NULL);
  return g_array_index (set->entries, Entry, i).desc->name;
}

/* Names are compared without regard to case: a manifest written "XRay" means xray. */
static const Entry *
find (const M3retModalities *set, const gchar *name)
{
  for (guint i = 0; name != NULL && i < set->entries->len; i++) {
    const Entry *e = &g_array_index (set->entries, Entry, i);
    if (g_ascii_strcasecmp (e->desc->name, name) == 0)
      return e;
  }
  return NULL;
}

gboolean
m3ret_modalities_has (const M3retModalities *set, const gchar *name)
{
  return find (set, name) != NULL;
}

const gchar *
m3ret_modalities_lookup (const M3retModalities *set, const gchar *name)
{
  const Entry *e = find (set, name);
  return e != NULL ? e->desc->name : NULL;
}

gchar *
m3ret_modalities_list_names (const M3retModalities *set)
{
  GString *known = g_string_new (NULL);
  for (guint i = 0; i < set->entries->len; i++)
    g_string_append_printf (known, "%s%s", i ? ", " : "", m3ret_modalities_name (set, i));
  return g_string_free (known, FALSE);
}

const gchar *
m3ret_modalities_check_name (const M3retModalities *set, const gchar *name, GError **error)
{
  const gchar *found = m3ret_modalities_lookup (set, name);
  if (found == NULL) {
    g_autofree gchar *known = m3ret_modalities_list_names (set);
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN,
                 "unknown modality '%s' (valid: %s)", name ? name : "",
                 *known ? known : "none; check --plugin-path and M3RET_PLUGIN_PATH");
  }
  return found;
}

static const Entry *
require (const M3retModalities *set, const gchar *name, const gchar *path, GError **error)
{
  const Entry *e = find (set, name);
  GError *local = NULL;
  if (e == NULL) {
    m3ret_modalities_check_name (set, name, &local);
    g_set_error (error, local->domain, local->code, "%s: %s", path, local->message);
    g_error_free (local);
  }
  return e;
}

const gchar *
m3ret_modalities_probe (const M3retModalities *set, const gchar *path, guint *score,
                        guint *scores, GError **error)
{
  guint8 head[M3RET_PROBE_HEAD_BYTES];
  gsize len = 0;
  /* A folder (or FOLDER#MEMBER) has no first bytes: plugins that read
   * folders, as a DICOM series, are asked with head_len 0. */
  gboolean folder = m3ret_limits_is_folder_input (path);
  if (!folder) {
    FILE *f = g_fopen (path, "rb");
    if (f == NULL) {
      int saved = errno;
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s: %s", path,
                   m3ret_file_reason (saved));
      return NULL;
    }
    len = fread (head, 1, sizeof head, f);
    fclose (f);
  }
  const gchar *best = NULL;
  guint best_score = 0;
  for (guint i = 0; i < set->entries->len; i++) {
    const Entry *e = &g_array_index (set->entries, Entry, i);
    guint s = MIN (e->vtable->probe (path, head, len), 100u);
    if (scores != NULL)
      scores[i] = s;
    if (s > best_score) {
      best_score = s;
      best = e->desc->name;
    }
  }
  if (score != NULL)
    *score = best_score;
  /* A plugin that knows the format may say why it declined. */
  for (guint i = 0; best == NULL && i < set->entries->len; i++) {
    const Entry *e = &g_array_index (set->entries, Entry, i);
    g_autofree gchar *why =
      e->desc->abi_minor >= 8 && e->vtable->refusal != NULL ? e->vtable->refusal (path, head, len)
                                                            : NULL;
    if (why != NULL) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED, "%s: %s", path, why);
      return NULL;
    }
  }
  if (best == NULL)
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN,
                 folder ? "%s: no modality plugin reads this folder (a folder or FOLDER#SERIES_UID "
                          "is read as a DICOM series of single-slice files)"
                        : "%s: no modality plugin recognises this file; name its modality "
                          "(-m/--modality NAME, or a 'modality' column in the manifest) or add a plugin",
                 path);
  return best;
}

/* Fills @ranking with the modalities whose score is within the margin of the
 * best (and above 0), best first; ties in index order, as the probe breaks them. */
static void
close_ranking (const M3retModalities *set, const guint *scores, GArray *ranking)
{
  guint best = 0;
  for (guint i = 0; i < set->entries->len; i++)
    best = MAX (best, scores[i]);
  guint floor = best > M3RET_PROBE_CLOSE_MARGIN ? best - M3RET_PROBE_CLOSE_MARGIN : 1;
  for (guint s = best; s >= floor && s > 0; s--)
    for (guint i = 0; i < set->entries->len; i++)
      if (scores[i] == s)
        g_array_append_val (ranking, i);
}

gboolean
m3ret_modalities_scores_close (const M3retModalities *set, const guint *scores)
{
  g_autoptr (GArray) ranking = g_array_new (FALSE, FALSE, sizeof (guint));
  close_ranking (set, scores, ranking);
  return ranking->len >= 2;
}

gchar *
m3ret_modalities_close_notice (const M3retModalities *set, const gchar *path,
                               const guint *scores)
{
  g_autoptr (GArray) ranking = g_array_new (FALSE, FALSE, sizeof (guint));
  close_ranking (set, scores, ranking);
  if (ranking->len < 2)
    return NULL;
  GString *text = g_string_new (NULL);
  guint first = g_array_index (ranking, guint, 0);
  if (path != NULL)
    g_string_append_printf (text, "%s: ", path);
  g_string_append_printf (text, "probed as %s, but the scores are close (",
                          m3ret_modalities_name (set, first));
  for (guint k = 0; k < ranking->len; k++) {
    guint i = g_array_index (ranking, guint, k);
    g_string_append_printf (text, "%s%s %u", k ? ", " : "", m3ret_modalities_name (set, i),
                            scores[i]);
  }
  g_string_append (text, "): give -m/--modality NAME or a 'modality' column in the manifest "
                         "to decide");
  return g_string_free (text, FALSE);
}

gboolean
m3ret_modalities_layout (const M3retModalities *set, const gchar *name, const gchar *path,
                         M3retLayout *layout, GError **error)
{
  const Entry *e = require (set, name, path, error);
  if (e == NULL)
    return FALSE;
  GError *local = NULL;
  *layout = e->vtable->layout (e->instance, path, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_modalities_read (const M3retModalities *set, const gchar *name, const gchar *path,
                       const M3retView *views, guint n_views, M3retSample **out, GError **error)
{
  memset (out, 0, n_views * sizeof *out);
  const Entry *e = require (set, name, path, error);
  if (e == NULL || !m3ret_limits_check_input (&set->limits, path, error))
    return FALSE;
  GError *local = NULL;
  M3retLayout layout = e->vtable->layout (e->instance, path, &local);
  if (local != NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  if (!e->vtable->read (e->instance, path, views, n_views, out, &local)) {
    for (guint i = 0; i < n_views; i++)
      g_clear_pointer (&out[i], m3ret_sample_free);
    if (local == NULL)
      g_set_error (&local, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                   "%s: modality '%s' failed without saying why", path, name);
    g_propagate_error (error, local);
    return FALSE;
  }
  for (guint i = 0; i < n_views; i++) {
    guint t = layout == M3RET_LAYOUT_IMAGE ? views[i].image_depth : views[i].depth;
    const M3retSample *s = out[i];
    if (s == NULL || s->channels != 3 || s->frames != t || s->height != views[i].size ||
        s->width != views[i].size) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                   "%s: modality '%s' returned a sample off the 3×%u×%u×%u grid of view %u",
                   path, name, t, views[i].size, views[i].size, i);
      for (guint k = 0; k < n_views; k++)
        g_clear_pointer (&out[k], m3ret_sample_free);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
m3ret_modalities_inspect (const M3retModalities *set, const gchar *name, const gchar *path,
                          M3retInspectInfo *info, GError **error)
{
  memset (info, 0, sizeof *info);
  const Entry *e = require (set, name, path, error);
  if (e == NULL || !m3ret_limits_check_input (&set->limits, path, error))
    return FALSE;
  if (e->vtable->inspect == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: modality '%s' cannot describe files (no inspect entry)", path, name);
    return FALSE;
  }
  if (!e->vtable->inspect (e->instance, path, info, error)) {
    m3ret_inspect_info_clear (info);
    return FALSE;
  }
  return TRUE;
}

/* The attribute and series_key entries, for plugins that know them. */
static gboolean
has_manifest_entries (const Entry *e)
{
  return e->desc->abi_minor >= 9;
}

gboolean
m3ret_modalities_attribute_known (const M3retModalities *set, const gchar *name, GError **error)
{
  GError *first = NULL;
  for (guint i = 0; i < set->entries->len; i++) {
    const Entry *e = &g_array_index (set->entries, Entry, i);
    if (!has_manifest_entries (e) || e->vtable->attribute == NULL)
      continue;
    GError *local = NULL;
    g_autofree gchar *ok = e->vtable->attribute (e->instance, NULL, name, &local);
    if (ok != NULL) {
      g_clear_error (&first);
      return TRUE;
    }
    if (first == NULL)
      first = local;
    else
      g_clear_error (&local);
  }
  if (first != NULL)
    g_propagate_error (error, first);
  else
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN,
                 "attribute '%s': no modality plugin reads header attributes", name);
  return FALSE;
}

gchar *
m3ret_modalities_attribute (const M3retModalities *set, const gchar *name, const gchar *path,
                            const gchar *attribute, GError **error)
{
  const Entry *e = require (set, name, path, error);
  if (e == NULL)
    return NULL;
  if (!has_manifest_entries (e) || e->vtable->attribute == NULL)
    return g_strdup ("");
  GError *local = NULL;
  gchar *value = e->vtable->attribute (e->instance, path, attribute, &local);
  if (value == NULL) {
    if (local == NULL)
      g_set_error (&local, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                   "%s: modality '%s' gave no attribute '%s' and did not say why", path, name,
                   attribute);
    g_propagate_error (error, local);
  }
  return value;
}

gchar *
m3ret_modalities_series_key (const M3retModalities *set, const gchar *name, const gchar *path,
                             gboolean *joins)
{
  *joins = FALSE;
  const Entry *e = find (set, name);
  if (e == NULL || !has_manifest_entries (e) || e->vtable->series_key == NULL)
    return NULL;
  gchar *key = e->vtable->series_key (e->instance, path, joins);
  if (key == NULL)
    *joins = FALSE;
  return key;
}
