/* params.c — named tensors, initialisers, gradient norms, EMA. */
#include "config.h"

#include <math.h>

#include "m3ret-params.h"

typedef struct {
  gchar *name;
  M3retTensor *tensor;
  gboolean trainable;
  gboolean decay;
} Entry;

struct _M3retParams {
  M3retDevice *device;
  GArray *entries;  /* Entry */
  GHashTable *by_name;
};

M3retParams *
m3ret_params_new (M3retDevice *device)
{
  g_return_val_if_fail (device != NULL, NULL);
  M3retParams *p = g_new0 (M3retParams, 1);
  p->device = device;
  p->entries = g_array_new (FALSE, FALSE, sizeof (Entry));
  p->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return p;
}

void
m3ret_params_free (M3retParams *p)
{
  if (p == NULL)
    return;
  for (guint i = 0; i < p->entries->len; i++) {
    Entry *e = &g_array_index (p->entries, Entry, i);
    g_free (e->name);
    m3ret_tensor_free (e->tensor);
  }
  g_array_unref (p->entries);
  g_hash_table_unref (p->by_name);
  g_free (p);
}

M3retDevice *
m3ret_params_get_device (const M3retParams *p)
{
  return p->device;
}

M3retTensor *
m3ret_params_add (M3retParams *p, const gchar *name, gint ndim, const gint64 *shape,
                  gboolean trainable, GError **error)
{
  if (g_hash_table_contains (p->by_name, name)) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_INVALID,
                 "parameter '%s' is defined twice", name);
    return NULL;
  }
  M3retTensor *t = m3ret_tensor_new (p->device, ndim, shape, trainable, error);
  if (t == NULL)
    return NULL;
  Entry e = { g_strdup (name), t, trainable, trainable && ndim >= 2 };
  g_array_append_val (p->entries, e);
  g_hash_table_insert (p->by_name, e.name, GUINT_TO_POINTER (p->entries->len));
  return t;
}

guint
m3ret_params_get_n (const M3retParams *p)
{
  return p->entries->len;
}

static Entry *
entry (const M3retParams *p, guint i)
{
  g_return_val_if_fail (i < p->entries->len, NULL);
  return &g_array_index (p->entries, Entry, i);
}

const gchar *
m3ret_params_get_name (const M3retParams *p, guint i)
{
  return entry (p, i)->name;
}

M3retTensor *
m3ret_params_get_tensor (const M3retParams *p, guint i)
{
  return entry (p, i)->tensor;
}

gboolean
m3ret_params_is_trainable (const M3retParams *p, guint i)
{
  return entry (p, i)->trainable;
}

gboolean
m3ret_params_get_decay (const M3retParams *p, guint i)
{
  return entry (p, i)->decay;
}

void
m3ret_params_set_decay (M3retParams *p, guint i, gboolean decay)
{
  entry (p, i)->decay = decay;
}

M3retTensor *
m3ret_params_lookup (const M3retParams *p, const gchar *name)
{
  guint pos = GPOINTER_TO_UINT (g_hash_table_lookup (p->by_name, name));
  return pos ? entry (p, pos - 1)->tensor : NULL;
}

gsize
m3ret_params_count (const M3retParams *p, gboolean trainable_only)
{
  gsize n = 0;
  for (guint i = 0; i < p->entries->len; i++)
    if (!trainable_only || entry (p, i)->trainable)
      n += entry (p, i)->tensor->numel;
  return n;
}

void
m3ret_params_init_xavier_uniform (M3retTensor *t, M3retRng *rng)
{
  /* fans of the tensor seen as out × (everything else), as MAE does for
   * the patch embedding */
  gdouble fan_out = (gdouble) t->shape[0];
  gdouble fan_in = (gdouble) t->numel / fan_out;
  gfloat bound = (gfloat) sqrt (6.0 / (fan_in + fan_out));
  float *host = g_new (float, t->numel);
  m3ret_rng_fill_uniform (rng, host, t->numel, -bound, bound);
  m3ret_tensor_upload (t, host);
  g_free (host);
}

