/* m3ret-plot.h — line plots as PNG files, drawn with cairo. */
#ifndef M3RET_PLOT_H
#define M3RET_PLOT_H

#include <glib.h>

G_BEGIN_DECLS

/* Draws y against x (@n points, x increasing) with axes, ticks, labels and
 * @title, and writes a PNG to @path atomically.  Non-finite points are
 * skipped; fewer than 2 finite points is an error. */
gboolean m3ret_plot_curve (const gchar *path, const gchar *title, const gchar *x_label,
                           const gchar *y_label, const gdouble *x, const gdouble *y, gsize n,
                           GError **error);

G_END_DECLS

#endif /* M3RET_PLOT_H */
