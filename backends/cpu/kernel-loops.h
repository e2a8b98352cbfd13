/* kernel-loops.h — the cpu backend's hot inner loops, one definition
 * each, for kernels-*.c to compile under their instruction sets (include
 * it once per file, after kernels.h and the target pragma).
 *
 * The loops are written so they vectorise without -ffast-math: sums are
 * split over explicit lanes (16 floats, 8 doubles: a whole AVX-512
 * register, two AVX2 ones), exp and erf are polynomials, not libm calls.
 * Sums over rows accumulate in double, as the rest of the backend does.
 */
#define ALWAYS_INLINE static inline __attribute__ ((always_inline))

/* expf without a library call, so loops over it vectorise: Cody–Waite
 * range reduction and Cephes's degree-6 polynomial (relative error about
 * 2e-7 on [−87, 88]). */
ALWAYS_INLINE float
exp_fast (float x)
{
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  /* round to nearest by the 1.5·2^23 trick, which needs no SSE4.1 */
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  union { gint32 i; float f; } scale = { .i = ((gint32) n + 127) << 23 };
  return p * scale.f;
}

/* erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7, the
 * float resolution near 1): GELU stays the exact x·Φ(x) to float32. */
ALWAYS_INLINE float
erf_poly (float a)
{
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float y = 1.061405429f;
  y = y * t - 1.453152027f;
  y = y * t + 1.421413741f;
  y = y * t - 0.284496736f;
  y = y * t + 0.254829592f;
  return y * t; /* erf(a) = 1 − this · exp(−a²) for a ≥ 0 */
}

ALWAYS_INLINE float
erf_fast (float x)
{
  float a = fabsf (x);
  float y = 1.0f - erf_poly (a) * exp_fast (-a * a);
  return x < 0.0f ? -y : y;
}

/* GELU'(x) = Φ(x) + x·φ(x); erf's exp(−x²/2) is φ's, so one exp serves
 * both. */
ALWAYS_INLINE float
gelu_grad (float x)
{
  float a = fabsf (x) * (float) M_SQRT1_2;
  float e = exp_fast (-a * a);
  float erf_a = 1.0f - erf_poly (a) * e;
  float erf_x = x < 0.0f ? -erf_a : erf_a;
  return 0.5f * (1.0f + erf_x) + x * 0.3989422804014327f * e;
}

static void
k_gelu_fwd (const float *restrict xs, float *restrict out, gsize lo, gsize hi)
{
  for (gsize i = lo; i < hi; i++) {
    float x = xs[i];
    out[i] = 0.5f * x * (1.0f + erf_fast (x * (float) M_SQRT1_2));
  }
}

static void
k_gelu_bwd (const float *restrict xs, const float *restrict dy, float *restrict dx, gsize lo,
            gsize hi)
{
  for (gsize i = lo; i < hi; i++)
    dx[i] += dy[i] * gelu_grad (xs[i]);
}

ALWAYS_INLINE void
bias_gelu_bwd_loop (const float *xs, const float *dy, float *dx, float *dbias, gint rows,
                    gint cols, gint c0, gint cw)
{
  double acc[256];
  for (gint c = 0; c < cw; c++)
    acc[c] = 0;
  for (gint r = 0; r < rows; r++) {
    gsize o = (gsize) r * cols + c0;
    for (gint c = 0; c < cw; c++) {
      float v = dy[o + c] * gelu_grad (xs[o + c]);
      dx[o + c] = v;
      acc[c] += v;
    }
  }
  if (dbias != NULL)
    for (gint c = 0; c < cw; c++)
      dbias[c0 + c] += (float) acc[c];
}

static void
k_bias_gelu_bwd (const float *xs, const float *dy, float *dx, float *dbias, gint rows, gint cols,
                 gint c0, gint cw)
{
  /* the same pointer twice tells the vectoriser that in place is safe */
  if (dx == dy)
    bias_gelu_bwd_loop (xs, dx, dx, dbias, rows, cols, c0, cw);
  else
    bias_gelu_bwd_loop (xs, dy, dx, dbias, rows, cols, c0, cw);
}

