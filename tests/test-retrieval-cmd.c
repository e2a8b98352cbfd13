/* test-retrieval-cmd.c — `m3ret index` end to end, run as a program ($M3RET_BIN). */
#include "config.h"

#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include "m3ret-check.h"
#include "m3ret-fileio.h"
#include "m3ret-index.h"
#include "m3ret-npy.h"

static gchar *dir;

static void
setup (void)
{
  dir = m3ret_check_tmpdir ();
}

static void
teardown (void)
{
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
}

static gchar *
in_dir (const gchar *name)
{
  return g_build_filename (dir, name, NULL);
}

/* A pipeline must name an objective even when only its retriever is used:
 * take whichever the build tree has. */
static const gchar *
some_objective (void)
{
  static gchar name[65];
  if (*name == '\0') {
    M3retRegistry *registry = m3ret_check_registry ();
    GPtrArray *objectives = m3ret_registry_list (registry, M3RET_PLUGIN_OBJECTIVE);
    ck_assert_msg (objectives->len > 0, "no objective plugin built: no pipeline can load");
    g_strlcpy (name, m3ret_plugin_get_desc (objectives->pdata[0])->name, sizeof name);
    g_ptr_array_unref (objectives);
    m3ret_registry_free (registry);
  }
  return name;
}

static gchar *
write_pipeline (const gchar *name, const gchar *retriever_group)
{
  gchar *path = in_dir (name);
  g_autofree gchar *text =
    g_strdup_printf ("[pipeline]\nthreads=2\n\n[objective]\nplugin=%s\n\n[retriever]\n%s\n",
                     some_objective (), retriever_group);
  ck_assert (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* Row i points mostly along axis i % dim; the rest makes every row distinct. */
static gfloat
row_value (gsize i, guint j, guint dim)
{
  return (j == i % dim ? 3.0f : 0.0f) + (j == (i + 1) % dim ? 0.002f * (gfloat) i : 0.0f) +
         0.01f * (gfloat) ((i * 7 + j * 3) % 11);
}

/* @n rows of @dim, not normalised (the command normalises), with a sidecar
 * naming each row. */
static gchar *
write_embeddings (const gchar *name, gsize n, guint dim)
{
  gchar *path = in_dir (name);
  g_autofree gfloat *rows = g_new (gfloat, n * dim);
  for (gsize i = 0; i < n; i++)
    for (guint j = 0; j < dim; j++)
      rows[i * dim + j] = row_value (i, j, dim);
  ck_assert (m3ret_npy_write_f32 (path, rows, n, dim, NULL));
  g_autoptr (M3retItems) items = m3ret_items_new (n);
  for (gsize i = 0; i < n; i++) {
    g_autofree gchar *p = g_strdup_printf ("img/%03zu.png", i);
    g_autofree gchar *label = g_strdup_printf ("class%zu", i % dim);
    m3ret_items_set (items, i, p, i % 2 ? "ct" : "xray", label);
  }
  g_autofree gchar *csv = m3ret_embeddings_sidecar_path (path);
  ck_assert (m3ret_items_write (items, csv, NULL));
  return path;
}

/* Runs m3ret with @args (NULL-ended); returns its exit status. */
static gint
run_m3ret (const gchar *const *args, gchar **out, gchar **err)
{
  const gchar *bin = g_getenv ("M3RET_BIN");
  ck_assert_msg (bin != NULL, "M3RET_BIN is not set (run through make check)");
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) bin);
  for (; *args; args++)
    g_ptr_array_add (argv, (gpointer) *args);
  g_ptr_array_add (argv, NULL);
  gint status = 0;
  GError *error = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out,
                               err, &status, &error),
                 "%s", error ? error->message : "");
  ck_assert_msg (WIFEXITED (status), "m3ret did not exit normally");
  return WEXITSTATUS (status);
}

static gint
run_index (const gchar *pipeline, const gchar *npy, const gchar *out, gchar **std_out,
           gchar **std_err)
{
  const gchar *args[] = { "index", pipeline, "--embeddings", npy, "--out", out, NULL };
  return run_m3ret (args, std_out, std_err);
}

