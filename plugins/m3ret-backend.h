/* m3ret-backend.h — the table a compute backend plugin fills.
 *
 * The op entries (forward and backward of every op the core's graph needs)
 * are added with the compute core (issue 3); score/create/destroy are fixed.
 */
#ifndef M3RET_BACKEND_H
#define M3RET_BACKEND_H

#include <glib.h>

#include "m3ret-config.h"

G_BEGIN_DECLS

typedef struct _M3retBackendVTable M3retBackendVTable;

struct _M3retBackendVTable {
  /* optional: 0 = not usable with this configuration on this machine (set
   * @error to say why, e.g. "no CUDA device"), higher = preferred */
  guint (*score) (const M3retConfig *config, GError **error);
  /* mandatory: (transfer full) a backend context for the [pipeline] group */
  gpointer (*create) (const M3retConfig *config, GError **error);
  /* mandatory: frees a context; accepts NULL */
  void (*destroy) (gpointer self);
  /*< private >*/
  gpointer _m3ret_reserved[8];
};

G_END_DECLS

#endif /* M3RET_BACKEND_H */
