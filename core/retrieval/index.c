/* index.c — M3retIndex: drives a retriever plugin and owns its file container. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "config-private.h"
#include "m3ret-fileio.h"
#include "m3ret-index.h"
#include "m3ret-plugin.h"

#define HEADER_SIZE 64
#define TRAILER_SIZE 24
#define NAME_SIZE 32
#define M3RET_INDEX_MAX_DIM 65536

static const gchar file_magic[8] = { 'M', '3', 'R', 'E', 'T', 'I', 'D', 'X' };
static const gchar end_magic[4] = { 'M', '3', 'I', 'X' };

struct _M3retIndex {
  const M3retRetrieverVTable *vt;
  gchar *plugin_name;
  M3retConfig *config; /* what it was built or loaded with; recorded in the file */
  gpointer handle;
  guint dim;
  M3retItems *items;
  gchar *provenance;
  M3retTransform *transform; /* NULL: rows go to the retriever as they are */
};

struct _M3retIndexWriter {
  M3retAtomicFile *file;
  guint32 crc;
};

gboolean
m3ret_index_writer_write (M3retIndexWriter *writer, gconstpointer data, gsize len, GError **error)
{
  g_return_val_if_fail (writer != NULL && (data != NULL || len == 0), FALSE);
  writer->crc = m3ret_crc32_update (writer->crc, data, len);
  return m3ret_atomic_file_write (writer->file, data, len, error);
}

static const M3retRetrieverVTable *
retriever_vtable (const M3retPlugin *plugin, GError **error)
{
  const M3retPluginDesc *desc = m3ret_plugin_get_desc (plugin);
  if (desc->kind != M3RET_PLUGIN_RETRIEVER) {
    g_set_error (error, M3RET_PLUGIN_ERROR, M3RET_PLUGIN_ERROR_NOT_FOUND,
                 "plugin '%s' is a %s, not a retriever", desc->name,
                 m3ret_plugin_kind_to_string (desc->kind));
    return NULL;
  }
  return m3ret_plugin_get_vtable (plugin);
}

static M3retIndex *
index_wrap (const M3retRetrieverVTable *vt, const gchar *name, const M3retConfig *config,
            gpointer handle, guint dim)
{
  M3retIndex *index = g_new0 (M3retIndex, 1);
  index->vt = vt;
  index->plugin_name = g_strdup (name);
  index->config = m3ret_config_ref ((M3retConfig *) config);
  index->handle = handle;
  index->dim = dim;
  return index;
}

M3retIndex *
m3ret_index_new (const M3retPlugin *plugin, const M3retConfig *config, guint dim, guint n_threads,
                 GError **error)
{
  g_return_val_if_fail (dim > 0, NULL);
  return m3ret_index_new_transformed (plugin, config, dim, NULL, n_threads, error);
}

M3retIndex *
m3ret_index_new_transformed (const M3retPlugin *plugin, const M3retConfig *config, guint dim,
                             M3retTransform *transform, guint n_threads, GError **error)
{
  g_autoptr (M3retTransform) owned = transform;
  g_return_val_if_fail (plugin != NULL && config != NULL && dim > 0, NULL);
  g_return_val_if_fail (transform == NULL || transform->in_dim == dim, NULL);
  const M3retRetrieverVTable *vt = retriever_vtable (plugin, error);
  if (vt == NULL)
    return NULL;
  if (owned != NULL && owned->kind == M3RET_TRANSFORM_NONE)
    g_clear_pointer (&owned, m3ret_transform_free);
  guint inner = owned != NULL ? owned->out_dim : dim;
  gpointer handle = vt->create (config, inner, MAX (n_threads, 1), error);
  if (handle == NULL)
    return NULL;
  M3retIndex *index = index_wrap (vt, m3ret_plugin_get_desc (plugin)->name, config, handle, dim);
  index->transform = g_steal_pointer (&owned);
  return index;
}

const M3retTransform *
m3ret_index_get_transform (const M3retIndex *index)
{
  g_return_val_if_fail (index != NULL, NULL);
  return index->transform;
}

/* (transfer full) @n rows through the index's transform, or NULL (no
 * transform: use them as they are; or an error, with @error set) */
static gfloat *
transform_rows (const M3retIndex *index, const gfloat *rows, gsize n, const gchar *what,
                gboolean *ok, GError **error)
{
  *ok = TRUE;
  if (index->transform == NULL || n == 0)
    return NULL;
  gfloat *out = g_new (gfloat, n * index->transform->out_dim);
  if (!m3ret_transform_apply (index->transform, rows, n, out, what, error)) {
    g_free (out);
    *ok = FALSE;
    return NULL;
  }
  return out;
}

