/* m3ret-params.h — a model's named parameters and buffers.
 *
 * Names are those of a PyTorch state dict (`blocks.0.attn.qkv.weight`),
 * so checkpoints can be written by iterating the collection in order.
 * Trainable parameters carry a gradient buffer; buffers (`pos_embed`)
 * are saved but never trained.  By default a parameter with fewer than 2
 * dimensions (biases, norm weights) gets no weight decay, as in MAE and
 * DINO; m3ret_params_set_decay() overrides it.
 *
 * The collection owns its tensors.  Several modules (encoder, MAE decoder,
 * SimDINO head) may add into one collection under different prefixes, so
 * one optimiser and one checkpoint cover them all.
 */
#ifndef M3RET_PARAMS_H
#define M3RET_PARAMS_H

#include <glib.h>

#include "m3ret-rng.h"
#include "m3ret-tensor.h"

G_BEGIN_DECLS

typedef struct _M3retParams M3retParams;

/* Returns: (transfer full) an empty collection on @device. */
M3retParams *m3ret_params_new (M3retDevice *device);
/* Frees the collection and every tensor in it; accepts NULL. */
void m3ret_params_free (M3retParams *params);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retParams, m3ret_params_free)

M3retDevice *m3ret_params_get_device (const M3retParams *params);

/* Adds a zero-filled tensor named @name (unique).  @trainable: has a
 * gradient and is optimised; otherwise a buffer.
 * Returns: (transfer none) the tensor, or NULL with @error. */
M3retTensor *m3ret_params_add (M3retParams *params, const gchar *name, gint ndim,
                               const gint64 *shape, gboolean trainable, GError **error);

guint m3ret_params_get_n (const M3retParams *params);
/* (transfer none) entry @i, in order of addition */
const gchar *m3ret_params_get_name (const M3retParams *params, guint i);
M3retTensor *m3ret_params_get_tensor (const M3retParams *params, guint i);
gboolean m3ret_params_is_trainable (const M3retParams *params, guint i);
gboolean m3ret_params_get_decay (const M3retParams *params, guint i);
void m3ret_params_set_decay (M3retParams *params, guint i, gboolean decay);
/* (transfer none) the tensor called @name, or NULL */
M3retTensor *m3ret_params_lookup (const M3retParams *params, const gchar *name);
/* Number of values (trainable ones only when @trainable_only). */
gsize m3ret_params_count (const M3retParams *params, gboolean trainable_only);

/* Initialisers (host draws from @rng in element order, then one upload). */
void m3ret_params_init_xavier_uniform (M3retTensor *t, M3retRng *rng);
void m3ret_params_init_normal (M3retTensor *t, M3retRng *rng, gfloat std);
void m3ret_params_init_constant (M3retTensor *t, gfloat value);

/* Gradients of every trainable parameter. */
void m3ret_params_zero_grad (M3retParams *params);
gdouble m3ret_params_grad_norm (const M3retParams *params);
/* Scales the gradients so that their global L2 norm is at most
 * @max_norm; returns the norm before clipping. */
gdouble m3ret_params_clip_grad_norm (M3retParams *params, gdouble max_norm);

/* Copies every tensor of @src into @dst; both must hold the same names and
 * shapes (a teacher made like its student).  FALSE with @error if not. */
gboolean m3ret_params_copy (M3retParams *dst, const M3retParams *src, GError **error);
/* EMA: dst ← m·dst + (1 − m)·src for every trainable tensor (same layout
 * as m3ret_params_copy requires); buffers are copied. */
void m3ret_params_ema (M3retParams *dst, const M3retParams *src, gdouble momentum);

G_END_DECLS

#endif /* M3RET_PARAMS_H */
