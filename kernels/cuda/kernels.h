// Host entry points of the kernels written in CUDA (kernels/cuda/*.cu).
//
// Every .cu file is compiled twice (see kernels/cuda/common.cuh): by nvcc into
// namespace duel::cuda (a real GPU) and by g++ with DUEL_SIM into duel::sim (the
// SIMT emulator, kernels/sim/sim.h). Both namespaces export exactly the names and
// signatures of the CPU backend (kernels/cpu/*.h), so kernels/dispatch.h can route
// DUEL_KERNEL(device, NAME, args...) to ::duel::cpu::NAME, ::duel::sim::NAME or
// ::duel::cuda::NAME. Pointer arguments (softmax, batch norm, pooling, conv) are
// device pointers of the backend's device; Tensor arguments live on it.
//
// This header is plain C++ (no CUDA names): the op front-ends include it through
// kernels/dispatch.h. The definitions are in one .cu file per op family:
//   elementwise.cu  unary, binary, where, copy, fill
//   reduction.cu    reduce, arg_reduce
//   index.cu        gather, scatter_add, index_select, index_add
//   matmul.cu       matmul (hand-written tiled GEMM; cuBLAS too under nvcc)
//   softmax.cu      softmax_forward, softmax_backward
//   batch_norm.cu   batch_norm_stats, batch_norm_apply, batch_norm_forward, batch_norm_backward
//                   (with cuda:batch_norm=cudnn, forward and backward hand over to cuDNN)
//   pool.cu         max/avg_pool2d_forward/backward
//   conv.cu         conv2d_forward, conv2d_backward_input, conv2d_backward_weight
//                   (with cuda:conv2d=cudnn, all three hand over to cuDNN)
//   rnn.cu          lstm_cell_forward, lstm_cell_backward (the fused LSTM cell)
//   random.cu       philox_uniform / philox_normal / philox_bernoulli (tensor/random.cpp's streams)
//   optim.cu        sgd_update, adam_update, rmsprop_update (fused optimizer steps, nn/optim.cpp)
// The templates are instantiated for float and double in their .cu file.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/types.h"  // the shared vocabulary: op codes, geometries, optimizer updates
#include "tensor/tensor.h"

