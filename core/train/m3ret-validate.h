/* m3ret-validate.h — what a run would check of its configuration, done up
 * front and without the heavy work (`m3ret validate`).
 *
 * m3ret_pipeline_load() checks the file itself: keys, types, ranges and the
 * relations between core keys.  This adds what needs the plugins and the
 * data, through the very code a run goes through: the objective's check()
 * entry (what its create() refuses, without building the model), the
 * backend's context created, every modality plugin created from its group,
 * the retriever created empty, the `[encoder] init` file opened, and the
 * `[data] train` manifest read and resolved as the loader does (each file
 * exists, its modality is known or probed, its layout read from its
 * header).  Nothing is decoded, trained or written.
 */
#ifndef M3RET_VALIDATE_H
#define M3RET_VALIDATE_H

#include <glib.h>

#include "m3ret-manifest.h"
#include "m3ret-objective.h"
#include "m3ret-pipeline.h"
#include "m3ret-registry.h"
#include "m3ret-vit.h"

G_BEGIN_DECLS

/* Fills @setup as a run gives it to the objective of @pipeline, for an
 * encoder of @vit and a run of @total_steps: every field but params,
 * encoder and init_rng, which stay NULL. */
void m3ret_validate_objective_setup (M3retObjectiveSetup *setup, const M3retPipeline *pipeline,
                                     const M3retVitConfig *vit, gint64 total_steps);

/* Runs the pipeline objective's check() entry (nothing for an objective
 * built before ABI minor 4, which checks at create()).  FALSE with @error
 * naming the file, line and key. */
gboolean m3ret_validate_objective (const M3retPipeline *pipeline, const M3retVitConfig *vit,
                                   gint64 total_steps, GError **error);

/* Returns: (transfer full) the `[data] train` manifest, read (not
 * resolved), after the [data] max_file_size check; NULL with @error when
 * train= is empty, or the file cannot be read (then the message begins with
 * the pipeline's file and the line of train=), or does not parse (then with
 * the manifest's file and line). */
M3retManifest *m3ret_validate_load_train_manifest (const M3retPipeline *pipeline, GError **error);

/* Every check above, for the whole pipeline.  Returns: (transfer full) the
 * lines to show the user (g_free each): files per modality of the training
 * manifest, what on_error=skip would leave out, notes; or NULL with @error
 * (the first failure, one line beginning with FILE[:LINE]). */
GPtrArray *m3ret_validate_pipeline (M3retRegistry *registry, const M3retPipeline *pipeline,
                                    GError **error);

G_END_DECLS

#endif /* M3RET_VALIDATE_H */
