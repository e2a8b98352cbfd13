/* test-mpi.c — `mpirun -np N m3ret train`, data-parallel, on a small
 * synthetic set: N ranks with B/N samples each give one process's losses
 * and weights with batch B (MAE and SimDINO, 2 and 3 ranks), runs repeat
 * bit for bit at a fixed N, a checkpoint resumes on another N, a rank
 * killed mid-run ends the job with a non-zero status and leaves the last
 * checkpoint whole, SIGTERM to one rank stops every rank after the same
 * step, a rank that fails ends the job with its error, a global batch N
 * does not divide is refused once, naming the key, and `embed` and `eval`
 * on several ranks give one process's files and figures.  Skipped (status 77) in a build without MPI or without mpirun, after
 * checking that such a build says how to enable MPI when launched as a rank. */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "m3ret-check.h"

static gchar *dir; /* one synthetic set for the whole suite */

static const gchar *pipeline_text =
  "[pipeline]\nthreads=1\nseed=3\n"
  "[input]\nsize=32\ndepth=8\ntubelet=2,8,8\n"
  "[encoder]\npreset=micro\n"
  "[objective]\nplugin=%s\n%s"
  "[data]\ntrain=data/manifest.csv\nloader_threads=1\n"
  "[train]\nbatch=%d\nsteps=%d\nlr=%s\nwarmup=1\ncheckpoint_every=%d\n%s"
  "allreduce_bucket_kb=%d\n"
  "[retriever]\nplugin=flat\n";

/* Gradient buckets of 8 KiB: the micro model's ~150 KiB of gradients go in
 * many pieces during the backward, so every multi-rank run here takes that
 * path; 0 sends them in one all-reduce after it. */
static gint bucket_kb = 8;

#define MAE_KEYS "mask_ratio=0.75\n"
#define SIMDINO_KEYS "head_hidden=32\nhead_out=16\nglobal_crops=2\nlocal_crops=1\n"

static void
make_dataset (void)
{
  dir = m3ret_check_synth_dataset (3, 5);
}

static void
remove_dataset (void)
{
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
}

static gchar *
write_pipeline (const gchar *name, const gchar *objective, const gchar *keys, gint batch,
                gint steps, gint every)
{
  gchar *path = g_build_filename (dir, name, NULL);
  gboolean mae = strcmp (objective, "mae") == 0;
  g_autofree gchar *text = g_strdup_printf (pipeline_text, objective, keys, batch, steps,
                                            mae ? "2e-3" : "5e-4", every,
                                            mae ? "" : "clip_grad=3.0\n", bucket_kb);
  ck_assert (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* What OpenMPI needs here: root (CI), a container without CMA, more ranks
 * than cores, no pinning of the ranks to cores. */
static gchar **
mpi_environment (void)
{
  gchar **env = g_get_environ ();
  static const gchar *const vars[][2] = {
    { "OMPI_ALLOW_RUN_AS_ROOT", "1" },
    { "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1" },
    { "OMPI_MCA_btl", "self,vader" },
    { "OMPI_MCA_btl_vader_single_copy_mechanism", "none" },
    { "OMPI_MCA_rmaps_base_oversubscribe", "1" },
    { "OMPI_MCA_hwloc_base_binding_policy", "none" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++)
    env = g_environ_setenv (env, vars[i][0], vars[i][1], TRUE);
  return g_environ_setenv (env, "M3RET_PLUGIN_SYSTEM_PATH", "", TRUE);
}

/* argv of `mpirun -np @ranks m3ret ARGS`, or of `m3ret ARGS` for 0 ranks. */
static GPtrArray *
command (gint ranks, const gchar *const *args)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  if (ranks > 0) {
    g_ptr_array_add (argv, g_strdup (M3RET_MPIRUN));
    g_ptr_array_add (argv, g_strdup ("-np"));
    g_ptr_array_add (argv, g_strdup_printf ("%d", ranks));
  }
  g_ptr_array_add (argv, g_strdup (g_getenv ("M3RET_BIN")));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  return argv;
}

static M3retCheckRun
run_ranks (gint ranks, const gchar *const *args)
{
  g_autoptr (GPtrArray) argv = command (ranks, args);
  g_auto (GStrv) env = mpi_environment ();
  M3retCheckRun r = { 0 };
  gint wait_status;
  GError *error = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (gchar **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait_status, &error),
                 "spawn: %s", error ? error->message : "");
  ck_assert_msg (WIFEXITED (wait_status), "died of signal %d: %s", WTERMSIG (wait_status), r.err);
  r.status = WEXITSTATUS (wait_status);
  return r;
}

/* `m3ret train INI --out DIR/OUT -q` on @ranks ranks (0: no mpirun), which
 * must succeed; returns the output folder. */
static gchar *
train (gint ranks, const gchar *ini, const gchar *out_name, const gchar *extra1,
       const gchar *extra2)
{
  gchar *out = g_build_filename (dir, out_name, NULL);
  const gchar *args[] = { "train", ini, "--out", out, "-q", extra1, extra2, NULL };
  M3retCheckRun r = run_ranks (ranks, args);
  ck_assert_msg (r.status == 0, "%d ranks: status %d: %s", ranks, r.status, r.err);
  m3ret_check_run_clear (&r);
  return out;
}

static GArray *
read_losses (const gchar *out)
{
  g_autofree gchar *log = g_build_filename (out, "train-log.csv", NULL);
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (log, &text, NULL, NULL));
  GArray *losses = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i] && *lines[i]; i++) {
    g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
    ck_assert_int_eq (g_ascii_strtoll (f[0], NULL, 10), i);
    gdouble v = g_ascii_strtod (f[1], NULL);
    g_array_append_val (losses, v);
  }
  return losses;
}

