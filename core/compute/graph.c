/* graph.c — the tape, the step arena and reverse-mode differentiation. */
#include "config.h"

#include <string.h>

#include "arena-private.h"
#include "graph-private.h"

#define TENSORS_PER_BLOCK 256

struct _M3retGraph {
  M3retDevice *device;
  const M3retBackendVTable *vt;
  gpointer ctx;
  Arena *arena;
  GArray *nodes;        /* GraphNode, the tape */
  GPtrArray *tblocks;   /* host blocks of TENSORS_PER_BLOCK step tensor structs */
  guint n_tensors;      /* in use this step */
  gboolean grad_enabled;
  GError *error;        /* first failure of this step */
  gpointer host_scratch;
  gsize host_scratch_size;
  GArray *spare;        /* SpareGrad: gradients of finished nodes, for reuse */
};

/* A gradient buffer no node reads any more.  Transformer blocks repeat the
 * same shapes, so the backward of one block reuses the buffers the block
 * after it has finished with, and the arena holds about one block's worth
 * of activation gradients instead of all of them. */
typedef struct {
  gsize nbytes;
  float *mem;
} SpareGrad;

M3retGraph *
m3ret_graph_new (M3retDevice *device)
{
  g_return_val_if_fail (device != NULL, NULL);
  M3retGraph *g = g_new0 (M3retGraph, 1);
  g->device = device;
  g->vt = m3ret_device_get_vtable (device);
  g->ctx = m3ret_device_get_context (device);
  g->arena = arena_new (device, 16 << 20);
  g->nodes = g_array_sized_new (FALSE, TRUE, sizeof (GraphNode), 256);
  g->tblocks = g_ptr_array_new_with_free_func (g_free);
  g->grad_enabled = TRUE;
  g->spare = g_array_new (FALSE, FALSE, sizeof (SpareGrad));
  return g;
}

void
m3ret_graph_free (M3retGraph *g)
{
  if (g == NULL)
    return;
  arena_free (g->arena);
  g_array_unref (g->nodes);
  g_ptr_array_unref (g->tblocks);
  g_clear_error (&g->error);
  g_free (g->host_scratch);
  g_array_unref (g->spare);
  g_free (g);
}

M3retDevice *
m3ret_graph_get_device (const M3retGraph *g)
{
  return g->device;
}

void
m3ret_graph_reset (M3retGraph *g)
{
  g_array_set_size (g->nodes, 0);
  g_array_set_size (g->spare, 0);
  g->n_tensors = 0;
  arena_reset (g->arena);
  g_clear_error (&g->error);
}

void
m3ret_graph_set_grad_enabled (M3retGraph *g, gboolean enabled)
{
  g->grad_enabled = enabled;
}

gboolean
m3ret_graph_get_grad_enabled (const M3retGraph *g)
{
  return g->grad_enabled;
}

const M3retBackendVTable *
graph_vt (const M3retGraph *g)
{
  return g->vt;
}

gpointer
graph_ctx (const M3retGraph *g)
{
  return g->ctx;
}

gpointer
graph_host_scratch (M3retGraph *g, gsize nbytes)
{
  if (g->host_scratch_size < nbytes) {
    g_free (g->host_scratch);
    g->host_scratch = g_malloc (nbytes);
    g->host_scratch_size = nbytes;
  }
  return g->host_scratch;
}

void
graph_take_error (M3retGraph *g, GError *error)
{
  if (g->error == NULL)
    g->error = error;
  else
    g_error_free (error);
}

void
m3ret_graph_fail (M3retGraph *g, GError *error)
{
  g_return_if_fail (g != NULL && error != NULL);
  graph_take_error (g, error);
}

gboolean
graph_failed (M3retGraph *g)
{
  if (g->error == NULL)
    m3ret_device_take_error (g->device, &g->error);
  return g->error != NULL;
}

gboolean
graph_ran (M3retGraph *g, gboolean ok, GError **error)
{
  if (!ok)
    graph_take_error (g, *error != NULL ? *error
                                        : g_error_new_literal (M3RET_BACKEND_ERROR,
                                                               M3RET_BACKEND_ERROR_FAILED,
                                                               "a backend entry failed"));
  else
    g_clear_error (error);
  *error = NULL;
  return ok;
}

