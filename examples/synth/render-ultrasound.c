/* render-ultrasound.c — a B-mode image: a slice seen by a curved probe on
 * the skin, axial from the patient's front, or coronal through the open
 * fontanelle for the head.
 *
 * Each scan line walks down from the probe through the phantom. Tissue
 * backscatters by its echogenicity times fully developed speckle
 * (Rayleigh amplitude); every change of tissue reflects by the impedance
 * mismatch and passes on the rest, so bone and gas cast shadows, and gas
 * rings with reverberations at multiples of its depth (A-lines). Round-trip
 * attenuation, time-gain compensation, pulse and beam blur, log compression
 * to a random dynamic range, then scan conversion into the fan, 8-bit grey.
 * A cine clip sweeps the probe slowly along the body; the speckle pattern,
 * tied to the probe, stays put while the anatomy moves under it.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "synth-private.h"

#define SCATTER 0.1  /* backscatter relative to a perfect reflector */
#define NOISE 1e-3   /* electronic noise floor, amplitude */

typedef struct {
  guint n_lines, n_samples;
  gdouble *amp; /* n_lines × n_samples */
} Polar;

/* Where the probe sits and how the scanner is set: everything but the frame's speckle. */
typedef struct {
  gdouble lat[3], down[3], across[3]; /* the image plane's axes, and its normal */
  gdouble offset, slide;              /* probe position along @across and @lat */
  gdouble apex[3], rho, depth, half, steer;
  gdouble range_db, gain_db, tgc;
  guint32 speckle_seed;
} Probe;

static inline guint
tissue_at (const SynthPhantom *p, const gdouble q[3])
{
  gdouble h = 2.0 / p->size;
  return synth_phantom_at (p, (gint) floor ((q[0] + 1) / h), (gint) floor ((q[1] + 1) / h),
                           (gint) floor ((q[2] + 1) / h));
}

static void
scan_lines (const SynthPhantom *p, const Probe *probe, GRand *rng, Polar *polar)
{
  const SynthTissueTable *t = &p->tissue;
  gdouble rho = probe->rho, dr = probe->depth / polar->n_samples;
  for (guint l = 0; l < polar->n_lines; l++) {
    gdouble *a = polar->amp + (gsize) l * polar->n_samples;
    gdouble th = -probe->half + 2 * probe->half * (l + 0.5) / polar->n_lines + probe->steer;
    gdouble ray[3];
    for (guint c = 0; c < 3; c++)
      ray[c] = sin (th) * probe->lat[c] + cos (th) * probe->down[c];
    gdouble energy = 1;
    guint prev = SYNTH_SOFT; /* the coupling gel matches soft tissue */
    gboolean rang = FALSE;
    gdouble inside = 0; /* path length through the body so far */
    for (guint s = 0; s < polar->n_samples; s++) {
      gdouble r = rho + (s + 0.5) * dr;
      gdouble q[3] = { probe->apex[0] + r * ray[0], probe->apex[1] + r * ray[1],
                       probe->apex[2] + r * ray[2] };
      guint tis = tissue_at (p, q);
      /* Gel fills the space between the probe's face and the skin, including
       * the voxel steps of the skin where a ray grazes it: no echo, no loss. */
      if (tis == SYNTH_AIR && inside < 0.08)
        continue;
      inside += dr;
      if (tis != prev) {
        gdouble z1 = t->impedance[prev], z2 = t->impedance[tis];
        gdouble refl = fabs ((z2 - z1) / (z2 + z1));
        a[s] += refl * energy;
        if (synth_tissue_is_gas (tis) && !rang) {
          /* The wave bounces between probe and gas: ghost copies further down. */
          rang = TRUE;
          gdouble echo = refl * energy;
          for (guint m = 2; m <= 5; m++) {
            guint sm = (guint) ((m * (r - rho)) / dr);
            echo *= 0.45;
            if (sm < polar->n_samples)
              a[sm] += echo;
          }
        }
        energy *= 1 - refl * refl;
        prev = tis;
      }
      gdouble speckle = sqrt (-2 * log (1 - g_rand_double (rng)));
      a[s] += SCATTER * t->echo[tis] * energy * speckle;
      energy *= exp (-2 * t->us_atten[tis] * dr);
    }
  }
}

