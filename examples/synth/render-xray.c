/* render-xray.c — a radiograph of a phantom, frontal (AP) or lateral.
 *
 * Beer–Lambert: the detector sees N0·exp(−∫μ dl) photons along each ray
 * through the anatomy front to back. μ follows the CT number (water
 * 0.02 /mm), with bone weighted more than at CT energies because
 * photoelectric absorption in calcium grows at radiographic kVp. Then a
 * focal-spot blur, quantum noise, a heel effect across the field, the log
 * transform, and the processing a digital radiography system applies: the
 * exposure scaled to the image's own range, an unsharp mask that brings out
 * edges, and a display curve. 16-bit grey, bone bright and air dark; rows
 * run head to foot; on a frontal film the patient's right is on the
 * viewer's left.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth-private.h"

#define MU_WATER 0.02 /* per mm, around 60 keV */
#define BONE_WEIGHT 2.5

void
synth_image_clear (SynthImage *image)
{
  g_clear_pointer (&image->data8, g_free);
  g_clear_pointer (&image->data16, g_free);
}

static int
compare_doubles (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

/* Mean over a (2r+1)² box around each pixel, edges clamped. */
static void
box_blur (const gdouble *in, gdouble *out, guint n, gint r)
{
  for (guint y = 0; y < n; y++)
    for (guint x = 0; x < n; x++) {
      gdouble acc = 0;
      for (gint dy = -r; dy <= r; dy++)
        for (gint dx = -r; dx <= r; dx++)
          acc += in[CLAMP ((gint) y + dy, 0, (gint) n - 1) * n + CLAMP ((gint) x + dx, 0, (gint) n - 1)];
      out[y * n + x] = acc / ((2 * r + 1) * (2 * r + 1));
    }
}

void
synth_render_xray (const SynthPhantom *p, GRand *rng, SynthImage *out)
{
  guint n = p->size;
  gsize nn = (gsize) n * n;
  gdouble mu[SYNTH_N_TISSUES];
  gdouble dl = p->fov_mm / n;
  for (guint t = 0; t < SYNTH_N_TISSUES; t++) {
    gdouble hu = p->tissue.hu[t];
    mu[t] = MU_WATER * MAX (0.0, 1 + (hu > 0 ? BONE_WEIGHT : 1) * hu / 1000) * dl;
  }

  /* Line integrals, image row 0 at the top of the patient; one film in four
   * is a lateral view, the patient facing the viewer's left. */
  gboolean lateral = g_rand_double (rng) < 0.25;
  gdouble *line = g_new0 (gdouble, nn), *tmp = g_new (gdouble, nn);
  for (guint r = 0; r < n; r++)
    for (guint c = 0; c < n; c++) {
      gdouble sum = 0;
      for (guint a = 0; a < n; a++)
        sum += mu[lateral ? synth_phantom_at (p, a, n - 1 - c, n - 1 - r)
                          : synth_phantom_at (p, n - 1 - c, a, n - 1 - r)];
      line[r * n + c] = sum;
    }
  box_blur (line, tmp, n, 1); /* focal spot */

  gdouble n0 = synth_uniform (rng, 5e3, 3e4), heel = synth_uniform (rng, -0.1, 0.1);
  for (guint r = 0; r < n; r++)
    for (guint c = 0; c < n; c++) {
      gdouble photons = n0 * (1 + heel * (2.0 * r / n - 1)) * exp (-tmp[r * n + c]);
      photons += sqrt (photons) * synth_noise (rng);
      photons = MAX (1.0, photons);
      line[r * n + c] = log (n0 / photons);
    }
  /* Exposure range from the 0.5 and 99.5 percentiles, so a few starved
   * pixels behind thick bone do not set the scale. */
  memcpy (tmp, line, nn * sizeof *tmp);
  qsort (tmp, nn, sizeof *tmp, compare_doubles);
  gdouble lo = tmp[nn / 200], hi = tmp[nn - 1 - nn / 200];
  for (gsize o = 0; o < nn; o++)
    line[o] = CLAMP (line[o], lo, hi);
  box_blur (line, tmp, n, MAX (2, (gint) n / 24));
  gdouble sharpen = synth_uniform (rng, 0.3, 1.2), gamma = synth_uniform (rng, 0.8, 1.25);
  out->width = out->height = n;
  out->bit_depth = 16;
  out->spacing_mm = dl;
  out->data8 = NULL;
  out->data16 = g_new (guint16, nn);
  for (gsize o = 0; o < nn; o++) {
    gdouble v = (line[o] + sharpen * (line[o] - tmp[o]) - lo) / (hi - lo + 1e-9);
    out->data16[o] = (guint16) lround (65535 * pow (CLAMP (v, 0, 1), gamma));
  }
  g_free (line);
  g_free (tmp);
}
