/* dino.c — plain DINO (Caron et al., 2021) as an out-of-tree objective
 * plugin: built against the installed SDK with `pkg-config m3ret-plugin`
 * alone, selected with `[objective] plugin=dino`.
 *
 * Student and teacher: the encoder's final CLS token through a head
 *   head.mlp.{0,2,4}   Linear D→h, GELU, Linear h→h, GELU, Linear h→bottleneck
 *   (L2-normalised)
 *   head.last_layer    weight-normalised Linear bottleneck→K, no bias,
 *                      weight_g fixed at 1 (DINO's norm_last_layer): the
 *                      forward uses weight_v with its rows L2-normalised
 * The teacher (encoder + head) is an EMA copy of the student in a
 * collection of its own, momentum a half cosine from ema_start to 1.
 *
 *   p_t = softmax((teacher_t − c)/τt)      over the global views t
 *   loss = mean over pairs (t, s ≠ t) of (1/b)·Σ_i H(p_t[i], softmax(student_s[i]/τs))
 *   c ← m·c + (1 − m)·mean of the teacher logits of the batch (after the step;
 *       data-parallel: the global batch, an all-reduce of the ranks' means)
 *
 * The center is a buffer ("center") in the trained collection, so the
 * teacher, made like the student, holds "center" too and the EMA copies it
 * there: state() (the teacher, prefix "teacher.") and the checkpoint both
 * carry it, and a resumed run repeats exactly.
 */
#include <math.h>
#include <string.h>

#include "m3ret-plugin.h"
#include "m3ret-dist.h"
#include "m3ret-graph.h"
#include "m3ret-ops.h"
#include "m3ret-optim.h"
#include "m3ret-params.h"
#include "m3ret-rng.h"
#include "m3ret-tensor.h"
#include "m3ret-vit.h"

#define DINO_MAX_VIEWS M3RET_LOADER_MAX_VIEWS

typedef struct {
  gint64 head_hidden, bottleneck, out_dim;
  gint64 global_crops, local_crops;
  gdouble global_scale[2], local_scale[2];
  gdouble student_temp, teacher_temp, warmup_teacher_temp;
  gint64 warmup_teacher_temp_steps;
  gdouble center_momentum, ema_start;
  gdouble beta1, beta2, weight_decay, weight_decay_end;
} DinoSettings;

#define S DinoSettings
static const M3retKeySpec dino_keys[] = {
  M3RET_KEY_INT_FIELD (S, head_hidden, "head_hidden", "2048", 1, 65536, "head MLP hidden width h"),
  M3RET_KEY_INT_FIELD (S, bottleneck, "bottleneck", "256", 1, 65536,
                       "head MLP output width (L2-normalised)"),
  M3RET_KEY_INT_FIELD (S, out_dim, "out_dim", "256", 2, 262144,
                       "prototypes K (DINO's out_dim; the paper uses 65536)"),
  M3RET_KEY_INT_FIELD (S, global_crops, "global_crops", "2", 1, DINO_MAX_VIEWS,
                       "global views per sample, through student and teacher"),
  M3RET_KEY_INT_FIELD (S, local_crops, "local_crops", "4", 0, DINO_MAX_VIEWS - 1,
                       "local views per sample, through the student only"),
  M3RET_KEY_DOUBLE_LIST_FIELD (S, global_scale, "global_scale", "0.4,1", 2, 0.01, 1.0,
                               "global crops: min,max fraction of the field of view kept"),
  M3RET_KEY_DOUBLE_LIST_FIELD (S, local_scale, "local_scale", "0.05,0.4", 2, 0.01, 1.0,
                               "local crops: min,max fraction of the field of view kept"),
  M3RET_KEY_DOUBLE_FIELD (S, student_temp, "student_temp", "0.1", 1e-4, 100.0,
                          "student temperature τs"),
  M3RET_KEY_DOUBLE_FIELD (S, teacher_temp, "teacher_temp", "0.04", 1e-4, 100.0,
                          "teacher temperature τt after the warm-up (sharpening)"),
  M3RET_KEY_DOUBLE_FIELD (S, warmup_teacher_temp, "warmup_teacher_temp", "0.04", 1e-4, 100.0,
                          "teacher temperature at step 0 (linear to teacher_temp)"),
  M3RET_KEY_INT_FIELD (S, warmup_teacher_temp_steps, "warmup_teacher_temp_steps", "0", 0,
                       G_MAXINT32, "steps of the teacher temperature warm-up (0: none)"),
  M3RET_KEY_DOUBLE_FIELD (S, center_momentum, "center_momentum", "0.9", 0.0, 1.0,
                          "EMA momentum of the center of the teacher logits"),
  M3RET_KEY_DOUBLE_FIELD (S, ema_start, "ema_start", "0.996", 0.0, 1.0,
                          "teacher momentum at step 0 (cosine to 1 at the end)"),
  M3RET_KEY_DOUBLE_FIELD (S, beta1, "beta1", "0.9", 0.0, 0.999999, "AdamW β1"),
  M3RET_KEY_DOUBLE_FIELD (S, beta2, "beta2", "0.999", 0.0, 0.999999, "AdamW β2"),
  M3RET_KEY_DOUBLE_FIELD (S, weight_decay, "weight_decay", "0.04", 0.0, 10.0,
                          "AdamW weight decay at the start (not on biases and norms)"),
  M3RET_KEY_DOUBLE_FIELD (S, weight_decay_end, "weight_decay_end", "0.4", 0.0, 10.0,
                          "weight decay at the end (cosine from weight_decay)"),
  M3RET_KEY_END
};
#undef S

