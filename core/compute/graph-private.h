/* graph-private.h — what ops need from the graph: the tape and the arena. */
#ifndef M3RET_GRAPH_PRIVATE_H
#define M3RET_GRAPH_PRIVATE_H

#include "arena-private.h"
#include "m3ret-graph.h"

G_BEGIN_DECLS

typedef struct _GraphNode GraphNode;

/* Adds into the gradients of the node's inputs, given out->grad. */
typedef void (*GraphBackward) (M3retGraph *graph, GraphNode *node);

#define GRAPH_NODE_MAX_IN M3RET_GRAPH_MAX_INPUTS

struct _GraphNode {
  GraphBackward backward;
  M3retTensor *out;
  M3retTensor *in[GRAPH_NODE_MAX_IN];
  gpointer saved[3];  /* device buffers from the arena */
  gint64 i[6];
  gfloat f[4];
  M3retAttentionShape attn;
  /* an op recorded with m3ret_graph_record_op() */
  M3retBackwardFunc custom;
  gpointer custom_data;
};

/* The backend, for ops to call. */
const M3retBackendVTable *graph_vt (const M3retGraph *graph);
gpointer graph_ctx (const M3retGraph *graph);

/* TRUE when an earlier op failed (ops then return NULL); first takes the
 * backend's record of a failure in a void entry (take_error, minor 6). */
gboolean graph_failed (M3retGraph *graph);

/* Records @error (transfer full) as the step's failure unless one is
 * already recorded. */
void graph_take_error (M3retGraph *graph, GError *error);

/* Records that @out = op(@in...) when gradients are enabled and an input
 * requires one; sets @out->requires_grad and @out->node.  Returns:
 * (transfer none) the node to fill (valid until the next record), or NULL
 * when nothing is recorded. */
GraphNode *graph_record (M3retGraph *graph, GraphBackward backward, M3retTensor *out,
                         M3retTensor *in0, M3retTensor *in1, M3retTensor *in2);
/* TRUE when graph_record() with these inputs would record a node: only
 * then does an op need to save what its backward reads. */
gboolean graph_will_record (const M3retGraph *graph, const M3retTensor *in0,
                            const M3retTensor *in1, const M3retTensor *in2);
/* For entries that return gboolean (minor 5 on): FALSE from one records
 * its error (or a generic one) as the step's; returns @ok. */
gboolean graph_ran (M3retGraph *graph, gboolean ok, GError **error);

/* TRUE when the backend has the optional entry @fn (named @entry, added in
 * ABI minor @since); else the step fails with an error naming the
 * backend, the entry and @op. */
gboolean graph_has_entry (M3retGraph *graph, gconstpointer fn, guint since, const gchar *entry,
                          const gchar *op);

/* TRUE when the backend has the optional entry @fn of minor @since, for
 * ops that fall back to a composition when it does not. */
gboolean graph_has_optional (const M3retGraph *graph, gconstpointer fn, guint since);

/* The device the graph runs on. */
M3retDevice *graph_device (const M3retGraph *graph);

/* (transfer none) the gradient buffer of @t, created zeroed on first use;
 * NULL when @t needs no gradient (or on out of memory). */
float *graph_grad (M3retGraph *graph, M3retTensor *t);

/* Like graph_grad(), but a buffer made now is left uncleared and *@fresh
 * says so: the caller then writes every element instead of adding. */
float *graph_grad_uninit (M3retGraph *graph, M3retTensor *t, gboolean *fresh);

/* During @node's backward, as its last use of out->grad: when @t (one of
 * the inputs) has no gradient yet and is a step tensor of out's size, out's
 * gradient buffer becomes @t's, as it is (d in = d out), instead of being
 * copied into a cleared one.  FALSE when it cannot (then add as usual). */
gboolean graph_pass_grad (M3retGraph *graph, GraphNode *node, M3retTensor *t);

/* (transfer none) host memory of at least @nbytes, reused from call to
 * call (valid until the next call): staging for uploads, so steady-state
 * steps do not malloc. */
gpointer graph_host_scratch (M3retGraph *graph, gsize nbytes);

/* A step tensor that shares @src's data with another shape. */
M3retTensor *graph_view (M3retGraph *graph, M3retTensor *src, gint ndim, const gint64 *shape);
/* A constant step tensor over @src's data from element @offset on (no
 * gradient flows through it: for buffers such as position tables). */
M3retTensor *graph_const_view_at (M3retGraph *graph, const M3retTensor *src, gsize offset,
                                  gint ndim, const gint64 *shape);

/* Called during graph_backward_notify() with the position in its @watch of
 * a tensor whose gradient is now final: no node still to be walked adds
 * into it. */
typedef void (*GraphGradReady) (gpointer user_data, guint index);

/* m3ret_graph_backward(), calling @ready once for each of @watch (leaves,
 * such as parameters) as soon as its gradient is final: data-parallel
 * training sends gradients while the rest of the backward runs.  Tensors
 * no node reads are reported first. */
gboolean graph_backward_notify (M3retGraph *graph, M3retTensor *loss, M3retTensor *const *watch,
                                guint n_watch, GraphGradReady ready, gpointer user_data,
                                GError **error);

/* A point in the step to come back to: see graph_rewind(). */
typedef struct {
  ArenaMark arena;
  guint nodes;
} GraphMark;

GraphMark graph_mark (const M3retGraph *graph);
/* When nothing was recorded on the tape since @mark, the step tensors
 * made since are dead to everyone but the caller, who promises not to
 * read them: their memory goes back to the arena and TRUE is returned.
 * FALSE (and nothing changes) when a node was recorded. */
gboolean graph_rewind (M3retGraph *graph, const GraphMark *mark);

G_END_DECLS

#endif