/* Losses agree to 1e-5 relative (plus the log's 6 significant digits). */
static void
assert_losses_close (const gchar *a_out, const gchar *b_out)
{
  g_autoptr (GArray) a = read_losses (a_out);
  g_autoptr (GArray) b = read_losses (b_out);
  ck_assert_uint_eq (a->len, b->len);
  for (guint i = 0; i < a->len; i++) {
    gdouble x = g_array_index (a, gdouble, i), y = g_array_index (b, gdouble, i);
    gdouble tol = 1e-5 * fabs (x) + 1e-5 * pow (10, floor (log10 (fabs (x) + 1e-30)));
    g_printerr ("  step %u: loss %.6g vs %.6g (relative %.2g)\n", i + 1, x, y,
                fabs (x - y) / MAX (fabs (x), 1e-30));
    ck_assert_msg (fabs (x - y) <= tol, "%s vs %s: step %u loss %.6g vs %.6g", a_out, b_out,
                   i + 1, x, y);
  }
}

static gchar *
checkpoint_of (const gchar *out)
{
  return g_build_filename (out, "checkpoint.safetensors", NULL);
}

/* The largest difference of any weight of two checkpoints (every tensor,
 * teacher and optimiser moments included); 0 means bit for bit. */
static gdouble
checkpoint_difference (const gchar *a_out, const gchar *b_out)
{
  g_autofree gchar *a_path = checkpoint_of (a_out), *b_path = checkpoint_of (b_out);
  g_autoptr (M3retSafetensors) a = m3ret_safetensors_open (a_path, NULL);
  g_autoptr (M3retSafetensors) b = m3ret_safetensors_open (b_path, NULL);
  ck_assert (a != NULL && b != NULL);
  ck_assert_str_eq (m3ret_safetensors_get_metadata (a, "m3ret.step"),
                    m3ret_safetensors_get_metadata (b, "m3ret.step"));
  const GPtrArray *names = m3ret_safetensors_names (a);
  ck_assert_uint_eq (names->len, m3ret_safetensors_names (b)->len);
  gdouble worst = 0;
  for (guint i = 0; i < names->len; i++) {
    const gchar *name = names->pdata[i];
    gint64 shape[8];
    guint nd;
    ck_assert (m3ret_safetensors_get_shape (a, name, shape, &nd));
    gsize n = 1;
    for (guint d = 0; d < nd; d++)
      n *= shape[d];
    g_autofree gfloat *x = m3ret_safetensors_read (a, name, n, NULL);
    g_autofree gfloat *y = m3ret_safetensors_read (b, name, n, NULL);
    ck_assert_msg (x != NULL && y != NULL, "%s missing", name);
    if (memcmp (x, y, n * sizeof (gfloat)) == 0)
      continue;
    /* the optimiser's second moments are squares of gradients: relative */
    gboolean relative = g_str_has_prefix (name, "optimizer.") || strstr (name, ".exp_avg") != NULL;
    for (gsize j = 0; j < n; j++) {
      gdouble d = fabs ((gdouble) x[j] - y[j]);
      if (relative)
        d /= MAX (fabs ((gdouble) x[j]), 1e-3);
      worst = MAX (worst, d);
    }
  }
  return worst;
}

