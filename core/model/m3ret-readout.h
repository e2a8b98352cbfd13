/* m3ret-readout.h — the retrieval embedding read out of the encoder's
 * tokens, on the host.
 *
 * What [encoder] pool, pool_cells, readout_block, readout_mean and tta
 * choose (docs/PIPELINE.md; docs/QUALITY.md measures each): which blocks'
 * outputs are read (the final norm applied to their mean), how the tokens
 * become one row, and whether the mirror image's row is averaged in.  Only
 * embedding reads out this way, never training, so the pooling runs on
 * downloaded tokens: a generalised mean and a cell layout need no backend
 * op, and they are checked here against hand-computed values.
 */
#ifndef M3RET_READOUT_H
#define M3RET_READOUT_H

#include <glib.h>

#include "m3ret-settings.h"
#include "m3ret-vit.h"

G_BEGIN_DECLS

typedef struct {
  M3retPool pool;
  gint cells; /* pool=grid: cells per side in-plane */
  gint last;  /* the last block read (1-based; the encoder's depth reads all) */
  gint count; /* blocks averaged, ending at @last */
  M3retTta tta;
} M3retReadout;

/* The read-out [encoder] of @settings asks for, on an encoder of @depth
 * blocks (the relations of the pipeline have checked it). */
void m3ret_readout_from_settings (M3retReadout *readout, const M3retEncoderSettings *settings,
                                  gint depth);

/* GeM's exponent: p = 3, the value of its paper for retrieval. */
#define M3RET_READOUT_GEM_P 3.0f

/* The width of a row: D, 2·D for cls+mean, cells²·D for grid. */
guint m3ret_readout_dim (const M3retReadout *readout, gint dim);

/* @tokens (host, @batch × (1 + gt·gh·gw) × @dim, the CLS first, patch
 * tokens ordered (t, h, w), w fastest; @grid = gt, gh, gw) → @out
 * (@batch × m3ret_readout_dim()), each row L2-normalised.  Grid cells
 * split h and w as evenly as integers allow (cell i of n covers
 * [i·g/n, (i+1)·g/n)) and take every t. */
void m3ret_readout_rows (const M3retReadout *readout, const gfloat *tokens, gint batch,
                         const gint grid[3], gint dim, gfloat *out);

/* One line naming the read-out for the embeddings' provenance: the pool
 * name alone for the default (last block, no averaging, no mirror), so
 * files written before these keys keep their provenance. */
gchar *m3ret_readout_describe (const M3retReadout *readout, gint depth);

G_END_DECLS

#endif /* M3RET_READOUT_H */
