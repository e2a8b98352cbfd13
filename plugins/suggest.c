/* suggest.c — "did you mean": the closest candidate by edit distance. */
#include "config.h"

#include <string.h>

#include "m3ret-registry.h"

/* Levenshtein distance with one rolling row; words here are short. */
static guint
edit_distance (const gchar *a, const gchar *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *row = g_new (guint, lb + 1);
  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++) {
    guint diag = row[0];
    row[0] = i;
    for (gsize j = 1; j <= lb; j++) {
      guint up = row[j];
      guint cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;
      row[j] = MIN (MIN (row[j] + 1, row[j - 1] + 1), diag + cost);
      diag = up;
    }
  }
  return row[lb];
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
