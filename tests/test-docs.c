/* test-docs.c — what a user reads says what the code does: docs/PIPELINE.md's
 * key tables, docs/METRICS.md's worked example, the README's build-tree
 * plugin path, links, the example pipelines' comments, and the text of
 * `m3ret plugins`. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "m3ret-check.h"
#include "m3ret-metrics.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retRegistry, m3ret_registry_free)

/* (transfer full) a file of the source tree, from the top folder. */
static gchar *
top_file (const gchar *name)
{
  return g_build_filename (g_getenv ("M3RET_TEST_SRCDIR"), "..", name, NULL);
}

static gchar *
read_top_file (const gchar *name)
{
  g_autofree gchar *path = top_file (name);
  gchar *text = NULL;
  GError *error = NULL;
  ck_assert_msg (g_file_get_contents (path, &text, NULL, &error), "%s",
                 error ? error->message : "");
  return text;
}

/* The first line where @a and @b differ, for a message. */
static gchar *
first_difference (const gchar *a, const gchar *b)
{
  g_auto (GStrv) la = g_strsplit (a, "\n", -1), lb = g_strsplit (b, "\n", -1);
  for (guint i = 0;; i++) {
    if (la[i] == NULL || lb[i] == NULL || strcmp (la[i], lb[i]) != 0)
      return g_strdup_printf ("line %u: file '%s', generated '%s'", i + 1, la[i] ? la[i] : "(end)",
                              lb[i] ? lb[i] : "(end)");
  }
}

START_TEST (test_pipeline_doc_is_current)
{
  g_autofree gchar *doc = top_file ("docs/PIPELINE.md");
  g_autofree gchar *tool =
    g_build_filename (g_getenv ("M3RET_TEST_BUILDDIR"), "pipeline-doc", NULL);
  const gchar *argv[] = { tool, doc, NULL };
  g_autofree gchar *out = NULL, *err = NULL;
  gint status;
  GError *error = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, &error), "%s", error ? error->message : "");
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "pipeline-doc: %s", err);
  g_autofree gchar *text = read_top_file ("docs/PIPELINE.md");
  g_autofree gchar *where = first_difference (text, out);
  ck_assert_msg (strcmp (text, out) == 0,
                 "docs/PIPELINE.md is not what the key declarations say (%s): run "
                 "`make -C tests update-docs` and commit the result", where);
}
END_TEST

/* docs/METRICS.md's worked example, scored by the code: two queries, a
 * database of six, K = 1 and 3, every column the evaluation fills. */
START_TEST (test_metrics_worked_example)
{
  const gchar *db_labels[] = { "chest", "knee", "chest", "chest", "knee", "chest" };
  const gchar *q_labels[] = { "chest", "knee" };
  const gchar *q_rows[] = { "xray", "ct" };
  const guint ks[] = { 1, 3 };
  g_autoptr (M3retMetricsTable) t = m3ret_metrics_table_new (ks, 2);
  GError *error = NULL;
  /* The whole database; query 0 is database item 0 and the search left it out. */
  const gint64 all_ids[] = { 2, 1, 5, 2, 4, 1 };
  const gfloat all_scores[] = { 0.9f, 0.8f, 0.7f, 0.9f, 0.8f, 0.7f };
  const gint64 all_self[] = { 0, -1 };
  ck_assert (m3ret_metrics_table_add (t, M3RET_METRICS_ALL, 2, 3, all_ids, all_scores, q_labels,
                                      q_rows, all_self, db_labels, 6, &error));
  /* The X-ray database: items 0, 1, 5 as 0, 1, 2; it holds only two
   * results for query 0 besides itself. */
  const gchar *xray_labels[] = { "chest", "knee", "chest" };
  const gint64 xray_ids[] = { 1, 2, -1, 1, 0, 2 };
  const gfloat xray_scores[] = { 0.8f, 0.7f, 0.0f, 0.7f, 0.6f, 0.5f };
  const gint64 xray_self[] = { 0, -1 };
  ck_assert (m3ret_metrics_table_add (t, "xray", 2, 3, xray_ids, xray_scores, q_labels, q_rows,
                                      xray_self, xray_labels, 3, &error));
  /* The CT database: items 2, 3, 4 as 0, 1, 2. */
  const gchar *ct_labels[] = { "chest", "chest", "knee" };
  const gint64 ct_ids[] = { 0, 1, 2, 0, 2, 1 };
  const gfloat ct_scores[] = { 0.9f, 0.6f, 0.5f, 0.9f, 0.8f, 0.4f };
  ck_assert (m3ret_metrics_table_add (t, "ct", 2, 3, ct_ids, ct_scores, q_labels, q_rows, NULL,
                                      ct_labels, 3, &error));
  M3retMetricsCell cell;
  ck_assert (m3ret_metrics_table_get (t, M3RET_METRICS_ALL, M3RET_METRICS_ALL, &cell));
  ck_assert_double_eq_tol (cell.map[1], (5.0 / 9 + 7.0 / 12) / 2, 1e-12);

  gchar *printed = NULL;
  gsize size = 0;
  FILE *f = open_memstream (&printed, &size);
  m3ret_metrics_table_print (t, f);
  fclose (f);
  g_autofree gchar *output = printed;
  g_autofree gchar *doc = read_top_file ("docs/METRICS.md");
  const gchar *mark =
    strstr (doc, "<!-- m3ret_metrics_table_print of the worked example -->\n```\n");
  ck_assert_msg (mark != NULL, "docs/METRICS.md lost the marker of its example's output");
  const gchar *body = strchr (strchr (mark, '\n') + 1, '\n') + 1;
  const gchar *end = strstr (body, "```\n");
  ck_assert (end != NULL);
  g_autofree gchar *shown = g_strndup (body, end - body);
  g_autofree gchar *where = first_difference (shown, output);
  ck_assert_msg (strcmp (shown, output) == 0, "docs/METRICS.md shows another output (%s)", where);
}
END_TEST

