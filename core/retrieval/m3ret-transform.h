/* m3ret-transform.h — post-processing of embeddings learned from a
 * database and applied to it and to every query the same way.
 *
 * Cosine similarities of an encoder's embeddings crowd into a narrow band
 * (every pair of the demo above 0.75) because they share a large common
 * component.  Learned from the database rows x_i (each L2-normalised
 * first) at index time:
 *
 *   center  y = x − μ, μ the mean row;
 *   pca     y = Λ_K^{-1/2}·U_Kᵀ·(x − μ): the K leading eigenvectors U_K of
 *           the covariance (1/n)·Σ (x_i − μ)(x_i − μ)ᵀ, each component
 *           scaled to unit variance (PCA whitening, as in Jégou and Chum,
 *           2012); K ≤ min(d, n − 1);
 *
 * then y is L2-normalised, and retrieval is by cosine of the y.  The
 * transform is stored in the index (m3ret-index.h) so `query` applies it
 * to its files, and `eval` learns it from its database.
 */
#ifndef M3RET_TRANSFORM_H
#define M3RET_TRANSFORM_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  M3RET_TRANSFORM_NONE,
  M3RET_TRANSFORM_CENTER,
  M3RET_TRANSFORM_PCA
} M3retTransformKind;

typedef struct {
  M3retTransformKind kind;
  guint in_dim, out_dim;
  gfloat *mean; /* in_dim (NULL for none) */
  gfloat *proj; /* out_dim × in_dim, rows U_k/sqrt(λ_k) (pca only) */
} M3retTransform;

/* Learns @kind from @n rows of @dim (need not be normalised; each is
 * normalised first), keeping @keep components for pca (0: those of the
 * min(d, n − 1) leading ones whose variance is above 1e-7 of the largest).
 * Returns: (transfer full) the transform, or NULL with @error when there
 * are too few rows, a zero row, or @keep exceeds what the rows support. */
M3retTransform *m3ret_transform_fit (M3retTransformKind kind, guint keep, const gfloat *rows,
                                     gsize n, guint dim, GError **error);
void m3ret_transform_free (M3retTransform *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retTransform, m3ret_transform_free)

/* Writes @n transformed, L2-normalised rows (n × out_dim) of @in (n ×
 * in_dim) to @out; @what names the rows in an error: a row the transform
 * sends to zero (a row equal to the mean). */
gboolean m3ret_transform_apply (const M3retTransform *t, const gfloat *in, gsize n, gfloat *out,
                                const gchar *what, GError **error);

/* One line of text without newline ("center 64 <base64 mean>", "pca 64 32
 * <base64 mean> <base64 proj>", "none 64"), and back; from_text refuses
 * with M3RET_FORMAT_ERROR what it cannot read or what does not fit
 * @in_dim. */
gchar *m3ret_transform_to_text (const M3retTransform *t);
M3retTransform *m3ret_transform_from_text (const gchar *text, guint in_dim, GError **error);

/* "none", "center", "pca" */
const gchar *m3ret_transform_kind_name (M3retTransformKind kind);

G_END_DECLS

#endif /* M3RET_TRANSFORM_H */
