/* safetensors.c — the .safetensors container, read strictly, written atomically. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-safetensors.h"

/* ---- writing ---- */

typedef struct {
  gchar *name;
  gint64 shape[M3RET_SAFETENSORS_MAX_DIMS];
  guint n_dims;
  gsize n;
  gfloat *data;
} Entry;

struct _M3retSafetensorsWriter {
  GPtrArray *entries;    /* Entry* */
  GHashTable *metadata;  /* gchar* → gchar* */
};

static void
entry_free (Entry *e)
{
  g_free (e->name);
  g_free (e->data);
  g_free (e);
}

M3retSafetensorsWriter *
m3ret_safetensors_writer_new (void)
{
  M3retSafetensorsWriter *w = g_new0 (M3retSafetensorsWriter, 1);
  w->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  w->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return w;
}

void
m3ret_safetensors_writer_free (M3retSafetensorsWriter *w)
{
  if (w == NULL)
    return;
  g_ptr_array_unref (w->entries);
  g_hash_table_unref (w->metadata);
  g_free (w);
}

void
m3ret_safetensors_writer_add (M3retSafetensorsWriter *w, const gchar *name, const gint64 *shape,
                              guint n_dims, const gfloat *data)
{
  g_return_if_fail (w != NULL && name != NULL && n_dims <= M3RET_SAFETENSORS_MAX_DIMS);
  Entry *e = g_new0 (Entry, 1);
  e->name = g_strdup (name);
  e->n_dims = n_dims;
  e->n = 1;
  for (guint i = 0; i < n_dims; i++) {
    e->shape[i] = shape[i];
    e->n *= (gsize) shape[i];
  }
  e->data = g_memdup2 (data, e->n * sizeof (gfloat));
  g_ptr_array_add (w->entries, e);
}

void
m3ret_safetensors_writer_set_metadata (M3retSafetensorsWriter *w, const gchar *key,
                                       const gchar *value)
{
  g_return_if_fail (w != NULL && key != NULL && value != NULL);
  g_hash_table_replace (w->metadata, g_strdup (key), g_strdup (value));
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(Entry *const *) a)->name, (*(Entry *const *) b)->name);
}

static gchar *
build_header (M3retSafetensorsWriter *w)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  if (g_hash_table_size (w->metadata) > 0) {
    json_builder_set_member_name (b, "__metadata__");
    json_builder_begin_object (b);
    g_autoptr (GList) keys = g_hash_table_get_keys (w->metadata);
    keys = g_list_sort (keys, (GCompareFunc) strcmp);
    for (GList *k = keys; k; k = k->next) {
      json_builder_set_member_name (b, k->data);
      json_builder_add_string_value (b, g_hash_table_lookup (w->metadata, k->data));
    }
    json_builder_end_object (b);
  }
  guint64 offset = 0;
  for (guint i = 0; i < w->entries->len; i++) {
    Entry *e = w->entries->pdata[i];
    json_builder_set_member_name (b, e->name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, "F32");
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (guint d = 0; d < e->n_dims; d++)
      json_builder_add_int_value (b, e->shape[d]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "data_offsets");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, (gint64) offset);
    offset += e->n * sizeof (gfloat);
    json_builder_add_int_value (b, (gint64) offset);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

gboolean
m3ret_safetensors_writer_write (M3retSafetensorsWriter *w, const gchar *path, GError **error)
{
  g_return_val_if_fail (w != NULL && path != NULL, FALSE);
  g_ptr_array_sort (w->entries, compare_entries);
  for (guint i = 1; i < w->entries->len; i++) {
    if (compare_entries (&w->entries->pdata[i - 1], &w->entries->pdata[i]) == 0) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "%s: tensor '%s' added twice", path, ((Entry *) w->entries->pdata[i])->name);
      return FALSE;
    }
  }
  g_autofree gchar *header = build_header (w);
  /* Pad with spaces so the data starts 8-byte aligned, as the reference does. */
  gsize len = strlen (header);
  gsize padded = (len + 7) & ~(gsize) 7;
  g_autofree gchar *hdr = g_malloc (padded);
  memcpy (hdr, header, len);
  memset (hdr + len, ' ', padded - len);
  guint64 le = GUINT64_TO_LE ((guint64) padded);

  M3retAtomicFile *file = m3ret_atomic_file_new (path, error);
  if (file == NULL)
    return FALSE;
  gboolean ok = m3ret_atomic_file_write (file, &le, 8, error) &&
                m3ret_atomic_file_write (file, hdr, padded, error);
  for (guint i = 0; ok && i < w->entries->len; i++) {
    Entry *e = w->entries->pdata[i];
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "safetensors data is little-endian; add a byte swap for this host"
#endif
    ok = m3ret_atomic_file_write (file, e->data, e->n * sizeof (gfloat), error);
  }
  if (!ok) {
    m3ret_atomic_file_abort (file);
    return FALSE;
  }
  return m3ret_atomic_file_commit (file, error);
}

