/* flat.c — exact cosine search: blocked sgemm over the database + partial top-k.
 *
 * The search is cut into tiles of a query block × a database block.  Each of
 * this index's threads claims tiles, computes a tile's scores with a
 * single-threaded sgemm and selects from them at once, while they are still
 * in cache, into its own per-query heaps; the heaps are merged at the end.
 * No phase waits for another and OpenBLAS starts no threads of its own.
 *
 * Payload: u32 version (1), u32 dim, then count×dim float32, little-endian.
 */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "m3ret-plugin.h"

#define FLAT_PAYLOAD_VERSION 1

/* Queries × database rows per sgemm tile: 256 × 1024 scores (1 MiB) stay in
 * a core's L2/L3 for the selection pass that reads them back at once, while
 * the sgemm still runs on a shape large enough for its peak rate. */
#ifndef QUERY_BLOCK
#define QUERY_BLOCK 256
#endif
#ifndef DB_BLOCK
#define DB_BLOCK 1024
#endif

typedef struct {
  guint dim;
  guint n_threads;
  gfloat *rows;
  gsize count;
  gsize capacity;
} Flat;

static gpointer
flat_create (const M3retConfig *config, guint dim, guint n_threads, GError **error)
{
  Flat *flat = g_new0 (Flat, 1);
  flat->dim = dim;
  flat->n_threads = MAX (n_threads, 1);
  return flat;
}

static void
flat_destroy (gpointer index)
{
  Flat *flat = index;
  if (flat == NULL)
    return;
  g_free (flat->rows);
  g_free (flat);
}

static gboolean
flat_add (gpointer index, const gfloat *vectors, gsize n, GError **error)
{
  Flat *flat = index;
  if (n > G_MAXSIZE / flat->dim / sizeof (gfloat) - flat->count) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID, "flat: too many vectors");
    return FALSE;
  }
  if (flat->count + n > flat->capacity) {
    flat->capacity = MAX (flat->count + n, flat->capacity * 2);
    flat->rows = g_realloc_n (flat->rows, flat->capacity * flat->dim, sizeof (gfloat));
  }
  memcpy (flat->rows + flat->count * flat->dim, vectors, n * flat->dim * sizeof (gfloat));
  flat->count += n;
  return TRUE;
}

static gsize
flat_count (gpointer index)
{
  return ((Flat *) index)->count;
}

/* A bounded min-heap per query whose root is the worst kept result: lower
 * score, or equal score and higher id. */
typedef struct {
  gfloat *score;
  gint64 *id;
  guint size;
} Heap;

static inline gboolean
worse (gfloat sa, gint64 ia, gfloat sb, gint64 ib)
{
  return sa < sb || (sa == sb && ia > ib);
}

static void
heap_sift_down (Heap *h, guint i)
{
  for (;;) {
    guint l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->size && worse (h->score[l], h->id[l], h->score[m], h->id[m]))
      m = l;
    if (r < h->size && worse (h->score[r], h->id[r], h->score[m], h->id[m]))
      m = r;
    if (m == i)
      return;
    gfloat s = h->score[i];
    h->score[i] = h->score[m];
    h->score[m] = s;
    gint64 id = h->id[i];
    h->id[i] = h->id[m];
    h->id[m] = id;
    i = m;
  }
}

static void
heap_push (Heap *h, guint k, gfloat score, gint64 id)
{
  if (h->size < k) {
    guint i = h->size++;
    while (i > 0) {
      guint parent = (i - 1) / 2;
      if (!worse (score, id, h->score[parent], h->id[parent]))
        break;
      h->score[i] = h->score[parent];
      h->id[i] = h->id[parent];
      i = parent;
    }
    h->score[i] = score;
    h->id[i] = id;
    return;
  }
  h->score[0] = score;
  h->id[0] = id;
  heap_sift_down (h, 0);
}

/* Index of the first score in s[0..n) above @threshold, or n.  Almost every
 * score of a large database misses a query's current k-th best, so this scan
 * is the hot loop after the sgemm: four lanes at a time where SSE exists. */
static gsize
first_above (const gfloat *s, gsize n, gfloat threshold)
{
  gsize j = 0;
#ifdef __SSE2__
  __m128 t = _mm_set1_ps (threshold);
  for (; j + 16 <= n; j += 16) {
    __m128 m = _mm_max_ps (_mm_max_ps (_mm_loadu_ps (s + j), _mm_loadu_ps (s + j + 4)),
                           _mm_max_ps (_mm_loadu_ps (s + j + 8), _mm_loadu_ps (s + j + 12)));
    if (_mm_movemask_ps (_mm_cmpgt_ps (m, t)) != 0)
      break;
  }
#endif
  for (; j < n; j++)
    if (s[j] > threshold)
      return j;
  return n;
}

