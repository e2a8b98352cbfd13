/* test-synth-common.c — running `m3ret synth` and reading its manifests. */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "test-synth-common.h"

gint
synth_spawn (gchar **out, gchar **err, const gchar *first_arg, ...)
{
  const gchar *bin = g_getenv ("M3RET_BIN");
  ck_assert_msg (bin != NULL, "M3RET_BIN is not set (run through make check)");
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) bin);
  g_ptr_array_add (argv, "synth");
  va_list ap;
  va_start (ap, first_arg);
  for (const gchar *a = first_arg; a != NULL; a = va_arg (ap, const gchar *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  gint wait_status = 0;
  GError *error = NULL;
  gboolean spawned = g_spawn_sync (NULL, (gchar **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                   out, err, &wait_status, &error);
  ck_assert_msg (spawned, "cannot run %s: %s", bin, error ? error->message : "?");
  if (WIFEXITED (wait_status))
    return WEXITSTATUS (wait_status);
  return -1;
}

GPtrArray *
synth_read_csv (const gchar *path)
{
  g_autofree gchar *text = NULL;
  ck_assert_msg (g_file_get_contents (path, &text, NULL, NULL), "cannot read %s", path);
  ck_assert_msg (g_str_has_suffix (text, "\n"), "%s does not end with a newline", path);
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    g_ptr_array_add (rows, g_strsplit (lines[i], ",", -1));
  return rows;
}

GBytes *
synth_read_file (const gchar *dir, const gchar *name)
{
  g_autofree gchar *path = g_build_filename (dir, name, NULL);
  gchar *data = NULL;
  gsize len = 0;
  ck_assert_msg (g_file_get_contents (path, &data, &len, NULL), "cannot read %s", path);
  return g_bytes_new_take (data, len);
}
