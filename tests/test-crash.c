/* test-crash.c — SIGKILL at random moments never costs a file.
 *
 * `m3ret train` with a checkpoint every other step is killed several times
 * at seeded random moments: each time, the checkpoint (when one was written)
 * opens and every tensor reads back, nothing but the run's own files and
 * hidden temporaries is in the folder, and `--resume` from it carries on;
 * the last resume finishes the run with a complete step log and a checkpoint
 * bit-identical to an uninterrupted run.  `m3ret index` is killed while it
 * replaces an index: the file is always the old index or the complete new
 * one, both loadable.  Kills land at seeded random moments, and every
 * other one at a random write(2) into the file being written (inotify).
 *
 * M3RET_CRASH_SEED picks other kill moments (the seed used is printed). */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include "m3ret-check.h"
#include "m3ret-checkpoint.h"

#define TRAIN_STEPS 30
#define TRAIN_KILLS 6
#define INDEX_KILLS 6

static gchar *dir;
static GRand *rng;

static const gchar *pipeline_text =
  "[pipeline]\nthreads=1\nseed=4\n"
  "[input]\nsize=32\ndepth=8\ntubelet=2,8,8\n"
  "[encoder]\npreset=micro\n"
  "[objective]\nplugin=mae\n"
  "[data]\ntrain=data/manifest.csv\nloader_threads=1\n"
  "[train]\nbatch=4\nsteps=" G_STRINGIFY (TRAIN_STEPS) "\nlr=1e-3\nwarmup=2\ncheckpoint_every=2\n"
  "[retriever]\nplugin=flat\n";

static void
setup (void)
{
  dir = m3ret_check_synth_dataset (1, 3);
  g_autofree gchar *ini = g_build_filename (dir, "crash.ini", NULL);
  ck_assert (g_file_set_contents (ini, pipeline_text, -1, NULL));
  const gchar *env = g_getenv ("M3RET_CRASH_SEED");
  guint32 seed = env ? (guint32) g_ascii_strtoull (env, NULL, 10) : 20261128;
  g_printerr ("test-crash: kill moments from seed %u (M3RET_CRASH_SEED)\n", seed);
  rng = g_rand_new_with_seed (seed);
}

static void
teardown (void)
{
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
  g_clear_pointer (&rng, g_rand_free);
}

/* When to kill: after @delay_us, or earlier at the @writes-th write(2) to
 * a file of @folder whose name contains @name (the file being written,
 * under whatever name), so that kills also land in the middle of a write. */
typedef struct {
  gulong delay_us;
  const gchar *folder;
  const gchar *name;
  guint writes;
} KillAt;

/* Counts the writes inotify reports; returns whether @at->writes is reached. */
static gboolean
seen_writes (gint fd, const KillAt *at, guint *count)
{
  union {
    struct inotify_event event;
    gchar bytes[16 * (sizeof (struct inotify_event) + NAME_MAX + 1)];
  } buf;
  gssize n;
  while ((n = read (fd, buf.bytes, sizeof buf.bytes)) > 0) {
    for (gchar *p = buf.bytes; p < buf.bytes + n;) {
      const struct inotify_event *e = (const struct inotify_event *) p;
      if (e->len > 0 && strstr (e->name, at->name) != NULL)
        (*count)++;
      p += sizeof *e + e->len;
    }
  }
  return *count >= at->writes;
}

/* Starts m3ret with @args (after the program name) and kills it with
 * SIGKILL as @at says, unless it ends first.  Returns: whether it was killed. */
static gboolean
run_and_kill (const gchar *const *args, const KillAt *at)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("M3RET_BIN"));
  for (const gchar *const *a = args; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  gint watch = -1;
  if (at->folder != NULL) {
    watch = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    ck_assert (watch >= 0 && inotify_add_watch (watch, at->folder, IN_MODIFY) >= 0);
  }
  /* Its stderr goes to a file, shown when it fails. */
  g_autofree gchar *err_path = g_build_filename (dir, "stderr.txt", NULL);
  gint err_fd = g_open (err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  gint null_fd = g_open ("/dev/null", O_WRONLY | O_CLOEXEC, 0);
  ck_assert (err_fd >= 0 && null_fd >= 0);
  GPid pid;
  GError *error = NULL;
  gboolean spawned = g_spawn_async_with_fds (NULL, (gchar **) argv->pdata, NULL,
                                             G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, -1,
                                             null_fd, err_fd, &error);
  close (err_fd);
  close (null_fd);
  ck_assert_msg (spawned, "%s", error ? error->message : "");
  gint status = 0;
  guint writes = 0;
  gint64 deadline = g_get_monotonic_time () + (gint64) at->delay_us;
  while (g_get_monotonic_time () < deadline && !(watch >= 0 && seen_writes (watch, at, &writes))) {
    if (waitpid (pid, &status, WNOHANG) == pid) {
      g_spawn_close_pid (pid);
      if (watch >= 0)
        close (watch);
      g_autofree gchar *err = NULL;
      g_file_get_contents (err_path, &err, NULL, NULL);
      ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                     "%s ended with status %d: %s", args[0], status, err ? err : "");
      return FALSE;
    }
    if (watch >= 0) {
      struct pollfd p = { .fd = watch, .events = POLLIN };
      poll (&p, 1, 2);
    } else {
      g_usleep (2000);
    }
  }
  ck_assert_int_eq (kill (pid, SIGKILL), 0);
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  g_spawn_close_pid (pid);
  if (watch >= 0)
    close (watch);
  return WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL;
}

