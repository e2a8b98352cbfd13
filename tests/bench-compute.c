/* bench-compute.c — sgemm peak and a ViT-tiny training step on the cpu
 * backend.  Prints a table; asserts nothing.
 *
 *   bench-compute [THREADS]      (default: 2, or M3RET_BENCH_THREADS)
 *   M3RET_BENCH_STEPS=N          timed steps after 2 warm-up steps (default 5)
 *
 * The sgemm figure is measured in the same run: OpenBLAS on THREADS
 * threads for square 1024 and 2048 matrices (the best of 3 runs each,
 * before and after the steps),
 * and the backend's own gemm entry (its threads, OpenBLAS single-threaded
 * per chunk) on the shape of a ViT-tiny qkv projection.  The step is
 * ViT-tiny on 2-D 64×64 images (tubelet 2×8×8: 64 tokens + CLS), batch 32,
 * forward + backward + AdamW; its FLOPs count the matrix products only
 * (forward F, backward 2F).
 */
#include "config.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>

#include "m3ret-check.h"

static gdouble
now (void)
{
  return (gdouble) g_get_monotonic_time () / 1e6;
}

static gdouble
sgemm_gflops (gint n, gint threads)
{
  openblas_set_num_threads (threads);
  float *a = g_new (float, (gsize) n * n), *b = g_new (float, (gsize) n * n);
  float *c = g_new0 (float, (gsize) n * n);
  for (gsize i = 0; i < (gsize) n * n; i++) {
    a[i] = (float) (i % 7) * 0.1f;
    b[i] = (float) (i % 5) * 0.1f;
  }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
  gdouble best = 0;
  for (gint r = 0; r < 3; r++) {
    gdouble t0 = now ();
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                 n);
    best = MAX (best, 2.0 * n * n * (gdouble) n / (now () - t0) / 1e9);
  }
  g_free (a);
  g_free (b);
  g_free (c);
  return best;
}

