/* test-metrics.c — Recall/Precision/mAP@K on hand-built rankings with known answers. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "m3ret-check.h"
#include "m3ret-fileio.h"
#include "m3ret-index.h"
#include "m3ret-metrics.h"

#define EPS 1e-12

static const guint ks3[] = { 1, 2, 5 };

static void
score (const gint64 *ids, const gfloat *scores, guint width, gint64 self, const gchar *label,
       const gchar *const *db, gsize n_db, const guint *ks, guint n_ks, gdouble *r, gdouble *p,
       gdouble *ap)
{
  GError *error = NULL;
  ck_assert_msg (m3ret_metrics_score_query (ids, scores, width, self, label, db, n_db, ks, n_ks, r,
                                            p, ap, &error),
                 "%s", error ? error->message : "");
}

START_TEST (test_definitions)
{
  /* Database labels a a b b c; the query (label a) is not in it: R = 2.
   * Ranking b a b a c puts relevant items at ranks 2 and 4. */
  const gchar *db[] = { "a", "a", "b", "b", "c", NULL };
  gint64 ids[] = { 2, 0, 3, 1, 4 };
  gdouble r[3], p[3], ap[3];
  score (ids, NULL, 5, -1, "a", db, 5, ks3, 3, r, p, ap);
  /* K=1: nothing relevant yet. */
  ck_assert_double_eq_tol (r[0], 0, EPS);
  ck_assert_double_eq_tol (p[0], 0, EPS);
  ck_assert_double_eq_tol (ap[0], 0, EPS);
  /* K=2: one hit at rank 2: P@2 = 1/2; AP = (1/min(2,2))·(1/2). */
  ck_assert_double_eq_tol (r[1], 1, EPS);
  ck_assert_double_eq_tol (p[1], 0.5, EPS);
  ck_assert_double_eq_tol (ap[1], 0.25, EPS);
  /* K=5: hits at 2 and 4: P@5 = 2/5; AP = (1/2 + 2/4)/2. */
  ck_assert_double_eq_tol (r[2], 1, EPS);
  ck_assert_double_eq_tol (p[2], 0.4, EPS);
  ck_assert_double_eq_tol (ap[2], 0.5, EPS);
}
END_TEST

START_TEST (test_self_excluded)
{
  /* The query is database item 0 (label a); its own row comes first and is
   * dropped, and R counts only item 1. */
  const gchar *db[] = { "a", "a", "b", "b", NULL };
  gint64 ids[] = { 0, 2, 1, 3 };
  gdouble r[3], p[3], ap[3];
  score (ids, NULL, 4, 0, "a", db, 4, ks3, 3, r, p, ap);
  /* Effective ranking b a b: rank 2 is the only relevant one. */
  ck_assert_double_eq_tol (r[0], 0, EPS);
  ck_assert_double_eq_tol (p[1], 0.5, EPS);
  ck_assert_double_eq_tol (ap[1], 0.5, EPS);  /* (1/min(2,1))·(1/2) */
  ck_assert_double_eq_tol (ap[2], 0.5, EPS);
  ck_assert_double_eq_tol (p[2], 0.2, EPS);   /* 1 hit / K=5 */
  /* Self in the middle is skipped too, not counted as a rank. */
  gint64 ids2[] = { 1, 0, 2, 3 };
  score (ids2, NULL, 4, 0, "a", db, 4, ks3, 3, r, p, ap);
  ck_assert_double_eq_tol (p[0], 1, EPS);
  ck_assert_double_eq_tol (ap[0], 1, EPS);
  ck_assert_double_eq_tol (p[1], 0.5, EPS);
  ck_assert_double_eq_tol (ap[1], 1, EPS);
}
END_TEST

START_TEST (test_no_relevant_and_unlabelled)
{
  const gchar *db[] = { "a", "b", "", NULL };
  gint64 ids[] = { 0, 1, 2 };
  gdouble r[3], p[3], ap[3];
  score (ids, NULL, 3, -1, "z", db, 3, ks3, 3, r, p, ap);
  for (guint i = 0; i < 3; i++) {
    ck_assert_double_eq_tol (r[i], 0, EPS);
    ck_assert_double_eq_tol (p[i], 0, EPS);
    ck_assert_double_eq_tol (ap[i], 0, EPS);
  }
  /* An unlabelled database item is never relevant, even to an unlabelled query. */
  score (ids, NULL, 3, -1, "", db, 3, ks3, 3, r, p, ap);
  ck_assert_double_eq_tol (r[2], 0, EPS);
  /* In a table, unlabelled queries are not scored; R = 0 queries are, and counted. */
  g_autoptr (M3retMetricsTable) t = m3ret_metrics_table_new (ks3, 3);
  gint64 rankings[] = { 0, 1, 2, 0, 1, 2 };
  const gchar *labels[] = { "z", "" };
  const gchar *rows[] = { "xray", "xray" };
  GError *error = NULL;
  ck_assert (m3ret_metrics_table_add (t, M3RET_METRICS_ALL, 2, 3, rankings, NULL, labels, rows,
                                      NULL, db, 3, &error));
  M3retMetricsCell cell;
  ck_assert (m3ret_metrics_table_get (t, M3RET_METRICS_ALL, M3RET_METRICS_ALL, &cell));
  ck_assert_uint_eq (cell.n_queries, 1);
  ck_assert_uint_eq (cell.n_no_relevant, 1);
  ck_assert_double_eq_tol (cell.map[2], 0, EPS);
}
END_TEST

