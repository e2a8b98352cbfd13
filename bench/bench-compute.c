/* bench-compute.c — issue 8's training rows: ViT-tiny (2-D 64×64 stills,
 * tubelet 2×8×8: 64 tokens + CLS, batch 32) trained by MAE and by SimDINO
 * (2 global + 4 local crops) on the cpu backend beside the torch backend
 * (libtorch on the CPU, the same thread count), the MAE step's FLOP rate
 * against sgemm measured in the same run, and the peak RSS of a
 * process that trains with each backend.  Prints a table and the
 * M3RET-BENCH rows (bench-row.h); asserts nothing.
 *
 *   bench-compute [THREADS]    (default 2, or M3RET_BENCH_THREADS)
 *   M3RET_BENCH_ROUNDS=N       rounds (default 3); every figure is the
 *                              median over rounds
 *   M3RET_BENCH_STEPS=N        timed steps per backend and round, after
 *                              two warm-up steps (default 1: a SimDINO
 *                              step of batch 32 is 6 views, seconds each)
 *   M3RET_BENCH_OBJECTIVES=mae only these objectives (comma-separated;
 *                              default mae,simdino)
 *   M3RET_BENCH_CPU_SIMD=avx2  the cpu backend's simd= (bench-sgemm.h):
 *                              its loops and its sgemm kernel
 *
 * A round measures sgemm twice, OpenBLAS on THREADS threads and the cpu
 * backend's own gemm entry (the better of two 2048³ products each; the
 * step is held to the faster), then each objective on cpu and on torch, each on a
 * fresh device: on a shared machine the load drifts, and interleaving
 * lets both backends see the same drift.  The step (backend-step.c) is
 * the objective's loss, backward, AdamW and its after-step hook; FLOPs
 * are counted by backend_step_flops() (matrix products only).
 *
 * Peak RSS: the program runs itself as a child (--rss-child BACKEND)
 * that trains MAE for 3 steps, before it loads anything large itself, and
 * reads the child's ru_maxrss with wait4().
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend-step.h"
#include "bench-row.h"
#include "bench-sgemm.h"
#include "m3ret-check.h"

#define EXIT_UNUSABLE 77 /* the child's backend cannot run here */

static const gchar *const backends[] = { "cpu", "torch" };
enum { N_BACKENDS = G_N_ELEMENTS (backends) };
static const gchar *const objectives[] = { "mae", "simdino" };
enum { N_OBJECTIVES = G_N_ELEMENTS (objectives) };

static const BackendStepSpec base_spec = { "mae", "tiny", 64, { 2, 8, 8 }, 32, 0 };

static gdouble
now (void)
{
  return (gdouble) g_get_monotonic_time () / 1e6;
}

/* One backend's images/s for one objective on a fresh device: two warm-up
 * steps (the step arena settles into one block at the second), then @steps
 * timed.  @flops gets the step's FLOPs.  0 when the
 * backend cannot run here (@error says why). */
static gboolean
objective_wanted (const gchar *objective)
{
  const gchar *only = g_getenv ("M3RET_BENCH_OBJECTIVES");
  g_auto (GStrv) wanted = only != NULL && *only ? g_strsplit (only, ",", -1) : NULL;
  return wanted == NULL || g_strv_contains ((const gchar *const *) wanted, objective);
}

/* The settings of a device of @backend: the forced simd= for cpu. */
static const gchar *const *
settings_for (const gchar *backend)
{
  return strcmp (backend, "cpu") == 0 ? bench_cpu_settings () : NULL;
}

static gdouble
step_rate (M3retRegistry *registry, const gchar *backend, const gchar *objective, gint threads,
           gint steps, gdouble *flops, GError **error)
{
  g_autoptr (M3retDevice) device = m3ret_device_new_by_name (registry, backend, threads,
                                                            settings_for (backend), error);
  if (device == NULL)
    return 0;
  BackendStepSpec spec = base_spec;
  spec.objective = objective;
  BackendStep *step = backend_step_new (registry, device, &spec, error);
  if (step == NULL)
    return 0;
  gdouble rate = 0, t0 = 0;
  gboolean ok = TRUE;
  for (gint i = 0; ok && i < 2 + steps; i++) {
    if (i == 2) {
      m3ret_device_synchronize (device);
      t0 = now ();
    }
    ok = backend_step_run (step, TRUE, NULL, error);
  }
  if (ok) {
    m3ret_device_synchronize (device);
    rate = spec.batch * steps / (now () - t0);
    *flops = backend_step_flops (step);
  }
  backend_step_free (step);
  return rate;
}

