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

gboolean
cpu_sgemm_have_avx2 (void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  /* libgcc counts these only when the OS saves the YMM registers. */
  return __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
#else
  return FALSE;
#endif
}

gboolean
cpu_sgemm_can_run (CpuSgemmKernel kernel)
{
  switch (kernel) {
  case CPU_SGEMM_AVX512:
    return cpu_sgemm_have_avx512 ();
  case CPU_SGEMM_AVX2:
    return cpu_sgemm_have_avx2 ();
  default:
    return TRUE;
  }
}

const gchar *
cpu_sgemm_kernel_name (CpuSgemmKernel kernel)
{
  return kernel == CPU_SGEMM_AVX512 ? "avx512" : kernel == CPU_SGEMM_AVX2 ? "avx2" : "openblas";
}

CpuSgemmKernel
cpu_sgemm_default_kernel (CpuSgemmKernel ceiling)
{
  const gchar *want = g_getenv ("M3RET_CPU_SGEMM");
  CpuSgemmKernel limit = CPU_SGEMM_AVX512;
  if (want != NULL && strcmp (want, "openblas") == 0)
    limit = CPU_SGEMM_OPENBLAS;
  else if (want != NULL && strcmp (want, "avx2") == 0)
    limit = CPU_SGEMM_AVX2;
  else if (want != NULL && *want && strcmp (want, "auto") != 0 && strcmp (want, "avx512") != 0) {
    static gsize warned = 0;
    if (g_once_init_enter (&warned)) {
      g_warning ("M3RET_CPU_SGEMM=%s: unknown kernel (openblas, avx2, avx512 or auto); "
                 "using auto", want);
      g_once_init_leave (&warned, 1);
    }
  }
  CpuSgemmKernel kernel = MIN (limit, ceiling);
  while (kernel > CPU_SGEMM_OPENBLAS && !cpu_sgemm_can_run (kernel))
    kernel--;
  return kernel;
}

gsize
cpu_sgemm_packed_floats (CpuSgemmKernel kernel, gint n, gint k)
{
  return kernel == CPU_SGEMM_AVX512 ? cpu_sgemm_avx512_packed_floats (n, k)
         : kernel == CPU_SGEMM_AVX2 ? cpu_sgemm_avx2_packed_floats (n, k)
                                    : 0;
}

gint
cpu_sgemm_panels (CpuSgemmKernel kernel, gint n)
{
  return kernel == CPU_SGEMM_AVX512 ? cpu_sgemm_avx512_panels (n)
         : kernel == CPU_SGEMM_AVX2 ? cpu_sgemm_avx2_panels (n)
                                    : 0;
}

void
cpu_sgemm_pack (CpuSgemmKernel kernel, gboolean trans_b, const float *b, gint ldb, gint n,
                gint k, gint panel_lo, gint panel_hi, float *packed)
{
  if (kernel == CPU_SGEMM_AVX512)
    cpu_sgemm_avx512_pack (trans_b, b, ldb, n, k, panel_lo, panel_hi, packed);
  else if (kernel == CPU_SGEMM_AVX2)
    cpu_sgemm_avx2_pack (trans_b, b, ldb, n, k, panel_lo, panel_hi, packed);
}

gboolean
cpu_sgemm_packed (CpuSgemmKernel kernel, gboolean trans_a, gint m, gint n, gint k, gfloat alpha,
                  const float *a, gint lda, const float *packed, gfloat beta, const float *bias,
                  float *c, gint ldc)
{
  if (kernel == CPU_SGEMM_AVX512)
    return cpu_sgemm_avx512_packed (trans_a, m, n, k, alpha, a, lda, packed, beta, bias, c, ldc);
  if (kernel == CPU_SGEMM_AVX2)
    return cpu_sgemm_avx2_packed (trans_a, m, n, k, alpha, a, lda, packed, beta, bias, c, ldc);
  return FALSE;
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
  if (kernel == CPU_SGEMM_AVX2 &&
      cpu_sgemm_avx2 (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, bias, c, ldc))
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
