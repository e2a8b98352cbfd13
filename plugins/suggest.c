/* suggest.c — "did you mean": the closest candidate by edit distance. */
#include "config.h"

#include <string.h>

#include "m3ret-registry.h"

/* Optimal-string-alignment distance: Levenshtein plus adjacent swaps, so
 * "setps" is one edit from "steps". Words here are short: a full table. */
static guint
edit_distance (const gchar *a, const gchar *b)
{
  gsize la = strlen (a), lb = strlen (b), w = lb + 1;
  g_autofree guint *d = g_new (guint, (la + 1) * w);
  for (gsize i = 0; i <= la; i++)
    d[i * w] = i;
  for (gsize j = 0; j <= lb; j++)
    d[j] = j;
  for (gsize i = 1; i <= la; i++) {
    for (gsize j = 1; j <= lb; j++) {
      gchar ca = g_ascii_tolower (a[i - 1]), cb = g_ascii_tolower (b[j - 1]);
      guint best = MIN (d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1);
      best = MIN (best, d[(i - 1) * w + j - 1] + (ca == cb ? 0 : 1));
      if (i > 1 && j > 1 && ca == g_ascii_tolower (b[j - 2]) && g_ascii_tolower (a[i - 2]) == cb)
        best = MIN (best, d[(i - 2) * w + j - 2] + 1);
      d[i * w + j] = best;
    }
  }
  return d[la * w + lb];
}

gchar *
m3ret_suggest (const gchar *word, const gchar *const *candidates)
{
  if (word == NULL || candidates == NULL)
    return NULL;
  const gchar *best = NULL;
  guint best_d = G_MAXUINT;
  for (const gchar *const *c = candidates; *c; c++) {
    guint d = edit_distance (word, *c);
    if (d < best_d) {
      best_d = d;
      best = *c;
    }
  }
  /* A third of the word, at least one edit: "windw" → "window", not "tubelet". */
  guint limit = MAX (1, (guint) strlen (word) / 3);
  return best != NULL && best_d <= limit ? g_strdup (best) : NULL;
}
