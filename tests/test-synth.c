/* test-synth.c — `m3ret synth`: manifests, balance, determinism, bad arguments. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "m3ret-check.h"
#include "m3ret-synth.h"
#include "test-synth-common.h"

#define PER_CLASS 3

static gchar *tmp;          /* everything below lives here */
static gchar *dir_a, *dir_b; /* seed 7, twice */
static gchar *dir_c;        /* seed 8 */
static gchar *dir_d;        /* seed 7, ct and xray only */
static gchar *dir_e, *dir_f; /* seed 7, endoscopy as mpeg4, twice */

static const gchar *const body_labels[] = { "head", "chest", "abdomen", "pelvis", "knee", NULL };
static const gchar *const endo_labels[] = { "esophagus", "stomach", "duodenum", "colon", NULL };
static const gchar *const modalities[] = { "xray", "ultrasound", "endoscopy", "ct", "mri", NULL };

static void
make (const gchar *dir, const gchar *seed, const gchar *which, const gchar *codec)
{
  g_autofree gchar *out = NULL, *err = NULL;
  gint status = synth_spawn (&out, &err, "--out", dir, "--per-class", G_STRINGIFY (PER_CLASS),
                             "--size", "32", "--frames", "4", "--seed", seed, "--modalities", which,
                             "--video-codec", codec, NULL);
  ck_assert_msg (status == 0, "m3ret synth failed (%d): %s", status, err);
}

static void
setup_datasets (void)
{
  tmp = m3ret_check_tmpdir ();
  dir_a = g_build_filename (tmp, "a", NULL);
  dir_b = g_build_filename (tmp, "b", NULL);
  dir_c = g_build_filename (tmp, "c", NULL);
  dir_d = g_build_filename (tmp, "d", NULL);
  dir_e = g_build_filename (tmp, "e", NULL);
  dir_f = g_build_filename (tmp, "f", NULL);
  const gchar *all = "xray,ultrasound,endoscopy,ct,mri";
  make (dir_a, "7", all, "h264");
  make (dir_b, "7", all, "h264");
  make (dir_c, "8", all, "h264");
  make (dir_d, "7", "ct,xray", "h264");
  make (dir_e, "7", "endoscopy", "mpeg4");
  make (dir_f, "7", "endoscopy", "mpeg4");
}

static void
teardown_datasets (void)
{
  m3ret_check_rmtree (tmp);
  g_free (tmp);
  g_free (dir_a);
  g_free (dir_b);
  g_free (dir_c);
  g_free (dir_d);
  g_free (dir_e);
  g_free (dir_f);
}

static GPtrArray *
manifest (const gchar *dir, const gchar *name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  return synth_read_csv (path);
}

static const gchar *const *
labels_of (const gchar *modality)
{
  return strcmp (modality, "endoscopy") == 0 ? endo_labels : body_labels;
}

