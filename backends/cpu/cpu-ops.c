/* cpu-ops.c — every op of the backend table on host memory.
 *
 * Each op splits its outer loop over the pool; inside a chunk OpenBLAS runs
 * single-threaded.  Reductions that cross the split (column sums, norms)
 * are split over the reduced-into index instead, or combined per thread in
 * a fixed order, so a given thread count always gives the same bits.
 * Sums accumulate in double.
 */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "cpu-private.h"
#include "kernels.h"

/* Elementwise loops are worth splitting from this many elements on. */
#define GRAIN_ELEMS 16384

/* LAPACK (shipped inside OpenBLAS), Fortran interface. */
extern void dpotrf_ (const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotri_ (const char *uplo, const int *n, double *a, const int *lda, int *info);

/* Simple elementwise loops get an AVX2 clone, picked at load time by CPU
 * features; the costly loops (GELU, rows, AdamW) come from the kernel
 * table (kernels.h), picked per context. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__ ((target_clones ("avx2", "default")))
#define HAVE_X86_VARIANTS 1
#else
#define HOT
#endif

static inline CpuPool *
pool_of (gpointer self)
{
  return ((Cpu *) self)->pool;
}

static inline const CpuKernels *
kernels_of (gpointer self)
{
  return ((Cpu *) self)->kernels;
}

/* ------------------------------------------------------------------ gemm */

typedef struct {
  CpuSgemmKernel kernel;
  gboolean ta, tb, split_m;
  gint m, n, k, lda, ldb, ldc;
  gfloat alpha, beta;
  const float *a, *b, *bias; /* bias: n floats added to every row, or NULL */
  float *c;
  float *packed; /* op(B) packed once for every thread, or NULL */
} GemmJob;

static void
gemm_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  GemmJob *j = data;
  gint len = (gint) (hi - lo);
  if (j->split_m) {
    const float *a = j->ta ? j->a + lo : j->a + lo * (gsize) j->lda;
    cpu_sgemm_bias (j->kernel, j->ta, j->tb, len, j->n, j->k, j->alpha, a, j->lda, j->b, j->ldb,
                    j->beta, j->bias, j->c + lo * (gsize) j->ldc, j->ldc);
  } else {
    const float *b = j->tb ? j->b + lo * (gsize) j->ldb : j->b + lo;
    cpu_sgemm_bias (j->kernel, j->ta, j->tb, j->m, len, j->k, j->alpha, j->a, j->lda, b, j->ldb,
                    j->beta, j->bias ? j->bias + lo : NULL, j->c + lo, j->ldc);
  }
}

static void
pack_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  GemmJob *j = data;
  cpu_sgemm_pack (j->kernel, j->tb, j->b, j->ldb, j->n, j->k, (gint) lo, (gint) hi, j->packed);
}

static void
packed_gemm_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  GemmJob *j = data;
  const float *a = j->ta ? j->a + lo : j->a + lo * (gsize) j->lda;
  float *c = j->c + lo * (gsize) j->ldc;
  if (!cpu_sgemm_packed (j->kernel, j->ta, (gint) (hi - lo), j->n, j->k, j->alpha, a, j->lda,
                         j->packed, j->beta, j->bias, c, j->ldc))
    cpu_sgemm_bias (CPU_SGEMM_OPENBLAS, j->ta, j->tb, (gint) (hi - lo), j->n, j->k, j->alpha, a,
                    j->lda, j->b, j->ldb, j->beta, j->bias, c, j->ldc);
}

/* The shared packing buffer of @cpu, at least @floats long; NULL when it
 * cannot be had. */
static float *
packed_buffer (Cpu *cpu, gsize floats)
{
  if (cpu->packed_floats < floats) {
    free (cpu->packed);
    cpu->packed = NULL;
    cpu->packed_floats = 0;
    gpointer mem = NULL;
    if (posix_memalign (&mem, 64, floats * sizeof (float)) != 0)
      return NULL;
    cpu->packed = mem;
    cpu->packed_floats = floats;
  }
  return cpu->packed;
}

/* Runs @j on the pool, split along the longer of m and n: both halves
 * keep the kernels busy.  Split along m, every thread would pack all of
 * B for its rows: with an own kernel and a B of up to 2 MiB the
 * threads pack B's panels once, between them, and then share them. */
static void
run_gemm (gpointer self, GemmJob *j)
{
  Cpu *cpu = self;
  if (j->m <= 0 || j->n <= 0)
    return;
  gdouble work = (gdouble) j->m * j->n * MAX (j->k, 1);
  if (cpu->n_threads == 1 || work < 2e5) {
    gemm_chunk (j, 0, (gsize) j->m, 0);
    return;
  }
  j->split_m = j->m >= j->n;
  /* Only a B of up to 2 MiB packed (the encoders' weights and activations
   * of a layer): a larger one is read back from L3 or memory, where
   * packing 256 × 1024 at a time next to its use keeps it in L2 (2048³:
   * 231–237 GFLOP/s per call against 209–220 shared, 2 threads). */
  gsize packed_floats = cpu_sgemm_packed_floats (j->kernel, j->n, j->k);
  if (j->split_m && j->kernel != CPU_SGEMM_OPENBLAS && j->k > 0 && j->alpha != 0.0f &&
      packed_floats <= ((gsize) 2 << 20) / sizeof (float)) {
    j->packed = packed_buffer (cpu, packed_floats);
    if (j->packed != NULL) {
      cpu_pool_run (cpu->pool, (gsize) cpu_sgemm_panels (j->kernel, j->n), 1, pack_chunk, j);
      cpu_pool_run (cpu->pool, (gsize) j->m, 1, packed_gemm_chunk, j);
      return;
    }
  }
  cpu_pool_run (cpu->pool, (gsize) (j->split_m ? j->m : j->n), 1, gemm_chunk, j);
}

