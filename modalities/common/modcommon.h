/* modcommon.h — private: what several modality plugins share.
 *
 * Readers for the three file families (PNG, NIfTI, video), each decoding a
 * file into an M3retVolume at its own resolution with raw intensities, and
 * the keys every modality declares (normalisation, augmentation, limits).
 * Linked into the plugins as a convenience library; nothing here is
 * installed or exported.
 */
#ifndef M3RET_MODCOMMON_H
#define M3RET_MODCOMMON_H

#include "m3ret-plugin.h"
#include "m3ret-render.h"
#include "m3ret-volume.h"

G_BEGIN_DECLS

/* The values of the keys every modality declares (MC_COMMON_KEYS), as
 * m3ret_config_fill() writes them: a member `common` of the plugin's own
 * settings struct. */
typedef struct {
  gdouble mean[3];
  gdouble std[3];
  const gchar *flips;
  gdouble jitter;
} McCommonSettings;

/* Keys every modality declares, in this order, after its own, bound to
 * @S.common (an McCommonSettings).  Size limits are not among them: they
 * are the run's [data] keys, given to every modality through set_limits
 * (mc_set_limits). */
#define MC_COMMON_KEYS(S, mean_def, std_def, flips_def, jitter_def)                               \
  M3RET_KEY_DOUBLE_LIST_FIELD (S, common.mean, "mean", (mean_def), 3, -1e3, 1e3,                  \
                               "per-channel mean subtracted after intensities are in [0,1]"),     \
  M3RET_KEY_DOUBLE_LIST_FIELD (S, common.std, "std", (std_def), 3, 1e-6, 1e3,                     \
                               "per-channel standard deviation the value is then divided by: "   \
                               "(v - mean) / std"),                                               \
  M3RET_KEY_STRING_FIELD (S, common.flips, "flips", (flips_def),                                  \
                          "axes a training view flips with probability 1/2: none or letters of xyz"), \
  M3RET_KEY_DOUBLE_FIELD (S, common.jitter, "jitter", (jitter_def), 0, 1,                         \
                          "training intensity jitter: contrast x U(1-j,1+j), brightness + U(-j/2,j/2)")

/* What every modality instance in this tree starts with. */
typedef struct {
  M3retRenderOptions options;
  M3retLimits limits;
} McCommon;

/* The key of the modalities that decode a whole volume or clip per read,
 * bound to the gint64 @S.cache_mb. */
#define MC_CACHE_KEY(S, mib)                                                                      \
  M3RET_KEY_INT_FIELD (S, cache_mb, "cache_mb", (mib), 0, 1048576,                                \
                       "decoded files kept in memory for their next read, in MiB per plugin "     \
                       "(least recently used dropped first; 0: decode every read)")

/* Sets @common from the filled @settings (@config only names the key at
 * fault); the limits start at their defaults until set_limits. */
gboolean mc_read_common_keys (const M3retConfig *config, const McCommonSettings *settings,
                              gboolean volumetric, McCommon *common, GError **error);

/* The set_limits entry of a modality whose instance starts with an McCommon. */
void mc_set_limits (gpointer self, const M3retLimits *limits);

/* Renders every view of @volume into @out (see the read() entry). */
void mc_render_views (const M3retVolume *volume, M3retLayout layout,
                      const M3retRenderOptions *options, const M3retView *views, guint n_views,
                      M3retSample **out);

/* Fills the statistics of @info from @volume. */
void mc_fill_stats (M3retInspectInfo *info, const M3retVolume *volume);
/* Multiplies the statistics of @info by @factor (from [0,1] to stored units). */
void mc_scale_stats (M3retInspectInfo *info, gdouble factor);
void mc_add_note (M3retInspectInfo *info, const gchar *format, ...) G_GNUC_PRINTF (2, 3);

/* Whether @path ends with one of @suffixes (NULL-terminated), ignoring case. */
gboolean mc_has_suffix (const gchar *path, const gchar *const *suffixes);

/* Whether @path (folders included, ignoring case) contains one of @words:
 * the probes' tie-breaker between plugins that read the same format. */
