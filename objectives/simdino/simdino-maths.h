/* simdino-maths.h — SimDINO's loss terms (Wu et al., 2025) on step tensors,
 * and its teacher momentum.  Private to objectives/simdino (a convenience
 * library linked into the plugin and into tests/test-simdino).
 *
 * Views are b×p tensors of projections, one per crop; the teacher's were
 * computed without gradients.
 */
#ifndef SIMDINO_MATHS_H
#define SIMDINO_MATHS_H

#include <glib.h>

#include "m3ret-dist.h"
#include "m3ret-graph.h"

G_BEGIN_DECLS

/* Mean over the pairs (teacher view t < @n_teacher, student view s <
 * @n_student, s ≠ t) of the batch mean of cosine(teacher_t[i],
 * student_s[i]).  Teacher view t and student view t are the same crop.
 * Returns: (transfer none) one element, or NULL when there is no pair. */
M3retTensor *simdino_alignment (M3retGraph *g, M3retTensor *const *teacher, guint n_teacher,
                                M3retTensor *const *student, guint n_student);

/* R(Z) = ½·logdet(I_p + p/(b·ε)·ZᵀZ) of @z (b×p).  (transfer none) */
M3retTensor *simdino_coding_rate (M3retGraph *g, M3retTensor *z, gdouble eps);

/* γ·mean_v R(Z_v), Z_v = (student_v + teacher_v)/2 over the @n_global
 * global views, γ = (p + b)/(p·b).  (transfer none) */
M3retTensor *simdino_expansion (M3retGraph *g, M3retTensor *const *teacher,
                                M3retTensor *const *student, guint n_global, gdouble eps);

/* simdino_expansion() over the global batch of the ranks of @dist: b is
 * the global batch and Z_vᵀZ_v the sum over the ranks of theirs (an
 * all-reduce on the graph), so every rank gets the one-process value.
 * Collective: every rank calls it.  (transfer none) */
M3retTensor *simdino_expansion_dist (M3retGraph *g, const M3retDist *dist,
                                     M3retTensor *const *teacher, M3retTensor *const *student,
                                     guint n_global, gdouble eps);

/* The teacher's EMA momentum after optimiser step @step of @total: a
 * half cosine from @start to 1. */
gdouble simdino_momentum (gint64 step, gint64 total, gdouble start);

G_END_DECLS

#endif /* SIMDINO_MATHS_H */