/* N ranks against one process with the same global batch. */
static void
check_matches_one_process (const gchar *objective, const gchar *keys)
{
  g_autofree gchar *name = g_strdup_printf ("%s-match.ini", objective);
  g_autofree gchar *ini = write_pipeline (name, objective, keys, 6, 4, 0);
  g_autofree gchar *n1 = g_strdup_printf ("%s-1", objective);
  g_autofree gchar *n2 = g_strdup_printf ("%s-2", objective);
  g_autofree gchar *n3 = g_strdup_printf ("%s-3", objective);
  g_autofree gchar *one = train (0, ini, n1, NULL, NULL);
  g_autofree gchar *two = train (2, ini, n2, NULL, NULL);
  g_autofree gchar *three = train (3, ini, n3, NULL, NULL);
  g_printerr ("%s, 1 process against 2 ranks:\n", objective);
  assert_losses_close (one, two);
  g_printerr ("%s, 1 process against 3 ranks:\n", objective);
  assert_losses_close (one, three);
  gdouble d2 = checkpoint_difference (one, two), d3 = checkpoint_difference (one, three);
  g_printerr ("%s: largest weight difference after 4 steps: 2 ranks %.3g, 3 ranks %.3g\n",
              objective, d2, d3);
  ck_assert_msg (d2 < 1e-5 && d3 < 1e-5, "weights differ: %g, %g", d2, d3);
}

START_TEST (test_mae_matches_one_process)
{
  check_matches_one_process ("mae", MAE_KEYS);
}
END_TEST

START_TEST (test_simdino_matches_one_process)
{
  check_matches_one_process ("simdino", SIMDINO_KEYS);
}
END_TEST

START_TEST (test_repeat_is_bit_identical)
{
  g_autofree gchar *ini = write_pipeline ("repeat.ini", "simdino", SIMDINO_KEYS, 4, 3, 0);
  g_autofree gchar *a = train (2, ini, "repeat-a", NULL, NULL);
  g_autofree gchar *b = train (2, ini, "repeat-b", NULL, NULL);
  ck_assert (checkpoint_difference (a, b) == 0.0);
  g_autoptr (GArray) la = read_losses (a);
  g_autoptr (GArray) lb = read_losses (b);
  ck_assert_uint_eq (la->len, 3);
  ck_assert (memcmp (la->data, lb->data, la->len * sizeof (gdouble)) == 0);
}
END_TEST

/* Buckets sent during the backward sum the same numbers as one all-reduce
 * after it: with 2 ranks, a + b whatever the pieces, so bit for bit. */
START_TEST (test_buckets_match_one_allreduce)
{
  g_autofree gchar *ini = write_pipeline ("buckets.ini", "simdino", SIMDINO_KEYS, 4, 3, 0);
  g_autofree gchar *a = train (2, ini, "buckets-8k", NULL, NULL);
  bucket_kb = 0;
  g_autofree gchar *ini0 = write_pipeline ("buckets0.ini", "simdino", SIMDINO_KEYS, 4, 3, 0);
  g_autofree gchar *b = train (2, ini0, "buckets-0", NULL, NULL);
  ck_assert (checkpoint_difference (a, b) == 0.0);
}
END_TEST

/* 2 ranks to step 2, then 3 ranks to step 4, against 1 process throughout. */
START_TEST (test_resume_on_another_n)
{
  g_autofree gchar *ini = write_pipeline ("resume.ini", "mae", MAE_KEYS, 6, 4, 0);
  g_autofree gchar *one = train (0, ini, "resume-1", NULL, NULL);
  g_autofree gchar *out = train (2, ini, "resume-n", "--stop-at", "2");
  g_autofree gchar *ckpt = checkpoint_of (out);
  g_autofree gchar *again = train (3, ini, "resume-n", "--resume", ckpt);
  g_printerr ("resumed on 3 ranks from 2, against 1 process:\n");
  assert_losses_close (one, again);
  gdouble d = checkpoint_difference (one, again);
  g_printerr ("largest weight difference: %.3g\n", d);
  ck_assert (d < 1e-5);
}
END_TEST

