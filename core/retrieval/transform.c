/* transform.c — centering and PCA whitening of embeddings (m3ret-transform.h). */
#include "config.h"

#include <math.h>
#include <string.h>

#include "m3ret-fileio.h"
#include "m3ret-transform.h"

/* LAPACK (OpenBLAS ships it): eigenvalues ascending, vectors in columns. */
extern void dsyev_ (const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *info);

/* Below this fraction of the largest eigenvalue a direction is noise. */
#define PCA_MIN_RATIO 1e-7

const gchar *
m3ret_transform_kind_name (M3retTransformKind kind)
{
  switch (kind) {
  case M3RET_TRANSFORM_CENTER: return "center";
  case M3RET_TRANSFORM_PCA: return "pca";
  case M3RET_TRANSFORM_NONE: break;
  }
  return "none";
}

void
m3ret_transform_free (M3retTransform *t)
{
  if (t == NULL)
    return;
  g_free (t->mean);
  g_free (t->proj);
  g_free (t);
}

/* @n rows of @dim, each divided by its norm, in double; NULL on a zero row */
static gdouble *
normalised_rows (const gfloat *rows, gsize n, guint dim, GError **error)
{
  gdouble *x = g_new (gdouble, n * dim);
  for (gsize i = 0; i < n; i++) {
    gdouble s = 0;
    for (guint c = 0; c < dim; c++)
      s += (gdouble) rows[i * dim + c] * rows[i * dim + c];
    if (!(s > 0) || !isfinite (s)) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "row %zu of the database is zero or not finite: it has no direction", i);
      g_free (x);
      return NULL;
    }
    for (guint c = 0; c < dim; c++)
      x[i * dim + c] = rows[i * dim + c] / sqrt (s);
  }
  return x;
}

M3retTransform *
m3ret_transform_fit (M3retTransformKind kind, guint keep, const gfloat *rows, gsize n, guint dim,
                     GError **error)
{
  g_return_val_if_fail (dim > 0, NULL);
  M3retTransform *t = g_new0 (M3retTransform, 1);
  t->kind = kind;
  t->in_dim = t->out_dim = dim;
  if (kind == M3RET_TRANSFORM_NONE)
    return t;
  g_autoptr (M3retTransform) owned = t;
  if (n < 2) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "%s needs at least 2 database rows to learn from, not %zu",
                 m3ret_transform_kind_name (kind), n);
    return NULL;
  }
  g_autofree gdouble *x = normalised_rows (rows, n, dim, error);
  if (x == NULL)
    return NULL;
  g_autofree gdouble *mu = g_new0 (gdouble, dim);
  for (gsize i = 0; i < n; i++)
    for (guint c = 0; c < dim; c++)
      mu[c] += x[i * dim + c] / (gdouble) n;
  t->mean = g_new (gfloat, dim);
  for (guint c = 0; c < dim; c++)
    t->mean[c] = (gfloat) mu[c];
  if (kind == M3RET_TRANSFORM_CENTER)
    return g_steal_pointer (&owned);

  guint most = (guint) MIN ((gsize) dim, n - 1);
  gboolean automatic = keep == 0;
  if (automatic)
    keep = most;
  if (keep > most) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "pca keeps %u components, but %zu rows of %u values support at most %u "
                 "(lower [retriever] whiten_dim)", keep, n, dim, most);
    return NULL;
  }
  /* covariance, then its eigenvectors (column-major = row-major for a
   * symmetric matrix) */
  g_autofree gdouble *cov = g_new0 (gdouble, (gsize) dim * dim);
  for (gsize i = 0; i < n; i++)
    for (guint a = 0; a < dim; a++) {
      gdouble da = x[i * dim + a] - mu[a];
      for (guint b = a; b < dim; b++)
        cov[(gsize) a * dim + b] += da * (x[i * dim + b] - mu[b]) / (gdouble) n;
    }
  for (guint a = 0; a < dim; a++)
    for (guint b = 0; b < a; b++)
      cov[(gsize) a * dim + b] = cov[(gsize) b * dim + a];
  int nn = (int) dim, info = 0, lwork = -1;
  g_autofree gdouble *w = g_new (gdouble, dim);
  gdouble query = 0;
  dsyev_ ("V", "U", &nn, cov, &nn, w, &query, &lwork, &info);
  lwork = MAX ((int) query, 3 * nn);
  g_autofree gdouble *work = g_new (gdouble, lwork);
  dsyev_ ("V", "U", &nn, cov, &nn, w, work, &lwork, &info);
  if (info != 0) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "pca: the eigen-decomposition of the %u×%u covariance failed (LAPACK info %d)",
                 dim, dim, info);
    return NULL;
  }
  /* eigenvector j is column j: cov[j·dim + c] in LAPACK's column-major
   * storage read row-major; the largest eigenvalues come last */
  gdouble top = w[dim - 1];
  /* automatic: every direction with variance */
  while (automatic && keep > 1 && !(w[dim - keep] > PCA_MIN_RATIO * top))
    keep--;
  if (!(w[dim - keep] > PCA_MIN_RATIO * top)) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "pca: component %u of %u has no variance in the database (eigenvalue %g of "
                 "%g); lower [retriever] whiten_dim", keep, dim, w[dim - keep], top);
    return NULL;
  }
  t->out_dim = keep;
  t->proj = g_new (gfloat, (gsize) keep * dim);
  for (guint k = 0; k < keep; k++) {
    guint j = dim - 1 - k;
    gdouble scale = 1.0 / sqrt (w[j]);
    for (guint c = 0; c < dim; c++)
      t->proj[(gsize) k * dim + c] = (gfloat) (cov[(gsize) j * dim + c] * scale);
  }
  return g_steal_pointer (&owned);
}

