/* pipeline-keys.c — the keys the core itself declares, group by group.
 *
 * Plugin keys join a group when the group selects the plugin (`backend=`
 * in [pipeline], `plugin=` in [objective] and [retriever]) or names it
 * ([modality NAME]).
 */
#include "config.h"

#include <string.h>

#include "m3ret-pipeline.h"
#include "m3ret-settings.h"
#include "pipeline-private.h"

#define U M3RET_KEY_UNBOUNDED

static const M3retKeySpec pipeline_keys[] = {
  M3RET_KEY_PLUGIN_FIELD (M3retPipelineSettings, backend, "backend", "cpu", M3RET_PLUGIN_BACKEND, "compute backend plugin"),
  M3RET_KEY_INT_FIELD (M3retPipelineSettings, threads, "threads", "2", 1, 256, "compute threads (BLAS and the backend's own)"),
  M3RET_KEY_INT_FIELD (M3retPipelineSettings, seed, "seed", "0", 0, 4294967295.0, "seed of every random stream of the run"),
  M3RET_KEY_END
};

static const M3retKeySpec input_keys[] = {
  M3RET_KEY_INT_FIELD (M3retInputSettings, size, "size", "64", 8, 4096, "H = W of the canonical grid, in pixels"),
  M3RET_KEY_INT_FIELD (M3retInputSettings, depth, "depth", "16", 1, 1024, "T of the canonical grid for videos and volumes"),
  M3RET_KEY_INT_LIST_FIELD (M3retInputSettings, tubelet, "tubelet", "2,8,8", 3, 1, 64, "tubelet pt,ph,pw; must divide depth,size,size"),
  M3RET_KEY_END
};

static const M3retKeySpec encoder_keys[] = {
  M3RET_KEY_ENUM_FIELD (M3retEncoderSettings, preset, "preset", "tiny", "micro|tiny|small|base",
                       "ViT size; the width, blocks and heads of each are in docs/PIPELINE.md"),
  M3RET_KEY_ENUM_FIELD (M3retEncoderSettings, pool, "pool", "cls", "cls|mean|cls+mean|gem|grid", "retrieval embedding: the CLS token, the mean of the patch tokens, both concatenated, their generalised mean (p = 3), or pool_cells × pool_cells in-plane cell means concatenated"),
  M3RET_KEY_INT_FIELD (M3retEncoderSettings, pool_cells, "pool_cells", "2", 1, 16, "pool=grid: cells per side of the token grid; must divide size / tubelet"),
  M3RET_KEY_INT_FIELD (M3retEncoderSettings, readout_block, "readout_block", "0", 0, 64, "embed from the output of this block (1 = the first; 0 = the last); the final norm applies"),
  M3RET_KEY_INT_FIELD (M3retEncoderSettings, readout_mean, "readout_mean", "1", 1, 64, "embed from the mean of this many blocks' outputs, ending at readout_block"),
  M3RET_KEY_ENUM_FIELD (M3retEncoderSettings, tta, "tta", "none", "none|flip", "test-time averaging: none, or the mean of the embeddings of the view and of its left-right mirror"),
  M3RET_KEY_STRING_FIELD (M3retEncoderSettings, init, "init", "", "start from released ViT weights (.safetensors, timm/MAE/DINO layout); relative to this file"),
  M3RET_KEY_END
};

static const M3retKeySpec objective_keys[] = {
  M3RET_KEY_PLUGIN_FIELD (M3retObjectiveSettings, plugin, "plugin", "mae", M3RET_PLUGIN_OBJECTIVE, "self-supervised objective plugin"),
  M3RET_KEY_END
};

static const M3retKeySpec data_keys[] = {
  M3RET_KEY_STRING_FIELD (M3retDataSettings, train, "train", "", "training manifest CSV, relative to this file"),
  M3RET_KEY_WEIGHTS_FIELD (M3retDataSettings, weights, "weights", "", "sampling weight per modality, NAME:W,...; empty = equal"),
  M3RET_KEY_INT_FIELD (M3retDataSettings, loader_threads, "loader_threads", "2", 0, 64, "decoding threads; 0 decodes in the training loop"),
  M3RET_KEY_INT_FIELD (M3retDataSettings, loader_queue, "loader_queue", "4", 1, 256, "batches decoded ahead at most"),
  /* Input limits, checked before anything is allocated.  The defaults pass
   * real data with room: a 16384² frame is 4× a full-field mammogram, 1024³
   * voxels 2× a thin-slice whole-body CT (512²×2000), 2^20 frames 9.7 h of
   * 30 fps video, and 16 GiB holds 1024³ float64 voxels. */
  M3RET_KEY_INT_FIELD (M3retDataSettings, max_file_size, "max_file_size", "17179869184", 1, 1e15, "bytes of one input file at most"),
  M3RET_KEY_INT_FIELD (M3retDataSettings, max_pixels, "max_pixels", "268435456", 1, 1e15, "pixels of one 2-D image or video frame at most"),
  M3RET_KEY_INT_FIELD (M3retDataSettings, max_voxels, "max_voxels", "1073741824", 1, 1e15, "voxels of one volume at most"),
  M3RET_KEY_INT_FIELD (M3retDataSettings, max_frames, "max_frames", "1048576", 1, 1e12, "frames of one video clip at most"),
  M3RET_KEY_ENUM_FIELD (M3retDataSettings, on_error, "on_error", "fail", "fail|skip",
                       "a bad manifest entry (missing, unreadable, over a limit): fail stops "
                       "train/embed/eval; skip leaves it out and reports it at the end"),
  M3RET_KEY_END
};

