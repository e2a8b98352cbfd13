/* pipeline.c — reading a pipeline file into validated configs. */
#include "config.h"

#include <string.h>

#include "config-private.h"
#include "m3ret-fileio.h"
#include "m3ret-pipeline.h"
#include "m3ret-settings.h"
#include "pipeline-private.h"

struct _M3retPipeline {
  gchar *source;
  gchar *base_dir;
  gchar *text;
  GHashTable *configs;          /* group name → M3retConfig* (fixed groups) */
  GHashTable *modality_configs; /* plugin name → M3retConfig* */
  const M3retPlugin *plugins[M3RET_PLUGIN_N_KINDS];
  GPtrArray *defaulted;         /* gchar* "group.key=value" */
  M3retSettings settings;       /* the core groups, typed, filled once at load */
};

/* Where each group and key sits in the text: GKeyFile keeps no line numbers. */
typedef struct {
  GHashTable *group_line; /* group → line */
  GHashTable *key_line;   /* "group\nkey" → line */
} LineIndex;

static void
line_index_clear (LineIndex *idx)
{
  g_clear_pointer (&idx->group_line, g_hash_table_unref);
  g_clear_pointer (&idx->key_line, g_hash_table_unref);
}

static guint
key_line (const LineIndex *idx, const gchar *group, const gchar *key)
{
  g_autofree gchar *k = g_strconcat (group, "\n", key, NULL);
  return GPOINTER_TO_UINT (g_hash_table_lookup (idx->key_line, k));
}

static guint
group_line (const LineIndex *idx, const gchar *group)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (idx->group_line, group));
}

/* Indexes lines and refuses what GKeyFile would silently merge. */
static gboolean
line_index_build (LineIndex *idx, const gchar *source, const gchar *text, GError **error)
{
  idx->group_line = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  idx->key_line = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  const gchar *group = NULL;
  for (guint n = 0; lines[n] != NULL; n++) {
    guint lineno = n + 1;
    gchar *line = g_strstrip (lines[n]);
    if (*line == '\0' || *line == '#')
      continue;
    if (*line == '[') {
      gchar *close = strrchr (line, ']');
      if (close == NULL)
        continue; /* GKeyFile reports the syntax error */
      *close = '\0';
      group = line + 1;
      guint first = group_line (idx, group);
      if (first != 0) {
        g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_PARSE,
                     "%s:%u: group [%s] appears again (first at line %u); merge them into one",
                     source, lineno, group, first);
        return FALSE;
      }
      g_hash_table_insert (idx->group_line, g_strdup (group), GUINT_TO_POINTER (lineno));
      continue;
    }
    gchar *eq = strchr (line, '=');
    if (eq == NULL || group == NULL)
      continue; /* GKeyFile reports it */
    *eq = '\0';
    g_strchomp (line);
    g_autofree gchar *k = g_strconcat (group, "\n", line, NULL);
    guint first = GPOINTER_TO_UINT (g_hash_table_lookup (idx->key_line, k));
    if (first != 0) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_PARSE,
                   "%s:%u: [%s] %s is set again (first at line %u)", source, lineno, group, line,
                   first);
      return FALSE;
    }
    g_hash_table_insert (idx->key_line, g_steal_pointer (&k), GUINT_TO_POINTER (lineno));
  }
  return TRUE;
}

/* Adds "FILE:LINE: " in front of an error from config parsing. */
static void
prefix_error (GError *error, const gchar *source, guint line)
{
  g_autofree gchar *old = error->message;
  error->message = line ? g_strdup_printf ("%s:%u: %s", source, line, old)
                        : g_strdup_printf ("%s: %s", source, old);
}

