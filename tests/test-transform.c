/* test-transform.c — centering and PCA whitening of embeddings
 * (m3ret-transform.h): closed forms, the text form, and an index that
 * keeps its transform through a file. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-check.h"
#include "m3ret-index.h"
#include "m3ret-transform.h"

static M3retRegistry *registry;

/* TRUE when @needle occurs in the @len bytes of @bytes (which hold NULs) */
static gboolean
contains (const gchar *bytes, gsize len, const gchar *needle)
{
  gsize n = strlen (needle);
  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (bytes + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

/* Four unit rows in 3-D: (±1, 0, 0)·cos θ + (0, 0, 1)·sin θ and (0, ±1, 0)…
 * chosen so the mean is (0, 0, s) and the covariance diagonal with
 * variances a², b², 0 along x, y, z. */
static void
cross_rows (gfloat *rows, gdouble *a2, gdouble *b2, gdouble *s)
{
  /* x-pair at angle 0.3 above the plane, y-pair at 0.3 too: all share z */
  gdouble c = cos (0.3), z = sin (0.3);
  const gfloat r[12] = { (gfloat) c, 0, (gfloat) z, (gfloat) -c, 0, (gfloat) z,
                         0, (gfloat) c, (gfloat) z, 0, (gfloat) -c, (gfloat) z };
  memcpy (rows, r, sizeof r);
  *a2 = c * c / 2; /* two of four rows at ±c */
  *b2 = c * c / 2;
  *s = z;
}

START_TEST (test_center)
{
  gfloat rows[12], out[12];
  gdouble a2, b2, s;
  cross_rows (rows, &a2, &b2, &s);
  g_autoptr (GError) error = NULL;
  g_autoptr (M3retTransform) t = m3ret_transform_fit (M3RET_TRANSFORM_CENTER, 0, rows, 4, 3, &error);
  ck_assert_msg (t != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (t->out_dim, 3);
  ck_assert_double_eq_tol (t->mean[0], 0, 1e-7);
  ck_assert_double_eq_tol (t->mean[2], s, 1e-6);
  ck_assert (m3ret_transform_apply (t, rows, 4, out, "rows", &error));
  /* the shared z is gone: row 0 becomes (1, 0, 0), row 3 (0, −1, 0) */
  ck_assert_double_eq_tol (out[0], 1, 1e-6);
  ck_assert_double_eq_tol (out[2], 0, 1e-6);
  ck_assert_double_eq_tol (out[10], -1, 1e-6);
  /* a database of one direction: that direction has none left, refused
   * by name */
  const gfloat same[6] = { 0, 0, 2, 0, 0, 3 };
  g_autoptr (M3retTransform) one = m3ret_transform_fit (M3RET_TRANSFORM_CENTER, 0, same, 2, 3, NULL);
  ck_assert_ptr_nonnull (one);
  ck_assert (!m3ret_transform_apply (one, same, 1, out, "query embeddings", &error));
  ck_assert_msg (strstr (error->message, "query embeddings: row 0") != NULL, "%s",
                 error->message);
}
END_TEST

/* Points on two axes with different spreads: the whitened coordinates are
 * (x − μ)·u_k/sqrt(λ_k) for the covariance's eigenpairs, computed here by
 * hand. */
START_TEST (test_pca_whitening)
{
  /* 6 rows in 3-D before normalisation: ±2 along x, ±1 along y, 0 and a
   * common offset along z; normalised by the fit, then centred */
  const gfloat raw[18] = { 2, 0, 1, -2, 0, 1, 0, 1, 1, 0, -1, 1, 2, 0, 1, -2, 0, 1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (M3retTransform) t = m3ret_transform_fit (M3RET_TRANSFORM_PCA, 2, raw, 6, 3, &error);
  ck_assert_msg (t != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (t->out_dim, 2);
  /* normalised rows: (±2, 0, 1)/√5 four times, (0, ±1, 1)/√2 twice; the
   * mean is (0, 0, 4/(6√5) + 2/(6√2)); variances: x: 4·(4/5)/6, y:
   * 2·(1/2)/6, z: the spread of the two z values */
  gdouble zx = 1 / sqrt (5.0), zy = 1 / sqrt (2.0);
  gdouble mz = (4 * zx + 2 * zy) / 6;
  gdouble vx = 4 * 0.8 / 6, vy = 2 * 0.5 / 6;
  gdouble vz = (4 * (zx - mz) * (zx - mz) + 2 * (zy - mz) * (zy - mz)) / 6;
  ck_assert_double_eq_tol (t->mean[2], mz, 1e-6);
  ck_assert (vx > vy && vy > vz);
  /* the first component is ±x/sqrt(vx), the second ±y/sqrt(vy) */
  ck_assert_double_eq_tol (fabs (t->proj[0]), 1 / sqrt (vx), 1e-4);
  ck_assert_double_eq_tol (t->proj[1], 0, 1e-5);
  ck_assert_double_eq_tol (fabs (t->proj[3 + 1]), 1 / sqrt (vy), 1e-4);
  /* whitened, then normalised: row 0 lies along the first axis */
  gfloat out[12];
  ck_assert (m3ret_transform_apply (t, raw, 6, out, "rows", &error));
  ck_assert_double_eq_tol (fabs (out[0]), 1, 1e-5);
  ck_assert_double_eq_tol (out[1], 0, 1e-5);
  /* more components than the rows support are refused, naming the key */
  ck_assert_ptr_null (m3ret_transform_fit (M3RET_TRANSFORM_PCA, 3, raw, 3, 3, &error));
  ck_assert_msg (strstr (error->message, "whiten_dim") != NULL, "%s", error->message);
  g_clear_error (&error);
  ck_assert_ptr_null (m3ret_transform_fit (M3RET_TRANSFORM_CENTER, 0, raw, 1, 3, &error));
  g_clear_error (&error);
  /* automatic: the directions with variance (all three here) */
  g_autoptr (M3retTransform) all = m3ret_transform_fit (M3RET_TRANSFORM_PCA, 0, raw, 6, 3, &error);
  ck_assert_msg (all != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (all->out_dim, 3);
}
END_TEST

START_TEST (test_text_round_trip)
{
  const gfloat raw[18] = { 2, 0, 1, -2, 0, 1, 0, 1, 1, 0, -1, 1, 2, 0, 1, -2, 0, 1 };
  for (gint kind = M3RET_TRANSFORM_NONE; kind <= M3RET_TRANSFORM_PCA; kind++) {
    g_autoptr (M3retTransform) t = m3ret_transform_fit (kind, 2, raw, 6, 3, NULL);
    ck_assert (t != NULL);
    g_autofree gchar *text = m3ret_transform_to_text (t);
    ck_assert (strchr (text, '\n') == NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (M3retTransform) back = m3ret_transform_from_text (text, 3, &error);
    ck_assert_msg (back != NULL, "%s: %s", text, error ? error->message : "");
    ck_assert_int_eq (back->kind, t->kind);
    ck_assert_uint_eq (back->out_dim, t->out_dim);
    gfloat a[12], b[12];
    ck_assert (m3ret_transform_apply (t, raw, 4, a, "rows", NULL));
    ck_assert (m3ret_transform_apply (back, raw, 4, b, "rows", NULL));
    ck_assert (memcmp (a, b, 4 * t->out_dim * sizeof (gfloat)) == 0);
    /* another width, or a cut value, is refused */
    ck_assert_ptr_null (m3ret_transform_from_text (text, 4, &error));
    g_clear_error (&error);
    if (kind != M3RET_TRANSFORM_NONE) {
      g_autofree gchar *cut = g_strndup (text, strlen (text) - 4);
      ck_assert_ptr_null (m3ret_transform_from_text (cut, 3, &error));
      ck_assert (g_error_matches (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT));
    }
  }
  g_autoptr (GError) error = NULL;
  ck_assert_ptr_null (m3ret_transform_from_text ("rotate 3", 3, &error));
}
END_TEST

/* An index keeps its transform through save and load: the loaded one
 * ranks and scores queries as the one built, and the file is version 3. */
START_TEST (test_index_keeps_transform)
{
  const M3retPlugin *flat = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, "flat");
  ck_assert_ptr_nonnull (flat);
  enum { N = 40, D = 8 };
  gfloat rows[N * D];
  GRand *rand = g_rand_new_with_seed (3);
  for (gsize i = 0; i < N * D; i++)
    rows[i] = (gfloat) g_rand_double_range (rand, 0.2, 1.0); /* a shared positive component */
  g_rand_free (rand);
  ck_assert (m3ret_vectors_normalize (rows, N, D, "rows", NULL));
  g_autoptr (GError) error = NULL;
  g_autoptr (M3retConfig) config =
    m3ret_config_new_defaults ("retriever", m3ret_plugin_get_desc (flat)->keys, &error);
  M3retTransform *t = m3ret_transform_fit (M3RET_TRANSFORM_PCA, 5, rows, N, D, &error);
  ck_assert_msg (t != NULL, "%s", error ? error->message : "");
  g_autoptr (M3retIndex) index = m3ret_index_new_transformed (flat, config, D, t, 1, &error);
  ck_assert_msg (index != NULL && m3ret_index_add (index, rows, N, &error), "%s",
                 error ? error->message : "");
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "t.idx", NULL);
  ck_assert_msg (m3ret_index_save (index, path, &error), "%s", error ? error->message : "");
  g_autoptr (M3retIndex) back = m3ret_index_open (registry, path, 1, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  ck_assert_ptr_nonnull (m3ret_index_get_transform (back));
  ck_assert_uint_eq (m3ret_index_get_transform (back)->out_dim, 5);
  gint64 a[12], b[12];
  gfloat sa[12], sb[12];
  ck_assert (m3ret_index_search (index, rows, 3, 4, NULL, a, sa, &error));
  ck_assert (m3ret_index_search (back, rows, 3, 4, NULL, b, sb, &error));
  ck_assert (memcmp (a, b, sizeof (gint64) * 12) == 0 && memcmp (sa, sb, sizeof (gfloat) * 12) == 0);
  ck_assert_int_eq (a[0], 0); /* a row still finds itself first */
  /* the scores spread: whitened, row 0's fourth neighbour is far below 1 */
  ck_assert_msg (sa[3] < 0.9f, "%g", sa[3]);
  g_autofree gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (path, &bytes, &len, NULL));
  ck_assert_int_eq (bytes[8], 3);
  ck_assert (contains (bytes, len, "transform=pca 8 5 "));
  ck_assert (!contains (bytes, len, "retriever.whiten"));
  m3ret_check_rmtree (dir);
}
END_TEST

static Suite *
transform_suite (void)
{
  Suite *s = suite_create ("transform");
  TCase *tc = tcase_create ("closed-forms");
  tcase_add_test (tc, test_center);
  tcase_add_test (tc, test_pca_whitening);
  tcase_add_test (tc, test_text_round_trip);
  tcase_add_test (tc, test_index_keeps_transform);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = transform_suite, .registry = &registry)