gboolean
graph_has_optional (const M3retGraph *g, gconstpointer fn, guint since)
{
  return fn != NULL && m3ret_device_get_abi_minor (g->device) >= since;
}

gboolean
graph_has_entry (M3retGraph *g, gconstpointer fn, guint since, const gchar *entry, const gchar *op)
{
  if (graph_has_optional (g, fn, since))
    return TRUE;
  graph_take_error (g, g_error_new (M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                                    "op '%s': backend '%s' has no entry '%s' (optional, ABI "
                                    "minor %u; the plugin is built against minor %u)",
                                    op, m3ret_device_get_name (g->device), entry, since,
                                    m3ret_device_get_abi_minor (g->device)));
  return FALSE;
}

gboolean
m3ret_graph_check (M3retGraph *g, GError **error)
{
  if (graph_failed (g)) {
    g_propagate_error (error, g_error_copy (g->error));
    return FALSE;
  }
  return TRUE;
}

gpointer
m3ret_graph_alloc (M3retGraph *g, gsize nbytes)
{
  if (g->error != NULL)
    return NULL;
  return arena_alloc (g->arena, nbytes, &g->error);
}

static M3retTensor *
new_struct (M3retGraph *g)
{
  guint block = g->n_tensors / TENSORS_PER_BLOCK;
  if (block == g->tblocks->len)
    g_ptr_array_add (g->tblocks, g_new (M3retTensor, TENSORS_PER_BLOCK));
  M3retTensor *t = (M3retTensor *) g->tblocks->pdata[block] + g->n_tensors % TENSORS_PER_BLOCK;
  g->n_tensors++;
  memset (t, 0, sizeof *t);
  t->device = g->device;
  t->node = -1;
  return t;
}

M3retTensor *
graph_view (M3retGraph *g, M3retTensor *src, gint ndim, const gint64 *shape)
{
  M3retTensor *t = new_struct (g);
  if (!m3ret_tensor_set_shape (t, ndim, shape) || t->numel != src->numel) {
    g_critical ("view of %" G_GSIZE_FORMAT " elements as a different size", src->numel);
    return NULL;
  }
  t->data = src->data;
  return t;
}

M3retTensor *
graph_const_view_at (M3retGraph *g, const M3retTensor *src, gsize offset, gint ndim,
                     const gint64 *shape)
{
  if (g->error != NULL)
    return NULL;
  M3retTensor *t = new_struct (g);
  if (!m3ret_tensor_set_shape (t, ndim, shape) || offset + t->numel > src->numel) {
    g_critical ("view outside a tensor of %" G_GSIZE_FORMAT " elements", src->numel);
    return NULL;
  }
  t->data = src->data + offset;
  return t;
}

M3retTensor *
m3ret_graph_new_tensor (M3retGraph *g, gint ndim, const gint64 *shape)
{
  if (g->error != NULL)
    return NULL;
  M3retTensor *t = new_struct (g);
  if (!m3ret_tensor_set_shape (t, ndim, shape)) {
    g_critical ("bad step tensor shape (%d dims)", ndim);
    return NULL;
  }
  t->data = arena_alloc (g->arena, t->numel * sizeof (float), &g->error);
  return t->data ? t : NULL;
}

M3retTensor *
m3ret_graph_zeros (M3retGraph *g, gint ndim, const gint64 *shape)
{
  M3retTensor *t = m3ret_graph_new_tensor (g, ndim, shape);
  if (t != NULL)
    g->vt->fill (g->ctx, t->data, t->numel, 0.0f);
  return t;
}

M3retTensor *
m3ret_graph_from_host (M3retGraph *g, gint ndim, const gint64 *shape, const float *host,
                       gboolean requires_grad)
{
  M3retTensor *t = m3ret_graph_new_tensor (g, ndim, shape);
  if (t == NULL)
    return NULL;
  g->vt->upload (g->ctx, t->data, host, t->numel * sizeof (float));
  t->requires_grad = requires_grad;
  return t;
}

gboolean
graph_will_record (const M3retGraph *g, const M3retTensor *in0, const M3retTensor *in1,
                   const M3retTensor *in2)
{
  return g->grad_enabled
         && ((in0 && in0->requires_grad) || (in1 && in1->requires_grad)
             || (in2 && in2->requires_grad));
}

