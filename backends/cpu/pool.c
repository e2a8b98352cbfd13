/* pool.c — a fixed set of worker threads for the cpu backend's loops.
 *
 * The backend owns its parallelism (OpenBLAS runs single-threaded inside
 * each chunk), so the machine's cores are never oversubscribed.
 *
 * A training step forks and joins several hundred times (every product,
 * norm and elementwise op), most of them jobs of tens of microseconds, so
 * the hand-off is lock-free: a job is published by bumping a generation
 * word, and completion is a countdown.  Each side spins briefly on the
 * word it waits for (the partner is usually about to arrive: chunks are
 * equal, and the next op follows within microseconds), then sleeps on it
 * with a futex.  A mutex and condition variables cost about eight futex
 * calls and several context switches per job here, and the spin is short
 * enough that a thread waiting on a busy machine gives its core back.
 */
#include "config.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu-private.h"

/* Spin iterations before sleeping: about 10 µs on the build machine's Zen
 * (19 ns a pause), a few times what one wake-up costs in its virtual
 * machine.  2000 (40 µs) was no faster idle and costs more under load. */
#define SPIN_ITERATIONS 500

struct _CpuPool {
  gint n_threads;
  GThread **threads;
  /* the job, written by the caller before it bumps the generation */
  CpuTask fn;
  gpointer data;
  gsize total;
  gint quit;
  /* futex words */
  guint32 generation; /* workers wait for it to move */
  gint32 pending;     /* chunks of the current job not finished by workers */
  gint32 sleepers;    /* workers asleep (or about to be) on the generation */
  gint32 caller_sleeping;
};

typedef struct {
  CpuPool *pool;
  gint tid;
} Worker;

static void
futex_wait (gint32 *word, gint32 expected)
{
  syscall (SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void
futex_wake (gint32 *word, gint count)
{
  syscall (SYS_futex, word, FUTEX_WAKE_PRIVATE, count, NULL, NULL, 0);
}

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#endif
}

static void
run_chunk (CpuPool *pool, CpuTask fn, gpointer data, gsize total, gint tid)
{
  gsize n = (gsize) pool->n_threads;
  gsize lo = total * (gsize) tid / n;
  gsize hi = total * (gsize) (tid + 1) / n;
  if (hi > lo)
    fn (data, lo, hi, tid);
}

/* Until the generation moves past @seen; returns the new one. */
static guint32
wait_for_job (CpuPool *pool, guint32 seen)
{
  for (gint i = 0; i < SPIN_ITERATIONS; i++) {
    guint32 gen = __atomic_load_n (&pool->generation, __ATOMIC_ACQUIRE);
    if (gen != seen)
      return gen;
    cpu_relax ();
  }
  for (;;) {
    /* sequentially consistent with the caller's bump-then-read, so one of
     * the two sees the other: no lost wake-up */
    __atomic_add_fetch (&pool->sleepers, 1, __ATOMIC_SEQ_CST);
    guint32 gen = __atomic_load_n (&pool->generation, __ATOMIC_SEQ_CST);
    if (gen == seen)
      futex_wait ((gint32 *) &pool->generation, (gint32) seen);
    __atomic_sub_fetch (&pool->sleepers, 1, __ATOMIC_SEQ_CST);
    gen = __atomic_load_n (&pool->generation, __ATOMIC_ACQUIRE);
    if (gen != seen)
      return gen;
  }
}

static gpointer
worker_main (gpointer user_data)
{
  Worker *w = user_data;
  CpuPool *pool = w->pool;
  guint32 seen = 0;
  for (;;) {
    seen = wait_for_job (pool, seen);
    if (__atomic_load_n (&pool->quit, __ATOMIC_ACQUIRE))
      break;
    run_chunk (pool, pool->fn, pool->data, pool->total, w->tid);
    if (__atomic_sub_fetch (&pool->pending, 1, __ATOMIC_SEQ_CST) == 0
        && __atomic_load_n (&pool->caller_sleeping, __ATOMIC_SEQ_CST))
      futex_wake (&pool->pending, 1);
  }
  g_free (w);
  return NULL;
}

CpuPool *
cpu_pool_new (gint n_threads)
{
  CpuPool *pool = g_new0 (CpuPool, 1);
  pool->n_threads = MAX (n_threads, 1);
  pool->threads = g_new0 (GThread *, pool->n_threads);
  for (gint i = 1; i < pool->n_threads; i++) {
    Worker *w = g_new (Worker, 1);
    w->pool = pool;
    w->tid = i;
    pool->threads[i] = g_thread_new ("m3ret-cpu", worker_main, w);
  }
  return pool;
}

/* Publishes the job set in @pool and wakes whoever sleeps. */
static void
publish (CpuPool *pool)
{
  __atomic_add_fetch (&pool->generation, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n (&pool->sleepers, __ATOMIC_SEQ_CST) > 0)
    futex_wake ((gint32 *) &pool->generation, G_MAXINT);
}

void
cpu_pool_free (CpuPool *pool)
{
  if (pool == NULL)
    return;
  __atomic_store_n (&pool->quit, 1, __ATOMIC_RELEASE);
  publish (pool);
  for (gint i = 1; i < pool->n_threads; i++)
    g_thread_join (pool->threads[i]);
  g_free (pool->threads);
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
  pool->fn = fn;
  pool->data = data;
  pool->total = n;
  __atomic_store_n (&pool->pending, pool->n_threads - 1, __ATOMIC_RELAXED);
  publish (pool);

  run_chunk (pool, fn, data, n, 0);

  for (gint i = 0; i < SPIN_ITERATIONS; i++) {
    if (__atomic_load_n (&pool->pending, __ATOMIC_ACQUIRE) == 0)
      return;
    cpu_relax ();
  }
  for (;;) {
    __atomic_store_n (&pool->caller_sleeping, 1, __ATOMIC_SEQ_CST);
    gint32 left = __atomic_load_n (&pool->pending, __ATOMIC_SEQ_CST);
    if (left != 0)
      futex_wait (&pool->pending, left);
    __atomic_store_n (&pool->caller_sleeping, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n (&pool->pending, __ATOMIC_ACQUIRE) == 0)
      return;
  }
}
