/* torch.c — the `torch` backend plugin: the backend table on libtorch.
 *
 * Every entry forwards to the table of libm3ret-torch-shim.so (built from
 * torch-shim.cpp, the only file that sees libtorch), which this plugin
 * opens from its own folder the first time a torch device is probed or
 * created.  Loading the plugin itself, as every command and test suite
 * does to list plugins, therefore costs nothing: libtorch takes seconds
 * to load, and seconds again to run its static destructors at exit.
 * This file owns what is m3ret's: the keys, the probe (score), GError and
 * the thread settings.
 *
 * Keys (they join [pipeline] when backend=torch):
 *   device=cpu|cuda   where tensors live and ops run
 *   device_index=N    which CUDA device (left out under mpirun or srun: the
 *                     local rank's, in turn over the devices)
 *   dtype=float32|bfloat16   precision of the matrix products; memory and
 *                     every other op stay float32
 * Threads: on device=cpu, libtorch's matmuls call OpenBLAS (Debian's
 * build), and its other ops run on its own OpenMP pool.  Both pools at
 * `threads` oversubscribe the cores (docs/PLATFORM-NOTES.md: a ViT step
 * twice as slow), so the matmuls, where the time goes, get OpenBLAS with
 * [pipeline] threads and libtorch's pool is held to one thread.  On cuda the host
 * only queues kernels: one thread each.
 */
#define _GNU_SOURCE /* dladdr */
#include "config.h"

#include <cblas.h>
#include <dlfcn.h>
#include <gmodule.h>
#include <string.h>

#include "m3ret-plugin.h"
#include "torch-shim.h"

/* device= and dtype=, in the order of their choices */
typedef enum { TORCH_DEVICE_CPU, TORCH_DEVICE_CUDA } TorchDevice;
typedef enum { TORCH_DTYPE_FLOAT32, TORCH_DTYPE_BFLOAT16 } TorchDtype;

/* torch_keys as m3ret_config_fill() writes them. */
typedef struct {
  TorchDevice device;
  gint64 device_index;
  TorchDtype dtype;
} TorchSettings;

static const M3retKeySpec torch_keys[] = {
  M3RET_KEY_ENUM_FIELD (TorchSettings, device, "device", "cpu", "cpu|cuda",
                        "where the torch backend runs (cuda needs a GPU)"),
  M3RET_KEY_INT_FIELD (TorchSettings, device_index, "device_index", "0", 0, 63,
                       "which CUDA device, with device=cuda"),
  M3RET_KEY_ENUM_FIELD (TorchSettings, dtype, "dtype", "float32", "float32|bfloat16",
                        "precision of matrix products (memory and other ops stay float32)"),
  M3RET_KEY_END
};

/* The keys of @config into @set (the defaults without a config); FALSE
 * with @error when @config lacks them (the caller's bug). */
static gboolean
settings_from_config (const M3retConfig *config, TorchSettings *set, GError **error)
{
  *set = (TorchSettings) { TORCH_DEVICE_CPU, 0, TORCH_DTYPE_FLOAT32 };
  return config == NULL || m3ret_config_fill (config, torch_keys, set, error);
}

/* The shim library's table, loaded once per process (libraries are never
 * unloaded, as plugins are not).  NULL with @error when it cannot be. */
typedef struct {
  const TorchShimApi *api;
  gchar *problem;
} ShimLoad;