START_TEST (test_index_flat_and_hnsw)
{
  g_autofree gchar *npy = write_embeddings ("e.npy", 200, 16);
  const struct { const gchar *plugin, *group; } cases[] = {
    { "flat", "plugin=flat" },
    { "hnsw", "plugin=hnsw\nM=8\nef_construction=64\nef_search=32" },
  };
  M3retRegistry *registry = m3ret_check_registry ();
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    g_autofree gchar *ini = write_pipeline ("p.ini", cases[c].group);
    g_autofree gchar *idx = in_dir ("e.idx");
    g_autofree gchar *out = NULL, *err = NULL;
    gint status = run_index (ini, npy, idx, &out, &err);
    ck_assert_msg (status == 0, "%s: exit %d: %s", cases[c].plugin, status, err);
    ck_assert_msg (strstr (out, "200 vectors of 16") != NULL, "%s", out);
    /* The file loads with the same plugin and remembers what each row is. */
    const M3retPlugin *plugin =
      m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, cases[c].plugin);
    g_autoptr (M3retConfig) config =
      m3ret_config_new_defaults ("retriever", m3ret_plugin_get_desc (plugin)->keys, NULL);
    GError *error = NULL;
    g_autoptr (M3retIndex) index = m3ret_index_load (plugin, config, idx, 1, &error);
    ck_assert_msg (index != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq (m3ret_index_count (index), 200);
    const M3retItems *items = m3ret_index_get_items (index);
    ck_assert (items != NULL);
    ck_assert_str_eq (items->paths[17], "img/017.png");
    ck_assert_str_eq (items->labels[17], "class1");
    /* Rows were normalised: a row's own direction finds it first. */
    gfloat q[16] = { 0 };
    for (guint j = 0; j < 16; j++)
      q[j] = row_value (17, j, 16);
    ck_assert (m3ret_vectors_normalize (q, 1, 16, "q", NULL));
    gint64 id;
    gfloat score;
    ck_assert (m3ret_index_search (index, q, 1, 1, NULL, &id, &score, &error));
    ck_assert_int_eq (id, 17);
    ck_assert (fabsf (score - 1.0f) < 1e-5f);
  }
  m3ret_registry_free (registry);
}
END_TEST

/* Runs a failing index; checks exit 1, one error line naming @names_file
 * with @reason, and that the existing output was left alone. */
static void
expect_failure (const gchar *ini, const gchar *npy, const gchar *names_file, const gchar *reason)
{
  g_autofree gchar *idx = in_dir ("keep.idx");
  ck_assert (g_file_set_contents (idx, "previous index", -1, NULL));
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = run_index (ini, npy, idx, &out, &err);
  ck_assert_msg (status == 1, "exit %d for %s (%s): %s", status, npy, reason, err);
  ck_assert_msg (g_str_has_prefix (err, "m3ret: error: "), "%s", err);
  ck_assert_msg (strchr (err, '\n') == err + strlen (err) - 1, "not one line: %s", err);
  ck_assert_msg (strstr (err, names_file) != NULL, "'%s' not named in: %s", names_file, err);
  ck_assert_msg (strstr (err, reason) != NULL, "'%s' not in: %s", reason, err);
  g_autofree gchar *kept = NULL;
  ck_assert (g_file_get_contents (idx, &kept, NULL, NULL));
  ck_assert_str_eq (kept, "previous index");
  /* Nothing else was left in the folder by the failed run. */
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;
  while ((name = g_dir_read_name (d)) != NULL)
    ck_assert_msg (name[0] != '.', "temporary %s left behind", name);
  g_dir_close (d);
}

