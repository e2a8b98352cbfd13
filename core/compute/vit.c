/* vit.c — patchification, position table, transformer blocks, encoder. */
#include "config.h"

#include <math.h>
#include <string.h>

#include "graph-private.h"
#include "m3ret-ops.h"
#include "m3ret-vit.h"

typedef struct {
  const gchar *name;
  gint dim, depth, heads;
} Preset;

/* Indexed by M3retPreset. */
static const Preset presets[] = {
  [M3RET_PRESET_MICRO] = { "micro", 64, 2, 2 },
  [M3RET_PRESET_TINY] = { "tiny", 192, 12, 3 },
  [M3RET_PRESET_SMALL] = { "small", 384, 12, 6 },
  [M3RET_PRESET_BASE] = { "base", 768, 12, 12 },
};

const gchar *
m3ret_vit_preset_name (M3retPreset preset)
{
  g_return_val_if_fail ((guint) preset < G_N_ELEMENTS (presets), NULL);
  return presets[preset].name;
}

void
m3ret_vit_preset_shape (M3retPreset preset, gint *dim, gint *depth, gint *heads)
{
  g_return_if_fail ((guint) preset < G_N_ELEMENTS (presets));
  *dim = presets[preset].dim;
  *depth = presets[preset].depth;
  *heads = presets[preset].heads;
}

void
m3ret_pos_embed_upload (M3retTensor *pos, gint dim, const gint grid[3])
{
  gsize tokens = (gsize) grid[0] * grid[1] * grid[2];
  float *table = g_new0 (float, (1 + tokens) * dim);
  m3ret_sincos_pos_embed_3d (dim, grid[0], grid[1], grid[2], table + dim);
  m3ret_tensor_upload (pos, table);
  g_free (table);
}

static GError *
invalid (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

static GError *
invalid (const gchar *format, ...)
{
  va_list ap;
  va_start (ap, format);
  GError *e = g_error_new_valist (M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_INVALID, format, ap);
  va_end (ap);
  return e;
}

gboolean
m3ret_vit_preset_from_name (const gchar *name, M3retPreset *preset, GError **error)
{
  g_autoptr (GString) names = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++) {
    if (g_strcmp0 (presets[i].name, name) == 0) {
      *preset = (M3retPreset) i;
      return TRUE;
    }
    g_string_append_printf (names, "%s%s", i ? ", " : "", presets[i].name);
  }
  g_propagate_error (error, invalid ("unknown encoder preset '%s' (%s)", name, names->str));
  return FALSE;
}

const gchar *
m3ret_vit_pool_name (M3retPool pool)
{
  switch (pool) {
  case M3RET_POOL_MEAN: return "mean";
  case M3RET_POOL_CLS_MEAN: return "cls+mean";
  case M3RET_POOL_GEM: return "gem";
  case M3RET_POOL_GRID: return "grid";
  case M3RET_POOL_CLS: break;
  }
  return "cls";
}

gint
m3ret_vit_pool_dim (M3retPool pool, gint dim)
{
  /* a grid's width depends on its cells: m3ret_readout_dim() */
  return pool == M3RET_POOL_CLS_MEAN ? 2 * dim : pool == M3RET_POOL_GRID ? 0 : dim;
}

gboolean
m3ret_vit_config_init (M3retVitConfig *config, M3retPreset preset, gint size, gint frames,
                       const gint tubelet[3], GError **error)
{
  if ((guint) preset >= G_N_ELEMENTS (presets)) {
    g_propagate_error (error, invalid ("unknown encoder preset %d", (gint) preset));
    return FALSE;
  }
  const Preset *p = &presets[preset];
  gint dims[3] = { frames, size, size };
  for (gint i = 0; i < 3; i++)
    if (tubelet[i] < 1 || dims[i] < tubelet[i] || dims[i] % tubelet[i] != 0) {
      g_propagate_error (error, invalid ("tubelet %d,%d,%d does not divide the %d×%d×%d grid",
                                         tubelet[0], tubelet[1], tubelet[2], frames, size, size));
      return FALSE;
    }
  memset (config, 0, sizeof *config);
  config->dim = p->dim;
  config->depth = p->depth;
  config->heads = p->heads;
  config->mlp_hidden = 4 * p->dim;
  config->in_chans = 3;
  for (gint i = 0; i < 3; i++) {
    config->tubelet[i] = tubelet[i];
    config->grid[i] = dims[i] / tubelet[i];
  }
  config->pool = M3RET_POOL_CLS;
  config->eps = 1e-6f;
  return TRUE;
}