static void
cpu_gemm (gpointer self, gboolean trans_a, gboolean trans_b, gint m, gint n, gint k, gfloat alpha,
          const float *a, gint lda, const float *b, gint ldb, gfloat beta, float *c, gint ldc)
{
  GemmJob j = { .kernel = ((Cpu *) self)->sgemm, .ta = trans_a, .tb = trans_b, .split_m = TRUE,
                .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb, .ldc = ldc,
                .alpha = alpha, .beta = beta, .a = a, .b = b, .c = c };
  run_gemm (self, &j);
}

/* out = x·wᵀ + bias, the bias added by the kernel as it stores C. */
static void
cpu_linear_fwd (gpointer self, gint rows, gint n, gint k, const float *x, const float *w,
                const float *bias, float *out)
{
  GemmJob j = { .kernel = ((Cpu *) self)->sgemm, .ta = FALSE, .tb = TRUE, .split_m = TRUE,
                .m = rows, .n = n, .k = k, .lda = k, .ldb = k, .ldc = n,
                .alpha = 1.0f, .beta = 0.0f, .a = x, .b = w, .bias = bias, .c = out };
  run_gemm (self, &j);
}

/* ----------------------------------------------------------- elementwise */

typedef struct {
  const float *x, *y, *s;
  float *out;
  gsize n, ny;
  gfloat a, b, value;
  const CpuKernels *k;
} EwJob;

HOT static void
fill_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
  for (gsize i = lo; i < hi; i++)
    j->out[i] = j->value;
}

static void
cpu_fill (gpointer self, float *x, gsize n, gfloat value)
{
  EwJob j = { .out = x, .value = value };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, fill_chunk, &j);
}

HOT static void
axpby_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
  if (j->b == 0.0f)
    for (gsize i = lo; i < hi; i++)
      j->out[i] = j->a * j->x[i];
  else
    for (gsize i = lo; i < hi; i++)
      j->out[i] = j->a * j->x[i] + j->b * j->out[i];
}

static void
cpu_axpby (gpointer self, gsize n, gfloat a, const float *x, gfloat b, float *y)
{
  EwJob j = { .x = x, .out = y, .a = a, .b = b };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, axpby_chunk, &j);
}

HOT static void
add_bcast_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
  const float *restrict x = j->x, *restrict y = j->y;
  float *out = j->out; /* may alias x, element for element */
  gsize i = lo;
  while (i < hi) {
    /* one run of y, from wherever the chunk starts inside it */
    gsize k = i % j->ny;
    gsize run = MIN (j->ny - k, hi - i);
    const float *restrict yk = y + k;
    for (gsize c = 0; c < run; c++)
      out[i + c] = x[i + c] + yk[c];
    i += run;
  }
}

static void
cpu_add_bcast (gpointer self, gsize n, const float *x, gsize ny, const float *y, float *out)
{
  EwJob j = { .x = x, .y = y, .out = out, .ny = ny };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, add_bcast_chunk, &j);
}

/* out[j] = Σ_p x[p·ny + j]: a transposed matrix–vector product with ones,
 * each thread taking a slice of the columns. */
static void
reduce_period_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
  gsize periods = j->n / j->ny;
  /* beta = 0 on memory that may hold NaN patterns: clear it explicitly */
  if (j->b == 0.0f)
    memset (j->out + lo, 0, sizeof (float) * (hi - lo));
  cblas_sgemv (CblasRowMajor, CblasTrans, (blasint) periods, (blasint) (hi - lo), 1.0f, j->x + lo,
               (blasint) j->ny, j->s, 1, 1.0f, j->out + lo, 1);
}

static void
cpu_reduce_period (gpointer self, gsize n, const float *x, gsize ny, gfloat beta, float *out)
{
  Cpu *cpu = self;
  gsize periods = n / ny;
  if (periods == 1) {
    cpu_axpby (self, ny, 1.0f, x, beta, out);
    return;
  }
  if (cpu->ones_len < periods) {
    g_free (cpu->ones);
    cpu->ones = g_new (float, periods);
    for (gsize i = 0; i < periods; i++)
      cpu->ones[i] = 1.0f;
    cpu->ones_len = periods;
  }
  EwJob j = { .x = x, .out = out, .n = n, .ny = ny, .b = beta, .s = cpu->ones };
  /* split over output columns; worth it when there is much to sum */
  cpu_pool_run (cpu->pool, ny, n >= GRAIN_ELEMS ? 8 : G_MAXSIZE, reduce_period_chunk, &j);
}

HOT static void
mul_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
  if (j->b == 0.0f)
    for (gsize i = lo; i < hi; i++)
      j->out[i] = j->x[i] * j->y[i];
  else
    for (gsize i = lo; i < hi; i++)
      j->out[i] = j->x[i] * j->y[i] + j->b * j->out[i];
}

static void
cpu_mul (gpointer self, gsize n, const float *x, const float *y, gfloat beta, float *out)
{
  EwJob j = { .x = x, .y = y, .out = out, .b = beta };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, mul_chunk, &j);
}

static void
cpu_scale_by (gpointer self, gsize n, const float *x, const float *s, gfloat beta, float *out)
{
  EwJob j = { .x = x, .out = out, .a = s[0], .b = beta };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, axpby_chunk, &j);
}

static void
gelu_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
  j->k->gelu_fwd (j->x, j->out, lo, hi);
}

static void
cpu_gelu_fwd (gpointer self, gsize n, const float *x, float *out)
{
  EwJob j = { .x = x, .out = out, .k = kernels_of (self) };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, gelu_fwd_chunk, &j);
}

