/* m3ret-settings.h — a pipeline's core groups as typed values.
 *
 * The pipeline fills these once, when it loads, from the declarations in
 * pipeline-keys.c (each key names its member here).  Code that runs a
 * pipeline reads these members; no code outside the config module reads a
 * key by its name.  Enums follow the order of the key's choices; the
 * encoder's are the ViT's own (m3ret-vit.h), which knows nothing of
 * pipelines.  m3ret_pipeline_get_settings() is in m3ret-pipeline.h.
 */
#ifndef M3RET_SETTINGS_H
#define M3RET_SETTINGS_H

#include <glib.h>

#include "m3ret-keys.h"
#include "m3ret-vit.h" /* M3retPreset, M3retPool */

G_BEGIN_DECLS

/* [data] on_error= */
typedef enum {
  M3RET_ON_ERROR_FAIL, /* a bad manifest entry stops the run */
  M3RET_ON_ERROR_SKIP  /* it is left out and reported at the end */
} M3retOnError;

typedef struct {
  const gchar *backend;   /* plugin name */
  gint64 threads;
  gint64 seed;
} M3retPipelineSettings;

typedef struct {
  gint64 size;            /* H = W */
  gint64 depth;           /* T of videos and volumes */
  gint64 tubelet[3];      /* pt, ph, pw */
} M3retInputSettings;

/* [encoder] tta: test-time averaging of the embedding over views. */
typedef enum {
  M3RET_TTA_NONE, /* the view as loaded */
  M3RET_TTA_FLIP  /* the mean of the view's row and its left-right mirror's */
} M3retTta;

typedef struct {
  M3retPreset preset;
  M3retPool pool;
  gint64 pool_cells;      /* pool=grid: cells per side */
  gint64 readout_block;   /* the last block read, 1-based; 0 = the last of the preset */
  gint64 readout_mean;    /* blocks averaged, ending at readout_block */
  M3retTta tta;
  const gchar *init;      /* as written, "" for none; resolve against the pipeline */
} M3retEncoderSettings;

typedef struct {
  const gchar *plugin;
} M3retObjectiveSettings;

/* Tagged so that m3ret-limits.h, an SDK header, can name it. */
typedef struct _M3retDataSettings {
  const gchar *train;     /* as written, "" for none; resolve against the pipeline */
  M3retKeyWeights weights;
  gint64 loader_threads;
  gint64 loader_queue;
  gint64 max_file_size;
  gint64 max_pixels;
  gint64 max_voxels;
  gint64 max_frames;
  M3retOnError on_error;
} M3retDataSettings;

typedef struct {
  gint64 batch;
  gint64 steps;
  gdouble lr;
  gdouble min_lr;
  gint64 warmup;
  gdouble clip_grad;
  gint64 checkpoint_every;
  gint64 allreduce_bucket_kb;
} M3retTrainSettings;

typedef struct {
  const gchar *plugin;
  gint whiten;       /* none|center|pca: M3retTransformKind's order (m3ret-transform.h) */
  gint64 whiten_dim; /* components pca keeps; 0 = as many as the database supports */
} M3retRetrieverSettings;

typedef struct {
  M3retPipelineSettings pipeline;
  M3retInputSettings input;
  M3retEncoderSettings encoder;
  M3retObjectiveSettings objective;
  M3retDataSettings data;
  M3retTrainSettings train;
  M3retRetrieverSettings retriever;
} M3retSettings;

G_END_DECLS

#endif /* M3RET_SETTINGS_H */
