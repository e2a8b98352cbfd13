/* cpu-sgemm.h — the cpu backend's single-threaded sgemm: its own AVX-512
 * kernel where the CPU has AVX-512, its own AVX2 + FMA kernel where it
 * has those, OpenBLAS elsewhere.
 *
 * Why its own kernel: on the machines this project runs on, the
 * environment pins OpenBLAS to its AVX2 (Haswell) kernels with
 * OPENBLAS_CORETYPE, because older OpenBLAS builds compute wrong results
 * or crash with their AVX-512 kernels there; a CPU with full-width
 * AVX-512 units then runs sgemm at about half its floating-point rate,
 * and on an AVX2-only CPU OpenBLAS's Haswell kernels reach less than the
 * backend needs on its small products.  The kernels here are small, tested against a double-precision reference
 * on every shape class (tests/test-cpu-sgemm.c), and chosen at run time.
 * Both share one scheme (sgemm-avx512.c) at two widths. */
#ifndef M3RET_CPU_SGEMM_H
#define M3RET_CPU_SGEMM_H

#include <glib.h>

G_BEGIN_DECLS

/* In order of width: a kernel may stand in for any after it. */
typedef enum {
  CPU_SGEMM_OPENBLAS, /* cblas_sgemm */
  CPU_SGEMM_AVX2,     /* sgemm-avx2.c */
  CPU_SGEMM_AVX512    /* sgemm-avx512.c */
} CpuSgemmKernel;

/* "openblas", "avx2", "avx512": for messages and benchmark headers. */
const gchar *cpu_sgemm_kernel_name (CpuSgemmKernel kernel);

/* The widest kernel this CPU runs, no wider than @ceiling (the backend's
 * `simd=`: CPU_SGEMM_AVX512 for auto or avx512, CPU_SGEMM_AVX2 for avx2,
 * CPU_SGEMM_OPENBLAS for generic), and no wider than M3RET_CPU_SGEMM asks:
 * "openblas", "avx2", "avx512", or unset or "auto" for no limit.  An
 * unknown value is reported once, as a warning, and means "auto". */
CpuSgemmKernel cpu_sgemm_default_kernel (CpuSgemmKernel ceiling);
/* Whether this CPU and OS run AVX-512 F, BW, DQ and VL. */
gboolean cpu_sgemm_have_avx512 (void);
/* Whether this CPU and OS run AVX2 and FMA. */
gboolean cpu_sgemm_have_avx2 (void);
/* Whether this CPU runs @kernel (OpenBLAS: always). */
gboolean cpu_sgemm_can_run (CpuSgemmKernel kernel);

/* C = alpha·op(A)·op(B) + beta·C, all row-major, op(A) m×k, op(B) k×n,
 * on the calling thread.  With beta 0, C is written without being read. */
void cpu_sgemm (CpuSgemmKernel kernel, gboolean trans_a, gboolean trans_b, gint m, gint n,
                gint k, gfloat alpha, const float *a, gint lda, const float *b, gint ldb,
                gfloat beta, float *c, gint ldc);
/* The same, plus @bias (n floats; NULL for none) added to every row of C:
 * a linear layer's forward.  The own kernels add it as they store each
 * block; OpenBLAS gets C preset to beta·C + bias and beta 1. */
void cpu_sgemm_bias (CpuSgemmKernel kernel, gboolean trans_a, gboolean trans_b, gint m, gint n,
                     gint k, gfloat alpha, const float *a, gint lda, const float *b, gint ldb,
                     gfloat beta, const float *bias, float *c, gint ldc);

/* sgemm-avx512.c: cpu_sgemm_bias's contract; FALSE only when its packing
 * buffer cannot be allocated (the caller then falls back to OpenBLAS).
 * Call only when cpu_sgemm_have_avx512(). */
gboolean cpu_sgemm_avx512 (gboolean trans_a, gboolean trans_b, gint m, gint n, gint k,
                           gfloat alpha, const float *a, gint lda, const float *b, gint ldb,
                           gfloat beta, const float *bias, float *c, gint ldc);

/* B packed once for several threads: a caller packs op(B) (k × n) into
 * cpu_sgemm_avx512_packed_floats() floats, its 32-column panels split
 * between threads ([panel_lo, panel_hi) of cpu_sgemm_avx512_panels()),
 * then each thread runs its rows of C against it with
 * cpu_sgemm_avx512_packed() (cpu_sgemm_bias's contract otherwise; FALSE
 * only when its buffer for A's last rows cannot be allocated). */
gsize cpu_sgemm_avx512_packed_floats (gint n, gint k);
gint cpu_sgemm_avx512_panels (gint n);
void cpu_sgemm_avx512_pack (gboolean trans_b, const float *b, gint ldb, gint n, gint k,
                            gint panel_lo, gint panel_hi, float *packed);
gboolean cpu_sgemm_avx512_packed (gboolean trans_a, gint m, gint n, gint k, gfloat alpha,
                                  const float *a, gint lda, const float *packed, gfloat beta,
                                  const float *bias, float *c, gint ldc);

/* sgemm-avx2.c: the same entries for the AVX2 + FMA kernel, 16-column
 * panels.  Call only when cpu_sgemm_have_avx2(). */
gboolean cpu_sgemm_avx2 (gboolean trans_a, gboolean trans_b, gint m, gint n, gint k,
                         gfloat alpha, const float *a, gint lda, const float *b, gint ldb,
                         gfloat beta, const float *bias, float *c, gint ldc);
gsize cpu_sgemm_avx2_packed_floats (gint n, gint k);
gint cpu_sgemm_avx2_panels (gint n);
void cpu_sgemm_avx2_pack (gboolean trans_b, const float *b, gint ldb, gint n, gint k,
                          gint panel_lo, gint panel_hi, float *packed);
gboolean cpu_sgemm_avx2_packed (gboolean trans_a, gint m, gint n, gint k, gfloat alpha,
                                const float *a, gint lda, const float *packed, gfloat beta,
                                const float *bias, float *c, gint ldc);

/* Shared packing for whichever own kernel @kernel is (0 floats and 0
 * panels for OpenBLAS, which packs for itself); _packed FALSE for
 * OpenBLAS or when a buffer cannot be had. */
gsize cpu_sgemm_packed_floats (CpuSgemmKernel kernel, gint n, gint k);
gint cpu_sgemm_panels (CpuSgemmKernel kernel, gint n);
void cpu_sgemm_pack (CpuSgemmKernel kernel, gboolean trans_b, const float *b, gint ldb, gint n,
                     gint k, gint panel_lo, gint panel_hi, float *packed);
gboolean cpu_sgemm_packed (CpuSgemmKernel kernel, gboolean trans_a, gint m, gint n, gint k,
                           gfloat alpha, const float *a, gint lda, const float *packed,
                           gfloat beta, const float *bias, float *c, gint ldc);

G_END_DECLS

#endif