static void
gelu_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
  j->k->gelu_bwd (j->x, j->y, j->out, lo, hi);
}

static void
cpu_gelu_bwd (gpointer self, gsize n, const float *x, const float *dout, float *dx)
{
  EwJob j = { .x = x, .y = dout, .out = dx, .k = kernels_of (self) };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, gelu_bwd_chunk, &j);
}

typedef struct {
  gint rows, cols;
  const float *x, *dy;
  float *dx, *dbias;
  const CpuKernels *k;
} BiasGeluJob;

/* Split over columns, so each bias sum is one thread's, in row order. */
static void
bias_gelu_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  BiasGeluJob *j = data;
  for (gsize c0 = lo; c0 < hi; c0 += 256)
    j->k->bias_gelu_bwd (j->x, j->dy, j->dx, j->dbias, j->rows, j->cols, (gint) c0,
                         (gint) MIN ((gsize) 256, hi - c0));
}

static void
cpu_bias_gelu_bwd (gpointer self, gint rows, gint cols, const float *x, const float *dout,
                   float *dx, float *dbias)
{
  BiasGeluJob j = { rows, cols, x, dout, dx, dbias, kernels_of (self) };
  gsize n = (gsize) rows * cols;
  cpu_pool_run (pool_of (self), (gsize) cols, n >= GRAIN_ELEMS ? 8 : G_MAXSIZE,
                bias_gelu_bwd_chunk, &j);
}

typedef struct {
  const float *x;
  double partial[256];
} SumsqJob;

static void
sumsq_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  SumsqJob *j = data;
  double acc = 0;
  for (gsize i = lo; i < hi; i++)
    acc += (double) j->x[i] * j->x[i];
  j->partial[tid] = acc;
}

static gdouble
cpu_sumsq (gpointer self, gsize n, const float *x)
{
  SumsqJob j = { .x = x };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, sumsq_chunk, &j);
  double total = 0;
  for (gint t = 0; t < ((Cpu *) self)->n_threads && t < 256; t++)
    total += j.partial[t];
  return total;
}

/* ------------------------------------------------------------------ rows */

typedef struct {
  gint rows, cols;
  gfloat eps, scale, beta;
  const float *x, *y, *gamma, *bias, *mean, *rstd, *dout;
  float *out, *dx, *dgamma, *dbeta, *save_mean, *save_rstd;
  float *sum; /* add_layernorm_fwd: x + y */
  const CpuKernels *k;
  Cpu *cpu; /* for per-thread scratch */
} RowJob;

static void
layernorm_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++) {
    gsize o = r * j->cols;
    j->k->layernorm_row (j->x + o, j->y ? j->y + o : NULL, j->y ? j->sum + o : NULL, j->cols,
                         j->eps, j->gamma, j->bias, j->out + o, j->save_mean + r,
                         j->save_rstd + r);
  }
}

static void
cpu_layernorm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                   const float *gamma, const float *beta, float *out, float *mean, float *rstd)
{
  RowJob j = { .k = kernels_of (self), .rows = rows, .cols = cols, .eps = eps, .x = x, .gamma = gamma, .bias = beta,
               .out = out, .save_mean = mean, .save_rstd = rstd };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, layernorm_fwd_chunk, &j);
}

static void
cpu_add_layernorm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                       const float *y, const float *gamma, const float *beta, float *sum,
                       float *out, float *mean, float *rstd)
{
  RowJob j = { .k = kernels_of (self), .rows = rows, .cols = cols, .eps = eps, .x = x, .y = y, .sum = sum, .gamma = gamma,
               .bias = beta, .out = out, .save_mean = mean, .save_rstd = rstd };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, layernorm_fwd_chunk, &j);
}

typedef struct {
  RowJob rows;
  double *partial[256]; /* per thread: its rows' dgamma then dbeta sums, or NULL */
  gboolean oom;
} LayerNormBwdJob;

/* A chunk of rows: dx, and this thread's share of the parameter gradients
 * in its own scratch (combined in thread order by the caller, so a given
 * thread count always gives the same bits). */
static void
layernorm_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  LayerNormBwdJob *lj = data;
  RowJob *j = &lj->rows;
  double *dg = NULL, *db = NULL;
  if (j->dgamma != NULL || j->dbeta != NULL) {
    dg = cpu_scratch (j->cpu, tid, 2 * sizeof (double) * j->cols);
    if (dg == NULL) {
      lj->oom = TRUE;
      return;
    }
    memset (dg, 0, 2 * sizeof (double) * j->cols);
    db = dg + j->cols;
    lj->partial[tid] = dg;
  }
  for (gsize r = lo; r < hi; r++) {
    gsize o = r * j->cols;
    j->k->layernorm_bwd_row (j->x + o, j->dout + o, j->gamma, j->mean[r], j->rstd[r], j->cols,
                             j->dx ? j->dx + o : NULL, j->dgamma ? dg : NULL,
                             j->dbeta ? db : NULL);
  }
}

