/* test-ops.c — every op: forward against plain loops, backward against
 * central finite differences, on random shapes with odd sizes.
 *
 * One table row per op.  Input shapes are written with letters that stand
 * for dimensions drawn at random per run of a case (B batch, N tokens,
 * D width, K inner, Q = 3·heads·head_dim, P coding width, 1); the loss
 * differentiated is Σ out ⊙ R for a fixed random R, evaluated in double
 * on the host for the finite differences.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "finite-diff.h"
#include "m3ret-check.h"
#include "m3ret-rng.h"

#define MAX_IN 4

typedef struct {
  gint b, n, d, k, heads, hd, p;
  gint32 idx[64];   /* token indices, B×K */
  gfloat mask[64];  /* row mask */
} Dims;

typedef struct {
  M3retTensor *in[MAX_IN];
  float *host[MAX_IN];
  const Dims *dims;
} Inputs;

typedef M3retTensor *(*BuildFn) (M3retGraph *g, Inputs *in);
/* Reference forward on the host into @out (size of the op's output). */
typedef void (*RefFn) (Inputs *in, double *out);

typedef struct {
  const gchar *name;
  const gchar *shapes[MAX_IN]; /* NULL-terminated letters per input */
  BuildFn build;
  RefFn ref;
  gboolean positive;           /* inputs drawn in [0.5, 1.5) instead of [−1, 1) */
  gboolean grad_input_last;    /* last input is a constant (no gradient) */
} OpCase;

static M3retRegistry *registry;

static gint
dim_of (const Dims *d, gchar c)
{
  switch (c) {
  case 'B': return d->b;
  case 'N': return d->n;
  case 'D': return d->d;
  case 'K': return d->k;
  case 'Q': return 3 * d->heads * d->hd;
  case 'E': return d->heads * d->hd;
  case 'P': return d->p;
  case 'R': return d->b * d->n; /* rows of B×N */
  case '1': return 1;
  default: g_assert_not_reached ();
  }
}

static void
draw_dims (Dims *d, M3retRng *rng)
{
  d->b = 1 + (gint) m3ret_rng_below (rng, 3);
  d->n = 2 + (gint) m3ret_rng_below (rng, 6);
  d->d = 5 + 2 * (gint) m3ret_rng_below (rng, 4); /* odd: 5..11 */
  d->k = 3 + (gint) m3ret_rng_below (rng, 5);
  d->heads = 1 + (gint) m3ret_rng_below (rng, 3);
  d->hd = 2 + (gint) m3ret_rng_below (rng, 3);
  d->p = 3 + (gint) m3ret_rng_below (rng, 5);
  for (gint i = 0; i < d->b * d->k; i++)
    d->idx[i] = (gint32) m3ret_rng_below (rng, (guint64) d->n); /* repeats allowed */
  for (gint i = 0; i < 64; i++)
    d->mask[i] = (gfloat) (m3ret_rng_below (rng, 3) != 0);
  d->mask[0] = 1.0f;
}

/* ------------------------------------------------------------ builders */

static M3retTensor *b_matmul (M3retGraph *g, Inputs *in) { return m3ret_op_matmul (g, in->in[0], in->in[1], FALSE); }
static M3retTensor *b_matmul_t (M3retGraph *g, Inputs *in) { return m3ret_op_matmul (g, in->in[0], in->in[1], TRUE); }
static M3retTensor *b_linear (M3retGraph *g, Inputs *in) { return m3ret_op_linear (g, in->in[0], in->in[1], in->in[2]); }
static M3retTensor *b_add (M3retGraph *g, Inputs *in) { return m3ret_op_add (g, in->in[0], in->in[1]); }
static M3retTensor *b_sub (M3retGraph *g, Inputs *in) { return m3ret_op_sub (g, in->in[0], in->in[1]); }
static M3retTensor *b_mul (M3retGraph *g, Inputs *in) { return m3ret_op_mul (g, in->in[0], in->in[1]); }
static M3retTensor *b_scale (M3retGraph *g, Inputs *in) { return m3ret_op_scale (g, in->in[0], -1.75f); }
static M3retTensor *b_layernorm (M3retGraph *g, Inputs *in) { return m3ret_op_layernorm (g, in->in[0], in->in[1], in->in[2], 1e-6f); }
static M3retTensor *b_gelu (M3retGraph *g, Inputs *in) { return m3ret_op_gelu (g, in->in[0]); }
static M3retTensor *b_softmax (M3retGraph *g, Inputs *in) { return m3ret_op_softmax (g, in->in[0]); }
static M3retTensor *b_attention (M3retGraph *g, Inputs *in) { return m3ret_op_attention (g, in->in[0], in->dims->heads); }
static M3retTensor *b_l2norm (M3retGraph *g, Inputs *in) { return m3ret_op_l2normalize (g, in->in[0], 1e-6f); }
static M3retTensor *b_gather_tokens (M3retGraph *g, Inputs *in) { return m3ret_op_gather_tokens (g, in->in[0], in->dims->idx, in->dims->k); }
static M3retTensor *b_expand (M3retGraph *g, Inputs *in) { return m3ret_op_expand_tokens (g, in->in[0], in->dims->b, in->dims->n); }
static M3retTensor *b_concat (M3retGraph *g, Inputs *in) { return m3ret_op_concat_tokens (g, in->in[0], in->in[1]); }
static M3retTensor *b_slice (M3retGraph *g, Inputs *in) { return m3ret_op_slice_tokens (g, in->in[0], 1, in->dims->n - 1); }
static M3retTensor *b_mean_tokens (M3retGraph *g, Inputs *in) { return m3ret_op_mean_tokens (g, in->in[0]); }
static M3retTensor *b_sum (M3retGraph *g, Inputs *in) { return m3ret_op_sum (g, in->in[0]); }
static M3retTensor *b_mean (M3retGraph *g, Inputs *in) { return m3ret_op_mean (g, in->in[0]); }
static M3retTensor *b_logdet (M3retGraph *g, Inputs *in) { return m3ret_op_logdet_gram (g, in->in[0], 0.7f); }
static M3retTensor *b_cosine (M3retGraph *g, Inputs *in) { return m3ret_op_cosine_matrix (g, in->in[0], in->in[1]); }

static M3retTensor *
b_gather_rows (M3retGraph *g, Inputs *in)
{
  /* rows of the flattened B·N×D matrix, reversed and repeated */
  gint m = in->dims->b * in->dims->k;
  gint32 rows[64];
  for (gint i = 0; i < m; i++)
    rows[i] = (gint32) ((in->dims->idx[i] * 7 + i) % (in->dims->b * in->dims->n));
  return m3ret_op_gather_rows (g, in->in[0], rows, m);
}

static M3retTensor *b_exp (M3retGraph *g, Inputs *in) { return m3ret_op_exp (g, in->in[0]); }
static M3retTensor *b_log (M3retGraph *g, Inputs *in) { return m3ret_op_log (g, in->in[0]); }
static M3retTensor *b_logsumexp (M3retGraph *g, Inputs *in) { return m3ret_op_logsumexp (g, in->in[0]); }
static M3retTensor *b_softmax_t (M3retGraph *g, Inputs *in) { return m3ret_op_softmax_t (g, in->in[0], 0.3f); }
static M3retTensor *b_sum_rows (M3retGraph *g, Inputs *in) { return m3ret_op_sum_rows (g, in->in[0]); }
static M3retTensor *b_mean_rows (M3retGraph *g, Inputs *in) { return m3ret_op_mean_rows (g, in->in[0]); }
static M3retTensor *b_cross_entropy (M3retGraph *g, Inputs *in) { return m3ret_op_cross_entropy (g, in->in[0], in->in[1], 0.4f); }

