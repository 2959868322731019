// 2-D convolution (NCHW, contiguous): forward, input gradient and weight gradient with
// the semantics of kernels/cpu/conv.h (groups, stride, padding, dilation, and any
// consistent outH/outW, which conv_transpose2d's output_padding relies on).
//
// All three are IMPLICIT GEMMs run by the tiled kernel of gemm_tile.cuh (64x64 output
// tile per block of 256 threads, 4x4 register micro-tile per thread, 16-deep K slabs
// staged in shared memory, two barriers per slab; see that file). Nothing is
// materialised: the im2col matrix is never built, each operand element is computed from
// its (row, column) coordinates while the slab is loaded, and results are stored
// straight into the NCHW tensor. Per group g (blockIdx.z), with Cg = C/groups,
// Og = O/groups, P = outH*outW, k-index (c, ki, kj) = c*kH*kW + ki*kW + kj:
//
//   forward          y [Og, N*P]      = W_g [Og, Cg*kH*kW] x col [Cg*kH*kW, N*P]
//                    col((c,ki,kj), (n,oh,ow)) = x[n, g*Cg + c, oh*sH - pH + ki*dH,
//                    ow*sW - pW + kj*dW], 0 outside the image. Slab loads of col run
//                    along ow: consecutive threads read input pixels sW apart.
//   backward_input   gx [Cg, N*H*W]   = W_g^T [Cg, Og*kH*kW] x gcol [Og*kH*kW, N*H*W]
//                    gcol((o,ki,kj), (n,h,w)) = gy[n, g*Og + o, oh, ow] where
//                    oh = (h + pH - ki*dH) / sH when that divides exactly and lands
//                    in [0, outH) (same for w), else 0. This is the transposed
//                    convolution written as a gather: each gx element is produced once
//                    by one thread (no col2im scatter, no atomics, every element
//                    written, including those no window touches, which get 0). With
//                    stride s, (s_h*s_w - 1)/(s_h*s_w) of the gcol entries are
//                    structural zeros that still cost a multiply-add.
//   backward_weight  gw [Og, Cg*kH*kW] = gy_g [Og, N*P] x col^T [N*P, Cg*kH*kW]
//                    the reduction runs over the batch and the pixels (GEMM K = N*P);
//                    slab loads of gy are contiguous along p. The result is written
//                    once (overwritten, not accumulated).
//
// Accumulation in T (float or double), like the CPU's GEMM. The summation order
// differs from the CPU backend's, so float results agree to rounding, not bitwise.
// Parallelism of backward_weight is limited to ceil(Og/64) x ceil(Cg*kH*kW/64) tiles
// per group; splitting its long K (N*P) across blocks would help small layers on a GPU.
#include "kernels/cuda/gemm_tile.cuh"

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

struct ConvDims {
  int64_t N, C, H, W, O, kH, kW, groups, sH, sW, pH, pW, dH, dW, outH, outW;
  int64_t Cg, Og, KK, P;  // C/groups, O/groups, kH*kW, outH*outW
};

ConvDims make_dims(const Conv2dGeometry& g) {
  ConvDims d{g.N, g.C, g.H, g.W, g.O, g.kH, g.kW, g.groups, g.strideH, g.strideW, g.padH, g.padW,
             g.dilH, g.dilW, g.outH, g.outW, 0, 0, 0, 0};
  d.Cg = g.C / g.groups;
  d.Og = g.O / g.groups;
  d.KK = g.kH * g.kW;
  d.P = g.outH * g.outW;
  return d;
}

// Input pixel x[n, channel, ...] read by output (oh, ow) through tap (ki, kj); 0 in the padding.
template <class T>
DUEL_DEVICE DUEL_FORCEINLINE T im2col(const T* x, const ConvDims& d, int64_t n, int64_t channel, int64_t ki,
                                      int64_t kj, int64_t oh, int64_t ow) {
  const int64_t h = oh * d.sH - d.pH + ki * d.dH, w = ow * d.sW - d.pW + kj * d.dW;
  if (h < 0 || h >= d.H || w < 0 || w >= d.W) return T(0);
  return x[((n * d.C + channel) * d.H + h) * d.W + w];
}

template <class T>
struct ConvForward {
  int64_t M, N, K, batches;  // Og, N*P, Cg*KK, groups
  const T* x;
  const T* w;
  T* y;
  ConvDims d;
  DUEL_DEVICE DUEL_FORCEINLINE T a(int64_t g, int64_t o, int64_t k) const { return w[(g * d.Og + o) * K + k]; }
  DUEL_DEVICE DUEL_FORCEINLINE T b(int64_t g, int64_t k, int64_t col) const {
    const int64_t c = k / d.KK, r = k % d.KK, n = col / d.P, p = col % d.P;
    return im2col(x, d, n, g * d.Cg + c, r / d.kW, r % d.kW, p / d.outW, p % d.outW);
  }
  DUEL_DEVICE DUEL_FORCEINLINE void store(int64_t g, int64_t o, int64_t col, T v) const {
    const int64_t n = col / d.P, p = col % d.P;
    y[(n * d.O + g * d.Og + o) * d.P + p] = v;
  }
};