gint
m3ret_vit_config_patch_values (const M3retVitConfig *c)
{
  return c->in_chans * c->tubelet[0] * c->tubelet[1] * c->tubelet[2];
}

gint
m3ret_vit_config_n_tokens (const M3retVitConfig *c, gint frames)
{
  return (frames / c->tubelet[0]) * c->grid[1] * c->grid[2];
}

static void
sincos_1d (gint d, gint pos, float *out)
{
  gint half = d / 2;
  for (gint i = 0; i < half; i++) {
    double omega = 1.0 / pow (10000.0, (double) i / half);
    out[i] = (float) sin (pos * omega);
    out[half + i] = (float) cos (pos * omega);
  }
}

void
m3ret_sincos_pos_embed_3d (gint dim, gint gt, gint gh, gint gw, float *out)
{
  gint part = 2 * (dim / 6);
  memset (out, 0, sizeof (float) * (gsize) gt * gh * gw * dim);
  for (gint t = 0; t < gt; t++)
    for (gint h = 0; h < gh; h++)
      for (gint w = 0; w < gw; w++) {
        float *row = out + ((gsize) (t * gh + h) * gw + w) * dim;
        sincos_1d (part, t, row);
        sincos_1d (part, h, row + part);
        sincos_1d (part, w, row + 2 * part);
      }
}

void
m3ret_patchify (const float *x, gint batch, gint chans, gint frames, gint height, gint width,
                const gint tubelet[3], float *out)
{
  gint pt = tubelet[0], ph = tubelet[1], pw = tubelet[2];
  gint gt = frames / pt, gh = height / ph, gw = width / pw;
  gsize p = (gsize) chans * pt * ph * pw;
  for (gint b = 0; b < batch; b++)
    for (gint it = 0; it < gt; it++)
      for (gint ih = 0; ih < gh; ih++)
        for (gint iw = 0; iw < gw; iw++) {
          float *row = out + (((gsize) b * gt + it) * gh * gw + (gsize) ih * gw + iw) * p;
          for (gint c = 0; c < chans; c++)
            for (gint t = 0; t < pt; t++)
              for (gint h = 0; h < ph; h++) {
                const float *src = x + ((((gsize) b * chans + c) * frames + it * pt + t) * height
                                        + (gsize) ih * ph + h) * width + (gsize) iw * pw;
                memcpy (row, src, sizeof (float) * pw);
                row += pw;
              }
        }
}

/* ------------------------------------------------------------- blocks */

typedef struct {
  M3retTensor *norm1_w, *norm1_b, *qkv_w, *qkv_b, *proj_w, *proj_b;
  M3retTensor *norm2_w, *norm2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} Block;

struct _M3retBlocks {
  gint dim, depth, heads, mlp_hidden;
  gfloat eps;
  Block *blocks;
};

/* A linear layer's weight (xavier) and bias (zero). */
static gboolean
add_linear (M3retParams *params, const gchar *name, gint out, gint in, M3retRng *rng,
            M3retTensor **w, M3retTensor **b, GError **error)
{
  g_autofree gchar *wn = g_strconcat (name, ".weight", NULL);
  g_autofree gchar *bn = g_strconcat (name, ".bias", NULL);
  gint64 ws[2] = { out, in }, bs[1] = { out };
  *w = m3ret_params_add (params, wn, 2, ws, TRUE, error);
  if (*w == NULL)
    return FALSE;
  m3ret_params_init_xavier_uniform (*w, rng);
  *b = m3ret_params_add (params, bn, 1, bs, TRUE, error);
  return *b != NULL;
}

static gboolean
add_norm (M3retParams *params, const gchar *name, gint dim, M3retTensor **w, M3retTensor **b,
          GError **error)
{
  g_autofree gchar *wn = g_strconcat (name, ".weight", NULL);
  g_autofree gchar *bn = g_strconcat (name, ".bias", NULL);
  gint64 s[1] = { dim };
  *w = m3ret_params_add (params, wn, 1, s, TRUE, error);
  if (*w == NULL)
    return FALSE;
  m3ret_params_init_constant (*w, 1.0f);
  *b = m3ret_params_add (params, bn, 1, s, TRUE, error);
  return *b != NULL;
}

