/* m3ret-embedder.h — the frozen encoder turned into vectors.
 *
 * An embedder holds the encoder of a pipeline (m3ret-encoder-context.h,
 * built as the trainer builds it) with the weights of a checkpoint (or
 * its random initialisation: the baseline) and turns
 * manifests or single files into L2-normalised embeddings, using the
 * deterministic evaluation view of every file (whole field of view,
 * uniformly spaced frames, the full volume resampled).
 */
#ifndef M3RET_EMBEDDER_H
#define M3RET_EMBEDDER_H

#include <glib.h>

#include "m3ret-dist.h"
#include "m3ret-embeddings.h"
#include "m3ret-manifest.h"
#include "m3ret-modalities.h"
#include "m3ret-pipeline.h"
#include "m3ret-raw-features.h"
#include "m3ret-registry.h"

G_BEGIN_DECLS

/* The checkpoint argument that asks for the random-init baseline;
 * M3RET_CHECKPOINT_RAW (m3ret-raw-features.h) asks for raw pixels. */
#define M3RET_CHECKPOINT_RANDOM "random"

/* FALSE for the baselines' names ("random", "raw"), which name no file. */
gboolean m3ret_checkpoint_is_file (const gchar *checkpoint);

typedef struct _M3retEmbedder M3retEmbedder;

/* Returns: (transfer full) the encoder of @pipeline on its backend with the
 * weights of @checkpoint (a .safetensors written by `m3ret train`, or any
 * file holding the encoder's tensors under the same names), or initialised
 * from [pipeline] seed when @checkpoint is "random", or no encoder but the
 * raw-pixel features of m3ret-raw-features.h when it is "raw".  @registry and
 * @pipeline must outlive it. */
M3retEmbedder *m3ret_embedder_new (M3retRegistry *registry, const M3retPipeline *pipeline,
                                   const gchar *checkpoint, GError **error);
void m3ret_embedder_free (M3retEmbedder *embedder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retEmbedder, m3ret_embedder_free)

guint m3ret_embedder_get_dim (const M3retEmbedder *embedder);
/* (transfer none) the provenance line (m3ret-provenance.h) of its weights,
 * preset, grid and pooling; every embedding it makes carries it. */
const gchar *m3ret_embedder_get_provenance (const M3retEmbedder *embedder);
/* (transfer none) the modality plugins it reads files with */
const M3retModalities *m3ret_embedder_get_modalities (const M3retEmbedder *embedder);

/* on_error=skip: bad entries are recorded in @skips (transfer none, must
 * outlive the embedding calls) and left out; NULL (the default): the first
 * bad entry fails the call. */
void m3ret_embedder_set_skips (M3retEmbedder *embedder, M3retSkips *skips);

/* Data-parallel embedding (@dist, transfer none; NULL: one process): each
 * rank embeds a share of every manifest (whole batches of the one-process
 * pass) and m3ret_embedder_embed_manifest() returns the whole result on
 * rank 0, bit for bit a single process's; on the other ranks its rows are
 * not filled in.  A collective call then: every rank makes it. */
void m3ret_embedder_set_dist (M3retEmbedder *embedder, const M3retDist *dist);

/* Resolves @manifest with the embedder's modalities (and its skips: a bad
 * entry is recorded and dropped) as m3ret_embedder_embed_manifest() would,
 * so that a command can print the manifest's notices (rows listed twice,
 * probes between close scores) before the heavy work; embedding it later
 * does not resolve it again.  FALSE with @error naming the line and file. */
gboolean m3ret_embedder_resolve (M3retEmbedder *embedder, M3retManifest *manifest,
                                 GError **error);

/* Embeds every entry of @manifest in order, @batch_size at a time on the
 * loader's threads.  @label (may be NULL) is printed with a progress bar on
 * stderr when @progress.  Returns: (transfer full) N×d embeddings with the
 * manifest's path, modality and label as items; with skips, only the
 * entries that were embedded, still in manifest order. */
M3retEmbeddings *m3ret_embedder_embed_manifest (M3retEmbedder *embedder, M3retManifest *manifest,
                                                guint batch_size, const gchar *label,
                                                gboolean progress, GError **error);

G_END_DECLS

#endif /* M3RET_EMBEDDER_H */