void
m3ret_index_free (M3retIndex *index)
{
  if (index == NULL)
    return;
  index->vt->destroy (index->handle);
  m3ret_items_free (index->items);
  m3ret_transform_free (index->transform);
  m3ret_config_unref (index->config);
  g_free (index->plugin_name);
  g_free (index->provenance);
  g_free (index);
}

gsize
m3ret_index_count (const M3retIndex *index)
{
  g_return_val_if_fail (index != NULL, 0);
  return index->vt->count (index->handle);
}

guint
m3ret_index_dim (const M3retIndex *index)
{
  g_return_val_if_fail (index != NULL, 0);
  return index->dim;
}

const gchar *
m3ret_index_plugin_name (const M3retIndex *index)
{
  g_return_val_if_fail (index != NULL, NULL);
  return index->plugin_name;
}

void
m3ret_index_set_items (M3retIndex *index, M3retItems *items)
{
  g_return_if_fail (index != NULL);
  m3ret_items_free (index->items);
  index->items = items;
}

const M3retItems *
m3ret_index_get_items (const M3retIndex *index)
{
  g_return_val_if_fail (index != NULL, NULL);
  return index->items;
}

void
m3ret_index_set_provenance (M3retIndex *index, const gchar *provenance)
{
  g_return_if_fail (index != NULL);
  g_return_if_fail (provenance == NULL || strchr (provenance, '\n') == NULL);
  g_free (index->provenance);
  index->provenance = g_strdup (provenance);
}

const gchar *
m3ret_index_get_provenance (const M3retIndex *index)
{
  g_return_val_if_fail (index != NULL, NULL);
  return index->provenance;
}

/* Plugins may assume unit rows; a wrong row would silently break cosine. */
static gboolean
check_rows (const gfloat *rows, gsize n, guint dim, const gchar *what, GError **error)
{
  for (gsize i = 0; i < n; i++) {
    const gfloat *r = rows + i * dim;
    gdouble ss = 0;
    for (guint j = 0; j < dim; j++)
      ss += (gdouble) r[j] * r[j];
    if (!isfinite (ss) || fabs (ss - 1.0) > 1e-3) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "%s row %zu is not a finite unit vector (squared norm %g)", what, i, ss);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
m3ret_index_add (M3retIndex *index, const gfloat *vectors, gsize n, GError **error)
{
  g_return_val_if_fail (index != NULL && (vectors != NULL || n == 0), FALSE);
  if (!check_rows (vectors, n, index->dim, "database", error))
    return FALSE;
  gboolean ok;
  g_autofree gfloat *moved = transform_rows (index, vectors, n, "database", &ok, error);
  if (!ok)
    return FALSE;
  return n == 0 || index->vt->add (index->handle, moved ? moved : vectors, n, error);
}

gboolean
m3ret_index_search (M3retIndex *index, const gfloat *queries, gsize n_queries, guint k,
                    const gint64 *exclude, gint64 *ids, gfloat *scores, GError **error)
{
  g_autofree M3retExclusions *ex = exclude ? m3ret_exclusions_new_one_each (exclude, n_queries)
                                           : NULL;
  return m3ret_index_search_excluding (index, queries, n_queries, k, ex, ids, scores, error);
}

M3retExclusions *
m3ret_exclusions_new_one_each (const gint64 *self, gsize n_queries)
{
  /* The struct, then n+1 offsets, then up to n ids: one g_free() frees all. */
  gsize head = sizeof (M3retExclusions), offs = (n_queries + 1) * sizeof (gsize);
  guint8 *block = g_malloc (head + offs + MAX (n_queries, 1) * sizeof (gint64));
  M3retExclusions *ex = (M3retExclusions *) block;
  gsize *offsets = (gsize *) (block + head);
  gint64 *ids = (gint64 *) (block + head + offs);
  gsize n = 0;
  for (gsize q = 0; q < n_queries; q++) {
    offsets[q] = n;
    if (self[q] >= 0)
      ids[n++] = self[q];
  }
  offsets[n_queries] = n;
  ex->offsets = offsets;
  ex->ids = ids;
  return ex;
}

static gboolean
is_excluded (const M3retExclusions *ex, gsize q, gint64 id)
{
  for (gsize i = ex->offsets[q]; i < ex->offsets[q + 1]; i++)
    if (ex->ids[i] == id)
      return TRUE;
  return FALSE;
}

gboolean
m3ret_index_search_excluding (M3retIndex *index, const gfloat *queries, gsize n_queries, guint k,
                              const M3retExclusions *exclude, gint64 *ids, gfloat *scores,
                              GError **error)
{
  g_return_val_if_fail (index != NULL && (queries != NULL || n_queries == 0), FALSE);
  g_return_val_if_fail (k > 0 && k < G_MAXUINT && ids != NULL && scores != NULL, FALSE);
  if (!check_rows (queries, n_queries, index->dim, "query", error))
    return FALSE;
  if (n_queries == 0)
    return TRUE;
  gboolean ok;
  g_autofree gfloat *moved = transform_rows (index, queries, n_queries, "query", &ok, error);
  if (!ok)
    return FALSE;
  if (moved != NULL)
    queries = moved;
  gsize most = 0;
  for (gsize q = 0; exclude != NULL && q < n_queries; q++)
    most = MAX (most, exclude->offsets[q + 1] - exclude->offsets[q]);
  if (most == 0)
    return index->vt->search (index->handle, queries, n_queries, k, ids, scores, error);
  /* Extra candidates replace the query's own rows when those come back. */
  if (most >= G_MAXUINT - k) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "a query is listed %zu times in the database", most);
    return FALSE;
  }
  guint k1 = k + (guint) most;
  g_autofree gint64 *all_ids = g_new (gint64, n_queries * k1);
  g_autofree gfloat *all_scores = g_new (gfloat, n_queries * k1);
  if (!index->vt->search (index->handle, queries, n_queries, k1, all_ids, all_scores, error))
    return FALSE;
  for (gsize q = 0; q < n_queries; q++) {
    guint out = 0;
    for (guint j = 0; j < k1 && out < k; j++) {
      gint64 id = all_ids[q * k1 + j];
      if (id >= 0 && is_excluded (exclude, q, id))
        continue;
      ids[q * k + out] = id;
      scores[q * k + out] = all_scores[q * k1 + j];
      out++;
    }
    for (; out < k; out++) {
      ids[q * k + out] = -1;
      scores[q * k + out] = -INFINITY;
    }
  }
  return TRUE;
}