static M3retTensor *b_gram (M3retGraph *g, Inputs *in) { return m3ret_op_gram (g, in->in[0]); }
static M3retTensor *b_add_diagonal (M3retGraph *g, Inputs *in) { return m3ret_op_add_diagonal (g, in->in[0], 1.5f); }

/* logdet of 0.2·A + (P·0.2 + 1)·I, positive definite for entries in [−1, 1) */
static M3retTensor *
b_logdet_spd (M3retGraph *g, Inputs *in)
{
  gfloat shift = 0.2f * (gfloat) in->dims->p + 1.0f;
  return m3ret_op_logdet (g, m3ret_op_add_diagonal (g, m3ret_op_scale (g, in->in[0], 0.2f), shift));
}

/* rows of the B·N×D input sent to N output rows, repeats adding up */
static void
scatter_targets (const Dims *d, gint32 *rows)
{
  for (gint i = 0; i < d->b * d->n; i++)
    rows[i] = (gint32) ((i * 5 + 1) % d->n);
}

static M3retTensor *
b_scatter_rows (M3retGraph *g, Inputs *in)
{
  gint32 rows[64];
  scatter_targets (in->dims, rows);
  return m3ret_op_scatter_rows (g, in->in[0], rows, in->dims->n);
}

static M3retTensor *b_linear_gelu (M3retGraph *g, Inputs *in) { return m3ret_op_linear_gelu (g, in->in[0], in->in[1], in->in[2]); }

/* both outputs of the fused op in one: LayerNorm(a + b) + 0.5·(a + b) */
static M3retTensor *
b_add_layernorm (M3retGraph *g, Inputs *in)
{
  M3retTensor *sum;
  M3retTensor *n = m3ret_op_add_layernorm (g, in->in[0], in->in[1], in->in[2], in->in[3], 1e-6f,
                                           &sum);
  return m3ret_op_add (g, n, m3ret_op_scale (g, sum, 0.5f));
}

static M3retTensor *
b_mse (M3retGraph *g, Inputs *in)
{
  const Dims *d = in->dims;
  gint64 shape[1] = { (gint64) d->b * d->n };
  M3retTensor *mask = m3ret_graph_from_host (g, 1, shape, d->mask, FALSE);
  return m3ret_op_mse (g, in->in[0], in->in[1], mask);
}

static M3retTensor *
b_reshape_chain (M3retGraph *g, Inputs *in)
{
  /* B×N×D → (B·N)×D, used twice */
  const Dims *d = in->dims;
  gint64 shape[2] = { (gint64) d->b * d->n, d->d };
  M3retTensor *r = m3ret_op_reshape (g, in->in[0], 2, shape);
  return m3ret_op_add (g, r, m3ret_op_scale (g, r, 3.0f));
}

/* ---------------------------------------------------------- references */

static gint
rows_of (const Inputs *in, gint which)
{
  return (gint) m3ret_tensor_rows (in->in[which]);
}

static gint
cols_of (const Inputs *in, gint which)
{
  return (gint) m3ret_tensor_cols (in->in[which]);
}

static void
r_matmul_any (Inputs *in, double *out, gboolean tb, const float *bias)
{
  gint rows = rows_of (in, 0), k = cols_of (in, 0);
  gint n = tb ? (gint) in->in[1]->shape[0] : (gint) in->in[1]->shape[1];
  for (gint r = 0; r < rows; r++)
    for (gint j = 0; j < n; j++) {
      double s = bias ? bias[j] : 0.0;
      for (gint q = 0; q < k; q++)
        s += (double) in->host[0][r * k + q] * (tb ? in->host[1][j * k + q] : in->host[1][q * n + j]);
      out[r * n + j] = s;
    }
}

static void r_matmul (Inputs *in, double *out) { r_matmul_any (in, out, FALSE, NULL); }
static void r_matmul_t (Inputs *in, double *out) { r_matmul_any (in, out, TRUE, NULL); }
static void r_linear (Inputs *in, double *out) { r_matmul_any (in, out, TRUE, in->host[2]); }

static void
r_add (Inputs *in, double *out)
{
  gsize n = in->in[0]->numel, nb = in->in[1]->numel;
  for (gsize i = 0; i < n; i++)
    out[i] = (double) in->host[0][i] + in->host[1][i % nb];
}

static void
r_sub (Inputs *in, double *out)
{
  for (gsize i = 0; i < in->in[0]->numel; i++)
    out[i] = (double) in->host[0][i] - in->host[1][i];
}

static void
r_mul (Inputs *in, double *out)
{
  for (gsize i = 0; i < in->in[0]->numel; i++)
    out[i] = (double) in->host[0][i] * in->host[1][i];
}

static void
r_scale (Inputs *in, double *out)
{
  for (gsize i = 0; i < in->in[0]->numel; i++)
    out[i] = -1.75 * in->host[0][i];
}

/* LayerNorm of @rows rows of @c values (eps 1e-6) */
static void
layernorm_ref (const double *x, gint rows, gint c, const float *w, const float *b, double *out)
{
  for (gint r = 0; r < rows; r++, x += c) {
    double m = 0, v = 0;
    for (gint j = 0; j < c; j++)
      m += x[j];
    m /= c;
    for (gint j = 0; j < c; j++)
      v += (x[j] - m) * (x[j] - m);
    v /= c;
    for (gint j = 0; j < c; j++)
      out[r * c + j] = (x[j] - m) / sqrt (v + 1e-6) * w[j] + b[j];
  }
}

static void
r_layernorm (Inputs *in, double *out)
{
  gsize n = in->in[0]->numel;
  double *x = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    x[i] = in->host[0][i];
  layernorm_ref (x, rows_of (in, 0), cols_of (in, 0), in->host[1], in->host[2], out);
  g_free (x);
}

static double
gelu_ref (double x)
{
  return 0.5 * x * (1.0 + erf (x / sqrt (2.0)));
}

static void
r_gelu (Inputs *in, double *out)
{
  for (gsize i = 0; i < in->in[0]->numel; i++)
    out[i] = gelu_ref (in->host[0][i]);
}

static void
r_linear_gelu (Inputs *in, double *out)
{
  r_linear (in, out);
  gsize n = (gsize) rows_of (in, 0) * in->in[1]->shape[0];
  for (gsize i = 0; i < n; i++)
    out[i] = gelu_ref (out[i]);
}

/* b_add_layernorm's output: LayerNorm(a + b) + 0.5·(a + b) */
static void
r_add_layernorm (Inputs *in, double *out)
{
  gsize n = in->in[0]->numel;
  double *sum = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    sum[i] = (double) in->host[0][i] + in->host[1][i];
  layernorm_ref (sum, rows_of (in, 0), cols_of (in, 0), in->host[2], in->host[3], out);
  for (gsize i = 0; i < n; i++)
    out[i] += 0.5 * sum[i];
  g_free (sum);
}

static void
softmax_ref (const double *x, double *y, gint c)
{
  double mx = x[0], s = 0;
  for (gint j = 1; j < c; j++)
    mx = MAX (mx, x[j]);
  for (gint j = 0; j < c; j++)
    s += (y[j] = exp (x[j] - mx));
  for (gint j = 0; j < c; j++)
    y[j] /= s;
}

static void
r_softmax (Inputs *in, double *out)
{
  gint rows = rows_of (in, 0), c = cols_of (in, 0);
  double *x = g_new (double, c);
  for (gint r = 0; r < rows; r++) {
    for (gint j = 0; j < c; j++)
      x[j] = in->host[0][r * c + j];
    softmax_ref (x, out + r * c, c);
  }
  g_free (x);
}

