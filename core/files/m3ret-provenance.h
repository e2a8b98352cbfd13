/* m3ret-provenance.h — which encoder made a set of embeddings.
 *
 * Embeddings compare only when one encoder made them: the same weights,
 * fed the same canonical grid and pooled the same way.  A provenance is
 * that identity, one line of text:
 *
 *   m3ret weights=sha256:HEX preset=tiny size=64 depth=16 tubelet=2,8,8 pool=cls
 *
 * where HEX is the SHA-256 of the encoder's tensors (for each, in order:
 * its name, its shape and its float32 values, little-endian).  `m3ret
 * embed` writes it into the .npy header (m3ret-npy.h), `m3ret index`
 * copies it into the index, and `query` and `eval` refuse to mix two.
 */
#ifndef M3RET_PROVENANCE_H
#define M3RET_PROVENANCE_H

#include <glib.h>

#include "m3ret-params.h"

G_BEGIN_DECLS

/* Returns: (transfer full) the provenance line of the tensors in @params
 * used as an encoder with @preset, input @size and @depth, @tubelet
 * (pt, ph, pw) and pooling @pool ("cls", "mean"). */
gchar *m3ret_provenance_of_encoder (const M3retParams *params, const gchar *preset, guint size,
                                    guint depth, const gint tubelet[3], const gchar *pool);

/* TRUE when @text is a provenance line (starts with "m3ret "). */
gboolean m3ret_provenance_is_valid (const gchar *text);

/* Returns: (transfer full) a short form for messages:
 * "weights sha256:1a2b3c4d5e6f, preset tiny, grid 64/16, tubelet 2,8,8, pool cls". */
gchar *m3ret_provenance_describe (const gchar *text);

/* Returns: NULL when @a and @b name the same encoder, else (transfer full)
 * what differs ("the weights differ; pool cls against mean"). */
gchar *m3ret_provenance_difference (const gchar *a, const gchar *b);

G_END_DECLS

#endif /* M3RET_PROVENANCE_H */
