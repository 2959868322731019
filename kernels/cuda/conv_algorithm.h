// Run-time choice between the two convolution paths of kernels/cuda/conv.cu, for the
// `cuda` backend and its emulator counterpart, the `sim` backend (each has its own
// setting): the typed form of the sim:conv2d and cuda:conv2d rows of the implementation
// switch (kernels/impl.h: duel::set_impl("sim:conv2d", "im2col"), DUEL_IMPL).
//
//   ConvAlgorithm::Implicit  implicit GEMM: gemm_tile_kernel computes the im2col operands
//                            on the fly, nothing is materialised (the default)
//   ConvAlgorithm::Im2col    hand-written im2col / col2im kernels into a scratch column
//                            matrix + a GEMM (cuBLAS under nvcc, gemm_tile_kernel under
//                            the emulator), chunked over the batch
//
//   duel::cuda::set_conv_algorithm(duel::ConvAlgorithm::Im2col);   // or duel::sim::...
//   { duel::sim::ConvAlgorithmGuard g(duel::ConvAlgorithm::Im2col); ... }  // restores on exit
//   DUEL_IMPL=sim:conv2d=im2col      (kernels/impl.h; read first)
//   DUEL_CUDA_CONV=implicit|im2col   (the older variable, both backends; unset or empty:
//                                     implicit; anything else is an error naming the
//                                     variable, raised by the first conv)
//
// This selects duel's own kernels; cuda:conv2d=cudnn (kernels/cudnn/cudnn_ops.h) hands the
// CUDA backend's convolutions to cuDNN instead, which falls back to the implicit path for
// the one geometry it cannot express.
// Plain C++ (no CUDA names). The duel::cuda declarations exist only in CUDA builds.
#pragma once
#include <cstddef>

#include "kernels/conv_algorithm.h"  // ConvAlgorithm, conv_algorithm_name

// Defined in kernels/cuda/conv.cu (once per build of it: nvcc -> cuda, emulator -> sim).
#define DUEL_DECLARE_CONV_ALGORITHM(NS)                                                              \
  namespace duel::NS {                                                                              \
  void set_conv_algorithm(ConvAlgorithm a);                                                         \
  /* the current algorithm; the first call reads DUEL_CUDA_CONV (throws on a bad value) */          \
  ConvAlgorithm conv_algorithm();                                                                   \
  /* Upper bound of the im2col path's scratch column matrix, in bytes (default 128 MiB): the   */  \
  /* batch is processed in chunks of max(1, limit / (C*kH*kW*outH*outW*sizeof(T))) images.     */  \
  void set_conv_workspace_limit(size_t bytes);                                                      \
  size_t conv_workspace_limit();                                                                    \
  namespace detail {                                                                                \
  /* re-reads DUEL_CUDA_CONV (tests call it after setenv); throws on a bad value, leaving the */    \
  /* setting as it was */                                                                           \
  void reload_conv_algorithm_from_env();                                                            \
  }                                                                                                 \
  /* sets the algorithm for a scope and restores the previous one */                                \
  class ConvAlgorithmGuard {                                                                        \
   public:                                                                                          \
    explicit ConvAlgorithmGuard(ConvAlgorithm a) : prev_(conv_algorithm()) { set_conv_algorithm(a); } \
    ~ConvAlgorithmGuard() { set_conv_algorithm(prev_); }                                            \
    ConvAlgorithmGuard(const ConvAlgorithmGuard&) = delete;                                         \
    ConvAlgorithmGuard& operator=(const ConvAlgorithmGuard&) = delete;                              \
                                                                                                    \
   private:                                                                                         \
    ConvAlgorithm prev_;                                                                            \
  };                                                                                                \
  }

DUEL_DECLARE_CONV_ALGORITHM(sim)
#if defined(DUEL_WITH_CUDA)
DUEL_DECLARE_CONV_ALGORITHM(cuda)
#endif