START_TEST (test_manifest_well_formed)
{
  g_autoptr (GPtrArray) rows = manifest (dir_a, "manifest.csv");
  g_autofree gchar *header = g_strjoinv (",", rows->pdata[0]);
  ck_assert_str_eq (header, "path,modality,label,split");
  g_autoptr (GHashTable) count = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) queries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 1; i < rows->len; i++) {
    gchar **f = rows->pdata[i];
    ck_assert_uint_eq (g_strv_length (f), 4);
    const gchar *path = f[0], *modality = f[1], *label = f[2], *split = f[3];
    ck_assert_msg (g_strv_contains (modalities, modality), "bad modality %s", modality);
    ck_assert_msg (g_strv_contains (labels_of (modality), label), "bad label %s for %s", label, modality);
    ck_assert_msg (strcmp (split, "query") == 0 || strcmp (split, "database") == 0, "split %s", split);
    ck_assert_msg (!g_path_is_absolute (path) && strstr (path, "..") == NULL, "path %s", path);
    ck_assert_msg (g_str_has_prefix (path, modality) && path[strlen (modality)] == '/', "%s", path);
    const gchar *ext = strcmp (modality, "ct") == 0 || strcmp (modality, "mri") == 0 ? ".nii.gz"
                       : strcmp (modality, "endoscopy") == 0                      ? ".mp4"
                                                                                   : ".png";
    ck_assert_msg (g_str_has_suffix (path, ext) ||
                     (strcmp (modality, "endoscopy") == 0 && g_str_has_suffix (path, ".avi")),
                   "%s has the wrong extension for %s", path, modality);
    g_autofree gchar *full = g_build_filename (dir_a, path, NULL);
    GStatBuf st;
    ck_assert_msg (g_stat (full, &st) == 0 && st.st_size > 0, "%s missing or empty", full);
    gchar *key = g_strdup_printf ("%s/%s", modality, label);
    g_hash_table_insert (count, key, GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (count, key)) + 1));
    if (strcmp (split, "query") == 0) {
      key = g_strdup_printf ("%s/%s", modality, label);
      g_hash_table_insert (queries, key,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (queries, key)) + 1));
    }
  }
  /* Balanced: every label of every modality, PER_CLASS times, one query each (20% of 3, rounded). */
  ck_assert_uint_eq (rows->len - 1, PER_CLASS * (4 * 5 + 4));
  for (guint m = 0; modalities[m] != NULL; m++)
    for (const gchar *const *l = labels_of (modalities[m]); *l != NULL; l++) {
      g_autofree gchar *key = g_strdup_printf ("%s/%s", modalities[m], *l);
      ck_assert_uint_eq (GPOINTER_TO_UINT (g_hash_table_lookup (count, key)), PER_CLASS);
      ck_assert_uint_eq (GPOINTER_TO_UINT (g_hash_table_lookup (queries, key)), 1);
    }
  /* No temporary file left behind. */
  for (guint m = 0; modalities[m] != NULL; m++) {
    g_autofree gchar *sub = g_build_filename (dir_a, modalities[m], NULL);
    GDir *d = g_dir_open (sub, 0, NULL);
    ck_assert_ptr_nonnull (d);
    guint n = 0;
    for (const gchar *name; (name = g_dir_read_name (d)) != NULL; n++)
      ck_assert_msg (name[0] != '.', "left over: %s/%s", sub, name);
    g_dir_close (d);
    ck_assert_uint_eq (n, PER_CLASS * g_strv_length ((gchar **) labels_of (modalities[m])));
  }
}
END_TEST

START_TEST (test_query_database_split)
{
  g_autoptr (GPtrArray) all = manifest (dir_a, "manifest.csv");
  g_autoptr (GPtrArray) query = manifest (dir_a, "query.csv");
  g_autoptr (GPtrArray) database = manifest (dir_a, "database.csv");
  g_autofree gchar *qh = g_strjoinv (",", query->pdata[0]);
  g_autofree gchar *dh = g_strjoinv (",", database->pdata[0]);
  ck_assert_str_eq (qh, "path,modality,label");
  ck_assert_str_eq (dh, "path,modality,label");
  ck_assert_uint_eq (query->len - 1 + database->len - 1, all->len - 1);
  guint qi = 1, di = 1;
  for (guint i = 1; i < all->len; i++) {
    gchar **f = all->pdata[i];
    GPtrArray *side = strcmp (f[3], "query") == 0 ? query : database;
    guint *at = side == query ? &qi : &di;
    gchar **g = side->pdata[(*at)++];
    ck_assert_uint_eq (g_strv_length (g), 3);
    for (guint k = 0; k < 3; k++)
      ck_assert_str_eq (f[k], g[k]);
  }
}
END_TEST

static void
assert_same_files (const gchar *x, const gchar *y, gboolean same)
{
  g_autoptr (GPtrArray) rows = manifest (x, "manifest.csv");
  for (guint i = 1; i < rows->len; i++) {
    const gchar *path = ((gchar **) rows->pdata[i])[0];
    g_autoptr (GBytes) bx = synth_read_file (x, path);
    g_autoptr (GBytes) by = synth_read_file (y, path);
    ck_assert_msg (g_bytes_equal (bx, by) == same, "%s: %s", path,
                   same ? "differs for the same seed" : "identical for another seed");
  }
}

