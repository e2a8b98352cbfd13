/* m3ret-graph.h — one training step's ops, recorded for reverse mode.
 *
 * Execution is eager: every op (m3ret-ops.h) runs at once on the device
 * and, when one of its inputs requires a gradient, appends a node to the
 * graph's tape.  m3ret_graph_backward() walks the tape backwards, each
 * node's rule adding into its inputs' gradients.  Step tensors, their
 * gradients and saved intermediates come from an arena of device memory
 * that m3ret_graph_reset() releases in one go; after the first steps the
 * arena holds one block sized to the step's high-water mark, so the
 * steady state allocates nothing and does not grow.
 *
 * Parameters are persistent tensors (m3ret-tensor.h): their gradients
 * accumulate across backward calls until zeroed (m3ret-params.h).
 *
 * Errors: an op fails when the device is out of memory, when the backend
 * lacks an optional entry the op needs, or when the backend reports a
 * failure (an entry's GError, or its take_error record).  The op then
 * returns NULL, later ops given NULL return NULL quietly, and the error
 * comes out of m3ret_graph_backward() or m3ret_graph_check().
 *
 * Ops of your own: a plugin that needs an op the core lacks computes its
 * forward with the device's entries (m3ret_device_get_vtable()) or with
 * other ops while gradients are disabled, then records it with
 * m3ret_graph_record_op() and a backward that adds into its inputs'
 * gradients (m3ret_graph_get_grad()).  Nothing in the core, the backends
 * or the ABI changes for it.
 */
#ifndef M3RET_GRAPH_H
#define M3RET_GRAPH_H

#include <glib.h>

#include "m3ret-tensor.h"

G_BEGIN_DECLS

typedef struct _M3retGraph M3retGraph;

/* Returns: (transfer full) an empty graph on @device (not owned; it must
 * outlive the graph). */
M3retGraph *m3ret_graph_new (M3retDevice *device);
/* Accepts NULL. */
void m3ret_graph_free (M3retGraph *graph);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retGraph, m3ret_graph_free)

/* (transfer none) */
M3retDevice *m3ret_graph_get_device (const M3retGraph *graph);

/* Forgets the tape and every step tensor (pointers to them dangle after
 * this); clears a recorded error. */
void m3ret_graph_reset (M3retGraph *graph);

/* While disabled (e.g. a teacher's forward, evaluation), ops record
 * nothing and their outputs need no gradient.  Enabled at creation. */
void m3ret_graph_set_grad_enabled (M3retGraph *graph, gboolean enabled);
gboolean m3ret_graph_get_grad_enabled (const M3retGraph *graph);

/* Differentiates the single-element @loss with respect to everything it
 * was computed from (d loss / d loss = 1).  Afterwards the gradients of
 * leaves (parameters, tensors made with m3ret_graph_from_host(...,
 * requires_grad = TRUE)) are readable; those of op outputs were recycled
 * during the walk and are NULL.  Returns FALSE with @error when an op
 * failed earlier or memory ran out. */
gboolean m3ret_graph_backward (M3retGraph *graph, M3retTensor *loss, GError **error);

/* FALSE with @error (a copy) if an op of this step failed (the backend's
 * record included). */
gboolean m3ret_graph_check (M3retGraph *graph, GError **error);

/* ---- ops of your own ---- */
#define M3RET_GRAPH_MAX_INPUTS 3

/* The backward of a recorded op: reads @out->grad (d loss / d out, device
 * memory, out's shape) and ADDS each input's contribution into
 * m3ret_graph_get_grad (@graph, @inputs[i]) when that is not NULL.  A
 * failure goes to m3ret_graph_fail(). */
typedef void (*M3retBackwardFunc) (M3retGraph *graph, M3retTensor *out,
                                   M3retTensor *const *inputs, guint n_inputs,
                                   gpointer user_data);

/* Records that @out (a step tensor made this step, e.g. by
 * m3ret_graph_new_tensor(), and not an op's output yet) was computed from
 * @inputs (at most M3RET_GRAPH_MAX_INPUTS; NULL entries allowed).  When
 * gradients are enabled and an input requires one, @out then requires one
 * and @backward runs during m3ret_graph_backward() with @user_data (not
 * owned: keep it alive until the backward or the reset).  Returns TRUE
 * when a node was recorded, FALSE when none was needed. */
gboolean m3ret_graph_record_op (M3retGraph *graph, M3retTensor *out, M3retTensor *const *inputs,
                                guint n_inputs, M3retBackwardFunc backward, gpointer user_data);

/* (transfer none) the gradient buffer of @t to add into (device memory,
 * zeroed when made), or NULL when @t needs no gradient. */
float *m3ret_graph_get_grad (M3retGraph *graph, M3retTensor *t);

/* Records @error (transfer full) as the step's failure (the first one is
 * kept): for a recorded op whose forward or backward fails. */
void m3ret_graph_fail (M3retGraph *graph, GError *error);

/* Step tensors.  Returns: (transfer none) valid until the next reset, or
 * NULL on out of memory. */
M3retTensor *m3ret_graph_new_tensor (M3retGraph *graph, gint ndim, const gint64 *shape);
M3retTensor *m3ret_graph_zeros (M3retGraph *graph, gint ndim, const gint64 *shape);
/* Uploads @host (numel floats).  With @requires_grad the tensor is a leaf
 * whose gradient backward fills. */
M3retTensor *m3ret_graph_from_host (M3retGraph *graph, gint ndim, const gint64 *shape,
                                    const float *host, gboolean requires_grad);
/* (transfer none) @nbytes of device memory until the next reset. */
gpointer m3ret_graph_alloc (M3retGraph *graph, gsize nbytes);

/* Arena figures: bytes reserved from the device now, and the most bytes
 * one step has used so far. */
gsize m3ret_graph_get_reserved_bytes (const M3retGraph *graph);
gsize m3ret_graph_get_peak_bytes (const M3retGraph *graph);
/* Number of ops recorded on the tape since the last reset. */
guint m3ret_graph_get_n_nodes (const M3retGraph *graph);

G_END_DECLS

#endif /* M3RET_GRAPH_H */
