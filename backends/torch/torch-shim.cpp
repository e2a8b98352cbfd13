// torch-shim.cpp — the backend table's ops on libtorch, behind a C surface.
//
// The only file of the tree that includes torch headers (they cost ~25 s
// of compile time).  It becomes libm3ret-torch-shim.so, whose one export,
// torch_shim_api(), hands the plugin a table of the functions here (all
// internal).  Every op wraps the raw pointers it gets as tensors on
// the context's device (at::from_blob: no copy, no ownership) and writes
// its result in place, so one code path serves `cpu` and `cuda`.
//
// Memory.  A block is an at::empty byte tensor kept alive in a map from
// its address; on CUDA that goes through libtorch's caching allocator.
// The map also bounds gather/scatter, whose table entries do not say how
// many rows their source has: the rest of the block it lies in does.
//
// Semantics follow backends/cpu exactly: backward entries accumulate, beta
// arguments blend, losses are one-element device tensors (no host sync
// inside a step).  Ops run under c10::InferenceMode so libtorch records
// nothing for autograd.
#include "config.h"

#include <torch/torch.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#ifdef M3RET_TORCH_CUDA_LIBRARY
#include <dlfcn.h>
#endif

#include "torch-shim.h"

namespace {

struct Block {
  size_t nbytes;
  at::Tensor storage;
};

}  // namespace

struct TorchShim {
  at::Device device{at::kCPU};
  at::TensorOptions f32;
  at::TensorOptions i32;
  bool bf16 = false;
  // the first failure of a void op, for take_error
  std::atomic<bool> failed{false};
  std::mutex failure_lock;
  std::string failure;
  std::mutex lock;
  std::map<uintptr_t, Block> blocks;
};

