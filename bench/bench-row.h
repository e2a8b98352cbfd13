/* bench-row.h — what every benchmark program shares with the `make bench`
 * driver (bench-table.sh): one machine-readable line per issue-8 target
 * row, and the median the figures are taken as.
 *
 * A row is printed on stdout, tab-separated:
 *   M3RET-BENCH  stage  figure  ours  peer-name  peer  ratio  target
 * with @target written as ">=1.5" or "<=0.8"; the driver collects the
 * lines of every program into one table and says whether each is met.
 */
#ifndef M3RET_BENCH_ROW_H
#define M3RET_BENCH_ROW_H

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

/* Prints the row for @ours against @peer (ratio ours ÷ peer).  Neither
 * @stage nor @figure nor @peer_name may hold a tab or a newline. */
static inline void
bench_row (const gchar *stage, const gchar *figure, gdouble ours, const gchar *peer_name,
           gdouble peer, const gchar *target)
{
  printf ("M3RET-BENCH\t%s\t%s\t%.6g\t%s\t%.6g\t%.4f\t%s\n", stage, figure, ours, peer_name, peer,
          peer != 0 ? ours / peer : 0.0, target);
  fflush (stdout);
}

static inline int
bench_compare_doubles (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;
  return (x > y) - (x < y);
}

/* The median of @n values (sorts @v in place); 0 when @n is 0. */
static inline gdouble
bench_median (gdouble *v, guint n)
{
  if (n == 0)
    return 0;
  qsort (v, n, sizeof *v, bench_compare_doubles);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* A positive integer from environment variable @name, else @fallback. */
static inline gint
bench_env_int (const gchar *name, gint fallback)
{
  const gchar *text = g_getenv (name);
  gint v = text != NULL ? atoi (text) : 0;
  return v > 0 ? v : fallback;
}

#endif
