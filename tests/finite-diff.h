/* finite-diff.h — analytic gradients against central finite differences,
 * the one check every suite with a backward uses (test-ops, test-vit,
 * test-backends, test-mae, test-simdino); part of libm3ret-check.
 *
 * The caller runs its backward, downloads the gradient and a host copy of
 * the values, and describes each tensor with an M3retCheckGradTensor.
 * m3ret_check_gradient() then, for every probed entry v of each tensor,
 * sets it to v + step, calls the loss, sets it to v − step, calls the loss,
 * puts v back, and takes (L(v+step) − L(v−step)) / 2·step.  Each suite
 * passes its own step and tolerances.
 *
 *   M3retCheckGradTensor t = { .name = "blocks.0.attn.qkv.weight", .values = v,
 *                              .n = tensor->numel, .upload_to = tensor, .grad = g };
 *   M3retCheckGrad spec = { .what = "encoder", .loss = my_loss, .user_data = model,
 *                           .step = 1e-2f, .rule = M3RET_CHECK_GRAD_NORM, .tol = 1e-3 };
 *   m3ret_check_gradient (&spec, &t, 1);
 *
 * A failure aborts the running test (ck_abort_msg) with a message naming
 * the rule, the figures, and the tensor and index of the failing (or, for
 * the norm rules, the worst) entry.
 */
#ifndef M3RET_CHECK_FINITE_DIFF_H
#define M3RET_CHECK_FINITE_DIFF_H

#include <glib.h>

#include "m3ret.h"

/* The scalar loss at the current values (the helper has already uploaded
 * them where M3retCheckGradTensor.upload_to says). */
typedef gdouble (*M3retCheckLossFunc) (gpointer user_data);

typedef enum {
  /* ‖d − g‖ / max (‖g‖, ‖d‖, 1e-6) ≤ tol, the norms over every entry that
   * one call probes (d: the differences, g: the analytic gradient). */
  M3RET_CHECK_GRAD_NORM,
  /* ‖d − g‖ / ‖d‖ ≤ tol over every entry one call probes, and ‖d‖² > 1e-8
   * (the probed gradients are not all zero). */
  M3RET_CHECK_GRAD_NORM_OF_DIFFERENCES,
  /* |d − g| ≤ tol·|g| + atol at every probed entry. */
  M3RET_CHECK_GRAD_EACH,
} M3retCheckGradRule;

/* One tensor to probe. */
typedef struct {
  const gchar *name;         /* the tensor, as a failure message names it */
  gfloat *values;            /* host copy of its @n values: each probed entry is
                              * set to v ± step in turn, then back to v */
  gsize n;
  M3retTensor *upload_to;    /* NULL (the loss reads @values itself), or the
                              * tensor @values is uploaded to before each loss
                              * and again once the entry is restored */
  const gfloat *grad;        /* the analytic gradient, @n values */
  const gfloat *grad_before; /* NULL, or what the gradient buffer held before an
                              * accumulating backward: the gradient is then
                              * grad − grad_before, taken in double */
  const gsize *probe;        /* NULL: every entry in order (evenly spaced ones
                              * when M3retCheckGrad.max_probes caps them);
                              * else these @n_probe entries, in this order */
  gsize n_probe;
} M3retCheckGradTensor;

/* How to probe and judge. */
typedef struct {
  const gchar *what;         /* the check, first in a failure message
                              * ("layernorm: input 0 (seed 1000)") */
  M3retCheckLossFunc loss;
  gpointer user_data;
  gfloat step;               /* v ± step, in float as the values are */
  M3retCheckGradRule rule;
  gdouble tol;
  gdouble atol;              /* M3RET_CHECK_GRAD_EACH only */
  gsize max_probes;          /* at most this many entries of a tensor whose
                              * probe is NULL; 0: no cap */
} M3retCheckGrad;

/* Probes every tensor of @tensors (in order) and judges them by
 * @spec->rule: the norm rules pool every entry of the call, so one call per
 * tensor judges each alone and one call for several judges them together.
 * Returns the relative error for the norm rules, the largest |d − g| for
 * M3RET_CHECK_GRAD_EACH (for a message of the caller's own). */
gdouble m3ret_check_gradient (const M3retCheckGrad *spec, const M3retCheckGradTensor *tensors,
                              guint n_tensors);

#endif
