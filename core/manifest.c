/* manifest.c — CSV dataset lists: parsing, path resolution, probing. */
#include "config.h"

#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-manifest.h"

typedef struct {
  gchar **fields;   /* one per column */
  gchar *path;      /* absolute */
  gchar *modality;  /* NULL until written or probed */
  M3retLayout layout;
  guint line;
} Entry;

struct _M3retManifest {
  gchar *source;
  gchar **columns;  /* header names */
  guint n_columns;
  gint path_col, modality_col, label_col;
  GPtrArray *entries; /* Entry*, owned */
  gboolean resolved;
};

static void
entry_free (Entry *e)
{
  g_strfreev (e->fields);
  g_free (e->path);
  g_free (e->modality);
  g_free (e);
}

void
m3ret_manifest_free (M3retManifest *m)
{
  if (m == NULL)
    return;
  g_free (m->source);
  g_strfreev (m->columns);
  g_ptr_array_unref (m->entries);
  g_free (m);
}

/* Splits one CSV record starting at *@pos; advances past its line end.
 * Quoted fields may span lines.  Returns NULL (with @error) on an
 * unterminated quote. */
static GPtrArray *
split_record (const gchar *text, gsize len, gsize *pos, guint *line, const gchar *source,
              GError **error)
{
  GPtrArray *fields = g_ptr_array_new_with_free_func (g_free);
  GString *field = g_string_new (NULL);
  gsize i = *pos;
  guint start_line = *line;
  gboolean quoted = FALSE, was_quoted = FALSE;
  for (;;) {
    if (i >= len) {
      if (quoted) {
        g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                     "%s:%u: a quoted field never ends", source, start_line);
        g_string_free (field, TRUE);
        g_ptr_array_unref (fields);
        return NULL;
      }
      break;
    }
    gchar c = text[i++];
    if (quoted) {
      if (c == '"') {
        if (i < len && text[i] == '"') {
          g_string_append_c (field, '"');
          i++;
        } else {
          quoted = FALSE;
        }
      } else {
        if (c == '\n')
          (*line)++;
        g_string_append_c (field, c);
      }
      continue;
    }
    if (c == '"' && field->len == 0 && !was_quoted) {
      quoted = was_quoted = TRUE;
    } else if (c == ',') {
      g_ptr_array_add (fields, g_string_free (g_steal_pointer (&field), FALSE));
      field = g_string_new (NULL);
      was_quoted = FALSE;
    } else if (c == '\n') {
      (*line)++;
      break;
    } else if (c != '\r') {
      g_string_append_c (field, c);
    }
  }
  g_ptr_array_add (fields, g_string_free (field, FALSE));
  *pos = i;
  return fields;
}

static gboolean
record_is_blank (GPtrArray *fields)
{
  for (guint i = 0; i < fields->len; i++) {
    const gchar *f = fields->pdata[i];
    for (; *f; f++)
      if (!g_ascii_isspace (*f))
        return FALSE;
  }
  return TRUE;
}

