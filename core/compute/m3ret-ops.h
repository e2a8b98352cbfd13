/* m3ret-ops.h — differentiable ops on step tensors.
 *
 * Every op runs immediately on the graph's device and returns a step
 * tensor (transfer none, valid until m3ret_graph_reset()); see
 * m3ret-graph.h for recording and errors.  Rows: unless said otherwise an
 * op works on the last dimension, every leading dimension being rows.
 * Shapes that do not fit are programming errors (g_critical, NULL).
 *
 * Adding an op: a forward here calling backend entries, a backward rule
 * next to it in ops.c, and one case in tests/test-ops.c.
 */
#ifndef M3RET_OPS_H
#define M3RET_OPS_H

#include <glib.h>

#include "m3ret-graph.h"

G_BEGIN_DECLS

/* ---- shapes ---- */
/* Same data, new shape (same number of elements). */
M3retTensor *m3ret_op_reshape (M3retGraph *g, M3retTensor *x, gint ndim, const gint64 *shape);
/* Same data, cut off from the graph: no gradient flows back through it. */
M3retTensor *m3ret_op_detach (M3retGraph *g, M3retTensor *x);
/* A constant window of @x: @shape's elements from element @offset on, no
 * gradient (for buffers: the first rows of a position table). */
M3retTensor *m3ret_op_constant_view (M3retGraph *g, M3retTensor *x, gsize offset, gint ndim,
                                     const gint64 *shape);

/* ---- algebra ---- */
/* a (…×K) · b (K×N, or N×K when @trans_b) → …×N */
M3retTensor *m3ret_op_matmul (M3retGraph *g, M3retTensor *a, M3retTensor *b, gboolean trans_b);
/* x (…×in) · wᵀ + bias: w is out×in (PyTorch's nn.Linear), @bias (out) may be NULL */
M3retTensor *m3ret_op_linear (M3retGraph *g, M3retTensor *x, M3retTensor *w, M3retTensor *bias);
/* a + b, where b's element count divides a's and b repeats along a
 * (a bias, a position table, a token broadcast) */
M3retTensor *m3ret_op_add (M3retGraph *g, M3retTensor *a, M3retTensor *b);
/* a − b, same shape */
M3retTensor *m3ret_op_sub (M3retGraph *g, M3retTensor *a, M3retTensor *b);
/* a ⊙ b, same shape */
M3retTensor *m3ret_op_mul (M3retGraph *g, M3retTensor *a, M3retTensor *b);
/* s · x */
M3retTensor *m3ret_op_scale (M3retGraph *g, M3retTensor *x, gfloat s);

/* ---- neural ---- */
/* LayerNorm over the last dimension with weight @w and bias @b (cols each) */
M3retTensor *m3ret_op_layernorm (M3retGraph *g, M3retTensor *x, M3retTensor *w, M3retTensor *b,
                                 gfloat eps);
/* exact GELU x·Φ(x) */
M3retTensor *m3ret_op_gelu (M3retGraph *g, M3retTensor *x);
/* GELU(x·wᵀ + bias), the MLP's first layer: m3ret_op_gelu() of
 * m3ret_op_linear(), with one backward step that takes the GELU derivative
 * and the bias gradient in a single pass when the backend has the fused
 * entry (the separate ops otherwise) */
M3retTensor *m3ret_op_linear_gelu (M3retGraph *g, M3retTensor *x, M3retTensor *w,
                                   M3retTensor *bias);
/* LayerNorm(a + b) for a and b of the same shape, a block's residual add
 * followed by its next norm: returns the normalised rows and sets *@sum
 * to a + b (NULL on failure); gradients flow as through m3ret_op_add()
 * then m3ret_op_layernorm(), the forward is one pass when the backend has
 * the fused entry */
M3retTensor *m3ret_op_add_layernorm (M3retGraph *g, M3retTensor *a, M3retTensor *b,
                                     M3retTensor *w, M3retTensor *bias, gfloat eps,
                                     M3retTensor **sum);
/* softmax over the last dimension */
M3retTensor *m3ret_op_softmax (M3retGraph *g, M3retTensor *x);
/* multi-head self-attention core: qkv (B×N×3D, [q|k|v]) → B×N×D,
 * softmax(q·kᵀ/sqrt(D/heads))·v per head */
M3retTensor *m3ret_op_attention (M3retGraph *g, M3retTensor *qkv, gint heads);
/* rows divided by their L2 norm (at least @eps) */
M3retTensor *m3ret_op_l2normalize (M3retGraph *g, M3retTensor *x, gfloat eps);

/* ---- tokens (x is B×N×D) ---- */
/* out[b,k,:] = x[b, idx[b·K + k], :] for k < K; @idx is host memory, B×K
 * values in [0, N).  MAE keeps tokens with it and restores order with it. */
M3retTensor *m3ret_op_gather_tokens (M3retGraph *g, M3retTensor *x, const gint32 *idx, gint k);
/* Rows of x viewed as (numel/D)×D: out[i,:] = x[rows[i],:] for i < m (host
 * indices, repeats allowed) → m×D */