static gboolean
wait_rows (const gchar *out, guint rows, GPid pid)
{
  g_autofree gchar *log = g_build_filename (out, "train-log.csv", NULL);
  for (gint i = 0; i < 600; i++) {
    g_autofree gchar *text = NULL;
    if (g_file_get_contents (log, &text, NULL, NULL) && m3ret_check_count_lines (text) > rows)
      return TRUE;
    if (waitpid (pid, NULL, WNOHANG) != 0)
      return FALSE;
    g_usleep (50000);
  }
  return FALSE;
}

/* The pid of rank @rank among mpirun @launcher's children. */
static GPid
rank_pid (GPid launcher, gint rank)
{
  g_autofree gchar *want = g_strdup_printf ("OMPI_COMM_WORLD_RANK=%d", rank);
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  ck_assert (proc != NULL);
  for (const gchar *e; (e = g_dir_read_name (proc)) != NULL;) {
    if (!g_ascii_isdigit (e[0]))
      continue;
    g_autofree gchar *stat_path = g_build_filename ("/proc", e, "stat", NULL);
    g_autofree gchar *stat = NULL;
    if (!g_file_get_contents (stat_path, &stat, NULL, NULL))
      continue;
    const gchar *close = strrchr (stat, ')');
    gint ppid = 0;
    if (close == NULL || sscanf (close + 2, "%*c %d", &ppid) != 1 || ppid != launcher)
      continue;
    g_autofree gchar *env_path = g_build_filename ("/proc", e, "environ", NULL);
    g_autofree gchar *env = NULL;
    gsize len = 0;
    if (!g_file_get_contents (env_path, &env, &len, NULL))
      continue;
    for (gsize at = 0; at < len; at += strlen (env + at) + 1)
      if (strcmp (env + at, want) == 0)
        return (GPid) g_ascii_strtoll (e, NULL, 10);
  }
  return 0;
}

/* Waits up to @seconds for @pid; its wait status, or -1 when still running. */
static gint
wait_for (GPid pid, gdouble seconds)
{
  gint status;
  for (gint i = 0; i < seconds * 20; i++) {
    if (waitpid (pid, &status, WNOHANG) == pid)
      return status;
    g_usleep (50000);
  }
  return -1;
}

/* A long 2-rank run; @signum to rank 1 once 6 steps are logged. */
static gint
signal_rank (const gchar *out_name, gint signum, gchar **out)
{
  g_autofree gchar *ini = write_pipeline ("long.ini", "mae", MAE_KEYS, 4, 100000, 3);
  *out = g_build_filename (dir, out_name, NULL);
  const gchar *args[] = { "train", ini, "--out", *out, "-q", NULL };
  g_autoptr (GPtrArray) argv = command (2, args);
  g_auto (GStrv) env = mpi_environment ();
  GPid pid;
  GError *error = NULL;
  ck_assert_msg (g_spawn_async (NULL, (gchar **) argv->pdata, env,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL
                                | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &pid, &error),
                 "%s", error ? error->message : "");
  ck_assert_msg (wait_rows (*out, 6, pid), "the run did not get to step 6");
  GPid rank = rank_pid (pid, 1);
  ck_assert_msg (rank > 0, "rank 1 of mpirun %d not found", pid);
  gint64 t0 = g_get_monotonic_time ();
  ck_assert_int_eq (kill (rank, signum), 0);
  gint status = wait_for (pid, 30);
  if (status == -1)
    kill (pid, SIGKILL);
  ck_assert_msg (status != -1, "the job did not end within 30 s of signal %d to a rank", signum);
  g_spawn_close_pid (pid);
  g_printerr ("signal %d to rank 1: the job ended in %.1f s, status %d\n", signum,
              (g_get_monotonic_time () - t0) / 1e6, WIFEXITED (status) ? WEXITSTATUS (status) : -1);
  return status;
}