/* Wall time of one complete run, so kill moments spread over all of it. */
static gulong
time_run (const gchar *first, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  va_start (ap, first);
  for (const gchar *a = first; a; a = va_arg (ap, const gchar *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  gint64 t0 = g_get_monotonic_time ();
  KillAt never = { .delay_us = 600 * G_USEC_PER_SEC };
  ck_assert (!run_and_kill ((const gchar *const *) args->pdata, &never));
  return (gulong) (g_get_monotonic_time () - t0);
}

/* Hidden temporaries ".NAME.XXXXXX" are all a crash may leave besides the
 * run's files; returns how many there are. */
static guint
check_folder (const gchar *path, const gchar *const *allowed)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  guint temporaries = 0;
  if (d == NULL)
    return 0; /* killed before it made the folder */
  const gchar *name;
  while ((name = g_dir_read_name (d)) != NULL) {
    if (name[0] == '.') {
      temporaries++;
      continue;
    }
    ck_assert_msg (g_strv_contains (allowed, name), "%s: unexpected file %s", path, name);
  }
  return temporaries;
}

/* Opens @path as a training checkpoint and reads every tensor; returns its step. */
static gint64
load_checkpoint (const gchar *path)
{
  GError *error = NULL;
  g_autoptr (M3retSafetensors) f = m3ret_safetensors_open (path, &error);
  ck_assert_msg (f != NULL, "%s", error ? error->message : "");
  gint64 step = -1;
  ck_assert_msg (m3ret_checkpoint_get_step (f, path, &step, &error), "%s", error->message);
  const GPtrArray *names = m3ret_safetensors_names (f);
  ck_assert_uint_gt (names->len, 0);
  for (guint i = 0; i < names->len; i++) {
    gint64 shape[M3RET_SAFETENSORS_MAX_DIMS];
    guint nd = 0;
    ck_assert (m3ret_safetensors_get_shape (f, names->pdata[i], shape, &nd));
    gsize n = 1;
    for (guint k = 0; k < nd; k++)
      n *= (gsize) shape[k];
    g_autofree gfloat *data = m3ret_safetensors_read (f, names->pdata[i], n, &error);
    ck_assert_msg (data != NULL, "%s", error ? error->message : "");
  }
  return step;
}

/* The step log has one whole row per step 0..@steps-1, in order. */
static void
check_log (const gchar *path, gint64 steps)
{
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (path, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  ck_assert (g_str_has_prefix (lines[0], "step,loss,"));
  gint64 n = 0;
  for (guint i = 1; lines[i] && *lines[i]; i++, n++) {
    g_auto (GStrv) fields = g_strsplit (lines[i], ",", -1);
    ck_assert_uint_eq (g_strv_length (fields), 7);
    ck_assert_int_eq (g_ascii_strtoll (fields[0], NULL, 10), n + 1); /* steps count from 1 */
  }
  ck_assert_int_eq (n, steps);
}

static void
assert_same_file (const gchar *a, const gchar *b)
{
  g_autofree gchar *x = NULL, *y = NULL;
  gsize nx = 0, ny = 0;
  ck_assert (g_file_get_contents (a, &x, &nx, NULL) && g_file_get_contents (b, &y, &ny, NULL));
  ck_assert_msg (nx == ny && memcmp (x, y, nx) == 0, "%s and %s differ", a, b);
}

START_TEST (test_train_killed)
{
  g_autofree gchar *ini = g_build_filename (dir, "crash.ini", NULL);
  g_autofree gchar *straight = g_build_filename (dir, "straight", NULL);
  g_autofree gchar *out = g_build_filename (dir, "killed", NULL);
  g_autofree gchar *ckpt = g_build_filename (out, "checkpoint.safetensors", NULL);
  g_autofree gchar *log = g_build_filename (out, "train-log.csv", NULL);
  const gchar *const allowed[] = { "checkpoint.safetensors", "train-log.csv", "loss.png", NULL };
  gulong full = time_run ("train", ini, "--out", straight, "--quiet", NULL);

  gint64 last = 0;
  guint kills = 0;
  for (gint round = 0; round < TRAIN_KILLS; round++) {
    gboolean resume = g_file_test (ckpt, G_FILE_TEST_EXISTS);
    const gchar *args[] = { "train", ini, "--out", out, "--quiet", resume ? "--resume" : NULL,
                            ckpt, NULL };
    /* Anywhere from start-up to the end of a whole run; every other round
     * in the middle of writing a checkpoint. */
    KillAt at = { .delay_us = (gulong) (g_rand_double_range (rng, 0.02, 0.7) * full) };
    if (round % 2 == 1 && g_file_test (out, G_FILE_TEST_IS_DIR))
      at = (KillAt) { full, out, "checkpoint", (guint) g_rand_int_range (rng, 1, 8) };
    if (run_and_kill (args, &at))
      kills++;
    check_folder (out, allowed);
    if (g_file_test (ckpt, G_FILE_TEST_EXISTS)) {
      gint64 step = load_checkpoint (ckpt);
      ck_assert_msg (step >= last && step <= TRAIN_STEPS, "checkpoint went from step %"
                     G_GINT64_FORMAT " to %" G_GINT64_FORMAT, last, step);
      last = step;
    }
    if (last == TRAIN_STEPS)
      break;
  }
  g_printerr ("test-crash: train killed %u times, last checkpoint at step %" G_GINT64_FORMAT "\n",
              kills, last);
  ck_assert_uint_gt (kills, 0);

  /* The last resume finishes the run exactly as an uninterrupted one, and
   * clears what the kills left; it runs even when a killed run had already
   * written the final checkpoint (a temporary of the loss curve may remain). */
  {
    M3retCheckRun r = last > 0 ? m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet",
                                                    "--resume", ckpt, NULL)
                               : m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet",
                                                    NULL);
    ck_assert_msg (r.status == 0, "%s", r.err);
    m3ret_check_run_clear (&r);
  }
  ck_assert_int_eq (load_checkpoint (ckpt), TRAIN_STEPS);
  g_autofree gchar *reference = g_build_filename (straight, "checkpoint.safetensors", NULL);
  assert_same_file (ckpt, reference);
  check_log (log, TRAIN_STEPS);
  ck_assert_uint_eq (check_folder (out, allowed), 0);
}
END_TEST