/* Pulse length along the line and beam width across lines: [1 2 1]/4 both ways. */
static void
blur (Polar *polar)
{
  guint nl = polar->n_lines, ns = polar->n_samples;
  gdouble *tmp = g_new (gdouble, (gsize) nl * ns);
  for (guint l = 0; l < nl; l++)
    for (guint s = 0; s < ns; s++) {
      const gdouble *a = polar->amp + (gsize) l * ns;
      tmp[(gsize) l * ns + s] = 0.25 * a[s > 0 ? s - 1 : s] + 0.5 * a[s] + 0.25 * a[s + 1 < ns ? s + 1 : s];
    }
  for (guint l = 0; l < nl; l++)
    for (guint s = 0; s < ns; s++) {
      guint lo = l > 0 ? l - 1 : l, hi = l + 1 < nl ? l + 1 : l;
      polar->amp[(gsize) l * ns + s] =
        0.25 * tmp[(gsize) lo * ns + s] + 0.5 * tmp[(gsize) l * ns + s] + 0.25 * tmp[(gsize) hi * ns + s];
    }
  g_free (tmp);
}

/* Puts the probe's face on the skin: walks in along @down from outside the
 * body until the first non-air voxel; the fan's apex lies @rho behind it. */
static void
probe_touch (const SynthPhantom *p, Probe *probe)
{
  gdouble h = 2.0 / p->size, q[3];
  for (guint c = 0; c < 3; c++)
    q[c] = probe->slide * probe->lat[c] + probe->offset * probe->across[c] - 1.2 * probe->down[c];
  for (guint step = 0; step < 3 * p->size && tissue_at (p, q) == SYNTH_AIR; step++)
    for (guint c = 0; c < 3; c++)
      q[c] += 0.5 * h * probe->down[c];
  for (guint c = 0; c < 3; c++)
    probe->apex[c] = q[c] - probe->rho * probe->down[c];
}

static void
set_axes (Probe *probe, gdouble lx, gdouble ly, gdouble lz, gdouble dx, gdouble dy, gdouble dz)
{
  gdouble l[3] = { lx, ly, lz }, d[3] = { dx, dy, dz };
  for (guint c = 0; c < 3; c++) {
    probe->lat[c] = l[c];
    probe->down[c] = d[c];
  }
  probe->across[0] = l[1] * d[2] - l[2] * d[1];
  probe->across[1] = l[2] * d[0] - l[0] * d[2];
  probe->across[2] = l[0] * d[1] - l[1] * d[0];
}

static void
probe_place (const SynthPhantom *p, GRand *rng, Probe *probe)
{
  if (p->region == SYNTH_HEAD) {
    /* Through the open fontanelle at the vertex: a coronal fan looking down. */
    set_axes (probe, 1, 0, 0, 0, 0, -1);
    probe->offset = synth_uniform (rng, -0.04, 0.12);
    probe->slide = synth_uniform (rng, -0.03, 0.03);
  } else {
    /* On the front of the body: an axial fan looking back. */
    set_axes (probe, 1, 0, 0, 0, -1, 0);
    probe->offset = synth_uniform (rng, -0.3, 0.3);
    probe->slide = synth_uniform (rng, -0.25, 0.25);
  }
  probe->rho = 0.15; /* radius of the curved array */
  probe->depth = synth_uniform (rng, 0.8, 1.1);
  probe->half = synth_uniform (rng, 0.5, 0.65);
  probe->steer = synth_normal (rng, 0, 0.08);
  probe->range_db = synth_uniform (rng, 45, 60);
  probe->gain_db = synth_uniform (rng, -4, 4);
  probe->tgc = synth_uniform (rng, 0.8, 1.4);
  probe->speckle_seed = g_rand_int (rng);
  probe_touch (p, probe);
}

/* The fan's pixel spacing in mm; the image is n×n with the apex above its top centre. */
static gdouble
probe_scale (const Probe *probe, guint n)
{
  gdouble far = probe->rho + probe->depth;
  gdouble width = 2 * far * sin (probe->half), top = probe->rho * cos (probe->half);
  return MAX (width, far - top) / n;
}

/* Renders one n×n frame into @pixels. The speckle comes from the probe's own
 * seed, so in a cine loop it stays put while the anatomy moves under it. */