void
m3ret_params_init_normal (M3retTensor *t, M3retRng *rng, gfloat std)
{
  float *host = g_new (float, t->numel);
  m3ret_rng_fill_normal (rng, host, t->numel, 0.0f, std);
  m3ret_tensor_upload (t, host);
  g_free (host);
}

void
m3ret_params_init_constant (M3retTensor *t, gfloat value)
{
  m3ret_device_get_vtable (t->device)->fill (m3ret_device_get_context (t->device), t->data,
                                             t->numel, value);
}

void
m3ret_params_zero_grad (M3retParams *p)
{
  for (guint i = 0; i < p->entries->len; i++)
    m3ret_tensor_zero_grad (entry (p, i)->tensor);
}

gdouble
m3ret_params_grad_norm (const M3retParams *p)
{
  const M3retBackendVTable *vt = m3ret_device_get_vtable (p->device);
  gpointer ctx = m3ret_device_get_context (p->device);
  gdouble ss = 0;
  for (guint i = 0; i < p->entries->len; i++) {
    M3retTensor *t = entry (p, i)->tensor;
    if (t->grad != NULL)
      ss += vt->sumsq (ctx, t->numel, t->grad);
  }
  return sqrt (ss);
}

gdouble
m3ret_params_clip_grad_norm (M3retParams *p, gdouble max_norm)
{
  gdouble norm = m3ret_params_grad_norm (p);
  if (norm > max_norm && norm > 0) {
    /* the same factor as torch.nn.utils.clip_grad_norm_ */
    gfloat k = (gfloat) (max_norm / (norm + 1e-6));
    const M3retBackendVTable *vt = m3ret_device_get_vtable (p->device);
    gpointer ctx = m3ret_device_get_context (p->device);
    for (guint i = 0; i < p->entries->len; i++) {
      M3retTensor *t = entry (p, i)->tensor;
      if (t->grad != NULL)
        vt->axpby (ctx, t->numel, k, t->grad, 0.0f, t->grad);
    }
  }
  return norm;
}

static gboolean
same_layout (const M3retParams *a, const M3retParams *b, GError **error)
{
  if (a->entries->len != b->entries->len) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_INVALID,
                 "parameter sets differ: %u and %u tensors", a->entries->len, b->entries->len);
    return FALSE;
  }
  for (guint i = 0; i < a->entries->len; i++) {
    Entry *x = entry (a, i), *y = entry (b, i);
    if (g_strcmp0 (x->name, y->name) != 0 || !m3ret_tensor_same_shape (x->tensor, y->tensor)) {
      g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_INVALID,
                   "parameter sets differ at '%s' / '%s'", x->name, y->name);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
m3ret_params_copy (M3retParams *dst, const M3retParams *src, GError **error)
{
  if (!same_layout (dst, src, error))
    return FALSE;
  const M3retBackendVTable *vt = m3ret_device_get_vtable (dst->device);
  gpointer ctx = m3ret_device_get_context (dst->device);
  for (guint i = 0; i < dst->entries->len; i++) {
    M3retTensor *d = entry (dst, i)->tensor, *s = entry (src, i)->tensor;
    vt->axpby (ctx, d->numel, 1.0f, s->data, 0.0f, d->data);
  }
  return TRUE;
}

void
m3ret_params_ema (M3retParams *dst, const M3retParams *src, gdouble momentum)
{
  g_return_if_fail (same_layout (dst, src, NULL));
  const M3retBackendVTable *vt = m3ret_device_get_vtable (dst->device);
  gpointer ctx = m3ret_device_get_context (dst->device);
  for (guint i = 0; i < dst->entries->len; i++) {
    M3retTensor *d = entry (dst, i)->tensor, *s = entry (src, i)->tensor;
    if (entry (dst, i)->trainable)
      vt->axpby (ctx, d->numel, (gfloat) (1.0 - momentum), s->data, (gfloat) momentum, d->data);
    else
      vt->axpby (ctx, d->numel, 1.0f, s->data, 0.0f, d->data);
  }
}
