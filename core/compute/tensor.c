/* tensor.c — shapes and persistent tensors. */
#include "config.h"

#include "m3ret-tensor.h"

gboolean
m3ret_tensor_set_shape (M3retTensor *t, gint ndim, const gint64 *shape)
{
  if (ndim < 1 || ndim > M3RET_TENSOR_MAX_DIMS)
    return FALSE;
  gsize numel = 1;
  for (gint i = 0; i < ndim; i++) {
    if (shape[i] < 1)
      return FALSE;
    numel *= (gsize) shape[i];
  }
  t->ndim = ndim;
  for (gint i = 0; i < M3RET_TENSOR_MAX_DIMS; i++) {
    t->shape[i] = i < ndim ? shape[i] : 1;
    t->stride[i] = 1;
  }
  for (gint i = ndim - 2; i >= 0; i--)
    t->stride[i] = t->stride[i + 1] * t->shape[i + 1];
  t->numel = numel;
  return TRUE;
}

M3retTensor *
m3ret_tensor_new (M3retDevice *device, gint ndim, const gint64 *shape, gboolean requires_grad,
                  GError **error)
{
  g_return_val_if_fail (device != NULL, NULL);
  M3retTensor *t = g_new0 (M3retTensor, 1);
  if (!m3ret_tensor_set_shape (t, ndim, shape)) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_INVALID, "bad tensor shape (%d dims)",
                 ndim);
    g_free (t);
    return NULL;
  }
  t->device = device;
  t->persistent = TRUE;
  t->node = -1;
  t->requires_grad = requires_grad;
  const M3retBackendVTable *vt = m3ret_device_get_vtable (device);
  gpointer ctx = m3ret_device_get_context (device);
  t->data = m3ret_device_alloc (device, t->numel * sizeof (float), error);
  if (t->data == NULL) {
    g_free (t);
    return NULL;
  }
  vt->fill (ctx, t->data, t->numel, 0.0f);
  if (requires_grad) {
    t->grad = m3ret_device_alloc (device, t->numel * sizeof (float), error);
    if (t->grad == NULL) {
      m3ret_tensor_free (t);
      return NULL;
    }
    vt->fill (ctx, t->grad, t->numel, 0.0f);
  }
  return t;
}

void
m3ret_tensor_free (M3retTensor *t)
{
  if (t == NULL)
    return;
  g_return_if_fail (t->persistent);
  m3ret_device_free_mem (t->device, t->data);
  m3ret_device_free_mem (t->device, t->grad);
  g_free (t);
}

void
m3ret_tensor_upload (M3retTensor *t, const float *host)
{
  m3ret_device_upload (t->device, t->data, host, t->numel * sizeof (float));
}

void
m3ret_tensor_download (const M3retTensor *t, float *host)
{
  m3ret_device_download (t->device, host, t->data, t->numel * sizeof (float));
}

void
m3ret_tensor_download_grad (const M3retTensor *t, float *host)
{
  if (t->grad == NULL) {
    for (gsize i = 0; i < t->numel; i++)
      host[i] = 0.0f;
    return;
  }
  m3ret_device_download (t->device, host, t->grad, t->numel * sizeof (float));
}

float *
m3ret_tensor_to_host (const M3retTensor *t)
{
  float *host = g_new (float, t->numel);
  m3ret_tensor_download (t, host);
  return host;
}

gfloat
m3ret_tensor_item (const M3retTensor *t)
{
  float v = 0.0f;
  m3ret_device_download (t->device, &v, t->data, sizeof v);
  return v;
}

void
m3ret_tensor_zero_grad (M3retTensor *t)
{
  if (t != NULL && t->grad != NULL)
    m3ret_device_get_vtable (t->device)->fill (m3ret_device_get_context (t->device), t->grad,
                                               t->numel, 0.0f);
}

gsize
m3ret_tensor_rows (const M3retTensor *t)
{
  return t->numel / (gsize) t->shape[t->ndim - 1];
}

gint64
m3ret_tensor_cols (const M3retTensor *t)
{
  return t->shape[t->ndim - 1];
}

gboolean
m3ret_tensor_same_shape (const M3retTensor *a, const M3retTensor *b)
{
  if (a->ndim != b->ndim)
    return FALSE;
  for (gint i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return FALSE;
  return TRUE;
}

gchar *
m3ret_tensor_shape_string (const M3retTensor *t)
{
  GString *s = g_string_new (NULL);
  for (gint i = 0; i < t->ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? "×" : "", t->shape[i]);
  return g_string_free (s, FALSE);
}
