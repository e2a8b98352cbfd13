/* test-retrievers.c — flat against a naive loop, hnsw recall against flat, index files. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-check.h"
#include "m3ret-fileio.h"
#include "m3ret-index.h"
#include "m3ret-npy.h"

static M3retRegistry *registry;

static void
setup (void)
{
  registry = m3ret_check_registry ();
}

static void
teardown (void)
{
  g_clear_pointer (&registry, m3ret_registry_free);
}

static const M3retPlugin *
retriever (const gchar *name)
{
  const M3retPlugin *p = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, name);
  ck_assert_msg (p != NULL, "retriever %s not built", name);
  return p;
}

/* (transfer full) the plugin's defaults with @overrides ("key=value", NULL-ended). */
static M3retConfig *
config_of (const gchar *name, const gchar *const *overrides)
{
  GError *error = NULL;
  M3retConfig *c = m3ret_config_new_defaults ("retriever",
                                              m3ret_plugin_get_desc (retriever (name))->keys, &error);
  ck_assert_msg (c != NULL, "%s", error ? error->message : "");
  for (; overrides && *overrides; overrides++) {
    g_auto (GStrv) kv = g_strsplit (*overrides, "=", 2);
    ck_assert_msg (m3ret_config_set (c, kv[0], kv[1], &error), "%s", error ? error->message : "");
  }
  return c;
}

/* (transfer full) @n random unit rows of @dim, Gaussian directions. */
static gfloat *
random_rows (gsize n, guint dim, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  gfloat *rows = g_new (gfloat, n * dim);
  for (gsize i = 0; i < n * dim; i += 2) {
    gdouble u = g_rand_double (rand), v = g_rand_double (rand);
    gdouble r = sqrt (-2 * log (1 - u));
    rows[i] = (gfloat) (r * cos (2 * G_PI * v));
    if (i + 1 < n * dim)
      rows[i + 1] = (gfloat) (r * sin (2 * G_PI * v));
  }
  g_rand_free (rand);
  ck_assert (m3ret_vectors_normalize (rows, n, dim, "random", NULL));
  return rows;
}

