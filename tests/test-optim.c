/* test-optim.c — AdamW against hand-computed steps, decay exclusions,
 * schedules, gradient clipping, the EMA, and the RNG. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-check.h"

static M3retRegistry *registry;

static M3retDevice *
new_device (void)
{
  g_autoptr (GError) error = NULL;
  M3retDevice *device = m3ret_device_new_by_name (registry, "cpu", 1, NULL, &error);
  ck_assert_msg (device != NULL, "%s", error ? error->message : "");
  return device;
}

/* Two AdamW steps on w (2×2, decayed) and b (2, not decayed), against the
 * formulas written out by hand in double. */
START_TEST (test_adamw_by_hand)
{
  M3retDevice *device = new_device ();
  M3retParams *params = m3ret_params_new (device);
  gint64 ws[2] = { 2, 2 }, bs[1] = { 2 };
  M3retTensor *w = m3ret_params_add (params, "w", 2, ws, TRUE, NULL);
  M3retTensor *b = m3ret_params_add (params, "b", 1, bs, TRUE, NULL);
  ck_assert (m3ret_params_get_decay (params, 0));
  ck_assert (!m3ret_params_get_decay (params, 1));
  float w0[4] = { 1.0f, -2.0f, 0.5f, 3.0f }, b0[2] = { 0.25f, -0.75f };
  float gw[2][4] = { { 0.5f, 0.1f, -0.3f, 0.0f }, { -0.2f, 0.4f, 0.3f, 1.0f } };
  float gb[2][2] = { { 1.0f, -1.0f }, { 0.5f, 0.5f } };
  m3ret_tensor_upload (w, w0);
  m3ret_tensor_upload (b, b0);
  const double lr = 0.1, wd = 0.05, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  M3retAdamW *opt = m3ret_adamw_new (params, b1, b2, eps, NULL);

  double pw[4], pb[2], mw[4] = { 0 }, vw[4] = { 0 }, mb[2] = { 0 }, vb[2] = { 0 };
  for (gint i = 0; i < 4; i++)
    pw[i] = w0[i];
  for (gint i = 0; i < 2; i++)
    pb[i] = b0[i];
  for (gint t = 1; t <= 2; t++) {
    m3ret_device_upload (device, w->grad, gw[t - 1], sizeof gw[0]);
    m3ret_device_upload (device, b->grad, gb[t - 1], sizeof gb[0]);
    m3ret_adamw_step (opt, lr, wd);
    double c1 = 1 - pow (b1, t), c2 = 1 - pow (b2, t);
    for (gint i = 0; i < 4; i++) {
      double g = gw[t - 1][i];
      pw[i] -= lr * wd * pw[i];
      mw[i] = b1 * mw[i] + (1 - b1) * g;
      vw[i] = b2 * vw[i] + (1 - b2) * g * g;
      pw[i] -= lr * (mw[i] / c1) / (sqrt (vw[i] / c2) + eps);
    }
    for (gint i = 0; i < 2; i++) {
      double g = gb[t - 1][i];
      mb[i] = b1 * mb[i] + (1 - b1) * g;
      vb[i] = b2 * vb[i] + (1 - b2) * g * g;
      pb[i] -= lr * (mb[i] / c1) / (sqrt (vb[i] / c2) + eps);
    }
    if (t == 1) {
      /* the first step moves each undecayed value by lr against its
       * gradient's sign (m̂/√v̂ = g/|g|): 0.25 → 0.15, −0.75 → −0.65 */
      float first[2];
      m3ret_tensor_download (b, first);
      ck_assert_float_eq_tol (first[0], 0.15f, 1e-6f);
      ck_assert_float_eq_tol (first[1], -0.65f, 1e-6f);
    }
  }
  ck_assert_int_eq (m3ret_adamw_get_step (opt), 2);
  float got_w[4], got_b[2];
  m3ret_tensor_download (w, got_w);
  m3ret_tensor_download (b, got_b);
  for (gint i = 0; i < 4; i++)
    ck_assert_double_eq_tol (got_w[i], pw[i], 1e-6);
  for (gint i = 0; i < 2; i++)
    ck_assert_double_eq_tol (got_b[i], pb[i], 1e-6);
  m3ret_adamw_free (opt);
  m3ret_params_free (params);
  m3ret_device_free (device);
}
END_TEST

