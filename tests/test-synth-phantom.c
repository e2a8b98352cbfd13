/* test-synth-phantom.c — the phantom library and the volume renderers, in process:
 * each region holds its organs, instances vary, seeds repeat, CT numbers land
 * on the tissue table. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-check.h"
#include "synth-private.h"

#define N 32

static guint
count (const SynthPhantom *p, SynthTissue t)
{
  guint c = 0;
  for (gsize i = 0; i < (gsize) N * N * N; i++)
    c += p->label[i] == t;
  return c;
}

static SynthPhantom *
instance (SynthRegion region, guint index)
{
  g_autoptr (GRand) rng = synth_rng_new (11, 99, region, index);
  return synth_phantom_new (region, N, rng);
}

START_TEST (test_regions_hold_their_organs)
{
  /* The tissue each region must show, and one it must not. */
  const struct { SynthRegion region; SynthTissue has, lacks; } want[] = {
    { SYNTH_HEAD, SYNTH_WHITE, SYNTH_LUNG },     { SYNTH_CHEST, SYNTH_LUNG, SYNTH_LIVER },
    { SYNTH_ABDOMEN, SYNTH_LIVER, SYNTH_WHITE }, { SYNTH_PELVIS, SYNTH_FLUID, SYNTH_LUNG },
    { SYNTH_KNEE, SYNTH_CARTILAGE, SYNTH_LIVER },
  };
  for (guint w = 0; w < G_N_ELEMENTS (want); w++)
    for (guint i = 0; i < 3; i++) {
      SynthPhantom *p = instance (want[w].region, i);
      const gchar *name = synth_region_name (p->region);
      ck_assert_msg (count (p, want[w].has) > 5, "%s %u: %u voxels of tissue %d", name, i,
                     count (p, want[w].has), want[w].has);
      ck_assert_msg (count (p, want[w].lacks) == 0, "%s %u has tissue %d", name, i, want[w].lacks);
      ck_assert_msg (count (p, SYNTH_BONE) > 0, "%s %u has no bone", name, i);
      /* The patient lies inside the field of view: its corners are air. */
      ck_assert_uint_eq (synth_phantom_at (p, 0, 0, N / 2), SYNTH_AIR);
      ck_assert_uint_eq (synth_phantom_at (p, N - 1, N - 1, N / 2), SYNTH_AIR);
      ck_assert_msg (p->fov_mm > 150 && p->fov_mm < 450, "%s fov %g", name, p->fov_mm);
      synth_phantom_free (p);
    }
}
END_TEST

START_TEST (test_instances_vary_seeds_repeat)
{
  for (SynthRegion r = 0; r < SYNTH_N_REGIONS; r++) {
    SynthPhantom *a = instance (r, 0), *b = instance (r, 0), *c = instance (r, 1);
    gsize n = (gsize) N * N * N, differ = 0;
    ck_assert_msg (memcmp (a->label, b->label, n) == 0, "%s: same seed, other anatomy",
                   synth_region_name (r));
    ck_assert (a->fov_mm == b->fov_mm && a->tissue.hu[SYNTH_FAT] == b->tissue.hu[SYNTH_FAT]);
    for (gsize i = 0; i < n; i++)
      differ += a->label[i] != c->label[i];
    ck_assert_msg (differ > n / 100, "%s: instances differ in %" G_GSIZE_FORMAT " voxels only",
                   synth_region_name (r), differ);
    synth_phantom_free (a);
    synth_phantom_free (b);
    synth_phantom_free (c);
  }
}
END_TEST

START_TEST (test_ct_numbers_follow_tissues)
{
  SynthPhantom *p = instance (SYNTH_ABDOMEN, 2);
  g_autoptr (GRand) rng = synth_rng_new (1, 2, 3, 4);
  SynthVolume v = { 0 };
  synth_render_ct (p, rng, &v);
  ck_assert_uint_eq (v.nx, N);
  ck_assert_uint_eq (v.ny, N);
  ck_assert_uint_eq (v.nz, N / 2);
  ck_assert (fabs (v.spacing[0] - p->fov_mm / N) < 1e-9 && fabs (v.spacing[2] - 2 * v.spacing[0]) < 1e-9);
  /* Slice k averages phantom layers 2k and 2k+1: where both are liver, the
   * mean CT number is the instance's liver value, noise averaged out. */
  const SynthTissue tissues[] = { SYNTH_LIVER, SYNTH_FAT, SYNTH_MUSCLE };
  for (guint t = 0; t < G_N_ELEMENTS (tissues); t++) {
    gdouble sum = 0;
    guint n = 0;
    for (guint k = 0; k < v.nz; k++)
      for (guint j = 0; j < N; j++)
        for (guint i = 0; i < N; i++)
          if (synth_phantom_at (p, i, j, 2 * k) == tissues[t] &&
              synth_phantom_at (p, i, j, 2 * k + 1) == tissues[t]) {
            gdouble dx = i + 0.5 - N / 2.0, dy = j + 0.5 - N / 2.0;
            if (dx * dx + dy * dy <= N * N / 4.0) {
              sum += v.data[((gsize) k * N + j) * N + i];
              n++;
            }
          }
    ck_assert_uint_gt (n, 30);
    ck_assert_msg (fabs (sum / n - p->tissue.hu[tissues[t]]) < 6, "tissue %d: mean %g HU, table %g HU",
                   tissues[t], sum / n, p->tissue.hu[tissues[t]]);
  }
  synth_volume_clear (&v);
  synth_phantom_free (p);
}
END_TEST

START_TEST (test_mri_contrast_and_bias)
{
  SynthPhantom *p = instance (SYNTH_HEAD, 0);
  g_autoptr (GRand) rng = synth_rng_new (5, 6, 7, 8);
  SynthVolume v = { 0 };
  synth_render_mri (p, rng, &v);
  /* Magnitude images are never negative; CSF and white matter differ in signal. */
  gdouble csf = 0, white = 0;
  guint nc = 0, nw = 0;
  for (guint k = 0; k < v.nz; k++)
    for (guint j = 0; j < N; j++)
      for (guint i = 0; i < N; i++) {
        gint16 x = v.data[((gsize) k * N + j) * N + i];
        ck_assert_int_ge (x, 0);
        SynthTissue a = synth_phantom_at (p, i, j, 2 * k), b = synth_phantom_at (p, i, j, 2 * k + 1);
        if (a == b && a == SYNTH_FLUID) {
          csf += x;
          nc++;
        } else if (a == b && a == SYNTH_WHITE) {
          white += x;
          nw++;
        }
      }
  ck_assert (nc > 0 && nw > 0);
  csf /= nc;
  white /= nw;
  ck_assert_msg (fabs (csf - white) > 0.2 * MAX (csf, white), "CSF %g, white matter %g", csf, white);
  synth_volume_clear (&v);
  synth_phantom_free (p);
}
END_TEST

static Suite *
phantom_suite (void)
{
  Suite *s = suite_create ("synth-phantom");
  TCase *tc = tcase_create ("phantom");
  tcase_add_test (tc, test_regions_hold_their_organs);
  tcase_add_test (tc, test_instances_vary_seeds_repeat);
  tcase_add_test (tc, test_ct_numbers_follow_tissues);
  tcase_add_test (tc, test_mri_contrast_and_bias);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = phantom_suite)
