/* conform-retriever.c — the same checks on every retriever plugin on the
 * plugin path (the build tree's, or M3RET_PLUGIN_PATH's when the program
 * is run by hand), through the core's index container (m3ret-index.h):
 *
 * - recall@10 against a brute-force search in this file, on 2000 seeded
 *   random unit vectors of 32, is at least 0.9, and every score returned is
 *   the dot product of the query and that row (1e-4); a plugin whose
 *   description begins with "exact" must return the brute-force ranking:
 *   scores within 1e-5 at every rank, and the same ids but where two rows'
 *   scores tie within 1e-5;
 * - saved and loaded, it gives byte-identical search results;
 * - a corrupt payload is refused with a GError naming the file, never a
 *   crash: bytes flipped (the container's checksum), the payload cut short
 *   and its first bytes (the plugin's payload version) flipped with the
 *   checksum made right again, so that the plugin's own reader sees them;
 *   bytes flipped at seeded places with the checksum made right either
 *   refused or loaded into an index that searches.
 *
 * A plugin is named on stdout as it is checked; no retriever at all fails. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-check.h"
#include "m3ret-fileio.h"
#include "m3ret-index.h"

#define N_ROWS 2000
#define N_QUERIES 100
#define DIM 32
#define K 10

static M3retRegistry *registry;

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

static gdouble
dot (const gfloat *a, const gfloat *b, guint dim)
{
  gdouble s = 0;
  for (guint j = 0; j < dim; j++)
    s += (gdouble) a[j] * b[j];
  return s;
}

/* Every retriever plugin, sorted by name.  (transfer container) */
static GPtrArray *
retrievers (void)
{
  GPtrArray *list = m3ret_registry_list (registry, M3RET_PLUGIN_RETRIEVER);
  ck_assert_msg (list->len > 0, "no retriever plugin on the plugin path");
  return list;
}

static const gchar *
name_of (const M3retPlugin *plugin)
{
  return m3ret_plugin_get_desc (plugin)->name;
}

static gboolean
is_exact (const M3retPlugin *plugin)
{
  const gchar *d = m3ret_plugin_get_desc (plugin)->description;
  return d != NULL && g_str_has_prefix (d, "exact");
}

static M3retConfig *
config_of (const M3retPlugin *plugin)
{
  GError *error = NULL;
  M3retConfig *c = m3ret_config_new_defaults ("retriever", m3ret_plugin_get_desc (plugin)->keys,
                                              &error);
  ck_assert_msg (c != NULL, "%s: %s", name_of (plugin), error ? error->message : "");
  return c;
}

static M3retIndex *
build (const M3retPlugin *plugin, const gfloat *rows, gsize n)
{
  g_autoptr (M3retConfig) c = config_of (plugin);
  GError *error = NULL;
  M3retIndex *index = m3ret_index_new (plugin, c, DIM, 2, &error);
  ck_assert_msg (index != NULL, "%s: %s", name_of (plugin), error ? error->message : "");
  ck_assert_msg (m3ret_index_add (index, rows, n, &error), "%s: %s", name_of (plugin),
                 error ? error->message : "");
  ck_assert_uint_eq (m3ret_index_count (index), n);
  return index;
}

static void
search (M3retIndex *index, const gfloat *q, gsize nq, gint64 *ids, gfloat *scores)
{
  GError *error = NULL;
  ck_assert_msg (m3ret_index_search (index, q, nq, K, NULL, ids, scores, &error), "%s: %s",
                 m3ret_index_plugin_name (index), error ? error->message : "");
}

/* The brute-force top K of each query: ids and scores (double). */
static void
brute_force (const gfloat *db, gsize n, const gfloat *q, gsize nq, gint64 *ids, gdouble *scores)
{
  g_autofree gdouble *all = g_new (gdouble, n);
  for (gsize i = 0; i < nq; i++) {
    for (gsize j = 0; j < n; j++)
      all[j] = dot (q + i * DIM, db + j * DIM, DIM);
    for (guint r = 0; r < K; r++) {
      gsize best = 0;
      for (gsize j = 1; j < n; j++)
        if (all[j] > all[best])
          best = j;
      ids[i * K + r] = (gint64) best;
      scores[i * K + r] = all[best];
      all[best] = -G_MAXDOUBLE;
    }
  }
}

