// The two ways duel computes a convolution, for every backend that has both (the CPU, the
// CUDA backend and its emulator; each has its own setting, a row of the implementation
// switch, kernels/impl.h: cpu:conv2d, sim:conv2d, cuda:conv2d).
//
//   ConvAlgorithm::Implicit  implicit GEMM: the GEMM reads the input image through offset
//                            tables and builds the patch matrix's panels itself; nothing the
//                            size of the patch matrix is written (the default)
//   ConvAlgorithm::Im2col    im2col / col2im into a scratch column matrix, and a GEMM on it
#pragma once

namespace duel {

enum class ConvAlgorithm {
  Implicit,  // implicit GEMM (default)
  Im2col,    // im2col/col2im + GEMM
};

inline const char* conv_algorithm_name(ConvAlgorithm a) { return a == ConvAlgorithm::Im2col ? "im2col" : "implicit"; }

}  // namespace duel
