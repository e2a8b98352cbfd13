/* test-readout.c — the host read-out of retrieval rows (gem, grid, the
 * provenance line) against values worked by hand. */
#include "config.h"

#include <math.h>
#include <png.h>

#include "m3ret-check.h"
#include "m3ret-npy.h"
#include "m3ret-readout.h"
#include "test-modality-fixtures.h"

/* One sample: a CLS and a 1×2×2 grid of 2-wide patch tokens. */
static const gfloat tokens[5 * 2] = {
  9, 9,   /* CLS */
  1, -2,  /* (h0, w0) */
  3, 0,   /* (h0, w1) */
  0, 4,   /* (h1, w0) */
  -1, 2,  /* (h1, w1) */
};
static const gint grid[3] = { 1, 2, 2 };

START_TEST (test_gem)
{
  M3retReadout r = { .pool = M3RET_POOL_GEM, .last = 1, .count = 1 };
  gfloat row[2];
  m3ret_readout_rows (&r, tokens, 1, grid, 2, row);
  /* channel 0: (1³ + 3³ + 0 + 0)/4 = 7; channel 1: (0 + 0 + 4³ + 2³)/4 = 18; cube roots, normalised */
  gdouble a = cbrt (7.0), b = cbrt (18.0), n = sqrt (a * a + b * b);
  ck_assert_double_eq_tol (row[0], a / n, 1e-6);
  ck_assert_double_eq_tol (row[1], b / n, 1e-6);
}
END_TEST

START_TEST (test_grid)
{
  /* 2×2 cells on a 2×2 grid: each cell is one token, normalised, then the
   * row over its four unit cells: each cell / 2 */
  M3retReadout r = { .pool = M3RET_POOL_GRID, .cells = 2, .last = 1, .count = 1 };
  ck_assert_uint_eq (m3ret_readout_dim (&r, 2), 8);
  gfloat row[8];
  m3ret_readout_rows (&r, tokens, 1, grid, 2, row);
  for (gint c = 0; c < 4; c++) {
    const gfloat *t = tokens + 2 * (1 + c);
    gdouble n = sqrt (t[0] * t[0] + t[1] * t[1]);
    ck_assert_double_eq_tol (row[2 * c], t[0] / n / 2.0, 1e-6);
    ck_assert_double_eq_tol (row[2 * c + 1], t[1] / n / 2.0, 1e-6);
  }
  /* one cell is the mean: (3/4, 4/4) normalised = (0.6, 0.8) */
  r.cells = 1;
  m3ret_readout_rows (&r, tokens, 1, grid, 2, row);
  ck_assert_double_eq_tol (row[0], 0.6, 1e-6);
  ck_assert_double_eq_tol (row[1], 0.8, 1e-6);
}
END_TEST

START_TEST (test_grid_uneven_and_frames)
{
  /* 2 frames of a 1×3 grid, 1-wide tokens, 2 cells in-plane: h has one
   * row, so cells (0, j) are empty (h ∈ [0, 0)) and stay zero, and cells
   * (1, j) cover w ∈ [0, 1) and [1, 3) over both frames. */
  const gfloat t[7] = { 0, 1, 2, 4, 3, 5, 7 };
  M3retReadout r = { .pool = M3RET_POOL_GRID, .cells = 2, .last = 1, .count = 1 };
  gfloat row[4];
  m3ret_readout_rows (&r, t, 1, (const gint[]) { 2, 1, 3 }, 1, row);
  /* cell means (1 + 3)/2 and (2 + 4 + 5 + 7)/4, each normalised to 1 → row (0, 0, 1, 1)/√2 */
  ck_assert_float_eq (row[0], 0.0f);
  ck_assert_float_eq (row[1], 0.0f);
  ck_assert_double_eq_tol (row[2], 1.0 / G_SQRT2, 1e-6);
  ck_assert_double_eq_tol (row[3], 1.0 / G_SQRT2, 1e-6);
}
END_TEST

