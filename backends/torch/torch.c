/* torch.c — the `torch` backend plugin: the backend table on libtorch.
 *
 * Every entry forwards to the C surface of torch-shim.cpp, the only file
 * that sees libtorch.  This file owns what is m3ret's: the keys, the probe
 * (score), GError, and the thread settings.
 *
 * Keys (they join [pipeline] when backend=torch):
 *   device=cpu|cuda   where tensors live and ops run
 *   device_index=N    which CUDA device
 *   dtype=float32|bfloat16   precision of the matrix products; memory and
 *                     every other op stay float32
 * [pipeline] threads sets libtorch's intra-op threads; OpenBLAS (which
 * Debian's libtorch calls for CPU matmuls) is held to one thread, so the
 * two pools never compete for the cores (docs/PLATFORM.md).
 */
#include "config.h"

#include <cblas.h>
#include <string.h>

#include "m3ret-plugin.h"
#include "torch-shim.h"

static const M3retKeySpec torch_keys[] = {
  M3RET_KEY_ENUM_SPEC ("device", "cpu", "cpu|cuda", "where the torch backend runs (cuda needs a GPU)"),
  M3RET_KEY_INT_SPEC ("device_index", "0", 0, 63, "which CUDA device, with device=cuda"),
  M3RET_KEY_ENUM_SPEC ("dtype", "float32", "float32|bfloat16",
                       "precision of matrix products (memory and other ops stay float32)"),
  M3RET_KEY_END
};

typedef struct {
  gboolean cuda;
  gint index;
  gboolean bf16;
  gint threads;
} TorchSettings;

static void
settings_from_config (const M3retConfig *config, TorchSettings *out)
{
  out->cuda = FALSE;
  out->index = 0;
  out->bf16 = FALSE;
  out->threads = 1;
  if (config == NULL)
    return;
  if (m3ret_config_has_key (config, "device"))
    out->cuda = g_strcmp0 (m3ret_config_get_string (config, "device"), "cuda") == 0;
  if (m3ret_config_has_key (config, "device_index"))
    out->index = (gint) m3ret_config_get_int (config, "device_index");
  if (m3ret_config_has_key (config, "dtype"))
    out->bf16 = g_strcmp0 (m3ret_config_get_string (config, "dtype"), "bfloat16") == 0;
  if (m3ret_config_has_key (config, "threads"))
    out->threads = CLAMP ((gint) m3ret_config_get_int (config, "threads"), 1, 256);
}

/* device=cpu is always usable; device=cuda only with a device libtorch sees. */
static guint
torch_score (const M3retConfig *config, GError **error)
{
  TorchSettings set;
  settings_from_config (config, &set);
  if (!set.cuda)
    return 1;
  gint count = torch_shim_cuda_device_count ();
  if (count == 0) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                 "torch: device=cuda requested but no CUDA device is available (%s; libtorch %s)",
                 torch_shim_cuda_problem (), torch_shim_version ());
    return 0;
  }
  if (set.index >= count) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                 "torch: device_index=%d but libtorch sees %d CUDA device(s)", set.index, count);
    return 0;
  }
  return 10;
}

static void
report_op_failure (const char *op, const char *message)
{
  g_critical ("torch backend: %s failed: %s", op, message);
}

static gpointer
torch_create (const M3retConfig *config, GError **error)
{
  TorchSettings set;
  settings_from_config (config, &set);
  gchar err[512] = "";
  /* OpenBLAS runs CPU matmuls inside libtorch; libtorch's own pool gets
   * the threads (see the header comment). */
  openblas_set_num_threads (1);
  TorchShim *shim = torch_shim_new (set.cuda, set.index, set.bf16, set.threads,
                                    report_op_failure, err, sizeof err);
  if (shim == NULL)
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                 "torch backend: cannot start on %s: %s", set.cuda ? "cuda" : "cpu", err);
  return shim;
}

static void
torch_destroy (gpointer self)
{
  torch_shim_free (self);
}

static gpointer
torch_alloc (gpointer self, gsize nbytes, GError **error)
{
  gchar err[512] = "";
  gpointer mem = torch_shim_alloc (self, nbytes, err, sizeof err);
  if (mem == NULL)
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_NO_MEMORY,
                 "torch backend: cannot allocate %" G_GSIZE_FORMAT " bytes: %s", nbytes, err);
  return mem;
}

static void
torch_free (gpointer self, gpointer mem)
{
  torch_shim_release (self, mem);
}

