/* cli.c — option plumbing, registry set-up and error printing for commands. */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "dist-private.h"
#include "m3ret-provenance.h"

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
    /* GLib's sentences start with a capital; ours continue after "NAME: ". */
    g_autofree gchar *message = g_strdup (error->message);
    if (g_ascii_isupper (message[0]) && !g_ascii_isupper (message[1]))
      message[0] = g_ascii_tolower (message[0]);
    cli_usage_error (name, "%s", message);
    g_error_free (error);
    return FALSE;
  }
  return TRUE;
}

gint
cli_usage_error (const gchar *command, const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *msg = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "m3ret: error: %s: %s (see m3ret %s --help)\n", command, msg, command);
  return M3RET_EXIT_USAGE;
}

gboolean
cli_require (const gchar *command, const gchar *value, const gchar *option)
{
  if (value != NULL)
    return TRUE;
  cli_usage_error (command, "%s is required", option);
  return FALSE;
}

gboolean
cli_require_args (const gchar *command, gint argc, gchar **argv, gint min, gint max,
                  const gchar *what)
{
  gint n = argc - 1;
  if (n >= min && (max < 0 || n <= max))
    return TRUE;
  if (n < min)
    cli_usage_error (command, "give %s", what);
  else
    cli_usage_error (command, "unexpected argument '%s'; give %s", argv[max + 1], what);
  return FALSE;
}

M3retManifest *
cli_load_manifest (const M3retPipeline *pipeline, const gchar *path, GError **error)
{
  M3retLimits limits;
  m3ret_limits_init (&limits, &m3ret_pipeline_get_settings (pipeline)->data);
  if (!m3ret_file_check_readable (path, error) || !m3ret_limits_check_file (&limits, path, error))
    return NULL;
  M3retManifest *manifest = m3ret_manifest_load (path, error);
  if (manifest != NULL && m3ret_manifest_size (manifest) == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST, "%s: lists no files", path);
    g_clear_pointer (&manifest, m3ret_manifest_free);
  }
  return manifest;
}

void
cli_add_pipeline_inputs (M3retRunFiles *files, const gchar *pipeline_path,
                         const M3retPipeline *pipeline)
{
  m3ret_run_files_add_input (files, pipeline_path, "pipeline");
  const gchar *init = m3ret_pipeline_get_settings (pipeline)->encoder.init;
  if (init != NULL && *init != '\0') {
    g_autofree gchar *path = m3ret_pipeline_resolve_path (pipeline, init);
    m3ret_run_files_add_input (files, path, "[encoder] init weights");
  }
}

gboolean
cli_check_provenance (const gchar *command, const gchar *path, const gchar *have,
                      const gchar *want, gboolean allow, GError **error)
{
  if (have == NULL) {
    fprintf (stderr, "m3ret %s: note: %s does not record which encoder made it (written by an "
                     "older m3ret or another program), so it cannot be checked against these "
                     "weights\n", command, path);
    return TRUE;
  }
  g_autofree gchar *difference = m3ret_provenance_difference (have, want);
  if (difference == NULL)
    return TRUE;
  g_autofree gchar *made = m3ret_provenance_describe (have);
  g_autofree gchar *now = m3ret_provenance_describe (want);
  if (allow) {
    fprintf (stderr, "m3ret %s: note: %s was made by another encoder (%s), used anyway as "
                     "--allow-mismatch asks\n", command, path, difference);
    return TRUE;
  }
  g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
               "%s: made by another encoder than this run's (%s): it holds %s; this run has %s; "
               "use the checkpoint and pipeline that made it, rebuild it, or pass "
               "--allow-mismatch", path, difference, made, now);
  return FALSE;
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

/* Data-parallel: ranks other than 0 leave notices and skips to rank 0. */
static gboolean quiet_rank;

void
cli_set_quiet_rank (gboolean quiet)
{
  quiet_rank = quiet;
}

void
cli_report_skips (const gchar *command, M3retSkips *skips)
{
  if (quiet_rank || skips == NULL || m3ret_skips_count (skips) == 0)
    return;
  g_autofree gchar *summary = m3ret_skips_summary (skips);
  fprintf (stderr, "m3ret %s: %s", command, summary);
}

void
cli_gather_skips (const M3retDist *dist, M3retSkips *skips)
{
  if (skips == NULL || !m3ret_dist_is_parallel (dist))
    return;
  g_autofree gchar *mine = m3ret_skips_to_text (skips);
  g_autofree gchar *all = m3ret_dist_gather_text (dist, mine);
  if (all != NULL)
    m3ret_skips_add_text (skips, all);
}

void
cli_report_notices (const M3retManifest *manifest)
{
  for (guint i = 0; !quiet_rank && manifest != NULL && i < m3ret_manifest_n_notices (manifest); i++)
    fprintf (stderr, "m3ret: warning: %s\n", m3ret_manifest_get_notice (manifest, i));
}

gboolean
cli_resolve_manifest (M3retEmbedder *embedder, M3retManifest *manifest, const gchar *modality,
                      GError **error)
{
  GError *local = NULL;
  if (modality != NULL &&
      !m3ret_manifest_set_default_modality (manifest, m3ret_embedder_get_modalities (embedder),
                                            modality, &local)) {
    g_set_error (error, local->domain, local->code, "-m/--modality: %s", local->message);
    g_error_free (local);
    return FALSE;
  }
  gboolean ok = m3ret_embedder_resolve (embedder, manifest, error);
  cli_report_notices (manifest);
  return ok;
}

gboolean
cli_ranks_ok (const M3retDist *dist, gboolean ok, gboolean *report)
{
  *report = !ok;
  if (!m3ret_dist_is_parallel (dist))
    return ok;
  gint rank = m3ret_dist_get_rank (dist), size = m3ret_dist_get_size (dist);
  gint64 failed = m3ret_dist_allreduce_max (dist, ok ? 0 : size - rank);
  /* rank size − failed is the lowest that failed */
  *report = failed > 0 && size - failed == rank;
  return failed == 0;
}

void
cli_rank_abort (const M3retDist *dist, const GError *error)
{
  if (!m3ret_dist_is_parallel (dist))
    return;
  fprintf (stderr, "m3ret: error: rank %d of %d: %s\n", m3ret_dist_get_rank (dist),
           m3ret_dist_get_size (dist), error->message);
  m3ret_dist_abort (dist, M3RET_EXIT_FAILURE);
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
