/* manifest.c — CSV dataset lists: parsing, path resolution, probing. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-manifest.h"

typedef struct {
  gchar **fields;   /* one per column */
  gchar *path;      /* absolute */
  gchar *key;       /* the file itself: links and ".." resolved, for duplicates */
  gchar *modality;  /* NULL until written or probed; the set's spelling once resolved */
  M3retLayout layout;
  guint line;       /* 0: not from a file (files named on a command line) */
} Entry;

struct _M3retManifest {
  gchar *source;
  gchar **columns;  /* header names */
  guint n_columns;
  gint path_col, modality_col, label_col;
  GPtrArray *entries; /* Entry*, owned */
  gboolean resolved;
  gchar *default_modality; /* for rows with none written; NULL: probe them */
  GPtrArray *notices;      /* gchar*, owned: duplicates, close probes */
  GHashTable *noticed;     /* keys (owned) of files whose close probe was told */
};

static void
entry_free (Entry *e)
{
  g_strfreev (e->fields);
  g_free (e->path);
  g_free (e->key);
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
  g_free (m->default_modality);
  g_ptr_array_unref (m->notices);
  g_hash_table_unref (m->noticed);
  g_free (m);
}

static M3retManifest *
manifest_new (const gchar *source)
{
  M3retManifest *m = g_new0 (M3retManifest, 1);
  m->source = g_strdup (source ? source : "(manifest)");
  m->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  m->path_col = m->modality_col = m->label_col = -1;
  m->notices = g_ptr_array_new_with_free_func (g_free);
  m->noticed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return m;
}

/* Returns: (transfer full) where entry @e is, for messages: "m.csv:3: ",
 * or "" for a file named on a command line. */
static gchar *
where (const M3retManifest *m, const Entry *e)
{
  return e->line > 0 ? g_strdup_printf ("%s:%u: ", m->source, e->line) : g_strdup ("");
}

/* Returns: (transfer full) @path with links, "." and ".." resolved when the
 * file exists, else only "." and "..": two spellings of one file match. */
static gchar *
file_key (const gchar *path)
{
  char *real = realpath (path, NULL);
  if (real != NULL) {
    gchar *key = g_strdup (real);
    free (real);
    return key;
  }
  return g_canonicalize_filename (path, NULL);
}

/* Rows listed again that get a notice of their own; the rest are counted in one. */
#define MAX_DUPLICATE_NOTICES 10

/* Notes every entry that names the same file as an earlier one. */
static void
note_duplicates (M3retManifest *m)
{
  g_autoptr (GHashTable) first = g_hash_table_new (g_str_hash, g_str_equal);
  guint repeats = 0;
  for (guint i = 0; i < m->entries->len; i++) {
    Entry *e = g_ptr_array_index (m->entries, i);
    const Entry *before = g_hash_table_lookup (first, e->key);
    if (before == NULL) {
      g_hash_table_insert (first, e->key, e);
      continue;
    }
    if (++repeats > MAX_DUPLICATE_NOTICES)
      continue;
    g_autofree gchar *at = where (m, e);
    if (before->line > 0)
      g_ptr_array_add (m->notices,
                       g_strdup_printf ("%s%s is listed again (first at line %u); every row is "
                                        "kept, so the file counts once per row", at,
                                        e->fields[m->path_col], before->line));
    else
      g_ptr_array_add (m->notices, g_strdup_printf ("%s%s is named twice; both are kept", at,
                                                    e->fields[m->path_col]));
  }
  if (repeats > MAX_DUPLICATE_NOTICES)
    g_ptr_array_add (m->notices,
                     g_strdup_printf ("%s: %u more rows name a file listed earlier (%u in all); "
                                      "they are kept too", m->source,
                                      repeats - MAX_DUPLICATE_NOTICES, repeats));
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
  M3retManifest *m = manifest_new (source);
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
    /* Header names are matched without regard to case: Path,Modality,Label. */
    for (guint d = 0; d < c; d++)
      if (g_ascii_strcasecmp (m->columns[d], name) == 0) {
        g_autofree gchar *shown = g_strescape (name, NULL); /* a quoted name may hold newlines */
        g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_MANIFEST,
                     "%s:1: column '%s' appears twice in the header", m->source, shown);
        g_free (name);
        g_ptr_array_unref (header);
        goto fail;
      }
    m->columns[c] = name;
    if (g_ascii_strcasecmp (name, "path") == 0)
      m->path_col = c;
    else if (g_ascii_strcasecmp (name, "modality") == 0)
      m->modality_col = c;
    else if (g_ascii_strcasecmp (name, "label") == 0)
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
    e->key = file_key (e->path);
    if (m->modality_col >= 0 && *(const gchar *) fields->pdata[m->modality_col])
      e->modality = g_strstrip (g_strdup (fields->pdata[m->modality_col]));
    g_ptr_array_add (fields, NULL);
    e->fields = (gchar **) g_ptr_array_free (fields, FALSE);
    g_ptr_array_add (m->entries, e);
  }
  note_duplicates (m);
  return m;

fail:
  m3ret_manifest_free (m);
  return NULL;
}

