/* torch-shim.h — the plain C surface of the libtorch shim (torch-shim.cpp).
 *
 * torch-shim.cpp is the only file of the tree that includes torch headers.
 * It is built into its own library, libm3ret-torch-shim.so, which exports
 * one symbol, torch_shim_api(): a table of the functions below.  The
 * plugin (torch.c) opens that library only when a torch device is asked
 * for, so loading the plugin — which every `m3ret` command and test does
 * to list plugins — does not load libtorch (seconds to load and to exit).
 *
 * Memory passed to the op functions is memory @alloc returned (possibly an
 * offset inside it), float32, row-major; the op semantics are those of the
 * same-named entries of M3retBackendVTable (m3ret-backend.h).
 *
 * Errors.  No function lets a C++ exception out.  Creation and allocation
 * return NULL and write a message; an op that fails calls the context's
 * report function (torch.c turns it into a g_critical) and leaves its
 * output unspecified.
 */
#ifndef M3RET_TORCH_SHIM_H
#define M3RET_TORCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever TorchShimApi changes: the plugin refuses another. */
#define TORCH_SHIM_API_VERSION 3
/* The shim library's file name, looked for next to the plugin. */
#define TORCH_SHIM_LIBRARY "libm3ret-torch-shim.so"
#define TORCH_SHIM_API_SYMBOL "torch_shim_api"

typedef struct TorchShim TorchShim;

