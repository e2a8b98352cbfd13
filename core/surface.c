/* surface.c — cairo surfaces to PNG files through the atomic writer. */
#include "config.h"

#include "m3ret-fileio.h"
#include "surface-private.h"

static cairo_status_t
write_chunk (void *closure, const unsigned char *data, unsigned int length)
{
  return m3ret_atomic_file_write (closure, data, length, NULL) ? CAIRO_STATUS_SUCCESS
                                                                : CAIRO_STATUS_WRITE_ERROR;
}

gboolean
m3ret_surface_write_png (cairo_surface_t *surface, const gchar *path, GError **error)
{
  M3retAtomicFile *file = m3ret_atomic_file_new (path, error);
  if (file == NULL)
    return FALSE;
  cairo_status_t status = cairo_surface_write_to_png_stream (surface, write_chunk, file);
  if (status != CAIRO_STATUS_SUCCESS) {
    m3ret_atomic_file_abort (file);
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s: cannot write the PNG: %s", path,
                 cairo_status_to_string (status));
    return FALSE;
  }
  return m3ret_atomic_file_commit (file, error);
}
