/* provenance.c — the identity of an encoder, as one line of text. */
#include "config.h"

#include <string.h>

#include "m3ret-provenance.h"

#define PREFIX "m3ret "

/* The fields in the order they are written and compared; "weights" first. */
static const gchar *const fields[] = { "weights", "preset", "size", "depth", "tubelet", "pool",
                                       NULL };

static void
hash_u64 (GChecksum *sum, guint64 v)
{
  guint8 le[8];
  for (gint i = 0; i < 8; i++)
    le[i] = (v >> (8 * i)) & 0xff;
  g_checksum_update (sum, le, sizeof le);
}

gchar *
m3ret_provenance_of_encoder (const M3retParams *params, const gchar *preset, guint size,
                             guint depth, const gint tubelet[3], const gchar *pool)
{
  g_return_val_if_fail (params != NULL && preset != NULL && pool != NULL, NULL);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  for (guint i = 0; i < m3ret_params_get_n (params); i++) {
    const gchar *name = m3ret_params_get_name (params, i);
    const M3retTensor *t = m3ret_params_get_tensor (params, i);
    hash_u64 (sum, strlen (name));
    g_checksum_update (sum, (const guchar *) name, strlen (name));
    hash_u64 (sum, (guint64) t->ndim);
    for (gint d = 0; d < t->ndim; d++)
      hash_u64 (sum, (guint64) t->shape[d]);
    g_autofree gfloat *host = m3ret_tensor_to_host (t);
#if G_BYTE_ORDER == G_BIG_ENDIAN
    for (gsize j = 0; j < t->numel; j++) {
      guint32 v;
      memcpy (&v, host + j, 4);
      v = GUINT32_SWAP_LE_BE (v);
      memcpy (host + j, &v, 4);
    }
#endif
    g_checksum_update (sum, (const guchar *) host, t->numel * sizeof (gfloat));
  }
  return g_strdup_printf (PREFIX "weights=sha256:%s preset=%s size=%u depth=%u tubelet=%d,%d,%d "
                          "pool=%s", g_checksum_get_string (sum), preset, size, depth, tubelet[0],
                          tubelet[1], tubelet[2], pool);
}

gboolean
m3ret_provenance_is_valid (const gchar *text)
{
  return text != NULL && g_str_has_prefix (text, PREFIX) && strstr (text, " weights=") != NULL;
}

/* (transfer full) field -> value of a provenance line. */
static GHashTable *
parse (const gchar *text)
{
  GHashTable *map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!m3ret_provenance_is_valid (text))
    return map;
  g_auto (GStrv) words = g_strsplit (text + strlen (PREFIX), " ", -1);
  for (gchar **w = words; *w; w++) {
    const gchar *eq = strchr (*w, '=');
    if (eq != NULL && eq > *w)
      g_hash_table_replace (map, g_strndup (*w, eq - *w), g_strdup (eq + 1));
  }
  return map;
}

static const gchar *
field (GHashTable *map, const gchar *name)
{
  const gchar *v = g_hash_table_lookup (map, name);
  return v ? v : "?";
}

gchar *
m3ret_provenance_describe (const gchar *text)
{
  g_autoptr (GHashTable) map = parse (text);
  if (g_hash_table_size (map) == 0)
    return g_strdup ("no recorded encoder");
  const gchar *weights = field (map, "weights");
  /* Twelve hex digits tell weights apart in a message; the file keeps all 64. */
  g_autofree gchar *short_weights = g_str_has_prefix (weights, "sha256:") && strlen (weights) > 19
                                      ? g_strndup (weights, 19)
                                      : g_strdup (weights);
  return g_strdup_printf ("weights %s, preset %s, grid %s/%s, tubelet %s, pool %s", short_weights,
                          field (map, "preset"), field (map, "size"), field (map, "depth"),
                          field (map, "tubelet"), field (map, "pool"));
}

gchar *
m3ret_provenance_difference (const gchar *a, const gchar *b)
{
  g_autoptr (GHashTable) ma = parse (a);
  g_autoptr (GHashTable) mb = parse (b);
  g_autoptr (GString) out = g_string_new (NULL);
  for (const gchar *const *f = fields; *f; f++) {
    const gchar *va = field (ma, *f), *vb = field (mb, *f);
    if (strcmp (va, vb) == 0)
      continue;
    if (out->len > 0)
      g_string_append (out, "; ");
    if (strcmp (*f, "weights") == 0)
      g_string_append (out, "the weights differ");
    else
      g_string_append_printf (out, "%s %s against %s", *f, va, vb);
  }
  return out->len > 0 ? g_string_free (g_steal_pointer (&out), FALSE) : NULL;
}
