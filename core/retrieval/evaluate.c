/* evaluate.c — a query set against a database: overall, per modality, cross-modal. */
#include "config.h"

#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-index.h"
#include "m3ret-metrics.h"

/* The row and column name of items whose modality the sidecar leaves empty. */
#define NO_MODALITY "(none)"

/* Searches @q_rows (normalised, n_q×dim) in an index over the database
 * rows @db_subset (NULL: all), then scores the rankings into @column. */
static gboolean
evaluate_against (M3retMetricsTable *table, const gchar *column, const M3retPlugin *plugin,
                  const M3retConfig *config, guint n_threads, const gfloat *q_rows,
                  const M3retItems *q_items, const M3retExclusions *q_self_global,
                  const gfloat *db_rows,
                  const M3retItems *db_items, guint dim, GArray *db_subset, guint width,
                  GError **error)
{
  gsize n_q = q_items->n;
  gsize n_sub = db_subset ? db_subset->len : db_items->n;
  if (n_sub == 0 || n_q == 0)
    return TRUE;
  /* Subset-local copies: vectors, labels, and each query's own row. */
  g_autofree gfloat *sub_rows = NULL;
  g_autofree const gchar **sub_labels = g_new (const gchar *, n_sub + 1);
  g_autofree gint64 *global_to_sub = NULL;
  if (db_subset) {
    sub_rows = g_new (gfloat, n_sub * dim);
    global_to_sub = g_new (gint64, db_items->n);
    for (gsize j = 0; j < db_items->n; j++)
      global_to_sub[j] = -1;
    for (gsize j = 0; j < n_sub; j++) {
      gsize g = g_array_index (db_subset, gsize, j);
      memcpy (sub_rows + j * dim, db_rows + g * dim, dim * sizeof (gfloat));
      sub_labels[j] = db_items->labels[g];
      global_to_sub[g] = j;
    }
  } else {
    for (gsize j = 0; j < n_sub; j++)
      sub_labels[j] = db_items->labels[j];
  }
  sub_labels[n_sub] = NULL;
  /* Each query's own rows, in this subset's ids. */
  g_autofree gsize *offsets = g_new (gsize, n_q + 1);
  g_autofree gint64 *own = g_new (gint64, MAX (q_self_global->offsets[n_q], 1));
  gsize n_own = 0;
  for (gsize q = 0; q < n_q; q++) {
    offsets[q] = n_own;
    for (gsize i = q_self_global->offsets[q]; i < q_self_global->offsets[q + 1]; i++) {
      gint64 g = q_self_global->ids[i];
      gint64 local = global_to_sub ? global_to_sub[g] : g;
      if (local >= 0)
        own[n_own++] = local;
    }
  }
  offsets[n_q] = n_own;
  M3retExclusions self = { offsets, own };
  g_autoptr (M3retIndex) index = m3ret_index_new (plugin, config, dim, n_threads, error);
  if (index == NULL || !m3ret_index_add (index, sub_rows ? sub_rows : db_rows, n_sub, error))
    return FALSE;
  g_autofree gint64 *ids = g_new (gint64, n_q * width);
  g_autofree gfloat *scores = g_new (gfloat, n_q * width);
  if (!m3ret_index_search_excluding (index, q_rows, n_q, width, &self, ids, scores, error))
    return FALSE;
  /* Queries of unknown modality get a row of their own, as in the columns. */
  g_autofree const gchar **rows = g_new (const gchar *, n_q);
  for (gsize q = 0; q < n_q; q++)
    rows[q] = *q_items->modalities[q] ? q_items->modalities[q] : NO_MODALITY;
  return m3ret_metrics_table_add_excluding (table, column, n_q, width, ids, scores,
                                  (const gchar *const *) q_items->labels, rows, &self, sub_labels,
                                  n_sub, error);
}

static gfloat *
normalised_copy (const M3retEmbeddings *e, const gchar *what, GError **error)
{
  gfloat *rows = g_memdup2 (e->data, MAX (e->n_rows * e->dim, 1) * sizeof (gfloat));
  if (!m3ret_vectors_normalize (rows, e->n_rows, e->dim, what, error)) {
    g_free (rows);
    return NULL;
  }
  return rows;
}

