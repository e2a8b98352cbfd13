/* ops-linalg.c — general linear algebra for objectives (ABI minor 6):
 * Gram matrices, a diagonal shift, the log-determinant of a symmetric
 * positive definite matrix by Cholesky, and scattering rows.  SimDINO's
 * coding rate is logdet(I + c·ZᵀZ) =
 *   m3ret_op_logdet (m3ret_op_add_diagonal (m3ret_op_scale (m3ret_op_gram (Z), c), 1)),
 * which m3ret_op_logdet_gram() runs when the backend has no fused entry.
 */
#include "config.h"

#include "graph-private.h"
#include "m3ret-ops.h"

#define VT graph_vt (g)
#define CTX graph_ctx (g)

static const gint64 scalar_shape[1] = { 1 };

static gboolean
is_square (const M3retTensor *a, const gchar *op)
{
  if (a->ndim != 2 || a->shape[0] != a->shape[1]) {
    g_critical ("%s: expects a square 2-D matrix", op);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------ gram */

/* dZ += Z·(dG + dGᵀ) */
static void
gram_bwd (M3retGraph *g, GraphNode *n)
{
  M3retTensor *z = n->in[0];
  float *dz = graph_grad (g, z);
  gint b = (gint) z->shape[0], p = (gint) z->shape[1];
  if (dz == NULL)
    return;
  VT->gemm (CTX, FALSE, FALSE, b, p, p, 1.0f, z->data, p, n->out->grad, p, 1.0f, dz, p);
  VT->gemm (CTX, FALSE, TRUE, b, p, p, 1.0f, z->data, p, n->out->grad, p, 1.0f, dz, p);
}

M3retTensor *
m3ret_op_gram (M3retGraph *g, M3retTensor *z)
{
  if (z == NULL || graph_failed (g))
    return NULL;
  if (z->ndim != 2) {
    g_critical ("gram: expects a 2-D b×p matrix, got %d dimensions", z->ndim);
    return NULL;
  }
  gint b = (gint) z->shape[0], p = (gint) z->shape[1];
  gint64 shape[2] = { p, p };
  M3retTensor *out = m3ret_graph_new_tensor (g, 2, shape);
  if (out == NULL)
    return NULL;
  VT->gemm (CTX, TRUE, FALSE, p, p, b, 1.0f, z->data, p, z->data, p, 0.0f, out->data, p);
  graph_record (g, gram_bwd, out, z, NULL, NULL);
  return out;
}

/* ---------------------------------------------------------- add_diagonal */

static void
add_diagonal_bwd (M3retGraph *g, GraphNode *n)
{
  M3retTensor *a = n->in[0];
  if (graph_pass_grad (g, n, a))
    return;
  float *da = graph_grad (g, a);
  if (da != NULL)
    VT->axpby (CTX, a->numel, 1.0f, n->out->grad, 1.0f, da);
}

M3retTensor *
m3ret_op_add_diagonal (M3retGraph *g, M3retTensor *a, gfloat s)
{
  if (a == NULL || graph_failed (g) || !is_square (a, "add_diagonal"))
    return NULL;
  gint n = (gint) a->shape[0];
  M3retTensor *out = m3ret_graph_new_tensor (g, 2, a->shape);
  float *value = m3ret_graph_alloc (g, sizeof (float));
  if (out == NULL || value == NULL)
    return NULL;
  VT->copy2d (CTX, n, n, a->data, n, 0.0f, out->data, n);
  VT->fill (CTX, value, 1, s);
  /* the diagonal as n rows of one column, n + 1 apart, each getting s */
  VT->copy2d (CTX, n, 1, value, 0, 1.0f, out->data, n + 1);
  graph_record (g, add_diagonal_bwd, out, a, NULL, NULL);
  return out;
}

/* ---------------------------------------------------------------- logdet */

/* dA += dout·S⁻¹ (S⁻¹ is symmetric) */
static void
logdet_bwd (M3retGraph *g, GraphNode *n)
{
  M3retTensor *a = n->in[0];
  float *da = graph_grad (g, a);
  if (da != NULL)
    VT->scale_by (CTX, a->numel, n->saved[0], n->out->grad, 1.0f, da);
}

M3retTensor *
m3ret_op_logdet (M3retGraph *g, M3retTensor *a)
{
  if (a == NULL || graph_failed (g) || !is_square (a, "logdet")
      || !graph_has_entry (g, VT->cholesky_logdet_fwd, 6, "cholesky_logdet_fwd", "logdet"))
    return NULL;
  M3retTensor *out = m3ret_graph_new_tensor (g, 1, scalar_shape);
  float *inv = m3ret_graph_alloc (g, sizeof (float) * a->numel);
  if (out == NULL || inv == NULL)
    return NULL;
  GError *error = NULL;
  if (!graph_ran (g, VT->cholesky_logdet_fwd (CTX, (gint) a->shape[0], a->data, out->data, inv,
                                              &error),
                  &error))
    return NULL;
  GraphNode *n = graph_record (g, logdet_bwd, out, a, NULL, NULL);
  if (n != NULL)
    n->saved[0] = inv;
  return out;
}

/* ---------------------------------------------------------- scatter_rows */

/* dx[i,:] += dout[rows[i],:] */
static void
scatter_bwd (M3retGraph *g, GraphNode *n)
{
  M3retTensor *x = n->in[0];
  gint m = (gint) n->i[0], cols = (gint) n->i[1];
  gboolean fresh;
  float *dx = graph_grad_uninit (g, x, &fresh);
  if (dx == NULL)
    return;
  if (fresh) {
    VT->gather_rows (CTX, m, cols, n->out->grad, n->saved[0], dx);
    return;
  }
  float *tmp = m3ret_graph_alloc (g, sizeof (float) * x->numel);
  if (tmp == NULL)
    return;
  VT->gather_rows (CTX, m, cols, n->out->grad, n->saved[0], tmp);
  VT->axpby (CTX, x->numel, 1.0f, tmp, 1.0f, dx);
}

M3retTensor *
m3ret_op_scatter_rows (M3retGraph *g, M3retTensor *x, const gint32 *rows, gint n_out)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  gint m = (gint) m3ret_tensor_rows (x);
  gint64 cols = m3ret_tensor_cols (x);
  for (gint i = 0; i < m; i++)
    if (rows[i] < 0 || rows[i] >= n_out) {
      g_critical ("scatter_rows: index %d outside [0, %d)", rows[i], n_out);
      return NULL;
    }
  gint64 shape[2] = { n_out, cols };
  M3retTensor *out = m3ret_graph_zeros (g, 2, shape);
  gint32 *dev_rows = m3ret_graph_alloc (g, sizeof (gint32) * (gsize) m);
  if (out == NULL || dev_rows == NULL)
    return NULL;
  VT->upload (CTX, dev_rows, rows, sizeof (gint32) * (gsize) m);
  VT->scatter_add_rows (CTX, m, (gint) cols, x->data, dev_rows, out->data);
  GraphNode *n = graph_record (g, scatter_bwd, out, x, NULL, NULL);
  if (n != NULL) {
    n->i[0] = m;
    n->i[1] = cols;
    n->saved[0] = dev_rows;
  }
  return out;
}