M3retManifest *
m3ret_manifest_load_data (const gchar *text, gssize length, const gchar *source,
                          const gchar *base_dir, GError **error)
{
  gsize len = length < 0 ? strlen (text) : (gsize) length;
  M3retManifest *m = g_new0 (M3retManifest, 1);
  m->source = g_strdup (source ? source : "(manifest)");
  m->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  m->path_col = m->modality_col = m->label_col = -1;
  gsize pos = 0;
  guint line = 1;
  /* UTF-8 byte order mark from spreadsheet exports. */
  if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    pos = 3;

  GPtrArray *header = NULL;
  while (pos < len) {
    header = split_record (text, len, &pos, &line, m->source, error);
    if (header == NULL)
      goto fail;
    if (!record_is_blank (header))
      break;
    g_clear_pointer (&header, g_ptr_array_unref);
  }
  if (header == NULL) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                 "%s: empty manifest (expected a header line path,modality,label)", m->source);
    goto fail;
  }
  m->n_columns = header->len;
  m->columns = g_new0 (gchar *, header->len + 1);
  for (guint c = 0; c < header->len; c++) {
    gchar *name = g_strstrip (g_strdup (header->pdata[c]));
    for (guint d = 0; d < c; d++)
      if (strcmp (m->columns[d], name) == 0) {
        g_autofree gchar *shown = g_strescape (name, NULL); /* a quoted name may hold newlines */
        g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                     "%s:1: column '%s' appears twice in the header", m->source, shown);
        g_free (name);
        g_ptr_array_unref (header);
        goto fail;
      }
    m->columns[c] = name;
    if (strcmp (name, "path") == 0)
      m->path_col = c;
    else if (strcmp (name, "modality") == 0)
      m->modality_col = c;
    else if (strcmp (name, "label") == 0)
      m->label_col = c;
  }
  g_ptr_array_unref (header);
  if (m->path_col < 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                 "%s:1: the header has no 'path' column (expected path,modality,label)",
                 m->source);
    goto fail;
  }

  while (pos < len) {
    guint at = line;
    GPtrArray *fields = split_record (text, len, &pos, &line, m->source, error);
    if (fields == NULL)
      goto fail;
    if (record_is_blank (fields)) {
      g_ptr_array_unref (fields);
      continue;
    }
    if (fields->len != m->n_columns) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                   "%s:%u: %u fields where the header has %u columns", m->source, at,
                   fields->len, m->n_columns);
      g_ptr_array_unref (fields);
      goto fail;
    }
    const gchar *written = fields->pdata[m->path_col];
    if (*written == '\0') {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST, "%s:%u: empty path",
                   m->source, at);
      g_ptr_array_unref (fields);
      goto fail;
    }
    Entry *e = g_new0 (Entry, 1);
    e->line = at;
    e->path = g_path_is_absolute (written)
                ? g_strdup (written)
                : g_build_filename (base_dir ? base_dir : ".", written, NULL);
    if (m->modality_col >= 0 && *(const gchar *) fields->pdata[m->modality_col])
      e->modality = g_strstrip (g_strdup (fields->pdata[m->modality_col]));
    g_ptr_array_add (fields, NULL);
    e->fields = (gchar **) g_ptr_array_free (fields, FALSE);
    g_ptr_array_add (m->entries, e);
  }
  return m;

fail:
  m3ret_manifest_free (m);
  return NULL;
}

M3retManifest *
m3ret_manifest_load (const gchar *path, GError **error)
{
  g_autofree gchar *text = NULL;
  gsize len = 0;
  if (!m3ret_file_read_all (path, &text, &len, error))
    return NULL;
  g_autofree gchar *dir = g_path_get_dirname (path);
  g_autofree gchar *abs_dir = g_canonicalize_filename (dir, NULL);
  return m3ret_manifest_load_data (text, len, path, abs_dir, error);
}

guint
m3ret_manifest_size (const M3retManifest *m)
{
  return m->entries->len;
}

const gchar *
m3ret_manifest_get_source (const M3retManifest *m)
{
  return m->source;
}

#define ENTRY(m, i) ((const Entry *) g_ptr_array_index ((m)->entries, (i)))

const gchar *
m3ret_manifest_get_path (const M3retManifest *m, guint i)
{
  g_return_val_if_fail (i < m->entries->len, NULL);
  return ENTRY (m, i)->path;
}

const gchar *
m3ret_manifest_get_written_path (const M3retManifest *m, guint i)
{
  g_return_val_if_fail (i < m->entries->len, NULL);
  return ENTRY (m, i)->fields[m->path_col];
}

const gchar *
m3ret_manifest_get_modality (const M3retManifest *m, guint i)
{
  g_return_val_if_fail (i < m->entries->len, NULL);
  return ENTRY (m, i)->modality;
}

const gchar *
m3ret_manifest_get_label (const M3retManifest *m, guint i)
{
  g_return_val_if_fail (i < m->entries->len, NULL);
  return m->label_col >= 0 ? ENTRY (m, i)->fields[m->label_col] : "";
}