START_TEST (test_killed_rank_ends_job)
{
  g_autofree gchar *out = NULL;
  gint status = signal_rank ("killed", SIGKILL, &out);
  ck_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0);
  /* the last checkpoint is whole: it opens and holds a step it was written at */
  g_autofree gchar *ckpt = checkpoint_of (out);
  GError *error = NULL;
  g_autoptr (M3retSafetensors) f = m3ret_safetensors_open (ckpt, &error);
  ck_assert_msg (f != NULL, "%s", error ? error->message : "");
  gint64 step = g_ascii_strtoll (m3ret_safetensors_get_metadata (f, "m3ret.step"), NULL, 10);
  ck_assert (step >= 3 && step % 3 == 0);
  gint64 shape[8];
  ck_assert (m3ret_safetensors_get_shape (f, "blocks.0.attn.qkv.weight", shape, NULL));
}
END_TEST

START_TEST (test_sigterm_stops_every_rank)
{
  g_autofree gchar *out = NULL;
  gint status = signal_rank ("stopped", SIGTERM, &out);
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 128 + SIGTERM, "status %d", status);
  g_autofree gchar *ckpt = checkpoint_of (out);
  g_autoptr (M3retSafetensors) f = m3ret_safetensors_open (ckpt, NULL);
  ck_assert (f != NULL);
  gint64 step = g_ascii_strtoll (m3ret_safetensors_get_metadata (f, "m3ret.step"), NULL, 10);
  g_autoptr (GArray) losses = read_losses (out);
  ck_assert_int_eq (step, losses->len); /* the step every rank stopped after */
  g_autofree gchar *png = g_build_filename (out, "loss.png", NULL);
  ck_assert (g_file_test (png, G_FILE_TEST_IS_REGULAR));
}
END_TEST

/* A rank that fails mid-run (a file it cannot read) ends every rank, with
 * its own error, instead of leaving the others waiting in the all-reduce. */
START_TEST (test_failing_rank_ends_job)
{
  g_autofree gchar *manifest = g_build_filename (dir, "data", "manifest.csv", NULL);
  g_autofree gchar *bad = g_build_filename (dir, "data", "bad.csv", NULL);
  g_autofree gchar *broken = g_build_filename (dir, "data", "broken.png", NULL);
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (manifest, &text, NULL, NULL));
  g_autofree gchar *with_bad = g_strconcat (text, "broken.png,xray,head,database\n", NULL);
  ck_assert (g_file_set_contents (bad, with_bad, -1, NULL));
  ck_assert (g_file_set_contents (broken, "\x89PNG\r\n\x1a\n truncated", -1, NULL));
  g_autofree gchar *ini = write_pipeline ("bad.ini", "mae", MAE_KEYS, 6, 2000, 0);
  g_autofree gchar *pipeline = NULL;
  ck_assert (g_file_get_contents (ini, &pipeline, NULL, NULL));
  const gchar *at = strstr (pipeline, "data/manifest.csv");
  ck_assert (at != NULL);
  g_autofree gchar *head = g_strndup (pipeline, at - pipeline);
  g_autofree gchar *edited = g_strconcat (head, "data/bad.csv", at + strlen ("data/manifest.csv"),
                                          NULL);
  ck_assert (g_file_set_contents (ini, edited, -1, NULL));
  g_autofree gchar *out = g_build_filename (dir, "failing", NULL);
  const gchar *args[] = { "train", ini, "--out", out, "-q", NULL };
  gint64 t0 = g_get_monotonic_time ();
  M3retCheckRun r = run_ranks (2, args);
  g_printerr ("a rank that fails: the job ended in %.1f s, status %d\n",
              (g_get_monotonic_time () - t0) / 1e6, r.status);
  ck_assert_int_ne (r.status, 0);
  ck_assert_msg (strstr (r.err, "m3ret: error: rank ") && strstr (r.err, " of 2: ")
                 && strstr (r.err, "broken.png"), "%s", r.err);
  m3ret_check_run_clear (&r);
}
END_TEST

static gchar *
file_text (const gchar *path)
{
  gchar *text = NULL;
  gsize len = 0;
  ck_assert_msg (g_file_get_contents (path, &text, &len, NULL), "%s missing", path);
  return text;
}

/* `embed` on 2 ranks writes the one .npy and sidecar of 1 process, bit for
 * bit, and `eval` on 3 ranks prints 1 process's figures. */