static void
cpu_layernorm_bwd (gpointer self, gint rows, gint cols, const float *x, const float *gamma,
                   const float *mean, const float *rstd, const float *dout, float *dx,
                   float *dgamma, float *dbeta)
{
  LayerNormBwdJob lj = { .rows = { .cpu = self, .k = kernels_of (self), .rows = rows,
                                   .cols = cols, .x = x, .gamma = gamma, .mean = mean,
                                   .rstd = rstd, .dout = dout, .dx = dx, .dgamma = dgamma,
                                   .dbeta = dbeta } };
  if (dx == NULL && dgamma == NULL && dbeta == NULL)
    return;
  cpu_pool_run (pool_of (self), (gsize) rows, 64, layernorm_bwd_chunk, &lj);
  if (lj.oom) {
    g_critical ("cpu backend: out of memory for LayerNorm scratch (%d columns)", cols);
    return;
  }
  for (gint c = 0; c < cols && (dgamma || dbeta); c++) {
    double g = 0, b = 0;
    for (gint t = 0; t < MIN (((Cpu *) self)->n_threads, 256); t++)
      if (lj.partial[t] != NULL) {
        g += lj.partial[t][c];
        b += lj.partial[t][cols + c];
      }
    if (dgamma)
      dgamma[c] += (float) g;
    if (dbeta)
      dbeta[c] += (float) b;
  }
}

static void
softmax_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++)
    j->k->softmax_row (j->x + r * j->cols, j->out + r * j->cols, j->cols);
}

static void
cpu_softmax_fwd (gpointer self, gint rows, gint cols, const float *x, float *out)
{
  RowJob j = { .rows = rows, .cols = cols, .x = x, .out = out, .k = kernels_of (self) };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, softmax_fwd_chunk, &j);
}

static void
softmax_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++)
    j->k->softmax_bwd_row (j->y + r * j->cols, j->dout + r * j->cols, j->dx + r * j->cols, j->cols,
                     1.0f, TRUE);
}

static void
cpu_softmax_bwd (gpointer self, gint rows, gint cols, const float *y, const float *dy, float *dx)
{
  RowJob j = { .rows = rows, .cols = cols, .y = y, .dout = dy, .dx = dx, .k = kernels_of (self) };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, softmax_bwd_chunk, &j);
}

static void
l2norm_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++) {
    const float *x = j->x + r * j->cols;
    float *out = j->out + r * j->cols;
    double ss = 0;
    for (gint c = 0; c < j->cols; c++)
      ss += (double) x[c] * x[c];
    float inv = (float) (1.0 / MAX (sqrt (ss), (double) j->eps));
    for (gint c = 0; c < j->cols; c++)
      out[c] = x[c] * inv;
  }
}

static void
cpu_l2norm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x, float *out)
{
  RowJob j = { .rows = rows, .cols = cols, .eps = eps, .x = x, .out = out };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, l2norm_fwd_chunk, &j);
}

static void
l2norm_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++) {
    const float *x = j->x + r * j->cols;
    const float *dy = j->dout + r * j->cols;
    float *dx = j->dx + r * j->cols;
    double ss = 0, xd = 0;
    for (gint c = 0; c < j->cols; c++) {
      ss += (double) x[c] * x[c];
      xd += (double) x[c] * dy[c];
    }
    double n = sqrt (ss);
    if (n > j->eps) {
      /* (I − y yᵀ)/n · dy with y = x/n */
      float inv = (float) (1.0 / n);
      float k = (float) (xd / (n * n * n));
      for (gint c = 0; c < j->cols; c++)
        dx[c] += dy[c] * inv - x[c] * k;
    } else {
      for (gint c = 0; c < j->cols; c++)
        dx[c] += dy[c] / j->eps;
    }
  }
}

static void
cpu_l2norm_bwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                const float *dout, float *dx)
{
  RowJob j = { .rows = rows, .cols = cols, .eps = eps, .x = x, .dout = dout, .dx = dx };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, l2norm_bwd_chunk, &j);
}

typedef struct {
  gint m, cols, lds, ldd, inner;
  gfloat beta, scale;
  const float *src;
  const gint32 *idx;
  float *dst;
} CopyJob;

static void
gather_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  CopyJob *j = data;
  for (gsize i = lo; i < hi; i++)
    memcpy (j->dst + i * j->cols, j->src + (gsize) j->idx[i] * j->cols,
            sizeof (float) * j->cols);
}

static void
cpu_gather_rows (gpointer self, gint m, gint cols, const float *x, const gint32 *idx, float *out)
{
  CopyJob j = { .m = m, .cols = cols, .src = x, .idx = idx, .dst = out };
  cpu_pool_run (pool_of (self), (gsize) m, 64, gather_chunk, &j);
}

/* split over columns: repeated indices never race */
static void
scatter_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  CopyJob *j = data;
  for (gint i = 0; i < j->m; i++) {
    const float *s = j->src + (gsize) i * j->cols;
    float *d = j->dst + (gsize) j->idx[i] * j->cols;
    for (gsize c = lo; c < hi; c++)
      d[c] += s[c];
  }
}

static void
cpu_scatter_add_rows (gpointer self, gint m, gint cols, const float *dout, const gint32 *idx,
                      float *dx)
{
  CopyJob j = { .m = m, .cols = cols, .src = dout, .idx = idx, .dst = dx };
  cpu_pool_run (pool_of (self), (gsize) cols,
                (gsize) m * cols >= GRAIN_ELEMS && cols >= 32 ? 1 : G_MAXSIZE, scatter_chunk, &j);
}

static void
copy2d_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  CopyJob *j = data;
  for (gsize r = lo; r < hi; r++) {
    const float *s = j->src + r * j->lds;
    float *d = j->dst + r * j->ldd;
    if (j->beta == 0.0f)
      memcpy (d, s, sizeof (float) * j->cols);
    else
      for (gint c = 0; c < j->cols; c++)
        d[c] = s[c] + j->beta * d[c];
  }
}

static void
cpu_copy2d (gpointer self, gint rows, gint cols, const float *src, gint lds, gfloat beta,
            float *dst, gint ldd)
{
  CopyJob j = { .cols = cols, .lds = lds, .ldd = ldd, .beta = beta, .src = src, .dst = dst };
  cpu_pool_run (pool_of (self), (gsize) rows, (gsize) rows * cols >= GRAIN_ELEMS ? 1 : G_MAXSIZE,
                copy2d_chunk, &j);
}

