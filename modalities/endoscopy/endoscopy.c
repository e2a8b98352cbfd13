/* endoscopy.c — RGB endoscopy video (T frames of a clip) and JPEG stills
 * (HyperKvasir's labelled images), RGB to [0,1].
 *
 * A JPEG (by its magic bytes) is a 2D still: colour 60 (ultrasound 40,
 * X-ray 10), grey 10 (X-ray 60).
 *
 * Any container and codec the FFmpeg libraries decode.  Evaluation views
 * take T frames spread evenly over the clip; training views a random clip of
 * T frames `stride` apart.
 */
#include "config.h"

#include "m3ret-readers.h"

static const M3retKeySpec endoscopy_keys[] = {
  M3RET_KEY_INT_FIELD (M3retReadersVideoSettings, stride, "stride", "2", 1, 1000,
                       "frames between the frames of a training clip"),
  M3RET_READERS_CACHE_KEY (M3retReadersVideoSettings, "256"),
  M3RET_READERS_COMMON_KEYS (M3retReadersVideoSettings, "0.485,0.456,0.406", "0.229,0.224,0.225",
                             "xy", "0.1"),
  M3RET_KEY_END
};

static gpointer
endoscopy_create (const M3retConfig *config, GError **error)
{
  return m3ret_readers_video_modality_create (config, endoscopy_keys, error);
}

static gboolean
endoscopy_init (GError **error)
{
  m3ret_readers_video_global_init ();
  return TRUE;
}

static guint
endoscopy_probe (const gchar *path, const guint8 *head, gsize head_len)
{
  guint dicom = m3ret_readers_dicom_probe (path, head, head_len, "endoscopy", 95);
  if (dicom > 0)
    return dicom;
  M3retReadersJpegInfo jpeg;
  if (m3ret_readers_jpeg_sniff (head, head_len, &jpeg))
    return jpeg.channels == 1 ? 10 : 60;
  return m3ret_readers_video_sniff (path, head, head_len) ? 60 : 0;
}

static M3retLayout
endoscopy_layout (gpointer self, const gchar *path, GError **error)
{
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_layout (path);
  return m3ret_readers_jpeg_sniff_file (path) ? M3RET_LAYOUT_IMAGE : M3RET_LAYOUT_SEQUENCE;
}

static gboolean
endoscopy_read (gpointer self, const gchar *path, const M3retView *views, guint n_views,
                M3retSample **out, GError **error)
{
  M3retReadersVideoModality *e = self;
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_read_views (e->clips, path, &e->common.limits, &e->common.options,
                                           e->stride, views, n_views, out, error);
  if (m3ret_readers_jpeg_sniff_file (path))
    return m3ret_readers_jpeg_read_views (path, &e->common.limits, &e->common.options, views,
                                          n_views, out, error);
  return m3ret_readers_video_read_views (e, path, views, n_views, out, error);
}

static gboolean
endoscopy_inspect (gpointer self, const gchar *path, M3retInspectInfo *info, GError **error)
{
  M3retReadersVideoModality *e = self;
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_inspect (path, &e->common.limits, M3RET_READERS_DICOM_UNIT_RANGE,
                                        info, error);
  if (m3ret_readers_jpeg_sniff_file (path))
    return m3ret_readers_jpeg_inspect (path, &e->common.limits, info, error);
  return m3ret_readers_video_inspect (e->cache, path, &e->common.limits, info, error);
}

static const M3retModalityVTable endoscopy_vtable = {
  .create = endoscopy_create,
  .destroy = m3ret_readers_video_modality_destroy,
  .probe = endoscopy_probe,
  .layout = endoscopy_layout,
  .read = endoscopy_read,
  .inspect = endoscopy_inspect,
  .set_limits = m3ret_readers_set_limits,
  .attribute = m3ret_readers_attribute,
  .series_key = m3ret_readers_still_series_key,
};

M3RET_PLUGIN_DEFINE (endoscopy, M3RET_PLUGIN_MODALITY, PACKAGE_VERSION,
                     "endoscopy: RGB video (h264, mpeg4, ffv1, ...) or multi-frame DICOM as T frames of a clip; JPEG and DICOM stills as 2D images",
                     "MIT", endoscopy_keys, endoscopy_init, &endoscopy_vtable)
