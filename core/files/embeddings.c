/* embeddings.c — the sidecar CSV (path, modality, label) and the E.npy + E.csv pair. */
#include "config.h"

#include <string.h>

#include "m3ret-embeddings.h"
#include "m3ret-fileio.h"
#include "m3ret-npy.h"
#include "m3ret-provenance.h"

static const gchar *const sidecar_columns[3] = { "path", "modality", "label" };

M3retItems *
m3ret_items_new (gsize n)
{
  M3retItems *items = g_new0 (M3retItems, 1);
  items->n = n;
  gchar ***columns[3] = { &items->paths, &items->modalities, &items->labels };
  for (guint c = 0; c < 3; c++) {
    *columns[c] = g_new0 (gchar *, n + 1);
    for (gsize i = 0; i < n; i++)
      (*columns[c])[i] = g_strdup ("");
  }
  return items;
}

void
m3ret_items_free (M3retItems *items)
{
  if (items == NULL)
    return;
  g_strfreev (items->paths);
  g_strfreev (items->modalities);
  g_strfreev (items->labels);
  g_free (items);
}

void
m3ret_items_set (M3retItems *items, gsize i, const gchar *path, const gchar *modality,
                 const gchar *label)
{
  g_return_if_fail (items != NULL && i < items->n);
  if (path) {
    g_free (items->paths[i]);
    items->paths[i] = g_strdup (path);
  }
  if (modality) {
    g_free (items->modalities[i]);
    items->modalities[i] = g_strdup (modality);
  }
  if (label) {
    g_free (items->labels[i]);
    items->labels[i] = g_strdup (label);
  }
}