#define DUEL_DECLARE_DEVICE_KERNELS(NS)                                                                        \
  namespace duel::NS {                                                                                        \
  /* elementwise.cu */                                                                                        \
  void unary(UnaryOp op, const Tensor& in, Tensor& out, UnaryParams p = {});                                  \
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha = 1.0);                \
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out);                              \
  void copy(const Tensor& src, Tensor& dst);                                                                  \
  void fill(Tensor& dst, double value);                                                                       \
  /* reduction.cu */                                                                                          \
  void reduce(ReduceOp op, const Tensor& in, Tensor& out, const std::vector<int64_t>& dims);                  \
  void arg_reduce(bool is_max, const Tensor& in, Tensor& values, Tensor& indices, int64_t dim);               \
  /* index.cu */                                                                                              \
  void gather(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out);                               \
  void scatter_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);                         \
  void index_select(const Tensor& in, int64_t dim, const Tensor& index, Tensor& out);                         \
  void index_add(Tensor& out, int64_t dim, const Tensor& index, const Tensor& src);                           \
  /* matmul.cu */                                                                                             \
  void matmul(const Tensor& a, const Tensor& b, Tensor& out);                                                 \
  /* softmax.cu */                                                                                            \
  template <class T>                                                                                          \
  void softmax_forward(const T* x, T* y, int64_t outer, int64_t D, int64_t inner, bool log_softmax);          \
  template <class T>                                                                                          \
  void softmax_backward(const T* gy, const T* y, T* gx, int64_t outer, int64_t D, int64_t inner,              \
                        bool log_softmax);                                                                    \
  /* batch_norm.cu */                                                                                         \
  template <class T>                                                                                          \
  void batch_norm_stats(const T* x, int64_t N, int64_t C, int64_t S, double eps, T* mean, T* invstd);         \
  template <class T>                                                                                          \
  void batch_norm_apply(const T* x, const T* mean, const T* invstd, const T* weight, const T* bias,           \
                        int64_t N, int64_t C, int64_t S, T* y);                                               \
  template <class T>                                                                                          \
  void batch_norm_forward(const T* x, const T* weight, const T* bias, int64_t N, int64_t C, int64_t S,          \
                          double eps, T* mean, T* invstd, T* y);                                              \
  template <class T>                                                                                          \
  void batch_norm_backward(const T* gy, const T* x, const T* mean, const T* invstd, const T* weight,          \
                           int64_t N, int64_t C, int64_t S, T* gx, T* gweight, T* gbias);                     \
  /* pool.cu */                                                                                               \
  template <class T>                                                                                          \
  void max_pool2d_forward(const T* x, T* y, int64_t* indices, const Pool2dGeometry& g);                       \
  template <class T>                                                                                          \
  void max_pool2d_backward(const T* gy, const int64_t* indices, T* gx, const Pool2dGeometry& g);              \
  template <class T>                                                                                          \
  void avg_pool2d_forward(const T* x, T* y, const Pool2dGeometry& g);                                         \
  template <class T>                                                                                          \
  void avg_pool2d_backward(const T* gy, T* gx, const Pool2dGeometry& g);                                      \
  /* conv.cu */                                                                                               \
  template <class T>                                                                                          \
  void conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g);                                 \
  template <class T>                                                                                          \
  void conv2d_backward_input(const T* gy, const T* w, T* gx, const Conv2dGeometry& g);                        \
  template <class T>                                                                                          \
  void conv2d_backward_weight(const T* x, const T* gy, T* gw, const Conv2dGeometry& g);                       \
  /* rnn.cu: the fused LSTM cell (kernels/cpu/rnn.h) */                                                      \
  template <class T>                                                                                          \
  void lstm_cell_forward(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, T* out, int64_t N,   \
                         int64_t H);                                                                          \
  template <class T>                                                                                          \
  void lstm_cell_backward(const T* xg, const T* hg, const T* bx, const T* bh, const T* c, const T* out,       \
                          const T* grad_out, T* grad_gates, T* grad_c, int64_t N, int64_t H);                 \
  /* random.cu: out[i] = lo + (hi - lo) * u_i, u_i the i-th uniform of the Philox stream (seed, offset) */   \
  /* exactly as tensor/random.cpp draws them (element i: word i % 4 of block offset + i / 4). */              \
  void philox_uniform(Tensor& out, uint64_t seed, uint64_t offset, double lo, double hi);                     \
  /* ... and normal (Box-Muller on pairs) / bernoulli draws, exactly as kernels/cpu/random.h */              \
  void philox_normal(Tensor& out, uint64_t seed, uint64_t offset, double mean, double std);                   \
  void philox_bernoulli(Tensor& out, uint64_t seed, uint64_t offset, double p);                               \
  /* optim.cu: fused optimizer updates over n contiguous elements (kernels/cpu/optim.h) */                   \
  template <class T>                                                                                          \
  void sgd_update(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdUpdate& u);                \
  template <class T>                                                                                          \
  void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,          \
                   const AdamUpdate& u);                                                                      \
  template <class T>                                                                                          \
  void rmsprop_update(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer, int64_t n,     \
                      const RmspropUpdate& u);                                                                \
  }

DUEL_DECLARE_DEVICE_KERNELS(sim)
#if defined(DUEL_WITH_CUDA)
DUEL_DECLARE_DEVICE_KERNELS(cuda)
#endif

// Matmul implementation selection of the CUDA backend (matmul.cu).
#if defined(DUEL_WITH_CUDA)
namespace duel::cuda {
enum class MatmulImpl {
  Auto,    // cuBLAS when both operands have a unit-stride dim (the usual case), else the hand-written kernel
  Hand,    // always the hand-written tiled kernel (also what the emulator runs)
  Cublas,  // cuBLAS; operands without a unit-stride dim are made contiguous first
};
void set_matmul_impl(MatmulImpl impl);  // default: Auto, or DUEL_CUDA_MATMUL=hand|cublas|auto
MatmulImpl matmul_impl();
}  // namespace duel::cuda
#endif
