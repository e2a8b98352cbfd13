/* m3ret-readers.h — the readers the modality plugins share (libm3ret-readers).
 *
 * Readers for the file families (PNG, JPEG, NIfTI, video), each decoding a
 * file into an M3retVolume at its own resolution with raw intensities, the
 * keys every modality declares (normalisation, augmentation) and the glue
 * around them (limits, statistics for `m3ret inspect`, a cache of decoded
 * files).  Installed with its own pkg-config file, m3ret-readers.pc, so that
 * a plugin built outside the tree reads files as the bundled ones do.
 */
#ifndef M3RET_READERS_H
#define M3RET_READERS_H

#include "m3ret-plugin.h"
#include "m3ret-render.h"
#include "m3ret-volume.h"

G_BEGIN_DECLS

/* The values of the keys every modality declares (M3RET_READERS_COMMON_KEYS),
 * as m3ret_config_fill() writes them: a member `common` of the plugin's own
 * settings struct. */
typedef struct {
  gdouble mean[3];
  gdouble std[3];
  const gchar *flips;
  gdouble jitter;
} M3retReadersCommonSettings;

/* Keys every modality declares, in this order, after its own, bound to
 * @S.common (an M3retReadersCommonSettings).  Size limits are not among
 * them: they are the run's [data] keys, given to every modality through
 * set_limits (m3ret_readers_set_limits). */
#define M3RET_READERS_COMMON_KEYS(S, mean_def, std_def, flips_def, jitter_def)                    \
  M3RET_KEY_DOUBLE_LIST_FIELD (S, common.mean, "mean", (mean_def), 3, -1e3, 1e3,                  \
                               "per-channel mean subtracted after intensities are in [0,1]"),     \
  M3RET_KEY_DOUBLE_LIST_FIELD (S, common.std, "std", (std_def), 3, 1e-6, 1e3,                     \
                               "per-channel standard deviation the value is then divided by: "   \
                               "(v - mean) / std"),                                               \
  M3RET_KEY_STRING_FIELD (S, common.flips, "flips", (flips_def),                                  \
                          "axes a training view flips with probability 1/2: "                     \
                          "none or letters of xyz"),                                              \
  M3RET_KEY_DOUBLE_FIELD (S, common.jitter, "jitter", (jitter_def), 0, 1,                         \
                          "training intensity jitter: "                                           \
                          "contrast x U(1-j,1+j), brightness + U(-j/2,j/2)")

/* What every modality instance using these readers starts with. */
typedef struct {
  M3retRenderOptions options;
  M3retLimits limits;
} M3retReadersCommon;

/* The key of the modalities that decode a whole volume or clip per read,
 * bound to the gint64 @S.cache_mb. */
#define M3RET_READERS_CACHE_KEY(S, mib)                                                           \
  M3RET_KEY_INT_FIELD (S, cache_mb, "cache_mb", (mib), 0, 1048576,                                \
                       "decoded files kept in memory for their next read, in MiB per plugin "     \
                       "(least recently used dropped first; 0: decode every read)")

/* Sets @common from the filled @settings (@config only names the key at
 * fault); the limits start at their defaults until set_limits. */
gboolean m3ret_readers_read_common_keys (const M3retConfig *config,
                                         const M3retReadersCommonSettings *settings,
                                         gboolean volumetric, M3retReadersCommon *common,
                                         GError **error);

/* The set_limits entry of a modality whose instance starts with an
 * M3retReadersCommon. */
void m3ret_readers_set_limits (gpointer self, const M3retLimits *limits);

/* Renders every view of @volume into @out (see the read() entry). */
void m3ret_readers_render_views (const M3retVolume *volume, M3retLayout layout,
                                 const M3retRenderOptions *options, const M3retView *views,
                                 guint n_views, M3retSample **out);

/* Fills the statistics of @info (min, max, mean, percentiles) from @volume. */
void m3ret_readers_fill_stats (M3retInspectInfo *info, const M3retVolume *volume);
/* Adds a line to the notes of @info. */
void m3ret_readers_add_note (M3retInspectInfo *info, const gchar *format, ...)
  G_GNUC_PRINTF (2, 3);

/* Whether @path ends with one of @suffixes (NULL-terminated), ignoring case. */
gboolean m3ret_readers_has_suffix (const gchar *path, const gchar *const *suffixes);

