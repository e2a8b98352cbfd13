/* finite-diff.c — analytic gradients against central finite differences. */
#include "config.h"

#include <check.h>
#include <math.h>

#include "finite-diff.h"

static const gchar *
rule_text (M3retCheckGradRule rule)
{
  switch (rule) {
  case M3RET_CHECK_GRAD_NORM:
    return "|d-g|/max(|g|,|d|,1e-6)";
  case M3RET_CHECK_GRAD_NORM_OF_DIFFERENCES:
    return "|d-g|/|d|";
  case M3RET_CHECK_GRAD_EACH:
    return "|d-g| <= tol*|g| + atol";
  }
  return "?";
}

/* Entry @k of the @count that @t's probe names. */
static gsize
probe_entry (const M3retCheckGradTensor *t, gsize k, gsize count)
{
  if (t->probe != NULL)
    return t->probe[k];
  if (count == t->n)
    return k;
  return (gsize) ((guint64) k * t->n / count); /* evenly spaced, the first is 0 */
}

gdouble
m3ret_check_gradient (const M3retCheckGrad *spec, const M3retCheckGradTensor *tensors,
                      guint n_tensors)
{
  ck_assert_msg (spec->loss != NULL && spec->step > 0, "%s: no loss or no step", spec->what);
  gdouble num = 0, den_a = 0, den_d = 0, worst_err = -1;
  gdouble worst_g = 0, worst_d = 0;
  const gchar *worst_name = "";
  gsize worst_entry = 0, probed = 0;
  for (guint ti = 0; ti < n_tensors; ti++) {
    const M3retCheckGradTensor *t = &tensors[ti];
    gsize count = t->probe != NULL ? t->n_probe : t->n;
    if (t->probe == NULL && spec->max_probes > 0 && count > spec->max_probes)
      count = spec->max_probes;
    for (gsize k = 0; k < count; k++) {
      gsize e = probe_entry (t, k, count);
      ck_assert_msg (e < t->n, "%s: %s has %" G_GSIZE_FORMAT " entries, probe %" G_GSIZE_FORMAT,
                     spec->what, t->name, t->n, e);
      gdouble g = t->grad_before ? (gdouble) t->grad[e] - t->grad_before[e] : (gdouble) t->grad[e];
      gfloat keep = t->values[e];
      t->values[e] = keep + spec->step;
      if (t->upload_to)
        m3ret_tensor_upload (t->upload_to, t->values);
      gdouble up = spec->loss (spec->user_data);
      t->values[e] = keep - spec->step;
      if (t->upload_to)
        m3ret_tensor_upload (t->upload_to, t->values);
      gdouble down = spec->loss (spec->user_data);
      t->values[e] = keep;
      if (t->upload_to)
        m3ret_tensor_upload (t->upload_to, t->values);
      gdouble d = (up - down) / (2.0 * spec->step);
      gdouble err = fabs (d - g);
      if (spec->rule == M3RET_CHECK_GRAD_EACH)
        ck_assert_msg (err <= spec->tol * fabs (g) + spec->atol,
                       "%s: %s[%" G_GSIZE_FORMAT "]: analytic %g, differences %g "
                       "(|d-g| %g > %g*|g| + %g, step %g)",
                       spec->what, t->name, e, g, d, err, spec->tol, spec->atol, spec->step);
      if (err > worst_err || isnan (err)) {
        worst_err = err;
        worst_g = g;
        worst_d = d;
        worst_name = t->name;
        worst_entry = e;
      }
      num += (d - g) * (d - g);
      den_a += g * g;
      den_d += d * d;
      probed++;
    }
  }
  if (spec->rule == M3RET_CHECK_GRAD_EACH)
    return worst_err;
  gdouble rel;
  if (spec->rule == M3RET_CHECK_GRAD_NORM_OF_DIFFERENCES) {
    ck_assert_msg (den_d > 1e-8, "%s: the sampled gradients are all zero (%" G_GSIZE_FORMAT
                   " entries, |d|^2 %g)", spec->what, probed, den_d);
    rel = sqrt (num / den_d);
  } else {
    rel = sqrt (num) / MAX (MAX (sqrt (den_a), sqrt (den_d)), 1e-6);
  }
  ck_assert_msg (rel <= spec->tol,
                 "%s: gradient relative error %g > %g (%s over %" G_GSIZE_FORMAT
                 " entries, step %g); worst entry %s[%" G_GSIZE_FORMAT "]: analytic %g, "
                 "differences %g",
                 spec->what, rel, spec->tol, rule_text (spec->rule), probed, spec->step,
                 worst_name, worst_entry, worst_g, worst_d);
  return rel;
}
