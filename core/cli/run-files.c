/* run-files.c — the rule that no command writes over a file it reads. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run-files.h"

typedef struct {
  gchar *path;
  gchar *role;
  gchar *option; /* outputs: the option that names it */
} Entry;

struct _M3retRunFiles {
  GArray *inputs;  /* Entry */
  GArray *outputs; /* Entry */
  gboolean creates_folders;
};

/* Where a name leads: the file's identity when it exists, and its
 * canonical path (links and ".." resolved as far as the folders exist). */
typedef struct {
  gboolean exists;
  dev_t dev;
  ino_t ino;
  gchar *canonical;
} Target;

static void
entry_clear (gpointer p)
{
  Entry *e = p;
  g_free (e->path);
  g_free (e->role);
  g_free (e->option);
}

M3retRunFiles *
m3ret_run_files_new (void)
{
  M3retRunFiles *files = g_new0 (M3retRunFiles, 1);
  files->inputs = g_array_new (FALSE, FALSE, sizeof (Entry));
  files->outputs = g_array_new (FALSE, FALSE, sizeof (Entry));
  g_array_set_clear_func (files->inputs, entry_clear);
  g_array_set_clear_func (files->outputs, entry_clear);
  return files;
}

void
m3ret_run_files_free (M3retRunFiles *files)
{
  if (files == NULL)
    return;
  g_array_unref (files->inputs);
  g_array_unref (files->outputs);
  g_free (files);
}

static void
add (GArray *list, const gchar *path, const gchar *role, const gchar *option)
{
  if (path == NULL || *path == '\0')
    return;
  Entry e = { g_strdup (path), g_strdup (role), g_strdup (option) };
  g_array_append_val (list, e);
}

void
m3ret_run_files_add_input (M3retRunFiles *files, const gchar *path, const gchar *role)
{
  g_return_if_fail (files != NULL);
  add (files->inputs, path, role, NULL);
}

void
m3ret_run_files_add_output (M3retRunFiles *files, const gchar *path, const gchar *role,
                            const gchar *option)
{
  g_return_if_fail (files != NULL);
  add (files->outputs, path, role, option);
}

void
m3ret_run_files_set_creates_folders (M3retRunFiles *files, gboolean creates)
{
  g_return_if_fail (files != NULL);
  files->creates_folders = creates;
}

void
m3ret_run_files_add_manifest_entries (M3retRunFiles *files, const M3retManifest *manifest,
                                      const gchar *role)
{
  g_return_if_fail (files != NULL && manifest != NULL);
  for (guint i = 0; i < m3ret_manifest_size (manifest); i++)
    add (files->inputs, m3ret_manifest_get_path (manifest, i), role, NULL);
}

/* realpath() of @path, or of its folder plus its name when @path itself
 * does not exist (yet), or the lexically canonical name as a last resort. */
static gchar *
canonical_path (const gchar *path)
{
  gchar *real = realpath (path, NULL);
  if (real != NULL) {
    gchar *copy = g_strdup (real);
    free (real);
    return copy;
  }
  g_autofree gchar *absolute = g_canonicalize_filename (path, NULL);
  g_autofree gchar *dir = g_path_get_dirname (absolute);
  g_autofree gchar *base = g_path_get_basename (absolute);
  gchar *real_dir = realpath (dir, NULL);
  if (real_dir == NULL)
    return g_steal_pointer (&absolute);
  gchar *joined = g_build_filename (real_dir, base, NULL);
  free (real_dir);
  return joined;
}

static gboolean
stat_target (const gchar *path, Target *t)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    return FALSE;
  t->exists = TRUE;
  t->dev = st.st_dev;
  t->ino = st.st_ino;
  return TRUE;
}

static gboolean
same_file (const Target *a, const Target *b)
{
  if (a->exists && b->exists)
    return a->dev == b->dev && a->ino == b->ino;
  return g_strcmp0 (a->canonical, b->canonical) == 0;
}

