/* test-command-files.c — what commands read and write: no output over an
 * input, embeddings and indexes that know their encoder, one error format,
 * a query never its own neighbour. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "m3ret-check.h"

static gchar *dir;      /* one synthetic set for the whole suite */
static gchar *pipeline; /* micro encoder on its 32² grid */
static gchar *trained;  /* a checkpoint two steps from random */

static const gchar *pipeline_text =
  "[pipeline]\nthreads=1\nseed=3\n"
  "[input]\nsize=32\ndepth=8\ntubelet=2,8,8\n"
  "[encoder]\npreset=micro\npool=%s\n"
  "[objective]\nplugin=mae\n"
  "[data]\ntrain=data/manifest.csv\nloader_threads=1\n"
  "[train]\nbatch=8\nsteps=2\nwarmup=1\ncheckpoint_every=0\n"
  "[retriever]\nplugin=flat\n";

static gchar *
in_dir (const gchar *name)
{
  return g_build_filename (dir, name, NULL);
}

static gchar *
write_pipeline (const gchar *name, const gchar *pool)
{
  gchar *path = in_dir (name);
  g_autofree gchar *text = g_strdup_printf (pipeline_text, pool);
  ck_assert (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
setup (void)
{
  dir = m3ret_check_synth_dataset (2, 11);
  pipeline = write_pipeline ("p.ini", "cls");
  g_autofree gchar *out = in_dir ("run");
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", pipeline, "--out", out, "--quiet", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  trained = g_build_filename (out, "checkpoint.safetensors", NULL);
}

static void
teardown (void)
{
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
  g_clear_pointer (&pipeline, g_free);
  g_clear_pointer (&trained, g_free);
}

static gchar *
read_text (const gchar *path)
{
  gchar *text = NULL;
  ck_assert_msg (g_file_get_contents (path, &text, NULL, NULL), "cannot read %s", path);
  return text;
}

/* One line on stderr, in the one error format, holding @want. */
static void
assert_one_error (const M3retCheckRun *r, gint status, const gchar *want)
{
  ck_assert_msg (r->status == status, "status %d, not %d: %s", r->status, status, r->err);
  ck_assert_msg (g_str_has_prefix (r->err, "m3ret: error: "), "not the error format: %s", r->err);
  ck_assert_msg (m3ret_check_count_lines (r->err) == 1, "not one line: %s", r->err);
  ck_assert_msg (strstr (r->err, want) != NULL, "'%s' not in: %s", want, r->err);
}

static gchar *
embed (const gchar *checkpoint, const gchar *manifest, const gchar *out_name)
{
  gchar *out = in_dir (out_name);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "embed", pipeline, "--checkpoint", checkpoint,
                                       "--manifest", manifest, "--out", out, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  return out;
}

static gchar *
build_index (const gchar *npy, const gchar *out_name)
{
  gchar *out = in_dir (out_name);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "index", pipeline, "--embeddings", npy, "--out", out,
                                       NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  return out;
}

START_TEST (test_embed_never_overwrites_its_manifest)
{
  /* What a user did: --out data/db.npy beside the manifest data/db.csv. */
  g_autofree gchar *db_csv = in_dir ("data/db.csv");
  g_autofree gchar *database = in_dir ("data/database.csv");
  /* manifest.csv has a column of its own (split) that a rewrite would lose. */
  g_autofree gchar *full = in_dir ("data/manifest.csv");
  g_autofree gchar *with_extra = read_text (full);
  ck_assert (g_file_set_contents (db_csv, with_extra, -1, NULL));
  g_autofree gchar *db_npy = in_dir ("data/db.npy");
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "embed", pipeline, "--checkpoint", "random",
                                       "--manifest", db_csv, "--out", db_npy, NULL);
  g_autofree gchar *want = g_strdup_printf ("%s: refusing to write the sidecar of --out %s over "
                                            "the --manifest this command reads", db_csv, db_npy);
  assert_one_error (&r, 1, want);
  m3ret_check_run_clear (&r);
  g_autofree gchar *after = read_text (db_csv);
  ck_assert_str_eq (after, with_extra);
  ck_assert (!g_file_test (db_npy, G_FILE_TEST_EXISTS));

  /* A link to an input counts as the input, and both names are given. */
  g_autofree gchar *link = in_dir ("link.npy");
  ck_assert_int_eq (symlink (pipeline, link), 0);
  r = m3ret_check_m3ret (TRUE, "embed", pipeline, "--checkpoint", trained, "--manifest", database,
                         "--out", link, NULL);
  g_autofree gchar *via = g_strdup_printf ("%s: refusing to write the --out embeddings over %s, "
                                           "which is the pipeline", link, pipeline);
  assert_one_error (&r, 1, via);
  m3ret_check_run_clear (&r);
  /* So does a file the manifest lists, named through "..". */
  g_autofree gchar *listed = in_dir ("data/xray/../xray/head_000.png");
  g_autofree gchar *before = read_text (listed);
  r = m3ret_check_m3ret (TRUE, "embed", pipeline, "--checkpoint", trained, "--manifest", full,
                         "--out", listed, NULL);
  assert_one_error (&r, 1, "file listed in --manifest");
  m3ret_check_run_clear (&r);
  g_autofree gchar *png_after = read_text (listed);
  ck_assert (memcmp (before, png_after, 8) == 0);
}
END_TEST

START_TEST (test_other_commands_never_overwrite_inputs)
{
  g_autofree gchar *database = in_dir ("data/database.csv");
  g_autofree gchar *query_csv = in_dir ("data/query.csv");
  g_autofree gchar *npy = embed (trained, database, "db.npy");
  g_autofree gchar *sidecar = in_dir ("db.csv");
  /* index: over its embeddings, or over their sidecar. */
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "index", pipeline, "--embeddings", npy, "--out", npy,
                                       NULL);
  assert_one_error (&r, 1, "refusing to write the index over the --embeddings");
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "index", pipeline, "--embeddings", npy, "--out", sidecar, NULL);
  assert_one_error (&r, 1, "the sidecar of --embeddings this command reads");
  m3ret_check_run_clear (&r);
  g_autofree gchar *index = build_index (npy, "db.idx");
  /* query: a montage over the query file or the index. */
  g_autofree gchar *file = in_dir ("data/ct/head_000.nii.gz");
  g_autofree gchar *before = read_text (file);
  r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", trained, "--index", index,
                         "--montage", file, file, NULL);
  assert_one_error (&r, 1, "refusing to write the --montage picture over the query FILE");
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", trained, "--index", index,
                         "--montage", index, file, NULL);
  assert_one_error (&r, 1, "over the --index");
  m3ret_check_run_clear (&r);
  g_autofree gchar *after = read_text (file);
  ck_assert (memcmp (before, after, 16) == 0);
  /* eval: the JSON report over a manifest or the checkpoint, named another way. */
  g_autofree gchar *round_about = in_dir ("data/../data/query.csv");
  r = m3ret_check_m3ret (TRUE, "eval", pipeline, "--checkpoint", trained, "--query", query_csv,
                         "--database", database, "--json", round_about, NULL);
  assert_one_error (&r, 1, "which is the --query this command reads");
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "eval", pipeline, "--checkpoint", trained, "--query", query_csv,
                         "--database", database, "--json", trained, NULL);
  assert_one_error (&r, 1, "over the --checkpoint");
  m3ret_check_run_clear (&r);
  /* train: a run folder whose log would replace the training manifest. */
  g_autofree gchar *run2 = in_dir ("data");
  g_autofree gchar *moved = in_dir ("data/train-log.csv");
  g_autofree gchar *manifest = in_dir ("data/manifest.csv");
  ck_assert_int_eq (link (manifest, moved), 0);
  g_autofree gchar *odd = in_dir ("odd.ini");
  g_autofree gchar *original = read_text (pipeline);
  g_auto (GStrv) parts = g_strsplit (original, "data/manifest.csv", 2);
  g_autofree gchar *odd_pipeline = g_strjoinv ("data/train-log.csv", parts);
  ck_assert (g_file_set_contents (odd, odd_pipeline, -1, NULL));
  r = m3ret_check_m3ret (TRUE, "train", odd, "--out", run2, "--quiet", NULL);
  assert_one_error (&r, 1, "train-log.csv of --out over");
  m3ret_check_run_clear (&r);
}
END_TEST