/* Offers the scores s[0..n) of database ids id0.. to the heap @h. */
static void
select_row (Heap *h, guint k, const gfloat *s, gsize n, gsize id0)
{
  gsize j = 0;
  for (; j < n && h->size < k; j++)
    heap_push (h, k, s[j], (gint64) (id0 + j));
  /* Database ids arrive in increasing order, so an equal score never beats
   * the root: only a strictly higher one enters a full heap. */
  while (j < n) {
    j += first_above (s + j, n - j, h->score[0]);
    if (j == n)
      break;
    heap_push (h, k, s[j], (gint64) (id0 + j));
    j++;
  }
}

/* One search shared by the threads: the work is cut into tiles of a query
 * block × a database block; a thread claims tiles in increasing order, so
 * for any query the database ids it offers to its own heaps increase. */
typedef struct {
  const Flat *flat;
  const gfloat *queries;
  gsize n_queries;
  guint k;
  gsize n_db_blocks;
  gsize n_tiles;
  gint next_tile; /* atomic */
} SearchJob;

typedef struct {
  SearchJob *job;
  gfloat *heap_scores; /* n_queries × k */
  gint64 *heap_ids;
  Heap *heaps;         /* n_queries */
} Worker;

static gpointer
search_worker (gpointer data)
{
  Worker *w = data;
  SearchJob *job = w->job;
  const Flat *flat = job->flat;
  guint dim = flat->dim;
  /* One tile of scores: written by the sgemm, read back at once while hot. */
  g_autofree gfloat *S = g_new (gfloat, (gsize) QUERY_BLOCK * DB_BLOCK);
  for (;;) {
    gsize tile = (gsize) g_atomic_int_add (&job->next_tile, 1);
    if (tile >= job->n_tiles)
      break;
    gsize q0 = tile / job->n_db_blocks * QUERY_BLOCK, d0 = tile % job->n_db_blocks * DB_BLOCK;
    gsize nq = MIN ((gsize) QUERY_BLOCK, job->n_queries - q0);
    gsize nd = MIN ((gsize) DB_BLOCK, flat->count - d0);
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (blasint) nq, (blasint) nd,
                 (blasint) dim, 1.0f, job->queries + q0 * dim, (blasint) dim,
                 flat->rows + d0 * dim, (blasint) dim, 0.0f, S, (blasint) nd);
    for (gsize q = 0; q < nq; q++)
      select_row (&w->heaps[q0 + q], job->k, S + q * nd, nd, d0);
  }
  return NULL;
}

static gint
compare_result (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Heap *h = user_data;
  guint x = *(const guint *) a, y = *(const guint *) b;
  if (worse (h->score[y], h->id[y], h->score[x], h->id[x]))
    return -1;
  return worse (h->score[x], h->id[x], h->score[y], h->id[y]) ? 1 : 0;
}

/* Pushes every entry of @from into @into (the threads' partial results). */
static void
heap_merge (Heap *into, guint k, const Heap *from)
{
  for (guint i = 0; i < from->size; i++)
    if (into->size < k || worse (into->score[0], into->id[0], from->score[i], from->id[i]))
      heap_push (into, k, from->score[i], from->id[i]);
}