gboolean mc_path_mentions (const gchar *path, const gchar *const *words);

/* ---- decoded volumes kept for the next read of the same file (cache.c) ---- */

typedef struct _McVolumeCache McVolumeCache;
typedef struct _McCachedVolume McCachedVolume;

/* A file's size and modification time in ns, as the caches compare them;
 * FALSE when it cannot be stat'ed. */
gboolean mc_file_stamp (const gchar *path, gint64 *size, gint64 *mtime);

/* A cache of at most @max_bytes of volume data (0: keeps nothing); thread-safe. */
McVolumeCache *mc_volume_cache_new (guint64 max_bytes);
void mc_volume_cache_free (McVolumeCache *cache);
/* The volume decoded from @path, if kept and the file's size and
 * modification time are unchanged; NULL otherwise (also for a NULL @cache).
 * Returns: (transfer full) a reference, or NULL. */
McCachedVolume *mc_volume_cache_lookup (McVolumeCache *cache, const gchar *path);
/* Takes @volume (transfer full), keeps it when it fits the budget (dropping
 * the least recently used), and returns a reference for the caller either
 * way.  The volume must not change afterwards.  Returns: (transfer full). */
McCachedVolume *mc_volume_cache_insert (McVolumeCache *cache, const gchar *path,
                                        M3retVolume *volume);
/* Whether a volume of @bytes would be kept by @cache (NULL: no). */
gboolean mc_volume_cache_fits (const McVolumeCache *cache, guint64 bytes);
/* (transfer none) the volume of @entry, valid while the reference is held. */
const M3retVolume *mc_cached_volume_get (const McCachedVolume *entry);
void mc_cached_volume_unref (McCachedVolume *entry);

/* Decodes @path into a volume ready to render (intensities in [0,1]).
 * Returns: (transfer full) or NULL with @error. */
typedef M3retVolume *(*McDecodeFunc) (gpointer self, const gchar *path, GError **error);
/* Renders @views of @path from the kept volume, decoding with @decode (and
 * keeping the result) on a miss. */
gboolean mc_cached_read_views (McVolumeCache *cache, const gchar *path, McDecodeFunc decode,
                               gpointer self, M3retLayout layout,
                               const M3retRenderOptions *options, const M3retView *views,
                               guint n_views, M3retSample **out, GError **error);

/* ---- PNG (libpng) ---- */

typedef struct {
  guint width, height;
  guint bit_depth;    /* as stored: 1, 2, 4, 8 or 16 */
  guint color_type;   /* PNG_COLOR_TYPE_* */
  guint channels;     /* of the decoded volume: 1 grey, 3 colour (alpha dropped) */
  gboolean alpha_dropped; /* mc_png_read: an alpha channel or tRNS transparency was discarded */
} McPngInfo;

/* TRUE when @head starts with the PNG signature and an IHDR; fills @info
 * from the header bytes only. */
gboolean mc_png_sniff (const guint8 *head, gsize head_len, McPngInfo *info);

/* Decodes @path: grey (any bit depth) → 1 channel, colour or palette → 3,
 * alpha dropped; values scaled to [0,1] by the bit depth.  Refuses more
 * than max_pixels pixels before allocating.  Returns: (transfer full). */
M3retVolume *mc_png_read (const gchar *path, const M3retLimits *limits, McPngInfo *info,
                          GError **error);

/* Decodes @path once and renders every view (a still: M3RET_LAYOUT_IMAGE). */
gboolean mc_png_read_views (const gchar *path, const M3retLimits *limits,
                            const M3retRenderOptions *options, const M3retView *views,
                            guint n_views, M3retSample **out, GError **error);
/* Fills @info for `m3ret inspect`; statistics in stored units. */
gboolean mc_png_inspect (const gchar *path, const M3retLimits *limits, M3retInspectInfo *info,
                         GError **error);

/* ---- NIfTI-1 (nifticlib) ---- */

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
} McNiftiInfo;