/* The child: trains MAE with @backend for 3 steps, then exits. */
static int
rss_child (const gchar *backend, gint threads)
{
  M3retRegistry *registry = m3ret_check_registry ();
  g_autoptr (GError) error = NULL;
  g_autoptr (M3retDevice) device = m3ret_device_new_by_name (registry, backend, threads,
                                                            settings_for (backend), &error);
  if (device == NULL)
    return EXIT_UNUSABLE;
  BackendStep *step = backend_step_new (registry, device, &base_spec, &error);
  for (gint i = 0; step != NULL && i < 3; i++)
    if (!backend_step_run (step, TRUE, NULL, &error))
      break;
  m3ret_device_synchronize (device);
  if (error != NULL)
    fprintf (stderr, "bench-compute: --rss-child %s: %s\n", backend, error->message);
  _exit (error == NULL ? 0 : 1);
}

/* Peak RSS in bytes of a child training with @backend; 0 if it could not. */
static gdouble
child_peak_rss (const gchar *backend, gint threads)
{
  g_autofree gchar *threads_text = g_strdup_printf ("%d", threads);
  fflush (stdout);
  pid_t pid = fork ();
  if (pid < 0)
    return 0;
  if (pid == 0) {
    execl ("/proc/self/exe", "bench-compute", "--rss-child", backend, threads_text, NULL);
    _exit (127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4 (pid, &status, 0, &ru) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return 0;
  return ru.ru_maxrss * 1024.0;
}

int
main (int argc, char **argv)
{
  gint threads = bench_env_int ("M3RET_BENCH_THREADS", 2);
  if (argc == 4 && strcmp (argv[1], "--rss-child") == 0) {
    m3ret_check_init ();
    return rss_child (argv[2], CLAMP (atoi (argv[3]), 1, 256));
  }
  if (argc > 1)
    threads = CLAMP (atoi (argv[1]), 1, 256);
  gint rounds = bench_env_int ("M3RET_BENCH_ROUNDS", 3);
  gint steps = bench_env_int ("M3RET_BENCH_STEPS", 1);
  m3ret_check_init ();

  /* first, while this process is small: its RSS at fork counts in the child's */
  gdouble rss[N_BACKENDS];
  for (guint b = 0; b < N_BACKENDS; b++)
    rss[b] = child_peak_rss (backends[b], threads);

  M3retRegistry *registry = m3ret_check_registry ();
  gdouble *sgemm = g_new0 (gdouble, rounds), *own = g_new0 (gdouble, rounds);
  gdouble *rate[N_OBJECTIVES][N_BACKENDS], *flop_rate = g_new0 (gdouble, rounds);
  gdouble mae_flops = 0;
  gboolean usable[N_BACKENDS] = { TRUE, TRUE };
  for (guint o = 0; o < N_OBJECTIVES; o++)
    for (guint b = 0; b < N_BACKENDS; b++)
      rate[o][b] = g_new0 (gdouble, rounds);
  for (gint r = 0; r < rounds; r++) {
    sgemm[r] = bench_sgemm_rate (2048, threads);
    M3retDevice *cpu = m3ret_device_new_by_name (registry, "cpu", threads, settings_for ("cpu"),
                                                 NULL);
    own[r] = cpu != NULL ? bench_backend_sgemm_rate (cpu, 2048) : 0;
    m3ret_device_free (cpu);
    for (guint o = 0; o < N_OBJECTIVES; o++)
      for (guint b = 0; b < N_BACKENDS; b++) {
        if (!usable[b] || !objective_wanted (objectives[o]))
          continue;
        g_autoptr (GError) error = NULL;
        gdouble flops = 0;
        rate[o][b][r] = step_rate (registry, backends[b], objectives[o], threads, steps, &flops,
                                   &error);
        if (rate[o][b][r] == 0) {
          printf ("%s: not measured: %s\n", backends[b], error ? error->message : "failed");
          usable[b] = FALSE;
        }
        if (o == 0 && b == 0) {
          mae_flops = flops;
          flop_rate[r] = flops * rate[o][b][r] / base_spec.batch;
        }
      }
  }
  /* the step is held to the faster of the two sgemms */
  gdouble openblas = bench_median (sgemm, rounds), backend = bench_median (own, rounds);
  gdouble peak = MAX (openblas, backend), achieved = bench_median (flop_rate, rounds);
  gdouble med[N_OBJECTIVES][N_BACKENDS];
  for (guint o = 0; o < N_OBJECTIVES; o++)
    for (guint b = 0; b < N_BACKENDS; b++)
      med[o][b] = bench_median (rate[o][b], rounds);

  g_autofree gchar *loadavg = NULL;
  g_file_get_contents ("/proc/loadavg", &loadavg, NULL, NULL);
  g_autofree gchar *machine = bench_cpu_machine ();
  printf ("\nm3ret training benchmark — ViT-tiny, 2-D 64×64, tubelet 2×8×8 (64 tokens + CLS), "
          "batch %d, %d thread%s; medians of %d rounds of %d steps\n(%s)\n\n", base_spec.batch,
          threads, threads == 1 ? "" : "s", rounds, steps, machine);
  printf ("| measure | cpu | torch | cpu ÷ torch |\n|---|---|---|---|\n");
  for (guint o = 0; o < N_OBJECTIVES; o++)
    if (objective_wanted (objectives[o]))
      printf ("| %s step, images/s | %.2f | %.2f | %.2f |\n", objectives[o], med[o][0],
              med[o][1], med[o][1] > 0 ? med[o][0] / med[o][1] : 0);
  printf ("| peak RSS of a process training MAE | %.0f MiB | %.0f MiB | %.2f |\n",
          rss[0] / 1048576, rss[1] / 1048576, rss[1] > 0 ? rss[0] / rss[1] : 0);
  printf ("\n| measure | value |\n|---|---|\n");
  printf ("| sgemm, OpenBLAS %d thread%s, 2048³ | %.1f GFLOP/s |\n", threads,
          threads == 1 ? "" : "s", openblas / 1e9);
  printf ("| sgemm, the cpu backend's gemm, %d thread%s, 2048³ | %.1f GFLOP/s |\n", threads,
          threads == 1 ? "" : "s", backend / 1e9);
  printf ("| MAE step FLOPs (matrix products, fwd + 2× bwd) | %.2f GFLOP |\n", mae_flops / 1e9);
  printf ("| MAE step on cpu, achieved | %.1f GFLOP/s = %.0f %% of the faster sgemm |\n",
          achieved / 1e9, 100 * achieved / peak);
  printf ("| machine | %u CPUs, load average %s |\n", g_get_num_processors (),
          loadavg ? g_strstrip (loadavg) : "?");

  g_autofree gchar *stage = g_strdup_printf ("ViT-tiny 2D 64², batch %d, %d threads",
                                             base_spec.batch, threads);
  g_autofree gchar *mae = g_strdup_printf ("MAE train step, %s", stage);
  g_autofree gchar *simdino = g_strdup_printf ("SimDINO step (2 global + 4 local), %s", stage);
  if (usable[1] && objective_wanted ("mae"))
    bench_row (mae, "images/s", med[0][0], "torch", med[0][1], ">=1.5");
  if (usable[1] && objective_wanted ("simdino"))
    bench_row (simdino, "images/s", med[1][0], "torch", med[1][1], ">=1.5");
  if (objective_wanted ("mae"))
    bench_row (mae, "GFLOP/s ÷ sgemm", achieved / 1e9, "sgemm", peak / 1e9, ">=0.6");
  if (rss[0] > 0 && rss[1] > 0)
    bench_row ("training peak RSS, ViT-tiny MAE batch 32", "MiB", rss[0] / 1048576, "torch",
               rss[1] / 1048576, "<=0.8");

  for (guint o = 0; o < N_OBJECTIVES; o++)
    for (guint b = 0; b < N_BACKENDS; b++)
      g_free (rate[o][b]);
  g_free (sgemm);
  g_free (own);
  g_free (flop_rate);
  m3ret_registry_free (registry);
  return 0;
}