static gpointer
load_shim (gpointer data)
{
  ShimLoad *load = g_new0 (ShimLoad, 1);
  Dl_info self;
  if (dladdr ((gconstpointer) load_shim, &self) == 0 || self.dli_fname == NULL) {
    load->problem = g_strdup ("cannot find the folder of the torch plugin");
    return load;
  }
  g_autofree gchar *dir = g_path_get_dirname (self.dli_fname);
  g_autofree gchar *path = g_build_filename (dir, TORCH_SHIM_LIBRARY, NULL);
  GModule *module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL) {
    load->problem = g_strdup_printf ("cannot load %s: %s", path, g_module_error ());
    return load;
  }
  TorchShimApiFunc get_api = NULL;
  if (!g_module_symbol (module, TORCH_SHIM_API_SYMBOL, (gpointer *) &get_api) || get_api == NULL) {
    load->problem = g_strdup_printf ("%s exports no %s", path, TORCH_SHIM_API_SYMBOL);
    return load;
  }
  const TorchShimApi *api = get_api ();
  if (api->api_version != TORCH_SHIM_API_VERSION) {
    load->problem = g_strdup_printf ("%s has shim API %d, the plugin needs %d (rebuild both)",
                                     path, api->api_version, TORCH_SHIM_API_VERSION);
    return load;
  }
  g_module_make_resident (module);
  load->api = api;
  return load;
}

static const TorchShimApi *
shim_api (GError **error)
{
  static GOnce once = G_ONCE_INIT;
  const ShimLoad *load = g_once (&once, load_shim, NULL);
  if (load->api == NULL)
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED, "torch backend: %s",
                 load->problem);
  return load->api;
}

/* A context: the shim's table and the shim's own context. */
typedef struct {
  const TorchShimApi *api;
  TorchShim *shim;
} Torch;

/* Data-parallel (mpirun, srun): with device_index left at its default,
 * the ranks of one machine take its CUDA devices in turn, local rank r
 * device r mod count. */
static void
pick_local_device (const M3retConfig *config, const TorchShimApi *api, TorchSettings *set)
{
  if (set->device != TORCH_DEVICE_CUDA ||
      (config != NULL && !m3ret_config_is_default (config, "device_index")))
    return;
  static const gchar *const vars[] = { "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                       "SLURM_LOCALID" };
  for (guint i = 0; i < G_N_ELEMENTS (vars); i++) {
    const gchar *v = g_getenv (vars[i]);
    gint64 rank = v != NULL ? g_ascii_strtoll (v, NULL, 10) : -1;
    gint count = rank >= 0 ? api->cuda_device_count () : 0;
    if (count > 0) {
      set->device_index = rank % count;
      return;
    }
  }
}

/* device=cpu is usable wherever the shim loads; device=cuda only with a
 * device libtorch sees. */
static guint
torch_score (const M3retConfig *config, GError **error)
{
  TorchSettings set;
  if (!settings_from_config (config, &set, error))
    return 0;
  const TorchShimApi *api = shim_api (error);
  if (api == NULL)
    return 0;
  if (set.device != TORCH_DEVICE_CUDA)
    return 1;
  pick_local_device (config, api, &set);
  gint count = api->cuda_device_count ();
  if (count == 0) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                 "torch: device=cuda requested but no CUDA device is available (%s; libtorch %s)",
                 api->cuda_problem (), api->version ());
    return 0;
  }
  if (set.device_index >= count) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                 "torch: device_index=%d but libtorch sees %d CUDA device(s)",
                 (gint) set.device_index, count);
    return 0;
  }
  return 10;
}

static gpointer
torch_create (const M3retConfig *config, guint n_threads, GError **error)
{
  TorchSettings set;
  if (!settings_from_config (config, &set, error))
    return NULL;
  const TorchShimApi *api = shim_api (error);
  if (api == NULL)
    return NULL;
  pick_local_device (config, api, &set);
  gchar err[512] = "";
  /* see the header comment; OpenBLAS's count is process-wide */
  gboolean cuda = set.device == TORCH_DEVICE_CUDA;
  gboolean bf16 = set.dtype == TORCH_DTYPE_BFLOAT16;
  openblas_set_num_threads (cuda ? 1 : (gint) CLAMP (n_threads, 1, 256));
  TorchShim *shim = api->create (cuda, (gint) set.device_index, bf16, 1, err, sizeof err);
  if (shim == NULL) {
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED,
                 "torch backend: cannot start on %s: %s", cuda ? "cuda" : "cpu", err);
    return NULL;
  }
  Torch *t = g_new0 (Torch, 1);
  t->api = api;
  t->shim = shim;
  return t;
}

