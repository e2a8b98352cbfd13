/* m3ret-encoder-context.h — a pipeline's encoder, built once, in one order.
 *
 * Training, embedding and every command that runs the encoder build it
 * here, so that the random draws happen in the same order everywhere: the
 * device (the [pipeline] backend on `threads` threads), the parameter set,
 * the ViT of [encoder] preset and pool on the [input] grid and tubelet,
 * initialised from the init stream of [pipeline] seed, then `[encoder]
 * init` released weights when set, then a checkpoint when the options name
 * one, its provenance line when asked, and the modality set.  The init
 * stream stays with the context where it stopped: an objective draws its
 * own tensors from it next.
 *
 * This is where the pipeline meets the model: the layers below take plain
 * values (a preset, a seed, a backend plugin and its group).
 */
#ifndef M3RET_ENCODER_CONTEXT_H
#define M3RET_ENCODER_CONTEXT_H

#include <glib.h>

#include "m3ret-device.h"
#include "m3ret-modalities.h"
#include "m3ret-params.h"
#include "m3ret-pipeline.h"
#include "m3ret-registry.h"
#include "m3ret-rng.h"
#include "m3ret-vit.h"

G_BEGIN_DECLS

typedef struct {
  const gchar *checkpoint; /* weights loaded over the initial ones, or NULL */
  gboolean provenance;     /* compute the provenance line of the final weights */
} M3retEncoderContextOptions;

typedef struct _M3retEncoderContext M3retEncoderContext;

/* Builds the parts above; @options may be NULL (no checkpoint, no
 * provenance).  A checkpoint whose metadata names another preset than the
 * pipeline's is refused, naming the file and both presets.
 * Returns: (transfer full) or NULL with @error naming the file or the
 * pipeline line to fix.  @registry and @pipeline must outlive it. */
M3retEncoderContext *m3ret_encoder_context_new (M3retRegistry *registry,
                                                const M3retPipeline *pipeline,
                                                const M3retEncoderContextOptions *options,
                                                GError **error);
void m3ret_encoder_context_free (M3retEncoderContext *context);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retEncoderContext, m3ret_encoder_context_free)

/* (transfer none) each part, owned by the context */
M3retDevice *m3ret_encoder_context_get_device (const M3retEncoderContext *context);
M3retParams *m3ret_encoder_context_get_params (const M3retEncoderContext *context);
M3retVit *m3ret_encoder_context_get_vit (const M3retEncoderContext *context);
/* The init stream after the encoder's draws. */
M3retRng *m3ret_encoder_context_get_init_rng (M3retEncoderContext *context);
/* NULL unless the options asked for it. */
const gchar *m3ret_encoder_context_get_provenance (const M3retEncoderContext *context);
M3retModalities *m3ret_encoder_context_get_modalities (const M3retEncoderContext *context);

/* The ViT configuration of @pipeline's [encoder] and [input], for checks
 * before anything is allocated (m3ret_encoder_context_new() makes the same). */
gboolean m3ret_encoder_vit_config (const M3retPipeline *pipeline, M3retVitConfig *config,
                                   GError **error);
/* The device of @pipeline alone: an error of the backend starts with the
 * line of `backend=`.  Returns: (transfer full) */
M3retDevice *m3ret_encoder_device_new (const M3retPipeline *pipeline, GError **error);

/* For tests and benchmarks: backend @name of @registry with
 * `threads=@threads`, @settings ("key=value" keys of the plugin,
 * NULL-terminated, may be NULL) and every other [pipeline] key at its
 * default.  NULL with @error — M3RET_PLUGIN_ERROR_DECLINED when the
 * backend's score says no.  Returns: (transfer full) */
M3retDevice *m3ret_device_new_by_name (M3retRegistry *registry, const gchar *name, gint threads,
                                       const gchar *const *settings, GError **error);

G_END_DECLS

#endif /* M3RET_ENCODER_CONTEXT_H */
