/* m3ret-check.c — fatal unexpected warnings, pinned plugin path, temp dirs. */
#include "config.h"

#include <glib/gstdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>

#include "m3ret-check.h"

static gchar *expected_substring;
static guint expected_left;

static GLogWriterOutput
writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
    const gchar *message = "";
    for (gsize i = 0; i < n_fields; i++)
      if (strcmp (fields[i].key, "MESSAGE") == 0)
        message = fields[i].value;
    if (expected_left > 0 && expected_substring && strstr (message, expected_substring)) {
      expected_left--;
      return G_LOG_WRITER_HANDLED;
    }
    g_printerr ("unexpected log message: %s\n", message);
    ck_abort_msg ("unexpected warning or critical: %s", message);
  }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

void
m3ret_check_init (void)
{
  static gboolean done;
  if (!done)
    g_log_set_writer_func (writer, NULL, NULL);
  done = TRUE;
  /* Hermetic: never pick up an installed m3ret's plugins. */
  g_setenv (M3RET_PLUGIN_SYSTEM_PATH_ENV, "", TRUE);
  if (g_getenv ("M3RET_TEST_PLUGIN_PATH") != NULL)
    g_setenv (M3RET_PLUGIN_PATH_ENV, g_getenv ("M3RET_TEST_PLUGIN_PATH"), TRUE);
}

void
m3ret_check_expect_log (const gchar *substring, guint n)
{
  g_free (expected_substring);
  expected_substring = g_strdup (substring);
  expected_left = n;
}

void
m3ret_check_expected_done (void)
{
  ck_assert_msg (expected_left == 0, "%u expected log message(s) '%s' never came", expected_left,
                 expected_substring);
  g_clear_pointer (&expected_substring, g_free);
}

M3retRegistry *
m3ret_check_registry (void)
{
  M3retRegistry *registry = m3ret_registry_new ();
  m3ret_registry_scan (registry, NULL);
  const GPtrArray *failures = m3ret_registry_get_failures (registry);
  for (guint i = 0; i < failures->len; i++)
    ck_abort_msg ("build-tree plugin failed to load: %s",
                  ((M3retPluginFailure *) failures->pdata[i])->error->message);
  return registry;
}

int
m3ret_check_run (Suite *suite)
{
  SRunner *runner = srunner_create (suite);
  /* Each test's result on stdout as it finishes (Check's log, "-"), so the
   * log of a suite that dies in a no-fork run shows which test it was in. */
  if (g_getenv ("CK_LOG_FILE_NAME") == NULL)
    srunner_set_log (runner, "-");
  srunner_run_all (runner, CK_NORMAL);
  int failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
m3ret_check_main (const M3retCheckMain *how)
{
  if (how->one_process)
    g_setenv ("CK_FORK", "no", FALSE);
  m3ret_check_init ();
  if (how->registry != NULL)
    *how->registry = m3ret_check_registry ();
  int status = EXIT_FAILURE;
  if (how->setup == NULL || how->setup ())
    status = m3ret_check_run (how->suite ());
  if (how->teardown != NULL)
    how->teardown ();
  if (how->registry != NULL)
    g_clear_pointer (how->registry, m3ret_registry_free);
  return status;
}

gchar *
m3ret_check_tmpdir (void)
{
  GError *error = NULL;
  gchar *dir = g_dir_make_tmp ("m3ret-test-XXXXXX", &error);
  ck_assert_msg (dir != NULL, "tmpdir: %s", error ? error->message : "?");
  return dir;
}

void
m3ret_check_rmtree (const gchar *path)
{
  if (path == NULL)
    return;
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    GDir *dir = g_dir_open (path, 0, NULL);
    const gchar *name;
    while (dir && (name = g_dir_read_name (dir)) != NULL) {
      g_autofree gchar *child = g_build_filename (path, name, NULL);
      m3ret_check_rmtree (child);
    }
    if (dir)
      g_dir_close (dir);
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

gchar *
m3ret_check_srcfile (const gchar *name)
{
  const gchar *srcdir = g_getenv ("M3RET_TEST_SRCDIR");
  return g_build_filename (srcdir ? srcdir : ".", name, NULL);
}

M3retCheckRun
m3ret_check_m3ret (gboolean pinned_plugins, const gchar *first, ...)
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
  if (!pinned_plugins)
    env = g_environ_unsetenv (env, M3RET_PLUGIN_PATH_ENV);
  env = g_environ_setenv (env, M3RET_PLUGIN_SYSTEM_PATH_ENV, "", TRUE);
  M3retCheckRun r = { 0 };
  gint wait_status;
  GError *error = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (gchar **) argv->pdata, env, G_SPAWN_DEFAULT, NULL, NULL,
                               &r.out, &r.err, &wait_status, &error),
                 "spawn: %s", error ? error->message : "");
  ck_assert_msg (WIFEXITED (wait_status), "m3ret died of signal %d: %s", WTERMSIG (wait_status),
                 r.err);
  r.status = WEXITSTATUS (wait_status);
  return r;
}

void
m3ret_check_run_clear (M3retCheckRun *run)
{
  g_clear_pointer (&run->out, g_free);
  g_clear_pointer (&run->err, g_free);
}

gchar *
m3ret_check_synth_dataset (gint per_class, guint seed)
{
  gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *data = g_build_filename (dir, "data", NULL);
  g_autofree gchar *n = g_strdup_printf ("%d", per_class);
  g_autofree gchar *s = g_strdup_printf ("%u", seed);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "synth", "--out", data, "--per-class", n, "--size",
                                       "32", "--frames", "8", "--seed", s, NULL);
  ck_assert_msg (r.status == 0, "synth: %s", r.err);
  m3ret_check_run_clear (&r);
  return dir;
}

guint
m3ret_check_count_lines (const gchar *text)
{
  guint n = 0;
  for (; text && *text; text++)
    n += *text == '\n';
  return n;
}