static gboolean
set_keys (M3retConfig *config, GKeyFile *kf, const gchar *group, const LineIndex *idx,
          const gchar *source, GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);
  for (gchar **k = keys; k && *k; k++) {
    guint line = key_line (idx, group, *k);
    g_autofree gchar *value = g_key_file_get_value (kf, group, *k, NULL);
    GError *local = NULL;
    if (!m3ret_config_set (config, *k, value ? value : "", &local)) {
      if (g_error_matches (local, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_KEY)) {
        g_autoptr (GPtrArray) specs = m3ret_config_list_keys (config);
        g_autoptr (GPtrArray) names = g_ptr_array_new ();
        for (guint i = 0; i < specs->len; i++)
          g_ptr_array_add (names, (gpointer) ((M3retKeySpec *) specs->pdata[i])->name);
        g_ptr_array_add (names, NULL);
        g_autofree gchar *guess = m3ret_suggest (*k, (const gchar *const *) names->pdata);
        if (guess) {
          g_autofree gchar *old = local->message;
          local->message = g_strdup_printf ("%s; did you mean '%s'?", old, guess);
        }
      }
      prefix_error (local, source, line);
      g_propagate_error (error, local);
      return FALSE;
    }
    m3ret_config_set_line (config, *k, line);
  }
  return TRUE;
}

static gboolean
finish_config (M3retPipeline *p, M3retConfig *config, const gchar *group, const LineIndex *idx,
               GError **error)
{
  g_autoptr (GPtrArray) defaulted = g_ptr_array_new ();
  GError *local = NULL;
  if (!m3ret_config_fill_defaults (config, defaulted, &local)) {
    prefix_error (local, p->source, group_line (idx, group));
    g_propagate_error (error, local);
    return FALSE;
  }
  for (guint i = 0; i < defaulted->len; i++) {
    const gchar *key = defaulted->pdata[i];
    g_ptr_array_add (p->defaulted, g_strdup_printf ("%s.%s=%s", group, key,
                                                    m3ret_config_get_text (config, key)));
  }
  return TRUE;
}

/* A value that names a plugin file (relative ones from the pipeline's
 * folder): a pipeline may pin a plugin that way, but never widen where
 * plugins come from, so the file must be one the registry loaded from its
 * search path. */
static const M3retPlugin *
plugin_from_file (M3retPipeline *p, M3retRegistry *registry, const CoreGroup *cg,
                  const gchar *value, guint line, GError **error)
{
  g_autofree gchar *path = m3ret_pipeline_resolve_path (p, value);
  const GError *failure = NULL;
  const M3retPlugin *plugin = m3ret_registry_lookup_file (registry, path, &failure);
  if (plugin == NULL && failure != NULL) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN,
                 "%s:%u: [%s] %s=%s: that plugin file did not load: %s", p->source, line,
                 cg->name, cg->plugin_key, value, failure->message);
    return NULL;
  }
  if (plugin == NULL) {
    g_autofree gchar *folder = g_path_get_dirname (path);
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN,
                 "%s:%u: [%s] %s=%s: %s is outside the plugin search path (--plugin-path, "
                 "M3RET_PLUGIN_PATH, the install folder); plugins load only from there: to allow "
                 "it, run with --plugin-path %s", p->source, line, cg->name, cg->plugin_key, value,
                 path, folder);
    return NULL;
  }
  const M3retPluginDesc *desc = m3ret_plugin_get_desc (plugin);
  if (desc->kind != cg->plugin_kind) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN,
                 "%s:%u: [%s] %s=%s: %s is the %s plugin '%s', not a %s", p->source, line,
                 cg->name, cg->plugin_key, value, path, m3ret_plugin_kind_to_string (desc->kind),
                 desc->name, m3ret_plugin_kind_to_string (cg->plugin_kind));
    return NULL;
  }
  return plugin;
}

