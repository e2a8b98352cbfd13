/* mae.c — masked autoencoding (He et al., 2022) on 4D tubelets.
 *
 * Per sample, ⌊L·(1 − mask_ratio)⌋ tokens chosen by the argsort of uniform
 * noise go through the encoder (with the CLS).  A lighter decoder embeds
 * them, puts a learned mask token in every other place in the original
 * order, adds its own fixed sin-cos position table, runs its blocks and
 * predicts every tubelet's C·pt·ph·pw values.  The loss is the mean
 * squared error per tubelet against the tubelet (normalised by its own
 * mean and unbiased variance with norm_pix), averaged over the masked
 * tubelets only.  Names follow MAE's PyTorch state dict.
 *
 * Data-parallel (setup->dist): rank r's samples are samples r·b … of the
 * global batch, masked with the draws a single process makes for them, and
 * the masked count the mean divides by is the global batch's (all-reduced),
 * so N ranks of B/N compute the loss of one process of B.
 */
#include "config.h"

#include <string.h>

#include "m3ret-plugin.h"
#include "m3ret-dist.h"
#include "m3ret-ops.h"
#include "m3ret-optim.h"
#include "m3ret-vit.h"
#include "mae-maths.h"

/* The [objective] keys, filled once by m3ret_config_fill(). */
typedef struct {
  gdouble mask_ratio;
  gboolean norm_pix;
  gint64 decoder_dim, decoder_depth, decoder_heads;
  gdouble scale_min, scale_max;
  gdouble beta1, beta2, weight_decay;
} MaeSettings;

#define S MaeSettings
static const M3retKeySpec mae_keys[] = {
  M3RET_KEY_DOUBLE_FIELD (S, mask_ratio, "mask_ratio", "0.75", 0.01, 0.99,
                          "fraction of tubelets hidden from the encoder"),
  M3RET_KEY_BOOL_FIELD (S, norm_pix, "norm_pix", "true",
                        "targets normalised per tubelet by its mean and unbiased variance"),
  M3RET_KEY_INT_FIELD (S, decoder_dim, "decoder_dim", "0", 0, 4096,
                       "decoder width; 0: 2/3 of the encoder's, down to a multiple of 32"),
  M3RET_KEY_INT_FIELD (S, decoder_depth, "decoder_depth", "0", 0, 64,
                       "decoder blocks; 0: decoder width/64, at least 1"),
  M3RET_KEY_INT_FIELD (S, decoder_heads, "decoder_heads", "0", 0, 256,
                       "decoder attention heads; 0: decoder width/32, at least 2"),
  M3RET_KEY_DOUBLE_FIELD (S, scale_min, "scale_min", "0.2", 0.01, 1.0,
                          "training crop: smallest fraction of the field of view kept"),
  M3RET_KEY_DOUBLE_FIELD (S, scale_max, "scale_max", "1.0", 0.01, 1.0,
                          "training crop: largest fraction of the field of view kept"),
  M3RET_KEY_DOUBLE_FIELD (S, beta1, "beta1", "0.9", 0.0, 0.999999, "AdamW β1"),
  M3RET_KEY_DOUBLE_FIELD (S, beta2, "beta2", "0.95", 0.0, 0.999999, "AdamW β2"),
  M3RET_KEY_DOUBLE_FIELD (S, weight_decay, "weight_decay", "0.05", 0.0, 10.0,
                          "AdamW weight decay (not on biases and norms)"),
  M3RET_KEY_END
};
#undef S

typedef struct {
  M3retVit *encoder;            /* not owned */
  const M3retDist *dist;        /* the ranks (NULL: one process) */
  M3retVitConfig vit;           /* the encoder's */
  gdouble mask_ratio;
  gboolean norm_pix;
  gdouble scale_min, scale_max;
  gdouble beta1, beta2, weight_decay;
  guint64 seed;
  guint size, depth, image_depth;
  gint dec_dim, dec_depth, dec_heads;
  /* tensors owned by the shared collection */
  M3retTensor *mask_token;      /* 1×1×Dd */
  M3retTensor *pos_embed;       /* 1×(1+L)×Dd buffer, CLS row zero */
  M3retTensor *embed_w, *embed_b;
  M3retBlocks *blocks;
  M3retTensor *norm_w, *norm_b;
  M3retTensor *pred_w, *pred_b;
} Mae;

