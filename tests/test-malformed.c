/* test-malformed.c — every broken file of malformed-gen.c through the real
 * `m3ret` ($M3RET_BIN): exit status 1, exactly one stderr line naming the
 * file and the reason, and nothing written; then the same files mixed with
 * good ones under [data] on_error=skip. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "m3ret-check.h"
#include "m3ret-npy.h"
#include "malformed-gen.h"

static gchar *dir, *in, *out;
static MgContext ctx;
static gchar *good_manifest;

static gchar *
in_path (const gchar *name)
{
  return g_build_filename (in, name, NULL);
}

static gchar *
out_path (const gchar *name)
{
  return g_build_filename (out, name, NULL);
}

/* A pipeline for the cases: micro encoder, the suite's limits, @on_error,
 * and @train as [data] train= (may be NULL). */
static gchar *
write_pipeline (const gchar *name, const gchar *on_error, const gchar *train)
{
  gchar *path = in_path (name);
  g_autofree gchar *text = g_strdup_printf (
    "[pipeline]\nthreads=1\n[input]\nsize=16\ndepth=4\ntubelet=2,8,8\n[encoder]\npreset=micro\n"
    "[objective]\nplugin=mae\n[data]\n%sloader_threads=0\non_error=%s\n%s%s%s"
    "[train]\nbatch=2\nsteps=2\nwarmup=1\ncheckpoint_every=0\n",
    MG_LIMITS, on_error, train ? "train=" : "", train ? train : "", train ? "\n" : "");
  ck_assert (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* The names in @folder, sorted, one per line. */
static gchar *
listing (const gchar *folder)
{
  g_autoptr (GDir) d = g_dir_open (folder, 0, NULL);
  ck_assert_ptr_nonnull (d);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (const gchar *n; (n = g_dir_read_name (d)) != NULL;)
    g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, compare_names);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (s, "%s\n", (gchar *) names->pdata[i]);
  return g_string_free (s, FALSE);
}

static void
setup (void)
{
  dir = m3ret_check_tmpdir ();
  in = g_build_filename (dir, "in", NULL);
  out = g_build_filename (dir, "out", NULL);
  ck_assert (g_mkdir (in, 0755) == 0 && g_mkdir (out, 0755) == 0);
  mg_context_init (&ctx, in);
  good_manifest = in_path ("good.csv");
  g_autofree gchar *text = g_strdup_printf ("path,modality,label\n%s,xray,chest\n%s,ct,head\n",
                                            ctx.png, ctx.nifti);
  ck_assert (g_file_set_contents (good_manifest, text, -1, NULL));
}

static void
teardown (void)
{
  mg_context_clear (&ctx);
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
  g_clear_pointer (&in, g_free);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&good_manifest, g_free);
}

/* The good index the index cases corrupt, through `m3ret index` itself. */
static void
write_good_index (const gchar *pipeline)
{
  g_autofree gchar *npy = in_path ("rows.npy");
  gfloat rows[4 * 64] = { 0 };
  for (guint i = 0; i < 4; i++)
    rows[i * 64 + i] = 1.0f;
  ck_assert (m3ret_npy_write_f32 (npy, rows, 4, 64, NULL));
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "index", pipeline, "--embeddings", npy, "--out",
                                       ctx.index, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
}

/* Runs one command on a case and appends what is wrong to @problems. */
static void
expect_refusal (GString *problems, const MgCase *c, const gchar *command, const gchar *const *argv)
{
  g_autofree gchar *before = listing (in);
  GPtrArray *args = g_ptr_array_new ();
  for (const gchar *const *a = argv; *a; a++)
    g_ptr_array_add (args, (gpointer) *a);
  ck_assert_uint_le (args->len, 10);
  g_ptr_array_set_size (args, 11); /* NULL-padded: the call below reads 10 */
  M3retCheckRun r = m3ret_check_m3ret (TRUE, command, args->pdata[0], args->pdata[1],
                                       args->pdata[2], args->pdata[3], args->pdata[4],
                                       args->pdata[5], args->pdata[6], args->pdata[7],
                                       args->pdata[8], args->pdata[9], NULL);
  g_ptr_array_unref (args);
  const gchar *names = c->name;
  if (c->kind == MG_TRAIN && strstr (c->reason, ".png") != NULL)
    names = "train-corrupt.png"; /* the defect is in the file the manifest lists */
  const gchar *err = r.err ? r.err : "";
  if (r.status != 1)
    g_string_append_printf (problems, "%s (%s): exit status %d, expected 1\n", c->name, command,
                            r.status);
  if (m3ret_check_count_lines (err) != 1 || !g_str_has_prefix (err, "m3ret: error: "))
    g_string_append_printf (problems, "%s (%s): stderr is not one error line:\n%s", c->name,
                            command, err);
  else if (strstr (err, names) == NULL || strstr (err, c->reason) == NULL)
    g_string_append_printf (problems, "%s (%s): line lacks '%s' or '%s': %s", c->name, command,
                            names, c->reason, err);
  g_autofree gchar *written = listing (out);
  if (*written != '\0') {
    g_string_append_printf (problems, "%s (%s): left in the output folder:\n%s", c->name, command,
                            written);
    m3ret_check_rmtree (out); /* so the next case starts clean */
    ck_assert (g_mkdir (out, 0755) == 0);
  }
  g_autofree gchar *after = listing (in);
  if (strcmp (before, after) != 0)
    g_string_append_printf (problems, "%s (%s): the input folder changed:\n%s", c->name, command,
                            after);
  m3ret_check_run_clear (&r);
}