START_TEST (test_describe)
{
  M3retReadout r = { .pool = M3RET_POOL_CLS, .cells = 2, .last = 2, .count = 1 };
  g_autofree gchar *plain = m3ret_readout_describe (&r, 2);
  ck_assert_str_eq (plain, "cls");
  r.pool = M3RET_POOL_GRID;
  r.last = 2;
  r.count = 2;
  r.tta = M3RET_TTA_FLIP;
  g_autofree gchar *all = m3ret_readout_describe (&r, 12);
  ck_assert_str_eq (all, "grid:2,blocks=1-2,tta=flip");
}
END_TEST

/* `m3ret embed` with tta=flip gives an image and its mirror image the
 * same row; without it they differ (so the check can fail). */
START_TEST (test_tta_flip_embeds_mirrors_alike)
{
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  guint16 img[32 * 32], mirror[32 * 32];
  for (gint y = 0; y < 32; y++)
    for (gint x = 0; x < 32; x++) {
      img[y * 32 + x] = (guint16) ((x < 20 && y > 8 ? 200 : 30) + 2 * x + y);
      mirror[y * 32 + 31 - x] = img[y * 32 + x];
    }
  g_autofree gchar *a = g_build_filename (dir, "a.png", NULL);
  g_autofree gchar *b = g_build_filename (dir, "b.png", NULL);
  fx_write_png (a, 32, 32, 8, PNG_COLOR_TYPE_GRAY, img);
  fx_write_png (b, 32, 32, 8, PNG_COLOR_TYPE_GRAY, mirror);
  g_autofree gchar *csv = g_build_filename (dir, "m.csv", NULL);
  ck_assert (g_file_set_contents (csv, "path,modality,label\na.png,xray,x\nb.png,xray,x\n", -1, NULL));
  const gchar *tta[2] = { "none", "flip" };
  for (gint t = 0; t < 2; t++) {
    g_autofree gchar *ini = g_build_filename (dir, "p.ini", NULL);
    g_autofree gchar *text = g_strdup_printf (
      "[input]\nsize=32\ndepth=4\ntubelet=2,8,8\n[encoder]\npreset=micro\npool=grid\ntta=%s\n"
      "[retriever]\nplugin=flat\n", tta[t]);
    ck_assert (g_file_set_contents (ini, text, -1, NULL));
    g_autofree gchar *npy = g_strdup_printf ("%s/e-%s.npy", dir, tta[t]);
    M3retCheckRun r = m3ret_check_m3ret (TRUE, "embed", ini, "--checkpoint", "random",
                                         "--manifest", csv, "--out", npy, NULL);
    ck_assert_msg (r.status == 0, "embed: %s", r.err);
    m3ret_check_run_clear (&r);
    gsize rows = 0, cols = 0;
    g_autofree gfloat *e = m3ret_npy_read_f32 (npy, &rows, &cols, NULL);
    ck_assert_ptr_nonnull (e);
    ck_assert_uint_eq (rows, 2);
    ck_assert_uint_eq (cols, 4 * 64);
    gdouble diff = 0.0;
    for (gsize c = 0; c < cols; c++)
      diff = MAX (diff, fabs (e[c] - e[cols + c]));
    if (t == 0)
      ck_assert_msg (diff > 1e-3, "an image and its mirror embed alike without tta (%g)", diff);
    else
      ck_assert_msg (diff < 1e-5, "tta=flip: mirrors differ by %g", diff);
  }
  m3ret_check_rmtree (dir);
}
END_TEST

static Suite *
readout_suite (void)
{
  Suite *s = suite_create ("readout");
  TCase *tc = tcase_create ("readout");
  tcase_add_test (tc, test_gem);
  tcase_add_test (tc, test_grid);
  tcase_add_test (tc, test_grid_uneven_and_frames);
  tcase_add_test (tc, test_describe);
  tcase_add_test (tc, test_tta_flip_embeds_mirrors_alike);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = readout_suite)