const gchar *
m3ret_manifest_get_column (const M3retManifest *m, guint i, const gchar *name)
{
  g_return_val_if_fail (i < m->entries->len, NULL);
  for (guint c = 0; c < m->n_columns; c++)
    if (strcmp (m->columns[c], name) == 0)
      return ENTRY (m, i)->fields[c];
  return NULL;
}

M3retLayout
m3ret_manifest_get_layout (const M3retManifest *m, guint i)
{
  g_return_val_if_fail (i < m->entries->len, M3RET_LAYOUT_IMAGE);
  return ENTRY (m, i)->layout;
}

/* Checks entry @e's file and finds its modality and layout. */
static gboolean
resolve_entry (M3retManifest *m, Entry *e, const M3retModalities *set, GError **error)
{
  if (!g_file_test (e->path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s:%u: %s: no such file",
                 m->source, e->line, e->path);
    return FALSE;
  }
  GError *local = NULL;
  if (e->modality == NULL) {
    const gchar *name = m3ret_modalities_probe (set, e->path, NULL, NULL, &local);
    if (name == NULL) {
      g_set_error (error, M3RET_DATA_ERROR, local->code, "%s:%u: %s", m->source, e->line,
                   local->message);
      g_error_free (local);
      return FALSE;
    }
    e->modality = g_strdup (name);
  } else if (!m3ret_modalities_has (set, e->modality)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN,
                 "%s:%u: %s: unknown modality '%s'", m->source, e->line, e->path, e->modality);
    return FALSE;
  }
  if (!m3ret_modalities_layout (set, e->modality, e->path, &e->layout, &local)) {
    g_set_error (error, M3RET_DATA_ERROR, local->code, "%s:%u: %s", m->source, e->line,
                 local->message);
    g_error_free (local);
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_manifest_resolve (M3retManifest *m, const M3retModalities *set, GError **error)
{
  for (guint i = 0; i < m->entries->len; i++)
    if (!resolve_entry (m, g_ptr_array_index (m->entries, i), set, error))
      return FALSE;
  m->resolved = TRUE;
  return TRUE;
}

gboolean
m3ret_manifest_resolve_skipping (M3retManifest *m, const M3retModalities *set, M3retSkips *skips,
                                 GError **error)
{
  for (guint i = 0; i < m->entries->len;) {
    Entry *e = g_ptr_array_index (m->entries, i);
    GError *local = NULL;
    if (resolve_entry (m, e, set, &local)) {
      i++;
      continue;
    }
    m3ret_skips_add (skips, e->path, local);
    g_error_free (local);
    g_ptr_array_remove_index (m->entries, i); /* keeps the order */
  }
  m->resolved = TRUE;
  if (m->entries->len == 0) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                 "%s: no entry left: every one was skipped (on_error=skip)", m->source);
    return FALSE;
  }
  return TRUE;
}

M3retManifest *
m3ret_manifest_filter (const M3retManifest *m, const gchar *name, const gchar *value)
{
  M3retManifest *out = g_new0 (M3retManifest, 1);
  out->source = g_strdup (m->source);
  out->columns = g_strdupv (m->columns);
  out->n_columns = m->n_columns;
  out->path_col = m->path_col;
  out->modality_col = m->modality_col;
  out->label_col = m->label_col;
  out->resolved = m->resolved;
  out->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  for (guint i = 0; i < m->entries->len; i++) {
    const gchar *v = m3ret_manifest_get_column (m, i, name);
    if (v == NULL || strcmp (v, value) != 0)
      continue;
    const Entry *e = ENTRY (m, i);
    Entry *copy = g_new0 (Entry, 1);
    copy->fields = g_strdupv (e->fields);
    copy->path = g_strdup (e->path);
    copy->modality = g_strdup (e->modality);
    copy->layout = e->layout;
    copy->line = e->line;
    g_ptr_array_add (out->entries, copy);
  }
  return out;
}