static void
torch_destroy (gpointer self)
{
  Torch *t = self;
  if (t == NULL)
    return;
  t->api->destroy (t->shim);
  g_free (t);
}

static gpointer
torch_alloc (gpointer self, gsize nbytes, GError **error)
{
  Torch *t = self;
  gchar err[512] = "";
  gpointer mem = t->api->alloc (t->shim, nbytes, err, sizeof err);
  if (mem == NULL)
    g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_NO_MEMORY,
                 "torch backend: cannot allocate %" G_GSIZE_FORMAT " bytes: %s", nbytes, err);
  return mem;
}

static void
torch_free (gpointer self, gpointer mem)
{
  Torch *t = self;
  t->api->release (t->shim, mem);
}

static void
torch_upload (gpointer self, gpointer dst, gconstpointer host_src, gsize nbytes)
{
  Torch *t = self;
  t->api->upload (t->shim, dst, host_src, nbytes);
}

static void
torch_download (gpointer self, gpointer host_dst, gconstpointer src, gsize nbytes)
{
  Torch *t = self;
  t->api->download (t->shim, host_dst, src, nbytes);
}

static void
torch_synchronize (gpointer self)
{
  Torch *t = self;
  t->api->synchronize (t->shim);
}

static void
torch_gemm (gpointer self, gboolean trans_a, gboolean trans_b, gint m, gint n, gint k,
            gfloat alpha, const float *a, gint lda, const float *b, gint ldb, gfloat beta,
            float *c, gint ldc)
{
  Torch *t = self;
  t->api->gemm (t->shim, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void
torch_fill (gpointer self, float *x, gsize n, gfloat value)
{
  Torch *t = self;
  t->api->fill (t->shim, x, n, value);
}

static void
torch_axpby (gpointer self, gsize n, gfloat a, const float *x, gfloat b, float *y)
{
  Torch *t = self;
  t->api->axpby (t->shim, n, a, x, b, y);
}

static void
torch_add_bcast (gpointer self, gsize n, const float *x, gsize ny, const float *y, float *out)
{
  Torch *t = self;
  t->api->add_bcast (t->shim, n, x, ny, y, out);
}

static void
torch_reduce_period (gpointer self, gsize n, const float *x, gsize ny, gfloat beta, float *out)
{
  Torch *t = self;
  t->api->reduce_period (t->shim, n, x, ny, beta, out);
}

static void
torch_mul (gpointer self, gsize n, const float *x, const float *y, gfloat beta, float *out)
{
  Torch *t = self;
  t->api->mul (t->shim, n, x, y, beta, out);
}

static void
torch_scale_by (gpointer self, gsize n, const float *x, const float *s, gfloat beta, float *out)
{
  Torch *t = self;
  t->api->scale_by (t->shim, n, x, s, beta, out);
}

static void
torch_gelu_fwd (gpointer self, gsize n, const float *x, float *out)
{
  Torch *t = self;
  t->api->gelu_fwd (t->shim, n, x, out);
}

static void
torch_gelu_bwd (gpointer self, gsize n, const float *x, const float *dout, float *dx)
{
  Torch *t = self;
  t->api->gelu_bwd (t->shim, n, x, dout, dx);
}

static gdouble
torch_sumsq (gpointer self, gsize n, const float *x)
{
  Torch *t = self;
  return t->api->sumsq (t->shim, n, x);
}

static void
torch_layernorm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                     const float *gamma, const float *beta, float *out, float *mean, float *rstd)
{
  Torch *t = self;
  t->api->layernorm_fwd (t->shim, rows, cols, eps, x, gamma, beta, out, mean, rstd);
}

static void
torch_layernorm_bwd (gpointer self, gint rows, gint cols, const float *x, const float *gamma,
                     const float *mean, const float *rstd, const float *dout, float *dx,
                     float *dgamma, float *dbeta)
{
  Torch *t = self;
  t->api->layernorm_bwd (t->shim, rows, cols, x, gamma, mean, rstd, dout, dx, dgamma, dbeta);
}

static void
torch_softmax_fwd (gpointer self, gint rows, gint cols, const float *x, float *out)
{
  Torch *t = self;
  t->api->softmax_fwd (t->shim, rows, cols, x, out);
}

static void
torch_softmax_bwd (gpointer self, gint rows, gint cols, const float *y, const float *dy,
                   float *dx)
{
  Torch *t = self;
  t->api->softmax_bwd (t->shim, rows, cols, y, dy, dx);
}

static void
torch_l2norm_fwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x, float *out)
{
  Torch *t = self;
  t->api->l2norm_fwd (t->shim, rows, cols, eps, x, out);
}