/* One network: encoder + DINOHead. */
typedef struct {
  M3retVit *vit;
  M3retTensor *w[3], *b[3]; /* head.mlp.0, .2, .4 */
  M3retTensor *last_v;      /* head.last_layer.weight_v, K×bottleneck */
  M3retTensor *center;      /* "center", K (a buffer) */
} Net;

typedef struct {
  DinoSettings set;
  Net student, teacher;
  M3retParams *student_params; /* not owned */
  M3retParams *teacher_params; /* owned */
  const M3retDist *dist;       /* the ranks (NULL: one process) */
  M3retVitConfig vit;
  guint n_global, n_local;
  gint64 total_steps;
  guint size, depth, image_depth;
  /* the batch mean of the teacher logits of the last loss(), host, K */
  gfloat *batch_center;
  gboolean have_batch_center;
} Dino;

static void
dino_destroy (gpointer self)
{
  Dino *d = self;
  if (d == NULL)
    return;
  m3ret_vit_free (d->teacher.vit);
  m3ret_params_free (d->teacher_params);
  g_free (d->batch_center);
  g_free (d);
}

/* DINOHead's tensors, in PyTorch's names and order; trunc_normal(0.02)
 * for the MLP (here normal), zero biases; weight_g = 1. */
static gboolean
add_head (M3retParams *params, Net *net, const DinoSettings *set, gint dim, M3retRng *rng,
          GError **error)
{
  const gint64 widths[4] = { dim, set->head_hidden, set->head_hidden, set->bottleneck };
  for (gint i = 0; i < 3; i++) {
    g_autofree gchar *wn = g_strdup_printf ("head.mlp.%d.weight", 2 * i);
    g_autofree gchar *bn = g_strdup_printf ("head.mlp.%d.bias", 2 * i);
    gint64 ws[2] = { widths[i + 1], widths[i] }, bs[1] = { widths[i + 1] };
    if ((net->w[i] = m3ret_params_add (params, wn, 2, ws, TRUE, error)) == NULL
        || (net->b[i] = m3ret_params_add (params, bn, 1, bs, TRUE, error)) == NULL)
      return FALSE;
    m3ret_params_init_normal (net->w[i], rng, 0.02f);
  }
  gint64 gs[2] = { set->out_dim, 1 }, vs[2] = { set->out_dim, set->bottleneck };
  gint64 cs[1] = { set->out_dim };
  M3retTensor *g;
  if ((g = m3ret_params_add (params, "head.last_layer.weight_g", 2, gs, FALSE, error)) == NULL
      || (net->last_v = m3ret_params_add (params, "head.last_layer.weight_v", 2, vs, TRUE,
                                          error)) == NULL
      || (net->center = m3ret_params_add (params, "center", 1, cs, FALSE, error)) == NULL)
    return FALSE;
  m3ret_params_init_constant (g, 1.0f);
  m3ret_params_init_normal (net->last_v, rng, 0.02f);
  return TRUE;
}