namespace {

void
write_error (char *err, size_t len, const std::string &message)
{
  if (err != nullptr && len > 0)
    std::snprintf (err, len, "%s", message.c_str ());
}

std::string
message_of (const std::exception &e)
{
  auto *c10_error = dynamic_cast<const c10::Error *> (&e);
  return c10_error != nullptr ? c10_error->what_without_backtrace () : e.what ();
}

// Runs one op: no exception leaves; the first failure is kept for
// torch_shim_take_error.
template <typename F>
void
guarded (TorchShim *s, const char *op, F &&body)
{
  try {
    c10::InferenceMode no_autograd;
    body ();
  } catch (const std::exception &e) {
    std::lock_guard<std::mutex> hold (s->failure_lock);
    if (!s->failed.load ()) {
      s->failure = std::string ("torch backend: ") + op + " failed: " + message_of (e);
      s->failed.store (true);
    }
  }
}

at::Tensor
vec (TorchShim *s, const float *p, int64_t n)
{
  return at::from_blob (const_cast<float *> (p), {n}, s->f32);
}

// rows × cols with leading dimension @ld (row-major)
at::Tensor
mat (TorchShim *s, const float *p, int64_t rows, int64_t cols, int64_t ld)
{
  return at::from_blob (const_cast<float *> (p), {rows, cols}, {ld, 1}, s->f32);
}

at::Tensor
mat (TorchShim *s, const float *p, int64_t rows, int64_t cols)
{
  return mat (s, p, rows, cols, cols);
}

// The rows of width @cols from @p to the end of the block it lies in.
int64_t
rows_left_in_block (TorchShim *s, const void *p, int64_t cols)
{
  auto addr = reinterpret_cast<uintptr_t> (p);
  std::lock_guard<std::mutex> hold (s->lock);
  auto it = s->blocks.upper_bound (addr);
  TORCH_CHECK (it != s->blocks.begin (), "pointer ", p, " is not memory of this backend");
  --it;
  TORCH_CHECK (addr < it->first + it->second.nbytes, "pointer ", p,
               " is not memory of this backend");
  return (int64_t) ((it->first + it->second.nbytes - addr) / (sizeof (float) * (size_t) cols));
}

// a·b in float32, or on bfloat16 copies of the operands (float32 result)
at::Tensor
matmul (TorchShim *s, const at::Tensor &a, const at::Tensor &b)
{
  if (s->bf16)
    return at::matmul (a.to (at::kBFloat16), b.to (at::kBFloat16)).to (at::kFloat);
  return at::matmul (a, b);
}

// dst = src + beta·dst (beta 0: dst is overwritten, NaN in it or not)
void
blend (at::Tensor &dst, const at::Tensor &src, float beta)
{
  if (beta == 0.0f)
    dst.copy_ (src);
  else if (beta == 1.0f)
    dst.add_ (src);
  else
    dst.mul_ (beta).add_ (src);
}

// ---- the functions of the table, in its order ----

const char *
torch_shim_version (void)
{
  return TORCH_VERSION;
}

// What libtorch says about CUDA, found once per process (loading
// libtorch_cuda and asking the driver are not cheap, nor do they change).
struct CudaProbe {
  int count = 0;
  std::string problem;
};

const CudaProbe &
cuda_probe (void)
{
  static CudaProbe probe;
  static std::once_flag once;
  std::call_once (once, [] {
#ifdef M3RET_TORCH_CUDA_LIBRARY
    // libtorch_cuda registers CUDA with libtorch when it is loaded; nothing
    // refers to it by name, so a linker with --as-needed would drop it.
    if (dlopen (M3RET_TORCH_CUDA_LIBRARY, RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      const char *why = dlerror ();
      probe.problem = std::string ("cannot load ") + M3RET_TORCH_CUDA_LIBRARY + ": "
                      + (why != nullptr ? why : "unknown error");
      return;
    }
#endif
    try {
      if (torch::cuda::is_available ())
        probe.count = (int) torch::cuda::device_count ();
      else
        probe.problem = "torch::cuda::is_available() is false";
    } catch (const std::exception &e) {
      probe.problem = "torch::cuda::is_available() failed: " + message_of (e);
    }
  });
  return probe;
}

int
torch_shim_cuda_device_count (void)
{
  return cuda_probe ().count;
}

const char *
torch_shim_cuda_problem (void)
{
  const CudaProbe &probe = cuda_probe ();
  return probe.problem.empty () ? nullptr : probe.problem.c_str ();
}

TorchShim *
torch_shim_create (int cuda, int index, int bf16, int threads, char *err, size_t err_len)
{
  try {
    if (cuda) {
      int count = torch_shim_cuda_device_count ();
      if (index < 0 || index >= count) {
        write_error (err, err_len,
                     "CUDA device " + std::to_string (index) + " does not exist (libtorch sees "
                       + std::to_string (count) + ")");
        return nullptr;
      }
    }
    auto *s = new TorchShim ();
    s->device = cuda ? at::Device (at::kCUDA, (c10::DeviceIndex) index) : at::Device (at::kCPU);
    s->f32 = at::TensorOptions ().dtype (at::kFloat).device (s->device);
    s->i32 = at::TensorOptions ().dtype (at::kInt).device (s->device);
    s->bf16 = bf16 != 0;
    at::set_num_threads (threads > 0 ? threads : 1);
    // Inter-op threads can be set once per process, before any parallel
    // work; the step runs ops one after the other, so one is enough.
    static std::once_flag interop_once;
    std::call_once (interop_once, [] {
      try {
        at::set_num_interop_threads (1);
      } catch (const std::exception &) {
        // already fixed by an earlier user of libtorch in this process
      }
    });
    return s;
  } catch (const std::exception &e) {
    write_error (err, err_len, message_of (e));
    return nullptr;
  }
}

void
torch_shim_destroy (TorchShim *s)
{
  delete s;
}

/* ---------------------------------------------------------------- memory */

void *
torch_shim_alloc (TorchShim *s, size_t nbytes, char *err, size_t err_len)
{
  try {
    c10::InferenceMode no_autograd;
    size_t size = std::max (nbytes, (size_t) 64);
    at::Tensor storage = at::empty ({(int64_t) size}, s->f32.dtype (at::kByte));
    void *p = storage.data_ptr ();
    std::lock_guard<std::mutex> hold (s->lock);
    s->blocks[reinterpret_cast<uintptr_t> (p)] = Block{size, storage};
    return p;
  } catch (const std::exception &e) {
    write_error (err, err_len, message_of (e));
    return nullptr;
  }
}

void
torch_shim_release (TorchShim *s, void *mem)
{
  if (mem == nullptr)
    return;
  std::lock_guard<std::mutex> hold (s->lock);
  s->blocks.erase (reinterpret_cast<uintptr_t> (mem));
}

void
copy_bytes (TorchShim *s, const char *op, void *dst, bool dst_on_device, const void *src,
            bool src_on_device, size_t nbytes)
{
  if (nbytes == 0)
    return;
  if (s->device.is_cpu ()) {
    std::memcpy (dst, src, nbytes);
    return;
  }
  guarded (s, op, [&] {
    auto host = at::TensorOptions ().dtype (at::kByte);
    auto dev = s->f32.dtype (at::kByte);
    at::Tensor d = at::from_blob (dst, {(int64_t) nbytes}, dst_on_device ? dev : host);
    at::Tensor from = at::from_blob (const_cast<void *> (src), {(int64_t) nbytes},
                                     src_on_device ? dev : host);
    d.copy_ (from);
  });
}

void
torch_shim_upload (TorchShim *s, void *dst, const void *host_src, size_t nbytes)
{
  copy_bytes (s, "upload", dst, true, host_src, false, nbytes);
}

void
torch_shim_download (TorchShim *s, void *host_dst, const void *src, size_t nbytes)
{
  copy_bytes (s, "download", host_dst, false, src, true, nbytes);
}

void
torch_shim_synchronize (TorchShim *s)
{
  if (s->device.is_cuda ())
    guarded (s, "synchronize", [&] { torch::cuda::synchronize (s->device.index ()); });
}

/* ------------------------------------------------------------------ gemm */

void
torch_shim_gemm (TorchShim *s, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
  if (m <= 0 || n <= 0)
    return;
  guarded (s, "gemm", [&] {
    at::Tensor A = trans_a ? mat (s, a, k, m, lda).t () : mat (s, a, m, k, lda);
    at::Tensor B = trans_b ? mat (s, b, n, k, ldb).t () : mat (s, b, k, n, ldb);
    at::Tensor C = mat (s, c, m, n, ldc);
    if (!s->bf16) {
      // beta 0 ignores what C held (NaN included), as BLAS does
      C.addmm_ (A, B, beta, alpha);
      return;
    }
    at::Tensor product = matmul (s, A, B);
    if (alpha != 1.0f)
      product.mul_ (alpha);
    blend (C, product, beta);
  });
}

/* ----------------------------------------------------------- elementwise */

void
torch_shim_fill (TorchShim *s, float *x, size_t n, float value)
{
  guarded (s, "fill", [&] { vec (s, x, (int64_t) n).fill_ (value); });
}

void
torch_shim_axpby (TorchShim *s, size_t n, float a, const float *x, float b, float *y)
{
  guarded (s, "axpby", [&] {
    at::Tensor Y = vec (s, y, (int64_t) n);
    if (x == y)
      Y.mul_ (a + b);
    else if (b == 0.0f)
      Y.copy_ (vec (s, x, (int64_t) n)).mul_ (a);
    else
      Y.mul_ (b).add_ (vec (s, x, (int64_t) n), a);
  });
}

void
torch_shim_add_bcast (TorchShim *s, size_t n, const float *x, size_t ny, const float *y,
                      float *out)
{
  guarded (s, "add_bcast", [&] {
    int64_t rows = (int64_t) (n / ny), cols = (int64_t) ny;
    at::Tensor O = mat (s, out, rows, cols);
    at::add_out (O, mat (s, x, rows, cols), vec (s, y, cols));
  });
}

void
torch_shim_reduce_period (TorchShim *s, size_t n, const float *x, size_t ny, float beta,
                          float *out)
{
  guarded (s, "reduce_period", [&] {
    int64_t rows = (int64_t) (n / ny), cols = (int64_t) ny;
    at::Tensor O = vec (s, out, cols);
    blend (O, mat (s, x, rows, cols).sum (0), beta);
  });
}

void
torch_shim_mul (TorchShim *s, size_t n, const float *x, const float *y, float beta, float *out)
{
  guarded (s, "mul", [&] {
    at::Tensor O = vec (s, out, (int64_t) n);
    at::Tensor X = vec (s, x, (int64_t) n), Y = vec (s, y, (int64_t) n);
    if (beta == 0.0f)
      at::mul_out (O, X, Y);
    else if (beta == 1.0f && out != x && out != y)
      O.addcmul_ (X, Y);
    else
      blend (O, X * Y, beta);
  });
}

void
torch_shim_scale_by (TorchShim *s, size_t n, const float *x, const float *scalar, float beta,
                     float *out)
{
  guarded (s, "scale_by", [&] {
    at::Tensor O = vec (s, out, (int64_t) n);
    at::Tensor X = vec (s, x, (int64_t) n), S = vec (s, scalar, 1);
    if (beta == 0.0f)
      at::mul_out (O, X, S);
    else
      blend (O, X * S, beta);
  });
}

void
torch_shim_gelu_fwd (TorchShim *s, size_t n, const float *x, float *out)
{
  guarded (s, "gelu_fwd", [&] {
    at::Tensor O = vec (s, out, (int64_t) n);
    at::gelu_out (O, vec (s, x, (int64_t) n));
  });
}

void
torch_shim_gelu_bwd (TorchShim *s, size_t n, const float *x, const float *dout, float *dx)
{
  guarded (s, "gelu_bwd", [&] {
    vec (s, dx, (int64_t) n)
      .add_ (at::gelu_backward (vec (s, dout, (int64_t) n), vec (s, x, (int64_t) n)));
  });
}

double
torch_shim_sumsq (TorchShim *s, size_t n, const float *x)
{
  double result = NAN;
  guarded (s, "sumsq", [&] {
    result = vec (s, x, (int64_t) n).square ().sum (at::kDouble).item<double> ();
  });
  return result;
}

/* ------------------------------------------------------------------ rows */

void
torch_shim_layernorm_fwd (TorchShim *s, int rows, int cols, float eps, const float *x,
                          const float *gamma, const float *beta, float *out, float *mean,
                          float *rstd)
{
  if (rows <= 0)
    return;
  guarded (s, "layernorm_fwd", [&] {
    auto result = at::native_layer_norm (mat (s, x, rows, cols), {cols}, vec (s, gamma, cols),
                                         vec (s, beta, cols), eps);
    mat (s, out, rows, cols).copy_ (std::get<0> (result));
    vec (s, mean, rows).copy_ (std::get<1> (result).reshape ({rows}));
    vec (s, rstd, rows).copy_ (std::get<2> (result).reshape ({rows}));
  });
}

void
torch_shim_layernorm_bwd (TorchShim *s, int rows, int cols, const float *x, const float *gamma,
                          const float *mean, const float *rstd, const float *dout, float *dx,
                          float *dgamma, float *dbeta)
{
  if (rows <= 0 || (dx == nullptr && dgamma == nullptr && dbeta == nullptr))
    return;
  guarded (s, "layernorm_bwd", [&] {
    // The kernels read the bias only for its shape (to size dbeta).
    at::Tensor bias_shape = at::empty ({cols}, s->f32);
    auto grads = at::native_layer_norm_backward (
      mat (s, dout, rows, cols), mat (s, x, rows, cols), {cols}, mat (s, mean, rows, 1),
      mat (s, rstd, rows, 1), vec (s, gamma, cols), bias_shape,
      {dx != nullptr, dgamma != nullptr, dbeta != nullptr});
    if (dx != nullptr)
      mat (s, dx, rows, cols).add_ (std::get<0> (grads));
    if (dgamma != nullptr)
      vec (s, dgamma, cols).add_ (std::get<1> (grads));
    if (dbeta != nullptr)
      vec (s, dbeta, cols).add_ (std::get<2> (grads));
  });
}

void
torch_shim_softmax_fwd (TorchShim *s, int rows, int cols, const float *x, float *out)
{
  if (rows <= 0)
    return;
  guarded (s, "softmax_fwd", [&] {
    at::Tensor O = mat (s, out, rows, cols);
    at::_softmax_out (O, mat (s, x, rows, cols), 1, false);
  });
}

void
torch_shim_softmax_bwd (TorchShim *s, int rows, int cols, const float *y, const float *dy,
                        float *dx)
{
  if (rows <= 0)
    return;
  guarded (s, "softmax_bwd", [&] {
    mat (s, dx, rows, cols)
      .add_ (at::_softmax_backward_data (mat (s, dy, rows, cols), mat (s, y, rows, cols), 1,
                                         at::kFloat));
  });
}

void
torch_shim_l2norm_fwd (TorchShim *s, int rows, int cols, float eps, const float *x, float *out)
{
  if (rows <= 0)
    return;
  guarded (s, "l2norm_fwd", [&] {
    at::Tensor X = mat (s, x, rows, cols), O = mat (s, out, rows, cols);
    at::div_out (O, X, at::linalg_vector_norm (X, 2, {1}, true).clamp_min (eps));
  });
}

void
torch_shim_l2norm_bwd (TorchShim *s, int rows, int cols, float eps, const float *x,
                       const float *dout, float *dx)
{
  if (rows <= 0)
    return;
  guarded (s, "l2norm_bwd", [&] {
    // n > eps: dx += dy/n − x·(x·dy)/n³;  n ≤ eps (the clamp): dx += dy/eps
    at::Tensor X = mat (s, x, rows, cols), DY = mat (s, dout, rows, cols);
    at::Tensor norm = at::linalg_vector_norm (X, 2, {1}, true);
    at::Tensor clamped = norm.clamp_min (eps);
    at::Tensor above = (norm > eps).to (at::kFloat);
    at::Tensor xd = (X * DY).sum (1, true);
    at::Tensor k = xd * above / (clamped * clamped * clamped);
    mat (s, dx, rows, cols).add_ (DY / clamped - X * k);
  });
}

void
torch_shim_gather_rows (TorchShim *s, int m, int cols, const float *x, const int32_t *idx,
                        float *out)
{
  if (m <= 0)
    return;
  guarded (s, "gather_rows", [&] {
    at::Tensor X = mat (s, x, rows_left_in_block (s, x, cols), cols);
    at::Tensor I = at::from_blob (const_cast<int32_t *> (idx), {m}, s->i32);
    at::Tensor O = mat (s, out, m, cols);
    at::index_select_out (O, X, 0, I);
  });
}

void
torch_shim_scatter_add_rows (TorchShim *s, int m, int cols, const float *dout,
                             const int32_t *idx, float *dx)
{
  if (m <= 0)
    return;
  guarded (s, "scatter_add_rows", [&] {
    at::Tensor DX = mat (s, dx, rows_left_in_block (s, dx, cols), cols);
    at::Tensor I = at::from_blob (const_cast<int32_t *> (idx), {m}, s->i32);
    DX.index_add_ (0, I, mat (s, dout, m, cols));
  });
}

void
torch_shim_copy2d (TorchShim *s, int rows, int cols, const float *src, int lds, float beta,
                   float *dst, int ldd)
{
  if (rows <= 0 || cols <= 0)
    return;
  guarded (s, "copy2d", [&] {
    at::Tensor D = mat (s, dst, rows, cols, ldd);
    blend (D, mat (s, src, rows, cols, lds), beta);
  });
}

void
torch_shim_reduce_mid (TorchShim *s, int outer, int inner, int cols, float scale, const float *x,
                       float beta, float *out)
{
  if (outer <= 0)
    return;
  guarded (s, "reduce_mid", [&] {
    at::Tensor X = at::from_blob (const_cast<float *> (x), {outer, inner, cols}, s->f32);
    at::Tensor O = mat (s, out, outer, cols);
    at::Tensor sum = X.sum (1);
    if (scale != 1.0f)
      sum.mul_ (scale);
    blend (O, sum, beta);
  });
}

void
torch_shim_expand_mid (TorchShim *s, int outer, int inner, int cols, float scale,
                       const float *dout, float *dx)
{
  if (outer <= 0)
    return;
  guarded (s, "expand_mid", [&] {
    at::Tensor DX = at::from_blob (dx, {outer, inner, cols}, s->f32);
    DX.add_ (mat (s, dout, outer, cols).unsqueeze (1), scale);
  });
}

/* ------------------------------------------------------------- attention */

// Views of qkv (B×N×3D): q, k and v as B×H×N×dh (strided, no copy).
struct Heads {
  at::Tensor q, k, v;
};

Heads
split_heads (TorchShim *s, const float *qkv, int batch, int tokens, int dim, int heads)
{
  at::Tensor all = at::from_blob (const_cast<float *> (qkv),
                                  {batch, tokens, 3, heads, dim / heads}, s->f32);
  return Heads{ all.select (2, 0).permute ({0, 2, 1, 3}),
                all.select (2, 1).permute ({0, 2, 1, 3}),
                all.select (2, 2).permute ({0, 2, 1, 3}) };
}

// out (B×N×D, heads concatenated) as B×H×N×dh
at::Tensor
merged_heads (TorchShim *s, const float *out, int batch, int tokens, int dim, int heads)
{
  return at::from_blob (const_cast<float *> (out), {batch, tokens, heads, dim / heads}, s->f32)
    .permute ({0, 2, 1, 3});
}

void
torch_shim_attention_fwd (TorchShim *s, int batch, int tokens, int dim, int heads, float scale,
                          const float *qkv, float *probs, float *out)
{
  guarded (s, "attention_fwd", [&] {
    Heads h = split_heads (s, qkv, batch, tokens, dim, heads);
    at::Tensor scores = matmul (s, h.q, h.k.transpose (-2, -1));
    scores.mul_ (scale);
    // without probs (no backward will run) the softmax overwrites the
    // scores: a second B·H·N·N temporary would be fresh pages every call
    // (4× slower on CT, 513 tokens).  libtorch 1.13 has no
    // scaled_dot_product_attention.
    at::Tensor P = probs != nullptr
                     ? at::from_blob (probs, {batch, heads, tokens, tokens}, s->f32)
                     : scores;
    at::_softmax_out (P, scores, -1, false);
    merged_heads (s, out, batch, tokens, dim, heads).copy_ (matmul (s, P, h.v));
  });
}

void
torch_shim_attention_bwd (TorchShim *s, int batch, int tokens, int dim, int heads, float scale,
                          const float *qkv, const float *probs, const float *dout, float *dqkv)
{
  guarded (s, "attention_bwd", [&] {
    Heads h = split_heads (s, qkv, batch, tokens, dim, heads);
    Heads d = split_heads (s, dqkv, batch, tokens, dim, heads);
    at::Tensor P = at::from_blob (const_cast<float *> (probs), {batch, heads, tokens, tokens},
                                  s->f32);
    at::Tensor dO = merged_heads (s, dout, batch, tokens, dim, heads);
    d.v.add_ (matmul (s, P.transpose (-2, -1), dO));
    at::Tensor dP = matmul (s, dO, h.v.transpose (-2, -1));
    at::Tensor dS = at::_softmax_backward_data (dP, P, -1, at::kFloat);
    dS.mul_ (scale);
    d.q.add_ (matmul (s, dS, h.k));
    d.k.add_ (matmul (s, dS.transpose (-2, -1), h.q));
  });
}

/* ---------------------------------------------------------------- losses */

// Σ_r w_r (rows, or rows itself without a mask), as a one-element tensor
at::Tensor
weight_total (TorchShim *s, int rows, const float *mask)
{
  if (mask != nullptr)
    return vec (s, mask, rows).sum ();
  return at::full ({}, (float) rows, s->f32);
}

void
torch_shim_mse_fwd (TorchShim *s, int rows, int cols, const float *x, const float *y,
                    const float *mask, float *out)
{
  guarded (s, "mse_fwd", [&] {
    at::Tensor err = (mat (s, x, rows, cols) - mat (s, y, rows, cols)).square_ ().mean (1);
    if (mask != nullptr)
      err.mul_ (vec (s, mask, rows));
    at::Tensor den = weight_total (s, rows, mask);
    at::Tensor loss = at::where (den > 0, err.sum () / den, at::zeros_like (den));
    vec (s, out, 1).copy_ (loss.reshape ({1}));
  });
}

void
torch_shim_mse_bwd (TorchShim *s, int rows, int cols, const float *x, const float *y,
                    const float *mask, const float *dout, float *dx, float *dy)
{
  if (rows <= 0 || (dx == nullptr && dy == nullptr))
    return;
  guarded (s, "mse_bwd", [&] {
    at::Tensor den = weight_total (s, rows, mask);
    // k = dout·2/(cols·Σw), 0 when nothing is weighted
    at::Tensor k = at::where (den > 0, vec (s, dout, 1).reshape ({}) * (2.0 / cols) / den,
                              at::zeros_like (den));
    at::Tensor diff = mat (s, x, rows, cols) - mat (s, y, rows, cols);
    at::Tensor per_row = mask != nullptr ? (vec (s, mask, rows) * k).unsqueeze (1) : k;
    at::Tensor g = diff.mul_ (per_row);
    if (dx != nullptr)
      mat (s, dx, rows, cols).add_ (g);
    if (dy != nullptr)
      mat (s, dy, rows, cols).sub_ (g);
  });
}

void
torch_shim_logdet_fwd (TorchShim *s, int rows, int p, float c, const float *z, float *out,
                       float *inv)
{
  guarded (s, "logdet_fwd", [&] {
    // In double, as the cpu backend: I + c·ZᵀZ is well conditioned but
    // its log-determinant sums p logs.
    at::Tensor Z = mat (s, z, rows, p).to (at::kDouble);
    at::Tensor M = at::eye (p, Z.options ()).addmm_ (Z.t (), Z, 1.0, (double) c);
    // _ex: no host sync to check positive definiteness; a failure would
    // surface as NaN, as on cpu.
    at::Tensor L = std::get<0> (at::linalg_cholesky_ex (M));
    at::Tensor logdet = L.diagonal ().log ().sum () * 2.0;
    vec (s, out, 1).copy_ (logdet.reshape ({1}));
    mat (s, inv, p, p).copy_ (at::cholesky_inverse (L));
  });
}

void
torch_shim_logdet_bwd (TorchShim *s, int rows, int p, float c, const float *z, const float *inv,
                       const float *dout, float *dz)
{
  guarded (s, "logdet_bwd", [&] {
    at::Tensor g = at::mm (mat (s, z, rows, p), mat (s, inv, p, p));
    g.mul_ (vec (s, dout, 1) * (2.0 * c));
    mat (s, dz, rows, p).add_ (g);
  });
}

void
torch_shim_sum_fwd (TorchShim *s, size_t n, const float *x, float beta, float *out)
{
  guarded (s, "sum_fwd", [&] {
    at::Tensor O = vec (s, out, 1);
    blend (O, vec (s, x, (int64_t) n).sum (at::kDouble).to (at::kFloat).reshape ({1}), beta);
  });
}

/* ------------------------------------------------------------- optimiser */

void
torch_shim_adamw (TorchShim *s, size_t n, float *param, const float *grad, float *m, float *v,
                  float lr, float beta1, float beta2, float eps, float weight_decay, int t)
{
  guarded (s, "adamw", [&] {
    int64_t len = (int64_t) n;
    at::Tensor P = vec (s, param, len), G = vec (s, grad, len);
    at::Tensor M = vec (s, m, len), V = vec (s, v, len);
    double bc1 = 1.0 - std::pow ((double) beta1, t), bc2 = 1.0 - std::pow ((double) beta2, t);
    P.mul_ (1.0f - lr * weight_decay);
    M.mul_ (beta1).add_ (G, 1.0f - beta1);
    V.mul_ (beta2).addcmul_ (G, G, 1.0f - beta2);
    at::Tensor denom = (V / (float) bc2).sqrt_ ().add_ (eps);
    P.sub_ ((M / (float) bc1).div_ (denom).mul_ (lr));
  });
}

/* ------------------------------------------ general ops (shim version 2) */

// Runs one op: no exception leaves; a failure is -1 with its message in @err.
template <typename F>
int
checked (const char *op, char *err, size_t len, F &&body)
{
  try {
    c10::InferenceMode no_autograd;
    body ();
    return 0;
  } catch (const std::exception &e) {
    write_error (err, len, std::string (op) + ": " + message_of (e));
    return -1;
  }
}

int
torch_shim_exp_fwd (TorchShim *s, size_t n, const float *x, float *out, char *err, size_t len)
{
  if (n == 0)
    return 0;
  return checked ("exp_fwd", err, len, [&] {
    at::Tensor O = vec (s, out, (int64_t) n);
    at::exp_out (O, vec (s, x, (int64_t) n));
  });
}

int
torch_shim_log_fwd (TorchShim *s, size_t n, const float *x, float *out, char *err, size_t len)
{
  if (n == 0)
    return 0;
  return checked ("log_fwd", err, len, [&] {
    at::Tensor O = vec (s, out, (int64_t) n);
    at::log_out (O, vec (s, x, (int64_t) n));
  });
}

int
torch_shim_log_bwd (TorchShim *s, size_t n, const float *x, const float *dout, float *dx,
                    char *err, size_t len)
{
  if (n == 0)
    return 0;
  return checked ("log_bwd", err, len, [&] {
    vec (s, dx, (int64_t) n).add_ (vec (s, dout, (int64_t) n) / vec (s, x, (int64_t) n));
  });
}

int
torch_shim_logsumexp_fwd (TorchShim *s, int rows, int cols, const float *x, float *out,
                          char *err, size_t len)
{
  if (rows <= 0)
    return 0;
  return checked ("logsumexp_fwd", err, len, [&] {
    vec (s, out, rows).copy_ (at::logsumexp (mat (s, x, rows, cols), {1}, false));
  });
}

int
torch_shim_logsumexp_bwd (TorchShim *s, int rows, int cols, const float *x, const float *out,
                          const float *dout, float *dx, char *err, size_t len)
{
  if (rows <= 0)
    return 0;
  return checked ("logsumexp_bwd", err, len, [&] {
    at::Tensor O = mat (s, out, rows, 1), D = mat (s, dout, rows, 1);
    mat (s, dx, rows, cols).add_ ((mat (s, x, rows, cols) - O).exp_ ().mul_ (D));
  });
}

/* ------------------------------------------------ shim version 3 */

int
torch_shim_cholesky_logdet_fwd (TorchShim *s, int n, const float *a, float *out, float *inv,
                                char *err, size_t len)
{
  return checked ("cholesky_logdet_fwd", err, len, [&] {
    at::Tensor A = mat (s, a, n, n).to (at::kDouble);
    at::Tensor S = (A + A.t ()).mul_ (0.5);
    auto [L, info] = at::linalg_cholesky_ex (S);
    // the general op reports a matrix that is not positive definite, so it
    // reads info back (one sync; the fused coding-rate entry does not)
    if (info.item<int> () != 0)
      throw std::runtime_error ("the " + std::to_string (n) + "×" + std::to_string (n)
                                + " matrix is not positive definite");
    vec (s, out, 1).copy_ ((L.diagonal ().log ().sum () * 2.0).reshape ({1}));
    mat (s, inv, n, n).copy_ (at::cholesky_inverse (L));
  });
}

int
torch_shim_take_error (TorchShim *s, char *err, size_t len)
{
  if (!s->failed.load ())
    return 0;
  std::lock_guard<std::mutex> hold (s->failure_lock);
  write_error (err, len, s->failure);
  s->failure.clear ();
  s->failed.store (false);
  return 1;
}

}  // namespace

extern "C" const TorchShimApi *
torch_shim_api (void)
{
  static const TorchShimApi api = {
    TORCH_SHIM_API_VERSION,
    torch_shim_version,
    torch_shim_cuda_device_count,
    torch_shim_cuda_problem,
    torch_shim_create,
    torch_shim_destroy,
    torch_shim_alloc,
    torch_shim_release,
    torch_shim_upload,
    torch_shim_download,
    torch_shim_synchronize,
    torch_shim_gemm,
    torch_shim_fill,
    torch_shim_axpby,
    torch_shim_add_bcast,
    torch_shim_reduce_period,
    torch_shim_mul,
    torch_shim_scale_by,
    torch_shim_gelu_fwd,
    torch_shim_gelu_bwd,
    torch_shim_sumsq,
    torch_shim_layernorm_fwd,
    torch_shim_layernorm_bwd,
    torch_shim_softmax_fwd,
    torch_shim_softmax_bwd,
    torch_shim_l2norm_fwd,
    torch_shim_l2norm_bwd,
    torch_shim_gather_rows,
    torch_shim_scatter_add_rows,
    torch_shim_copy2d,
    torch_shim_reduce_mid,
    torch_shim_expand_mid,
    torch_shim_attention_fwd,
    torch_shim_attention_bwd,
    torch_shim_mse_fwd,
    torch_shim_mse_bwd,
    torch_shim_logdet_fwd,
    torch_shim_logdet_bwd,
    torch_shim_sum_fwd,
    torch_shim_adamw,
    torch_shim_exp_fwd,
    torch_shim_log_fwd,
    torch_shim_log_bwd,
    torch_shim_logsumexp_fwd,
    torch_shim_logsumexp_bwd,
    torch_shim_cholesky_logdet_fwd,
    torch_shim_take_error,
  };
  return &api;
}
