/* output.c — every file appears whole or not at all: written under a
 * temporary name beside its final one, fsync'd, then renamed. The temporary name keeps
 * the extension, because nifticlib chooses compression from it. */
#include "config.h"


#include "m3ret-fileio.h"
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
  /* fsync, rename, folder sync: the same guarantee as m3ret's own files. */
  GError *local = NULL;
  if (m3ret_file_commit_temporary (tmp, path, &local))
    return TRUE;
  g_set_error_literal (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, local->message);
  g_error_free (local);
  return FALSE;
}