static void
mae_destroy (gpointer self)
{
  Mae *mae = self;
  if (mae == NULL)
    return;
  m3ret_blocks_free (mae->blocks);
  g_free (mae);
}

static gboolean
add_linear (M3retParams *params, const gchar *name, gint out, gint in, M3retRng *rng,
            M3retTensor **w, M3retTensor **b, GError **error)
{
  g_autofree gchar *wn = g_strconcat (name, ".weight", NULL);
  g_autofree gchar *bn = g_strconcat (name, ".bias", NULL);
  gint64 ws[2] = { out, in }, bs[1] = { out };
  if ((*w = m3ret_params_add (params, wn, 2, ws, TRUE, error)) == NULL
      || (*b = m3ret_params_add (params, bn, 1, bs, TRUE, error)) == NULL)
    return FALSE;
  m3ret_params_init_xavier_uniform (*w, rng);
  return TRUE;
}

/* The key a relation between @a and @b should blame: the one the file wrote,
 * @a when both or neither were. */
static const gchar *
written_of (const M3retConfig *config, const gchar *a, const gchar *b)
{
  return m3ret_config_is_default (config, a) && !m3ret_config_is_default (config, b) ? b : a;
}

/* What create() refuses before it allocates: check() and create() both. */
static gboolean
check_keys (const M3retConfig *config, const MaeSettings *set, const M3retVitConfig *vit,
            guint image_depth, GError **error)
{
  gdouble scale_min = set->scale_min;
  gdouble scale_max = set->scale_max;
  if (scale_min > scale_max) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                            written_of (config, "scale_min", "scale_max"),
                            "scale_min %g is larger than scale_max %g", scale_min, scale_max);
    return FALSE;
  }
  gint dim = (gint) set->decoder_dim;
  gint depth = (gint) set->decoder_depth;
  gint heads = (gint) set->decoder_heads;
  mae_decoder_size (vit->dim, &dim, &depth, &heads);
  if (dim % heads != 0) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                            written_of (config, "decoder_heads", "decoder_dim"),
                            "decoder_dim %d is not a multiple of decoder_heads %d", dim, heads);
    return FALSE;
  }
  /* A still image has the fewest tubelets; the loss needs one kept. */
  gdouble mask_ratio = set->mask_ratio;
  gint tokens = m3ret_vit_config_n_tokens (vit, (gint) image_depth);
  if (mae_n_keep (tokens, mask_ratio) < 1) {
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, "mask_ratio",
                            "keeps none of the %d tubelets of a still image on this grid; "
                            "make it less than %.4g", tokens, 1.0 - 1.0 / tokens);
    return FALSE;
  }
  return TRUE;
}

static gboolean
mae_check (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error)
{
  g_return_val_if_fail (setup->encoder_config != NULL, FALSE);
  MaeSettings set;
  return m3ret_config_fill (config, mae_keys, &set, error)
         && check_keys (config, &set, setup->encoder_config, setup->image_depth, error);
}

