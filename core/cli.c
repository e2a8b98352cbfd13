/* cli.c — option plumbing, registry set-up and error printing for commands. */
#include "config.h"

#include <stdio.h>

#include "cli.h"

void
cli_add_common_options (GOptionContext *ctx, CliCommon *common)
{
  GOptionEntry entries[] = {
    { "plugin-path", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &common->plugin_paths,
      "Search DIR for plugins first (repeatable, or ':'-separated)", "DIR" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &common->verbose, "Log more (defaults, skipped plugins)",
      NULL },
    G_OPTION_ENTRY_NULL
  };
  g_option_context_add_main_entries (ctx, entries, NULL);
}

gboolean
cli_parse (GOptionContext *ctx, const gchar *name, gint *argc, gchar ***argv)
{
  GError *error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error)) {
    fprintf (stderr, "m3ret %s: %s (see m3ret %s --help)\n", name, error->message, name);
    g_error_free (error);
    return FALSE;
  }
  return TRUE;
}

M3retRegistry *
cli_registry (const CliCommon *common)
{
  if (common->verbose)
    g_setenv ("G_MESSAGES_DEBUG", "m3ret", FALSE);
  M3retRegistry *registry = m3ret_registry_new ();
  m3ret_registry_scan (registry, (const gchar *const *) common->plugin_paths);
  const GPtrArray *failures = m3ret_registry_get_failures (registry);
  for (guint i = 0; i < failures->len; i++) {
    const M3retPluginFailure *f = failures->pdata[i];
    /* Shadowing by an earlier folder is normal (a dev build before the
     * install dir); only say so when asked. */
    gboolean shadowed =
      g_error_matches (f->error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_DUPLICATE_NAME);
    if (!shadowed || common->verbose)
      fprintf (stderr, "m3ret: skipped plugin %s\n", f->error->message);
  }
  return registry;
}

gint
cli_fail (const GError *error)
{
  fprintf (stderr, "m3ret: error: %s\n", error->message);
  return M3RET_EXIT_FAILURE;
}

void
cli_report_skips (const gchar *command, M3retSkips *skips)
{
  if (skips == NULL || m3ret_skips_count (skips) == 0)
    return;
  g_autofree gchar *summary = m3ret_skips_summary (skips);
  fprintf (stderr, "m3ret %s: %s", command, summary);
}

void
cli_report_notices (const M3retManifest *manifest)
{
  for (guint i = 0; manifest != NULL && i < m3ret_manifest_n_notices (manifest); i++)
    fprintf (stderr, "m3ret: warning: %s\n", m3ret_manifest_get_notice (manifest, i));
}

gint
cli_failf (const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *msg = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "m3ret: error: %s\n", msg);
  return M3RET_EXIT_FAILURE;
}
