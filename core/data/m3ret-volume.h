/* m3ret-volume.h — a decoded image, video clip or volume before resampling.
 *
 * Plugins decode a file into an M3retVolume at its own resolution, map its
 * intensities to [0,1] with the helpers here, and hand it to m3ret_render()
 * (m3ret-render.h).  Nothing here knows a modality: a CT window is just
 * m3ret_volume_window(), an MRI percentile range m3ret_volume_percentiles().
 */
#ifndef M3RET_VOLUME_H
#define M3RET_VOLUME_H

#include <glib.h>

G_BEGIN_DECLS

typedef struct _M3retVolume M3retVolume;

/**
 * M3retVolume:
 * @channels: 1 (grey) or 3 (RGB)
 * @depth, @height, @width: slices (or frames), rows, columns
 * @spacing: size of a voxel along width, height, depth (mm, or any unit
 *   shared by the three; 1 when unknown)
 * @data: (owned) channels·depth·height·width floats, [c][z][y][x]
 */
struct _M3retVolume {
  guint channels;
  guint depth;
  guint height;
  guint width;
  gdouble spacing[3];
  gfloat *data;
};

/* Returns: (transfer full) a volume with spacing 1 and uninitialised data,
 * or NULL when the allocation fails (sizes are checked by the caller). */
M3retVolume *m3ret_volume_try_new (guint channels, guint depth, guint height, guint width);
void m3ret_volume_free (M3retVolume *volume);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retVolume, m3ret_volume_free)

static inline gsize
m3ret_volume_n_values (const M3retVolume *v)
{
  return (gsize) v->channels * v->depth * v->height * v->width;
}

/* Number of NaN or infinite values. */
gsize m3ret_volume_count_nonfinite (const M3retVolume *volume);

/* Percentile @p (0…100) of @n values, linear between order statistics as
 * numpy's default; @values is reordered.  Returns 0 when @n is 0. */
gdouble m3ret_percentile_inplace (gfloat *values, gsize n, gdouble p);

/* Percentiles @p_low and @p_high of every value of @volume, on a copy; above
 * @max_values values a regular subsample of that many is used. */
void m3ret_volume_percentiles (const M3retVolume *volume, gdouble p_low, gdouble p_high,
                               gsize max_values, gdouble *low, gdouble *high);

typedef struct {
  gdouble min, max, mean;
  gdouble p_low, p_median, p_high; /* percentiles 0.5, 50, 99.5 */
} M3retVolumeStats;

void m3ret_volume_stats (const M3retVolume *volume, M3retVolumeStats *stats);

/* v ← clamp((v − @low) / (@high − @low), 0, 1); @high must exceed @low (when
 * it does not, every value becomes 0). */
void m3ret_volume_window (M3retVolume *volume, gdouble low, gdouble high);

G_END_DECLS

#endif /* M3RET_VOLUME_H */