static void
reduce_mid_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  CopyJob *j = data;
  for (gsize b = lo; b < hi; b++) {
    float *d = j->dst + b * j->cols;
    for (gint c = 0; c < j->cols; c++) {
      double acc = 0;
      for (gint n = 0; n < j->inner; n++)
        acc += j->src[(b * j->inner + n) * j->cols + c];
      d[c] = j->scale * (float) acc + (j->beta != 0.0f ? j->beta * d[c] : 0.0f);
    }
  }
}

static void
cpu_reduce_mid (gpointer self, gint outer, gint inner, gint cols, gfloat scale, const float *x,
                gfloat beta, float *out)
{
  CopyJob j = { .cols = cols, .inner = inner, .scale = scale, .beta = beta, .src = x, .dst = out };
  cpu_pool_run (pool_of (self), (gsize) outer, 1, reduce_mid_chunk, &j);
}

static void
expand_mid_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  CopyJob *j = data;
  for (gsize b = lo; b < hi; b++)
    for (gint n = 0; n < j->inner; n++) {
      float *d = j->dst + (b * j->inner + n) * j->cols;
      const float *s = j->src + b * j->cols;
      for (gint c = 0; c < j->cols; c++)
        d[c] += j->scale * s[c];
    }
}

static void
cpu_expand_mid (gpointer self, gint outer, gint inner, gint cols, gfloat scale, const float *dout,
                float *dx)
{
  CopyJob j = { .cols = cols, .inner = inner, .scale = scale, .src = dout, .dst = dx };
  cpu_pool_run (pool_of (self), (gsize) outer, 1, expand_mid_chunk, &j);
}

/* ------------------------------------------------------------- attention */

typedef struct {
  Cpu *cpu;
  const M3retAttentionShape *s;
  const float *qkv, *probs_in, *dout;
  float *probs, *out, *dqkv;
  gint q_blocks, bq, bk; /* flash forward: query blocks per head, block sizes */
  gboolean oom;
} AttnJob;

static void
attn_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  AttnJob *j = data;
  const M3retAttentionShape *s = j->s;
  gint n = s->tokens, d = s->dim, dh = d / s->heads, ld = 3 * d;
  for (gsize bh = lo; bh < hi; bh++) {
    gsize b = bh / s->heads, h = bh % s->heads;
    const float *q = j->qkv + b * n * ld + h * dh;
    const float *k = q + d, *v = q + 2 * d;
    float *p = j->probs + bh * n * n;
    cpu_sgemm (j->cpu->sgemm, FALSE, TRUE, n, n, dh, s->scale, q, ld, k, ld, 0.0f,
                 p, n);
    for (gint r = 0; r < n; r++)
      j->cpu->kernels->softmax_row (p + (gsize) r * n, p + (gsize) r * n, n);
    cpu_sgemm (j->cpu->sgemm, FALSE, FALSE, n, dh, n, 1.0f, p, n, v, ld, 0.0f,
                 j->out + b * n * d + h * dh, d);
  }
}

/* Without probs nobody runs backward, so no N×N matrix is written
 * (flash-style): a task is one block of query rows of one (batch, head);
 * its scores against one block of keys at a time sit in a per-thread tile
 * that stays in L2, with a running max and sum per row (softmax_online);
 * out accumulates P·V, rescaled when the max grows, and is normalised at
 * the end. */
static void
attn_flash_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  AttnJob *j = data;
  const M3retAttentionShape *s = j->s;
  gint n = s->tokens, d = s->dim, dh = d / s->heads, ld = 3 * d;
  float *tile = cpu_scratch (j->cpu, tid, sizeof (float) * ((gsize) j->bq * j->bk + 3 * j->bq));
  if (tile == NULL) {
    j->oom = TRUE;
    return;
  }
  float *mx = tile + (gsize) j->bq * j->bk, *sum = mx + j->bq, *corr = sum + j->bq;
  for (gsize t = lo; t < hi; t++) {
    gsize bh = t / j->q_blocks, b = bh / s->heads, h = bh % s->heads;
    gint r0 = (gint) (t % j->q_blocks) * j->bq, rows = MIN (j->bq, n - r0);
    const float *q = j->qkv + (b * n + r0) * ld + h * dh;
    const float *k = j->qkv + b * n * ld + d + h * dh, *v = k + d;
    float *o = j->out + (b * n + r0) * d + h * dh;
    for (gint r = 0; r < rows; r++) {
      mx[r] = -INFINITY;
      sum[r] = 0.0f;
    }
    for (gint c0 = 0; c0 < n; c0 += j->bk) {
      gint cols = MIN (j->bk, n - c0);
      cpu_sgemm (j->cpu->sgemm, FALSE, TRUE, rows, cols, dh, s->scale, q, ld,
                   k + (gsize) c0 * ld, ld, 0.0f, tile, cols);
      j->cpu->kernels->softmax_online (tile, rows, cols, mx, sum, corr);
      if (c0 > 0)
        for (gint r = 0; r < rows; r++)
          for (gint c = 0; c < dh; c++)
            o[(gsize) r * d + c] *= corr[r];
      cpu_sgemm (j->cpu->sgemm, FALSE, FALSE, rows, dh, cols, 1.0f, tile, cols,
                   v + (gsize) c0 * ld, ld, c0 > 0 ? 1.0f : 0.0f, o, d);
    }
    for (gint r = 0; r < rows; r++) {
      float inv = 1.0f / sum[r];
      for (gint c = 0; c < dh; c++)
        o[(gsize) r * d + c] *= inv;
    }
  }
}

