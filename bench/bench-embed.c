/* bench-embed.c — embedding images/s of the frozen ViT-tiny (forward, no
 * gradients) on 2-D 64² and CT 16×64×64, on every backend plugin usable
 * here: cpu, and torch (libtorch, the peer) when built.  Prints a table;
 * asserts nothing.  Training rates are bench-objectives' table.
 *
 *   M3RET_BENCH_THREADS=N   compute threads (default 2)
 *   M3RET_BENCH_ROUNDS=N    rounds (default 3); figures are medians over rounds
 *   M3RET_BENCH_STEPS=N     timed batches per round after two warm-up ones (default 2)
 *
 * Two warm-ups: the cpu backend's step arena settles into one block at the
 * second batch, whose pages are touched for the first time then.
 *
 *   M3RET_BENCH_BACKENDS=cpu  only these backends (comma-separated; for profiling)
 *
 * A round measures every input on every backend, one after the other, so
 * on a shared machine both backends see the same drift of the load.
 *
 * Inputs are random data on the canonical grid, so the figure is the
 * encoder's compute, not the loader's decoding (bench-loader measures that).
 *
 * Each round also measures sgemm (2048³, THREADS threads: OpenBLAS, and
 * the cpu backend's own gemm entry), and the table gives each backend's
 * FLOP rate (m3ret_vit_flops: matrix products) against the faster.  Both
 * backends run the same graph, so that sgemm ÷ torch's FLOP rate bounds
 * cpu ÷ torch from above for a cpu backend whose every product ran as
 * fast as one large sgemm.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench-row.h"
#include "bench-sgemm.h"
#include "m3ret-check.h"

typedef struct {
  const gchar *name;
  gint frames; /* canonical grid depth of the sample */
  gint batch;
} Input;

static const Input inputs[] = {
  { "2D 64x64", 2, 32 },
  { "CT 16x64x64", 16, 8 },
};

static gdouble
now (void)
{
  return (gdouble) g_get_monotonic_time () / 1e6;
}

/* Images/s; *@flops gets the FLOPs of one image's forward. */
static gdouble
embed_rate (M3retDevice *device, const Input *in, gint steps, gdouble *flops)
{
  const gint tubelet[3] = { 2, 8, 8 };
  M3retVitConfig cfg;
  m3ret_vit_config_init (&cfg, M3RET_PRESET_TINY, 64, 16, tubelet, NULL);
  g_autoptr (M3retParams) params = m3ret_params_new (device);
  M3retRng rng;
  m3ret_rng_init (&rng, 0, M3RET_RNG_STREAM_INIT);
  M3retVit *vit = m3ret_vit_new (params, "", &cfg, &rng, NULL);
  g_autoptr (M3retGraph) graph = m3ret_graph_new (device);
  m3ret_graph_set_grad_enabled (graph, FALSE);
  gsize n = (gsize) in->batch * 3 * in->frames * 64 * 64;
  g_autofree gfloat *x = g_new (gfloat, n);
  m3ret_rng_fill_normal (&rng, x, n, 0.0f, 1.0f);
  gdouble t0 = 0;
  for (gint i = 0; i < 2 + steps; i++) {
    if (i == 2)
      t0 = now ();
    m3ret_graph_reset (graph);
    M3retTensor *p = m3ret_vit_patchify (graph, vit, x, in->batch, in->frames);
    m3ret_tensor_item (m3ret_op_mean (graph, m3ret_vit_embed (graph, vit, p)));
  }
  gdouble rate = in->batch * steps / (now () - t0);
  *flops = m3ret_vit_flops (vit, 1, m3ret_vit_config_n_tokens (&cfg, in->frames));
  m3ret_vit_free (vit);
  return rate;
}

