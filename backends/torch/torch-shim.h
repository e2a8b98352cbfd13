/* torch-shim.h — the plain C surface of the libtorch shim (torch-shim.cpp).
 *
 * torch-shim.cpp is the only file of the tree that includes torch headers;
 * everything crosses this line as pointers, sizes and floats, so the C
 * plugin (torch.c) needs neither C++ nor libtorch's headers.
 *
 * Memory passed to the op functions is memory @torch_shim_alloc returned
 * (possibly an offset inside it), float32, row-major; the op semantics are
 * those of the same-named entries of M3retBackendVTable (m3ret-backend.h).
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

typedef struct TorchShim TorchShim;

/* Called with the failing op's name and libtorch's message. */
typedef void (*TorchShimReport) (const char *op, const char *message);

/* libtorch's version ("1.13.1"). (transfer none) */
const char *torch_shim_version (void);
/* CUDA devices libtorch can use: 0 on a CPU-only libtorch or without a
 * GPU or driver.  Never fails. */
int torch_shim_cuda_device_count (void);
/* Why there is no CUDA device (NULL when there is one). (transfer none) */
const char *torch_shim_cuda_problem (void);

/* A context on the CPU (@cuda 0) or on CUDA device @index.  @bf16 runs
 * matrix products (gemm, attention) on bfloat16 copies of their operands,
 * results and everything else staying float32.  @threads sets libtorch's
 * intra-op threads.  Returns NULL with a message in @err on failure.
 * (transfer full) free with torch_shim_free() */
TorchShim *torch_shim_new (int cuda, int index, int bf16, int threads, TorchShimReport report,
                           char *err, size_t err_len);
/* Frees the context and every block it still holds; accepts NULL. */
void torch_shim_free (TorchShim *s);

/* ---- memory ---- */
/* @nbytes of device memory, 64-byte aligned; NULL with a message in @err
 * when out of memory. */
void *torch_shim_alloc (TorchShim *s, size_t nbytes, char *err, size_t err_len);
void torch_shim_release (TorchShim *s, void *mem);
void torch_shim_upload (TorchShim *s, void *dst, const void *host_src, size_t nbytes);
void torch_shim_download (TorchShim *s, void *host_dst, const void *src, size_t nbytes);
void torch_shim_synchronize (TorchShim *s);

/* ---- ops (see m3ret-backend.h for each one's exact semantics) ---- */
void torch_shim_gemm (TorchShim *s, int trans_a, int trans_b, int m, int n, int k, float alpha,
                      const float *a, int lda, const float *b, int ldb, float beta, float *c,
                      int ldc);
void torch_shim_fill (TorchShim *s, float *x, size_t n, float value);
void torch_shim_axpby (TorchShim *s, size_t n, float a, const float *x, float b, float *y);
void torch_shim_add_bcast (TorchShim *s, size_t n, const float *x, size_t ny, const float *y,
                           float *out);
void torch_shim_reduce_period (TorchShim *s, size_t n, const float *x, size_t ny, float beta,
                               float *out);
void torch_shim_mul (TorchShim *s, size_t n, const float *x, const float *y, float beta,
                     float *out);
void torch_shim_scale_by (TorchShim *s, size_t n, const float *x, const float *scalar, float beta,
                          float *out);
void torch_shim_gelu_fwd (TorchShim *s, size_t n, const float *x, float *out);
void torch_shim_gelu_bwd (TorchShim *s, size_t n, const float *x, const float *dout, float *dx);
double torch_shim_sumsq (TorchShim *s, size_t n, const float *x);

void torch_shim_layernorm_fwd (TorchShim *s, int rows, int cols, float eps, const float *x,
                               const float *gamma, const float *beta, float *out, float *mean,
                               float *rstd);
void torch_shim_layernorm_bwd (TorchShim *s, int rows, int cols, const float *x,
                               const float *gamma, const float *mean, const float *rstd,
                               const float *dout, float *dx, float *dgamma, float *dbeta);
void torch_shim_softmax_fwd (TorchShim *s, int rows, int cols, const float *x, float *out);
void torch_shim_softmax_bwd (TorchShim *s, int rows, int cols, const float *y, const float *dy,
                             float *dx);
void torch_shim_l2norm_fwd (TorchShim *s, int rows, int cols, float eps, const float *x,
                            float *out);
void torch_shim_l2norm_bwd (TorchShim *s, int rows, int cols, float eps, const float *x,
                            const float *dout, float *dx);
void torch_shim_gather_rows (TorchShim *s, int m, int cols, const float *x, const int32_t *idx,
                             float *out);
void torch_shim_scatter_add_rows (TorchShim *s, int m, int cols, const float *dout,
                                  const int32_t *idx, float *dx);
void torch_shim_copy2d (TorchShim *s, int rows, int cols, const float *src, int lds, float beta,
                        float *dst, int ldd);
void torch_shim_reduce_mid (TorchShim *s, int outer, int inner, int cols, float scale,
                            const float *x, float beta, float *out);
void torch_shim_expand_mid (TorchShim *s, int outer, int inner, int cols, float scale,
                            const float *dout, float *dx);

void torch_shim_attention_fwd (TorchShim *s, int batch, int tokens, int dim, int heads,
                               float scale, const float *qkv, float *probs, float *out);
void torch_shim_attention_bwd (TorchShim *s, int batch, int tokens, int dim, int heads,
                               float scale, const float *qkv, const float *probs,
                               const float *dout, float *dqkv);

void torch_shim_mse_fwd (TorchShim *s, int rows, int cols, const float *x, const float *y,
                         const float *mask, float *out);
void torch_shim_mse_bwd (TorchShim *s, int rows, int cols, const float *x, const float *y,
                         const float *mask, const float *dout, float *dx, float *dy);
void torch_shim_logdet_fwd (TorchShim *s, int rows, int p, float c, const float *z, float *out,
                            float *inv);
void torch_shim_logdet_bwd (TorchShim *s, int rows, int p, float c, const float *z,
                            const float *inv, const float *dout, float *dz);
void torch_shim_sum_fwd (TorchShim *s, size_t n, const float *x, float beta, float *out);

void torch_shim_adamw (TorchShim *s, size_t n, float *param, const float *grad, float *m,
                       float *v, float lr, float beta1, float beta2, float eps,
                       float weight_decay, int t);

#ifdef __cplusplus
}
#endif

#endif /* M3RET_TORCH_SHIM_H */