/* Flash tile bounds: 128 query rows × 512 keys is 256 KiB, within L2
 * (beat 64 × 512 and 128 × 1024 on CT embedding; 65 tokens stay one
 * block, one pair of products per head). */
#define ATTN_BLOCK_Q 128
#define ATTN_BLOCK_K 512

/* @n split into the fewest blocks of at most @max, all of about one size
 * (513 keys: 257 + 256, not 512 + 1). */
static gint
even_block (gint n, gint max)
{
  gint blocks = (n + max - 1) / max;
  return (n + blocks - 1) / blocks;
}

static void
cpu_attention_fwd (gpointer self, const M3retAttentionShape *shape, const float *qkv,
                   float *probs, float *out)
{
  AttnJob j = { .cpu = self, .s = shape, .qkv = qkv, .probs = probs, .out = out };
  if (probs != NULL) {
    cpu_pool_run (pool_of (self), (gsize) shape->batch * shape->heads, 1, attn_fwd_chunk, &j);
    return;
  }
  if (shape->tokens < 1)
    return;
  j.bq = even_block (shape->tokens, ATTN_BLOCK_Q);
  j.bk = even_block (shape->tokens, ATTN_BLOCK_K);
  j.q_blocks = (shape->tokens + j.bq - 1) / j.bq;
  cpu_pool_run (pool_of (self), (gsize) shape->batch * shape->heads * j.q_blocks, 1,
                attn_flash_chunk, &j);
  if (j.oom)
    g_critical ("cpu backend: out of memory for attention scratch (%d tokens)", shape->tokens);
}

static void
attn_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  AttnJob *j = data;
  const M3retAttentionShape *s = j->s;
  gint n = s->tokens, d = s->dim, dh = d / s->heads, ld = 3 * d;
  float *dp = cpu_scratch (j->cpu, tid, sizeof (float) * n * n);
  if (dp == NULL) {
    j->oom = TRUE;
    return;
  }
  for (gsize bh = lo; bh < hi; bh++) {
    gsize b = bh / s->heads, h = bh % s->heads;
    const float *q = j->qkv + b * n * ld + h * dh;
    const float *k = q + d, *v = q + 2 * d;
    float *dq = j->dqkv + b * n * ld + h * dh;
    float *dk = dq + d, *dv = dq + 2 * d;
    const float *p = j->probs_in + bh * n * n;
    const float *dO = j->dout + b * n * d + h * dh;
    /* dV += Pᵀ·dO;  dP = dO·Vᵀ */
    cpu_sgemm (j->cpu->sgemm, TRUE, FALSE, n, dh, n, 1.0f, p, n, dO, d, 1.0f, dv,
                 ld);
    cpu_sgemm (j->cpu->sgemm, FALSE, TRUE, n, n, dh, 1.0f, dO, d, v, ld, 0.0f, dp,
                 n);
    /* dS = scale · softmax'(dP) */
    for (gint r = 0; r < n; r++)
      j->cpu->kernels->softmax_bwd_row (p + (gsize) r * n, dp + (gsize) r * n, dp + (gsize) r * n, n, s->scale,
                       FALSE);
    /* dQ += dS·K;  dK += dSᵀ·Q */
    cpu_sgemm (j->cpu->sgemm, FALSE, FALSE, n, dh, n, 1.0f, dp, n, k, ld, 1.0f,
                 dq, ld);
    cpu_sgemm (j->cpu->sgemm, TRUE, FALSE, n, dh, n, 1.0f, dp, n, q, ld, 1.0f, dk,
                 ld);
  }
}

static void
cpu_attention_bwd (gpointer self, const M3retAttentionShape *shape, const float *qkv,
                   const float *probs, const float *dout, float *dqkv)
{
  AttnJob j = { .cpu = self, .s = shape, .qkv = qkv, .probs_in = probs, .dout = dout,
                .dqkv = dqkv };
  cpu_pool_run (pool_of (self), (gsize) shape->batch * shape->heads, 1, attn_bwd_chunk, &j);
  if (j.oom)
    g_critical ("cpu backend: out of memory for attention scratch (%d tokens)", shape->tokens);
}

/* ---------------------------------------------------------------- losses */

typedef struct {
  gint cols;
  const float *x, *y, *mask, *dout;
  float *dx, *dy;
  double den;
  double num[256], wsum[256]; /* per thread, combined in thread order */
} MseJob;

/* Σ over rows w·mean((x − y)²) and Σ w, this chunk's rows. */
static void
mse_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  MseJob *j = data;
  double num = 0, den = 0;
  for (gsize r = lo; r < hi; r++) {
    double w = j->mask ? j->mask[r] : 1.0;
    if (w == 0.0)
      continue;
    const float *x = j->x + r * j->cols, *y = j->y + r * j->cols;
    double lane[8] = { 0 };
    gint c = 0;
    for (; c + 8 <= j->cols; c += 8)
      for (gint l = 0; l < 8; l++) {
        double e = (double) x[c + l] - y[c + l];
        lane[l] += e * e;
      }
    double acc = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    for (; c < j->cols; c++) {
      double e = (double) x[c] - y[c];
      acc += e * e;
    }
    num += w * acc / j->cols;
    den += w;
  }
  j->num[tid] = num;
  j->wsum[tid] = den;
}

/* The rows of a masked MSE, split over the pool: the loss of MAE's
 * decoder covers every patch of the batch. */
