/* test-cpu-sgemm.c — the cpu backend's sgemm (backends/cpu/cpu-sgemm.h):
 * each kernel against a double-precision reference on random shapes that
 * cross every edge of its blocking (12-row blocks, 32-column panels, 256
 * deep passes, 1024-column packs), all four transpositions, leading
 * dimensions wider than the matrix, alpha, beta and a bias row; beta 0 must write C
 * without reading it, and nothing outside C may change; the own kernels
 * (AVX2 + FMA, AVX-512) also with B packed once and shared by two row
 * ranges.  Then the choice simd= and M3RET_CPU_SGEMM make.  Every kernel
 * this CPU runs is checked (the AVX2 one on an AVX-512 CPU too); one it
 * cannot run skips, saying so; the OpenBLAS path is checked everywhere.
 */
#include "config.h"

#include <math.h>

#include "cpu-sgemm.h"
#include "m3ret-check.h"

#define SENTINEL 12345.0f

typedef struct {
  gboolean ta, tb;
  gint m, n, k, lda, ldb, ldc;
  gfloat alpha, beta;
  gboolean bias; /* a bias row added to every row of C */
} Case;

/* How the product is run: one call, or (own kernels only) B packed by two
 * "threads" for its two halves of panels, then C computed in two row
 * ranges against the shared packing, as the backend's pool does. */
typedef enum { WHOLE, SHARED_PACKING } Mode;

static void
run_product (CpuSgemmKernel kernel, Mode mode, const Case *c, const float *a, const float *b,
             const float *bias, float *out)
{
  if (mode == WHOLE) {
    cpu_sgemm_bias (kernel, c->ta, c->tb, c->m, c->n, c->k, c->alpha, a, c->lda, b, c->ldb,
                    c->beta, bias, out, c->ldc);
    return;
  }
  gsize floats = cpu_sgemm_packed_floats (kernel, c->n, c->k);
  ck_assert (c->k <= 0 || floats >= (gsize) c->n * c->k);
  float *packed = g_aligned_alloc (MAX (floats, 1), sizeof (float), 64);
  gint panels = cpu_sgemm_panels (kernel, c->n), half = panels / 2, rows = c->m / 2;
  cpu_sgemm_pack (kernel, c->tb, b, c->ldb, c->n, c->k, half, panels, packed);
  cpu_sgemm_pack (kernel, c->tb, b, c->ldb, c->n, c->k, 0, half, packed);
  for (gint part = 0; part < 2; part++) {
    gint lo = part ? rows : 0, hi = part ? c->m : rows;
    const float *a_part = c->ta ? a + lo : a + (gsize) lo * c->lda;
    ck_assert (cpu_sgemm_packed (kernel, c->ta, hi - lo, c->n, c->k, c->alpha, a_part, c->lda,
                                 packed, c->beta, bias, out + (gsize) lo * c->ldc, c->ldc));
  }
  g_aligned_free (packed);
}

/* Runs @kernel on @c random inputs and holds every element of C (and the
 * padding beyond each row) to the reference. */
static void
check_case (CpuSgemmKernel kernel, Mode mode, const Case *c, GRand *rand)
{
  gint a_rows = c->ta ? c->k : c->m, b_rows = c->tb ? c->n : c->k;
  gsize na = (gsize) a_rows * c->lda, nb = (gsize) b_rows * c->ldb, nc = (gsize) c->m * c->ldc;
  g_autofree gfloat *a = g_new (gfloat, MAX (na, 1)), *b = g_new (gfloat, MAX (nb, 1));
  g_autofree gfloat *out = g_new (gfloat, MAX (nc, 1)), *before = g_new (gfloat, MAX (nc, 1));
  for (gsize i = 0; i < na; i++)
    a[i] = (gfloat) g_rand_double_range (rand, -1, 1);
  for (gsize i = 0; i < nb; i++)
    b[i] = (gfloat) g_rand_double_range (rand, -1, 1);
  g_autofree gfloat *bias = c->bias ? g_new (gfloat, c->n) : NULL;
  for (gint j = 0; bias != NULL && j < c->n; j++)
    bias[j] = (gfloat) g_rand_double_range (rand, -2, 2);
  for (gsize i = 0; i < nc; i++) {
    gboolean padding = (gint) (i % c->ldc) >= c->n;
    gfloat old = c->beta == 0 ? NAN : (gfloat) g_rand_double_range (rand, -1, 1);
    before[i] = padding ? SENTINEL : old;
    out[i] = before[i];
  }
  run_product (kernel, mode, c, a, b, bias, out);
  for (gint i = 0; i < c->m; i++) {
    for (gint j = 0; j < c->n; j++) {
      gdouble sum = 0, mag = 0;
      for (gint p = 0; p < c->k; p++) {
        gdouble x = c->ta ? a[(gsize) p * c->lda + i] : a[(gsize) i * c->lda + p];
        gdouble y = c->tb ? b[(gsize) j * c->ldb + p] : b[(gsize) p * c->ldb + j];
        sum += x * y;
        mag += fabs (x * y);
      }
      gdouble old = before[(gsize) i * c->ldc + j];
      gdouble want = c->alpha * sum + (c->beta == 0 ? 0 : c->beta * old) + (bias ? bias[j] : 0);
      gdouble got = out[(gsize) i * c->ldc + j];
      gdouble tol = 1e-6 * (fabs (c->alpha) * mag + fabs (c->beta) + 3) * (4 + sqrt (c->k));
      ck_assert_msg (fabs (got - want) <= tol,
                     "kernel %d, %c%c m %d n %d k %d alpha %g beta %g bias %d: C[%d,%d] = %.7g, "
                     "want %.7g", kernel, c->ta ? 'T' : 'N', c->tb ? 'T' : 'N', c->m, c->n, c->k,
                     c->alpha, c->beta, c->bias, i, j, got, want);
    }
    for (gint j = c->n; j < c->ldc; j++)
      ck_assert_msg (out[(gsize) i * c->ldc + j] == SENTINEL, "wrote beyond row %d's end", i);
  }
}

