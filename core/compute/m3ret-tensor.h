/* m3ret-tensor.h — float32 tensors of up to 5 dimensions on a device.
 *
 * A tensor is a shape plus a pointer into backend memory (never
 * dereference @data on the host: use m3ret_tensor_download()).  Data is
 * contiguous, row-major; @stride is given for readers that index.
 *
 * Two lifetimes:
 * - persistent tensors (parameters, buffers, optimiser state) own their
 *   memory: m3ret_tensor_new() ... m3ret_tensor_free();
 * - step tensors (activations) are made by a graph's ops from its arena
 *   and vanish at m3ret_graph_reset(); never free them.
 */
#ifndef M3RET_TENSOR_H
#define M3RET_TENSOR_H

#include <glib.h>

#include "m3ret-device.h"

G_BEGIN_DECLS

#define M3RET_TENSOR_MAX_DIMS 5

typedef struct _M3retTensor M3retTensor;

/* Fields are read-only for users. */
struct _M3retTensor {
  gint ndim;
  gint64 shape[M3RET_TENSOR_MAX_DIMS];
  gint64 stride[M3RET_TENSOR_MAX_DIMS]; /* in elements */
  gsize numel;
  float *data;            /* device memory */
  float *grad;            /* device memory, same shape; NULL until needed */
  gboolean requires_grad; /* a leaf to differentiate, or computed from one */
  gboolean persistent;    /* owns @data and @grad */
  M3retDevice *device;
  gint node;              /* producing op on the graph's tape, −1 for leaves */
  /*< private >*/
  gpointer _reserved[2];
};

/* Fills @shape/@stride/@numel of @t from @ndim and @shape; FALSE when a
 * dimension is < 1 or there are too many. */
gboolean m3ret_tensor_set_shape (M3retTensor *t, gint ndim, const gint64 *shape);

/* A persistent tensor, zero-filled; with @requires_grad its gradient
 * buffer is allocated (zeroed) too.
 * Returns: (transfer full) free with m3ret_tensor_free(), or NULL + @error. */
M3retTensor *m3ret_tensor_new (M3retDevice *device, gint ndim, const gint64 *shape,
                               gboolean requires_grad, GError **error);
/* Frees a persistent tensor; accepts NULL. */
void m3ret_tensor_free (M3retTensor *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retTensor, m3ret_tensor_free)

/* Copies @t->numel floats between the host and the tensor (or its grad). */
void m3ret_tensor_upload (M3retTensor *t, const float *host);
void m3ret_tensor_download (const M3retTensor *t, float *host);
void m3ret_tensor_download_grad (const M3retTensor *t, float *host);
/* Returns: (transfer full) a g_malloc'd host copy of the data. */
float *m3ret_tensor_to_host (const M3retTensor *t);
/* The one value of a single-element tensor (a loss). */
gfloat m3ret_tensor_item (const M3retTensor *t);
/* Zeroes the gradient if there is one. */
void m3ret_tensor_zero_grad (M3retTensor *t);
/* Number of rows when the last dimension is the row length. */
gsize m3ret_tensor_rows (const M3retTensor *t);
gint64 m3ret_tensor_cols (const M3retTensor *t);
gboolean m3ret_tensor_same_shape (const M3retTensor *a, const M3retTensor *b);
/* Returns: (transfer full) "2×3×4" */
gchar *m3ret_tensor_shape_string (const M3retTensor *t);

G_END_DECLS

#endif /* M3RET_TENSOR_H */
