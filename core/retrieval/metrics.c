/* metrics.c — Recall@K, Precision@K, mAP@K per cell, and their table/JSON output. */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-metrics.h"

typedef struct {
  gint64 id;
  gfloat score;
} Hit;

static gint
compare_ids (gconstpointer a, gconstpointer b)
{
  gint64 x = ((const Hit *) a)->id, y = ((const Hit *) b)->id;
  return x < y ? -1 : x > y;
}

static gboolean
is_own (const gint64 *self, gsize n_self, gint64 id)
{
  for (gsize i = 0; i < n_self; i++)
    if (self[i] == id)
      return TRUE;
  return FALSE;
}

/* @relevant_total is R: database items other than the query's own rows
 * (@self, @n_self) sharing its label. */
static gboolean
score_ranking (const gint64 *ids, const gfloat *scores, guint width, const gint64 *self,
               gsize n_self,
               const gchar *label, const gchar *const *db_labels, gsize n_db, gsize relevant_total,
               const guint *ks, guint n_ks, gdouble *recall, gdouble *precision, gdouble *ap,
               GError **error)
{
  g_autofree Hit *hits = g_new (Hit, MAX (width, 1));
  guint n = 0;
  for (guint i = 0; i < width; i++) {
    if (ids[i] < 0)
      continue;
    if ((guint64) ids[i] >= n_db) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "result id %" G_GINT64_FORMAT " is outside the database of %zu items", ids[i],
                   n_db);
      return FALSE;
    }
    hits[n].id = ids[i];
    hits[n].score = scores ? scores[i] : 0.0f;
    n++;
  }
  /* The tie rule: equal scores in ascending id order. */
  if (scores != NULL)
    for (guint start = 0; start < n;) {
      guint end = start + 1;
      while (end < n && hits[end].score == hits[start].score)
        end++;
      qsort (hits + start, end - start, sizeof (Hit), compare_ids);
      start = end;
    }
  /* Repeats are a retriever bug that would inflate every figure. */
  g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < n; i++) {
    if (!g_hash_table_add (seen, &hits[i].id)) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "result id %" G_GINT64_FORMAT " appears twice in one ranking", hits[i].id);
      return FALSE;
    }
  }
  gboolean labelled = *label != '\0';
  for (guint kk = 0; kk < n_ks; kk++) {
    guint k = ks[kk];
    guint rank = 0, hits_so_far = 0;
    gdouble sum_precision = 0;
    for (guint i = 0; i < n && rank < k; i++) {
      if (is_own (self, n_self, hits[i].id))
        continue;
      rank++;
      if (labelled && strcmp (db_labels[hits[i].id], label) == 0) {
        hits_so_far++;
        sum_precision += (gdouble) hits_so_far / rank;
      }
    }
    recall[kk] = hits_so_far > 0 ? 1.0 : 0.0;
    precision[kk] = (gdouble) hits_so_far / k;
    ap[kk] = relevant_total > 0 ? sum_precision / MIN ((gsize) k, relevant_total) : 0.0;
  }
  return TRUE;
}

gboolean
m3ret_metrics_score_query (const gint64 *ids, const gfloat *scores, guint width, gint64 self,
                           const gchar *label, const gchar *const *db_labels, gsize n_db,
                           const guint *ks, guint n_ks, gdouble *recall, gdouble *precision,
                           gdouble *ap, GError **error)
{
  g_return_val_if_fail ((ids != NULL || width == 0) && label != NULL && ks != NULL, FALSE);
  gsize relevant_total = 0;
  for (gsize j = 0; *label != '\0' && j < n_db; j++)
    if ((gint64) j != self && strcmp (db_labels[j], label) == 0)
      relevant_total++;
  return score_ranking (ids, scores, width, &self, self >= 0 ? 1 : 0, label, db_labels, n_db,
                        relevant_total, ks, n_ks, recall, precision, ap, error);
}

typedef struct {
  gsize n_queries;
  gsize n_no_relevant;
  gdouble *sums;    /* 3 × n_ks: recall, precision, ap */
  gdouble *means;   /* same layout, filled on demand */
} Cell;

struct _M3retMetricsTable {
  guint *ks;
  guint n_ks;
  GHashTable *cells;    /* "row\ncolumn" → Cell */
  GHashTable *rows;     /* set of names */
  GHashTable *columns;
};

