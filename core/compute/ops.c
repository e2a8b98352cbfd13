/* ops.c — each op's forward next to its backward rule.
 *
 * Forwards call the backend, then graph_record() a node when a gradient
 * is wanted; backward rules add into graph_grad() of each input that
 * needs one.  Inputs that are NULL mean an earlier op failed: return NULL
 * quietly (the graph keeps the error).
 */
#include "config.h"

#include <math.h>

#include "graph-private.h"
#include "m3ret-ops.h"

#define VT graph_vt (g)
#define CTX graph_ctx (g)

static const gint64 scalar_shape[1] = { 1 };

/* Shape of @x with its last dimension replaced by @last. */
static M3retTensor *
new_with_last (M3retGraph *g, const M3retTensor *x, gint64 last)
{
  gint64 shape[M3RET_TENSOR_MAX_DIMS];
  for (gint i = 0; i < x->ndim; i++)
    shape[i] = x->shape[i];
  shape[x->ndim - 1] = last;
  return m3ret_graph_new_tensor (g, x->ndim, shape);
}

static M3retTensor *
new_like (M3retGraph *g, const M3retTensor *x)
{
  return m3ret_graph_new_tensor (g, x->ndim, x->shape);
}

static gboolean
is_tokens (const M3retTensor *x, const gchar *op)
{
  if (x->ndim != 3) {
    g_critical ("%s: expects B×N×D tokens, got %d dimensions", op, x->ndim);
    return FALSE;
  }
  return TRUE;
}

/* dst += src (same size) */
static void
acc (M3retGraph *g, float *dst, const float *src, gsize n)
{
  if (dst != NULL)
    VT->axpby (CTX, n, 1.0f, src, 1.0f, dst);
}

/* ------------------------------------------------------------- reshape */

static void
reshape_bwd (M3retGraph *g, GraphNode *n)
{
  if (!graph_pass_grad (g, n, n->in[0]))
    acc (g, graph_grad (g, n->in[0]), n->out->grad, n->out->numel);
}

M3retTensor *
m3ret_op_reshape (M3retGraph *g, M3retTensor *x, gint ndim, const gint64 *shape)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  M3retTensor *out = graph_view (g, x, ndim, shape);
  if (out != NULL)
    graph_record (g, reshape_bwd, out, x, NULL, NULL);
  return out;
}

M3retTensor *
m3ret_op_detach (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  return graph_view (g, x, x->ndim, x->shape);
}

M3retTensor *
m3ret_op_constant_view (M3retGraph *g, M3retTensor *x, gsize offset, gint ndim,
                        const gint64 *shape)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  return graph_const_view_at (g, x, offset, ndim, shape);
}

/* -------------------------------------------------------------- matmul */

/* The gradients of a product's two operands, given @dc, the gradient of
 * its output (before any activation); n->i: rows, K, N, trans_b. */
static void
matmul_operand_grads (M3retGraph *g, GraphNode *n, const float *dc)
{
  gint rows = (gint) n->i[0], k = (gint) n->i[1], nn = (gint) n->i[2];
  gboolean tb = (gboolean) n->i[3];
  M3retTensor *a = n->in[0], *b = n->in[1];
  gboolean fresh; /* a new input gradient is written by the product, not cleared first */
  float *da = graph_grad_uninit (g, a, &fresh), *db = graph_grad (g, b);
  gfloat beta = fresh ? 0.0f : 1.0f;
  if (da != NULL) {
    if (tb)
      VT->gemm (CTX, FALSE, FALSE, rows, k, nn, 1.0f, dc, nn, b->data, k, beta, da, k);
    else
      VT->gemm (CTX, FALSE, TRUE, rows, k, nn, 1.0f, dc, nn, b->data, nn, beta, da, k);
  }
  if (db != NULL) {
    if (tb)
      VT->gemm (CTX, TRUE, FALSE, nn, k, rows, 1.0f, dc, nn, a->data, k, 1.0f, db, k);
    else
      VT->gemm (CTX, TRUE, FALSE, k, nn, rows, 1.0f, a->data, k, dc, nn, 1.0f, db, nn);
  }
}

/* n->i: rows, K, N, trans_b; in[2] an optional bias */
static void
matmul_bwd (M3retGraph *g, GraphNode *n)
{
  float *dbias = graph_grad (g, n->in[2]);
  if (dbias != NULL)
    VT->reduce_period (CTX, n->out->numel, n->out->grad, (gsize) n->i[2], 1.0f, dbias);
  matmul_operand_grads (g, n, n->out->grad);
}

/* GELU after a linear layer: the gradient of the pre-activation (saved[0])
 * overwrites the output's, in place, with the bias gradient summed in the
 * same pass; then the product's operands as in matmul_bwd. */
static void
linear_gelu_bwd (M3retGraph *g, GraphNode *n)
{
  float *d = n->out->grad;
  VT->bias_gelu_bwd (CTX, (gint) n->i[0], (gint) n->i[2], n->saved[0], d, d,
                     graph_grad (g, n->in[2]));
  matmul_operand_grads (g, n, d);
}