static void
append_field (GString *out, const gchar *field)
{
  gsize len = strlen (field);
  gboolean quote = strpbrk (field, ",\"\r\n") != NULL ||
                   (len > 0 && (field[0] == ' ' || field[len - 1] == ' '));
  if (!quote) {
    g_string_append (out, field);
    return;
  }
  g_string_append_c (out, '"');
  for (const gchar *p = field; *p; p++) {
    if (*p == '"')
      g_string_append_c (out, '"');
    g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

gchar *
m3ret_items_to_csv (const M3retItems *items, gsize *length)
{
  g_return_val_if_fail (items != NULL, NULL);
  GString *out = g_string_new ("path,modality,label\n");
  for (gsize i = 0; i < items->n; i++) {
    append_field (out, items->paths[i]);
    g_string_append_c (out, ',');
    append_field (out, items->modalities[i]);
    g_string_append_c (out, ',');
    append_field (out, items->labels[i]);
    g_string_append_c (out, '\n');
  }
  if (length)
    *length = out->len;
  return g_string_free (out, FALSE);
}

/* Reads one CSV record starting at *pos into @fields (cleared first); moves
 * *pos past its line ending. */
static gboolean
parse_record (const gchar *text, gsize length, gsize *pos, guint *line, GPtrArray *fields,
              const gchar *name, GError **error)
{
  g_ptr_array_set_size (fields, 0);
  GString *field = g_string_new (NULL);
  gsize i = *pos;
  guint start_line = *line;
  for (;;) {
    g_string_truncate (field, 0);
    if (i < length && text[i] == '"') {
      i++;
      for (;;) {
        if (i >= length) {
          g_string_free (field, TRUE);
          g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT,
                       "%s:%u: unterminated quoted field", name, start_line);
          return FALSE;
        }
        if (text[i] == '"') {
          if (i + 1 < length && text[i + 1] == '"') {
            g_string_append_c (field, '"');
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (text[i] == '\n')
          (*line)++;
        g_string_append_c (field, text[i++]);
      }
      if (i < length && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        g_string_free (field, TRUE);
        g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT,
                     "%s:%u: text after a closing quote", name, *line);
        return FALSE;
      }
    } else {
      while (i < length && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        if (text[i] == '"') {
          g_string_free (field, TRUE);
          g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT,
                       "%s:%u: quote inside an unquoted field", name, *line);
          return FALSE;
        }
        g_string_append_c (field, text[i++]);
      }
    }
    g_ptr_array_add (fields, g_strndup (field->str, field->len));
    if (i < length && text[i] == ',') {
      i++;
      continue;
    }
    break;
  }
  g_string_free (field, TRUE);
  if (i < length && text[i] == '\r')
    i++;
  if (i < length && text[i] == '\n')
    i++;
  (*line)++;
  *pos = i;
  return TRUE;
}

M3retItems *
m3ret_items_parse_csv (const gchar *text, gsize length, const gchar *name, GError **error)
{
  g_return_val_if_fail (text != NULL || length == 0, NULL);
  if (memchr (text, '\0', length) != NULL) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_FOREIGN,
                 "%s: not a text file (holds NUL bytes)", name);
    return NULL;
  }
  if (!g_utf8_validate_len (text, length, NULL)) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID, "%s: not valid UTF-8", name);
    return NULL;
  }
  g_autoptr (GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  gsize pos = 0;
  guint line = 1;
  if (!parse_record (text, length, &pos, &line, fields, name, error))
    return NULL;
  gboolean header_ok = fields->len == 3;
  for (guint c = 0; header_ok && c < 3; c++)
    header_ok = strcmp (fields->pdata[c], sidecar_columns[c]) == 0;
  if (!header_ok) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_FOREIGN,
                 "%s:1: header is not 'path,modality,label'", name);
    return NULL;
  }
  GPtrArray *columns[3];
  for (guint c = 0; c < 3; c++)
    columns[c] = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;
  while (ok && pos < length) {
    guint record_line = line;
    ok = parse_record (text, length, &pos, &line, fields, name, error);
    if (!ok)
      break;
    if (fields->len == 1 && *(gchar *) fields->pdata[0] == '\0' && pos >= length)
      break; /* a trailing empty line */
    if (fields->len != 3) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT,
                   "%s:%u: %u fields, expected 3 (path,modality,label)", name, record_line,
                   fields->len);
      ok = FALSE;
      break;
    }
    if (*(gchar *) fields->pdata[0] == '\0') {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID, "%s:%u: empty path",
                   name, record_line);
      ok = FALSE;
      break;
    }
    for (guint c = 0; c < 3; c++)
      g_ptr_array_add (columns[c], g_strdup (fields->pdata[c]));
  }
  M3retItems *items = NULL;
  if (ok) {
    items = g_new0 (M3retItems, 1);
    items->n = columns[0]->len;
    gchar ***dest[3] = { &items->paths, &items->modalities, &items->labels };
    for (guint c = 0; c < 3; c++) {
      g_ptr_array_add (columns[c], NULL);
      g_ptr_array_set_free_func (columns[c], NULL);
      *dest[c] = (gchar **) g_ptr_array_free (columns[c], FALSE);
    }
  } else {
    for (guint c = 0; c < 3; c++)
      g_ptr_array_unref (columns[c]);
  }
  return items;
}

M3retItems *
m3ret_items_read (const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;
  gsize length = 0;
  if (!m3ret_file_read_all (path, &text, &length, error))
    return NULL;
  return m3ret_items_parse_csv (text, length, path, error);
}

gboolean
m3ret_items_write (const M3retItems *items, const gchar *path, GError **error)
{
  gsize length = 0;
  g_autofree gchar *text = m3ret_items_to_csv (items, &length);
  return m3ret_file_write_atomic (path, text, length, error);
}

gchar *
m3ret_embeddings_sidecar_path (const gchar *npy_path)
{
  if (g_str_has_suffix (npy_path, ".npy"))
  {
    g_autofree gchar *stem = g_strndup (npy_path, strlen (npy_path) - 4);
    return g_strconcat (stem, ".csv", NULL);
  }
  return g_strconcat (npy_path, ".csv", NULL);
}

