/* m3ret-optim.h — AdamW, learning-rate and weight-decay schedules.
 *
 * AdamW (Loshchilov & Hutter) with decoupled weight decay, as PyTorch's
 * torch.optim.AdamW: p ← p·(1 − lr·wd), then the Adam step with bias
 * corrections.  Parameters whose decay flag is off (m3ret-params.h:
 * biases and norms by default) get wd = 0.  The update runs on the
 * backend (its `adamw` entry).  Gradient clipping and the teacher EMA live
 * with the parameters (m3ret_params_clip_grad_norm, m3ret_params_ema).
 */
#ifndef M3RET_OPTIM_H
#define M3RET_OPTIM_H

#include <glib.h>

#include "m3ret-params.h"

G_BEGIN_DECLS

typedef struct _M3retAdamW M3retAdamW;

/* Optimiser state (m, v, zeroed) for every trainable tensor of @params,
 * which must outlive it.  Returns: (transfer full) or NULL with @error. */
M3retAdamW *m3ret_adamw_new (M3retParams *params, gdouble beta1, gdouble beta2, gdouble eps,
                             GError **error);
void m3ret_adamw_free (M3retAdamW *opt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (M3retAdamW, m3ret_adamw_free)

/* One update from the current gradients (it does not zero them). */
void m3ret_adamw_step (M3retAdamW *opt, gdouble lr, gdouble weight_decay);
/* Updates done so far (t of the bias corrections); settable to resume. */
gint64 m3ret_adamw_get_step (const M3retAdamW *opt);
void m3ret_adamw_set_step (M3retAdamW *opt, gint64 step);
/* (transfer none) first and second moments of parameter @i of the
 * collection (NULL for buffers), for checkpoints. */
M3retTensor *m3ret_adamw_get_m (const M3retAdamW *opt, guint i);
M3retTensor *m3ret_adamw_get_v (const M3retAdamW *opt, guint i);

/* start → end along half a cosine over [0, total]; @end after total. */
gdouble m3ret_schedule_cosine (gint64 step, gint64 total, gdouble start, gdouble end);
/* Linear warm-up 0 → @peak over @warmup steps, then cosine @peak → @final
 * until @total (MAE's schedule). */
gdouble m3ret_schedule_warmup_cosine (gint64 step, gint64 warmup, gint64 total, gdouble peak,
                                      gdouble final);
/* The linear scaling rule: base·batch/256. */
gdouble m3ret_lr_for_batch (gdouble base, gint batch);

G_END_DECLS

#endif /* M3RET_OPTIM_H */
