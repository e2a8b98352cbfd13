/* m3ret-raw-features.h — the raw-pixel baseline: what retrieval scores
 * with no encoder at all.
 *
 * Each sample's evaluation view (C×T×H×W on the pipeline's grid, as the
 * encoder would see it) is average-pooled to C×8×8×8 cells (adaptively:
 * cell o of an axis of n values averages values ⌊o·n/8⌋ … ⌈(o+1)·n/8⌉−1,
 * so a still of 2 frames repeats each frame over four cells), the C·512
 * values are z-scored (minus their mean, over their standard deviation)
 * and L2-normalised.  Fixed and documented so that every report's "raw"
 * column means the same thing.
 */
#ifndef M3RET_RAW_FEATURES_H
#define M3RET_RAW_FEATURES_H

#include <glib.h>

#include "m3ret-sample.h"

G_BEGIN_DECLS

/* The checkpoint argument that asks for the raw-pixel baseline. */
#define M3RET_CHECKPOINT_RAW "raw"
/* Cells per axis. */
#define M3RET_RAW_CELLS 8

/* Length of a feature of @channels channels. */
guint m3ret_raw_feature_dim (guint channels);

/* Writes the feature of sample @index of @view into @out
 * (m3ret_raw_feature_dim (view->channels) floats). */
void m3ret_raw_feature (const M3retBatchView *view, guint index, gfloat *out);

/* Returns: (transfer full) the provenance line of raw features on the grid
 * @size², @depth frames (m3ret-provenance.h; weights=raw-pixels). */
gchar *m3ret_raw_provenance (guint size, guint depth, const gint tubelet[3]);

G_END_DECLS

#endif /* M3RET_RAW_FEATURES_H */