/* The query sits in the database twice (ids 0 and 1): both leave its
 * ranking and R.  db a a a b, ranking 0 2 1 3 → 2 3 with R = 1:
 * P@1 = 1, P@2 = 1/2, AP@1 = AP@2 = 1, R@1 = 1. */
START_TEST (test_self_excluded_twice)
{
  const gchar *db[] = { "a", "a", "a", "b", NULL };
  gint64 ranking[] = { 0, 2, 1, 3 };
  const gchar *labels[] = { "a" };
  const gchar *rows[] = { "xray" };
  gsize offsets[] = { 0, 2 };
  gint64 own[] = { 0, 1 };
  M3retExclusions self = { offsets, own };
  const guint ks[] = { 1, 2 };
  g_autoptr (M3retMetricsTable) t = m3ret_metrics_table_new (ks, 2);
  GError *error = NULL;
  ck_assert (m3ret_metrics_table_add_excluding (t, M3RET_METRICS_ALL, 1, 4, ranking, NULL, labels,
                                                rows, &self, db, 4, &error));
  M3retMetricsCell cell;
  ck_assert (m3ret_metrics_table_get (t, "xray", M3RET_METRICS_ALL, &cell));
  ck_assert_double_eq_tol (cell.recall[0], 1, EPS);
  ck_assert_double_eq_tol (cell.precision[0], 1, EPS);
  ck_assert_double_eq_tol (cell.precision[1], 0.5, EPS);
  ck_assert_double_eq_tol (cell.map[0], 1, EPS);
  ck_assert_double_eq_tol (cell.map[1], 1, EPS);
  ck_assert_uint_eq (cell.n_no_relevant, 0);
}
END_TEST

START_TEST (test_k_larger_than_database)
{
  /* Three items, two relevant, both ranked first; K = 10. */
  const gchar *db[] = { "a", "a", "b", NULL };
  gint64 ids[] = { 1, 0, 2, -1, -1 };
  const guint k10[] = { 10 };
  gdouble r, p, ap;
  score (ids, NULL, 5, -1, "a", db, 3, k10, 1, &r, &p, &ap);
  ck_assert_double_eq_tol (r, 1, EPS);
  ck_assert_double_eq_tol (p, 0.2, EPS);  /* 2 relevant / K = 10 */
  ck_assert_double_eq_tol (ap, 1, EPS);   /* (1/1 + 2/2) / min(10, 2) */
}
END_TEST

START_TEST (test_ties)
{
  /* Ids 3 and 1 tie at 0.9; only 1 is relevant.  The tie rule puts 1 first. */
  const gchar *db[] = { "x", "a", "x", "x", NULL };
  gint64 ids[] = { 3, 1, 2 };
  gfloat scores[] = { 0.9f, 0.9f, 0.5f };
  const guint k1[] = { 1 };
  gdouble r, p, ap;
  score (ids, scores, 3, -1, "a", db, 4, k1, 1, &r, &p, &ap);
  ck_assert_double_eq_tol (p, 1, EPS);
  ck_assert_double_eq_tol (ap, 1, EPS);
  /* Without scores the ranking is taken as given. */
  score (ids, NULL, 3, -1, "a", db, 4, k1, 1, &r, &p, &ap);
  ck_assert_double_eq_tol (p, 0, EPS);
  /* Ties do not reorder across different scores. */
  gfloat distinct[] = { 0.95f, 0.9f, 0.5f };
  score (ids, distinct, 3, -1, "a", db, 4, k1, 1, &r, &p, &ap);
  ck_assert_double_eq_tol (p, 0, EPS);
}
END_TEST