/* @path holds a loadable flat index of @rows rows. */
static void
check_index (M3retPipeline *pipeline, const gchar *path, gsize rows)
{
  GError *error = NULL;
  g_autoptr (M3retIndex) index =
    m3ret_index_load (m3ret_pipeline_get_plugin (pipeline, M3RET_PLUGIN_RETRIEVER),
                      m3ret_pipeline_get_config (pipeline, "retriever"), path, 1, &error);
  ck_assert_msg (index != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_index_count (index), rows);
}

/* Random unit rows with a sidecar, as `m3ret embed` writes them. */
static void
write_embeddings (const gchar *path, gsize rows, guint dim)
{
  g_autoptr (M3retEmbeddings) e = m3ret_embeddings_new (rows, dim);
  for (gsize i = 0; i < rows; i++) {
    g_autofree gchar *name = g_strdup_printf ("case%06zu.png", i);
    m3ret_items_set (e->items, i, name, "xray", i % 2 ? "chest" : "knee");
    gdouble norm = 0;
    for (guint c = 0; c < dim; c++) {
      gfloat v = (gfloat) g_rand_double_range (rng, -1, 1);
      e->data[i * dim + c] = v;
      norm += v * v;
    }
    for (guint c = 0; c < dim; c++)
      e->data[i * dim + c] /= (gfloat) sqrt (norm);
  }
  GError *error = NULL;
  ck_assert_msg (m3ret_embeddings_save (e, path, &error), "%s", error ? error->message : "");
}

