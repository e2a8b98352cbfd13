/* m3ret-modality.h — the table a modality tokenizer plugin fills.
 *
 * A modality plugin recognises its files (probe), and reads one into a
 * sample on the pipeline's canonical C×T×H×W grid.  Reading entries are
 * added by the modality work (issue 4); create/destroy/probe are fixed.
 */
#ifndef M3RET_MODALITY_H
#define M3RET_MODALITY_H

#include <glib.h>

#include "m3ret-config.h"

G_BEGIN_DECLS

typedef struct _M3retModalityVTable M3retModalityVTable;

/* How many leading bytes of a file the registry hands to probe(). */
#define M3RET_PROBE_HEAD_BYTES 352

struct _M3retModalityVTable {
  /* mandatory: (transfer full) an instance configured by its [modality NAME] group */
  gpointer (*create) (const M3retConfig *config, GError **error);
  /* mandatory: frees an instance; accepts NULL */
  void (*destroy) (gpointer self);
  /* mandatory: 0 = not mine … 100 = certainly mine, from the file name and its
   * first @head_len bytes (at most M3RET_PROBE_HEAD_BYTES) */
  guint (*probe) (const gchar *path, const guint8 *head, gsize head_len);
  /*< private >*/
  gpointer _m3ret_reserved[8];
};

G_END_DECLS

#endif /* M3RET_MODALITY_H */