/* ---- reading ---- */

typedef enum { DT_F32, DT_F16, DT_BF16 } Dtype;

typedef struct {
  gchar *name;
  Dtype dtype;
  gint64 shape[M3RET_SAFETENSORS_MAX_DIMS];
  guint n_dims;
  gsize n;
  guint64 begin, end;
} Info;

struct _M3retSafetensors {
  gchar *path;
  GMappedFile *map;
  const guint8 *data; /* start of the data section */
  gsize data_len;
  GPtrArray *names;       /* gchar*, borrowed from infos */
  GHashTable *infos;      /* name → Info* */
  GHashTable *metadata;   /* gchar* → gchar* */
};

static void
info_free (Info *info)
{
  g_free (info->name);
  g_free (info);
}

void
m3ret_safetensors_close (M3retSafetensors *f)
{
  if (f == NULL)
    return;
  g_clear_pointer (&f->map, g_mapped_file_unref);
  g_clear_pointer (&f->names, g_ptr_array_unref);
  g_clear_pointer (&f->infos, g_hash_table_unref);
  g_clear_pointer (&f->metadata, g_hash_table_unref);
  g_free (f->path);
  g_free (f);
}

static gboolean
fail (GError **error, gint code, const gchar *path, const gchar *format, ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail (GError **error, gint code, const gchar *path, const gchar *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree gchar *msg = g_strdup_vprintf (format, args);
  va_end (args);
  /* Names and json-glib's messages quote the header, which may hold any
   * control character: the error stays one line. */
  for (gchar *c = msg; *c; c++)
    if ((guchar) *c < 0x20 || *c == 0x7f)
      *c = ' ';
  g_set_error (error, M3RET_FORMAT_ERROR, code, "%s: not a valid safetensors file: %s", path, msg);
  return FALSE;
}

static gint
compare_info_offsets (gconstpointer a, gconstpointer b)
{
  const Info *x = *(const Info *const *) a, *y = *(const Info *const *) b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static gboolean
parse_tensor (M3retSafetensors *f, const gchar *name, JsonNode *node, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path, "entry '%s' is not an object", name);
  JsonObject *o = json_node_get_object (node);
  JsonNode *dtype = json_object_get_member (o, "dtype");
  JsonNode *shape = json_object_get_member (o, "shape");
  JsonNode *offsets = json_object_get_member (o, "data_offsets");
  if (!dtype || !shape || !offsets || json_node_get_value_type (dtype) != G_TYPE_STRING ||
      !JSON_NODE_HOLDS_ARRAY (shape) || !JSON_NODE_HOLDS_ARRAY (offsets))
    return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path,
                 "entry '%s' lacks dtype, shape or data_offsets", name);
  Info *info = g_new0 (Info, 1);
  info->name = g_strdup (name);
  g_hash_table_insert (f->infos, info->name, info);
  g_ptr_array_add (f->names, info->name);
  const gchar *dt = json_node_get_string (dtype);
  gsize elem;
  if (strcmp (dt, "F32") == 0)
    info->dtype = DT_F32, elem = 4;
  else if (strcmp (dt, "F16") == 0)
    info->dtype = DT_F16, elem = 2;
  else if (strcmp (dt, "BF16") == 0)
    info->dtype = DT_BF16, elem = 2;
  else
    return fail (error, M3RET_FORMAT_ERROR_UNSUPPORTED, f->path,
                 "tensor '%s' has dtype %s; F32, F16 and BF16 are read", name, dt);
  JsonArray *sa = json_node_get_array (shape);
  info->n_dims = json_array_get_length (sa);
  if (info->n_dims > M3RET_SAFETENSORS_MAX_DIMS)
    return fail (error, M3RET_FORMAT_ERROR_UNSUPPORTED, f->path, "tensor '%s' has %u dimensions",
                 name, info->n_dims);
  info->n = 1;
  for (guint d = 0; d < info->n_dims; d++) {
    JsonNode *dim = json_array_get_element (sa, d);
    if (json_node_get_value_type (dim) != G_TYPE_INT64 || json_node_get_int (dim) < 0 ||
        json_node_get_int (dim) > G_MAXINT32)
      return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path, "tensor '%s' has a bad shape", name);
    info->shape[d] = json_node_get_int (dim);
    if (!g_size_checked_mul (&info->n, info->n, (gsize) info->shape[d]))
      return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path, "tensor '%s' is too large", name);
  }
  JsonArray *oa = json_node_get_array (offsets);
  if (json_array_get_length (oa) != 2 ||
      json_node_get_value_type (json_array_get_element (oa, 0)) != G_TYPE_INT64 ||
      json_node_get_value_type (json_array_get_element (oa, 1)) != G_TYPE_INT64)
    return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path, "tensor '%s' has bad data_offsets", name);
  gint64 begin = json_array_get_int_element (oa, 0), end = json_array_get_int_element (oa, 1);
  gsize bytes;
  if (begin < 0 || end < begin || (guint64) end > f->data_len ||
      !g_size_checked_mul (&bytes, info->n, elem) || (guint64) (end - begin) != bytes)
    return fail (error, M3RET_FORMAT_ERROR_TRUNCATED, f->path,
                 "tensor '%s': offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                 ") do not hold %zu values of %s within %zu data bytes", name, begin, end, info->n,
                 dt, f->data_len);
  info->begin = begin;
  info->end = end;
  return TRUE;
}

