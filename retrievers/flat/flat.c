/* flat.c — exact cosine search: blocked sgemm over the database + partial top-k.
 *
 * Scores of a block of queries against a block of database rows come from
 * one sgemm (OpenBLAS threads it as configured by the program); the top-k
 * selection that follows is split over this index's own threads, one range
 * of queries each, so the two phases never compete for the cores.
 *
 * Payload: u32 version (1), u32 dim, then count×dim float32, little-endian.
 */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-plugin.h"

#define FLAT_PAYLOAD_VERSION 1

/* Queries × database rows per sgemm: 512 × 2048 scores (4 MiB) stay in the
 * last-level cache for the selection pass that reads them back. */
#define QUERY_BLOCK 512
#define DB_BLOCK 2048

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

/* One selection task: queries [q0, q1) of the block against scores S. */
typedef struct {
  const gfloat *S;
  gsize ld;          /* columns of S: database rows in this block */
  gsize id0;         /* database id of column 0 */
  Heap *heaps;
  guint k;
  gsize q0, q1;
} SelectTask;

static gpointer
select_run (gpointer data)
{
  SelectTask *t = data;
  for (gsize q = t->q0; q < t->q1; q++) {
    Heap *h = &t->heaps[q];
    const gfloat *s = t->S + q * t->ld;
    /* Database ids arrive in increasing order, so an equal score never beats
     * the root: only a strictly higher one enters a full heap. */
    gfloat threshold = h->size == t->k ? h->score[0] : -INFINITY;
    for (gsize j = 0; j < t->ld; j++) {
      if (s[j] > threshold || h->size < t->k) {
        heap_push (h, t->k, s[j], (gint64) (t->id0 + j));
        if (h->size == t->k)
          threshold = h->score[0];
      }
    }
  }
  return NULL;
}

static void
select_parallel (SelectTask *base, gsize n_queries, guint n_threads)
{
  /* Threads only pay off when each has real work. */
  guint n = (guint) MIN ((gsize) n_threads, MAX ((gsize) 1, n_queries * base->ld / 65536));
  n = MIN (n, (guint) n_queries);
  if (n <= 1) {
    base->q0 = 0;
    base->q1 = n_queries;
    select_run (base);
    return;
  }
  SelectTask tasks[n];
  GThread *threads[n];
  for (guint i = 0; i < n; i++) {
    tasks[i] = *base;
    tasks[i].q0 = n_queries * i / n;
    tasks[i].q1 = n_queries * (i + 1) / n;
    threads[i] = i == 0 ? NULL : g_thread_new ("m3ret-flat", select_run, &tasks[i]);
  }
  select_run (&tasks[0]);
  for (guint i = 1; i < n; i++)
    g_thread_join (threads[i]);
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

static gboolean
flat_search (gpointer index, const gfloat *queries, gsize n_queries, guint k, gint64 *ids,
             gfloat *scores, GError **error)
{
  Flat *flat = index;
  guint dim = flat->dim;
  guint kk = (guint) MIN ((gsize) k, flat->count);
  gsize qb_max = MIN ((gsize) QUERY_BLOCK, n_queries);
  gsize db_max = MIN ((gsize) DB_BLOCK, MAX (flat->count, (gsize) 1));
  g_autofree gfloat *S = g_new (gfloat, qb_max * db_max);
  g_autofree gfloat *heap_scores = g_new (gfloat, qb_max * MAX (kk, 1));
  g_autofree gint64 *heap_ids = g_new (gint64, qb_max * MAX (kk, 1));
  g_autofree Heap *heaps = g_new (Heap, qb_max);
  g_autofree guint *order = g_new (guint, MAX (kk, 1));
  for (gsize q0 = 0; q0 < n_queries; q0 += QUERY_BLOCK) {
    gsize nq = MIN ((gsize) QUERY_BLOCK, n_queries - q0);
    for (gsize q = 0; q < nq; q++)
      heaps[q] = (Heap) { heap_scores + q * kk, heap_ids + q * kk, 0 };
    for (gsize d0 = 0; kk > 0 && d0 < flat->count; d0 += DB_BLOCK) {
      gsize nd = MIN ((gsize) DB_BLOCK, flat->count - d0);
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (blasint) nq, (blasint) nd,
                   (blasint) dim, 1.0f, queries + q0 * dim, (blasint) dim,
                   flat->rows + d0 * dim, (blasint) dim, 0.0f, S, (blasint) nd);
      SelectTask task = { S, nd, d0, heaps, kk, 0, 0 };
      select_parallel (&task, nq, flat->n_threads);
    }
    for (gsize q = 0; q < nq; q++) {
      Heap *h = &heaps[q];
      for (guint i = 0; i < h->size; i++)
        order[i] = i;
      g_qsort_with_data (order, h->size, sizeof (guint), compare_result, h);
      gint64 *out_ids = ids + (q0 + q) * k;
      gfloat *out_scores = scores + (q0 + q) * k;
      for (guint i = 0; i < k; i++) {
        out_ids[i] = i < h->size ? h->id[order[i]] : -1;
        out_scores[i] = i < h->size ? h->score[order[i]] : -INFINITY;
      }
    }
  }
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
