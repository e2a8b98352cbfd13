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

/* Elementwise loops are worth splitting from this many elements on. */
#define GRAIN_ELEMS 16384

/* LAPACK (shipped inside OpenBLAS), Fortran interface. */
extern void dpotrf_ (const char *uplo, const int *n, double *a, const int *lda, int *info);
extern void dpotri_ (const char *uplo, const int *n, double *a, const int *lda, int *info);

/* Hot elementwise loops get an AVX2 clone, picked at load time by CPU
 * features; the GELU loops (the costliest) get AVX2+FMA variants chosen
 * at run time below. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__ ((target_clones ("avx2", "default")))
#define HAVE_X86_VARIANTS 1
#else
#define HOT
#endif

/* expf without a library call, so loops over it vectorise: Cody–Waite
 * range reduction and Cephes's degree-6 polynomial (relative error about
 * 2e-7 on [−87, 88]). */
static inline float
exp_fast (float x)
{
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  /* round to nearest by the 1.5·2^23 trick, which needs no SSE4.1 */
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { gint32 i; float f; } scale = { .i = ((gint32) n + 127) << 23 };
  return p * scale.f;
}

/* erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, the
 * float resolution near 1): GELU stays the exact x·Φ(x) to float32. */
static inline float
erf_poly (float a)
{
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float y = 1.061405429f;
  y = y * t - 1.453152027f;
  y = y * t + 1.421413741f;
  y = y * t - 0.284496736f;
  y = y * t + 0.254829592f;
  return y * t; /* erf(a) = 1 − this · exp(−a²) for a ≥ 0 */
}

static inline float
erf_fast (float x)
{
  float a = fabsf (x);
  float y = 1.0f - erf_poly (a) * exp_fast (-a * a);
  return x < 0.0f ? -y : y;
}

/* GELU'(x) = Φ(x) + x·φ(x); erf's exp(−x²/2) is φ's, so one exp serves
 * both. */
static inline float
gelu_grad (float x)
{
  float a = fabsf (x) * (float) M_SQRT1_2;
  float e = exp_fast (-a * a);
  float erf_a = 1.0f - erf_poly (a) * e;
  float erf_x = x < 0.0f ? -erf_a : erf_a;
  return 0.5f * (1.0f + erf_x) + x * 0.3989422804014327f * e;
}

static inline CpuPool *
pool_of (gpointer self)
{
  return ((Cpu *) self)->pool;
}

/* ------------------------------------------------------------------ gemm */