static gboolean
parse_header (M3retSafetensors *f, const gchar *json, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *local = NULL;
  if (!json_parser_load_from_data (parser, json, len, &local)) {
    fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path, "header is not JSON (%s)", local->message);
    g_error_free (local);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path, "header is not a JSON object");
  JsonObject *obj = json_node_get_object (root);
  g_autoptr (GList) members = json_object_get_members (obj);
  for (GList *m = members; m; m = m->next) {
    const gchar *name = m->data;
    JsonNode *node = json_object_get_member (obj, name);
    if (strcmp (name, "__metadata__") == 0) {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path, "__metadata__ is not an object");
      JsonObject *meta = json_node_get_object (node);
      g_autoptr (GList) keys = json_object_get_members (meta);
      for (GList *k = keys; k; k = k->next) {
        JsonNode *v = json_object_get_member (meta, k->data);
        if (json_node_get_value_type (v) != G_TYPE_STRING)
          return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path,
                       "__metadata__ value of '%s' is not a string", (gchar *) k->data);
        g_hash_table_replace (f->metadata, g_strdup (k->data), g_strdup (json_node_get_string (v)));
      }
      continue;
    }
    if (!parse_tensor (f, name, node, error))
      return FALSE;
  }
  /* Tensors must not overlap (the reference also requires them to tile the data). */
  g_autoptr (GPtrArray) by_offset = g_ptr_array_new ();
  for (guint i = 0; i < f->names->len; i++)
    g_ptr_array_add (by_offset, g_hash_table_lookup (f->infos, f->names->pdata[i]));
  g_ptr_array_sort (by_offset, compare_info_offsets);
  guint64 expected = 0;
  for (guint i = 0; i < by_offset->len; i++) {
    const Info *info = by_offset->pdata[i];
    if (info->begin != expected)
      return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path,
                   "tensor '%s' starts at %" G_GUINT64_FORMAT ", expected %" G_GUINT64_FORMAT,
                   info->name, info->begin, expected);
    expected = info->end;
  }
  if (expected != f->data_len)
    return fail (error, M3RET_FORMAT_ERROR_CORRUPT, f->path,
                 "%zu data bytes, tensors account for %" G_GUINT64_FORMAT, f->data_len, expected);
  return TRUE;
}