static M3retTensor *
matmul_common (M3retGraph *g, M3retTensor *a, M3retTensor *b, gboolean trans_b,
               M3retTensor *bias, gboolean gelu, const gchar *op)
{
  if (a == NULL || b == NULL || graph_failed (g))
    return NULL;
  if (b->ndim != 2) {
    g_critical ("%s: the weight must be 2-D, not %d-D", op, b->ndim);
    return NULL;
  }
  gint64 k = m3ret_tensor_cols (a);
  gint64 kb = trans_b ? b->shape[1] : b->shape[0];
  gint64 nn = trans_b ? b->shape[0] : b->shape[1];
  if (k != kb || (bias != NULL && (gint64) bias->numel != nn)) {
    g_critical ("%s: inner dimensions %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                " (or the bias) do not match", op, k, kb);
    return NULL;
  }
  gsize rows = m3ret_tensor_rows (a);
  M3retTensor *out = new_with_last (g, a, nn);
  if (out == NULL)
    return NULL;
  if (bias != NULL && trans_b && VT->linear_fwd != NULL) {
    /* the backend adds the bias as it writes each block of the product */
    VT->linear_fwd (CTX, (gint) rows, (gint) nn, (gint) k, a->data, b->data, bias->data,
                    out->data);
  } else {
    /* With a bias, every row starts as the bias and the product adds onto
     * it: one pass over the output instead of clearing it for the product
     * and then reading and writing it again for a broadcast add. */
    if (bias != NULL)
      VT->copy2d (CTX, (gint) rows, (gint) nn, bias->data, 0, 0.0f, out->data, (gint) nn);
    VT->gemm (CTX, FALSE, trans_b, (gint) rows, (gint) nn, (gint) k, 1.0f, a->data, (gint) k,
              b->data, (gint) b->shape[1], bias != NULL ? 1.0f : 0.0f, out->data, (gint) nn);
  }
  M3retTensor *pre = out;
  if (gelu) {
    out = new_like (g, pre);
    if (out == NULL)
      return NULL;
    VT->gelu_fwd (CTX, out->numel, pre->data, out->data);
  }
  GraphNode *n = graph_record (g, gelu ? linear_gelu_bwd : matmul_bwd, out, a, b, bias);
  if (n != NULL) {
    n->i[0] = (gint64) rows;
    n->i[1] = k;
    n->i[2] = nn;
    n->i[3] = trans_b;
    n->saved[0] = pre->data;
  }
  return out;
}

M3retTensor *
m3ret_op_matmul (M3retGraph *g, M3retTensor *a, M3retTensor *b, gboolean trans_b)
{
  return matmul_common (g, a, b, trans_b, NULL, FALSE, "matmul");
}

M3retTensor *
m3ret_op_linear (M3retGraph *g, M3retTensor *x, M3retTensor *w, M3retTensor *bias)
{
  return matmul_common (g, x, w, TRUE, bias, FALSE, "linear");
}

M3retTensor *
m3ret_op_linear_gelu (M3retGraph *g, M3retTensor *x, M3retTensor *w, M3retTensor *bias)
{
  if (VT->bias_gelu_bwd == NULL)
    return m3ret_op_gelu (g, m3ret_op_linear (g, x, w, bias));
  return matmul_common (g, x, w, TRUE, bias, TRUE, "linear_gelu");
}

/* ----------------------------------------------------------- elementwise */

/* The residual adds of every block: the second operand's gradient is
 * written (not cleared and added to) when it is new, then the first
 * operand takes out's gradient buffer over as its own when it can. */
static void
add_bwd (M3retGraph *g, GraphNode *n)
{
  const float *d = n->out->grad;
  gboolean fresh;
  float *db = graph_grad_uninit (g, n->in[1], &fresh);
  gsize numel = n->out->numel, nb = n->in[1]->numel;
  if (db != NULL && fresh && nb == numel)
    VT->copy2d (CTX, 1, (gint) numel, d, (gint) numel, 0.0f, db, (gint) numel);
  else if (db != NULL) {
    if (fresh)
      VT->fill (CTX, db, nb, 0.0f);
    VT->reduce_period (CTX, numel, d, nb, 1.0f, db);
  }
  if (!graph_pass_grad (g, n, n->in[0]))
    acc (g, graph_grad (g, n->in[0]), d, numel);
}

M3retTensor *
m3ret_op_add (M3retGraph *g, M3retTensor *a, M3retTensor *b)
{
  if (a == NULL || b == NULL || graph_failed (g))
    return NULL;
  if (a->numel % b->numel != 0) {
    g_critical ("add: %" G_GSIZE_FORMAT " elements do not repeat into %" G_GSIZE_FORMAT,
                b->numel, a->numel);
    return NULL;
  }
  M3retTensor *out = new_like (g, a);
  if (out == NULL)
    return NULL;
  VT->add_bcast (CTX, a->numel, a->data, b->numel, b->data, out->data);
  graph_record (g, add_bwd, out, a, b, NULL);
  return out;
}

static void
sub_bwd (M3retGraph *g, GraphNode *n)
{
  const float *d = n->out->grad;
  acc (g, graph_grad (g, n->in[0]), d, n->out->numel);
  float *db = graph_grad (g, n->in[1]);
  if (db != NULL)
    VT->axpby (CTX, n->out->numel, -1.0f, d, 1.0f, db);
}

static gboolean
check_same (const M3retTensor *a, const M3retTensor *b, const gchar *op)
{
  if (!m3ret_tensor_same_shape (a, b)) {
    g_autofree gchar *sa = m3ret_tensor_shape_string (a);
    g_autofree gchar *sb = m3ret_tensor_shape_string (b);
    g_critical ("%s: shapes %s and %s differ", op, sa, sb);
    return FALSE;
  }
  return TRUE;
}

M3retTensor *
m3ret_op_sub (M3retGraph *g, M3retTensor *a, M3retTensor *b)
{
  if (a == NULL || b == NULL || graph_failed (g) || !check_same (a, b, "sub"))
    return NULL;
  M3retTensor *out = new_like (g, a);
  if (out == NULL)
    return NULL;
  VT->axpby (CTX, a->numel, 1.0f, a->data, 0.0f, out->data);
  VT->axpby (CTX, a->numel, -1.0f, b->data, 1.0f, out->data);
  graph_record (g, sub_bwd, out, a, b, NULL);
  return out;
}

static void
mul_bwd (M3retGraph *g, GraphNode *n)
{
  const float *d = n->out->grad;
  float *da = graph_grad (g, n->in[0]), *db = graph_grad (g, n->in[1]);
  if (da != NULL)
    VT->mul (CTX, n->out->numel, d, n->in[1]->data, 1.0f, da);
  if (db != NULL)
    VT->mul (CTX, n->out->numel, d, n->in[0]->data, 1.0f, db);
}

M3retTensor *
m3ret_op_mul (M3retGraph *g, M3retTensor *a, M3retTensor *b)
{
  if (a == NULL || b == NULL || graph_failed (g) || !check_same (a, b, "mul"))
    return NULL;
  M3retTensor *out = new_like (g, a);
  if (out == NULL)
    return NULL;
  VT->mul (CTX, a->numel, a->data, b->data, 0.0f, out->data);
  graph_record (g, mul_bwd, out, a, b, NULL);
  return out;
}

static void
scale_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx != NULL)
    VT->axpby (CTX, n->out->numel, n->f[0], n->out->grad, 1.0f, dx);
}

