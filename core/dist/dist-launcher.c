/* dist-launcher.c — what both implementations share: the launcher's
 * environment and the graph op over the ranks. */
#include "config.h"

#include <string.h>

#include "dist-private.h"
#include "m3ret-device.h"
#include "m3ret-graph.h"
#include "m3ret-tensor.h"

G_DEFINE_QUARK (m3ret-dist-error-quark, m3ret_dist_error)

gint
m3ret_dist_launcher_size (void)
{
  /* OpenMPI's mpirun, MPICH/Hydra and Intel (PMI), Slurm's srun. */
  static const gchar *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
                                       "SLURM_STEP_NUM_TASKS" };
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++) {
    const gchar *v = g_getenv (vars[i]);
    if (v != NULL && *v != '\0') {
      gint64 n = g_ascii_strtoll (v, NULL, 10);
      if (n >= 1 && n <= G_MAXINT)
        return (gint) n;
    }
  }
  return 1;
}

gint
m3ret_dist_launcher_local_size (void)
{
  static const gchar *const vars[] = { "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
                                       "SLURM_NTASKS_PER_NODE" };
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++) {
    const gchar *v = g_getenv (vars[i]);
    gchar *end = NULL;
    gint64 n = v != NULL ? g_ascii_strtoll (v, &end, 10) : 0;
    if (v != NULL && end != v && *end == '\0' && n >= 1 && n <= G_MAXINT)
      return (gint) n;
  }
  return 1;
}

static void
allreduce_backward (M3retGraph *g, M3retTensor *out, M3retTensor *const *inputs, guint n_inputs,
                    gpointer user_data)
{
  const M3retDist *dist = user_data;
  M3retDevice *device = m3ret_graph_get_device (g);
  float *dx = m3ret_graph_get_grad (g, inputs[0]);
  float *dout = m3ret_graph_get_grad (g, out);
  gsize n = out->numel;
  g_autofree gfloat *sum = g_new0 (gfloat, n);
  if (dout != NULL)
    m3ret_device_download (device, sum, dout, n * sizeof (gfloat));
  /* Every rank takes part, whether or not a gradient reached it. */
  m3ret_dist_allreduce_sum_floats (dist, sum, n);
  if (dx == NULL)
    return;
  g_autofree gfloat *acc = g_new (gfloat, n);
  m3ret_device_download (device, acc, dx, n * sizeof (gfloat));
  for (gsize i = 0; i < n; i++)
    acc[i] += sum[i];
  m3ret_device_upload (device, dx, acc, n * sizeof (gfloat));
}

M3retTensor *
m3ret_op_allreduce_sum (M3retGraph *g, const M3retDist *dist, M3retTensor *x)
{
  if (x == NULL)
    return NULL;
  if (m3ret_dist_get_size (dist) <= 1)
    return x;
  M3retTensor *out = m3ret_graph_new_tensor (g, x->ndim, x->shape);
  if (out == NULL)
    return NULL;
  g_autofree gfloat *host = g_new (gfloat, x->numel);
  m3ret_tensor_download (x, host);
  m3ret_dist_allreduce_sum_floats (dist, host, x->numel);
  m3ret_tensor_upload (out, host);
  m3ret_graph_record_op (g, out, &x, 1, allreduce_backward, (gpointer) dist);
  return out;
}