static gpointer
mae_create (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error)
{
  MaeSettings set;
  if (!m3ret_config_fill (config, mae_keys, &set, error))
    return NULL;
  Mae *mae = g_new0 (Mae, 1);
  mae->encoder = setup->encoder;
  mae->dist = setup->dist;
  mae->vit = *m3ret_vit_get_config (setup->encoder);
  mae->mask_ratio = set.mask_ratio;
  mae->norm_pix = set.norm_pix;
  mae->scale_min = set.scale_min;
  mae->scale_max = set.scale_max;
  mae->beta1 = set.beta1;
  mae->beta2 = set.beta2;
  mae->weight_decay = set.weight_decay;
  mae->seed = setup->seed;
  mae->size = setup->size;
  mae->depth = setup->depth;
  mae->image_depth = setup->image_depth;
  mae->dec_dim = (gint) set.decoder_dim;
  mae->dec_depth = (gint) set.decoder_depth;
  mae->dec_heads = (gint) set.decoder_heads;
  mae_decoder_size (mae->vit.dim, &mae->dec_dim, &mae->dec_depth, &mae->dec_heads);
  if (!check_keys (config, &set, &mae->vit, mae->image_depth, error))
    goto fail;

  M3retParams *params = setup->params;
  M3retRng *rng = setup->init_rng;
  const M3retVitConfig *v = &mae->vit;
  gint dd = mae->dec_dim, l = v->grid[0] * v->grid[1] * v->grid[2];
  gint p = m3ret_vit_config_patch_values (v);
  gint64 token_shape[3] = { 1, 1, dd }, pos_shape[3] = { 1, 1 + l, dd }, norm_shape[1] = { dd };

  /* the order of MAE's state dict: its own tensors, then its submodules */
  if ((mae->mask_token = m3ret_params_add (params, "mask_token", 3, token_shape, TRUE, error)) == NULL
      || (mae->pos_embed = m3ret_params_add (params, "decoder_pos_embed", 3, pos_shape, FALSE,
                                             error)) == NULL
      || !add_linear (params, "decoder_embed", dd, v->dim, rng, &mae->embed_w, &mae->embed_b,
                      error))
    goto fail;
  mae->blocks = m3ret_blocks_new (params, "decoder_blocks", dd, mae->dec_depth, mae->dec_heads,
                                  4 * dd, v->eps, rng, error);
  if (mae->blocks == NULL
      || (mae->norm_w = m3ret_params_add (params, "decoder_norm.weight", 1, norm_shape, TRUE,
                                          error)) == NULL
      || (mae->norm_b = m3ret_params_add (params, "decoder_norm.bias", 1, norm_shape, TRUE,
                                          error)) == NULL
      || !add_linear (params, "decoder_pred", p, dd, rng, &mae->pred_w, &mae->pred_b, error))
    goto fail;
  m3ret_params_init_constant (mae->norm_w, 1.0f);
  m3ret_params_init_normal (mae->mask_token, rng, 0.02f);

  m3ret_pos_embed_upload (mae->pos_embed, dd, v->grid);
  return mae;

fail:
  mae_destroy (mae);
  return NULL;
}

static guint
mae_views (gpointer self, M3retView *views, guint max_views)
{
  Mae *mae = self;
  if (max_views < 1)
    return 0;
  m3ret_view_init_train (&views[0], mae->size, mae->depth, mae->image_depth, mae->scale_min,
                         mae->scale_max, NULL);
  return 1;
}

static gboolean
check_view (const Mae *mae, const M3retBatch *batch, GError **error)
{
  const M3retVitConfig *v = &mae->vit;
  if (batch->n_views != 1 || batch->n < 1) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "mae: a batch needs one view and at least one sample (got %u views of %u)",
                 batch->n_views, batch->n);
    return FALSE;
  }
  const M3retBatchView *bv = &batch->views[0];
  guint h = (guint) (v->grid[1] * v->tubelet[1]), w = (guint) (v->grid[2] * v->tubelet[2]);
  if (bv->channels != (guint) v->in_chans || bv->height != h || bv->width != w
      || bv->frames % (guint) v->tubelet[0] != 0
      || bv->frames > (guint) (v->grid[0] * v->tubelet[0])) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "mae: samples of %u×%u×%u×%u do not fit the encoder's %d×(≤%d)×%u×%u grid",
                 bv->channels, bv->frames, bv->height, bv->width, v->in_chans,
                 v->grid[0] * v->tubelet[0], h, w);
    return FALSE;
  }
  return TRUE;
}

