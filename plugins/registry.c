/* registry.c — plugin discovery, descriptor checks, lookup. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "m3ret-registry.h"
#include "vtable-check.h"

G_DEFINE_QUARK (m3ret-plugin-error-quark, m3ret_plugin_error)

struct _M3retPlugin {
  const M3retPluginDesc *desc;
  gchar *filename;
  GModule *module; /* NULL for static plugins; never closed (see scan) */
};

struct _M3retRegistry {
  GPtrArray *plugins;  /* M3retPlugin*, owned */
  GPtrArray *failures; /* M3retPluginFailure*, owned */
};

static void
plugin_free (M3retPlugin *plugin)
{
  /* The module stays mapped: code of a plugin may still be referenced by
   * objects created from it, and GStreamer learned that unloading costs more
   * than it saves. */
  g_free (plugin->filename);
  g_free (plugin);
}

static void
failure_free (M3retPluginFailure *failure)
{
  g_free (failure->filename);
  g_clear_error (&failure->error);
  g_free (failure);
}

M3retRegistry *
m3ret_registry_new (void)
{
  M3retRegistry *registry = g_new0 (M3retRegistry, 1);
  registry->plugins = g_ptr_array_new_with_free_func ((GDestroyNotify) plugin_free);
  registry->failures = g_ptr_array_new_with_free_func ((GDestroyNotify) failure_free);
  return registry;
}

void
m3ret_registry_free (M3retRegistry *registry)
{
  if (registry == NULL)
    return;
  g_ptr_array_unref (registry->plugins);
  g_ptr_array_unref (registry->failures);
  g_free (registry);
}

static void
record_failure (M3retRegistry *registry, const gchar *filename, const GError *error)
{
  M3retPluginFailure *failure = g_new0 (M3retPluginFailure, 1);
  failure->filename = g_strdup (filename);
  failure->error = g_error_copy (error);
  g_ptr_array_add (registry->failures, failure);
  g_debug ("skipped plugin %s: %s", filename, error->message);
}

static gboolean
name_is_valid (const gchar *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const gchar *c = name; *c; c++)
    if (!(g_ascii_islower (*c) || g_ascii_isdigit (*c) || *c == '_'))
      return FALSE;
  return TRUE;
}

/* Keys may use capitals (hnsw's M), plugin names may not. */
static gboolean
key_name_is_valid (const gchar *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const gchar *c = name; *c; c++)
    if (!(g_ascii_isalnum (*c) || *c == '_'))
      return FALSE;
  return TRUE;
}

static gboolean
check_descriptor (const M3retPluginDesc *desc, const gchar *filename, GError **error)
{
  if (desc->abi_major != M3RET_ABI_MAJOR || desc->abi_minor > M3RET_ABI_MINOR) {
    g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_ABI_MISMATCH,
                 "%s: built for plugin ABI %u.%u, this m3ret provides %u.%u "
                 "(same major and a minor no newer are required); rebuild the plugin "
                 "against this m3ret's SDK", filename, desc->abi_major, desc->abi_minor,
                 M3RET_ABI_MAJOR, M3RET_ABI_MINOR);
    return FALSE;
  }
  if ((guint) desc->kind >= M3RET_PLUGIN_N_KINDS) {
    g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_BAD_DESCRIPTOR,
                 "%s: unknown plugin kind %d", filename, (gint) desc->kind);
    return FALSE;
  }
  if (!name_is_valid (desc->name)) {
    g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_BAD_DESCRIPTOR,
                 "%s: plugin name '%s' is not [a-z0-9_]+ of at most 64 characters", filename,
                 desc->name ? desc->name : "(null)");
    return FALSE;
  }
  const gchar *missing = desc->version == NULL       ? "version"
                         : desc->description == NULL ? "description"
                         : desc->license == NULL     ? "license"
                         : desc->vtable == NULL      ? "vtable"
                                                     : NULL;
  if (missing != NULL) {
    g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_MISSING_ENTRY,
                 "%s: descriptor of '%s' has no %s", filename, desc->name, missing);
    return FALSE;
  }
  for (const M3retKeySpec *k = desc->keys; k != NULL && k->name != NULL; k++) {
    if (!key_name_is_valid (k->name) || (guint) k->type > M3RET_KEY_WEIGHTS) {
      g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_BAD_DESCRIPTOR,
                   "%s: plugin '%s' declares a malformed key '%s'", filename, desc->name,
                   k->name);
      return FALSE;
    }
  }
  GError *local = NULL;
  if (!m3ret_vtable_check (desc->kind, desc->vtable, desc->abi_minor, &local)) {
    g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_MISSING_ENTRY,
                 "%s: %s plugin '%s': %s", filename, m3ret_plugin_kind_to_string (desc->kind),
                 desc->name, local->message);
    g_error_free (local);
    return FALSE;
  }
  return TRUE;
}

