/* grad-average.c — gradients averaged over the ranks, in buckets that
 * travel while the backward goes on (see grad-average.h).
 *
 * The trainable gradients live in one flat host buffer in parameter
 * order.  Buckets are runs of whole parameters, cut from the last
 * parameter back (the backward finishes the last layers first), and go in
 * that order on every rank whatever the timing, so the ranks' collectives
 * match: bucket b is sent once its parameters and those of every later
 * bucket are final. */
#include "config.h"

#include <string.h>

#include "grad-average.h"
#include "graph-private.h"

struct _GradAverage {
  const M3retDist *dist;
  M3retDevice *device;
  M3retParams *params;
  M3retDistReducer *reducer; /* NULL: one all-reduce after the backward */
  guint n;                   /* trainable parameters */
  M3retTensor **tensors;     /* [n] */
  gsize *offset;             /* [n + 1] in floats */
  guint *bucket;             /* [n] its bucket */
  guint n_buckets;
  guint *first;              /* [n_buckets + 1] its first parameter */
  guint *left;               /* [n_buckets] parameters not yet final this step */
  gint next;                 /* the next bucket to send, -1 when all went */
  gfloat *values;            /* [offset[n]] */
  gint64 reduce_us; /* in the all-reduces */
  gint64 waited_us; /* of those, waited for after the backward */
  gint64 after_us;  /* all averaging after the backward: waits, copies, uploads */
};

GradAverage *
grad_average_new (const M3retDist *dist, M3retDevice *device, M3retParams *params,
                  gsize bucket_floats)
{
  GradAverage *a = g_new0 (GradAverage, 1);
  a->dist = dist;
  a->device = device;
  a->params = params;
  guint all = m3ret_params_get_n (params);
  a->tensors = g_new (M3retTensor *, MAX (all, 1));
  a->offset = g_new0 (gsize, all + 1);
  for (guint i = 0; i < all; i++)
    if (m3ret_params_is_trainable (params, i)) {
      a->tensors[a->n] = m3ret_params_get_tensor (params, i);
      a->offset[a->n + 1] = a->offset[a->n] + a->tensors[a->n]->numel;
      a->n++;
    }
  a->values = g_new (gfloat, MAX (a->offset[a->n], 1));
  /* cut from the end: bucket 0 holds the first parameters */
  a->bucket = g_new (guint, MAX (a->n, 1));
  guint *cut = g_new (guint, a->n + 1); /* first parameters of the buckets, last first */
  guint n_cut = 0;
  gsize filled = 0;
  for (gint i = (gint) a->n - 1; i >= 0; i--) {
    filled += a->tensors[i]->numel;
    if (bucket_floats == 0 ? i == 0 : (filled >= bucket_floats || i == 0)) {
      cut[n_cut++] = (guint) i;
      filled = 0;
    }
  }
  a->n_buckets = n_cut;
  a->first = g_new (guint, n_cut + 1);
  for (guint b = 0; b < n_cut; b++)
    a->first[b] = cut[n_cut - 1 - b];
  a->first[n_cut] = a->n;
  g_free (cut);
  for (guint b = 0; b < n_cut; b++)
    for (guint i = a->first[b]; i < a->first[b + 1]; i++)
      a->bucket[i] = b;
  a->left = g_new0 (guint, MAX (n_cut, 1));
  if (bucket_floats > 0 && a->n > 0)
    a->reducer = m3ret_dist_reducer_new (dist);
  return a;
}

/* Sends every bucket whose parameters, and those of the buckets after it,
 * are final. */
static void
send_ready (GradAverage *a)
{
  while (a->next >= 0 && a->left[a->next] == 0) {
    guint b = (guint) a->next--;
    gsize from = a->offset[a->first[b]], to = a->offset[a->first[b + 1]];
    m3ret_dist_reducer_send (a->reducer, a->values + from, to - from);
  }
}

/* One parameter's gradient into the flat buffer (zeros where it has none). */
static void
collect (GradAverage *a, guint i)
{
  M3retTensor *p = a->tensors[i];
  if (p->grad != NULL)
    m3ret_tensor_download_grad (p, a->values + a->offset[i]);
  else
    memset (a->values + a->offset[i], 0, p->numel * sizeof (gfloat));
}

static void
on_ready (gpointer user_data, guint i)
{
  GradAverage *a = user_data;
  collect (a, i);
  a->left[a->bucket[i]]--;
  send_ready (a);
}

gboolean
grad_average_backward (GradAverage *a, M3retGraph *graph, M3retTensor *loss, GError **error)
{
  gint64 t0;
  if (a->reducer == NULL) {
    if (!m3ret_graph_backward (graph, loss, error))
      return FALSE;
    t0 = g_get_monotonic_time ();
    for (guint i = 0; i < a->n; i++)
      collect (a, i);
    gint64 t1 = g_get_monotonic_time ();
    m3ret_dist_allreduce_sum_floats (a->dist, a->values, a->offset[a->n]);
    gint64 spent = g_get_monotonic_time () - t1;
    a->reduce_us += spent;
    a->waited_us += spent;
  } else {
    for (guint b = 0; b < a->n_buckets; b++)
      a->left[b] = a->first[b + 1] - a->first[b];
    a->next = (gint) a->n_buckets - 1;
    gboolean ok = graph_backward_notify (graph, loss, a->tensors, a->n, on_ready, a, error);
    /* A failed backward still sends every bucket: the other ranks wait in
     * the same collectives (the trainer then ends the job). */
    for (guint b = 0; b < a->n_buckets; b++)
      a->left[b] = 0;
    send_ready (a);
    t0 = g_get_monotonic_time ();
    a->reduce_us += m3ret_dist_reducer_wait (a->reducer);
    a->waited_us += g_get_monotonic_time () - t0;
    if (!ok)
      return FALSE;
  }
  gfloat ranks = (gfloat) m3ret_dist_get_size (a->dist);
  gsize total = a->offset[a->n];
  for (gsize j = 0; j < total; j++)
    a->values[j] /= ranks;
  for (guint i = 0; i < a->n; i++)
    if (a->tensors[i]->grad != NULL)
      m3ret_device_upload (a->device, a->tensors[i]->grad, a->values + a->offset[i],
                           a->tensors[i]->numel * sizeof (gfloat));
  a->after_us += g_get_monotonic_time () - t0;
  return TRUE;
}

gsize
grad_average_get_floats (const GradAverage *a)
{
  return a->offset[a->n];
}

gint64
grad_average_get_reduce_us (const GradAverage *a)
{
  return a->reduce_us;
}

gint64
grad_average_get_waited_us (const GradAverage *a)
{
  return a->waited_us;
}

gint64
grad_average_get_after_us (const GradAverage *a)
{
  return a->after_us;
}

gboolean
grad_average_overlaps (const GradAverage *a)
{
  return a->reducer != NULL;
}

void
grad_average_free (GradAverage *a)
{
  if (a == NULL)
    return;
  m3ret_dist_reducer_free (a->reducer);
  g_free (a->values);
  g_free (a->left);
  g_free (a->first);
  g_free (a->bucket);
  g_free (a->offset);
  g_free (a->tensors);
  g_free (a);
}