/* Whether @path (folders included, ignoring case) contains one of @words:
 * the probes' tie-breaker between plugins that read the same format. */
gboolean m3ret_readers_path_mentions (const gchar *path, const gchar *const *words);

/* ---- decoded volumes kept for the next read of the same file (cache.c) ---- */

typedef struct _M3retReadersVolumeCache M3retReadersVolumeCache;

/* A cache of at most @max_bytes of volume data (0: keeps nothing); thread-safe. */
M3retReadersVolumeCache *m3ret_readers_volume_cache_new (guint64 max_bytes);
void m3ret_readers_volume_cache_free (M3retReadersVolumeCache *cache);

/* Decodes @path into a volume ready to render (intensities in [0,1]).
 * Returns: (transfer full) or NULL with @error. */
typedef M3retVolume *(*M3retReadersDecodeFunc) (gpointer self, const gchar *path,
                                                GError **error);
/* Renders @views of @path from the kept volume, decoding with @decode (and
 * keeping the result) on a miss; a file whose size or modification time
 * changed is decoded again. */
gboolean m3ret_readers_cached_read_views (M3retReadersVolumeCache *cache, const gchar *path,
                                          M3retReadersDecodeFunc decode, gpointer self,
                                          M3retLayout layout, const M3retRenderOptions *options,
                                          const M3retView *views, guint n_views,
                                          M3retSample **out, GError **error);

/* ---- PNG (libpng) ---- */

typedef struct {
  guint width, height;
  guint bit_depth;    /* as stored: 1, 2, 4, 8 or 16 */
  guint color_type;   /* PNG_COLOR_TYPE_* of <png.h> */
  guint channels;     /* of the decoded volume: 1 grey, 3 colour (alpha dropped) */
  gboolean alpha_dropped; /* png_read: an alpha channel or tRNS transparency was discarded */
} M3retReadersPngInfo;

/* TRUE when @head starts with the PNG signature and an IHDR; fills @info
 * from the header bytes only. */
gboolean m3ret_readers_png_sniff (const guint8 *head, gsize head_len,
                                  M3retReadersPngInfo *info);

/* Decodes @path: grey (any bit depth) → 1 channel, colour or palette → 3,
 * alpha dropped; values scaled to [0,1] by the bit depth.  Refuses more
 * than max_pixels pixels before allocating.  Returns: (transfer full). */
M3retVolume *m3ret_readers_png_read (const gchar *path, const M3retLimits *limits,
                                     M3retReadersPngInfo *info, GError **error);

/* Decodes @path once and renders every view (a still: M3RET_LAYOUT_IMAGE). */
gboolean m3ret_readers_png_read_views (const gchar *path, const M3retLimits *limits,
                                       const M3retRenderOptions *options,
                                       const M3retView *views, guint n_views,
                                       M3retSample **out, GError **error);
/* Fills @info for `m3ret inspect`; statistics in stored units. */
gboolean m3ret_readers_png_inspect (const gchar *path, const M3retLimits *limits,
                                    M3retInspectInfo *info, GError **error);

/* ---- JPEG (libjpeg-turbo) ---- */

typedef struct {
  guint width, height;  /* as shown: after the EXIF orientation (sniff: as stored) */
  guint components;     /* in the frame header: 1 grey, 3 YCbCr/RGB, 4 CMYK */
  guint channels;       /* of the decoded volume: 1 grey, 3 RGB (sniff: 0 when no SOF in head) */
  guint orientation;    /* EXIF orientation applied, 1..8 (1: none or no EXIF) */
} M3retReadersJpegInfo;

/* TRUE when @head starts with a JPEG SOI marker (FF D8 FF); fills @info
 * from a frame header found within @head (zeros otherwise). */
gboolean m3ret_readers_jpeg_sniff (const guint8 *head, gsize head_len,
                                   M3retReadersJpegInfo *info);
/* Whether the file @path starts with a JPEG SOI marker. */
gboolean m3ret_readers_jpeg_sniff_file (const gchar *path);

/* Decodes @path (baseline, progressive, 8-bit): grey → 1 channel, YCbCr or
 * RGB → 3, values / 255, the EXIF orientation applied; spacing from the
 * JFIF density (dots per inch or cm → mm).  Refuses more than max_pixels
 * pixels right after the header, before allocating; CMYK and truncated
 * data are refused.  Returns: (transfer full). */