START_TEST (test_embed_and_eval_across_ranks)
{
  g_autofree gchar *ini = write_pipeline ("embed.ini", "mae", MAE_KEYS, 6, 2, 0);
  g_autofree gchar *manifest = g_build_filename (dir, "data", "manifest.csv", NULL);
  gchar *npy[2], *csv[2];
  for (gint i = 0; i < 2; i++) {
    npy[i] = g_strdup_printf ("%s/embed-%d.npy", dir, i + 1);
    csv[i] = g_strdup_printf ("%s/embed-%d.csv", dir, i + 1);
    const gchar *args[] = { "embed", ini, "--checkpoint", "random", "--manifest", manifest,
                            "--out", npy[i], "-b", "5", NULL };
    M3retCheckRun r = run_ranks (i == 0 ? 0 : 2, args);
    ck_assert_msg (r.status == 0, "%s", r.err);
    m3ret_check_run_clear (&r);
  }
  g_autofree gchar *a = NULL, *b = NULL;
  gsize la = 0, lb = 0;
  ck_assert (g_file_get_contents (npy[0], &a, &la, NULL) && g_file_get_contents (npy[1], &b, &lb, NULL));
  ck_assert (la == lb && la > 128 && memcmp (a, b, la) == 0);
  g_autofree gchar *ca = file_text (csv[0]), *cb = file_text (csv[1]);
  ck_assert_str_eq (ca, cb);
  for (gint i = 0; i < 2; i++) {
    g_free (npy[i]);
    g_free (csv[i]);
  }
  const gchar *args[] = { "eval", ini, "--checkpoint", "random", "--query", manifest,
                          "--database", manifest, "-b", "4", NULL };
  M3retCheckRun one = run_ranks (0, args), three = run_ranks (3, args);
  ck_assert_msg (one.status == 0 && three.status == 0, "%s / %s", one.err, three.err);
  ck_assert (strstr (one.out, "R@1") != NULL);
  ck_assert_str_eq (one.out, three.out);
  m3ret_check_run_clear (&one);
  m3ret_check_run_clear (&three);
}
END_TEST

/* From "m3ret embed: skipped" to the end of @err: the skip summary. */
static const gchar *
skip_summary (const gchar *err)
{
  const gchar *at = strstr (err, "m3ret embed: skipped");
  ck_assert_msg (at != NULL, "no skip summary: %s", err);
  return at;
}

/* With on_error=skip, rank 0's summary lists the files every rank left
 * out: the one a single process prints. */
START_TEST (test_skips_of_every_rank_reported)
{
  g_autofree gchar *manifest = g_build_filename (dir, "data", "manifest.csv", NULL);
  g_autofree gchar *bad = g_build_filename (dir, "data", "skips.csv", NULL);
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (manifest, &text, NULL, NULL));
  /* one bad file first and one last: the first and the last share */
  const gchar *rows = strchr (text, '\n') + 1;
  g_autofree gchar *header = g_strndup (text, rows - text);
  g_autofree gchar *with_bad = g_strconcat (header, "missing-first.png,xray,head,query\n", rows,
                                            "missing-last.png,xray,head,query\n", NULL);
  ck_assert (g_file_set_contents (bad, with_bad, -1, NULL));
  g_autofree gchar *ini = write_pipeline ("skips.ini", "mae", MAE_KEYS, 6, 2, 0);
  g_autofree gchar *pipeline = NULL;
  ck_assert (g_file_get_contents (ini, &pipeline, NULL, NULL));
  g_auto (GStrv) parts = g_strsplit (pipeline, "loader_threads=1\n", 2);
  g_autofree gchar *edited = g_strjoin ("loader_threads=1\non_error=skip\n", parts[0], parts[1],
                                        NULL);
  ck_assert (g_file_set_contents (ini, edited, -1, NULL));
  M3retCheckRun runs[2];
  for (gint i = 0; i < 2; i++) {
    g_autofree gchar *npy = g_strdup_printf ("%s/skips-%d.npy", dir, i + 1);
    const gchar *args[] = { "embed", ini, "--checkpoint", "random", "--manifest", bad, "--out", npy,
                            "-b", "4", NULL };
    runs[i] = run_ranks (i == 0 ? 0 : 2, args);
    ck_assert_msg (runs[i].status == 0, "%s", runs[i].err);
  }
  const gchar *one = skip_summary (runs[0].err), *two = skip_summary (runs[1].err);
  ck_assert_msg (strstr (one, "missing-first.png") && strstr (one, "missing-last.png"), "%s", one);
  ck_assert_str_eq (one, two);
  m3ret_check_run_clear (&runs[0]);
  m3ret_check_run_clear (&runs[1]);
}
END_TEST

