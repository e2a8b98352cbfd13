/* test-resample.c — the shared resampler, crop planning, views and intensity
 * helpers against small cases computed by hand. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-check.h"
#include "m3ret-render.h"

#define EPS 1e-5

static M3retVolume *
volume_1d (guint n, const gfloat *values)
{
  M3retVolume *v = m3ret_volume_try_new (1, 1, 1, n);
  for (guint i = 0; i < n; i++)
    v->data[i] = values[i];
  return v;
}

static M3retSample *
resample_1d (const M3retVolume *v, gdouble x0, gdouble x1, guint n_out)
{
  M3retBox box = { x0, x1, 0, 1, 0, 1 };
  M3retSample *s = m3ret_sample_new (1, 1, 1, n_out);
  m3ret_resample (v, &box, -7.0f, s);
  return s;
}

START_TEST (test_identity)
{
  const gfloat values[5] = { 3, -1, 4, 1, 5 };
  g_autoptr (M3retVolume) v = volume_1d (5, values);
  g_autoptr (M3retSample) s = resample_1d (v, 0, 5, 5);
  for (guint i = 0; i < 5; i++)
    ck_assert_float_eq_tol (s->data[i], values[i], EPS);
}
END_TEST

START_TEST (test_upsample_linear)
{
  /* Centres at 0.25, 0.75, 1.25, 1.75 → index −0.25 (edge), 0.25, 0.75, 1.25 (edge). */
  const gfloat values[2] = { 0, 1 };
  g_autoptr (M3retVolume) v = volume_1d (2, values);
  g_autoptr (M3retSample) s = resample_1d (v, 0, 2, 4);
  const gfloat expect[4] = { 0, 0.25f, 0.75f, 1 };
  for (guint i = 0; i < 4; i++)
    ck_assert_float_eq_tol (s->data[i], expect[i], EPS);
}
END_TEST

START_TEST (test_downsample_tent)
{
  /* 4 → 2: tent of half-width 2 around index 0.5 and 2.5; weights
   * (0.25 clamped to 0) + 0.75, 0.75, 0.25 over 2. */
  const gfloat values[4] = { 0, 4, 8, 12 };
  g_autoptr (M3retVolume) v = volume_1d (4, values);
  g_autoptr (M3retSample) s = resample_1d (v, 0, 4, 2);
  ck_assert_float_eq_tol (s->data[0], (0 * 1.0 + 4 * 0.75 + 8 * 0.25) / 2.0, EPS);
  ck_assert_float_eq_tol (s->data[1], (4 * 0.25 + 8 * 0.75 + 12 * 1.0) / 2.0, EPS);
}
END_TEST

START_TEST (test_fill_outside)
{
  const gfloat values[1] = { 2 };
  g_autoptr (M3retVolume) v = volume_1d (1, values);
  g_autoptr (M3retSample) s = resample_1d (v, -1, 2, 3);
  ck_assert_float_eq_tol (s->data[0], -7.0, EPS);
  ck_assert_float_eq_tol (s->data[1], 2.0, EPS);
  ck_assert_float_eq_tol (s->data[2], -7.0, EPS);
}
END_TEST

START_TEST (test_bilinear_centre_and_depth)
{
  /* 2×2 image, one output at the middle: the mean of the four. */
  M3retVolume *v = m3ret_volume_try_new (1, 1, 2, 2);
  v->data[0] = 1, v->data[1] = 2, v->data[2] = 3, v->data[3] = 10;
  M3retBox box = { 0.5, 1.5, 0.5, 1.5, 0, 1 };
  g_autoptr (M3retSample) s = m3ret_sample_new (1, 3, 1, 1);
  m3ret_resample (v, &box, 0.0f, s);
  /* A single slice repeated over 3 frames, as a still becomes T frames. */
  for (guint t = 0; t < 3; t++)
    ck_assert_float_eq_tol (s->data[t], 4.0, EPS);
  m3ret_volume_free (v);

  /* Along depth, the same tent as along width: 4 slices → 2. */
  M3retVolume *z = m3ret_volume_try_new (1, 4, 1, 1);
  for (guint i = 0; i < 4; i++)
    z->data[i] = 4.0f * i;
  M3retBox zb = { 0, 1, 0, 1, 0, 4 };
  g_autoptr (M3retSample) sz = m3ret_sample_new (1, 2, 1, 1);
  m3ret_resample (z, &zb, 0.0f, sz);
  ck_assert_float_eq_tol (sz->data[0], 2.5, EPS);
  ck_assert_float_eq_tol (sz->data[1], 9.5, EPS);
  m3ret_volume_free (z);
}
END_TEST

