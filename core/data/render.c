/* render.c — the separable resampler, crop planning, flips, jitter, frames. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-render.h"

/* The taps of one output position along one axis. */
typedef struct {
  guint first;     /* first source index */
  guint n;         /* taps */
  gboolean outside;
  gfloat *w;       /* n weights summing to 1 (points into Axis.weights) */
} Taps;

typedef struct {
  guint n_out;
  Taps *taps;
  gfloat *weights;
  guint used_lo, used_hi; /* source indices any tap reads: [lo, hi) */
  guint max_n;            /* the most taps of any output */
} Axis;

static void
axis_init (Axis *axis, guint n_src, gdouble a0, gdouble a1, guint n_out)
{
  gdouble scale = (a1 - a0) / n_out;
  gdouble support = MAX (1.0, fabs (scale));
  /* at least four: filter_row's short path reads four weights of every
   * output, those past its n zero */
  guint max_taps = MAX ((guint) ceil (2.0 * support) + 2, 4);
  axis->n_out = n_out;
  axis->taps = g_new0 (Taps, n_out);
  axis->weights = g_new0 (gfloat, (gsize) n_out * max_taps);
  axis->used_lo = n_src;
  axis->used_hi = 0;
  axis->max_n = 0;
  for (guint o = 0; o < n_out; o++) {
    Taps *t = &axis->taps[o];
    gdouble centre = a0 + (o + 0.5) * scale;
    t->w = axis->weights + (gsize) o * max_taps;
    if (centre < 0.0 || centre > (gdouble) n_src) {
      t->outside = TRUE;
      continue;
    }
    gdouble c = centre - 0.5; /* in index units: voxel i sits at i */
    gint64 lo = (gint64) floor (c - support) + 1, hi = (gint64) ceil (c + support) - 1;
    gint64 first = CLAMP (lo, 0, (gint64) n_src - 1), last = CLAMP (hi, 0, (gint64) n_src - 1);
    t->first = (guint) first;
    t->n = (guint) (last - first + 1);
    g_assert (t->n <= max_taps);
    gdouble total = 0.0;
    for (gint64 i = lo; i <= hi; i++) {
      gdouble w = 1.0 - fabs ((gdouble) i - c) / support;
      if (w <= 0.0)
        continue;
      gint64 j = CLAMP (i, 0, (gint64) n_src - 1);
      t->w[j - first] += (gfloat) w;
      total += w;
    }
    if (total <= 0.0) { /* c exactly on a tap with support 1 cannot give 0; be safe */
      t->w[CLAMP ((gint64) floor (c + 0.5), first, last) - first] = 1.0f;
      total = 1.0;
    }
    for (guint k = 0; k < t->n; k++)
      t->w[k] = (gfloat) (t->w[k] / total);
    axis->used_lo = MIN (axis->used_lo, t->first);
    axis->used_hi = MAX (axis->used_hi, t->first + t->n);
    axis->max_n = MAX (axis->max_n, t->n);
  }
  if (axis->used_hi <= axis->used_lo) { /* every output outside: read nothing */
    axis->used_lo = 0;
    axis->used_hi = 0;
  }
}

static void
axis_clear (Axis *axis)
{
  g_free (axis->taps);
  g_free (axis->weights);
}

/* The hot loops get an AVX2 clone on x86, picked at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__ ((target_clones ("avx2", "default")))
#else
#define HOT
#endif

/* Eight floats: one AVX register, or two SSE ones in the default clone. */
typedef gfloat Vec8 __attribute__ ((vector_size (32)));

/* out[0..n) += w · in[0..n): the z and y passes, over contiguous rows. */
HOT static void
axpy (gfloat *restrict out, const gfloat *restrict in, gfloat w, gsize n)
{
  gsize i = 0;
  for (; i + 8 <= n; i += 8) {
    Vec8 a, b;
    memcpy (&a, out + i, sizeof a);
    memcpy (&b, in + i, sizeof b);
    a += w * b;
    memcpy (out + i, &a, sizeof a);
  }
  for (; i < n; i++)
    out[i] += w * in[i];
}

/* out[0..n) = w · in[0..n): a y pass's first tap. */
HOT static void
scale (gfloat *restrict out, const gfloat *restrict in, gfloat w, gsize n)
{
  for (gsize i = 0; i < n; i++)
    out[i] = w * in[i];
}

/* out[x] = Σ taps of row: the x pass, run last so it gathers from the
 * fewest rows. */
