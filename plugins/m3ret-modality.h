/* m3ret-modality.h — the table a modality tokenizer plugin fills.
 *
 * A modality plugin recognises its files (probe), and reads one into
 * samples on the pipeline's canonical C×T×H×W grid (m3ret-sample.h): C = 3,
 * float32, intensity-normalised.  Plugins decode a file into an
 * M3retVolume with intensities in [0,1] and hand it to m3ret_render(),
 * the core's one resampler and augmenter, so that crops, flips, jitter
 * and the mean/std step are the same for every modality.
 *
 * Threads: the loader calls read(), layout() and inspect() of ONE instance
 * from several threads at once; an instance must not change after create(),
 * or guard what it changes (a cache) with a lock.
 */
#ifndef M3RET_MODALITY_H
#define M3RET_MODALITY_H

#include <glib.h>

#include "m3ret-config.h"
#include "m3ret-limits.h"
#include "m3ret-sample.h"

G_BEGIN_DECLS

typedef struct _M3retModalityVTable M3retModalityVTable;
typedef struct _M3retInspectInfo M3retInspectInfo;

/* How many leading bytes of a file the registry hands to probe(). */
#define M3RET_PROBE_HEAD_BYTES 352

/**
 * M3retInspectInfo:
 * What `m3ret inspect` prints about one file.  The caller zero-fills it and
 * frees it with m3ret_inspect_info_clear(); a plugin fills what it knows and
 * leaves the rest at 0 / NULL.
 * @format: (owned) container and codec, e.g. "PNG 16-bit grey", "NIfTI-1 (.nii.gz)"
 * @datatype: (owned) stored sample type, e.g. "uint16", "int16", "yuv420p"
 * @width, @height, @depth: stored grid (depth = slices of a volume, 1 otherwise)
 * @channels: stored channels (1 grey, 3 RGB)
 * @frames: frames of a video or volumes of a 4D file (1 otherwise)
 * @fps: frame rate of a video (0 when not a video)
 * @spacing: mm per pixel along width, height, depth (after reorientation)
 * @orientation: (owned) e.g. "RAS" for volumes; NULL when the format has none
 * @min, @max, @mean, @p_low, @p_median, @p_high: raw intensity statistics
 *   (after scl_slope/inter), percentiles 0.5, 50 and 99.5
 * @notes: (owned) extra "key: value" lines; may be NULL
 */
struct _M3retInspectInfo {
  gchar *format;
  gchar *datatype;
  guint width, height, depth, channels;
  guint64 frames;
  gdouble fps;
  gdouble spacing[3];
  gchar *orientation;
  gdouble min, max, mean, p_low, p_median, p_high;
  GPtrArray *notes;
  /*< private >*/
  gpointer _m3ret_reserved[4];
};

struct _M3retModalityVTable {
  /* mandatory: (transfer full) an instance configured by its [modality NAME] group */
  gpointer (*create) (const M3retConfig *config, GError **error);
  /* mandatory: frees an instance; accepts NULL */
  void (*destroy) (gpointer self);
  /* mandatory: 0 = not mine … 100 = certainly mine, from the file name and its
   * first @head_len bytes (at most M3RET_PROBE_HEAD_BYTES) */
  guint (*probe) (const gchar *path, const guint8 *head, gsize head_len);
  /* mandatory: the token layout @path will have (still image or sequence),
   * from its name or header only; cheap, so the sampler can group batches */
  M3retLayout (*layout) (gpointer self, const gchar *path, GError **error);
  /* mandatory: decodes @path once and renders one sample per view:
   * @out[i] (transfer full) is @views[i] on the canonical grid.  Returns
   * FALSE with @error (M3RET_DATA_ERROR, message naming the file and the
   * reason) and leaves @out all NULL on failure. */
  gboolean (*read) (gpointer self, const gchar *path, const M3retView *views, guint n_views,
                    M3retSample **out, GError **error);
  /* optional: fills @info (zeroed by the caller) for `m3ret inspect` */
  gboolean (*inspect) (gpointer self, const gchar *path, M3retInspectInfo *info, GError **error);
  /* optional, since ABI minor 1: the run's input limits ([data] max_pixels,
   * max_voxels, max_frames, max_file_size), given once right after create()
   * and before any other call; the plugin keeps a copy and refuses, before
   * allocating, a file that claims more.  Until then, or for a plugin
   * without this entry, the defaults apply (m3ret_limits_init_default()).
   * The core itself checks max_file_size before read() and inspect(). */
  void (*set_limits) (gpointer self, const M3retLimits *limits);
  /* optional, since ABI minor 8: asked only when no plugin's probe claimed
   * @path; when @path is of a format this plugin decodes but refuses on
   * purpose (a DICOM report without pixels, a DICOM modality no plugin
   * maps), (transfer full) the sentence that says why, else NULL.  The
   * core puts it in the error, so a user learns why, not only that. */
  gchar *(*refusal) (const gchar *path, const guint8 *head, gsize head_len);
  /* optional, since ABI minor 9, for `m3ret manifest --labels SCHEME:NAME`:
   * (transfer full) the value of header attribute @name of @path, a file
   * this plugin probed as its own (e.g. "dicom:BodyPartExamined": a scheme,
   * a colon, a keyword of that format), "" when the file has none (another
   * format, or the attribute absent); NULL with @error (M3RET_DATA_ERROR)
   * when the plugin reads no such attribute (another scheme, an unknown
   * keyword) or the header cannot be read.  With @path NULL it only checks
   * @name: "" when it reads it, else NULL with @error. */
  gchar *(*attribute) (gpointer self, const gchar *path, const gchar *name, GError **error);
  /* optional, since ABI minor 9, for `m3ret manifest`: when @path is one
   * file of a series (DICOM: an object with a Series Instance UID), the
   * (transfer full) key its files share, else NULL.  *@joins says whether
   * the files of one key in one folder are read together as one input (the
   * slices of a CT or MR series: the folder, or FOLDER#KEY when it holds
   * other files, is then that input) or stay inputs of their own that a
   * query/database split keeps together (frames or stills of one series). */
  gchar *(*series_key) (gpointer self, const gchar *path, gboolean *joins);
  /*< private >*/
  gpointer _m3ret_reserved[1];
};

/* Frees what @info owns and zeroes it; accepts NULL. */
void m3ret_inspect_info_clear (M3retInspectInfo *info);

G_END_DECLS

#endif /* M3RET_MODALITY_H */