typedef struct {
  CpuSgemmKernel kernel;
  gboolean ta, tb, split_m;
  gint m, n, k, lda, ldb, ldc;
  gfloat alpha, beta;
  const float *a, *b, *bias; /* bias: n floats added to every row, or NULL */
  float *c;
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

/* Runs @j on the pool, split along the longer of m and n: both halves
 * keep the kernels busy. */
static void
run_gemm (gpointer self, GemmJob *j)
{
  if (j->m <= 0 || j->n <= 0)
    return;
  gdouble work = (gdouble) j->m * j->n * MAX (j->k, 1);
  gint threads = ((Cpu *) self)->n_threads;
  if (threads == 1 || work < 2e5) {
    gemm_chunk (j, 0, (gsize) j->m, 0);
    return;
  }
  j->split_m = j->m >= j->n;
  cpu_pool_run (pool_of (self), (gsize) (j->split_m ? j->m : j->n), 1, gemm_chunk, j);
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

static inline __attribute__ ((always_inline)) void
gelu_fwd_loop (const float *restrict xs, float *restrict out, gsize lo, gsize hi)
{
  for (gsize i = lo; i < hi; i++) {
    float x = xs[i];
    out[i] = 0.5f * x * (1.0f + erf_fast (x * (float) M_SQRT1_2));
  }
}

static inline __attribute__ ((always_inline)) void
gelu_bwd_loop (const float *restrict xs, const float *restrict dy, float *restrict dx, gsize lo,
               gsize hi)
{
  for (gsize i = lo; i < hi; i++)
    dx[i] += dy[i] * gelu_grad (xs[i]);
}

/* The bias_gelu_bwd of rows × [c0, c0 + cw) (cw ≤ 256): dx = dy·GELU'(x)
 * written (dx may be dy), column sums added to @dbias (may be NULL). */
static inline __attribute__ ((always_inline)) void
bias_gelu_bwd_loop (const float *xs, const float *dy, float *dx, float *dbias, gint rows,
                    gint cols, gint c0, gint cw)
{
  double acc[256];
  for (gint c = 0; c < cw; c++)
    acc[c] = 0;
  for (gint r = 0; r < rows; r++) {
    gsize o = (gsize) r * cols + c0;
    for (gint c = 0; c < cw; c++) {
      float v = dy[o + c] * gelu_grad (xs[o + c]);
      dx[o + c] = v;
      acc[c] += v;
    }
  }
  if (dbias != NULL)
    for (gint c = 0; c < cw; c++)
      dbias[c0 + c] += (float) acc[c];
}

#ifdef HAVE_X86_VARIANTS
__attribute__ ((target ("avx2,fma"))) static void
gelu_fwd_avx2 (const float *xs, float *out, gsize lo, gsize hi)
{
  gelu_fwd_loop (xs, out, lo, hi);
}

__attribute__ ((target ("avx2,fma"))) static void
gelu_bwd_avx2 (const float *xs, const float *dy, float *dx, gsize lo, gsize hi)
{
  gelu_bwd_loop (xs, dy, dx, lo, hi);
}

__attribute__ ((target ("avx2,fma"))) static void
bias_gelu_bwd_avx2 (const float *xs, const float *dy, float *dx, float *dbias, gint rows,
                    gint cols, gint c0, gint cw)
{
  /* the same pointer twice tells the vectoriser that in place is safe */
  if (dx == dy)
    bias_gelu_bwd_loop (xs, dx, dx, dbias, rows, cols, c0, cw);
  else
    bias_gelu_bwd_loop (xs, dy, dx, dbias, rows, cols, c0, cw);
}

static gboolean
have_avx2_fma (void)
{
  static gint cached = -1;
  if (cached < 0)
    cached = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
  return cached;
}
#endif

static void
gelu_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
#ifdef HAVE_X86_VARIANTS
  if (have_avx2_fma ()) {
    gelu_fwd_avx2 (j->x, j->out, lo, hi);
    return;
  }
#endif
  gelu_fwd_loop (j->x, j->out, lo, hi);
}

static void
cpu_gelu_fwd (gpointer self, gsize n, const float *x, float *out)
{
  EwJob j = { .x = x, .out = out };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, gelu_fwd_chunk, &j);
}

static void
gelu_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  EwJob *j = data;
#ifdef HAVE_X86_VARIANTS
  if (have_avx2_fma ()) {
    gelu_bwd_avx2 (j->x, j->y, j->out, lo, hi);
    return;
  }
#endif
  gelu_bwd_loop (j->x, j->y, j->out, lo, hi);
}

static void
cpu_gelu_bwd (gpointer self, gsize n, const float *x, const float *dout, float *dx)
{
  EwJob j = { .x = x, .y = dout, .out = dx };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, gelu_bwd_chunk, &j);
}

typedef struct {
  gint rows, cols;
  const float *x, *dy;
  float *dx, *dbias;
} BiasGeluJob;

/* Split over columns, so each bias sum is one thread's, in row order. */
static void
bias_gelu_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  BiasGeluJob *j = data;
  for (gsize c0 = lo; c0 < hi; c0 += 256) {
    gint cw = (gint) MIN ((gsize) 256, hi - c0);
#ifdef HAVE_X86_VARIANTS
    if (have_avx2_fma ()) {
      bias_gelu_bwd_avx2 (j->x, j->dy, j->dx, j->dbias, j->rows, j->cols, (gint) c0, cw);
      continue;
    }
#endif
    if (j->dx == j->dy)
      bias_gelu_bwd_loop (j->x, j->dx, j->dx, j->dbias, j->rows, j->cols, (gint) c0, cw);
    else
      bias_gelu_bwd_loop (j->x, j->dy, j->dx, j->dbias, j->rows, j->cols, (gint) c0, cw);
  }
}