M3retBlocks *
m3ret_blocks_new (M3retParams *params, const gchar *prefix, gint dim, gint depth, gint heads,
                  gint mlp_hidden, gfloat eps, M3retRng *rng, GError **error)
{
  if (dim < 1 || heads < 1 || dim % heads != 0 || depth < 0 || mlp_hidden < 1) {
    g_propagate_error (error, invalid ("blocks: width %d is not a multiple of %d heads", dim,
                                       heads));
    return NULL;
  }
  M3retBlocks *s = g_new0 (M3retBlocks, 1);
  s->dim = dim;
  s->depth = depth;
  s->heads = heads;
  s->mlp_hidden = mlp_hidden;
  s->eps = eps;
  s->blocks = g_new0 (Block, MAX (depth, 1));
  for (gint i = 0; i < depth; i++) {
    Block *b = &s->blocks[i];
    g_autofree gchar *p = g_strdup_printf ("%s.%d", prefix, i);
    g_autofree gchar *n1 = g_strconcat (p, ".norm1", NULL);
    g_autofree gchar *qkv = g_strconcat (p, ".attn.qkv", NULL);
    g_autofree gchar *proj = g_strconcat (p, ".attn.proj", NULL);
    g_autofree gchar *n2 = g_strconcat (p, ".norm2", NULL);
    g_autofree gchar *fc1 = g_strconcat (p, ".mlp.fc1", NULL);
    g_autofree gchar *fc2 = g_strconcat (p, ".mlp.fc2", NULL);
    if (!add_norm (params, n1, dim, &b->norm1_w, &b->norm1_b, error)
        || !add_linear (params, qkv, 3 * dim, dim, rng, &b->qkv_w, &b->qkv_b, error)
        || !add_linear (params, proj, dim, dim, rng, &b->proj_w, &b->proj_b, error)
        || !add_norm (params, n2, dim, &b->norm2_w, &b->norm2_b, error)
        || !add_linear (params, fc1, mlp_hidden, dim, rng, &b->fc1_w, &b->fc1_b, error)
        || !add_linear (params, fc2, dim, mlp_hidden, rng, &b->fc2_w, &b->fc2_b, error)) {
      m3ret_blocks_free (s);
      return NULL;
    }
  }
  return s;
}

void
m3ret_blocks_free (M3retBlocks *s)
{
  if (s == NULL)
    return;
  g_free (s->blocks);
  g_free (s);
}

/* One block: x + attn(norm1(x)), then + mlp(norm2(·)).  Residual adds
 * run fused with the LayerNorm that follows them: @h1 is norm1(x) when the
 * caller has it already (NULL: made here), and with @next the block's
 * last add comes with @next's norm1, returned in *@next_h1. */
static M3retTensor *
block_forward (M3retGraph *g, const M3retBlocks *s, const Block *b, M3retTensor *x,
               M3retTensor *h1, const Block *next, M3retTensor **next_h1)
{
  M3retTensor *h = h1 ? h1 : m3ret_op_layernorm (g, x, b->norm1_w, b->norm1_b, s->eps);
  h = m3ret_op_linear (g, h, b->qkv_w, b->qkv_b);
  h = m3ret_op_attention (g, h, s->heads);
  h = m3ret_op_linear (g, h, b->proj_w, b->proj_b);
  h = m3ret_op_add_layernorm (g, x, h, b->norm2_w, b->norm2_b, s->eps, &x);
  h = m3ret_op_linear_gelu (g, h, b->fc1_w, b->fc1_b);
  h = m3ret_op_linear (g, h, b->fc2_w, b->fc2_b);
  if (next == NULL)
    return m3ret_op_add (g, x, h);
  *next_h1 = m3ret_op_add_layernorm (g, x, h, next->norm1_w, next->norm1_b, s->eps, &x);
  return x;
}

M3retTensor *
m3ret_blocks_forward (M3retGraph *g, const M3retBlocks *s, M3retTensor *x)
{
  return m3ret_blocks_forward_mean (g, s, x, s->depth, 1);
}

