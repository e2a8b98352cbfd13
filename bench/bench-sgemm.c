/* bench-sgemm.c — see bench-sgemm.h. */
#include "config.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "bench-sgemm.h"
#include "cpu-sgemm.h"

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

const gchar *const *
bench_cpu_settings (void)
{
  static gchar setting[64];
  static const gchar *settings[2] = { setting, NULL };
  const gchar *simd = g_getenv ("M3RET_BENCH_CPU_SIMD");
  if (simd == NULL || *simd == '\0')
    return NULL;
  g_snprintf (setting, sizeof setting, "simd=%s", simd);
  return settings;
}

/* The CPU's model name from /proc/cpuinfo, or "unknown CPU". */
static gchar *
cpu_model (void)
{
  g_autofree gchar *text = NULL;
  if (g_file_get_contents ("/proc/cpuinfo", &text, NULL, NULL)) {
    gchar *line = strstr (text, "model name");
    gchar *colon = line != NULL ? strchr (line, ':') : NULL;
    if (colon != NULL) {
      gchar *end = strchr (colon, '\n');
      if (end != NULL)
        *end = '\0';
      return g_strstrip (g_strdup (colon + 1));
    }
  }
  return g_strdup ("unknown CPU");
}

gchar *
bench_cpu_machine (void)
{
  const gchar *simd = g_getenv ("M3RET_BENCH_CPU_SIMD");
  gboolean avx512 = cpu_sgemm_have_avx512 (), avx2 = cpu_sgemm_have_avx2 ();
  const gchar *best = avx512 ? "avx512" : avx2 ? "avx2" : "generic";
  if (simd == NULL || *simd == '\0' || strcmp (simd, "auto") == 0)
    simd = best;
  CpuSgemmKernel ceiling = strcmp (simd, "avx512") == 0 ? CPU_SGEMM_AVX512
                           : strcmp (simd, "avx2") == 0 ? CPU_SGEMM_AVX2
                                                        : CPU_SGEMM_OPENBLAS;
  g_autofree gchar *model = cpu_model ();
  gchar *text = g_strdup_printf ("%s, SIMD %s%s (CPU has %s), sgemm kernel %s", model, simd,
                                 strcmp (simd, best) != 0 ? " forced" : "",
                                 avx512 ? "AVX-512 and AVX2 + FMA" : avx2 ? "AVX2 + FMA" : "neither AVX2 nor AVX-512",
                                 cpu_sgemm_kernel_name (cpu_sgemm_default_kernel (ceiling)));
  printf ("M3RET-BENCH-MACHINE\t%s\n", text);
  fflush (stdout);
  return text;
}