static void
filter_row (gfloat *restrict out, const gfloat *restrict row, const Axis *ax, guint lo)
{
  if (ax->max_n <= 4) {
    /* Four taps each, the missing ones weighing 0 (weights are zeroed
     * past n; @row has 4 zeros past its end): no loop to predict, and
     * the same sum in the same order. */
    for (guint x = 0; x < ax->n_out; x++) {
      const Taps *t = &ax->taps[x];
      const gfloat *in = row + t->first - lo;
      out[x] = t->outside ? 0.0f
                          : 0.0f + t->w[0] * in[0] + t->w[1] * in[1] + t->w[2] * in[2] +
                              t->w[3] * in[3];
    }
    return;
  }
  for (guint x = 0; x < ax->n_out; x++) {
    const Taps *t = &ax->taps[x];
    const gfloat *in = row + t->first - lo;
    gfloat acc = 0.0f;
    for (guint k = 0; k < t->n; k++)
      acc += t->w[k] * in[k];
    out[x] = acc;
  }
}

/* m3ret_resample over @depth slices whose slice i is @src's slice
 * @slices[i] (NULL: slice i itself, @depth being @src->depth). */
static void
resample_slices (const M3retVolume *src, const guint *slices, guint depth, const M3retBox *box,
                 gfloat fill, M3retSample *dst)
{
  Axis ax, ay, az;
  axis_init (&ax, src->width, box->x0, box->x1, dst->width);
  axis_init (&ay, src->height, box->y0, box->y1, dst->height);
  axis_init (&az, depth, box->z0, box->z1, dst->frames);

  guint W = dst->width, H = dst->height, T = dst->frames;
  guint xlo = ax.used_lo, xn = ax.used_hi - ax.used_lo;
  guint ylo = ay.used_lo, yn = ay.used_hi - ay.used_lo;
  gsize src_plane = (gsize) src->height * src->width;
  /* Pass z over the part of each slice any output needs, then y, then x:
   * the first two are contiguous multiply-adds, and the gathering x pass
   * comes last, on the smallest block (views shrink z most). */
  /* When every output slice is one source slice taken whole (a sequence's
   * frames, or a volume kept at its depth), the z pass would only copy:
   * the y pass then reads the source slices in place. */
  gboolean z_copies = TRUE;
  for (guint z = 0; z < T && z_copies; z++)
    z_copies = !az.taps[z].outside && az.taps[z].n == 1 && az.taps[z].w[0] == 1.0f;
  gfloat *pz = z_copies ? NULL : g_new (gfloat, (gsize) T * yn * xn + 1);
  /* one row after the y pass, and 4 zeros past it (filter_row) */
  gfloat *py = g_new0 (gfloat, (gsize) xn + 4);
  for (guint c = 0; c < src->channels; c++) {
    const gfloat *s = src->data + (gsize) c * src->depth * src_plane;
    for (guint z = 0; z < T && !z_copies; z++) {
      const Taps *t = &az.taps[z];
      gfloat *out = pz + (gsize) z * yn * xn;
      memset (out, 0, (gsize) yn * xn * sizeof (gfloat));
      for (guint k = 0; k < t->n; k++) {
        guint z_src = slices != NULL ? slices[t->first + k] : t->first + k;
        const gfloat *slice = s + (gsize) z_src * src_plane + (gsize) ylo * src->width + xlo;
        for (guint y = 0; y < yn; y++)
          axpy (out + (gsize) y * xn, slice + (gsize) y * src->width, t->w[k], xn);
      }
    }
    gfloat *d = dst->data + (gsize) c * T * H * W;
    for (guint z = 0; z < T; z++) {
      /* row r of slice z's window: rows + (r − ylo)·stride */
      const gfloat *rows;
      gsize stride;
      if (z_copies) {
        guint first = az.taps[z].first;
        guint z_src = slices != NULL ? slices[first] : first;
        rows = s + (gsize) z_src * src_plane + (gsize) ylo * src->width + xlo;
        stride = src->width;
      } else {
        rows = pz + (gsize) z * yn * xn;
        stride = xn;
      }
      /* y then x, one output row at a time: the y pass's row stays in L1
       * for the gathering x pass */
      for (guint y = 0; y < H; y++) {
        const Taps *t = &ay.taps[y];
        gfloat *out = d + ((gsize) z * H + y) * W;
        if (az.taps[z].outside || t->outside) {
          for (guint x = 0; x < W; x++)
            out[x] = fill;
          continue;
        }
        scale (py, rows + (gsize) (t->first - ylo) * stride, t->w[0], xn);
        for (guint k = 1; k < t->n; k++)
          axpy (py, rows + (gsize) (t->first - ylo + k) * stride, t->w[k], xn);
        filter_row (out, py, &ax, xlo);
        for (guint x = 0; x < W; x++)
          if (ax.taps[x].outside)
            out[x] = fill;
      }
    }
  }
  g_free (pz);
  g_free (py);
  axis_clear (&ax);
  axis_clear (&ay);
  axis_clear (&az);
}

