/* volume.c — decoded volumes and the modality-neutral intensity helpers. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-volume.h"

M3retVolume *
m3ret_volume_try_new (guint channels, guint depth, guint height, guint width)
{
  gsize n = (gsize) channels * depth * height * width;
  if (n == 0 || n > G_MAXSIZE / sizeof (gfloat))
    return NULL;
  gfloat *data = g_try_malloc (n * sizeof (gfloat));
  if (data == NULL)
    return NULL;
  M3retVolume *v = g_new0 (M3retVolume, 1);
  v->channels = channels;
  v->depth = depth;
  v->height = height;
  v->width = width;
  v->spacing[0] = v->spacing[1] = v->spacing[2] = 1.0;
  v->data = data;
  return v;
}

void
m3ret_volume_free (M3retVolume *volume)
{
  if (volume == NULL)
    return;
  g_free (volume->data);
  g_free (volume);
}

gsize
m3ret_volume_count_nonfinite (const M3retVolume *volume)
{
  gsize n = m3ret_volume_n_values (volume), bad = 0;
  for (gsize i = 0; i < n; i++)
    bad += !isfinite (volume->data[i]);
  return bad;
}

/* Wirth's selection: afterwards values[k] is the k-th smallest, nothing
 * before it is larger and nothing after it smaller.  Values must be finite. */
static void
select_kth (gfloat *values, gsize n, gsize k)
{
  gssize lo = 0, hi = (gssize) n - 1, target = (gssize) k;
  while (hi > lo) {
    gfloat a = values[lo], b = values[lo + (hi - lo) / 2], c = values[hi];
    gfloat pivot = (a < b) ? ((b < c) ? b : (a < c ? c : a)) : ((a < c) ? a : (b < c ? c : b));
    gssize i = lo, j = hi;
    while (i <= j) {
      while (values[i] < pivot)
        i++;
      while (values[j] > pivot)
        j--;
      if (i <= j) {
        gfloat t = values[i];
        values[i] = values[j];
        values[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j)
      hi = j;
    else if (target >= i)
      lo = i;
    else
      return;
  }
}

gdouble
m3ret_percentile_inplace (gfloat *values, gsize n, gdouble p)
{
  if (n == 0)
    return 0.0;
  gdouble rank = CLAMP (p, 0.0, 100.0) / 100.0 * (gdouble) (n - 1);
  gsize k = (gsize) floor (rank);
  gdouble frac = rank - (gdouble) k;
  select_kth (values, n, k);
  gdouble lower = values[k];
  if (frac == 0.0 || k + 1 >= n)
    return lower;
  /* The next order statistic is the smallest value after position k. */
  gfloat upper = values[k + 1];
  for (gsize i = k + 2; i < n; i++)
    if (values[i] < upper)
      upper = values[i];
  return lower + frac * ((gdouble) upper - lower);
}

static gfloat *
subsample_copy (const M3retVolume *volume, gsize max_values, gsize *n_out)
{
  gsize n = m3ret_volume_n_values (volume);
  gsize stride = (max_values > 0 && n > max_values) ? (n + max_values - 1) / max_values : 1;
  gfloat *copy = g_new (gfloat, (n + stride - 1) / stride);
  gsize m = 0;
  for (gsize i = 0; i < n; i += stride)
    if (isfinite (volume->data[i]))
      copy[m++] = volume->data[i];
  *n_out = m;
  return copy;
}

void
m3ret_volume_percentiles (const M3retVolume *volume, gdouble p_low, gdouble p_high,
                          gsize max_values, gdouble *low, gdouble *high)
{
  gsize m;
  g_autofree gfloat *copy = subsample_copy (volume, max_values, &m);
  *low = m3ret_percentile_inplace (copy, m, p_low);
  *high = m3ret_percentile_inplace (copy, m, p_high);
}

void
m3ret_volume_stats (const M3retVolume *volume, M3retVolumeStats *stats)
{
  gsize n = m3ret_volume_n_values (volume);
  gdouble lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE, sum = 0.0;
  gsize finite = 0;
  for (gsize i = 0; i < n; i++) {
    gdouble v = volume->data[i];
    if (!isfinite (v))
      continue;
    finite++;
    lo = MIN (lo, v);
    hi = MAX (hi, v);
    sum += v;
  }
  stats->min = finite ? lo : 0.0;
  stats->max = finite ? hi : 0.0;
  stats->mean = finite ? sum / (gdouble) finite : 0.0;
  gsize m;
  g_autofree gfloat *copy = subsample_copy (volume, 1u << 22, &m);
  stats->p_low = m3ret_percentile_inplace (copy, m, 0.5);
  stats->p_median = m3ret_percentile_inplace (copy, m, 50.0);
  stats->p_high = m3ret_percentile_inplace (copy, m, 99.5);
}

void
m3ret_volume_window (M3retVolume *volume, gdouble low, gdouble high)
{
  gsize n = m3ret_volume_n_values (volume);
  if (!(high > low)) {
    memset (volume->data, 0, n * sizeof (gfloat));
    return;
  }
  gdouble scale = 1.0 / (high - low);
  for (gsize i = 0; i < n; i++) {
    gdouble v = ((gdouble) volume->data[i] - low) * scale;
    volume->data[i] = (gfloat) CLAMP (v, 0.0, 1.0);
  }
}