static void
r_attention (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  gint n = d->n, e = d->heads * d->hd, ld = 3 * e;
  double *s = g_new (double, n), *p = g_new (double, n);
  for (gint b = 0; b < d->b; b++)
    for (gint h = 0; h < d->heads; h++)
      for (gint i = 0; i < n; i++) {
        const float *q = in->host[0] + (b * n + i) * ld + h * d->hd;
        for (gint j = 0; j < n; j++) {
          const float *k = in->host[0] + (b * n + j) * ld + e + h * d->hd;
          double acc = 0;
          for (gint c = 0; c < d->hd; c++)
            acc += (double) q[c] * k[c];
          s[j] = acc / sqrt ((double) d->hd);
        }
        softmax_ref (s, p, n);
        for (gint c = 0; c < d->hd; c++) {
          double acc = 0;
          for (gint j = 0; j < n; j++)
            acc += p[j] * in->host[0][(b * n + j) * ld + 2 * e + h * d->hd + c];
          out[(b * n + i) * e + h * d->hd + c] = acc;
        }
      }
  g_free (s);
  g_free (p);
}

static void
r_l2norm (Inputs *in, double *out)
{
  gint rows = rows_of (in, 0), c = cols_of (in, 0);
  for (gint r = 0; r < rows; r++) {
    double ss = 0;
    for (gint j = 0; j < c; j++)
      ss += (double) in->host[0][r * c + j] * in->host[0][r * c + j];
    for (gint j = 0; j < c; j++)
      out[r * c + j] = in->host[0][r * c + j] / MAX (sqrt (ss), 1e-6);
  }
}

static void
r_gather_tokens (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  for (gint b = 0; b < d->b; b++)
    for (gint k = 0; k < d->k; k++)
      for (gint c = 0; c < d->d; c++)
        out[(b * d->k + k) * d->d + c] = in->host[0][(b * d->n + d->idx[b * d->k + k]) * d->d + c];
}

static void
r_gather_rows (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  for (gint i = 0; i < d->b * d->k; i++) {
    gint row = (d->idx[i] * 7 + i) % (d->b * d->n);
    for (gint c = 0; c < d->d; c++)
      out[i * d->d + c] = in->host[0][row * d->d + c];
  }
}

static void
r_expand (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  for (gint i = 0; i < d->b * d->n * d->d; i++)
    out[i] = in->host[0][i % d->d];
}

static void
r_concat (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  gint n2 = d->k;
  for (gint b = 0; b < d->b; b++)
    for (gint t = 0; t < d->n + n2; t++)
      for (gint c = 0; c < d->d; c++)
        out[(b * (d->n + n2) + t) * d->d + c] =
          t < d->n ? in->host[0][(b * d->n + t) * d->d + c]
                   : in->host[1][(b * n2 + t - d->n) * d->d + c];
}

static void
r_slice (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  for (gint b = 0; b < d->b; b++)
    for (gint t = 1; t < d->n; t++)
      for (gint c = 0; c < d->d; c++)
        out[(b * (d->n - 1) + t - 1) * d->d + c] = in->host[0][(b * d->n + t) * d->d + c];
}

static void
r_mean_tokens (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  for (gint b = 0; b < d->b; b++)
    for (gint c = 0; c < d->d; c++) {
      double s = 0;
      for (gint t = 0; t < d->n; t++)
        s += in->host[0][(b * d->n + t) * d->d + c];
      out[b * d->d + c] = s / d->n;
    }
}

static void
r_sum (Inputs *in, double *out)
{
  out[0] = 0;
  for (gsize i = 0; i < in->in[0]->numel; i++)
    out[0] += in->host[0][i];
}

static void
r_mean (Inputs *in, double *out)
{
  r_sum (in, out);
  out[0] /= (double) in->in[0]->numel;
}

static void
r_mse (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  gint rows = d->b * d->n, c = d->d;
  double num = 0, den = 0;
  for (gint r = 0; r < rows; r++) {
    double e = 0;
    for (gint j = 0; j < c; j++) {
      double t = (double) in->host[0][r * c + j] - in->host[1][r * c + j];
      e += t * t;
    }
    num += d->mask[r] * e / c;
    den += d->mask[r];
  }
  out[0] = num / den;
}

/* logdet of the symmetric p×p matrix @m (overwritten) by Gaussian
 * elimination in double */
static double
logdet_by_elimination (double *m, gint p)
{
  double ld = 0;
  for (gint c = 0; c < p; c++) {
    ld += log (m[c * p + c]);
    for (gint r = c + 1; r < p; r++) {
      double f = m[r * p + c] / m[c * p + c];
      for (gint j = c; j < p; j++)
        m[r * p + j] -= f * m[c * p + j];
    }
  }
  return ld;
}

/* logdet(I + c·ZᵀZ) */
static void
r_logdet (Inputs *in, double *out)
{
  gint b = (gint) in->in[0]->shape[0], p = (gint) in->in[0]->shape[1];
  double *m = g_new0 (double, p * p);
  for (gint i = 0; i < p; i++)
    for (gint j = 0; j < p; j++) {
      double s = 0;
      for (gint r = 0; r < b; r++)
        s += (double) in->host[0][r * p + i] * in->host[0][r * p + j];
      m[i * p + j] = (i == j) + 0.7 * s;
    }
  out[0] = logdet_by_elimination (m, p);
  g_free (m);
}

static void
r_cosine (Inputs *in, double *out)
{
  gint n = (gint) in->in[0]->shape[0], m = (gint) in->in[1]->shape[0];
  gint c = cols_of (in, 0);
  for (gint i = 0; i < n; i++)
    for (gint j = 0; j < m; j++) {
      double ab = 0, aa = 0, bb = 0;
      for (gint q = 0; q < c; q++) {
        double a = in->host[0][i * c + q], bv = in->host[1][j * c + q];
        ab += a * bv;
        aa += a * a;
        bb += bv * bv;
      }
      out[i * m + j] = ab / (sqrt (aa) * sqrt (bb));
    }
}

static void
r_exp (Inputs *in, double *out)
{
  for (gsize i = 0; i < in->in[0]->numel; i++)
    out[i] = exp ((double) in->host[0][i]);
}

static void
r_log (Inputs *in, double *out)
{
  for (gsize i = 0; i < in->in[0]->numel; i++)
    out[i] = log ((double) in->host[0][i]);
}

static void
r_logsumexp (Inputs *in, double *out)
{
  gint rows = rows_of (in, 0), c = cols_of (in, 0);
  for (gint r = 0; r < rows; r++) {
    double s = 0; /* inputs in [−1, 1): no shift needed in double */
    for (gint j = 0; j < c; j++)
      s += exp ((double) in->host[0][r * c + j]);
    out[r] = log (s);
  }
}

static void
r_softmax_t (Inputs *in, double *out)
{
  gint rows = rows_of (in, 0), c = cols_of (in, 0);
  double *x = g_new (double, c);
  for (gint r = 0; r < rows; r++) {
    for (gint j = 0; j < c; j++)
      x[j] = (double) in->host[0][r * c + j] / (double) 0.3f;
    softmax_ref (x, out + r * c, c);
  }
  g_free (x);
}

static void
r_sum_rows (Inputs *in, double *out)
{
  gint rows = rows_of (in, 0), c = cols_of (in, 0);
  for (gint r = 0; r < rows; r++) {
    out[r] = 0;
    for (gint j = 0; j < c; j++)
      out[r] += in->host[0][r * c + j];
  }
}

static void
r_mean_rows (Inputs *in, double *out)
{
  gint rows = rows_of (in, 0), c = cols_of (in, 0);
  r_sum_rows (in, out);
  for (gint r = 0; r < rows; r++)
    out[r] /= c;
}