static void
cell_free (gpointer data)
{
  Cell *cell = data;
  g_free (cell->sums);
  g_free (cell->means);
  g_free (cell);
}

M3retMetricsTable *
m3ret_metrics_table_new (const guint *ks, guint n_ks)
{
  g_return_val_if_fail (ks != NULL && n_ks > 0, NULL);
  for (guint i = 0; i < n_ks; i++)
    g_return_val_if_fail (ks[i] >= 1, NULL);
  M3retMetricsTable *t = g_new0 (M3retMetricsTable, 1);
  t->ks = g_memdup2 (ks, n_ks * sizeof (guint));
  t->n_ks = n_ks;
  t->cells = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, cell_free);
  t->rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  t->columns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return t;
}

void
m3ret_metrics_table_free (M3retMetricsTable *table)
{
  if (table == NULL)
    return;
  g_hash_table_unref (table->cells);
  g_hash_table_unref (table->rows);
  g_hash_table_unref (table->columns);
  g_free (table->ks);
  g_free (table);
}

const guint *
m3ret_metrics_table_get_ks (const M3retMetricsTable *table, guint *n_ks)
{
  g_return_val_if_fail (table != NULL, NULL);
  if (n_ks)
    *n_ks = table->n_ks;
  return table->ks;
}

static Cell *
get_cell (M3retMetricsTable *t, const gchar *row, const gchar *column, gboolean create)
{
  g_autofree gchar *key = g_strconcat (row, "\n", column, NULL);
  Cell *cell = g_hash_table_lookup (t->cells, key);
  if (cell == NULL && create) {
    cell = g_new0 (Cell, 1);
    cell->sums = g_new0 (gdouble, 3 * t->n_ks);
    cell->means = g_new0 (gdouble, 3 * t->n_ks);
    g_hash_table_insert (t->cells, g_steal_pointer (&key), cell);
    g_hash_table_add (t->rows, g_strdup (row));
    g_hash_table_add (t->columns, g_strdup (column));
  }
  return cell;
}

static void
cell_add (Cell *cell, guint n_ks, const gdouble *values, gboolean no_relevant)
{
  cell->n_queries++;
  cell->n_no_relevant += no_relevant;
  for (guint i = 0; i < 3 * n_ks; i++)
    cell->sums[i] += values[i];
}

gboolean
m3ret_metrics_table_add (M3retMetricsTable *table, const gchar *column, gsize n_queries,
                         guint width, const gint64 *ids, const gfloat *scores,
                         const gchar *const *query_labels, const gchar *const *query_rows,
                         const gint64 *query_self, const gchar *const *db_labels, gsize n_db,
                         GError **error)
{
  g_autofree M3retExclusions *ex =
    query_self ? m3ret_exclusions_new_one_each (query_self, n_queries) : NULL;
  return m3ret_metrics_table_add_excluding (table, column, n_queries, width, ids, scores,
                                            query_labels, query_rows, ex, db_labels, n_db, error);
}

gboolean
m3ret_metrics_table_add_excluding (M3retMetricsTable *table, const gchar *column,
                                   gsize n_queries, guint width, const gint64 *ids,
                                   const gfloat *scores, const gchar *const *query_labels,
                                   const gchar *const *query_rows, const M3retExclusions *self,
                                   const gchar *const *db_labels, gsize n_db, GError **error)
{
  g_return_val_if_fail (table != NULL && column != NULL, FALSE);
  g_return_val_if_fail (n_queries == 0 || (ids != NULL && query_labels && query_rows), FALSE);
  guint nk = table->n_ks;
  g_autofree gdouble *values = g_new (gdouble, 3 * nk);
  /* R per label, counted once rather than per query. */
  g_autoptr (GHashTable) label_counts = g_hash_table_new (g_str_hash, g_str_equal);
  for (gsize j = 0; j < n_db; j++) {
    gsize c = GPOINTER_TO_SIZE (g_hash_table_lookup (label_counts, db_labels[j]));
    g_hash_table_insert (label_counts, (gpointer) db_labels[j], GSIZE_TO_POINTER (c + 1));
  }
  for (gsize q = 0; q < n_queries; q++) {
    if (*query_labels[q] == '\0')
      continue;
    const gint64 *own = self ? self->ids + self->offsets[q] : NULL;
    gsize n_own = self ? self->offsets[q + 1] - self->offsets[q] : 0;
    gsize relevant = GPOINTER_TO_SIZE (g_hash_table_lookup (label_counts, query_labels[q]));
    for (gsize i = 0; i < n_own; i++) {
      if (own[i] < 0 || own[i] >= (gint64) n_db) {
        g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                     "query %zu: its own id %" G_GINT64_FORMAT " is outside the database", q,
                     own[i]);
        return FALSE;
      }
      if (strcmp (db_labels[own[i]], query_labels[q]) == 0)
        relevant--;
    }
    if (!score_ranking (ids + q * width, scores ? scores + q * width : NULL, width, own, n_own,
                        query_labels[q], db_labels, n_db, relevant, table->ks, nk, values,
                        values + nk, values + 2 * nk, error)) {
      g_prefix_error (error, "query %zu: ", q);
      return FALSE;
    }
    gboolean none = relevant == 0;
    cell_add (get_cell (table, query_rows[q], column, TRUE), nk, values, none);
    if (strcmp (query_rows[q], M3RET_METRICS_ALL) != 0)
      cell_add (get_cell (table, M3RET_METRICS_ALL, column, TRUE), nk, values, none);
  }
  return TRUE;
}

