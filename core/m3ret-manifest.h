/* m3ret-manifest.h — a dataset listed in a CSV file.
 *
 * Header `path,modality,label` in any order: `path` is required, the others
 * optional, extra columns (e.g. `split`) are kept and can be asked for by
 * name.  Paths are relative to the manifest's folder (absolute ones are
 * kept).  Fields may be quoted with "..." ("" inside for a quote).  Blank
 * lines are skipped.  An empty or missing modality is probed at resolve.
 */
#ifndef M3RET_MANIFEST_H
#define M3RET_MANIFEST_H

#include <glib.h>

#include "m3ret-modalities.h"
#include "m3ret-sample.h"
#include "m3ret-skips.h"

G_BEGIN_DECLS

typedef struct _M3retManifest M3retManifest;

/* Returns: (transfer full) the manifest, or NULL with @error (G_FILE_ERROR
 * when unreadable, M3RET_DATA_ERROR_MANIFEST naming the line otherwise). */
M3retManifest *m3ret_manifest_load (const gchar *path, GError **error);
/* Same from text; @source names it in messages, paths resolve against @base_dir. */
M3retManifest *m3ret_manifest_load_data (const gchar *text, gssize length, const gchar *source,
                                         const gchar *base_dir, GError **error);
void m3ret_manifest_free (M3retManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retManifest, m3ret_manifest_free)

guint m3ret_manifest_size (const M3retManifest *manifest);
const gchar *m3ret_manifest_get_source (const M3retManifest *manifest);
/* (transfer none) entry @i: the absolute path, the path as written. */
const gchar *m3ret_manifest_get_path (const M3retManifest *manifest, guint i);
const gchar *m3ret_manifest_get_written_path (const M3retManifest *manifest, guint i);
/* (transfer none) the modality as written or probed; NULL before resolve when not written. */
const gchar *m3ret_manifest_get_modality (const M3retManifest *manifest, guint i);
/* (transfer none) the label; "" when the column is absent or empty. */
const gchar *m3ret_manifest_get_label (const M3retManifest *manifest, guint i);
/* (transfer none) the value of column @name for entry @i; NULL when no such column. */
const gchar *m3ret_manifest_get_column (const M3retManifest *manifest, guint i,
                                        const gchar *name);
/* The layout of entry @i; valid after m3ret_manifest_resolve(). */
M3retLayout m3ret_manifest_get_layout (const M3retManifest *manifest, guint i);

/* Checks every file exists, that written modalities are known to @set,
 * probes the missing ones and asks each file's layout.  Errors name the
 * manifest line and the file. */
gboolean m3ret_manifest_resolve (M3retManifest *manifest, const M3retModalities *set,
                                 GError **error);

/* The same, but an entry that does not resolve (missing file, unknown
 * modality, no plugin recognises it) is recorded in @skips and removed;
 * FALSE only when no entry is left. */
gboolean m3ret_manifest_resolve_skipping (M3retManifest *manifest, const M3retModalities *set,
                                          M3retSkips *skips, GError **error);

/* Returns: (transfer full) a manifest of the entries whose column @name
 * equals @value (e.g. split = query), in order; resolved if @manifest was. */
M3retManifest *m3ret_manifest_filter (const M3retManifest *manifest, const gchar *name,
                                      const gchar *value);

G_END_DECLS

#endif /* M3RET_MANIFEST_H */
