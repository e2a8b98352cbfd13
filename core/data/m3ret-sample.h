/* m3ret-sample.h — one sample on the canonical grid, and how to ask for it.
 *
 * Every modality plugin returns samples of C×T×H×W float32 values, C = 3
 * (grey replicated, RGB kept), laid out [c][t][h][w].  What is asked for is
 * an M3retView: the grid (size, depth) and whether the sample is the
 * deterministic evaluation view or a random training view drawn from a
 * given random stream.
 */
#ifndef M3RET_SAMPLE_H
#define M3RET_SAMPLE_H

#include <glib.h>

G_BEGIN_DECLS

#define M3RET_DATA_ERROR (m3ret_data_error_quark ())
GQuark m3ret_data_error_quark (void);

typedef enum {
  M3RET_DATA_ERROR_IO,           /* missing or unreadable file */
  M3RET_DATA_ERROR_CORRUPT,      /* truncated or malformed content */
  M3RET_DATA_ERROR_UNSUPPORTED,  /* valid but not handled (datatype, codec, layout) */
  M3RET_DATA_ERROR_TOO_LARGE,    /* over the configured pixel/voxel limit */
  M3RET_DATA_ERROR_BAD_VALUES,   /* NaN or Inf samples, empty video */
  M3RET_DATA_ERROR_MANIFEST,     /* malformed manifest line */
  M3RET_DATA_ERROR_NO_PLUGIN     /* no modality plugin claims a file */
} M3retDataError;

/* The token layout of a sample: how many frames it has on the grid. */
typedef enum {
  M3RET_LAYOUT_IMAGE = 0,  /* a 2D still: T = the tubelet depth, one frame repeated */
  M3RET_LAYOUT_SEQUENCE    /* a video or volume: T = the grid depth */
} M3retLayout;

const gchar *m3ret_layout_to_string (M3retLayout layout);

typedef enum {
  M3RET_VIEW_EVAL = 0,  /* whole field of view, uniform frames: deterministic */
  M3RET_VIEW_TRAIN      /* random resized crop, flips, jitter, random clip */
} M3retViewMode;

typedef struct _M3retView M3retView;

/**
 * M3retView:
 * @mode: evaluation or training view
 * @size: H = W of the output grid
 * @depth: T of videos and volumes
 * @image_depth: T of still images (the tubelet depth: the frame is repeated)
 * @scale_min, @scale_max: training view: the fraction of the field of view's
 *   area (2D) or volume (3D) a random crop keeps, drawn uniformly between them
 * @rand: training view: (transfer none) the random stream every random choice
 *   of this view is drawn from, in a fixed order; NULL for evaluation views
 */
struct _M3retView {
  M3retViewMode mode;
  guint size;
  guint depth;
  guint image_depth;
  gdouble scale_min;
  gdouble scale_max;
  GRand *rand;
  /*< private >*/
  gpointer _m3ret_reserved[4];
};

/* An evaluation view of the grid @size × @depth, stills repeated @image_depth times. */
void m3ret_view_init_eval (M3retView *view, guint size, guint depth, guint image_depth);
/* A training view; @rand (transfer none) must outlive the read. */
void m3ret_view_init_train (M3retView *view, guint size, guint depth, guint image_depth,
                            gdouble scale_min, gdouble scale_max, GRand *rand);

typedef struct _M3retSample M3retSample;

/**
 * M3retSample:
 * @channels, @frames, @height, @width: C, T, H, W
 * @data: (owned) C·T·H·W floats, [c][t][h][w]
 */
struct _M3retSample {
  guint channels;
  guint frames;
  guint height;
  guint width;
  gfloat *data;
};

/* Returns: (transfer full) a zero-filled sample. */
M3retSample *m3ret_sample_new (guint channels, guint frames, guint height, guint width);
void m3ret_sample_free (M3retSample *sample);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retSample, m3ret_sample_free)

static inline gsize
m3ret_sample_n_values (const M3retSample *sample)
{
  return (gsize) sample->channels * sample->frames * sample->height * sample->width;
}

/* A batch of samples of one layout, as the loader delivers it and an
 * objective's loss reads it: each sample rendered to the objective's views,
 * at most M3RET_LOADER_MAX_VIEWS of them. */
#define M3RET_LOADER_MAX_VIEWS 16

typedef struct {
  guint channels, frames, height, width; /* of one sample */
  gfloat *data;                          /* n × C×T×H×W, sample-major */
} M3retBatchView;

typedef struct _M3retBatch {
  guint64 number;       /* 0, 1, 2, ... in delivery order */
  guint n;              /* samples */
  M3retLayout layout;
  guint n_views;
  M3retBatchView *views;
  guint *entries;       /* manifest index of each sample */
} M3retBatch;

void m3ret_batch_free (M3retBatch *batch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retBatch, m3ret_batch_free)

G_END_DECLS

#endif /* M3RET_SAMPLE_H */