START_TEST (test_weight_decay_only)
{
  /* zero gradients: decayed tensors shrink by (1 − lr·wd), the others stay */
  M3retDevice *device = new_device ();
  M3retParams *params = m3ret_params_new (device);
  gint64 ws[2] = { 1, 3 }, bs[1] = { 3 };
  M3retTensor *w = m3ret_params_add (params, "blocks.0.mlp.fc1.weight", 2, ws, TRUE, NULL);
  M3retTensor *b = m3ret_params_add (params, "blocks.0.mlp.fc1.bias", 1, bs, TRUE, NULL);
  m3ret_params_init_constant (w, 2.0f);
  m3ret_params_init_constant (b, 2.0f);
  M3retAdamW *opt = m3ret_adamw_new (params, 0.9, 0.95, 1e-8, NULL);
  m3ret_adamw_step (opt, 0.5, 0.1);
  float hw[3], hb[3];
  m3ret_tensor_download (w, hw);
  m3ret_tensor_download (b, hb);
  for (gint i = 0; i < 3; i++) {
    ck_assert_float_eq_tol (hw[i], 2.0f * (1.0f - 0.05f), 1e-7f);
    ck_assert_float_eq (hb[i], 2.0f);
  }
  m3ret_adamw_free (opt);
  m3ret_params_free (params);
  m3ret_device_free (device);
}
END_TEST

START_TEST (test_schedules)
{
  /* warm-up then cosine */
  ck_assert_double_eq (m3ret_schedule_warmup_cosine (0, 10, 110, 1e-3, 1e-5), 0.0);
  ck_assert_double_eq_tol (m3ret_schedule_warmup_cosine (5, 10, 110, 1e-3, 1e-5), 5e-4, 1e-15);
  ck_assert_double_eq_tol (m3ret_schedule_warmup_cosine (10, 10, 110, 1e-3, 1e-5), 1e-3, 1e-15);
  ck_assert_double_eq_tol (m3ret_schedule_warmup_cosine (60, 10, 110, 1e-3, 1e-5),
                           (1e-3 + 1e-5) / 2, 1e-12);
  ck_assert_double_eq_tol (m3ret_schedule_warmup_cosine (110, 10, 110, 1e-3, 1e-5), 1e-5, 1e-15);
  ck_assert_double_eq_tol (m3ret_schedule_warmup_cosine (500, 10, 110, 1e-3, 1e-5), 1e-5, 1e-15);
  /* EMA momentum 0.996 → 1, weight decay 0.04 → 0.4: monotone, quarter point by cos */
  gdouble prev = 0;
  for (gint s = 0; s <= 100; s++) {
    gdouble m = m3ret_schedule_cosine (s, 100, 0.996, 1.0);
    ck_assert (m >= prev);
    prev = m;
  }
  ck_assert_double_eq_tol (m3ret_schedule_cosine (25, 100, 0.04, 0.4),
                           0.4 + (0.04 - 0.4) * 0.5 * (1 + cos (G_PI / 4)), 1e-12);
  ck_assert_double_eq_tol (m3ret_lr_for_batch (1.5e-4, 512), 3e-4, 1e-15);
}
END_TEST