M3retDevice *
graph_device (const M3retGraph *g)
{
  return g->device;
}

GraphNode *
graph_record (M3retGraph *g, GraphBackward backward, M3retTensor *out, M3retTensor *in0,
              M3retTensor *in1, M3retTensor *in2)
{
  if (!graph_will_record (g, in0, in1, in2))
    return NULL;
  g_array_set_size (g->nodes, g->nodes->len + 1);
  GraphNode *n = &g_array_index (g->nodes, GraphNode, g->nodes->len - 1);
  memset (n, 0, sizeof *n);
  n->backward = backward;
  n->out = out;
  n->in[0] = in0;
  n->in[1] = in1;
  n->in[2] = in2;
  out->requires_grad = TRUE;
  out->node = (gint) g->nodes->len - 1;
  return n;
}

float *
graph_grad_uninit (M3retGraph *g, M3retTensor *t, gboolean *fresh)
{
  *fresh = FALSE;
  if (t == NULL || !t->requires_grad)
    return NULL;
  if (t->grad == NULL) {
    if (t->persistent) {
      g_critical ("persistent tensor requires a gradient but has no buffer");
      return NULL;
    }
    gsize nbytes = t->numel * sizeof (float);
    for (guint i = 0; i < g->spare->len; i++)
      if (g_array_index (g->spare, SpareGrad, i).nbytes == nbytes) {
        t->grad = g_array_index (g->spare, SpareGrad, i).mem;
        g_array_remove_index_fast (g->spare, i);
        break;
      }
    if (t->grad == NULL)
      t->grad = arena_alloc (g->arena, nbytes, &g->error);
    if (t->grad == NULL)
      return NULL;
    *fresh = TRUE;
  }
  return t->grad;
}

static void
custom_bwd (M3retGraph *g, GraphNode *n)
{
  guint n_in = (guint) n->i[0];
  n->custom (g, n->out, n->in, n_in, n->custom_data);
}

gboolean
m3ret_graph_record_op (M3retGraph *g, M3retTensor *out, M3retTensor *const *inputs,
                       guint n_inputs, M3retBackwardFunc backward, gpointer user_data)
{
  g_return_val_if_fail (g != NULL && out != NULL && backward != NULL, FALSE);
  g_return_val_if_fail (n_inputs <= M3RET_GRAPH_MAX_INPUTS && (inputs != NULL || n_inputs == 0),
                        FALSE);
  g_return_val_if_fail (!out->persistent && out->node < 0, FALSE);
  M3retTensor *in[GRAPH_NODE_MAX_IN] = { NULL };
  for (guint i = 0; i < n_inputs; i++)
    in[i] = inputs[i];
  GraphNode *n = graph_record (g, custom_bwd, out, in[0], in[1], in[2]);
  if (n == NULL)
    return FALSE;
  n->i[0] = n_inputs;
  n->custom = backward;
  n->custom_data = user_data;
  return TRUE;
}

float *
m3ret_graph_get_grad (M3retGraph *g, M3retTensor *t)
{
  g_return_val_if_fail (g != NULL, NULL);
  return graph_grad (g, t);
}

float *
graph_grad (M3retGraph *g, M3retTensor *t)
{
  gboolean fresh;
  float *grad = graph_grad_uninit (g, t, &fresh);
  if (fresh)
    g->vt->fill (g->ctx, grad, t->numel, 0.0f);
  return grad;
}

gboolean
graph_pass_grad (M3retGraph *g, GraphNode *n, M3retTensor *t)
{
  M3retTensor *out = n->out;
  if (t == NULL || !t->requires_grad || t->persistent || t->grad != NULL
      || t->numel != out->numel || out->grad == NULL)
    return FALSE;
  t->grad = out->grad;
  out->grad = NULL; /* the backward loop then keeps it out of the spares */
  return TRUE;
}

gboolean
m3ret_graph_backward (M3retGraph *g, M3retTensor *loss, GError **error)
{
  return graph_backward_notify (g, loss, NULL, 0, NULL, NULL, error);
}

/* For each of @watch, the first node of the tape that reads it (-1: none);
 * backward adds into a tensor only from the nodes that read it, so its
 * gradient is final once the walk has passed that node. */
