/* npy.c — strict reading and atomic writing of float32 N×d .npy files. */
#include "config.h"

#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-npy.h"

static const guint8 npy_magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

/* A cursor over the header text: the Python dict literal numpy writes. */
typedef struct {
  const gchar *p, *end;
  const gchar *name;
} Lexer;

static void
skip_space (Lexer *lx)
{
  while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
    lx->p++;
}

static gboolean
expect_char (Lexer *lx, gchar c, GError **error)
{
  skip_space (lx);
  if (lx->p >= lx->end || *lx->p != c)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "malformed header: expected '%c'", c);
  lx->p++;
  return TRUE;
}

static gboolean
peek_char (Lexer *lx, gchar c)
{
  skip_space (lx);
  return lx->p < lx->end && *lx->p == c;
}

/* A quoted Python string without escapes (numpy never writes any). */
static gchar *
parse_string (Lexer *lx, GError **error)
{
  skip_space (lx);
  if (lx->p >= lx->end || (*lx->p != '\'' && *lx->p != '"')) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "malformed header: expected a quoted string");
    return NULL;
  }
  gchar quote = *lx->p++;
  const gchar *start = lx->p;
  while (lx->p < lx->end && *lx->p != quote && *lx->p != '\\')
    lx->p++;
  if (lx->p >= lx->end || *lx->p != quote) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "malformed header: unterminated string");
    return NULL;
  }
  gchar *s = g_strndup (start, lx->p - start);
  lx->p++;
  return s;
}

static gboolean
parse_bool (Lexer *lx, gboolean *value, GError **error)
{
  skip_space (lx);
  gsize left = lx->end - lx->p;
  if (left >= 4 && memcmp (lx->p, "True", 4) == 0) {
    *value = TRUE;
    lx->p += 4;
  } else if (left >= 5 && memcmp (lx->p, "False", 5) == 0) {
    *value = FALSE;
    lx->p += 5;
  } else {
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name,
                 "malformed header: fortran_order is not True or False");
  }
  return TRUE;
}

#define MAX_RANK 8

static gboolean
parse_shape (Lexer *lx, guint64 *shape, guint *rank, GError **error)
{
  if (!expect_char (lx, '(', error))
    return FALSE;
  *rank = 0;
  while (!peek_char (lx, ')')) {
    skip_space (lx);
    const gchar *start = lx->p;
    guint64 v = 0;
    while (lx->p < lx->end && g_ascii_isdigit (*lx->p)) {
      guint digit = *lx->p - '0';
      if (v > (G_MAXUINT64 - digit) / 10)
        return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "shape dimension too large");
      v = v * 10 + digit;
      lx->p++;
    }
    if (lx->p == start)
      return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name,
                   "malformed header: shape holds something other than whole numbers");
    if (*rank == MAX_RANK)
      return m3ret_format_fail (error, M3RET_FORMAT_ERROR_UNSUPPORTED, lx->name, "shape has too many dimensions");
    shape[(*rank)++] = v;
    if (peek_char (lx, ','))
      lx->p++;
    else if (!peek_char (lx, ')'))
      return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "malformed header: bad shape tuple");
  }
  lx->p++;
  return TRUE;
}

typedef struct {
  gchar *descr;
  gboolean fortran_order;
  guint64 shape[MAX_RANK];
  guint rank;
  gchar *comment; /* a Python comment after the dict, without its '#' */
} Header;

static gboolean
parse_header_dict (Lexer *lx, Header *h, GError **error)
{
  gboolean seen_descr = FALSE, seen_order = FALSE, seen_shape = FALSE;
  if (!expect_char (lx, '{', error))
    return FALSE;
  while (!peek_char (lx, '}')) {
    g_autofree gchar *key = parse_string (lx, error);
    if (key == NULL || !expect_char (lx, ':', error))
      return FALSE;
    gboolean *seen;
    gboolean ok;
    if (strcmp (key, "descr") == 0) {
      seen = &seen_descr;
      g_free (h->descr);
      h->descr = parse_string (lx, error);
      ok = h->descr != NULL;
    } else if (strcmp (key, "fortran_order") == 0) {
      seen = &seen_order;
      ok = parse_bool (lx, &h->fortran_order, error);
    } else if (strcmp (key, "shape") == 0) {
      seen = &seen_shape;
      ok = parse_shape (lx, h->shape, &h->rank, error);
    } else {
      /* Escaped: a key may hold newlines or control bytes, the message is one line. */
      g_autofree gchar *shown = g_strescape (key, NULL);
      return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "unexpected header key '%s'",
                   shown);
    }
    if (!ok)
      return FALSE;
    if (*seen)
      return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "header key '%s' appears twice",
                   key);
    *seen = TRUE;
    if (peek_char (lx, ','))
      lx->p++;
    else if (!peek_char (lx, '}'))
      return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "malformed header: expected ','");
  }
  lx->p++;
  skip_space (lx);
  /* numpy evaluates the header as a Python literal, so a comment after the
   * dict is legal; m3ret keeps the embeddings' provenance there. */
  if (lx->p < lx->end && *lx->p == '#') {
    const gchar *start = lx->p + 1;
    if (memchr (start, '\n', lx->end - start) != NULL || memchr (start, '\r', lx->end - start))
      return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name,
                   "malformed header: the comment after the dict spans lines");
    g_free (h->comment);
    h->comment = g_strstrip (g_strndup (start, lx->end - start));
    lx->p = lx->end;
  }
  if (lx->p != lx->end)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "malformed header: text after the dict");
  if (!seen_descr || !seen_order || !seen_shape)
    return m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, lx->name, "header lacks '%s'",
                 !seen_descr ? "descr" : !seen_order ? "fortran_order" : "shape");
  return TRUE;
}