static void
cpu_bias_gelu_bwd (gpointer self, gint rows, gint cols, const float *x, const float *dout,
                   float *dx, float *dbias)
{
  BiasGeluJob j = { rows, cols, x, dout, dx, dbias };
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
} RowJob;

/* One row's mean and 1/std in two passes (centred variance), with four
 * double lanes so the sums vectorise and keep the double accumulation. */
static inline __attribute__ ((always_inline)) void
row_moments_loop (const float *x, gint cols, gfloat eps, float *mean_out, float *rstd_out)
{
  double lane[4] = { 0 };
  gint c = 0;
  for (; c + 4 <= cols; c += 4)
    for (gint l = 0; l < 4; l++)
      lane[l] += x[c + l];
  double s = 0;
  for (; c < cols; c++)
    s += x[c];
  s += (lane[0] + lane[1]) + (lane[2] + lane[3]);
  double mean = s / cols;
  for (gint l = 0; l < 4; l++)
    lane[l] = 0;
  for (c = 0; c + 4 <= cols; c += 4)
    for (gint l = 0; l < 4; l++) {
      double d = x[c + l] - mean;
      lane[l] += d * d;
    }
  double ss = 0;
  for (; c < cols; c++) {
    double d = x[c] - mean;
    ss += d * d;
  }
  ss += (lane[0] + lane[1]) + (lane[2] + lane[3]);
  *mean_out = (float) mean;
  *rstd_out = (float) (1.0 / sqrt (ss / cols + eps));
}

/* out = (x − mean)·rstd·gamma + beta for one row; when @y is not NULL the
 * row normalised is x + y, which is written to @sum first (the residual
 * add and the next LayerNorm in one pass over the row). */
static inline __attribute__ ((always_inline)) void
layernorm_row_loop (const float *x, const float *y, float *sum, gint cols, gfloat eps,
                    const float *gamma, const float *beta, float *out, float *mean, float *rstd)
{
  if (y != NULL) {
    for (gint c = 0; c < cols; c++)
      sum[c] = x[c] + y[c];
    x = sum;
  }
  row_moments_loop (x, cols, eps, mean, rstd);
  float m = *mean, rs = *rstd;
  for (gint c = 0; c < cols; c++)
    out[c] = (x[c] - m) * rs * gamma[c] + beta[c];
}

#ifdef HAVE_X86_VARIANTS
__attribute__ ((target ("avx2,fma"))) static void
layernorm_row_avx2 (const float *x, const float *y, float *sum, gint cols, gfloat eps,
                    const float *gamma, const float *beta, float *out, float *mean, float *rstd)
{
  layernorm_row_loop (x, y, sum, cols, eps, gamma, beta, out, mean, rstd);
}
#endif

static void
layernorm_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++) {
    gsize o = r * j->cols;
    const float *y = j->y ? j->y + o : NULL;
    float *sum = j->y ? j->sum + o : NULL;
#ifdef HAVE_X86_VARIANTS
    if (have_avx2_fma ()) {
      layernorm_row_avx2 (j->x + o, y, sum, j->cols, j->eps, j->gamma, j->bias, j->out + o,
                          j->save_mean + r, j->save_rstd + r);
      continue;
    }
#endif
    layernorm_row_loop (j->x + o, y, sum, j->cols, j->eps, j->gamma, j->bias, j->out + o,
                        j->save_mean + r, j->save_rstd + r);
  }
}

static void
cpu_layernorm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                   const float *gamma, const float *beta, float *out, float *mean, float *rstd)
{
  RowJob j = { .rows = rows, .cols = cols, .eps = eps, .x = x, .gamma = gamma, .bias = beta,
               .out = out, .save_mean = mean, .save_rstd = rstd };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, layernorm_fwd_chunk, &j);
}

static void
cpu_add_layernorm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                       const float *y, const float *gamma, const float *beta, float *sum,
                       float *out, float *mean, float *rstd)
{
  RowJob j = { .rows = rows, .cols = cols, .eps = eps, .x = x, .y = y, .sum = sum, .gamma = gamma,
               .bias = beta, .out = out, .save_mean = mean, .save_rstd = rstd };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, layernorm_fwd_chunk, &j);
}