static void
put_u32 (guint8 *p, guint32 v)
{
  for (gint i = 0; i < 4; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static void
put_u64 (guint8 *p, guint64 v)
{
  for (gint i = 0; i < 8; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

static guint32
get_u32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static guint64
get_u64 (const guint8 *p)
{
  return (guint64) get_u32 (p) | (guint64) get_u32 (p + 4) << 32;
}

/* The meta section: "provenance=LINE" and one "retriever.KEY=VALUE" per key
 * of the retriever's config, a line each. */
static gchar *
meta_text (const M3retIndex *index)
{
  GString *meta = g_string_new (NULL);
  if (index->provenance != NULL)
    g_string_append_printf (meta, "provenance=%s\n", index->provenance);
  if (index->transform != NULL) {
    g_autofree gchar *t = m3ret_transform_to_text (index->transform);
    g_string_append_printf (meta, "transform=%s\n", t);
  }
  g_auto (GStrv) settings = m3ret_config_dump (index->config);
  for (gchar **kv = settings; *kv != NULL; kv++) {
    /* The core's [retriever] keys are not the plugin's: "plugin" is the
     * header's name, the whiten keys became the transform line.  Values
     * never hold a newline (GKeyFile). */
    if (g_str_has_prefix (*kv, "plugin=") || g_str_has_prefix (*kv, "whiten=") ||
        g_str_has_prefix (*kv, "whiten_dim=") || strchr (*kv, '\n') != NULL)
      continue;
    g_string_append_printf (meta, "retriever.%s\n", *kv);
  }
  return g_string_free (meta, FALSE);
}

gboolean
m3ret_index_save (M3retIndex *index, const gchar *path, GError **error)
{
  g_return_val_if_fail (index != NULL && path != NULL, FALSE);
  gsize count = m3ret_index_count (index);
  if (index->items != NULL && index->items->n != count) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: the index holds %zu vectors but %zu items", path, count, index->items->n);
    return FALSE;
  }
  for (gsize i = 0; index->items != NULL && i < index->items->n; i++)
    if (*index->items->paths[i] == '\0') {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "%s: item %zu has no path; every indexed row needs one", path, i);
      return FALSE;
    }
  gsize items_len = 0;
  g_autofree gchar *items_csv = index->items ? m3ret_items_to_csv (index->items, &items_len) : NULL;
  g_autofree gchar *meta = meta_text (index);
  gsize meta_len = strlen (meta);
  M3retIndexWriter writer = { m3ret_atomic_file_new (path, error), 0 };
  if (writer.file == NULL)
    return FALSE;
  guint8 header[HEADER_SIZE] = { 0 };
  memcpy (header, file_magic, sizeof file_magic);
  put_u32 (header + 8, M3RET_INDEX_FILE_VERSION);
  put_u32 (header + 12, index->dim);
  put_u64 (header + 16, count);
  strncpy ((gchar *) header + 24, index->plugin_name, NAME_SIZE - 1);
  put_u64 (header + 56, meta_len);
  gboolean ok = m3ret_index_writer_write (&writer, header, sizeof header, error) &&
                m3ret_index_writer_write (&writer, meta, meta_len, error) &&
                m3ret_index_writer_write (&writer, items_csv, items_len, error);
  guint64 payload_start = m3ret_atomic_file_tell (writer.file);
  ok = ok && index->vt->save (index->handle, &writer, error);
  if (ok) {
    guint8 trailer[TRAILER_SIZE];
    put_u64 (trailer, items_len);
    put_u64 (trailer + 8, m3ret_atomic_file_tell (writer.file) - payload_start);
    writer.crc = m3ret_crc32_update (writer.crc, trailer, 16);
    put_u32 (trailer + 16, writer.crc);
    memcpy (trailer + 20, end_magic, 4);
    ok = m3ret_atomic_file_write (writer.file, trailer, sizeof trailer, error);
  }
  if (!ok) {
    m3ret_atomic_file_abort (writer.file);
    return FALSE;
  }
  return m3ret_atomic_file_commit (writer.file, error);
}

/* Returns: (transfer full) the value of @key in the meta section, or NULL. */
static gchar *
meta_value (const gchar *meta, gsize len, const gchar *key)
{
  gsize key_len = strlen (key);
  for (const gchar *line = meta, *end = meta + len; line < end;) {
    const gchar *nl = memchr (line, '\n', end - line);
    const gchar *stop = nl ? nl : end;
    if ((gsize) (stop - line) > key_len && memcmp (line, key, key_len) == 0 && line[key_len] == '=')
      return g_strndup (line + key_len + 1, stop - line - key_len - 1);
    line = stop + 1;
  }
  return NULL;
}

/* Where the sections of a container sit, once its header and trailer check. */
typedef struct {
  guint32 version;
  guint64 meta_len, items_len, payload_len;
  guint dim;
  guint64 count;
  gchar name[NAME_SIZE + 1];
} Container;

/* Checks the header, trailer, lengths, checksum, retriever name and shape
 * of an index file before anything is decoded or allocated for it. */
static gboolean
container_check (const guint8 *bytes, gsize len, const gchar *path, const M3retPlugin *plugin,
                 Container *c, GError **error)
{
  if (memcmp (bytes, file_magic, MIN (len, sizeof file_magic)) != 0)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_FOREIGN, path, "not an m3ret index file");
  if (len < HEADER_SIZE + TRAILER_SIZE)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_TRUNCATED, path,
                              "truncated: %zu bytes, smaller than any index file", len);
  c->version = get_u32 (bytes + 8);
  if (c->version < M3RET_INDEX_FILE_VERSION_OLDEST || c->version > M3RET_INDEX_FILE_VERSION)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_VERSION, path,
                              "index file version %u; this m3ret reads versions %d to %d",
                              c->version, M3RET_INDEX_FILE_VERSION_OLDEST,
                              M3RET_INDEX_FILE_VERSION);
  const guint8 *trailer = bytes + len - TRAILER_SIZE;
  if (memcmp (trailer + 20, end_magic, 4) != 0)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_TRUNCATED, path,
                              "the end marker is missing: the file is truncated or was not fully "
                              "written");
  /* Version 1 had no meta section: its bytes 56..63 were reserved zeros. */
  c->meta_len = c->version >= 2 ? get_u64 (bytes + 56) : 0;
  c->items_len = get_u64 (trailer);
  c->payload_len = get_u64 (trailer + 8);
  guint64 body = len - HEADER_SIZE - TRAILER_SIZE;
  if (c->meta_len > body || c->items_len > body - c->meta_len
      || c->payload_len != body - c->meta_len - c->items_len)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, path,
                              "section lengths (%" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT " + %"
                              G_GUINT64_FORMAT ") do not match the file size", c->meta_len,
                              c->items_len, c->payload_len);
  guint32 stored = get_u32 (trailer + 16);
  guint32 computed = m3ret_crc32_update (0, bytes, len - 8);
  if (stored != computed)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, path,
                              "checksum mismatch (stored %08x, computed %08x): the file is corrupt",
                              stored, computed);
  memset (c->name, 0, sizeof c->name);
  memcpy (c->name, bytes + 24, NAME_SIZE);
  const gchar *want = m3ret_plugin_get_desc (plugin)->name;
  if (strcmp (c->name, want) != 0) {
    g_autofree gchar *shown = g_strescape (c->name, NULL); /* any bytes: keep the message one line */
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_FOREIGN, path,
                              "built by retriever '%s', but the pipeline selects '%s'", shown,
                              want);
  }
  c->dim = get_u32 (bytes + 12);
  c->count = get_u64 (bytes + 16);
  /* No embedding is that wide; a larger dim is a corrupt header that would
   * make a plugin allocate for it before reading any vector. */
  if (c->dim == 0 || c->dim > M3RET_INDEX_MAX_DIM || c->count > G_MAXSIZE / c->dim)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, path,
                              "impossible shape %" G_GUINT64_FORMAT " × %u", c->count, c->dim);
  return TRUE;
}