START_TEST (test_eval_box_respects_spacing)
{
  M3retView view;
  m3ret_view_init_eval (&view, 8, 4, 2);
  M3retBox box;
  /* 4 wide × 2 high, square pixels: the short side is padded. */
  M3retVolume *v = m3ret_volume_try_new (1, 3, 2, 4);
  m3ret_plan_box (v, &view, TRUE, &box);
  ck_assert_float_eq_tol (box.x0, 0, EPS);
  ck_assert_float_eq_tol (box.x1, 4, EPS);
  ck_assert_float_eq_tol (box.y0, -1, EPS);
  ck_assert_float_eq_tol (box.y1, 3, EPS);
  ck_assert_float_eq_tol (box.z0, 0, EPS);
  ck_assert_float_eq_tol (box.z1, 3, EPS);
  /* Pixels twice as tall as wide: physically square, nothing padded. */
  v->spacing[1] = 2.0;
  m3ret_plan_box (v, &view, TRUE, &box);
  ck_assert_float_eq_tol (box.y0, 0, EPS);
  ck_assert_float_eq_tol (box.y1, 2, EPS);
  ck_assert_float_eq_tol (box.x1 - box.x0, 4, EPS);
  m3ret_volume_free (v);
}
END_TEST

START_TEST (test_train_box_scale_and_seed)
{
  M3retVolume *v = m3ret_volume_try_new (1, 10, 20, 20);
  for (guint volumetric = 0; volumetric < 2; volumetric++)
    for (guint32 seed = 0; seed < 50; seed++) {
      GRand *r = g_rand_new_with_seed (seed);
      M3retView view;
      m3ret_view_init_train (&view, 8, 4, 2, 0.2, 0.5, r);
      M3retBox box;
      m3ret_plan_box (v, &view, volumetric, &box);
      gdouble frac = (box.x1 - box.x0) * (box.y1 - box.y0) / 400.0;
      if (volumetric)
        frac *= (box.z1 - box.z0) / 10.0;
      else
        ck_assert_float_eq_tol (box.z1 - box.z0, 10, EPS);
      /* Clamping a side to the whole field can only lower the kept fraction. */
      ck_assert_msg (frac <= 0.5 + EPS && frac > 0.2 * 0.75, "seed %u kept %g", seed, frac);
      ck_assert (box.x0 >= -EPS && box.x1 <= 20 + EPS && box.y0 >= -EPS && box.y1 <= 20 + EPS);
      ck_assert (box.z0 >= -EPS && box.z1 <= 10 + EPS);
      g_rand_free (r);
    }
  m3ret_volume_free (v);
}
END_TEST

START_TEST (test_render_grey_to_three_channels)
{
  M3retVolume *v = m3ret_volume_try_new (1, 1, 4, 4);
  for (guint i = 0; i < 16; i++)
    v->data[i] = i / 15.0f;
  M3retView view;
  m3ret_view_init_eval (&view, 4, 16, 2);
  M3retRenderOptions opts = { .volumetric = FALSE, .mean = { 0.5, 0.25, 0 }, .std = { 0.5, 1, 2 } };
  g_autoptr (M3retSample) s = m3ret_render (v, &view, M3RET_LAYOUT_IMAGE, &opts);
  ck_assert_uint_eq (s->channels, 3);
  ck_assert_uint_eq (s->frames, 2);
  for (guint c = 0; c < 3; c++)
    for (guint t = 0; t < 2; t++)
      for (guint i = 0; i < 16; i++)
        ck_assert_float_eq_tol (s->data[(c * 2 + t) * 16 + i],
                                (i / 15.0 - opts.mean[c]) / opts.std[c], EPS);
  m3ret_volume_free (v);
}
END_TEST

static M3retSample *
render_train (const M3retVolume *v, guint32 seed, const M3retRenderOptions *opts)
{
  GRand *r = g_rand_new_with_seed (seed);
  M3retView view;
  m3ret_view_init_train (&view, 6, 4, 2, 0.3, 0.9, r);
  M3retSample *s = m3ret_render (v, &view, M3RET_LAYOUT_SEQUENCE, opts);
  g_rand_free (r);
  return s;
}

