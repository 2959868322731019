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
//
// The second path, ConvAlgorithm::Im2col (kernels/cuda/conv_algorithm.h: set_conv_algorithm,
// ConvAlgorithmGuard, DUEL_CUDA_CONV=implicit|im2col), materialises the column matrix of a
// chunk of nb images in a scratch tensor, cols[n][c*kH*kW + ki*kW + kj][oh*outW + ow]
// (each image's block is the classic im2col matrix [C*kH*kW, P]; the rows of group g are
// the contiguous range [g*Cg*kH*kW, (g+1)*Cg*kH*kW)), and runs plain row-major GEMMs on it:
//
//   im2col_kernel    one thread per cols element (grid-stride), p fastest: the writes of a
//                    warp are consecutive, the reads walk along ow (sW apart; a few rows of
//                    one plane). Taps in the padding are written as 0.
//   col2im_kernel    one thread per gx element (n, c, h, w) of the chunk: a GATHER over the
//                    (ki, kj) taps whose window position oh = (h + pH - ki*dH) / sH (exact
//                    division, in [0, outH)) and ow (likewise) exists, summing
//                    gcols[n][c*kH*kW + ki*kW + kj][oh*outW + ow]. No atomics, no zeroing
//                    pass, deterministic; pixels no window reads get 0. Taps are visited in
//                    (ki, kj) order, the order of the CPU backend's col2im scatter.
//   forward          y_ng [Og, P] = W_g [Og, Cg*KK] x cols_ng [Cg*KK, P]
//   backward_input   gcols_ng [Cg*KK, P] = W_g^T x gy_ng [Og, P], then col2im
//   backward_weight  gw_g [Og, Cg*KK] (+)= gy_ng [Og, P] x cols_ng^T, image after image
//                    (beta = 0 for the first image of the batch, 1 after: the reduction
//                    over the batch is the GEMM's accumulate, no atomics)
//
// The per-(image, group) GEMMs share their strides, so each is one batched call: over the
// groups (looping over the images of the chunk) when groups >= nb, else over the images
// (looping over the groups). Under nvcc the GEMMs are cuBLAS {S,D}gemmStridedBatched
// (row-major as column-major: see run_gemm), on the current stream, with matmul.cu's
// handle; under the emulator they are gemm_tile_kernel with a strided Problem, so the
// whole path runs in the `sim` device. The scratch is one tensor on the device (the
// caching allocator on `cuda`), of at most conv_workspace_limit() bytes (default 128
// MiB; at least one image's columns). Degenerate shapes (N, Og, or an image with no
// pixels) fall back to the implicit kernels.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cuda/conv_algorithm.h"
#include "kernels/impl.h"
#include "kernels/cuda/gemm_tile.cuh"

#if defined(__CUDACC__)
#include <cublas_v2.h>

#include "kernels/cudnn/cudnn_ops.h"
#endif

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

// -------------------------------------------------------------- im2col path ----
std::atomic<int> g_algorithm{-1};  // -1: not yet read from DUEL_CUDA_CONV
std::atomic<size_t> g_workspace_limit{size_t(128) << 20};

#define DUEL_CONV_STR2_(x) #x
#define DUEL_CONV_STR_(x) DUEL_CONV_STR2_(x)
// DUEL_IMPL's sim:conv2d / cuda:conv2d (kernels/impl.h) when it names one ("cudnn" leaves
// duel's kernels on the implicit path, which is where cuDNN falls back), else DUEL_CUDA_CONV.
int algorithm_from_env() {
  const std::string v = ::duel::detail::impl_from_env(DUEL_CONV_STR_(DUEL_BACKEND_NAMESPACE) ":conv2d");
  if (!v.empty()) return static_cast<int>(v == "im2col" ? ConvAlgorithm::Im2col : ConvAlgorithm::Implicit);
  const char* e = std::getenv("DUEL_CUDA_CONV");
  if (!e || !*e || !std::strcmp(e, "implicit")) return static_cast<int>(ConvAlgorithm::Implicit);
  if (!std::strcmp(e, "im2col")) return static_cast<int>(ConvAlgorithm::Im2col);
  DUEL_FAIL("DUEL_CUDA_CONV: expected implicit or im2col, got '", e, "'");
}