static void
torch_l2norm_bwd (gpointer self, gint rows, gint cols, gfloat eps, const float *x,
                  const float *dout, float *dx)
{
  Torch *t = self;
  t->api->l2norm_bwd (t->shim, rows, cols, eps, x, dout, dx);
}

static void
torch_gather_rows (gpointer self, gint m, gint cols, const float *x, const gint32 *idx,
                   float *out)
{
  Torch *t = self;
  t->api->gather_rows (t->shim, m, cols, x, idx, out);
}

static void
torch_scatter_add_rows (gpointer self, gint m, gint cols, const float *dout, const gint32 *idx,
                        float *dx)
{
  Torch *t = self;
  t->api->scatter_add_rows (t->shim, m, cols, dout, idx, dx);
}

static void
torch_copy2d (gpointer self, gint rows, gint cols, const float *src, gint lds, gfloat beta,
              float *dst, gint ldd)
{
  Torch *t = self;
  t->api->copy2d (t->shim, rows, cols, src, lds, beta, dst, ldd);
}

static void
torch_reduce_mid (gpointer self, gint outer, gint inner, gint cols, gfloat scale, const float *x,
                  gfloat beta, float *out)
{
  Torch *t = self;
  t->api->reduce_mid (t->shim, outer, inner, cols, scale, x, beta, out);
}

static void
torch_expand_mid (gpointer self, gint outer, gint inner, gint cols, gfloat scale,
                  const float *dout, float *dx)
{
  Torch *t = self;
  t->api->expand_mid (t->shim, outer, inner, cols, scale, dout, dx);
}

static void
torch_attention_fwd (gpointer self, const M3retAttentionShape *shape, const float *qkv,
                     float *probs, float *out)
{
  Torch *t = self;
  t->api->attention_fwd (t->shim, shape->batch, shape->tokens, shape->dim, shape->heads,
                         shape->scale, qkv, probs, out);
}

static void
torch_attention_bwd (gpointer self, const M3retAttentionShape *shape, const float *qkv,
                     const float *probs, const float *dout, float *dqkv)
{
  Torch *t = self;
  t->api->attention_bwd (t->shim, shape->batch, shape->tokens, shape->dim, shape->heads,
                         shape->scale, qkv, probs, dout, dqkv);
}

static void
torch_mse_fwd (gpointer self, gint rows, gint cols, const float *x, const float *y,
               const float *mask, float *out)
{
  Torch *t = self;
  t->api->mse_fwd (t->shim, rows, cols, x, y, mask, out);
}

static void
torch_mse_bwd (gpointer self, gint rows, gint cols, const float *x, const float *y,
               const float *mask, const float *dout, float *dx, float *dy)
{
  Torch *t = self;
  t->api->mse_bwd (t->shim, rows, cols, x, y, mask, dout, dx, dy);
}

static void
torch_logdet_fwd (gpointer self, gint rows, gint p, gfloat c, const float *z, float *out,
                  float *inv)
{
  Torch *t = self;
  t->api->logdet_fwd (t->shim, rows, p, c, z, out, inv);
}

static void
torch_logdet_bwd (gpointer self, gint rows, gint p, gfloat c, const float *z, const float *inv,
                  const float *dout, float *dz)
{
  Torch *t = self;
  t->api->logdet_bwd (t->shim, rows, p, c, z, inv, dout, dz);
}