static void
layernorm_dx_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++) {
    const float *x = j->x + r * j->cols;
    const float *dy = j->dout + r * j->cols;
    float *dx = j->dx + r * j->cols;
    float m = j->mean[r], rs = j->rstd[r];
    double sg = 0, sgx = 0;
    for (gint c = 0; c < j->cols; c++) {
      double g = (double) dy[c] * j->gamma[c];
      sg += g;
      sgx += g * (x[c] - m) * rs;
    }
    float mg = (float) (sg / j->cols), mgx = (float) (sgx / j->cols);
    for (gint c = 0; c < j->cols; c++) {
      float xhat = (x[c] - m) * rs;
      dx[c] += rs * (dy[c] * j->gamma[c] - mg - xhat * mgx);
    }
  }
}

static void
layernorm_dparam_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  double dg[256], db[256];
  for (gsize c0 = lo; c0 < hi; c0 += 256) {
    gsize cw = MIN ((gsize) 256, hi - c0);
    memset (dg, 0, sizeof dg);
    memset (db, 0, sizeof db);
    for (gint r = 0; r < j->rows; r++) {
      const float *x = j->x + (gsize) r * j->cols + c0;
      const float *dy = j->dout + (gsize) r * j->cols + c0;
      float m = j->mean[r], rs = j->rstd[r];
      for (gsize c = 0; c < cw; c++) {
        dg[c] += (double) dy[c] * (x[c] - m) * rs;
        db[c] += dy[c];
      }
    }
    for (gsize c = 0; c < cw; c++) {
      if (j->dgamma)
        j->dgamma[c0 + c] += (float) dg[c];
      if (j->dbeta)
        j->dbeta[c0 + c] += (float) db[c];
    }
  }
}

static void
cpu_layernorm_bwd (gpointer self, gint rows, gint cols, const float *x, const float *gamma,
                   const float *mean, const float *rstd, const float *dout, float *dx,
                   float *dgamma, float *dbeta)
{
  RowJob j = { .rows = rows, .cols = cols, .x = x, .gamma = gamma, .mean = mean, .rstd = rstd,
               .dout = dout, .dx = dx, .dgamma = dgamma, .dbeta = dbeta };
  if (dx)
    cpu_pool_run (pool_of (self), (gsize) rows, 64, layernorm_dx_chunk, &j);
  if (dgamma || dbeta)
    cpu_pool_run (pool_of (self), (gsize) cols, (gsize) rows * cols >= GRAIN_ELEMS ? 1 : G_MAXSIZE,
                  layernorm_dparam_chunk, &j);
}

/* Softmax rows, written so the loops vectorise: eight running maxima and
 * sums (one per lane), exp_fast instead of libm's expf. */
static inline __attribute__ ((always_inline)) float
row_max_loop (const float *x, gint cols)
{
  float lane[8];
  for (gint l = 0; l < 8; l++)
    lane[l] = x[0];
  gint c = 0;
  for (; c + 8 <= cols; c += 8)
    for (gint l = 0; l < 8; l++)
      lane[l] = x[c + l] > lane[l] ? x[c + l] : lane[l];
  float mx = lane[0];
  for (gint l = 1; l < 8; l++)
    mx = MAX (mx, lane[l]);
  for (; c < cols; c++)
    mx = MAX (mx, x[c]);
  return mx;
}

/* y = exp(x − mx), returns Σ y; @y may be @x */
static inline __attribute__ ((always_inline)) double
row_exp_sum_loop (const float *x, float *y, gint cols, float mx)
{
  float lane[8] = { 0 };
  gint c = 0;
  for (; c + 8 <= cols; c += 8)
    for (gint l = 0; l < 8; l++) {
      float e = exp_fast (x[c + l] - mx);
      y[c + l] = e;
      lane[l] += e;
    }
  double s = 0;
  for (; c < cols; c++) {
    y[c] = exp_fast (x[c] - mx);
    s += y[c];
  }
  for (gint l = 0; l < 8; l++)
    s += lane[l];
  return s;
}

