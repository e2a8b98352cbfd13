/* manifest-walk.c — the files under a folder, links kept inside it. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "m3ret-fileio.h"
#include "manifest-walk.h"

/* A file or folder by identity, so links to one thing are seen as one. */
typedef struct {
  dev_t dev;
  ino_t ino;
} Identity;

static guint
identity_hash (gconstpointer p)
{
  const Identity *id = p;
  return (guint) id->ino ^ (guint) (id->ino >> 32) ^ (guint) id->dev;
}

static gboolean
identity_equal (gconstpointer a, gconstpointer b)
{
  const Identity *x = a, *y = b;
  return x->dev == y->dev && x->ino == y->ino;
}

/* The first name a file or folder was reached by. */
typedef struct {
  gchar *rel;
  gint file;     /* its index in walk->files, -1 for a folder */
  gboolean link; /* reached through a symbolic link */
} Seen;

static void
seen_free (gpointer p)
{
  Seen *s = p;
  g_free (s->rel);
  g_free (s);
}

typedef struct {
  ManifestWalk *walk;
  GHashTable *seen; /* Identity → Seen */
} Walker;

static void
remember (Walker *w, const Identity *id, const gchar *rel, gint file, gboolean link)
{
  Seen *s = g_new0 (Seen, 1);
  s->rel = g_strdup (rel);
  s->file = file;
  s->link = link;
  g_hash_table_insert (w->seen, g_memdup2 (id, sizeof *id), s);
}

static void
file_free (gpointer p)
{
  ManifestWalkFile *f = p;
  g_free (f->path);
  g_free (f->rel);
  g_free (f->folder);
  g_free (f);
}

static void
skip_free (gpointer p)
{
  ManifestWalkSkip *s = p;
  g_free (s->path);
  g_free (s->reason);
  g_free (s);
}

void
manifest_walk_free (ManifestWalk *walk)
{
  if (walk == NULL)
    return;
  g_free (walk->root);
  g_ptr_array_unref (walk->files);
  g_ptr_array_unref (walk->skipped);
  g_hash_table_unref (walk->entries);
  g_free (walk);
}

void
manifest_walk_skip (ManifestWalk *walk, const gchar *path, const gchar *format, ...)
{
  ManifestWalkSkip *s = g_new0 (ManifestWalkSkip, 1);
  va_list args;
  va_start (args, format);
  s->path = g_strdup (path);
  s->reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (walk->skipped, s);
}

/* Whether the canonical @path lies in the canonical folder @root (or is it). */
static gboolean
inside (const gchar *root, const gchar *path)
{
  gsize n = strlen (root);
  if (strncmp (root, path, n) != 0)
    return FALSE;
  return path[n] == '\0' || path[n] == G_DIR_SEPARATOR || g_str_equal (root, "/");
}

static const gchar *
kind_of (mode_t mode)
{
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISSOCK (mode))
    return "a socket";
  if (S_ISCHR (mode) || S_ISBLK (mode))
    return "a device";
  return "not a regular file";
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

static void walk_folder (Walker *w, const gchar *folder, const gchar *rel);

static void
walk_entry (Walker *w, const gchar *folder, const gchar *rel_folder, const gchar *name,
            guint *entries)
{
  ManifestWalk *walk = w->walk;
  g_autofree gchar *path = g_build_filename (folder, name, NULL);
  g_autofree gchar *rel = *rel_folder ? g_strconcat (rel_folder, "/", name, NULL) : g_strdup (name);
  GStatBuf lst, st;
  if (g_lstat (path, &lst) != 0) {
    int saved = errno;
    manifest_walk_skip (walk, path, "%s", m3ret_file_reason (saved));
    return;
  }
  gboolean link = S_ISLNK (lst.st_mode);
  if (name[0] == '.') {
    if (!S_ISDIR (lst.st_mode))
      manifest_walk_skip (walk, path, "hidden file (the name starts with '.')");
    else
      manifest_walk_skip (walk, path, "hidden folder (the name starts with '.'), not walked");
    return;
  }
  if (link) {
    if (g_stat (path, &st) != 0) {
      int saved = errno;
      (*entries)++;
      manifest_walk_skip (walk, path, saved == ELOOP ? "symbolic link loop (it leads back to itself)"
                                                     : "dangling symbolic link (%s)",
                          m3ret_file_reason (saved));
      return;
    }
    /* Every entry that is not a folder counts, followed or not: whether a
     * folder holds nothing but one series is decided from them. */
    if (!S_ISDIR (st.st_mode))
      (*entries)++;
    char resolved[PATH_MAX];
    if (realpath (path, resolved) == NULL) {
      int saved = errno;
      manifest_walk_skip (walk, path, "symbolic link that cannot be followed (%s)",
                          m3ret_file_reason (saved));
      return;
    }
    if (!inside (walk->root, resolved)) {
      manifest_walk_skip (walk, path, "symbolic link out of the folder walked (to %s), not followed",
                          resolved);
      return;
    }
  } else {
    st = lst;
    if (!S_ISDIR (st.st_mode))
      (*entries)++;
  }
  Identity id = { st.st_dev, st.st_ino };
  Seen *first = g_hash_table_lookup (w->seen, &id);
  if (S_ISDIR (st.st_mode)) {
    if (first != NULL) {
      manifest_walk_skip (walk, path, "the folder %s is walked already (a symbolic link to "
                          "it, or a loop), not walked again", *first->rel ? first->rel : ".");
      return;
    }
    remember (w, &id, rel, -1, link);
    walk_folder (w, path, rel);
    return;
  }
  if (!S_ISREG (st.st_mode)) {
    manifest_walk_skip (walk, path, "%s, not a file to read", kind_of (st.st_mode));
    return;
  }
  if (first != NULL && !(first->link && !link)) {
    manifest_walk_skip (walk, path, "the same file as %s (a link), listed once", first->rel);
    return;
  }
  if (first != NULL) {
    /* Reached by a link first, by its own name now: the file keeps its own. */
    ManifestWalkFile *old = walk->files->pdata[first->file];
    manifest_walk_skip (walk, old->path, "the same file as %s (a link), listed once", rel);
    g_free (old->path);
    g_free (old->rel);
    g_free (old->folder);
    old->path = g_steal_pointer (&path);
    old->rel = g_strdup (rel);
    old->folder = g_strdup (folder);
    g_free (first->rel);
    first->rel = g_steal_pointer (&rel);
    first->link = FALSE;
    return;
  }
  remember (w, &id, rel, (gint) walk->files->len, link);
  ManifestWalkFile *f = g_new0 (ManifestWalkFile, 1);
  f->path = g_steal_pointer (&path);
  f->rel = g_steal_pointer (&rel);
  f->folder = g_strdup (folder);
  g_ptr_array_add (walk->files, f);
}