// cols[(n*C + c)*KK + r][p] = x[n0 + n, c] at tap r and output pixel p (0 in the padding),
// for the nb images n0 .. n0+nb-1.
template <class T>
__global__ void im2col_kernel(const T* DUEL_RESTRICT x, T* DUEL_RESTRICT cols, ConvDims d, int64_t n0, int64_t nb) {
  const int64_t total = nb * d.C * d.KK * d.P;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t p = i % d.P, row = i / d.P;
    const int64_t r = row % d.KK, nc = row / d.KK;
    cols[i] = im2col(x, d, n0 + nc / d.C, nc % d.C, r / d.kW, r % d.kW, p / d.outW, p % d.outW);
  }
}

// gx[n0 + n, c, h, w] = sum over the taps (ki, kj) that read (h, w) of
// gcols[(n*C + c)*KK + ki*kW + kj][oh*outW + ow]; every element of the chunk is written.
template <class T>
__global__ void col2im_kernel(const T* DUEL_RESTRICT gcols, T* DUEL_RESTRICT gx, ConvDims d, int64_t n0, int64_t nb) {
  const int64_t hw = d.H * d.W, total = nb * d.C * hw;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t w = i % d.W, h = (i / d.W) % d.H, nc = i / hw;
    const T* col = gcols + nc * d.KK * d.P;  // rows (nc, 0 .. KK-1)
    T acc = T(0);
    for (int64_t ki = 0; ki < d.kH; ++ki) {
      const int64_t th = h + d.pH - ki * d.dH;
      if (th < 0) break;  // th only decreases with ki
      if (th % d.sH != 0) continue;
      const int64_t oh = th / d.sH;
      if (oh >= d.outH) continue;
      for (int64_t kj = 0; kj < d.kW; ++kj) {
        const int64_t tw = w + d.pW - kj * d.dW;
        if (tw < 0) break;
        if (tw % d.sW != 0) continue;
        const int64_t ow = tw / d.sW;
        if (ow >= d.outW) continue;
        acc += col[(ki * d.kW + kj) * d.P + oh * d.outW + ow];
      }
    }
    gx[n0 * d.C * hw + i] = acc;
  }
}

// One (batched) row-major GEMM: for z < batches,
//   C[z] = op(A[z]) x op(B[z])   (or C[z] += ... when accumulate)
// with op(A) [M, K], op(B) [K, N]; A[z] = A + z*sA, etc. A is stored [M, K] with row
// stride lda, or [K, M] when ta (op(A) = A^T); B likewise [K, N] / [N, K] (tb); C is [M, N]
// with row stride ldc. Batch strides may be 0.
template <class T>
struct Gemm {
  bool ta = false, tb = false;
  int64_t M = 0, N = 0, K = 0, batches = 1;
  const T* A = nullptr;
  int64_t lda = 0, sA = 0;
  const T* B = nullptr;
  int64_t ldb = 0, sB = 0;
  T* C = nullptr;
  int64_t ldc = 0, sC = 0;
  bool accumulate = false;
};

// gemm_tile's Problem for a Gemm (the emulator's GEMM; element (m, k) of op(A) at
// A[z*sA + m*a_m + k*a_k]).
template <class T>
struct StridedProblem {
  int64_t M, N, K, batches;
  const T* A;
  int64_t sA, a_m, a_k;
  const T* B;
  int64_t sB, b_k, b_n;
  T* C;
  int64_t sC, ldc;
  bool accumulate;
  DUEL_DEVICE DUEL_FORCEINLINE T a(int64_t z, int64_t m, int64_t k) const { return A[z * sA + m * a_m + k * a_k]; }
  DUEL_DEVICE DUEL_FORCEINLINE T b(int64_t z, int64_t k, int64_t n) const { return B[z * sB + k * b_k + n * b_n]; }
  DUEL_DEVICE DUEL_FORCEINLINE void store(int64_t z, int64_t m, int64_t n, T v) const {
    T* c = C + z * sC + m * ldc + n;
    *c = accumulate ? *c + v : v;  // never reads C when overwriting (it may be uninitialised)
  }
};