M3retMetricsTable *
m3ret_metrics_evaluate (const M3retPlugin *plugin, const M3retConfig *config, guint n_threads,
                        const M3retEmbeddings *queries, const M3retEmbeddings *database,
                        const guint *ks, guint n_ks, GError **error)
{
  g_return_val_if_fail (plugin != NULL && config != NULL && queries != NULL && database != NULL,
                        NULL);
  g_return_val_if_fail (ks != NULL && n_ks > 0, NULL);
  if (queries->items == NULL || database->items == NULL) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "evaluation needs the modality and label of every %s row (its sidecar CSV)",
                 queries->items == NULL ? "query" : "database");
    return NULL;
  }
  if (queries->dim != database->dim) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "query embeddings are %u wide, database embeddings %u", queries->dim,
                 database->dim);
    return NULL;
  }
  guint kmax = 0;
  for (guint i = 0; i < n_ks; i++)
    kmax = MAX (kmax, ks[i]);
  g_autofree gfloat *q_rows = normalised_copy (queries, "query embeddings", error);
  if (q_rows == NULL)
    return NULL;
  g_autofree gfloat *db_rows = normalised_copy (database, "database embeddings", error);
  if (db_rows == NULL)
    return NULL;
  /* A query "sits in the database" when the same path is there, once or
   * more: every such row is its own. */
  g_autoptr (GHashTable) by_path =
    g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_array_unref);
  for (gsize j = 0; j < database->n_rows; j++) {
    GArray *rows = g_hash_table_lookup (by_path, database->items->paths[j]);
    if (rows == NULL) {
      rows = g_array_new (FALSE, FALSE, sizeof (gint64));
      g_hash_table_insert (by_path, database->items->paths[j], rows);
    }
    gint64 id = (gint64) j;
    g_array_append_val (rows, id);
  }
  g_autofree gsize *self_offsets = g_new (gsize, queries->n_rows + 1);
  g_autoptr (GArray) self_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (gsize q = 0; q < queries->n_rows; q++) {
    self_offsets[q] = self_ids->len;
    GArray *rows = g_hash_table_lookup (by_path, queries->items->paths[q]);
    if (rows != NULL)
      g_array_append_vals (self_ids, rows->data, rows->len);
  }
  self_offsets[queries->n_rows] = self_ids->len;
  M3retExclusions self = { self_offsets, (const gint64 *) self_ids->data };
  /* Rows of each database modality, in first-seen order. */
  g_autoptr (GPtrArray) modalities = g_ptr_array_new ();
  g_autoptr (GHashTable) subsets =
    g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_array_unref);
  for (gsize j = 0; j < database->n_rows; j++) {
    const gchar *m = database->items->modalities[j];
    GArray *rows = g_hash_table_lookup (subsets, m);
    if (rows == NULL) {
      rows = g_array_new (FALSE, FALSE, sizeof (gsize));
      g_hash_table_insert (subsets, (gpointer) m, rows);
      g_ptr_array_add (modalities, (gpointer) m);
    }
    g_array_append_val (rows, j);
  }
  M3retMetricsTable *table = m3ret_metrics_table_new (ks, n_ks);
  gboolean ok = evaluate_against (table, M3RET_METRICS_ALL, plugin, config, n_threads, q_rows,
                                  queries->items, &self, db_rows, database->items, database->dim,
                                  NULL, kmax, error);
  for (guint i = 0; ok && i < modalities->len; i++) {
    const gchar *m = modalities->pdata[i];
    ok = evaluate_against (table, *m ? m : NO_MODALITY, plugin, config, n_threads, q_rows,
                           queries->items, &self, db_rows, database->items, database->dim,
                           g_hash_table_lookup (subsets, m), kmax, error);
  }
  if (!ok) {
    m3ret_metrics_table_free (table);
    return NULL;
  }
  return table;
}
