/* surface-private.h — writing cairo surfaces (plots, montages) to PNG files. */
#ifndef M3RET_SURFACE_PRIVATE_H
#define M3RET_SURFACE_PRIVATE_H

#include <cairo.h>
#include <glib.h>

/* Writes @surface as a PNG to @path atomically (nothing is left behind on failure). */
gboolean m3ret_surface_write_png (cairo_surface_t *surface, const gchar *path, GError **error);

#endif
