/* test-cli.c — the m3ret command: plugins, validate, usage errors, exit codes. */
#include "config.h"

#include <sys/wait.h>
#include <unistd.h>

#include "m3ret-check.h"

static gchar *plugin_dir;

typedef struct {
  gint status;
  gchar *out;
  gchar *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

/* Runs m3ret with @args (NULL-terminated) and no plugin path from the environment. */
static Run
run_m3ret (const gchar *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("M3RET_BIN"));
  va_list args;
  va_start (args, first);
  for (const gchar *a = first; a; a = va_arg (args, const gchar *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  g_auto (GStrv) env = g_get_environ ();
  env = g_environ_unsetenv (env, M3RET_PLUGIN_PATH_ENV);
  env = g_environ_setenv (env, M3RET_PLUGIN_SYSTEM_PATH_ENV, "", TRUE);
  Run r = { 0 };
  gint wait_status;
  GError *error = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (gchar **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait_status, &error),
                 "spawn: %s", error ? error->message : "");
  ck_assert_msg (WIFEXITED (wait_status), "m3ret died of a signal");
  r.status = WEXITSTATUS (wait_status);
  return r;
}

static guint
count_lines (const gchar *s)
{
  guint n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

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
  Run r = run_m3ret ("plugins", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, "modality   testgood    1.2.3") != NULL);
  ck_assert (strstr (r.out, "backend    cpu") != NULL);
  ck_assert (strstr (r.out, "objective  testobjective") != NULL);
  ck_assert (strstr (r.out, "retriever  testretriever") != NULL);
  ck_assert (strstr (r.out, "4 plugins") != NULL);
  /* The broken plugin is reported on stderr, one line, and skipped. */
  ck_assert_uint_eq (count_lines (r.err), 1);
  ck_assert (strstr (r.err, "skipped plugin") && strstr (r.err, "m3ret-testwrongabi"));
  run_clear (&r);

  r = run_m3ret ("plugins", "--kind", "backend", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, "cpu") != NULL);
  ck_assert (strstr (r.out, "testgood") == NULL);
  ck_assert (strstr (r.out, "1 plugin\n") != NULL);
  run_clear (&r);
}
END_TEST

START_TEST (test_plugins_one)
{
  Run r = run_m3ret ("plugins", "testgood", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, "[modality testgood]") != NULL);
  ck_assert (strstr (r.out, "gain") && strstr (r.out, "[0, 10]") && strstr (r.out, "a test key"));
  run_clear (&r);
  r = run_m3ret ("plugins", "testgod", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert (strstr (r.err, "did you mean 'testgood'") != NULL);
  run_clear (&r);
  r = run_m3ret ("plugins", "--kind", "decoder", NULL);
  ck_assert_int_eq (r.status, 2);
  run_clear (&r);
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
  Run r = run_m3ret ("validate", good, "--plugin-path", plugin_dir, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert (strstr (r.out, "ok (backend cpu, objective testobjective") != NULL);
  run_clear (&r);

  g_autofree gchar *typo = write_pipeline ("typo.ini",
    "[pipeline]\nbackend=cpu\n[objective]\nplugin=testobjective\n"
    "[retriever]\nplugin=testretriever\n[train]\nbatch=4\nsetps=10\n");
  r = run_m3ret ("validate", typo, "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert_uint_eq (count_lines (r.err), 2); /* the skipped plugin, then the error */
  g_autofree gchar *where = g_strdup_printf ("%s:9:", typo);
  ck_assert_msg (strstr (r.err, where) && strstr (r.err, "'setps'") && strstr (r.err, "did you mean 'steps'"),
                 "%s", r.err);
  run_clear (&r);

  r = run_m3ret ("validate", "/nonexistent.ini", "--plugin-path", plugin_dir, NULL);
  ck_assert_int_eq (r.status, 1);
  ck_assert (strstr (r.err, "/nonexistent.ini") != NULL);
  run_clear (&r);

  r = run_m3ret ("validate", NULL);
  ck_assert_int_eq (r.status, 2);
  run_clear (&r);
}
END_TEST

START_TEST (test_usage)
{
  Run r = run_m3ret ("frobnicate", NULL);
  ck_assert_int_eq (r.status, 2);
  ck_assert (strstr (r.err, "unknown command 'frobnicate'") != NULL);
  run_clear (&r);
  r = run_m3ret ("--help", NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, "validate") != NULL);
  run_clear (&r);
  r = run_m3ret ("--version", NULL);
  ck_assert_int_eq (r.status, 0);
  ck_assert (strstr (r.out, PACKAGE_VERSION) != NULL);
  run_clear (&r);
}
END_TEST

int
main (void)
{
  m3ret_check_init ();
  Suite *s = suite_create ("cli");
  TCase *tc = tcase_create ("cli");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_plugins_list);
  tcase_add_test (tc, test_plugins_one);
  tcase_add_test (tc, test_validate);
  tcase_add_test (tc, test_usage);
  suite_add_tcase (s, tc);
  return m3ret_check_run (s);
}
