/* m3ret-trainer.h — the self-supervised training loop of `m3ret train`.
 *
 * The trainer wires a validated pipeline together: the encoder context
 * (m3ret-encoder-context.h: device, encoder, modalities), the objective
 * plugin drawing its tensors from the same init stream, AdamW with
 * warm-up + cosine learning rate and the objective's weight-decay
 * schedule, gradient clipping, the weighted multi-modality loader,
 * checkpoints and the step log.  It knows
 * no objective, modality or backend by name.
 *
 * Files in the output folder:
 *   checkpoint.safetensors   latest state (m3ret-checkpoint.h), replaced atomically
 *   train-log.csv            step,loss,lr,weight_decay,grad_norm,images_per_s,elapsed_s;
 *                            one row per step, numbered 1.. as the checkpoint's step
 *   loss.png                 the loss curve, drawn at the end of a run
 */
#ifndef M3RET_TRAINER_H
#define M3RET_TRAINER_H

#include <glib.h>

#include "m3ret-dist.h"
#include "m3ret-manifest.h"
#include "m3ret-pipeline.h"
#include "m3ret-registry.h"
#include "m3ret-skips.h"

G_BEGIN_DECLS

#define M3RET_TRAIN_ERROR (m3ret_train_error_quark ())
GQuark m3ret_train_error_quark (void);

typedef enum {
  M3RET_TRAIN_ERROR_CONFIG,    /* the pipeline cannot be trained as written */
  M3RET_TRAIN_ERROR_RESUME,    /* the checkpoint does not fit the pipeline */
  M3RET_TRAIN_ERROR_DIVERGED   /* the loss became NaN or infinite */
} M3retTrainError;

typedef struct {
  const gchar *out_dir;   /* created if missing */
  gint64 steps;           /* total steps; <= 0: [train] steps */
  const gchar *resume;    /* a checkpoint to continue from, or NULL */
  gint64 stop_at;         /* > 0: stop (and checkpoint) after this step, as if interrupted */
  gboolean progress;      /* one updating line (a terminal) instead of log lines */
  gboolean quiet;         /* no progress output at all */
  /* the ranks of a data-parallel run (NULL: one process); rank 0 alone
   * writes the outputs and reports, every rank steps the same model */
  const M3retDist *dist;
} M3retTrainOptions;

typedef struct _M3retTrainer M3retTrainer;

/* Builds everything, and restores @options->resume when given.
 * Returns: (transfer full) or NULL with @error naming the file and reason.
 * @registry and @pipeline must outlive the trainer. */
M3retTrainer *m3ret_trainer_new (M3retRegistry *registry, const M3retPipeline *pipeline,
                                 const M3retTrainOptions *options, GError **error);
void m3ret_trainer_free (M3retTrainer *trainer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retTrainer, m3ret_trainer_free)

/* Trains until the total step count, or until *@stop becomes non-zero (then
 * after finishing the current step).  Writes a checkpoint every
 * [train] checkpoint_every steps and at the end (also when stopped), then
 * the loss curve. */
gboolean m3ret_trainer_run (M3retTrainer *trainer, const volatile gint *stop, GError **error);

/* This process's rank in a data-parallel run (0 for one process): rank 0
 * alone writes the outputs. */
gint m3ret_trainer_get_rank (const M3retTrainer *trainer);

/* Optimiser steps done so far, and the total. */
gint64 m3ret_trainer_get_step (const M3retTrainer *trainer);
gint64 m3ret_trainer_get_total (const M3retTrainer *trainer);
/* The total steps of the run a resumed checkpoint came from (its schedules
 * ended there); 0 without --resume or when the checkpoint does not say. */
gint64 m3ret_trainer_get_resumed_total (const M3retTrainer *trainer);
/* (transfer none) path of the checkpoint the trainer writes */
const gchar *m3ret_trainer_get_checkpoint_path (const M3retTrainer *trainer);
/* (transfer none) the files [data] on_error=skip left out so far; NULL
 * when on_error=fail. */
M3retSkips *m3ret_trainer_get_skips (const M3retTrainer *trainer);
/* (transfer none) the training manifest, resolved: its notices (rows listed
 * twice, probes between close scores) are for the user to hear. */
const M3retManifest *m3ret_trainer_get_manifest (const M3retTrainer *trainer);

G_END_DECLS

#endif /* M3RET_TRAINER_H */