M3retTensor *
m3ret_blocks_forward_mean (M3retGraph *g, const M3retBlocks *s, M3retTensor *x, gint last,
                           gint count)
{
  g_return_val_if_fail (last >= 1 && last <= s->depth && count >= 1 && count <= last, NULL);
  /* Without a tape (embedding, a frozen teacher) nothing a block computes
   * outlives it but its output: that is copied into one of two carry
   * buffers and the block's memory goes back to the arena, so the step
   * holds one block's activations (warm in cache) instead of all of them.
   * With a tape, each block hands the next its norm1 (fused with its last
   * residual add). */
  gboolean untaped = x != NULL && s->depth > 1
                     && (!m3ret_graph_get_grad_enabled (g)
                         || (!x->requires_grad && !s->blocks[0].qkv_w->requires_grad));
  M3retTensor *carry[2] = { NULL, NULL }, *sum = NULL;
  GraphMark mark;
  if (untaped) {
    carry[0] = m3ret_graph_new_tensor (g, x->ndim, x->shape);
    carry[1] = m3ret_graph_new_tensor (g, x->ndim, x->shape);
    if (count > 1)
      sum = m3ret_graph_new_tensor (g, x->ndim, x->shape);
    mark = graph_mark (g);
  }
  M3retTensor *h1 = NULL;
  for (gint i = 0; i < last; i++) {
    const Block *next = !untaped && i + 1 < last ? &s->blocks[i + 1] : NULL;
    x = block_forward (g, s, &s->blocks[i], x, h1, next, &h1);
    gboolean summed = count > 1 && i >= last - count;
    if (x == NULL || carry[1] == NULL || x->requires_grad) {
      /* with a tape: the sum of the read blocks' outputs as ops */
      if (x != NULL && summed)
        sum = i == last - count ? x : m3ret_op_add (g, sum, x);
      continue;
    }
    gint cols = (gint) x->shape[x->ndim - 1], rows = (gint) (x->numel / cols);
    if (summed && sum != NULL)
      graph_vt (g)->copy2d (graph_ctx (g), rows, cols, x->data, cols,
                            i == last - count ? 0.0f : 1.0f, sum->data, cols);
    M3retTensor *keep = carry[i % 2];
    graph_vt (g)->copy2d (graph_ctx (g), rows, cols, x->data, cols, 0.0f, keep->data, cols);
    if (graph_rewind (g, &mark))
      x = keep;
  }
  if (x == NULL || count == 1)
    return x;
  return m3ret_op_scale (g, sum, 1.0f / (gfloat) count);
}

gdouble
m3ret_blocks_flops (const M3retBlocks *s, gdouble rows, gdouble n)
{
  gdouble d = s->dim, hid = s->mlp_hidden;
  /* qkv + proj + fc1 + fc2, then q·kᵀ and p·v over n×n per sample */
  gdouble linear = 2.0 * rows * (3 * d * d + d * d + 2 * d * hid);
  gdouble attn = 2.0 * 2.0 * rows * n * d;
  return s->depth * (linear + attn);
}

/* ------------------------------------------------------------ encoder */

struct _M3retVit {
  M3retVitConfig config;
  M3retParams *params;
  M3retTensor *cls_token;   /* 1×1×D */
  M3retTensor *pos_embed;   /* 1×(1+L)×D buffer */
  M3retTensor *patch_w;     /* D×C×pt×ph×pw */
  M3retTensor *patch_b;     /* D */
  M3retBlocks *blocks;
  M3retTensor *norm_w, *norm_b;
};

static gchar *
prefixed (const gchar *prefix, const gchar *name)
{
  return g_strconcat (prefix ? prefix : "", name, NULL);
}