static M3retIndex *
build (const gchar *name, const gchar *const *overrides, const gfloat *rows, gsize n, guint dim,
       guint threads)
{
  g_autoptr (M3retConfig) c = config_of (name, overrides);
  GError *error = NULL;
  M3retIndex *index = m3ret_index_new (retriever (name), c, dim, threads, &error);
  ck_assert_msg (index != NULL, "%s", error ? error->message : "");
  ck_assert_msg (m3ret_index_add (index, rows, n, &error), "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_index_count (index), n);
  return index;
}

static void
search (M3retIndex *index, const gfloat *q, gsize nq, guint k, gint64 *ids, gfloat *scores)
{
  GError *error = NULL;
  ck_assert_msg (m3ret_index_search (index, q, nq, k, NULL, ids, scores, &error), "%s",
                 error ? error->message : "");
}

static gdouble
dot (const gfloat *a, const gfloat *b, guint dim)
{
  gdouble s = 0;
  for (guint j = 0; j < dim; j++)
    s += (gdouble) a[j] * b[j];
  return s;
}

START_TEST (test_flat_equals_naive)
{
  /* Sizes that cross the query and database block edges of the sgemm. */
  const gsize n = 3001, nq = 600;
  const guint dim = 40, k = 10;
  g_autofree gfloat *db = random_rows (n, dim, 1);
  g_autofree gfloat *q = random_rows (nq, dim, 2);
  g_autoptr (M3retIndex) index = build ("flat", NULL, db, n, dim, 2);
  g_autofree gint64 *ids = g_new (gint64, nq * k);
  g_autofree gfloat *scores = g_new (gfloat, nq * k);
  search (index, q, nq, k, ids, scores);
  g_autofree gdouble *all = g_new (gdouble, n);
  guint id_mismatches = 0;
  for (gsize i = 0; i < nq; i++) {
    for (gsize j = 0; j < n; j++)
      all[j] = dot (q + i * dim, db + j * dim, dim);
    /* The naive top-k, by repeated selection of the best remaining. */
    for (guint r = 0; r < k; r++) {
      gsize best = 0;
      for (gsize j = 1; j < n; j++)
        if (all[j] > all[best])
          best = j;
      gint64 got = ids[i * k + r];
      ck_assert (got >= 0 && (gsize) got < n);
      /* Scores agree to float rounding; an id may differ only on a near-tie. */
      ck_assert_msg (fabs (scores[i * k + r] - all[best]) < 1e-5, "query %zu rank %u: %g vs %g", i,
                     r, scores[i * k + r], all[best]);
      ck_assert (fabs (dot (q + i * dim, db + got * dim, dim) - all[best]) < 1e-5);
      id_mismatches += (gsize) got != best;
      all[best] = -G_MAXDOUBLE;
    }
  }
  ck_assert_uint_le (id_mismatches, 2);
  /* Threads change nothing. */
  g_autoptr (M3retIndex) one = build ("flat", NULL, db, n, dim, 1);
  g_autofree gint64 *ids1 = g_new (gint64, nq * k);
  g_autofree gfloat *scores1 = g_new (gfloat, nq * k);
  search (one, q, nq, k, ids1, scores1);
  ck_assert (memcmp (ids, ids1, nq * k * sizeof (gint64)) == 0);
  ck_assert (memcmp (scores, scores1, nq * k * sizeof (gfloat)) == 0);
}
END_TEST

START_TEST (test_flat_ties_and_short_database)
{
  /* One-hot rows: exact scores, so rows 1, 3 and 4 tie at 1 for query e0. */
  const guint dim = 4;
  gfloat db[5 * 4] = { 0 };
  db[0 * 4 + 1] = db[1 * 4 + 0] = db[2 * 4 + 2] = db[3 * 4 + 0] = db[4 * 4 + 0] = 1;
  gfloat q[4] = { 1, 0, 0, 0 };
  g_autoptr (M3retIndex) index = build ("flat", NULL, db, 5, dim, 2);
  gint64 ids[8];
  gfloat scores[8];
  search (index, q, 1, 8, ids, scores);
  const gint64 want[8] = { 1, 3, 4, 0, 2, -1, -1, -1 };
  for (guint i = 0; i < 8; i++)
    ck_assert_int_eq (ids[i], want[i]);
  ck_assert (scores[0] == 1 && scores[2] == 1 && scores[3] == 0);
  ck_assert (isinf (scores[5]) && scores[5] < 0);
  /* Leaving the query's own row out shifts the rest up. */
  gint64 self = 3;
  GError *error = NULL;
  ck_assert (m3ret_index_search (index, q, 1, 3, &self, ids, scores, &error));
  ck_assert_int_eq (ids[0], 1);
  ck_assert_int_eq (ids[1], 4);
  ck_assert_int_eq (ids[2], 0);
  /* Rows that are not unit vectors are refused, for the database and queries. */
  gfloat bad[4] = { 2, 0, 0, 0 };
  ck_assert (!m3ret_index_add (index, bad, 1, &error));
  ck_assert (g_error_matches (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID));
  g_clear_error (&error);
  ck_assert (!m3ret_index_search (index, bad, 1, 1, NULL, ids, scores, &error));
  g_clear_error (&error);
  gfloat nan_row[4] = { NAN, 0, 0, 0 };
  ck_assert (!m3ret_vectors_normalize (nan_row, 1, 4, "x.npy", &error));
  ck_assert (strstr (error->message, "x.npy: row 0") != NULL);
  g_clear_error (&error);
}
END_TEST

/* Fraction of @approx's ids found among @exact's, over @nq queries of @k. */
static gdouble
recall_at (const gint64 *exact, const gint64 *approx, gsize nq, guint k)
{
  gsize found = 0;
  for (gsize i = 0; i < nq; i++)
    for (guint a = 0; a < k; a++)
      for (guint b = 0; b < k; b++)
        if (approx[i * k + a] == exact[i * k + b] && exact[i * k + b] >= 0) {
          found++;
          break;
        }
  return (gdouble) found / (nq * k);
}

START_TEST (test_hnsw_recall_and_round_trip)
{
  const gsize n = 10000, nq = 200;
  const guint dim = 64, k = 10;
  g_autofree gfloat *db = random_rows (n, dim, 11);
  g_autofree gfloat *q = random_rows (nq, dim, 12);
  g_autoptr (M3retIndex) flat = build ("flat", NULL, db, n, dim, 2);
  g_autofree gint64 *exact = g_new (gint64, nq * k);
  g_autofree gfloat *exact_scores = g_new (gfloat, nq * k);
  search (flat, q, nq, k, exact, exact_scores);
  /* Built in two batches, as an archive grows. */
  const gchar *const keys[] = { "ef_search=128", NULL };
  g_autoptr (M3retConfig) c = config_of ("hnsw", keys);
  GError *error = NULL;
  g_autoptr (M3retIndex) hnsw = m3ret_index_new (retriever ("hnsw"), c, dim, 2, &error);
  ck_assert (hnsw != NULL);
  ck_assert (m3ret_index_add (hnsw, db, 4000, &error));
  ck_assert (m3ret_index_add (hnsw, db + 4000 * dim, n - 4000, &error));
  ck_assert_uint_eq (m3ret_index_count (hnsw), n);
  g_autofree gint64 *ids = g_new (gint64, nq * k);
  g_autofree gfloat *scores = g_new (gfloat, nq * k);
  search (hnsw, q, nq, k, ids, scores);
  gdouble recall = recall_at (exact, ids, nq, k);
  ck_assert_msg (recall >= 0.95, "hnsw recall@10 %.3f < 0.95", recall);
  for (gsize i = 0; i < nq * k; i++)
    ck_assert (fabs (scores[i] - dot (q + (i / k) * dim, db + ids[i] * dim, dim)) < 1e-4);
  /* Saved and loaded, it answers exactly as before. */
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "h.idx", NULL);
  g_autoptr (M3retItems) items = m3ret_items_new (n);
  m3ret_index_set_items (hnsw, g_steal_pointer (&items));
  /* Every indexed row needs a path before the index can be saved. */
  ck_assert (!m3ret_index_save (hnsw, path, &error));
  ck_assert (strstr (error->message, "item 0 has no path") != NULL);
  g_clear_error (&error);
  ck_assert (!g_file_test (path, G_FILE_TEST_EXISTS));
  items = m3ret_items_new (n);
  for (gsize i = 0; i < n; i++) {
    g_autofree gchar *p = g_strdup_printf ("p%zu.png", i);
    m3ret_items_set (items, i, p, "ct", i == 42 ? "liver" : "lung");
  }
  m3ret_index_set_items (hnsw, g_steal_pointer (&items));
  ck_assert_msg (m3ret_index_save (hnsw, path, &error), "%s", error ? error->message : "");
  g_autoptr (M3retIndex) back = m3ret_index_load (retriever ("hnsw"), c, path, 2, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (m3ret_index_count (back), n);
  ck_assert_uint_eq (m3ret_index_dim (back), dim);
  ck_assert_str_eq (m3ret_index_get_items (back)->labels[42], "liver");
  g_autofree gint64 *ids2 = g_new (gint64, nq * k);
  g_autofree gfloat *scores2 = g_new (gfloat, nq * k);
  search (back, q, nq, k, ids2, scores2);
  ck_assert (memcmp (ids, ids2, nq * k * sizeof (gint64)) == 0);
  ck_assert (memcmp (scores, scores2, nq * k * sizeof (gfloat)) == 0);
  m3ret_check_rmtree (dir);
}
END_TEST

START_TEST (test_flat_round_trip)
{
  const gsize n = 300;
  const guint dim = 16, k = 5;
  g_autofree gfloat *db = random_rows (n, dim, 5);
  g_autoptr (M3retIndex) index = build ("flat", NULL, db, n, dim, 1);
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "f.idx", NULL);
  GError *error = NULL;
  ck_assert (m3ret_index_save (index, path, &error));
  g_autoptr (M3retConfig) c = config_of ("flat", NULL);
  g_autoptr (M3retIndex) back = m3ret_index_load (retriever ("flat"), c, path, 1, &error);
  ck_assert_msg (back != NULL, "%s", error ? error->message : "");
  ck_assert (m3ret_index_get_items (back) == NULL);
  gint64 a[20], b[20];
  gfloat sa[20], sb[20];
  search (index, db, 4, k, a, sa);
  search (back, db, 4, k, b, sb);
  ck_assert (memcmp (a, b, sizeof a) == 0 && memcmp (sa, sb, sizeof sa) == 0);
  ck_assert_int_eq (a[0], 0); /* each row finds itself first */
  /* An empty index saves and loads too. */
  g_autoptr (M3retIndex) empty = build ("flat", NULL, db, 0, dim, 1);
  ck_assert (m3ret_index_save (empty, path, &error));
  g_autoptr (M3retIndex) empty_back = m3ret_index_load (retriever ("flat"), c, path, 1, &error);
  ck_assert (empty_back != NULL && m3ret_index_count (empty_back) == 0);
  /* A failed save leaves nothing. */
  g_autofree gchar *nowhere = g_build_filename (dir, "no", "f.idx", NULL);
  ck_assert (!m3ret_index_save (index, nowhere, &error));
  g_clear_error (&error);
  ck_assert (!g_file_test (nowhere, G_FILE_TEST_EXISTS));
  m3ret_check_rmtree (dir);
}
END_TEST

