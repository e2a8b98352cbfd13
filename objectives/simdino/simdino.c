/* simdino.c — SimDINO (Wu et al., 2025): self-distillation with a coding
 * rate instead of DINO's centering, sharpening and temperatures.
 *
 * Student: the encoder's final CLS token through a projection head (MLP
 * D→h→h→p with GELU, no batch norm, output L2-normalised).  Teacher: an
 * EMA copy of encoder and head in a collection of its own, never
 * differentiated; its momentum follows a half cosine from ema_start to 1
 * over the run.  Every sample is rendered to global_crops global views
 * (through both) and local_crops local views (through the student only).
 *   alignment = mean over pairs (teacher view t, student view s ≠ t) of
 *               the batch mean of cosine(teacher_t, student_s)
 *   expansion = γ·mean_v ½·logdet(I + p/(b·ε)·Z_vᵀZ_v),
 *               Z_v = (student_v + teacher_v)/2 over global views v,
 *               γ = (p + b)/(p·b)
 *   loss      = −coeff·alignment − expansion
 * Data-parallel (setup->dist): b is the global batch and Z_vᵀZ_v the sum
 * over the ranks of theirs (m3ret_op_allreduce_sum, whose backward brings
 * every rank its share of the gradient), the alignment each rank's mean,
 * which the trainer averages: N ranks of B/N compute one process's loss of B.
 * Local crops are drawn at the same grid size as the global ones (from a
 * smaller part of the field of view): the encoder's position table is for
 * the full grid.
 */
#include "config.h"

#include <string.h>

#include "m3ret-plugin.h"
#include "m3ret-dist.h"
#include "m3ret-ops.h"
#include "m3ret-optim.h"
#include "m3ret-vit.h"
#include "simdino-maths.h"

#define SIMDINO_MAX_VIEWS M3RET_LOADER_MAX_VIEWS

/* The [objective] keys, filled once by m3ret_config_fill(). */
typedef struct {
  gint64 head_hidden, head_out;
  gint64 global_crops, local_crops;
  gdouble global_scale[2], local_scale[2];
  gdouble eps, coeff, ema_start;
  gdouble beta1, beta2, weight_decay, weight_decay_end;
} SimDinoSettings;

