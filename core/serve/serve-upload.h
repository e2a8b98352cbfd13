/* serve-upload.h — private to `m3ret serve`: a request's file and fields.
 *
 * An upload comes either as the raw request body (fields in the query
 * string) or as multipart/form-data (a part named "file", the other fields
 * as parts).  Nothing of the request ever becomes a path: the bytes go to a
 * private temporary file named by the server in a folder only it can read,
 * and the suffix that file gets (readers tell a .nii.gz or a .png by it) is
 * one of a fixed table, picked by the client's file name or, without one,
 * by the content's first bytes.
 */
#ifndef M3RET_SERVE_UPLOAD_H
#define M3RET_SERVE_UPLOAD_H

#include <glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct {
  GHashTable *fields;   /* name → value (UTF-8 checked), every field but the file */
  GBytes *file;         /* the file's bytes */
  const gchar *suffix;  /* (transfer none) a constant of the suffix table, or "" */
} ServeUpload;

/* Parses @msg's body (read already).  FALSE with @error (G_IO_ERROR_INVALID_DATA,
 * a message for the client) when there is no file or a field is not text. */
gboolean serve_upload_parse (SoupServerMessage *msg, ServeUpload *upload, GError **error);
void serve_upload_clear (ServeUpload *upload);

/* The suffix table's entry for a client's file @name, or for content whose
 * first bytes are @head; "" when neither says. */
const gchar *serve_upload_suffix (const gchar *name, const guint8 *head, gsize head_len);

/* Returns: (transfer full) a private folder for uploads (mode 0700) under
 * the system's temporary folder. */
gchar *serve_upload_dir_new (GError **error);
/* Removes @dir and what is left in it. */
void serve_upload_dir_remove (const gchar *dir);

/* Writes @upload's bytes to a new file of @dir (mode 0600, created
 * exclusively).  Returns: (transfer full) its path. */
gchar *serve_upload_store (const gchar *dir, const ServeUpload *upload, GError **error);

G_END_DECLS

#endif /* M3RET_SERVE_UPLOAD_H */
