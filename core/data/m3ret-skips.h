/* m3ret-skips.h — the bad manifest entries a run left out ([data] on_error=skip).
 *
 * With on_error=skip, train, embed and eval carry on past an entry whose
 * file is missing, unreadable, corrupt or over a limit: the manifest, the
 * loader and the embedder record it here instead of failing, and the
 * command prints the summary at the end.  Thread-safe: the loader's workers
 * record from several threads.
 */
#ifndef M3RET_SKIPS_H
#define M3RET_SKIPS_H

#include <glib.h>

#include "m3ret-settings.h"

G_BEGIN_DECLS

typedef struct _M3retSkips M3retSkips;

/* Returns: (transfer full) an empty record. */
M3retSkips *m3ret_skips_new (void);

/* Returns: (transfer full) an empty record when [data] @on_error is skip;
 * NULL (fail on the first bad entry) otherwise. */
M3retSkips *m3ret_skips_new_for (M3retOnError on_error);
void m3ret_skips_free (M3retSkips *skips);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retSkips, m3ret_skips_free)

/* Records that @path was left out because of @reason (an M3RET_DATA_ERROR,
 * whose code groups it in the summary).  A path already recorded is not
 * counted twice.  Returns FALSE when it was already recorded. */
gboolean m3ret_skips_add (M3retSkips *skips, const gchar *path, const GError *reason);

/* Whether @path was recorded. */
gboolean m3ret_skips_has (M3retSkips *skips, const gchar *path);

/* Distinct paths recorded. */
guint m3ret_skips_count (M3retSkips *skips);

/* Returns: (transfer full) the summary, one line per reason, e.g.
 *   "skipped 3 files (on_error=skip):\n  2 missing or unreadable: a.png, b.png\n  ..."
 * naming the first few files of each reason; "" when nothing was skipped.
 * Each entry's full message goes to g_info() when it is recorded (-v). */
gchar *m3ret_skips_summary (M3retSkips *skips);

/* Returns: (transfer full) the record as text, for another process to
 * merge with m3ret_skips_add_text() (data-parallel ranks gather theirs). */
gchar *m3ret_skips_to_text (M3retSkips *skips);

/* Records every entry of @text (from m3ret_skips_to_text()) not yet recorded. */
void m3ret_skips_add_text (M3retSkips *skips, const gchar *text);

G_END_DECLS

#endif /* M3RET_SKIPS_H */
