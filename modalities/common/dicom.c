/* dicom.c — DICOM objects and series as M3retVolumes (GDCM through dicom-gdcm.cxx).
 *
 * One object: its header is read first and checked against the run's
 * limits, then its pixels are decoded.  Grey pixels keep the units of the
 * Modality LUT (CT in HU) or are scaled to [0,1] by the range the stored
 * bits can hold, MONOCHROME1 inverted; colour is RGB in [0,1].  Frames of a
 * multi-frame object are the depth of the volume.
 *
 * A series (series.c) is a folder of single-slice objects; here is what
 * both share: the modality mapping and the probe.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "dicom-private.h"

gboolean
m3ret_readers_dicom_sniff (const guint8 *head, gsize head_len)
{
  if (head_len >= 132 && memcmp (head + 128, "DICM", 4) == 0)
    return TRUE;
  /* Without the Part 10 preamble: a data set starting with group 0008 in
   * little endian, explicit (two VR letters) or implicit (a 4-byte length). */
  if (head_len < 8 || head[0] != 0x08 || head[1] != 0x00 || head[3] != 0x00)
    return FALSE;
  gboolean explicit_vr = g_ascii_isupper (head[4]) && g_ascii_isupper (head[5]);
  guint32 implicit_len = (guint32) head[4] | (guint32) head[5] << 8 | (guint32) head[6] << 16
                         | (guint32) head[7] << 24;
  return explicit_vr || implicit_len < 1024;
}

/* The DICOM Modality attribute to the plugin that reads it (PS3.3 C.7.3.1.1.1). */
static const struct {
  const gchar *dicom;
  const gchar *plugin;
} modality_map[] = {
  { "CT", "ct" },        { "MR", "mri" },        { "CR", "xray" }, { "DX", "xray" },
  { "MG", "xray" },      { "XA", "xray" },       { "RF", "xray" }, { "PX", "xray" },
  { "IO", "xray" },      { "US", "ultrasound" }, { "IVUS", "ultrasound" },
  { "ES", "endoscopy" }, { "XC", "endoscopy" },  { "GM", "endoscopy" },
};

const gchar *
m3ret_readers_dicom_plugin_for (const gchar *dicom_modality)
{
  for (guint i = 0; i < G_N_ELEMENTS (modality_map); i++)
    if (g_ascii_strcasecmp (modality_map[i].dicom, dicom_modality) == 0)
      return modality_map[i].plugin;
  return NULL;
}

/* Objects that are DICOM but not images, refused by name. */
static const gchar *
non_image_kind (const gchar *modality)
{
  static const gchar *const kinds[] = { "SR", "RTSTRUCT", "RTPLAN", "RTRECORD", "PR", "KO",
                                        "DOC", "ECG", "HD", "AU", "REG", "SEG", "RWV", NULL };
  for (guint i = 0; kinds[i]; i++)
    if (g_ascii_strcasecmp (kinds[i], modality) == 0)
      return kinds[i];
  return NULL;
}

gboolean
dicom_read_header (const gchar *path, const gchar *label_keyword, ReadersDicomHeader *h,
                   GError **error)
{
  gchar *reason = NULL;
  gboolean has_pixels = FALSE;
  if (!dicom_guard (path, &has_pixels, &reason)
      || !readers_dicom_gdcm_header (path, label_keyword, h, &reason)) {
    memset (h, 0, sizeof *h);
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT, "%s: %s", path, reason);
    g_free (reason);
    return FALSE;
  }
  h->has_pixels = has_pixels;
  return TRUE;
}