/* Reads @path, lets @edit change it, recomputes the checksum when @reseal,
 * writes it back. */
static void
tamper (const gchar *path, void (*edit) (guint8 *bytes, gsize *len), gboolean reseal)
{
  g_autofree gchar *bytes = NULL;
  gsize len = 0;
  ck_assert (g_file_get_contents (path, &bytes, &len, NULL));
  edit ((guint8 *) bytes, &len);
  if (reseal) {
    guint32 crc = m3ret_crc32_update (0, bytes, len - 8);
    for (gint i = 0; i < 4; i++)
      ((guint8 *) bytes)[len - 8 + i] = (crc >> (8 * i)) & 0xff;
  }
  ck_assert (g_file_set_contents (path, bytes, len, NULL));
}

static void flip_middle (guint8 *b, gsize *len) { b[*len / 2] ^= 0x10; }
static void cut_tail (guint8 *b, gsize *len) { *len -= 10; }
static void bump_version (guint8 *b, gsize *len) { b[8] = M3RET_INDEX_FILE_VERSION + 1; }
static void rename_plugin (guint8 *b, gsize *len) { memcpy (b + 24, "hnsw", 5); }
/* Where the payload of an index without items starts: after the header
 * and the meta section, whose length is the header's last word. */
static gsize
payload_start (const guint8 *b)
{
  guint64 meta = 0;
  for (gint i = 7; i >= 0; i--)
    meta = meta << 8 | b[56 + i];
  return 64 + meta;
}
/* First payload word of a flat index without items: its payload version. */
static void bump_payload_version (guint8 *b, gsize *len) { b[payload_start (b)] = 9; }