typedef struct {
  int api_version; /* TORCH_SHIM_API_VERSION */

  /* libtorch's version ("1.13.0"). (transfer none) */
  const char *(*version) (void);
  /* CUDA devices libtorch can use: 0 on a CPU-only libtorch or without a
   * GPU or driver.  Never fails. */
  int (*cuda_device_count) (void);
  /* Why there is no CUDA device (NULL when there is one). (transfer none) */
  const char *(*cuda_problem) (void);

  /* A context on the CPU (@cuda 0) or on CUDA device @index.  @bf16 runs
   * matrix products (gemm, attention) on bfloat16 copies of their
   * operands, results and everything else staying float32.  @threads sets
   * libtorch's intra-op threads.  NULL with a message in @err on failure.
   * The ops that return void keep their first failure for @take_error.
   * (transfer full) free with @destroy */
  TorchShim *(*create) (int cuda, int index, int bf16, int threads, char *err, size_t err_len);
  /* Frees the context and every block it still holds; accepts NULL. */
  void (*destroy) (TorchShim *s);

  /* ---- memory ---- */
  /* @nbytes of device memory, 64-byte aligned; NULL with a message in
   * @err when out of memory. */
  void *(*alloc) (TorchShim *s, size_t nbytes, char *err, size_t err_len);
  void (*release) (TorchShim *s, void *mem);
  void (*upload) (TorchShim *s, void *dst, const void *host_src, size_t nbytes);
  void (*download) (TorchShim *s, void *host_dst, const void *src, size_t nbytes);
  void (*synchronize) (TorchShim *s);

  /* ---- ops (m3ret-backend.h gives each one's exact semantics) ---- */
  void (*gemm) (TorchShim *s, int trans_a, int trans_b, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
  void (*fill) (TorchShim *s, float *x, size_t n, float value);
  void (*axpby) (TorchShim *s, size_t n, float a, const float *x, float b, float *y);
  void (*add_bcast) (TorchShim *s, size_t n, const float *x, size_t ny, const float *y,
                     float *out);
  void (*reduce_period) (TorchShim *s, size_t n, const float *x, size_t ny, float beta,
                         float *out);
  void (*mul) (TorchShim *s, size_t n, const float *x, const float *y, float beta, float *out);
  void (*scale_by) (TorchShim *s, size_t n, const float *x, const float *scalar, float beta,
                    float *out);
  void (*gelu_fwd) (TorchShim *s, size_t n, const float *x, float *out);
  void (*gelu_bwd) (TorchShim *s, size_t n, const float *x, const float *dout, float *dx);
  double (*sumsq) (TorchShim *s, size_t n, const float *x);

  void (*layernorm_fwd) (TorchShim *s, int rows, int cols, float eps, const float *x,
                         const float *gamma, const float *beta, float *out, float *mean,
                         float *rstd);
  void (*layernorm_bwd) (TorchShim *s, int rows, int cols, const float *x, const float *gamma,
                         const float *mean, const float *rstd, const float *dout, float *dx,
                         float *dgamma, float *dbeta);
  void (*softmax_fwd) (TorchShim *s, int rows, int cols, const float *x, float *out);
  void (*softmax_bwd) (TorchShim *s, int rows, int cols, const float *y, const float *dy,
                       float *dx);
  void (*l2norm_fwd) (TorchShim *s, int rows, int cols, float eps, const float *x, float *out);
  void (*l2norm_bwd) (TorchShim *s, int rows, int cols, float eps, const float *x,
                      const float *dout, float *dx);
  void (*gather_rows) (TorchShim *s, int m, int cols, const float *x, const int32_t *idx,
                       float *out);
  void (*scatter_add_rows) (TorchShim *s, int m, int cols, const float *dout, const int32_t *idx,
                            float *dx);
  void (*copy2d) (TorchShim *s, int rows, int cols, const float *src, int lds, float beta,
                  float *dst, int ldd);
  void (*reduce_mid) (TorchShim *s, int outer, int inner, int cols, float scale, const float *x,
                      float beta, float *out);
  void (*expand_mid) (TorchShim *s, int outer, int inner, int cols, float scale,
                      const float *dout, float *dx);

  /* probs may be NULL (no backward will run) */
  void (*attention_fwd) (TorchShim *s, int batch, int tokens, int dim, int heads, float scale,
                         const float *qkv, float *probs, float *out);
  void (*attention_bwd) (TorchShim *s, int batch, int tokens, int dim, int heads, float scale,
                         const float *qkv, const float *probs, const float *dout, float *dqkv);

  void (*mse_fwd) (TorchShim *s, int rows, int cols, const float *x, const float *y,
                   const float *mask, float *out);
  void (*mse_bwd) (TorchShim *s, int rows, int cols, const float *x, const float *y,
                   const float *mask, const float *dout, float *dx, float *dy);
  void (*logdet_fwd) (TorchShim *s, int rows, int p, float c, const float *z, float *out,
                      float *inv);
  void (*logdet_bwd) (TorchShim *s, int rows, int p, float c, const float *z, const float *inv,
                      const float *dout, float *dz);
  void (*sum_fwd) (TorchShim *s, size_t n, const float *x, float beta, float *out);

  void (*adamw) (TorchShim *s, size_t n, float *param, const float *grad, float *m, float *v,
                 float lr, float beta1, float beta2, float eps, float weight_decay, int t);

  /* since version 2: the backend's ABI minor 5 entries; 0 on success,
   * else -1 with libtorch's message in @err (@len bytes) */
  int (*exp_fwd) (TorchShim *s, size_t n, const float *x, float *out, char *err, size_t len);
  int (*log_fwd) (TorchShim *s, size_t n, const float *x, float *out, char *err, size_t len);
  int (*log_bwd) (TorchShim *s, size_t n, const float *x, const float *dout, float *dx,
                  char *err, size_t len);
  int (*logsumexp_fwd) (TorchShim *s, int rows, int cols, const float *x, float *out, char *err,
                        size_t len);
  int (*logsumexp_bwd) (TorchShim *s, int rows, int cols, const float *x, const float *out,
                        const float *dout, float *dx, char *err, size_t len);

  /* since version 3: the backend's ABI minor 6 entries */
  /* logdet and inverse of (A + Aᵀ)/2 by Cholesky, in double; -1 with the
   * message in @err when it is not positive definite or libtorch fails */
  int (*cholesky_logdet_fwd) (TorchShim *s, int n, const float *a, float *out, float *inv,
                              char *err, size_t len);
  /* 1 with the first failure of a void op since the last call in @err (the
   * record cleared), 0 when there was none */
  int (*take_error) (TorchShim *s, char *err, size_t len);
} TorchShimApi;

typedef const TorchShimApi *(*TorchShimApiFunc) (void);

/* The one symbol the shim library exports. (transfer none) */
const TorchShimApi *torch_shim_api (void);

#ifdef __cplusplus
}
#endif

#endif /* M3RET_TORCH_SHIM_H */
