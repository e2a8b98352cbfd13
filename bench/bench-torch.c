/* bench-torch.c — how fast a backend trains: the matmul rate of its gemm
 * entry, and images/s of whole training steps of a ViT with an objective
 * plugin on random stills; prints a table, asserts nothing.
 *
 *   bench-torch --backend torch --device cuda --dtype bfloat16 \
 *               --preset base --size 224 --tubelet 2,16,16 --batch 64
 *
 * The achieved fraction compares the step's model FLOPs with the gemm
 * rate measured in the same run (square n×n products through the same
 * table entry the model uses).  Model FLOPs are counted from the
 * parameters (backend_step_flops()).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend-step.h"

static gchar *opt_backend = NULL, *opt_device = NULL, *opt_dtype = NULL, *opt_preset = NULL;
static gchar *opt_objective = NULL, *opt_tubelet = NULL;
static gint opt_size = 224, opt_batch = 64, opt_steps = 10, opt_warmup = 3, opt_threads = 0;
static gint opt_matmul = 4096;
static gboolean opt_matmul_only = FALSE;

static const GOptionEntry entries[] = {
  { "backend", 0, 0, G_OPTION_ARG_STRING, &opt_backend, "backend plugin (torch)", "NAME" },
  { "device", 0, 0, G_OPTION_ARG_STRING, &opt_device, "torch device: cpu or cuda (cuda)", "DEV" },
  { "dtype", 0, 0, G_OPTION_ARG_STRING, &opt_dtype, "torch dtype: float32 or bfloat16", "T" },
  { "threads", 0, 0, G_OPTION_ARG_INT, &opt_threads, "[pipeline] threads (all cores)", "N" },
  { "preset", 0, 0, G_OPTION_ARG_STRING, &opt_preset, "encoder preset (base)", "P" },
  { "objective", 0, 0, G_OPTION_ARG_STRING, &opt_objective, "objective plugin (mae)", "NAME" },
  { "size", 0, 0, G_OPTION_ARG_INT, &opt_size, "image side (224)", "N" },
  { "tubelet", 0, 0, G_OPTION_ARG_STRING, &opt_tubelet, "pt,ph,pw (2,16,16)", "T" },
  { "batch", 0, 0, G_OPTION_ARG_INT, &opt_batch, "images per step (64)", "N" },
  { "steps", 0, 0, G_OPTION_ARG_INT, &opt_steps, "timed steps (10)", "N" },
  { "warmup", 0, 0, G_OPTION_ARG_INT, &opt_warmup, "untimed steps first (3)", "N" },
  { "matmul", 0, 0, G_OPTION_ARG_INT, &opt_matmul, "side of the square gemm timed (4096)", "N" },
  { "matmul-only", 0, 0, G_OPTION_ARG_NONE, &opt_matmul_only, "skip the training step", NULL },
  { NULL }
};

/* FLOP/s of C = A·B (n×n) through the backend's gemm entry. */
static gdouble
matmul_rate (M3retDevice *device, gint n, GError **error)
{
  const M3retBackendVTable *vt = m3ret_device_get_vtable (device);
  gpointer self = m3ret_device_get_context (device);
  gsize bytes = (gsize) n * n * sizeof (float);
  float *a = m3ret_device_alloc (device, bytes, error);
  float *b = a ? m3ret_device_alloc (device, bytes, error) : NULL;
  float *c = b ? m3ret_device_alloc (device, bytes, error) : NULL;
  gdouble rate = 0;
  if (c != NULL) {
    vt->fill (self, a, (gsize) n * n, 0.01f);
    vt->fill (self, b, (gsize) n * n, -0.02f);
    gint reps = 0;
    gdouble elapsed = 0;
    /* two untimed products, then at least 5 and at least 2 s worth */
    for (gint i = 0; i < 2; i++)
      vt->gemm (self, FALSE, FALSE, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    m3ret_device_synchronize (device);
    gint64 t0 = g_get_monotonic_time ();
    while (reps < 5 || elapsed < 2.0) {
      vt->gemm (self, FALSE, FALSE, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      reps++;
      if (reps % 5 == 0) {
        m3ret_device_synchronize (device);
        elapsed = (g_get_monotonic_time () - t0) / 1e6;
      }
    }
    rate = 2.0 * n * (gdouble) n * n * reps / elapsed;
  }
  m3ret_device_free_mem (device, a);
  m3ret_device_free_mem (device, b);
  m3ret_device_free_mem (device, c);
  return rate;
}

static gint
run (M3retRegistry *registry, GError **error)
{
  const gchar *backend = opt_backend ? opt_backend : "torch";
  gint threads = opt_threads > 0 ? opt_threads : (gint) g_get_num_processors ();
  g_autofree gchar *device_kv = g_strdup_printf ("device=%s", opt_device ? opt_device : "cuda");
  g_autofree gchar *dtype_kv = g_strdup_printf ("dtype=%s", opt_dtype ? opt_dtype : "float32");
  const gchar *torch_settings[] = { device_kv, dtype_kv, NULL };
  gboolean is_torch = strcmp (backend, "torch") == 0;
  g_autoptr (M3retDevice) device =
    m3ret_device_new_by_name (registry, backend, threads, is_torch ? torch_settings : NULL, error);
  if (device == NULL) {
    if (g_error_matches (*error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_DECLINED)) {
      /* `make bench` on a machine without the device: a table row, not a failure */
      printf ("backend       %s: skipped: %s\n", backend, (*error)->message);
      g_clear_error (error);
      return 0;
    }
    return 1;
  }
  printf ("backend       %s%s%s%s%s, threads=%d\n", backend, is_torch ? " " : "",
          is_torch ? device_kv : "", is_torch ? " " : "", is_torch ? dtype_kv : "", threads);

  gdouble rate = matmul_rate (device, opt_matmul, error);
  if (rate <= 0)
    return 1;
  printf ("matmul        %d×%d×%d through the gemm entry: %.3f TFLOP/s\n", opt_matmul,
          opt_matmul, opt_matmul, rate / 1e12);
  if (opt_matmul_only)
    return 0;

  BackendStepSpec spec = { opt_objective ? opt_objective : "mae",
                           opt_preset ? opt_preset : "base", opt_size, { 2, 16, 16 }, opt_batch,
                           1 };
  if (opt_tubelet != NULL
      && sscanf (opt_tubelet, "%d,%d,%d", &spec.tubelet[0], &spec.tubelet[1], &spec.tubelet[2])
           != 3) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--tubelet %s: write pt,ph,pw", opt_tubelet);
    return 1;
  }
  gint64 t_build = g_get_monotonic_time ();
  BackendStep *step = backend_step_new (registry, device, &spec, error);
  if (step == NULL)
    return 1;
  M3retVit *vit = backend_step_get_encoder (step);
  const M3retVitConfig *vc = m3ret_vit_get_config (vit);
  gint tokens = (spec.size / spec.tubelet[1]) * (spec.size / spec.tubelet[2]);
  gint kept = backend_step_get_kept_tokens (step);
  printf ("model         %s ViT (%d wide, %d deep), %s, %d×%d stills, tubelet %d×%d×%d: "
          "%d tokens (%d encoded), %.1f M trained values, built in %.1f s\n",
          spec.preset, vc->dim, vc->depth, spec.objective, spec.size, spec.size,
          spec.tubelet[0], spec.tubelet[1], spec.tubelet[2], tokens, kept,
          m3ret_params_count (backend_step_get_params (step), TRUE) / 1e6,
          (g_get_monotonic_time () - t_build) / 1e6);

  gfloat loss = 0;
  for (gint i = 0; i < opt_warmup; i++)
    if (!backend_step_run (step, TRUE, i == 0 ? &loss : NULL, error)) {
      backend_step_free (step);
      return 1;
    }
  m3ret_device_synchronize (device);
  gint64 t0 = g_get_monotonic_time ();
  for (gint i = 0; i < opt_steps; i++)
    if (!backend_step_run (step, TRUE, NULL, error)) {
      backend_step_free (step);
      return 1;
    }
  m3ret_device_synchronize (device);
  gdouble seconds = (g_get_monotonic_time () - t0) / 1e6;
  gdouble flops = backend_step_flops (step);
  gdouble achieved = flops * opt_steps / seconds;
  printf ("step          batch %d: %.1f ms/step, %.1f images/s (first loss %.4f)\n", spec.batch,
          1e3 * seconds / opt_steps, spec.batch * opt_steps / seconds, loss);
  printf ("flops         %.3f TFLOP/step (estimate) → %.3f TFLOP/s = %.1f%% of the measured "
          "matmul rate\n", flops / 1e12, achieved / 1e12, 100.0 * achieved / rate);
  backend_step_free (step);
  return 0;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("— time a backend's training step");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    fprintf (stderr, "bench-torch: %s\n", error->message);
    return 2;
  }
  M3retRegistry *registry = m3ret_registry_new ();
  m3ret_registry_scan (registry, NULL);
  gint status = run (registry, &error);
  m3ret_registry_free (registry);
  if (status != 0)
    fprintf (stderr, "bench-torch: %s\n", error ? error->message : "failed");
  return status;
}