M3retVolume *m3ret_readers_jpeg_read (const gchar *path, const M3retLimits *limits,
                                      M3retReadersJpegInfo *info, GError **error);
/* Decodes @path once and renders every view (a still: M3RET_LAYOUT_IMAGE). */
gboolean m3ret_readers_jpeg_read_views (const gchar *path, const M3retLimits *limits,
                                        const M3retRenderOptions *options,
                                        const M3retView *views, guint n_views,
                                        M3retSample **out, GError **error);
/* Fills @info for `m3ret inspect`; statistics in stored units (0..255). */
gboolean m3ret_readers_jpeg_inspect (const gchar *path, const M3retLimits *limits,
                                     M3retInspectInfo *info, GError **error);

/* ---- NIfTI-1 and NIfTI-2 (nifticlib) ---- */

typedef struct {
  guint nx, ny, nz;          /* after reorientation */
  guint64 n_volumes;         /* product of dims 4..7 */
  gint datatype;             /* NIFTI_TYPE_* */
  gchar orientation[4];      /* e.g. "RAS": the direction each reoriented axis grows to */
  gboolean compressed;
  gdouble slope, inter;      /* as applied (1, 0 when absent) */
  const gchar *orientation_from; /* "qform", "sform", or NULL: neither code set */
  gboolean orientation_degenerate; /* the matrix gave no three distinct directions */
  guint dims_stored[3];      /* the stored axes, before reorientation */
  gdouble pixdim_stored[3];  /* pixdim[1..3] as in the header (may be ≤ 0) */
  gdouble pixdim_used[3];    /* the spacing read for each stored axis (|pixdim|, 0 → 1) */
} M3retReadersNiftiInfo;

/* Reads volume @volume_index of @path in HU/raw units (scl applied),
 * reoriented so x grows to the right, y to anterior and z to superior
 * (RAS): slices of the slowest axis are always axial for a proper header;
 * without qform or sform the axes are kept as stored.  Spacing from |pixdim|
 * (a zero or non-finite one is 1).  Refuses more than max_voxels voxels before
 * allocating.  Returns: (transfer full). */
M3retVolume *m3ret_readers_nifti_read (const gchar *path, guint64 volume_index,
                                       const M3retLimits *limits, M3retReadersNiftiInfo *info,
                                       GError **error);

/* Fills @info for `m3ret inspect` (statistics in stored units after scl). */
gboolean m3ret_readers_nifti_inspect (const gchar *path, guint64 volume_index,
                                      const M3retLimits *limits, M3retInspectInfo *info,
                                      GError **error);

/* TRUE for a NIfTI-1 header (sizeof_hdr 348, magic "n+1" or "ni1" at 344) or
 * a NIfTI-2 one (sizeof_hdr 540, magic "n+2" or "ni2" at 4), either byte
 * order, or a gzip stream with a .nii.gz name. */
gboolean m3ret_readers_nifti_sniff (const gchar *path, const guint8 *head, gsize head_len);

/* ---- video (libavformat/libavcodec/libswscale) ---- */

typedef struct {
  guint width, height;
  guint64 frames;            /* frames counted in the stream */
  gdouble fps;
  gchar *container;          /* (owned) e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
  gchar *codec;              /* (owned) e.g. "h264" */
  gchar *pix_fmt;            /* (owned) e.g. "yuv420p" */
  gint64 *pts;               /* (owned) the frames' timestamps in presentation
                                order, so frame k can be sought and recognised;
                                NULL when the stream lacks or repeats them */
} M3retReadersVideoInfo;

void m3ret_readers_video_info_clear (M3retReadersVideoInfo *info);

/* Opens @path, counts its video frames and fills @info; refuses frames over
 * max_pixels and clips over max_frames. */
gboolean m3ret_readers_video_probe_file (const gchar *path, const M3retLimits *limits,
                                         M3retReadersVideoInfo *info, GError **error);

/* Decodes the frames numbered @index[0..n) (ascending; repeats allowed)
 * of @path as RGB in [0,1]: a 3-channel volume of depth @n.  @info comes
 * from m3ret_readers_video_probe_file() with the same @limits.
 * Returns: (transfer full). */
M3retVolume *m3ret_readers_video_read (const gchar *path, const M3retReadersVideoInfo *info,
                                       const guint64 *index, guint n,
                                       const M3retLimits *limits, GError **error);

/* Whether @path names a video by extension or @head by magic bytes. */
gboolean m3ret_readers_video_sniff (const gchar *path, const guint8 *head, gsize head_len);