START_TEST (test_provenance)
{
  g_autofree gchar *database = in_dir ("data/database.csv");
  g_autofree gchar *query_csv = in_dir ("data/query.csv");
  g_autofree gchar *npy = embed (trained, database, "db.npy");
  g_autofree gchar *index = build_index (npy, "db.idx");
  g_autofree gchar *file = in_dir ("data/xray/head_000.png");
  /* The weights that made the index: accepted. */
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", trained, "--index",
                                       index, "-k", "2", file, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  /* Other weights: refused, both named; the flag overrides with a note. */
  r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", "random", "--index", index,
                         "-k", "2", file, NULL);
  assert_one_error (&r, 1, "made by another encoder than this run's (the weights differ)");
  ck_assert (strstr (r.err, "it holds weights sha256:") && strstr (r.err, "this run has weights"));
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", "random", "--index", index,
                         "-k", "2", "--allow-mismatch", file, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert (strstr (r.err, "used anyway as --allow-mismatch asks") != NULL);
  m3ret_check_run_clear (&r);
  /* Same weights, other pooling. */
  g_autofree gchar *mean = write_pipeline ("mean.ini", "mean");
  r = m3ret_check_m3ret (TRUE, "query", mean, "--checkpoint", trained, "--index", index, file, NULL);
  assert_one_error (&r, 1, "pool cls against mean");
  m3ret_check_run_clear (&r);
  /* eval reads embeddings made earlier, and checks them the same way. */
  r = m3ret_check_m3ret (TRUE, "eval", pipeline, "--checkpoint", trained, "--query", query_csv,
                         "--database", npy, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert (strstr (r.out, "all") != NULL);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "eval", pipeline, "--checkpoint", "random", "--query", query_csv,
                         "--database", npy, NULL);
  assert_one_error (&r, 1, "db.npy: made by another encoder");
  m3ret_check_run_clear (&r);
  /* query takes the retriever from the index, whatever [retriever] says. */
  g_autofree gchar *hnsw_text = read_text (pipeline);
  g_auto (GStrv) parts = g_strsplit (hnsw_text, "plugin=flat", 2);
  g_autofree gchar *joined = g_strjoinv ("plugin=hnsw", parts);
  g_autofree gchar *hnsw = in_dir ("hnsw.ini");
  ck_assert (g_file_set_contents (hnsw, joined, -1, NULL));
  r = m3ret_check_m3ret (TRUE, "query", hnsw, "--checkpoint", trained, "--index", index, "-k", "2",
                         file, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
}
END_TEST