template <class T>
struct ConvBackwardInput {
  int64_t M, N, K, batches;  // Cg, N*H*W, Og*KK, groups
  const T* gy;
  const T* w;
  T* gx;
  ConvDims d;
  // W_g^T: element (c, (o, r)) = w[g*Og + o, c, r]
  DUEL_DEVICE DUEL_FORCEINLINE T a(int64_t g, int64_t c, int64_t k) const {
    const int64_t o = k / d.KK, r = k % d.KK;
    return w[((g * d.Og + o) * d.Cg + c) * d.KK + r];
  }
  DUEL_DEVICE DUEL_FORCEINLINE T b(int64_t g, int64_t k, int64_t col) const {
    const int64_t o = k / d.KK, r = k % d.KK, ki = r / d.kW, kj = r % d.kW;
    const int64_t hw = d.H * d.W, n = col / hw, h = (col % hw) / d.W, w_ = col % d.W;
    const int64_t th = h + d.pH - ki * d.dH, tw = w_ + d.pW - kj * d.dW;
    if (th < 0 || tw < 0 || th % d.sH != 0 || tw % d.sW != 0) return T(0);
    const int64_t oh = th / d.sH, ow = tw / d.sW;
    if (oh >= d.outH || ow >= d.outW) return T(0);
    return gy[((n * d.O + g * d.Og + o) * d.outH + oh) * d.outW + ow];
  }
  DUEL_DEVICE DUEL_FORCEINLINE void store(int64_t g, int64_t c, int64_t col, T v) const {
    const int64_t hw = d.H * d.W, n = col / hw, pix = col % hw;
    gx[(n * d.C + g * d.Cg + c) * hw + pix] = v;
  }
};

template <class T>
struct ConvBackwardWeight {
  int64_t M, N, K, batches;  // Og, Cg*KK, N*P, groups
  const T* x;
  const T* gy;
  T* gw;
  ConvDims d;
  DUEL_DEVICE DUEL_FORCEINLINE T a(int64_t g, int64_t o, int64_t k) const {
    const int64_t n = k / d.P, p = k % d.P;
    return gy[(n * d.O + g * d.Og + o) * d.P + p];
  }
  DUEL_DEVICE DUEL_FORCEINLINE T b(int64_t g, int64_t k, int64_t col) const {
    const int64_t n = k / d.P, p = k % d.P, c = col / d.KK, r = col % d.KK;
    return im2col(x, d, n, g * d.Cg + c, r / d.kW, r % d.kW, p / d.outW, p % d.outW);
  }
  DUEL_DEVICE DUEL_FORCEINLINE void store(int64_t g, int64_t o, int64_t col, T v) const {
    gw[(g * d.Og + o) * N + col] = v;
  }
};

}  // namespace

template <class T>
void conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g) {
  const ConvDims d = make_dims(g);
  ConvForward<T> p{d.Og, d.N * d.P, d.Cg * d.KK, d.groups, x, w, y, d};
  launch_gemm_tile<T>(p, "conv2d_forward(gemm_tile_kernel)", __FILE__, __LINE__);
}

template <class T>
void conv2d_backward_input(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  const ConvDims d = make_dims(g);
  ConvBackwardInput<T> p{d.Cg, d.N * d.H * d.W, d.Og * d.KK, d.groups, gy, w, gx, d};
  launch_gemm_tile<T>(p, "conv2d_backward_input(gemm_tile_kernel)", __FILE__, __LINE__);
}

template <class T>
void conv2d_backward_weight(const T* x, const T* gy, T* gw, const Conv2dGeometry& g) {
  const ConvDims d = make_dims(g);
  ConvBackwardWeight<T> p{d.Og, d.Cg * d.KK, d.N * d.P, d.groups, x, gy, gw, d};
  launch_gemm_tile<T>(p, "conv2d_backward_weight(gemm_tile_kernel)", __FILE__, __LINE__);
}

template void conv2d_forward<float>(const float*, const float*, float*, const Conv2dGeometry&);
template void conv2d_forward<double>(const double*, const double*, double*, const Conv2dGeometry&);
template void conv2d_backward_input<float>(const float*, const float*, float*, const Conv2dGeometry&);
template void conv2d_backward_input<double>(const double*, const double*, double*, const Conv2dGeometry&);
template void conv2d_backward_weight<float>(const float*, const float*, float*, const Conv2dGeometry&);
template void conv2d_backward_weight<double>(const double*, const double*, double*, const Conv2dGeometry&);

}  // namespace duel::DUEL_BACKEND_NAMESPACE