START_TEST (test_index_killed)
{
  g_autofree gchar *ini = g_build_filename (dir, "crash.ini", NULL);
  g_autofree gchar *old_npy = g_build_filename (dir, "old.npy", NULL);
  g_autofree gchar *new_npy = g_build_filename (dir, "new.npy", NULL);
  g_autofree gchar *idx_dir = g_build_filename (dir, "index", NULL);
  g_autofree gchar *index = g_build_filename (idx_dir, "db.index", NULL);
  g_autofree gchar *old_copy = g_build_filename (dir, "old.index", NULL);
  g_autofree gchar *new_copy = g_build_filename (dir, "new.index", NULL);
  const gchar *const allowed[] = { "db.index", NULL };
  const gsize old_rows = 2000, new_rows = 60000;
  write_embeddings (old_npy, old_rows, 64);
  write_embeddings (new_npy, new_rows, 64);
  ck_assert_int_eq (g_mkdir (idx_dir, 0755), 0);
  time_run ("index", ini, "--embeddings", old_npy, "--out", old_copy, NULL);
  gulong full = time_run ("index", ini, "--embeddings", new_npy, "--out", new_copy, NULL);

  M3retRegistry *registry = m3ret_check_registry ();
  GError *error = NULL;
  M3retPipeline *pipeline = m3ret_pipeline_load (registry, ini, &error);
  ck_assert_msg (pipeline != NULL, "%s", error ? error->message : "");
  guint kills = 0, olds = 0;
  for (gint round = 0; round < INDEX_KILLS; round++) {
    /* Each round starts from the old index and tries to replace it. */
    g_autofree gchar *bytes = NULL;
    gsize len = 0;
    ck_assert (g_file_get_contents (old_copy, &bytes, &len, NULL));
    ck_assert (g_file_set_contents (index, bytes, (gssize) len, NULL));
    const gchar *args[] = { "index", ini, "--embeddings", new_npy, "--out", index, NULL };
    KillAt at = { .delay_us = (gulong) (g_rand_double_range (rng, 0.1, 1.0) * full) };
    if (round % 2 == 1)
      at = (KillAt) { full, idx_dir, "db.index", (guint) g_rand_int_range (rng, 1, 5) };
    if (run_and_kill (args, &at))
      kills++;
    check_folder (idx_dir, allowed);
    g_autofree gchar *now = NULL;
    gsize now_len = 0;
    ck_assert (g_file_get_contents (index, &now, &now_len, NULL));
    if (now_len == len && memcmp (now, bytes, len) == 0) {
      olds++;
      check_index (pipeline, index, old_rows);
    } else {
      assert_same_file (index, new_copy);
      check_index (pipeline, index, new_rows);
    }
  }
  g_printerr ("test-crash: index killed %u times, old index kept %u times\n", kills, olds);
  ck_assert_uint_gt (kills, 0);
  /* A complete run clears what the killed ones left. */
  time_run ("index", ini, "--embeddings", new_npy, "--out", index, NULL);
  ck_assert_uint_eq (check_folder (idx_dir, allowed), 0);
  check_index (pipeline, index, new_rows);
  m3ret_pipeline_free (pipeline);
  m3ret_registry_free (registry);
}
END_TEST

/* The helpers the commands rely on: a pair commit replaces both files, and
 * only a file's own temporaries count as stale. */
START_TEST (test_pair_and_stale)
{
  g_autofree gchar *npy = g_build_filename (dir, "pair.npy", NULL);
  g_autofree gchar *csv = g_build_filename (dir, "pair.csv", NULL);
  write_embeddings (npy, 3, 4);
  write_embeddings (npy, 5, 4);
  GError *error = NULL;
  g_autoptr (M3retEmbeddings) e = m3ret_embeddings_load (npy, TRUE, &error);
  ck_assert_msg (e != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (e->n_rows, 5);
  ck_assert_uint_eq (e->items->n, 5);
  const gchar *names[] = { ".pair.npy.a1B2c3", ".pair.npy.zzzzzz", ".pair.npy.a1B2c", ".pair.npy.a1B2c3d",
                           ".pair.npyXa1B2c3", ".other.npy.a1B2c3", NULL };
  for (const gchar **n = names; *n; n++) {
    g_autofree gchar *path = g_build_filename (dir, *n, NULL);
    ck_assert (g_file_set_contents (path, "x", 1, NULL));
  }
  ck_assert_uint_eq (m3ret_atomic_file_remove_stale (npy), 2);
  for (const gchar **n = names; *n; n++) {
    g_autofree gchar *path = g_build_filename (dir, *n, NULL);
    ck_assert_int_eq (g_file_test (path, G_FILE_TEST_EXISTS), n - names >= 2);
    g_unlink (path);
  }
  ck_assert (g_file_test (npy, G_FILE_TEST_IS_REGULAR) && g_file_test (csv, G_FILE_TEST_IS_REGULAR));
}
END_TEST

static Suite *
crash_suite (void)
{
  Suite *s = suite_create ("crash");
  TCase *tc = tcase_create ("crash");
  tcase_set_timeout (tc, 300);
  tcase_add_unchecked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_train_killed);
  tcase_add_test (tc, test_index_killed);
  tcase_add_test (tc, test_pair_and_stale);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = crash_suite)
