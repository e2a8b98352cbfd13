/* test-train.c — `m3ret train` end to end on a small synthetic set:
 * the loss falls, resume is exact, an interrupted run resumes, bad input is
 * refused, and a short MAE run retrieves better than the random init. */
#include "config.h"

#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "m3ret-check.h"

static gchar *dir;  /* one synthetic set for the whole suite */

static const gchar *pipeline_text =
  "[pipeline]\nthreads=1\nseed=3\n"
  "[input]\nsize=32\ndepth=8\ntubelet=2,8,8\n"
  "[encoder]\npreset=micro\n"
  "[objective]\nplugin=%s\n%s"
  "[data]\ntrain=data/manifest.csv\nloader_threads=2\n"
  "[train]\nbatch=8\nsteps=%d\nlr=%s\nwarmup=2\ncheckpoint_every=0\n"
  "[retriever]\nplugin=flat\n";

static void
make_dataset (void)
{
  dir = m3ret_check_synth_dataset (4, 5);
}

static void
remove_dataset (void)
{
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
}

static gchar *
write_pipeline (const gchar *name, const gchar *objective, const gchar *extra, gint steps,
                const gchar *lr)
{
  gchar *path = g_build_filename (dir, name, NULL);
  g_autofree gchar *text = g_strdup_printf (pipeline_text, objective, extra, steps, lr);
  ck_assert (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* The loss column of a step log. */
static GArray *
read_losses (const gchar *out)
{
  g_autofree gchar *log = g_build_filename (out, "train-log.csv", NULL);
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (log, &text, NULL, NULL));
  GArray *losses = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  ck_assert_str_eq (lines[0], "step,loss,lr,weight_decay,grad_norm,images_per_s,elapsed_s");
  for (guint i = 1; lines[i] && *lines[i]; i++) {
    g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
    /* the step done, from 1: what the terminal shows and the checkpoint's step */
    ck_assert_int_eq (g_ascii_strtoll (f[0], NULL, 10), i);
    gdouble v = g_ascii_strtod (f[1], NULL);
    g_array_append_val (losses, v);
  }
  return losses;
}

static gdouble
mean_of (GArray *a, guint from, guint n)
{
  gdouble s = 0;
  for (guint i = from; i < from + n; i++)
    s += g_array_index (a, gdouble, i);
  return s / n;
}

static void
check_loss_falls (const gchar *objective, const gchar *extra, const gchar *lr)
{
  g_autofree gchar *name = g_strdup_printf ("%s.ini", objective);
  g_autofree gchar *ini = write_pipeline (name, objective, extra, 40, lr);
  g_autofree gchar *out = g_build_filename (dir, objective, NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, NULL);
  ck_assert_msg (r.status == 0, "train: %s", r.err);
  g_autoptr (GArray) losses = read_losses (out);
  ck_assert_uint_eq (losses->len, 40);
  /* The terminal's "step 2/40" is the log's row 2: one numbering. */
  const gchar *line = strstr (r.err, "step 2/40 loss ");
  ck_assert_msg (line != NULL, "%s", r.err);
  g_autofree gchar *logged = g_strdup_printf ("%.4f", g_array_index (losses, gdouble, 1));
  ck_assert_msg (g_str_has_prefix (line + strlen ("step 2/40 loss "), logged),
                 "terminal '%.30s', log row 2 loss %s", line, logged);
  m3ret_check_run_clear (&r);
  gdouble first = mean_of (losses, 0, 8), last = mean_of (losses, 32, 8);
  g_printerr ("%s loss, mean of the first and last 8 of 40 steps: %g -> %g\n", objective, first, last);
  ck_assert_msg (last < first - 0.05 * fabs (first), "%s loss did not fall: %g → %g", objective,
                 first, last);
  g_autofree gchar *png = g_build_filename (out, "loss.png", NULL);
  g_autofree gchar *ckpt = g_build_filename (out, "checkpoint.safetensors", NULL);
  ck_assert (g_file_test (png, G_FILE_TEST_IS_REGULAR));
  g_autoptr (M3retSafetensors) f = m3ret_safetensors_open (ckpt, NULL);
  ck_assert (f != NULL);
  ck_assert_str_eq (m3ret_safetensors_get_metadata (f, "m3ret.step"), "40");
  ck_assert_str_eq (m3ret_safetensors_get_metadata (f, "m3ret.objective"), objective);
  ck_assert (m3ret_safetensors_get_shape (f, "blocks.0.attn.qkv.weight", NULL, NULL));
  ck_assert (strstr (m3ret_safetensors_get_metadata (f, "m3ret.pipeline"), "[encoder]") != NULL);
}

START_TEST (test_mae_loss_falls)
{
  check_loss_falls ("mae", "mask_ratio=0.75\n", "3e-2");
}
END_TEST

START_TEST (test_simdino_loss_falls)
{
  check_loss_falls ("simdino", "head_hidden=64\nhead_out=32\nlocal_crops=2\n", "2e-2");
}
END_TEST

/* Every tensor of two checkpoints, bit for bit. */
static void
assert_same_checkpoints (const gchar *a_path, const gchar *b_path)
{
  g_autoptr (M3retSafetensors) a = m3ret_safetensors_open (a_path, NULL);
  g_autoptr (M3retSafetensors) b = m3ret_safetensors_open (b_path, NULL);
  ck_assert (a != NULL && b != NULL);
  const GPtrArray *names = m3ret_safetensors_names (a);
  ck_assert_uint_eq (names->len, m3ret_safetensors_names (b)->len);
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
    ck_assert_msg (y != NULL, "%s missing", name);
    ck_assert_msg (memcmp (x, y, n * sizeof (gfloat)) == 0, "tensor %s differs", name);
  }
}

