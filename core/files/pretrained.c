/* pretrained.c — ViT weights of timm / MAE / DINO checkpoints into the encoder. */
#include "config.h"

#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-pretrained.h"
#include "m3ret-safetensors.h"

/* Prefixes released checkpoints put before the encoder's names. */
static const gchar *const prefixes[] = { "", "module.", "backbone.", "encoder.", "model.", NULL };

static gchar *
shape_text (const gint64 *shape, guint n)
{
  GString *s = g_string_new (NULL);
  for (guint d = 0; d < n; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? "×" : "", shape[d]);
  return g_string_free (s, FALSE);
}

static gboolean
load_one (const M3retSafetensors *file, const gchar *path, const gchar *name, M3retTensor *t,
          GError **error)
{
  const gchar *found = NULL;
  gint64 shape[M3RET_SAFETENSORS_MAX_DIMS];
  guint nd = 0;
  g_autofree gchar *key = NULL;
  for (const gchar *const *p = prefixes; *p && found == NULL; p++) {
    g_free (key);
    key = g_strconcat (*p, name, NULL);
    if (m3ret_safetensors_get_shape (file, key, shape, &nd))
      found = key;
  }
  if (found == NULL) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: no tensor '%s' (nor with a module./backbone./encoder./model. prefix): not the "
                 "weights of a ViT of this preset", path, name);
    return FALSE;
  }
  gboolean same = nd == (guint) t->ndim;
  for (guint d = 0; same && d < nd; d++)
    same = shape[d] == t->shape[d];
  /* A 2-D patch embedding D×C×ph×pw for our D×C×pt×ph×pw. */
  gboolean inflate = !same && nd == 4 && t->ndim == 5 && shape[0] == t->shape[0] &&
                     shape[1] == t->shape[1] && shape[2] == t->shape[3] && shape[3] == t->shape[4];
  if (!same && !inflate) {
    g_autofree gchar *got = shape_text (shape, nd);
    g_autofree gchar *want = shape_text (t->shape, (guint) t->ndim);
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: tensor '%s' is %s, the encoder expects %s (another preset, patch size or "
                 "tubelet?)", path, found, got, want);
    return FALSE;
  }
  gsize n = 1;
  for (guint d = 0; d < nd; d++)
    n *= (gsize) shape[d];
  g_autofree gfloat *data = m3ret_safetensors_read (file, found, n, error);
  if (data == NULL)
    return FALSE;
  if (!inflate) {
    m3ret_tensor_upload (t, data);
    return TRUE;
  }
  gint64 pt = t->shape[2];
  gsize plane = (gsize) (shape[2] * shape[3]);
  gsize dc = (gsize) (shape[0] * shape[1]);
  g_autofree gfloat *out = g_new (gfloat, t->numel);
  for (gsize i = 0; i < dc; i++)
    for (gint64 z = 0; z < pt; z++)
      for (gsize j = 0; j < plane; j++)
        out[(i * pt + z) * plane + j] = data[i * plane + j] / (gfloat) pt;
  m3ret_tensor_upload (t, out);
  return TRUE;
}

gboolean
m3ret_pretrained_load (M3retParams *params, const gchar *path, guint *n_loaded, GError **error)
{
  g_return_val_if_fail (params != NULL && path != NULL, FALSE);
  g_autoptr (M3retSafetensors) file = m3ret_safetensors_open (path, error);
  if (file == NULL)
    return FALSE;
  guint n = 0;
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    const gchar *name = m3ret_params_get_name (params, i);
    if (strcmp (name, "pos_embed") == 0)
      continue; /* ours is the fixed 3-D table */
    if (!load_one (file, path, name, m3ret_params_get_tensor (params, i), error))
      return FALSE;
    n++;
  }
  if (n_loaded)
    *n_loaded = n;
  return TRUE;
}
