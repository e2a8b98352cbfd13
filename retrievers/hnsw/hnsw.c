/* hnsw.c — approximate cosine search with a hierarchical navigable small-world graph.
 *
 * The graph is hnswlib's (hnsw-shim.cc); this file is the plugin: keys,
 * vtable and the glue to m3ret's index container.  M and ef_construction
 * shape the graph and are stored in the file; ef_search is read from the
 * pipeline each time, so one saved index can be queried at any
 * speed/recall trade-off.
 */
#include "config.h"

#include "hnsw-shim.h"
#include "m3ret-plugin.h"

/* hnsw_keys as m3ret_config_fill() writes them. */
typedef struct {
  gint64 m;
  gint64 ef_construction;
  gint64 ef_search;
  gint64 seed;
} HnswSettings;

static const M3retKeySpec hnsw_keys[] = {
  M3RET_KEY_INT_FIELD (HnswSettings, m, "M", "16", 2, 100,
                       "graph degree: links per node per level (2·M on the bottom level)"),
  M3RET_KEY_INT_FIELD (HnswSettings, ef_construction, "ef_construction", "200", 8, 4096,
                       "beam width while building: higher gives a better graph, slower build"),
  M3RET_KEY_INT_FIELD (HnswSettings, ef_search, "ef_search", "64", 1, 32768,
                       "beam width while searching (at least k): higher gives recall, costs speed"),
  M3RET_KEY_INT_FIELD (HnswSettings, seed, "seed", "100", 0, 4294967295.0,
                       "seed of the level draw of each node"),
  M3RET_KEY_END
};

typedef struct {
  M3retHnsw *graph;
  guint n_threads;
  guint ef_search;
} Hnsw;

static gpointer
hnsw_wrap (M3retHnsw *graph, const HnswSettings *set, guint n_threads)
{
  Hnsw *h = g_new0 (Hnsw, 1);
  h->graph = graph;
  h->n_threads = MAX (n_threads, 1);
  h->ef_search = (guint) set->ef_search;
  return h;
}

static gpointer
hnsw_create (const M3retConfig *config, guint dim, guint n_threads, GError **error)
{
  HnswSettings set;
  if (!m3ret_config_fill (config, hnsw_keys, &set, error))
    return NULL;
  M3retHnsw *graph = m3ret_hnsw_new (dim, (guint) set.m, (guint) set.ef_construction,
                                     (guint64) set.seed, error);
  return graph ? hnsw_wrap (graph, &set, n_threads) : NULL;
}

static void
hnsw_destroy (gpointer index)
{
  Hnsw *h = index;
  if (h == NULL)
    return;
  m3ret_hnsw_free (h->graph);
  g_free (h);
}

static gboolean
hnsw_add (gpointer index, const gfloat *vectors, gsize n, GError **error)
{
  Hnsw *h = index;
  return m3ret_hnsw_add (h->graph, vectors, n, h->n_threads, error);
}

static gsize
hnsw_count (gpointer index)
{
  return m3ret_hnsw_count (((Hnsw *) index)->graph);
}

static gboolean
hnsw_search (gpointer index, const gfloat *queries, gsize n_queries, guint k, gint64 *ids,
             gfloat *scores, GError **error)
{
  Hnsw *h = index;
  return m3ret_hnsw_search (h->graph, queries, n_queries, k, h->ef_search, h->n_threads, ids,
                            scores, error);
}

static gboolean
write_payload (gpointer user_data, gconstpointer data, gsize len, GError **error)
{
  return m3ret_index_writer_write (user_data, data, len, error);
}

static gboolean
hnsw_save (gpointer index, M3retIndexWriter *writer, GError **error)
{
  return m3ret_hnsw_serialize (((Hnsw *) index)->graph, write_payload, writer, error);
}

static gpointer
hnsw_load (const M3retConfig *config, guint dim, gsize count, const guint8 *payload,
           gsize payload_len, guint n_threads, GError **error)
{
  /* M and ef_construction come from the file; only ef_search is used here. */
  HnswSettings set;
  if (!m3ret_config_fill (config, hnsw_keys, &set, error))
    return NULL;
  M3retHnsw *graph = m3ret_hnsw_deserialize (dim, count, payload, payload_len, error);
  return graph ? hnsw_wrap (graph, &set, n_threads) : NULL;
}

static const M3retRetrieverVTable hnsw_vtable = {
  .create = hnsw_create,
  .destroy = hnsw_destroy,
  .add = hnsw_add,
  .count = hnsw_count,
  .search = hnsw_search,
  .save = hnsw_save,
  .load = hnsw_load,
};

/* The plugin compiles hnswlib's headers in: their Apache-2.0 applies beside our MIT. */
M3RET_PLUGIN_DEFINE (hnsw, M3RET_PLUGIN_RETRIEVER, "0.1.0",
                     "approximate cosine search: HNSW graph (hnswlib), keys M, ef_construction, ef_search",
                     "MIT AND Apache-2.0", hnsw_keys, NULL, &hnsw_vtable)
