/* bench-mpi.c — data-parallel training on this machine: the step time of
 * MAE on the micro preset (64² × 16, global batch 16) for one process with
 * 2 compute threads against `mpirun -np 2` with 1 thread per rank, the
 * share of the 2-rank step spent averaging gradients after the backward,
 * with one all-reduce after it and with 64 KiB buckets sent during it, and
 * how much of the bucketed all-reduce is hidden behind the backward.
 * Skips (no rows) in a build without MPI.
 *
 *   M3RET_BENCH_STEPS   training steps per run (default 30; the first 5 are not timed)
 */
#include "config.h"

#include <string.h>
#include <sys/wait.h>

#include "bench-row.h"
#include "m3ret-check.h"

static const gchar *pipeline_text =
  "[pipeline]\nthreads=%d\nseed=0\n"
  "[input]\nsize=64\ndepth=16\ntubelet=2,8,8\n"
  "[encoder]\npreset=micro\n"
  "[objective]\nplugin=mae\n"
  "[data]\ntrain=data/manifest.csv\nloader_threads=1\n"
  "[train]\nbatch=16\nsteps=%d\nlr=2e-3\nwarmup=2\ncheckpoint_every=0\nallreduce_bucket_kb=%d\n"
  "[retriever]\nplugin=flat\n";

/* Mean seconds of steps 6 … of a step log (its elapsed column). */
static gdouble
step_seconds (const gchar *out)
{
  g_autofree gchar *log = g_build_filename (out, "train-log.csv", NULL);
  g_autofree gchar *text = NULL;
  if (!g_file_get_contents (log, &text, NULL, NULL))
    return 0;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  gdouble at5 = 0, last = 0;
  gint rows = 0;
  for (guint i = 1; lines[i] && *lines[i]; i++) {
    g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
    gdouble elapsed = g_ascii_strtod (f[6], NULL);
    if (++rows == 5)
      at5 = elapsed;
    last = elapsed;
  }
  return rows > 5 ? (last - at5) / (rows - 5) : 0;
}

/* The number before @marker in @text (the trainer's summary), or -1. */
static gdouble
percent_before (const gchar *text, const gchar *marker)
{
  const gchar *line = text ? strstr (text, marker) : NULL;
  if (line == NULL)
    return -1;
  const gchar *start = line;
  while (start > text && start[-1] != ' ')
    start--;
  return g_ascii_strtod (start, NULL);
}

static gboolean
run (gint ranks, const gchar *ini, const gchar *out, gchar **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  if (ranks > 0) {
    g_ptr_array_add (argv, (gpointer) M3RET_MPIRUN);
    g_ptr_array_add (argv, (gpointer) "-np");
    g_ptr_array_add (argv, (gpointer) "2");
    g_ptr_array_add (argv, (gpointer) "--bind-to");
    g_ptr_array_add (argv, (gpointer) "none");
  }
  const gchar *args[] = { g_getenv ("M3RET_BIN"), "train", ini, "--out", out, NULL };
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  gchar **env = g_get_environ ();
  env = g_environ_setenv (env, "OMPI_ALLOW_RUN_AS_ROOT", "1", TRUE);
  env = g_environ_setenv (env, "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", TRUE);
  env = g_environ_setenv (env, "OMPI_MCA_btl", "self,vader", TRUE);
  env = g_environ_setenv (env, "OMPI_MCA_btl_vader_single_copy_mechanism", "none", TRUE);
  gint status = 0;
  gboolean ok = g_spawn_sync (NULL, (gchar **) argv->pdata, env, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                              NULL, NULL, err, &status, NULL)
                && WIFEXITED (status) && WEXITSTATUS (status) == 0;
  g_strfreev (env);
  return ok;
}

int main (void);

int
main (void)
{
#ifndef HAVE_MPI
  g_print ("bench-mpi: skipped: built without MPI\n");
  return 0;
#else
  if (!g_file_test (M3RET_MPIRUN, G_FILE_TEST_IS_EXECUTABLE)) {
    g_print ("bench-mpi: skipped: no mpirun\n");
    return 0;
  }
  const gchar *steps_env = g_getenv ("M3RET_BENCH_STEPS");
  gint steps = steps_env ? MAX (8, atoi (steps_env)) : 30;
  g_autofree gchar *dir = g_dir_make_tmp ("m3ret-bench-mpi.XXXXXX", NULL);
  g_autofree gchar *data = g_build_filename (dir, "data", NULL);
  const gchar *synth[] = { g_getenv ("M3RET_BIN"), "synth", "--out", data, "--per-class", "4",
                           "--seed", "1", NULL };
  gint synth_status = 0;
  if (dir == NULL || !g_spawn_sync (NULL, (gchar **) synth, NULL, G_SPAWN_STDOUT_TO_DEV_NULL
                                    | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL,
                                    &synth_status, NULL) || synth_status != 0) {
    g_printerr ("bench-mpi: m3ret synth failed\n");
    return 1;
  }
  /* 1 process; 2 ranks, one all-reduce after the backward; 2 ranks, buckets */
  static const gint ranks_of[3] = { 0, 2, 2 }, bucket_kb[3] = { 0, 0, 64 };
  gdouble seconds[3] = { 0, 0, 0 }, share[3] = { -1, -1, -1 }, hidden = -1;
  for (gint r = 0; r < 3; r++) {
    g_autofree gchar *ini = g_strdup_printf ("%s/p%d.ini", dir, r);
    g_autofree gchar *text = g_strdup_printf (pipeline_text, ranks_of[r] == 0 ? 2 : 1, steps,
                                              bucket_kb[r]);
    g_autofree gchar *out = g_strdup_printf ("%s/out%d", dir, r);
    g_autofree gchar *err = NULL;
    if (!g_file_set_contents (ini, text, -1, NULL) || !run (ranks_of[r], ini, out, &err)) {
      g_printerr ("bench-mpi: %s\n", err ? err : "cannot run");
      m3ret_check_rmtree (dir);
      return 1;
    }
    seconds[r] = step_seconds (out);
    share[r] = percent_before (err, "% of it averaging");
    if (bucket_kb[r] > 0)
      hidden = percent_before (err, "% of it hidden");
  }
  m3ret_check_rmtree (dir);
  printf ("MAE, micro preset, 64² × 16, global batch 16, %d steps (the first 5 untimed):\n", steps);
  printf ("| run | ms/step | averaging after the backward | all-reduce hidden |\n|---|---|---|---|\n");
  printf ("| 1 process, threads=2 | %.1f | - | - |\n", seconds[0] * 1e3);
  printf ("| 2 ranks, threads=1 each, one all-reduce after the backward | %.1f | %.1f %% | 0 %% |\n",
          seconds[1] * 1e3, share[1]);
  printf ("| 2 ranks, threads=1 each, 64 KiB buckets during the backward | %.1f | %.1f %% | %.0f %% |\n",
          seconds[2] * 1e3, share[2], hidden);
  bench_row ("data-parallel", "MAE step, 2 ranks, buckets (ms)", seconds[2] * 1e3, "1 process",
             seconds[0] * 1e3, "<=1.2");
  bench_row ("data-parallel", "MAE step, 2 ranks, buckets (ms)", seconds[2] * 1e3,
             "one all-reduce after", seconds[1] * 1e3, "<=1");
  bench_row ("data-parallel", "all-reduce hidden behind the backward (%)", hidden, "target", 50.0,
             ">=1");
  return 0;
#endif
}