static void
expect_load_refused (const gchar *plugin, const gchar *path, gint code, const gchar *fragment)
{
  g_autoptr (M3retConfig) c = config_of (plugin, NULL);
  GError *error = NULL;
  M3retIndex *index = m3ret_index_load (retriever (plugin), c, path, 1, &error);
  ck_assert_msg (index == NULL, "loaded a file that should be refused (%s)", fragment);
  ck_assert_msg (g_error_matches (error, M3RET_FORMAT_ERROR, code), "code %d: %s",
                 error ? error->code : -1, error ? error->message : "");
  ck_assert_msg (g_str_has_prefix (error->message, path), "%s", error->message);
  ck_assert_msg (strstr (error->message, fragment) != NULL, "'%s' not in '%s'", fragment,
                 error->message);
  g_error_free (error);
}

START_TEST (test_bad_index_files)
{
  const guint dim = 8;
  g_autofree gfloat *db = random_rows (50, dim, 9);
  g_autoptr (M3retIndex) index = build ("flat", NULL, db, 50, dim, 1);
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "f.idx", NULL);
  GError *error = NULL;
#define FRESH() ck_assert (m3ret_index_save (index, path, &error))
  FRESH ();
  tamper (path, flip_middle, FALSE);
  expect_load_refused ("flat", path, M3RET_FORMAT_ERROR_CORRUPT, "checksum mismatch");
  FRESH ();
  tamper (path, cut_tail, FALSE);
  expect_load_refused ("flat", path, M3RET_FORMAT_ERROR_TRUNCATED, "truncated");
  FRESH ();
  tamper (path, bump_version, TRUE);
  expect_load_refused ("flat", path, M3RET_FORMAT_ERROR_VERSION, "version 4");
  FRESH ();
  tamper (path, bump_payload_version, TRUE);
  expect_load_refused ("flat", path, M3RET_FORMAT_ERROR_VERSION, "flat payload version 9");
  FRESH ();
  expect_load_refused ("hnsw", path, M3RET_FORMAT_ERROR_FOREIGN, "built by retriever 'flat'");
  /* A flat payload relabelled as hnsw reaches the hnsw reader, which refuses it. */
  tamper (path, rename_plugin, TRUE);
  expect_load_refused ("hnsw", path, M3RET_FORMAT_ERROR_CORRUPT, "hnsw payload");
  /* Files of other kinds. */
  gfloat one[2] = { 1, 0 };
  ck_assert (m3ret_npy_write_f32 (path, one, 1, 2, &error));
  expect_load_refused ("flat", path, M3RET_FORMAT_ERROR_FOREIGN, "not an m3ret index file");
  ck_assert (g_file_set_contents (path, "", 0, NULL));
  expect_load_refused ("flat", path, M3RET_FORMAT_ERROR_TRUNCATED, "truncated");
  ck_assert (g_file_set_contents (path, "M3RETIDX", 8, NULL));
  expect_load_refused ("flat", path, M3RET_FORMAT_ERROR_TRUNCATED, "truncated");
