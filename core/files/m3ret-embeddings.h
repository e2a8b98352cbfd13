/* m3ret-embeddings.h — embeddings on disk: E.npy plus its sidecar E.csv.
 *
 * The matrix is float32 N×d (m3ret-npy.h), one row per manifest entry in
 * manifest order.  The sidecar is a CSV with the header `path,modality,label`
 * and one record per row, in the same order (RFC 4180 quoting; an empty
 * label means unlabelled).  The sidecar of "E.npy" is "E.csv"; of any other
 * name, the name with ".csv" appended.
 */
#ifndef M3RET_EMBEDDINGS_H
#define M3RET_EMBEDDINGS_H

#include <glib.h>

G_BEGIN_DECLS

/* What each row is: three parallel NULL-terminated string arrays of @n
 * entries ("" where unknown). */
typedef struct {
  gsize n;
  gchar **paths;
  gchar **modalities;
  gchar **labels;
} M3retItems;

/* Returns: (transfer full) @n items with every field "". */
M3retItems *m3ret_items_new (gsize n);
void m3ret_items_free (M3retItems *items);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retItems, m3ret_items_free)

/* Replaces item @i's fields (copied; NULL leaves a field as it is). */
void m3ret_items_set (M3retItems *items, gsize i, const gchar *path, const gchar *modality,
                      const gchar *label);

/* Returns: (transfer full) the sidecar CSV text (header and @items->n records). */
gchar *m3ret_items_to_csv (const M3retItems *items, gsize *length);

/* Parses sidecar CSV text; @name is used in messages ("NAME:LINE: reason").
 * Returns: (transfer full) the items, or NULL with M3RET_FORMAT_ERROR. */
M3retItems *m3ret_items_parse_csv (const gchar *text, gsize length, const gchar *name,
                                   GError **error);

/* File versions of the two above; writing is atomic. */
M3retItems *m3ret_items_read (const gchar *path, GError **error);
gboolean m3ret_items_write (const M3retItems *items, const gchar *path, GError **error);

/* Returns: (transfer full) the sidecar path of @npy_path. */
gchar *m3ret_embeddings_sidecar_path (const gchar *npy_path);

typedef struct {
  gsize n_rows;
  guint dim;
  gfloat *data;       /* n_rows × dim, row-major */
  M3retItems *items;  /* n_rows items, or NULL when no sidecar was found */
  gchar *provenance;  /* the encoder that made them (m3ret-provenance.h), or NULL: unknown */
} M3retEmbeddings;

/* Returns: (transfer full) @n_rows × @dim zeros and @n_rows empty items. */
M3retEmbeddings *m3ret_embeddings_new (gsize n_rows, guint dim);
void m3ret_embeddings_free (M3retEmbeddings *embeddings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retEmbeddings, m3ret_embeddings_free)

/* Reads @npy_path and its sidecar, and the provenance m3ret wrote into the
 * .npy header, if any.  A missing sidecar is an error when
 * @need_items, else leaves ->items NULL; a sidecar whose row count differs
 * from the matrix's is always an error (M3RET_FORMAT_ERROR_MISMATCH). */
M3retEmbeddings *m3ret_embeddings_load (const gchar *npy_path, gboolean need_items,
                                        GError **error);

/* Writes the matrix and (when ->items is set) the sidecar as one pair
 * (m3ret_atomic_file_commit_pair(), the .npy the primary): after a crash
 * the .npy is either absent or sits beside the sidecar written with it.
 * ->provenance, when set, goes into the .npy header. */
gboolean m3ret_embeddings_save (const M3retEmbeddings *embeddings, const gchar *npy_path,
                                GError **error);

G_END_DECLS

#endif /* M3RET_EMBEDDINGS_H */