M3retTensor *
m3ret_op_scale (M3retGraph *g, M3retTensor *x, gfloat s)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  M3retTensor *out = new_like (g, x);
  if (out == NULL)
    return NULL;
  VT->axpby (CTX, x->numel, s, x->data, 0.0f, out->data);
  GraphNode *n = graph_record (g, scale_bwd, out, x, NULL, NULL);
  if (n != NULL)
    n->f[0] = s;
  return out;
}

/* ---------------------------------------------------------------- neural */

static void
layernorm_bwd (M3retGraph *g, GraphNode *n)
{
  M3retTensor *x = n->in[0];
  VT->layernorm_bwd (CTX, (gint) m3ret_tensor_rows (x), (gint) m3ret_tensor_cols (x), x->data,
                     n->in[1]->data, n->saved[0], n->saved[1], n->out->grad, graph_grad (g, x),
                     graph_grad (g, n->in[1]), graph_grad (g, n->in[2]));
}

/* LayerNorm of @x, or of @x + @y into *@sum when @y is not NULL (the
 * backend's fused entry: one pass over the rows instead of two).  The sum
 * records an add node and the norm a layernorm node, so the backward is
 * that of the two ops. */
static M3retTensor *
layernorm_common (M3retGraph *g, M3retTensor *x, M3retTensor *y, M3retTensor *w, M3retTensor *b,
                  gfloat eps, M3retTensor **sum)
{
  gint64 cols = m3ret_tensor_cols (x);
  if ((gint64) w->numel != cols || (gint64) b->numel != cols) {
    g_critical ("layernorm: weight/bias of %" G_GSIZE_FORMAT " for rows of %" G_GINT64_FORMAT,
                w->numel, cols);
    return NULL;
  }
  gsize rows = m3ret_tensor_rows (x);
  M3retTensor *s = y != NULL ? new_like (g, x) : x;
  M3retTensor *out = new_like (g, x);
  float *stats = m3ret_graph_alloc (g, 2 * rows * sizeof (float));
  if (s == NULL || out == NULL || stats == NULL)
    return NULL;
  if (y != NULL) {
    VT->add_layernorm_fwd (CTX, (gint) rows, (gint) cols, eps, x->data, y->data, w->data,
                           b->data, s->data, out->data, stats, stats + rows);
    graph_record (g, add_bwd, s, x, y, NULL);
    *sum = s;
  } else
    VT->layernorm_fwd (CTX, (gint) rows, (gint) cols, eps, x->data, w->data, b->data, out->data,
                       stats, stats + rows);
  GraphNode *n = graph_record (g, layernorm_bwd, out, s, w, b);
  if (n != NULL) {
    n->saved[0] = stats;
    n->saved[1] = stats + rows;
  }
  return out;
}