/* Resolves the plugin a core group selects and lets its keys join. */
static gboolean
join_plugin (M3retPipeline *p, M3retRegistry *registry, const CoreGroup *cg, M3retConfig *config,
             GKeyFile *kf, const LineIndex *idx, GError **error)
{
  const M3retKeySpec *spec = m3ret_config_get_spec (config, cg->plugin_key);
  g_autofree gchar *name = g_key_file_get_value (kf, cg->name, cg->plugin_key, NULL);
  if (name == NULL)
    name = g_strdup (spec->default_value);
  g_strstrip (name);
  GError *local = NULL;
  guint line = key_line (idx, cg->name, cg->plugin_key);
  if (strchr (name, G_DIR_SEPARATOR) != NULL) {
    const M3retPlugin *plugin = plugin_from_file (p, registry, cg, name,
                                                  line ? line : group_line (idx, cg->name), error);
    if (plugin == NULL)
      return FALSE;
    /* The pipeline then reads as if it had named the plugin. */
    g_free (name);
    name = g_strdup (m3ret_plugin_get_desc (plugin)->name);
  }
  const M3retPlugin *plugin = m3ret_registry_require (registry, cg->plugin_kind, name, &local);
  if (plugin == NULL) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN, "%s:%u: [%s] %s: %s",
                 p->source, line ? line : group_line (idx, cg->name), cg->name, cg->plugin_key,
                 local->message);
    g_error_free (local);
    return FALSE;
  }
  p->plugins[cg->plugin_kind] = plugin;
  if (!m3ret_config_add_keys (config, m3ret_plugin_get_desc (plugin)->keys, &local)) {
    prefix_error (local, p->source, 0);
    g_propagate_error (error, local);
    return FALSE;
  }
  return TRUE;
}

static gboolean
load_core_group (M3retPipeline *p, M3retRegistry *registry, const CoreGroup *cg, GKeyFile *kf,
                 const LineIndex *idx, GError **error)
{
  M3retConfig *config = m3ret_config_new (cg->name);
  m3ret_config_set_origin (config, p->source, group_line (idx, cg->name));
  g_hash_table_insert (p->configs, g_strdup (cg->name), config);
  if (!m3ret_config_add_keys (config, cg->keys, error))
    return FALSE;
  if (cg->plugin_key != NULL && !join_plugin (p, registry, cg, config, kf, idx, error))
    return FALSE;
  if (g_key_file_has_group (kf, cg->name) && !set_keys (config, kf, cg->name, idx, p->source, error))
    return FALSE;
  return finish_config (p, config, cg->name, idx, error);
}

static gboolean
load_modality_group (M3retPipeline *p, M3retRegistry *registry, const gchar *group, GKeyFile *kf,
                     const LineIndex *idx, GError **error)
{
  const gchar *name = group + strlen ("modality ");
  GError *local = NULL;
  const M3retPlugin *plugin = m3ret_registry_require (registry, M3RET_PLUGIN_MODALITY, name, &local);
  if (plugin == NULL) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN, "%s:%u: [%s]: %s",
                 p->source, group_line (idx, group), group, local->message);
    g_error_free (local);
    return FALSE;
  }
  name = m3ret_plugin_get_desc (plugin)->name; /* [modality XRay] configures xray */
  M3retConfig *config = m3ret_config_new (group);
  m3ret_config_set_origin (config, p->source, group_line (idx, group));
  g_hash_table_insert (p->modality_configs, g_strdup (name), config);
  if (!m3ret_config_add_keys (config, m3ret_plugin_get_desc (plugin)->keys, error))
    return FALSE;
  if (!set_keys (config, kf, group, idx, p->source, error))
    return FALSE;
  return finish_config (p, config, group, idx, error);
}

static gboolean
load_modality_groups (M3retPipeline *p, M3retRegistry *registry, GKeyFile *kf,
                      const LineIndex *idx, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (gchar **g = groups; *g; g++)
    if (g_str_has_prefix (*g, "modality ") && !load_modality_group (p, registry, *g, kf, idx, error))
      return FALSE;
  /* Every known modality gets a config, so the loader can read any file. */
  g_autoptr (GPtrArray) modalities = m3ret_registry_list (registry, M3RET_PLUGIN_MODALITY);
  for (guint i = 0; i < modalities->len; i++) {
    const M3retPluginDesc *desc = m3ret_plugin_get_desc (modalities->pdata[i]);
    if (g_hash_table_contains (p->modality_configs, desc->name))
      continue;
    g_autofree gchar *group = g_strconcat ("modality ", desc->name, NULL);
    M3retConfig *config = m3ret_config_new_defaults (group, desc->keys, error);
    if (config == NULL)
      return FALSE;
    m3ret_config_set_origin (config, p->source, 0);
    g_hash_table_insert (p->modality_configs, g_strdup (desc->name), config);
  }
  return TRUE;
}