/* mean over rows of −Σ_c p·log softmax(x/T), in the plain form */
static void
r_cross_entropy (Inputs *in, double *out)
{
  gint rows = rows_of (in, 0), c = cols_of (in, 0);
  double *x = g_new (double, c), *q = g_new (double, c), loss = 0;
  for (gint r = 0; r < rows; r++) {
    for (gint j = 0; j < c; j++)
      x[j] = (double) in->host[0][r * c + j] / (double) 0.4f;
    softmax_ref (x, q, c);
    for (gint j = 0; j < c; j++)
      loss -= (double) in->host[1][r * c + j] * log (q[j]);
  }
  out[0] = loss / rows;
  g_free (x);
  g_free (q);
}

static void
r_reshape_chain (Inputs *in, double *out)
{
  for (gsize i = 0; i < in->in[0]->numel; i++)
    out[i] = 4.0 * in->host[0][i];
}

static void
r_gram (Inputs *in, double *out)
{
  gint b = (gint) in->in[0]->shape[0], p = (gint) in->in[0]->shape[1];
  for (gint i = 0; i < p; i++)
    for (gint j = 0; j < p; j++) {
      double s = 0;
      for (gint r = 0; r < b; r++)
        s += (double) in->host[0][r * p + i] * in->host[0][r * p + j];
      out[i * p + j] = s;
    }
}

static void
r_add_diagonal (Inputs *in, double *out)
{
  gint p = (gint) in->in[0]->shape[0];
  for (gint i = 0; i < p * p; i++)
    out[i] = in->host[0][i] + (i % (p + 1) == 0 ? 1.5 : 0.0);
}

static void
r_logdet_spd (Inputs *in, double *out)
{
  gint p = (gint) in->in[0]->shape[0];
  double shift = 0.2 * (double) (gfloat) p + 1.0;
  double *m = g_new (double, p * p);
  for (gint i = 0; i < p; i++)
    for (gint j = 0; j < p; j++)
      m[i * p + j] = 0.1 * ((double) in->host[0][i * p + j] + in->host[0][j * p + i])
                     + (i == j ? shift : 0.0);
  out[0] = logdet_by_elimination (m, p);
  g_free (m);
}

static void
r_scatter_rows (Inputs *in, double *out)
{
  const Dims *d = in->dims;
  gint32 rows[64];
  scatter_targets (d, rows);
  memset (out, 0, sizeof (double) * (gsize) d->n * d->d);
  for (gint i = 0; i < d->b * d->n; i++)
    for (gint c = 0; c < d->d; c++)
      out[rows[i] * d->d + c] += in->host[0][i * d->d + c];
}

static const OpCase cases[] = {
  { "matmul", { "BNK", "KD" }, b_matmul, r_matmul, FALSE, FALSE },
  { "matmul_transposed", { "BNK", "DK" }, b_matmul_t, r_matmul_t, FALSE, FALSE },
  { "linear", { "BND", "KD", "K" }, b_linear, r_linear, FALSE, FALSE },
  { "add_same", { "BND", "BND" }, b_add, r_add, FALSE, FALSE },
  { "add_broadcast", { "BND", "ND" }, b_add, r_add, FALSE, FALSE },
  { "add_bias", { "BND", "D" }, b_add, r_add, FALSE, FALSE },
  { "sub", { "BND", "BND" }, b_sub, r_sub, FALSE, FALSE },
  { "mul", { "BND", "BND" }, b_mul, r_mul, FALSE, FALSE },
  { "scale", { "BND" }, b_scale, r_scale, FALSE, FALSE },
  { "layernorm", { "BND", "D", "D" }, b_layernorm, r_layernorm, FALSE, FALSE },
  { "gelu", { "BND" }, b_gelu, r_gelu, FALSE, FALSE },
  { "softmax", { "BND" }, b_softmax, r_softmax, FALSE, FALSE },
  { "attention", { "BNQ" }, b_attention, r_attention, FALSE, FALSE },
  { "l2normalize", { "BND" }, b_l2norm, r_l2norm, FALSE, FALSE },
  { "gather_tokens", { "BND" }, b_gather_tokens, r_gather_tokens, FALSE, FALSE },
  { "gather_rows", { "BND" }, b_gather_rows, r_gather_rows, FALSE, FALSE },
  { "expand_tokens", { "11D" }, b_expand, r_expand, FALSE, FALSE },
  { "concat_tokens", { "BND", "BKD" }, b_concat, r_concat, FALSE, FALSE },
  { "slice_tokens", { "BND" }, b_slice, r_slice, FALSE, FALSE },
  { "mean_tokens", { "BND" }, b_mean_tokens, r_mean_tokens, FALSE, FALSE },
  { "sum", { "BND" }, b_sum, r_sum, FALSE, FALSE },
  { "mean", { "BND" }, b_mean, r_mean, FALSE, FALSE },
  { "mse_masked", { "BND", "BND" }, b_mse, r_mse, FALSE, FALSE },
  { "logdet_gram", { "KP" }, b_logdet, r_logdet, FALSE, FALSE },
  { "cosine_matrix", { "KD", "ND" }, b_cosine, r_cosine, FALSE, FALSE },
  { "reshape", { "BND" }, b_reshape_chain, r_reshape_chain, FALSE, FALSE },
  /* general ops (backend ABI minor 5) */
  { "exp", { "BND" }, b_exp, r_exp, FALSE, FALSE },
  { "log", { "BND" }, b_log, r_log, TRUE, FALSE },
  { "logsumexp", { "BND" }, b_logsumexp, r_logsumexp, FALSE, FALSE },
  { "softmax_t", { "BND" }, b_softmax_t, r_softmax_t, FALSE, FALSE },
  { "sum_rows", { "BND" }, b_sum_rows, r_sum_rows, FALSE, FALSE },
  { "mean_rows", { "BND" }, b_mean_rows, r_mean_rows, FALSE, FALSE },
  { "cross_entropy", { "BND", "BND" }, b_cross_entropy, r_cross_entropy, FALSE, TRUE },
  /* general linear algebra (backend ABI minor 6) */
  { "gram", { "KP" }, b_gram, r_gram, FALSE, FALSE },
  { "add_diagonal", { "PP" }, b_add_diagonal, r_add_diagonal, FALSE, FALSE },
  { "logdet", { "PP" }, b_logdet_spd, r_logdet_spd, FALSE, FALSE },
  { "scatter_rows", { "BND" }, b_scatter_rows, r_scatter_rows, FALSE, FALSE },
  /* the fused ops (cpu backend entries) */
  { "linear_gelu", { "BND", "KD", "K" }, b_linear_gelu, r_linear_gelu, FALSE, FALSE },
  { "add_layernorm", { "BND", "BND", "D", "D" }, b_add_layernorm, r_add_layernorm, FALSE, FALSE },
};

/* ------------------------------------------------------------- harness */

typedef struct {
  M3retDevice *device;
  M3retGraph *graph;
  Inputs in;
  Dims dims;
  gint n_in;
  float *weights; /* R, the output's size */
  gsize out_numel;
} Harness;

static double
forward_loss (Harness *h, const OpCase *c, double *out_copy)
{
  M3retTensor *out = c->build (h->graph, &h->in);
  ck_assert_ptr_nonnull (out);
  if (h->weights == NULL) {
    h->out_numel = out->numel;
    M3retRng rng;
    m3ret_rng_init (&rng, 99, 7);
    h->weights = g_new (float, out->numel);
    m3ret_rng_fill_uniform (&rng, h->weights, out->numel, -1.0f, 1.0f);
  }
  ck_assert_uint_eq (out->numel, h->out_numel);
  float *host = m3ret_tensor_to_host (out);
  double loss = 0;
  for (gsize i = 0; i < out->numel; i++) {
    loss += (double) host[i] * h->weights[i];
    if (out_copy)
      out_copy[i] = host[i];
  }
  g_free (host);
  m3ret_graph_reset (h->graph);
  return loss;
}

