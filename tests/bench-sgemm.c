/* bench-sgemm.c — see bench-sgemm.h. */
#include "config.h"

#include <cblas.h>

#include "bench-sgemm.h"

gdouble
bench_sgemm_rate (gint n, gint threads)
{
  openblas_set_num_threads (threads);
  gsize nn = (gsize) n * n;
  float *a = g_new (float, nn), *b = g_new (float, nn), *c = g_new0 (float, nn);
  for (gsize i = 0; i < nn; i++) {
    a[i] = (float) (i % 7) * 0.1f;
    b[i] = (float) (i % 5) * 0.1f;
  }
  gdouble best = 0;
  for (gint r = 0; r < 3; r++) {
    gint64 t0 = g_get_monotonic_time ();
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                 n);
    gdouble seconds = (gdouble) (g_get_monotonic_time () - t0) / 1e6;
    if (r > 0)
      best = MAX (best, 2.0 * n * n * (gdouble) n / seconds);
  }
  g_free (a);
  g_free (b);
  g_free (c);
  return best;
}