M3retTensor *m3ret_op_gather_rows (M3retGraph *g, M3retTensor *x, const gint32 *rows, gint m);
/* x (D elements, e.g. a 1×1×D token) repeated → B×N×D */
M3retTensor *m3ret_op_expand_tokens (M3retGraph *g, M3retTensor *x, gint b, gint n);
/* a (B×N1×D), b (B×N2×D) → B×(N1+N2)×D */
M3retTensor *m3ret_op_concat_tokens (M3retGraph *g, M3retTensor *a, M3retTensor *b);
/* a (B×N×D) → B×(N−@start)×D: tokens from @start on (drop the CLS) */
M3retTensor *m3ret_op_slice_tokens (M3retGraph *g, M3retTensor *x, gint start, gint count);
/* x (B×N×D) → B×D: mean over tokens */
M3retTensor *m3ret_op_mean_tokens (M3retGraph *g, M3retTensor *x);

/* ---- reductions and losses (→ one element) ---- */
M3retTensor *m3ret_op_sum (M3retGraph *g, M3retTensor *x);
M3retTensor *m3ret_op_mean (M3retGraph *g, M3retTensor *x);
/* Σ_r w_r·mean_c (x−y)² / Σ_r w_r over rows of the last dimension;
 * @mask (rows elements, no gradient) may be NULL for all ones.  Gradients
 * flow to y too unless it is detached.  One fused pass when the backend
 * has mse_fwd/bwd; sub, mul, mean_rows, sum, log and exp otherwise. */
M3retTensor *m3ret_op_mse (M3retGraph *g, M3retTensor *x, M3retTensor *y, M3retTensor *mask);
/* logdet(I_p + c·ZᵀZ) of z (b×p), by Cholesky (SimDINO's coding rate):
 * the fused logdet_fwd/bwd entries when the backend has them, else
 * logdet(add_diagonal(c·gram(z), 1)) */
M3retTensor *m3ret_op_logdet_gram (M3retGraph *g, M3retTensor *z, gfloat c);
/* cosine similarities of the rows: a (n×d), b (m×d) → n×m */
M3retTensor *m3ret_op_cosine_matrix (M3retGraph *g, M3retTensor *a, M3retTensor *b);

/* ---- general ops objectives compose (backend entries of ABI minor 5;
 * on a backend without them the op fails: NULL, and the graph's error,
 * see m3ret_graph_check(), names the backend and the missing entry) ---- */
/* exp(x) elementwise */
M3retTensor *m3ret_op_exp (M3retGraph *g, M3retTensor *x);
/* log(x) elementwise (x > 0) */
M3retTensor *m3ret_op_log (M3retGraph *g, M3retTensor *x);
/* log Σ_c exp(x[r,c]) over the last dimension: …×cols → …×1 */
M3retTensor *m3ret_op_logsumexp (M3retGraph *g, M3retTensor *x);
/* softmax(x / @temperature) over the last dimension (@temperature > 0):
 * m3ret_op_softmax() of m3ret_op_scale(), no entry of its own */
M3retTensor *m3ret_op_softmax_t (M3retGraph *g, M3retTensor *x, gfloat temperature);
/* Σ_c x[r,c] and mean_c x[r,c] over the last dimension: …×cols → …×1
 * (existing entries, any backend) */
M3retTensor *m3ret_op_sum_rows (M3retGraph *g, M3retTensor *x);
M3retTensor *m3ret_op_mean_rows (M3retGraph *g, M3retTensor *x);
/* Soft-target cross-entropy, the DINO/iBOT loss shape: one element,
 * (1/rows)·Σ_r −Σ_c p[r,c]·log softmax(x[r,:]/T)[c], with p = @target
 * (same shape as x; a constant: no gradient flows to it) and T =
 * @temperature > 0.  Needs logsumexp. */
M3retTensor *m3ret_op_cross_entropy (M3retGraph *g, M3retTensor *x, M3retTensor *target,
                                     gfloat temperature);

/* ---- general linear algebra (ABI minor 6) ---- */
/* zᵀz of z (b×p) → p×p */
M3retTensor *m3ret_op_gram (M3retGraph *g, M3retTensor *z);
/* a + s·I for a square 2-D a */
M3retTensor *m3ret_op_add_diagonal (M3retGraph *g, M3retTensor *a, gfloat s);
/* logdet S of S = (a + aᵀ)/2, a square (n×n), by Cholesky → one element;
 * d/da = S⁻¹.  Needs the backend entry cholesky_logdet_fwd; a matrix that
 * is not positive definite fails the step with the backend's error. */
M3retTensor *m3ret_op_logdet (M3retGraph *g, M3retTensor *a);
/* The adjoint of m3ret_op_gather_rows(): x's rows (m = rows of x) added
 * into an n_out×D matrix of zeros at @rows (host indices in [0, n_out),
 * repeats add up) */
M3retTensor *m3ret_op_scatter_rows (M3retGraph *g, M3retTensor *x, const gint32 *rows, gint n_out);

G_END_DECLS

#endif /* M3RET_OPS_H */