static gboolean
check_groups_known (M3retPipeline *p, GKeyFile *kf, const LineIndex *idx, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (gchar **g = groups; *g; g++) {
    if (m3ret_pipeline_core_group (*g) != NULL || g_str_has_prefix (*g, "modality "))
      continue;
    g_autofree gchar *guess = m3ret_suggest (*g, m3ret_pipeline_core_groups ());
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_GROUP,
                 "%s:%u: unknown group [%s]%s%s%s", p->source, group_line (idx, *g), *g,
                 guess ? "; did you mean [" : " (groups: pipeline, input, encoder, objective, "
                                              "data, train, retriever, modality NAME)",
                 guess ? guess : "", guess ? "]?" : "");
    return FALSE;
  }
  return TRUE;
}

/* [data] weights names modalities: a relation to the registry, not between keys. */
static gboolean
check_weights (M3retPipeline *p, M3retRegistry *registry, const LineIndex *idx, GError **error)
{
  const gchar *const *names = p->settings.data.weights.names;
  for (; names && *names; names++) {
    GError *local = NULL;
    if (m3ret_registry_require (registry, M3RET_PLUGIN_MODALITY, *names, &local) == NULL) {
      g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_PLUGIN,
                   "%s:%u: [data] weights: %s", p->source, key_line (idx, "data", "weights"),
                   local->message);
      g_error_free (local);
      return FALSE;
    }
  }
  return TRUE;
}

/* Reads every core group once into p->settings. */
static gboolean
fill_settings (M3retPipeline *p, GError **error)
{
  for (const gchar *const *g = m3ret_pipeline_core_groups (); *g; g++) {
    const CoreGroup *group = m3ret_pipeline_core_group (*g);
    if (!m3ret_config_fill (g_hash_table_lookup (p->configs, group->name), group->keys,
                            (guint8 *) &p->settings + group->settings_offset, error))
      return FALSE;
  }
  return TRUE;
}

M3retPipeline *
m3ret_pipeline_load_data (M3retRegistry *registry, const gchar *text, gssize length,
                          const gchar *source, const gchar *base_dir, GError **error)
{
  g_return_val_if_fail (registry != NULL && text != NULL, NULL);
  M3retPipeline *p = g_new0 (M3retPipeline, 1);
  p->source = g_strdup (source ? source : "(pipeline)");
  p->base_dir = base_dir ? g_strdup (base_dir) : g_get_current_dir ();
  p->text = length < 0 ? g_strdup (text) : g_strndup (text, length);
  p->configs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) m3ret_config_unref);
  p->modality_configs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) m3ret_config_unref);
  p->defaulted = g_ptr_array_new_with_free_func (g_free);

  LineIndex idx = { NULL, NULL };
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  GError *local = NULL;
  if (length >= 0 && strlen (p->text) != (gsize) length) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_PARSE,
                 "%s: not a text file (contains NUL bytes)", p->source);
    goto fail;
  }
  if (!line_index_build (&idx, p->source, p->text, error))
    goto fail;
  if (!g_key_file_load_from_data (kf, p->text, -1, G_KEY_FILE_NONE, &local)) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_PARSE, "%s: %s", p->source,
                 local->message);
    g_error_free (local);
    goto fail;
  }
  if (!check_groups_known (p, kf, &idx, error))
    goto fail;
  for (const gchar *const *g = m3ret_pipeline_core_groups (); *g; g++)
    if (!load_core_group (p, registry, m3ret_pipeline_core_group (*g), kf, &idx, error))
      goto fail;
  if (!load_modality_groups (p, registry, kf, &idx, error))
    goto fail;
  if (!fill_settings (p, error))
    goto fail;
  if (!check_weights (p, registry, &idx, error) || !m3ret_pipeline_check_relations (p, error))
    goto fail;

  if (p->defaulted->len > 0) {
    g_autoptr (GString) msg = g_string_new (NULL);
    for (guint i = 0; i < p->defaulted->len; i++)
      g_string_append_printf (msg, "%s%s", i ? " " : "", (gchar *) p->defaulted->pdata[i]);
    g_info ("%s: defaults: %s", p->source, msg->str);
  }
  line_index_clear (&idx);
  return p;