/* Σ x[c] over a row, in eight double lanes. */
ALWAYS_INLINE double
row_sum (const float *x, gint cols)
{
  double lane[8] = { 0 };
  gint c = 0;
  for (; c + 8 <= cols; c += 8)
    for (gint l = 0; l < 8; l++)
      lane[l] += x[c + l];
  double s = 0;
  for (; c < cols; c++)
    s += x[c];
  return s + ((lane[0] + lane[1]) + (lane[2] + lane[3]))
         + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* Σ (x[c] − mean)² over a row, in eight double lanes. */
ALWAYS_INLINE double
row_centred_sumsq (const float *x, gint cols, double mean)
{
  double lane[8] = { 0 };
  gint c = 0;
  for (; c + 8 <= cols; c += 8)
    for (gint l = 0; l < 8; l++) {
      double d = x[c + l] - mean;
      lane[l] += d * d;
    }
  double s = 0;
  for (; c < cols; c++) {
    double d = x[c] - mean;
    s += d * d;
  }
  return s + ((lane[0] + lane[1]) + (lane[2] + lane[3]))
         + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* Two passes (centred variance) keep the variance exact for rows far
 * from zero. */
static void
k_layernorm_row (const float *x, const float *y, float *sum, gint cols, gfloat eps,
                 const float *gamma, const float *beta, float *out, float *mean, float *rstd)
{
  if (y != NULL) {
    for (gint c = 0; c < cols; c++)
      sum[c] = x[c] + y[c];
    x = sum;
  }
  double mu = row_sum (x, cols) / cols;
  double var = row_centred_sumsq (x, cols, mu) / cols;
  float m = (float) mu, rs = (float) (1.0 / sqrt (var + eps));
  *mean = m;
  *rstd = rs;
  for (gint c = 0; c < cols; c++)
    out[c] = (x[c] - m) * rs * gamma[c] + beta[c];
}

/* dx += rs·(g − mean(g) − x̂·mean(g·x̂)), g = dy·gamma, x̂ = (x − m)·rs
 * (the two means in eight double lanes), and the parameter gradients'
 * sums for this row, while the row is in L1: one pass over x and dy for
 * both. */
static void
k_layernorm_bwd_row (const float *x, const float *dy, const float *gamma, float m, float rs,
                     gint cols, float *dx, double *dg, double *db)
{
  if (dx != NULL) {
    double sg[8] = { 0 }, sgx[8] = { 0 };
    gint c = 0;
    for (; c + 8 <= cols; c += 8)
      for (gint l = 0; l < 8; l++) {
        double g = (double) dy[c + l] * gamma[c + l];
        sg[l] += g;
        sgx[l] += g * (x[c + l] - m) * rs;
      }
    double tg = 0, tgx = 0;
    for (; c < cols; c++) {
      double g = (double) dy[c] * gamma[c];
      tg += g;
      tgx += g * (x[c] - m) * rs;
    }
    for (gint l = 0; l < 8; l++) {
      tg += sg[l];
      tgx += sgx[l];
    }
    float mg = (float) (tg / cols), mgx = (float) (tgx / cols);
    for (c = 0; c < cols; c++) {
      float xhat = (x[c] - m) * rs;
      dx[c] += rs * (dy[c] * gamma[c] - mg - xhat * mgx);
    }
  }
  if (dg != NULL)
    for (gint c = 0; c < cols; c++)
      dg[c] += (double) dy[c] * (x[c] - m) * rs;
  if (db != NULL)
    for (gint c = 0; c < cols; c++)
      db[c] += dy[c];
}

ALWAYS_INLINE float
row_max (const float *x, gint cols)
{
  float lane[16];
  for (gint l = 0; l < 16; l++)
    lane[l] = x[0];
  gint c = 0;
  for (; c + 16 <= cols; c += 16)
    for (gint l = 0; l < 16; l++)
      lane[l] = x[c + l] > lane[l] ? x[c + l] : lane[l];
  float mx = lane[0];
  for (gint l = 1; l < 16; l++)
    mx = MAX (mx, lane[l]);
  for (; c < cols; c++)
    mx = MAX (mx, x[c]);
  return mx;
}

/* y = exp(x − mx), returns Σ y; @y may be @x */
ALWAYS_INLINE double
row_exp_sum (const float *x, float *y, gint cols, float mx)
{
  float lane[16] = { 0 };
  gint c = 0;
  for (; c + 16 <= cols; c += 16)
    for (gint l = 0; l < 16; l++) {
      float e = exp_fast (x[c + l] - mx);
      y[c + l] = e;
      lane[l] += e;
    }
  double s = 0;
  for (; c < cols; c++) {
    y[c] = exp_fast (x[c] - mx);
    s += y[c];
  }
  for (gint l = 0; l < 16; l++)
    s += lane[l];
  return s;
}

static void
k_softmax_row (const float *x, float *y, gint cols)
{
  float inv = (float) (1.0 / row_exp_sum (x, y, cols, row_max (x, cols)));
  for (gint c = 0; c < cols; c++)
    y[c] *= inv;
}

/* Over @rows rows of @cols scores in @tile: each row becomes exp(s − m'),
 * m' = max(mx[r], max s); sum[r] and mx[r] move on to m', and corr[r] =
 * exp(old mx[r] − m') is what partial results so far must be scaled by.
 * Start with mx = −∞ and sum = 0. */
static void
k_softmax_online (float *tile, gint rows, gint cols, float *mx, float *sum, float *corr)
{
  for (gint r = 0; r < rows; r++) {
    float *x = tile + (gsize) r * cols;
    float m = MAX (mx[r], row_max (x, cols));
    corr[r] = exp_fast (mx[r] - m);
    sum[r] = sum[r] * corr[r] + (float) row_exp_sum (x, x, cols, m);
    mx[r] = m;
  }
}

static void
k_softmax_bwd_row (const float *y, const float *dy, float *dx, gint cols, float scale,
                   gboolean acc)
{
  float lane[16] = { 0 };
  gint c = 0;
  for (; c + 16 <= cols; c += 16)
    for (gint l = 0; l < 16; l++)
      lane[l] += y[c + l] * dy[c + l];
  double dot = 0;
  for (; c < cols; c++)
    dot += (double) y[c] * dy[c];
  for (gint l = 0; l < 16; l++)
    dot += lane[l];
  float d = (float) dot;
  if (acc)
    for (c = 0; c < cols; c++)
      dx[c] += scale * y[c] * (dy[c] - d);
  else
    for (c = 0; c < cols; c++)
      dx[c] = scale * y[c] * (dy[c] - d);
}

static void
k_adamw (const CpuAdamArgs *j, gsize lo, gsize hi)
{
  float *restrict pp = j->p, *restrict mm = j->m, *restrict vv = j->v;
  const float *restrict gg = j->g;
  gfloat lr = j->lr, b1 = j->b1, b2 = j->b2, eps = j->eps, decay = 1.0f - j->lr * j->wd;
  gfloat bc1 = j->bc1, bc2 = j->bc2;
  for (gsize i = lo; i < hi; i++) {
    float g = gg[i];
    float p = pp[i] * decay;
    float m = b1 * mm[i] + (1.0f - b1) * g;
    float v = b2 * vv[i] + (1.0f - b2) * g * g;
    mm[i] = m;
    vv[i] = v;
    pp[i] = p - lr * (m / bc1) / (sqrtf (v / bc2) + eps);
  }
}

#define CPU_KERNELS_TABLE(variant)                                                            \
  const CpuKernels cpu_kernels_##variant = {                                                  \
    #variant, k_gelu_fwd, k_gelu_bwd, k_bias_gelu_bwd, k_layernorm_row, k_layernorm_bwd_row,   \
    k_softmax_row, k_softmax_online, k_softmax_bwd_row, k_adamw,                              \
  }