/* the edges of both kernels' blocks: 6 and 12 rows, 16 and 32 columns,
 * 8 and 16 deep in the transposed packing */
static const gint dims[] = { 1, 2, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 31, 32, 33, 64, 65, 97 };

static void
random_cases (CpuSgemmKernel kernel, Mode mode, guint seed, guint n_cases)
{
  GRand *rand = g_rand_new_with_seed (seed);
  static const gfloat alphas[] = { 1.0f, 0.7f, -1.5f };
  static const gfloat betas[] = { 0.0f, 1.0f, -0.3f };
  for (guint t = 0; t < n_cases; t++) {
    Case c = { .ta = g_rand_boolean (rand), .tb = g_rand_boolean (rand) };
    c.m = dims[g_rand_int_range (rand, 0, G_N_ELEMENTS (dims))];
    c.n = dims[g_rand_int_range (rand, 0, G_N_ELEMENTS (dims))];
    c.k = dims[g_rand_int_range (rand, 0, G_N_ELEMENTS (dims))];
    c.lda = (c.ta ? c.m : c.k) + g_rand_int_range (rand, 0, 3);
    c.ldb = (c.tb ? c.k : c.n) + g_rand_int_range (rand, 0, 3);
    c.ldc = c.n + g_rand_int_range (rand, 0, 3);
    c.alpha = alphas[t % 3];
    c.beta = betas[(t / 3) % 3];
    c.bias = (t / 9) % 2;
    check_case (kernel, mode, &c, rand);
  }
  g_rand_free (rand);
}

/* Shapes past one pass in depth (k > 256) and one pack in width
 * (n > 1024), with a short last block of rows, each transposition. */
static void
long_cases (CpuSgemmKernel kernel, Mode mode)
{
  GRand *rand = g_rand_new_with_seed (7);
  for (gint t = 0; t < 4; t++) {
    gboolean ta = t & 1, tb = t >> 1;
    Case deep = { ta, tb, 29, 45, 601, ta ? 29 : 601, tb ? 601 : 45, 47, 1.0f, 0.5f, t & 1 };
    Case wide = { ta, tb, 14, 1100, 37, ta ? 14 : 37, tb ? 37 : 1100, 1100, 0.25f, 0.0f, tb };
    check_case (kernel, mode, &deep, rand);
    check_case (kernel, mode, &wide, rand);
  }
  g_rand_free (rand);
}

/* k = 0 or alpha = 0: C = beta·C (+ bias) without touching A or B. */
static void
degenerate_cases (CpuSgemmKernel kernel)
{
  gfloat c[6] = { 1, 2, 3, 4, 5, 6 };
  cpu_sgemm (kernel, FALSE, FALSE, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 2.0f, c, 3);
  ck_assert_float_eq (c[5], 12.0f);
  const gfloat bias[3] = { 1, 2, 3 };
  cpu_sgemm_bias (kernel, FALSE, FALSE, 2, 3, 0, 1.0f, NULL, 1, NULL, 3, 0.5f, bias, c, 3);
  ck_assert_float_eq (c[5], 9.0f);
  gfloat a[4] = { NAN, NAN, NAN, NAN };
  cpu_sgemm (kernel, FALSE, TRUE, 2, 3, 2, 0.0f, a, 2, a, 2, 0.0f, c, 3);
  for (gint i = 0; i < 6; i++)
    ck_assert_float_eq (c[i], 0.0f);
}

START_TEST (test_openblas)
{
  random_cases (CPU_SGEMM_OPENBLAS, WHOLE, 11, 300);
  long_cases (CPU_SGEMM_OPENBLAS, WHOLE);
  degenerate_cases (CPU_SGEMM_OPENBLAS);
}
END_TEST

/* Every own kernel, in turn, where the CPU runs it. */
static const CpuSgemmKernel own_kernels[] = { CPU_SGEMM_AVX2, CPU_SGEMM_AVX512 };

START_TEST (test_own_kernel)
{
  CpuSgemmKernel kernel = own_kernels[_i];
  if (!cpu_sgemm_can_run (kernel)) {
    g_print ("test_own_kernel %s: skipped, this CPU cannot run it\n",
             cpu_sgemm_kernel_name (kernel));
    return;
  }
  random_cases (kernel, WHOLE, 12 + _i, 600);
  long_cases (kernel, WHOLE);
  degenerate_cases (kernel);
}
END_TEST

