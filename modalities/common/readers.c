/* readers.c — keys and rendering glue shared by the modality plugins. */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "readers-private.h"

gboolean
m3ret_readers_read_common_keys (const M3retConfig *config,
                                const M3retReadersCommonSettings *settings, gboolean volumetric,
                                M3retReadersCommon *common, GError **error)
{
  M3retRenderOptions *options = &common->options;
  memset (options, 0, sizeof *options);
  options->volumetric = volumetric;
  for (guint c = 0; c < 3; c++) {
    options->mean[c] = settings->mean[c];
    options->std[c] = settings->std[c];
  }
  if (!m3ret_flips_from_string (settings->flips, &options->flips)) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_BAD_VALUE, "flips",
                            "write none or letters of xyz (e.g. x, xy)");
    return FALSE;
  }
  options->jitter = settings->jitter;
  m3ret_limits_init_default (&common->limits);
  return TRUE;
}

void
m3ret_readers_set_limits (gpointer self, const M3retLimits *limits)
{
  M3retReadersCommon *common = self;
  common->limits = *limits;
}

void
m3ret_readers_render_views (const M3retVolume *volume, M3retLayout layout,
                            const M3retRenderOptions *options, const M3retView *views,
                            guint n_views, M3retSample **out)
{
  for (guint i = 0; i < n_views; i++)
    out[i] = m3ret_render (volume, &views[i], layout, options);
}

void
m3ret_readers_fill_stats (M3retInspectInfo *info, const M3retVolume *volume)
{
  M3retVolumeStats stats;
  m3ret_volume_stats (volume, &stats);
  info->min = stats.min;
  info->max = stats.max;
  info->mean = stats.mean;
  info->p_low = stats.p_low;
  info->p_median = stats.p_median;
  info->p_high = stats.p_high;
}

void
readers_scale_stats (M3retInspectInfo *info, gdouble factor)
{
  info->min *= factor;
  info->max *= factor;
  info->mean *= factor;
  info->p_low *= factor;
  info->p_median *= factor;
  info->p_high *= factor;
}

void
m3ret_readers_add_note (M3retInspectInfo *info, const gchar *format, ...)
{
  if (info->notes == NULL)
    info->notes = g_ptr_array_new_with_free_func (g_free);
  va_list args;
  va_start (args, format);
  g_ptr_array_add (info->notes, g_strdup_vprintf (format, args));
  va_end (args);
}

gboolean
m3ret_readers_has_suffix (const gchar *path, const gchar *const *suffixes)
{
  g_autofree gchar *lower = g_ascii_strdown (path, -1);
  for (const gchar *const *s = suffixes; *s; s++)
    if (g_str_has_suffix (lower, *s))
      return TRUE;
  return FALSE;
}

gboolean
m3ret_readers_path_mentions (const gchar *path, const gchar *const *words)
{
  g_autofree gchar *lower = g_ascii_strdown (path, -1);
  for (const gchar *const *w = words; *w; w++)
    if (strstr (lower, *w) != NULL)
      return TRUE;
  return FALSE;
}
