/* dist-reducer-mpi.c — sums of gradient pieces over the ranks on a thread
 * of their own, so that the backward goes on while they travel. */
#include "config.h"

#include <mpi.h>

#include "dist-private.h"

typedef struct {
  gfloat *values;
  gsize n;
} Piece;

struct _M3retDistReducer {
  /* A communicator of its own: its all-reduces never interleave with
   * those the main thread runs meanwhile (SimDINO's, the loss's). */
  MPI_Comm comm;
  GThread *thread;
  GMutex lock;
  GCond cond;
  GArray *pieces; /* Piece: those given since the last wait */
  guint next;     /* the first of them not yet summed */
  gboolean quit;
  gint64 busy_us; /* in MPI since the last wait */
};

/* MPI counts are ints: large pieces go in parts. */
#define MAX_PART ((gsize) 1 << 30)

/* Between polls of a collective in flight: short beside a backward's ops,
 * long enough that the reducer's thread costs the backward little. */
#define POLL_US 50

/* A blocking MPI_Allreduce spins while it waits for the other ranks,
 * taking a core from the backward it should hide behind; this one polls
 * the non-blocking kind, napping between polls (each poll also moves the
 * data along: shared-memory MPI progresses only inside calls). */
static void
reduce_part (MPI_Comm comm, gfloat *values, gsize n)
{
  MPI_Request request;
  MPI_Iallreduce (MPI_IN_PLACE, values, (int) n, MPI_FLOAT, MPI_SUM, comm, &request);
  for (;;) {
    int done = 0;
    MPI_Test (&request, &done, MPI_STATUS_IGNORE);
    if (done)
      return;
    g_usleep (POLL_US);
  }
}

static gpointer
reducer_thread (gpointer data)
{
  M3retDistReducer *r = data;
  g_mutex_lock (&r->lock);
  for (;;) {
    while (!r->quit && r->next == r->pieces->len)
      g_cond_wait (&r->cond, &r->lock);
    if (r->quit)
      break;
    Piece piece = g_array_index (r->pieces, Piece, r->next);
    g_mutex_unlock (&r->lock);
    gint64 t0 = g_get_monotonic_time ();
    for (gsize at = 0; at < piece.n; at += MAX_PART)
      reduce_part (r->comm, piece.values + at, MIN (MAX_PART, piece.n - at));
    gint64 spent = g_get_monotonic_time () - t0;
    g_mutex_lock (&r->lock);
    r->busy_us += spent;
    r->next++;
    g_cond_broadcast (&r->cond);
  }
  g_mutex_unlock (&r->lock);
  return NULL;
}

M3retDistReducer *
m3ret_dist_reducer_new (const M3retDist *dist)
{
  if (!m3ret_dist_is_parallel (dist))
    return NULL;
  int level = MPI_THREAD_SINGLE;
  MPI_Query_thread (&level);
  if (level < MPI_THREAD_MULTIPLE)
    return NULL; /* this MPI cannot take calls from two threads at once */
  M3retDistReducer *r = g_new0 (M3retDistReducer, 1);
  MPI_Comm_dup (MPI_COMM_WORLD, &r->comm);
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->pieces = g_array_new (FALSE, FALSE, sizeof (Piece));
  r->thread = g_thread_new ("m3ret-allreduce", reducer_thread, r);
  return r;
}

void
m3ret_dist_reducer_send (M3retDistReducer *r, gfloat *values, gsize n)
{
  Piece piece = { values, n };
  g_mutex_lock (&r->lock);
  g_array_append_val (r->pieces, piece);
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

gint64
m3ret_dist_reducer_wait (M3retDistReducer *r)
{
  g_mutex_lock (&r->lock);
  while (r->next < r->pieces->len)
    g_cond_wait (&r->cond, &r->lock);
  g_array_set_size (r->pieces, 0);
  r->next = 0;
  gint64 busy = r->busy_us;
  r->busy_us = 0;
  g_mutex_unlock (&r->lock);
  return busy;
}

void
m3ret_dist_reducer_free (M3retDistReducer *r)
{
  if (r == NULL)
    return;
  m3ret_dist_reducer_wait (r);
  g_mutex_lock (&r->lock);
  r->quit = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  g_thread_join (r->thread);
  int finalised = 0;
  MPI_Finalized (&finalised);
  if (!finalised)
    MPI_Comm_free (&r->comm);
  g_array_free (r->pieces, TRUE);
  g_cond_clear (&r->cond);
  g_mutex_clear (&r->lock);
  g_free (r);
}
