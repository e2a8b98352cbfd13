/* m3ret-retriever.h — the table a nearest-neighbour retriever plugin fills.
 *
 * Vectors are float32, row-major, L2-normalised by the caller; similarity is
 * the dot product (cosine).  Ids are row numbers in insertion order.
 */
#ifndef M3RET_RETRIEVER_H
#define M3RET_RETRIEVER_H

#include <glib.h>

#include "m3ret-config.h"

G_BEGIN_DECLS

typedef struct _M3retRetrieverVTable M3retRetrieverVTable;

struct _M3retRetrieverVTable {
  /* mandatory: (transfer full) an empty index of @dim-wide vectors that may
   * use up to @n_threads threads */
  gpointer (*create) (const M3retConfig *config, guint dim, guint n_threads, GError **error);
  /* mandatory: frees an index; accepts NULL */
  void (*destroy) (gpointer index);
  /* mandatory: appends @n vectors (n×dim); they get ids count()..count()+n-1 */
  gboolean (*add) (gpointer index, const gfloat *vectors, gsize n, GError **error);
  /* mandatory: number of vectors held */
  gsize (*count) (gpointer index);
  /* mandatory: for each of @n_queries queries, the @k best ids by descending
   * score into @ids and @scores (n_queries×k); missing slots get id -1 */
  gboolean (*search) (gpointer index, const gfloat *queries, gsize n_queries, guint k,
                      gint64 *ids, gfloat *scores, GError **error);
  /* mandatory: writes the index to @path atomically (temporary + rename) */
  gboolean (*save) (gpointer index, const gchar *path, GError **error);
  /* mandatory: (transfer full) reads an index written by save(); a corrupt or
   * foreign file is an error naming @path and the reason */
  gpointer (*load) (const M3retConfig *config, const gchar *path, guint n_threads,
                    GError **error);
  /*< private >*/
  gpointer _m3ret_reserved[8];
};

G_END_DECLS

#endif /* M3RET_RETRIEVER_H */
