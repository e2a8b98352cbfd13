/* cmd-validate.c — `m3ret validate`: every check a run makes of a pipeline
 * file (m3ret-pipeline.h, m3ret-validate.h), without the run's work. */
#include "config.h"

#include <stdio.h>

#include "cli.h"

gint
cmd_validate (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("PIPELINE.ini - check a pipeline as a run would, before any heavy work");
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "validate", &argc, &argv) ||
      !cli_require_args ("validate", argc, argv, 1, 1, "exactly one PIPELINE.ini")) {
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  M3retRegistry *registry = cli_registry (&common);
  GError *error = NULL;
  M3retPipeline *pipeline = m3ret_pipeline_load (registry, argv[1], &error);
  g_autoptr (GPtrArray) report = pipeline ? m3ret_validate_pipeline (registry, pipeline, &error)
                                          : NULL;
  gint status = M3RET_EXIT_OK;
  if (report == NULL) {
    status = cli_fail (error);
    g_error_free (error);
  } else {
    const GPtrArray *defaulted = m3ret_pipeline_get_defaulted (pipeline);
    printf ("%s: ok (backend %s, objective %s, retriever %s; %u keys at their defaults)\n", argv[1],
            m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_BACKEND))->name,
            m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_OBJECTIVE))->name,
            m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_RETRIEVER))->name,
            defaulted->len);
    for (guint i = 0; i < report->len; i++)
      printf ("  %s\n", (gchar *) report->pdata[i]);
    if (common.verbose)
      for (guint i = 0; i < defaulted->len; i++)
        printf ("  default %s\n", (gchar *) defaulted->pdata[i]);
  }
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  return status;
}