START_TEST (test_each_broken_file_is_refused)
{
  g_autofree gchar *pipeline = write_pipeline ("p.ini", "fail", NULL);
  write_good_index (pipeline);
  g_autofree gchar *e_npy = out_path ("e.npy");
  g_autofree gchar *run = out_path ("run");
  g_autofree gchar *idx = out_path ("index");
  g_autofree gchar *montage = out_path ("montage.png");
  g_autofree gchar *json = out_path ("eval.json");
  GString *problems = g_string_new (NULL);
  guint n_cases, n_runs = 0;
  const MgCase *cases = mg_cases (&n_cases);
  ck_assert_uint_ge (n_cases, 30);
  for (guint i = 0; i < n_cases; i++) {
    const MgCase *c = &cases[i];
    g_autofree gchar *path = in_path (c->name);
    if (c->write != NULL)
      c->write (&ctx, path);
    switch (c->kind) {
    case MG_IMAGE: {
      g_autofree gchar *manifest = g_strconcat (path, ".csv", NULL);
      g_autofree gchar *text = g_strdup_printf ("path,modality\n%s,%s\n", path, c->modality);
      ck_assert (g_file_set_contents (manifest, text, -1, NULL));
      const gchar *inspect[] = { "--pipeline", pipeline, "--modality", c->modality, path, NULL };
      expect_refusal (problems, c, "inspect", inspect);
      const gchar *embed[] = { pipeline, "--checkpoint", "random", "--manifest", manifest,
                               "--out", e_npy, NULL };
      expect_refusal (problems, c, "embed", embed);
      n_runs += 2;
      break;
    }
    case MG_MANIFEST: {
      const gchar *embed[] = { pipeline, "--checkpoint", "random", "--manifest", path,
                               "--out", e_npy, NULL };
      expect_refusal (problems, c, "embed", embed);
      n_runs++;
      break;
    }
    case MG_TRAIN: {
      g_autofree gchar *name = g_strconcat (c->name, ".ini", NULL);
      g_autofree gchar *train_pipeline = write_pipeline (name, "fail", path);
      const gchar *train[] = { train_pipeline, "--out", run, "--steps", "1", NULL };
      expect_refusal (problems, c, "train", train);
      n_runs++;
      break;
    }
    case MG_PIPELINE: {
      const gchar *validate[] = { path, NULL };
      expect_refusal (problems, c, "validate", validate);
      n_runs++;
      break;
    }
    case MG_CHECKPOINT: {
      const gchar *embed[] = { pipeline, "--checkpoint", path, "--manifest", good_manifest,
                               "--out", e_npy, NULL };
      expect_refusal (problems, c, "embed", embed);
      n_runs++;
      break;
    }
    case MG_EMBEDDINGS: {
      const gchar *index[] = { pipeline, "--embeddings", path, "--out", idx, NULL };
      expect_refusal (problems, c, "index", index);
      n_runs++;
      break;
    }
    case MG_INDEX: {
      const gchar *query[] = { pipeline, "--checkpoint", "random", "--index", path,
                               "--montage", montage, ctx.png, NULL };
      expect_refusal (problems, c, "query", query);
      n_runs++;
      break;
    }
    case MG_EVAL: {
      const gchar *eval[] = { pipeline, "--checkpoint", "random", "--query", path,
                              "--database", good_manifest, "--json", json, NULL };
      expect_refusal (problems, c, "eval", eval);
      n_runs++;
      break;
    }
    }
  }
  if (problems->len > 0) /* all of them, not just the first: Check truncates long messages */
    fprintf (stderr, "%s", problems->str);
  ck_assert_msg (problems->len == 0, "%u problem lines over %u cases, %u runs (listed above)",
                 m3ret_check_count_lines (problems->str), n_cases, n_runs);
  g_string_free (problems, TRUE);
}
END_TEST

/* The lines of @text (transfer full), without the trailing empty one. */
static gchar **
lines_of (const gchar *text)
{
  gchar **lines = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (lines);
  if (n > 0 && *lines[n - 1] == '\0') {
    g_free (lines[n - 1]);
    lines[n - 1] = NULL;
  }
  return lines;
}