START_TEST (test_batch_must_divide)
{
  g_autofree gchar *ini = write_pipeline ("odd.ini", "mae", MAE_KEYS, 5, 2, 0);
  g_autofree gchar *out = g_build_filename (dir, "odd", NULL);
  const gchar *args[] = { "train", ini, "--out", out, NULL };
  M3retCheckRun r = run_ranks (2, args);
  ck_assert_int_ne (r.status, 0);
  const gchar *first = strstr (r.err, "m3ret: error: ");
  ck_assert_msg (first != NULL && strstr (first, "batch") && strstr (first, "2 ranks"), "%s", r.err);
  ck_assert_msg (strstr (first + 1, "m3ret: error: ") == NULL, "printed twice: %s", r.err);
  ck_assert (!g_file_test (out, G_FILE_TEST_EXISTS));
  m3ret_check_run_clear (&r);
}
END_TEST

static Suite *
mpi_suite (void)
{
  Suite *s = suite_create ("mpi");
  TCase *tc = tcase_create ("mpi");
  tcase_set_timeout (tc, 300);
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  tcase_add_test (tc, test_mae_matches_one_process);
  tcase_add_test (tc, test_simdino_matches_one_process);
  tcase_add_test (tc, test_repeat_is_bit_identical);
  tcase_add_test (tc, test_resume_on_another_n);
  tcase_add_test (tc, test_killed_rank_ends_job);
  tcase_add_test (tc, test_sigterm_stops_every_rank);
  tcase_add_test (tc, test_failing_rank_ends_job);
  tcase_add_test (tc, test_buckets_match_one_allreduce);
  tcase_add_test (tc, test_batch_must_divide);
  tcase_add_test (tc, test_embed_and_eval_across_ranks);
  tcase_add_test (tc, test_skips_of_every_rank_reported);
  suite_add_tcase (s, tc);
  return s;
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define M3RET_CLANG_ASAN 1
#endif
#endif

/* Without MPI: a rank that mpirun would start is told how to enable it. */
static gboolean
mpi_or_skip (void)
{
#ifndef HAVE_MPI
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "OMPI_COMM_WORLD_SIZE", "2", TRUE);
  const gchar *argv[] = { g_getenv ("M3RET_BIN"), "train", "/nonexistent.ini", NULL };
  g_autofree gchar *err = NULL;
  gint status = 0;
  if (!g_spawn_sync (NULL, (gchar **) argv, env, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                     &err, &status, NULL)
      || !WIFEXITED (status) || WEXITSTATUS (status) != 1 || strstr (err, "libopenmpi-dev") == NULL) {
    g_printerr ("test-mpi: a build without MPI launched as 2 ranks: %s\n", err ? err : "");
    exit (1);
  }
  g_print ("test-mpi: SKIP: built without MPI (install libopenmpi-dev and openmpi-bin, "
           "then ./configure); m3ret says so when launched as a rank\n");
  exit (77);
#else
  if (!g_file_test (M3RET_MPIRUN, G_FILE_TEST_IS_EXECUTABLE)) {
    g_print ("test-mpi: SKIP: no mpirun at '%s' (install openmpi-bin)\n", M3RET_MPIRUN);
    exit (77);
  }
  /* OpenMPI's own allocations that live to exit fill every rank's
   * LeakSanitizer report.  (LSAN_OPTIONS says nothing: make check sets it
   * in every build.) */
#if defined(__SANITIZE_ADDRESS__) || defined(M3RET_CLANG_ASAN)
  g_print ("test-mpi: SKIP: in a sanitizer build (OpenMPI's process-lifetime allocations "
           "fail LeakSanitizer in every rank); the plain build runs it\n");
  exit (77);
#endif
#endif
  return TRUE;
}

int main (void);

int
main (void)
{
  mpi_or_skip ();
  static const M3retCheckMain how = { .suite = mpi_suite };
  return m3ret_check_main (&how);
}