/* @y may be @x */
static inline __attribute__ ((always_inline)) void
softmax_row_loop (const float *x, float *y, gint cols)
{
  float inv = (float) (1.0 / row_exp_sum_loop (x, y, cols, row_max_loop (x, cols)));
  for (gint c = 0; c < cols; c++)
    y[c] *= inv;
}

/* One block of keys of an online softmax (flash attention), over @rows
 * rows of @cols scores in @tile: each row becomes exp(s − m'), m' =
 * max(mx[r], max s); sum[r] and mx[r] move on to m', and corr[r] =
 * exp(old mx[r] − m') is what partial results so far must be scaled by.
 * Start with mx = −∞ and sum = 0. */
static inline __attribute__ ((always_inline)) void
softmax_online_loop (float *tile, gint rows, gint cols, float *mx, float *sum, float *corr)
{
  for (gint r = 0; r < rows; r++) {
    float *x = tile + (gsize) r * cols;
    float m = MAX (mx[r], row_max_loop (x, cols));
    corr[r] = exp_fast (mx[r] - m);
    sum[r] = sum[r] * corr[r] + (float) row_exp_sum_loop (x, x, cols, m);
    mx[r] = m;
  }
}

/* dx = (or +=) y ⊙ (dy − y·dy), scaled; @dx may be @dy */
static inline __attribute__ ((always_inline)) void
softmax_bwd_row_loop (const float *y, const float *dy, float *dx, gint cols, float scale,
                      gboolean acc)
{
  float lane[8] = { 0 };
  gint c = 0;
  for (; c + 8 <= cols; c += 8)
    for (gint l = 0; l < 8; l++)
      lane[l] += y[c + l] * dy[c + l];
  double dot = 0;
  for (; c < cols; c++)
    dot += (double) y[c] * dy[c];
  for (gint l = 0; l < 8; l++)
    dot += lane[l];
  float d = (float) dot;
  if (acc)
    for (c = 0; c < cols; c++)
      dx[c] += scale * y[c] * (dy[c] - d);
  else
    for (c = 0; c < cols; c++)
      dx[c] = scale * y[c] * (dy[c] - d);
}

#ifdef HAVE_X86_VARIANTS
__attribute__ ((target ("avx2,fma"))) static void
softmax_row_avx2 (const float *x, float *y, gint cols)
{
  softmax_row_loop (x, y, cols);
}

__attribute__ ((target ("avx2,fma"))) static void
softmax_online_avx2 (float *tile, gint rows, gint cols, float *mx, float *sum, float *corr)
{
  softmax_online_loop (tile, rows, cols, mx, sum, corr);
}

__attribute__ ((target ("avx2,fma"))) static void
softmax_bwd_row_avx2 (const float *y, const float *dy, float *dx, gint cols, float scale,
                      gboolean acc)
{
  softmax_bwd_row_loop (y, dy, dx, cols, scale, acc);
}
#endif

static void
softmax_row (const float *x, float *y, gint cols)
{
#ifdef HAVE_X86_VARIANTS
  if (have_avx2_fma ()) {
    softmax_row_avx2 (x, y, cols);
    return;
  }
#endif
  softmax_row_loop (x, y, cols);
}

static void
softmax_online (float *tile, gint rows, gint cols, float *mx, float *sum, float *corr)
{
#ifdef HAVE_X86_VARIANTS
  if (have_avx2_fma ()) {
    softmax_online_avx2 (tile, rows, cols, mx, sum, corr);
    return;
  }
#endif
  softmax_online_loop (tile, rows, cols, mx, sum, corr);
}

static void
softmax_bwd_row (const float *y, const float *dy, float *dx, gint cols, float scale, gboolean acc)
{
#ifdef HAVE_X86_VARIANTS
  if (have_avx2_fma ()) {
    softmax_bwd_row_avx2 (y, dy, dx, cols, scale, acc);
    return;
  }
#endif
  softmax_bwd_row_loop (y, dy, dx, cols, scale, acc);
}

static void
softmax_fwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++)
    softmax_row (j->x + r * j->cols, j->out + r * j->cols, j->cols);
}