static void
cpu_mse_fwd (gpointer self, gint rows, gint cols, const float *x, const float *y,
             const float *mask, float *out)
{
  MseJob j = { .cols = cols, .x = x, .y = y, .mask = mask };
  gint threads = MIN (((Cpu *) self)->n_threads, 256);
  cpu_pool_run (pool_of (self), (gsize) rows, (gsize) rows * cols >= GRAIN_ELEMS ? 1 : G_MAXSIZE,
                mse_fwd_chunk, &j);
  double num = 0, den = 0;
  for (gint t = 0; t < threads; t++) {
    num += j.num[t];
    den += j.wsum[t];
  }
  out[0] = den > 0 ? (float) (num / den) : 0.0f;
}

static void
mse_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  MseJob *j = data;
  for (gsize r = lo; r < hi; r++) {
    double w = j->mask ? j->mask[r] : 1.0;
    if (w == 0.0)
      continue;
    float k = (float) (j->dout[0] * w * 2.0 / (j->cols * j->den));
    const float *x = j->x + r * j->cols, *y = j->y + r * j->cols;
    if (j->dx != NULL) {
      float *dx = j->dx + r * j->cols;
      for (gint c = 0; c < j->cols; c++)
        dx[c] += k * (x[c] - y[c]);
    }
    if (j->dy != NULL) {
      float *dy = j->dy + r * j->cols;
      for (gint c = 0; c < j->cols; c++)
        dy[c] -= k * (x[c] - y[c]);
    }
  }
}

static void
cpu_mse_bwd (gpointer self, gint rows, gint cols, const float *x, const float *y,
             const float *mask, const float *dout, float *dx, float *dy)
{
  double den = 0;
  for (gint r = 0; r < rows; r++)
    den += mask ? mask[r] : 1.0;
  if (den <= 0)
    return;
  MseJob j = { .cols = cols, .x = x, .y = y, .mask = mask, .dout = dout, .dx = dx, .dy = dy,
               .den = den };
  cpu_pool_run (pool_of (self), (gsize) rows, (gsize) rows * cols >= GRAIN_ELEMS ? 1 : G_MAXSIZE,
                mse_bwd_chunk, &j);
}

/* For take_error: keeps the first failure of a void entry. */
static void
cpu_fail (Cpu *cpu, const gchar *entry, const gchar *what)
{
  if (cpu->failure == NULL)
    cpu->failure = g_error_new (M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_NO_MEMORY,
                                "cpu backend: %s: %s", entry, what);
}

static gboolean
cpu_take_error (gpointer self, GError **error)
{
  Cpu *cpu = self;
  if (cpu->failure == NULL)
    return TRUE;
  g_propagate_error (error, cpu->failure);
  cpu->failure = NULL;
  return FALSE;
}

/* logdet and inverse of the symmetric p×p matrix @m (double, row-major,
 * overwritten) by Cholesky: FALSE when it is not positive definite. */
static gboolean
spd_logdet_inverse (double *m, gint p, float *out, float *inv)
{
  int n = p, info = 0;
  dpotrf_ ("L", &n, m, &n, &info);
  if (info != 0)
    return FALSE;
  double ld = 0;
  for (gint i = 0; i < p; i++)
    ld += 2.0 * log (m[(gsize) i * p + i]);
  out[0] = (float) ld;
  dpotri_ ("L", &n, m, &n, &info);
  /* Fortran "L" is the row-major upper triangle: mirror it into both */
  for (gint i = 0; i < p; i++)
    for (gint k = i; k < p; k++) {
      float v = (float) m[(gsize) i * p + k];
      inv[(gsize) i * p + k] = v;
      inv[(gsize) k * p + i] = v;
    }
  return TRUE;
}

static void
cpu_logdet_fwd (gpointer self, gint rows, gint p, gfloat c, const float *z, float *out, float *inv)
{
  Cpu *cpu = self;
  double *zd = cpu_scratch (cpu, 0, sizeof (double) * ((gsize) rows * p + (gsize) p * p));
  if (zd == NULL) {
    cpu_fail (cpu, "logdet_fwd", "out of memory for its scratch");
    out[0] = NAN;
    return;
  }
  double *m = zd + (gsize) rows * p;
  for (gsize i = 0; i < (gsize) rows * p; i++)
    zd[i] = z[i];
  /* M = I + c·ZᵀZ (upper triangle from syrk, mirrored below) */
  for (gsize i = 0; i < (gsize) p * p; i++)
    m[i] = 0.0;
  for (gint i = 0; i < p; i++)
    m[(gsize) i * p + i] = 1.0;
  cblas_dsyrk (CblasRowMajor, CblasUpper, CblasTrans, p, rows, c, zd, p, 1.0, m, p);
  for (gint i = 0; i < p; i++)
    for (gint k = 0; k < i; k++)
      m[(gsize) i * p + k] = m[(gsize) k * p + i];
  if (!spd_logdet_inverse (m, p, out, inv))
    out[0] = NAN; /* cannot happen for c ≥ 0 */
}

static gboolean
cpu_cholesky_logdet_fwd (gpointer self, gint n, const float *a, float *out, float *inv,
                         GError **error)
{
  double *m = cpu_scratch (self, 0, sizeof (double) * (gsize) n * n);
  if (m == NULL) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_NO_MEMORY,
                 "cpu backend: cholesky_logdet_fwd: out of memory for a %d×%d matrix", n, n);
    return FALSE;
  }
  for (gint i = 0; i < n; i++)
    for (gint k = 0; k < n; k++)
      m[(gsize) i * n + k] = 0.5 * ((double) a[(gsize) i * n + k] + a[(gsize) k * n + i]);
  if (!spd_logdet_inverse (m, n, out, inv)) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_INVALID,
                 "cpu backend: logdet of a %d×%d matrix that is not positive definite", n, n);
    return FALSE;
  }
  return TRUE;
}