static M3retTensor *
mae_loss (gpointer self, M3retGraph *g, const M3retBatch *batch, gint64 step, GError **error)
{
  Mae *mae = self;
  if (!check_view (mae, batch, error))
    return NULL;
  const M3retVitConfig *v = &mae->vit;
  const M3retBatchView *bv = &batch->views[0];
  gint b = (gint) batch->n, frames = (gint) bv->frames;
  gint l = m3ret_vit_config_n_tokens (v, frames), p = m3ret_vit_config_patch_values (v);
  gint k = mae_n_keep (l, mae->mask_ratio);
  gsize rows = (gsize) b * l;
  if (k < 1) {
    g_set_error (error, M3RET_CONFIG_ERROR, M3RET_CONFIG_ERROR_OUT_OF_RANGE,
                 "mae: mask_ratio %g keeps none of the %d tubelets of a %u-frame sample",
                 mae->mask_ratio, l, bv->frames);
    return NULL;
  }

  /* host: tubelets, targets, the masking of this step */
  float *patches = g_new (float, rows * p);
  m3ret_patchify (bv->data, b, v->in_chans, frames, (gint) bv->height, (gint) bv->width,
                  v->tubelet, patches);
  float *target = g_new (float, rows * p);
  mae_patch_targets (patches, rows, p, mae->norm_pix, target);
  /* The masks of the global batch's first (rank + 1)·b samples, this
   * rank's the last b of them. */
  gsize first = (gsize) m3ret_dist_get_rank (mae->dist) * b;
  gint32 *keep_all = g_new (gint32, (first + b) * k);
  gint32 *restore_all = g_new (gint32, (first + b) * l);
  gfloat *mask_all = g_new (gfloat, (first + b) * l);
  M3retRng rng;
  mae_step_rng (&rng, mae->seed, step);
  mae_random_masking (&rng, (gint) (first + b), l, k, keep_all, restore_all, mask_all);
  const gint32 *keep = keep_all + first * k;
  const gint32 *restore = restore_all + first * l;
  const gfloat *mask = mask_all + first * l;

  gint64 patch_shape[3] = { b, l, p }, mask_shape[1] = { (gint64) rows };
  M3retTensor *x = m3ret_graph_from_host (g, 3, patch_shape, patches, FALSE);
  M3retTensor *y = m3ret_graph_from_host (g, 3, patch_shape, target, FALSE);
  M3retTensor *m = m3ret_graph_from_host (g, 1, mask_shape, mask, FALSE);

  /* encoder on the kept tokens: B×(1+K)×D */
  M3retTensor *latent = m3ret_vit_forward (g, mae->encoder, x, keep, k);
  /* decoder: embed, append mask tokens, unshuffle, position, blocks */
  M3retTensor *h = m3ret_op_linear (g, latent, mae->embed_w, mae->embed_b);
  M3retTensor *tokens = m3ret_op_expand_tokens (g, mae->mask_token, b, l - k);
  tokens = m3ret_op_concat_tokens (g, m3ret_op_slice_tokens (g, h, 1, k), tokens);
  tokens = m3ret_op_gather_tokens (g, tokens, restore, l);
  h = m3ret_op_concat_tokens (g, m3ret_op_slice_tokens (g, h, 0, 1), tokens);
  /* a sample with fewer frames uses the first rows of the table (t slowest) */
  h = m3ret_op_add (g, h, m3ret_op_slice_tokens (g, mae->pos_embed, 0, 1 + l));
  h = m3ret_blocks_forward (g, mae->blocks, h);
  h = m3ret_op_layernorm (g, h, mae->norm_w, mae->norm_b, v->eps);
  h = m3ret_op_linear (g, h, mae->pred_w, mae->pred_b);
  M3retTensor *pred = m3ret_op_slice_tokens (g, h, 1, l);
  M3retTensor *loss = m3ret_op_mse (g, pred, y, m);
  if (m3ret_dist_get_size (mae->dist) > 1) {
    /* This rank's mean over its masked tubelets, reweighted so that the
     * ranks' mean is the mean over the global batch's masked tubelets. */
    gdouble counts[2] = { 0.0, 0.0 };
    for (gsize i = 0; i < rows; i++)
      counts[0] += mask[i];
    counts[1] = counts[0];
    m3ret_dist_allreduce_sum (mae->dist, counts + 1, 1);
    gdouble weight = m3ret_dist_get_size (mae->dist) * counts[0] / MAX (counts[1], 1.0);
    if (weight != 1.0)
      loss = m3ret_op_scale (g, loss, (gfloat) weight);
  }

  g_free (patches);
  g_free (target);
  g_free (keep_all);
  g_free (restore_all);
  g_free (mask_all);
  if (loss == NULL) {
    if (!m3ret_graph_check (g, error))
      return NULL;
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "mae: the loss of a %d×%d batch could not be computed", b, l);
  }
  return loss;
}

static void
mae_optimizer (gpointer self, M3retOptimizerSettings *s)
{
  Mae *mae = self;
  s->beta1 = mae->beta1;
  s->beta2 = mae->beta2;
  s->eps = 1e-8;
  s->weight_decay = s->weight_decay_end = mae->weight_decay;
}

static const M3retObjectiveVTable mae_vtable = {
  .create = mae_create,
  .destroy = mae_destroy,
  .views = mae_views,
  .loss = mae_loss,
  .optimizer = mae_optimizer,
  .after_step = NULL,
  .state = NULL,
  .check = mae_check,
};

M3RET_PLUGIN_DEFINE (mae, M3RET_PLUGIN_OBJECTIVE, PACKAGE_VERSION,
                     "masked autoencoder: encode kept tubelets, predict the masked ones",
                     "MIT", mae_keys, NULL, &mae_vtable)