START_TEST (test_recall_against_brute_force)
{
  g_autofree gfloat *db = random_rows (N_ROWS, DIM, 1);
  g_autofree gfloat *q = random_rows (N_QUERIES, DIM, 2);
  g_autofree gint64 *exact = g_new (gint64, N_QUERIES * K);
  g_autofree gdouble *exact_scores = g_new (gdouble, N_QUERIES * K);
  brute_force (db, N_ROWS, q, N_QUERIES, exact, exact_scores);
  g_autoptr (GPtrArray) list = retrievers ();
  for (guint p = 0; p < list->len; p++) {
    const M3retPlugin *plugin = list->pdata[p];
    g_autoptr (M3retIndex) index = build (plugin, db, N_ROWS);
    g_autofree gint64 *ids = g_new (gint64, N_QUERIES * K);
    g_autofree gfloat *scores = g_new (gfloat, N_QUERIES * K);
    search (index, q, N_QUERIES, ids, scores);
    gsize found = 0;
    for (gsize i = 0; i < N_QUERIES; i++)
      for (guint r = 0; r < K; r++) {
        gint64 id = ids[i * K + r];
        ck_assert_msg (id >= 0 && id < N_ROWS, "%s: query %zu rank %u: id %" G_GINT64_FORMAT,
                       name_of (plugin), i, r, id);
        gdouble truth = dot (q + i * DIM, db + id * DIM, DIM);
        ck_assert_msg (fabs (scores[i * K + r] - truth) < 1e-4,
                       "%s: query %zu rank %u: score %g, but the dot product is %g",
                       name_of (plugin), i, r, scores[i * K + r], truth);
        if (r > 0)
          ck_assert_msg (scores[i * K + r] <= scores[i * K + r - 1], "%s: query %zu: rank %u "
                         "scores above rank %u", name_of (plugin), i, r, r - 1);
        for (guint e = 0; e < K; e++)
          if (exact[i * K + e] == id) {
            found++;
            break;
          }
        if (is_exact (plugin)) {
          ck_assert_msg (fabs (scores[i * K + r] - exact_scores[i * K + r]) < 1e-5,
                         "%s (exact): query %zu rank %u: score %g, brute force %g",
                         name_of (plugin), i, r, scores[i * K + r], exact_scores[i * K + r]);
          ck_assert_msg (id == exact[i * K + r] || fabs (truth - exact_scores[i * K + r]) < 1e-5,
                         "%s (exact): query %zu rank %u: id %" G_GINT64_FORMAT ", brute force %"
                         G_GINT64_FORMAT, name_of (plugin), i, r, id, exact[i * K + r]);
        }
      }
    gdouble recall = (gdouble) found / (N_QUERIES * K);
    g_print ("conform-retriever: %s%s: recall@%d %.3f on %d x %d\n", name_of (plugin),
             is_exact (plugin) ? " (exact)" : "", K, recall, N_ROWS, DIM);
    ck_assert_msg (recall >= 0.9, "%s: recall@%d %.3f < 0.9", name_of (plugin), K, recall);
  }
}
END_TEST

/* ------------------------------------------------------------ files */

static gchar *tmp;

static void
files_setup (void)
{
  tmp = m3ret_check_tmpdir ();
}

static void
files_teardown (void)
{
  m3ret_check_rmtree (tmp);
  g_clear_pointer (&tmp, g_free);
}