gboolean
m3ret_metrics_table_get (M3retMetricsTable *table, const gchar *row, const gchar *column,
                         M3retMetricsCell *out)
{
  g_return_val_if_fail (table != NULL && row != NULL && column != NULL && out != NULL, FALSE);
  Cell *cell = get_cell (table, row, column, FALSE);
  if (cell == NULL || cell->n_queries == 0)
    return FALSE;
  for (guint i = 0; i < 3 * table->n_ks; i++)
    cell->means[i] = cell->sums[i] / cell->n_queries;
  out->n_queries = cell->n_queries;
  out->n_no_relevant = cell->n_no_relevant;
  out->recall = cell->means;
  out->precision = cell->means + table->n_ks;
  out->map = cell->means + 2 * table->n_ks;
  return TRUE;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  const gchar *x = *(const gchar *const *) a, *y = *(const gchar *const *) b;
  gboolean xa = strcmp (x, M3RET_METRICS_ALL) == 0, ya = strcmp (y, M3RET_METRICS_ALL) == 0;
  if (xa || ya)
    return ya - xa;
  return strcmp (x, y);
}

static GPtrArray *
sorted_names (GHashTable *set)
{
  GPtrArray *names = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, set);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_names);
  return names;
}

GPtrArray *
m3ret_metrics_table_rows (const M3retMetricsTable *table)
{
  g_return_val_if_fail (table != NULL, NULL);
  return sorted_names (table->rows);
}

GPtrArray *
m3ret_metrics_table_columns (const M3retMetricsTable *table)
{
  g_return_val_if_fail (table != NULL, NULL);
  return sorted_names (table->columns);
}

static const gchar *const metric_names[3] = { "Recall", "Precision", "mAP" };

void
m3ret_metrics_table_print (M3retMetricsTable *table, FILE *out)
{
  g_return_if_fail (table != NULL && out != NULL);
  g_autoptr (GPtrArray) rows = m3ret_metrics_table_rows (table);
  g_autoptr (GPtrArray) columns = m3ret_metrics_table_columns (table);
  guint nk = table->n_ks;
  fprintf (out, "%-14s %7s", "queries", "n");
  for (guint m = 0; m < 3; m++)
    for (guint k = 0; k < nk; k++) {
      g_autofree gchar *head = g_strdup_printf ("%s@%u", m == 2 ? "mAP" : m == 0 ? "R" : "P",
                                                table->ks[k]);
      fprintf (out, " %7s", head);
    }
  fprintf (out, "\n");
  for (guint r = 0; r < rows->len; r++) {
    M3retMetricsCell cell;
    if (!m3ret_metrics_table_get (table, rows->pdata[r], M3RET_METRICS_ALL, &cell))
      continue;
    fprintf (out, "%-14s %7zu", (gchar *) rows->pdata[r], cell.n_queries);
    const gdouble *v[3] = { cell.recall, cell.precision, cell.map };
    for (guint m = 0; m < 3; m++)
      for (guint k = 0; k < nk; k++)
        fprintf (out, " %7.3f", v[m][k]);
    fprintf (out, "\n");
  }
  /* Columns beyond "all" exist once a per-modality database was scored. */
  if (columns->len < 2)
    return;
  guint kmax = 0;
  for (guint k = 0; k < nk; k++)
    if (table->ks[k] > table->ks[kmax])
      kmax = k;
  for (guint m = 0; m < 3; m++) {
    fprintf (out, "\ncross-modal %s@%u (rows: query modality, columns: database modality)\n",
             metric_names[m], table->ks[kmax]);
    fprintf (out, "%-14s", "");
    for (guint c = 1; c < columns->len; c++)
      fprintf (out, " %10.10s", (gchar *) columns->pdata[c]);
    fprintf (out, "\n");
    for (guint r = 1; r < rows->len; r++) {
      fprintf (out, "%-14s", (gchar *) rows->pdata[r]);
      for (guint c = 1; c < columns->len; c++) {
        M3retMetricsCell cell;
        if (m3ret_metrics_table_get (table, rows->pdata[r], columns->pdata[c], &cell)) {
          const gdouble *v[3] = { cell.recall, cell.precision, cell.map };
          fprintf (out, " %10.3f", v[m][kmax]);
        } else {
          fprintf (out, " %10s", "-");
        }
      }
      fprintf (out, "\n");
    }
  }
}