static void
torch_upload (gpointer self, gpointer dst, gconstpointer host_src, gsize nbytes)
{
  torch_shim_upload (self, dst, host_src, nbytes);
}

static void
torch_download (gpointer self, gpointer host_dst, gconstpointer src, gsize nbytes)
{
  torch_shim_download (self, host_dst, src, nbytes);
}

static void
torch_synchronize (gpointer self)
{
  torch_shim_synchronize (self);
}

static void
torch_gemm (gpointer self, gboolean trans_a, gboolean trans_b, gint m, gint n, gint k,
            gfloat alpha, const float *a, gint lda, const float *b, gint ldb, gfloat beta,
            float *c, gint ldc)
{
  torch_shim_gemm (self, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void
torch_fill (gpointer self, float *x, gsize n, gfloat value)
{
  torch_shim_fill (self, x, n, value);
}

static void
torch_axpby (gpointer self, gsize n, gfloat a, const float *x, gfloat b, float *y)
{
  torch_shim_axpby (self, n, a, x, b, y);
}

static void
torch_add_bcast (gpointer self, gsize n, const float *x, gsize ny, const float *y, float *out)
{
  torch_shim_add_bcast (self, n, x, ny, y, out);
}

static void
torch_reduce_period (gpointer self, gsize n, const float *x, gsize ny, gfloat beta, float *out)
{
  torch_shim_reduce_period (self, n, x, ny, beta, out);
}

static void
torch_mul (gpointer self, gsize n, const float *x, const float *y, gfloat beta, float *out)
{
  torch_shim_mul (self, n, x, y, beta, out);
}

static void
torch_scale_by (gpointer self, gsize n, const float *x, const float *s, gfloat beta, float *out)
{
  torch_shim_scale_by (self, n, x, s, beta, out);
}

static void
torch_gelu_fwd (gpointer self, gsize n, const float *x, float *out)
{
  torch_shim_gelu_fwd (self, n, x, out);
}

static void
torch_gelu_bwd (gpointer self, gsize n, const float *x, const float *dout, float *dx)
{
  torch_shim_gelu_bwd (self, n, x, dout, dx);
}

static gdouble
torch_sumsq (gpointer self, gsize n, const float *x)
{
  return torch_shim_sumsq (self, n, x);
}

static void
torch_layernorm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                     const float *gamma, const float *beta, float *out, float *mean, float *rstd)
{
  torch_shim_layernorm_fwd (self, rows, cols, eps, x, gamma, beta, out, mean, rstd);
}

static void
torch_layernorm_bwd (gpointer self, gint rows, gint cols, const float *x, const float *gamma,
                     const float *mean, const float *rstd, const float *dout, float *dx,
                     float *dgamma, float *dbeta)
{
  torch_shim_layernorm_bwd (self, rows, cols, x, gamma, mean, rstd, dout, dx, dgamma, dbeta);
}

static void
torch_softmax_fwd (gpointer self, gint rows, gint cols, const float *x, float *out)
{
  torch_shim_softmax_fwd (self, rows, cols, x, out);
}

static void
torch_softmax_bwd (gpointer self, gint rows, gint cols, const float *y, const float *dy,
                   float *dx)
{
  torch_shim_softmax_bwd (self, rows, cols, y, dy, dx);
}

static void
torch_l2norm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x, float *out)
{
  torch_shim_l2norm_fwd (self, rows, cols, eps, x, out);
}

static void
torch_l2norm_bwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                  const float *dout, float *dx)
{
  torch_shim_l2norm_bwd (self, rows, cols, eps, x, dout, dx);
}

static void
torch_gather_rows (gpointer self, gint m, gint cols, const float *x, const gint32 *idx,
                   float *out)
{
  torch_shim_gather_rows (self, m, cols, x, idx, out);
}

static void
torch_scatter_add_rows (gpointer self, gint m, gint cols, const float *dout, const gint32 *idx,
                        float *dx)
{
  torch_shim_scatter_add_rows (self, m, cols, dout, idx, dx);
}

static void
torch_copy2d (gpointer self, gint rows, gint cols, const float *src, gint lds, gfloat beta,
              float *dst, gint ldd)
{
  torch_shim_copy2d (self, rows, cols, src, lds, beta, dst, ldd);
}

