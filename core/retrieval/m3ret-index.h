/* m3ret-index.h — a nearest-neighbour index: a retriever plugin plus its file.
 *
 * M3retIndex drives any retriever plugin (m3ret-retriever.h) and owns the
 * on-disk container every retriever shares, so that atomic writing,
 * versioning and checksums are done once:
 *
 *   offset 0   "M3RETIDX", u32 container version (2), u32 dim, u64 count,
 *              char[32] plugin name (NUL padded), u64 meta length
 *   64         meta: text lines "provenance=LINE" (the encoder that made the
 *              vectors, m3ret-provenance.h; absent when unknown),
 *              "transform=TEXT" (version 3: the post-processing learned from
 *              the database, m3ret-transform.h; absent when none) and
 *              "retriever.KEY=VALUE" (every key the retriever was built with)
 *   ...        the items as sidecar CSV text (m3ret-embeddings.h), may be empty
 *   ...        the plugin's payload
 *   end - 24   u64 items length, u64 payload length,
 *              u32 CRC-32 of every byte before it, "M3IX"
 *
 * Version 1 files (no meta section: bytes 56..63 were reserved zeros) and
 * version 2 files (no transform: older builds would ignore one, so files
 * that may hold it are version 3) are still read.  All integers little-endian.  Loading refuses, with M3RET_FORMAT_ERROR and
 * a message naming the file and the reason: another kind of file, a newer
 * container version, a truncated or corrupt file, an index of another
 * retriever plugin, and a payload its plugin cannot use.
 */
#ifndef M3RET_INDEX_H
#define M3RET_INDEX_H

#include <glib.h>

#include "m3ret-embeddings.h"
#include "m3ret-registry.h"
#include "m3ret-transform.h"

G_BEGIN_DECLS

#define M3RET_INDEX_FILE_VERSION 3
/* The oldest container version this build still reads. */
#define M3RET_INDEX_FILE_VERSION_OLDEST 1

typedef struct _M3retIndex M3retIndex;

/* Returns: (transfer full) an empty index of @dim-wide vectors built by
 * retriever @plugin with @config (its [retriever] group), using up to
 * @n_threads threads; NULL with @error when the plugin refuses. */
M3retIndex *m3ret_index_new (const M3retPlugin *plugin, const M3retConfig *config, guint dim,
                             guint n_threads, GError **error);

/* Reads an index saved by m3ret_index_save() with the retriever it names,
 * found in @registry, configured as the file records (what commands that
 * read an index use: a pipeline's [retriever] only builds one). */
M3retIndex *m3ret_index_open (M3retRegistry *registry, const gchar *path, guint n_threads,
                              GError **error);

/* Reads an index saved by m3ret_index_save() with retriever @plugin and
 * @config (search-time keys such as hnsw's ef may differ from the build's). */
M3retIndex *m3ret_index_load (const M3retPlugin *plugin, const M3retConfig *config,
                              const gchar *path, guint n_threads, GError **error);

/* As m3ret_index_new(), with @transform (transfer full; NULL or kind none:
 * none; its in_dim is @dim): rows added and queries searched are first
 * sent through it, the retriever holds its out_dim-wide rows, and the
 * file keeps it. */
M3retIndex *m3ret_index_new_transformed (const M3retPlugin *plugin, const M3retConfig *config,
                                         guint dim, M3retTransform *transform, guint n_threads,
                                         GError **error);
/* (transfer none) the index's transform, or NULL */
const M3retTransform *m3ret_index_get_transform (const M3retIndex *index);
void m3ret_index_free (M3retIndex *index);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retIndex, m3ret_index_free)

/* Appends @n rows (n×dim), which must be finite and L2-normalised (see
 * m3ret_vectors_normalize()); they get ids count()..count()+n-1. */
gboolean m3ret_index_add (M3retIndex *index, const gfloat *vectors, gsize n, GError **error);

gsize m3ret_index_count (const M3retIndex *index);
guint m3ret_index_dim (const M3retIndex *index);
const gchar *m3ret_index_plugin_name (const M3retIndex *index);

/* What each id is, saved with the index. (transfer full) @items must have
 * count() entries when the index is saved. */
void m3ret_index_set_items (M3retIndex *index, M3retItems *items);
/* (transfer none) the items, or NULL when none were set or saved. */
const M3retItems *m3ret_index_get_items (const M3retIndex *index);

/* The provenance line of the vectors (m3ret-provenance.h), saved with the
 * index; NULL when unknown (an index of version 1, embeddings without one). */
void m3ret_index_set_provenance (M3retIndex *index, const gchar *provenance);
const gchar *m3ret_index_get_provenance (const M3retIndex *index);

/* The database ids each query must not get back: its own rows, when the
 * query file sits in the database once or more.  Query q's are
 * ids[offsets[q] .. offsets[q + 1]). */
typedef struct {
  const gsize *offsets; /* n_queries + 1 entries */
  const gint64 *ids;
} M3retExclusions;

/* Returns: (transfer full) the exclusions that leave out at most one id per
 * query, @self[q] (-1: none), in one block: free with g_free(). */
M3retExclusions *m3ret_exclusions_new_one_each (const gint64 *self, gsize n_queries);

/* The @k best ids and cosine scores of each of @n_queries normalised
 * queries into @ids and @scores (n_queries×k); slots beyond count() get
 * id -1 and score -INFINITY.  @exclude (may be NULL) gives for each query
 * an id to leave out of its results (the query's own row when it sits in
 * the database) or -1. */
gboolean m3ret_index_search (M3retIndex *index, const gfloat *queries, gsize n_queries, guint k,
                             const gint64 *exclude, gint64 *ids, gfloat *scores, GError **error);
/* The same leaving out every id @exclude (may be NULL) gives each query. */
gboolean m3ret_index_search_excluding (M3retIndex *index, const gfloat *queries, gsize n_queries,
                                       guint k, const M3retExclusions *exclude, gint64 *ids,
                                       gfloat *scores, GError **error);

/* Writes the index and its items to @path atomically. */
gboolean m3ret_index_save (M3retIndex *index, const gchar *path, GError **error);

/* L2-normalises each of @n rows in place.  A row holding NaN or infinity,
 * or whose norm is zero, is an M3RET_FORMAT_ERROR_INVALID error
 * "NAME: row I ..." and leaves @rows partly normalised. */
gboolean m3ret_vectors_normalize (gfloat *rows, gsize n, guint dim, const gchar *name,
                                  GError **error);

G_END_DECLS

#endif /* M3RET_INDEX_H */
