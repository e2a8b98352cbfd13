/* test-baselines.c — the raw-pixel feature and the similarity spread of
 * `m3ret eval`, on hand-built inputs with known answers. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-check.h"
#include "m3ret-raw-features.h"
#include "m3ret-similarity.h"

/* A 3×2×16×16 view whose values are the row index h: cell oh averages rows
 * 2·oh and 2·oh + 1, so every cell of row oh holds 2·oh + 0.5; z-scored
 * over the 1536 cells that is (2·oh − 7)/sqrt(Σ (2·oh − 7)²) with the sum
 * over all cells = 192·168. */
START_TEST (test_raw_rows)
{
  enum { C = 3, T = 2, H = 16, W = 16 };
  g_autofree gfloat *x = g_new (gfloat, 2 * C * T * H * W);
  for (gsize i = 0; i < (gsize) 2 * C * T * H * W; i++)
    x[i] = (gfloat) ((i / W) % H);
  M3retBatchView v = { C, T, H, W, x };
  guint dim = m3ret_raw_feature_dim (C);
  ck_assert_uint_eq (dim, 1536);
  g_autofree gfloat *f = g_new (gfloat, dim);
  m3ret_raw_feature (&v, 1, f); /* the second sample: the offset is applied */
  gdouble norm = sqrt (192.0 * 168.0), sumsq = 0;
  for (guint c = 0; c < C; c++)
    for (guint t = 0; t < 8; t++)
      for (guint h = 0; h < 8; h++)
        for (guint w = 0; w < 8; w++) {
          gfloat got = f[((c * 8 + t) * 8 + h) * 8 + w];
          ck_assert_double_eq_tol (got, (2.0 * h - 7.0) / norm, 1e-6);
          sumsq += (gdouble) got * got;
        }
  ck_assert_double_eq_tol (sumsq, 1.0, 1e-5); /* L2-normalised */
}
END_TEST

/* Frames: a still of 2 frames fills four cells with each; a flat view has
 * no variance and becomes the zero vector. */
START_TEST (test_raw_frames_and_flat)
{
  enum { C = 3, T = 2, H = 8, W = 8 };
  gfloat x[C * T * H * W];
  for (gsize i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = (gfloat) ((i / (H * W)) % T); /* the frame index */
  M3retBatchView v = { C, T, H, W, x };
  gfloat f[1536];
  m3ret_raw_feature (&v, 0, f);
  gdouble a = 0.5 / sqrt (1536 * 0.25);
  for (guint c = 0; c < C; c++)
    for (guint t = 0; t < 8; t++)
      ck_assert_double_eq_tol (f[((c * 8 + t) * 8 + 3) * 8 + 5], t < 4 ? -a : a, 1e-6);
  for (gsize i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = 0.25f;
  m3ret_raw_feature (&v, 0, f);
  for (guint i = 0; i < 1536; i++)
    ck_assert_float_eq (f[i], 0.0f);
  g_autofree gchar *line = m3ret_raw_provenance (64, 16, (const gint[3]) { 2, 8, 8 });
  ck_assert_str_eq (line, "m3ret weights=raw-pixels preset=none size=64 depth=16 tubelet=2,8,8 "
                          "pool=avg8x8x8");
}
END_TEST

static void
set_rows (M3retEmbeddings *e, const gfloat *rows, const gchar *const *paths,
          const gchar *const *labels)
{
  memcpy (e->data, rows, e->n_rows * e->dim * sizeof (gfloat));
  for (gsize i = 0; i < e->n_rows; i++)
    m3ret_items_set (e->items, i, paths[i], "xray", labels[i]);
}

/* Two queries against four rows in 2-D.  Query q1 (label a, along x) also
 * sits in the database as row d1, which is left out.  Its pairs: d2 (a,
 * cos 0.6) relevant; d3 (b, cos 0) and d4 (b, cos 0.8) irrelevant.  Query
 * q2 (label b, along y): d1 (a, cos 0), d2 (a, cos 0.8) irrelevant; d3 (b,
 * cos 1), d4 (b, cos 0.6) relevant.  Relevant {0.6, 1, 0.6}, irrelevant
 * {0, 0.8, 0, 0.8}: of the 12 (relevant, irrelevant) pairs the relevant
 * one wins 8 (1 beats all four, each 0.6 beats the two zeros): AUC 2/3. */
START_TEST (test_similarity_spread)
{
  g_autoptr (M3retEmbeddings) q = m3ret_embeddings_new (2, 2);
  g_autoptr (M3retEmbeddings) d = m3ret_embeddings_new (4, 2);
  const gfloat qv[] = { 2, 0, 0, 3 };
  const gfloat dv[] = { 5, 0, 0.6f, 0.8f, 0, 1, 0.8f, 0.6f };
  set_rows (q, qv, (const gchar *[]) { "q1", "q2" }, (const gchar *[]) { "a", "b" });
  set_rows (d, dv, (const gchar *[]) { "q1", "d2", "d3", "d4" },
            (const gchar *[]) { "a", "a", "b", "b" });
  M3retSimilarityStats st;
  g_autoptr (GError) error = NULL;
  ck_assert_msg (m3ret_similarity_stats (q, d, &st, &error), "%s", error ? error->message : "");
  ck_assert_uint_eq (st.relevant.n, 3);
  ck_assert_uint_eq (st.irrelevant.n, 4);
  ck_assert_double_eq_tol (st.relevant.mean, 2.2 / 3, 1e-6);
  ck_assert_double_eq_tol (st.irrelevant.mean, 0.4, 1e-6);
  ck_assert_double_eq_tol (st.relevant.q[2], 0.6, 1e-6);  /* median of 0.6 0.6 1 */
  ck_assert_double_eq_tol (st.relevant.q[4], 1.0, 1e-6);
  ck_assert_double_eq_tol (st.irrelevant.q[0], 0.0, 1e-6);
  ck_assert_double_eq_tol (st.auc, 8.0 / 12.0, 1e-9);
  ck_assert_uint_eq (st.queries_used, 2);
  /* ties count half: every score equal gives 0.5 */
  const gfloat same[] = { 1, 0, 1, 0, 1, 0, 1, 0 };
  set_rows (d, same, (const gchar *[]) { "x1", "x2", "x3", "x4" },
            (const gchar *[]) { "a", "a", "b", "b" });
  ck_assert (m3ret_similarity_stats (q, d, &st, NULL));
  ck_assert_double_eq_tol (st.auc, 0.5, 1e-9);
  /* a zero row is refused by name */
  const gfloat zero[] = { 0, 0, 1, 0, 1, 0, 1, 0 };
  set_rows (d, zero, (const gchar *[]) { "x1", "x2", "x3", "x4" },
            (const gchar *[]) { "a", "a", "b", "b" });
  ck_assert (!m3ret_similarity_stats (q, d, &st, &error));
  ck_assert_msg (strstr (error->message, "database embeddings") != NULL, "%s", error->message);
}
END_TEST

static Suite *
baselines_suite (void)
{
  Suite *s = suite_create ("baselines");
  TCase *tc = tcase_create ("closed-forms");
  tcase_add_test (tc, test_raw_rows);
  tcase_add_test (tc, test_raw_frames_and_flat);
  tcase_add_test (tc, test_similarity_spread);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = baselines_suite)