/* The README's line for running from a build tree names folders that
 * hold the plugins. */
START_TEST (test_readme_build_tree_path)
{
  g_autofree gchar *readme = read_top_file ("README.md");
  const gchar *line = strstr (readme, "\nexport M3RET_PLUGIN_PATH=");
  ck_assert_msg (line != NULL, "README.md lost its build-tree M3RET_PLUGIN_PATH line");
  line += strlen ("\nexport M3RET_PLUGIN_PATH=");
  g_autofree gchar *value = g_strndup (line, strcspn (line, "\n"));
  g_auto (GStrv) folders = g_strsplit (value, ":", -1);
  guint found = 0;
  for (gchar **d = folders; *d; d++) {
    /* "$PWD/modalities/.libs": relative to the top build folder */
    const gchar *rel = g_str_has_prefix (*d, "$PWD/") ? *d + 5 : *d;
    g_autofree gchar *dir = g_build_filename (g_getenv ("M3RET_TOP_BUILDDIR"), rel, NULL);
    g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
    ck_assert_msg (listing != NULL, "README's plugin folder %s does not exist", dir);
    const gchar *name;
    guint here = 0;
    while ((name = g_dir_read_name (listing)) != NULL)
      here += g_str_has_prefix (name, "m3ret-") && g_str_has_suffix (name, "." G_MODULE_SUFFIX);
    ck_assert_msg (here > 0, "README's plugin folder %s holds no plugin", dir);
    found += here;
  }
  g_autoptr (M3retRegistry) registry = m3ret_check_registry ();
  g_autoptr (GPtrArray) all = m3ret_registry_list (registry, M3RET_PLUGIN_N_KINDS);
  ck_assert_uint_eq (found, all->len);
}
END_TEST

static gboolean
is_text_source (const gchar *name)
{
  static const gchar *const suffixes[] = { ".c", ".h", ".cc", ".cpp", ".md", ".am", ".ac", ".sh",
                                           ".ini", ".in", NULL };
  for (const gchar *const *s = suffixes; *s; s++)
    if (g_str_has_suffix (name, *s))
      return TRUE;
  return g_str_equal (name, "run") || g_str_equal (name, "setup.sh");
}

