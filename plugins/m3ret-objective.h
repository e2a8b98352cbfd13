/* m3ret-objective.h — the table a self-supervised objective plugin fills.
 *
 * The training entries (parameters, loss graph, after-step hooks) are
 * added with the objectives (issue 5); create/destroy are fixed.
 */
#ifndef M3RET_OBJECTIVE_H
#define M3RET_OBJECTIVE_H

#include <glib.h>

#include "m3ret-config.h"

G_BEGIN_DECLS

typedef struct _M3retObjectiveVTable M3retObjectiveVTable;

struct _M3retObjectiveVTable {
  /* mandatory: (transfer full) an instance configured by the [objective] group */
  gpointer (*create) (const M3retConfig *config, GError **error);
  /* mandatory: frees an instance; accepts NULL */
  void (*destroy) (gpointer self);
  /*< private >*/
  gpointer _m3ret_reserved[8];
};

G_END_DECLS

#endif /* M3RET_OBJECTIVE_H */
