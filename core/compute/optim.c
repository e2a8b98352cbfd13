/* optim.c — AdamW state and step; schedules. */
#include "config.h"

#include <math.h>

#include "m3ret-optim.h"

struct _M3retAdamW {
  M3retParams *params;
  GPtrArray *m;  /* M3retTensor per parameter, NULL for buffers */
  GPtrArray *v;
  gdouble beta1, beta2, eps;
  gint64 step;
};

M3retAdamW *
m3ret_adamw_new (M3retParams *params, gdouble beta1, gdouble beta2, gdouble eps, GError **error)
{
  M3retAdamW *opt = g_new0 (M3retAdamW, 1);
  opt->params = params;
  opt->beta1 = beta1;
  opt->beta2 = beta2;
  opt->eps = eps;
  opt->m = g_ptr_array_new_with_free_func ((GDestroyNotify) m3ret_tensor_free);
  opt->v = g_ptr_array_new_with_free_func ((GDestroyNotify) m3ret_tensor_free);
  M3retDevice *device = m3ret_params_get_device (params);
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    M3retTensor *m = NULL, *v = NULL;
    if (m3ret_params_is_trainable (params, i)) {
      M3retTensor *p = m3ret_params_get_tensor (params, i);
      m = m3ret_tensor_new (device, p->ndim, p->shape, FALSE, error);
      v = m ? m3ret_tensor_new (device, p->ndim, p->shape, FALSE, error) : NULL;
      if (v == NULL) {
        m3ret_tensor_free (m);
        m3ret_adamw_free (opt);
        return NULL;
      }
    }
    g_ptr_array_add (opt->m, m);
    g_ptr_array_add (opt->v, v);
  }
  return opt;
}

void
m3ret_adamw_free (M3retAdamW *opt)
{
  if (opt == NULL)
    return;
  g_ptr_array_unref (opt->m);
  g_ptr_array_unref (opt->v);
  g_free (opt);
}

void
m3ret_adamw_step (M3retAdamW *opt, gdouble lr, gdouble weight_decay)
{
  M3retDevice *device = m3ret_params_get_device (opt->params);
  const M3retBackendVTable *vt = m3ret_device_get_vtable (device);
  gpointer ctx = m3ret_device_get_context (device);
  opt->step++;
  for (guint i = 0; i < opt->m->len; i++) {
    M3retTensor *m = opt->m->pdata[i], *v = opt->v->pdata[i];
    M3retTensor *p = m3ret_params_get_tensor (opt->params, i);
    if (m == NULL || p->grad == NULL)
      continue;
    gdouble wd = m3ret_params_get_decay (opt->params, i) ? weight_decay : 0.0;
    vt->adamw (ctx, p->numel, p->data, p->grad, m->data, v->data, (gfloat) lr,
               (gfloat) opt->beta1, (gfloat) opt->beta2, (gfloat) opt->eps, (gfloat) wd,
               (gint) MIN (opt->step, G_MAXINT));
  }
}

gint64
m3ret_adamw_get_step (const M3retAdamW *opt)
{
  return opt->step;
}

void
m3ret_adamw_set_step (M3retAdamW *opt, gint64 step)
{
  opt->step = step;
}

M3retTensor *
m3ret_adamw_get_m (const M3retAdamW *opt, guint i)
{
  g_return_val_if_fail (i < opt->m->len, NULL);
  return opt->m->pdata[i];
}

M3retTensor *
m3ret_adamw_get_v (const M3retAdamW *opt, guint i)
{
  g_return_val_if_fail (i < opt->v->len, NULL);
  return opt->v->pdata[i];
}

gdouble
m3ret_schedule_cosine (gint64 step, gint64 total, gdouble start, gdouble end)
{
  if (total <= 0 || step >= total)
    return end;
  if (step <= 0)
    return start;
  return end + (start - end) * 0.5 * (1.0 + cos (G_PI * (gdouble) step / (gdouble) total));
}

gdouble
m3ret_schedule_warmup_cosine (gint64 step, gint64 warmup, gint64 total, gdouble peak,
                              gdouble final)
{
  if (step < warmup)
    return peak * (gdouble) step / (gdouble) warmup;
  return m3ret_schedule_cosine (step - warmup, total - warmup, peak, final);
}

gdouble
m3ret_lr_for_batch (gdouble base, gint batch)
{
  return base * batch / 256.0;
}