static gboolean
flat_search (gpointer index, const gfloat *queries, gsize n_queries, guint k, gint64 *ids,
             gfloat *scores, GError **error)
{
  Flat *flat = index;
  guint kk = (guint) MIN ((gsize) k, flat->count);
  gsize n_db_blocks = (flat->count + DB_BLOCK - 1) / DB_BLOCK;
  gsize n_query_blocks = (n_queries + QUERY_BLOCK - 1) / QUERY_BLOCK;
  gsize n_tiles = kk > 0 ? n_db_blocks * n_query_blocks : 0;
  if (n_tiles > G_MAXINT) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "flat: %zu queries against %zu rows is too large a search", n_queries,
                 flat->count);
    return FALSE;
  }
  SearchJob job = { flat, queries, n_queries, kk, n_db_blocks, n_tiles, 0 };
  guint n_workers = (guint) MAX (MIN ((gsize) flat->n_threads, n_tiles), (gsize) 1);
  Worker *workers = g_new0 (Worker, n_workers);
  GThread **threads = g_new0 (GThread *, n_workers);
  for (guint t = 0; t < n_workers; t++) {
    Worker *w = &workers[t];
    w->job = &job;
    w->heap_scores = g_new (gfloat, MAX (n_queries * kk, 1));
    w->heap_ids = g_new (gint64, MAX (n_queries * kk, 1));
    w->heaps = g_new (Heap, MAX (n_queries, 1));
    for (gsize q = 0; q < n_queries; q++)
      w->heaps[q] = (Heap) { w->heap_scores + q * kk, w->heap_ids + q * kk, 0 };
  }
  /* Each thread runs its own single-threaded sgemm on its tiles: OpenBLAS's
   * threads on top of ours would only oversubscribe the cores. */
  int blas_threads = openblas_get_num_threads ();
  if (blas_threads != 1)
    openblas_set_num_threads (1);
  for (guint t = 1; t < n_workers; t++)
    threads[t] = g_thread_new ("m3ret-flat", search_worker, &workers[t]);
  search_worker (&workers[0]);
  for (guint t = 1; t < n_workers; t++)
    g_thread_join (threads[t]);
  if (blas_threads != 1)
    openblas_set_num_threads (blas_threads);

  g_autofree guint *order = g_new (guint, MAX (kk, 1));
  for (gsize q = 0; q < n_queries; q++) {
    Heap *h = &workers[0].heaps[q];
    for (guint t = 1; t < n_workers; t++)
      heap_merge (h, kk, &workers[t].heaps[q]);
    for (guint i = 0; i < h->size; i++)
      order[i] = i;
    g_qsort_with_data (order, h->size, sizeof (guint), compare_result, h);
    gint64 *out_ids = ids + q * k;
    gfloat *out_scores = scores + q * k;
    for (guint i = 0; i < k; i++) {
      out_ids[i] = i < h->size ? h->id[order[i]] : -1;
      out_scores[i] = i < h->size ? h->score[order[i]] : -INFINITY;
    }
  }
  for (guint t = 0; t < n_workers; t++) {
    g_free (workers[t].heap_scores);
    g_free (workers[t].heap_ids);
    g_free (workers[t].heaps);
  }
  g_free (workers);
  g_free (threads);
  return TRUE;
}

static void
put_u32 (guint8 *p, guint32 v)
{
  for (gint i = 0; i < 4; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static gboolean
flat_save (gpointer index, M3retIndexWriter *writer, GError **error)
{
  Flat *flat = index;
  guint8 head[8];
  put_u32 (head, FLAT_PAYLOAD_VERSION);
  put_u32 (head + 4, flat->dim);
  if (!m3ret_index_writer_write (writer, head, sizeof head, error))
    return FALSE;
#if G_BYTE_ORDER == G_BIG_ENDIAN
  for (gsize i = 0; i < flat->count * flat->dim; i++) {
    guint8 b[4];
    guint32 v;
    memcpy (&v, flat->rows + i, 4);
    put_u32 (b, v);
    if (!m3ret_index_writer_write (writer, b, 4, error))
      return FALSE;
  }
  return TRUE;
#else
  return m3ret_index_writer_write (writer, flat->rows, flat->count * flat->dim * sizeof (gfloat),
                                   error);
#endif
}

static gpointer
flat_load (const M3retConfig *config, guint dim, gsize count, const guint8 *payload,
           gsize payload_len, guint n_threads, GError **error)
{
  if (payload_len < 8) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT,
                 "flat payload of %zu bytes is too short", payload_len);
    return NULL;
  }
  guint32 version = get_u32 (payload), stored_dim = get_u32 (payload + 4);
  if (version != FLAT_PAYLOAD_VERSION) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_VERSION,
                 "flat payload version %u; this plugin reads version %d", version,
                 FLAT_PAYLOAD_VERSION);
    return NULL;
  }
  if (stored_dim != dim || count > (G_MAXSIZE - 8) / 4 / dim || payload_len != 8 + count * dim * 4) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT,
                 "flat payload of %zu bytes does not hold %zu vectors of %u", payload_len, count,
                 dim);
    return NULL;
  }
  Flat *flat = flat_create (config, dim, n_threads, error);
  flat->rows = g_new (gfloat, MAX (count * dim, 1));
  flat->count = flat->capacity = count;
  memcpy (flat->rows, payload + 8, count * dim * sizeof (gfloat));
#if G_BYTE_ORDER == G_BIG_ENDIAN
  for (gsize i = 0; i < count * dim; i++) {
    guint32 v = get_u32 ((const guint8 *) (flat->rows + i));
    memcpy (flat->rows + i, &v, 4);
  }
#endif
  return flat;
}

static const M3retRetrieverVTable flat_vtable = {
  .create = flat_create,
  .destroy = flat_destroy,
  .add = flat_add,
  .count = flat_count,
  .search = flat_search,
  .save = flat_save,
  .load = flat_load,
};

M3RET_PLUGIN_DEFINE (flat, M3RET_PLUGIN_RETRIEVER, "0.1.0",
                     "exact cosine search: blocked sgemm + partial top-k, multi-threaded",
                     "MIT", NULL, NULL, &flat_vtable)
