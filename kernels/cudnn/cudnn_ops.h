// cuDNN as an alternative implementation of conv2d and batch_norm for CUDA tensors,
// selectable at run time, so that duel's hand-written kernels (kernels/cuda/conv.cu,
// kernels/cuda/batch_norm.cu) can be cross-checked and timed against NVIDIA's library
// on a GPU (tests/parity/test_cudnn.cpp, bench/gpu/duel_gpu_bench.cpp,
// docs/kernels.md "cuDNN cross-check").
//
// Selecting the backend:
//
//   duel::set_conv_backend(duel::ConvBackend::Cudnn);   // or DUEL_CUDNN=1 in the environment
//   duel::set_conv_backend(duel::ConvBackend::Native);  // duel's kernels (the default)
//
// The switch applies to CUDA tensors only, in the conv front-end (conv2d,
// conv2d_input_grad, conv2d_weight_grad, and so conv_transpose2d, conv1d and every
// backward built from them; tensor/ops/conv.cpp) and the batch_norm front-end
// (training forward with running statistics, eval forward, the fused backward;
// tensor/ops/norm.cpp). cpu and sim tensors always run duel's kernels. The
// create_graph (double-backward) form of batch_norm's backward stays composed of
// engine ops under either backend.
//
// set_conv_backend(Cudnn) throws a clear error, and leaves the backend unchanged, when
// cuDNN cannot be used: duel built without CUDA or without cuDNN, or no usable CUDA
// device ("no CUDA device available: ..."). DUEL_CUDNN=1 is only a request (read at the
// first query): a program that never creates a CUDA tensor runs normally; a CUDA conv
// in a build without cuDNN then fails naming the op.
//
// This header is plain C++ (no CUDA or cuDNN names); the implementation is
// kernels/cudnn/cudnn_ops.cpp, which compiles to stubs without DUEL_WITH_CUDNN.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/cpu/conv.h"  // Conv2dGeometry
#include "tensor/tensor.h"

namespace duel {

// Which implementation the conv and batch_norm front-ends use for CUDA tensors.
enum class ConvBackend {
  Native,  // duel's hand-written kernels (kernels/cuda/conv.cu, batch_norm.cu)
  Cudnn,   // cuDNN (cudnnConvolution*, cudnnBatchNormalization*)
};

// Throws (naming the reason) when `b` is Cudnn and cuDNN is unavailable; the backend
// is then left as it was.
void set_conv_backend(ConvBackend b);
ConvBackend conv_backend();
const char* conv_backend_name(ConvBackend b);  // "native" / "cudnn"

// Restores the previous backend on destruction (tests, benchmarks).
class ConvBackendGuard {
 public:
  explicit ConvBackendGuard(ConvBackend b) : prev_(conv_backend()) { set_conv_backend(b); }
  ~ConvBackendGuard() { set_conv_backend(prev_); }
  ConvBackendGuard(const ConvBackendGuard&) = delete;
  ConvBackendGuard& operator=(const ConvBackendGuard&) = delete;

