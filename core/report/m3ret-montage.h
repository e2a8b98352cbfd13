/* m3ret-montage.h — query results as a picture: one row per query. */
#ifndef M3RET_MONTAGE_H
#define M3RET_MONTAGE_H

#include <glib.h>

#include "m3ret-modalities.h"

G_BEGIN_DECLS

/* One cell of the grid: a file, what it is, and its score (NAN for the query). */
typedef struct {
  const gchar *path;
  const gchar *modality;
  const gchar *label;
  gfloat score;
} M3retMontageCell;

/* Draws @n_rows rows of @n_cols cells (row-major in @cells; a NULL path
 * leaves a cell empty) as thumbnails with rank, score and label, and writes
 * a PNG to @path atomically.  Thumbnails are the evaluation view of each
 * file read through @set on a @size grid: the middle frame of videos, the
 * middle slice of volumes. */
gboolean m3ret_montage_write (const gchar *path, const M3retModalities *set, guint size,
                              guint depth, guint image_depth, const M3retMontageCell *cells,
                              guint n_rows, guint n_cols, GError **error);

/* Returns: (transfer full) a PNG of @path's thumbnail as the montage draws
 * it (the same view, middle frame or slice, contrast stretch), scaled to
 * @side × @side; NULL with @error when the file cannot be read as @modality. */
GBytes *m3ret_montage_thumbnail_png (const M3retModalities *set, guint size, guint depth,
                                     guint image_depth, const gchar *modality, const gchar *path,
                                     guint side, GError **error);

G_END_DECLS

#endif /* M3RET_MONTAGE_H */
