/* test-plugin-path.c — plugins load only from the search path.
 *
 * Empty entries of a ':'-separated path are no folder (never "."), relative
 * ones become absolute, the current folder is never scanned unless listed,
 * the dynamic linker gets absolute paths only, and a pipeline naming a
 * plugin file outside the search path is refused (file, line, key and how
 * to allow it) until --plugin-path lists its folder. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "m3ret-check.h"

static gchar *
build_path (const gchar *first, ...) G_GNUC_NULL_TERMINATED;

/* M3RET_TOP_BUILDDIR/@first/... */
static gchar *
build_path (const gchar *first, ...)
{
  va_list ap;
  va_start (ap, first);
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  g_ptr_array_add (parts, (gpointer) g_getenv ("M3RET_TOP_BUILDDIR"));
  for (const gchar *p = first; p; p = va_arg (ap, const gchar *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((gchar **) parts->pdata);
}

static gchar *
flat_module (void)
{
  return build_path ("retrievers", ".libs", "m3ret-flat." G_MODULE_SUFFIX, NULL);
}

START_TEST (test_search_path_entries)
{
  g_autofree gchar *cwd = g_get_current_dir ();
  g_setenv (M3RET_PLUGIN_PATH_ENV, "::rel/a::/abs/b:", TRUE);
  g_setenv (M3RET_PLUGIN_SYSTEM_PATH_ENV, "", TRUE);
  const gchar *extra[] = { "x:", "", NULL };
  g_auto (GStrv) dirs = m3ret_registry_search_path (extra);
  g_autofree gchar *x = g_build_filename (cwd, "x", NULL);
  g_autofree gchar *rel = g_build_filename (cwd, "rel", "a", NULL);
  ck_assert_uint_eq (g_strv_length (dirs), 3);
  ck_assert_str_eq (dirs[0], x);
  ck_assert_str_eq (dirs[1], rel);
  ck_assert_str_eq (dirs[2], "/abs/b");
}
END_TEST

/* Scanning from inside a plugin folder finds nothing unless it is listed. */
START_TEST (test_current_folder_not_scanned)
{
  g_autofree gchar *folder = build_path ("retrievers", ".libs", NULL);
  ck_assert_int_eq (g_chdir (folder), 0);
  g_setenv (M3RET_PLUGIN_SYSTEM_PATH_ENV, "", TRUE);
  const gchar *paths[] = { NULL, "", ":", "::", "." };
  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    if (paths[i] == NULL)
      g_unsetenv (M3RET_PLUGIN_PATH_ENV);
    else
      g_setenv (M3RET_PLUGIN_PATH_ENV, paths[i], TRUE);
    M3retRegistry *registry = m3ret_registry_new ();
    guint found = m3ret_registry_scan (registry, NULL);
    const M3retPlugin *flat = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, "flat");
    if (i + 1 < G_N_ELEMENTS (paths)) {
      ck_assert_msg (found == 0, "M3RET_PLUGIN_PATH='%s' scanned the current folder",
                     paths[i] ? paths[i] : "(unset)");
    } else {
      /* "." listed on purpose: scanned, and the file recorded absolute. */
      ck_assert (flat != NULL);
      g_autofree gchar *want = flat_module ();
      ck_assert_str_eq (m3ret_plugin_get_filename (flat), want);
    }
    m3ret_registry_free (registry);
  }
}
END_TEST

/* A relative file name is opened from the current folder, never searched for. */
START_TEST (test_load_file_is_absolute)
{
  g_autofree gchar *folder = build_path ("retrievers", ".libs", NULL);
  g_autofree gchar *elsewhere = m3ret_check_tmpdir ();
  const gchar *bare = "m3ret-flat." G_MODULE_SUFFIX;
  ck_assert_int_eq (g_chdir (elsewhere), 0);
  M3retRegistry *registry = m3ret_registry_new ();
  GError *error = NULL;
  ck_assert (m3ret_registry_load_file (registry, bare, &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_CANNOT_OPEN));
  ck_assert_msg (strstr (error->message, "no such file") != NULL, "%s", error->message);
  g_clear_error (&error);
  ck_assert_int_eq (g_chdir (folder), 0);
  const M3retPlugin *flat = m3ret_registry_load_file (registry, bare, &error);
  ck_assert_msg (flat != NULL, "%s", error ? error->message : "");
  ck_assert (g_path_is_absolute (m3ret_plugin_get_filename (flat)));
  m3ret_registry_free (registry);
  m3ret_check_rmtree (elsewhere);
}
END_TEST

static const gchar *pipeline_text = "[pipeline]\nthreads=1\n"
                                    "[encoder]\npreset=micro\n"
                                    "[retriever]\nplugin=%s\n";