static gint *
first_readers (const M3retGraph *g, M3retTensor *const *watch, guint n_watch)
{
  gint *first = g_new (gint, MAX (n_watch, 1));
  g_autoptr (GHashTable) index = g_hash_table_new (NULL, NULL);
  for (guint k = 0; k < n_watch; k++) {
    first[k] = -1;
    g_hash_table_insert (index, watch[k], GUINT_TO_POINTER (k + 1));
  }
  for (guint i = 0; i < g->nodes->len; i++) {
    const GraphNode *n = &g_array_index (g->nodes, GraphNode, i);
    for (guint j = 0; j < GRAPH_NODE_MAX_IN; j++) {
      guint k = n->in[j] ? GPOINTER_TO_UINT (g_hash_table_lookup (index, n->in[j])) : 0;
      if (k > 0 && first[k - 1] < 0)
        first[k - 1] = (gint) i;
    }
  }
  return first;
}

/* Unread tensors (-1) first, then by first reader, latest first. */
static gint
by_first_reader (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const gint *first = user_data;
  gint fa = first[*(const guint *) a], fb = first[*(const guint *) b];
  if ((fa < 0) != (fb < 0))
    return fa < 0 ? -1 : 1;
  return fa > fb ? -1 : fa < fb ? 1 : 0;
}

gboolean
graph_backward_notify (M3retGraph *g, M3retTensor *loss, M3retTensor *const *watch, guint n_watch,
                       GraphGradReady ready, gpointer user_data, GError **error)
{
  if (!m3ret_graph_check (g, error))
    return FALSE;
  g_return_val_if_fail (loss != NULL && loss->numel == 1, FALSE);
  if (!loss->requires_grad)
    return TRUE; /* nothing it depends on wants a gradient */
  float *seed = graph_grad (g, loss);
  if (seed == NULL)
    return m3ret_graph_check (g, error);
  g->vt->fill (g->ctx, seed, 1, 1.0f);
  g_autofree gint *first = ready != NULL ? first_readers (g, watch, n_watch) : NULL;
  /* the watched tensors, latest first reader first: reported in that order */
  g_autofree guint *order = ready != NULL ? g_new (guint, MAX (n_watch, 1)) : NULL;
  guint next = 0;
  if (ready != NULL) {
    for (guint k = 0; k < n_watch; k++)
      order[k] = k;
    g_qsort_with_data (order, n_watch, sizeof (guint), by_first_reader, first);
    while (next < n_watch && first[order[next]] < 0)
      ready (user_data, order[next++]); /* nothing reads it: its gradient stays as it is */
  }
  /* nodes after the loss's own do not contribute to it */
  gint last = loss->node >= 0 ? loss->node : (gint) g->nodes->len - 1;
  for (gint i = (gint) g->nodes->len - 1; i >= 0; i--) {
    GraphNode *n = &g_array_index (g->nodes, GraphNode, i);
    if (i <= last && n->out->grad != NULL) { /* else not on a path to the loss */
      n->backward (g, n);
      if (graph_failed (g))
        break;
      /* every reader of out->grad came later on the tape: it is dead now,
       * unless the backward passed it on to an input (graph_pass_grad) */
      if (n->out->grad != NULL) {
        SpareGrad spare = { n->out->numel * sizeof (float), n->out->grad };
        g_array_append_val (g->spare, spare);
        n->out->grad = NULL;
      }
    }
    while (ready != NULL && next < n_watch && first[order[next]] == i)
      ready (user_data, order[next++]);
  }
  return m3ret_graph_check (g, error);
}

GraphMark
graph_mark (const M3retGraph *g)
{
  GraphMark m = { arena_mark (g->arena), g->nodes->len };
  return m;
}

gboolean
graph_rewind (M3retGraph *g, const GraphMark *mark)
{
  if (g->nodes->len != mark->nodes || g->error != NULL)
    return FALSE;
  arena_rewind (g->arena, &mark->arena);
  return TRUE;
}

gsize
m3ret_graph_get_reserved_bytes (const M3retGraph *g)
{
  return arena_get_reserved (g->arena);
}

gsize
m3ret_graph_get_peak_bytes (const M3retGraph *g)
{
  return arena_get_peak (g->arena);
}

guint
m3ret_graph_get_n_nodes (const M3retGraph *g)
{
  return g->nodes->len;
}
