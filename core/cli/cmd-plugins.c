/* cmd-plugins.c — `m3ret plugins`: what is installed, gst-inspect style. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The pipeline group a plugin's keys go into. */
static gchar *
group_of (const M3retPluginDesc *desc)
{
  switch (desc->kind) {
  case M3RET_PLUGIN_MODALITY: return g_strdup_printf ("[modality %s]", desc->name);
  case M3RET_PLUGIN_OBJECTIVE: return g_strdup_printf ("[objective] with plugin=%s", desc->name);
  case M3RET_PLUGIN_BACKEND: return g_strdup_printf ("[pipeline] with backend=%s", desc->name);
  case M3RET_PLUGIN_RETRIEVER: return g_strdup_printf ("[retriever] with plugin=%s", desc->name);
  default: return g_strdup ("?");
  }
}

/* The keys as a table whose columns fit what they hold. */
static void
print_keys (const M3retKeySpec *keys)
{
  if (keys == NULL || keys->name == NULL) {
    printf ("  (no keys)\n");
    return;
  }
  g_autoptr (GPtrArray) allowed = g_ptr_array_new_with_free_func (g_free);
  gint w[4] = { 3, 4, 7, 7 }; /* KEY TYPE DEFAULT ALLOWED */
  for (const M3retKeySpec *k = keys; k->name; k++) {
    gchar *a = m3ret_key_describe_allowed (k);
    g_ptr_array_add (allowed, a);
    w[0] = MAX (w[0], (gint) g_utf8_strlen (k->name, -1));
    w[1] = MAX (w[1], (gint) strlen (m3ret_key_type_name (k->type)));
    w[2] = MAX (w[2], (gint) g_utf8_strlen (m3ret_key_describe_default (k), -1));
    w[3] = MAX (w[3], (gint) g_utf8_strlen (a, -1));
  }
  printf ("  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], "KEY", w[1], "TYPE", w[2], "DEFAULT", w[3],
          "ALLOWED", "HELP");
  guint i = 0;
  for (const M3retKeySpec *k = keys; k->name; k++, i++)
    printf ("  %-*s  %-*s  %-*s  %-*s  %s\n", w[0], k->name, w[1], m3ret_key_type_name (k->type),
            w[2], m3ret_key_describe_default (k), w[3], (gchar *) allowed->pdata[i],
            k->help ? k->help : "");
}

/* Whether some plugin file was found in @folder, loaded or not. */
static gboolean
folder_gave_plugins (M3retRegistry *registry, const gchar *folder)
{
  g_autoptr (GPtrArray) all = m3ret_registry_list (registry, M3RET_PLUGIN_N_KINDS);
  const GPtrArray *failures = m3ret_registry_get_failures (registry);
  for (guint i = 0; i < all->len + failures->len; i++) {
    const M3retPluginFailure *f = i < all->len ? NULL : failures->pdata[i - all->len];
    const gchar *file = f ? f->filename : m3ret_plugin_get_filename (all->pdata[i]);
    g_autofree gchar *dir = g_path_get_dirname (file);
    if (strcmp (dir, folder) == 0)
      return TRUE;
  }
  return FALSE;
}

static guint
count_plugin_files (const gchar *folder)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  guint n = 0;
  const gchar *entry;
  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    n += g_str_has_prefix (entry, "m3ret-") && g_str_has_suffix (entry, "." G_MODULE_SUFFIX);
  return n;
}

/* One line on stderr for each folder the user named (--plugin-path,
 * $M3RET_PLUGIN_PATH) that gave no plugin: a typo, or a build tree's
 * source folder instead of its .libs. */
