/* rng.c — xoshiro256** seeded by SplitMix64; see m3ret-rng.h. */
#include "config.h"

#include <math.h>

#include "m3ret-rng.h"

static guint64
splitmix64 (guint64 *x)
{
  guint64 z = (*x += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static inline guint64
rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

void
m3ret_rng_init (M3retRng *rng, guint64 seed, guint64 stream)
{
  guint64 x = seed ^ (stream * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);
}

guint64
m3ret_rng_next (M3retRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

gfloat
m3ret_rng_uniform (M3retRng *rng)
{
  return (gfloat) (m3ret_rng_next (rng) >> 40) * (1.0f / 16777216.0f);
}

gdouble
m3ret_rng_uniform_double (M3retRng *rng)
{
  return (gdouble) (m3ret_rng_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

guint64
m3ret_rng_below (M3retRng *rng, guint64 n)
{
  g_return_val_if_fail (n > 0, 0);
  /* reject the top partial block of the 64-bit range */
  guint64 limit = G_MAXUINT64 - G_MAXUINT64 % n;
  guint64 v;
  do
    v = m3ret_rng_next (rng);
  while (v >= limit);
  return v % n;
}

gdouble
m3ret_rng_normal (M3retRng *rng, gdouble mean, gdouble std)
{
  gdouble u1 = 1.0 - m3ret_rng_uniform_double (rng); /* (0, 1] */
  gdouble u2 = m3ret_rng_uniform_double (rng);
  return mean + std * sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

void
m3ret_rng_fill_uniform (M3retRng *rng, float *out, gsize n, gfloat lo, gfloat hi)
{
  for (gsize i = 0; i < n; i++)
    out[i] = lo + (hi - lo) * m3ret_rng_uniform (rng);
}

void
m3ret_rng_fill_normal (M3retRng *rng, float *out, gsize n, gfloat mean, gfloat std)
{
  for (gsize i = 0; i < n; i++)
    out[i] = (float) m3ret_rng_normal (rng, mean, std);
}

void
m3ret_rng_permutation (M3retRng *rng, gint32 *out, gint n)
{
  for (gint i = 0; i < n; i++)
    out[i] = i;
  for (gint i = n - 1; i > 0; i--) {
    gint j = (gint) m3ret_rng_below (rng, (guint64) i + 1);
    gint32 t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
}