START_TEST (test_same_seed_same_bytes)
{
  assert_same_files (dir_a, dir_b, TRUE);
  const gchar *csv[] = { "manifest.csv", "query.csv", "database.csv" };
  for (guint i = 0; i < G_N_ELEMENTS (csv); i++) {
    g_autoptr (GBytes) x = synth_read_file (dir_a, csv[i]);
    g_autoptr (GBytes) y = synth_read_file (dir_b, csv[i]);
    ck_assert_msg (g_bytes_equal (x, y), "%s differs", csv[i]);
  }
}
END_TEST

START_TEST (test_mpeg4_same_bytes)
{
  g_autoptr (GPtrArray) rows = manifest (dir_e, "manifest.csv");
  ck_assert_uint_eq (rows->len - 1, 4 * PER_CLASS);
  for (guint i = 1; i < rows->len; i++)
    ck_assert_msg (g_str_has_suffix (((gchar **) rows->pdata[i])[0], ".avi"), "%s",
                   ((gchar **) rows->pdata[i])[0]);
  assert_same_files (dir_e, dir_f, TRUE);
}
END_TEST

START_TEST (test_other_seed_other_bytes)
{
  assert_same_files (dir_a, dir_c, FALSE);
}
END_TEST

START_TEST (test_subset_same_bytes)
{
  /* A file depends on its own sample only, not on which other modalities were asked for. */
  g_autoptr (GPtrArray) rows = manifest (dir_d, "manifest.csv");
  ck_assert_uint_eq (rows->len - 1, 2 * 5 * PER_CLASS);
  for (guint i = 1; i < rows->len; i++) {
    const gchar *modality = ((gchar **) rows->pdata[i])[1];
    ck_assert_msg (strcmp (modality, "ct") == 0 || strcmp (modality, "xray") == 0, "%s", modality);
  }
  assert_same_files (dir_d, dir_a, TRUE);
  g_autofree gchar *us = g_build_filename (dir_d, "ultrasound", NULL);
  ck_assert (!g_file_test (us, G_FILE_TEST_EXISTS));
}
END_TEST

/* Bad arguments: a non-zero exit, exactly one line on stderr naming the problem, nothing written. */
static void
assert_refused (const gchar *out, const gchar *needle, const gchar *a1, const gchar *a2)
{
  g_autofree gchar *err = NULL, *stdout_text = NULL;
  gint status = out ? synth_spawn (&stdout_text, &err, "--out", out, "--size", "32", a1, a2, NULL)
                    : synth_spawn (&stdout_text, &err, a1, a2, NULL);
  ck_assert_msg (status > 0, "exit status %d for %s %s", status, a1, a2);
  ck_assert_msg (g_str_has_suffix (err, "\n") && strchr (err, '\n') == err + strlen (err) - 1,
                 "not one line: '%s'", err);
  ck_assert_msg (strstr (err, needle) != NULL, "'%s' does not mention '%s'", err, needle);
  ck_assert_str_eq (stdout_text, "");
}

START_TEST (test_bad_arguments)
{
  g_autofree gchar *fresh = g_build_filename (tmp, "never", NULL);
  assert_refused (fresh, "per-class", "--per-class", "0");
  assert_refused (fresh, "per-class", "--per-class", "-3");
  assert_refused (fresh, "'dicom'", "--modalities", "xray,dicom");
  assert_refused (fresh, "size", "--size", "40");
  assert_refused (fresh, "cine", "--cine", "9");
  assert_refused (fresh, "'vp9'", "--video-codec", "vp9");
  assert_refused (fresh, "seed", "--seed", "abc");
  assert_refused (fresh, "stray", "stray", NULL);
  assert_refused (NULL, "--out", "--per-class", "2");
  ck_assert_msg (!g_file_test (fresh, G_FILE_TEST_EXISTS), "a refused run created %s", fresh);

  /* An --out under a regular file can never be made. */
  g_autofree gchar *file = g_build_filename (tmp, "plain-file", NULL);
  ck_assert (g_file_set_contents (file, "x", 1, NULL));
  g_autofree gchar *under = g_build_filename (file, "data", NULL);
  assert_refused (under, "plain-file", "--per-class", "1");
}
END_TEST

/* `m3ret synth` runs the generator program; a missing one is named, with
 * the variable that points at another. */