M3retTensor *
m3ret_op_layernorm (M3retGraph *g, M3retTensor *x, M3retTensor *w, M3retTensor *b, gfloat eps)
{
  if (x == NULL || w == NULL || b == NULL || graph_failed (g))
    return NULL;
  return layernorm_common (g, x, NULL, w, b, eps, NULL);
}

M3retTensor *
m3ret_op_add_layernorm (M3retGraph *g, M3retTensor *a, M3retTensor *b, M3retTensor *w,
                        M3retTensor *bias, gfloat eps, M3retTensor **sum)
{
  *sum = NULL;
  if (a == NULL || b == NULL || w == NULL || bias == NULL || graph_failed (g))
    return NULL;
  if (VT->add_layernorm_fwd == NULL || !m3ret_tensor_same_shape (a, b)) {
    *sum = m3ret_op_add (g, a, b);
    return m3ret_op_layernorm (g, *sum, w, bias, eps);
  }
  return layernorm_common (g, a, b, w, bias, eps, sum);
}

static void
gelu_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx != NULL)
    VT->gelu_bwd (CTX, n->out->numel, n->in[0]->data, n->out->grad, dx);
}

M3retTensor *
m3ret_op_gelu (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  M3retTensor *out = new_like (g, x);
  if (out == NULL)
    return NULL;
  VT->gelu_fwd (CTX, x->numel, x->data, out->data);
  graph_record (g, gelu_bwd, out, x, NULL, NULL);
  return out;
}

static void
softmax_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx != NULL)
    VT->softmax_bwd (CTX, (gint) m3ret_tensor_rows (n->out), (gint) m3ret_tensor_cols (n->out),
                     n->out->data, n->out->grad, dx);
}

M3retTensor *
m3ret_op_softmax (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  M3retTensor *out = new_like (g, x);
  if (out == NULL)
    return NULL;
  VT->softmax_fwd (CTX, (gint) m3ret_tensor_rows (x), (gint) m3ret_tensor_cols (x), x->data,
                   out->data);
  graph_record (g, softmax_bwd, out, x, NULL, NULL);
  return out;
}

static void
attention_bwd (M3retGraph *g, GraphNode *n)
{
  float *dqkv = graph_grad (g, n->in[0]);
  if (dqkv != NULL)
    VT->attention_bwd (CTX, &n->attn, n->in[0]->data, n->saved[0], n->out->grad, dqkv);
}

M3retTensor *
m3ret_op_attention (M3retGraph *g, M3retTensor *qkv, gint heads)
{
  if (qkv == NULL || graph_failed (g) || !is_tokens (qkv, "attention"))
    return NULL;
  gint64 d3 = qkv->shape[2];
  if (heads < 1 || d3 % (3 * heads) != 0) {
    g_critical ("attention: %" G_GINT64_FORMAT " columns are not 3 × %d heads", d3, heads);
    return NULL;
  }
  M3retAttentionShape s = { (gint) qkv->shape[0], (gint) qkv->shape[1], (gint) (d3 / 3), heads,
                            (gfloat) (1.0 / sqrt ((double) (d3 / 3 / heads))) };
  M3retTensor *out = new_with_last (g, qkv, d3 / 3);
  /* Only a backward reads the B·H·N·N probabilities: untaped (embedding, a
   * frozen teacher) they are not written, where the backend knows NULL. */
  gboolean keep = graph_will_record (g, qkv, NULL, NULL)
                  || m3ret_device_get_abi_minor (graph_device (g)) < 2;
  float *probs = keep ? m3ret_graph_alloc (g, sizeof (float) * (gsize) s.batch * s.heads
                                                  * s.tokens * s.tokens)
                      : NULL;
  if (out == NULL || (keep && probs == NULL))
    return NULL;
  VT->attention_fwd (CTX, &s, qkv->data, probs, out->data);
  GraphNode *n = graph_record (g, attention_bwd, out, qkv, NULL, NULL);
  if (n != NULL) {
    n->attn = s;
    n->saved[0] = probs;
  }
  return out;
}

static void
l2normalize_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx != NULL)
    VT->l2norm_bwd (CTX, (gint) m3ret_tensor_rows (n->out), (gint) m3ret_tensor_cols (n->out),
                    n->f[0], n->in[0]->data, n->out->grad, dx);
}

M3retTensor *
m3ret_op_l2normalize (M3retGraph *g, M3retTensor *x, gfloat eps)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  M3retTensor *out = new_like (g, x);
  if (out == NULL)
    return NULL;
  VT->l2norm_fwd (CTX, (gint) m3ret_tensor_rows (x), (gint) m3ret_tensor_cols (x), eps, x->data,
                  out->data);
  GraphNode *n = graph_record (g, l2normalize_bwd, out, x, NULL, NULL);
  if (n != NULL)
    n->f[0] = eps;
  return out;
}

