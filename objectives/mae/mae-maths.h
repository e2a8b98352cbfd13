/* mae-maths.h — the host-side parts of MAE that tests check on their own:
 * how many tokens are kept, the per-sample random masking, the per-tubelet
 * target normalisation and the decoder's default size.
 *
 * Private to objectives/mae (a convenience library linked into the plugin
 * and into tests/test-mae).
 */
#ifndef MAE_MATHS_H
#define MAE_MATHS_H

#include <glib.h>

#include "m3ret-rng.h"

G_BEGIN_DECLS

/* Tokens the encoder sees out of @n_tokens: ⌊L·(1 − @mask_ratio)⌋, as
 * MAE's int(L * (1 - mask_ratio)). */
gint mae_n_keep (gint n_tokens, gdouble mask_ratio);

/* The masking stream of optimiser step @step of a run seeded @seed: a
 * function of (seed, step) only, so a resumed run masks as the straight
 * one did. */
void mae_step_rng (M3retRng *rng, guint64 seed, gint64 step);

/* Per sample (in order), @n_tokens uniform draws from @rng; their ascending
 * argsort (ties to the lower index) is ids_shuffle.  Fills, for each of the
 * @batch samples:
 *   @keep    (batch × n_keep): ids_shuffle[:n_keep], the tokens encoded;
 *   @restore (batch × n_tokens): the inverse permutation (ids_restore):
 *     position i of [kept tokens | mask tokens] that token i comes from;
 *   @mask    (batch × n_tokens, may be NULL): 0 for kept, 1 for masked. */
void mae_random_masking (M3retRng *rng, gint batch, gint n_tokens, gint n_keep, gint32 *keep,
                         gint32 *restore, gfloat *mask);

/* Targets of @rows tubelets of @p values: a copy, or with @norm_pix each
 * row minus its mean, divided by sqrt(unbiased variance + 1e-6). */
void mae_patch_targets (const float *patches, gsize rows, gint p, gboolean norm_pix, float *out);

/* Fills the decoder's width, depth and heads for an encoder of width
 * @encoder_dim where the configured value is 0 ("scaled"):
 *   width = 2/3 of the encoder's rounded down to a multiple of 32 (≥ 32),
 *   depth = width/64 (≥ 1), heads = width/32 (≥ 2, lowered until it
 *   divides the width)
 * which gives base 512/8/16, small 256/4/8, tiny 128/2/4, micro 32/1/2. */
void mae_decoder_size (gint encoder_dim, gint *dim, gint *depth, gint *heads);

G_END_DECLS

#endif /* MAE_MATHS_H */
