/* m3ret-manifest.h — a dataset listed in a CSV file.
 *
 * Header `path,modality,label` in any order and any case (`Path` is path):
 * `path` is required, the others optional, extra columns (e.g. `split`)
 * are kept and can be asked for by name (any case too).  Paths are relative
 * to the manifest's folder (absolute ones are kept).  Fields may be quoted
 * with "..." ("" inside for a quote).  Blank lines are skipped.  An empty
 * or missing modality is probed at resolve (or taken from
 * m3ret_manifest_set_default_modality()); a written one may be in any case.
 *
 * Notices: what a run should tell its user without stopping, one line each,
 * in the order found:
 * - at load, a row naming a file an earlier row names (the same file after
 *   links, "." and ".." are resolved): "m.csv:7: a/../x.png is listed again
 *   (first at line 3); every row is kept, so the file counts once per row".  Not
 *   an error: a file listed twice is drawn twice as often in training and
 *   embedded twice, which can be meant, but is usually a mistake.  The first
 *   ten such rows get a line each, the rest one line that counts them.
 * - at resolve, a probed row whose scores were close
 *   (m3ret_modalities_close_notice(), M3RET_PROBE_CLOSE_MARGIN), once per
 *   file: "m.csv:4: /data/us.png: probed as ultrasound, but the scores are
 *   close (ultrasound 60, xray 40): give -m/--modality NAME or a 'modality'
 *   column in the manifest to decide".
 * A command prints them after resolving (before the heavy work), e.g.
 * "m3ret: warning: NOTICE" on stderr.
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
/* Returns: (transfer full) a manifest of @n files named on a command line,
 * paths kept as given, modality probed; its messages and notices name the
 * file only ("a.png: no such file"), with no manifest line. */
M3retManifest *m3ret_manifest_new_for_files (const gchar *const *paths, guint n);
void m3ret_manifest_free (M3retManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retManifest, m3ret_manifest_free)

guint m3ret_manifest_size (const M3retManifest *manifest);
const gchar *m3ret_manifest_get_source (const M3retManifest *manifest);
/* (transfer none) entry @i: the absolute path, the path as written. */
const gchar *m3ret_manifest_get_path (const M3retManifest *manifest, guint i);
const gchar *m3ret_manifest_get_written_path (const M3retManifest *manifest, guint i);
/* (transfer none) the modality as written (after resolve: the plugin's own
 * spelling), defaulted or probed; NULL before resolve when not written. */
const gchar *m3ret_manifest_get_modality (const M3retManifest *manifest, guint i);
/* (transfer none) the label; "" when the column is absent or empty. */
const gchar *m3ret_manifest_get_label (const M3retManifest *manifest, guint i);
/* (transfer none) the value of column @name for entry @i; NULL when no such column. */
const gchar *m3ret_manifest_get_column (const M3retManifest *manifest, guint i,
                                        const gchar *name);
/* The layout of entry @i; valid after m3ret_manifest_resolve(). */
M3retLayout m3ret_manifest_get_layout (const M3retManifest *manifest, guint i);

/* Rows with no modality written take @name (any case; NULL: probe them) instead of being probed: what `-m/--modality NAME` gives.  Call
 * before resolving.  FALSE with @error "unknown modality 'NAME' (valid: ...)"
 * when @set has no such modality; the caller prefixes where it came from. */
gboolean m3ret_manifest_set_default_modality (M3retManifest *manifest,
                                              const M3retModalities *set, const gchar *name,
                                              GError **error);

/* The notices found so far (see above); @i < m3ret_manifest_n_notices(). */
guint m3ret_manifest_n_notices (const M3retManifest *manifest);
const gchar *m3ret_manifest_get_notice (const M3retManifest *manifest, guint i);

/* Checks every file exists (a folder is named as one), that written
 * modalities are known to @set (an unknown one lists the valid ones),
 * probes the missing ones (noting close scores) and asks each file's
 * layout.  Errors name the manifest line and the file.  A manifest already
 * resolved is left as it is (TRUE). */
gboolean m3ret_manifest_resolve (M3retManifest *manifest, const M3retModalities *set,
                                 GError **error);

/* The same, but an entry that does not resolve (missing file, unknown
 * modality, no plugin recognises it) is recorded in @skips and removed;
 * FALSE only when no entry is left. */
gboolean m3ret_manifest_resolve_skipping (M3retManifest *manifest, const M3retModalities *set,
                                          M3retSkips *skips, GError **error);

/* Returns: (transfer full) a manifest of the entries whose column @name
 * (any case) equals @value (e.g. split = query), in order; resolved if
 * @manifest was.  The notices found so far stay with @manifest. */
M3retManifest *m3ret_manifest_filter (const M3retManifest *manifest, const gchar *name,
                                      const gchar *value);

G_END_DECLS

#endif /* M3RET_MANIFEST_H */