/* A folder with a pipeline naming @value, and a copy of the flat plugin in
 * its subfolder extra/ (outside the search path). Returns (transfer full) it. */
static gchar *
make_pipeline (const gchar *value)
{
  gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *extra = g_build_filename (dir, "extra", NULL);
  ck_assert_int_eq (g_mkdir (extra, 0755), 0);
  g_autofree gchar *module = flat_module ();
  g_autofree gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (module, &bytes, &len, NULL));
  g_autofree gchar *copy = g_build_filename (extra, "m3ret-flat." G_MODULE_SUFFIX, NULL);
  ck_assert (g_file_set_contents (copy, bytes, (gssize) len, NULL));
  g_autofree gchar *ini = g_build_filename (dir, "p.ini", NULL);
  g_autofree gchar *text = g_strdup_printf (pipeline_text, value);
  ck_assert (g_file_set_contents (ini, text, -1, NULL));
  return dir;
}

START_TEST (test_pipeline_plugin_inside_path)
{
  /* The very file the search path loaded, by absolute and by relative name. */
  g_autofree gchar *module = flat_module ();
  g_autofree gchar *dir = make_pipeline (module);
  g_autofree gchar *ini = g_build_filename (dir, "p.ini", NULL);
  M3retRegistry *registry = m3ret_check_registry ();
  GError *error = NULL;
  M3retPipeline *p = m3ret_pipeline_load (registry, ini, &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  const M3retPlugin *flat = m3ret_pipeline_get_plugin (p, M3RET_PLUGIN_RETRIEVER);
  ck_assert_str_eq (m3ret_plugin_get_desc (flat)->name, "flat");
  m3ret_pipeline_free (p);
  g_autofree gchar *link = g_build_filename (dir, "lib", NULL);
  g_autofree gchar *folder = g_path_get_dirname (module);
  ck_assert_int_eq (symlink (folder, link), 0);
  g_autofree gchar *text = g_strdup_printf (pipeline_text, "lib/m3ret-flat." G_MODULE_SUFFIX);
  ck_assert (g_file_set_contents (ini, text, -1, NULL));
  p = m3ret_pipeline_load (registry, ini, &error);
  ck_assert_msg (p != NULL, "%s", error ? error->message : "");
  m3ret_pipeline_free (p);
  /* A plugin file of another kind is refused as such. */
  g_autofree gchar *wrong = g_strdup_printf ("[pipeline]\nbackend=%s\n", module);
  ck_assert (g_file_set_contents (ini, wrong, -1, NULL));
  ck_assert (m3ret_pipeline_load (registry, ini, &error) == NULL);
  ck_assert_msg (strstr (error->message, "p.ini:2: [pipeline] backend=") != NULL &&
                 strstr (error->message, "not a backend") != NULL, "%s", error->message);
  g_clear_error (&error);
  m3ret_registry_free (registry);
  m3ret_check_rmtree (dir);
}
END_TEST

START_TEST (test_pipeline_plugin_outside_path)
{
  g_autofree gchar *dir = make_pipeline ("extra/m3ret-flat." G_MODULE_SUFFIX);
  g_autofree gchar *ini = g_build_filename (dir, "p.ini", NULL);
  g_autofree gchar *extra = g_build_filename (dir, "extra", NULL);
  M3retRegistry *registry = m3ret_check_registry ();
  GError *error = NULL;
  ck_assert (m3ret_pipeline_load (registry, ini, &error) == NULL);
  g_autofree gchar *where = g_strdup_printf ("%s:6: [retriever] plugin=extra/m3ret-flat", ini);
  g_autofree gchar *how = g_strdup_printf ("--plugin-path %s", extra);
  ck_assert_msg (strstr (error->message, where) != NULL && strstr (error->message, how) != NULL,
                 "%s", error->message);
  g_clear_error (&error);
  m3ret_registry_free (registry);

  /* The command says the same in one line; --plugin-path allows it. */
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "validate", ini, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert_uint_eq (m3ret_check_count_lines (r.err), 1);
  ck_assert_msg (strstr (r.err, where) && strstr (r.err, how), "%s", r.err);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "validate", ini, "--plugin-path", extra, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  m3ret_check_rmtree (dir);
}
END_TEST

static Suite *
plugin_path_suite (void)
{
  Suite *s = suite_create ("plugin-path");
  TCase *tc = tcase_create ("plugin-path");
  tcase_add_test (tc, test_search_path_entries);
  tcase_add_test (tc, test_current_folder_not_scanned);
  tcase_add_test (tc, test_load_file_is_absolute);
  tcase_add_test (tc, test_pipeline_plugin_inside_path);
  tcase_add_test (tc, test_pipeline_plugin_outside_path);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = plugin_path_suite)
