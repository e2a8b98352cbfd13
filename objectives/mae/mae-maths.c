/* mae-maths.c — masking, targets and the decoder's default size (see
 * mae-maths.h). */
#include "config.h"

#include <math.h>
#include <stdlib.h>

#include "mae-maths.h"

/* An odd constant, so step ↦ step·K is one-to-one on 64 bits. */
#define MAE_STEP_MIX G_GUINT64_CONSTANT (0xD1B54A32D192ED03)

gint
mae_n_keep (gint n_tokens, gdouble mask_ratio)
{
  return (gint) ((gdouble) n_tokens * (1.0 - mask_ratio));
}

void
mae_step_rng (M3retRng *rng, guint64 seed, gint64 step)
{
  m3ret_rng_init (rng, seed ^ ((guint64) step * MAE_STEP_MIX), M3RET_RNG_STREAM_MASK);
}

typedef struct {
  gdouble noise;
  gint32 index;
} Draw;

static int
draw_compare (const void *a, const void *b)
{
  const Draw *x = a, *y = b;
  if (x->noise != y->noise)
    return x->noise < y->noise ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

void
mae_random_masking (M3retRng *rng, gint batch, gint n_tokens, gint n_keep, gint32 *keep,
                    gint32 *restore, gfloat *mask)
{
  Draw *draws = g_new (Draw, n_tokens);
  for (gint b = 0; b < batch; b++) {
    for (gint i = 0; i < n_tokens; i++) {
      draws[i].noise = m3ret_rng_uniform_double (rng);
      draws[i].index = i;
    }
    qsort (draws, (gsize) n_tokens, sizeof (Draw), draw_compare);
    /* draws[j].index is ids_shuffle[j]; its inverse is ids_restore */
    for (gint j = 0; j < n_tokens; j++) {
      gint32 token = draws[j].index;
      if (j < n_keep)
        keep[(gsize) b * n_keep + j] = token;
      restore[(gsize) b * n_tokens + token] = j;
      if (mask != NULL)
        mask[(gsize) b * n_tokens + token] = j < n_keep ? 0.0f : 1.0f;
    }
  }
  g_free (draws);
}

void
mae_patch_targets (const float *patches, gsize rows, gint p, gboolean norm_pix, float *out)
{
  for (gsize r = 0; r < rows; r++) {
    const float *x = patches + r * p;
    float *y = out + r * p;
    if (!norm_pix || p < 2) {
      for (gint c = 0; c < p; c++)
        y[c] = x[c];
      continue;
    }
    /* sums over four double lanes, so the loops vectorise */
    gdouble lane[4] = { 0 };
    gint c = 0;
    for (; c + 4 <= p; c += 4)
      for (gint l = 0; l < 4; l++)
        lane[l] += x[c + l];
    gdouble mean = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    for (; c < p; c++)
      mean += x[c];
    mean /= p;
    for (gint l = 0; l < 4; l++)
      lane[l] = 0.0;
    for (c = 0; c + 4 <= p; c += 4)
      for (gint l = 0; l < 4; l++)
        lane[l] += (x[c + l] - mean) * (x[c + l] - mean);
    gdouble ss = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    for (; c < p; c++)
      ss += (x[c] - mean) * (x[c] - mean);
    gdouble inv = 1.0 / sqrt (ss / (p - 1) + 1e-6);
    for (c = 0; c < p; c++)
      y[c] = (float) ((x[c] - mean) * inv);
  }
}

void
mae_decoder_size (gint encoder_dim, gint *dim, gint *depth, gint *heads)
{
  if (*dim <= 0)
    *dim = MAX (32, (2 * encoder_dim / 3) / 32 * 32);
  if (*depth <= 0)
    *depth = MAX (1, *dim / 64);
  if (*heads <= 0) {
    *heads = MAX (2, *dim / 32);
    while (*heads > 1 && *dim % *heads != 0)
      (*heads)--;
  }
}