START_TEST (test_bad_rankings)
{
  const gchar *db[] = { "a", "b", NULL };
  gdouble r, p, ap;
  const guint k1[] = { 1 };
  GError *error = NULL;
  gint64 out_of_range[] = { 0, 7 };
  ck_assert (!m3ret_metrics_score_query (out_of_range, NULL, 2, -1, "a", db, 2, k1, 1, &r, &p, &ap,
                                         &error));
  ck_assert (g_error_matches (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID));
  g_clear_error (&error);
  gint64 repeated[] = { 1, 1 };
  ck_assert (!m3ret_metrics_score_query (repeated, NULL, 2, -1, "a", db, 2, k1, 1, &r, &p, &ap,
                                         &error));
  ck_assert (strstr (error->message, "twice") != NULL);
  g_clear_error (&error);
}
END_TEST

START_TEST (test_table_cells_and_output)
{
  /* Database: two xray (a, b) and two ct (a, b).  Query 0 (xray, a) ranks
   * ct-a first: P@1 = 1.  Query 1 (ct, b) ranks xray-a first: P@1 = 0. */
  const guint ks[] = { 1, 2 };
  g_autoptr (M3retMetricsTable) t = m3ret_metrics_table_new (ks, 2);
  const gchar *db_all[] = { "a", "b", "a", "b", NULL };
  gint64 all_ids[] = { 2, 1, 0, 3 };
  const gchar *labels[] = { "a", "b" };
  const gchar *rows[] = { "xray", "ct" };
  GError *error = NULL;
  ck_assert (m3ret_metrics_table_add (t, M3RET_METRICS_ALL, 2, 2, all_ids, NULL, labels, rows, NULL,
                                      db_all, 4, &error));
  /* Against the ct half only (its own ids 0..1 = labels a, b). */
  const gchar *db_ct[] = { "a", "b", NULL };
  gint64 ct_ids[] = { 0, 1, 1, 0 };
  ck_assert (m3ret_metrics_table_add (t, "ct", 2, 2, ct_ids, NULL, labels, rows, NULL, db_ct, 2,
                                      &error));
  M3retMetricsCell c;
  ck_assert (m3ret_metrics_table_get (t, M3RET_METRICS_ALL, M3RET_METRICS_ALL, &c));
  ck_assert_uint_eq (c.n_queries, 2);
  ck_assert_double_eq_tol (c.precision[0], 0.5, EPS);
  ck_assert_double_eq_tol (c.recall[1], 1.0, EPS);
  ck_assert (m3ret_metrics_table_get (t, "xray", M3RET_METRICS_ALL, &c));
  ck_assert_double_eq_tol (c.precision[0], 1.0, EPS);
  ck_assert (m3ret_metrics_table_get (t, "ct", M3RET_METRICS_ALL, &c));
  ck_assert_double_eq_tol (c.precision[0], 0.0, EPS);
  ck_assert_double_eq_tol (c.map[1], 0.25, EPS);  /* relevant at rank 2, R = 2: (1/2)/2 */
  ck_assert (m3ret_metrics_table_get (t, "ct", "ct", &c));
  ck_assert_double_eq_tol (c.map[0], 1.0, EPS);
  ck_assert (!m3ret_metrics_table_get (t, "xray", "xray", &c));
  g_autoptr (GPtrArray) names = m3ret_metrics_table_rows (t);
  ck_assert_uint_eq (names->len, 3);
  ck_assert_str_eq (names->pdata[0], "all");
  ck_assert_str_eq (names->pdata[1], "ct");
  /* The printed table and the JSON carry the same figures. */
  char *text = NULL;
  size_t text_len = 0;
  FILE *mem = open_memstream (&text, &text_len);
  m3ret_metrics_table_print (t, mem);
  fclose (mem);
  ck_assert_msg (strstr (text, "mAP@2") != NULL && strstr (text, "xray") != NULL, "%s", text);
  ck_assert_msg (strstr (text, "cross-modal mAP@2") != NULL, "%s", text);
  free (text);
  g_autofree gchar *json = m3ret_metrics_table_to_json (t);
  ck_assert_msg (strstr (json, "\"ks\": [1, 2]") != NULL, "%s", json);
  ck_assert_msg (strstr (json, "\"overall\": {\"queries\": 2") != NULL, "%s", json);
  ck_assert_msg (strstr (json, "\"precision\": {\"1\": 0.5, \"2\": 0.5}") != NULL, "%s", json);
  ck_assert_msg (strstr (json, "\"ct\": {\n      \"ct\": {\"queries\": 1") != NULL, "%s", json);
  ck_assert_msg (strstr (json, "\"xray\": {\"queries\": 1") != NULL, "%s", json);
}
END_TEST