START_TEST (test_save_load_same_results)
{
  g_autofree gfloat *db = random_rows (N_ROWS, DIM, 3);
  g_autofree gfloat *q = random_rows (N_QUERIES, DIM, 4);
  g_autoptr (GPtrArray) list = retrievers ();
  for (guint p = 0; p < list->len; p++) {
    const M3retPlugin *plugin = list->pdata[p];
    g_autoptr (M3retIndex) index = build (plugin, db, N_ROWS);
    g_autofree gchar *name = g_strconcat (name_of (plugin), ".idx", NULL);
    g_autofree gchar *path = g_build_filename (tmp, name, NULL);
    GError *error = NULL;
    ck_assert_msg (m3ret_index_save (index, path, &error), "%s: %s", name_of (plugin),
                   error ? error->message : "");
    g_autoptr (M3retConfig) c = config_of (plugin);
    g_autoptr (M3retIndex) back = m3ret_index_load (plugin, c, path, 2, &error);
    ck_assert_msg (back != NULL, "%s: %s", name_of (plugin), error ? error->message : "");
    ck_assert_uint_eq (m3ret_index_count (back), N_ROWS);
    ck_assert_uint_eq (m3ret_index_dim (back), DIM);
    gint64 a[N_QUERIES * K], b[N_QUERIES * K];
    gfloat sa[N_QUERIES * K], sb[N_QUERIES * K];
    search (index, q, N_QUERIES, a, sa);
    search (back, q, N_QUERIES, b, sb);
    ck_assert_msg (memcmp (a, b, sizeof a) == 0, "%s: other ids after save and load",
                   name_of (plugin));
    ck_assert_msg (memcmp (sa, sb, sizeof sa) == 0, "%s: other scores after save and load",
                   name_of (plugin));
    g_print ("conform-retriever: %s: save and load: same results\n", name_of (plugin));
  }
}
END_TEST

/* The container around an index without items (m3ret-index.h): header 64
 * bytes, the meta section (its length the header's last word), no items,
 * the payload, then items length, payload length, CRC-32 and "M3IX". */
static gsize
payload_start (const guint8 *b)
{
  guint64 meta = 0;
  for (gint i = 7; i >= 0; i--)
    meta = meta << 8 | b[56 + i];
  return 64 + meta;
}

static void
put_u64 (guint8 *b, guint64 v)
{
  for (gint i = 0; i < 8; i++)
    b[i] = (v >> (8 * i)) & 0xff;
}

static void
reseal (guint8 *b, gsize len)
{
  guint32 crc = m3ret_crc32_update (0, b, len - 8);
  for (gint i = 0; i < 4; i++)
    b[len - 8 + i] = (crc >> (8 * i)) & 0xff;
}

/* Loading @bytes (written to @path) must fail with a GError in
 * M3RET_FORMAT_ERROR whose message names @path. */
static void
expect_refused (const M3retPlugin *plugin, const gchar *path, const guint8 *bytes, gsize len,
                const gchar *what)
{
  ck_assert (g_file_set_contents (path, (const gchar *) bytes, (gssize) len, NULL));
  g_autoptr (M3retConfig) c = config_of (plugin);
  GError *error = NULL;
  M3retIndex *index = m3ret_index_load (plugin, c, path, 1, &error);
  ck_assert_msg (index == NULL, "%s: loaded an index with %s", name_of (plugin), what);
  ck_assert_msg (error != NULL && error->domain == M3RET_FORMAT_ERROR,
                 "%s: %s: no M3RET_FORMAT_ERROR (%s)", name_of (plugin), what,
                 error ? error->message : "no error at all");
  ck_assert_msg (strstr (error->message, path) != NULL, "%s: %s: the message does not name the "
                 "file: %s", name_of (plugin), what, error->message);
  g_error_free (error);
}

