/* cmd-inspect.c — `m3ret inspect FILE...`: which plugin reads a file and what it holds. */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "m3ret-modalities.h"

static void
print_info (const M3retModalities *set, const gchar *path, const gchar *chosen, guint score,
            const guint *scores, gboolean forced, const M3retInspectInfo *info)
{
  printf ("%s\n", path);
  printf ("  modality    %s (%s, score %u)\n", chosen, forced ? "as asked" : "probe", score);
  printf ("  scores     ");
  for (guint i = 0; i < m3ret_modalities_count (set); i++)
    printf (" %s=%u", m3ret_modalities_name (set, i), scores[i]);
  printf ("\n");
  if (info->format)
    printf ("  format      %s\n", info->format);
  if (info->datatype)
    printf ("  datatype    %s\n", info->datatype);
  printf ("  dims        %u × %u × %u (width × height × depth), %u channel%s\n", info->width,
          info->height, info->depth, info->channels, info->channels == 1 ? "" : "s");
  if (info->fps > 0.0)
    printf ("  frames      %" G_GUINT64_FORMAT " at %.3f fps (%.2f s)\n", info->frames, info->fps,
            info->frames / info->fps);
  else if (info->frames > 1)
    printf ("  volumes     %" G_GUINT64_FORMAT "\n", info->frames);
  printf ("  spacing     %g × %g × %g\n", info->spacing[0], info->spacing[1], info->spacing[2]);
  if (info->orientation)
    printf ("  orientation %s\n", info->orientation);
  printf ("  intensity   min %g, max %g, mean %g\n", info->min, info->max, info->mean);
  printf ("  percentiles p0.5 %g, p50 %g, p99.5 %g\n", info->p_low, info->p_median,
          info->p_high);
  for (guint i = 0; info->notes && i < info->notes->len; i++)
    printf ("  note        %s\n", (const gchar *) info->notes->pdata[i]);
}

gint
cmd_inspect (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  gchar *modality = NULL;
  gchar *pipeline_path = NULL;
  GOptionEntry entries[] = {
    { "modality", 'm', 0, G_OPTION_ARG_STRING, &modality,
      "Read with this modality plugin instead of the probe's choice", "NAME" },
    { "pipeline", 'p', 0, G_OPTION_ARG_FILENAME, &pipeline_path,
      "Configure the plugins and the input limits from this pipeline ([modality NAME], [data])",
      "PIPELINE.ini" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("FILE... - which plugin reads each file, dims, spacing, statistics");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "inspect", &argc, &argv))
    return M3RET_EXIT_USAGE;
  if (argc < 2) {
    fprintf (stderr, "m3ret inspect: give at least one FILE\n");
    g_strfreev (common.plugin_paths);
    g_free (modality);
    g_free (pipeline_path);
    return M3RET_EXIT_USAGE;
  }
  M3retRegistry *registry = cli_registry (&common);
  GError *error = NULL;
  gint status = M3RET_EXIT_OK;
  M3retPipeline *pipeline = NULL;
  M3retModalities *set = NULL;
  if (pipeline_path != NULL)
    pipeline = m3ret_pipeline_load (registry, pipeline_path, &error);
  if (pipeline_path == NULL || pipeline != NULL)
    set = m3ret_modalities_new (registry, pipeline, &error);
  if (set == NULL) {
    status = cli_fail (error);
    g_clear_error (&error);
  } else if (m3ret_modalities_count (set) == 0) {
    status = cli_failf ("no modality plugins found; check --plugin-path and M3RET_PLUGIN_PATH");
  } else if (modality != NULL && !m3ret_modalities_has (set, modality)) {
    status = cli_failf ("no modality plugin named '%s'", modality);
  }
  for (gint i = 1; status == M3RET_EXIT_OK && i < argc; i++) {
    const gchar *path = argv[i];
    g_autofree guint *scores = g_new0 (guint, m3ret_modalities_count (set));
    guint score = 0;
    const gchar *best = m3ret_modalities_probe (set, path, &score, scores, &error);
    const gchar *chosen = modality != NULL ? modality : best;
    if (modality == NULL && best == NULL) {
      status = cli_fail (error);
      g_clear_error (&error);
      break;
    }
    g_clear_error (&error); /* a forced modality needs no probe winner */
    M3retInspectInfo info;
    if (!m3ret_modalities_inspect (set, chosen, path, &info, &error)) {
      status = cli_fail (error);
      g_clear_error (&error);
      break;
    }
    for (guint k = 0; k < m3ret_modalities_count (set); k++)
      if (g_strcmp0 (m3ret_modalities_name (set, k), chosen) == 0)
        score = scores[k];
    print_info (set, path, chosen, score, scores, modality != NULL, &info);
    m3ret_inspect_info_clear (&info);
  }
  m3ret_modalities_free (set);
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  g_free (modality);
  g_free (pipeline_path);
  return status;
}
