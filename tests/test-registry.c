/* test-registry.c — loading good and broken plugins, each failure with its exact code. */
#include "config.h"

#include <glib/gstdio.h>
#include <unistd.h>

#include "m3ret-check.h"

static gchar *
test_module (const gchar *stem)
{
  const gchar *builddir = g_getenv ("M3RET_TEST_BUILDDIR");
  g_autofree gchar *file = g_strdup_printf ("m3ret-%s.%s", stem, G_MODULE_SUFFIX);
  return g_build_filename (builddir ? builddir : ".", ".libs", file, NULL);
}

/* Loads a test module and returns the error code (-1 when it loaded). */
static gint
load_code (M3retRegistry *registry, const gchar *stem)
{
  g_autofree gchar *path = test_module (stem);
  GError *error = NULL;
  const M3retPlugin *plugin = m3ret_registry_load_file (registry, path, &error);
  if (plugin != NULL) {
    ck_assert (error == NULL);
    return -1;
  }
  ck_assert (error != NULL);
  ck_assert (error->domain == M3RET_PLUGIN_ERROR);
  /* Every message names the file. */
  ck_assert_msg (strstr (error->message, path) != NULL, "message does not name the file: %s",
                 error->message);
  gint code = error->code;
  g_error_free (error);
  return code;
}

START_TEST (test_good_loads)
{
  M3retRegistry *registry = m3ret_registry_new ();
  ck_assert_int_eq (load_code (registry, "testgood"), -1);
  const M3retPlugin *p = m3ret_registry_lookup (registry, M3RET_PLUGIN_MODALITY, "testgood");
  ck_assert (p != NULL);
  const M3retPluginDesc *d = m3ret_plugin_get_desc (p);
  ck_assert_str_eq (d->version, "1.2.3");
  ck_assert_str_eq (d->keys[0].name, "gain");
  ck_assert (g_str_has_suffix (m3ret_plugin_get_filename (p), "m3ret-testgood." G_MODULE_SUFFIX));
  const M3retModalityVTable *vt = m3ret_plugin_get_vtable (p);
  ck_assert_uint_eq (vt->probe ("x.test", NULL, 0), 100);
  ck_assert_uint_eq (vt->probe ("x.png", NULL, 0), 0);
  /* Wrong kind: not found. */
  ck_assert (m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, "testgood") == NULL);
  ck_assert_uint_eq (m3ret_registry_get_failures (registry)->len, 0);
  m3ret_registry_free (registry);
}
END_TEST

START_TEST (test_wrong_abi)
{
  M3retRegistry *registry = m3ret_registry_new ();
  ck_assert_int_eq (load_code (registry, "testwrongabi"), M3RET_PLUGIN_ERROR_ABI_MISMATCH);
  ck_assert (m3ret_registry_lookup (registry, M3RET_PLUGIN_MODALITY, "testwrongabi") == NULL);
  m3ret_registry_free (registry);
}
END_TEST

START_TEST (test_no_descriptor)
{
  M3retRegistry *registry = m3ret_registry_new ();
  ck_assert_int_eq (load_code (registry, "testnodesc"), M3RET_PLUGIN_ERROR_NO_DESCRIPTOR);
  m3ret_registry_free (registry);
}
END_TEST

START_TEST (test_missing_entry)
{
  M3retRegistry *registry = m3ret_registry_new ();
  ck_assert_int_eq (load_code (registry, "testmissing"), M3RET_PLUGIN_ERROR_MISSING_ENTRY);
  m3ret_registry_free (registry);
}
END_TEST

START_TEST (test_init_fails)
{
  M3retRegistry *registry = m3ret_registry_new ();
  g_autofree gchar *path = test_module ("testinitfail");
  GError *error = NULL;
  ck_assert (m3ret_registry_load_file (registry, path, &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_INIT_FAILED));
  ck_assert (strstr (error->message, "the license file is missing") != NULL);
  g_error_free (error);
  m3ret_registry_free (registry);
}
END_TEST

START_TEST (test_duplicate)
{
  M3retRegistry *registry = m3ret_registry_new ();
  ck_assert_int_eq (load_code (registry, "testgood"), -1);
  ck_assert_int_eq (load_code (registry, "testgood"), M3RET_PLUGIN_ERROR_DUPLICATE_NAME);
  ck_assert_uint_eq (m3ret_registry_get_failures (registry)->len, 1);
  m3ret_registry_free (registry);
}
END_TEST

START_TEST (test_cannot_open)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "m3ret-garbage." G_MODULE_SUFFIX, NULL);
  ck_assert (g_file_set_contents (path, "this is not an ELF file", -1, NULL));
  M3retRegistry *registry = m3ret_registry_new ();
  GError *error = NULL;
  ck_assert (m3ret_registry_load_file (registry, path, &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_CANNOT_OPEN));
  g_error_free (error);
  m3ret_registry_free (registry);
  m3ret_check_rmtree (dir);
}
END_TEST

