/* similarity.c — score distributions of relevant and irrelevant pairs. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-index.h"
#include "m3ret-similarity.h"

static gint
compare_float (gconstpointer a, gconstpointer b)
{
  gfloat x = *(const gfloat *) a, y = *(const gfloat *) b;
  return x < y ? -1 : x > y;
}

/* @v sorted ascending */
static void
summarise (const GArray *v, M3retScoreSummary *s)
{
  static const gdouble at[5] = { 0.05, 0.25, 0.5, 0.75, 0.95 };
  memset (s, 0, sizeof *s);
  s->n = v->len;
  if (v->len == 0) {
    s->mean = NAN;
    for (guint i = 0; i < 5; i++)
      s->q[i] = NAN;
    return;
  }
  const gfloat *x = (const gfloat *) v->data;
  gdouble sum = 0;
  for (guint i = 0; i < v->len; i++)
    sum += x[i];
  s->mean = sum / v->len;
  for (guint i = 0; i < 5; i++)
    s->q[i] = x[(gsize) (at[i] * (v->len - 1) + 0.5)];
}

/* P(relevant > irrelevant) + ½·P(equal), both sorted ascending: one merge. */
static gdouble
auc_of (const GArray *rel, const GArray *irr)
{
  if (rel->len == 0 || irr->len == 0)
    return NAN;
  const gfloat *r = (const gfloat *) rel->data, *n = (const gfloat *) irr->data;
  gdouble wins = 0;
  gsize below = 0, equal_end = 0;
  for (gsize i = 0; i < rel->len; i++) {
    while (below < irr->len && n[below] < r[i])
      below++;
    if (equal_end < below)
      equal_end = below;
    while (equal_end < irr->len && n[equal_end] == r[i])
      equal_end++;
    wins += (gdouble) below + 0.5 * (gdouble) (equal_end - below);
  }
  return wins / ((gdouble) rel->len * irr->len);
}

gboolean
m3ret_similarity_stats (const M3retEmbeddings *queries, const M3retEmbeddings *database,
                        M3retSimilarityStats *stats, GError **error)
{
  g_return_val_if_fail (queries->items != NULL && database->items != NULL, FALSE);
  memset (stats, 0, sizeof *stats);
  if (queries->dim != database->dim) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_MISMATCH,
                 "query embeddings are %u wide, database embeddings %u", queries->dim,
                 database->dim);
    return FALSE;
  }
  gsize n_db = database->n_rows, dim = queries->dim;
  gsize n_q = queries->n_rows;
  gsize use = n_db > 0 ? MIN (n_q, MAX (1, M3RET_SIMILARITY_MAX_PAIRS / n_db)) : 0;
  g_autofree gfloat *db = g_memdup2 (database->data, MAX (n_db * dim, 1) * sizeof (gfloat));
  g_autofree gfloat *q = g_new (gfloat, MAX (use * dim, 1));
  g_autofree gsize *q_row = g_new (gsize, MAX (use, 1));
  for (gsize i = 0; i < use; i++) {
    q_row[i] = use > 1 ? i * (n_q - 1) / (use - 1) : 0;
    memcpy (q + i * dim, queries->data + q_row[i] * dim, dim * sizeof (gfloat));
  }
  if (!m3ret_vectors_normalize (db, n_db, (guint) dim, "database embeddings", error) ||
      !m3ret_vectors_normalize (q, use, (guint) dim, "query embeddings", error))
    return FALSE;
  g_autoptr (GArray) rel = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_autoptr (GArray) irr = g_array_new (FALSE, FALSE, sizeof (gfloat));
  g_autofree gfloat *scores = g_new (gfloat, MAX (n_db, 1));
  for (gsize i = 0; i < use; i++) {
    const gchar *label = queries->items->labels[q_row[i]];
    const gchar *path = queries->items->paths[q_row[i]];
    for (gsize j = 0; j < n_db; j++) {
      const gfloat *a = q + i * dim, *b = db + j * dim;
      gfloat dot = 0;
      for (gsize c = 0; c < dim; c++)
        dot += a[c] * b[c];
      scores[j] = dot;
    }
    for (gsize j = 0; j < n_db; j++) {
      if (strcmp (database->items->paths[j], path) == 0)
        continue; /* its own row */
      gboolean relevant = *label && strcmp (database->items->labels[j], label) == 0;
      g_array_append_val (relevant ? rel : irr, scores[j]);
    }
  }
  g_array_sort (rel, compare_float);
  g_array_sort (irr, compare_float);
  summarise (rel, &stats->relevant);
  summarise (irr, &stats->irrelevant);
  stats->auc = auc_of (rel, irr);
  stats->queries_used = use;
  return TRUE;
}

static void
print_summary (const gchar *name, const M3retScoreSummary *s, FILE *out)
{
  fprintf (out, "%-11s %9zu %7.3f %7.3f %7.3f %7.3f %7.3f %7.3f\n", name, s->n, s->mean, s->q[0],
           s->q[1], s->q[2], s->q[3], s->q[4]);
}

void
m3ret_similarity_stats_print (const M3retSimilarityStats *stats, FILE *out)
{
  fprintf (out, "%-11s %9s %7s %7s %7s %7s %7s %7s\n", "similarity", "pairs", "mean", "p5", "p25",
           "p50", "p75", "p95");
  print_summary ("relevant", &stats->relevant, out);
  print_summary ("irrelevant", &stats->irrelevant, out);
  fprintf (out, "separation: AUC %.3f (P(relevant pair scores above an irrelevant one); 0.5 = "
                "none)\n", stats->auc);
}
