/* pool.c — a fixed set of worker threads for the cpu backend's loops.
 *
 * The backend owns its parallelism (OpenBLAS runs single-threaded inside
 * each chunk), so the machine's cores are never oversubscribed.  Workers
 * sleep on a condition variable between jobs; a job is a generation number
 * plus the task, and the caller waits until every chunk has finished.
 */
#include "config.h"

#include "cpu-private.h"

struct _CpuPool {
  gint n_threads;
  GThread **threads;
  GMutex lock;
  GCond start;
  GCond done;
  guint64 generation;
  gint pending;
  gboolean quit;
  CpuTask fn;
  gpointer data;
  gsize total;
};

typedef struct {
  CpuPool *pool;
  gint tid;
} Worker;

static void
run_chunk (CpuPool *pool, CpuTask fn, gpointer data, gsize total, gint tid)
{
  gsize n = (gsize) pool->n_threads;
  gsize lo = total * (gsize) tid / n;
  gsize hi = total * (gsize) (tid + 1) / n;
  if (hi > lo)
    fn (data, lo, hi, tid);
}

static gpointer
worker_main (gpointer user_data)
{
  Worker *w = user_data;
  CpuPool *pool = w->pool;
  guint64 seen = 0;
  g_mutex_lock (&pool->lock);
  for (;;) {
    while (pool->generation == seen && !pool->quit)
      g_cond_wait (&pool->start, &pool->lock);
    if (pool->quit)
      break;
    seen = pool->generation;
    CpuTask fn = pool->fn;
    gpointer data = pool->data;
    gsize total = pool->total;
    g_mutex_unlock (&pool->lock);
    run_chunk (pool, fn, data, total, w->tid);
    g_mutex_lock (&pool->lock);
    if (--pool->pending == 0)
      g_cond_signal (&pool->done);
  }
  g_mutex_unlock (&pool->lock);
  g_free (w);
  return NULL;
}

CpuPool *
cpu_pool_new (gint n_threads)
{
  CpuPool *pool = g_new0 (CpuPool, 1);
  pool->n_threads = MAX (n_threads, 1);
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->start);
  g_cond_init (&pool->done);
  pool->threads = g_new0 (GThread *, pool->n_threads);
  for (gint i = 1; i < pool->n_threads; i++) {
    Worker *w = g_new (Worker, 1);
    w->pool = pool;
    w->tid = i;
    pool->threads[i] = g_thread_new ("m3ret-cpu", worker_main, w);
  }
  return pool;
}

void
cpu_pool_free (CpuPool *pool)
{
  if (pool == NULL)
    return;
  g_mutex_lock (&pool->lock);
  pool->quit = TRUE;
  g_cond_broadcast (&pool->start);
  g_mutex_unlock (&pool->lock);
  for (gint i = 1; i < pool->n_threads; i++)
    g_thread_join (pool->threads[i]);
  g_free (pool->threads);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->start);
  g_cond_clear (&pool->done);
  g_free (pool);
}

gint
cpu_pool_get_n_threads (const CpuPool *pool)
{
  return pool->n_threads;
}

void
cpu_pool_run (CpuPool *pool, gsize n, gsize grain, CpuTask fn, gpointer data)
{
  if (n == 0)
    return;
  if (pool->n_threads == 1 || n < grain || n < (gsize) pool->n_threads) {
    fn (data, 0, n, 0);
    return;
  }
  g_mutex_lock (&pool->lock);
  pool->fn = fn;
  pool->data = data;
  pool->total = n;
  pool->pending = pool->n_threads - 1;
  pool->generation++;
  g_cond_broadcast (&pool->start);
  g_mutex_unlock (&pool->lock);

  run_chunk (pool, fn, data, n, 0);

  g_mutex_lock (&pool->lock);
  while (pool->pending > 0)
    g_cond_wait (&pool->done, &pool->lock);
  g_mutex_unlock (&pool->lock);
}
