/* ultrasound.c — ultrasound stills (grey or colour PNG or JPEG) and cine loops (video).
 *
 * Stills become 2D samples like X-rays; cine loops become T frames like
 * endoscopy, so the layout depends on the file: PNG → image, video →
 * sequence.  Probe rule (shared with xray, both read PNG): an 8-bit grey
 * PNG scores 60 here (X-ray 40), a colour or palette PNG 50 (X-ray 10), a
 * 16-bit grey PNG 20 (X-ray 80); a video scores 20 here (endoscopy 60)
 * unless its path says ultrasound ("ultrasound", "cine", "sonograph"
 * anywhere in it): then 90.  A JPEG (by its magic bytes) scores 40 (X-ray
 * takes grey ones with 60, endoscopy colour ones with 60) or 90 with such a
 * word in the path.  The manifest's modality column overrides all.
 */
#include "config.h"

#include <png.h>

#include "m3ret-readers.h"

static const M3retKeySpec ultrasound_keys[] = {
  M3RET_KEY_INT_FIELD (M3retReadersVideoSettings, stride, "stride", "2", 1, 1000,
                       "cine loops: frames between the frames of a training clip"),
  M3RET_READERS_CACHE_KEY (M3retReadersVideoSettings, "256"),
  M3RET_READERS_COMMON_KEYS (M3retReadersVideoSettings, "0.5,0.5,0.5", "0.25,0.25,0.25", "x",
                             "0.1"),
  M3RET_KEY_END
};

static gpointer
ultrasound_create (const M3retConfig *config, GError **error)
{
  return m3ret_readers_video_modality_create (config, ultrasound_keys, error);
}

static gboolean
ultrasound_init (GError **error)
{
  m3ret_readers_video_global_init ();
  return TRUE;
}

static guint
ultrasound_probe (const gchar *path, const guint8 *head, gsize head_len)
{
  guint dicom = m3ret_readers_dicom_probe (path, head, head_len, "ultrasound", 95);
  if (dicom > 0)
    return dicom;
  static const gchar *const words[] = { "ultrasound", "cine", "sonograph", NULL };
  M3retReadersJpegInfo jpeg;
  if (m3ret_readers_jpeg_sniff (head, head_len, &jpeg))
    return m3ret_readers_path_mentions (path, words) ? 90 : 40;
  M3retReadersPngInfo png;
  if (m3ret_readers_png_sniff (head, head_len, &png)) {
    if (png.color_type == PNG_COLOR_TYPE_GRAY || png.color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
      return png.bit_depth == 16 ? 20 : 60;
    return 50;
  }
  if (!m3ret_readers_video_sniff (path, head, head_len))
    return 0;
  /* A word in the path decides over endoscopy's 60 (by more than the margin). */
  return m3ret_readers_path_mentions (path, words) ? 90 : 20;
}

static gboolean
is_still (const gchar *path)
{
  static const gchar *const suffixes[] = { ".png", NULL };
  return m3ret_readers_has_suffix (path, suffixes) || m3ret_readers_jpeg_sniff_file (path);
}

static M3retLayout
ultrasound_layout (gpointer self, const gchar *path, GError **error)
{
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_layout (path);
  return is_still (path) ? M3RET_LAYOUT_IMAGE : M3RET_LAYOUT_SEQUENCE;
}

static gboolean
ultrasound_read (gpointer self, const gchar *path, const M3retView *views, guint n_views,
                 M3retSample **out, GError **error)
{
  M3retReadersVideoModality *u = self;
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_read_views (u->clips, path, &u->common.limits, &u->common.options,
                                           u->stride, views, n_views, out, error);
  if (m3ret_readers_jpeg_sniff_file (path))
    return m3ret_readers_jpeg_read_views (path, &u->common.limits, &u->common.options, views,
                                          n_views, out, error);
  if (is_still (path))
    return m3ret_readers_png_read_views (path, &u->common.limits, &u->common.options, views,
                                         n_views, out, error);
  return m3ret_readers_video_read_views (u, path, views, n_views, out, error);
}

static gboolean
ultrasound_inspect (gpointer self, const gchar *path, M3retInspectInfo *info, GError **error)
{
  M3retReadersVideoModality *u = self;
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_inspect (path, &u->common.limits, M3RET_READERS_DICOM_UNIT_RANGE,
                                        info, error);
  if (m3ret_readers_jpeg_sniff_file (path))
    return m3ret_readers_jpeg_inspect (path, &u->common.limits, info, error);
  if (is_still (path))
    return m3ret_readers_png_inspect (path, &u->common.limits, info, error);
  return m3ret_readers_video_inspect (u->cache, path, &u->common.limits, info, error);
}

static const M3retModalityVTable ultrasound_vtable = {
  .create = ultrasound_create,
  .destroy = m3ret_readers_video_modality_destroy,
  .probe = ultrasound_probe,
  .layout = ultrasound_layout,
  .read = ultrasound_read,
  .inspect = ultrasound_inspect,
  .set_limits = m3ret_readers_set_limits,
  .attribute = m3ret_readers_attribute,
  .series_key = m3ret_readers_still_series_key,
};

M3RET_PLUGIN_DEFINE (ultrasound, M3RET_PLUGIN_MODALITY, PACKAGE_VERSION,
                     "ultrasound: PNG, JPEG and DICOM stills as 2D images, cine loops (any FFmpeg video, multi-frame DICOM) as T frames",
                     "MIT", ultrasound_keys, ultrasound_init, &ultrasound_vtable)