/* A folder holding every broken module and the good one: the scan keeps the
 * good one and records each failure; nothing takes the process down. */
START_TEST (test_scan_skips_broken)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  const gchar *stems[] = { "testgood", "testwrongabi", "testnodesc", "testmissing", "testinitfail" };
  for (guint i = 0; i < G_N_ELEMENTS (stems); i++) {
    g_autofree gchar *src = test_module (stems[i]);
    g_autofree gchar *base = g_path_get_basename (src);
    g_autofree gchar *dst = g_build_filename (dir, base, NULL);
    ck_assert_int_eq (symlink (src, dst), 0);
  }
  g_autofree gchar *junk = g_build_filename (dir, "m3ret-junk." G_MODULE_SUFFIX, NULL);
  ck_assert (g_file_set_contents (junk, "junk", -1, NULL));
  /* Not following the naming rule: ignored, not even a failure. */
  g_autofree gchar *other = g_build_filename (dir, "libother." G_MODULE_SUFFIX, NULL);
  ck_assert (g_file_set_contents (other, "junk", -1, NULL));

  g_unsetenv (M3RET_PLUGIN_PATH_ENV);
  M3retRegistry *registry = m3ret_registry_new ();
  const gchar *dirs[] = { dir, NULL };
  ck_assert_uint_eq (m3ret_registry_scan (registry, dirs), 1);
  ck_assert_uint_eq (m3ret_registry_get_failures (registry)->len, 5);
  g_autoptr (GPtrArray) list = m3ret_registry_list (registry, M3RET_PLUGIN_N_KINDS);
  ck_assert_uint_eq (list->len, 1);
  m3ret_registry_free (registry);
  m3ret_check_rmtree (dir);
}
END_TEST

START_TEST (test_search_order)
{
  g_setenv (M3RET_PLUGIN_PATH_ENV, "/env/a:/env/b", TRUE);
  g_setenv (M3RET_PLUGIN_SYSTEM_PATH_ENV, "/system", TRUE);
  const gchar *extra[] = { "/cli/one:/cli/two", "/cli/three", NULL };
  g_auto (GStrv) path = m3ret_registry_search_path (extra);
  const gchar *expected[] = { "/cli/one", "/cli/two", "/cli/three", "/env/a", "/env/b", "/system", NULL };
  ck_assert_uint_eq (g_strv_length (path), 6);
  for (guint i = 0; expected[i]; i++)
    ck_assert_str_eq (path[i], expected[i]);
  g_setenv (M3RET_PLUGIN_SYSTEM_PATH_ENV, "", TRUE);
  g_auto (GStrv) no_system = m3ret_registry_search_path (NULL);
  ck_assert_uint_eq (g_strv_length (no_system), 2);
}
END_TEST

START_TEST (test_static_and_require)
{
  M3retRegistry *registry = m3ret_registry_new ();
  g_autofree gchar *path = test_module ("testgood");
  ck_assert (m3ret_registry_load_file (registry, path, NULL) != NULL);
  GError *error = NULL;
  ck_assert (m3ret_registry_require (registry, M3RET_PLUGIN_MODALITY, "testgod", &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_NOT_FOUND));
  ck_assert_msg (strstr (error->message, "did you mean 'testgood'") != NULL, "%s", error->message);
  g_clear_error (&error);
  ck_assert (m3ret_registry_require (registry, M3RET_PLUGIN_MODALITY, "zzzzzzzzzz", &error) == NULL);
  ck_assert (strstr (error->message, "did you mean") == NULL);
  g_clear_error (&error);
  m3ret_registry_free (registry);
}
END_TEST

START_TEST (test_suggest)
{
  const gchar *words[] = { "window", "percentiles", "tubelet", NULL };
  g_autofree gchar *a = m3ret_suggest ("windw", words);
  ck_assert_str_eq (a, "window");
  g_autofree gchar *b = m3ret_suggest ("Tubelet", words);
  ck_assert_str_eq (b, "tubelet");
  g_autofree gchar *c = m3ret_suggest ("pecrentiles", words);
  ck_assert_str_eq (c, "percentiles");
  ck_assert (m3ret_suggest ("depth", words) == NULL);
  ck_assert (m3ret_suggest ("x", NULL) == NULL);
}
END_TEST

static Suite *
registry_suite (void)
{
  Suite *s = suite_create ("registry");
  TCase *tc = tcase_create ("load");
  tcase_add_test (tc, test_good_loads);
  tcase_add_test (tc, test_wrong_abi);
  tcase_add_test (tc, test_no_descriptor);
  tcase_add_test (tc, test_missing_entry);
  tcase_add_test (tc, test_init_fails);
  tcase_add_test (tc, test_duplicate);
  tcase_add_test (tc, test_cannot_open);
  tcase_add_test (tc, test_scan_skips_broken);
  tcase_add_test (tc, test_search_order);
  tcase_add_test (tc, test_static_and_require);
  tcase_add_test (tc, test_suggest);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = registry_suite)
