/* grad-average.h — data-parallel training's backward: every rank's
 * gradients replaced by the ranks' mean, sent in buckets while the rest of
 * the backward runs.  Private to the core. */
#ifndef M3RET_GRAD_AVERAGE_H
#define M3RET_GRAD_AVERAGE_H

#include "dist-private.h"
#include "m3ret.h"

G_BEGIN_DECLS

typedef struct _GradAverage GradAverage;

/* Averages @params' trainable gradients over @dist's ranks (more than
 * one), in buckets of about @bucket_floats floats sent as soon as the
 * backward has finished each (0: one all-reduce after the backward, as
 * also where the MPI cannot take calls from two threads).  Collective. */
GradAverage *grad_average_new (const M3retDist *dist, M3retDevice *device, M3retParams *params,
                               gsize bucket_floats);

/* m3ret_graph_backward() of @loss, then the gradients averaged. */
gboolean grad_average_backward (GradAverage *average, M3retGraph *graph, M3retTensor *loss,
                                GError **error);

/* Floats averaged each step. */
gsize grad_average_get_floats (const GradAverage *average);

/* Microseconds since the start: the all-reduces took @reduce, the step
 * waited for @waited of them after its backward (the rest was hidden
 * behind it), and spent @after averaging once the backward was done
 * (those waits, the copies between device and buffer, the division). */
gint64 grad_average_get_reduce_us (const GradAverage *average);
gint64 grad_average_get_waited_us (const GradAverage *average);
gint64 grad_average_get_after_us (const GradAverage *average);

/* Whether buckets go during the backward. */
gboolean grad_average_overlaps (const GradAverage *average);

void grad_average_free (GradAverage *average);

G_END_DECLS

#endif /* M3RET_GRAD_AVERAGE_H */