static void
note_empty_folders (M3retRegistry *registry, const CliCommon *common)
{
  g_auto (GStrv) dirs = m3ret_registry_search_path ((const gchar *const *) common->plugin_paths);
  const gchar *system = g_getenv (M3RET_PLUGIN_SYSTEM_PATH_ENV);
  if (system == NULL)
    system = M3RET_PLUGIN_DIR;
  guint n = g_strv_length (dirs) - (*system ? 1 : 0); /* the install folder comes last */
  for (guint i = 0; i < n; i++) {
    if (folder_gave_plugins (registry, dirs[i]))
      continue;
    if (!g_file_test (dirs[i], G_FILE_TEST_EXISTS)) {
      fprintf (stderr, "m3ret: %s: no such folder\n", dirs[i]);
      continue;
    }
    if (!g_file_test (dirs[i], G_FILE_TEST_IS_DIR)) {
      fprintf (stderr, "m3ret: %s: not a folder (give the folder that holds m3ret-NAME.so)\n",
               dirs[i]);
      continue;
    }
    g_autofree gchar *libs = g_build_filename (dirs[i], ".libs", NULL);
    guint in_libs = count_plugin_files (libs);
    if (in_libs > 0)
      fprintf (stderr, "m3ret: %s: no m3ret plugins in this folder; its .libs holds %u (a build "
               "tree keeps them there: --plugin-path %s)\n", dirs[i], in_libs, libs);
    else
      fprintf (stderr, "m3ret: %s: no m3ret plugins in this folder\n", dirs[i]);
  }
}

static gint
show_one (M3retRegistry *registry, const gchar *name)
{
  g_autoptr (GPtrArray) all = m3ret_registry_list (registry, M3RET_PLUGIN_N_KINDS);
  const M3retPlugin *found = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < all->len; i++) {
    const M3retPluginDesc *d = m3ret_plugin_get_desc (all->pdata[i]);
    if (g_strcmp0 (d->name, name) == 0)
      found = all->pdata[i];
    g_ptr_array_add (names, (gpointer) d->name);
  }
  g_ptr_array_add (names, NULL);
  if (found == NULL) {
    g_autofree gchar *guess = m3ret_suggest (name, (const gchar *const *) names->pdata);
    return cli_failf ("no plugin named '%s'%s%s%s (m3ret plugins lists them)", name,
                      guess ? "; did you mean '" : "", guess ? guess : "", guess ? "'?" : "");
  }
  const M3retPluginDesc *d = m3ret_plugin_get_desc (found);
  g_autofree gchar *group = group_of (d);
  printf ("Name         %s\nKind         %s\nVersion      %s\nLicense      %s\n"
          "File         %s\nPlugin ABI   %u.%u\nDescription  %s\n\nKeys, in %s:\n",
          d->name, m3ret_plugin_kind_to_string (d->kind), d->version, d->license,
          m3ret_plugin_get_filename (found), d->abi_major, d->abi_minor, d->description, group);
  print_keys (d->keys);
  return M3RET_EXIT_OK;
}

gint
cmd_plugins (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autofree gchar *kind_name = NULL;
  GOptionEntry entries[] = {
    { "kind", 'k', 0, G_OPTION_ARG_STRING, &kind_name,
      "Only plugins of KIND: modality, objective, backend, retriever", "KIND" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("[NAME] - list plugins, or one plugin's keys");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "plugins", &argc, &argv))
    return M3RET_EXIT_USAGE;
  M3retPluginKind kind = M3RET_PLUGIN_N_KINDS;
  if (kind_name != NULL && !m3ret_plugin_kind_from_string (kind_name, &kind)) {
    cli_usage_error ("plugins", "unknown kind '%s': use modality, objective, backend or retriever",
                     kind_name);
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  if (!cli_require_args ("plugins", argc, argv, 0, 1, "at most one plugin NAME")) {
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }

  M3retRegistry *registry = cli_registry (&common);
  note_empty_folders (registry, &common);
  gint status = M3RET_EXIT_OK;
  if (argc == 2) {
    status = show_one (registry, argv[1]);
  } else {
    g_autoptr (GPtrArray) list = m3ret_registry_list (registry, kind);
    printf ("%-10s %-11s %-8s %-40s %s\n", "KIND", "NAME", "VERSION", "FILE", "DESCRIPTION");
    for (guint i = 0; i < list->len; i++) {
      const M3retPluginDesc *d = m3ret_plugin_get_desc (list->pdata[i]);
      printf ("%-10s %-11s %-8s %-40s %s\n", m3ret_plugin_kind_to_string (d->kind), d->name,
              d->version, m3ret_plugin_get_filename (list->pdata[i]), d->description);
    }
    printf ("\n%u plugin%s", list->len, list->len == 1 ? "" : "s");
    if (list->len == 0)
      printf (": none found along the search path (--plugin-path, $M3RET_PLUGIN_PATH, %s); "
              "a build tree's are in modalities/.libs, objectives/.libs, backends/.libs and "
              "retrievers/.libs", M3RET_PLUGIN_DIR);
    printf ("\n");
  }
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  return status;
}