#undef FRESH
  m3ret_check_rmtree (dir);
}
END_TEST

/* Payload offset of element 0's first level-0 neighbour in an hnsw file
 * without items: 20 payload header + 8 (id, level) + dim·4 + 4 (n). */
static guint hnsw_dim_for_edit;
static void
break_neighbour (guint8 *b, gsize *len)
{
  gsize at = payload_start (b) + 20 + 8 + hnsw_dim_for_edit * 4 + 4;
  b[at] = b[at + 1] = b[at + 2] = 0xff;
}

START_TEST (test_hnsw_payload_checked)
{
  const guint dim = 8;
  g_autofree gfloat *db = random_rows (100, dim, 21);
  g_autoptr (M3retIndex) index = build ("hnsw", NULL, db, 100, dim, 1);
  g_autofree gchar *dir = m3ret_check_tmpdir ();
  g_autofree gchar *path = g_build_filename (dir, "h.idx", NULL);
  GError *error = NULL;
  ck_assert (m3ret_index_save (index, path, &error));
  /* A neighbour id out of range with a valid checksum: caught before hnswlib follows it. */
  hnsw_dim_for_edit = dim;
  tamper (path, break_neighbour, TRUE);
  expect_load_refused ("hnsw", path, M3RET_FORMAT_ERROR_CORRUPT, "neighbour id is out of range");
  m3ret_check_rmtree (dir);
}
END_TEST

static Suite *
retrievers_suite (void)
{
  Suite *s = suite_create ("retrievers");
  TCase *tc = tcase_create ("retrievers");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_flat_equals_naive);
  tcase_add_test (tc, test_flat_ties_and_short_database);
  tcase_add_test (tc, test_flat_round_trip);
  tcase_add_test (tc, test_bad_index_files);
  tcase_add_test (tc, test_hnsw_recall_and_round_trip);
  tcase_add_test (tc, test_hnsw_payload_checked);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = retrievers_suite)
