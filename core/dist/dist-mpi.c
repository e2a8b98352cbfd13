/* dist-mpi.c — the ranks of a run on MPI (OpenMPI, MPICH: any MPI-3). */
#include "config.h"

#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "dist-private.h"

struct _M3retDist {
  gboolean started; /* MPI_Init was called here */
  gint rank, size;
};

static M3retDist world = { FALSE, 0, 1 };
static gboolean set_up;

gboolean
m3ret_dist_available (void)
{
  return TRUE;
}

/* Whether a launcher started this process (then MPI_Init must run, even
 * for one rank); a plain `m3ret train` does not pay for MPI's start. */
static gboolean
launched (void)
{
  static const gchar *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMIX_RANK" };
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++)
    if (g_getenv (vars[i]) != NULL)
      return TRUE;
  /* a shell inside a one-task srun step is not a rank */
  return m3ret_dist_launcher_size () > 1;
}

M3retDist *
m3ret_dist_get (GError **error)
{
  if (set_up)
    return &world;
  set_up = TRUE;
  if (!launched ())
    return &world;
  int initialised = 0;
  MPI_Initialized (&initialised);
  if (!initialised) {
    int provided = 0;
    /* Loader threads never call MPI; the main thread and the gradient
     * reducer's (dist-reducer-mpi.c) do, at once, on two communicators.
     * An MPI that gives less than MULTIPLE gets no reducer. */
    if (MPI_Init_thread (NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
      g_set_error (error, M3RET_DIST_ERROR, M3RET_DIST_ERROR_FAILED, "MPI_Init failed");
      return NULL;
    }
    world.started = TRUE;
  }
  MPI_Comm_rank (MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size (MPI_COMM_WORLD, &world.size);
  return &world;
}

gboolean
m3ret_dist_is_parallel (const M3retDist *dist)
{
  return dist != NULL && dist->size > 1;
}

gint
m3ret_dist_get_rank (const M3retDist *dist)
{
  return dist != NULL ? dist->rank : 0;
}

gint
m3ret_dist_get_size (const M3retDist *dist)
{
  return dist != NULL ? dist->size : 1;
}

/* MPI counts are ints: large buffers go in pieces. */
#define MAX_PIECE ((gsize) 1 << 30)

void
m3ret_dist_allreduce_sum (const M3retDist *dist, gdouble *values, gsize n)
{
  if (!m3ret_dist_is_parallel (dist))
    return;
  for (gsize at = 0; at < n; at += MAX_PIECE)
    MPI_Allreduce (MPI_IN_PLACE, values + at, (int) MIN (MAX_PIECE, n - at), MPI_DOUBLE, MPI_SUM,
                   MPI_COMM_WORLD);
}

void
m3ret_dist_allreduce_sum_floats (const M3retDist *dist, gfloat *values, gsize n)
{
  if (!m3ret_dist_is_parallel (dist))
    return;
  for (gsize at = 0; at < n; at += MAX_PIECE)
    MPI_Allreduce (MPI_IN_PLACE, values + at, (int) MIN (MAX_PIECE, n - at), MPI_FLOAT, MPI_SUM,
                   MPI_COMM_WORLD);
}

void
m3ret_dist_gather_or (const M3retDist *dist, guint32 *values, gsize n)
{
  if (!m3ret_dist_is_parallel (dist))
    return;
  for (gsize at = 0; at < n; at += MAX_PIECE)
    MPI_Reduce (dist->rank == 0 ? MPI_IN_PLACE : values + at, values + at,
                (int) MIN (MAX_PIECE, n - at), MPI_UINT32_T, MPI_BOR, 0, MPI_COMM_WORLD);
}

gchar *
m3ret_dist_gather_text (const M3retDist *dist, const gchar *text)
{
  if (!m3ret_dist_is_parallel (dist))
    return g_strdup (text);
  /* MPI counts are ints: no rank may push the total past one */
  int length = (int) MIN (strlen (text), (gsize) (G_MAXINT / dist->size));
  gboolean root = dist->rank == 0;
  int *lengths = root ? g_new (int, dist->size) : NULL, *at = root ? g_new (int, dist->size) : NULL;
  MPI_Gather (&length, 1, MPI_INT, lengths, 1, MPI_INT, 0, MPI_COMM_WORLD);
  gchar *all = NULL;
  if (root) {
    gsize total = 0;
    for (gint r = 0; r < dist->size; r++) {
      at[r] = (int) total;
      total += (gsize) lengths[r];
    }
    all = g_malloc (total + 1);
    all[total] = '\0';
  }
  MPI_Gatherv (text, length, MPI_CHAR, all, lengths, at, MPI_CHAR, 0, MPI_COMM_WORLD);
  g_free (lengths);
  g_free (at);
  return all;
}

gint64
m3ret_dist_allreduce_max (const M3retDist *dist, gint64 value)
{
  if (!m3ret_dist_is_parallel (dist))
    return value;
  long long v = value, out = value;
  MPI_Allreduce (&v, &out, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

void
m3ret_dist_barrier (const M3retDist *dist)
{
  if (m3ret_dist_is_parallel (dist))
    MPI_Barrier (MPI_COMM_WORLD);
}

void
m3ret_dist_abort (const M3retDist *dist, gint status)
{
  if (!m3ret_dist_is_parallel (dist))
    return;
  fflush (stdout);
  fflush (stderr);
  MPI_Abort (MPI_COMM_WORLD, status != 0 ? status : 1);
}

void
m3ret_dist_finalize (M3retDist *dist)
{
  if (dist == NULL || !dist->started)
    return;
  int finalised = 0;
  MPI_Finalized (&finalised);
  if (!finalised)
    MPI_Finalize ();
  dist->started = FALSE;
}