#if defined(__CUDACC__)
void check_cublas(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS)
    DUEL_FAIL("cuda conv (im2col): ", what, " failed (cublasStatus_t ", static_cast<int>(s), ")");
}
#endif

}  // namespace

#if defined(__CUDACC__)
cublasHandle_t cublas_handle();  // matmul.cu: the process's cuBLAS handle
#endif

namespace {

template <class T>
void run_gemm(const Gemm<T>& g, const char* name) {
  if (g.M <= 0 || g.N <= 0 || g.batches <= 0) return;
#if defined(__CUDACC__)
  // cuBLAS is column-major. A row-major matrix X [R, C] with row stride ld is, byte for
  // byte, the column-major X^T [C, R] with leading dimension ld. So the row-major
  //     C [M, N] = op(A) [M, K] x op(B) [K, N]          (ldc = row stride of C)
  // is the column-major product
  //     C^T [N, M] = op(B)^T [N, K] x op(A)^T [K, M]     (ldc = leading dim of C^T)
  // i.e. cuBLAS gets m = N, n = M, k = K, B's memory first and A's second. An operand
  // stored untransposed (row-major [K, N] for B) already *is* the transpose cuBLAS wants:
  // CUBLAS_OP_N with ld = its row stride. One stored transposed (tb: B kept as [N, K],
  // e.g. W_g read as W_g^T, or the column matrix read as cols^T) is, in column-major
  // order, op(B) itself: CUBLAS_OP_T with the same ld. No data is moved.
  const int64_t lim = 0x7fffffffLL;
  DUEL_CHECK(g.M <= lim && g.N <= lim && g.K <= lim && g.lda <= lim && g.ldb <= lim && g.ldc <= lim &&
                 g.batches <= lim,
             name, ": GEMM too large for cuBLAS's int dimensions (", g.M, " x ", g.N, " x ", g.K, ")");
  const cublasOperation_t op_b = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  const T one = T(1), beta = g.accumulate ? T(1) : T(0);
  check_cublas(cublasSetStream(cublas_handle(), launch_stream()), "cublasSetStream");
  if constexpr (std::is_same_v<T, float>) {
    check_cublas(cublasSgemmStridedBatched(cublas_handle(), op_b, op_a, (int)g.N, (int)g.M, (int)g.K, &one, g.B,
                                           (int)g.ldb, g.sB, g.A, (int)g.lda, g.sA, &beta, g.C, (int)g.ldc, g.sC,
                                           (int)g.batches),
                 "cublasSgemmStridedBatched");
  } else {
    check_cublas(cublasDgemmStridedBatched(cublas_handle(), op_b, op_a, (int)g.N, (int)g.M, (int)g.K, &one, g.B,
                                           (int)g.ldb, g.sB, g.A, (int)g.lda, g.sA, &beta, g.C, (int)g.ldc, g.sC,
                                           (int)g.batches),
                 "cublasDgemmStridedBatched");
  }
#else
  StridedProblem<T> p{g.M,
                      g.N,
                      g.K,
                      g.batches,
                      g.A,
                      g.sA,
                      g.ta ? 1 : g.lda,
                      g.ta ? g.lda : 1,
                      g.B,
                      g.sB,
                      g.tb ? 1 : g.ldb,
                      g.tb ? g.ldb : 1,
                      g.C,
                      g.sC,
                      g.ldc,
                      g.accumulate};
  launch_gemm_tile<T>(p, name, __FILE__, __LINE__);
#endif
}

bool use_im2col(const ConvDims& d) {
  if (conv_algorithm() != ConvAlgorithm::Im2col) return false;
  return d.N > 0 && d.Og > 0 && d.Cg > 0 && d.KK > 0 && d.P > 0 && d.H * d.W > 0;
}

// Images per chunk so that the column matrix stays within the workspace limit (>= 1).
template <class T>
int64_t chunk_images(const ConvDims& d) {
  const int64_t per_image = d.C * d.KK * d.P * static_cast<int64_t>(sizeof(T));
  const int64_t fit = static_cast<int64_t>(conv_workspace_limit()) / per_image;
  return std::max<int64_t>(1, std::min<int64_t>(d.N, fit));
}

template <class T>
Tensor scratch(int64_t count) {
  return empty({count}, TensorOptions(dtype_of<T>::value, Device(kDevice)));
}

template <class T>
void launch_im2col(const T* x, T* cols, const ConvDims& d, int64_t n0, int64_t nb) {
  DUEL_LAUNCH((im2col_kernel<T>), grid_for(nb * d.C * d.KK * d.P), kThreads, 0, launch_stream())(x, cols, d, n0, nb);
  DUEL_CHECK_LAUNCH("im2col_kernel");
}

// The per-(image, group) GEMMs of one chunk, whose operands for image n and group g are
// at base + n*image_stride + g*group_stride (m: the GEMM with everything but the bases).
// One batched call per image over the groups when groups >= nb, else one per group over
// the images.
template <class T>
void chunk_gemms(Gemm<T> m, int64_t nb, int64_t groups, const T* A, const int64_t (&sa)[2], const T* B,
                 const int64_t (&sb)[2], T* C, const int64_t (&sc)[2], const char* name) {
  const bool over_groups = groups >= nb;
  const int64_t loops = over_groups ? nb : groups, which = over_groups ? 0 : 1;  // which stride the loop steps
  m.batches = over_groups ? groups : nb;
  m.sA = sa[1 - which], m.sB = sb[1 - which], m.sC = sc[1 - which];
  for (int64_t i = 0; i < loops; ++i) {
    m.A = A + i * sa[which], m.B = B + i * sb[which], m.C = C + i * sc[which];
    run_gemm(m, name);
  }
}

template <class T>
void forward_im2col(const T* x, const T* w, T* y, const ConvDims& d) {
  const int64_t rows = d.C * d.KK, CgKK = d.Cg * d.KK, nb_max = chunk_images<T>(d);
  Tensor ws = scratch<T>(nb_max * rows * d.P);
  T* cols = ws.data<T>();
  for (int64_t n0 = 0; n0 < d.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, d.N - n0);
    launch_im2col(x, cols, d, n0, nb);
    // y[n0+n, g*Og + o, :] [Og, P] = W_g [Og, CgKK] x cols[n][g*CgKK .. ] [CgKK, P]
    Gemm<T> m;
    m.M = d.Og, m.N = d.P, m.K = CgKK, m.lda = CgKK, m.ldb = d.P, m.ldc = d.P;
    chunk_gemms(m, nb, d.groups, w, {0, d.Og * CgKK}, cols, {rows * d.P, CgKK * d.P}, y + n0 * d.O * d.P,
                {d.O * d.P, d.Og * d.P}, "conv2d_forward(im2col GEMM)");
  }
}

