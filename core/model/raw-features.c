/* raw-features.c — average-pooled, z-scored pixels (m3ret-raw-features.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-raw-features.h"

guint
m3ret_raw_feature_dim (guint channels)
{
  return channels * M3RET_RAW_CELLS * M3RET_RAW_CELLS * M3RET_RAW_CELLS;
}

/* [first, last) of the values cell @o of @n covers */
static void
cell_range (guint o, guint n, guint *first, guint *last)
{
  *first = o * n / M3RET_RAW_CELLS;
  *last = ((o + 1) * n + M3RET_RAW_CELLS - 1) / M3RET_RAW_CELLS;
  if (*last <= *first)
    *last = *first + 1;
}

void
m3ret_raw_feature (const M3retBatchView *v, guint index, gfloat *out)
{
  const guint C = v->channels, T = v->frames, H = v->height, W = v->width, K = M3RET_RAW_CELLS;
  const gfloat *x = v->data + (gsize) index * C * T * H * W;
  guint dim = m3ret_raw_feature_dim (C);
  for (guint c = 0; c < C; c++)
    for (guint ot = 0; ot < K; ot++) {
      guint t0, t1;
      cell_range (ot, T, &t0, &t1);
      for (guint oh = 0; oh < K; oh++) {
        guint h0, h1;
        cell_range (oh, H, &h0, &h1);
        for (guint ow = 0; ow < K; ow++) {
          guint w0, w1;
          cell_range (ow, W, &w0, &w1);
          gdouble s = 0;
          for (guint t = t0; t < t1; t++)
            for (guint h = h0; h < h1; h++)
              for (guint w = w0; w < w1; w++)
                s += x[(((gsize) c * T + t) * H + h) * W + w];
          out[((c * K + ot) * K + oh) * K + ow] =
            (gfloat) (s / ((gdouble) (t1 - t0) * (h1 - h0) * (w1 - w0)));
        }
      }
    }
  gdouble mean = 0, var = 0;
  for (guint i = 0; i < dim; i++)
    mean += out[i];
  mean /= dim;
  for (guint i = 0; i < dim; i++)
    var += (out[i] - mean) * (out[i] - mean);
  /* z-scored values have norm sqrt(dim): one division does both steps; a
   * flat view (no variance) becomes the zero vector */
  gdouble scale = var > 0 ? 1.0 / sqrt (var) : 0.0;
  for (guint i = 0; i < dim; i++)
    out[i] = (gfloat) ((out[i] - mean) * scale);
}

gchar *
m3ret_raw_provenance (guint size, guint depth, const gint tubelet[3])
{
  return g_strdup_printf ("m3ret weights=raw-pixels preset=none size=%u depth=%u tubelet=%d,%d,%d "
                          "pool=avg%ux%ux%u",
                          size, depth, tubelet[0], tubelet[1], tubelet[2], M3RET_RAW_CELLS,
                          M3RET_RAW_CELLS, M3RET_RAW_CELLS);
}
