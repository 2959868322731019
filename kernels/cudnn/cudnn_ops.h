// cuDNN as an alternative implementation of conv2d and batch_norm for CUDA tensors,
// selectable at run time, so that duel's hand-written kernels (kernels/cuda/conv.cu,
// kernels/cuda/batch_norm.cu) can be cross-checked and timed against NVIDIA's library
// on a GPU (tests/parity/test_cudnn.cpp, bench/gpu/duel_gpu_bench.cpp,
// docs/kernels.md "cuDNN cross-check").
//
// Selecting it (kernels/impl.h: one switch for every op with several implementations):
//
//   duel::set_impl("cuda:conv2d", "cudnn");      // conv2d, its gradients, conv_transpose2d, conv1d
//   duel::set_impl("cuda:batch_norm", "cudnn");  // batch_norm's training forward and fused backward
//   DUEL_IMPL="cuda:conv2d=cudnn,cuda:batch_norm=cudnn"   (environment)
//   duel::set_conv_backend(duel::ConvBackend::Cudnn);   // both at once; or DUEL_CUDNN=1
//
// The op front-ends (tensor/ops/conv.cpp, norm.cpp) know nothing of cuDNN: they dispatch
// duel's kernel names with DUEL_KERNEL, and the CUDA backend's entry points
// (kernels/cuda/conv.cu, batch_norm.cu, compiled by nvcc) hand the call to the functions
// below when cuDNN is selected for the op, falling back to duel's kernel when cuDNN declines
// (return false). cpu and sim tensors never reach cuDNN. The running statistics, the eval
// forward and the create_graph (double-backward) form of batch_norm's backward are engine
// ops in the front-end under either choice.
//
// Selecting cuDNN throws a clear error, and leaves the choice unchanged, when cuDNN cannot
// be used: duel built without CUDA or without cuDNN, or no usable CUDA device ("no CUDA
// device available: ..."). DUEL_IMPL / DUEL_CUDNN=1 are only a request (read at the first
// query): a program that never creates a CUDA tensor runs normally; a CUDA conv in a build
// without cuDNN then fails naming the op.
//
// This header is plain C++ (no CUDA or cuDNN names); the implementation is
// kernels/cudnn/cudnn_ops.cpp, which compiles to stubs without DUEL_WITH_CUDNN.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/types.h"  // Conv2dGeometry
#include "tensor/tensor.h"

namespace duel {

// cuDNN or duel's kernels for both CUDA conv2d and batch_norm (the older switch; set_impl
// chooses per op).
enum class ConvBackend {
  Native,  // duel's hand-written kernels (kernels/cuda/conv.cu, batch_norm.cu)
  Cudnn,   // cuDNN (cudnnConvolution*, cudnnBatchNormalization*)
};

// Throws (naming the reason) when `b` is Cudnn and cuDNN is unavailable; the backend
// is then left as it was.
void set_conv_backend(ConvBackend b);
ConvBackend conv_backend();  // cuda:conv2d's choice
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
// Re-reads DUEL_IMPL's cuda:conv2d and cuda:batch_norm, or else DUEL_CUDNN (unset, "0",
// "native": Native; "1", "cudnn": Cudnn, not validated; anything else: an error naming the
// variable). Normally read once, at the first query; tests call this after setenv().
void reload_conv_backend_from_env();
}  // namespace detail

namespace cudnn {

// The ops cuDNN can run, each selected on its own (kernels/impl.h's cuda:conv2d = cudnn and
// cuda:batch_norm = cudnn). select(op, true) throws, naming the op and the reason, when
// cuDNN is unavailable; selected() reads the environment on its first call.
enum class Op { Conv2d, BatchNorm };
bool selected(Op op);
void select(Op op, bool on);

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
  int64_t bn_forward_training = 0, bn_backward = 0;
};
CallCounts call_counts();

// ---- the kernels --------------------------------------------------------------------
// The CUDA backend's entry points (kernels/cuda/conv.cu, batch_norm.cu; compiled by nvcc)
// call these when cuDNN is selected for the op (kernels/impl.h); benchmarks call them
// directly. They have the raw-pointer signatures of duel's own kernels: every pointer is a
// contiguous device array of the calling thread's current CUDA device, T is float or
// double; outputs are overwritten. They use no tensor op and no autograd: a workspace comes
// from the CUDA allocator, a missing weight or bias is a scratch array filled by the CUDA
// backend's fill kernel. A host pointer is refused with an error naming the op and the
// argument ("... must be on a cuda device").

// The contracts of cpu::conv2d_forward / conv2d_backward_input / conv2d_backward_weight
// (kernels/cpu/conv.h): x [N,C,H,W], w [O,C/groups,kH,kW], y / gy [N,O,outH,outW].
// Return false, doing nothing, when cuDNN cannot express the geometry: its output-size
// formula floor((H + 2p - d(k-1) - 1) / s) + 1 must give exactly outH x outW (a
// conv_transpose2d whose output_padding is >= its stride does not); the caller then
// runs duel's kernel.
template <class T>
bool conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g);
template <class T>
bool conv2d_backward_input(const T* gy, const T* w, T* gx, const Conv2dGeometry& g);
template <class T>
bool conv2d_backward_weight(const T* x, const T* gy, T* gw, const Conv2dGeometry& g);

// Batch norm over x viewed as [N, C, S] per channel (CUDNN_BATCHNORM_SPATIAL on [N, C, S, 1]),
// the contracts of cpu::batch_norm_forward / batch_norm_backward (kernels/cpu/batch_norm.h):
//   mean   = batch mean;  invstd = 1 / sqrt(biased batch var + eps)
//   y      = (x - mean) * invstd * weight + bias   (weight / bias may be null: 1 / 0)
// cuDNN calls the saved inverse standard deviation "resultSaveInvVariance" (it is
// 1/sqrt(var + eps), not 1/var). The running statistics are not cuDNN's business here: the
// batch_norm front-end updates them from mean and invstd for every backend alike. cuDNN
// needs eps >= CUDNN_BN_MIN_EPSILON (0 in cuDNN 8 and 9; 1e-5 in cuDNN 7); a smaller eps
// returns false and the caller runs duel's kernel.
template <class T>
bool batch_norm_forward(const T* x, const T* weight, const T* bias, int64_t N, int64_t C, int64_t S, double eps,
                        T* mean, T* invstd, T* y);
// The training-mode backward from the saved statistics. Any of gx / gweight / gbias may be
// null (not wanted; cuDNN still computes them into scratch).
template <class T>
bool batch_norm_backward(const T* gy, const T* x, const T* mean, const T* invstd, const T* weight, int64_t N,
                         int64_t C, int64_t S, T* gx, T* gweight, T* gbias);

}  // namespace cudnn
}  // namespace duel