/* Files of @dir (recursively) that name a document users do not have. */
static void
scan_for_private_docs (const gchar *dir, const gchar *const *needles, GString *hits)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  if (listing == NULL)
    return;
  const gchar *name;
  while ((name = g_dir_read_name (listing)) != NULL) {
    g_autofree gchar *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
      continue;
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      /* build outputs, fuzz inputs, another copy of the tree */
      gboolean skip = name[0] == '.' ? strcmp (name, ".ci") != 0
                      : g_str_has_prefix (name, "fuzz-build") || g_str_has_prefix (name, "ci-") ||
                          strcmp (name, "corpus") == 0 || strcmp (name, "regressions") == 0 ||
                          g_str_has_prefix (name, "m3ret-") || g_str_has_prefix (name, "demo-");
      if (skip)
        continue;
      scan_for_private_docs (path, needles, hits);
      continue;
    }
    if (!is_text_source (name))
      continue;
    g_autofree gchar *text = NULL;
    if (!g_file_get_contents (path, &text, NULL, NULL))
      continue;
    for (const gchar *const *n = needles; *n; n++)
      if (strstr (text, *n) != NULL)
        g_string_append_printf (hits, " %s (%s)", path, *n);
  }
}

START_TEST (test_no_private_docs)
{
  /* Spelled apart so that this file does not match itself. */
  g_autofree gchar *design = g_strconcat ("DESIGN", ".md", NULL);
  g_autofree gchar *platform = g_strconcat ("PLATFORM", ".md", NULL);
  const gchar *const needles[] = { design, platform, NULL };
  g_autofree gchar *top = top_file ("");
  g_autoptr (GString) hits = g_string_new (NULL);
  scan_for_private_docs (top, needles, hits);
  ck_assert_msg (hits->len == 0, "documents a user does not have are cited in:%s", hits->str);
}
END_TEST

/* Every relative link of @doc (a file of the top folder) reaches a file. */
static void
check_links (const gchar *doc, GString *broken)
{
  g_autofree gchar *path = top_file (doc);
  g_autofree gchar *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  g_autofree gchar *dir = g_path_get_dirname (path);
  for (const gchar *p = text; (p = strstr (p, "](")) != NULL; p += 2) {
    const gchar *start = p + 2;
    g_autofree gchar *target = g_strndup (start, strcspn (start, ")# \n"));
    if (*target == '\0' || strstr (target, "://") != NULL || g_str_has_prefix (target, "mailto:"))
      continue;
    g_autofree gchar *file = g_build_filename (dir, target, NULL);
    if (!g_file_test (file, G_FILE_TEST_EXISTS))
      g_string_append_printf (broken, " %s→%s", doc, target);
  }
}

START_TEST (test_links_resolve)
{
  static const gchar *const docs[] = {
    "README.md", "docs/PIPELINE.md", "docs/METRICS.md", "docs/GRID.md", "docs/PLATFORM-NOTES.md",
    "docs/PERFORMANCE.md", "modalities/README.md", "backends/README.md", "objectives/README.md",
    "retrievers/README.md", "tests/README.md", "docs/SERVE.md", NULL
  };
  g_autoptr (GString) broken = g_string_new (NULL);
  for (const gchar *const *d = docs; *d; d++) {
    g_autofree gchar *path = top_file (*d);
    ck_assert_msg (g_file_test (path, G_FILE_TEST_EXISTS), "%s is missing", *d);
    check_links (*d, broken);
  }
  ck_assert_msg (broken->len == 0, "links to nothing:%s", broken->str);
}
END_TEST