static void
probe_frame (const SynthPhantom *p, const Probe *probe, guint8 *pixels)
{
  guint n = p->size;
  g_autoptr (GRand) rng = g_rand_new_with_seed (probe->speckle_seed);
  Polar polar = { n, 2 * n, g_new0 (gdouble, (gsize) n * 2 * n) };
  scan_lines (p, probe, rng, &polar);
  blur (&polar);
  for (guint l = 0; l < polar.n_lines; l++)
    for (guint s = 0; s < polar.n_samples; s++) {
      gdouble *a = &polar.amp[(gsize) l * polar.n_samples + s];
      gdouble noisy = *a * exp (probe->tgc * (s + 0.5) * probe->depth / polar.n_samples) +
                      NOISE * sqrt (-2 * log (1 - g_rand_double (rng)));
      *a = CLAMP (1 + (20 * log10 (noisy) - probe->gain_db) / probe->range_db, 0, 1);
    }

  /* Scan conversion into the fan. */
  gdouble rho = probe->rho, half = probe->half, far = rho + probe->depth;
  gdouble top = rho * cos (half), scale = probe_scale (probe, n);
  memset (pixels, 0, (gsize) n * n);
  for (guint row = 0; row < n; row++)
    for (guint col = 0; col < n; col++) {
      gdouble u = (col + 0.5 - n / 2.0) * scale, v = top + (row + 0.5) * scale;
      gdouble r = sqrt (u * u + v * v), th = atan2 (u, v);
      if (fabs (th) > half || r < rho || r > far)
        continue;
      gdouble fs = (r - rho) / probe->depth * polar.n_samples - 0.5;
      gdouble fl = (th + half) / (2 * half) * polar.n_lines - 0.5;
      gint s0 = CLAMP ((gint) floor (fs), 0, (gint) polar.n_samples - 2);
      gint l0 = CLAMP ((gint) floor (fl), 0, (gint) polar.n_lines - 2);
      gdouble ws = CLAMP (fs - s0, 0, 1), wl = CLAMP (fl - l0, 0, 1);
      const gdouble *a0 = polar.amp + (gsize) l0 * polar.n_samples;
      const gdouble *a1 = a0 + polar.n_samples;
      gdouble v0 = a0[s0] * (1 - ws) + a0[s0 + 1] * ws, v1 = a1[s0] * (1 - ws) + a1[s0 + 1] * ws;
      pixels[row * n + col] = (guint8) lround (255 * (v0 * (1 - wl) + v1 * wl));
    }
  g_free (polar.amp);
}

void
synth_render_ultrasound (const SynthPhantom *p, GRand *rng, SynthImage *out)
{
  Probe probe;
  probe_place (p, rng, &probe);
  guint n = p->size;
  out->width = out->height = n;
  out->bit_depth = 8;
  out->spacing_mm = probe_scale (&probe, n) * p->fov_mm / 2;
  out->data16 = NULL;
  out->data8 = g_new (guint8, (gsize) n * n);
  probe_frame (p, &probe, out->data8);
}

void
synth_render_ultrasound_cine (const SynthPhantom *p, GRand *rng, guint n_frames, SynthVideo *out)
{
  Probe probe;
  probe_place (p, rng, &probe);
  /* A slow sweep: the probe slides across its plane and a little sideways. */
  gdouble o0 = probe.offset, s0 = probe.slide;
  gdouble reach = p->region == SYNTH_HEAD ? 0.1 : 0.3;
  gdouble dz = synth_uniform (rng, 0.6, 1) * reach / n_frames * (g_rand_boolean (rng) ? 1 : -1);
  gdouble dx = synth_normal (rng, 0, 0.1) / n_frames;
  guint n = p->size;
  gsize plane = (gsize) n * n;
  out->width = out->height = n;
  out->n_frames = n_frames;
  out->fps = 25;
  out->rgb = g_new (guint8, plane * 3 * n_frames);
  g_autofree guint8 *grey = g_new (guint8, plane);
  for (guint f = 0; f < n_frames; f++) {
    probe.offset = o0 + f * dz;
    probe.slide = s0 + f * dx;
    probe_touch (p, &probe);
    probe_frame (p, &probe, grey);
    guint8 *rgb = out->rgb + plane * 3 * f;
    for (gsize i = 0; i < plane; i++)
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grey[i];
  }
}
