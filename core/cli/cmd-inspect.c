/* cmd-inspect.c — `m3ret inspect FILE...`: which plugin reads a file and what it holds. */
#include "config.h"

#include <stdio.h>

#include "cli.h"
#include "m3ret-modalities.h"

/* The canonical grid a file is rendered to: [input] size and depth. */
typedef struct {
  guint size, depth;
} Grid;

static gboolean
grid_from (const M3retPipeline *pipeline, Grid *grid, GError **error)
{
  M3retInputSettings defaults;
  const M3retInputSettings *input = &defaults;
  if (pipeline != NULL) {
    input = &m3ret_pipeline_get_settings (pipeline)->input;
  } else {
    /* no pipeline: the core's defaults, read as a pipeline would */
    const M3retKeySpec *keys = m3ret_pipeline_core_keys ("input");
    g_autoptr (M3retConfig) config = m3ret_config_new_defaults ("input", keys, error);
    if (config == NULL || !m3ret_config_fill (config, keys, &defaults, error))
      return FALSE;
  }
  grid->size = (guint) input->size;
  grid->depth = (guint) input->depth;
  return TRUE;
}

/* What rendering to @grid does that the file cannot show: the evaluation
 * view squares the field of view in physical units and resamples it to
 * size × size, a volume's slices to depth, a video's frames to depth. */
static void
print_grid_notes (const M3retInspectInfo *info, const Grid *grid, gboolean from_pipeline)
{
  const gchar *source = from_pipeline ? "the pipeline's" : "the default";
  gdouble sx = info->spacing[0] > 0.0 ? info->spacing[0] : 1.0;
  gdouble sy = info->spacing[1] > 0.0 ? info->spacing[1] : 1.0;
  gdouble side = MAX (info->width * sx, info->height * sy);
  gdouble across = MIN (side / sx, side / sy); /* pixels of the square, on its finer axis */
  if (info->width > 0 && info->height > 0 && across < grid->size)
    printf ("  note        %u × %u pixels, smaller than %s %u × %u grid: upsampled ×%.3g\n",
            info->width, info->height, source, grid->size, grid->size, grid->size / across);
  if (info->depth > 1 && info->depth < grid->depth)
    printf ("  note        %u slices, fewer than %s depth %u: interpolated between slices\n",
            info->depth, source, grid->depth);
  if (info->fps > 0.0 && info->frames > 0 && info->frames < grid->depth)
    printf ("  note        %" G_GUINT64_FORMAT " frames, fewer than %s depth %u: frames repeated\n",
            info->frames, source, grid->depth);
}

static void
print_info (const M3retModalities *set, const gchar *path, const gchar *chosen, guint score,
            const guint *scores, gboolean forced, const M3retInspectInfo *info, const Grid *grid,
            gboolean from_pipeline)
{
  printf ("%s\n", path);
  printf ("  modality    %s (%s, score %u)\n", chosen, forced ? "as asked" : "probe", score);
  printf ("  scores     ");
  for (guint i = 0; i < m3ret_modalities_count (set); i++)
    printf (" %s=%u", m3ret_modalities_name (set, i), scores[i]);
  printf ("\n");
  g_autofree gchar *close = forced ? NULL : m3ret_modalities_close_notice (set, NULL, scores);
  if (close != NULL)
    printf ("  warning     %s\n", close);
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
  print_grid_notes (info, grid, from_pipeline);
}

/* Probes and describes one file; FALSE with @error (naming the file). */
static gboolean
inspect_file (const M3retModalities *set, const gchar *forced, const gchar *path,
              const Grid *grid, gboolean from_pipeline, GError **error)
{
  g_autofree guint *scores = g_new0 (guint, m3ret_modalities_count (set));
  guint score = 0;
  GError *local = NULL;
  const gchar *best = m3ret_modalities_probe (set, path, &score, scores, &local);
  if (forced == NULL && best == NULL) {
    g_propagate_error (error, local);
    return FALSE;
  }
  g_clear_error (&local); /* a forced modality needs no probe winner */
  const gchar *chosen = forced != NULL ? forced : best;
  M3retInspectInfo info;
  if (!m3ret_modalities_inspect (set, chosen, path, &info, error))
    return FALSE;
  for (guint k = 0; k < m3ret_modalities_count (set); k++)
    if (g_strcmp0 (m3ret_modalities_name (set, k), chosen) == 0)
      score = scores[k];
  print_info (set, path, chosen, score, scores, forced != NULL, &info, grid, from_pipeline);
  m3ret_inspect_info_clear (&info);
  return TRUE;
}

gint
cmd_inspect (gint argc, gchar **argv)
{
  CliCommon common = { 0 };
  gchar *modality = NULL;
  gchar *pipeline_path = NULL;
  GOptionEntry entries[] = {
    { "modality", 'm', 0, G_OPTION_ARG_STRING, &modality,
      "Read with this modality plugin instead of the probe's choice (any case)", "NAME" },
    { "pipeline", 'p', 0, G_OPTION_ARG_FILENAME, &pipeline_path,
      "Configure the plugins, the input limits and the grid from this pipeline ([modality NAME], "
      "[data], [input])", "PIPELINE.ini" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx =
    g_option_context_new ("FILE... - which plugin reads each file, dims, spacing, statistics");
  g_option_context_add_main_entries (ctx, entries, NULL);
  cli_add_common_options (ctx, &common);
  if (!cli_parse (ctx, "inspect", &argc, &argv) ||
      !cli_require_args ("inspect", argc, argv, 1, -1, "at least one FILE")) {
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
  const gchar *forced = NULL;
  Grid grid = { 0 };
  if (pipeline_path != NULL)
    pipeline = m3ret_pipeline_load (registry, pipeline_path, &error);
  if (pipeline_path == NULL || pipeline != NULL)
    set = m3ret_modalities_new (registry, pipeline, &error);
  if (set == NULL || !grid_from (pipeline, &grid, &error)) {
    status = cli_fail (error);
    g_clear_error (&error);
  } else if (m3ret_modalities_count (set) == 0) {
    status = cli_failf ("no modality plugins found; check --plugin-path and M3RET_PLUGIN_PATH");
  } else if (modality != NULL &&
             (forced = m3ret_modalities_check_name (set, modality, &error)) == NULL) {
    status = cli_failf ("-m/--modality: %s", error->message);
    g_clear_error (&error);
  }
  /* Every file is reported, good or bad; the status says whether any failed. */
  gboolean setup_ok = status == M3RET_EXIT_OK;
  for (gint i = 1; setup_ok && i < argc; i++) {
    if (!inspect_file (set, forced, argv[i], &grid, pipeline != NULL, &error)) {
      fflush (stdout); /* keep the error after the files before it */
      status = cli_fail (error);
      g_clear_error (&error);
    }
  }
  m3ret_modalities_free (set);
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
  g_strfreev (common.plugin_paths);
  g_free (modality);
  g_free (pipeline_path);
  return status;
}