static void
torch_reduce_mid (gpointer self, gint outer, gint inner, gint cols, gfloat scale, const float *x,
                  gfloat beta, float *out)
{
  torch_shim_reduce_mid (self, outer, inner, cols, scale, x, beta, out);
}

static void
torch_expand_mid (gpointer self, gint outer, gint inner, gint cols, gfloat scale,
                  const float *dout, float *dx)
{
  torch_shim_expand_mid (self, outer, inner, cols, scale, dout, dx);
}

static void
torch_attention_fwd (gpointer self, const M3retAttentionShape *shape, const float *qkv,
                     float *probs, float *out)
{
  torch_shim_attention_fwd (self, shape->batch, shape->tokens, shape->dim, shape->heads,
                            shape->scale, qkv, probs, out);
}

static void
torch_attention_bwd (gpointer self, const M3retAttentionShape *shape, const float *qkv,
                     const float *probs, const float *dout, float *dqkv)
{
  torch_shim_attention_bwd (self, shape->batch, shape->tokens, shape->dim, shape->heads,
                            shape->scale, qkv, probs, dout, dqkv);
}

static void
torch_mse_fwd (gpointer self, gint rows, gint cols, const float *x, const float *y,
               const float *mask, float *out)
{
  torch_shim_mse_fwd (self, rows, cols, x, y, mask, out);
}

static void
torch_mse_bwd (gpointer self, gint rows, gint cols, const float *x, const float *y,
               const float *mask, const float *dout, float *dx, float *dy)
{
  torch_shim_mse_bwd (self, rows, cols, x, y, mask, dout, dx, dy);
}

static void
torch_logdet_fwd (gpointer self, gint rows, gint p, gfloat c, const float *z, float *out,
                  float *inv)
{
  torch_shim_logdet_fwd (self, rows, p, c, z, out, inv);
}

static void
torch_logdet_bwd (gpointer self, gint rows, gint p, gfloat c, const float *z, const float *inv,
                  const float *dout, float *dz)
{
  torch_shim_logdet_bwd (self, rows, p, c, z, inv, dout, dz);
}

static void
torch_sum_fwd (gpointer self, gsize n, const float *x, gfloat beta, float *out)
{
  torch_shim_sum_fwd (self, n, x, beta, out);
}

static void
torch_adamw (gpointer self, gsize n, float *param, const float *grad, float *m, float *v,
             gfloat lr, gfloat beta1, gfloat beta2, gfloat eps, gfloat weight_decay, gint t)
{
  torch_shim_adamw (self, n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, t);
}

static const M3retBackendVTable torch_vtable = {
  .score = torch_score,
  .create = torch_create,
  .destroy = torch_destroy,
  .alloc = torch_alloc,
  .free = torch_free,
  .upload = torch_upload,
  .download = torch_download,
  .synchronize = torch_synchronize,
  .gemm = torch_gemm,
  .fill = torch_fill,
  .axpby = torch_axpby,
  .add_bcast = torch_add_bcast,
  .reduce_period = torch_reduce_period,
  .mul = torch_mul,
  .scale_by = torch_scale_by,
  .gelu_fwd = torch_gelu_fwd,
  .gelu_bwd = torch_gelu_bwd,
  .sumsq = torch_sumsq,
  .layernorm_fwd = torch_layernorm_fwd,
  .layernorm_bwd = torch_layernorm_bwd,
  .softmax_fwd = torch_softmax_fwd,
  .softmax_bwd = torch_softmax_bwd,
  .l2norm_fwd = torch_l2norm_fwd,
  .l2norm_bwd = torch_l2norm_bwd,
  .gather_rows = torch_gather_rows,
  .scatter_add_rows = torch_scatter_add_rows,
  .copy2d = torch_copy2d,
  .reduce_mid = torch_reduce_mid,
  .expand_mid = torch_expand_mid,
  .attention_fwd = torch_attention_fwd,
  .attention_bwd = torch_attention_bwd,
  .mse_fwd = torch_mse_fwd,
  .mse_bwd = torch_mse_bwd,
  .logdet_fwd = torch_logdet_fwd,
  .logdet_bwd = torch_logdet_bwd,
  .sum_fwd = torch_sum_fwd,
  .adamw = torch_adamw,
};

M3RET_PLUGIN_DEFINE (torch, M3RET_PLUGIN_BACKEND, "0.1.0",
                     "libtorch on the CPU or a CUDA GPU (device=cpu|cuda)", "LGPL-2.1-or-later",
                     torch_keys, NULL, &torch_vtable)