static gboolean
check_keys (const M3retConfig *config, const DinoSettings *set, GError **error)
{
  gint64 n = set->global_crops + set->local_crops;
  if (n > DINO_MAX_VIEWS || n < 2 || set->global_crops < 1) {
    const gchar *key = m3ret_config_is_default (config, "local_crops")
                       && !m3ret_config_is_default (config, "global_crops") ? "global_crops"
                                                                            : "local_crops";
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, key,
                            "global_crops + local_crops is %" G_GINT64_FORMAT "; it must be 2 to "
                            "%d (each teacher view needs another student view)", n,
                            DINO_MAX_VIEWS);
    return FALSE;
  }
  static const gchar *const names[] = { "global_scale", "local_scale" };
  const gdouble *const scales[] = { set->global_scale, set->local_scale };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (scales[i][0] > scales[i][1]) {
      m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, names[i],
                              "write it min,max (%g is larger than %g)", scales[i][0],
                              scales[i][1]);
      return FALSE;
    }
  return TRUE;
}

static gboolean
dino_check (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error)
{
  DinoSettings set;
  return m3ret_config_fill (config, dino_keys, &set, error) && check_keys (config, &set, error);
}

static gpointer
dino_create (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error)
{
  Dino *d = g_new0 (Dino, 1);
  if (!m3ret_config_fill (config, dino_keys, &d->set, error) || !check_keys (config, &d->set, error))
    goto fail;
  d->student_params = setup->params;
  d->dist = setup->dist;
  d->student.vit = setup->encoder;
  d->vit = *m3ret_vit_get_config (setup->encoder);
  d->n_global = (guint) d->set.global_crops;
  d->n_local = (guint) d->set.local_crops;
  d->total_steps = setup->total_steps;
  d->size = setup->size;
  d->depth = setup->depth;
  d->image_depth = setup->image_depth;
  d->batch_center = g_new0 (gfloat, d->set.out_dim);

  if (!add_head (setup->params, &d->student, &d->set, d->vit.dim, setup->init_rng, error))
    goto fail;
  /* The teacher: built like the student (its draws are discarded), then
   * an exact copy of it. */
  M3retRng scratch;
  m3ret_rng_init (&scratch, setup->seed, M3RET_RNG_STREAM_USER);
  d->teacher_params = m3ret_params_new (m3ret_params_get_device (setup->params));
  d->teacher.vit = m3ret_vit_new (d->teacher_params, "", &d->vit, &scratch, error);
  if (d->teacher.vit == NULL
      || !add_head (d->teacher_params, &d->teacher, &d->set, d->vit.dim, &scratch, error))
    goto fail;
  GError *local = NULL;
  if (!m3ret_params_copy (d->teacher_params, setup->params, &local)) {
    g_propagate_prefixed_error (error, local, "dino: the teacher is the encoder and head: ");
    goto fail;
  }
  return d;

fail:
  dino_destroy (d);
  return NULL;
}

static guint
dino_views (gpointer self, M3retView *views, guint max_views)
{
  Dino *d = self;
  guint n = d->n_global + d->n_local;
  if (max_views < n)
    return 0;
  for (guint v = 0; v < n; v++) {
    const gdouble *scale = v < d->n_global ? d->set.global_scale : d->set.local_scale;
    m3ret_view_init_train (&views[v], d->size, d->depth, d->image_depth, scale[0], scale[1], NULL);
  }
  return n;
}