gboolean
dicom_check_image (const gchar *path, const ReadersDicomHeader *h, GError **error)
{
  const gchar *kind = non_image_kind (h->modality);
  if (!h->has_pixels || kind != NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "%s: a DICOM %s object without pixel data, not an image", path,
                 kind != NULL ? kind : (h->modality[0] ? h->modality : "(no Modality)"));
    return FALSE;
  }
  if (h->rows == 0 || h->cols == 0 || h->bits_allocated == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT,
                 "%s: DICOM header lacks Rows, Columns or Bits Allocated", path);
    return FALSE;
  }
  /* The pixel format, checked before GDCM decodes: its Debian build
   * asserts (aborts) on some values the standard rules out. */
  static const gchar *const photometrics[] = { "MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL",
                                               "YBR_FULL_422", "PALETTE COLOR", "YBR_ICT",
                                               "YBR_RCT", NULL };
  gboolean colour = h->samples == 3;
  gboolean known = FALSE;
  for (guint i = 0; photometrics[i] && !known; i++)
    known = strcmp (h->photometric, photometrics[i]) == 0;
  gboolean grey_like = g_str_has_prefix (h->photometric, "MONOCHROME")
                       || strcmp (h->photometric, "PALETTE COLOR") == 0;
  const gchar *bad = NULL;
  if (h->bits_allocated != 8 && h->bits_allocated != 16 && h->bits_allocated != 32)
    bad = "Bits Allocated is not 8, 16 or 32";
  else if (h->bits_stored == 0 || h->bits_stored > h->bits_allocated)
    bad = "Bits Stored is 0 or more than Bits Allocated";
  else if (h->high_bit >= h->bits_allocated || h->high_bit + 1 < h->bits_stored)
    bad = "High Bit does not fit Bits Stored and Bits Allocated";
  else if (h->samples != 1 && h->samples != 3)
    bad = "Samples per Pixel is not 1 or 3";
  else if (h->planar > 1)
    bad = "Planar Configuration is not 0 or 1";
  else if (!known)
    bad = "its Photometric Interpretation is not MONOCHROME1/2, RGB, YBR_FULL(_422), "
          "YBR_ICT/RCT or PALETTE COLOR";
  else if (grey_like == colour)
    bad = "its Photometric Interpretation does not match its Samples per Pixel";
  if (bad != NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED, "%s: DICOM pixel format: %s",
                 path, bad);
    return FALSE;
  }
  return TRUE;
}

const gchar *
m3ret_readers_dicom_plugin_of (const gchar *path, GError **error)
{
  ReadersDicomHeader h;
  g_autofree gchar *folder = NULL, *selector = NULL;
  if (m3ret_readers_dicom_series_path (path, &folder, &selector)) {
    g_autofree gchar *first = dicom_series_first_file (folder, selector, error);
    if (first == NULL)
      return NULL;
    return m3ret_readers_dicom_plugin_of (first, error);
  }
  if (!dicom_read_header (path, NULL, &h, error))
    return NULL;
  const gchar *plugin = NULL;
  if (dicom_check_image (path, &h, error)) {
    plugin = m3ret_readers_dicom_plugin_for (h.modality);
    if (plugin == NULL)
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                   "%s: DICOM Modality '%s' is read by no m3ret modality (CT, MR, CR, DX, MG, "
                   "XA, RF, US, ES, XC are); name one with a 'modality' column",
                   path, h.modality[0] ? h.modality : "(none)");
  }
  readers_dicom_header_clear (&h);
  return plugin;
}

/* The last path probed and its plugin: every modality plugin probes the
 * same input in turn, and a series would otherwise be scanned once per
 * plugin.  Keyed by the path and its stamp, so a changed file is read again. */
static struct {
  GMutex lock;
  gchar *path;
  gint64 size, mtime;
  const gchar *plugin;
} memo;

static const gchar *
plugin_of_memo (const gchar *path)
{
  gint64 size = -1, mtime = -1;
  readers_file_stamp (path, &size, &mtime);
  g_mutex_lock (&memo.lock);
  if (memo.path != NULL && strcmp (memo.path, path) == 0 && memo.size == size
      && memo.mtime == mtime) {
    const gchar *plugin = memo.plugin;
    g_mutex_unlock (&memo.lock);
    return plugin;
  }
  g_mutex_unlock (&memo.lock);
  const gchar *plugin = m3ret_readers_dicom_plugin_of (path, NULL);
  g_mutex_lock (&memo.lock);
  g_free (memo.path);
  memo.path = g_strdup (path);
  memo.size = size;
  memo.mtime = mtime;
  memo.plugin = plugin;
  g_mutex_unlock (&memo.lock);
  return plugin;
}

guint
m3ret_readers_dicom_probe (const gchar *path, const guint8 *head, gsize head_len,
                           const gchar *plugin, guint score)
{
  /* A folder (head_len 0) may be a series; a file must look like DICOM. */
  if (head_len > 0 && !m3ret_readers_dicom_sniff (head, head_len))
    return 0;
  if (head_len == 0 && !m3ret_readers_dicom_series_path (path, NULL, NULL))
    return 0;
  const gchar *mine = plugin_of_memo (path);
  return mine != NULL && strcmp (mine, plugin) == 0 ? score : 0;
}