/* The keys of @group that differ between two key files, as "a,b". */
static gchar *
differing_keys (GKeyFile *a, GKeyFile *b, const gchar *group)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_auto (GStrv) ka = g_key_file_get_keys (a, group, NULL, NULL);
  g_auto (GStrv) kb = g_key_file_get_keys (b, group, NULL, NULL);
  for (gint pass = 0; pass < 2; pass++)
    for (gchar **k = pass ? kb : ka; k && *k; k++) {
      g_autofree gchar *va = g_key_file_get_value (a, group, *k, NULL);
      g_autofree gchar *vb = g_key_file_get_value (b, group, *k, NULL);
      if (g_strcmp0 (va, vb) != 0 && (pass == 0 || va == NULL))
        g_string_append_printf (out, "%s%s", out->len ? "," : "", *k);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* What the SimDINO examples' comments say: "<mae>.ini with the SimDINO
 * objective: only [objective] and, in [train], lr and clip_grad differ". */
static void
check_pair (const gchar *mae, const gchar *simdino)
{
  g_autofree gchar *pa = top_file (mae), *pb = top_file (simdino);
  g_autoptr (GKeyFile) a = g_key_file_new ();
  g_autoptr (GKeyFile) b = g_key_file_new ();
  ck_assert (g_key_file_load_from_file (a, pa, G_KEY_FILE_NONE, NULL));
  ck_assert (g_key_file_load_from_file (b, pb, G_KEY_FILE_NONE, NULL));
  g_autofree gchar *text = read_top_file (simdino);
  g_autofree gchar *base = g_path_get_basename (mae);
  g_autofree gchar *claim = g_strdup_printf ("# %s with the SimDINO objective", base);
  ck_assert_msg (strstr (text, claim) != NULL, "%s does not say '%s'", simdino, claim);
  g_auto (GStrv) ga = g_key_file_get_groups (a, NULL);
  g_auto (GStrv) gb = g_key_file_get_groups (b, NULL);
  ck_assert_uint_eq (g_strv_length (ga), g_strv_length (gb));
  for (gchar **g = ga; *g; g++) {
    ck_assert_msg (g_key_file_has_group (b, *g), "%s has no [%s]", simdino, *g);
    if (strcmp (*g, "objective") == 0)
      continue;
    g_autofree gchar *keys = differing_keys (a, b, *g);
    ck_assert_msg (strcmp (keys, strcmp (*g, "train") == 0 ? "lr,clip_grad" : "") == 0,
                   "%s and %s differ in [%s] %s", mae, simdino, *g, keys);
  }
}

START_TEST (test_example_pairs)
{
  check_pair ("examples/mae-micro.ini", "examples/simdino-micro.ini");
  check_pair ("examples/mae-tiny.ini", "examples/simdino-tiny.ini");
}
END_TEST

START_TEST (test_ranges_print_as_numbers)
{
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "plugins", "hnsw", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_msg (strstr (r.out, "[0, 4294967295]") != NULL, "%s", r.out);
  m3ret_check_run_clear (&r);
  /* No integer key of any plugin prints its range in exponent form. */
  g_autoptr (M3retRegistry) registry = m3ret_check_registry ();
  g_autoptr (GPtrArray) all = m3ret_registry_list (registry, M3RET_PLUGIN_N_KINDS);
  for (guint i = 0; i < all->len; i++) {
    const M3retPluginDesc *d = m3ret_plugin_get_desc (all->pdata[i]);
    r = m3ret_check_m3ret (TRUE, "plugins", d->name, NULL);
    ck_assert_msg (r.status == 0, "%s", r.err);
    for (const M3retKeySpec *k = d->keys; k && k->name; k++) {
      if (k->type != M3RET_KEY_INT && k->type != M3RET_KEY_INT_LIST)
        continue;
      g_autofree gchar *range = m3ret_key_describe_range (k);
      ck_assert_msg (strchr (range, 'e') == NULL && strstr (r.out, range) != NULL,
                     "%s %s: '%s' in\n%s", d->name, k->name, range, r.out);
    }
    m3ret_check_run_clear (&r);
  }
  /* An unbounded side says so; a double keeps %g. */
  M3retKeySpec above = M3RET_KEY_INT_SPEC ("n", "1", 1, M3RET_KEY_UNBOUNDED, "");
  g_autofree gchar *text = m3ret_key_describe_range (&above);
  ck_assert_str_eq (text, ">= 1");
  M3retKeySpec any =
    M3RET_KEY_DOUBLE_SPEC ("x", "0", -M3RET_KEY_UNBOUNDED, M3RET_KEY_UNBOUNDED, "");
  g_autofree gchar *any_text = m3ret_key_describe_range (&any);
  ck_assert_str_eq (any_text, "any number");
  M3retKeySpec small = M3RET_KEY_DOUBLE_SPEC ("x", "1", 1e-6, 1e6, "");
  g_autofree gchar *small_text = m3ret_key_describe_range (&small);
  ck_assert_str_eq (small_text, "[1e-06, 1e+06]");
}
END_TEST

/* A help line that ends in "divided by" was cut short. */
static void
check_helps (const gchar *owner, const M3retKeySpec *keys)
{
  static const gchar *const dangling[] = { " by", " of", " to", " with", " in", " for", " and",
                                           " or", " the", " a", " from", " is", NULL };
  for (const M3retKeySpec *k = keys; k && k->name; k++) {
    ck_assert_msg (k->help != NULL && *k->help != '\0', "%s %s has no help", owner, k->name);
    for (const gchar *const *w = dangling; *w; w++)
      ck_assert_msg (!g_str_has_suffix (k->help, *w), "%s %s: help cut short: '%s'", owner,
                     k->name, k->help);
  }
}

START_TEST (test_help_is_whole)
{
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "plugins", "xray", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_msg (strstr (r.out, "per-channel standard deviation the value is then divided by: "
                                "(v - mean) / std\n") != NULL, "%s", r.out);
  m3ret_check_run_clear (&r);
  g_autoptr (M3retRegistry) registry = m3ret_check_registry ();
  g_autoptr (GPtrArray) all = m3ret_registry_list (registry, M3RET_PLUGIN_N_KINDS);
  for (guint i = 0; i < all->len; i++) {
    const M3retPluginDesc *d = m3ret_plugin_get_desc (all->pdata[i]);
    check_helps (d->name, d->keys);
  }
  for (const gchar *const *g = m3ret_pipeline_core_groups (); *g; g++)
    check_helps (*g, m3ret_pipeline_core_keys (*g));
}
END_TEST

START_TEST (test_cpu_describes_its_kernels)
{
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "plugins", "cpu", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  const gchar *line = strstr (r.out, "Description  ");
  ck_assert (line != NULL);
  g_autofree gchar *description = g_strndup (line, strcspn (line, "\n"));
  ck_assert_msg (strstr (description, "own AVX-512 or AVX2 sgemm (else OpenBLAS)") &&
                 strstr (description, "AVX-512/AVX2/generic"), "%s", description);
  m3ret_check_run_clear (&r);
}
END_TEST

START_TEST (test_empty_plugin_folder)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  M3retCheckRun r = m3ret_check_m3ret (FALSE, "plugins", "--plugin-path", dir, NULL);
  ck_assert_int_eq (r.status, 0);
  g_autofree gchar *note = g_strdup_printf ("m3ret: %s: no m3ret plugins in this folder\n", dir);
  ck_assert_msg (g_str_equal (r.err, note), "%s", r.err);
  ck_assert (strstr (r.out, "0 plugins") != NULL);
  m3ret_check_run_clear (&r);

  /* A build tree's source folder: its .libs holds them. */
  g_autofree gchar *libs = g_build_filename (dir, ".libs", NULL);
  ck_assert_int_eq (g_mkdir (libs, 0755), 0);
  g_autofree gchar *file = g_strdup_printf ("m3ret-cpu.%s", G_MODULE_SUFFIX);
  g_autofree gchar *src = g_build_filename (g_getenv ("M3RET_TOP_BUILDDIR"), "backends", ".libs",
                                            file, NULL);
  g_autofree gchar *dst = g_build_filename (libs, file, NULL);
  ck_assert_int_eq (symlink (src, dst), 0);
  r = m3ret_check_m3ret (FALSE, "plugins", "--plugin-path", dir, NULL);
  ck_assert_int_eq (r.status, 0);
  g_autofree gchar *hint = g_strdup_printf ("--plugin-path %s)", libs);
  ck_assert_msg (strstr (r.err, "no m3ret plugins in this folder; its .libs holds 1") &&
                 strstr (r.err, hint), "%s", r.err);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (FALSE, "plugins", "--plugin-path", libs, NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert_str_eq (r.err, "");
  ck_assert (strstr (r.out, "1 plugin\n") != NULL);
  m3ret_check_run_clear (&r);

  g_autofree gchar *missing = g_build_filename (dir, "nope", NULL);
  r = m3ret_check_m3ret (FALSE, "plugins", "--plugin-path", missing, NULL);
  g_autofree gchar *none = g_strdup_printf ("m3ret: %s: no such folder\n", missing);
  ck_assert_msg (r.status == 0 && g_str_equal (r.err, none), "%s", r.err);
  m3ret_check_run_clear (&r);
  m3ret_check_rmtree (dir);
}
END_TEST

static Suite *
docs_suite (void)
{
  Suite *s = suite_create ("docs");
  TCase *tc = tcase_create ("docs");
  tcase_add_test (tc, test_pipeline_doc_is_current);
  tcase_add_test (tc, test_metrics_worked_example);
  tcase_add_test (tc, test_readme_build_tree_path);
  tcase_add_test (tc, test_no_private_docs);
  tcase_add_test (tc, test_links_resolve);
  tcase_add_test (tc, test_example_pairs);
  tcase_add_test (tc, test_ranges_print_as_numbers);
  tcase_add_test (tc, test_help_is_whole);
  tcase_add_test (tc, test_cpu_describes_its_kernels);
  tcase_add_test (tc, test_empty_plugin_folder);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = docs_suite)