START_TEST (test_skip_carries_on_and_reports)
{
  /* Good files first and last, every broken data file between. */
  GString *csv = g_string_new ("path,modality,label\n");
  g_string_append_printf (csv, "%s,xray,chest\n%s,ct,head\n", ctx.png, ctx.nifti);
  guint n_cases, n_bad = 0;
  const MgCase *cases = mg_cases (&n_cases);
  for (guint i = 0; i < n_cases; i++) {
    if (cases[i].kind != MG_IMAGE)
      continue;
    g_autofree gchar *path = in_path (cases[i].name);
    cases[i].write (&ctx, path);
    g_string_append_printf (csv, "%s,%s,bad\n", path, cases[i].modality);
    n_bad++;
  }
  g_string_append_printf (csv, "%s,endoscopy,colon\nmissing.png,xray,chest\n", ctx.video);
  n_bad++;
  g_autofree gchar *mixed = in_path ("mixed.csv");
  ck_assert (g_file_set_contents (mixed, csv->str, -1, NULL));
  /* Training redraws a failed file from its modality up to 64 times: with
   * a few dozen broken files of one modality, its good file is listed
   * often enough to be drawn, whatever the order of the cases. */
  for (guint k = 0; k < 16; k++)
    g_string_append_printf (csv, "%s,xray,chest\n%s,ct,head\n%s,endoscopy,colon\n", ctx.png,
                            ctx.nifti, ctx.video);
  g_autofree gchar *train_csv = in_path ("train.csv");
  ck_assert (g_file_set_contents (train_csv, csv->str, -1, NULL));
  g_string_free (csv, TRUE);
  g_autofree gchar *pipeline = write_pipeline ("skip.ini", "skip", mixed);
  g_autofree gchar *train_pipeline = write_pipeline ("skip-train.ini", "skip", train_csv);

  /* embed: the three good files, in manifest order, in both the rows and the sidecar. */
  g_autofree gchar *npy = out_path ("e.npy");
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "embed", pipeline, "--checkpoint", "random",
                                       "--manifest", mixed, "--out", npy, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  g_autofree gchar *skipped = g_strdup_printf ("m3ret embed: skipped %u files (on_error=skip):\n",
                                               n_bad);
  ck_assert_msg (strstr (r.err, skipped) != NULL, "expected '%s' in:\n%s", skipped, r.err);
  const gchar *groups[] = { "missing or unreadable: ", "corrupt or truncated: ",
                            "over a [data] max_* limit: ", "NaN/Inf values or no frames: ",
                            "unsupported format or datatype: " };
  for (guint g = 0; g < G_N_ELEMENTS (groups); g++)
    ck_assert_msg (strstr (r.err, groups[g]) != NULL, "no '%s' line in:\n%s", groups[g], r.err);
  ck_assert_msg (strstr (r.err, "missing.png") && strstr (r.err, "png-huge-dims.png"), "%s", r.err);
  m3ret_check_run_clear (&r);
  gsize rows = 0, cols = 0;
  g_autofree gfloat *data = m3ret_npy_read_f32 (npy, &rows, &cols, NULL);
  ck_assert_ptr_nonnull (data);
  ck_assert_uint_eq (rows, 3);
  g_autofree gchar *sidecar_path = out_path ("e.csv");
  g_autofree gchar *sidecar = NULL;
  ck_assert (g_file_get_contents (sidecar_path, &sidecar, NULL, NULL));
  g_auto (GStrv) lines = lines_of (sidecar);
  ck_assert_uint_eq (g_strv_length (lines), 4);
  ck_assert (g_str_has_prefix (lines[1], ctx.png));
  ck_assert (g_str_has_prefix (lines[2], ctx.nifti));
  ck_assert (g_str_has_prefix (lines[3], ctx.video));

  /* train: finishes its steps, drawing good files only, and reports. */
  g_autofree gchar *run = out_path ("run");
  r = m3ret_check_m3ret (TRUE, "train", train_pipeline, "--out", run, "--steps", "2", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_msg (strstr (r.err, "m3ret train: skipped ") != NULL, "%s", r.err);
  g_autofree gchar *ckpt = g_build_filename (run, "checkpoint.safetensors", NULL);
  ck_assert (g_file_test (ckpt, G_FILE_TEST_IS_REGULAR));
  m3ret_check_run_clear (&r);

  /* eval: the queries that read, against the good database. */
  g_autofree gchar *json = out_path ("eval.json");
  r = m3ret_check_m3ret (TRUE, "eval", pipeline, "--checkpoint", "random", "--query", mixed,
                         "--database", good_manifest, "--json", json, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_msg (strstr (r.err, "m3ret eval: skipped ") != NULL, "%s", r.err);
  ck_assert (g_file_test (json, G_FILE_TEST_IS_REGULAR));
  m3ret_check_run_clear (&r);
}
END_TEST

static Suite *
malformed_suite (void)
{
  Suite *s = suite_create ("malformed");
  TCase *tc = tcase_create ("malformed");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_each_broken_file_is_refused);
  tcase_add_test (tc, test_skip_carries_on_and_reports);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = malformed_suite)