START_TEST (test_index_bad_input)
{
  g_autofree gchar *ini = write_pipeline ("p.ini", "plugin=flat");
  /* A float64 array: a float32 one whose header says '<f8' for 1×1. */
  g_autofree gchar *f8 = in_dir ("f8.npy");
  gfloat two[2] = { 0, 1.875f };
  ck_assert (m3ret_npy_write_f32 (f8, two, 1, 2, NULL));
  g_autofree gchar *raw = NULL;
  gsize raw_len = 0;
  ck_assert (g_file_get_contents (f8, &raw, &raw_len, NULL));
  memcpy (strstr (raw + 10, "<f4"), "<f8", 3);
  memcpy (strstr (raw + 10, "(1, 2)"), "(1, 1)", 6);
  ck_assert (g_file_set_contents (f8, raw, raw_len, NULL));
  expect_failure (ini, f8, f8, "'<f8'");
  /* Missing, truncated, empty. */
  g_autofree gchar *missing = in_dir ("missing.npy");
  expect_failure (ini, missing, missing, "missing.npy: no such file");
  g_autofree gchar *good = write_embeddings ("good.npy", 10, 4);
  g_autofree gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (good, &bytes, &len, NULL));
  g_autofree gchar *cut = in_dir ("cut.npy");
  ck_assert (g_file_set_contents (cut, bytes, len - 6, NULL));
  expect_failure (ini, cut, cut, "truncated");
  g_autofree gchar *empty = in_dir ("none.npy");
  ck_assert (m3ret_npy_write_f32 (empty, NULL, 0, 4, NULL));
  expect_failure (ini, empty, empty, "no rows");
  /* NaN and all-zero rows. */
  gfloat rows[4 * 3] = { 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0 };
  g_autofree gchar *zero = in_dir ("zero.npy");
  ck_assert (m3ret_npy_write_f32 (zero, rows, 4, 3, NULL));
  expect_failure (ini, zero, zero, "row 3 is all zeros");
  rows[2 * 3 + 1] = NAN;
  g_autofree gchar *nan_npy = in_dir ("nan.npy");
  ck_assert (m3ret_npy_write_f32 (nan_npy, rows, 4, 3, NULL));
  expect_failure (ini, nan_npy, nan_npy, "row 2 holds NaN");
  /* A sidecar that disagrees with the matrix. */
  g_autofree gchar *short_csv = in_dir ("good.csv");
  ck_assert (g_file_set_contents (short_csv, "path,modality,label\na.png,xray,x\n", -1, NULL));
  expect_failure (ini, good, short_csv, "1 records");
  ck_assert (g_file_set_contents (short_csv, "name,kind\n", -1, NULL));
  expect_failure (ini, good, short_csv, "header");
  /* A pipeline naming a retriever nobody built. */
  g_autofree gchar *bad_ini = write_pipeline ("bad.ini", "plugin=annoy");
  g_autofree gchar *ok = write_embeddings ("ok.npy", 10, 4);
  expect_failure (bad_ini, ok, bad_ini, "annoy");
}
END_TEST

START_TEST (test_index_output_and_usage)
{
  g_autofree gchar *ini = write_pipeline ("p.ini", "plugin=flat");
  g_autofree gchar *npy = write_embeddings ("e.npy", 5, 3);
  /* An output folder that does not exist. */
  g_autofree gchar *nowhere = g_build_filename (dir, "no", "such", "e.idx", NULL);
  g_autofree gchar *out = NULL, *err = NULL;
  ck_assert_int_eq (run_index (ini, npy, nowhere, &out, &err), 1);
  ck_assert_msg (strstr (err, nowhere) != NULL, "%s", err);
  /* Missing --out is a usage error. */
  const gchar *args[] = { "index", ini, "--embeddings", npy, NULL };
  g_autofree gchar *out2 = NULL, *err2 = NULL;
  ck_assert_int_eq (run_m3ret (args, &out2, &err2), 2);
  ck_assert_msg (strstr (err2, "--out") != NULL, "%s", err2);
}
END_TEST

static Suite *
cmd_suite (void)
{
  Suite *s = suite_create ("retrieval-cmd");
  TCase *tc = tcase_create ("index");
  tcase_add_checked_fixture (tc, setup, teardown);
  /* Each run of m3ret loads every plugin of the build tree. */
  tcase_set_timeout (tc, 90);
  tcase_add_test (tc, test_index_flat_and_hnsw);
  tcase_add_test (tc, test_index_bad_input);
  tcase_add_test (tc, test_index_output_and_usage);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = cmd_suite)
