/* m3ret-vit.h — the Vision Transformer encoder shared by every modality.
 *
 * Input: a batch of samples on the canonical grid C×T×H×W (C = 3), cut
 * into tubelets pt×ph×pw ("4D patchification"): L = (T/pt)·(H/ph)·(W/pw)
 * tokens of P = C·pt·ph·pw values, ordered (t, h, w) with w fastest, each
 * token's values ordered (c, t, h, w) — the layout of PyTorch's Conv3d
 * weight, so `patch_embed.proj.weight` (D×C×pt×ph×pw) loads unchanged.
 *
 * Model (docs/GRID.md follows a file to these tokens): a shared linear
 * patch embedding, a fixed 3-D sin-cos position table, a CLS token,
 * `depth` pre-norm blocks
 *   x ← x + proj(attention(qkv(LN1(x))));  x ← x + fc2(GELU(fc1(LN2(x))))
 * (LayerNorm eps 1e-6, MLP ratio 4), a final LayerNorm.  MAE
 * initialisation: xavier-uniform linears, zero biases, unit norms, CLS
 * N(0, 0.02).  The parameter names are those of MAE's PyTorch state dict.
 *
 * Position table: D is split into three equal even parts for t, h and w
 * (2·⌊D/6⌋ each; the last D − 6·⌊D/6⌋ columns stay zero); each part
 * holds [sin(pos·ω_i), cos(pos·ω_i)] with ω_i = 10000^(−i/(d/2)).  Row 0
 * (the CLS) is zero.  A sample with fewer frames than the configured
 * depth uses the first rows (t is the slowest axis), so a 2-D image is
 * the t = 0 slice.
 */
#ifndef M3RET_VIT_H
#define M3RET_VIT_H

#include <glib.h>

#include "m3ret-graph.h"
#include "m3ret-params.h"

G_BEGIN_DECLS

/* The encoder sizes, in the order [encoder] preset= lists them; width,
 * blocks and heads of each are in one table, vit.c's presets[]. */
typedef enum {
  M3RET_PRESET_MICRO, /* tests and the demo */
  M3RET_PRESET_TINY,  /* ViT-Ti */
  M3RET_PRESET_SMALL, /* ViT-S */
  M3RET_PRESET_BASE   /* ViT-B */
} M3retPreset;
#define M3RET_N_PRESETS (M3RET_PRESET_BASE + 1)

typedef enum {
  M3RET_POOL_CLS,      /* the final CLS token */
  M3RET_POOL_MEAN,     /* the mean of the final patch tokens */
  M3RET_POOL_CLS_MEAN, /* both, each L2-normalised, concatenated (2·D wide) */
  /* computed on the host by m3ret_readout_rows() (m3ret-readout.h) only: */
  M3RET_POOL_GEM,      /* generalised mean (p = 3) of the patch tokens clamped at 0 */
  M3RET_POOL_GRID      /* in-plane cells × cells means, each L2-normalised, concatenated */
} M3retPool;

/* The name of @preset as [encoder] preset= writes it. */
const gchar *m3ret_vit_preset_name (M3retPreset preset);
/* The width D, blocks and heads of @preset (the MLP is 4·D wide). */
void m3ret_vit_preset_shape (M3retPreset preset, gint *dim, gint *depth, gint *heads);
/* The preset called @name; FALSE with @error naming it and the choices. */
gboolean m3ret_vit_preset_from_name (const gchar *name, M3retPreset *preset, GError **error);
/* The name of @pool as [encoder] pool= writes it. */
const gchar *m3ret_vit_pool_name (M3retPool pool);
/* Width of the embedding of @pool from a D-wide encoder (0 for grid,
 * whose width m3ret_readout_dim() gives). */
gint m3ret_vit_pool_dim (M3retPool pool, gint dim);

typedef struct _M3retVitConfig {
  gint dim;         /* D */
  gint depth;       /* blocks */
  gint heads;
  gint mlp_hidden;  /* 4·D */
  gint in_chans;    /* C = 3 */
  gint tubelet[3];  /* pt, ph, pw */
  gint grid[3];     /* tokens along t, h, w for the largest input */
  M3retPool pool;
  gfloat eps;       /* LayerNorm eps, 1e-6 */
} M3retVitConfig;

/* Fills @config for @preset (the sizes above) on inputs of
 * @frames × @size × @size cut by @tubelet, pooling by CLS.  FALSE with
 * @error for a preset out of range or a tubelet that does not divide the
 * grid: the grid below is exact or the patch arithmetic is wrong (a
 * pipeline reports the latter as a configuration error first). */
gboolean m3ret_vit_config_init (M3retVitConfig *config, M3retPreset preset, gint size,
                                gint frames, const gint tubelet[3], GError **error);

/* Values per token: C·pt·ph·pw. */
gint m3ret_vit_config_patch_values (const M3retVitConfig *config);
/* Tokens of a sample with @frames frames (frames/pt · gh · gw). */
gint m3ret_vit_config_n_tokens (const M3retVitConfig *config, gint frames);

