/* manifest-walk.h — the files under a folder, for `m3ret manifest`.
 *
 * Walks a tree in name order.  Symbolic links are followed only while they
 * stay inside it; a link that leads out, a dangling one, a link back to a
 * folder already walked (a loop) and anything that is not a regular file
 * (a FIFO, a socket, a device: never opened) are skipped with the reason.
 * A file reached twice (a second link to it, a hard link) is kept once, by
 * its first name.  Hidden entries (names starting with '.') are skipped:
 * the temporaries of m3ret's atomic writes are among them.
 */
#ifndef M3RET_CLI_MANIFEST_WALK_H
#define M3RET_CLI_MANIFEST_WALK_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gchar *path;   /* the canonical root joined with @rel: what the readers open */
  gchar *rel;    /* relative to the root, '/'-separated */
  gchar *folder; /* @path's folder */
} ManifestWalkFile;

typedef struct {
  gchar *path;   /* as walked (root-relative names joined to the root) */
  gchar *reason;
} ManifestWalkSkip;

typedef struct {
  gchar *root;           /* canonical */
  GPtrArray *files;      /* ManifestWalkFile, in walk order */
  GPtrArray *skipped;    /* ManifestWalkSkip */
  GHashTable *entries;   /* folder path → GUINT_TO_POINTER (non-hidden entries that are not folders) */
} ManifestWalk;

/* Walks @root.  Returns: (transfer full) or NULL with @error (G_FILE_ERROR)
 * when @root is missing, not a folder or cannot be listed. */
ManifestWalk *manifest_walk (const gchar *root, GError **error);
void manifest_walk_free (ManifestWalk *walk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ManifestWalk, manifest_walk_free)

/* Adds a skipped entry (for files the walk found but the command drops). */
void manifest_walk_skip (ManifestWalk *walk, const gchar *path, const gchar *format, ...)
  G_GNUC_PRINTF (3, 4);

/* Returns: (transfer full) @target (absolute, canonical folders) relative
 * to the canonical folder @base, with "../" steps where needed; "." when
 * they are the same. */
gchar *manifest_relative_path (const gchar *base, const gchar *target);

G_END_DECLS

#endif /* M3RET_CLI_MANIFEST_WALK_H */