gchar *
m3ret_readers_dicom_refusal (const gchar *path, const guint8 *head, gsize head_len)
{
  if (head_len > 0 ? !m3ret_readers_dicom_sniff (head, head_len)
                   : !m3ret_readers_dicom_series_path (path, NULL, NULL))
    return NULL;
  GError *error = NULL;
  if (m3ret_readers_dicom_plugin_of (path, &error) != NULL)
    return NULL;
  /* The message names the path already; the core adds it again. */
  const gchar *why = error->message;
  if (g_str_has_prefix (why, path) && why[strlen (path)] == ':')
    why += strlen (path) + 2;
  gchar *text = g_strdup (why);
  g_error_free (error);
  return text;
}

gboolean
m3ret_readers_dicom_sniff_file (const gchar *path)
{
  if (m3ret_readers_dicom_series_path (path, NULL, NULL))
    return TRUE;
  guint8 head[132];
  FILE *f = g_fopen (path, "rb");
  if (f == NULL)
    return FALSE;
  gsize len = fread (head, 1, sizeof head, f);
  fclose (f);
  return m3ret_readers_dicom_sniff (head, len);
}

/* A DICOM object or series decoded for a 2D or sequence modality: grey
 * scaled to [0,1] by its stored range, colour as RGB. */
static M3retVolume *
decode_unit_range (gpointer limits, const gchar *path, GError **error)
{
  return m3ret_readers_dicom_read (path, limits, M3RET_READERS_DICOM_UNIT_RANGE, NULL, error);
}

gboolean
m3ret_readers_dicom_read_views (M3retReadersVolumeCache *cache, const gchar *path,
                                const M3retLimits *limits, const M3retRenderOptions *options,
                                guint stride, const M3retView *views, guint n_views,
                                M3retSample **out, GError **error)
{
  ReadersCachedVolume *kept = readers_volume_cache_lookup (cache, path);
  if (kept == NULL) {
    M3retVolume *decoded = decode_unit_range ((gpointer) limits, path, error);
    if (decoded == NULL)
      return FALSE;
    kept = readers_volume_cache_insert (cache, path, decoded);
  }
  const M3retVolume *vol = readers_cached_volume_get (kept);
  if (vol->depth == 1) {
    m3ret_readers_render_views (vol, M3RET_LAYOUT_IMAGE, options, views, n_views, out);
  } else {
    /* Frames of a cine loop or run, picked as a video's are. */
    for (guint i = 0; i < n_views; i++) {
      g_autofree guint64 *picks = g_new (guint64, views[i].depth);
      g_autofree guint *slots = g_new (guint, views[i].depth);
      m3ret_select_frames (vol->depth, views[i].depth, stride, &views[i], picks);
      for (guint t = 0; t < views[i].depth; t++)
        slots[t] = (guint) picks[t];
      out[i] = m3ret_render_frames (vol, slots, views[i].depth, &views[i], options);
    }
  }
  readers_cached_volume_unref (kept);
  return TRUE;
}

gboolean
dicom_check_limits (const gchar *path, const ReadersDicomHeader *h, guint64 depth,
                    gboolean volume, const M3retLimits *limits, GError **error)
{
  if (!m3ret_limits_check_frame (limits, path, "a frame", h->cols, h->rows, error))
    return FALSE;
  if (volume)
    return m3ret_limits_check_volume (limits, path, h->cols, h->rows, depth, error);
  return m3ret_limits_check_frames (limits, path, depth, error);
}

guint
dicom_channels (const ReadersDicomHeader *h)
{
  return h->samples == 3 || g_str_has_prefix (h->photometric, "PALETTE") ? 3 : 1;
}

