/* m3ret-retriever.h — the table a nearest-neighbour retriever plugin fills.
 *
 * Vectors are float32, row-major, finite and L2-normalised by the caller
 * (libm3ret's M3retIndex does both checks); similarity is the dot product,
 * i.e. cosine.  Ids are row numbers in insertion order.
 *
 * Files: the core owns the index file — magic, container version, plugin
 * name, dim, count, the items (path, modality, label) and a CRC-32 over the
 * whole, written to a temporary and renamed into place — and a plugin owns
 * only its payload.  save() streams the payload through an M3retIndexWriter;
 * load() gets it back, checksum already verified, and must still check that
 * every size and id it reads is consistent (a payload can come from another
 * version of the plugin).  A payload should begin with the plugin's own
 * format version so that a later plugin can refuse or convert old files.
 */
#ifndef M3RET_RETRIEVER_H
#define M3RET_RETRIEVER_H

#include <glib.h>

#include "m3ret-config.h"

G_BEGIN_DECLS

typedef struct _M3retRetrieverVTable M3retRetrieverVTable;

/* Provided by libm3ret: the stream a plugin's save() writes its payload to. */
typedef struct _M3retIndexWriter M3retIndexWriter;

/* Appends @len bytes to the payload. Errors: G_FILE_ERROR (disk full...). */
gboolean m3ret_index_writer_write (M3retIndexWriter *writer, gconstpointer data, gsize len,
                                   GError **error);

struct _M3retRetrieverVTable {
  /* mandatory: (transfer full) an empty index of @dim-wide vectors that may
   * use up to @n_threads threads of its own */
  gpointer (*create) (const M3retConfig *config, guint dim, guint n_threads, GError **error);
  /* mandatory: frees an index; accepts NULL */
  void (*destroy) (gpointer index);
  /* mandatory: appends @n vectors (n×dim); they get ids count()..count()+n-1.
   * An approximate index may build its graph here. */
  gboolean (*add) (gpointer index, const gfloat *vectors, gsize n, GError **error);
  /* mandatory: number of vectors held */
  gsize (*count) (gpointer index);
  /* mandatory: for each of @n_queries queries (n_queries×dim), the @k best
   * ids by descending score into @ids and @scores (n_queries×k); among equal
   * scores the lower id comes first where the plugin can tell; missing slots
   * (k > count) get id -1 and score -INFINITY.  May be called from one thread
   * at a time; the plugin parallelises inside. */
  gboolean (*search) (gpointer index, const gfloat *queries, gsize n_queries, guint k,
                      gint64 *ids, gfloat *scores, GError **error);
  /* mandatory: writes the payload (everything the plugin needs besides dim
   * and count) through @writer */
  gboolean (*save) (gpointer index, M3retIndexWriter *writer, GError **error);
  /* mandatory: (transfer full) an index of @count vectors of @dim from a
   * payload written by save(); @payload lives only during the call.  An
   * unusable payload is an error in M3RET_FORMAT_ERROR saying why; the core
   * prefixes the file name. */
  gpointer (*load) (const M3retConfig *config, guint dim, gsize count, const guint8 *payload,
                    gsize payload_len, guint n_threads, GError **error);
  /*< private >*/
  gpointer _m3ret_reserved[8];
};

G_END_DECLS

#endif /* M3RET_RETRIEVER_H */
