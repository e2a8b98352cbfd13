/* output.c — every file appears whole or not at all: written under a
 * temporary name beside its final one, then renamed. The temporary name keeps
 * the extension, because nifticlib chooses compression from it. */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "synth-private.h"

gchar *
synth_temp_path (const gchar *path)
{
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *base = g_path_get_basename (path);
  g_autofree gchar *tmp = g_strconcat (".tmp-", base, NULL);
  return g_build_filename (dir, tmp, NULL);
}

gboolean
synth_commit_file (const gchar *tmp, const gchar *path, GError **error)
{
  if (g_rename (tmp, path) == 0)
    return TRUE;
  int saved = errno;
  g_unlink (tmp);
  g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, "%s: cannot rename into place: %s",
               path, g_strerror (saved));
  return FALSE;
}
