/* test-cli.c — the m3ret command: plugins, validate, usage errors, exit codes. */
#include "config.h"

#include <unistd.h>

#include "m3ret-check.h"

static gchar *plugin_dir;

/* A plugin folder with one good plugin of every kind and one broken one. */
static void
setup (void)
{
  plugin_dir = m3ret_check_tmpdir ();
  const gchar *stems[] = { "testgood", "cpu", "testobjective", "testretriever", "testwrongabi" };
  for (guint i = 0; i < G_N_ELEMENTS (stems); i++) {
    g_autofree gchar *file = g_strdup_printf ("m3ret-%s.%s", stems[i], G_MODULE_SUFFIX);
    /* The real cpu backend from the build tree, the others test-only modules. */
    const gchar *folder = g_str_equal (stems[i], "cpu") ? "../backends/.libs" : ".libs";
    g_autofree gchar *src = g_build_filename (g_getenv ("M3RET_TEST_BUILDDIR"), folder, file, NULL);
    g_autofree gchar *dst = g_build_filename (plugin_dir, file, NULL);
    ck_assert_int_eq (symlink (src, dst), 0);
  }
}

static void
teardown (void)
{
  m3ret_check_rmtree (plugin_dir);
  g_clear_pointer (&plugin_dir, g_free);
}

START_TEST (test_plugins_list)
{
  M3retCheckRun r = m3ret_check_m3ret (FALSE, "plugins", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, "modality   testgood    1.2.3") != NULL);
  ck_assert (strstr (r.out, "backend    cpu") != NULL);
  ck_assert (strstr (r.out, "objective  testobjective") != NULL);
  ck_assert (strstr (r.out, "retriever  testretriever") != NULL);
  ck_assert (strstr (r.out, "4 plugins") != NULL);
  /* The broken plugin is reported on stderr, one line, and skipped. */
  ck_assert_uint_eq (m3ret_check_count_lines (r.err), 1);
  ck_assert (strstr (r.err, "skipped plugin") && strstr (r.err, "m3ret-testwrongabi"));
  m3ret_check_run_clear (&r);

  r = m3ret_check_m3ret (FALSE, "plugins", "--kind", "backend", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, "cpu") != NULL);
  ck_assert (strstr (r.out, "testgood") == NULL);
  ck_assert (strstr (r.out, "1 plugin\n") != NULL);
  m3ret_check_run_clear (&r);
}
END_TEST

START_TEST (test_plugins_one)
{
  M3retCheckRun r = m3ret_check_m3ret (FALSE, "plugins", "testgood", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, "[modality testgood]") != NULL);
  ck_assert (strstr (r.out, "gain") && strstr (r.out, "[0, 10]") && strstr (r.out, "a test key"));
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (FALSE, "plugins", "testgod", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert (strstr (r.err, "did you mean 'testgood'") != NULL);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (FALSE, "plugins", "--kind", "decoder", NULL);
  ck_assert_int_eq (r.status, 2);
  m3ret_check_run_clear (&r);
}
END_TEST

static gchar *
write_pipeline (const gchar *name, const gchar *text)
{
  gchar *path = g_build_filename (plugin_dir, name, NULL);
  ck_assert (g_file_set_contents (path, text, -1, NULL));
  return path;
}

START_TEST (test_validate)
{
  g_autofree gchar *good = write_pipeline ("good.ini",
    "[pipeline]\nbackend=cpu\n[objective]\nplugin=testobjective\n"
    "mask_ratio=0.6\n[retriever]\nplugin=testretriever\n[modality testgood]\ngain=2\n");
  M3retCheckRun r = m3ret_check_m3ret (FALSE, "validate", good, "--plugin-path", plugin_dir, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert (strstr (r.out, "ok (backend cpu, objective testobjective") != NULL);
  m3ret_check_run_clear (&r);

  g_autofree gchar *typo = write_pipeline ("typo.ini",
    "[pipeline]\nbackend=cpu\n[objective]\nplugin=testobjective\n"
    "[retriever]\nplugin=testretriever\n[train]\nbatch=4\nsetps=10\n");
  r = m3ret_check_m3ret (FALSE, "validate", typo, "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert_uint_eq (m3ret_check_count_lines (r.err), 2); /* the skipped plugin, then the error */
  g_autofree gchar *where = g_strdup_printf ("%s:9:", typo);
  ck_assert_msg (strstr (r.err, where) && strstr (r.err, "'setps'") && strstr (r.err, "did you mean 'steps'"),
                 "%s", r.err);
  m3ret_check_run_clear (&r);

  r = m3ret_check_m3ret (FALSE, "validate", "/nonexistent.ini", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert (strstr (r.err, "/nonexistent.ini") != NULL);
  m3ret_check_run_clear (&r);

  r = m3ret_check_m3ret (FALSE, "validate", NULL);
  ck_assert_int_eq (r.status, 2);
  m3ret_check_run_clear (&r);
}
END_TEST

START_TEST (test_usage)
{
  M3retCheckRun r = m3ret_check_m3ret (FALSE, "frobnicate", NULL);
  ck_assert_int_eq (r.status, 2);
  ck_assert (strstr (r.err, "unknown command 'frobnicate'") != NULL);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (FALSE, "--help", NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, "validate") != NULL);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (FALSE, "--version", NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, PACKAGE_VERSION) != NULL);
  m3ret_check_run_clear (&r);
}
END_TEST

static Suite *
cli_suite (void)
{
  Suite *s = suite_create ("cli");
  TCase *tc = tcase_create ("cli");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_plugins_list);
  tcase_add_test (tc, test_plugins_one);
  tcase_add_test (tc, test_validate);
  tcase_add_test (tc, test_usage);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = cli_suite)
