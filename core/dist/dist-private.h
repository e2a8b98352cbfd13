/* dist-private.h — the core's side of the ranks of a run (see m3ret-dist.h).
 *
 * Two implementations of this one interface: dist-mpi.c (configure found
 * OpenMPI) and dist-single.c (rank 0 of 1; every collective is the
 * identity).  Nothing else in the core names MPI.
 */
#ifndef M3RET_DIST_PRIVATE_H
#define M3RET_DIST_PRIVATE_H

#include <glib.h>

#include "m3ret-dist.h"

G_BEGIN_DECLS

#define M3RET_DIST_ERROR (m3ret_dist_error_quark ())
GQuark m3ret_dist_error_quark (void);
typedef enum {
  M3RET_DIST_ERROR_UNAVAILABLE, /* several ranks launched, a build without MPI */
  M3RET_DIST_ERROR_FAILED       /* MPI would not start */
} M3retDistError;

/* Whether this build can run across processes. */
gboolean m3ret_dist_available (void);

/* How many ranks the launcher (mpirun, srun) says this job has, from its
 * environment; 1 when not launched by one. */
gint m3ret_dist_launcher_size (void);

/* How many of the job's ranks the launcher started on this machine; 1
 * when not launched by one. */
gint m3ret_dist_launcher_local_size (void);

/* Returns: (transfer none) the run's ranks, set up on the first call
 * (MPI_Init when the process was launched by mpirun or srun; a single
 * process otherwise).  NULL with @error when this build has no MPI but the
 * launcher started several ranks (the message says how to enable it). */
M3retDist *m3ret_dist_get (GError **error);

/* Whether @dist has more than one rank. */
gboolean m3ret_dist_is_parallel (const M3retDist *dist);

/* Collective: @values (@n floats, host) replaced by their sum over the
 * ranks, the same bits on every rank. */
void m3ret_dist_allreduce_sum_floats (const M3retDist *dist, gfloat *values, gsize n);

/* Collective: @values (@n 32-bit words, host) replaced on rank 0 by their
 * bitwise OR over the ranks (other ranks' buffers are left as they are):
 * rows each rank filled alone, zeros elsewhere, gathered bit for bit. */
void m3ret_dist_gather_or (const M3retDist *dist, guint32 *values, gsize n);

/* Collective: returns (transfer full) on rank 0 every rank's @text joined
 * in rank order, NULL on the others. */
gchar *m3ret_dist_gather_text (const M3retDist *dist, const gchar *text);

/* Collective: the largest of every rank's @value. */
gint64 m3ret_dist_allreduce_max (const M3retDist *dist, gint64 value);

/* Collective: waits for every rank. */
void m3ret_dist_barrier (const M3retDist *dist);

/* Ends the whole job at once with @status (MPI_Abort): for a rank that
 * failed while the others may be waiting in a collective.  Returns only
 * with one rank. */
void m3ret_dist_abort (const M3retDist *dist, gint status);

/* Sums of host float buffers over the ranks, run on a thread of their own
 * while the caller goes on (gradients, during the backward). */
typedef struct _M3retDistReducer M3retDistReducer;

/* Collective.  Returns: (transfer full) a reducer, or NULL with one rank
 * or where this MPI cannot take calls from two threads at once (then sum
 * after the backward with m3ret_dist_allreduce_sum_floats()). */
M3retDistReducer *m3ret_dist_reducer_new (const M3retDist *dist);

/* Collective: starts replacing @values (@n floats, kept alive and left
 * alone until the wait) by their sum over the ranks.  Every rank sends
 * the same pieces in the same order. */
void m3ret_dist_reducer_send (M3retDistReducer *reducer, gfloat *values, gsize n);

/* Blocks until every piece sent is summed.  Returns the microseconds the
 * reducer's thread spent in MPI on them. */
gint64 m3ret_dist_reducer_wait (M3retDistReducer *reducer);

/* Collective (accepts NULL). */
void m3ret_dist_reducer_free (M3retDistReducer *reducer);

/* Ends MPI when it was started (at exit; accepts NULL). */
void m3ret_dist_finalize (M3retDist *dist);

G_END_DECLS

#endif /* M3RET_DIST_PRIVATE_H */