gfloat *
dicom_decode (const gchar *path, const ReadersDicomHeader *h, M3retReadersDicomUnits units,
              GError **error)
{
  guint channels = dicom_channels (h);
  gsize n = (gsize) channels * h->frames * h->rows * h->cols;
  gfloat *values = g_try_new (gfloat, n);
  if (values == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_TOO_LARGE,
                 "%s: cannot allocate %" G_GSIZE_FORMAT " values", path, n);
    return NULL;
  }
  gchar *reason = NULL;
  guint got = 0;
  gdouble lo = 0, hi = 1;
  if (!readers_dicom_gdcm_decode (path, h, values, &got, &lo, &hi, &reason)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_CORRUPT, "%s: %s", path, reason);
    g_free (reason);
    g_free (values);
    return NULL;
  }
  g_assert (got == channels);
  gboolean invert = strcmp (h->photometric, "MONOCHROME1") == 0;
  if (units == M3RET_READERS_DICOM_UNIT_RANGE || channels == 3) {
    gdouble scale = hi > lo ? 1.0 / (hi - lo) : 1.0;
    for (gsize i = 0; i < n; i++) {
      gdouble v = CLAMP ((values[i] - lo) * scale, 0.0, 1.0);
      values[i] = (gfloat) (invert ? 1.0 - v : v);
    }
  } else if (invert) {
    for (gsize i = 0; i < n; i++)
      values[i] = (gfloat) (hi + lo - values[i]);
  }
  return values;
}

M3retVolume *
m3ret_readers_dicom_read (const gchar *path, const M3retLimits *limits,
                          M3retReadersDicomUnits units, M3retReadersDicomInfo *info,
                          GError **error)
{
  M3retReadersDicomInfo local;
  if (info == NULL)
    info = &local;
  memset (info, 0, sizeof *info);
  g_autofree gchar *folder = NULL, *selector = NULL;
  if (m3ret_readers_dicom_series_path (path, &folder, &selector))
    return dicom_series_read (path, folder, selector, limits, units, info, error);
  if (!m3ret_limits_check_file (limits, path, error))
    return NULL;
  ReadersDicomHeader h;
  if (!dicom_read_header (path, NULL, &h, error))
    return NULL;
  M3retVolume *vol = NULL;
  gboolean volume = g_strcmp0 (m3ret_readers_dicom_plugin_for (h.modality), "ct") == 0
                    || g_strcmp0 (m3ret_readers_dicom_plugin_for (h.modality), "mri") == 0;
  if (dicom_check_image (path, &h, error)
      && dicom_check_limits (path, &h, h.frames, volume, limits, error)) {
    gfloat *values = dicom_decode (path, &h, units, error);
    if (values != NULL) {
      vol = g_new0 (M3retVolume, 1);
      vol->channels = dicom_channels (&h);
      vol->depth = h.frames;
      vol->height = h.rows;
      vol->width = h.cols;
      vol->spacing[0] = h.spacing[0];
      vol->spacing[1] = h.spacing[1];
      vol->spacing[2] = 1;
      vol->data = values;
      /* An enhanced CT/MR object's frames are slices: spacing from their
       * positions, as for a series. */
      if (h.frame_positions != NULL && h.has_orientation && h.frames > 1)
        vol->spacing[2] = dicom_slice_distance (h.orientation, h.frame_positions,
                                                h.frame_positions + 3);
    }
  }
  dicom_fill_info (info, &h, vol, 1);
  readers_dicom_header_clear (&h);
  return vol;
}

gdouble
dicom_slice_distance (const gdouble *orientation, const gdouble *a, const gdouble *b)
{
  gdouble n[3];
  dicom_normal (orientation, n);
  gdouble d = 0;
  for (guint i = 0; i < 3; i++)
    d += (b[i] - a[i]) * n[i];
  d = fabs (d);
  return d > 0 && isfinite (d) ? d : 1;
}

void
dicom_normal (const gdouble *o, gdouble *n)
{
  n[0] = o[1] * o[5] - o[2] * o[4];
  n[1] = o[2] * o[3] - o[0] * o[5];
  n[2] = o[0] * o[4] - o[1] * o[3];
}