gfloat *
m3ret_npy_decode_f32_commented (const guint8 *bytes, gsize len, const gchar *name, gsize *n_rows,
                                gsize *n_cols, gchar **comment, GError **error)
{
  g_return_val_if_fail (bytes != NULL || len == 0, NULL);
  if (len > 0 && memcmp (bytes, npy_magic, MIN (len, sizeof npy_magic)) != 0) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_FOREIGN, name, "not a .npy file (no \\x93NUMPY magic)");
    return NULL;
  }
  if (len < 10) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_TRUNCATED, name,
          len == 0 ? "empty file" : "truncated before the header");
    return NULL;
  }
  guint major = bytes[6], minor = bytes[7];
  gsize header_len, offset;
  if (major == 1 && minor == 0) {
    header_len = bytes[8] | (gsize) bytes[9] << 8;
    offset = 10;
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (len < 12) {
      m3ret_format_fail (error, M3RET_FORMAT_ERROR_TRUNCATED, name, "truncated in the header length");
      return NULL;
    }
    header_len = bytes[8] | (gsize) bytes[9] << 8 | (gsize) bytes[10] << 16 | (gsize) bytes[11] << 24;
    offset = 12;
  } else {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_VERSION, name, ".npy format version %u.%u is not 1.0, 2.0 or 3.0",
          major, minor);
    return NULL;
  }
  if (header_len > len - offset) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_TRUNCATED, name, "truncated in the header (%zu of %zu bytes)",
          len - offset, header_len);
    return NULL;
  }
  const gchar *text = (const gchar *) bytes + offset;
  if (header_len == 0 || text[header_len - 1] != '\n') {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, name, "malformed header: does not end with a newline");
    return NULL;
  }
  if (memchr (text, '\0', header_len) != NULL) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, name, "malformed header: holds a NUL byte");
    return NULL;
  }
  Header h = { 0 };
  Lexer lx = { text, text + header_len - 1, name };
  /* numpy pads the dict with spaces before the newline. */
  while (lx.end > lx.p && lx.end[-1] == ' ')
    lx.end--;
  gboolean ok = parse_header_dict (&lx, &h, error);
  if (ok && strcmp (h.descr, "<f4") != 0) {
    g_autofree gchar *shown = g_strescape (h.descr, NULL);
    ok = m3ret_format_fail (error, M3RET_FORMAT_ERROR_UNSUPPORTED, name,
               "dtype '%s' is not little-endian float32 '<f4'", shown);
  }
  if (ok && h.fortran_order)
    ok = m3ret_format_fail (error, M3RET_FORMAT_ERROR_UNSUPPORTED, name,
               "Fortran (column-major) order is not supported; save a C-ordered array");
  if (ok && h.rank != 2)
    ok = m3ret_format_fail (error, M3RET_FORMAT_ERROR_UNSUPPORTED, name,
               "array has %u dimensions, expected 2 (N rows × d columns)", h.rank);
  if (ok && h.shape[1] == 0)
    ok = m3ret_format_fail (error, M3RET_FORMAT_ERROR_UNSUPPORTED, name, "array has 0 columns");
  g_free (h.descr);
  if (!ok) {
    g_free (h.comment);
    return NULL;
  }
  g_autofree gchar *note = g_steal_pointer (&h.comment);
  guint64 rows = h.shape[0], cols = h.shape[1];
  gsize data_len = len - offset - header_len;
  if (rows > G_MAXSIZE / 4 / cols) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, name, "shape (%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
          ") is too large", rows, cols);
    return NULL;
  }
  gsize want = rows * cols * 4;
  if (data_len < want) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_TRUNCATED, name,
          "truncated: shape (%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ") needs %zu data bytes, "
          "the file has %zu", rows, cols, want, data_len);
    return NULL;
  }
  if (data_len > want) {
    m3ret_format_fail (error, M3RET_FORMAT_ERROR_CORRUPT, name,
          "%zu bytes after the data of shape (%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ")",
          data_len - want, rows, cols);
    return NULL;
  }
  gfloat *out = g_malloc (MAX (want, 4));
  memcpy (out, bytes + offset + header_len, want);
