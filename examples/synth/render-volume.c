/* render-volume.c — CT and MRI volumes of a phantom.
 *
 * Both take the same anatomy on an anisotropic grid: full resolution in the
 * axial plane, slices twice as thick (each averages two phantom layers, the
 * partial-volume effect of a thick slice), so readers must honour pixdim.
 * CT: CT numbers in HU with Gaussian noise, -1024 outside the circular
 * reconstruction field. MRI: T1- or T2-weighted contrast in arbitrary
 * scanner units, a smooth multiplicative bias field and Rician noise.
 */
#include "config.h"

#include <math.h>

#include "synth-private.h"

void
synth_volume_clear (SynthVolume *volume)
{
  g_clear_pointer (&volume->data, g_free);
}

static void
volume_init (SynthVolume *v, const SynthPhantom *p)
{
  guint n = p->size;
  v->nx = n;
  v->ny = n;
  v->nz = n / 2;
  v->spacing[0] = v->spacing[1] = p->fov_mm / n;
  v->spacing[2] = 2 * p->fov_mm / n;
  v->data = g_new (gint16, (gsize) v->nx * v->ny * v->nz);
}

/* Mean of @value over the two phantom layers that make slice @k at (i, j). */
static inline gdouble
thick (const SynthPhantom *p, const gdouble *value, guint i, guint j, guint k)
{
  return 0.5 * (value[synth_phantom_at (p, i, j, 2 * k)] + value[synth_phantom_at (p, i, j, 2 * k + 1)]);
}

static gint16
clamp16 (gdouble v, gdouble lo, gdouble hi)
{
  return (gint16) lround (CLAMP (v, lo, hi));
}

void
synth_render_ct (const SynthPhantom *p, GRand *rng, SynthVolume *out)
{
  volume_init (out, p);
  gdouble sigma = synth_uniform (rng, 6, 20);
  gdouble half = out->nx / 2.0;
  gsize o = 0;
  for (guint k = 0; k < out->nz; k++)
    for (guint j = 0; j < out->ny; j++)
      for (guint i = 0; i < out->nx; i++, o++) {
        gdouble dx = i + 0.5 - half, dy = j + 0.5 - half;
        if (dx * dx + dy * dy > half * half) {
          out->data[o] = -1024;
          continue;
        }
        gdouble hu = thick (p, p->tissue.hu, i, j, k) + sigma * synth_noise (rng);
        out->data[o] = clamp16 (hu, -1024, 3071);
      }
}

void
synth_render_mri (const SynthPhantom *p, GRand *rng, SynthVolume *out)
{
  volume_init (out, p);
  const gdouble *signal = g_rand_boolean (rng) ? p->tissue.t1w : p->tissue.t2w;
  /* Receive-coil bias: a smooth, low-order field of ±30% or so. */
  gdouble a[6];
  for (guint c = 0; c < 6; c++)
    a[c] = synth_normal (rng, 0, 0.12);
  gdouble sigma = synth_uniform (rng, 0.01, 0.035);
  gdouble gain = synth_uniform (rng, 800, 3000);
  gsize plane = (gsize) out->nx * out->ny, o = 0;
  gdouble *bias = g_new (gdouble, plane);
  for (guint j = 0; j < out->ny; j++)
    for (guint i = 0; i < out->nx; i++) {
      gdouble x = 2.0 * (i + 0.5) / out->nx - 1, y = 2.0 * (j + 0.5) / out->ny - 1;
      bias[j * out->nx + i] = exp (a[0] * x + a[1] * y + a[3] * x * x + a[4] * y * y + a[5] * x * y);
    }
  for (guint k = 0; k < out->nz; k++) {
    gdouble along = exp (a[2] * (2.0 * (k + 0.5) / out->nz - 1));
    for (guint j = 0; j < out->ny; j++)
      for (guint i = 0; i < out->nx; i++, o++) {
        gdouble s = thick (p, signal, i, j, k) * bias[o % plane] * along;
        /* Magnitude of a complex signal with Gaussian noise on both parts. */
        gdouble re = s + synth_normal (rng, 0, sigma), im = sigma * synth_noise (rng);
        out->data[o] = clamp16 (gain * sqrt (re * re + im * im), 0, 32767);
      }
  }
  g_free (bias);
}