/* The K logits of each sample's CLS token: b×K. */
static M3retTensor *
net_forward (M3retGraph *g, const Net *net, M3retTensor *patches)
{
  M3retTensor *tokens = m3ret_vit_forward (g, net->vit, patches, NULL, 0);
  if (tokens == NULL)
    return NULL;
  gint64 shape[2] = { tokens->shape[0], tokens->shape[2] };
  M3retTensor *x = m3ret_op_reshape (g, m3ret_op_slice_tokens (g, tokens, 0, 1), 2, shape);
  x = m3ret_op_gelu (g, m3ret_op_linear (g, x, net->w[0], net->b[0]));
  x = m3ret_op_gelu (g, m3ret_op_linear (g, x, net->w[1], net->b[1]));
  x = m3ret_op_linear (g, x, net->w[2], net->b[2]);
  x = m3ret_op_l2normalize (g, x, 1e-12f);
  /* weight norm with g = 1: the prototypes are the unit rows of weight_v */
  M3retTensor *w = m3ret_op_l2normalize (g, net->last_v, 1e-12f);
  return m3ret_op_linear (g, x, w, NULL);
}

static gboolean
check_batch (const Dino *d, const M3retBatch *batch, GError **error)
{
  const M3retVitConfig *v = &d->vit;
  if (batch->n_views != d->n_global + d->n_local || batch->n < 1) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "dino: a batch needs %u views (%u global, %u local) and at least one sample "
                 "(got %u views of %u)", d->n_global + d->n_local, d->n_global, d->n_local,
                 batch->n_views, batch->n);
    return FALSE;
  }
  guint h = (guint) (v->grid[1] * v->tubelet[1]), w = (guint) (v->grid[2] * v->tubelet[2]);
  for (guint i = 0; i < batch->n_views; i++) {
    const M3retBatchView *bv = &batch->views[i];
    if (bv->channels != (guint) v->in_chans || bv->height != h || bv->width != w
        || bv->frames % (guint) v->tubelet[0] != 0
        || bv->frames > (guint) (v->grid[0] * v->tubelet[0])) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                   "dino: view %u of %u×%u×%u×%u does not fit the encoder's %d×(≤%d)×%u×%u grid",
                   i, bv->channels, bv->frames, bv->height, bv->width, v->in_chans,
                   v->grid[0] * v->tubelet[0], h, w);
      return FALSE;
    }
  }
  return TRUE;
}

/* τt at @step: linear from warmup_teacher_temp to teacher_temp. */
static gdouble
teacher_temp (const Dino *d, gint64 step)
{
  const DinoSettings *s = &d->set;
  if (step >= s->warmup_teacher_temp_steps)
    return s->teacher_temp;
  return s->warmup_teacher_temp
         + (s->teacher_temp - s->warmup_teacher_temp) * (gdouble) step
             / (gdouble) s->warmup_teacher_temp_steps;
}

static M3retTensor *
dino_loss (gpointer self, M3retGraph *g, const M3retBatch *batch, gint64 step, GError **error)
{
  Dino *d = self;
  if (!check_batch (d, batch, error))
    return NULL;
  gint b = (gint) batch->n;
  gint64 k = d->set.out_dim;
  M3retTensor *student[DINO_MAX_VIEWS], *target[DINO_MAX_VIEWS];
  gboolean grad = m3ret_graph_get_grad_enabled (g);
  gfloat tt = (gfloat) teacher_temp (d, step);
  g_autofree gfloat *host = g_new (gfloat, (gsize) b * (gsize) k);
  memset (d->batch_center, 0, sizeof (gfloat) * (gsize) k);
  gboolean ok = TRUE;

  for (guint v = 0; v < batch->n_views && ok; v++) {
    const M3retBatchView *bv = &batch->views[v];
    M3retTensor *patches = m3ret_vit_patchify (g, d->student.vit, bv->data, b, (gint) bv->frames);
    student[v] = net_forward (g, &d->student, patches);
    ok = student[v] != NULL;
    if (v < d->n_global && ok) {
      /* teacher: no gradients; centered and sharpened */
      m3ret_graph_set_grad_enabled (g, FALSE);
      M3retTensor *t = net_forward (g, &d->teacher, patches);
      M3retTensor *centered = m3ret_op_add (g, t, m3ret_op_scale (g, d->teacher.center, -1.0f));
      target[v] = m3ret_op_softmax_t (g, centered, tt);
      m3ret_graph_set_grad_enabled (g, grad);
      ok = t != NULL && target[v] != NULL;
      if (ok) {
        m3ret_tensor_download (t, host);
        for (gint i = 0; i < b; i++)
          for (gint64 c = 0; c < k; c++)
            d->batch_center[c] += host[i * k + c] / (gfloat) (b * d->n_global);
      }
    }
  }
  M3retTensor *loss = NULL;
  guint pairs = 0;
  for (guint t = 0; t < d->n_global && ok; t++)
    for (guint s = 0; s < batch->n_views && ok; s++) {
      if (s == t)
        continue;
      M3retTensor *h = m3ret_op_cross_entropy (g, student[s], target[t],
                                               (gfloat) d->set.student_temp);
      loss = loss == NULL ? h : m3ret_op_add (g, loss, h);
      ok = loss != NULL;
      pairs++;
    }
  if (ok && pairs > 0)
    loss = m3ret_op_scale (g, loss, 1.0f / (gfloat) pairs);
  d->have_batch_center = ok;
  if (!ok || loss == NULL) {
    if (m3ret_graph_check (g, error))
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                   "dino: the loss of a batch of %d could not be computed", b);
    return NULL;
  }
  return loss;
}