START_TEST (test_clip_and_ema)
{
  M3retDevice *device = new_device ();
  M3retParams *student = m3ret_params_new (device), *teacher = m3ret_params_new (device);
  gint64 s1[1] = { 2 }, s2[2] = { 1, 1 };
  M3retTensor *a = m3ret_params_add (student, "a", 1, s1, TRUE, NULL);
  M3retTensor *b = m3ret_params_add (student, "b", 2, s2, TRUE, NULL);
  M3retTensor *ta = m3ret_params_add (teacher, "a", 1, s1, TRUE, NULL);
  ck_assert_ptr_nonnull (m3ret_params_add (teacher, "b", 2, s2, TRUE, NULL));
  /* gradients (3, 0) and (4): global norm 5 */
  float ga[2] = { 3, 0 }, gb[1] = { 4 };
  m3ret_device_upload (device, a->grad, ga, sizeof ga);
  m3ret_device_upload (device, b->grad, gb, sizeof gb);
  ck_assert_double_eq_tol (m3ret_params_grad_norm (student), 5.0, 1e-6);
  ck_assert_double_eq_tol (m3ret_params_clip_grad_norm (student, 1.0), 5.0, 1e-6);
  ck_assert_double_eq_tol (m3ret_params_grad_norm (student), 1.0, 1e-5);
  /* under the limit nothing changes */
  ck_assert_double_eq_tol (m3ret_params_clip_grad_norm (student, 10.0), 1.0, 1e-5);
  ck_assert_double_eq_tol (m3ret_params_grad_norm (student), 1.0, 1e-5);
  m3ret_params_zero_grad (student);
  ck_assert_double_eq (m3ret_params_grad_norm (student), 0.0);

  float va[2] = { 1, 2 }, vt[2] = { 10, 20 };
  m3ret_tensor_upload (a, va);
  ck_assert (m3ret_params_copy (teacher, student, NULL));
  float got[2];
  m3ret_tensor_download (ta, got);
  ck_assert_float_eq (got[0], 1.0f);
  m3ret_tensor_upload (ta, vt);
  m3ret_params_ema (teacher, student, 0.9);
  m3ret_tensor_download (ta, got);
  ck_assert_float_eq_tol (got[0], 0.9f * 10 + 0.1f * 1, 1e-6f);
  ck_assert_float_eq_tol (got[1], 0.9f * 20 + 0.1f * 2, 1e-6f);
  /* a teacher of another layout is refused */
  M3retParams *other = m3ret_params_new (device);
  g_autoptr (GError) error = NULL;
  ck_assert_ptr_nonnull (m3ret_params_add (other, "a", 1, s1, TRUE, NULL));
  ck_assert (!m3ret_params_copy (other, student, &error));
  ck_assert_ptr_nonnull (error);
  m3ret_params_free (other);
  m3ret_params_free (teacher);
  m3ret_params_free (student);
  m3ret_device_free (device);
}
END_TEST

START_TEST (test_rng)
{
  M3retRng a, b, c;
  m3ret_rng_init (&a, 42, 1);
  m3ret_rng_init (&b, 42, 1);
  m3ret_rng_init (&c, 42, 2);
  gboolean differ = FALSE;
  for (gint i = 0; i < 100; i++) {
    guint64 x = m3ret_rng_next (&a), y = m3ret_rng_next (&b), z = m3ret_rng_next (&c);
    ck_assert_uint_eq (x, y);
    differ |= x != z;
  }
  ck_assert (differ);
  /* moments of uniform and normal draws */
  double s = 0, ss = 0, n_s = 0, n_ss = 0;
  const gint n = 200000;
  for (gint i = 0; i < n; i++) {
    double u = m3ret_rng_uniform (&a);
    ck_assert (u >= 0.0 && u < 1.0);
    s += u;
    ss += u * u;
    double g = m3ret_rng_normal (&a, 1.0, 2.0);
    n_s += g;
    n_ss += g * g;
  }
  ck_assert_double_eq_tol (s / n, 0.5, 0.005);
  ck_assert_double_eq_tol (ss / n - (s / n) * (s / n), 1.0 / 12, 0.002);
  ck_assert_double_eq_tol (n_s / n, 1.0, 0.02);
  ck_assert_double_eq_tol (sqrt (n_ss / n - (n_s / n) * (n_s / n)), 2.0, 0.02);
  /* below() covers its range, permutation() is one */
  guint counts[7] = { 0 };
  for (gint i = 0; i < 7000; i++)
    counts[m3ret_rng_below (&a, 7)]++;
  for (gint i = 0; i < 7; i++)
    ck_assert (counts[i] > 800 && counts[i] < 1200);
  gint32 perm[50];
  gboolean seen[50] = { FALSE };
  m3ret_rng_permutation (&a, perm, 50);
  for (gint i = 0; i < 50; i++) {
    ck_assert (perm[i] >= 0 && perm[i] < 50 && !seen[perm[i]]);
    seen[perm[i]] = TRUE;
  }
}
END_TEST

static Suite *
optim_suite (void)
{
  Suite *s = suite_create ("optim");
  TCase *tc = tcase_create ("optim");
  tcase_add_test (tc, test_adamw_by_hand);
  tcase_add_test (tc, test_weight_decay_only);
  tcase_add_test (tc, test_schedules);
  tcase_add_test (tc, test_clip_and_ema);
  tcase_add_test (tc, test_rng);
  suite_add_tcase (s, tc);
  return s;
}

/* Every test builds its own device and frees it, so the suite runs in
 * one process: a forked child's exit also runs the static destructors of
 * every loaded plugin's libraries (libtorch's take about a second).
 * CK_FORK=yes in the environment restores forking. */
M3RET_CHECK_MAIN (.suite = optim_suite, .one_process = TRUE, .registry = &registry)
