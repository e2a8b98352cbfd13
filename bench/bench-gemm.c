/* bench-gemm.c — the cpu backend's own sgemm kernels (AVX-512 and AVX2 +
 * FMA, each where the CPU runs it) beside OpenBLAS, one thread, on the
 * products a ViT-tiny step runs (backends/cpu/cpu-sgemm.h).  Prints a
 * table; asserts nothing.
 *
 *   M3RET_BENCH_ROUNDS=N   rounds (default 5); figures are the best round
 *
 * Rows are the shapes of one worker's share at 2 threads: a batch of 32
 * 2-D images is 32 × 65 = 2080 token rows, 1040 per thread (MAE's encoder
 * sees 32 × 17 = 544 rows, 272 per thread); D = 192, the MLP 768 wide,
 * attention per head 64 wide over 65 (2-D) or 513 (CT) tokens.  NT is
 * x·Wᵀ (forward), NN dY·W (input gradient), TN dYᵀ·X (weight gradient).
 */
#include "config.h"

#include <cblas.h>
#include <stdio.h>

#include "bench-row.h"
#include "cpu-sgemm.h"

typedef struct {
  const gchar *what;
  gboolean ta, tb;
  gint m, n, k;
} Shape;

static const Shape shapes[] = {
  { "qkv forward", FALSE, TRUE, 1040, 576, 192 },
  { "proj forward", FALSE, TRUE, 1040, 192, 192 },
  { "fc1 forward", FALSE, TRUE, 1040, 768, 192 },
  { "fc2 forward", FALSE, TRUE, 1040, 192, 768 },
  { "MAE encoder qkv", FALSE, TRUE, 272, 576, 192 },
  { "fc2 input gradient", FALSE, FALSE, 1040, 768, 192 },
  { "fc1 weight gradient", TRUE, FALSE, 768, 192, 1040 },
  { "2-D scores q·kᵀ", FALSE, TRUE, 65, 65, 64 },
  { "2-D p·v", FALSE, FALSE, 65, 64, 65 },
  { "CT scores q·kᵀ", FALSE, TRUE, 513, 513, 64 },
  { "CT p·v", FALSE, FALSE, 513, 64, 513 },
  { "square", FALSE, FALSE, 1024, 1024, 1024 },
};

static gdouble
rate (CpuSgemmKernel kernel, const Shape *s, const float *a, const float *b, float *c,
      gint rounds)
{
  gdouble flops = 2.0 * s->m * s->n * (gdouble) s->k, best = 0;
  gint repeats = (gint) (4e8 / flops) + 1; /* about 4 ms a round at 100 GFLOP/s */
  gint lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
  cpu_sgemm (kernel, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
  for (gint r = 0; r < rounds; r++) {
    gint64 t0 = g_get_monotonic_time ();
    for (gint i = 0; i < repeats; i++)
      cpu_sgemm (kernel, s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, 0.0f, c, s->n);
    gdouble seconds = (gdouble) (g_get_monotonic_time () - t0) / 1e6;
    best = MAX (best, flops * repeats / seconds);
  }
  return best;
}

/* The own kernels, widest first. */
static const CpuSgemmKernel own[] = { CPU_SGEMM_AVX512, CPU_SGEMM_AVX2 };

int
main (void)
{
  gint rounds = bench_env_int ("M3RET_BENCH_ROUNDS", 5);
  openblas_set_num_threads (1); /* one thread each, as the backend's workers call it */
  gboolean runs[G_N_ELEMENTS (own)];
  gboolean any = FALSE;
  for (guint o = 0; o < G_N_ELEMENTS (own); o++)
    any |= runs[o] = cpu_sgemm_can_run (own[o]);
  if (!any) {
    printf ("bench-gemm: this CPU has neither AVX2 + FMA nor AVX-512; the cpu backend runs "
            "OpenBLAS alone\n");
    return 0;
  }
  printf ("\nsgemm on one thread, the cpu backend's kernels beside OpenBLAS "
          "(OPENBLAS_CORETYPE=%s), best of %d rounds\n\n",
          g_getenv ("OPENBLAS_CORETYPE") ? g_getenv ("OPENBLAS_CORETYPE") : "unset", rounds);
  printf ("| product | op | m × n × k | avx512 GFLOP/s | avx2 GFLOP/s | OpenBLAS GFLOP/s | "
          "avx512 ÷ OpenBLAS | avx2 ÷ OpenBLAS |\n");
  printf ("|---|---|---|---|---|---|---|---|\n");
  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++) {
    const Shape *s = &shapes[i];
    gsize na = (gsize) s->m * s->k, nb = (gsize) s->k * s->n;
    g_autofree float *a = g_new (float, na), *b = g_new (float, nb);
    g_autofree float *c = g_new (float, (gsize) s->m * s->n);
    for (gsize j = 0; j < na; j++)
      a[j] = (float) (j % 7) * 0.1f;
    for (gsize j = 0; j < nb; j++)
      b[j] = (float) (j % 5) * 0.1f;
    gdouble ours[G_N_ELEMENTS (own)];
    for (guint o = 0; o < G_N_ELEMENTS (own); o++)
      ours[o] = runs[o] ? rate (own[o], s, a, b, c, rounds) : 0;
    gdouble peer = rate (CPU_SGEMM_OPENBLAS, s, a, b, c, rounds);
    printf ("| %s | %c%c | %d × %d × %d |", s->what, s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m,
            s->n, s->k);
    for (guint o = 0; o < G_N_ELEMENTS (own); o++)
      if (runs[o])
        printf (" %.1f |", ours[o] / 1e9);
      else
        printf (" — |");
    printf (" %.1f |", peer / 1e9);
    for (guint o = 0; o < G_N_ELEMENTS (own); o++)
      if (runs[o])
        printf (" %.2f |", ours[o] / peer);
      else
        printf (" — |");
    printf ("\n");
  }
  return 0;
}
