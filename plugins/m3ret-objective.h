/* m3ret-objective.h — the table a self-supervised objective plugin fills.
 *
 * The training command owns the loop; an objective owns everything
 * specific to it: the views each sample is rendered to, its own
 * parameters (MAE's decoder, SimDINO's head and teacher), the loss of a
 * batch, the optimiser settings it was designed with, and what happens
 * after each optimiser step (SimDINO's EMA).  The core never names an
 * objective.
 *
 * Randomness: an objective draws from streams derived from the run's seed
 * and the step number (e.g. m3ret_rng_init (&rng, seed ^ step·K,
 * M3RET_RNG_STREAM_MASK)), so a resumed run repeats exactly without
 * saving generator states.
 */
#ifndef M3RET_OBJECTIVE_H
#define M3RET_OBJECTIVE_H

#include <glib.h>

#include "m3ret-config.h"
#include "m3ret-sample.h"

G_BEGIN_DECLS

typedef struct _M3retObjectiveVTable M3retObjectiveVTable;

/* Core types an objective works with; include m3ret.h for their API. */
typedef struct _M3retGraph M3retGraph;
typedef struct _M3retTensor M3retTensor;
typedef struct _M3retParams M3retParams;
typedef struct _M3retVit M3retVit;
typedef struct _M3retVitConfig M3retVitConfig;
typedef struct _M3retRng M3retRng;
typedef struct _M3retBatch M3retBatch;
typedef struct _M3retDist M3retDist;

/**
 * M3retObjectiveSetup:
 * What the training command hands an objective at creation.
 * @params: (transfer none) the trained collection: it already holds the
 *   encoder (names without prefix); the objective adds its own trainable
 *   tensors here (e.g. "decoder_embed.weight", "head.mlp.0.weight") so one
 *   optimiser and one checkpoint cover them
 * @encoder: (transfer none) the encoder in @params
 * @init_rng: (transfer none) the stream to initialise new parameters from
 * @seed: the run's `[pipeline] seed`
 * @total_steps: `[train] steps` (schedules end there)
 * @size, @depth, @image_depth: the pipeline grid: H = W, frames of videos
 *   and volumes, frames of stills (the tubelet depth)
 * @encoder_config: (since ABI minor 4) the encoder's configuration, also
 *   given to check(), which has no @encoder
 * @dist: (since ABI minor 7; transfer none) the ranks of a data-parallel
 *   run (m3ret-dist.h): the batch loss() gets is this rank's share of the
 *   global batch, and the trainer averages the ranks' gradients.  NULL or
 *   one rank: a single process.  NULL in check().
 */
typedef struct {
  M3retParams *params;
  M3retVit *encoder;
  M3retRng *init_rng;
  guint64 seed;
  gint64 total_steps;
  guint size;
  guint depth;
  guint image_depth;
  const M3retVitConfig *encoder_config;
  const M3retDist *dist;
  /*< private >*/
  gpointer _m3ret_reserved[2];
} M3retObjectiveSetup;

/**
 * M3retOptimizerSettings:
 * AdamW as the objective's authors trained it; weight decay follows a
 * cosine from @weight_decay to @weight_decay_end over the run (equal
 * values: constant).
 */
typedef struct {
  gdouble beta1;
  gdouble beta2;
  gdouble eps;
  gdouble weight_decay;
  gdouble weight_decay_end;
} M3retOptimizerSettings;

struct _M3retObjectiveVTable {
  /* mandatory: (transfer full) an instance configured by the [objective]
   * group; adds its parameters to @setup->params */
  gpointer (*create) (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error);
  /* mandatory: frees an instance (not the tensors it added to the shared
   * collection); accepts NULL */
  void (*destroy) (gpointer self);
  /* mandatory: the views every training sample is rendered to, written to
   * @views (at most @max_views; each initialised with m3ret_view_init_train
   * or m3ret_view_init_eval, rand NULL: the loader gives each sample its
   * own stream).  Returns how many. */
  guint (*views) (gpointer self, M3retView *views, guint max_views);
  /* mandatory: the single-element loss of @batch (its views in the order
   * views() gave) at optimiser step @step (0-based), computed on @graph.
   * NULL with @error when the batch cannot be used (wrong view count). */
  M3retTensor *(*loss) (gpointer self, M3retGraph *graph, const M3retBatch *batch, gint64 step,
                        GError **error);
  /* mandatory: fills @settings */
  void (*optimizer) (gpointer self, M3retOptimizerSettings *settings);
  /* optional: after the optimiser step @step (0-based) — SimDINO's EMA */
  void (*after_step) (gpointer self, gint64 step);
  /* optional: (transfer none) state that is not trained but must survive a
   * resume (SimDINO's teacher); checkpoints store it with every name
   * prefixed by *@prefix (e.g. "teacher.") */
  M3retParams *(*state) (gpointer self, const gchar **prefix);
  /* optional, since ABI minor 4: the checks create() makes of @config that
   * need no tensors (relations between keys, what the grid allows), so that
   * `m3ret validate` runs them and `m3ret train` refuses before it builds
   * the model.  @setup is as for create() but for @params, @encoder and
   * @init_rng, which are NULL.  FALSE with @error from
   * m3ret_config_key_error() naming the key to change.  create() should
   * make the same checks (call the same function). */
  gboolean (*check) (const M3retConfig *config, const M3retObjectiveSetup *setup, GError **error);
  /*< private >*/
  gpointer _m3ret_reserved[7];
};

G_END_DECLS

#endif /* M3RET_OBJECTIVE_H */