M3retEmbeddings *
m3ret_embeddings_new (gsize n_rows, guint dim)
{
  M3retEmbeddings *e = g_new0 (M3retEmbeddings, 1);
  e->n_rows = n_rows;
  e->dim = dim;
  e->data = g_new0 (gfloat, MAX (n_rows * dim, 1));
  e->items = m3ret_items_new (n_rows);
  return e;
}

void
m3ret_embeddings_free (M3retEmbeddings *embeddings)
{
  if (embeddings == NULL)
    return;
  g_free (embeddings->data);
  g_free (embeddings->provenance);
  m3ret_items_free (embeddings->items);
  g_free (embeddings);
}

M3retEmbeddings *
m3ret_embeddings_load (const gchar *npy_path, gboolean need_items, GError **error)
{
  g_return_val_if_fail (npy_path != NULL, NULL);
  gsize rows = 0, cols = 0;
  g_autofree gchar *comment = NULL;
  gfloat *data = m3ret_npy_read_f32_commented (npy_path, &rows, &cols, &comment, error);
  if (data == NULL)
    return NULL;
  if (cols > G_MAXUINT) {
    g_free (data);
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_UNSUPPORTED,
                 "%s: %zu columns is too wide", npy_path, cols);
    return NULL;
  }
  M3retEmbeddings *e = g_new0 (M3retEmbeddings, 1);
  e->n_rows = rows;
  e->dim = (guint) cols;
  e->data = data;
  if (m3ret_provenance_is_valid (comment))
    e->provenance = g_steal_pointer (&comment);
  g_autofree gchar *sidecar = m3ret_embeddings_sidecar_path (npy_path);
  if (!need_items && !g_file_test (sidecar, G_FILE_TEST_EXISTS))
    return e;
  e->items = m3ret_items_read (sidecar, error);
  if (e->items == NULL) {
    m3ret_embeddings_free (e);
    return NULL;
  }
  if (e->items->n != rows) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "%s: %zu records, but %s has %zu rows", sidecar, e->items->n, npy_path, rows);
    m3ret_embeddings_free (e);
    return NULL;
  }
  return e;
}

gboolean
m3ret_embeddings_save (const M3retEmbeddings *embeddings, const gchar *npy_path, GError **error)
{
  g_return_val_if_fail (embeddings != NULL && npy_path != NULL, FALSE);
  if (embeddings->items == NULL) {
    M3retAtomicFile *npy = m3ret_atomic_file_new (npy_path, error);
    if (npy == NULL)
      return FALSE;
    if (!m3ret_npy_write_f32_to (npy, embeddings->data, embeddings->n_rows, embeddings->dim,
                                 embeddings->provenance, error)) {
      m3ret_atomic_file_abort (npy);
      return FALSE;
    }
    return m3ret_atomic_file_commit (npy, error);
  }
  g_return_val_if_fail (embeddings->items->n == embeddings->n_rows, FALSE);
  g_autofree gchar *sidecar = m3ret_embeddings_sidecar_path (npy_path);
  gsize length = 0;
  g_autofree gchar *text = m3ret_items_to_csv (embeddings->items, &length);
  M3retAtomicFile *npy = m3ret_atomic_file_new (npy_path, error);
  M3retAtomicFile *csv = npy ? m3ret_atomic_file_new (sidecar, error) : NULL;
  if (csv == NULL ||
      !m3ret_npy_write_f32_to (npy, embeddings->data, embeddings->n_rows, embeddings->dim,
                               embeddings->provenance, error) ||
      !m3ret_atomic_file_write (csv, text, length, error)) {
    m3ret_atomic_file_abort (npy);
    m3ret_atomic_file_abort (csv);
    return FALSE;
  }
  /* The .npy is what readers open first, so it is the pair's commit point. */
  return m3ret_atomic_file_commit_pair (npy, csv, error);
}
