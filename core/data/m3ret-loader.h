/* m3ret-loader.h — batches of samples, decoded ahead on worker threads.
 *
 * Two modes:
 * - TRAIN: an endless stream.  Batch b draws its token layout, then each of
 *   its samples' modality (by the per-modality weights) and file (uniformly
 *   within that modality and layout) from a random stream seeded by
 *   (seed, b); sample j of batch b renders its views with a random stream
 *   seeded by (seed, b, j).  So the batches depend on the seed only, never
 *   on the number of threads or their timing.
 * - SEQUENTIAL: every manifest entry once, in order, with evaluation views;
 *   a batch is a run of consecutive entries of one layout (so a batch may be
 *   shorter than batch_size where the layout changes), for embedding.
 * Workers fill the batches in order; at most queue_batches batches are
 * decoded or waiting at once (the bounded queue).  threads = 0 decodes in
 * the caller of m3ret_loader_next().
 */
#ifndef M3RET_LOADER_H
#define M3RET_LOADER_H

#include <glib.h>

#include "m3ret-manifest.h"
#include "m3ret-modalities.h"
#include "m3ret-pipeline.h"
#include "m3ret-sample.h"
#include "m3ret-settings.h"
#include "m3ret-skips.h"

G_BEGIN_DECLS

typedef enum {
  M3RET_LOADER_TRAIN = 0,
  M3RET_LOADER_SEQUENTIAL
} M3retLoaderMode;

typedef struct {
  M3retLoaderMode mode;
  guint batch_size;
  guint threads;
  guint queue_batches;
  /* TRAIN: the number of the first batch delivered (a resumed run starts
   * where it stopped; batch b is the same whatever came before) */
  guint64 first_batch;
  /* TRAIN, data-parallel: deliver only samples shard_first …
   * shard_first + shard_count − 1 of each batch of batch_size, drawn and
   * rendered exactly as the whole batch would be (a rank's share of the
   * global batch); shard_count 0: the whole batch */
  guint shard_first;
  guint shard_count;
  /* SEQUENTIAL: only entries first_entry … end_entry − 1 (end_entry 0:
   * to the end), batched as a pass over the whole manifest batches them
   * when first_entry starts one of its batches (a rank's share) */
  guint first_entry;
  guint end_entry;
  guint64 seed;
  /* TRAIN: sampling weight per modality name (any case); n_weights = 0
   * weighs every modality of the manifest equally, otherwise unlisted
   * modalities get 0 */
  const gchar *const *weight_names;
  const gdouble *weights;
  guint n_weights;
  /* the views every sample is rendered to (rand is ignored: the loader
   * gives each sample its own stream); SEQUENTIAL forces evaluation views */
  guint n_views;
  M3retView views[M3RET_LOADER_MAX_VIEWS];
  /* ([data] on_error=skip) where bad entries are recorded instead of
   * failing; NULL: the first bad entry fails.  SEQUENTIAL leaves a bad entry
   * out of its batch; TRAIN draws another file of the same modality and
   * layout in its place, from a stream of (seed, batch, slot), so the
   * batches still depend on the seed only. */
  M3retSkips *skips;
} M3retLoaderOptions;

/* Defaults: TRAIN, batch 32, 2 threads, 4 batches ahead, seed 0, equal
 * weights, one evaluation view of 64 × 16 frames, stills 2 frames. */
void m3ret_loader_options_init (M3retLoaderOptions *options);

/* Fills batch_size ([train] batch), seed ([pipeline] seed), weights, threads
 * and queue_batches ([data] weights, loader_threads, loader_queue) and one
 * view of [input] size, depth and the tubelet's depth: a training view of
 * scale 0.4-1 for TRAIN, an evaluation view otherwise.  The weights point
 * into the pipeline of @settings, which must outlive the options. */
void m3ret_loader_options_init_settings (M3retLoaderOptions *options,
                                         const M3retSettings *settings, M3retLoaderMode mode);

/* M3retBatch, what the loader delivers, is in m3ret-sample.h: objectives
 * read it. */

typedef struct _M3retLoader M3retLoader;

/* Returns: (transfer full) a started loader over @manifest (resolved here if
 * it is not yet; with skips, entries that do not resolve are dropped from
 * it), or NULL with @error (bad options, nothing to draw).
 * @manifest and @set must outlive the loader.  What resolving found that
 * the user should hear of (rows listed twice, probes between close scores)
 * is in the manifest's notices (m3ret_manifest_get_notice()) once this
 * returns, before the first batch: the run's summary prints them. */
M3retLoader *m3ret_loader_new (M3retManifest *manifest, const M3retModalities *set,
                               const M3retLoaderOptions *options, GError **error);

/* Returns: (transfer full) the next batch; NULL at the end of a SEQUENTIAL
 * pass (no error), or NULL with @error when a sample of this batch failed
 * (the message names the file; the following batches can still be asked
 * for).  With skips, a SEQUENTIAL batch holds only the entries that read
 * (batch->entries says which) and never fails for a bad file. */
M3retBatch *m3ret_loader_next (M3retLoader *loader, GError **error);

/* Stops the workers and frees everything; accepts NULL. */
void m3ret_loader_free (M3retLoader *loader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retLoader, m3ret_loader_free)

G_END_DECLS

#endif /* M3RET_LOADER_H */
