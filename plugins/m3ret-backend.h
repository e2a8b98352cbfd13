/* m3ret-backend.h — the table a compute backend plugin fills.
 *
 * A backend is a table of function pointers plus a context pointer (as in
 * ggml).  The core's graph (core/m3ret-graph.h) records ops and calls these
 * entries to run them forward and backward; one model definition therefore
 * runs on every backend.
 *
 * Memory.  Every `float *`/`gint32 *` an op entry receives was returned by
 * the same context's @alloc (possibly offset inside such a block: the core
 * sub-allocates its per-step arena from large blocks).  It may be device
 * memory: the core never dereferences it and moves data only through
 * @upload and @download.  Everything is float32, contiguous, row-major.
 *
 * Accumulation.  Backward entries ADD into gradient buffers (the core zeroes
 * a gradient when it creates it), so a tensor used twice gets both
 * contributions.  Entries with a @beta argument compute dst = result +
 * beta·dst (beta is 0 or 1 in practice).
 *
 * Scalars.  Losses and their incoming gradients are one-element device
 * buffers, so a device backend never has to synchronise inside a step.
 *
 * Errors.  @alloc fails with NULL and @error set.  The entries of minor 5
 * and later return FALSE with @error set when the backend fails to run
 * them.  The older op entries return void: a backend whose library can
 * fail inside them (libtorch throws) keeps the first failure and hands it
 * over in @take_error (minor 6), which the core asks before every op, so
 * the step stops there with the backend's message.  An optional entry
 * left NULL is not a failure of the backend: the core falls back to a
 * composition of other entries or fails the op that needs it with an
 * error naming the backend and the entry.
 */
#ifndef M3RET_BACKEND_H
#define M3RET_BACKEND_H

#include <glib.h>

#include "m3ret-config.h"

G_BEGIN_DECLS

typedef struct _M3retBackendVTable M3retBackendVTable;

/* Errors of backends and of the compute core built on them. */
#define M3RET_BACKEND_ERROR (g_quark_from_static_string ("m3ret-backend-error-quark"))

typedef enum {
  M3RET_BACKEND_ERROR_NO_MEMORY, /* an allocation failed */
  M3RET_BACKEND_ERROR_INVALID,   /* bad shape, preset or argument */
  M3RET_BACKEND_ERROR_FAILED     /* anything else the backend reports */
} M3retBackendError;

/* Multi-head self-attention over a batch of token rows; see @attention_fwd. */
typedef struct {
  gint batch;   /* B */
  gint tokens;  /* N */
  gint dim;     /* D = heads · head_dim */
  gint heads;   /* H */
  gfloat scale; /* usually 1/sqrt(head_dim) */
} M3retAttentionShape;

struct _M3retBackendVTable {
  /* optional: 0 = not usable with this configuration on this machine (set
   * @error to say why, e.g. "no CUDA device"), higher = preferred */
  guint (*score) (const M3retConfig *config, GError **error);
  /* mandatory: (transfer full) a backend context for the [pipeline] group
   * that may use up to @n_threads threads of its own ([pipeline] threads,
   * a core key the backend does not declare) */
  gpointer (*create) (const M3retConfig *config, guint n_threads, GError **error);
  /* mandatory: frees a context; accepts NULL */
  void (*destroy) (gpointer self);

  /* ---- memory (all mandatory) ---- */
  /* (transfer full) @nbytes of backend memory, 64-byte aligned, contents undefined */
  gpointer (*alloc) (gpointer self, gsize nbytes, GError **error);
  /* frees what @alloc returned; accepts NULL */
  void (*free) (gpointer self, gpointer mem);
  /* both complete before returning: the host buffer may be reused at once */
  void (*upload) (gpointer self, gpointer dst, gconstpointer host_src, gsize nbytes);
  void (*download) (gpointer self, gpointer host_dst, gconstpointer src, gsize nbytes);
  /* optional: waits until queued work is done (NULL: the backend is synchronous) */
  void (*synchronize) (gpointer self);

  /* ---- dense algebra ---- */
  /* C[m×n] = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ; leading dimensions
   * as in CBLAS row-major.  mandatory */
  void (*gemm) (gpointer self, gboolean trans_a, gboolean trans_b, gint m, gint n, gint k,
                gfloat alpha, const float *a, gint lda, const float *b, gint ldb, gfloat beta,
                float *c, gint ldc);

