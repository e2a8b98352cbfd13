/* m3ret-similarity.h — how far apart the scores of relevant and irrelevant
 * pairs lie: whether a similarity printed by `query` means anything.
 *
 * Over query × database pairs (a query's own rows left out, as in the
 * metrics; relevance = same non-empty label), the cosine similarities of
 * the relevant and of the irrelevant pairs are summarised by quantiles,
 * and their separation by the AUC: the probability that a relevant pair,
 * drawn at random, scores above an irrelevant one (ties count half; 0.5 =
 * no separation).  Sets of more than M3RET_SIMILARITY_MAX_PAIRS pairs use
 * evenly spaced queries, every database row each.
 */
#ifndef M3RET_SIMILARITY_H
#define M3RET_SIMILARITY_H

#include <stdio.h>

#include <glib.h>

#include "m3ret-embeddings.h"

G_BEGIN_DECLS

#define M3RET_SIMILARITY_MAX_PAIRS (1u << 20)

typedef struct {
  gsize n;              /* pairs */
  gdouble mean;
  gdouble q[5];         /* 5th, 25th, 50th, 75th and 95th percentiles */
} M3retScoreSummary;

typedef struct {
  M3retScoreSummary relevant, irrelevant;
  gdouble auc;          /* NAN when either kind of pair is missing */
  gsize queries_used;
} M3retSimilarityStats;

/* Fills @stats for @queries against @database (both with items; rows need
 * not be normalised).  FALSE with @error when a set has a zero row or the
 * widths differ. */
gboolean m3ret_similarity_stats (const M3retEmbeddings *queries, const M3retEmbeddings *database,
                                 M3retSimilarityStats *stats, GError **error);

/* Two lines, "relevant" and "irrelevant", and the AUC. */
void m3ret_similarity_stats_print (const M3retSimilarityStats *stats, FILE *out);

G_END_DECLS

#endif /* M3RET_SIMILARITY_H */