static void
json_string (GString *out, const gchar *s)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) s; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (out, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf (out, "\\u%04x", *p);
    else
      g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

static void
json_number (GString *out, gdouble v)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.6g", v));
}

static void
json_cell (GString *out, M3retMetricsTable *t, const gchar *row, const gchar *column)
{
  M3retMetricsCell cell;
  if (!m3ret_metrics_table_get (t, row, column, &cell)) {
    g_string_append (out, "null");
    return;
  }
  g_string_append_printf (out, "{\"queries\": %zu, \"no_relevant\": %zu", cell.n_queries,
                          cell.n_no_relevant);
  const gchar *const names[3] = { "recall", "precision", "map" };
  const gdouble *v[3] = { cell.recall, cell.precision, cell.map };
  for (guint m = 0; m < 3; m++) {
    g_string_append_printf (out, ", \"%s\": {", names[m]);
    for (guint k = 0; k < t->n_ks; k++) {
      g_string_append_printf (out, "%s\"%u\": ", k ? ", " : "", t->ks[k]);
      json_number (out, v[m][k]);
    }
    g_string_append_c (out, '}');
  }
  g_string_append_c (out, '}');
}

gchar *
m3ret_metrics_table_to_json (M3retMetricsTable *table)
{
  g_return_val_if_fail (table != NULL, NULL);
  g_autoptr (GPtrArray) rows = m3ret_metrics_table_rows (table);
  g_autoptr (GPtrArray) columns = m3ret_metrics_table_columns (table);
  GString *out = g_string_new ("{\n  \"ks\": [");
  for (guint k = 0; k < table->n_ks; k++)
    g_string_append_printf (out, "%s%u", k ? ", " : "", table->ks[k]);
  g_string_append (out, "],\n  \"overall\": ");
  json_cell (out, table, M3RET_METRICS_ALL, M3RET_METRICS_ALL);
  g_string_append (out, ",\n  \"per_modality\": {");
  for (guint r = 1; r < rows->len; r++) {
    g_string_append (out, r > 1 ? ",\n    " : "\n    ");
    json_string (out, rows->pdata[r]);
    g_string_append (out, ": ");
    json_cell (out, table, rows->pdata[r], M3RET_METRICS_ALL);
  }
  g_string_append (out, rows->len > 1 ? "\n  },\n  \"cross_modal\": {" : "},\n  \"cross_modal\": {");
  guint written = 0;
  for (guint r = 1; r < rows->len; r++) {
    g_string_append (out, written++ ? ",\n    " : "\n    ");
    json_string (out, rows->pdata[r]);
    g_string_append (out, ": {");
    for (guint c = 1; c < columns->len; c++) {
      g_string_append (out, c > 1 ? ",\n      " : "\n      ");
      json_string (out, columns->pdata[c]);
      g_string_append (out, ": ");
      json_cell (out, table, rows->pdata[r], columns->pdata[c]);
    }
    g_string_append (out, columns->len > 1 ? "\n    }" : "}");
  }
  g_string_append (out, written ? "\n  }\n}\n" : "}\n}\n");
  return g_string_free (out, FALSE);
}

gboolean
m3ret_metrics_table_write_json (M3retMetricsTable *table, const gchar *path, GError **error)
{
  g_autofree gchar *json = m3ret_metrics_table_to_json (table);
  return m3ret_file_write_atomic (path, json, -1, error);
}