M3retManifest *
m3ret_manifest_new_for_files (const gchar *const *paths, guint n)
{
  M3retManifest *m = manifest_new ("(command line)");
  m->n_columns = 1;
  m->columns = g_new0 (gchar *, 2);
  m->columns[0] = g_strdup ("path");
  m->path_col = 0;
  for (guint i = 0; i < n; i++) {
    Entry *e = g_new0 (Entry, 1);
    e->fields = g_new0 (gchar *, 2);
    e->fields[0] = g_strdup (paths[i]);
    e->path = g_strdup (paths[i]); /* as typed: messages and results show it so */
    e->key = file_key (e->path);
    g_ptr_array_add (m->entries, e);
  }
  note_duplicates (m);
  return m;
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
    if (g_ascii_strcasecmp (m->columns[c], name) == 0)
      return ENTRY (m, i)->fields[c];
  return NULL;
}

guint
m3ret_manifest_n_notices (const M3retManifest *m)
{
  return m->notices->len;
}

const gchar *
m3ret_manifest_get_notice (const M3retManifest *m, guint i)
{
  g_return_val_if_fail (i < m->notices->len, NULL);
  return m->notices->pdata[i];
}

gboolean
m3ret_manifest_set_default_modality (M3retManifest *m, const M3retModalities *set,
                                     const gchar *name, GError **error)
{
  g_return_val_if_fail (!m->resolved, FALSE);
  const gchar *known = NULL;
  if (name != NULL && (known = m3ret_modalities_check_name (set, name, error)) == NULL)
    return FALSE;
  g_free (m->default_modality);
  m->default_modality = g_strdup (known);
  return TRUE;
}

M3retLayout
m3ret_manifest_get_layout (const M3retManifest *m, guint i)
{
  g_return_val_if_fail (i < m->entries->len, M3RET_LAYOUT_IMAGE);
  return ENTRY (m, i)->layout;
}

/* Probes entry @e; tells the user, once per file, when the scores were close. */
static const gchar *
probe_entry (M3retManifest *m, Entry *e, const M3retModalities *set, GError **error)
{
  g_autofree guint *scores = g_new0 (guint, MAX (m3ret_modalities_count (set), 1));
  const gchar *name = m3ret_modalities_probe (set, e->path, NULL, scores, error);
  if (name == NULL || g_hash_table_contains (m->noticed, e->key))
    return name;
  g_autofree gchar *notice = m3ret_modalities_close_notice (set, e->path, scores);
  if (notice != NULL) {
    g_autofree gchar *at = where (m, e);
    g_ptr_array_add (m->notices, g_strconcat (at, notice, NULL));
    g_hash_table_add (m->noticed, g_strdup (e->key)); /* the entry may be dropped later */
  }
  return name;
}

/* Checks entry @e's file and finds its modality and layout. */
static gboolean
resolve_entry (M3retManifest *m, Entry *e, const M3retModalities *set, GError **error)
{
  g_autofree gchar *at = where (m, e);
  /* A folder or FOLDER#MEMBER is one input too (a DICOM series); whether a
   * plugin reads it is the probe's or the read's to say. */
  if (!g_file_test (e->path, G_FILE_TEST_IS_REGULAR) && !m3ret_limits_is_folder_input (e->path)) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_IO, "%s%s: %s", at, e->path,
                 g_file_test (e->path, G_FILE_TEST_EXISTS) ? "not a regular file" : "no such file");
    return FALSE;
  }
  GError *local = NULL;
  if (e->modality == NULL && m->default_modality != NULL) {
    e->modality = g_strdup (m->default_modality);
  } else if (e->modality == NULL) {
    const gchar *name = probe_entry (m, e, set, &local);
    if (name == NULL) {
      g_set_error (error, M3RET_DATA_ERROR, local->code, "%s%s", at, local->message);
      g_error_free (local);
      return FALSE;
    }
    e->modality = g_strdup (name);
  } else {
    /* Any case is accepted; from here on the plugin's own spelling. */
    const gchar *known = m3ret_modalities_check_name (set, e->modality, &local);
    if (known == NULL) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_NO_PLUGIN, "%s%s: %s", at, e->path,
                   local->message);
      g_error_free (local);
      return FALSE;
    }
    if (strcmp (known, e->modality) != 0) {
      g_free (e->modality);
      e->modality = g_strdup (known);
    }
  }
  if (!m3ret_modalities_layout (set, e->modality, e->path, &e->layout, &local)) {
    g_set_error (error, M3RET_DATA_ERROR, local->code, "%s%s", at, local->message);
    g_error_free (local);
    return FALSE;
  }
  return TRUE;
}

gboolean
m3ret_manifest_resolve (M3retManifest *m, const M3retModalities *set, GError **error)
{
  if (m->resolved)
    return TRUE;
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
  if (m->resolved)
    return TRUE;
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
  M3retManifest *out = manifest_new (m->source);
  out->columns = g_strdupv (m->columns);
  out->n_columns = m->n_columns;
  out->path_col = m->path_col;
  out->modality_col = m->modality_col;
  out->label_col = m->label_col;
  out->resolved = m->resolved;
  out->default_modality = g_strdup (m->default_modality);
  for (guint i = 0; i < m->entries->len; i++) {
    const gchar *v = m3ret_manifest_get_column (m, i, name);
    if (v == NULL || strcmp (v, value) != 0)
      continue;
    const Entry *e = ENTRY (m, i);
    Entry *copy = g_new0 (Entry, 1);
    copy->fields = g_strdupv (e->fields);
    copy->path = g_strdup (e->path);
    copy->key = g_strdup (e->key);
    copy->modality = g_strdup (e->modality);
    copy->layout = e->layout;
    copy->line = e->line;
    g_ptr_array_add (out->entries, copy);
  }
  return out;
}