static void
dino_optimizer (gpointer self, M3retOptimizerSettings *s)
{
  Dino *d = self;
  s->beta1 = d->set.beta1;
  s->beta2 = d->set.beta2;
  s->eps = 1e-8;
  s->weight_decay = d->set.weight_decay;
  s->weight_decay_end = d->set.weight_decay_end;
}

static void
dino_after_step (gpointer self, gint64 step)
{
  Dino *d = self;
  /* center ← m·center + (1 − m)·(batch mean of the teacher logits) */
  if (d->have_batch_center) {
    gint64 k = d->set.out_dim;
    gdouble m = d->set.center_momentum;
    /* data-parallel: the mean over the ranks of their batch means (DINO's
     * all_reduce); every rank calls after_step, so the collective is safe */
    gint ranks = m3ret_dist_get_size (d->dist);
    if (ranks > 1) {
      g_autofree gdouble *sum = g_new (gdouble, k);
      for (gint64 i = 0; i < k; i++)
        sum[i] = d->batch_center[i];
      m3ret_dist_allreduce_sum (d->dist, sum, (gsize) k);
      for (gint64 i = 0; i < k; i++)
        d->batch_center[i] = (gfloat) (sum[i] / ranks);
    }
    g_autofree gfloat *c = m3ret_tensor_to_host (d->student.center);
    for (gint64 i = 0; i < k; i++)
      c[i] = (gfloat) (m * c[i] + (1.0 - m) * d->batch_center[i]);
    m3ret_tensor_upload (d->student.center, c);
    d->have_batch_center = FALSE;
  }
  /* teacher ← EMA of the student (buffers, the center among them, copied) */
  gdouble total = d->total_steps > 0 ? (gdouble) d->total_steps : 1.0;
  gdouble momentum = 1.0 - (1.0 - d->set.ema_start) * (cos (G_PI * (gdouble) step / total) + 1.0)
                               / 2.0;
  m3ret_params_ema (d->teacher_params, d->student_params, momentum);
}

static M3retParams *
dino_state (gpointer self, const gchar **prefix)
{
  Dino *d = self;
  *prefix = "teacher.";
  return d->teacher_params;
}

static const M3retObjectiveVTable dino_vtable = {
  .create = dino_create,
  .destroy = dino_destroy,
  .views = dino_views,
  .loss = dino_loss,
  .optimizer = dino_optimizer,
  .after_step = dino_after_step,
  .state = dino_state,
  .check = dino_check,
};

M3RET_PLUGIN_DEFINE (dino, M3RET_PLUGIN_OBJECTIVE, "0.1",
                     "DINO: EMA-teacher self-distillation with centering and sharpening (example)",
                     "MIT", dino_keys, NULL, &dino_vtable)