M3retVit *
m3ret_vit_new (M3retParams *params, const gchar *prefix, const M3retVitConfig *config,
               M3retRng *rng, GError **error)
{
  const M3retVitConfig *c = config;
  M3retVit *vit = g_new0 (M3retVit, 1);
  vit->config = *config;
  vit->params = params;
  gint d = c->dim;
  gint l = c->grid[0] * c->grid[1] * c->grid[2];
  g_autofree gchar *n_cls = prefixed (prefix, "cls_token");
  g_autofree gchar *n_pos = prefixed (prefix, "pos_embed");
  g_autofree gchar *n_pw = prefixed (prefix, "patch_embed.proj.weight");
  g_autofree gchar *n_pb = prefixed (prefix, "patch_embed.proj.bias");
  g_autofree gchar *n_blocks = prefixed (prefix, "blocks");
  g_autofree gchar *n_norm = prefixed (prefix, "norm");
  gint64 cls_shape[3] = { 1, 1, d }, pos_shape[3] = { 1, 1 + l, d };
  gint64 pw_shape[5] = { d, c->in_chans, c->tubelet[0], c->tubelet[1], c->tubelet[2] };
  gint64 pb_shape[1] = { d };

  /* creation order = MAE's state dict order; init draws follow it */
  vit->cls_token = m3ret_params_add (params, n_cls, 3, cls_shape, TRUE, error);
  if (vit->cls_token == NULL)
    goto fail;
  vit->pos_embed = m3ret_params_add (params, n_pos, 3, pos_shape, FALSE, error);
  if (vit->pos_embed == NULL)
    goto fail;
  vit->patch_w = m3ret_params_add (params, n_pw, 5, pw_shape, TRUE, error);
  if (vit->patch_w == NULL)
    goto fail;
  vit->patch_b = m3ret_params_add (params, n_pb, 1, pb_shape, TRUE, error);
  if (vit->patch_b == NULL)
    goto fail;
  vit->blocks = m3ret_blocks_new (params, n_blocks, d, c->depth, c->heads, c->mlp_hidden, c->eps,
                                  rng, error);
  if (vit->blocks == NULL || !add_norm (params, n_norm, d, &vit->norm_w, &vit->norm_b, error))
    goto fail;

  m3ret_params_init_xavier_uniform (vit->patch_w, rng);
  m3ret_params_init_normal (vit->cls_token, rng, 0.02f);
  m3ret_pos_embed_upload (vit->pos_embed, d, c->grid);
  return vit;

fail:
  m3ret_vit_free (vit);
  return NULL;
}

void
m3ret_vit_free (M3retVit *vit)
{
  if (vit == NULL)
    return;
  m3ret_blocks_free (vit->blocks);
  g_free (vit);
}

const M3retVitConfig *
m3ret_vit_get_config (const M3retVit *vit)
{
  return &vit->config;
}

void
m3ret_vit_set_pool (M3retVit *vit, M3retPool pool)
{
  vit->config.pool = pool;
}

M3retParams *
m3ret_vit_get_params (const M3retVit *vit)
{
  return vit->params;
}

M3retTensor *
m3ret_vit_patchify (M3retGraph *g, const M3retVit *vit, const float *x, gint batch, gint frames)
{
  const M3retVitConfig *c = &vit->config;
  gint l = m3ret_vit_config_n_tokens (c, frames);
  gint p = m3ret_vit_config_patch_values (c);
  gint64 shape[3] = { batch, l, p };
  float *host = graph_host_scratch (g, sizeof (float) * (gsize) batch * l * p);
  m3ret_patchify (x, batch, c->in_chans, frames, c->grid[1] * c->tubelet[1],
                  c->grid[2] * c->tubelet[2], c->tubelet, host);
  return m3ret_graph_from_host (g, 3, shape, host, FALSE);
}

M3retTensor *
m3ret_vit_embed_patches (M3retGraph *g, const M3retVit *vit, M3retTensor *patches)
{
  if (patches == NULL)
    return NULL;
  const M3retVitConfig *c = &vit->config;
  gint d = c->dim, p = m3ret_vit_config_patch_values (c);
  gint64 l = patches->shape[1];
  gint64 max_l = (gint64) c->grid[0] * c->grid[1] * c->grid[2];
  if (patches->ndim != 3 || patches->shape[2] != p || l > max_l
      || l % ((gint64) c->grid[1] * c->grid[2]) != 0) {
    g_autofree gchar *s = m3ret_tensor_shape_string (patches);
    g_critical ("vit: patch rows %s do not fit tubelets of %d values on a %d×%d×%d grid", s, p,
                c->grid[0], c->grid[1], c->grid[2]);
    return NULL;
  }
  gint64 w_shape[2] = { d, p }, pos_shape[2] = { l, d };
  M3retTensor *w = m3ret_op_reshape (g, vit->patch_w, 2, w_shape);
  M3retTensor *x = m3ret_op_linear (g, patches, w, vit->patch_b);
  M3retTensor *pos = graph_const_view_at (g, vit->pos_embed, (gsize) d, 2, pos_shape);
  return m3ret_op_add (g, x, pos);
}