/* Checks, initialises and stores a descriptor; @module may be NULL. */
static const M3retPlugin *
register_desc (M3retRegistry *registry, const M3retPluginDesc *desc, const gchar *filename,
               GModule *module, GError **error)
{
  if (!check_descriptor (desc, filename, error))
    return NULL;
  for (guint i = 0; i < registry->plugins->len; i++) {
    const M3retPlugin *other = g_ptr_array_index (registry->plugins, i);
    if (strcmp (other->desc->name, desc->name) == 0) {
      g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_DUPLICATE_NAME,
                   "%s: a plugin named '%s' is already loaded from %s, which comes first "
                   "in the search path", filename, desc->name, other->filename);
      return NULL;
    }
  }
  if (desc->init != NULL) {
    GError *local = NULL;
    if (!desc->init (&local)) {
      g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_INIT_FAILED,
                   "%s: plugin '%s' failed to initialise: %s", filename, desc->name,
                   local ? local->message : "no reason given");
      g_clear_error (&local);
      return NULL;
    }
  }
  M3retPlugin *plugin = g_new0 (M3retPlugin, 1);
  plugin->desc = desc;
  plugin->filename = g_strdup (filename);
  plugin->module = module;
  g_ptr_array_add (registry->plugins, plugin);
  return plugin;
}

/* "…/m3ret-foo-bar.so" → "foo_bar"; NULL when the name does not follow the rule. */
static gchar *
stem_from_filename (const gchar *filename)
{
  g_autofree gchar *base = g_path_get_basename (filename);
  if (!g_str_has_prefix (base, "m3ret-") || !g_str_has_suffix (base, "." G_MODULE_SUFFIX))
    return NULL;
  gsize len = strlen (base) - strlen ("m3ret-") - strlen ("." G_MODULE_SUFFIX);
  if (len == 0)
    return NULL;
  gchar *stem = g_strndup (base + strlen ("m3ret-"), len);
  g_strdelimit (stem, "-", '_');
  return stem;
}