/* Reads volume @volume_index of @path in HU/raw units (scl applied),
 * reoriented so x grows to the right, y to anterior and z to superior
 * (RAS): slices of the slowest axis are always axial for a proper header;
 * without qform or sform the axes are kept as stored.  Spacing from |pixdim|
 * (a zero or non-finite one is 1).  Refuses more than max_voxels voxels before
 * allocating.  Returns: (transfer full). */
M3retVolume *mc_nifti_read (const gchar *path, guint64 volume_index, const M3retLimits *limits,
                            McNiftiInfo *info, GError **error);

/* Fills @info for `m3ret inspect` (statistics in stored units after scl). */
gboolean mc_nifti_inspect (const gchar *path, guint64 volume_index, const M3retLimits *limits,
                           M3retInspectInfo *info, GError **error);

/* TRUE for a NIfTI-1 header (either byte order) or a gzip stream with a
 * .nii.gz name. */
gboolean mc_nifti_sniff (const gchar *path, const guint8 *head, gsize head_len);

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
} McVideoInfo;

void mc_video_info_clear (McVideoInfo *info);

/* Opens @path, counts its video frames and fills @info; refuses frames over
 * max_pixels and clips over max_frames. */
gboolean mc_video_probe_file (const gchar *path, const M3retLimits *limits, McVideoInfo *info,
                              GError **error);

/* Decodes the frames numbered @index[0..n) (ascending; repeats allowed)
 * of @path as RGB in [0,1]: a 3-channel volume of depth @n.  @info comes
 * from mc_video_probe_file() with the same @limits.  Returns: (transfer full). */
M3retVolume *mc_video_read (const gchar *path, const McVideoInfo *info, const guint64 *index,
                            guint n, const M3retLimits *limits, GError **error);

/* Whether @path names a video by extension or @head by magic bytes. */
gboolean mc_video_sniff (const gchar *path, const guint8 *head, gsize head_len);

/* What the counting pass learns about each file, kept for the next read (the
 * same clip is read again and again in training); thread-safe. */
typedef struct _McVideoCache McVideoCache;
McVideoCache *mc_video_cache_new (void);
void mc_video_cache_free (McVideoCache *cache);
/* mc_video_probe_file() through @cache (NULL: no cache); a file whose size or
 * modification time changed is probed again. */
gboolean mc_video_probe_cached (McVideoCache *cache, const gchar *path,
                                const M3retLimits *limits, McVideoInfo *info, GError **error);

/* Fills @info for `m3ret inspect` (statistics over up to 16 frames). */
gboolean mc_video_inspect (McVideoCache *cache, const gchar *path, const M3retLimits *limits,
                           M3retInspectInfo *info, GError **error);

/* The instance of a modality that reads videos (endoscopy, ultrasound
 * cine): render options and limits from the common keys, the training clip
 * `stride` key, and the cache of probed files. */
typedef struct {
  McCommon common;
  guint stride;
  McVideoCache *cache;
  McVolumeCache *clips;      /* whole decoded clips, `cache_mb` */
} McVideoModality;

/* Reads a video for @views: every view's frames are chosen with
 * m3ret_select_frames(stride); a clip that fits the `cache_mb` budget is
 * decoded whole once and kept, otherwise the union of the views' frames is
 * decoded for this read; each view is rendered from its own frames. */
gboolean mc_video_read_views (const McVideoModality *m, const gchar *path, const M3retView *views,
                              guint n_views, M3retSample **out, GError **error);

/* The settings of such a modality: its @keys bind `stride` (an INT) and
 * MC_CACHE_KEY and MC_COMMON_KEYS to this struct. */
typedef struct {
  gint64 stride;
  gint64 cache_mb;
  McCommonSettings common;
} McVideoSettings;

/* create (with the plugin's @keys) and destroy entries for such a modality. */
gpointer mc_video_modality_create (const M3retConfig *config, const M3retKeySpec *keys,
                                   GError **error);
void mc_video_modality_destroy (gpointer self);

/* Silences FFmpeg's own logging; call from a plugin's init. */
void mc_video_global_init (void);

G_END_DECLS

#endif /* M3RET_MODCOMMON_H */