gboolean
m3ret_transform_apply (const M3retTransform *t, const gfloat *in, gsize n, gfloat *out,
                       const gchar *what, GError **error)
{
  guint d = t->in_dim, k = t->out_dim;
  g_autofree gdouble *x = g_new (gdouble, d);
  for (gsize i = 0; i < n; i++) {
    const gfloat *row = in + i * d;
    gdouble s = 0;
    for (guint c = 0; c < d; c++)
      s += (gdouble) row[c] * row[c];
    gdouble inv = s > 0 ? 1.0 / sqrt (s) : 0.0;
    for (guint c = 0; c < d; c++)
      x[c] = row[c] * inv - (t->mean ? t->mean[c] : 0.0f);
    gfloat *y = out + i * k;
    gdouble norm = 0;
    for (guint j = 0; j < k; j++) {
      gdouble v = 0;
      if (t->proj == NULL)
        v = x[j];
      else
        for (guint c = 0; c < d; c++)
          v += t->proj[(gsize) j * d + c] * x[c];
      y[j] = (gfloat) v;
      norm += v * v;
    }
    if (!(norm > 0) || !isfinite (norm)) {
      g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                   "%s: row %zu has no direction after %s (zero, or the database's mean)", what,
                   i, m3ret_transform_kind_name (t->kind));
      return FALSE;
    }
    gdouble scale = 1.0 / sqrt (norm);
    for (guint j = 0; j < k; j++)
      y[j] = (gfloat) (y[j] * scale);
  }
  return TRUE;
}

gchar *
m3ret_transform_to_text (const M3retTransform *t)
{
  GString *out = g_string_new (m3ret_transform_kind_name (t->kind));
  g_string_append_printf (out, " %u", t->in_dim);
  if (t->kind == M3RET_TRANSFORM_PCA)
    g_string_append_printf (out, " %u", t->out_dim);
  if (t->mean != NULL) {
    g_autofree gchar *b = g_base64_encode ((const guchar *) t->mean, t->in_dim * sizeof (gfloat));
    g_string_append_printf (out, " %s", b);
  }
  if (t->proj != NULL) {
    g_autofree gchar *b = g_base64_encode ((const guchar *) t->proj,
                                           (gsize) t->out_dim * t->in_dim * sizeof (gfloat));
    g_string_append_printf (out, " %s", b);
  }
  return g_string_free (out, FALSE);
}

/* (transfer full) @count floats decoded from @b64, NULL when it does not hold exactly that */
static gfloat *
decode_floats (const gchar *b64, gsize count)
{
  gsize len = 0;
  g_autofree guchar *bytes = g_base64_decode (b64, &len);
  if (bytes == NULL || len != count * sizeof (gfloat))
    return NULL;
  gfloat *v = g_new (gfloat, count);
  memcpy (v, bytes, len);
  for (gsize i = 0; i < count; i++)
    if (!isfinite (v[i])) {
      g_free (v);
      return NULL;
    }
  return v;
}

M3retTransform *
m3ret_transform_from_text (const gchar *text, guint in_dim, GError **error)
{
  g_auto (GStrv) w = g_strsplit (text, " ", -1);
  guint nw = g_strv_length (w);
  g_autoptr (M3retTransform) t = g_new0 (M3retTransform, 1);
  const gchar *problem = NULL;
  gchar *end = NULL;
  guint64 d = nw >= 2 ? g_ascii_strtoull (w[1], &end, 10) : 0;
  if (nw < 2 || end == w[1] || *end != '\0' || d != in_dim)
    problem = "its width does not match the index";
  else if (strcmp (w[0], "none") == 0 && nw == 2) {
    t->kind = M3RET_TRANSFORM_NONE;
    t->in_dim = t->out_dim = in_dim;
  } else if (strcmp (w[0], "center") == 0 && nw == 3) {
    t->kind = M3RET_TRANSFORM_CENTER;
    t->in_dim = t->out_dim = in_dim;
    if ((t->mean = decode_floats (w[2], in_dim)) == NULL)
      problem = "its mean is not one finite float32 per dimension";
  } else if (strcmp (w[0], "pca") == 0 && nw == 5) {
    guint64 k = g_ascii_strtoull (w[2], &end, 10);
    t->kind = M3RET_TRANSFORM_PCA;
    t->in_dim = in_dim;
    t->out_dim = (guint) k;
    if (end == w[2] || *end != '\0' || k < 1 || k > in_dim)
      problem = "its kept dimension is not between 1 and the width";
    else if ((t->mean = decode_floats (w[3], in_dim)) == NULL ||
             (t->proj = decode_floats (w[4], (gsize) k * in_dim)) == NULL)
      problem = "its mean or projection is not the float32 values its size says";
  } else {
    problem = "it is not none, center or pca with their values";
  }
  if (problem != NULL) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT,
                 "the index's transform cannot be read: %s", problem);
    return NULL;
  }
  return g_steal_pointer (&t);
}
