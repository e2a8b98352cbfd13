/* checkpoint.c — training state in one .safetensors file. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "m3ret-checkpoint.h"
#include "m3ret-fileio.h"

static void
add_tensor (M3retSafetensorsWriter *w, const gchar *name, const M3retTensor *t)
{
  g_autofree gfloat *host = m3ret_tensor_to_host (t);
  m3ret_safetensors_writer_add (w, name, t->shape, (guint) t->ndim, host);
}

static void
add_params (M3retSafetensorsWriter *w, M3retParams *params, const gchar *prefix)
{
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    g_autofree gchar *name = g_strconcat (prefix, m3ret_params_get_name (params, i), NULL);
    add_tensor (w, name, m3ret_params_get_tensor (params, i));
  }
}

gboolean
m3ret_checkpoint_save (const gchar *path, const M3retCheckpointContents *c, GError **error)
{
  g_return_val_if_fail (path != NULL && c != NULL && c->model != NULL, FALSE);
  g_autoptr (M3retSafetensorsWriter) w = m3ret_safetensors_writer_new ();
  add_params (w, c->model, "");
  if (c->state != NULL)
    add_params (w, c->state, c->state_prefix ? c->state_prefix : "state.");
  if (c->optimizer != NULL) {
    for (guint i = 0; i < m3ret_params_get_n (c->model); i++) {
      M3retTensor *m = m3ret_adamw_get_m (c->optimizer, i);
      M3retTensor *v = m3ret_adamw_get_v (c->optimizer, i);
      if (m == NULL || v == NULL)
        continue;
      const gchar *name = m3ret_params_get_name (c->model, i);
      g_autofree gchar *mn = g_strconcat ("optim.m.", name, NULL);
      g_autofree gchar *vn = g_strconcat ("optim.v.", name, NULL);
      add_tensor (w, mn, m);
      add_tensor (w, vn, v);
    }
    g_autofree gchar *t = g_strdup_printf ("%" G_GINT64_FORMAT, m3ret_adamw_get_step (c->optimizer));
    m3ret_safetensors_writer_set_metadata (w, "m3ret.adamw_step", t);
  }
  g_autofree gchar *step = g_strdup_printf ("%" G_GINT64_FORMAT, c->step);
  m3ret_safetensors_writer_set_metadata (w, "format", "pt");
  m3ret_safetensors_writer_set_metadata (w, "m3ret.version", PACKAGE_VERSION);
  m3ret_safetensors_writer_set_metadata (w, M3RET_CHECKPOINT_META_STEP, step);
  g_autofree gchar *total = g_strdup_printf ("%" G_GINT64_FORMAT, c->total_steps);
  if (c->total_steps > 0)
    m3ret_safetensors_writer_set_metadata (w, M3RET_CHECKPOINT_META_TOTAL_STEPS, total);
  if (c->pipeline_text)
    m3ret_safetensors_writer_set_metadata (w, M3RET_CHECKPOINT_META_PIPELINE, c->pipeline_text);
  if (c->objective)
    m3ret_safetensors_writer_set_metadata (w, M3RET_CHECKPOINT_META_OBJECTIVE, c->objective);
  if (c->preset)
    m3ret_safetensors_writer_set_metadata (w, M3RET_CHECKPOINT_META_PRESET, c->preset);
  return m3ret_safetensors_writer_write (w, path, error);
}

/* Reads tensor @name of @file into @t after checking its shape. */
static gboolean
load_into (const M3retSafetensors *file, const gchar *path, const gchar *name, M3retTensor *t,
           GError **error)
{
  gint64 shape[M3RET_SAFETENSORS_MAX_DIMS];
  guint nd = 0;
  if (!m3ret_safetensors_get_shape (file, name, shape, &nd)) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: no tensor '%s' (was it written for another model or objective?)", path,
                 name);
    return FALSE;
  }
  gboolean same = nd == (guint) t->ndim;
  for (guint d = 0; same && d < nd; d++)
    same = shape[d] == t->shape[d];
  if (!same) {
    g_autofree gchar *want = m3ret_tensor_shape_string (t);
    GString *got = g_string_new (NULL);
    for (guint d = 0; d < nd; d++)
      g_string_append_printf (got, "%s%" G_GINT64_FORMAT, d ? "×" : "", shape[d]);
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: tensor '%s' is %s, the model expects %s (another preset or input grid?)",
                 path, name, got->str, want);
    g_string_free (got, TRUE);
    return FALSE;
  }
  g_autofree gfloat *data = m3ret_safetensors_read (file, name, t->numel, error);
  if (data == NULL)
    return FALSE;
  for (gsize i = 0; i < t->numel; i++) {
    if (!isfinite (data[i])) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "%s: tensor '%s' holds NaN or infinite values", path, name);
      return FALSE;
    }
  }
  m3ret_tensor_upload (t, data);
  return TRUE;
}

gboolean
m3ret_checkpoint_load_params (const M3retSafetensors *file, const gchar *path, M3retParams *params,
                              const gchar *prefix, GError **error)
{
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    g_autofree gchar *name = g_strconcat (prefix ? prefix : "", m3ret_params_get_name (params, i), NULL);
    if (!load_into (file, path, name, m3ret_params_get_tensor (params, i), error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
meta_int (const M3retSafetensors *file, const gchar *path, const gchar *key, gint64 *out,
          GError **error)
{
  const gchar *text = m3ret_safetensors_get_metadata (file, key);
  gchar *end = NULL;
  gint64 v = text ? g_ascii_strtoll (text, &end, 10) : -1;
  if (text == NULL || end == text || *end != '\0' || v < 0) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "%s: metadata %s is %s; not an m3ret training checkpoint", path, key,
                 text ? "not a step count" : "missing");
    return FALSE;
  }
  *out = v;
  return TRUE;
}

gboolean
m3ret_checkpoint_get_step (const M3retSafetensors *file, const gchar *path, gint64 *step,
                           GError **error)
{
  return meta_int (file, path, M3RET_CHECKPOINT_META_STEP, step, error);
}

gboolean
m3ret_checkpoint_load_optimizer (const M3retSafetensors *file, const gchar *path,
                                 M3retParams *params, M3retAdamW *optimizer, GError **error)
{
  gint64 t;
  if (!meta_int (file, path, "m3ret.adamw_step", &t, error))
    return FALSE;
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    M3retTensor *m = m3ret_adamw_get_m (optimizer, i);
    M3retTensor *v = m3ret_adamw_get_v (optimizer, i);
    if (m == NULL || v == NULL)
      continue;
    const gchar *name = m3ret_params_get_name (params, i);
    g_autofree gchar *mn = g_strconcat ("optim.m.", name, NULL);
    g_autofree gchar *vn = g_strconcat ("optim.v.", name, NULL);
    if (!load_into (file, path, mn, m, error) || !load_into (file, path, vn, v, error))
      return FALSE;
  }
  m3ret_adamw_set_step (optimizer, t);
  return TRUE;
}