/* Fills @out ((gt·gh·gw) × @dim) with the table described above. */
void m3ret_sincos_pos_embed_3d (gint dim, gint gt, gint gh, gint gw, float *out);
/* Uploads into @pos ((1 + gt·gh·gw) × @dim) a zero row for the CLS token,
 * then the table for @grid (gt, gh, gw). */
void m3ret_pos_embed_upload (M3retTensor *pos, gint dim, const gint grid[3]);

/* Cuts @x (B×C×T×H×W, host) into tubelets: @out is B×L×P (host). */
void m3ret_patchify (const float *x, gint batch, gint chans, gint frames, gint height, gint width,
                     const gint tubelet[3], float *out);

/* ---- a stack of pre-norm transformer blocks (the encoder's and the MAE
 * decoder's) ---- */
typedef struct _M3retBlocks M3retBlocks;

/* Adds `@prefix.{i}.norm1.weight` ... `@prefix.{i}.mlp.fc2.bias` to @params
 * and initialises them from @rng.  Returns: (transfer full) the stack
 * (the tensors stay owned by @params), or NULL with @error. */
M3retBlocks *m3ret_blocks_new (M3retParams *params, const gchar *prefix, gint dim, gint depth,
                               gint heads, gint mlp_hidden, gfloat eps, M3retRng *rng,
                               GError **error);
void m3ret_blocks_free (M3retBlocks *blocks);
/* x (B×N×D) through every block.  (transfer none) step tensor */
M3retTensor *m3ret_blocks_forward (M3retGraph *g, const M3retBlocks *blocks, M3retTensor *x);
/* x through blocks 1..@last; the mean of the outputs of the @count
 * blocks ending at @last (1 ≤ @count ≤ @last ≤ depth).  (transfer none) */
M3retTensor *m3ret_blocks_forward_mean (M3retGraph *g, const M3retBlocks *blocks, M3retTensor *x,
                                        gint last, gint count);
/* Floating-point operations of one forward over @rows = B·N rows of @n
 * tokens (multiply-add = 2). */
gdouble m3ret_blocks_flops (const M3retBlocks *blocks, gdouble rows, gdouble n);

/* ---- the encoder ---- */
typedef struct _M3retVit M3retVit;

/* Adds the encoder's tensors to @params, each name prefixed by @prefix
 * ("" for a bare encoder, "student." for instance), and initialises them
 * from @rng (in order of creation).
 * Returns: (transfer full) the encoder (tensors owned by @params). */
M3retVit *m3ret_vit_new (M3retParams *params, const gchar *prefix, const M3retVitConfig *config,
                         M3retRng *rng, GError **error);
void m3ret_vit_free (M3retVit *vit);
const M3retVitConfig *m3ret_vit_get_config (const M3retVit *vit);
/* Chooses the pooling of m3ret_vit_pool()/m3ret_vit_embed(). */
void m3ret_vit_set_pool (M3retVit *vit, M3retPool pool);
/* (transfer none) */
M3retParams *m3ret_vit_get_params (const M3retVit *vit);

/* Uploads host samples (B×C×T×H×W) as B×L×P tubelet rows. */
M3retTensor *m3ret_vit_patchify (M3retGraph *g, const M3retVit *vit, const float *x, gint batch,
                                 gint frames);
/* Patch rows (B×L×P) → tokens with position (B×L×D), before masking. */
M3retTensor *m3ret_vit_embed_patches (M3retGraph *g, const M3retVit *vit, M3retTensor *patches);
/* The encoder on patch rows (B×L×P): with @keep (B×@n_keep indices into
 * L, host) only those tokens are encoded (MAE); NULL keeps all.
 * Returns: (transfer none) B×(1+K)×D after the final norm, CLS first. */
M3retTensor *m3ret_vit_forward (M3retGraph *g, const M3retVit *vit, M3retTensor *patches,
                                const gint32 *keep, gint n_keep);
/* m3ret_vit_forward() read out earlier: the final norm applied to the
 * mean of the outputs of blocks @last − @count + 1 … @last (1-based),
 * the blocks after @last not run. */
M3retTensor *m3ret_vit_forward_blocks (M3retGraph *g, const M3retVit *vit, M3retTensor *patches,
                                       const gint32 *keep, gint n_keep, gint last, gint count);
/* Pooled per config, not normalised: B×D (cls, mean), or B×2D for
 * cls+mean (each half L2-normalised); gem and grid are host read-outs
 * (m3ret-readout.h), refused here. */
M3retTensor *m3ret_vit_pool (M3retGraph *g, const M3retVit *vit, M3retTensor *tokens);
/* The retrieval embedding of patch rows: pooled and L2-normalised,
 * B×m3ret_vit_pool_dim(). */
M3retTensor *m3ret_vit_embed (M3retGraph *g, const M3retVit *vit, M3retTensor *patches);
/* FLOPs of m3ret_vit_forward on @batch samples of @tokens tokens (K). */
gdouble m3ret_vit_flops (const M3retVit *vit, gint batch, gint tokens);

G_END_DECLS

#endif /* M3RET_VIT_H */
