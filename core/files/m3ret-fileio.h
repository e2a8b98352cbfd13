/* m3ret-fileio.h — writing files crash-safely.
 *
 * Every file m3ret produces (embeddings, indexes, checkpoints, reports) is
 * written to a temporary in the destination folder, flushed to disk with
 * fsync, then renamed over the destination, and the folder is synced: a
 * reader sees the old file or the complete new one, never a half-written
 * one, and a failure leaves nothing behind.
 */
#ifndef M3RET_FILEIO_H
#define M3RET_FILEIO_H

#include <glib.h>

#include "m3ret-plugin.h"

G_BEGIN_DECLS

/* M3RET_FORMAT_ERROR and its codes are in the plugin SDK (m3ret-plugin.h):
 * retrievers report corrupt payloads with them too. */

/* Sets @error to "@file: REASON" in %M3RET_FORMAT_ERROR with @code, and
 * returns FALSE, so that a reader can `return m3ret_format_fail (...)`. */
gboolean m3ret_format_fail (GError **error, gint code, const gchar *file, const gchar *format, ...)
  G_GNUC_PRINTF (4, 5);

typedef struct _M3retAtomicFile M3retAtomicFile;

/* Starts writing @path: creates a temporary ".NAME.XXXXXX" beside it.
 * Returns: (transfer full) the writer; finish with m3ret_atomic_file_commit()
 * or m3ret_atomic_file_abort(). */
M3retAtomicFile *m3ret_atomic_file_new (const gchar *path, GError **error);

/* Appends @len bytes (buffered). On failure the writer stays valid only
 * for m3ret_atomic_file_abort(). */
gboolean m3ret_atomic_file_write (M3retAtomicFile *file, gconstpointer data, gsize len,
                                  GError **error);

/* (transfer none) the destination path. */
const gchar *m3ret_atomic_file_get_path (const M3retAtomicFile *file);

/* Bytes written so far. */
guint64 m3ret_atomic_file_tell (const M3retAtomicFile *file);

/* Flushes, fsyncs, renames over the destination and syncs the folder.
 * Always consumes @file; on failure the temporary is removed and the
 * destination is untouched. */
gboolean m3ret_atomic_file_commit (M3retAtomicFile *file, GError **error);

/* Commits two files that belong together (an .npy and its sidecar CSV):
 * both temporaries are finished and fsync'd, then the old @primary is
 * removed, @companion renamed into place, and @primary renamed last, with
 * the folder synced between the steps.  A crash leaves the old pair, the
 * new pair, or no @primary at all — never a primary beside a companion it
 * was not written with.  Always consumes both. */
gboolean m3ret_atomic_file_commit_pair (M3retAtomicFile *primary, M3retAtomicFile *companion,
                                        GError **error);

/* For files that a library writes by path itself (libpng through a FILE,
 * nifticlib, FFmpeg): fsyncs the finished @tmp_path, renames it over @path
 * and syncs the folder.  On failure @tmp_path is removed. */
gboolean m3ret_file_commit_temporary (const gchar *tmp_path, const gchar *path, GError **error);

/* Removes the temporaries m3ret_atomic_file_new() left beside @path when a
 * process was killed while writing it.  Only for files one process owns
 * (a training run's folder, an index being replaced): a concurrent writer
 * of the same @path would lose its temporary.  Returns: how many. */
guint m3ret_atomic_file_remove_stale (const gchar *path);

/* Drops the temporary; the destination is untouched. Accepts NULL. */
void m3ret_atomic_file_abort (M3retAtomicFile *file);

/* One-shot: writes @len bytes (-1: @data is a string) to @path atomically. */
gboolean m3ret_file_write_atomic (const gchar *path, gconstpointer data, gssize len,
                                  GError **error);

/* Reading inputs.  A file that cannot be read gives a G_FILE_ERROR whose
 * message is "PATH: reason" in plain words ("no such file", "is a folder,
 * not a file", "permission denied"), never GLib's own sentence, so every
 * command prints it in the one error format. */

/* The plain reason for an errno of open() or stat(): "no such file",
 * "permission denied", "is a folder, not a file", else strerror's. */
const gchar *m3ret_file_reason (gint err);

/* TRUE when @path names an existing file that is not a folder. */
gboolean m3ret_file_check_readable (const gchar *path, GError **error);

/* Returns: (transfer full) @path mapped read-only, or NULL with @error. */
GMappedFile *m3ret_file_map (const gchar *path, GError **error);

/* g_file_get_contents() with the messages above. */
gboolean m3ret_file_read_all (const gchar *path, gchar **contents, gsize *length,
                              GError **error);

/* CRC-32 (the zlib/PNG polynomial, so `python -c 'zlib.crc32(...)'` agrees):
 * start with @crc = 0 and feed consecutive chunks. */
guint32 m3ret_crc32_update (guint32 crc, gconstpointer data, gsize len);

G_END_DECLS

#endif /* M3RET_FILEIO_H */