/* B packed once and shared by two row ranges (the pool's split along m) */
START_TEST (test_own_kernel_shared_packing)
{
  CpuSgemmKernel kernel = own_kernels[_i];
  if (!cpu_sgemm_can_run (kernel)) {
    g_print ("test_own_kernel_shared_packing %s: skipped, this CPU cannot run it\n",
             cpu_sgemm_kernel_name (kernel));
    return;
  }
  random_cases (kernel, SHARED_PACKING, 20 + _i, 300);
  long_cases (kernel, SHARED_PACKING);
}
END_TEST

/* OpenBLAS packs for itself: no shared packing to offer. */
START_TEST (test_openblas_no_packing)
{
  ck_assert_uint_eq (cpu_sgemm_packed_floats (CPU_SGEMM_OPENBLAS, 40, 40), 0);
  ck_assert_int_eq (cpu_sgemm_panels (CPU_SGEMM_OPENBLAS, 40), 0);
  gfloat a = 1, c = 0;
  ck_assert (!cpu_sgemm_packed (CPU_SGEMM_OPENBLAS, FALSE, 1, 1, 1, 1.0f, &a, 1, &a, 0.0f, NULL,
                                &c, 1));
}
END_TEST

/* The widest kernel the CPU runs, under both the backend's simd= ceiling
 * and M3RET_CPU_SGEMM. */
static CpuSgemmKernel
expected (CpuSgemmKernel ceiling, CpuSgemmKernel limit)
{
  CpuSgemmKernel k = MIN (ceiling, limit);
  while (k > CPU_SGEMM_OPENBLAS && !cpu_sgemm_can_run (k))
    k--;
  return k;
}

START_TEST (test_choice)
{
  ck_assert (!cpu_sgemm_have_avx512 () || cpu_sgemm_have_avx2 ());
  ck_assert_str_eq (cpu_sgemm_kernel_name (CPU_SGEMM_AVX2), "avx2");
  static const CpuSgemmKernel ceilings[] = { CPU_SGEMM_AVX512, CPU_SGEMM_AVX2, CPU_SGEMM_OPENBLAS };
  for (guint i = 0; i < G_N_ELEMENTS (ceilings); i++) {
    CpuSgemmKernel ceiling = ceilings[i];
    g_unsetenv ("M3RET_CPU_SGEMM");
    ck_assert_int_eq (cpu_sgemm_default_kernel (ceiling), expected (ceiling, CPU_SGEMM_AVX512));
    g_setenv ("M3RET_CPU_SGEMM", "auto", TRUE);
    ck_assert_int_eq (cpu_sgemm_default_kernel (ceiling), expected (ceiling, CPU_SGEMM_AVX512));
    g_setenv ("M3RET_CPU_SGEMM", "avx512", TRUE);
    ck_assert_int_eq (cpu_sgemm_default_kernel (ceiling), expected (ceiling, CPU_SGEMM_AVX512));
    g_setenv ("M3RET_CPU_SGEMM", "avx2", TRUE);
    ck_assert_int_eq (cpu_sgemm_default_kernel (ceiling), expected (ceiling, CPU_SGEMM_AVX2));
    g_setenv ("M3RET_CPU_SGEMM", "openblas", TRUE);
    ck_assert_int_eq (cpu_sgemm_default_kernel (ceiling), CPU_SGEMM_OPENBLAS);
  }
  /* an AVX-512 CPU held to AVX2 by simd=avx2 runs the AVX2 kernel */
  g_unsetenv ("M3RET_CPU_SGEMM");
  if (cpu_sgemm_have_avx2 ())
    ck_assert_int_eq (cpu_sgemm_default_kernel (CPU_SGEMM_AVX2), CPU_SGEMM_AVX2);
  CpuSgemmKernel best = expected (CPU_SGEMM_AVX512, CPU_SGEMM_AVX512);
  g_setenv ("M3RET_CPU_SGEMM", "mkl", TRUE);
  m3ret_check_expect_log ("M3RET_CPU_SGEMM=mkl: unknown kernel", 1);
  ck_assert_int_eq (cpu_sgemm_default_kernel (CPU_SGEMM_AVX512), best);
  ck_assert_int_eq (cpu_sgemm_default_kernel (CPU_SGEMM_AVX512), best); /* said once */
  m3ret_check_expected_done ();
  g_unsetenv ("M3RET_CPU_SGEMM");
}
END_TEST

static Suite *
cpu_sgemm_suite (void)
{
  Suite *s = suite_create ("cpu-sgemm");
  TCase *tc = tcase_create ("kernels");
  tcase_add_test (tc, test_openblas);
  tcase_add_loop_test (tc, test_own_kernel, 0, G_N_ELEMENTS (own_kernels));
  tcase_add_loop_test (tc, test_own_kernel_shared_packing, 0, G_N_ELEMENTS (own_kernels));
  tcase_add_test (tc, test_openblas_no_packing);
  tcase_add_test (tc, test_choice);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = cpu_sgemm_suite)