START_TEST (test_resume_is_exact)
{
  g_autofree gchar *ini = write_pipeline ("resume.ini", "mae", "", 8, "1e-3");
  g_autofree gchar *straight = g_build_filename (dir, "straight", NULL);
  g_autofree gchar *halves = g_build_filename (dir, "halves", NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", straight, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "train", ini, "--out", halves, "--stop-at", "4", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert (strstr (r.err, "stopped after step 4 of 8") != NULL);
  m3ret_check_run_clear (&r);
  g_autofree gchar *ckpt = g_build_filename (halves, "checkpoint.safetensors", NULL);
  r = m3ret_check_m3ret (TRUE, "train", ini, "--out", halves, "--resume", ckpt, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  g_autofree gchar *a = g_build_filename (straight, "checkpoint.safetensors", NULL);
  assert_same_checkpoints (a, ckpt);
  /* The step log of the two halves is the straight one. */
  g_autoptr (GArray) la = read_losses (straight);
  g_autoptr (GArray) lb = read_losses (halves);
  ck_assert_uint_eq (la->len, lb->len);
  for (guint i = 0; i < la->len; i++)
    ck_assert_double_eq (g_array_index (la, gdouble, i), g_array_index (lb, gdouble, i));
}
END_TEST

START_TEST (test_sigterm_then_resume)
{
  g_autofree gchar *ini = write_pipeline ("long.ini", "mae", "", 100000, "1e-3");
  g_autofree gchar *out = g_build_filename (dir, "interrupted", NULL);
  g_autofree gchar *log = g_build_filename (out, "train-log.csv", NULL);
  const gchar *argv[] = { g_getenv ("M3RET_BIN"), "train", ini, "--out", out, "--quiet", NULL };
  GPid pid;
  GError *error = NULL;
  ck_assert_msg (g_spawn_async (NULL, (gchar **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                &pid, &error), "%s", error ? error->message : "");
  /* Wait until a few steps are logged, then ask it to stop. */
  for (gint i = 0; i < 600; i++) {
    g_autofree gchar *text = NULL;
    if (g_file_get_contents (log, &text, NULL, NULL) && m3ret_check_count_lines (text) > 3)
      break;
    g_usleep (100000);
  }
  ck_assert_int_eq (kill (pid, SIGTERM), 0);
  gint status;
  ck_assert_int_eq (waitpid (pid, &status, 0), pid);
  g_spawn_close_pid (pid);
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 128 + SIGTERM,
                 "status %d", status);
  g_autofree gchar *ckpt = g_build_filename (out, "checkpoint.safetensors", NULL);
  g_autoptr (M3retSafetensors) f = m3ret_safetensors_open (ckpt, &error);
  ck_assert_msg (f != NULL, "%s", error ? error->message : "");
  gint64 step = g_ascii_strtoll (m3ret_safetensors_get_metadata (f, "m3ret.step"), NULL, 10);
  g_autoptr (GArray) losses = read_losses (out);
  ck_assert_int_eq (step, losses->len);
  /* Resume and finish a few more steps. */
  g_autofree gchar *total = g_strdup_printf ("%" G_GINT64_FORMAT, step + 3);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--resume", ckpt,
                                       "--steps", total, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  g_autoptr (GArray) after = read_losses (out);
  ck_assert_uint_eq (after->len, step + 3);
}
END_TEST

/* Before it trains, train says which rows are listed twice and which
 * files the probe guessed (8-bit grey PNG: ultrasound 60, xray 40). */
START_TEST (test_train_reports_notices)
{
  g_autofree gchar *csv = g_build_filename (dir, "data", "notices.csv", NULL);
  ck_assert (g_file_set_contents (csv, "path,label\n"
                                       "ultrasound/head_000.png,head\n"
                                       "xray/head_000.png,head\n"
                                       "ultrasound/head_000.png,head\n", -1, NULL));
  g_autofree gchar *text = g_strdup_printf (pipeline_text, "mae", "", 2, "1e-3");
  g_autoptr (GString) ini_text = g_string_new (text);
  g_string_replace (ini_text, "data/manifest.csv", "data/notices.csv", 1);
  g_autofree gchar *ini = g_build_filename (dir, "notices.ini", NULL);
  ck_assert (g_file_set_contents (ini, ini_text->str, -1, NULL));
  g_autofree gchar *out = g_build_filename (dir, "notices", NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet", NULL);
  ck_assert_msg (r.status == 0, "train: %s", r.err);
  ck_assert_msg (strstr (r.err, "m3ret: warning: ") == r.err, "%s", r.err);
  ck_assert_msg (strstr (r.err, "notices.csv:4: ultrasound/head_000.png is listed again (first "
                                "at line 2); every row is kept, so the file counts once per "
                                "row\n"),
                 "%s", r.err);
  ck_assert_msg (strstr (r.err, "notices.csv:2: ") != NULL &&
                 strstr (r.err, "ultrasound/head_000.png: probed as ultrasound, but the scores "
                                "are close (ultrasound 60, xray 40): give -m/--modality NAME or "
                                "a 'modality' column in the manifest to decide\n") != NULL,
                 "%s", r.err);
  ck_assert_uint_eq (m3ret_check_count_lines (r.err), 2); /* once per file */
  m3ret_check_run_clear (&r);
}
END_TEST

START_TEST (test_bad_input)
{
  /* No training manifest. */
  g_autofree gchar *ini = g_build_filename (dir, "nodata.ini", NULL);
  ck_assert (g_file_set_contents (ini, "[encoder]\npreset=micro\n", -1, NULL));
  g_autofree gchar *out = g_build_filename (dir, "nodata", NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert_uint_eq (m3ret_check_count_lines (r.err), 1);
  ck_assert (strstr (r.err, "[data] train= is empty") != NULL);
  m3ret_check_run_clear (&r);
  /* Resuming from something that is not a checkpoint. */
  g_autofree gchar *good = write_pipeline ("bad.ini", "mae", "", 4, "1e-3");
  g_autofree gchar *junk = g_build_filename (dir, "junk.safetensors", NULL);
  ck_assert (g_file_set_contents (junk, "not a checkpoint at all", -1, NULL));
  r = m3ret_check_m3ret (TRUE, "train", good, "--out", out, "--resume", junk, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert (strstr (r.err, junk) != NULL);
  m3ret_check_run_clear (&r);
  /* A checkpoint of another objective. */
  g_autofree gchar *mae_ckpt = g_build_filename (dir, "mae", "checkpoint.safetensors", NULL);
  if (g_file_test (mae_ckpt, G_FILE_TEST_EXISTS)) {
    g_autofree gchar *sd = write_pipeline ("sd.ini", "simdino", "head_hidden=64\nhead_out=32\n", 4, "1e-3");
    r = m3ret_check_m3ret (TRUE, "train", sd, "--out", out, "--resume", mae_ckpt, NULL);
    ck_assert_int_eq (r.status, 1);
    ck_assert (strstr (r.err, "written by objective 'mae'") != NULL);
    m3ret_check_run_clear (&r);
  }
}
END_TEST

/* mAP@10 overall of the report @json_path, or of its baseline @baseline
 * when not NULL */
static gdouble
overall_map10_of (const gchar *json_path, const gchar *baseline)
{
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (json_path, &text, NULL, NULL));
  const gchar *start = text;
  if (baseline != NULL) {
    /* "baselines": {"NAME": {"similarity": ..., "metrics": {...}}} */
    g_autofree gchar *key = g_strdup_printf ("\"%s\": {\"similarity\"", baseline);
    start = strstr (text, "\"baselines\"");
    ck_assert_msg (start != NULL, "no baselines in %s", json_path);
    start = strstr (start, key);
    ck_assert_msg (start != NULL, "no baseline %s in %s", baseline, json_path);
  }
  /* {"ks":[...], "overall":{... "map":{"1":v,"5":v,"10":v}} ...} */
  const gchar *overall = strstr (start, "\"overall\"");
  ck_assert (overall != NULL);
  const gchar *map = strstr (overall, "\"map\"");
  ck_assert (map != NULL);
  const gchar *k10 = strstr (map, "\"10\":");
  ck_assert (k10 != NULL);
  return g_ascii_strtod (k10 + 5, NULL);
}

static gdouble
overall_map10 (const gchar *json_path)
{
  return overall_map10_of (json_path, NULL);
}

/* A short MAE run on the synthetic set retrieves better than its own
 * random initialisation (issue 6); its report holds the raw-pixel and
 * random-init baselines beside it. */
START_TEST (test_training_beats_random)
{
  g_autofree gchar *ini = write_pipeline ("eval.ini", "mae", "", 60, "4e-3");
  g_autofree gchar *out = g_build_filename (dir, "eval-run", NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  g_autofree gchar *ckpt = g_build_filename (out, "checkpoint.safetensors", NULL);
  g_autofree gchar *q = g_build_filename (dir, "data", "query.csv", NULL);
  g_autofree gchar *d = g_build_filename (dir, "data", "database.csv", NULL);
  g_autofree gchar *j_random = g_build_filename (dir, "random.json", NULL);
  g_autofree gchar *j_trained = g_build_filename (dir, "trained.json", NULL);
  r = m3ret_check_m3ret (TRUE, "eval", ini, "--checkpoint", "random", "--query", q, "--database", d,
                         "--json", j_random, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "eval", ini, "--checkpoint", ckpt, "--query", q, "--database", d,
                         "--json", j_trained, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert (strstr (r.out, "cross-modal") != NULL);
  ck_assert (strstr (r.out, "separation: AUC") != NULL);
  ck_assert (strstr (r.out, "against the baselines") != NULL);
  m3ret_check_run_clear (&r);
  gdouble base = overall_map10 (j_random), trained = overall_map10 (j_trained);
  ck_assert_msg (trained > base, "mAP@10 %.3f after training, %.3f at random init", trained, base);
  /* the trained report carries both baselines: random as scored on its own,
   * raw pixels as the random report's own baseline scored it */
  ck_assert_double_eq_tol (overall_map10_of (j_trained, "random"), base, 1e-9);
  ck_assert_double_eq_tol (overall_map10_of (j_trained, "raw"), overall_map10_of (j_random, "raw"),
                           1e-9);
  g_autofree gchar *report = NULL;
  ck_assert (g_file_get_contents (j_trained, &report, NULL, NULL));
  ck_assert (strstr (report, "\"similarity\": {\"relevant\": {\"pairs\": ") != NULL);
  ck_assert (strstr (report, "\"auc\": ") != NULL);
}
END_TEST

/* embed, index, query (with a montage) and their refusals of bad input. */
START_TEST (test_embed_index_query)
{
  g_autofree gchar *ini = write_pipeline ("query.ini", "mae", "", 2, "1e-3");
  g_autofree gchar *out = g_build_filename (dir, "query-run", NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  g_autofree gchar *ckpt = g_build_filename (out, "checkpoint.safetensors", NULL);
  g_autofree gchar *db = g_build_filename (dir, "data", "database.csv", NULL);
  g_autofree gchar *npy = g_build_filename (dir, "db.npy", NULL);
  g_autofree gchar *sidecar = g_build_filename (dir, "db.csv", NULL);
  g_autofree gchar *index = g_build_filename (dir, "db.index", NULL);
  g_autofree gchar *png = g_build_filename (dir, "montage.png", NULL);
  g_autofree gchar *query = g_build_filename (dir, "data", "xray", "chest_000.png", NULL);
  r = m3ret_check_m3ret (TRUE, "embed", ini, "--checkpoint", ckpt, "--manifest", db, "--out", npy, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  ck_assert (g_file_test (sidecar, G_FILE_TEST_IS_REGULAR));
  r = m3ret_check_m3ret (TRUE, "index", ini, "--embeddings", npy, "--out", index, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "query", ini, "--checkpoint", ckpt, "--index", index, "-k", "3",
                         "--montage", png, query, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  /* A header and three ranked results, each naming a database file. */
  ck_assert (strstr (r.out, "rank") != NULL);
  ck_assert_uint_eq (m3ret_check_count_lines (r.out), 5);
  ck_assert (strstr (r.out, "     3  ") != NULL);
  m3ret_check_run_clear (&r);
  g_autofree gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (png, &bytes, &len, NULL));
  ck_assert (len > 8 && memcmp (bytes, "\x89PNG", 4) == 0);

  /* Refusals: one line naming the file, non-zero, nothing written. */
  g_autofree gchar *tiny = g_build_filename (dir, "tiny.ini", NULL);
  g_autofree gchar *text = NULL;
  ck_assert (g_file_get_contents (ini, &text, NULL, NULL));
  gchar **parts = g_strsplit (text, "preset=micro", -1);
  g_autofree gchar *joined = g_strjoinv ("preset=tiny", parts);
  g_strfreev (parts);
  ck_assert (g_file_set_contents (tiny, joined, -1, NULL));
  g_autofree gchar *never = g_build_filename (dir, "never.npy", NULL);
  r = m3ret_check_m3ret (TRUE, "embed", tiny, "--checkpoint", ckpt, "--manifest", db, "--out", never, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert_uint_eq (m3ret_check_count_lines (r.err), 1);
  ck_assert_msg (strstr (r.err, ckpt) && strstr (r.err, "micro"), "%s", r.err);
  ck_assert (!g_file_test (never, G_FILE_TEST_EXISTS));
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "query", ini, "--checkpoint", ckpt, "--index", index, "/nonexistent.png", NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert (strstr (r.err, "/nonexistent.png") != NULL);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "eval", ini, "--checkpoint", "random", "--query", db, "--database",
                         "/nonexistent.csv", NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert (strstr (r.err, "/nonexistent.csv") != NULL);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "eval", ini, "--checkpoint", "random", "--query", db, "--database",
                         db, "-k", "0", NULL);
  ck_assert_int_eq (r.status, 2);
  m3ret_check_run_clear (&r);
}
END_TEST

static Suite *
train_suite (void)
{
  Suite *s = suite_create ("train");
  TCase *tc = tcase_create ("train");
  tcase_set_timeout (tc, 300);
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  tcase_add_test (tc, test_mae_loss_falls);
  tcase_add_test (tc, test_simdino_loss_falls);
  tcase_add_test (tc, test_resume_is_exact);
  tcase_add_test (tc, test_sigterm_then_resume);
  tcase_add_test (tc, test_bad_input);
  tcase_add_test (tc, test_train_reports_notices);
  tcase_add_test (tc, test_training_beats_random);
  tcase_add_test (tc, test_embed_index_query);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = train_suite)