fail:
  line_index_clear (&idx);
  m3ret_pipeline_free (p);
  return NULL;
}

M3retPipeline *
m3ret_pipeline_load (M3retRegistry *registry, const gchar *path, GError **error)
{
  g_return_val_if_fail (registry != NULL && path != NULL, NULL);
  g_autofree gchar *text = NULL;
  gsize length = 0;
  if (!m3ret_file_read_all (path, &text, &length, error))
    return NULL;
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *abs_dir = g_path_is_absolute (dir) ? g_strdup (dir)
                                                       : g_canonicalize_filename (dir, NULL);
  return m3ret_pipeline_load_data (registry, text, length, path, abs_dir, error);
}

void
m3ret_pipeline_free (M3retPipeline *p)
{
  if (p == NULL)
    return;
  g_clear_pointer (&p->configs, g_hash_table_unref);
  g_clear_pointer (&p->modality_configs, g_hash_table_unref);
  g_clear_pointer (&p->defaulted, g_ptr_array_unref);
  g_free (p->source);
  g_free (p->base_dir);
  g_free (p->text);
  g_free (p);
}

M3retConfig *
m3ret_pipeline_get_config (const M3retPipeline *p, const gchar *group)
{
  g_return_val_if_fail (p != NULL && group != NULL, NULL);
  M3retConfig *config = g_hash_table_lookup (p->configs, group);
  if (config == NULL)
    g_critical ("pipeline has no group [%s]", group);
  return config;
}

M3retConfig *
m3ret_pipeline_get_modality_config (const M3retPipeline *p, const gchar *name)
{
  g_return_val_if_fail (p != NULL && name != NULL, NULL);
  return g_hash_table_lookup (p->modality_configs, name);
}

const M3retPlugin *
m3ret_pipeline_get_plugin (const M3retPipeline *p, M3retPluginKind kind)
{
  g_return_val_if_fail (p != NULL && (guint) kind < M3RET_PLUGIN_N_KINDS, NULL);
  return p->plugins[kind];
}

const gchar *
m3ret_pipeline_get_text (const M3retPipeline *p)
{
  g_return_val_if_fail (p != NULL, NULL);
  return p->text;
}

const gchar *
m3ret_pipeline_get_source (const M3retPipeline *p)
{
  g_return_val_if_fail (p != NULL, NULL);
  return p->source;
}

gchar *
m3ret_pipeline_resolve_path (const M3retPipeline *p, const gchar *path)
{
  g_return_val_if_fail (p != NULL && path != NULL, NULL);
  return g_canonicalize_filename (path, p->base_dir);
}

const GPtrArray *
m3ret_pipeline_get_defaulted (const M3retPipeline *p)
{
  g_return_val_if_fail (p != NULL, NULL);
  return p->defaulted;
}

gchar *
m3ret_pipeline_where (const M3retPipeline *p, const gchar *group, const gchar *key)
{
  guint line = m3ret_config_get_line (m3ret_pipeline_get_config (p, group), key);
  return line > 0 ? g_strdup_printf ("%s:%u", p->source, line) : g_strdup (p->source);
}

const M3retSettings *
m3ret_pipeline_get_settings (const M3retPipeline *pipeline)
{
  g_return_val_if_fail (pipeline != NULL, NULL);
  return &pipeline->settings;
}
