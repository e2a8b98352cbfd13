/* cmd-plugins.c — `m3ret plugins`: what is installed, gst-inspect style. */
#include "config.h"

#include <stdio.h>

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

static gchar *
describe_allowed (const M3retKeySpec *k)
{
  switch (k->type) {
  case M3RET_KEY_ENUM: return g_strdup (k->choices);
  case M3RET_KEY_INT:
  case M3RET_KEY_DOUBLE:
  case M3RET_KEY_INT_LIST:
  case M3RET_KEY_DOUBLE_LIST: {
    g_autofree gchar *count = k->n_values ? g_strdup_printf ("%u values in ", k->n_values) : g_strdup ("");
    if (k->min > -M3RET_KEY_UNBOUNDED && k->max < M3RET_KEY_UNBOUNDED)
      return g_strdup_printf ("%s[%g, %g]", count, k->min, k->max);
    if (k->min > -M3RET_KEY_UNBOUNDED)
      return g_strdup_printf ("%s>= %g", count, k->min);
    if (k->max < M3RET_KEY_UNBOUNDED)
      return g_strdup_printf ("%s<= %g", count, k->max);
    return g_strdup (count);
  }
  case M3RET_KEY_PLUGIN: return g_strdup_printf ("a %s plugin", m3ret_plugin_kind_to_string (k->plugin_kind));
  default: return g_strdup ("");
  }
}

static void
print_keys (const M3retKeySpec *keys)
{
  if (keys == NULL || keys->name == NULL) {
    printf ("  (no keys)\n");
    return;
  }
  printf ("  %-18s %-12s %-14s %-22s %s\n", "KEY", "TYPE", "DEFAULT", "ALLOWED", "HELP");
  for (const M3retKeySpec *k = keys; k->name; k++) {
    g_autofree gchar *allowed = describe_allowed (k);
    printf ("  %-18s %-12s %-14s %-22s %s\n", k->name, m3ret_key_type_name (k->type),
            k->default_value ? (*k->default_value ? k->default_value : "\"\"") : "(required)",
            allowed, k->help ? k->help : "");
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
    fprintf (stderr, "m3ret plugins: unknown kind '%s': use modality, objective, backend or retriever\n",
             kind_name);
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  if (argc > 2) {
    fprintf (stderr, "m3ret plugins: give at most one plugin NAME\n");
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }

  M3retRegistry *registry = cli_registry (&common);
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
      printf (": none found along the search path (--plugin-path, $M3RET_PLUGIN_PATH, %s)",
              M3RET_PLUGIN_DIR);
    printf ("\n");
  }
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  return status;
}