static M3retIndex *
index_decode (const M3retPlugin *plugin, const M3retRetrieverVTable *vt, const M3retConfig *config,
              const guint8 *bytes, gsize len, const gchar *path, guint n_threads, GError **error)
{
  Container c;
  if (!container_check (bytes, len, path, plugin, &c, error))
    return NULL;
  guint64 meta_len = c.meta_len, items_len = c.items_len, payload_len = c.payload_len;
  guint dim = c.dim;
  guint64 count = c.count;
  const gchar *name = c.name;
  M3retItems *items = NULL;
  if (items_len > 0) {
    g_autofree gchar *label = g_strdup_printf ("%s (items)", path);
    items = m3ret_items_parse_csv ((const gchar *) bytes + HEADER_SIZE + meta_len, items_len, label,
                                   error);
    if (items == NULL)
      return NULL;
    if (items->n != count) {
      gsize n_items = items->n;
      m3ret_items_free (items);
      m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, path,
                         "%zu items for %" G_GUINT64_FORMAT " vectors", n_items, count);
      return NULL;
    }
  }
  g_autoptr (M3retTransform) transform = NULL;
  g_autofree gchar *transform_text = meta_value ((const gchar *) bytes + HEADER_SIZE, meta_len,
                                                 "transform");
  if (transform_text != NULL &&
      (transform = m3ret_transform_from_text (transform_text, dim, error)) == NULL) {
    m3ret_items_free (items);
    g_prefix_error (error, "%s: ", path);
    return NULL;
  }
  guint inner = transform != NULL ? transform->out_dim : dim;
  GError *local = NULL;
  gpointer handle = vt->load (config, inner, count, bytes + HEADER_SIZE + meta_len + items_len,
                              payload_len,
                              MAX (n_threads, 1), &local);
  if (handle == NULL) {
    m3ret_items_free (items);
    if (local == NULL) {
      m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, path, "the %s plugin refused it", name);
      return NULL;
    }
    g_set_error (error, local->domain, local->code, "%s: %s", path, local->message);
    g_error_free (local);
    return NULL;
  }
  M3retIndex *index = index_wrap (vt, name, config, handle, dim);
  index->items = items;
  index->transform = g_steal_pointer (&transform);
  index->provenance = meta_value ((const gchar *) bytes + HEADER_SIZE, meta_len, "provenance");
  if (vt->count (handle) != count) {
    m3ret_index_free (index);
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, path,
                       "the payload holds a different number of vectors than the header");
    return NULL;
  }
  return index;
}