 private:
  ConvBackend prev_;
};

namespace detail {
// Re-reads DUEL_CUDNN (unset, "0", "native": Native; "1", "cudnn": Cudnn, not validated;
// anything else: an error naming the variable). Normally read once, at the first
// conv_backend() call; tests call this after setenv().
void reload_conv_backend_from_env();
}  // namespace detail

namespace cudnn {

// True when duel was compiled and linked against cuDNN (DUEL_WITH_CUDNN).
bool built_with_cudnn();
// True when cuDNN can run now: built with it, a CUDA device is present, the cuDNN
// library loaded at run time has the major version duel was built against, and a cuDNN
// handle could be created. Cached after the first call.
bool is_available();
// Why is_available() is false ("no CUDA device available: ...", "duel was built
// without cuDNN ...", "cudnnCreate failed: ..."); empty when available.
std::string unavailable_reason();
// "built against cuDNN 9.19.0, loaded 9.19.0", or why there is none.
std::string version_string();

// How convolution algorithms are chosen (per geometry, dtype and direction; the choice
// is cached for the process):
//   Heuristic: cudnnGetConvolution*Algorithm_v7's ranking (no timing; the default);
//   Find:      cudnnFindConvolution*Algorithm, which times every algorithm once (what
//              the benchmark uses, like PyTorch's cudnn.benchmark = True).
enum class AlgoSearch { Heuristic, Find };
void set_algo_search(AlgoSearch s);
AlgoSearch algo_search();

// float32 convolutions use CUDNN_FMA_MATH (plain FP32 FMAs, no TF32 tensor cores) by
// default, so that they are comparable with duel's FP32 kernels. true allows cuDNN's
// default math (TF32 on sm_80+); also DUEL_CUDNN_TF32=1.
void set_allow_tf32(bool on);
bool allow_tf32();

// How many times each cuDNN entry point ran (tests check that the switch really routed
// through cuDNN).
struct CallCounts {
  int64_t conv_forward = 0, conv_backward_data = 0, conv_backward_filter = 0;
  int64_t bn_forward_training = 0, bn_forward_inference = 0, bn_backward = 0;
};
CallCounts call_counts();

// ---- the kernels (called by the front-ends; also usable directly, e.g. benchmarks) ----
// All tensors: contiguous, on the same CUDA device, float32 or float64 (one dtype).
// Outputs are allocated by the caller and overwritten.

// The contracts of cpu::conv2d_forward / conv2d_backward_input / conv2d_backward_weight
// (kernels/cpu/conv.h): x [N,C,H,W], w [O,C/groups,kH,kW], y / gy [N,O,outH,outW].
// Return false, doing nothing, when cuDNN cannot express the geometry: its output-size
// formula floor((H + 2p - d(k-1) - 1) / s) + 1 must give exactly outH x outW (a
// conv_transpose2d whose output_padding is >= its stride does not); the caller then
// runs duel's kernel.
bool conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const cpu::Conv2dGeometry& g);
bool conv2d_backward_input(const Tensor& gy, const Tensor& w, Tensor& gx, const cpu::Conv2dGeometry& g);
bool conv2d_backward_weight(const Tensor& x, const Tensor& gy, Tensor& gw, const cpu::Conv2dGeometry& g);

// Batch norm over x [N, C, ...] per channel (CUDNN_BATCHNORM_SPATIAL on x viewed as
// [N, C, S, 1]). weight / bias / running stats may be undefined (weight = 1, bias = 0,
// no running statistics), or of another dtype or non-contiguous (copied).
//
// Conventions (identical to duel's kernels and PyTorch):
//   save_mean   = batch mean;  save_invstd = 1 / sqrt(biased batch var + eps)
//   running_mean = (1 - momentum) * running_mean + momentum * batch mean
//   running_var  = (1 - momentum) * running_var  + momentum * UNBIASED batch var (M/(M-1))
//   eval: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias
// cuDNN calls momentum "exponentialAverageFactor" and the saved inverse standard
// deviation "resultSaveInvVariance" (it is 1/sqrt(var + eps), not 1/var). cuDNN needs
// eps >= CUDNN_BN_MIN_EPSILON (0 in cuDNN 8 and 9; 1e-5 in cuDNN 7); a smaller eps
// returns false and the caller runs duel's kernels.
bool batch_norm_forward_training(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 const Tensor& running_mean, const Tensor& running_var, double momentum,
                                 double eps, Tensor& y, Tensor& save_mean, Tensor& save_invstd);
bool batch_norm_forward_inference(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, double eps, Tensor& y);
// The training-mode backward from the saved statistics. Any of gx / gweight / gbias may
// be undefined (not wanted; cuDNN still computes them into scratch).
bool batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, double eps, Tensor& gx, Tensor& gweight, Tensor& gbias);

}  // namespace cudnn
}  // namespace duel