const M3retPlugin *
m3ret_registry_load_file (M3retRegistry *registry, const gchar *filename, GError **error)
{
  g_return_val_if_fail (registry != NULL && filename != NULL, NULL);
  GError *local = NULL;
  const M3retPlugin *plugin = NULL;
  g_autofree gchar *stem = stem_from_filename (filename);
  g_autofree gchar *symbol = NULL;
  g_autofree gchar *absolute = NULL;
  GModule *module = NULL;

  if (stem == NULL) {
    g_set_error (&local, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_NO_DESCRIPTOR,
                 "%s: plugin files are named m3ret-NAME.%s", filename, G_MODULE_SUFFIX);
    goto out;
  }
  /* dlopen() searches LD_LIBRARY_PATH and the system folders for a bare
   * name, and GModule tries other spellings of a missing file: hand it the
   * one absolute path of a file that exists, so nothing else can load. */
  absolute = g_canonicalize_filename (filename, NULL);
  if (!g_file_test (absolute, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (&local, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_CANNOT_OPEN,
                 "%s: cannot open: no such file", filename);
    goto out;
  }
  /* Local binding: two plugins may define the same helper symbols. */
  module = g_module_open (absolute, G_MODULE_BIND_LOCAL);
  if (module == NULL) {
    g_set_error (&local, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_CANNOT_OPEN,
                 "%s: cannot open: %s", filename, g_module_error ());
    goto out;
  }
  symbol = g_strdup_printf ("m3ret_plugin_%s_get_desc", stem);
  const M3retPluginDesc *(*get_desc) (void) = NULL;
  if (!g_module_symbol (module, symbol, (gpointer *) &get_desc) || get_desc == NULL) {
    g_set_error (&local, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_NO_DESCRIPTOR,
                 "%s: no %s() exported; define the plugin with M3RET_PLUGIN_DEFINE (%s, ...)",
                 filename, symbol, stem);
    goto out;
  }
  const M3retPluginDesc *desc = get_desc ();
  if (desc == NULL) {
    g_set_error (&local, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_NO_DESCRIPTOR,
                 "%s: %s() returned no descriptor", filename, symbol);
    goto out;
  }
  plugin = register_desc (registry, desc, absolute, module, &local);
  if (plugin != NULL)
    g_module_make_resident (module);

out:
  if (plugin == NULL) {
    if (module != NULL)
      g_module_close (module);
    record_failure (registry, filename, local);
    g_propagate_error (error, local);
  }
  return plugin;
}

const M3retPlugin *
m3ret_registry_add_static (M3retRegistry *registry, const M3retPluginDesc *desc, GError **error)
{
  g_return_val_if_fail (registry != NULL && desc != NULL, NULL);
  return register_desc (registry, desc, "(static)", NULL, error);
}

/* Adds the folders of a ':'-separated list: an empty entry is no folder
 * (never "."), a relative one is made absolute against the current folder
 * now, so that what is scanned and opened never depends on a later chdir. */
static void
add_folders (GPtrArray *dirs, const gchar *list)
{
  g_auto (GStrv) parts = g_strsplit (list, G_SEARCHPATH_SEPARATOR_S, -1);
  for (gchar **p = parts; *p; p++)
    if (**p)
      g_ptr_array_add (dirs, g_canonicalize_filename (*p, NULL));
}

gchar **
m3ret_registry_search_path (const gchar *const *extra_dirs)
{
  GPtrArray *dirs = g_ptr_array_new ();
  for (const gchar *const *d = extra_dirs; d != NULL && *d != NULL; d++)
    add_folders (dirs, *d);
  const gchar *env = g_getenv (M3RET_PLUGIN_PATH_ENV);
  if (env != NULL)
    add_folders (dirs, env);
  const gchar *system = g_getenv (M3RET_PLUGIN_SYSTEM_PATH_ENV);
  if (system == NULL)
    system = M3RET_PLUGIN_DIR;
  if (*system)
    g_ptr_array_add (dirs, g_canonicalize_filename (system, NULL));
  g_ptr_array_add (dirs, NULL);
  return (gchar **) g_ptr_array_free (dirs, FALSE);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

guint
m3ret_registry_scan (M3retRegistry *registry, const gchar *const *extra_dirs)
{
  g_return_val_if_fail (registry != NULL, 0);
  g_auto (GStrv) dirs = m3ret_registry_search_path (extra_dirs);
  guint before = registry->plugins->len;

  for (gchar **d = dirs; *d; d++) {
    g_autoptr (GDir) dir = g_dir_open (*d, 0, NULL);
    if (dir == NULL) {
      g_debug ("plugin folder %s cannot be read; skipped", *d);
      continue;
    }
    /* Sorted, so that which of two same-named plugins wins never depends on
     * the file system's order. */
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    const gchar *entry;
    while ((entry = g_dir_read_name (dir)) != NULL)
      if (g_str_has_prefix (entry, "m3ret-") && g_str_has_suffix (entry, "." G_MODULE_SUFFIX))
        g_ptr_array_add (names, g_strdup (entry));
    g_ptr_array_sort (names, compare_strings);
    for (guint i = 0; i < names->len; i++) {
      g_autofree gchar *path = g_build_filename (*d, g_ptr_array_index (names, i), NULL);
      m3ret_registry_load_file (registry, path, NULL);
    }
  }
  return registry->plugins->len - before;
}

const M3retPlugin *
m3ret_registry_lookup (M3retRegistry *registry, M3retPluginKind kind, const gchar *name)
{
  g_return_val_if_fail (registry != NULL && name != NULL, NULL);
  for (guint i = 0; i < registry->plugins->len; i++) {
    const M3retPlugin *p = g_ptr_array_index (registry->plugins, i);
    if (p->desc->kind == kind && strcmp (p->desc->name, name) == 0)
      return p;
  }
  /* Modality names come from manifests and users: "XRay" is xray. */
  for (guint i = 0; kind == M3RET_PLUGIN_MODALITY && i < registry->plugins->len; i++) {
    const M3retPlugin *p = g_ptr_array_index (registry->plugins, i);
    if (p->desc->kind == kind && g_ascii_strcasecmp (p->desc->name, name) == 0)
      return p;
  }
  return NULL;
}

static gboolean
same_file (const gchar *a, const GStatBuf *b)
{
  GStatBuf st;
  return g_stat (a, &st) == 0 && st.st_dev == b->st_dev && st.st_ino == b->st_ino;
}

const M3retPlugin *
m3ret_registry_lookup_file (M3retRegistry *registry, const gchar *filename,
                            const GError **failure)
{
  g_return_val_if_fail (registry != NULL && filename != NULL, NULL);
  if (failure != NULL)
    *failure = NULL;
  GStatBuf want;
  if (g_stat (filename, &want) != 0)
    return NULL;
  /* The same file, whatever the spelling (links, "..", relative). */
  for (guint i = 0; i < registry->plugins->len; i++) {
    const M3retPlugin *p = g_ptr_array_index (registry->plugins, i);
    if (p->module != NULL && same_file (p->filename, &want))
      return p;
  }
  for (guint i = 0; failure != NULL && i < registry->failures->len; i++) {
    const M3retPluginFailure *f = g_ptr_array_index (registry->failures, i);
    if (same_file (f->filename, &want))
      *failure = f->error;
  }
  return NULL;
}

const M3retPlugin *
m3ret_registry_require (M3retRegistry *registry, M3retPluginKind kind, const gchar *name,
                        GError **error)
{
  const M3retPlugin *plugin = m3ret_registry_lookup (registry, kind, name);
  if (plugin != NULL)
    return plugin;
  g_autoptr (GPtrArray) all = m3ret_registry_list (registry, kind);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GString *known = g_string_new (NULL);
  for (guint i = 0; i < all->len; i++) {
    const gchar *n = m3ret_plugin_get_desc (g_ptr_array_index (all, i))->name;
    g_ptr_array_add (names, (gpointer) n);
    g_string_append_printf (known, "%s%s", i ? ", " : "", n);
  }
  g_ptr_array_add (names, NULL);
  g_autofree gchar *guess = m3ret_suggest (name, (const gchar *const *) names->pdata);
  g_autofree gchar *list = g_string_free (known, FALSE);
  if (guess != NULL)
    g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_NOT_FOUND,
                 "no %s plugin named '%s'; did you mean '%s'?",
                 m3ret_plugin_kind_to_string (kind), name, guess);
  else
    g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_NOT_FOUND,
                 "no %s plugin named '%s' (found: %s)", m3ret_plugin_kind_to_string (kind),
                 name, *list ? list : "none; check --plugin-path and M3RET_PLUGIN_PATH");
  return NULL;
}