/* What the counting pass learns about each file, kept for the next read (the
 * same clip is read again and again in training); thread-safe.  A video
 * modality's create makes one. */
typedef struct _M3retReadersVideoCache M3retReadersVideoCache;

/* Fills @info for `m3ret inspect` (statistics over up to 16 frames); @cache
 * may be NULL. */
gboolean m3ret_readers_video_inspect (M3retReadersVideoCache *cache, const gchar *path,
                                      const M3retLimits *limits, M3retInspectInfo *info,
                                      GError **error);

/* The instance of a modality that reads videos (endoscopy, ultrasound
 * cine): render options and limits from the common keys, the training clip
 * `stride` key, and the cache of probed files. */
typedef struct {
  M3retReadersCommon common;
  guint stride;
  M3retReadersVideoCache *cache;
  M3retReadersVolumeCache *clips;      /* whole decoded clips, `cache_mb` */
} M3retReadersVideoModality;

/* Reads a video for @views: every view's frames are chosen with
 * m3ret_select_frames(stride); a clip that fits the `cache_mb` budget is
 * decoded whole once and kept, otherwise the union of the views' frames is
 * decoded for this read; each view is rendered from its own frames. */
gboolean m3ret_readers_video_read_views (const M3retReadersVideoModality *m, const gchar *path,
                                         const M3retView *views, guint n_views,
                                         M3retSample **out, GError **error);

/* The settings of such a modality: its @keys bind `stride` (an INT) and
 * M3RET_READERS_CACHE_KEY and M3RET_READERS_COMMON_KEYS to this struct. */
typedef struct {
  gint64 stride;
  gint64 cache_mb;
  M3retReadersCommonSettings common;
} M3retReadersVideoSettings;

/* create (with the plugin's @keys) and destroy entries for such a modality. */
gpointer m3ret_readers_video_modality_create (const M3retConfig *config,
                                              const M3retKeySpec *keys, GError **error);
void m3ret_readers_video_modality_destroy (gpointer self);

/* Silences FFmpeg's own logging; call from a plugin's init. */
void m3ret_readers_video_global_init (void);

/* ---- DICOM (GDCM): single objects, multi-frame objects, series ---- */

/* How grey pixels come out of the DICOM reader. */
typedef enum {
  /* the units of the Modality LUT (Rescale Slope/Intercept: CT in HU) */
  M3RET_READERS_DICOM_MODALITY_UNITS,
  /* the range the stored bits can hold, scaled to [0,1] */
  M3RET_READERS_DICOM_UNIT_RANGE,
} M3retReadersDicomUnits;

typedef struct {
  gchar modality[17];        /* the Modality attribute (0008,0060) */
  const gchar *plugin;       /* the m3ret modality it maps to, or NULL */
  gchar syntax[48];          /* transfer syntax, e.g. "JPEG-LS lossless" */
  gchar photometric[20];     /* as stored, e.g. "MONOCHROME1" */
  guint width, height;       /* of the volume read */
  guint frames;              /* frames of one object, or slices of a series */
  guint channels;            /* 1 grey, 3 colour */
  guint n_files;             /* 1, or the files of a series */
  guint bits_allocated, bits_stored;
  gboolean is_signed;
  gdouble slope, intercept;  /* the Modality LUT applied */
  gdouble spacing[3];        /* mm along x, y, z of the volume read */
  const gchar *spacing_from; /* "Pixel Spacing", "Imager Pixel Spacing", … or NULL (1 mm) */
  gdouble frame_time_ms;     /* multi-frame objects: Frame Time (0 when absent) */
  gchar orientation[4];      /* series: "RAS" once reoriented; "" otherwise */
} M3retReadersDicomInfo;

/* TRUE when @head holds a DICOM Part 10 preamble ("DICM" at 128) or starts
 * like a bare little-endian data set. */
gboolean m3ret_readers_dicom_sniff (const guint8 *head, gsize head_len);

/* The m3ret modality that reads DICOM Modality @dicom_modality: CT → ct,
 * MR → mri, CR/DX/MG/XA/RF/PX/IO → xray, US/IVUS → ultrasound, ES/XC/GM →
 * endoscopy; NULL for any other. */
const gchar *m3ret_readers_dicom_plugin_for (const gchar *dicom_modality);

