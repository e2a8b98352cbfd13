/* hnsw-shim.h — private: the C surface of the C++ shim over Debian's hnswlib.
 *
 * Every hnswlib include and every C++ exception stays inside hnsw-shim.cc;
 * failures come back as GError (domain M3RET_FORMAT_ERROR for payloads,
 * G_FILE_ERROR_NOMEM / _FAILED otherwise).
 */
#ifndef M3RET_HNSW_SHIM_H
#define M3RET_HNSW_SHIM_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _M3retHnsw M3retHnsw;

typedef gboolean (*M3retHnswWriteFunc) (gpointer user_data, gconstpointer data, gsize len,
                                        GError **error);

/* Returns: (transfer full) an empty inner-product graph. */
M3retHnsw *m3ret_hnsw_new (guint dim, guint M, guint ef_construction, guint64 seed,
                           GError **error);
void m3ret_hnsw_free (M3retHnsw *hnsw);

/* Inserts @n vectors with ids count()..; @n_threads > 1 inserts
 * concurrently (the graph then depends on thread timing). */
gboolean m3ret_hnsw_add (M3retHnsw *hnsw, const gfloat *vectors, gsize n, guint n_threads,
                         GError **error);
gsize m3ret_hnsw_count (const M3retHnsw *hnsw);

/* @k best ids/scores per query (descending score, ties by id), searching
 * with beam width @ef; missing slots get -1 / -INFINITY. */
gboolean m3ret_hnsw_search (M3retHnsw *hnsw, const gfloat *queries, gsize n_queries, guint k,
                            guint ef, guint n_threads, gint64 *ids, gfloat *scores,
                            GError **error);

/* The graph as a payload (see hnsw.c for the layout), through @write. */
gboolean m3ret_hnsw_serialize (const M3retHnsw *hnsw, M3retHnswWriteFunc write,
                               gpointer user_data, GError **error);
/* Returns: (transfer full) the graph of @count vectors of @dim read back from
 * @payload, every size, id and level checked before hnswlib sees it. */
M3retHnsw *m3ret_hnsw_deserialize (guint dim, gsize count, const guint8 *payload, gsize len,
                                   GError **error);

G_END_DECLS

#endif /* M3RET_HNSW_SHIM_H */