#define S SimDinoSettings
static const M3retKeySpec simdino_keys[] = {
  M3RET_KEY_INT_FIELD (S, head_hidden, "head_hidden", "2048", 1, 65536,
                       "projection head hidden width h"),
  M3RET_KEY_INT_FIELD (S, head_out, "head_out", "256", 1, 65536,
                       "projection width p (L2-normalised)"),
  M3RET_KEY_INT_FIELD (S, global_crops, "global_crops", "2", 1, SIMDINO_MAX_VIEWS,
                       "global views per sample, through student and teacher"),
  M3RET_KEY_INT_FIELD (S, local_crops, "local_crops", "4", 0, SIMDINO_MAX_VIEWS - 1,
                       "local views per sample, through the student only"),
  M3RET_KEY_DOUBLE_LIST_FIELD (S, global_scale, "global_scale", "0.4,1", 2, 0.01, 1.0,
                               "global crops: min,max fraction of the field of view kept"),
  M3RET_KEY_DOUBLE_LIST_FIELD (S, local_scale, "local_scale", "0.05,0.4", 2, 0.01, 1.0,
                               "local crops: min,max fraction of the field of view kept"),
  M3RET_KEY_DOUBLE_FIELD (S, eps, "eps", "0.5", 1e-6, 1e6, "coding-rate distortion ε"),
  M3RET_KEY_DOUBLE_FIELD (S, coeff, "coeff", "1", 0.0, 1e6, "weight of the alignment term"),
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

/* Encoder + head: the student's tensors live in the shared collection,
 * the teacher's in its own. */
typedef struct {
  M3retVit *vit;
  M3retTensor *w[3], *b[3]; /* head.mlp.0, .2, .4 */
} Branch;

typedef struct {
  Branch student, teacher;
  M3retParams *student_params; /* not owned */
  M3retParams *teacher_params; /* owned */
  const M3retDist *dist;       /* the ranks (NULL: one process) */
  M3retVitConfig vit;
  gint head_hidden, head_out;
  guint n_global, n_local;
  gdouble global_scale[2], local_scale[2];
  gdouble eps, coeff, ema_start;
  gdouble beta1, beta2, weight_decay, weight_decay_end;
  gint64 total_steps;
  guint size, depth, image_depth;
} SimDino;

static void
simdino_destroy (gpointer self)
{
  SimDino *sd = self;
  if (sd == NULL)
    return;
  m3ret_vit_free (sd->teacher.vit);
  m3ret_params_free (sd->teacher_params);
  g_free (sd);
}

/* head.mlp.{0,2,4}: the indices of the Linear layers in PyTorch's
 * Sequential(Linear, GELU, Linear, GELU, Linear); DINO's init (weights
 * N(0, 0.02), biases zero). */
static gboolean
add_head (M3retParams *params, Branch *br, gint in, gint hidden, gint out, M3retRng *rng,
          GError **error)
{
  const gint widths[4] = { in, hidden, hidden, out };
  for (gint i = 0; i < 3; i++) {
    g_autofree gchar *wn = g_strdup_printf ("head.mlp.%d.weight", 2 * i);
    g_autofree gchar *bn = g_strdup_printf ("head.mlp.%d.bias", 2 * i);
    gint64 ws[2] = { widths[i + 1], widths[i] }, bs[1] = { widths[i + 1] };
    if ((br->w[i] = m3ret_params_add (params, wn, 2, ws, TRUE, error)) == NULL
        || (br->b[i] = m3ret_params_add (params, bn, 1, bs, TRUE, error)) == NULL)
      return FALSE;
    m3ret_params_init_normal (br->w[i], rng, 0.02f);
  }
  return TRUE;
}

/* What create() refuses before it allocates: check() and create() both. */
static gboolean
check_keys (const M3retConfig *config, const SimDinoSettings *set, GError **error)
{
  guint n_global = (guint) set->global_crops;
  guint n_local = (guint) set->local_crops;
  if (n_global + n_local > SIMDINO_MAX_VIEWS || n_global + n_local < 2) {
    /* Blame the one the file wrote (local_crops when both or neither). */
    const gchar *key = m3ret_config_is_default (config, "local_crops")
                       && !m3ret_config_is_default (config, "global_crops") ? "global_crops"
                                                                            : "local_crops";
    m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, key,
                            "global_crops + local_crops is %u; it must be 2 to %d (the alignment "
                            "needs two views of a sample)", n_global + n_local, SIMDINO_MAX_VIEWS);
    return FALSE;
  }
  static const gchar *const scales[] = { "global_scale", "local_scale" };
  const gdouble *const values[] = { set->global_scale, set->local_scale };
  for (guint i = 0; i < G_N_ELEMENTS (scales); i++) {
    const gdouble *scale = values[i];
    if (scale[0] > scale[1]) {
      m3ret_config_key_error (config, error, M3RET_CONFIG_ERROR_OUT_OF_RANGE, scales[i],
                              "write it min,max (%g is larger than %g)", scale[0], scale[1]);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
simdino_check (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error)
{
  SimDinoSettings set;
  return m3ret_config_fill (config, simdino_keys, &set, error) && check_keys (config, &set, error);
}

static gpointer
simdino_create (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error)
{
  SimDinoSettings set;
  if (!m3ret_config_fill (config, simdino_keys, &set, error))
    return NULL;
  SimDino *sd = g_new0 (SimDino, 1);
  sd->student_params = setup->params;
  sd->dist = setup->dist;
  sd->student.vit = setup->encoder;
  sd->vit = *m3ret_vit_get_config (setup->encoder);
  sd->head_hidden = (gint) set.head_hidden;
  sd->head_out = (gint) set.head_out;
  sd->n_global = (guint) set.global_crops;
  sd->n_local = (guint) set.local_crops;
  memcpy (sd->global_scale, set.global_scale, sizeof sd->global_scale);
  memcpy (sd->local_scale, set.local_scale, sizeof sd->local_scale);
  sd->eps = set.eps;
  sd->coeff = set.coeff;
  sd->ema_start = set.ema_start;
  sd->beta1 = set.beta1;
  sd->beta2 = set.beta2;
  sd->weight_decay = set.weight_decay;
  sd->weight_decay_end = set.weight_decay_end;
  sd->total_steps = setup->total_steps;
  sd->size = setup->size;
  sd->depth = setup->depth;
  sd->image_depth = setup->image_depth;

  if (!check_keys (config, &set, error))
    goto fail;
  if (!add_head (setup->params, &sd->student, sd->vit.dim, sd->head_hidden, sd->head_out,
                 setup->init_rng, error))
    goto fail;

  /* The teacher is built like the student (its own draws are thrown away)
   * and then starts as an exact copy of it. */
  M3retRng scratch;
  m3ret_rng_init (&scratch, setup->seed, M3RET_RNG_STREAM_USER);
  sd->teacher_params = m3ret_params_new (m3ret_params_get_device (setup->params));
  sd->teacher.vit = m3ret_vit_new (sd->teacher_params, "", &sd->vit, &scratch, error);
  if (sd->teacher.vit == NULL
      || !add_head (sd->teacher_params, &sd->teacher, sd->vit.dim, sd->head_hidden, sd->head_out,
                    &scratch, error))
    goto fail;
  GError *local = NULL;
  if (!m3ret_params_copy (sd->teacher_params, setup->params, &local)) {
    g_propagate_prefixed_error (error, local,
                                "the teacher copies the encoder and head, nothing else: ");
    goto fail;
  }
  return sd;

fail:
  simdino_destroy (sd);
  return NULL;
}

static guint
simdino_views (gpointer self, M3retView *views, guint max_views)
{
  SimDino *sd = self;
  if (max_views < sd->n_global + sd->n_local)
    return 0;
  for (guint v = 0; v < sd->n_global + sd->n_local; v++) {
    const gdouble *scale = v < sd->n_global ? sd->global_scale : sd->local_scale;
    m3ret_view_init_train (&views[v], sd->size, sd->depth, sd->image_depth, scale[0], scale[1],
                           NULL);
  }
  return sd->n_global + sd->n_local;
}

/* The L2-normalised projection of the final CLS token: b×p. */
static M3retTensor *
branch_forward (M3retGraph *g, const Branch *br, M3retTensor *patches)
{
  M3retTensor *tokens = m3ret_vit_forward (g, br->vit, patches, NULL, 0);
  if (tokens == NULL)
    return NULL;
  gint64 shape[2] = { tokens->shape[0], tokens->shape[2] };
  M3retTensor *h = m3ret_op_reshape (g, m3ret_op_slice_tokens (g, tokens, 0, 1), 2, shape);
  h = m3ret_op_linear_gelu (g, h, br->w[0], br->b[0]);
  h = m3ret_op_linear_gelu (g, h, br->w[1], br->b[1]);
  h = m3ret_op_linear (g, h, br->w[2], br->b[2]);
  return m3ret_op_l2normalize (g, h, 1e-12f);
}

static gboolean
check_batch (const SimDino *sd, const M3retBatch *batch, GError **error)
{
  const M3retVitConfig *v = &sd->vit;
  if (batch->n_views != sd->n_global + sd->n_local || batch->n < 1) {
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "simdino: a batch needs %u views (%u global, %u local) and at least one "
                 "sample (got %u views of %u)", sd->n_global + sd->n_local, sd->n_global,
                 sd->n_local, batch->n_views, batch->n);
    return FALSE;
  }
  guint h = (guint) (v->grid[1] * v->tubelet[1]), w = (guint) (v->grid[2] * v->tubelet[2]);
  for (guint i = 0; i < batch->n_views; i++) {
    const M3retBatchView *bv = &batch->views[i];
    if (bv->channels != (guint) v->in_chans || bv->height != h || bv->width != w
        || bv->frames % (guint) v->tubelet[0] != 0
        || bv->frames > (guint) (v->grid[0] * v->tubelet[0])) {
      g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                   "simdino: view %u of %u×%u×%u×%u does not fit the encoder's %d×(≤%d)×%u×%u "
                   "grid", i, bv->channels, bv->frames, bv->height, bv->width, v->in_chans,
                   v->grid[0] * v->tubelet[0], h, w);
      return FALSE;
    }
  }
  return TRUE;
}

static M3retTensor *
simdino_loss (gpointer self, M3retGraph *g, const M3retBatch *batch, gint64 step,
              GError **error)
{
  SimDino *sd = self;
  if (!check_batch (sd, batch, error))
    return NULL;
  gint b = (gint) batch->n;
  M3retTensor *student[SIMDINO_MAX_VIEWS], *teacher[SIMDINO_MAX_VIEWS];
  gboolean grad = m3ret_graph_get_grad_enabled (g);
  for (guint v = 0; v < batch->n_views; v++) {
    const M3retBatchView *bv = &batch->views[v];
    M3retTensor *patches = m3ret_vit_patchify (g, sd->student.vit, bv->data, b,
                                               (gint) bv->frames);
    student[v] = branch_forward (g, &sd->student, patches);
    if (v < sd->n_global) {
      m3ret_graph_set_grad_enabled (g, FALSE);
      teacher[v] = branch_forward (g, &sd->teacher, patches);
      m3ret_graph_set_grad_enabled (g, grad);
    }
  }
  M3retTensor *align = simdino_alignment (g, teacher, sd->n_global, student, batch->n_views);
  M3retTensor *expand = m3ret_dist_get_size (sd->dist) > 1
    ? simdino_expansion_dist (g, sd->dist, teacher, student, sd->n_global, sd->eps)
    : simdino_expansion (g, teacher, student, sd->n_global, sd->eps);
  M3retTensor *loss = m3ret_op_sub (g, m3ret_op_scale (g, align, (gfloat) -sd->coeff), expand);
  if (loss == NULL && m3ret_graph_check (g, error))
    g_set_error (error, M3RET_DATA_ERROR, M3RET_DATA_ERROR_UNSUPPORTED,
                 "simdino: the loss of a batch of %d could not be computed", b);
  return loss;
}

static void
simdino_optimizer (gpointer self, M3retOptimizerSettings *s)
{
  SimDino *sd = self;
  s->beta1 = sd->beta1;
  s->beta2 = sd->beta2;
  s->eps = 1e-8;
  s->weight_decay = sd->weight_decay;
  s->weight_decay_end = sd->weight_decay_end;
}

static void
simdino_after_step (gpointer self, gint64 step)
{
  SimDino *sd = self;
  m3ret_params_ema (sd->teacher_params, sd->student_params,
                    simdino_momentum (step, sd->total_steps, sd->ema_start));
}

static M3retParams *
simdino_state (gpointer self, const gchar **prefix)
{
  SimDino *sd = self;
  *prefix = "teacher.";
  return sd->teacher_params;
}

static const M3retObjectiveVTable simdino_vtable = {
  .create = simdino_create,
  .destroy = simdino_destroy,
  .views = simdino_views,
  .loss = simdino_loss,
  .optimizer = simdino_optimizer,
  .after_step = simdino_after_step,
  .state = simdino_state,
  .check = simdino_check,
};

M3RET_PLUGIN_DEFINE (simdino, M3RET_PLUGIN_OBJECTIVE, PACKAGE_VERSION,
                     "SimDINO: EMA-teacher self-distillation with a coding-rate term",
                     "MIT", simdino_keys, NULL, &simdino_vtable)