int
main (void)
{
  m3ret_check_init ();
  gint threads = bench_env_int ("M3RET_BENCH_THREADS", 2);
  gint rounds = bench_env_int ("M3RET_BENCH_ROUNDS", 3);
  gint steps = bench_env_int ("M3RET_BENCH_STEPS", 2);
  M3retRegistry *registry = m3ret_check_registry ();
  const gchar *backends[] = { "cpu", "torch" };
  enum { N_BACKENDS = G_N_ELEMENTS (backends), N_INPUTS = G_N_ELEMENTS (inputs) };
  /* a fresh device per round: each backend's create sets OpenBLAS's
   * process-wide thread count for itself */
  gboolean usable[N_BACKENDS];
  gdouble rates[N_BACKENDS][N_INPUTS][rounds], sgemm[rounds], flops[N_INPUTS] = { 0 };
  for (gint r = 0; r < rounds; r++) {
    sgemm[r] = bench_sgemm_rate (2048, threads);
    M3retDevice *cpu = m3ret_device_new_by_name (registry, "cpu", threads, bench_cpu_settings (),
                                                 NULL);
    if (cpu != NULL)
      sgemm[r] = MAX (sgemm[r], bench_backend_sgemm_rate (cpu, 2048));
    m3ret_device_free (cpu);
    for (guint b = 0; b < N_BACKENDS; b++) {
      GError *error = NULL;
      const gchar *only = g_getenv ("M3RET_BENCH_BACKENDS");
      g_auto (GStrv) wanted = only ? g_strsplit (only, ",", -1) : NULL;
      M3retDevice *device = NULL;
      if (wanted == NULL || g_strv_contains ((const gchar *const *) wanted, backends[b]))
        device = m3ret_device_new_by_name (registry, backends[b], threads,
                                           b == 0 ? bench_cpu_settings () : NULL, &error);
      else
        g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "not in M3RET_BENCH_BACKENDS");
      usable[b] = device != NULL;
      if (device == NULL && r == 0)
        printf ("%-8s (not usable here: %s)\n", backends[b], error->message);
      g_clear_error (&error);
      for (guint i = 0; i < N_INPUTS; i++)
        rates[b][i][r] = device ? embed_rate (device, &inputs[i], steps, &flops[i]) : 0;
      m3ret_device_free (device);
    }
  }

  g_autofree gchar *machine = bench_cpu_machine ();
  printf ("\nEmbedding, ViT-tiny, tubelet 2x8x8, %d threads, medians of %d rounds of %d batches\n"
          "(%s)\n", threads, rounds, steps, machine);
  gdouble peak = bench_median (sgemm, rounds);
  printf ("sgemm (2048³, %d threads, the faster of OpenBLAS and the cpu backend's): "
          "%.1f GFLOP/s\n", threads, peak / 1e9);
  printf ("%-8s %-12s %6s %12s %10s %9s\n", "backend", "input", "batch", "images/s", "GFLOP/s",
          "÷ sgemm");
  gdouble med[N_BACKENDS][N_INPUTS];
  for (guint b = 0; b < N_BACKENDS; b++)
    for (guint i = 0; i < N_INPUTS; i++) {
      med[b][i] = bench_median (rates[b][i], rounds);
      if (usable[b])
        printf ("%-8s %-12s %6d %12.2f %10.1f %9.2f\n", backends[b], inputs[i].name,
                inputs[i].batch, med[b][i], med[b][i] * flops[i] / 1e9,
                med[b][i] * flops[i] / peak);
    }
  for (guint i = 0; i < N_INPUTS && usable[1]; i++)
    printf ("%s: cpu ÷ torch %.2f; at the sgemm rate it would be %.2f\n", inputs[i].name,
            med[0][i] / med[1][i], peak / (med[1][i] * flops[i]));
  for (guint i = 0; i < N_INPUTS && usable[1]; i++) {
    g_autofree gchar *stage = g_strdup_printf ("embed ViT-tiny %s, batch %d, %d threads",
                                               inputs[i].name, inputs[i].batch, threads);
    bench_row (stage, "images/s", med[0][i], "torch", med[1][i], ">=2.0");
  }
  m3ret_registry_free (registry);
  return 0;
}
