/* m3ret-checkpoint.h — training checkpoints as .safetensors files.
 *
 * One file holds everything a resume needs, so it is replaced atomically
 * as a whole:
 * - the trained tensors under their PyTorch state-dict names
 *   (`patch_embed.proj.weight`, `blocks.0.attn.qkv.weight`, MAE's
 *   `decoder_*`, SimDINO's `head.*`), buffers included (`pos_embed`);
 * - an objective's extra state under its prefix (`teacher.*`);
 * - AdamW's moments as `optim.m.NAME` and `optim.v.NAME`;
 * - `__metadata__`: format=pt, m3ret.version, m3ret.step (optimiser steps
 *   done), m3ret.total_steps (of the run), m3ret.adamw_step,
 *   m3ret.objective, m3ret.preset and m3ret.pipeline (the pipeline file's text).
 * Random streams are functions of (seed, step) and the loader's batches of
 * (seed, batch number), so the step is the whole sampler and RNG state.
 * A PyTorch user loads the encoder with
 * `{k: v for k, v in load_file(p).items() if not k.startswith(("optim.", "teacher."))}`.
 */
#ifndef M3RET_CHECKPOINT_H
#define M3RET_CHECKPOINT_H

#include <glib.h>

#include "m3ret-optim.h"
#include "m3ret-params.h"
#include "m3ret-safetensors.h"

G_BEGIN_DECLS

#define M3RET_CHECKPOINT_META_STEP "m3ret.step"
#define M3RET_CHECKPOINT_META_PIPELINE "m3ret.pipeline"
#define M3RET_CHECKPOINT_META_OBJECTIVE "m3ret.objective"
#define M3RET_CHECKPOINT_META_PRESET "m3ret.preset"
/* The steps of the whole run that wrote it (its schedules end there). */
#define M3RET_CHECKPOINT_META_TOTAL_STEPS "m3ret.total_steps"

typedef struct {
  M3retParams *model;        /* trained tensors (required) */
  M3retParams *state;        /* objective state, or NULL */
  const gchar *state_prefix; /* e.g. "teacher." */
  M3retAdamW *optimizer;     /* or NULL (exported weights only) */
  gint64 step;
  gint64 total_steps;        /* of the run; 0: not recorded */
  const gchar *pipeline_text;
  const gchar *objective;
  const gchar *preset;
} M3retCheckpointContents;

/* Writes @contents to @path atomically. */
gboolean m3ret_checkpoint_save (const gchar *path, const M3retCheckpointContents *contents,
                                GError **error);

/* Copies every tensor of @params from @file (names prefixed by @prefix in
 * the file).  A missing tensor or a shape that differs is an error naming
 * the file and the tensor. */
gboolean m3ret_checkpoint_load_params (const M3retSafetensors *file, const gchar *path,
                                       M3retParams *params, const gchar *prefix, GError **error);

/* Restores AdamW's moments and step count from @file. */
gboolean m3ret_checkpoint_load_optimizer (const M3retSafetensors *file, const gchar *path,
                                          M3retParams *params, M3retAdamW *optimizer,
                                          GError **error);

/* The optimiser steps done, from the metadata; FALSE with @error if absent. */
gboolean m3ret_checkpoint_get_step (const M3retSafetensors *file, const gchar *path, gint64 *step,
                                    GError **error);

G_END_DECLS

#endif /* M3RET_CHECKPOINT_H */