/* ---------------------------------------------------------------- tokens */

static void
gather_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx != NULL)
    VT->scatter_add_rows (CTX, (gint) n->i[0], (gint) n->i[1], n->out->grad, n->saved[0], dx);
}

/* @idx: m indices into rows of x (cols wide), already flat */
static M3retTensor *
gather_common (M3retGraph *g, M3retTensor *x, const gint32 *idx, gint m, gint64 cols,
               gint ndim, const gint64 *shape)
{
  gint32 *dev_idx = m3ret_graph_alloc (g, sizeof (gint32) * (gsize) m);
  M3retTensor *out = m3ret_graph_new_tensor (g, ndim, shape);
  if (dev_idx == NULL || out == NULL)
    return NULL;
  VT->upload (CTX, dev_idx, idx, sizeof (gint32) * (gsize) m);
  VT->gather_rows (CTX, m, (gint) cols, x->data, dev_idx, out->data);
  GraphNode *n = graph_record (g, gather_bwd, out, x, NULL, NULL);
  if (n != NULL) {
    n->i[0] = m;
    n->i[1] = cols;
    n->saved[0] = dev_idx;
  }
  return out;
}

M3retTensor *
m3ret_op_gather_rows (M3retGraph *g, M3retTensor *x, const gint32 *rows, gint m)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  gint64 cols = m3ret_tensor_cols (x);
  gsize n_rows = m3ret_tensor_rows (x);
  for (gint i = 0; i < m; i++)
    if (rows[i] < 0 || (gsize) rows[i] >= n_rows) {
      g_critical ("gather_rows: index %d outside [0, %" G_GSIZE_FORMAT ")", rows[i], n_rows);
      return NULL;
    }
  gint64 shape[2] = { m, cols };
  return gather_common (g, x, rows, m, cols, 2, shape);
}

M3retTensor *
m3ret_op_gather_tokens (M3retGraph *g, M3retTensor *x, const gint32 *idx, gint k)
{
  if (x == NULL || graph_failed (g) || !is_tokens (x, "gather_tokens"))
    return NULL;
  gint64 b = x->shape[0], n = x->shape[1], d = x->shape[2];
  gint m = (gint) (b * k);
  gint32 *flat = graph_host_scratch (g, sizeof (gint32) * (gsize) MAX (m, 1));
  for (gint64 bi = 0; bi < b; bi++)
    for (gint j = 0; j < k; j++) {
      gint32 v = idx[bi * k + j];
      if (v < 0 || v >= n) {
        g_critical ("gather_tokens: index %d outside [0, %" G_GINT64_FORMAT ")", v, n);
        return NULL;
      }
      flat[bi * k + j] = (gint32) (bi * n + v);
    }
  gint64 shape[3] = { b, k, d };
  return gather_common (g, x, flat, m, d, 3, shape);
}

static void
expand_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx != NULL)
    VT->reduce_period (CTX, n->out->numel, n->out->grad, n->in[0]->numel, 1.0f, dx);
}

M3retTensor *
m3ret_op_expand_tokens (M3retGraph *g, M3retTensor *x, gint b, gint n)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  gint64 d = (gint64) x->numel;
  gint64 shape[3] = { b, n, d };
  M3retTensor *out = m3ret_graph_new_tensor (g, 3, shape);
  if (out == NULL)
    return NULL;
  /* a zero source stride repeats the one row */
  VT->copy2d (CTX, b * n, (gint) d, x->data, 0, 0.0f, out->data, (gint) d);
  graph_record (g, expand_bwd, out, x, NULL, NULL);
  return out;
}

static void
concat_bwd (M3retGraph *g, GraphNode *n)
{
  gint b = (gint) n->out->shape[0];
  gint d = (gint) n->out->shape[2];
  gint n1 = (gint) n->in[0]->shape[1], n2 = (gint) n->in[1]->shape[1];
  float *da = graph_grad (g, n->in[0]), *db = graph_grad (g, n->in[1]);
  if (da != NULL)
    VT->copy2d (CTX, b, n1 * d, n->out->grad, (n1 + n2) * d, 1.0f, da, n1 * d);
  if (db != NULL)
    VT->copy2d (CTX, b, n2 * d, n->out->grad + (gsize) n1 * d, (n1 + n2) * d, 1.0f, db, n2 * d);
}