START_TEST (test_train_view_is_seeded)
{
  M3retVolume *v = m3ret_volume_try_new (1, 8, 12, 12);
  for (gsize i = 0; i < m3ret_volume_n_values (v); i++)
    v->data[i] = (gfloat) ((i * 37) % 101) / 100.0f;
  M3retRenderOptions opts = { .volumetric = TRUE, .flips = M3RET_FLIP_X | M3RET_FLIP_Z,
                              .jitter = 0.2, .mean = { 0, 0, 0 }, .std = { 1, 1, 1 } };
  g_autoptr (M3retSample) a = render_train (v, 11, &opts);
  g_autoptr (M3retSample) b = render_train (v, 11, &opts);
  g_autoptr (M3retSample) c = render_train (v, 12, &opts);
  gsize n = m3ret_sample_n_values (a);
  ck_assert_mem_eq (a->data, b->data, n * sizeof (gfloat));
  ck_assert (memcmp (a->data, c->data, n * sizeof (gfloat)) != 0);
  for (gsize i = 0; i < n; i++)
    ck_assert (a->data[i] >= 0.0f && a->data[i] <= 1.0f);
  m3ret_volume_free (v);
}
END_TEST

/* Rendering frames picked from a clip in place gives, bit for bit, what
 * rendering a volume of copies of those frames gives (the video
 * modalities' path), for training views (crop, flips, jitter) and an
 * evaluation view, grey and RGB. */
START_TEST (test_render_frames_in_place)
{
  static const guint frames[5] = { 7, 2, 2, 9, 0 };
  for (guint channels = 1; channels <= 3; channels += 2)
    for (guint32 seed = 0; seed < 6; seed++) {
      M3retVolume *clip = m3ret_volume_try_new (channels, 10, 23, 31);
      clip->spacing[0] = 0.8;
      for (gsize i = 0; i < m3ret_volume_n_values (clip); i++)
        clip->data[i] = (gfloat) ((i * 53 + seed) % 97) / 96.0f;
      M3retVolume *copy = m3ret_volume_try_new (channels, 5, 23, 31);
      copy->spacing[0] = 0.8;
      gsize frame = 23 * 31;
      for (guint c = 0; c < channels; c++)
        for (guint t = 0; t < 5; t++)
          memcpy (copy->data + (c * 5 + t) * frame, clip->data + (c * 10 + frames[t]) * frame,
                  frame * sizeof (gfloat));
      M3retRenderOptions opts = { .volumetric = FALSE, .flips = M3RET_FLIP_X | M3RET_FLIP_Y,
                                  .jitter = 0.3, .mean = { 0.4, 0.5, 0.6 },
                                  .std = { 0.2, 0.3, 0.4 } };
      GRand *ra = g_rand_new_with_seed (seed), *rb = g_rand_new_with_seed (seed);
      M3retView va, vb;
      if (seed == 5) {
        m3ret_view_init_eval (&va, 9, 5, 2);
        m3ret_view_init_eval (&vb, 9, 5, 2);
      } else {
        m3ret_view_init_train (&va, 9, 5, 2, 0.2, 1.0, ra);
        m3ret_view_init_train (&vb, 9, 5, 2, 0.2, 1.0, rb);
      }
      g_autoptr (M3retSample) a = m3ret_render_frames (clip, frames, 5, &va, &opts);
      g_autoptr (M3retSample) b = m3ret_render (copy, &vb, M3RET_LAYOUT_SEQUENCE, &opts);
      ck_assert_uint_eq (m3ret_sample_n_values (a), m3ret_sample_n_values (b));
      ck_assert_mem_eq (a->data, b->data, m3ret_sample_n_values (a) * sizeof (gfloat));
      ck_assert_uint_eq (g_rand_int (ra), g_rand_int (rb)); /* the same draws, in order */
      g_rand_free (ra);
      g_rand_free (rb);
      m3ret_volume_free (clip);
      m3ret_volume_free (copy);
    }
}
END_TEST