static void
torch_sum_fwd (gpointer self, gsize n, const float *x, gfloat beta, float *out)
{
  Torch *t = self;
  t->api->sum_fwd (t->shim, n, x, beta, out);
}

static void
torch_adamw (gpointer self, gsize n, float *param, const float *grad, float *m, float *v,
             gfloat lr, gfloat beta1, gfloat beta2, gfloat eps, gfloat weight_decay, gint t)
{
  Torch *torch = self;
  torch->api->adamw (torch->shim, n, param, grad, m, v, lr, beta1, beta2, eps, weight_decay, t);
}

/* The minor 5 entries: a libtorch exception becomes @error. */
static gboolean
shim_result (int rc, const char *err, GError **error)
{
  if (rc == 0)
    return TRUE;
  g_set_error (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED, "torch backend: %s", err);
  return FALSE;
}

static gboolean
torch_exp_fwd (gpointer self, gsize n, const float *x, float *out, GError **error)
{
  Torch *t = self;
  char err[512] = "";
  return shim_result (t->api->exp_fwd (t->shim, n, x, out, err, sizeof err), err, error);
}

static gboolean
torch_log_fwd (gpointer self, gsize n, const float *x, float *out, GError **error)
{
  Torch *t = self;
  char err[512] = "";
  return shim_result (t->api->log_fwd (t->shim, n, x, out, err, sizeof err), err, error);
}

static gboolean
torch_log_bwd (gpointer self, gsize n, const float *x, const float *dout, float *dx,
               GError **error)
{
  Torch *t = self;
  char err[512] = "";
  return shim_result (t->api->log_bwd (t->shim, n, x, dout, dx, err, sizeof err), err, error);
}

static gboolean
torch_logsumexp_fwd (gpointer self, gint rows, gint cols, const float *x, float *out,
                     GError **error)
{
  Torch *t = self;
  char err[512] = "";
  return shim_result (t->api->logsumexp_fwd (t->shim, rows, cols, x, out, err, sizeof err), err,
                      error);
}

static gboolean
torch_logsumexp_bwd (gpointer self, gint rows, gint cols, const float *x, const float *out,
                     const float *dout, float *dx, GError **error)
{
  Torch *t = self;
  char err[512] = "";
  return shim_result (
      t->api->logsumexp_bwd (t->shim, rows, cols, x, out, dout, dx, err, sizeof err), err, error);
}

static gboolean
torch_cholesky_logdet_fwd (gpointer self, gint n, const float *a, float *out, float *inv,
                           GError **error)
{
  Torch *t = self;
  char err[512] = "";
  return shim_result (t->api->cholesky_logdet_fwd (t->shim, n, a, out, inv, err, sizeof err), err,
                      error);
}

/* libtorch's exceptions in the void entries, kept by the shim */
static gboolean
torch_take_error (gpointer self, GError **error)
{
  Torch *t = self;
  char err[512] = "";
  if (t->api->take_error (t->shim, err, sizeof err) == 0)
    return TRUE;
  g_set_error_literal (error, M3RET_BACKEND_ERROR, M3RET_BACKEND_ERROR_FAILED, err);
  return FALSE;
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
  .exp_fwd = torch_exp_fwd,
  .log_fwd = torch_log_fwd,
  .log_bwd = torch_log_bwd,
  .logsumexp_fwd = torch_logsumexp_fwd,
  .logsumexp_bwd = torch_logsumexp_bwd,
  .cholesky_logdet_fwd = torch_cholesky_logdet_fwd,
  .take_error = torch_take_error,
};

M3RET_PLUGIN_DEFINE (torch, M3RET_PLUGIN_BACKEND, "0.1.0",
                     "libtorch on the CPU or a CUDA GPU (device=cpu|cuda)", "LGPL-2.1-or-later",
                     torch_keys, NULL, &torch_vtable)