/* A query listed in the database (here twice) never comes back as its own
 * neighbour, in query and in eval. */
START_TEST (test_query_left_out_of_its_results)
{
  g_autofree gchar *database = in_dir ("data/database.csv");
  g_autofree gchar *text = read_text (database);
  g_autofree gchar *file = in_dir ("data/xray/chest_000.png");
  g_autofree gchar *twice = g_strdup_printf ("%sxray/chest_000.png,xray,chest\n"
                                             "xray/chest_000.png,xray,chest\n", text);
  g_autofree gchar *dup = in_dir ("data/dup.csv");
  ck_assert (g_file_set_contents (dup, twice, -1, NULL));
  g_autofree gchar *npy = embed (trained, dup, "dup.npy");
  g_autofree gchar *index = build_index (npy, "dup.idx");
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", trained, "--index",
                                       index, "-k", "5", file, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_msg (strstr (r.out, "     1  ") != NULL, "%s", r.out);
  /* Its path appears once: in the "query" line, never as a result. */
  gchar *first = strstr (r.out, "chest_000.png");
  ck_assert (first != NULL && strstr (first + 1, "chest_000.png") == NULL);
  ck_assert_msg (strstr (r.out, " 1.000 ") == NULL, "%s", r.out);
  m3ret_check_run_clear (&r);
}
END_TEST