static gdouble
backend_gemm_gflops (M3retDevice *device, gint m, gint n, gint k)
{
  const M3retBackendVTable *vt = m3ret_device_get_vtable (device);
  gpointer ctx = m3ret_device_get_context (device);
  float *a = vt->alloc (ctx, sizeof (float) * m * k, NULL);
  float *b = vt->alloc (ctx, sizeof (float) * n * k, NULL);
  float *c = vt->alloc (ctx, sizeof (float) * m * n, NULL);
  vt->fill (ctx, a, (gsize) m * k, 0.5f);
  vt->fill (ctx, b, (gsize) n * k, 0.25f);
  vt->gemm (ctx, FALSE, TRUE, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
  gdouble best = 0;
  for (gint r = 0; r < 5; r++) {
    gdouble t0 = now ();
    vt->gemm (ctx, FALSE, TRUE, m, n, k, 1.0f, a, k, b, k, 0.0f, c, n);
    best = MAX (best, 2.0 * m * n * (gdouble) k / (now () - t0) / 1e9);
  }
  vt->free (ctx, a);
  vt->free (ctx, b);
  vt->free (ctx, c);
  return best;
}

int
main (int argc, char **argv)
{
  gint threads = 2;
  if (g_getenv ("M3RET_BENCH_THREADS"))
    threads = atoi (g_getenv ("M3RET_BENCH_THREADS"));
  if (argc > 1)
    threads = atoi (argv[1]);
  threads = CLAMP (threads, 1, 256);
  m3ret_check_init ();
  M3retRegistry *registry = m3ret_registry_new ();
  m3ret_registry_scan (registry, NULL);

  gdouble peak = MAX (sgemm_gflops (1024, threads), sgemm_gflops (2048, threads));

  g_autoptr (GError) error = NULL;
  M3retDevice *device = m3ret_device_new_by_name (registry, "cpu", threads, &error);
  if (device == NULL) {
    g_printerr ("bench-compute: %s\n", error->message);
    return 1;
  }
  const gint batch = 32, size = 64, frames = 2;
  const gint tubelet[3] = { 2, 8, 8 };
  gdouble backend_gemm = backend_gemm_gflops (device, batch * 65, 3 * 192, 192);

  M3retVitConfig config;
  m3ret_vit_config_init (&config, "tiny", size, frames, tubelet, NULL);
  M3retParams *params = m3ret_params_new (device);
  M3retRng rng;
  m3ret_rng_init (&rng, 0, M3RET_RNG_STREAM_INIT);
  M3retVit *vit = m3ret_vit_new (params, "", &config, &rng, NULL);
  M3retAdamW *opt = m3ret_adamw_new (params, 0.9, 0.95, 1e-8, NULL);
  M3retGraph *g = m3ret_graph_new (device);
  gsize n = (gsize) batch * 3 * frames * size * size;
  float *x = g_new (float, n);
  m3ret_rng_fill_normal (&rng, x, n, 0.0f, 1.0f);
  float *target = g_new0 (float, batch * config.dim);

  const gint warm = 2;
  gint timed = g_getenv ("M3RET_BENCH_STEPS") ? atoi (g_getenv ("M3RET_BENCH_STEPS")) : 5;
  timed = MAX (timed, 1);
  /* On a shared machine the best step is the one least disturbed: report
   * it next to the mean, and compare it with the best sgemm figure. */
  gdouble t_fwd = 0, t_bwd = 0, t_opt = 0, t_all = 0, t_best = G_MAXDOUBLE;
  for (gint s = 0; s < warm + timed; s++) {
    gdouble t0 = now ();
    M3retTensor *patches = m3ret_vit_patchify (g, vit, x, batch, frames);
    M3retTensor *pooled = m3ret_vit_pool (g, vit, m3ret_vit_forward (g, vit, patches, NULL, 0));
    M3retTensor *t = m3ret_graph_from_host (g, 2, pooled->shape, target, FALSE);
    M3retTensor *loss = m3ret_op_mse (g, pooled, t, NULL);
    m3ret_tensor_item (loss);
    gdouble t1 = now ();
    m3ret_params_zero_grad (params);
    if (!m3ret_graph_backward (g, loss, &error)) {
      g_printerr ("bench-compute: %s\n", error->message);
      return 1;
    }
    m3ret_device_synchronize (device);
    gdouble t2 = now ();
    m3ret_adamw_step (opt, 1e-4, 0.05);
    m3ret_device_synchronize (device);
    gdouble t3 = now ();
    m3ret_graph_reset (g);
    if (s >= warm) {
      t_fwd += t1 - t0;
      t_bwd += t2 - t1;
      t_opt += t3 - t2;
      t_all += t3 - t0;
      t_best = MIN (t_best, t3 - t0);
    }
  }
  gint tokens = m3ret_vit_config_n_tokens (&config, frames);
  gdouble flops = 3.0 * m3ret_vit_flops (vit, batch, tokens);
  gdouble step = t_all / timed;
  gdouble achieved = flops / t_best / 1e9;
  /* the peak again after the steps: the better of the two */
  openblas_set_num_threads (threads);
  peak = MAX (peak, sgemm_gflops (2048, threads));
  openblas_set_num_threads (1);
  g_autofree gchar *loadavg = NULL;
  g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL);
  if (loadavg != NULL)
    g_strdelimit (loadavg, "\n", ' ');

  printf ("m3ret compute benchmark — cpu backend, %d thread%s\n\n", threads,
           threads == 1 ? "" : "s");
  printf ("| measure | value |\n|---|---|\n");
  printf ("| sgemm peak, OpenBLAS %d thread%s, square 1024/2048 | %.1f GFLOP/s |\n", threads,
           threads == 1 ? "" : "s", peak);
  printf ("| backend gemm, qkv shape %d×%d×%d | %.1f GFLOP/s |\n", batch * 65, 3 * 192, 192,
           backend_gemm);
  printf ("| ViT-tiny step: 64×64 2-D, tubelet 2×8×8, batch %d (%d tokens + CLS), best of %d "
          "| %.3f s |\n", batch, tokens, timed, t_best);
  printf ("|   mean step | %.3f s |\n", step);
  printf ("|   forward / backward / AdamW | %.3f / %.3f / %.3f s |\n", t_fwd / timed,
           t_bwd / timed, t_opt / timed);
  printf ("| images/s (best step) | %.1f |\n", batch / t_best);
  printf ("| FLOPs per step (matmuls, fwd + 2× bwd) | %.2f GFLOP |\n", flops / 1e9);
  printf ("| achieved (best step) | %.1f GFLOP/s |\n", achieved);
  printf ("| fraction of sgemm peak | %.0f %% |\n", 100.0 * achieved / peak);
  printf ("| step arena (reserved) | %.1f MiB |\n",
           m3ret_graph_get_reserved_bytes (g) / 1048576.0);
  printf ("| parameters | %.2f M |\n", m3ret_params_count (params, TRUE) / 1e6);
  printf ("| machine | %u CPUs, load average %s|\n", g_get_num_processors (),
          loadavg ? loadavg : "? ");

  g_free (x);
  g_free (target);
  m3ret_graph_free (g);
  m3ret_adamw_free (opt);
  m3ret_vit_free (vit);
  m3ret_params_free (params);
  m3ret_device_free (device);
  m3ret_registry_free (registry);
  return 0;
}
