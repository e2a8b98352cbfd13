/* cpu-private.h — the cpu backend's context and its thread pool. */
#ifndef M3RET_CPU_PRIVATE_H
#define M3RET_CPU_PRIVATE_H

#include <glib.h>

#include "cpu-sgemm.h"
#include "m3ret-plugin.h"

G_BEGIN_DECLS

/* A chunk of a parallel loop: [lo, hi) of the range, run by thread @tid. */
typedef void (*CpuTask) (gpointer data, gsize lo, gsize hi, gint tid);

typedef struct _CpuPool CpuPool;

CpuPool *cpu_pool_new (gint n_threads);
void cpu_pool_free (CpuPool *pool);
gint cpu_pool_get_n_threads (const CpuPool *pool);
/* Runs @fn over [0, n) split into one contiguous chunk per thread, the
 * calling thread taking the first; runs it inline when n < @grain.  The
 * split depends only on n and the thread count, so results repeat. */
void cpu_pool_run (CpuPool *pool, gsize n, gsize grain, CpuTask fn, gpointer data);

typedef struct {
  CpuPool *pool;
  gint n_threads;
  CpuSgemmKernel sgemm; /* every product's kernel, chosen at create */
  /* the other hot loops, compiled for this CPU (kernels.h) or for `simd=` */
  const struct _CpuKernels *kernels;
  /* per-thread scratch, grown on demand by its own thread only */
  gpointer *scratch;
  gsize *scratch_size;
  /* a vector of ones for column sums, grown by the calling thread */
  float *ones;
  gsize ones_len;
  /* B of a product packed once for every thread (cpu-sgemm.h), grown by
   * the calling thread */
  float *packed;
  gsize packed_floats;
  /* the first failure of a void entry, for take_error (calling thread) */
  GError *failure;
} Cpu;

/* (transfer none) at least @nbytes of scratch owned by thread @tid; NULL
 * on out of memory */
gpointer cpu_scratch (Cpu *cpu, gint tid, gsize nbytes);

/* cpu.c: probe, context and memory entries */
guint cpu_score (const M3retConfig *config, GError **error);
gpointer cpu_create (const M3retConfig *config, guint n_threads, GError **error);
void cpu_destroy (gpointer self);
gpointer cpu_alloc (gpointer self, gsize nbytes, GError **error);
void cpu_free (gpointer self, gpointer mem);
void cpu_copy (gpointer self, gpointer dst, gconstpointer src, gsize nbytes);

/* cpu-ops.c: the table, memory entries and every op */
extern const M3retBackendVTable cpu_vtable;

G_END_DECLS

#endif