M3retIndex *
m3ret_index_load (const M3retPlugin *plugin, const M3retConfig *config, const gchar *path,
                  guint n_threads, GError **error)
{
  g_return_val_if_fail (plugin != NULL && config != NULL && path != NULL, NULL);
  const M3retRetrieverVTable *vt = retriever_vtable (plugin, error);
  if (vt == NULL)
    return NULL;
  GMappedFile *map = m3ret_file_map (path, error);
  if (map == NULL)
    return NULL;
  static const guint8 empty[1] = { 0 };
  const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (map);
  gsize len = g_mapped_file_get_length (map);
  M3retIndex *index = index_decode (plugin, vt, config, bytes ? bytes : empty, len, path,
                                    n_threads, error);
  g_mapped_file_unref (map);
  return index;
}

/* The retriever config recorded in the meta section of a mapped index:
 * the plugin's defaults, then each "retriever.KEY=VALUE" line. */
static M3retConfig *
recorded_config (const M3retPlugin *plugin, const guint8 *bytes, gsize len, const gchar *path,
                 GError **error)
{
  const M3retPluginDesc *desc = m3ret_plugin_get_desc (plugin);
  g_autoptr (M3retConfig) config = m3ret_config_new_defaults ("retriever", desc->keys, error);
  if (config == NULL)
    return NULL;
  guint64 meta_len = len >= HEADER_SIZE && get_u32 (bytes + 8) >= 2 ? get_u64 (bytes + 56) : 0;
  if (meta_len > len - HEADER_SIZE)
    return g_steal_pointer (&config); /* decoding says why the file is bad */
  g_autofree gchar *meta = g_strndup ((const gchar *) bytes + HEADER_SIZE, meta_len);
  g_auto (GStrv) lines = g_strsplit (meta, "\n", -1);
  for (gchar **l = lines; *l; l++) {
    if (!g_str_has_prefix (*l, "retriever."))
      continue;
    g_auto (GStrv) kv = g_strsplit (*l + strlen ("retriever."), "=", 2);
    GError *local = NULL;
    if (kv[1] == NULL || !m3ret_config_set (config, kv[0], kv[1], &local)) {
      /* A key the plugin lacks needs no more words than the line itself. */
      if (g_error_matches (local, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_UNKNOWN_KEY))
        g_clear_error (&local);
      g_autofree gchar *shown = g_strescape (*l, NULL);
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_UNSUPPORTED,
                   "%s: records retriever setting '%s', which the %s plugin here does not take%s%s",
                   path, shown, desc->name, local ? ": " : "", local ? local->message : "");
      g_clear_error (&local);
      return NULL;
    }
  }
  return g_steal_pointer (&config);
}

