/* cmd-validate.c — `m3ret validate`: parse and check a pipeline file. */
#include "config.h"

#include <stdio.h>

#include "cli.h"

gint
cmd_validate (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PIPELINE.ini - check a pipeline file");
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "validate", &argc, &argv))
    return M3RET_EXIT_USAGE;
  if (argc != 2) {
    fprintf (stderr, "m3ret validate: give exactly one PIPELINE.ini\n");
    g_strfreev (common.plugin_paths);
    return M3RET_EXIT_USAGE;
  }
  M3retRegistry *registry = cli_registry (&common);
  GError *error = NULL;
  M3retPipeline *pipeline = m3ret_pipeline_load (registry, argv[1], &error);
  gint status = M3RET_EXIT_OK;
  if (pipeline == NULL) {
    status = cli_fail (error);
    g_error_free (error);
  } else {
    const GPtrArray *defaulted = m3ret_pipeline_get_defaulted (pipeline);
    printf ("%s: ok (backend %s, objective %s, retriever %s; %u keys at their defaults)\n", argv[1],
            m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_BACKEND))->name,
            m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_OBJECTIVE))->name,
            m3ret_plugin_get_desc (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_RETRIEVER))->name,
            defaulted->len);
    if (common.verbose)
      for (guint i = 0; i < defaulted->len; i++)
        printf ("  default %s\n", (gchar *) defaulted->pdata[i]);
  }
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  return status;
}