M3retTensor *
m3ret_op_concat_tokens (M3retGraph *g, M3retTensor *a, M3retTensor *b)
{
  if (a == NULL || b == NULL || graph_failed (g) || !is_tokens (a, "concat_tokens")
      || !is_tokens (b, "concat_tokens"))
    return NULL;
  if (a->shape[0] != b->shape[0] || a->shape[2] != b->shape[2]) {
    g_critical ("concat_tokens: batch or width differ");
    return NULL;
  }
  gint64 bs = a->shape[0], n1 = a->shape[1], n2 = b->shape[1], d = a->shape[2];
  gint64 shape[3] = { bs, n1 + n2, d };
  M3retTensor *out = m3ret_graph_new_tensor (g, 3, shape);
  if (out == NULL)
    return NULL;
  VT->copy2d (CTX, (gint) bs, (gint) (n1 * d), a->data, (gint) (n1 * d), 0.0f, out->data,
              (gint) ((n1 + n2) * d));
  VT->copy2d (CTX, (gint) bs, (gint) (n2 * d), b->data, (gint) (n2 * d), 0.0f,
              out->data + n1 * d, (gint) ((n1 + n2) * d));
  graph_record (g, concat_bwd, out, a, b, NULL);
  return out;
}

static void
slice_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx == NULL)
    return;
  gint b = (gint) n->out->shape[0], d = (gint) n->out->shape[2];
  gint count = (gint) n->out->shape[1], total = (gint) n->in[0]->shape[1];
  VT->copy2d (CTX, b, count * d, n->out->grad, count * d, 1.0f, dx + n->i[0] * d, total * d);
}

M3retTensor *
m3ret_op_slice_tokens (M3retGraph *g, M3retTensor *x, gint start, gint count)
{
  if (x == NULL || graph_failed (g) || !is_tokens (x, "slice_tokens"))
    return NULL;
  gint64 b = x->shape[0], n = x->shape[1], d = x->shape[2];
  if (start < 0 || count < 1 || start + count > n) {
    g_critical ("slice_tokens: [%d, %d) outside %" G_GINT64_FORMAT " tokens", start,
                start + count, n);
    return NULL;
  }
  gint64 shape[3] = { b, count, d };
  M3retTensor *out = m3ret_graph_new_tensor (g, 3, shape);
  if (out == NULL)
    return NULL;
  VT->copy2d (CTX, (gint) b, (gint) (count * d), x->data + start * d, (gint) (n * d), 0.0f,
              out->data, (gint) (count * d));
  GraphNode *node = graph_record (g, slice_bwd, out, x, NULL, NULL);
  if (node != NULL)
    node->i[0] = start;
  return out;
}

static void
mean_tokens_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  M3retTensor *x = n->in[0];
  if (dx != NULL)
    VT->expand_mid (CTX, (gint) x->shape[0], (gint) x->shape[1], (gint) x->shape[2],
                    1.0f / (gfloat) x->shape[1], n->out->grad, dx);
}

M3retTensor *
m3ret_op_mean_tokens (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL || graph_failed (g) || !is_tokens (x, "mean_tokens"))
    return NULL;
  gint64 shape[2] = { x->shape[0], x->shape[2] };
  M3retTensor *out = m3ret_graph_new_tensor (g, 2, shape);
  if (out == NULL)
    return NULL;
  VT->reduce_mid (CTX, (gint) x->shape[0], (gint) x->shape[1], (gint) x->shape[2],
                  1.0f / (gfloat) x->shape[1], x->data, 0.0f, out->data);
  graph_record (g, mean_tokens_bwd, out, x, NULL, NULL);
  return out;
}

/* ------------------------------------------------------ reductions, losses */

static void
sum_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx != NULL)
    VT->add_bcast (CTX, n->in[0]->numel, dx, 1, n->out->grad, dx);
}

M3retTensor *
m3ret_op_sum (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  M3retTensor *out = m3ret_graph_new_tensor (g, 1, scalar_shape);
  if (out == NULL)
    return NULL;
  VT->sum_fwd (CTX, x->numel, x->data, 0.0f, out->data);
  graph_record (g, sum_bwd, out, x, NULL, NULL);
  return out;
}

M3retTensor *
m3ret_op_mean (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL)
    return NULL;
  return m3ret_op_scale (g, m3ret_op_sum (g, x), 1.0f / (gfloat) x->numel);
}

static void
mse_bwd (M3retGraph *g, GraphNode *n)
{
  M3retTensor *x = n->in[0], *y = n->in[1], *mask = n->in[2];
  VT->mse_bwd (CTX, (gint) m3ret_tensor_rows (x), (gint) m3ret_tensor_cols (x), x->data, y->data,
               mask ? mask->data : NULL, n->out->grad, graph_grad (g, x), graph_grad (g, y));
}

/* The fused entry's definition in general ops: Σ_r w_r·mean_c (x−y)²
 * times 1/Σ_r w_r (as exp(−log Σ w): the sum stays on the device). */
static M3retTensor *
mse_composed (M3retGraph *g, M3retTensor *x, M3retTensor *y, M3retTensor *mask)
{
  M3retTensor *d = m3ret_op_sub (g, x, y);
  M3retTensor *per_row = m3ret_op_mean_rows (g, m3ret_op_mul (g, d, d));
  if (mask == NULL)
    return m3ret_op_scale (g, m3ret_op_sum (g, per_row), 1.0f / (gfloat) m3ret_tensor_rows (x));
  if (per_row == NULL)
    return NULL;
  M3retTensor *w = m3ret_op_reshape (g, mask, per_row->ndim, per_row->shape);
  M3retTensor *num = m3ret_op_sum (g, m3ret_op_mul (g, per_row, w));
  M3retTensor *inv_den = m3ret_op_exp (g, m3ret_op_scale (g, m3ret_op_log (g, m3ret_op_sum (g, w)),
                                                          -1.0f));
  return m3ret_op_mul (g, num, inv_den);
}