/* A probe between close scores is said once per file; -m/--modality (any
 * case) decides it; an unknown name lists the valid ones. */
START_TEST (test_modality_guess_and_flag)
{
  g_autofree gchar *database = in_dir ("data/database.csv");
  g_autofree gchar *npy = embed (trained, database, "db.npy");
  g_autofree gchar *index = build_index (npy, "db.idx");
  g_autofree gchar *grey = in_dir ("data/ultrasound/head_000.png"); /* 8-bit grey */
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", trained, "--index",
                                       index, "-k", "2", grey, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  g_autofree gchar *want = g_strdup_printf ("m3ret: warning: %s: probed as ultrasound, but the "
                                            "scores are close (ultrasound 60, xray 40)", grey);
  ck_assert_msg (strstr (r.err, want) != NULL && m3ret_check_count_lines (r.err) == 1, "%s", r.err);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", trained, "--index", index, "-k",
                         "2", "-m", "XRay", grey, NULL);
  ck_assert_msg (r.status == 0 && *r.err == '\0', "%s", r.err);
  ck_assert_msg (strstr (r.out, "head_000.png (xray)") != NULL, "%s", r.out);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "query", pipeline, "--checkpoint", trained, "--index", index,
                         "--modality", "derm", grey, NULL);
  assert_one_error (&r, 1, "-m/--modality: unknown modality 'derm' (valid: ct, endoscopy, mri, "
                           "ultrasound, xray)");
  m3ret_check_run_clear (&r);
  /* embed: a manifest row without a modality, guessed, then decided. */
  g_autofree gchar *one = in_dir ("data/one.csv");
  ck_assert (g_file_set_contents (one, "path,label\nultrasound/head_000.png,head\n", -1, NULL));
  g_autofree gchar *out = in_dir ("one.npy");
  r = m3ret_check_m3ret (TRUE, "embed", pipeline, "--checkpoint", trained, "--manifest", one,
                         "--out", out, NULL);
  ck_assert_msg (r.status == 0 && strstr (r.err, "one.csv:2: ") &&
                   strstr (r.err, "scores are close"), "%s", r.err);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "embed", pipeline, "--checkpoint", trained, "--manifest", one,
                         "--out", out, "-m", "ultrasound", NULL);
  ck_assert_msg (r.status == 0 && strstr (r.err, "warning") == NULL, "%s", r.err);
  m3ret_check_run_clear (&r);
}
END_TEST

/* The common failures of every command: one line, `m3ret: error:`, the
 * file first and the reason in plain words. */