void
dicom_fill_info (M3retReadersDicomInfo *info, const ReadersDicomHeader *h,
                 const M3retVolume *vol, guint n_files)
{
  g_strlcpy (info->modality, h->modality, sizeof info->modality);
  info->plugin = m3ret_readers_dicom_plugin_for (h->modality);
  g_strlcpy (info->syntax, h->syntax_name != NULL ? h->syntax_name : "", sizeof info->syntax);
  g_strlcpy (info->photometric, h->photometric, sizeof info->photometric);
  info->width = h->cols;
  info->height = h->rows;
  info->frames = vol != NULL ? vol->depth : h->frames;
  info->channels = dicom_channels (h);
  info->n_files = n_files;
  info->bits_allocated = h->bits_allocated;
  info->bits_stored = h->bits_stored;
  info->is_signed = h->is_signed;
  info->slope = h->slope;
  info->intercept = h->intercept;
  info->spacing_from = h->spacing_from;
  info->frame_time_ms = h->frame_time_ms;
  if (vol != NULL) {
    info->width = vol->width;
    info->height = vol->height;
    memcpy (info->spacing, vol->spacing, sizeof info->spacing);
  }
}

M3retLayout
m3ret_readers_dicom_layout (const gchar *path)
{
  if (m3ret_readers_dicom_series_path (path, NULL, NULL))
    return M3RET_LAYOUT_SEQUENCE;
  ReadersDicomHeader h;
  if (!dicom_read_header (path, NULL, &h, NULL))
    return M3RET_LAYOUT_IMAGE;
  M3retLayout layout = h.frames > 1 ? M3RET_LAYOUT_SEQUENCE : M3RET_LAYOUT_IMAGE;
  readers_dicom_header_clear (&h);
  return layout;
}

gboolean
m3ret_readers_dicom_inspect (const gchar *path, const M3retLimits *limits,
                             M3retReadersDicomUnits units, M3retInspectInfo *info, GError **error)
{
  M3retReadersDicomInfo d;
  g_autoptr (M3retVolume) vol = m3ret_readers_dicom_read (path, limits, units, &d, error);
  if (vol == NULL)
    return FALSE;
  info->format = d.n_files > 1
                   ? g_strdup_printf ("DICOM series of %u files (%s)", d.n_files, d.syntax)
                   : g_strdup_printf ("DICOM %s (%s)", d.modality, d.syntax);
  info->datatype = g_strdup_printf ("%s%u (%u bits stored)", d.is_signed ? "int" : "uint",
                                    d.bits_allocated, d.bits_stored);
  info->width = vol->width;
  info->height = vol->height;
  info->depth = d.n_files > 1 || g_strcmp0 (d.plugin, "ct") == 0
                    || g_strcmp0 (d.plugin, "mri") == 0
                  ? vol->depth
                  : 1;
  info->frames = info->depth > 1 ? 1 : vol->depth;
  info->channels = vol->channels;
  info->fps = d.frame_time_ms > 0 ? 1000.0 / d.frame_time_ms : 0;
  memcpy (info->spacing, vol->spacing, sizeof info->spacing);
  if (d.orientation[0])
    info->orientation = g_strdup (d.orientation);
  m3ret_readers_fill_stats (info, vol);
  m3ret_readers_add_note (info, "modality: %s (DICOM %s)", d.plugin ? d.plugin : "none",
                          d.modality[0] ? d.modality : "(absent)");
  m3ret_readers_add_note (info, "photometric: %s", d.photometric);
  if (d.slope != 1 || d.intercept != 0)
    m3ret_readers_add_note (info, "rescale: slope %g, intercept %g", d.slope, d.intercept);
  m3ret_readers_add_note (info, "pixel spacing from: %s",
                          d.spacing_from ? d.spacing_from : "none (1 mm)");
  m3ret_readers_add_note (info, "intensities: %s",
                          units == M3RET_READERS_DICOM_UNIT_RANGE || vol->channels == 3
                            ? "stored range scaled to [0,1]"
                            : "Modality LUT units (CT: HU)");
  return TRUE;
}

gboolean
m3ret_readers_dicom_keyword_known (const gchar *keyword)
{
  return keyword != NULL && *keyword != '\0' && readers_dicom_gdcm_keyword_known (keyword);
}

gchar *
m3ret_readers_dicom_attribute (const gchar *path, const gchar *keyword, GError **error)
{
  if (!m3ret_readers_dicom_keyword_known (keyword)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "'%s' is not a keyword of the DICOM dictionary (e.g. BodyPartExamined)",
                 keyword ? keyword : "");
    return NULL;
  }
  ReadersDicomHeader h;
  if (!dicom_read_header (path, keyword, &h, error))
    return NULL;
  gchar *value = g_strdup (h.label != NULL ? g_strstrip (h.label) : "");
  readers_dicom_header_clear (&h);
  return value;
}