/* Two clusters per label: any correct retriever ranks same-label rows first. */
START_TEST (test_evaluate_end_to_end)
{
  M3retRegistry *registry = m3ret_check_registry ();
  const M3retPlugin *flat = m3ret_registry_lookup (registry, M3RET_PLUGIN_RETRIEVER, "flat");
  ck_assert (flat != NULL);
  g_autoptr (M3retConfig) config =
    m3ret_config_new_defaults ("retriever", m3ret_plugin_get_desc (flat)->keys, NULL);
  const gchar *mods[] = { "xray", "ct" };
  const gchar *labs[] = { "lung", "knee" };
  g_autoptr (M3retEmbeddings) db = m3ret_embeddings_new (8, 4);
  for (guint i = 0; i < 8; i++) {
    guint label = i % 2, mod = (i / 2) % 2;
    /* Label picks the main axis; modality and index only perturb it. */
    db->data[i * 4 + label] = 1.0f;
    db->data[i * 4 + 2 + mod] = 0.1f + 0.01f * i;
    g_autofree gchar *path = g_strdup_printf ("img%u.png", i);
    m3ret_items_set (db->items, i, path, mods[mod], labs[label]);
  }
  /* Queries: the database itself (each finds itself and must not count it)
   * plus one outside query of each label. */
  g_autoptr (M3retEmbeddings) q = m3ret_embeddings_new (10, 4);
  memcpy (q->data, db->data, 8 * 4 * sizeof (gfloat));
  for (guint i = 0; i < 8; i++)
    m3ret_items_set (q->items, i, db->items->paths[i], db->items->modalities[i],
                     db->items->labels[i]);
  q->data[8 * 4 + 0] = 2.0f; /* unnormalised on purpose: evaluate normalises copies */
  q->data[9 * 4 + 1] = 1.0f;
  m3ret_items_set (q->items, 8, "new0.png", "xray", "lung");
  m3ret_items_set (q->items, 9, "new1.png", "ct", "knee");
  const guint ks[] = { 1, 3, 10 };
  GError *error = NULL;
  g_autoptr (M3retMetricsTable) t = m3ret_metrics_evaluate (flat, config, 2, q, db, ks, 3, &error);
  ck_assert_msg (t != NULL, "%s", error ? error->message : "");
  M3retMetricsCell c;
  ck_assert (m3ret_metrics_table_get (t, "all", "all", &c));
  ck_assert_uint_eq (c.n_queries, 10);
  /* Each label has 4 database rows: 3 others for a database query, 4 for an outside one. */
  ck_assert_double_eq_tol (c.recall[0], 1, EPS);
  ck_assert_double_eq_tol (c.precision[1], 1, EPS);
  ck_assert_double_eq_tol (c.map[1], 1, EPS);
  /* P@10 = (8·3 + 2·4) / 10 / 10 queries; mAP@10 = 1 (all relevant first). */
  ck_assert_double_eq_tol (c.precision[2], (8 * 3 + 2 * 4) / 100.0, 1e-9);
  ck_assert_double_eq_tol (c.map[2], 1, EPS);
  /* Cross-modal: xray queries against the 4 ct rows (2 per label, none is itself). */
  ck_assert (m3ret_metrics_table_get (t, "xray", "ct", &c));
  ck_assert_uint_eq (c.n_queries, 5);
  ck_assert_double_eq_tol (c.precision[1], 2.0 / 3.0, 1e-9);
  ck_assert_double_eq_tol (c.map[2], 1, EPS);
  /* Within ct: a ct database query has 1 other same-label ct row. */
  ck_assert (m3ret_metrics_table_get (t, "ct", "ct", &c));
  ck_assert_double_eq_tol (c.precision[0], 1, EPS);
  /* Width mismatch is refused. */
  g_autoptr (M3retEmbeddings) narrow = m3ret_embeddings_new (2, 3);
  ck_assert (m3ret_metrics_evaluate (flat, config, 1, narrow, db, ks, 3, &error) == NULL);
  ck_assert (g_error_matches (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH));
  g_clear_error (&error);
  m3ret_registry_free (registry);
}
END_TEST

static Suite *
metrics_suite (void)
{
  Suite *s = suite_create ("metrics");
  TCase *tc = tcase_create ("metrics");
  tcase_add_test (tc, test_definitions);
  tcase_add_test (tc, test_self_excluded);
  tcase_add_test (tc, test_self_excluded_twice);
  tcase_add_test (tc, test_no_relevant_and_unlabelled);
  tcase_add_test (tc, test_k_larger_than_database);
  tcase_add_test (tc, test_ties);
  tcase_add_test (tc, test_bad_rankings);
  tcase_add_test (tc, test_table_cells_and_output);
  tcase_add_test (tc, test_evaluate_end_to_end);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = metrics_suite)
