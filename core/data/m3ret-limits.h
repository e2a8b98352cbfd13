/* m3ret-limits.h — how big an input file may be, checked before allocating.
 *
 * Medical archives hold files whose headers claim absurd sizes (a corrupt
 * dim, a lying container).  Every reader compares what a file claims with
 * these limits before it allocates anything for pixels, voxels or frames,
 * and the core compares a file's size before anything reads it.  The values
 * are the [data] keys max_file_size, max_pixels, max_voxels and max_frames
 * (declared once in pipeline-keys.c); modality plugins receive them through
 * their table's set_limits entry (m3ret-modality.h).
 */
#ifndef M3RET_LIMITS_H
#define M3RET_LIMITS_H

#include <glib.h>

#include "m3ret-config.h"

G_BEGIN_DECLS

/**
 * M3retLimits:
 * @max_file_size: bytes of one input file
 * @max_pixels: width × height of one 2-D image or video frame
 * @max_voxels: x × y × z of one volume
 * @max_frames: frames of one video clip
 *
 * Plugin ABI: new limits take a reserved slot, with an ABI minor bump.
 */
typedef struct {
  guint64 max_file_size;
  guint64 max_pixels;
  guint64 max_voxels;
  guint64 max_frames;
  /*< private >*/
  guint64 _m3ret_reserved[4];
} M3retLimits;

/* Fills @limits with the defaults of the [data] keys. */
void m3ret_limits_init_default (M3retLimits *limits);

struct _M3retDataSettings; /* m3ret-settings.h, the core's */
/* Fills @limits from a pipeline's typed [data] settings; NULL: the defaults. */
void m3ret_limits_init (M3retLimits *limits, const struct _M3retDataSettings *data);

/* FALSE with M3RET_DATA_ERROR_IO when @path cannot be stat'ed (missing,
 * unreadable, not a regular file) or M3RET_DATA_ERROR_TOO_LARGE when it is
 * bigger than max_file_size. */
gboolean m3ret_limits_check_file (const M3retLimits *limits, const gchar *path, GError **error);

/* Whether @path names a folder or a part of one as FOLDER#MEMBER (the
 * FOLDER exists, the whole path does not): what plugins read as one input
 * made of several files, such as a DICOM series.  An existing file whose
 * name holds '#' is a file. */
gboolean m3ret_limits_is_folder_input (const gchar *path);

/* m3ret_limits_check_file() for a data input, which may also be a folder or
 * FOLDER#MEMBER (m3ret_limits_is_folder_input()): a folder must be readable;
 * its files are checked one by one by the plugin that reads them. */
gboolean m3ret_limits_check_input (const M3retLimits *limits, const gchar *path, GError **error);

/* FALSE with M3RET_DATA_ERROR_TOO_LARGE when a @width × @height frame
 * (computed without overflow) is over max_pixels; M3RET_DATA_ERROR_CORRUPT
 * when a side is 0.  @what names it in the message, e.g. "PNG". */
gboolean m3ret_limits_check_frame (const M3retLimits *limits, const gchar *path, const gchar *what,
                                   guint64 width, guint64 height, GError **error);

/* The same for an @nx × @ny × @nz volume against max_voxels. */
gboolean m3ret_limits_check_volume (const M3retLimits *limits, const gchar *path, guint64 nx,
                                    guint64 ny, guint64 nz, GError **error);

/* The same for a clip of @frames frames against max_frames. */
gboolean m3ret_limits_check_frames (const M3retLimits *limits, const gchar *path, guint64 frames,
                                    GError **error);

G_END_DECLS

#endif /* M3RET_LIMITS_H */
