/* m3ret-rng.h — the one random number generator of m3ret.
 *
 * Algorithm: xoshiro256** (Blackman & Vigna, 2018), 256 bits of state,
 * period 2^256 − 1.  A generator is seeded from (seed, stream): the four
 * state words are successive outputs of SplitMix64 started at
 * seed ⊕ (stream · 0x9E3779B97F4A7C15), so every consumer of a run (weight
 * init, masking, augmentation, sampling) draws from its own stream of the
 * one `[pipeline] seed` and the streams do not depend on each other's use.
 * Floats take the top 24 bits, doubles the top 53; normals use Box–Muller
 * from two doubles.  The same seed and stream give the same numbers on
 * every machine.
 *
 * M3retRng is a plain value: embed it, copy it to fork a sequence.
 */
#ifndef M3RET_RNG_H
#define M3RET_RNG_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _M3retRng {
  guint64 s[4];
} M3retRng;

/* Well-known stream numbers, so that consumers never collide. */
enum {
  M3RET_RNG_STREAM_INIT = 1,     /* parameter initialisation */
  M3RET_RNG_STREAM_MASK = 2,     /* MAE masks */
  M3RET_RNG_STREAM_AUGMENT = 3,  /* view augmentations */
  M3RET_RNG_STREAM_SAMPLER = 4,  /* data order */
  M3RET_RNG_STREAM_USER = 1000   /* first number free for plugins */
};

/* A run passes its settings' pipeline.seed as @seed. */
void m3ret_rng_init (M3retRng *rng, guint64 seed, guint64 stream);
guint64 m3ret_rng_next (M3retRng *rng);
/* uniform in [0, 1) */
gfloat m3ret_rng_uniform (M3retRng *rng);
gdouble m3ret_rng_uniform_double (M3retRng *rng);
/* uniform integer in [0, n), n ≥ 1, without modulo bias */
guint64 m3ret_rng_below (M3retRng *rng, guint64 n);
/* N(mean, std²) */
gdouble m3ret_rng_normal (M3retRng *rng, gdouble mean, gdouble std);
/* Fills @out with @n uniform values in [lo, hi). */
void m3ret_rng_fill_uniform (M3retRng *rng, float *out, gsize n, gfloat lo, gfloat hi);
void m3ret_rng_fill_normal (M3retRng *rng, float *out, gsize n, gfloat mean, gfloat std);
/* A uniformly random permutation of 0..n−1 into @out (Fisher–Yates). */
void m3ret_rng_permutation (M3retRng *rng, gint32 *out, gint n);

G_END_DECLS

#endif /* M3RET_RNG_H */
