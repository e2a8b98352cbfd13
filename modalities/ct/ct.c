/* ct.c — CT volumes in Hounsfield units: NIfTI-1/2 (.nii or .nii.gz), DICOM
 * objects (Modality CT) and DICOM series (a folder, or FOLDER#SERIES_UID).
 *
 * Intensities: the HU window maps to [0,1] (clamped).  The volume is
 * reoriented to RAS so T runs along the superior axis (axial slices), and
 * resampled to T×size×size with its voxel spacing respected in-plane.
 * DICOM pixels pass through the Modality LUT, so the window is in HU there
 * too; a DICOM object says its modality, so its probe is near certain (95).
 */
#include "config.h"

#include "m3ret-readers.h"

typedef struct {
  M3retReadersCommon common; /* first: m3ret_readers_set_limits() relies on it */
  guint64 volume;
  M3retReadersVolumeCache *cache;
  gdouble low, high;
} Ct;

/* ct_keys as m3ret_config_fill() writes them. */
typedef struct {
  gdouble window[2];
  gint64 volume;
  gint64 cache_mb;
  M3retReadersCommonSettings common;
} CtSettings;

static const M3retKeySpec ct_keys[] = {
  M3RET_KEY_DOUBLE_LIST_FIELD (CtSettings, window, "window", "-1000,1000", 2, -1e5, 1e5,
                               "HU window low,high mapped to [0,1]"),
  M3RET_KEY_INT_FIELD (CtSettings, volume, "volume", "0", 0, 1e9, "4D files: which volume to read"),
  M3RET_READERS_CACHE_KEY (CtSettings, "256"),
  M3RET_READERS_COMMON_KEYS (CtSettings, "0.5,0.5,0.5", "0.25,0.25,0.25", "x", "0.1"),
  M3RET_KEY_END
};

static gpointer
ct_create (const M3retConfig *config, GError **error)
{
  CtSettings set;
  if (!m3ret_config_fill (config, ct_keys, &set, error))
    return NULL;
  Ct *self = g_new0 (Ct, 1);
  const gdouble *window = set.window;
  if (!m3ret_readers_read_common_keys (config, &set.common, TRUE, &self->common, error)) {
    g_free (self);
    return NULL;
  }
  if (!(window[1] > window[0])) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_BAD_VALUE, "window",
                            "give low,high with high > low");
    g_free (self);
    return NULL;
  }
  self->low = window[0];
  self->high = window[1];
  self->volume = (guint64) set.volume;
  self->cache = m3ret_readers_volume_cache_new ((guint64) set.cache_mb << 20);
  return self;
}

static void
ct_destroy (gpointer self)
{
  Ct *ct = self;
  if (ct == NULL)
    return;
  m3ret_readers_volume_cache_free (ct->cache);
  g_free (ct);
}

static guint
ct_probe (const gchar *path, const guint8 *head, gsize head_len)
{
  /* MRI reads the same format: 40 there (a close call: inspect and the
   * commands say so), or 90 when the path says MRI. */
  if (m3ret_readers_nifti_sniff (path, head, head_len))
    return 60;
  return m3ret_readers_dicom_probe (path, head, head_len, "ct", 95);
}

static M3retLayout
ct_layout (gpointer self, const gchar *path, GError **error)
{
  return M3RET_LAYOUT_SEQUENCE;
}

/* The whole volume, windowed: what every view of the file is cut from. */
static M3retVolume *
ct_decode (gpointer self, const gchar *path, GError **error)
{
  Ct *ct = self;
  M3retVolume *vol =
    m3ret_readers_dicom_sniff_file (path)
      ? m3ret_readers_dicom_read (path, &ct->common.limits, M3RET_READERS_DICOM_MODALITY_UNITS,
                                  NULL, error)
      : m3ret_readers_nifti_read (path, ct->volume, &ct->common.limits, NULL, error);
  if (vol != NULL)
    m3ret_volume_window (vol, ct->low, ct->high);
  return vol;
}

static gboolean
ct_read (gpointer self, const gchar *path, const M3retView *views, guint n_views,
         M3retSample **out, GError **error)
{
  Ct *ct = self;
  return m3ret_readers_cached_read_views (ct->cache, path, ct_decode, ct, M3RET_LAYOUT_SEQUENCE,
                                          &ct->common.options, views, n_views, out, error);
}

static gboolean
ct_inspect (gpointer self, const gchar *path, M3retInspectInfo *info, GError **error)
{
  Ct *ct = self;
  gboolean ok = m3ret_readers_dicom_sniff_file (path)
                  ? m3ret_readers_dicom_inspect (path, &ct->common.limits,
                                                 M3RET_READERS_DICOM_MODALITY_UNITS, info, error)
                  : m3ret_readers_nifti_inspect (path, ct->volume, &ct->common.limits, info, error);
  if (!ok)
    return FALSE;
  m3ret_readers_add_note (info, "window [%g, %g] HU maps to [0,1]", ct->low, ct->high);
  return TRUE;
}

static const M3retModalityVTable ct_vtable = {
  .create = ct_create,
  .destroy = ct_destroy,
  .probe = ct_probe,
  .layout = ct_layout,
  .read = ct_read,
  .inspect = ct_inspect,
  .set_limits = m3ret_readers_set_limits,
  .attribute = m3ret_readers_attribute,
  .series_key = m3ret_readers_volume_series_key,
};

M3RET_PLUGIN_DEFINE (ct, M3RET_PLUGIN_MODALITY, PACKAGE_VERSION,
                     "CT volumes in HU (NIfTI-1/2 .nii/.nii.gz, DICOM objects and series): HU window to [0,1], T axial slices",
                     "MIT", ct_keys, NULL, &ct_vtable)
