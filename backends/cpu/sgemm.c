/* sgemm.c — which sgemm the cpu backend runs (cpu-sgemm.h). */
#include "config.h"

#include <cblas.h>
#include <string.h>

#include "cpu-sgemm.h"

gboolean
cpu_sgemm_have_avx512 (void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  /* libgcc counts these only when the OS saves the ZMM registers. */
  return __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw") &&
         __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl");
#else
  return FALSE;
#endif
}

CpuSgemmKernel
cpu_sgemm_default_kernel (void)
{
  const gchar *want = g_getenv ("M3RET_CPU_SGEMM");
  if (want != NULL && strcmp (want, "openblas") == 0)
    return CPU_SGEMM_OPENBLAS;
  if (want != NULL && *want && strcmp (want, "auto") != 0 && strcmp (want, "avx512") != 0) {
    static gsize warned = 0;
    if (g_once_init_enter (&warned)) {
      g_warning ("M3RET_CPU_SGEMM=%s: unknown kernel (openblas, avx512 or auto); using auto",
                 want);
      g_once_init_leave (&warned, 1);
    }
  }
  return cpu_sgemm_have_avx512 () ? CPU_SGEMM_AVX512 : CPU_SGEMM_OPENBLAS;
}

void
cpu_sgemm_bias (CpuSgemmKernel kernel, gboolean trans_a, gboolean trans_b, gint m, gint n,
                gint k, gfloat alpha, const float *a, gint lda, const float *b, gint ldb,
                gfloat beta, const float *bias, float *c, gint ldc)
{
  if (m <= 0 || n <= 0)
    return;
  if (kernel == CPU_SGEMM_AVX512 &&
      cpu_sgemm_avx512 (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc))
    return;
  if (bias != NULL) {
    for (gint i = 0; i < m; i++) {
      float *row = c + (gsize) i * ldc;
      if (beta == 0.0f)
        memcpy (row, bias, sizeof (float) * n);
      else
        for (gint j = 0; j < n; j++)
          row[j] = beta * row[j] + bias[j];
    }
    beta = 1.0f;
  }
  cblas_sgemm (CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
               trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void
cpu_sgemm (CpuSgemmKernel kernel, gboolean trans_a, gboolean trans_b, gint m, gint n, gint k,
           gfloat alpha, const float *a, gint lda, const float *b, gint ldb, gfloat beta,
           float *c, gint ldc)
{
  cpu_sgemm_bias (kernel, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, NULL, c, ldc);
}
