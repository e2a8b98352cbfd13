/* m3ret-npy.h — NumPy .npy files of float32 N×d, the embeddings format.
 *
 * Reading is strict: format version 1, 2 or 3; a header that is exactly the
 * dict numpy writes ('descr', 'fortran_order', 'shape', each once); dtype
 * little-endian float32 ('<f4'); C order; two dimensions with at least one
 * column; a data section of exactly N·d·4 bytes.  Anything else is an
 * M3RET_FORMAT_ERROR naming the file and the reason.  One addition numpy
 * itself accepts (it evaluates the header as a Python literal): a one-line
 * Python comment after the dict, `{...} # TEXT`, where m3ret records what
 * made the embeddings (m3ret-provenance.h).
 */
#ifndef M3RET_NPY_H
#define M3RET_NPY_H

#include <glib.h>

#include "m3ret-fileio.h"

G_BEGIN_DECLS

/* Returns: (transfer full) the N×d matrix, row-major (g_free() it; NULL
 * and a non-NULL array are both possible when N = 0 — check the error),
 * @n_rows and @n_cols receive N and d. */
gfloat *m3ret_npy_read_f32 (const gchar *path, gsize *n_rows, gsize *n_cols, GError **error);

/* The same from bytes in memory; @name is used in messages. */
gfloat *m3ret_npy_decode_f32 (const guint8 *bytes, gsize len, const gchar *name, gsize *n_rows,
                              gsize *n_cols, GError **error);

/* Both, also giving the header comment: (transfer full) its text without
 * the '#' and surrounding spaces, or NULL when there is none. */
gfloat *m3ret_npy_read_f32_commented (const gchar *path, gsize *n_rows, gsize *n_cols,
                                      gchar **comment, GError **error);
gfloat *m3ret_npy_decode_f32_commented (const guint8 *bytes, gsize len, const gchar *name,
                                        gsize *n_rows, gsize *n_cols, gchar **comment,
                                        GError **error);

/* Writes @data (n_rows×n_cols, row-major) as a version 1.0 .npy, atomically. */
gboolean m3ret_npy_write_f32 (const gchar *path, const gfloat *data, gsize n_rows, gsize n_cols,
                              GError **error);

/* The same into an atomic file the caller commits (with a companion, say),
 * with @comment (one line, may be NULL) after the header dict. */
gboolean m3ret_npy_write_f32_to (M3retAtomicFile *file, const gfloat *data, gsize n_rows,
                                 gsize n_cols, const gchar *comment, GError **error);

G_END_DECLS

#endif /* M3RET_NPY_H */
