/* plot.c — a small line plot with cairo (loss curves). */
#include "config.h"

#include <cairo.h>
#include <math.h>

#include "m3ret-fileio.h"
#include "surface-private.h"
#include "m3ret-plot.h"

#define W 800
#define H 500
#define LEFT 80.0
#define RIGHT 30.0
#define TOP 50.0
#define BOTTOM 60.0

/* A "nice" tick step (1, 2 or 5 × 10^k) giving about @n ticks over @span. */
static gdouble
tick_step (gdouble span, gint n)
{
  gdouble raw = span / n, mag = pow (10, floor (log10 (raw))), f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void
text_at (cairo_t *cr, gdouble x, gdouble y, const gchar *s, gdouble align_x, gdouble align_y)
{
  cairo_text_extents_t e;
  cairo_text_extents (cr, s, &e);
  cairo_move_to (cr, x - e.width * align_x - e.x_bearing, y - e.height * align_y - e.y_bearing);
  cairo_show_text (cr, s);
}

gboolean
m3ret_plot_curve (const gchar *path, const gchar *title, const gchar *x_label, const gchar *y_label,
                  const gdouble *x, const gdouble *y, gsize n, GError **error)
{
  gdouble x0 = G_MAXDOUBLE, x1 = -G_MAXDOUBLE, y0 = G_MAXDOUBLE, y1 = -G_MAXDOUBLE;
  gsize finite = 0;
  for (gsize i = 0; i < n; i++) {
    if (!isfinite (x[i]) || !isfinite (y[i]))
      continue;
    finite++;
    x0 = MIN (x0, x[i]), x1 = MAX (x1, x[i]);
    y0 = MIN (y0, y[i]), y1 = MAX (y1, y[i]);
  }
  if (finite < 2) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "%s: a plot needs at least 2 finite points, got %zu", path, finite);
    return FALSE;
  }
  if (x1 <= x0)
    x1 = x0 + 1;
  if (y1 - y0 < 1e-12 * MAX (1.0, fabs (y1)))
    y0 -= 0.5, y1 += 0.5;
  gdouble pad = 0.05 * (y1 - y0);
  y0 -= pad, y1 += pad;

  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
  cairo_t *cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

  gdouble pw = W - LEFT - RIGHT, ph = H - TOP - BOTTOM;
#define PX(v) (LEFT + ((v) - x0) / (x1 - x0) * pw)
#define PY(v) (TOP + (1 - ((v) - y0) / (y1 - y0)) * ph)

  /* Grid and tick labels. */
  cairo_set_font_size (cr, 12);
  cairo_set_line_width (cr, 1);
  gdouble ys = tick_step (y1 - y0, 6), xs = tick_step (x1 - x0, 8);
  for (gdouble v = ceil (y0 / ys) * ys; v <= y1; v += ys) {
    cairo_set_source_rgb (cr, 0.9, 0.9, 0.9);
    cairo_move_to (cr, LEFT, PY (v));
    cairo_line_to (cr, LEFT + pw, PY (v));
    cairo_stroke (cr);
    gchar label[32];
    g_snprintf (label, sizeof label, "%.4g", fabs (v) < ys * 1e-6 ? 0.0 : v);
    cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
    text_at (cr, LEFT - 8, PY (v), label, 1.0, 0.5);
  }
  for (gdouble v = ceil (x0 / xs) * xs; v <= x1; v += xs) {
    cairo_set_source_rgb (cr, 0.9, 0.9, 0.9);
    cairo_move_to (cr, PX (v), TOP);
    cairo_line_to (cr, PX (v), TOP + ph);
    cairo_stroke (cr);
    gchar label[32];
    g_snprintf (label, sizeof label, "%.6g", v);
    cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
    text_at (cr, PX (v), TOP + ph + 8, label, 0.5, 0.0);
  }
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_rectangle (cr, LEFT, TOP, pw, ph);
  cairo_stroke (cr);

  /* The curve. */
  cairo_save (cr);
  cairo_rectangle (cr, LEFT, TOP, pw, ph);
  cairo_clip (cr);
  cairo_set_source_rgb (cr, 0.12, 0.35, 0.75);
  cairo_set_line_width (cr, 1.5);
  gboolean started = FALSE;
  for (gsize i = 0; i < n; i++) {
    if (!isfinite (x[i]) || !isfinite (y[i]))
      continue;
    if (started)
      cairo_line_to (cr, PX (x[i]), PY (y[i]));
    else
      cairo_move_to (cr, PX (x[i]), PY (y[i]));
    started = TRUE;
  }
  cairo_stroke (cr);
  cairo_restore (cr);

  /* Title and axis labels. */
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_font_size (cr, 16);
  text_at (cr, LEFT + pw / 2, TOP / 2, title, 0.5, 0.5);
  cairo_set_font_size (cr, 13);
  text_at (cr, LEFT + pw / 2, H - 18, x_label, 0.5, 0.5);
  cairo_save (cr);
  cairo_translate (cr, 20, TOP + ph / 2);
  cairo_rotate (cr, -G_PI / 2);
  text_at (cr, 0, 0, y_label, 0.5, 0.5);
  cairo_restore (cr);
#undef PX
#undef PY

  cairo_destroy (cr);
  gboolean ok = m3ret_surface_write_png (surface, path, error);
  cairo_surface_destroy (surface);
  return ok;
}