M3retSafetensors *
m3ret_safetensors_open (const gchar *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  M3retSafetensors *f = g_new0 (M3retSafetensors, 1);
  f->path = g_strdup (path);
  f->names = g_ptr_array_new ();
  f->infos = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) info_free);
  f->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  f->map = m3ret_file_map (path, error);
  if (f->map == NULL)
    goto error;
  const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (f->map);
  gsize size = g_mapped_file_get_length (f->map);
  if (size < 8) {
    fail (error, M3RET_FORMAT_ERROR_TRUNCATED, path, "%zu bytes, shorter than the length field", size);
    goto error;
  }
  guint64 hlen;
  memcpy (&hlen, bytes, 8);
  hlen = GUINT64_FROM_LE (hlen);
  /* The reference caps headers at 100 MB. */
  if (hlen < 2 || hlen > 100000000 || hlen > size - 8) {
    fail (error, hlen > size - 8 ? M3RET_FORMAT_ERROR_TRUNCATED : M3RET_FORMAT_ERROR_CORRUPT, path,
          "header length %" G_GUINT64_FORMAT " does not fit a %zu-byte file", hlen, size);
    goto error;
  }
  if (bytes[8] != '{') {
    fail (error, M3RET_FORMAT_ERROR_FOREIGN, path, "header does not start with '{'");
    goto error;
  }
  f->data = bytes + 8 + hlen;
  f->data_len = size - 8 - hlen;
  if (!parse_header (f, (const gchar *) bytes + 8, hlen, error))
    goto error;
  return f;
error:
  m3ret_safetensors_close (f);
  return NULL;
}

const GPtrArray *
m3ret_safetensors_names (const M3retSafetensors *f)
{
  g_return_val_if_fail (f != NULL, NULL);
  return f->names;
}

const gchar *
m3ret_safetensors_get_metadata (const M3retSafetensors *f, const gchar *key)
{
  g_return_val_if_fail (f != NULL && key != NULL, NULL);
  return g_hash_table_lookup (f->metadata, key);
}

gboolean
m3ret_safetensors_get_shape (const M3retSafetensors *f, const gchar *name, gint64 *shape,
                             guint *n_dims)
{
  g_return_val_if_fail (f != NULL && name != NULL, FALSE);
  const Info *info = g_hash_table_lookup (f->infos, name);
  if (info == NULL)
    return FALSE;
  if (shape)
    memcpy (shape, info->shape, info->n_dims * sizeof (gint64));
  if (n_dims)
    *n_dims = info->n_dims;
  return TRUE;
}

static gfloat
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else { /* subnormal: normalise */
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (man << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  gfloat out;
  memcpy (&out, &bits, 4);
  return out;
}

gfloat *
m3ret_safetensors_read (const M3retSafetensors *f, const gchar *name, gsize n_expected,
                        GError **error)
{
  g_return_val_if_fail (f != NULL && name != NULL, NULL);
  const Info *info = g_hash_table_lookup (f->infos, name);
  if (info == NULL) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH, "%s: no tensor '%s'",
                 f->path, name);
    return NULL;
  }
  if (n_expected != 0 && info->n != n_expected) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: tensor '%s' has %zu values, expected %zu", f->path, name, info->n, n_expected);
    return NULL;
  }
  gfloat *out = g_new (gfloat, MAX (info->n, 1));
  const guint8 *src = f->data + info->begin;
  if (info->dtype == DT_F32) {
    memcpy (out, src, info->n * 4);
  } else {
    for (gsize i = 0; i < info->n; i++) {
      guint16 h;
      memcpy (&h, src + 2 * i, 2);
      h = GUINT16_FROM_LE (h);
      if (info->dtype == DT_F16) {
        out[i] = half_to_float (h);
      } else {
        guint32 bits = (guint32) h << 16;
        memcpy (&out[i], &bits, 4);
      }
    }
  }
  return out;
}
