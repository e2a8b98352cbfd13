/* surface.c — cairo surfaces to PNG files through the atomic writer. */
#include "config.h"

#include "m3ret-fileio.h"
#include "surface-private.h"

typedef struct {
  M3retAtomicFile *file;
  GError *error; /* the first write error, which cairo's status cannot carry */
} PngSink;

static cairo_status_t
write_chunk (void *closure, const unsigned char *data, unsigned int length)
{
  PngSink *sink = closure;
  if (sink->error == NULL && m3ret_atomic_file_write (sink->file, data, length, &sink->error))
    return CAIRO_STATUS_SUCCESS;
  return CAIRO_STATUS_WRITE_ERROR;
}

gboolean
m3ret_surface_write_png (cairo_surface_t *surface, const gchar *path, GError **error)
{
  PngSink sink = { m3ret_atomic_file_new (path, error), NULL };
  if (sink.file == NULL)
    return FALSE;
  cairo_status_t status = cairo_surface_write_to_png_stream (surface, write_chunk, &sink);
  if (status != CAIRO_STATUS_SUCCESS) {
    m3ret_atomic_file_abort (sink.file);
    if (sink.error != NULL)
      g_propagate_error (error, sink.error);
    else
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s: cannot write the PNG: %s", path,
                   cairo_status_to_string (status));
    return FALSE;
  }
  return m3ret_atomic_file_commit (sink.file, error);
}