M3retTensor *
m3ret_op_mse (M3retGraph *g, M3retTensor *x, M3retTensor *y, M3retTensor *mask)
{
  if (x == NULL || y == NULL || graph_failed (g) || !check_same (x, y, "mse"))
    return NULL;
  gsize rows = m3ret_tensor_rows (x);
  if (mask != NULL && mask->numel != rows) {
    g_critical ("mse: mask of %" G_GSIZE_FORMAT " for %" G_GSIZE_FORMAT " rows", mask->numel,
                rows);
    return NULL;
  }
  if (mask != NULL && mask->requires_grad) {
    g_critical ("mse: the mask must not require a gradient");
    return NULL;
  }
  if (!graph_has_optional (g, VT->mse_fwd, 0) || !graph_has_optional (g, VT->mse_bwd, 0))
    return mse_composed (g, x, y, mask);
  M3retTensor *out = m3ret_graph_new_tensor (g, 1, scalar_shape);
  if (out == NULL)
    return NULL;
  VT->mse_fwd (CTX, (gint) rows, (gint) m3ret_tensor_cols (x), x->data, y->data,
               mask ? mask->data : NULL, out->data);
  /* the mask is a constant: recorded as an input only to be read back */
  graph_record (g, mse_bwd, out, x, y, mask);
  return out;
}

static void
logdet_bwd (M3retGraph *g, GraphNode *n)
{
  float *dz = graph_grad (g, n->in[0]);
  if (dz != NULL)
    VT->logdet_bwd (CTX, (gint) n->in[0]->shape[0], (gint) n->in[0]->shape[1], n->f[0],
                    n->in[0]->data, n->saved[0], n->out->grad, dz);
}

M3retTensor *
m3ret_op_logdet_gram (M3retGraph *g, M3retTensor *z, gfloat c)
{
  if (z == NULL || graph_failed (g))
    return NULL;
  if (z->ndim != 2 || c < 0.0f) {
    g_critical ("logdet_gram: expects a 2-D b×p matrix and c ≥ 0");
    return NULL;
  }
  if (!graph_has_optional (g, VT->logdet_fwd, 0) || !graph_has_optional (g, VT->logdet_bwd, 0))
    return m3ret_op_logdet (g, m3ret_op_add_diagonal (g, m3ret_op_scale (g, m3ret_op_gram (g, z), c),
                                                       1.0f));
  gint64 p = z->shape[1];
  M3retTensor *out = m3ret_graph_new_tensor (g, 1, scalar_shape);
  float *inv = m3ret_graph_alloc (g, sizeof (float) * (gsize) (p * p));
  if (out == NULL || inv == NULL)
    return NULL;
  VT->logdet_fwd (CTX, (gint) z->shape[0], (gint) p, c, z->data, out->data, inv);
  GraphNode *n = graph_record (g, logdet_bwd, out, z, NULL, NULL);
  if (n != NULL) {
    n->f[0] = c;
    n->saved[0] = inv;
  }
  return out;
}

M3retTensor *
m3ret_op_cosine_matrix (M3retGraph *g, M3retTensor *a, M3retTensor *b)
{
  return m3ret_op_matmul (g, m3ret_op_l2normalize (g, a, 1e-12f), m3ret_op_l2normalize (g, b, 1e-12f),
                          TRUE);
}

/* ------------------------------------- general ops (backend ABI minor 5) */

static void
exp_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  if (dx != NULL)
    VT->mul (CTX, n->out->numel, n->out->grad, n->out->data, 1.0f, dx);
}

M3retTensor *
m3ret_op_exp (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL || graph_failed (g) || !graph_has_entry (g, VT->exp_fwd, 5, "exp_fwd", "exp"))
    return NULL;
  M3retTensor *out = new_like (g, x);
  if (out == NULL)
    return NULL;
  GError *error = NULL;
  if (!graph_ran (g, VT->exp_fwd (CTX, x->numel, x->data, out->data, &error), &error))
    return NULL;
  graph_record (g, exp_bwd, out, x, NULL, NULL);
  return out;
}

static void
log_bwd (M3retGraph *g, GraphNode *n)
{
  float *dx = graph_grad (g, n->in[0]);
  GError *error = NULL;
  if (dx != NULL)
    graph_ran (g, VT->log_bwd (CTX, n->out->numel, n->in[0]->data, n->out->grad, dx, &error), &error);
}

