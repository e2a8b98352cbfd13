/* m3ret-dist.h — the processes of a data-parallel run, as objectives see them.
 *
 * `mpirun -np N m3ret train` runs N ranks; each computes the loss of its
 * share of the global batch ([train] batch / N samples: rank r holds
 * samples r·b … r·b + b − 1 of the batch one process would draw, b = B/N)
 * and the trainer averages the gradients over the ranks.  The global loss
 * is therefore the mean over ranks of what loss() returns, so an objective
 * whose loss is a mean over samples needs nothing from here.  One whose
 * loss is not (a denominator over the whole batch, a statistic of the
 * whole batch such as SimDINO's coding rate) reads the run through its
 * setup's @dist (ABI minor 7) and the calls below.
 *
 * Every call accepts NULL for the single-process case (rank 0 of 1, sums
 * are the identity), which is also what a build without MPI has, so an
 * objective never needs to know how m3ret was built.  Collective calls
 * must be made by every rank in the same order with the same sizes.
 */
#ifndef M3RET_DIST_H
#define M3RET_DIST_H

#include <glib.h>

#include "m3ret-tensor.h"

G_BEGIN_DECLS

typedef struct _M3retDist M3retDist;
typedef struct _M3retGraph M3retGraph;

/* This process's rank, 0 … size − 1; 0 for NULL. */
gint m3ret_dist_get_rank (const M3retDist *dist);
/* The number of ranks; 1 for NULL. */
gint m3ret_dist_get_size (const M3retDist *dist);

/* Collective: replaces @values (@n doubles, host memory) on every rank by
 * their sum over the ranks (the same bits on every rank). */
void m3ret_dist_allreduce_sum (const M3retDist *dist, gdouble *values, gsize n);

/* Collective op: the sum over the ranks of @x (any shape, the same on every
 * rank), identical on every rank.  Its backward hands each rank's @x the
 * sum over the ranks of the gradients that reached the output, which is
 * what the trainer's mean of the ranks' gradients needs: a global loss
 * computed from the sum (say a log-determinant of Σ_r Z_rᵀZ_r) gets its
 * exact gradient.  With one rank it returns @x itself and records nothing. */
M3retTensor *m3ret_op_allreduce_sum (M3retGraph *g, const M3retDist *dist, M3retTensor *x);

G_END_DECLS

#endif /* M3RET_DIST_H */