M3retTensor *
m3ret_vit_forward (M3retGraph *g, const M3retVit *vit, M3retTensor *patches, const gint32 *keep,
                   gint n_keep)
{
  return m3ret_vit_forward_blocks (g, vit, patches, keep, n_keep, vit->config.depth, 1);
}

M3retTensor *
m3ret_vit_forward_blocks (M3retGraph *g, const M3retVit *vit, M3retTensor *patches,
                          const gint32 *keep, gint n_keep, gint last, gint count)
{
  const M3retVitConfig *c = &vit->config;
  M3retTensor *x = m3ret_vit_embed_patches (g, vit, patches);
  if (x == NULL)
    return NULL;
  if (keep != NULL)
    x = m3ret_op_gather_tokens (g, x, keep, n_keep);
  gint64 one_shape[3] = { 1, 1, c->dim };
  /* the CLS row of the table is zero, added anyway as MAE does */
  M3retTensor *pos0 = graph_const_view_at (g, vit->pos_embed, 0, 3, one_shape);
  M3retTensor *cls = m3ret_op_add (g, vit->cls_token, pos0);
  cls = m3ret_op_expand_tokens (g, cls, (gint) patches->shape[0], 1);
  x = m3ret_op_concat_tokens (g, cls, x);
  x = m3ret_blocks_forward_mean (g, vit->blocks, x, last, count);
  return m3ret_op_layernorm (g, x, vit->norm_w, vit->norm_b, c->eps);
}

M3retTensor *
m3ret_vit_pool (M3retGraph *g, const M3retVit *vit, M3retTensor *tokens)
{
  if (tokens == NULL)
    return NULL;
  gint64 b = tokens->shape[0], n = tokens->shape[1], d = tokens->shape[2];
  gint64 shape[2] = { b, d };
  M3retTensor *cls = m3ret_op_reshape (g, m3ret_op_slice_tokens (g, tokens, 0, 1), 2, shape);
  if (vit->config.pool == M3RET_POOL_CLS)
    return cls;
  if (vit->config.pool == M3RET_POOL_GEM || vit->config.pool == M3RET_POOL_GRID) {
    g_critical ("vit: pool=%s is read out on the host (m3ret_readout_rows)",
                m3ret_vit_pool_name (vit->config.pool));
    return NULL;
  }
  /* no patch token (cannot happen for a grid): their mean is the CLS */
  M3retTensor *mean = n > 1 ? m3ret_op_mean_tokens (g, m3ret_op_slice_tokens (g, tokens, 1,
                                                                              (gint) (n - 1)))
                            : cls;
  if (vit->config.pool == M3RET_POOL_MEAN)
    return mean;
  /* [cls/‖cls‖ | mean/‖mean‖] row by row: two one-token rows side by side */
  gint64 row[3] = { b, 1, d }, both[2] = { b, 2 * d };
  M3retTensor *a = m3ret_op_reshape (g, m3ret_op_l2normalize (g, cls, 1e-12f), 3, row);
  M3retTensor *c = m3ret_op_reshape (g, m3ret_op_l2normalize (g, mean, 1e-12f), 3, row);
  return m3ret_op_reshape (g, m3ret_op_concat_tokens (g, a, c), 2, both);
}

M3retTensor *
m3ret_vit_embed (M3retGraph *g, const M3retVit *vit, M3retTensor *patches)
{
  M3retTensor *tokens = m3ret_vit_forward (g, vit, patches, NULL, 0);
  return m3ret_op_l2normalize (g, m3ret_vit_pool (g, vit, tokens), 1e-12f);
}

gdouble
m3ret_vit_flops (const M3retVit *vit, gint batch, gint tokens)
{
  const M3retVitConfig *c = &vit->config;
  gdouble n = tokens + 1;
  gdouble embed = 2.0 * batch * tokens * (gdouble) m3ret_vit_config_patch_values (c) * c->dim;
  return embed + m3ret_blocks_flops (vit->blocks, batch * n, n);
}