START_TEST (test_flips_parse)
{
  M3retFlips f;
  ck_assert (m3ret_flips_from_string ("none", &f) && f == 0);
  ck_assert (m3ret_flips_from_string ("xz", &f) && f == (M3RET_FLIP_X | M3RET_FLIP_Z));
  ck_assert (!m3ret_flips_from_string ("xw", &f));
  ck_assert (!m3ret_flips_from_string ("", &f));
}
END_TEST

START_TEST (test_percentiles_and_window)
{
  M3retVolume *v = m3ret_volume_try_new (1, 1, 10, 10);
  for (guint i = 0; i < 100; i++)
    v->data[i] = (gfloat) (100 - i); /* 100 … 1, unsorted for the selection */
  gdouble lo, hi;
  m3ret_volume_percentiles (v, 0.5, 50, 0, &lo, &hi);
  ck_assert_float_eq_tol (lo, 1.495, EPS);   /* rank 0.495 between 1 and 2 */
  ck_assert_float_eq_tol (hi, 50.5, EPS);
  m3ret_volume_percentiles (v, 0, 100, 0, &lo, &hi);
  ck_assert_float_eq_tol (lo, 1, EPS);
  ck_assert_float_eq_tol (hi, 100, EPS);
  M3retVolumeStats st;
  m3ret_volume_stats (v, &st);
  ck_assert_float_eq_tol (st.mean, 50.5, EPS);
  ck_assert_float_eq_tol (st.min, 1, EPS);
  ck_assert_float_eq_tol (st.max, 100, EPS);
  m3ret_volume_window (v, 11, 91);
  ck_assert_float_eq_tol (v->data[0], 1.0, EPS);   /* 100 clamps */
  ck_assert_float_eq_tol (v->data[49], 0.5, EPS);  /* 51 */
  ck_assert_float_eq_tol (v->data[99], 0.0, EPS);  /* 1 clamps */
  v->data[3] = NAN;
  v->data[4] = INFINITY;
  ck_assert_uint_eq (m3ret_volume_count_nonfinite (v), 2);
  m3ret_volume_free (v);
}
END_TEST

START_TEST (test_select_frames)
{
  M3retView eval;
  m3ret_view_init_eval (&eval, 8, 4, 2);
  guint64 idx[4];
  m3ret_select_frames (10, 4, 1, &eval, idx);
  const guint64 expect[4] = { 1, 3, 6, 8 }; /* floor((i + 0.5) · 2.5) */
  ck_assert_mem_eq (idx, expect, sizeof idx);
  m3ret_select_frames (2, 4, 1, &eval, idx); /* short clips repeat frames */
  const guint64 repeat[4] = { 0, 0, 1, 1 };
  ck_assert_mem_eq (idx, repeat, sizeof idx);
  for (guint32 seed = 0; seed < 20; seed++) {
    GRand *r = g_rand_new_with_seed (seed);
    M3retView train;
    m3ret_view_init_train (&train, 8, 4, 2, 0.5, 1, r);
    m3ret_select_frames (20, 4, 3, &train, idx);
    for (guint i = 1; i < 4; i++)
      ck_assert_uint_eq (idx[i] - idx[i - 1], 3);
    ck_assert_uint_lt (idx[3], 20);
    m3ret_select_frames (7, 4, 5, &train, idx); /* stride shrinks to fit: 2 */
    for (guint i = 1; i < 4; i++)
      ck_assert_uint_eq (idx[i] - idx[i - 1], 2);
    ck_assert_uint_lt (idx[3], 7);
    g_rand_free (r);
  }
}
END_TEST

static Suite *
resample_suite (void)
{
  Suite *s = suite_create ("resample");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_identity);
  tcase_add_test (tc, test_upsample_linear);
  tcase_add_test (tc, test_downsample_tent);
  tcase_add_test (tc, test_fill_outside);
  tcase_add_test (tc, test_bilinear_centre_and_depth);
  tcase_add_test (tc, test_eval_box_respects_spacing);
  tcase_add_test (tc, test_train_box_scale_and_seed);
  tcase_add_test (tc, test_render_grey_to_three_channels);
  tcase_add_test (tc, test_train_view_is_seeded);
  tcase_add_test (tc, test_render_frames_in_place);
  tcase_add_test (tc, test_flips_parse);
  tcase_add_test (tc, test_percentiles_and_window);
  tcase_add_test (tc, test_select_frames);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = resample_suite)
