/* serve-upload.c — a request's file to a private temporary file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "serve-upload.h"

/* Every suffix a reader looks at, longest first where one ends another. */
static const gchar *const suffixes[] = {
  ".nii.gz", ".hdr.gz", ".nii", ".png", ".jpg", ".jpeg", ".dcm", ".mp4", ".m4v", ".mov",
  ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ogv", ".wmv", ".flv", NULL
};

const gchar *
serve_upload_suffix (const gchar *name, const guint8 *head, gsize head_len)
{
  if (name != NULL) {
    g_autofree gchar *lower = g_ascii_strdown (name, -1);
    for (const gchar *const *s = suffixes; *s; s++)
      if (g_str_has_suffix (lower, *s))
        return *s;
  }
  if (head_len >= 8 && memcmp (head, "\x89PNG\r\n\x1a\n", 8) == 0)
    return ".png";
  if (head_len >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
    return ".jpg";
  if (head_len >= 132 && memcmp (head + 128, "DICM", 4) == 0)
    return ".dcm";
  /* the only gzip files the readers take are NIfTI */
  if (head_len >= 2 && head[0] == 0x1f && head[1] == 0x8b)
    return ".nii.gz";
  return "";
}

static gboolean
add_field (GHashTable *fields, const gchar *name, const gchar *value, gsize len, GError **error)
{
  if (!g_utf8_validate_len (value, len, NULL) || memchr (value, '\0', len) != NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "field '%s' is not text", name);
    return FALSE;
  }
  g_hash_table_replace (fields, g_strdup (name), g_strndup (value, len));
  return TRUE;
}

static gboolean
parse_multipart (SoupServerMessage *msg, GBytes *body, ServeUpload *upload, GError **error)
{
  SoupMultipart *mp =
    soup_multipart_new_from_message (soup_server_message_get_request_headers (msg), body);
  if (mp == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "malformed multipart/form-data body");
    return FALSE;
  }
  gboolean ok = TRUE;
  for (gint i = 0; ok && i < soup_multipart_get_length (mp); i++) {
    SoupMessageHeaders *headers;
    GBytes *part;
    if (!soup_multipart_get_part (mp, i, &headers, &part))
      continue;
    g_autofree gchar *disposition = NULL;
    GHashTable *params = NULL;
    if (!soup_message_headers_get_content_disposition (headers, &disposition, &params))
      continue;
    const gchar *name = g_hash_table_lookup (params, "name");
    const gchar *filename = g_hash_table_lookup (params, "filename");
    if (name != NULL && strcmp (name, "file") == 0) {
      g_clear_pointer (&upload->file, g_bytes_unref);
      upload->file = g_bytes_ref (part);
      gsize len;
      const guint8 *head = g_bytes_get_data (part, &len);
      upload->suffix = serve_upload_suffix (filename, head, len);
    } else if (name != NULL) {
      gsize len;
      const gchar *value = g_bytes_get_data (part, &len);
      ok = add_field (upload->fields, name, value ? value : "", len, error);
    }
    g_hash_table_unref (params);
  }
  soup_multipart_free (mp);
  return ok;
}

gboolean
serve_upload_parse (SoupServerMessage *msg, ServeUpload *upload, GError **error)
{
  memset (upload, 0, sizeof *upload);
  upload->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  upload->suffix = "";
  GUri *uri = soup_server_message_get_uri (msg);
  const gchar *query = g_uri_get_query (uri);
  if (query != NULL) {
    GHashTable *form = soup_form_decode (query);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init (&it, form);
    gboolean ok = TRUE;
    while (ok && g_hash_table_iter_next (&it, &k, &v))
      ok = add_field (upload->fields, k, v, strlen (v), error);
    g_hash_table_unref (form);
    if (!ok)
      return FALSE;
  }
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  const gchar *type = soup_message_headers_get_content_type (
    soup_server_message_get_request_headers (msg), NULL);
  if (type != NULL && g_ascii_strcasecmp (type, "multipart/form-data") == 0) {
    if (!parse_multipart (msg, bytes, upload, error))
      return FALSE;
  } else if (g_bytes_get_size (bytes) > 0) {
    upload->file = g_bytes_ref (bytes);
    gsize len;
    const guint8 *head = g_bytes_get_data (bytes, &len);
    upload->suffix = serve_upload_suffix (g_hash_table_lookup (upload->fields, "filename"), head,
                                          len);
  }
  if (upload->file == NULL || g_bytes_get_size (upload->file) == 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "no file: send it as the request body or as the form part 'file'");
    return FALSE;
  }
  return TRUE;
}

void
serve_upload_clear (ServeUpload *upload)
{
  g_clear_pointer (&upload->fields, g_hash_table_unref);
  g_clear_pointer (&upload->file, g_bytes_unref);
}

gchar *
serve_upload_dir_new (GError **error)
{
  /* g_dir_make_tmp creates it 0700 */
  return g_dir_make_tmp ("m3ret-serve-XXXXXX", error);
}

void
serve_upload_dir_remove (const gchar *dir)
{
  if (dir == NULL)
    return;
  GDir *d = g_dir_open (dir, 0, NULL);
  if (d != NULL) {
    for (const gchar *name; (name = g_dir_read_name (d)) != NULL;) {
      g_autofree gchar *path = g_build_filename (dir, name, NULL);
      g_unlink (path);
    }
    g_dir_close (d);
  }
  g_rmdir (dir);
}

gchar *
serve_upload_store (const gchar *dir, const ServeUpload *upload, GError **error)
{
  static gint counter;
  for (guint attempt = 0; attempt < 8; attempt++) {
    g_autofree gchar *name = g_strdup_printf ("upload-%u-%08x%s",
                                              (guint) g_atomic_int_add (&counter, 1),
                                              g_random_int (), upload->suffix);
    gchar *path = g_build_filename (dir, name, NULL);
    gint fd = g_open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
      g_free (path);
      continue;
    }
    if (fd < 0) {
      gint err = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "%s: %s", path,
                   g_strerror (err));
      g_free (path);
      return NULL;
    }
    gsize len;
    const guint8 *data = g_bytes_get_data (upload->file, &len);
    gsize done = 0;
    while (done < len) {
      gssize n = write (fd, data + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        gint err = errno;
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (err), "%s: %s", path,
                     g_strerror (err));
        close (fd);
        g_unlink (path);
        g_free (path);
        return NULL;
      }
      done += (gsize) n;
    }
    close (fd);
    return path;
  }
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST, "%s: no free upload name", dir);
  return NULL;
}
