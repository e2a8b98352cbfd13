/* kernels.h — the table of the cpu backend's hot inner loops.
 *
 * kernel-loops.h defines the loops once; each kernels-*.c compiles them
 * under its own instruction set (#pragma GCC target) into one table:
 * generic (any CPU), AVX2+FMA, AVX-512.  The backend picks the best table
 * the CPU runs at create time, or the one `simd=` names, so tests compare
 * every variant on one machine.
 */
#ifndef M3RET_CPU_KERNELS_H
#define M3RET_CPU_KERNELS_H

#include <glib.h>
#include <math.h>

typedef struct {
  float *p, *m, *v;
  const float *g;
  gfloat lr, b1, b2, eps, wd, bc1, bc2;
} CpuAdamArgs;

typedef struct _CpuKernels {
  const gchar *name; /* the `simd=` value that selects it */
  /* out[i] = GELU(x[i]), i in [lo, hi) */
  void (*gelu_fwd) (const float *x, float *out, gsize lo, gsize hi);
  /* dx[i] += dy[i]·GELU'(x[i]) */
  void (*gelu_bwd) (const float *x, const float *dy, float *dx, gsize lo, gsize hi);
  /* rows × columns [c0, c0 + cw) of a rows × cols matrix, cw ≤ 256:
   * dx = dy·GELU'(x) written (dx may be dy), column sums added to @dbias
   * (may be NULL) */
  void (*bias_gelu_bwd) (const float *x, const float *dy, float *dx, float *dbias, gint rows,
                         gint cols, gint c0, gint cw);
  /* one row: out = LayerNorm(x) or, with @y, LayerNorm(x + y) with x + y
   * written to @sum; saves mean and 1/std */
  void (*layernorm_row) (const float *x, const float *y, float *sum, gint cols, gfloat eps,
                         const float *gamma, const float *beta, float *out, float *mean,
                         float *rstd);
  /* one row of LayerNorm's backward: dx += the input gradient (@dx may
   * be NULL); dg[c] += dy·x̂ and db[c] += dy, in double (NULL: skipped) */
  void (*layernorm_bwd_row) (const float *x, const float *dy, const float *gamma, float mean,
                             float rstd, gint cols, float *dx, double *dg, double *db);
  /* one row: y = softmax(x), @y may be @x */
  void (*softmax_row) (const float *x, float *y, gint cols);
  /* one block of keys of an online softmax (flash attention), see below */
  void (*softmax_online) (float *tile, gint rows, gint cols, float *mx, float *sum, float *corr);
  /* one row: dx = (or += with @acc) scale · y ⊙ (dy − y·dy), @dx may be @dy */
  void (*softmax_bwd_row) (const float *y, const float *dy, float *dx, gint cols, float scale,
                           gboolean acc);
  /* AdamW over [lo, hi) */
  void (*adamw) (const CpuAdamArgs *a, gsize lo, gsize hi);
} CpuKernels;

extern const CpuKernels cpu_kernels_generic;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_HAVE_X86_KERNELS 1
extern const CpuKernels cpu_kernels_avx2;
extern const CpuKernels cpu_kernels_avx512;
#endif

/* simd=, in the order of its choices */
typedef enum {
  CPU_SIMD_AUTO,
  CPU_SIMD_AVX512,
  CPU_SIMD_AVX2,
  CPU_SIMD_GENERIC
} CpuSimd;

/* The fastest table this CPU runs for CPU_SIMD_AUTO, else the one asked
 * for (NULL when it needs instructions this CPU lacks). */
const CpuKernels *cpu_kernels_pick (CpuSimd simd);

#endif