static void
cpu_logdet_bwd (gpointer self, gint rows, gint p, gfloat c, const float *z, const float *inv,
                const float *dout, float *dz)
{
  cpu_gemm (self, FALSE, FALSE, rows, p, p, 2.0f * c * dout[0], z, p, inv, p, 1.0f, dz, p);
}

static void
cpu_sum_fwd (gpointer self, gsize n, const float *x, gfloat beta, float *out)
{
  double acc = 0;
  for (gsize i = 0; i < n; i++)
    acc += x[i];
  out[0] = (float) acc + (beta != 0.0f ? beta * out[0] : 0.0f);
}

/* ------------------------------------ general ops (ABI minor 5): plain loops */

static gboolean
cpu_exp_fwd (gpointer self, gsize n, const float *x, float *out, GError **error)
{
  for (gsize i = 0; i < n; i++)
    out[i] = expf (x[i]);
  return TRUE;
}

static gboolean
cpu_log_fwd (gpointer self, gsize n, const float *x, float *out, GError **error)
{
  for (gsize i = 0; i < n; i++)
    out[i] = logf (x[i]);
  return TRUE;
}

static gboolean
cpu_log_bwd (gpointer self, gsize n, const float *x, const float *dout, float *dx, GError **error)
{
  for (gsize i = 0; i < n; i++)
    dx[i] += dout[i] / x[i];
  return TRUE;
}

static gboolean
cpu_logsumexp_fwd (gpointer self, gint rows, gint cols, const float *x, float *out,
                   GError **error)
{
  for (gint r = 0; r < rows; r++) {
    const float *xr = x + (gsize) r * cols;
    float mx = -INFINITY;
    for (gint c = 0; c < cols; c++)
      mx = MAX (mx, xr[c]);
    double s = 0;
    for (gint c = 0; c < cols; c++)
      s += exp ((double) xr[c] - mx);
    out[r] = cols > 0 ? mx + (float) log (s) : -INFINITY;
  }
  return TRUE;
}

static gboolean
cpu_logsumexp_bwd (gpointer self, gint rows, gint cols, const float *x, const float *out,
                   const float *dout, float *dx, GError **error)
{
  for (gint r = 0; r < rows; r++) {
    const float *xr = x + (gsize) r * cols;
    float *dr = dx + (gsize) r * cols;
    for (gint c = 0; c < cols; c++)
      dr[c] += dout[r] * expf (xr[c] - out[r]);
  }
  return TRUE;
}

/* ------------------------------------------------------------- optimiser */

typedef struct {
  CpuAdamArgs args;
  const CpuKernels *k;
} AdamJob;

static void
adamw_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  AdamJob *j = data;
  j->k->adamw (&j->args, lo, hi);
}

static void
cpu_adamw (gpointer self, gsize n, float *param, const float *grad, float *m, float *v, gfloat lr,
           gfloat beta1, gfloat beta2, gfloat eps, gfloat weight_decay, gint t)
{
  AdamJob j = { { param, m, v, grad, lr, beta1, beta2, eps, weight_decay,
                  (gfloat) (1.0 - pow (beta1, t)), (gfloat) (1.0 - pow (beta2, t)) },
                kernels_of (self) };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, adamw_chunk, &j);
}

const M3retBackendVTable cpu_vtable = {
  .score = cpu_score,
  .create = cpu_create,
  .destroy = cpu_destroy,
  .alloc = cpu_alloc,
  .free = cpu_free,
  .upload = cpu_copy,
  .download = cpu_copy,
  .synchronize = NULL,
  .gemm = cpu_gemm,
  .fill = cpu_fill,
  .axpby = cpu_axpby,
  .add_bcast = cpu_add_bcast,
  .reduce_period = cpu_reduce_period,
  .mul = cpu_mul,
  .scale_by = cpu_scale_by,
  .gelu_fwd = cpu_gelu_fwd,
  .gelu_bwd = cpu_gelu_bwd,
  .sumsq = cpu_sumsq,
  .layernorm_fwd = cpu_layernorm_fwd,
  .layernorm_bwd = cpu_layernorm_bwd,
  .softmax_fwd = cpu_softmax_fwd,
  .softmax_bwd = cpu_softmax_bwd,
  .l2norm_fwd = cpu_l2norm_fwd,
  .l2norm_bwd = cpu_l2norm_bwd,
  .gather_rows = cpu_gather_rows,
  .scatter_add_rows = cpu_scatter_add_rows,
  .copy2d = cpu_copy2d,
  .reduce_mid = cpu_reduce_mid,
  .expand_mid = cpu_expand_mid,
  .attention_fwd = cpu_attention_fwd,
  .attention_bwd = cpu_attention_bwd,
  .mse_fwd = cpu_mse_fwd,
  .mse_bwd = cpu_mse_bwd,
  .logdet_fwd = cpu_logdet_fwd,
  .logdet_bwd = cpu_logdet_bwd,
  .sum_fwd = cpu_sum_fwd,
  .adamw = cpu_adamw,
  .add_layernorm_fwd = cpu_add_layernorm_fwd,
  .bias_gelu_bwd = cpu_bias_gelu_bwd,
  .linear_fwd = cpu_linear_fwd,
  .exp_fwd = cpu_exp_fwd,
  .log_fwd = cpu_log_fwd,
  .log_bwd = cpu_log_bwd,
  .logsumexp_fwd = cpu_logsumexp_fwd,
  .logsumexp_bwd = cpu_logsumexp_bwd,
  .cholesky_logdet_fwd = cpu_cholesky_logdet_fwd,
  .take_error = cpu_take_error,
};