static void
walk_folder (Walker *w, const gchar *folder, const gchar *rel)
{
  GError *error = NULL;
  GDir *dir = g_dir_open (folder, 0, &error);
  if (dir == NULL) {
    manifest_walk_skip (w->walk, folder, "folder that cannot be listed (%s)",
                        m3ret_file_reason (error->code == G_FILE_ERROR_ACCES ? EACCES : EIO));
    g_error_free (error);
    return;
  }
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  for (const gchar *name; (name = g_dir_read_name (dir)) != NULL;)
    g_ptr_array_add (names, g_strdup (name));
  g_dir_close (dir);
  g_ptr_array_sort (names, compare_names);
  guint entries = 0;
  for (guint i = 0; i < names->len; i++)
    walk_entry (w, folder, rel, names->pdata[i], &entries);
  g_hash_table_insert (w->walk->entries, g_strdup (folder), GUINT_TO_POINTER (entries));
}

ManifestWalk *
manifest_walk (const gchar *root, GError **error)
{
  GStatBuf st;
  if (g_stat (root, &st) != 0) {
    int saved = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", root,
                 saved == ENOENT ? "no such folder" : m3ret_file_reason (saved));
    return NULL;
  }
  if (!S_ISDIR (st.st_mode)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR, "%s: not a folder (give the folder "
                 "to walk)", root);
    return NULL;
  }
  char resolved[PATH_MAX];
  GDir *probe = realpath (root, resolved) != NULL ? g_dir_open (resolved, 0, NULL) : NULL;
  if (probe == NULL) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_ACCES, "%s: folder that cannot be listed",
                 root);
    return NULL;
  }
  g_dir_close (probe);
  ManifestWalk *walk = g_new0 (ManifestWalk, 1);
  walk->root = g_strdup (resolved);
  walk->files = g_ptr_array_new_with_free_func (file_free);
  walk->skipped = g_ptr_array_new_with_free_func (skip_free);
  walk->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Walker w = { walk, g_hash_table_new_full (identity_hash, identity_equal, g_free, seen_free) };
  Identity id = { st.st_dev, st.st_ino };
  remember (&w, &id, "", -1, FALSE);
  walk_folder (&w, walk->root, "");
  g_hash_table_unref (w.seen);
  return walk;
}

gchar *
manifest_relative_path (const gchar *base, const gchar *target)
{
  g_auto (GStrv) b = g_strsplit (base, G_DIR_SEPARATOR_S, -1);
  g_auto (GStrv) t = g_strsplit (target, G_DIR_SEPARATOR_S, -1);
  guint nb = g_strv_length (b), nt = g_strv_length (t);
  /* "/" splits into {"", ""}: drop the empty last part. */
  if (nb > 1 && *b[nb - 1] == '\0')
    nb--;
  guint common = 0;
  while (common < nb && common < nt && g_str_equal (b[common], t[common]))
    common++;
  GString *rel = g_string_new (NULL);
  for (guint i = common; i < nb; i++)
    g_string_append (rel, rel->len ? "/.." : "..");
  for (guint i = common; i < nt; i++) {
    if (rel->len)
      g_string_append_c (rel, '/');
    g_string_append (rel, t[i]);
  }
  if (rel->len == 0)
    g_string_append_c (rel, '.');
  return g_string_free (rel, FALSE);
}