/* Whether @path names a series: an existing folder, or FOLDER#SERIES_UID
 * (a folder holding several series).  @folder and @selector (may be NULL)
 * receive the parts (transfer full; *@selector NULL without '#'). */
gboolean m3ret_readers_dicom_series_path (const gchar *path, gchar **folder, gchar **selector);

/* The m3ret modality of the DICOM object or series @path, read from its
 * header; NULL with @error for objects without pixels (SR, RTSTRUCT, PR,
 * KO…) and unmapped modalities, named in the message. */
const gchar *m3ret_readers_dicom_plugin_of (const gchar *path, GError **error);

/* A probe entry's answer for DICOM: @score when @path (a file whose first
 * bytes are @head, or a series when @head_len is 0) maps to @plugin, else 0. */
guint m3ret_readers_dicom_probe (const gchar *path, const guint8 *head, gsize head_len,
                                 const gchar *plugin, guint score);

/* A modality's refusal entry for DICOM: why @path, a DICOM object or series
 * no plugin claimed, is refused (no pixel data, an unmapped Modality), or
 * NULL when it is not DICOM.  One plugin (xray) answers for all. */
gchar *m3ret_readers_dicom_refusal (const gchar *path, const guint8 *head, gsize head_len);

/* Whether @path is a series path or a file whose first bytes look like DICOM. */
gboolean m3ret_readers_dicom_sniff_file (const gchar *path);

/* Renders @views of the DICOM object or series @path for a 2D or sequence
 * modality: grey scaled to [0,1] by the range its stored bits hold (after
 * MONOCHROME1 is inverted), colour as RGB.  A single frame is a still; the
 * frames of a multi-frame object are picked as a video's (@stride apart in
 * training).  @cache (may be NULL) keeps the decoded object. */
gboolean m3ret_readers_dicom_read_views (M3retReadersVolumeCache *cache, const gchar *path,
                                         const M3retLimits *limits,
                                         const M3retRenderOptions *options, guint stride,
                                         const M3retView *views, guint n_views,
                                         M3retSample **out, GError **error);

/* Image for a single-frame object, sequence for multi-frame objects and
 * series (from the header only). */
M3retLayout m3ret_readers_dicom_layout (const gchar *path);

/* Decodes the object or series @path: limits checked on the header before
 * any allocation; grey in @units, MONOCHROME1 inverted, colour (RGB, YBR,
 * palette) as RGB in [0,1]; depth = frames or slices.  A series is sorted
 * along its slice normal and reoriented to RAS, its slice spacing taken
 * from the positions.  Returns: (transfer full) or NULL with @error. */
M3retVolume *m3ret_readers_dicom_read (const gchar *path, const M3retLimits *limits,
                                       M3retReadersDicomUnits units, M3retReadersDicomInfo *info,
                                       GError **error);

/* Fills @info for `m3ret inspect` (statistics in @units). */
gboolean m3ret_readers_dicom_inspect (const gchar *path, const M3retLimits *limits,
                                      M3retReadersDicomUnits units, M3retInspectInfo *info,
                                      GError **error);

/* Whether @keyword is a keyword of the DICOM dictionary (e.g. "BodyPartExamined"). */
gboolean m3ret_readers_dicom_keyword_known (const gchar *keyword);

/* The value of the attribute @keyword of the DICOM object @path, trimmed
 * ("" when absent).  Returns: (transfer full) or NULL with @error for an
 * unknown keyword or an unreadable header. */
gchar *m3ret_readers_dicom_attribute (const gchar *path, const gchar *keyword, GError **error);

/* ---- what `m3ret manifest` asks (the attribute and series_key entries) ---- */

/* The attribute entry of a modality that reads DICOM: @name "dicom:KEYWORD";
 * "" for files of other formats. */
gchar *m3ret_readers_attribute (gpointer self, const gchar *path, const gchar *name,
                                GError **error);
/* The series_key entry of a volume modality (CT, MRI): the Series Instance
 * UID of a DICOM object, joined (one input per series) when it holds one
 * frame. */
gchar *m3ret_readers_volume_series_key (gpointer self, const gchar *path, gboolean *joins);
/* The series_key entry of a 2D or sequence modality: the Series Instance UID
 * of a DICOM object, never joined (each file stays an input). */
gchar *m3ret_readers_still_series_key (gpointer self, const gchar *path, gboolean *joins);

G_END_DECLS

#endif /* M3RET_READERS_H */
