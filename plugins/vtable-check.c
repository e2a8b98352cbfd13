/* vtable-check.c — mandatory entries of each kind's table, declared once.
 *
 * Each row names an entry by its offset; the registry refuses a plugin that
 * leaves one NULL.  `since` is the ABI minor that introduced the entry: a
 * plugin built against an older minor is not asked for it.
 */
#include "config.h"

#include <stddef.h>

#include "m3ret-registry.h"
#include "vtable-check.h"

typedef struct {
  gsize offset;
  const gchar *name;
  guint since;
} Entry;

#define ENTRY(type, field) { offsetof (type, field), #field, 0 }

static const Entry modality_entries[] = {
  ENTRY (M3retModalityVTable, create),
  ENTRY (M3retModalityVTable, destroy),
  ENTRY (M3retModalityVTable, probe),
  ENTRY (M3retModalityVTable, layout),
  ENTRY (M3retModalityVTable, read),
  { 0, NULL, 0 }
};

static const Entry objective_entries[] = {
  ENTRY (M3retObjectiveVTable, create),
  ENTRY (M3retObjectiveVTable, destroy),
  ENTRY (M3retObjectiveVTable, views),
  ENTRY (M3retObjectiveVTable, loss),
  ENTRY (M3retObjectiveVTable, optimizer),
  { 0, NULL, 0 }
};

static const Entry backend_entries[] = {
  ENTRY (M3retBackendVTable, create),
  ENTRY (M3retBackendVTable, destroy),
  ENTRY (M3retBackendVTable, alloc),
  ENTRY (M3retBackendVTable, free),
  ENTRY (M3retBackendVTable, upload),
  ENTRY (M3retBackendVTable, download),
  ENTRY (M3retBackendVTable, gemm),
  ENTRY (M3retBackendVTable, fill),
  ENTRY (M3retBackendVTable, axpby),
  ENTRY (M3retBackendVTable, add_bcast),
  ENTRY (M3retBackendVTable, reduce_period),
  ENTRY (M3retBackendVTable, mul),
  ENTRY (M3retBackendVTable, scale_by),
  ENTRY (M3retBackendVTable, gelu_fwd),
  ENTRY (M3retBackendVTable, gelu_bwd),
  ENTRY (M3retBackendVTable, sumsq),
  ENTRY (M3retBackendVTable, layernorm_fwd),
  ENTRY (M3retBackendVTable, layernorm_bwd),
  ENTRY (M3retBackendVTable, softmax_fwd),
  ENTRY (M3retBackendVTable, softmax_bwd),
  ENTRY (M3retBackendVTable, l2norm_fwd),
  ENTRY (M3retBackendVTable, l2norm_bwd),
  ENTRY (M3retBackendVTable, gather_rows),
  ENTRY (M3retBackendVTable, scatter_add_rows),
  ENTRY (M3retBackendVTable, copy2d),
  ENTRY (M3retBackendVTable, reduce_mid),
  ENTRY (M3retBackendVTable, expand_mid),
  ENTRY (M3retBackendVTable, attention_fwd),
  ENTRY (M3retBackendVTable, attention_bwd),
  ENTRY (M3retBackendVTable, sum_fwd),
  ENTRY (M3retBackendVTable, adamw),
  /* optional, so not listed: the fused losses mse_fwd/bwd and
   * logdet_fwd/bwd (since minor 6: the ops compose general entries when
   * they are NULL), and the entries of minor 5 and 6, which the op that
   * needs one checks */
  { 0, NULL, 0 }
};

static const Entry retriever_entries[] = {
  ENTRY (M3retRetrieverVTable, create),
  ENTRY (M3retRetrieverVTable, destroy),
  ENTRY (M3retRetrieverVTable, add),
  ENTRY (M3retRetrieverVTable, count),
  ENTRY (M3retRetrieverVTable, search),
  ENTRY (M3retRetrieverVTable, save),
  ENTRY (M3retRetrieverVTable, load),
  { 0, NULL, 0 }
};

static const Entry *const kind_entries[M3RET_PLUGIN_N_KINDS] = {
  [M3RET_PLUGIN_MODALITY] = modality_entries,
  [M3RET_PLUGIN_OBJECTIVE] = objective_entries,
  [M3RET_PLUGIN_BACKEND] = backend_entries,
  [M3RET_PLUGIN_RETRIEVER] = retriever_entries,
};

gboolean
m3ret_vtable_check (M3retPluginKind kind, gconstpointer vtable, guint abi_minor, GError **error)
{
  g_return_val_if_fail ((guint) kind < M3RET_PLUGIN_N_KINDS, FALSE);
  for (const Entry *e = kind_entries[kind]; e->name != NULL; e++) {
    if (e->since > abi_minor)
      continue;
    gconstpointer fn = *(gconstpointer const *) ((const guint8 *) vtable + e->offset);
    if (fn == NULL) {
      g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_MISSING_ENTRY,
                   "mandatory entry '%s' is NULL", e->name);
      return FALSE;
    }
  }
  return TRUE;
}