static void
cpu_softmax_fwd (gpointer self, gint rows, gint cols, const float *x, float *out)
{
  RowJob j = { .rows = rows, .cols = cols, .x = x, .out = out };
  cpu_pool_run (pool_of (self), (gsize) rows, 64, softmax_fwd_chunk, &j);
}

static void
softmax_bwd_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  RowJob *j = data;
  for (gsize r = lo; r < hi; r++)
    softmax_bwd_row (j->y + r * j->cols, j->dout + r * j->cols, j->dx + r * j->cols, j->cols,
                     1.0f, TRUE);
}

static void
cpu_softmax_bwd (gpointer self, gint rows, gint cols, const float *y, const float *dy, float *dx)
{
  RowJob j = { .rows = rows, .cols = cols, .y = y, .dout = dy, .dx = dx };
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
      softmax_row (p + (gsize) r * n, p + (gsize) r * n, n);
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
      softmax_online (tile, rows, cols, mx, sum, corr);
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
      softmax_bwd_row (p + (gsize) r * n, dp + (gsize) r * n, dp + (gsize) r * n, n, s->scale,
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

static void
cpu_mse_fwd (gpointer self, gint rows, gint cols, const float *x, const float *y,
             const float *mask, float *out)
{
  double num = 0, den = 0;
  for (gint r = 0; r < rows; r++) {
    double w = mask ? mask[r] : 1.0;
    if (w == 0.0)
      continue;
    double acc = 0;
    for (gint c = 0; c < cols; c++) {
      double e = (double) x[(gsize) r * cols + c] - y[(gsize) r * cols + c];
      acc += e * e;
    }
    num += w * acc / cols;
    den += w;
  }
  out[0] = den > 0 ? (float) (num / den) : 0.0f;
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
  for (gint r = 0; r < rows; r++) {
    double w = mask ? mask[r] : 1.0;
    if (w == 0.0)
      continue;
    float k = (float) (dout[0] * w * 2.0 / (cols * den));
    for (gint c = 0; c < cols; c++) {
      gsize i = (gsize) r * cols + c;
      float g = k * (x[i] - y[i]);
      if (dx)
        dx[i] += g;
      if (dy)
        dy[i] -= g;
    }
  }
}

static void
cpu_logdet_fwd (gpointer self, gint rows, gint p, gfloat c, const float *z, float *out, float *inv)
{
  Cpu *cpu = self;
  double *zd = cpu_scratch (cpu, 0, sizeof (double) * ((gsize) rows * p + (gsize) p * p));
  if (zd == NULL) {
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
  int n = p, info = 0;
  dpotrf_ ("L", &n, m, &n, &info);
  if (info != 0) {
    out[0] = NAN;
    return;
  }
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

/* ------------------------------------------------------------- optimiser */

typedef struct {
  float *p, *m, *v;
  const float *g;
  gfloat lr, b1, b2, eps, wd, bc1, bc2;
} AdamJob;

HOT static void
adamw_chunk (gpointer data, gsize lo, gsize hi, gint tid)
{
  AdamJob *j = data;
  for (gsize i = lo; i < hi; i++) {
    float g = j->g[i];
    float p = j->p[i] * (1.0f - j->lr * j->wd);
    float m = j->b1 * j->m[i] + (1.0f - j->b1) * g;
    float v = j->b2 * j->v[i] + (1.0f - j->b2) * g * g;
    j->m[i] = m;
    j->v[i] = v;
    j->p[i] = p - j->lr * (m / j->bc1) / (sqrtf (v / j->bc2) + j->eps);
  }
}

static void
cpu_adamw (gpointer self, gsize n, float *param, const float *grad, float *m, float *v, gfloat lr,
           gfloat beta1, gfloat beta2, gfloat eps, gfloat weight_decay, gint t)
{
  AdamJob j = { param, m, v, grad, lr, beta1, beta2, eps, weight_decay,
                (gfloat) (1.0 - pow (beta1, t)), (gfloat) (1.0 - pow (beta2, t)) };
  cpu_pool_run (pool_of (self), n, GRAIN_ELEMS, adamw_chunk, &j);
}

const M3retBackendVTable cpu_vtable = {
  .score = NULL,
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
};
