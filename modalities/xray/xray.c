/* xray.c — radiographs: grey PNG (16-bit usually) or JPEG (CheXpert,
 * MIMIC-CXR-JPG), or DICOM (Modality CR, DX, MG, XA, RF, PX, IO: 95), read
 * as a 2D still; a multi-frame XA/RF run is a sequence.
 *
 * JPEG, by its magic bytes: grey 60 (ultrasound 40, endoscopy 10), colour
 * 10 (endoscopy 60, ultrasound 40).
 *
 * Probe rule shared with the ultrasound plugin (both read PNG): a 16-bit
 * grey PNG is an X-ray (80, ultrasound 20); an 8-bit grey one leans to
 * ultrasound (60 against 40 here); colour or palette PNG is ultrasound's
 * (50 against 10).  A manifest's modality column overrides the probe.
 */
#include "config.h"

#include <png.h>

#include "m3ret-readers.h"

typedef struct {
  M3retReadersCommon common; /* first: m3ret_readers_set_limits() relies on it */
} Xray;

/* xray_keys as m3ret_config_fill() writes them. */
typedef struct {
  M3retReadersCommonSettings common;
} XraySettings;

static const M3retKeySpec xray_keys[] = {
  M3RET_READERS_COMMON_KEYS (XraySettings, "0.5,0.5,0.5", "0.25,0.25,0.25", "x", "0.1"),
  M3RET_KEY_END
};

static gpointer
xray_create (const M3retConfig *config, GError **error)
{
  XraySettings set;
  if (!m3ret_config_fill (config, xray_keys, &set, error))
    return NULL;
  Xray *self = g_new0 (Xray, 1);
  if (!m3ret_readers_read_common_keys (config, &set.common, FALSE, &self->common, error)) {
    g_free (self);
    return NULL;
  }
  return self;
}

static guint
xray_probe (const gchar *path, const guint8 *head, gsize head_len)
{
  M3retReadersJpegInfo jpeg;
  if (m3ret_readers_jpeg_sniff (head, head_len, &jpeg))
    return jpeg.channels == 3 ? 10 : 60;
  guint dicom = m3ret_readers_dicom_probe (path, head, head_len, "xray", 95);
  if (dicom > 0)
    return dicom;
  M3retReadersPngInfo png;
  if (!m3ret_readers_png_sniff (head, head_len, &png))
    return 0;
  if (png.color_type == PNG_COLOR_TYPE_GRAY || png.color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
    return png.bit_depth == 16 ? 80 : 40;
  return 10;
}

static M3retLayout
xray_layout (gpointer self, const gchar *path, GError **error)
{
  /* An XA or RF run in one DICOM object is a sequence of frames. */
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_layout (path);
  return M3RET_LAYOUT_IMAGE;
}

static gboolean
xray_read (gpointer self, const gchar *path, const M3retView *views, guint n_views,
           M3retSample **out, GError **error)
{
  Xray *x = self;
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_read_views (NULL, path, &x->common.limits, &x->common.options, 1,
                                           views, n_views, out, error);
  if (m3ret_readers_jpeg_sniff_file (path))
    return m3ret_readers_jpeg_read_views (path, &x->common.limits, &x->common.options, views,
                                          n_views, out, error);
  return m3ret_readers_png_read_views (path, &x->common.limits, &x->common.options, views,
                                       n_views, out, error);
}

static gboolean
xray_inspect (gpointer self, const gchar *path, M3retInspectInfo *info, GError **error)
{
  Xray *x = self;
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_inspect (path, &x->common.limits, M3RET_READERS_DICOM_UNIT_RANGE,
                                        info, error);
  if (m3ret_readers_jpeg_sniff_file (path))
    return m3ret_readers_jpeg_inspect (path, &x->common.limits, info, error);
  return m3ret_readers_png_inspect (path, &x->common.limits, info, error);
}

static const M3retModalityVTable xray_vtable = {
  .create = xray_create,
  .destroy = g_free,
  .probe = xray_probe,
  .layout = xray_layout,
  .read = xray_read,
  .inspect = xray_inspect,
  .set_limits = m3ret_readers_set_limits,
  /* says why a DICOM object no modality claims is refused */
  .refusal = m3ret_readers_dicom_refusal,
  .attribute = m3ret_readers_attribute,
  .series_key = m3ret_readers_still_series_key,
};

M3RET_PLUGIN_DEFINE (xray, M3RET_PLUGIN_MODALITY, PACKAGE_VERSION,
                     "X-ray radiographs: grey PNG (8/16-bit), JPEG or DICOM (CR, DX, MG, XA, RF) as 2D stills, bit depth to [0,1]",
                     "MIT", xray_keys, NULL, &xray_vtable)