template <class T>
void backward_input_im2col(const T* gy, const T* w, T* gx, const ConvDims& d) {
  const int64_t rows = d.C * d.KK, CgKK = d.Cg * d.KK, nb_max = chunk_images<T>(d), hw = d.H * d.W;
  Tensor ws = scratch<T>(nb_max * rows * d.P);
  T* gcols = ws.data<T>();
  for (int64_t n0 = 0; n0 < d.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, d.N - n0);
    // gcols[n][g*CgKK ..] [CgKK, P] = W_g^T [CgKK, Og] x gy[n0+n, g*Og ..] [Og, P]
    Gemm<T> m;
    m.ta = true;  // W_g is stored [Og, CgKK]
    m.M = CgKK, m.N = d.P, m.K = d.Og, m.lda = CgKK, m.ldb = d.P, m.ldc = d.P;
    chunk_gemms(m, nb, d.groups, w, {0, d.Og * CgKK}, gy + n0 * d.O * d.P, {d.O * d.P, d.Og * d.P}, gcols,
                {rows * d.P, CgKK * d.P}, "conv2d_backward_input(im2col GEMM)");
    DUEL_LAUNCH((col2im_kernel<T>), grid_for(nb * d.C * hw), kThreads, 0, launch_stream())(gcols, gx, d, n0, nb);
    DUEL_CHECK_LAUNCH("col2im_kernel");
  }
}