START_TEST (test_generator_missing)
{
  g_autofree gchar *fresh = g_build_filename (tmp, "never-generated", NULL);
  g_autofree gchar *saved = g_strdup (g_getenv ("M3RET_SYNTH"));
  g_autofree gchar *absent = g_build_filename (tmp, "no-such-m3ret-synth", NULL);
  g_setenv ("M3RET_SYNTH", absent, TRUE);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "synth", "--out", fresh, NULL);
  g_setenv ("M3RET_SYNTH", saved, TRUE);
  ck_assert_int_eq (r.status, 1);
  ck_assert_msg (strstr (r.err, absent) != NULL && strstr (r.err, "M3RET_SYNTH") != NULL,
                 "%s", r.err);
  ck_assert_uint_eq (m3ret_check_count_lines (r.err), 1);
  ck_assert (!g_file_test (fresh, G_FILE_TEST_EXISTS));
  m3ret_check_run_clear (&r);
}
END_TEST

START_TEST (test_api_modalities)
{
  guint mask = 0;
  GError *error = NULL;
  ck_assert (m3ret_synth_parse_modalities ("ct, mri", &mask, &error));
  ck_assert_uint_eq (mask, (1u << M3RET_SYNTH_CT) | (1u << M3RET_SYNTH_MRI));
  ck_assert (!m3ret_synth_parse_modalities ("ct,XRAY", &mask, &error));
  ck_assert (g_error_matches (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_ARGUMENT));
  ck_assert_ptr_nonnull (strstr (error->message, "XRAY"));
  g_clear_error (&error);
  ck_assert (!m3ret_synth_parse_modalities ("", &mask, &error));
  g_clear_error (&error);
  for (guint m = 0; m < M3RET_SYNTH_N_MODALITIES; m++)
    ck_assert_str_eq (m3ret_synth_modality_name (m), modalities[m]);
}
END_TEST

START_TEST (test_api_rejects_options)
{
  M3retSynthOptions opts;
  m3ret_synth_options_init (&opts);
  ck_assert_uint_eq (opts.per_class, 8);
  ck_assert_uint_eq (opts.size, 64);
  g_autofree gchar *out = g_build_filename (tmp, "api", NULL);
  opts.out_dir = out;
  const struct { guint per_class, size, frames, cine, modalities; } bad[] = {
    { 0, 64, 16, 0, M3RET_SYNTH_ALL_MODALITIES }, { 1, 24, 16, 0, M3RET_SYNTH_ALL_MODALITIES },
    { 1, 72, 16, 0, M3RET_SYNTH_ALL_MODALITIES }, { 1, 64, 1, 0, M3RET_SYNTH_ALL_MODALITIES },
    { 2, 64, 16, 3, M3RET_SYNTH_ALL_MODALITIES }, { 1, 64, 16, 0, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    opts.per_class = bad[i].per_class;
    opts.size = bad[i].size;
    opts.frames = bad[i].frames;
    opts.cine = bad[i].cine;
    opts.modalities = bad[i].modalities;
    GError *error = NULL;
    ck_assert_msg (!m3ret_synth_run (&opts, NULL, &error), "case %u accepted", i);
    ck_assert (g_error_matches (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_ARGUMENT));
    g_error_free (error);
  }
  ck_assert (!g_file_test (out, G_FILE_TEST_EXISTS));
}
END_TEST

static Suite *
synth_suite (void)
{
  Suite *s = suite_create ("synth");
  TCase *tc = tcase_create ("dataset");
  tcase_add_unchecked_fixture (tc, setup_datasets, teardown_datasets);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_manifest_well_formed);
  tcase_add_test (tc, test_query_database_split);
  tcase_add_test (tc, test_same_seed_same_bytes);
  tcase_add_test (tc, test_other_seed_other_bytes);
  tcase_add_test (tc, test_mpeg4_same_bytes);
  tcase_add_test (tc, test_subset_same_bytes);
  tcase_add_test (tc, test_bad_arguments);
  tcase_add_test (tc, test_generator_missing);
  tcase_add_test (tc, test_api_modalities);
  tcase_add_test (tc, test_api_rejects_options);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = synth_suite)