/* The loss the finite differences take: the forward from the inputs as uploaded. */
typedef struct {
  Harness *h;
  const OpCase *c;
} LossOf;

static gdouble
loss_of_inputs (gpointer user_data)
{
  LossOf *l = user_data;
  return forward_loss (l->h, l->c, NULL);
}

static void
run_case (const OpCase *c, guint seed, gint threads, const gchar *backend)
{
  Harness h = { 0 };
  g_autoptr (GError) error = NULL;
  h.device = m3ret_device_new_by_name (registry, backend, threads, NULL, &error);
  ck_assert_msg (h.device != NULL, "%s", error ? error->message : "");
  h.graph = m3ret_graph_new (h.device);
  M3retRng rng;
  m3ret_rng_init (&rng, seed, 1);
  draw_dims (&h.dims, &rng);
  h.in.dims = &h.dims;
  for (gint i = 0; i < MAX_IN && c->shapes[i]; i++) {
    gint64 shape[M3RET_TENSOR_MAX_DIMS];
    gint nd = (gint) strlen (c->shapes[i]);
    for (gint k = 0; k < nd; k++)
      shape[k] = dim_of (&h.dims, c->shapes[i][k]);
    h.in.in[i] = m3ret_tensor_new (h.device, nd, shape, TRUE, &error);
    ck_assert_ptr_nonnull (h.in.in[i]);
    h.in.host[i] = g_new (float, h.in.in[i]->numel);
    if (c->positive)
      m3ret_rng_fill_uniform (&rng, h.in.host[i], h.in.in[i]->numel, 0.5f, 1.5f);
    else
      m3ret_rng_fill_uniform (&rng, h.in.host[i], h.in.in[i]->numel, -1.0f, 1.0f);
    m3ret_tensor_upload (h.in.in[i], h.in.host[i]);
    h.n_in = i + 1;
  }

  /* forward against the reference loops */
  double loss0 = forward_loss (&h, c, NULL);
  double *got = g_new (double, h.out_numel), *want = g_new (double, h.out_numel);
  forward_loss (&h, c, got);
  c->ref (&h.in, want);
  /* taped, then untaped (ops may skip what only a backward reads) */
  for (gint taped = 1; taped >= 0; taped--) {
    if (!taped) {
      m3ret_graph_set_grad_enabled (h.graph, FALSE);
      forward_loss (&h, c, got);
      m3ret_graph_set_grad_enabled (h.graph, TRUE);
    }
    for (gsize i = 0; i < h.out_numel; i++)
      ck_assert_msg (fabs (got[i] - want[i]) <= 1e-4 * (1.0 + fabs (want[i])),
                     "%s: %s forward[%" G_GSIZE_FORMAT "] = %g, reference %g", c->name,
                     taped ? "taped" : "untaped", i, got[i], want[i]);
  }
  (void) loss0;

  /* backward: loss = Σ out ⊙ R through the ops mul and sum */
  M3retTensor *out = c->build (h.graph, &h.in);
  M3retTensor *r = m3ret_graph_from_host (h.graph, out->ndim, out->shape, h.weights, FALSE);
  M3retTensor *loss = m3ret_op_sum (h.graph, m3ret_op_mul (h.graph, out, r));
  ck_assert_msg (m3ret_graph_backward (h.graph, loss, &error), "%s",
                 error ? error->message : "");
  m3ret_graph_reset (h.graph);

  gint n_grad = c->grad_input_last ? h.n_in - 1 : h.n_in;
  for (gint i = 0; i < n_grad; i++) {
    M3retTensor *t = h.in.in[i];
    float *analytic = g_new (float, t->numel);
    m3ret_tensor_download_grad (t, analytic);
    /* every entry, each input judged alone */
    g_autofree gchar *what = g_strdup_printf ("%s (seed %u, %d threads)", c->name, seed, threads);
    g_autofree gchar *name = g_strdup_printf ("input %d", i);
    LossOf l = { &h, c };
    const M3retCheckGrad spec = { .what = what, .loss = loss_of_inputs, .user_data = &l,
                                  .step = 2e-3f, .rule = M3RET_CHECK_GRAD_NORM, .tol = 1e-3 };
    const M3retCheckGradTensor x = { .name = name, .values = h.in.host[i], .n = t->numel,
                                     .upload_to = t, .grad = analytic };
    m3ret_check_gradient (&spec, &x, 1);
    g_free (analytic);
  }

  g_free (got);
  g_free (want);
  g_free (h.weights);
  for (gint i = 0; i < h.n_in; i++) {
    m3ret_tensor_free (h.in.in[i]);
    g_free (h.in.host[i]);
  }
  m3ret_graph_free (h.graph);
  m3ret_device_free (h.device);
}

START_TEST (test_op)
{
  /* two shape draws per op; the second one with two threads */
  run_case (&cases[_i], 1000 + (guint) _i, 1, "cpu");
  run_case (&cases[_i], 2000 + (guint) _i, 2, "cpu");
}
END_TEST

/* The cpu table under another name with some entries removed: how a
 * backend without them (an older or a smaller one) meets the core. */
static const gchar *
register_variant (const gchar *name, guint abi_minor, void (*edit) (M3retBackendVTable *vt))
{
  g_autoptr (GError) error = NULL;
  if (m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, name) != NULL)
    return name;
  const M3retPlugin *cpu = m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, "cpu");
  ck_assert_ptr_nonnull (cpu);
  /* static: the registry keeps pointing at them */
  static M3retBackendVTable vts[4];
  static M3retPluginDesc descs[4];
  static guint n_variants;
  g_assert (n_variants < G_N_ELEMENTS (vts));
  M3retBackendVTable *vt = &vts[n_variants];
  *vt = *(const M3retBackendVTable *) m3ret_plugin_get_vtable (cpu);
  edit (vt);
  M3retPluginDesc *desc = &descs[n_variants++];
  *desc = *m3ret_plugin_get_desc (cpu);
  desc->name = name;
  desc->abi_minor = abi_minor;
  desc->init = NULL;
  desc->vtable = vt;
  ck_assert_ptr_nonnull (m3ret_registry_add_static (registry, desc, &error));
  return name;
}

static void
drop_fused_losses (M3retBackendVTable *vt)
{
  vt->mse_fwd = NULL;
  vt->mse_bwd = NULL;
  vt->logdet_fwd = NULL;
  vt->logdet_bwd = NULL;
}

/* Without the fused loss entries (optional since minor 6), MAE's masked
 * MSE and SimDINO's coding rate run as compositions of general ops, and
 * give the same values and gradients. */
static const gchar *const composed_cases[] = { "mse_masked", "logdet_gram" };

START_TEST (test_op_composed)
{
  const gchar *backend = register_variant ("cpu_unfused", M3RET_ABI_MINOR, drop_fused_losses);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (g_strcmp0 (cases[i].name, composed_cases[_i]) == 0) {
      run_case (&cases[i], 3000 + i, 1, backend);
      run_case (&cases[i], 4000 + i, 2, backend);
      return;
    }
  ck_abort_msg ("no case %s", composed_cases[_i]);
}
END_TEST

/* ---------------------------------------------------- ops of your own */

static M3retDevice *new_device (gint threads);