void
m3ret_resample (const M3retVolume *src, const M3retBox *box, gfloat fill, M3retSample *dst)
{
  g_return_if_fail (src != NULL && box != NULL && dst != NULL);
  g_return_if_fail (src->channels == dst->channels);
  resample_slices (src, NULL, src->depth, box, fill, dst);
}

gboolean
m3ret_flips_from_string (const gchar *text, M3retFlips *flips)
{
  *flips = 0;
  if (g_strcmp0 (text, "none") == 0)
    return TRUE;
  if (text == NULL || *text == '\0')
    return FALSE;
  for (const gchar *c = text; *c; c++) {
    if (*c == 'x')
      *flips |= M3RET_FLIP_X;
    else if (*c == 'y')
      *flips |= M3RET_FLIP_Y;
    else if (*c == 'z')
      *flips |= M3RET_FLIP_Z;
    else
      return FALSE;
  }
  return TRUE;
}

static gdouble
uniform (GRand *rand, gdouble lo, gdouble hi)
{
  return hi > lo ? g_rand_double_range (rand, lo, hi) : lo;
}

void
m3ret_plan_box (const M3retVolume *src, const M3retView *view, gboolean volumetric, M3retBox *box)
{
  /* The field of view: a square in physical units around the image centre. */
  gdouble side = MAX (src->width * src->spacing[0], src->height * src->spacing[1]);
  gdouble fx = side / src->spacing[0], fy = side / src->spacing[1];
  gdouble ox = src->width / 2.0 - fx / 2.0, oy = src->height / 2.0 - fy / 2.0;
  gdouble fz = src->depth;
  gdouble wx = 1.0, wy = 1.0, wz = 1.0, px = 0.0, py = 0.0, pz = 0.0;

  if (view->mode == M3RET_VIEW_TRAIN && view->rand != NULL) {
    GRand *r = view->rand;
    gdouble keep = uniform (r, view->scale_min, view->scale_max);
    gdouble ratio = exp (uniform (r, log (3.0 / 4.0), log (4.0 / 3.0)));
    gdouble area = volumetric ? pow (keep, 2.0 / 3.0) : keep;
    wx = MIN (1.0, sqrt (area * ratio));
    wy = MIN (1.0, sqrt (area / ratio));
    px = uniform (r, 0.0, 1.0 - wx);
    py = uniform (r, 0.0, 1.0 - wy);
    if (volumetric) {
      wz = MIN (1.0, cbrt (keep));
      pz = uniform (r, 0.0, 1.0 - wz);
    }
  }
  box->x0 = ox + px * fx;
  box->x1 = box->x0 + wx * fx;
  box->y0 = oy + py * fy;
  box->y1 = box->y0 + wy * fy;
  box->z0 = pz * fz;
  box->z1 = box->z0 + wz * fz;
}

static void
flip_axis (M3retSample *s, guint axis)
{
  guint C = s->channels, T = s->frames, H = s->height, W = s->width;
  for (guint c = 0; c < C; c++)
    for (guint t = 0; t < T; t++)
      for (guint y = 0; y < H; y++)
        for (guint x = 0; x < W; x++) {
          guint t2 = t, y2 = y, x2 = x;
          if (axis == 0) {
            if (x >= W / 2)
              break;
            x2 = W - 1 - x;
          } else if (axis == 1) {
            if (y >= H / 2)
              break;
            y2 = H - 1 - y;
          } else {
            if (t >= T / 2)
              break;
            t2 = T - 1 - t;
          }
          gfloat *a = s->data + (((gsize) c * T + t) * H + y) * W + x;
          gfloat *b = s->data + (((gsize) c * T + t2) * H + y2) * W + x2;
          gfloat tmp = *a;
          *a = *b;
          *b = tmp;
        }
}

/* dst = (jitter (src) − mean) · inv over @n values, one pass in float
 * (@dst may be @src): jitter clamps (v − ½)·contrast + ½ + brightness to
 * [0, 1]. */
HOT static void
finish_plane (gfloat *dst, const gfloat *src, gsize n, gboolean jitter, gfloat contrast,
              gfloat brightness, gfloat mean, gfloat inv)
{
  if (jitter)
    for (gsize i = 0; i < n; i++) {
      gfloat v = (src[i] - 0.5f) * contrast + 0.5f + brightness;
      v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
      dst[i] = (v - mean) * inv;
    }
  else
    for (gsize i = 0; i < n; i++)
      dst[i] = (src[i] - mean) * inv;
}

