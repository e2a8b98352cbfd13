/* dist-single.c — the ranks of a build without MPI: rank 0 of 1. */
#include "config.h"

#include "dist-private.h"

struct _M3retDist {
  gint unused;
};

static M3retDist single;

gboolean
m3ret_dist_available (void)
{
  return FALSE;
}

M3retDist *
m3ret_dist_get (GError **error)
{
  gint launched = m3ret_dist_launcher_size ();
  if (launched > 1) {
    g_set_error (error, M3RET_DIST_ERROR, M3RET_DIST_ERROR_UNAVAILABLE,
                 "this m3ret was built without MPI, so its %d processes would each train "
                 "alone: install the Debian packages libopenmpi-dev and openmpi-bin, run "
                 "./configure again (it finds them; --with-mpi insists) and rebuild", launched);
    return NULL;
  }
  return &single;
}

gboolean
m3ret_dist_is_parallel (const M3retDist *dist)
{
  return FALSE;
}

gint
m3ret_dist_get_rank (const M3retDist *dist)
{
  return 0;
}

gint
m3ret_dist_get_size (const M3retDist *dist)
{
  return 1;
}

void
m3ret_dist_allreduce_sum (const M3retDist *dist, gdouble *values, gsize n)
{
}

void
m3ret_dist_allreduce_sum_floats (const M3retDist *dist, gfloat *values, gsize n)
{
}

void
m3ret_dist_gather_or (const M3retDist *dist, guint32 *values, gsize n)
{
}

gint64
m3ret_dist_allreduce_max (const M3retDist *dist, gint64 value)
{
  return value;
}

void
m3ret_dist_barrier (const M3retDist *dist)
{
}

void
m3ret_dist_abort (const M3retDist *dist, gint status)
{
}

void
m3ret_dist_finalize (M3retDist *dist)
{
}

gchar *
m3ret_dist_gather_text (const M3retDist *dist, const gchar *text)
{
  return g_strdup (text);
}

M3retDistReducer *
m3ret_dist_reducer_new (const M3retDist *dist)
{
  return NULL; /* one rank: nothing to sum */
}

void
m3ret_dist_reducer_send (M3retDistReducer *reducer, gfloat *values, gsize n)
{
  g_return_if_reached ();
}

gint64
m3ret_dist_reducer_wait (M3retDistReducer *reducer)
{
  g_return_val_if_reached (0);
}

void
m3ret_dist_reducer_free (M3retDistReducer *reducer)
{
  g_return_if_fail (reducer == NULL);
}