template <class T>
void backward_weight_im2col(const T* x, const T* gy, T* gw, const ConvDims& d) {
  const int64_t rows = d.C * d.KK, CgKK = d.Cg * d.KK, nb_max = chunk_images<T>(d);
  Tensor ws = scratch<T>(nb_max * rows * d.P);
  T* cols = ws.data<T>();
  for (int64_t n0 = 0; n0 < d.N; n0 += nb_max) {
    const int64_t nb = std::min(nb_max, d.N - n0);
    launch_im2col(x, cols, d, n0, nb);
    // gw_g [Og, CgKK] (+)= gy[n, g*Og ..] [Og, P] x (cols[n][g*CgKK ..] [CgKK, P])^T, batched over g
    Gemm<T> m;
    m.tb = true;  // the column matrix is stored [CgKK, P] = op(B)^T
    m.M = d.Og, m.N = CgKK, m.K = d.P, m.lda = d.P, m.ldb = d.P, m.ldc = CgKK;
    m.batches = d.groups, m.sA = d.Og * d.P, m.sB = CgKK * d.P, m.sC = d.Og * CgKK, m.C = gw;
    for (int64_t n = 0; n < nb; ++n) {
      m.A = gy + (n0 + n) * d.O * d.P;
      m.B = cols + n * rows * d.P;
      m.accumulate = n0 + n > 0;
      run_gemm(m, "conv2d_backward_weight(im2col GEMM)");
    }
  }
}

}  // namespace

void set_conv_algorithm(ConvAlgorithm a) { g_algorithm.store(static_cast<int>(a)); }
ConvAlgorithm conv_algorithm() {
  int v = g_algorithm.load();
  if (v < 0) {
    v = algorithm_from_env();  // throws on a bad value (and stays unread)
    g_algorithm.store(v);
  }
  return static_cast<ConvAlgorithm>(v);
}
void set_conv_workspace_limit(size_t bytes) { g_workspace_limit.store(bytes); }
size_t conv_workspace_limit() { return g_workspace_limit.load(); }
namespace detail {
void reload_conv_algorithm_from_env() { g_algorithm.store(algorithm_from_env()); }
}  // namespace detail

template <class T>
void conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g) {
#if defined(__CUDACC__)
  if (cudnn::selected(cudnn::Op::Conv2d) && cudnn::conv2d_forward<T>(x, w, y, g)) return;  // cuda:conv2d=cudnn
#endif
  const ConvDims d = make_dims(g);
  if (use_im2col(d)) return forward_im2col(x, w, y, d);
  ConvForward<T> p{d.Og, d.N * d.P, d.Cg * d.KK, d.groups, x, w, y, d};
  launch_gemm_tile<T>(p, "conv2d_forward(gemm_tile_kernel)", __FILE__, __LINE__);
}

template <class T>
void conv2d_backward_input(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
#if defined(__CUDACC__)
  if (cudnn::selected(cudnn::Op::Conv2d) && cudnn::conv2d_backward_input<T>(gy, w, gx, g)) return;  // cuda:conv2d=cudnn
#endif
  const ConvDims d = make_dims(g);
  if (use_im2col(d)) return backward_input_im2col(gy, w, gx, d);
  ConvBackwardInput<T> p{d.Cg, d.N * d.H * d.W, d.Og * d.KK, d.groups, gy, w, gx, d};
  launch_gemm_tile<T>(p, "conv2d_backward_input(gemm_tile_kernel)", __FILE__, __LINE__);
}

template <class T>
void conv2d_backward_weight(const T* x, const T* gy, T* gw, const Conv2dGeometry& g) {
#if defined(__CUDACC__)
  if (cudnn::selected(cudnn::Op::Conv2d) && cudnn::conv2d_backward_weight<T>(x, gy, gw, g)) return;  // cuda:conv2d=cudnn
#endif
  const ConvDims d = make_dims(g);
  if (use_im2col(d)) return backward_weight_im2col(x, gy, gw, d);
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
