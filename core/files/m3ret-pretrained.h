/* m3ret-pretrained.h — starting from released ViT weights.
 *
 * `[encoder] init=PATH` names a .safetensors file in the layout of timm,
 * MAE or DINO checkpoints (`patch_embed.proj.weight`, `cls_token`,
 * `blocks.N.norm1.weight`, `blocks.N.attn.qkv.weight`, ..., `norm.weight`;
 * names may carry a `module.`, `backbone.`, `encoder.` or `model.` prefix).
 * A 2-D patch embedding (D×C×ph×pw) is inflated to the tubelet
 * (D×C×pt×ph×pw) by repeating it over time and dividing by pt, so a still
 * image, whose frame is repeated pt times, gives the 2-D model's tokens.
 * The position table stays m3ret's fixed 3-D sine-cosine one: a learned
 * 2-D table has no meaning for videos and volumes.  F16 and BF16 files are
 * converted to float32.
 */
#ifndef M3RET_PRETRAINED_H
#define M3RET_PRETRAINED_H

#include <glib.h>

#include "m3ret-params.h"

G_BEGIN_DECLS

/* Loads every tensor of @params (a freshly made encoder, names without
 * prefix) but `pos_embed` from @path.  A missing tensor or a shape that
 * neither matches nor inflates is an error naming the file, the tensor and
 * both shapes; @params is then partly loaded.  @n_loaded (optional)
 * receives the number of tensors read. */
gboolean m3ret_pretrained_load (M3retParams *params, const gchar *path, guint *n_loaded,
                                GError **error);
/* (A pipeline's `[encoder] init=` is applied by m3ret_encoder_context_new().) */

G_END_DECLS

#endif /* M3RET_PRETRAINED_H */