  /* ---- elementwise (n elements) ---- */
  void (*fill) (gpointer self, float *x, gsize n, gfloat value);
  /* y = a·x + b·y */
  void (*axpby) (gpointer self, gsize n, gfloat a, const float *x, gfloat b, float *y);
  /* out[i] = x[i] + y[i mod ny] (ny divides n; out may alias x) */
  void (*add_bcast) (gpointer self, gsize n, const float *x, gsize ny, const float *y, float *out);
  /* out[j] = Σ_{i ≡ j mod ny} x[i] + beta·out[j], j < ny: the adjoint of add_bcast */
  void (*reduce_period) (gpointer self, gsize n, const float *x, gsize ny, gfloat beta, float *out);
  /* out = x·y + beta·out */
  void (*mul) (gpointer self, gsize n, const float *x, const float *y, gfloat beta, float *out);
  /* out = s[0]·x + beta·out, s a one-element device scalar */
  void (*scale_by) (gpointer self, gsize n, const float *x, const float *s, gfloat beta, float *out);
  /* exact GELU x·Φ(x); bwd: dx += dout·GELU'(x) */
  void (*gelu_fwd) (gpointer self, gsize n, const float *x, float *out);
  void (*gelu_bwd) (gpointer self, gsize n, const float *x, const float *dout, float *dx);
  /* Σ x² (a blocking read of one number: for norms and clipping) */
  gdouble (*sumsq) (gpointer self, gsize n, const float *x);

  /* ---- rows (rows × cols matrices) ---- */
  /* out = (x − mean)·rstd·gamma + beta; saves mean and rstd (rows each) */
  void (*layernorm_fwd) (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                         const float *gamma, const float *beta, float *out, float *mean,
                         float *rstd);
  /* dx, dgamma, dbeta accumulate; any of them may be NULL */
  void (*layernorm_bwd) (gpointer self, gint rows, gint cols, const float *x, const float *gamma,
                         const float *mean, const float *rstd, const float *dout, float *dx,
                         float *dgamma, float *dbeta);
  void (*softmax_fwd) (gpointer self, gint rows, gint cols, const float *x, float *out);
  /* dx += y ⊙ (dy − Σ y·dy) row by row */
  void (*softmax_bwd) (gpointer self, gint rows, gint cols, const float *y, const float *dy,
                       float *dx);
  /* out = x / max(‖x‖, eps) row by row */
  void (*l2norm_fwd) (gpointer self, gint rows, gint cols, gfloat eps, const float *x, float *out);
  void (*l2norm_bwd) (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                      const float *dout, float *dx);
  /* out[i,:] = x[idx[i],:] for i < m; idx is device memory */
  void (*gather_rows) (gpointer self, gint m, gint cols, const float *x, const gint32 *idx,
                       float *out);
  /* dx[idx[i],:] += dout[i,:] (indices may repeat) */
  void (*scatter_add_rows) (gpointer self, gint m, gint cols, const float *dout,
                            const gint32 *idx, float *dx);
  /* dst[r, 0:cols] = src[r, 0:cols] + beta·dst[...], with leading dims lds/ldd;
   * lds may be 0 (every row of dst gets src's one row: the core fills
   * linear outputs with their bias this way) */
  void (*copy2d) (gpointer self, gint rows, gint cols, const float *src, gint lds, gfloat beta,
                  float *dst, gint ldd);
  /* out[b,:] = scale·Σ_n x[b,n,:] + beta·out[b,:], x is outer×inner×cols */
  void (*reduce_mid) (gpointer self, gint outer, gint inner, gint cols, gfloat scale,
                      const float *x, gfloat beta, float *out);
  /* dx[b,n,:] += scale·dout[b,:]: the adjoint of reduce_mid */
  void (*expand_mid) (gpointer self, gint outer, gint inner, gint cols, gfloat scale,
                      const float *dout, float *dx);

  /* ---- attention ---- */
  /* qkv: B×N×3D, rows [q | k | v], head h in columns h·dh..(h+1)·dh of each;
   * out: B×N×D (heads concatenated); probs: B×H×N×N saved for backward.
   * Since ABI minor 2, probs may be NULL: no backward will run (embedding,
   * a frozen teacher), so the N×N matrix need not be written anywhere and
   * out must be the same as with probs.  The core passes NULL only to
   * backends built against minor 2 or later. */
  void (*attention_fwd) (gpointer self, const M3retAttentionShape *shape, const float *qkv,
                         float *probs, float *out);
  /* dqkv accumulates */
  void (*attention_bwd) (gpointer self, const M3retAttentionShape *shape, const float *qkv,
                         const float *probs, const float *dout, float *dqkv);

  /* ---- losses (one-element device outputs).  Fused entries, optional
   * since ABI minor 6: m3ret_op_mse() and m3ret_op_logdet_gram() dispatch
   * to them when present and run as compositions of general ops (sub,
   * mul, row means, sum, log, exp; gram, add_diagonal, logdet) when NULL.
   * sum_fwd stays mandatory. ---- */
  /* out[0] = Σ_r w_r·mean_c (x−y)² / Σ_r w_r, w = mask (rows) or all ones */
  void (*mse_fwd) (gpointer self, gint rows, gint cols, const float *x, const float *y,
                   const float *mask, float *out);
  /* dx += g·∂/∂x, dy += g·∂/∂y; g = dout[0]; dx or dy may be NULL */
  void (*mse_bwd) (gpointer self, gint rows, gint cols, const float *x, const float *y,
                   const float *mask, const float *dout, float *dx, float *dy);
  /* out[0] = logdet(I_p + c·ZᵀZ), Z rows×p, by Cholesky; saves inv (p×p)
   * = (I + c·ZᵀZ)⁻¹ for backward.  Not positive definite cannot happen
   * for c ≥ 0. */
  void (*logdet_fwd) (gpointer self, gint rows, gint p, gfloat c, const float *z, float *out,
                      float *inv);
  /* dz += dout[0]·2c·Z·inv */
  void (*logdet_bwd) (gpointer self, gint rows, gint p, gfloat c, const float *z,
                      const float *inv, const float *dout, float *dz);
  /* out[0] = Σ x + beta·out[0] */
  void (*sum_fwd) (gpointer self, gsize n, const float *x, gfloat beta, float *out);