M3retTensor *
m3ret_op_log (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL || graph_failed (g) || !graph_has_entry (g, VT->log_fwd, 5, "log_fwd", "log"))
    return NULL;
  if (graph_will_record (g, x, NULL, NULL) && !graph_has_entry (g, VT->log_bwd, 5, "log_bwd", "log"))
    return NULL;
  M3retTensor *out = new_like (g, x);
  if (out == NULL)
    return NULL;
  GError *error = NULL;
  if (!graph_ran (g, VT->log_fwd (CTX, x->numel, x->data, out->data, &error), &error))
    return NULL;
  graph_record (g, log_bwd, out, x, NULL, NULL);
  return out;
}

static void
logsumexp_bwd (M3retGraph *g, GraphNode *n)
{
  M3retTensor *x = n->in[0];
  float *dx = graph_grad (g, x);
  GError *error = NULL;
  if (dx != NULL)
    graph_ran (g,
         VT->logsumexp_bwd (CTX, (gint) m3ret_tensor_rows (x), (gint) m3ret_tensor_cols (x),
                            x->data, n->out->data, n->out->grad, dx, &error),
         &error);
}

M3retTensor *
m3ret_op_logsumexp (M3retGraph *g, M3retTensor *x)
{
  if (x == NULL || graph_failed (g)
      || !graph_has_entry (g, VT->logsumexp_fwd, 5, "logsumexp_fwd", "logsumexp"))
    return NULL;
  if (graph_will_record (g, x, NULL, NULL)
      && !graph_has_entry (g, VT->logsumexp_bwd, 5, "logsumexp_bwd", "logsumexp"))
    return NULL;
  M3retTensor *out = new_with_last (g, x, 1);
  if (out == NULL)
    return NULL;
  GError *error = NULL;
  if (!graph_ran (g,
            VT->logsumexp_fwd (CTX, (gint) m3ret_tensor_rows (x), (gint) m3ret_tensor_cols (x),
                               x->data, out->data, &error),
            &error))
    return NULL;
  graph_record (g, logsumexp_bwd, out, x, NULL, NULL);
  return out;
}

M3retTensor *
m3ret_op_softmax_t (M3retGraph *g, M3retTensor *x, gfloat temperature)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  if (!(temperature > 0.0f)) {
    g_critical ("softmax_t: temperature %g is not positive", (double) temperature);
    return NULL;
  }
  return m3ret_op_softmax (g, m3ret_op_scale (g, x, 1.0f / temperature));
}

static void
sum_rows_bwd (M3retGraph *g, GraphNode *n)
{
  M3retTensor *x = n->in[0];
  float *dx = graph_grad (g, x);
  if (dx != NULL)
    VT->expand_mid (CTX, (gint) m3ret_tensor_rows (x), (gint) m3ret_tensor_cols (x), 1, n->f[0],
                    n->out->grad, dx);
}

static M3retTensor *
sum_rows_scaled (M3retGraph *g, M3retTensor *x, gboolean mean)
{
  if (x == NULL || graph_failed (g))
    return NULL;
  M3retTensor *out = new_with_last (g, x, 1);
  if (out == NULL)
    return NULL;
  gint cols = (gint) m3ret_tensor_cols (x);
  gfloat scale = mean ? 1.0f / (gfloat) cols : 1.0f;
  /* x as rows × cols × 1: reduce_mid sums the middle (cols) dimension */
  VT->reduce_mid (CTX, (gint) m3ret_tensor_rows (x), cols, 1, scale, x->data, 0.0f, out->data);
  GraphNode *n = graph_record (g, sum_rows_bwd, out, x, NULL, NULL);
  if (n != NULL)
    n->f[0] = scale;
  return out;
}

M3retTensor *
m3ret_op_sum_rows (M3retGraph *g, M3retTensor *x)
{
  return sum_rows_scaled (g, x, FALSE);
}

M3retTensor *
m3ret_op_mean_rows (M3retGraph *g, M3retTensor *x)
{
  return sum_rows_scaled (g, x, TRUE);
}

M3retTensor *
m3ret_op_cross_entropy (M3retGraph *g, M3retTensor *x, M3retTensor *target, gfloat temperature)
{
  if (x == NULL || target == NULL || graph_failed (g) || !check_same (x, target, "cross_entropy"))
    return NULL;
  if (!(temperature > 0.0f)) {
    g_critical ("cross_entropy: temperature %g is not positive", (double) temperature);
    return NULL;
  }
  /* −Σ_c p·log softmax(z) = lse(z)·Σ_c p − Σ_c p·z, z = x/T, row by row;
   * the targets are constants. */
  M3retTensor *p = m3ret_op_detach (g, target);
  M3retTensor *z = m3ret_op_scale (g, x, 1.0f / temperature);
  M3retTensor *lse = m3ret_op_logsumexp (g, z);
  M3retTensor *mass = m3ret_op_sum_rows (g, p);
  M3retTensor *a = m3ret_op_sum (g, m3ret_op_mul (g, lse, mass));
  M3retTensor *b = m3ret_op_sum (g, m3ret_op_mul (g, p, z));
  M3retTensor *loss = m3ret_op_sub (g, a, b);
  return m3ret_op_scale (g, loss, 1.0f / (gfloat) m3ret_tensor_rows (x));
}
