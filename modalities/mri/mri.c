/* mri.c — MRI volumes (NIfTI-1, .nii or .nii.gz), any scalar datatype.
 *
 * Intensities have no absolute scale, so the 0.5 and 99.5 percentiles of
 * the volume map to 0 and 1 (clamped).  Orientation and resampling as CT.
 * Probe: NIfTI is CT's (60) unless the path says MRI ("mri", "t1w", "t2w",
 * "flair" anywhere in it, e.g. a mri/ folder): then 70 here, else 40.  The
 * manifest's modality column overrides the probe.
 */
#include "config.h"

#include "m3ret-readers.h"

typedef struct {
  M3retReadersCommon common; /* first: m3ret_readers_set_limits() relies on it */
  guint64 volume;
  M3retReadersVolumeCache *cache;
  gdouble p_low, p_high;
} Mri;

/* mri_keys as m3ret_config_fill() writes them. */
typedef struct {
  gdouble percentiles[2];
  gint64 volume;
  gint64 cache_mb;
  M3retReadersCommonSettings common;
} MriSettings;

static const M3retKeySpec mri_keys[] = {
  M3RET_KEY_DOUBLE_LIST_FIELD (MriSettings, percentiles, "percentiles", "0.5,99.5", 2, 0, 100,
                               "percentiles of the volume mapped to 0 and 1"),
  M3RET_KEY_INT_FIELD (MriSettings, volume, "volume", "0", 0, 1e9,
                       "4D files: which volume to read"),
  M3RET_READERS_CACHE_KEY (MriSettings, "256"),
  M3RET_READERS_COMMON_KEYS (MriSettings, "0.5,0.5,0.5", "0.25,0.25,0.25", "x", "0.1"),
  M3RET_KEY_END
};

static gpointer
mri_create (const M3retConfig *config, GError **error)
{
  MriSettings set;
  if (!m3ret_config_fill (config, mri_keys, &set, error))
    return NULL;
  Mri *self = g_new0 (Mri, 1);
  const gdouble *p = set.percentiles;
  if (!m3ret_readers_read_common_keys (config, &set.common, TRUE, &self->common, error)) {
    g_free (self);
    return NULL;
  }
  if (!(p[1] > p[0])) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_BAD_VALUE, "percentiles",
                            "give low,high with high > low");
    g_free (self);
    return NULL;
  }
  self->p_low = p[0];
  self->p_high = p[1];
  self->volume = (guint64) set.volume;
  self->cache = m3ret_readers_volume_cache_new ((guint64) set.cache_mb << 20);
  return self;
}

static void
mri_destroy (gpointer self)
{
  Mri *mri = self;
  if (mri == NULL)
    return;
  m3ret_readers_volume_cache_free (mri->cache);
  g_free (mri);
}

static guint
mri_probe (const gchar *path, const guint8 *head, gsize head_len)
{
  static const gchar *const words[] = { "mri", "t1w", "t2w", "flair", NULL };
  if (!m3ret_readers_nifti_sniff (path, head, head_len))
    return m3ret_readers_dicom_probe (path, head, head_len, "mri", 95);
  /* A word in the path is meant to decide (90 clears ct's 60 by more than
   * M3RET_PROBE_CLOSE_MARGIN); without one a NIfTI file is a guess. */
  return m3ret_readers_path_mentions (path, words) ? 90 : 40;
}

static M3retLayout
mri_layout (gpointer self, const gchar *path, GError **error)
{
  return M3RET_LAYOUT_SEQUENCE;
}

/* Percentiles over at most this many voxels (a regular subsample beyond):
 * 2^18 pins the 0.5/99.5 percentiles far below an intensity step of the
 * output, and the copy and selection over them were about 60 % of a cold
 * read of a 128²×64 volume at 2^22 (perf). */
#define PERCENTILE_SAMPLE (1u << 18)

/* The whole volume, percentiles mapped to [0,1]: what every view is cut from. */
static M3retVolume *
mri_decode (gpointer self, const gchar *path, GError **error)
{
  Mri *mri = self;
  M3retVolume *vol =
    m3ret_readers_dicom_sniff_file (path)
      ? m3ret_readers_dicom_read (path, &mri->common.limits, M3RET_READERS_DICOM_MODALITY_UNITS,
                                  NULL, error)
      : m3ret_readers_nifti_read (path, mri->volume, &mri->common.limits, NULL, error);
  if (vol == NULL)
    return NULL;
  gdouble low, high;
  m3ret_volume_percentiles (vol, mri->p_low, mri->p_high, PERCENTILE_SAMPLE, &low, &high);
  m3ret_volume_window (vol, low, high);
  return vol;
}

static gboolean
mri_read (gpointer self, const gchar *path, const M3retView *views, guint n_views,
          M3retSample **out, GError **error)
{
  Mri *mri = self;
  return m3ret_readers_cached_read_views (mri->cache, path, mri_decode, mri, M3RET_LAYOUT_SEQUENCE,
                                          &mri->common.options, views, n_views, out, error);
}

static gboolean
mri_inspect (gpointer self, const gchar *path, M3retInspectInfo *info, GError **error)
{
  Mri *mri = self;
  if (m3ret_readers_dicom_sniff_file (path))
    return m3ret_readers_dicom_inspect (path, &mri->common.limits,
                                        M3RET_READERS_DICOM_MODALITY_UNITS, info, error);
  return m3ret_readers_nifti_inspect (path, mri->volume, &mri->common.limits, info, error);
}

static const M3retModalityVTable mri_vtable = {
  .create = mri_create,
  .destroy = mri_destroy,
  .probe = mri_probe,
  .layout = mri_layout,
  .read = mri_read,
  .inspect = mri_inspect,
  .set_limits = m3ret_readers_set_limits,
  .attribute = m3ret_readers_attribute,
  .series_key = m3ret_readers_volume_series_key,
};

M3RET_PLUGIN_DEFINE (mri, M3RET_PLUGIN_MODALITY, PACKAGE_VERSION,
                     "MRI volumes (NIfTI-1/2 .nii/.nii.gz, DICOM objects and series): 0.5-99.5 percentiles to [0,1], T slices",
                     "MIT", mri_keys, NULL, &mri_vtable)