  /* ---- optimiser ---- */
  /* AdamW on n values, step t ≥ 1 (bias corrections 1−β^t):
   * p ← p − lr·wd·p; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
   * p ← p − lr·(m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps) */
  void (*adamw) (gpointer self, gsize n, float *param, const float *grad, float *m, float *v,
                 gfloat lr, gfloat beta1, gfloat beta2, gfloat eps, gfloat weight_decay, gint t);

  /* ---- fused entries (optional, since ABI minor 2: a backend without
   * them leaves them NULL and the core runs the separate entries) ---- */
  /* sum = x + y, then out = layernorm(sum) as @layernorm_fwd (saving mean
   * and rstd): a block's residual add and the LayerNorm after it in one
   * pass.  @sum may alias @x or @y, never @out. */
  void (*add_layernorm_fwd) (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                             const float *y, const float *gamma, const float *beta, float *sum,
                             float *out, float *mean, float *rstd);
  /* the backward of a linear layer's GELU, x being its pre-activation
   * (rows × cols, bias included): dx = dout·GELU'(x) WRITTEN, not added
   * (@dx may be @dout: the core overwrites the output's gradient in
   * place), and dbias (cols; may be NULL) += the column sums of that dx */
  void (*bias_gelu_bwd) (gpointer self, gint rows, gint cols, const float *x, const float *dout,
                         float *dx, float *dbias);

  /* ---- since ABI minor 3 (optional, NULL: the core runs copy2d + gemm) ---- */
  /* out (rows × n) = x (rows × k) · wᵀ (w: n × k) + bias (n, added to
   * every row; may be NULL), WRITTEN: a linear layer's forward without a
   * separate pass that first fills the output with the bias */
  void (*linear_fwd) (gpointer self, gint rows, gint n, gint k, const float *x, const float *w,
                      const float *bias, float *out);

  /* ---- since ABI minor 5 (optional, for the general ops objectives
   * compose: exp, log, logsumexp and the ops built on them).  A backend
   * without them leaves them NULL: the op that needs one then fails the
   * step with an M3RET_BACKEND_ERROR naming the backend and the entry,
   * nothing crashes.  The core reads them only from plugins built against
   * minor 5 or later.  They sit where minor 4's reserved slots were. ---- */
  /* These entries may fail (a device or library error): FALSE with
   * @error set, which the core records as the step's error. */
  /* out = exp(x) (n elements; @out may be @x) */
  gboolean (*exp_fwd) (gpointer self, gsize n, const float *x, float *out, GError **error);
  /* out = log(x) (n elements; @out may be @x) */
  gboolean (*log_fwd) (gpointer self, gsize n, const float *x, float *out, GError **error);
  /* dx += dout / x */
  gboolean (*log_bwd) (gpointer self, gsize n, const float *x, const float *dout, float *dx,
                       GError **error);
  /* out[r] = log Σ_c exp(x[r,c]) row by row (rows values), computed as
   * max + log Σ exp(x − max) */
  gboolean (*logsumexp_fwd) (gpointer self, gint rows, gint cols, const float *x, float *out,
                             GError **error);
  /* dx[r,c] += dout[r]·exp(x[r,c] − out[r]) (softmax(x)·dout[r]); @out is
   * what @logsumexp_fwd wrote */
  gboolean (*logsumexp_bwd) (gpointer self, gint rows, gint cols, const float *x,
                             const float *out, const float *dout, float *dx, GError **error);

  /* ---- since ABI minor 6 (optional; read only from plugins built
   * against minor 6 or later) ---- */
  /* out[0] = logdet S and inv = S⁻¹ (n × n) for S = (A + Aᵀ)/2, by
   * Cholesky: the general op m3ret_op_logdet().  FALSE with @error when S
   * is not positive definite or the backend fails. */
  gboolean (*cholesky_logdet_fwd) (gpointer self, gint n, const float *a, float *out, float *inv,
                                   GError **error);
  /* The first failure of an entry that cannot return one (the entries
   * before minor 5 return void) since the last call: FALSE with @error set
   * and the record cleared, TRUE when there was none.  The core asks
   * before every op and at the end of a step, so a failing library call
   * stops the step with its message instead of going on with garbage. */
  gboolean (*take_error) (gpointer self, GError **error);

  /*< private >*/
  gpointer _m3ret_reserved[3];
};

G_END_DECLS

#endif /* M3RET_BACKEND_H */
