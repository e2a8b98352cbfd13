/* bench-objectives.c — training throughput of the objective plugins.
 * Prints a table; asserts nothing.
 *
 *   bench-objectives [THREADS]   (default: 2, or M3RET_BENCH_THREADS)
 *   M3RET_BENCH_STEPS=N          timed steps after 1 warm-up step (default 2)
 *   M3RET_BENCH_BATCH=B          samples per step (default 8)
 *
 * For MAE and SimDINO (default keys) with the ViT-tiny encoder, on 2-D
 * 64×64 stills (tubelet 2×8×8: 64 tokens) and on CT-like 16×64×64 volumes
 * (512 tokens): one optimiser step = the objective's loss, backward, AdamW
 * and its after-step hook.  The views are random values already on the
 * grid, so decoding and augmentation are left out (bench-loader measures
 * them).  images/s counts samples, not views.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "m3ret-check.h"

static gdouble
now (void)
{
  return (gdouble) g_get_monotonic_time () / 1e6;
}

typedef struct {
  gdouble best, mean;
  guint n_views;
  gint tokens;
  gsize arena;
} Result;

static gboolean
run (M3retRegistry *registry, const gchar *objective, gint threads, gint frames, gint batch,
     gint steps, Result *out, GError **error)
{
  const gint size = 64, depth = 16, tubelet[3] = { 2, 8, 8 };
  const M3retPlugin *plugin = m3ret_registry_require (registry, M3RET_PLUGIN_OBJECTIVE, objective,
                                                      error);
  if (plugin == NULL)
    return FALSE;
  const M3retObjectiveVTable *vt = m3ret_plugin_get_vtable (plugin);
  g_autoptr (M3retConfig) config = m3ret_config_new_defaults (
      "objective", m3ret_plugin_get_desc (plugin)->keys, error);
  M3retDevice *device = m3ret_device_new_by_name (registry, "cpu", threads, NULL, error);
  if (config == NULL || device == NULL) {
    m3ret_device_free (device);
    return FALSE;
  }
  M3retVitConfig vc;
  m3ret_vit_config_init (&vc, M3RET_PRESET_TINY, size, depth, tubelet, NULL);
  M3retParams *params = m3ret_params_new (device);
  M3retRng rng;
  m3ret_rng_init (&rng, 0, M3RET_RNG_STREAM_INIT);
  M3retVit *vit = m3ret_vit_new (params, "", &vc, &rng, error);
  M3retObjectiveSetup setup = {
    .params = params, .encoder = vit, .init_rng = &rng, .seed = 0, .total_steps = 1000,
    .size = size, .depth = depth, .image_depth = tubelet[0],
  };
  gpointer obj = vit ? vt->create (config, &setup, error) : NULL;
  M3retOptimizerSettings s;
  M3retAdamW *opt = NULL;
  if (obj != NULL) {
    vt->optimizer (obj, &s);
    opt = m3ret_adamw_new (params, s.beta1, s.beta2, s.eps, error);
  }
  gboolean ok = opt != NULL;
  M3retGraph *g = m3ret_graph_new (device);
  M3retView views[M3RET_LOADER_MAX_VIEWS];
  guint n_views = ok ? vt->views (obj, views, M3RET_LOADER_MAX_VIEWS) : 0;
  gsize per_view = (gsize) batch * 3 * frames * size * size;
  float *data = ok ? g_new (float, per_view * n_views) : NULL;
  M3retBatchView bv[M3RET_LOADER_MAX_VIEWS];
  M3retBatch b = { 0 };
  if (ok) {
    m3ret_rng_fill_normal (&rng, data, per_view * n_views, 0.0f, 1.0f);
    for (guint v = 0; v < n_views; v++)
      bv[v] = (M3retBatchView) { 3, (guint) frames, size, size, data + v * per_view };
    b.n = (guint) batch;
    b.layout = frames == tubelet[0] ? M3RET_LAYOUT_IMAGE : M3RET_LAYOUT_SEQUENCE;
    b.n_views = n_views;
    b.views = bv;
  }
  gdouble total = 0, best = G_MAXDOUBLE;
  for (gint step = 0; ok && step < 1 + steps; step++) {
    gdouble t0 = now ();
    m3ret_params_zero_grad (params);
    M3retTensor *loss = vt->loss (obj, g, &b, step, error);
    ok = loss != NULL && m3ret_graph_backward (g, loss, error);
    if (ok) {
      m3ret_adamw_step (opt, 1e-4, s.weight_decay);
      if (vt->after_step != NULL)
        vt->after_step (obj, step);
    }
    m3ret_graph_reset (g);
    gdouble dt = now () - t0;
    if (step > 0) {
      total += dt;
      best = MIN (best, dt);
    }
  }
  if (ok) {
    out->best = best;
    out->mean = total / steps;
    out->n_views = n_views;
    out->tokens = m3ret_vit_config_n_tokens (&vc, frames);
    out->arena = m3ret_graph_get_reserved_bytes (g);
  }
  g_free (data);
  m3ret_graph_free (g);
  m3ret_adamw_free (opt);
  if (obj != NULL)
    vt->destroy (obj);
  m3ret_vit_free (vit);
  m3ret_params_free (params);
  m3ret_device_free (device);
  return ok;
}

int
main (int argc, char **argv)
{
  m3ret_check_init ();
  const gchar *env_threads = g_getenv ("M3RET_BENCH_THREADS");
  gint threads = argc > 1 ? atoi (argv[1]) : env_threads ? atoi (env_threads) : 2;
  gint steps = g_getenv ("M3RET_BENCH_STEPS") ? atoi (g_getenv ("M3RET_BENCH_STEPS")) : 2;
  gint batch = g_getenv ("M3RET_BENCH_BATCH") ? atoi (g_getenv ("M3RET_BENCH_BATCH")) : 8;
  threads = MAX (threads, 1);
  steps = MAX (steps, 1);
  batch = MAX (batch, 1);
  M3retRegistry *registry = m3ret_check_registry ();
  const gchar *objectives[2] = { "mae", "simdino" };
  const struct { const gchar *name; gint frames; } inputs[2] = {
    { "2-D 64×64", 2 }, { "CT 16×64×64", 16 }
  };
  printf ("m3ret objectives benchmark — ViT-tiny, cpu backend, %d thread%s, batch %d, "
          "best and mean of %d step%s after 1 warm-up\n\n", threads, threads == 1 ? "" : "s",
          batch, steps, steps == 1 ? "" : "s");
  printf ("| objective | input | tokens | views | step (best / mean) | images/s (best) | arena |\n");
  printf ("|---|---|---|---|---|---|---|\n");
  int rc = EXIT_SUCCESS;
  for (gint o = 0; o < 2; o++)
    for (gint i = 0; i < 2; i++) {
      Result r;
      g_autoptr (GError) error = NULL;
      if (!run (registry, objectives[o], threads, inputs[i].frames, batch, steps, &r, &error)) {
        fprintf (stderr, "bench-objectives: %s on %s: %s\n", objectives[o], inputs[i].name,
                 error ? error->message : "failed");
        rc = EXIT_FAILURE;
        continue;
      }
      printf ("| %s | %s | %d | %u | %.2f / %.2f s | %.2f | %.0f MiB |\n", objectives[o],
              inputs[i].name, r.tokens, r.n_views, r.best, r.mean, batch / r.best,
              r.arena / 1048576.0);
      fflush (stdout);
    }
  gchar *load = NULL;
  g_file_get_contents ("/proc/loadavg", &load, NULL, NULL);
  printf ("\nmachine: %u CPUs, load average %s", g_get_num_processors (), load ? load : "?\n");
  g_free (load);
  m3ret_registry_free (registry);
  return rc;
}