/* out = x ⊙ x, written with the backend's entries as a plugin would */
static void
square_bwd (M3retGraph *g, M3retTensor *out, M3retTensor *const *inputs, guint n_inputs,
            gpointer user_data)
{
  ck_assert_uint_eq (n_inputs, 1);
  ck_assert_ptr_eq (user_data, (gpointer) square_bwd);
  float *dx = m3ret_graph_get_grad (g, inputs[0]);
  if (dx == NULL)
    return;
  M3retDevice *device = m3ret_graph_get_device (g);
  const M3retBackendVTable *vt = m3ret_device_get_vtable (device);
  gpointer ctx = m3ret_device_get_context (device);
  /* dx += 2·x·dout, as two accumulations of x·dout */
  vt->mul (ctx, out->numel, inputs[0]->data, out->grad, 1.0f, dx);
  vt->mul (ctx, out->numel, inputs[0]->data, out->grad, 1.0f, dx);
}

static M3retTensor *
square (M3retGraph *g, M3retTensor *x)
{
  M3retTensor *out = m3ret_graph_new_tensor (g, x->ndim, x->shape);
  M3retDevice *device = m3ret_graph_get_device (g);
  m3ret_device_get_vtable (device)->mul (m3ret_device_get_context (device), x->numel, x->data,
                                         x->data, 0.0f, out->data);
  m3ret_graph_record_op (g, out, &x, 1, square_bwd, (gpointer) square_bwd);
  return out;
}

/* A recorded op of a plugin's own: d/dx Σ w·(x²)·3 = 6·w·x, through the
 * core's ops around it; nothing is recorded while gradients are off. */
START_TEST (test_custom_op)
{
  M3retDevice *device = new_device (1);
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[2] = { 3, 5 };
  float x[15], w[15];
  for (gint i = 0; i < 15; i++) {
    x[i] = 0.25f * (gfloat) (i - 7);
    w[i] = 1.0f + 0.1f * (gfloat) i;
  }
  M3retTensor *t = m3ret_graph_from_host (g, 2, shape, x, TRUE);
  M3retTensor *wt = m3ret_graph_from_host (g, 2, shape, w, FALSE);
  M3retTensor *loss = m3ret_op_sum (g, m3ret_op_mul (g, m3ret_op_scale (g, square (g, t), 3.0f), wt));
  double want = 0;
  for (gint i = 0; i < 15; i++)
    want += 3.0 * w[i] * x[i] * x[i];
  ck_assert_double_eq_tol (m3ret_tensor_item (loss), want, 1e-4 * want);
  ck_assert (m3ret_graph_backward (g, loss, NULL));
  float grad[15];
  m3ret_tensor_download_grad (t, grad);
  for (gint i = 0; i < 15; i++)
    ck_assert_double_eq_tol (grad[i], 6.0 * w[i] * x[i], 1e-5);
  m3ret_graph_reset (g);
  m3ret_graph_set_grad_enabled (g, FALSE);
  t = m3ret_graph_from_host (g, 2, shape, x, TRUE);
  guint before = m3ret_graph_get_n_nodes (g);
  M3retTensor *out = m3ret_graph_new_tensor (g, 2, shape);
  ck_assert (!m3ret_graph_record_op (g, out, &t, 1, square_bwd, NULL));
  ck_assert_uint_eq (m3ret_graph_get_n_nodes (g), before);
  ck_assert (!out->requires_grad);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

/* ------------------------------------------- failures of void entries */

static gboolean inject_failure;

static gboolean
injected_take_error (gpointer self, GError **error)
{
  if (!inject_failure)
    return TRUE;
  inject_failure = FALSE;
  g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED, "injected: kernel fault");
  return FALSE;
}

static void
use_injected_take_error (M3retBackendVTable *vt)
{
  vt->take_error = injected_take_error;
}

static void
drop_minor6 (M3retBackendVTable *vt)
{
  vt->take_error = injected_take_error; /* there, but not read: the plugin says minor 5 */
  vt->cholesky_logdet_fwd = NULL;
}

/* A failure a backend records in a void entry stops the step at the next
 * op, in the forward or in the backward, with the backend's message; a
 * backend built against minor 5 is not asked. */
