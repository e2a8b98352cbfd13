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

gdouble
bench_backend_sgemm_rate (M3retDevice *device, gint n)
{
  gsize nn = (gsize) n * n, bytes = nn * sizeof (float);
  const M3retBackendVTable *vtable = m3ret_device_get_vtable (device);
  gpointer ctx = m3ret_device_get_context (device);
  float *mem[3] = { NULL, NULL, NULL };
  for (gint i = 0; i < 3; i++)
    mem[i] = m3ret_device_alloc (device, bytes, NULL);
  gdouble best = 0;
  if (mem[0] != NULL && mem[1] != NULL && mem[2] != NULL) {
    g_autofree float *host = g_new (float, nn);
    for (gsize i = 0; i < nn; i++)
      host[i] = (float) (i % 7) * 0.1f;
    m3ret_device_upload (device, mem[0], host, bytes);
    m3ret_device_upload (device, mem[1], host, bytes);
    for (gint r = 0; r < 3; r++) {
      gint64 t0 = g_get_monotonic_time ();
      vtable->gemm (ctx, FALSE, FALSE, n, n, n, 1.0f, mem[0], n, mem[1], n, 0.0f, mem[2], n);
      m3ret_device_synchronize (device);
      gdouble seconds = (gdouble) (g_get_monotonic_time () - t0) / 1e6;
      if (r > 0)
        best = MAX (best, 2.0 * n * n * (gdouble) n / seconds);
    }
  }
  for (gint i = 0; i < 3; i++)
    if (mem[i] != NULL)
      m3ret_device_free_mem (device, mem[i]);
  return best;
}