/* m3ret_render of the @depth slices @slices picks from @src (NULL: all of
 * @src, @depth being @src->depth). */
static M3retSample *
render_slices (const M3retVolume *src, const guint *slices, guint depth, const M3retView *view,
               M3retLayout layout, const M3retRenderOptions *options)
{
  guint T = layout == M3RET_LAYOUT_IMAGE ? view->image_depth : view->depth;
  M3retBox box;
  M3retVolume shape = *src; /* the box is planned on the picked slices */
  shape.depth = depth;
  m3ret_plan_box (&shape, view, options->volumetric, &box);
  M3retSample *grid = m3ret_sample_new (src->channels, T, view->size, view->size);
  resample_slices (src, slices, depth, &box, 0.0f, grid);

  gboolean jitter = FALSE;
  gfloat contrast = 1.0f, brightness = 0.0f;
  if (view->mode == M3RET_VIEW_TRAIN && view->rand != NULL) {
    GRand *r = view->rand;
    for (guint axis = 0; axis < 3; axis++) {
      if (!(options->flips & (1u << axis)))
        continue;
      if (axis == 2 && !options->volumetric)
        continue;
      if (g_rand_boolean (r))
        flip_axis (grid, axis);
    }
    if (options->jitter > 0.0) {
      jitter = TRUE;
      contrast = (gfloat) uniform (r, 1.0 - options->jitter, 1.0 + options->jitter);
      brightness = (gfloat) uniform (r, -options->jitter / 2.0, options->jitter / 2.0);
    }
  }
  /* Grey is replicated: each output channel reads the one grid channel. */
  gsize plane = (gsize) T * view->size * view->size;
  M3retSample *out = grid->channels == 3 ? grid : m3ret_sample_new (3, T, view->size, view->size);
  for (guint c = 0; c < 3; c++)
    finish_plane (out->data + c * plane, grid->data + (grid->channels == 3 ? c * plane : 0), plane,
                  jitter, contrast, brightness, (gfloat) options->mean[c],
                  (gfloat) (1.0 / options->std[c]));
  if (out != grid)
    m3ret_sample_free (grid);
  return out;
}

M3retSample *
m3ret_render (const M3retVolume *src, const M3retView *view, M3retLayout layout,
              const M3retRenderOptions *options)
{
  g_return_val_if_fail (src != NULL && view != NULL && options != NULL, NULL);
  g_return_val_if_fail (src->channels == 1 || src->channels == 3, NULL);
  return render_slices (src, NULL, src->depth, view, layout, options);
}

M3retSample *
m3ret_render_frames (const M3retVolume *clip, const guint *frames, guint n_frames,
                     const M3retView *view, const M3retRenderOptions *options)
{
  g_return_val_if_fail (clip != NULL && frames != NULL && n_frames > 0, NULL);
  g_return_val_if_fail (view != NULL && options != NULL && !options->volumetric, NULL);
  g_return_val_if_fail (clip->channels == 1 || clip->channels == 3, NULL);
  for (guint i = 0; i < n_frames; i++)
    g_return_val_if_fail (frames[i] < clip->depth, NULL);
  return render_slices (clip, frames, n_frames, view, M3RET_LAYOUT_SEQUENCE, options);
}

void
m3ret_select_frames (guint64 n_frames, guint n_out, guint stride, const M3retView *view,
                     guint64 *index)
{
  g_return_if_fail (n_frames > 0 && n_out > 0);
  if (view->mode == M3RET_VIEW_TRAIN && view->rand != NULL) {
    guint64 s = MAX (stride, 1u);
    if (n_out > 1 && (guint64) (n_out - 1) * s + 1 > n_frames)
      s = MAX ((n_frames - 1) / (n_out - 1), 1u);
    guint64 span = (guint64) (n_out - 1) * s + 1;
    if (span <= n_frames) {
      guint64 room = n_frames - span;
      guint64 start = room ? (guint64) (g_rand_double (view->rand) * (room + 1)) : 0;
      start = MIN (start, room);
      for (guint i = 0; i < n_out; i++)
        index[i] = start + (guint64) i * s;
      return;
    }
    /* Shorter than the grid even frame by frame: repeat frames evenly. */
  }
  for (guint i = 0; i < n_out; i++) {
    guint64 k = (guint64) floor ((i + 0.5) * (gdouble) n_frames / n_out);
    index[i] = MIN (k, n_frames - 1);
  }
}
