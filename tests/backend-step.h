/* backend-step.h — one training step of a ViT and an objective plugin on
 * a given device, from random images: shared by the conformance suite
 * (same loss and gradients on every backend) and bench-torch (images/s).
 *
 * Everything random comes from @seed: the parameters (the trainer's
 * order: encoder, then the objective's tensors), the images and the
 * objective's own draws (masks), so two devices given the same spec run
 * the same step.
 */
#ifndef M3RET_TEST_BACKEND_STEP_H
#define M3RET_TEST_BACKEND_STEP_H

#include "m3ret.h"

typedef struct {
  const gchar *objective; /* objective plugin: "mae", "simdino" */
  const gchar *preset;    /* encoder preset: "micro" ... "base" */
  gint size;              /* H = W */
  gint tubelet[3];        /* pt, ph, pw; stills repeat their frame pt times */
  gint batch;
  guint64 seed;
} BackendStepSpec;

typedef struct _BackendStep BackendStep;

/* Builds the model, the objective, AdamW and one batch of random stills.
 * Returns: (transfer full) or NULL with @error. */
BackendStep *backend_step_new (M3retRegistry *registry, M3retDevice *device,
                               const BackendStepSpec *spec, GError **error);
void backend_step_free (BackendStep *step);

/* Zeroes the gradients, computes the loss of the batch at step 0 and
 * differentiates it; with @update also one AdamW step (lr 1e-4) and the
 * objective's after-step hook.  Does not wait for the device unless
 * @loss is given.  FALSE with @error on failure. */
gboolean backend_step_run (BackendStep *step, gboolean update, gfloat *loss, GError **error);

/* (transfer none) the trained collection */
M3retParams *backend_step_get_params (BackendStep *step);
/* (transfer none) the encoder */
M3retVit *backend_step_get_encoder (BackendStep *step);
/* The encoder's tensors are the first this many of the collection; the
 * objective's follow. */
guint backend_step_get_n_encoder (BackendStep *step);
/* Tokens per sample the encoder sees: all of a view's, or MAE's kept ones. */
gint backend_step_get_kept_tokens (BackendStep *step);

/* Matrix-product FLOPs of one training step of a one-view objective (MAE):
 * a weight of numel w used on r rows costs 2·w·r forward, attention
 * 4·N²·D per sample and block, training 3 × forward.  Encoder weights see
 * 1 + the kept tokens, the objective's every token plus CLS: a slight
 * overestimate for MAE's decoder embedding, exact elsewhere. */
gdouble backend_step_flops (BackendStep *step);

#endif
