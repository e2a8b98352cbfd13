/* m3ret-metrics.h — retrieval metrics exactly as docs/METRICS.md defines them.
 *
 * For a query with label y against a database, relevance is "same label"
 * (an empty label is never relevant; unlabelled queries are not scored).
 * When the query itself sits in the database it is left out: removed from
 * its ranking and from R.  With rel_i the relevance of the i-th result and
 * R the number of relevant database items:
 *   Recall@K    = 1 if some i ≤ K has rel_i, else 0          (mean over queries)
 *   Precision@K = (Σ_{i≤K} rel_i) / K                         (mean over queries)
 *   AP@K        = (1/min(K,R)) · Σ_{i≤K} Precision@i · rel_i, 0 when R = 0
 *   mAP@K       = mean over queries of AP@K
 * K larger than the database simply finds fewer results (Precision@K still
 * divides by K).  Ties: when scores are given, results of equal score are
 * put in ascending id order first, so the figures do not depend on how a
 * retriever happened to order them.
 *
 * An M3retMetricsTable holds means per cell (row = query modality or "all",
 * column = database modality or "all"): ("all","all") is the overall
 * figure, (A,"all") per modality, (A,B) the cross-modal matrix.
 */
#ifndef M3RET_METRICS_H
#define M3RET_METRICS_H

#include <stdio.h>

#include <glib.h>

#include "m3ret-embeddings.h"
#include "m3ret-index.h"
#include "m3ret-registry.h"

G_BEGIN_DECLS

#define M3RET_METRICS_ALL "all"

typedef struct _M3retMetricsTable M3retMetricsTable;

/* The mean figures of one cell; the arrays hold one value per K. */
typedef struct {
  gsize n_queries;     /* scored (labelled) queries */
  gsize n_no_relevant; /* of them, queries with R = 0 (they score 0) */
  const gdouble *recall;
  const gdouble *precision;
  const gdouble *map;
} M3retMetricsCell;

/* Scores one ranking.  @ids (@width entries, -1 = empty slot) index
 * @db_labels (@n_db entries); @scores may be NULL (no tie rule); @self is
 * the query's own id in this database or -1; @label is the query's label.
 * Writes one value per K into @recall, @precision and @ap.  Returns FALSE
 * with @error (M3RET_FORMAT_ERROR_INVALID) for an id out of range or
 * repeated. */
gboolean m3ret_metrics_score_query (const gint64 *ids, const gfloat *scores, guint width,
                                    gint64 self, const gchar *label,
                                    const gchar *const *db_labels, gsize n_db, const guint *ks,
                                    guint n_ks, gdouble *recall, gdouble *precision, gdouble *ap,
                                    GError **error);

/* Returns: (transfer full) an empty table for the cut-offs @ks (each ≥ 1). */
M3retMetricsTable *m3ret_metrics_table_new (const guint *ks, guint n_ks);
void m3ret_metrics_table_free (M3retMetricsTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retMetricsTable, m3ret_metrics_table_free)

const guint *m3ret_metrics_table_get_ks (const M3retMetricsTable *table, guint *n_ks);

/* Scores @n_queries rankings (n_queries×width) against one database
 * (@db_labels, @n_db) and adds query q to cells (query_rows[q], @column)
 * and ("all", @column).  @scores and @query_self may be NULL. */
gboolean m3ret_metrics_table_add (M3retMetricsTable *table, const gchar *column, gsize n_queries,
                                  guint width, const gint64 *ids, const gfloat *scores,
                                  const gchar *const *query_labels,
                                  const gchar *const *query_rows, const gint64 *query_self,
                                  const gchar *const *db_labels, gsize n_db, GError **error);

/* The same where a query may sit in the database more than once: @self
 * (may be NULL) gives each query all its own rows, which leave its ranking
 * and R. */
gboolean m3ret_metrics_table_add_excluding (M3retMetricsTable *table, const gchar *column,
                                            gsize n_queries, guint width, const gint64 *ids,
                                            const gfloat *scores,
                                            const gchar *const *query_labels,
                                            const gchar *const *query_rows,
                                            const M3retExclusions *self,
                                            const gchar *const *db_labels, gsize n_db,
                                            GError **error);

/* Fills @cell with the means of (@row, @column); FALSE when no query was
 * added there.  The arrays stay valid until the table changes. */
gboolean m3ret_metrics_table_get (M3retMetricsTable *table, const gchar *row,
                                  const gchar *column, M3retMetricsCell *cell);

/* (transfer container) the row or column names seen, "all" first, then
 * sorted. */
GPtrArray *m3ret_metrics_table_rows (const M3retMetricsTable *table);
GPtrArray *m3ret_metrics_table_columns (const M3retMetricsTable *table);

/* A readable table: overall and per-modality rows of Recall/Precision/mAP
 * at every K, then the cross-modal matrices at the largest K. */
void m3ret_metrics_table_print (M3retMetricsTable *table, FILE *out);

/* Returns: (transfer full) the whole table as JSON:
 * {"ks":[...], "overall":CELL, "per_modality":{A:CELL}, "cross_modal":{A:{B:CELL}}}
 * with CELL = {"queries":n, "no_relevant":n, "recall":{"K":v}, "precision":…, "map":…}. */
gchar *m3ret_metrics_table_to_json (M3retMetricsTable *table);
/* Writes that JSON to @path atomically. */
gboolean m3ret_metrics_table_write_json (M3retMetricsTable *table, const gchar *path,
                                         GError **error);

/* The whole evaluation for a query set against a database, both with
 * items (modality, label): builds retriever @plugin indexes with @config
 * over the database and over each of its modalities, searches every query
 * at the largest K leaving out the query's own row (same path), and
 * scores overall, per modality and cross-modal.  Vectors are normalised
 * on copies.  Returns: (transfer full) the table. */
M3retMetricsTable *m3ret_metrics_evaluate (const M3retPlugin *plugin, const M3retConfig *config,
                                           guint n_threads, const M3retEmbeddings *queries,
                                           const M3retEmbeddings *database, const guint *ks,
                                           guint n_ks, GError **error);

G_END_DECLS

#endif /* M3RET_METRICS_H */
