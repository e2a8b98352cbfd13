/* montage.c — thumbnails of query results, drawn with cairo. */
#include "config.h"

#include <cairo.h>
#include <math.h>
#include <string.h>

#include "m3ret-fileio.h"
#include "surface-private.h"
#include "m3ret-montage.h"

#define THUMB 128
#define PAD 8
#define CAPTION 34

/* The middle frame of a sample as an RGB24 surface, contrast stretched
 * (samples are standardised per channel, so raw values are not pixels). */
static cairo_surface_t *
thumbnail (const M3retSample *s)
{
  cairo_surface_t *img = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (gint) s->width, (gint) s->height);
  guint t = s->frames / 2;
  gsize plane = (gsize) s->frames * s->height * s->width;
  gfloat lo = G_MAXFLOAT, hi = -G_MAXFLOAT;
  for (guint c = 0; c < s->channels; c++)
    for (gsize i = 0; i < (gsize) s->height * s->width; i++) {
      gfloat v = s->data[c * plane + (gsize) t * s->height * s->width + i];
      lo = MIN (lo, v), hi = MAX (hi, v);
    }
  gfloat scale = hi > lo ? 255.0f / (hi - lo) : 0.0f;
  cairo_surface_flush (img);
  guint8 *px = cairo_image_surface_get_data (img);
  gint stride = cairo_image_surface_get_stride (img);
  for (guint y = 0; y < s->height; y++)
    for (guint x = 0; x < s->width; x++) {
      guint32 rgb = 0;
      for (guint c = 0; c < 3; c++) {
        guint cc = MIN (c, s->channels - 1);
        gfloat v = s->data[cc * plane + ((gsize) t * s->height + y) * s->width + x];
        guint8 b = (guint8) CLAMP ((v - lo) * scale, 0, 255);
        rgb |= (guint32) b << (16 - 8 * c);
      }
      *(guint32 *) (px + y * stride + x * 4) = rgb;
    }
  cairo_surface_mark_dirty (img);
  return img;
}

/* Reads @path through @set as the montage does: its evaluation view on a
 * @size grid.  NULL with @error when it cannot be read. */
static M3retSample *
read_view (const M3retModalities *set, guint size, guint depth, guint image_depth,
           const gchar *modality, const gchar *path, GError **error)
{
  M3retView view;
  m3ret_view_init_eval (&view, size, depth, image_depth);
  M3retSample *sample = NULL;
  if (!m3ret_modalities_read (set, modality, path, &view, 1, &sample, error))
    return NULL;
  return sample;
}

/* Paints @sample's thumbnail scaled into the @side × @side square at (x, y). */
static void
paint_thumbnail (cairo_t *cr, const M3retSample *sample, gdouble x, gdouble y, gdouble side)
{
  cairo_surface_t *img = thumbnail (sample);
  cairo_save (cr);
  cairo_translate (cr, x, y);
  cairo_scale (cr, side / sample->width, side / sample->height);
  cairo_set_source_surface (cr, img, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_BILINEAR);
  cairo_paint (cr);
  cairo_restore (cr);
  cairo_surface_destroy (img);
}

static void
draw_cell (cairo_t *cr, const M3retModalities *set, guint size, guint depth, guint image_depth,
           const M3retMontageCell *cell, guint rank, gdouble x, gdouble y)
{
  cairo_set_source_rgb (cr, 0.15, 0.15, 0.15);
  cairo_rectangle (cr, x, y, THUMB, THUMB);
  cairo_fill (cr);
  M3retSample *sample = NULL;
  if (cell->modality != NULL && *cell->modality &&
      (sample = read_view (set, size, depth, image_depth, cell->modality, cell->path, NULL))) {
    paint_thumbnail (cr, sample, x, y, THUMB);
    m3ret_sample_free (sample);
  } else {
    cairo_set_source_rgb (cr, 0.8, 0.3, 0.3);
    cairo_move_to (cr, x + 8, y + THUMB / 2);
    cairo_show_text (cr, "cannot read");
  }
  gchar line1[64], line2[96];
  if (rank == 0)
    g_snprintf (line1, sizeof line1, "query  %s", cell->modality ? cell->modality : "");
  else
    g_snprintf (line1, sizeof line1, "#%u  %.3f  %s", rank, cell->score,
                cell->modality ? cell->modality : "");
  g_autofree gchar *base = g_path_get_basename (cell->path);
  g_snprintf (line2, sizeof line2, "%s", rank == 0 ? base : cell->label && *cell->label ? cell->label : "(no label)");
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_move_to (cr, x, y + THUMB + 13);
  cairo_show_text (cr, line1);
  cairo_move_to (cr, x, y + THUMB + 27);
  cairo_show_text (cr, line2);
}

gboolean
m3ret_montage_write (const gchar *path, const M3retModalities *set, guint size, guint depth,
                     guint image_depth, const M3retMontageCell *cells, guint n_rows, guint n_cols,
                     GError **error)
{
  g_return_val_if_fail (path != NULL && set != NULL && cells != NULL, FALSE);
  gint w = PAD + (gint) n_cols * (THUMB + PAD), h = PAD + (gint) n_rows * (THUMB + CAPTION + PAD);
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 11);
  for (guint r = 0; r < n_rows; r++)
    for (guint c = 0; c < n_cols; c++) {
      const M3retMontageCell *cell = &cells[r * n_cols + c];
      if (cell->path == NULL)
        continue;
      draw_cell (cr, set, size, depth, image_depth, cell, c, PAD + c * (THUMB + PAD),
                 PAD + r * (THUMB + CAPTION + PAD));
    }
  cairo_destroy (cr);
  gboolean ok = m3ret_surface_write_png (surface, path, error);
  cairo_surface_destroy (surface);
  return ok;
}

static cairo_status_t
append_chunk (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

GBytes *
m3ret_montage_thumbnail_png (const M3retModalities *set, guint size, guint depth,
                             guint image_depth, const gchar *modality, const gchar *path,
                             guint side, GError **error)
{
  g_return_val_if_fail (set != NULL && modality != NULL && path != NULL && side > 0, NULL);
  M3retSample *sample = read_view (set, size, depth, image_depth, modality, path, error);
  if (sample == NULL)
    return NULL;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (gint) side, (gint) side);
  cairo_t *cr = cairo_create (surface);
  paint_thumbnail (cr, sample, 0, 0, side);
  cairo_destroy (cr);
  m3ret_sample_free (sample);
  GByteArray *png = g_byte_array_new ();
  cairo_status_t status = cairo_surface_write_to_png_stream (surface, append_chunk, png);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS) {
    g_byte_array_unref (png);
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s: cannot draw the thumbnail: %s", path,
                 cairo_status_to_string (status));
    return NULL;
  }
  return g_byte_array_free_to_bytes (png);
}