static const M3retKeySpec train_keys[] = {
  M3RET_KEY_INT_FIELD (M3retTrainSettings, batch, "batch", "32", 1, 65536, "samples per step"),
  M3RET_KEY_INT_FIELD (M3retTrainSettings, steps, "steps", "2000", 1, 1e9, "optimiser steps"),
  M3RET_KEY_DOUBLE_FIELD (M3retTrainSettings, lr, "lr", "1.5e-4", 0, 10, "base learning rate; actual = lr*batch/256"),
  M3RET_KEY_DOUBLE_FIELD (M3retTrainSettings, min_lr, "min_lr", "0", 0, 10, "learning rate at the end of the cosine"),
  M3RET_KEY_INT_FIELD (M3retTrainSettings, warmup, "warmup", "200", 0, 1e9, "linear warm-up steps; at most steps"),
  M3RET_KEY_DOUBLE_FIELD (M3retTrainSettings, clip_grad, "clip_grad", "0", 0, 1e6, "clip the global gradient norm to this; 0 = off"),
  M3RET_KEY_INT_FIELD (M3retTrainSettings, checkpoint_every, "checkpoint_every", "500", 0, 1e9, "steps between checkpoints; 0 = only at the end"),
  M3RET_KEY_INT_FIELD (M3retTrainSettings, allreduce_bucket_kb, "allreduce_bucket_kb", "1024", 0, 1048576,
                       "with several ranks, gradients are averaged in buckets of this many KiB, each sent while the backward goes on; 0 = one all-reduce after the backward"),
  M3RET_KEY_END
};

static const M3retKeySpec retriever_keys[] = {
  M3RET_KEY_PLUGIN_FIELD (M3retRetrieverSettings, plugin, "plugin", "flat", M3RET_PLUGIN_RETRIEVER, "nearest-neighbour index plugin"),
  M3RET_KEY_ENUM_FIELD (M3retRetrieverSettings, whiten, "whiten", "none", "none|center|pca", "post-processing learned from the database: subtract its mean, or PCA-whiten"),
  M3RET_KEY_INT_FIELD (M3retRetrieverSettings, whiten_dim, "whiten_dim", "0", 0, 65536, "components whiten=pca keeps; 0 = min(width, database rows - 1)"),
  M3RET_KEY_END
};

#undef U

static const CoreGroup core_groups[] = {
#define AT(member) G_STRUCT_OFFSET (M3retSettings, member)
  { "pipeline", pipeline_keys, "backend", M3RET_PLUGIN_BACKEND, AT (pipeline) },
  { "input", input_keys, NULL, 0, AT (input) },
  { "encoder", encoder_keys, NULL, 0, AT (encoder) },
  { "objective", objective_keys, "plugin", M3RET_PLUGIN_OBJECTIVE, AT (objective) },
  { "data", data_keys, NULL, 0, AT (data) },
  { "train", train_keys, NULL, 0, AT (train) },
  { "retriever", retriever_keys, "plugin", M3RET_PLUGIN_RETRIEVER, AT (retriever) },
#undef AT
  { NULL, NULL, NULL, 0, 0 }
};

static const gchar *const core_group_names[] = {
  "pipeline", "input", "encoder", "objective", "data", "train", "retriever", NULL
};

const CoreGroup *
m3ret_pipeline_core_group (const gchar *name)
{
  for (const CoreGroup *g = core_groups; g->name; g++)
    if (strcmp (g->name, name) == 0)
      return g;
  return NULL;
}

const gchar *const *
m3ret_pipeline_core_groups (void)
{
  return core_group_names;
}

const M3retKeySpec *
m3ret_pipeline_core_keys (const gchar *group)
{
  const CoreGroup *g = m3ret_pipeline_core_group (group);
  return g ? g->keys : NULL;
}
