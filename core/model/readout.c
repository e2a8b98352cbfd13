/* readout.c — encoder tokens to retrieval rows on the host (m3ret-readout.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-readout.h"

void
m3ret_readout_from_settings (M3retReadout *r, const M3retEncoderSettings *s, gint depth)
{
  r->pool = s->pool;
  r->cells = (gint) s->pool_cells;
  r->last = s->readout_block > 0 ? (gint) s->readout_block : depth;
  r->count = (gint) s->readout_mean;
  r->tta = s->tta;
}

guint
m3ret_readout_dim (const M3retReadout *r, gint dim)
{
  switch (r->pool) {
  case M3RET_POOL_CLS_MEAN: return 2u * (guint) dim;
  case M3RET_POOL_GRID: return (guint) (r->cells * r->cells * dim);
  case M3RET_POOL_CLS:
  case M3RET_POOL_MEAN:
  case M3RET_POOL_GEM: break;
  }
  return (guint) dim;
}

static void
normalise (gfloat *v, gint n)
{
  gdouble ss = 0.0;
  for (gint i = 0; i < n; i++)
    ss += (gdouble) v[i] * v[i];
  gfloat inv = (gfloat) (1.0 / MAX (sqrt (ss), 1e-12));
  for (gint i = 0; i < n; i++)
    v[i] *= inv;
}

/* The mean over patch tokens with t in [0, gt), h in [h0, h1), w in
 * [w0, w1) of @patches ((gt·gh·gw) × dim) into @out; GeM when @gem. */
static void
cell_mean (const gfloat *patches, const gint grid[3], gint dim, gint h0, gint h1, gint w0, gint w1,
           gboolean gem, gfloat *out)
{
  g_autofree gdouble *acc = g_new0 (gdouble, dim);
  gint n = 0;
  for (gint t = 0; t < grid[0]; t++)
    for (gint h = h0; h < h1; h++)
      for (gint w = w0; w < w1; w++, n++) {
        const gfloat *x = patches + ((gsize) (t * grid[1] + h) * grid[2] + w) * dim;
        for (gint c = 0; c < dim; c++)
          acc[c] += gem ? pow (MAX (x[c], 0.0f), M3RET_READOUT_GEM_P) : x[c];
      }
  for (gint c = 0; c < dim; c++) {
    gdouble m = n > 0 ? acc[c] / n : 0.0;
    out[c] = (gfloat) (gem ? pow (m, 1.0 / M3RET_READOUT_GEM_P) : m);
  }
}

void
m3ret_readout_rows (const M3retReadout *r, const gfloat *tokens, gint batch, const gint grid[3],
                    gint dim, gfloat *out)
{
  gint n = 1 + grid[0] * grid[1] * grid[2];
  guint width = m3ret_readout_dim (r, dim);
  const gint whole[3] = { grid[0], grid[1], grid[2] };
  for (gint b = 0; b < batch; b++) {
    const gfloat *cls = tokens + (gsize) b * n * dim, *patches = cls + dim;
    gfloat *row = out + (gsize) b * width;
    switch (r->pool) {
    case M3RET_POOL_CLS:
      memcpy (row, cls, sizeof (gfloat) * dim);
      break;
    case M3RET_POOL_MEAN:
    case M3RET_POOL_GEM:
      cell_mean (patches, whole, dim, 0, grid[1], 0, grid[2], r->pool == M3RET_POOL_GEM, row);
      break;
    case M3RET_POOL_CLS_MEAN:
      memcpy (row, cls, sizeof (gfloat) * dim);
      normalise (row, dim);
      cell_mean (patches, whole, dim, 0, grid[1], 0, grid[2], FALSE, row + dim);
      normalise (row + dim, dim);
      break;
    case M3RET_POOL_GRID:
      for (gint i = 0; i < r->cells; i++)
        for (gint j = 0; j < r->cells; j++) {
          gfloat *cell = row + (gsize) (i * r->cells + j) * dim;
          cell_mean (patches, whole, dim, i * grid[1] / r->cells, (i + 1) * grid[1] / r->cells,
                     j * grid[2] / r->cells, (j + 1) * grid[2] / r->cells, FALSE, cell);
          normalise (cell, dim);
        }
      break;
    }
    normalise (row, (gint) width);
  }
}

gchar *
m3ret_readout_describe (const M3retReadout *r, gint depth)
{
  GString *s = g_string_new (m3ret_vit_pool_name (r->pool));
  if (r->pool == M3RET_POOL_GRID)
    g_string_append_printf (s, ":%d", r->cells);
  if (r->last != depth || r->count != 1)
    g_string_append_printf (s, ",blocks=%d-%d", r->last - r->count + 1, r->last);
  if (r->tta == M3RET_TTA_FLIP)
    g_string_append (s, ",tta=flip");
  return g_string_free (s, FALSE);
}
