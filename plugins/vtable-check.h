/* vtable-check.h — private: which entries of each kind's table are mandatory. */
#ifndef M3RET_VTABLE_CHECK_H
#define M3RET_VTABLE_CHECK_H

#include "m3ret-plugin.h"

gboolean m3ret_vtable_check (M3retPluginKind kind, gconstpointer vtable, guint abi_minor,
                             GError **error);

#endif