#if G_BYTE_ORDER == G_BIG_ENDIAN
  for (gsize i = 0; i < rows * cols; i++) {
    guint32 v;
    memcpy (&v, out + i, 4);
    v = GUINT32_SWAP_LE_BE (v);
    memcpy (out + i, &v, 4);
  }
#endif
  *n_rows = rows;
  *n_cols = cols;
  if (comment != NULL)
    *comment = g_steal_pointer (&note);
  return out;
}

gfloat *
m3ret_npy_decode_f32 (const guint8 *bytes, gsize len, const gchar *name, gsize *n_rows,
                      gsize *n_cols, GError **error)
{
  return m3ret_npy_decode_f32_commented (bytes, len, name, n_rows, n_cols, NULL, error);
}

gfloat *
m3ret_npy_read_f32 (const gchar *path, gsize *n_rows, gsize *n_cols, GError **error)
{
  return m3ret_npy_read_f32_commented (path, n_rows, n_cols, NULL, error);
}

gfloat *
m3ret_npy_read_f32_commented (const gchar *path, gsize *n_rows, gsize *n_cols, gchar **comment,
                              GError **error)
{
  g_return_val_if_fail (path != NULL && n_rows != NULL && n_cols != NULL, NULL);
  GMappedFile *map = m3ret_file_map (path, error);
  if (map == NULL)
    return NULL;
  const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (map);
  gsize len = g_mapped_file_get_length (map);
  static const guint8 empty[1] = { 0 };
  gfloat *out = m3ret_npy_decode_f32_commented (bytes ? bytes : empty, len, path, n_rows, n_cols,
                                                comment, error);
  g_mapped_file_unref (map);
  return out;
}

gboolean
m3ret_npy_write_f32_to (M3retAtomicFile *file, const gfloat *data, gsize n_rows, gsize n_cols,
                        const gchar *comment, GError **error)
{
  g_return_val_if_fail (file != NULL && (data != NULL || n_rows * n_cols == 0), FALSE);
  g_return_val_if_fail (comment == NULL || strpbrk (comment, "\r\n") == NULL, FALSE);
  GString *header = g_string_new (NULL);
  g_string_printf (header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", n_rows,
                   n_cols);
  if (comment != NULL)
    g_string_append_printf (header, " # %s", comment);
  if (10 + header->len + 1 > G_MAXUINT16) {
    g_string_free (header, TRUE);
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "%s: the header comment is too long", m3ret_atomic_file_get_path (file));
    return FALSE;
  }
  /* Pad so the data starts on a 64-byte boundary, as numpy does. */
  while ((10 + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  guint8 preamble[10];
  memcpy (preamble, npy_magic, 6);
  preamble[6] = 1;
  preamble[7] = 0;
  preamble[8] = header->len & 0xff;
  preamble[9] = (header->len >> 8) & 0xff;
  gboolean ok = m3ret_atomic_file_write (file, preamble, 10, error) &&
                m3ret_atomic_file_write (file, header->str, header->len, error);
  g_string_free (header, TRUE);
#if G_BYTE_ORDER == G_BIG_ENDIAN
  for (gsize i = 0; ok && i < n_rows * n_cols; i++) {
    guint32 v;
    memcpy (&v, data + i, 4);
    v = GUINT32_SWAP_LE_BE (v);
    ok = m3ret_atomic_file_write (file, &v, 4, error);
  }
#else
  if (ok)
    ok = m3ret_atomic_file_write (file, data, n_rows * n_cols * sizeof (gfloat), error);
#endif
  return ok;
}

gboolean
m3ret_npy_write_f32 (const gchar *path, const gfloat *data, gsize n_rows, gsize n_cols,
                     GError **error)
{
  g_return_val_if_fail (path != NULL && (data != NULL || n_rows * n_cols == 0), FALSE);
  M3retAtomicFile *file = m3ret_atomic_file_new (path, error);
  if (file == NULL)
    return FALSE;
  if (!m3ret_npy_write_f32_to (file, data, n_rows, n_cols, NULL, error)) {
    m3ret_atomic_file_abort (file);
    return FALSE;
  }
  return m3ret_atomic_file_commit (file, error);
}