START_TEST (test_corrupt_payload_refused)
{
  g_autofree gfloat *db = random_rows (300, DIM, 5);
  g_autofree gfloat *q = random_rows (4, DIM, 6);
  g_autoptr (GPtrArray) list = retrievers ();
  for (guint p = 0; p < list->len; p++) {
    const M3retPlugin *plugin = list->pdata[p];
    g_autoptr (M3retIndex) index = build (plugin, db, 300);
    g_autofree gchar *name = g_strconcat (name_of (plugin), ".idx", NULL);
    g_autofree gchar *path = g_build_filename (tmp, name, NULL);
    GError *error = NULL;
    ck_assert (m3ret_index_save (index, path, &error));
    g_autofree guint8 *good = NULL;
    gsize len = 0;
    ck_assert (g_file_get_contents (path, (gchar **) &good, &len, NULL));
    gsize start = payload_start (good), end = len - 24;
    ck_assert_msg (start < end && start <= len, "%s: no payload", name_of (plugin));
    gsize payload = end - start;
    g_autofree guint8 *bad = g_new (guint8, len);

    /* Flipped bytes: the container's checksum refuses them. */
    memcpy (bad, good, len);
    for (gsize i = start + payload / 2; i < start + payload / 2 + 8 && i < end; i++)
      bad[i] ^= 0x5a;
    expect_refused (plugin, path, bad, len, "payload bytes flipped");

    /* The payload cut short, the lengths and checksum made right: the
     * plugin's reader sees a short payload and must say so. */
    const gsize keep[] = { 0, 1, 3, 7, payload / 2, payload - 1 };
    for (guint k = 0; k < G_N_ELEMENTS (keep); k++) {
      if (keep[k] >= payload)
        continue;
      gsize cut = len - (payload - keep[k]);
      memcpy (bad, good, start + keep[k]);
      memcpy (bad + start + keep[k], good + end, 24);
      put_u64 (bad + cut - 16, keep[k]);
      reseal (bad, cut);
      g_autofree gchar *what = g_strdup_printf ("%zu of %zu payload bytes", keep[k], payload);
      expect_refused (plugin, path, bad, cut, what);
    }

    /* Its first bytes (a payload's own format version) flipped, resealed. */
    memcpy (bad, good, len);
    for (gsize i = start; i < start + 4 && i < end; i++)
      bad[i] ^= 0xff;
    reseal (bad, len);
    expect_refused (plugin, path, bad, len, "its payload version flipped");

    /* Bytes flipped at seeded places, resealed: refused, or an index that
     * searches; never a crash. */
    guint refused = 0, loaded = 0;
    GRand *rand = g_rand_new_with_seed (7);
    for (guint round = 0; round < 40; round++) {
      memcpy (bad, good, len);
      for (guint f = 0; f < 4; f++)
        bad[start + g_rand_int_range (rand, 0, (gint32) payload)] ^=
          (guint8) (1u << g_rand_int_range (rand, 0, 8));
      reseal (bad, len);
      ck_assert (g_file_set_contents (path, (const gchar *) bad, (gssize) len, NULL));
      g_autoptr (M3retConfig) c = config_of (plugin);
      M3retIndex *back = m3ret_index_load (plugin, c, path, 1, &error);
      if (back == NULL) {
        ck_assert_msg (error != NULL && strstr (error->message, path) != NULL,
                       "%s: refused without a message naming the file: %s", name_of (plugin),
                       error ? error->message : "no error");
        g_clear_error (&error);
        refused++;
        continue;
      }
      gint64 ids[4 * K];
      gfloat scores[4 * K];
      if (!m3ret_index_search (back, q, 4, K, NULL, ids, scores, &error))
        g_clear_error (&error);
      m3ret_index_free (back);
      loaded++;
    }
    g_rand_free (rand);
    g_print ("conform-retriever: %s: corrupt payloads refused (flipped, cut, version); "
             "40 resealed flips: %u refused, %u loaded\n", name_of (plugin), refused, loaded);
  }
}
END_TEST

static Suite *
conform_retriever_suite (void)
{
  Suite *s = suite_create ("conform-retriever");
  TCase *search_case = tcase_create ("search");
  tcase_set_timeout (search_case, 60);
  tcase_add_test (search_case, test_recall_against_brute_force);
  suite_add_tcase (s, search_case);
  TCase *files = tcase_create ("files");
  tcase_set_timeout (files, 60);
  tcase_add_checked_fixture (files, files_setup, files_teardown);
  tcase_add_test (files, test_save_load_same_results);
  tcase_add_test (files, test_corrupt_payload_refused);
  suite_add_tcase (s, files);
  return s;
}

M3RET_CHECK_MAIN (.suite = conform_retriever_suite, .registry = &registry)
