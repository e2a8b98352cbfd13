/* m3ret-render.h — from a decoded volume to a sample: the one resampler and
 * the SSL augmentations every modality shares.
 *
 * Coordinates: voxel i of an axis covers [i, i+1) of that axis, so a box
 * [0, n) is the whole axis.  The resampler is separable and linear: a tent
 * filter one voxel wide when enlarging (plain bi/trilinear interpolation)
 * and as wide as the reduction when shrinking (so no aliasing).  Output
 * voxels whose centre falls outside the source take a fill value; taps past
 * the edge repeat the edge voxel.
 */
#ifndef M3RET_RENDER_H
#define M3RET_RENDER_H

#include <glib.h>

#include "m3ret-sample.h"
#include "m3ret-volume.h"

G_BEGIN_DECLS

/* A region of a volume in voxel coordinates: x along width, y along height,
 * z along depth; [x0, x1) and so on, possibly reaching outside. */
typedef struct {
  gdouble x0, x1, y0, y1, z0, z1;
} M3retBox;

/* Resamples @box of @src onto @dst's grid (same channel count, any T×H×W),
 * writing @fill where an output voxel's centre lies outside @src. */
void m3ret_resample (const M3retVolume *src, const M3retBox *box, gfloat fill, M3retSample *dst);

typedef enum {
  M3RET_FLIP_X = 1 << 0,  /* left-right */
  M3RET_FLIP_Y = 1 << 1,  /* up-down */
  M3RET_FLIP_Z = 1 << 2   /* along slices (volumes only) */
} M3retFlips;

/* Parses "none", "x", "xy", "xyz" (any subset of the letters). */
gboolean m3ret_flips_from_string (const gchar *text, M3retFlips *flips);

typedef struct {
  gboolean volumetric;  /* TRUE: depth is a spatial axis cropped with the
                           rest (CT, MRI); FALSE: depth holds frames already
                           chosen (video) or the one frame of a still */
  M3retFlips flips;     /* training views: each flipped with probability 1/2 */
  gdouble jitter;       /* training views: contrast × U(1−j, 1+j), brightness + U(−j/2, j/2) */
  gdouble mean[3];      /* per-channel normalisation after the [0,1] step */
  gdouble std[3];
} M3retRenderOptions;

/* The box @view looks at: evaluation → the whole field of view, squared
 * around the centre in physical units (spacing respected; the short side
 * padded); training → a random resized crop of that square keeping
 * U(scale_min, scale_max) of its area (volume when @volumetric), aspect
 * log-uniform in [3/4, 4/3].  Draws from @view->rand in a fixed order. */
void m3ret_plan_box (const M3retVolume *src, const M3retView *view, gboolean volumetric,
                     M3retBox *box);

/* Renders @view of @src (intensities in [0,1]) to a 3-channel sample:
 * box (m3ret_plan_box), resample, flips, jitter, clamp to [0,1], then
 * (v − mean)/std per channel; grey is replicated to 3 channels.  T is
 * @view->depth for sequences and volumes, @view->image_depth for stills
 * (@layout).  Returns: (transfer full). */
M3retSample *m3ret_render (const M3retVolume *src, const M3retView *view, M3retLayout layout,
                           const M3retRenderOptions *options);
/* m3ret_render of a sequence (@options not volumetric) whose frame t is
 * frame @frames[t] of @clip, without copying those frames out first: the
 * resampler reads only the part of each that the view's box needs.  The
 * same result, to the bit, as rendering a volume made of those frames. */
M3retSample *m3ret_render_frames (const M3retVolume *clip, const guint *frames, guint n_frames,
                                  const M3retView *view, const M3retRenderOptions *options);

/* Frame numbers for a video of @n_frames (> 0) sampled to @n_out frames:
 * evaluation views take the centres of @n_out equal parts; training views a
 * random clip of @n_out frames @stride apart (closer when the video is too
 * short).  @index receives @n_out ascending numbers. */
void m3ret_select_frames (guint64 n_frames, guint n_out, guint stride, const M3retView *view,
                          guint64 *index);

G_END_DECLS

#endif /* M3RET_RENDER_H */