M3retIndex *
m3ret_index_open (M3retRegistry *registry, const gchar *path, guint n_threads, GError **error)
{
  g_return_val_if_fail (registry != NULL && path != NULL, NULL);
  GMappedFile *map = m3ret_file_map (path, error);
  if (map == NULL)
    return NULL;
  static const guint8 empty[1] = { 0 };
  const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (map);
  gsize len = g_mapped_file_get_length (map);
  bytes = bytes ? bytes : empty;
  M3retIndex *index = NULL;
  M3retConfig *config = NULL;
  if (len < HEADER_SIZE || memcmp (bytes, file_magic, sizeof file_magic) != 0) {
    Container c; /* it fails before it needs a plugin, and says what is wrong */
    container_check (bytes, len, path, NULL, &c, error);
    goto out;
  }
  gchar name[NAME_SIZE + 1] = { 0 };
  memcpy (name, bytes + 24, NAME_SIZE);
  const M3retPlugin *plugin = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, name);
  if (plugin == NULL) {
    g_autofree gchar *shown = g_strescape (name, NULL);
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_UNSUPPORTED, path,
                       "built by retriever '%s', which no plugin on the search path provides",
                       shown);
    goto out;
  }
  config = recorded_config (plugin, bytes, len, path, error);
  if (config != NULL)
    index = index_decode (plugin, m3ret_plugin_get_vtable (plugin), config, bytes, len, path,
                          n_threads, error);
out:
  if (config != NULL)
    m3ret_config_unref (config);
  g_mapped_file_unref (map);
  return index;
}

gboolean
m3ret_vectors_normalize (gfloat *rows, gsize n, guint dim, const gchar *name, GError **error)
{
  g_return_val_if_fail (rows != NULL || n == 0, FALSE);
  for (gsize i = 0; i < n; i++) {
    gfloat *r = rows + i * dim;
    gdouble ss = 0;
    for (guint j = 0; j < dim; j++)
      ss += (gdouble) r[j] * r[j];
    if (!isfinite (ss)) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "%s: row %zu holds NaN or infinity", name, i);
      return FALSE;
    }
    if (ss == 0) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "%s: row %zu is all zeros and has no direction", name, i);
      return FALSE;
    }
    gfloat inv = (gfloat) (1.0 / sqrt (ss));
    for (guint j = 0; j < dim; j++)
      r[j] *= inv;
  }
  return TRUE;
}