static gint
compare_plugins (gconstpointer a, gconstpointer b)
{
  const M3retPlugin *pa = *(const M3retPlugin *const *) a;
  const M3retPlugin *pb = *(const M3retPlugin *const *) b;
  if (pa->desc->kind != pb->desc->kind)
    return (gint) pa->desc->kind - (gint) pb->desc->kind;
  return strcmp (pa->desc->name, pb->desc->name);
}

GPtrArray *
m3ret_registry_list (M3retRegistry *registry, M3retPluginKind kind)
{
  g_return_val_if_fail (registry != NULL, NULL);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < registry->plugins->len; i++) {
    M3retPlugin *p = g_ptr_array_index (registry->plugins, i);
    if (kind == M3RET_PLUGIN_N_KINDS || p->desc->kind == kind)
      g_ptr_array_add (out, p);
  }
  g_ptr_array_sort (out, compare_plugins);
  return out;
}

const GPtrArray *
m3ret_registry_get_failures (M3retRegistry *registry)
{
  g_return_val_if_fail (registry != NULL, NULL);
  return registry->failures;
}

const M3retPluginDesc *
m3ret_plugin_get_desc (const M3retPlugin *plugin)
{
  g_return_val_if_fail (plugin != NULL, NULL);
  return plugin->desc;
}

const gchar *
m3ret_plugin_get_filename (const M3retPlugin *plugin)
{
  g_return_val_if_fail (plugin != NULL, NULL);
  return plugin->filename;
}

gconstpointer
m3ret_plugin_get_vtable (const M3retPlugin *plugin)
{
  g_return_val_if_fail (plugin != NULL, NULL);
  return plugin->desc->vtable;
}