/* Names the output, then what it would overwrite: by the user's other
 * name for it too when the two names differ (a link, "..", a relative
 * path). */
static gboolean
refuse (GError **error, const Entry *out, const Entry *other, const gchar *verb)
{
  gboolean same_name = g_strcmp0 (out->path, other->path) == 0;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
               "%s: refusing to write the %s over %s%sthe %s this command %s; m3ret never "
               "overwrites a file it reads (choose another %s)", out->path, out->role,
               same_name ? "" : other->path, same_name ? "" : ", which is ", other->role, verb,
               out->option ? out->option : "output");
  return FALSE;
}

/* An output can be written: it is not a folder, and its folder exists (or,
 * when the command creates folders, the nearest one that exists) and is a
 * writable folder.  Said now, not after the work that would fill it. */
static gboolean
check_writable (const Entry *out, gboolean creates_folders, GError **error)
{
  if (g_file_test (out->path, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "%s: cannot write the %s: is a folder",
                 out->path, out->role);
    return FALSE;
  }
  g_autofree gchar *dir = g_path_get_dirname (out->path);
  while (creates_folders && !g_file_test (dir, G_FILE_TEST_EXISTS)) {
    gchar *up = g_path_get_dirname (dir);
    gboolean top = strcmp (up, dir) == 0;
    g_free (dir);
    dir = up;
    if (top)
      break;
  }
  if (!g_file_test (dir, G_FILE_TEST_EXISTS)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                 "%s: cannot write the %s: the folder %s does not exist", out->path, out->role,
                 dir);
    return FALSE;
  }
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
                 "%s: cannot write the %s: %s is a file, not a folder", out->path, out->role, dir);
    return FALSE;
  }
  if (access (dir, W_OK) != 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ACCES,
                 "%s: cannot write the %s: the folder %s is not writable", out->path, out->role,
                 dir);
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_run_files_same_file (const gchar *a, const gchar *b)
{
  Target ta = { 0 }, tb = { 0 };
  return stat_target (a, &ta) && stat_target (b, &tb) && same_file (&ta, &tb);
}

gboolean
m3ret_run_files_check (const M3retRunFiles *files, GError **error)
{
  g_return_val_if_fail (files != NULL, FALSE);
  guint n_out = files->outputs->len;
  if (n_out == 0)
    return TRUE;
  for (guint o = 0; o < n_out; o++)
    if (!check_writable (&g_array_index (files->outputs, Entry, o), files->creates_folders, error))
      return FALSE;
  Target *outs = g_new0 (Target, n_out);
  gboolean ok = TRUE;
  gboolean any_exists = FALSE;
  for (guint o = 0; o < n_out; o++) {
    const gchar *path = g_array_index (files->outputs, Entry, o).path;
    any_exists |= stat_target (path, &outs[o]);
    outs[o].canonical = canonical_path (path);
  }
  for (guint o = 0; ok && o < n_out; o++)
    for (guint p = 0; ok && p < o; p++)
      if (same_file (&outs[o], &outs[p]))
        ok = refuse (error, &g_array_index (files->outputs, Entry, o),
                     &g_array_index (files->outputs, Entry, p), "also writes");
  /* An input exists (or the command fails on it anyway), so only outputs
   * that exist can be one: then the file's identity decides. */
  for (guint i = 0; ok && any_exists && i < files->inputs->len; i++) {
    const Entry *in = &g_array_index (files->inputs, Entry, i);
    Target t = { 0 };
    if (!stat_target (in->path, &t))
      continue;
    for (guint o = 0; ok && o < n_out; o++)
      if (outs[o].exists && same_file (&outs[o], &t))
        ok = refuse (error, &g_array_index (files->outputs, Entry, o), in, "reads");
  }
  for (guint o = 0; o < n_out; o++)
    g_free (outs[o].canonical);
  g_free (outs);
  return ok;
}