START_TEST (test_take_error)
{
  g_autoptr (GError) error = NULL;
  const gchar *name = register_variant ("cpu_sticky", M3RET_ABI_MINOR, use_injected_take_error);
  M3retDevice *device = m3ret_device_new_by_name (registry, name, 1, NULL, &error);
  ck_assert_msg (device != NULL, "%s", error ? error->message : "");
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[2] = { 2, 3 };
  float x[6] = { 1, -2, 3, 0.5f, 7, 0 };
  M3retTensor *t = m3ret_graph_from_host (g, 2, shape, x, TRUE);
  M3retTensor *y = m3ret_op_gelu (g, t);
  ck_assert_ptr_nonnull (y);
  inject_failure = TRUE; /* as if gelu's kernel had failed */
  ck_assert_ptr_null (m3ret_op_sum (g, y));
  ck_assert (!m3ret_graph_check (g, &error));
  ck_assert_str_eq (error->message, "injected: kernel fault");
  g_clear_error (&error);
  /* in the backward */
  m3ret_graph_reset (g);
  t = m3ret_graph_from_host (g, 2, shape, x, TRUE);
  M3retTensor *loss = m3ret_op_sum (g, m3ret_op_gelu (g, m3ret_op_gelu (g, t)));
  ck_assert_ptr_nonnull (loss);
  inject_failure = TRUE;
  ck_assert (!m3ret_graph_backward (g, loss, &error));
  ck_assert_str_eq (error->message, "injected: kernel fault");
  g_clear_error (&error);
  m3ret_graph_free (g);
  m3ret_device_free (device);

  /* minor 5: take_error is not read, and logdet names the missing entry */
  name = register_variant ("cpu_minor5", 5, drop_minor6);
  device = m3ret_device_new_by_name (registry, name, 1, NULL, &error);
  ck_assert_msg (device != NULL, "%s", error ? error->message : "");
  g = m3ret_graph_new (device);
  inject_failure = TRUE;
  ck_assert_ptr_nonnull (m3ret_op_sum (g, m3ret_graph_from_host (g, 2, shape, x, FALSE)));
  ck_assert (m3ret_graph_check (g, NULL));
  inject_failure = FALSE;
  gint64 sq[2] = { 2, 2 };
  ck_assert_ptr_null (m3ret_op_logdet (g, m3ret_graph_from_host (g, 2, sq, x, FALSE)));
  ck_assert (!m3ret_graph_check (g, &error));
  ck_assert_msg (strstr (error->message, "'cholesky_logdet_fwd'") != NULL, "%s", error->message);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

/* A matrix that is not positive definite: the op fails with the backend's
 * error, nothing crashes. */
START_TEST (test_logdet_indefinite)
{
  g_autoptr (GError) error = NULL;
  M3retDevice *device = new_device (1);
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[2] = { 2, 2 };
  float a[4] = { 1, 2, 2, 1 }; /* eigenvalues 3 and −1 */
  ck_assert_ptr_null (m3ret_op_logdet (g, m3ret_graph_from_host (g, 2, shape, a, TRUE)));
  ck_assert (!m3ret_graph_check (g, &error));
  ck_assert_msg (strstr (error->message, "not positive definite") != NULL, "%s", error->message);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

/* ---------------------------------------------------------- closed forms */

static M3retDevice *
new_device (gint threads)
{
  g_autoptr (GError) error = NULL;
  M3retDevice *device = m3ret_device_new_by_name (registry, "cpu", threads, NULL, &error);
  ck_assert_msg (device != NULL, "%s", error ? error->message : "");
  return device;
}

START_TEST (test_softmax_rows_sum_to_one)
{
  M3retDevice *device = new_device (2);
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[2] = { 37, 129 };
  float *x = g_new (float, 37 * 129);
  M3retRng rng;
  m3ret_rng_init (&rng, 5, 5);
  m3ret_rng_fill_uniform (&rng, x, 37 * 129, -30.0f, 30.0f);
  float *y = m3ret_tensor_to_host (m3ret_op_softmax (g, m3ret_graph_from_host (g, 2, shape, x, FALSE)));
  for (gint r = 0; r < 37; r++) {
    double s = 0;
    for (gint c = 0; c < 129; c++) {
      ck_assert (y[r * 129 + c] >= 0.0f);
      s += y[r * 129 + c];
    }
    ck_assert_double_eq_tol (s, 1.0, 1e-5);
  }
  g_free (x);
  g_free (y);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

START_TEST (test_layernorm_moments)
{
  M3retDevice *device = new_device (2);
  M3retGraph *g = m3ret_graph_new (device);
  gint rows = 300, cols = 96;
  gint64 shape[2] = { rows, cols }, wshape[1] = { cols };
  float *x = g_new (float, rows * cols), *ones = g_new (float, cols), *zeros = g_new0 (float, cols);
  for (gint c = 0; c < cols; c++)
    ones[c] = 1.0f;
  M3retRng rng;
  m3ret_rng_init (&rng, 6, 6);
  m3ret_rng_fill_normal (&rng, x, rows * cols, 3.0f, 5.0f);
  M3retTensor *out = m3ret_op_layernorm (g, m3ret_graph_from_host (g, 2, shape, x, FALSE),
                                         m3ret_graph_from_host (g, 1, wshape, ones, FALSE),
                                         m3ret_graph_from_host (g, 1, wshape, zeros, FALSE), 1e-6f);
  float *y = m3ret_tensor_to_host (out);
  for (gint r = 0; r < rows; r++) {
    double m = 0, v = 0;
    for (gint c = 0; c < cols; c++)
      m += y[r * cols + c];
    m /= cols;
    for (gint c = 0; c < cols; c++)
      v += (y[r * cols + c] - m) * (y[r * cols + c] - m);
    ck_assert_double_eq_tol (m, 0.0, 1e-5);
    ck_assert_double_eq_tol (v / cols, 1.0, 1e-4);
  }
  g_free (x);
  g_free (y);
  g_free (ones);
  g_free (zeros);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

START_TEST (test_logdet_known)
{
  M3retDevice *device = new_device (1);
  M3retGraph *g = m3ret_graph_new (device);
  /* Z with orthogonal columns of norms 1, 2, 3: ZᵀZ = diag(1, 4, 9),
   * logdet(I + c·ZᵀZ) = Σ log(1 + c·s²) */
  float z[4 * 3] = { 0 };
  z[0 * 3 + 0] = 1.0f;
  z[1 * 3 + 1] = 2.0f;
  z[3 * 3 + 2] = 3.0f;
  gint64 shape[2] = { 4, 3 };
  gfloat c = 0.5f;
  M3retTensor *ld = m3ret_op_logdet_gram (g, m3ret_graph_from_host (g, 2, shape, z, FALSE), c);
  double want = log (1 + c * 1) + log (1 + c * 4) + log (1 + c * 9);
  ck_assert_double_eq_tol (m3ret_tensor_item (ld), want, 1e-5);
  /* zero matrix: logdet(I) = 0 */
  float zero[4 * 3] = { 0 };
  ld = m3ret_op_logdet_gram (g, m3ret_graph_from_host (g, 2, shape, zero, FALSE), 3.0f);
  ck_assert_double_eq_tol (m3ret_tensor_item (ld), 0.0, 1e-7);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

/* Larger shapes split over threads give the same results as one thread. */
START_TEST (test_threads_agree)
{
  /* big enough that every loop, gemm and column sum is split over threads */
  const gint b = 3, n = 65, d = 64;
  gsize nx = (gsize) b * n * d, nw = (gsize) 3 * d * d;
  float *res[2], *wres[2], *bres[2];
  for (gint t = 0; t < 2; t++) {
    M3retDevice *device = new_device (t + 1);
    M3retGraph *g = m3ret_graph_new (device);
    M3retRng rng;
    m3ret_rng_init (&rng, 8, 8);
    gint64 xs[3] = { b, n, d }, ws[2] = { 3 * d, d }, bs[1] = { 3 * d }, ls[1] = { d };
    float *x = g_new (float, nx), *w = g_new (float, nw), *bias = g_new (float, 3 * d);
    float *gam = g_new (float, d);
    m3ret_rng_fill_uniform (&rng, x, nx, -1, 1);
    m3ret_rng_fill_uniform (&rng, w, nw, -0.3f, 0.3f);
    m3ret_rng_fill_uniform (&rng, bias, 3 * d, -1, 1);
    m3ret_rng_fill_uniform (&rng, gam, d, 0.5f, 1.5f);
    M3retTensor *xt = m3ret_graph_from_host (g, 3, xs, x, TRUE);
    M3retTensor *gt = m3ret_graph_from_host (g, 1, ls, gam, TRUE);
    M3retTensor *wt = m3ret_graph_from_host (g, 2, ws, w, TRUE);
    M3retTensor *bt = m3ret_graph_from_host (g, 1, bs, bias, TRUE);
    M3retTensor *h = m3ret_op_layernorm (g, xt, gt, gt, 1e-6f);
    M3retTensor *qkv = m3ret_op_linear (g, h, wt, bt);
    M3retTensor *a = m3ret_op_gelu (g, m3ret_op_attention (g, qkv, 4));
    M3retTensor *loss = m3ret_op_mean (g, m3ret_op_mul (g, a, a));
    ck_assert (m3ret_graph_backward (g, loss, NULL));
    res[t] = g_new (float, nx);
    wres[t] = g_new (float, nw);
    bres[t] = g_new (float, 3 * d);
    m3ret_device_download (device, res[t], xt->grad, sizeof (float) * nx);
    m3ret_device_download (device, wres[t], wt->grad, sizeof (float) * nw);
    m3ret_device_download (device, bres[t], bt->grad, sizeof (float) * 3 * d);
    g_free (x);
    g_free (w);
    g_free (bias);
    g_free (gam);
    m3ret_graph_free (g);
    m3ret_device_free (device);
  }
  for (gsize i = 0; i < nx; i++)
    ck_assert_float_eq_tol (res[0][i], res[1][i], 1e-5f * (1.0f + fabsf (res[0][i])));
  for (gsize i = 0; i < nw; i++)
    ck_assert_float_eq_tol (wres[0][i], wres[1][i], 1e-5f * (1.0f + fabsf (wres[0][i])));
  for (gint i = 0; i < 3 * d; i++)
    ck_assert_float_eq_tol (bres[0][i], bres[1][i], 1e-5f * (1.0f + fabsf (bres[0][i])));
  for (gint t = 0; t < 2; t++) {
    g_free (res[t]);
    g_free (wres[t]);
    g_free (bres[t]);
  }
}
END_TEST

/* A detached branch contributes nothing to the gradient. */
START_TEST (test_detach)
{
  M3retDevice *device = new_device (1);
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[1] = { 5 };
  float x[5] = { 1, -2, 3, 0.5f, 7 }, grad[5];
  M3retTensor *p = m3ret_tensor_new (device, 1, shape, TRUE, NULL);
  m3ret_tensor_upload (p, x);
  /* loss = Σ (x + detach(3x)) → d/dx = 1 */
  M3retTensor *loss = m3ret_op_sum (g, m3ret_op_add (g, p, m3ret_op_detach (g, m3ret_op_scale (g, p, 3.0f))));
  ck_assert_float_eq_tol (m3ret_tensor_item (loss), 4.0f * 9.5f, 1e-5f);
  ck_assert (m3ret_graph_backward (g, loss, NULL));
  m3ret_tensor_download_grad (p, grad);
  for (gint i = 0; i < 5; i++)
    ck_assert_float_eq (grad[i], 1.0f);
  /* with gradients disabled nothing is recorded */
  m3ret_graph_reset (g);
  m3ret_graph_set_grad_enabled (g, FALSE);
  M3retTensor *y = m3ret_op_scale (g, p, 2.0f);
  ck_assert (!y->requires_grad);
  ck_assert_uint_eq (m3ret_graph_get_n_nodes (g), 0);
  m3ret_tensor_free (p);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

/* The arena stops growing: after the first steps, identical steps reserve
 * nothing more. */
START_TEST (test_arena_flat)
{
  M3retDevice *device = new_device (2);
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[2] = { 128, 256 };
  float *x = g_new0 (float, 128 * 256);
  gsize reserved[40];
  for (gint step = 0; step < 40; step++) {
    M3retTensor *t = m3ret_graph_from_host (g, 2, shape, x, TRUE);
    M3retTensor *loss = m3ret_op_sum (g, m3ret_op_gelu (g, m3ret_op_gelu (g, t)));
    ck_assert (m3ret_graph_backward (g, loss, NULL));
    m3ret_graph_reset (g);
    reserved[step] = m3ret_graph_get_reserved_bytes (g);
  }
  for (gint step = 2; step < 40; step++)
    ck_assert_uint_eq (reserved[step], reserved[1]);
  ck_assert_uint_le (m3ret_graph_get_peak_bytes (g), reserved[1]);
  g_free (x);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

/* A backend built against minor 4 (the cpu table without the minor 5
 * entries): the general ops fail the step with an error naming the
 * backend, the op and the entry; nothing crashes, older ops still run. */
START_TEST (test_missing_entry)
{
  g_autoptr (GError) error = NULL;
  const M3retPlugin *cpu = m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, "cpu");
  ck_assert_ptr_nonnull (cpu);
  static M3retBackendVTable old_vt;
  static M3retPluginDesc old_desc;
  if (m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, "cpu_minor4") == NULL) {
    old_vt = *(const M3retBackendVTable *) m3ret_plugin_get_vtable (cpu);
    old_vt.exp_fwd = NULL;
    old_vt.log_fwd = NULL;
    old_vt.log_bwd = NULL;
    old_vt.logsumexp_fwd = NULL;
    old_vt.logsumexp_bwd = NULL;
    old_desc = *m3ret_plugin_get_desc (cpu);
    old_desc.name = "cpu_minor4";
    old_desc.abi_minor = 4;
    old_desc.init = NULL;
    old_desc.vtable = &old_vt;
    ck_assert_ptr_nonnull (m3ret_registry_add_static (registry, &old_desc, &error));
  }
  M3retDevice *device = m3ret_device_new_by_name (registry, "cpu_minor4", 1, NULL, &error);
  ck_assert_msg (device != NULL, "%s", error ? error->message : "?");
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[2] = { 2, 3 };
  float x[6] = { 1, -2, 3, 0.5f, 7, 0 };
  M3retTensor *t = m3ret_graph_from_host (g, 2, shape, x, FALSE);
  /* an op of the old table still runs */
  ck_assert_ptr_nonnull (m3ret_op_softmax_t (g, t, 0.5f));
  ck_assert_ptr_null (m3ret_op_cross_entropy (g, t, t, 1.0f));
  ck_assert (!m3ret_graph_check (g, &error));
  ck_assert (g_error_matches (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED));
  ck_assert_msg (strstr (error->message, "cpu_minor4") != NULL, "%s", error->message);
  ck_assert_msg (strstr (error->message, "logsumexp") != NULL, "%s", error->message);
  /* later ops return NULL quietly; a reset clears the error */
  ck_assert_ptr_null (m3ret_op_exp (g, t));
  g_clear_error (&error);
  m3ret_graph_reset (g);
  ck_assert_ptr_null (m3ret_op_exp (g, m3ret_graph_from_host (g, 2, shape, x, FALSE)));
  ck_assert (!m3ret_graph_check (g, &error));
  ck_assert_msg (strstr (error->message, "'exp_fwd'") != NULL, "%s", error->message);
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

static gboolean
failing_logsumexp_fwd (gpointer self, gint rows, gint cols, const float *x, float *out,
                       GError **error)
{
  g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED, "injected: device lost");
  return FALSE;
}

/* A minor 5 entry that fails: its GError becomes the step's error. */
START_TEST (test_entry_failure)
{
  g_autoptr (GError) error = NULL;
  const M3retPlugin *cpu = m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, "cpu");
  ck_assert_ptr_nonnull (cpu);
  static M3retBackendVTable vt;
  static M3retPluginDesc desc;
  if (m3ret_registry_lookup (registry, M3RET_PLUGIN_BACKEND, "cpu_failing") == NULL) {
    vt = *(const M3retBackendVTable *) m3ret_plugin_get_vtable (cpu);
    vt.logsumexp_fwd = failing_logsumexp_fwd;
    desc = *m3ret_plugin_get_desc (cpu);
    desc.name = "cpu_failing";
    desc.init = NULL;
    desc.vtable = &vt;
    ck_assert_ptr_nonnull (m3ret_registry_add_static (registry, &desc, &error));
  }
  M3retDevice *device = m3ret_device_new_by_name (registry, "cpu_failing", 1, NULL, &error);
  ck_assert_msg (device != NULL, "%s", error ? error->message : "?");
  M3retGraph *g = m3ret_graph_new (device);
  gint64 shape[2] = { 2, 3 };
  float x[6] = { 1, -2, 3, 0.5f, 7, 0 };
  M3retTensor *t = m3ret_graph_from_host (g, 2, shape, x, FALSE);
  ck_assert_ptr_nonnull (m3ret_op_exp (g, t));
  ck_assert_ptr_null (m3ret_op_logsumexp (g, t));
  ck_assert (!m3ret_graph_check (g, &error));
  ck_assert (g_error_matches (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED));
  ck_assert_str_eq (error->message, "injected: device lost");
  m3ret_graph_free (g);
  m3ret_device_free (device);
}
END_TEST

static Suite *
ops_suite (void)
{
  Suite *s = suite_create ("ops");
  TCase *tc = tcase_create ("gradients");
  tcase_add_loop_test (tc, test_op, 0, G_N_ELEMENTS (cases));
  tcase_add_loop_test (tc, test_op_composed, 0, G_N_ELEMENTS (composed_cases));
  tcase_add_test (tc, test_custom_op);
  suite_add_tcase (s, tc);
  tc = tcase_create ("closed-forms");
  tcase_add_test (tc, test_softmax_rows_sum_to_one);
  tcase_add_test (tc, test_layernorm_moments);
  tcase_add_test (tc, test_logdet_known);
  tcase_add_test (tc, test_logdet_indefinite);
  tcase_add_test (tc, test_threads_agree);
  tcase_add_test (tc, test_arena_flat);
  tcase_add_test (tc, test_detach);
  tcase_add_test (tc, test_missing_entry);
  tcase_add_test (tc, test_entry_failure);
  tcase_add_test (tc, test_take_error);
  suite_add_tcase (s, tc);
  return s;
}

/* Every test builds its own device and frees it, so the suite runs in
 * one process: a forked child's exit also runs the static destructors of
 * every loaded plugin's libraries (libtorch's take about a second).
 * CK_FORK=yes in the environment restores forking. */
M3RET_CHECK_MAIN (.suite = ops_suite, .one_process = TRUE, .registry = &registry)
