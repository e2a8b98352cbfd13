/* simdino-maths.c — alignment, coding rate and momentum (see simdino-maths.h). */
#include "config.h"

#include "m3ret-plugin.h"
#include "m3ret-dist.h"
#include "m3ret-ops.h"
#include "m3ret-optim.h"
#include "m3ret-vit.h"
#include "simdino-maths.h"

/* Σ_i cos(a_i, b_i) over the rows of two b×p tensors. */
static M3retTensor *
sum_row_cosines (M3retGraph *g, M3retTensor *a, M3retTensor *b)
{
  M3retTensor *na = m3ret_op_l2normalize (g, a, 1e-12f);
  M3retTensor *nb = m3ret_op_l2normalize (g, b, 1e-12f);
  return m3ret_op_sum (g, m3ret_op_mul (g, na, nb));
}

M3retTensor *
simdino_alignment (M3retGraph *g, M3retTensor *const *teacher, guint n_teacher,
                   M3retTensor *const *student, guint n_student)
{
  M3retTensor *total = NULL;
  guint pairs = 0;
  for (guint t = 0; t < n_teacher; t++)
    for (guint s = 0; s < n_student; s++) {
      if (s == t)
        continue;
      M3retTensor *c = sum_row_cosines (g, teacher[t], student[s]);
      total = total ? m3ret_op_add (g, total, c) : c;
      pairs++;
    }
  if (total == NULL || teacher[0] == NULL)
    return NULL;
  return m3ret_op_scale (g, total, (gfloat) (1.0 / ((gdouble) pairs * teacher[0]->shape[0])));
}

M3retTensor *
simdino_coding_rate (M3retGraph *g, M3retTensor *z, gdouble eps)
{
  if (z == NULL)
    return NULL;
  gdouble b = (gdouble) z->shape[0], p = (gdouble) z->shape[1];
  return m3ret_op_scale (g, m3ret_op_logdet_gram (g, z, (gfloat) (p / (b * eps))), 0.5f);
}

M3retTensor *
simdino_expansion (M3retGraph *g, M3retTensor *const *teacher, M3retTensor *const *student,
                   guint n_global, gdouble eps)
{
  if (n_global == 0 || student[0] == NULL)
    return NULL;
  gdouble b = (gdouble) student[0]->shape[0], p = (gdouble) student[0]->shape[1];
  M3retTensor *total = NULL;
  for (guint v = 0; v < n_global; v++) {
    M3retTensor *z = m3ret_op_scale (g, m3ret_op_add (g, student[v], teacher[v]), 0.5f);
    M3retTensor *r = simdino_coding_rate (g, z, eps);
    total = total ? m3ret_op_add (g, total, r) : r;
  }
  gdouble gamma = (p + b) / (p * b);
  return m3ret_op_scale (g, total, (gfloat) (gamma / n_global));
}

M3retTensor *
simdino_expansion_dist (M3retGraph *g, const M3retDist *dist, M3retTensor *const *teacher,
                        M3retTensor *const *student, guint n_global, gdouble eps)
{
  if (n_global == 0 || student[0] == NULL)
    return NULL;
  gdouble b = (gdouble) student[0]->shape[0] * m3ret_dist_get_size (dist);
  gdouble p = (gdouble) student[0]->shape[1];
  M3retTensor *total = NULL;
  for (guint v = 0; v < n_global; v++) {
    M3retTensor *z = m3ret_op_scale (g, m3ret_op_add (g, student[v], teacher[v]), 0.5f);
    M3retTensor *gram = m3ret_op_allreduce_sum (g, dist, m3ret_op_gram (g, z));
    M3retTensor *a = m3ret_op_add_diagonal (g, m3ret_op_scale (g, gram, (gfloat) (p / (b * eps))),
                                            1.0f);
    M3retTensor *r = m3ret_op_scale (g, m3ret_op_logdet (g, a), 0.5f);
    total = total ? m3ret_op_add (g, total, r) : r;
  }
  gdouble gamma = (p + b) / (p * b);
  return m3ret_op_scale (g, total, (gfloat) (gamma / n_global));
}

gdouble
simdino_momentum (gint64 step, gint64 total, gdouble start)
{
  return m3ret_schedule_cosine (step, total, start, 1.0);
}