START_TEST (test_error_format)
{
  g_autofree gchar *database = in_dir ("data/database.csv");
  g_autofree gchar *folder = in_dir ("data");
  g_autofree gchar *missing = in_dir ("nope.safetensors");
  g_autofree gchar *missing_csv = in_dir ("nope.csv");
  g_autofree gchar *out = in_dir ("e.npy");
  g_autofree gchar *want_missing = g_strdup_printf ("error: %s: no such file", missing);
  g_autofree gchar *want_missing_csv = g_strdup_printf ("error: %s: no such file", missing_csv);
  g_autofree gchar *want_folder = g_strdup_printf ("error: %s: is a folder, not a file", folder);
  /* A data input may be a folder (a DICOM series): this one holds none. */
  g_autofree gchar *want_no_series = g_strdup_printf ("error: %s: a folder without DICOM image files", folder);
  g_autofree gchar *file = in_dir ("data/xray/head_000.png");
  g_autofree gchar *nowhere = in_dir ("nodir/e.npy");
  g_autofree gchar *want_nowhere = g_strdup_printf (
    "error: %s: cannot write the --out embeddings: the folder %s/nodir does not exist", nowhere, dir);
  g_autofree gchar *under_file = g_build_filename (file, "m.png", NULL);
  g_autofree gchar *want_under_file = g_strdup_printf ("%s is a file, not a folder", file);
  g_autofree gchar *want_json_folder = g_strdup_printf ("error: %s: cannot write the --json report: "
                                                        "is a folder", folder);
  struct {
    gint status;
    const gchar *want;
    const gchar *args[12];
  } cases[] = {
    { 2, "error: embed: --checkpoint CKPT|random|raw is required (see m3ret embed --help)",
      { "embed", pipeline, "--manifest", database, "--out", out } },
    { 2, "error: embed: --out E.npy is required",
      { "embed", pipeline, "--checkpoint", "random", "--manifest", database } },
    { 1, want_missing,
      { "embed", pipeline, "--checkpoint", missing, "--manifest", database, "--out", out } },
    { 1, want_folder,
      { "embed", pipeline, "--checkpoint", folder, "--manifest", database, "--out", out } },
    { 1, want_missing_csv,
      { "embed", pipeline, "--checkpoint", "random", "--manifest", missing_csv, "--out", out } },
    { 2, "error: index: --embeddings E.npy is required", { "index", pipeline, "--out", out } },
    { 1, want_missing_csv, { "index", pipeline, "--embeddings", missing_csv, "--out", out } },
    { 2, "error: query: --index INDEX is required",
      { "query", pipeline, "--checkpoint", "random", file } },
    { 2, "error: query: give PIPELINE.ini and at least one FILE",
      { "query", pipeline, "--checkpoint", "random", "--index", out } },
    { 1, want_folder, { "query", pipeline, "--checkpoint", "random", "--index", folder, file } },
    { 1, want_missing_csv,
      { "eval", pipeline, "--checkpoint", "random", "--query", missing_csv, "--database",
        database } },
    { 2, "error: eval: --database D.csv is required",
      { "eval", pipeline, "--checkpoint", "random", "--query", database } },
    { 1, want_missing_csv, { "validate", missing_csv } },
    { 1, want_folder, { "validate", folder } },
    { 1, want_missing, { "train", pipeline, "--resume", missing, "--out", folder } },
    { 2, "error: train: unknown option", { "train", pipeline, "--frobnicate" } },
    { 2, "error: train: --steps 0: a run needs at least 1 step", { "train", pipeline, "--steps", "0" } },
    { 2, "error: validate: give exactly one PIPELINE.ini", { "validate" } },
    { 2, "error: synth: --out DIR is required", { "synth", "--per-class", "1" } },
    { 2, "error: inspect: give at least one FILE", { "inspect" } },
    { 1, want_nowhere,
      { "embed", pipeline, "--checkpoint", "random", "--manifest", database, "--out", nowhere } },
    { 1, want_under_file,
      { "query", pipeline, "--checkpoint", "random", "--index", out, "--montage", under_file, file } },
    { 1, want_json_folder,
      { "eval", pipeline, "--checkpoint", "random", "--query", database, "--database", database,
        "--json", folder } },
    { 2, "error: plugins: unknown kind 'decoder'", { "plugins", "--kind", "decoder" } },
    { 1, want_no_series, { "inspect", folder } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const gchar *const *a = cases[i].args;
    M3retCheckRun r = m3ret_check_m3ret (TRUE, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7],
                                         a[8], a[9], a[10], NULL);
    ck_assert_msg (r.status == cases[i].status && m3ret_check_count_lines (r.err) == 1 &&
                     g_str_has_prefix (r.err, "m3ret: error: ") &&
                     strstr (r.err, cases[i].want) != NULL,
                   "case %u (%s): status %d, stderr: %s", i, a[0], r.status, r.err);
    ck_assert_msg (strstr (r.err, "Failed to") == NULL && strstr (r.err, "(command line)") == NULL,
                   "case %u leaks GLib's text: %s", i, r.err);
    m3ret_check_run_clear (&r);
  }
}
END_TEST

static Suite *
command_files_suite (void)
{
  Suite *s = suite_create ("command-files");
  TCase *tc = tcase_create ("command-files");
  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_embed_never_overwrites_its_manifest);
  tcase_add_test (tc, test_other_commands_never_overwrite_inputs);
  tcase_add_test (tc, test_provenance);
  tcase_add_test (tc, test_query_left_out_of_its_results);
  tcase_add_test (tc, test_modality_guess_and_flag);
  tcase_add_test (tc, test_error_format);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = command_files_suite)
