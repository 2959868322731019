// 2-D convolution on the CPU: im2col + GEMM (kernels/cpu/gemm.h), multi-threaded with OpenMP.
//
// Memory layout
// -------------
// Everything is contiguous row-major NCHW. For one group, a convolution is a
// matrix product. Lay the receptive fields of a block of `nb` consecutive
// samples out as the columns of a "column matrix" (im2col):
//
//   col[K, nb*P]     K = C*kH*kW rows, row index (c, ki, kj)
//                    column index (n, oh, ow), P = outH*outW
//   col[(c,ki,kj), (n,oh,ow)] = x[n0+n, c, oh*sH - pH + ki*dH, ow*sW - pW + kj*dW]
//                               (0 outside the image)
//
// The channels of group g are contiguous, so group g owns the contiguous row
// block [g*Kg, (g+1)*Kg) of col, Kg = (C/groups)*kH*kW; the weights of group g
// are the row-major matrix Wg[Og, Kg] at w + g*Og*Kg, Og = O/groups. Then
//
//   forward          Yg [Og, nb*P] = Wg  [Og, Kg] * colg [Kg, nb*P]
//   backward_input   colg[Kg, nb*P] = Wg^T[Kg, Og] * GYg [Og, nb*P]  then col2im
//   backward_weight  GWg[Og, Kg]   += GYg [Og, nb*P] * colg^T[nb*P, Kg]
//
// Y / GY for a block of samples live in the tensor as [nb, O, P]; the GEMMs
// want [O, nb*P], so for nb > 1 they are copied through a small scratch
// buffer (a memcpy of P floats per (n, o); cheap next to the GEMM). With
// nb == 1 the GEMM reads/writes the tensor in place, and for pointwise
// convolutions (1x1, stride 1, no padding) the column matrix *is* the input
// plane, so im2col/col2im are skipped entirely.
//
// Why blocks of samples: the DCGAN layers have tiny images (P = 1, 9, 16, 49),
// and a GEMM with 9 columns runs far below peak. Concatenating the columns of
// nb samples (nb*P ~ a few hundred) gives GEMMs that run near peak, while the
// column buffer stays a few MB (it is reused, so it stays in L2/L3).
//
// Parallelisation
// ---------------
// Mode "samples" (N >= 2 and not already inside a parallel region): the
// batch is split into one contiguous range of samples per thread. Each thread
// runs im2col -> single-threaded GEMM -> scatter/col2im on its own samples
// with its own thread-local column/scratch buffers (reused across calls).
// The GEMM runs single-threaded because it is called inside a parallel region,
// so there is no nested parallelism. Threads write disjoint samples of y/gx,
// so there are no races. For the weight gradient each thread accumulates a
// private GW (thread 0 directly into gw), and a final parallel pass sums them.
// This is the layout PyTorch's slow_conv2d uses too: coarse-grained, no
// synchronisation inside the batch loop.
//
// Mode "gemm" (N == 1): one block of samples at a time; im2col / col2im are
// parallel over (sample, channel) planes, and the GEMM itself is split over
// the threads (cpu::gemm), or, when there are at least as many groups
// as threads, we run one group per thread with single-threaded GEMMs.
// Called from inside someone else's parallel region, everything runs serially
// on the calling thread (no nested teams).
//
// Implicit GEMM (float32, the default; cpu:conv2d in kernels/impl.h): the column matrix is
// never written. Its element (row (c, ki, kj), column (n, oh, ow)) is xp[tap[c,ki,kj] +
// pix[n,oh,ow]] in a zero-bordered copy xp of the block's input (or the input itself when no
// border is needed), and y's element (o, (n, p)) is y[o*P + n*O*P + p]: both are "gathered"
// matrices (kernels/cpu/gemm.h, GatherMatrix), so
//   forward          y  = W * col            B gathered from xp, C stored through offsets (past one
//                                            K block: into a dense buffer, copied to y once)
//   backward_weight  GW += GY * col^T        A gathered from gy, B gathered from xp
//   backward_input   gxp += W^T * GY         B gathered from gy, C scatter-added into gxp
// and the GEMM's own packing does im2col (straight into its micro-panels) and col2im (from
// each finished micro-tile). What is saved is the column matrix's write and re-read (K x cols
// floats each way), the channel-major copies, and the col2im pass.
//
// im2col itself: for wide outputs, one memcpy / strided copy per (tap, output
// row); for narrow outputs (outW < 16, the DCGAN case) the plane is copied
// into a zero-bordered scratch plane and gathered through a precomputed offset
// table, which is branch-free and has no per-row overhead (see Im2colPlan).
#include "conv.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/loops.h"
#include "kernels/impl.h"  // detail::impl_from_env

#ifdef _OPENMP
#include <omp.h>
#endif

namespace duel::cpu {
namespace {

int usable_threads() {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Threads for one GEMM of a block: all of them in mode "gemm" from kParallelMacs multiply-adds
// (as matmul), else 1 (inside a parallel region gemm() runs serially anyway).
int gemm_threads(bool parallel, int64_t M, int64_t N, int64_t K) {
  return parallel && M * N * K >= kParallelMacs ? usable_threads() : 1;
}

// Per-thread scratch buffers, grown on demand and reused across calls.
enum ScratchSlot { kColumns = 0, kGemmOutput = 1, kWeightAccumulator = 2, kPaddedPlane = 3, kNumSlots = 4 };
template <class T>
T* thread_scratch(ScratchSlot slot, int64_t count) {
  static thread_local std::vector<T> buffers[kNumSlots];
  std::vector<T>& buffer = buffers[slot];
  if (static_cast<int64_t>(buffer.size()) < count) {
    buffer.clear();
    buffer.shrink_to_fit();
    buffer.resize(static_cast<size_t>(count));
  }
  return buffer.data();
}

// Range [lo, hi) of output coordinates o for which i = o*stride + offset lies in
// [0, size). offset = k*dilation - pad.
inline void valid_output_range(int64_t offset, int64_t stride, int64_t size, int64_t out_size,
                               int64_t& lo, int64_t& hi) {
  // o*stride + offset >= 0  <=>  o >= ceil(-offset / stride)
  lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  // o*stride + offset <= size - 1  <=>  o <= floor((size - 1 - offset) / stride)
  const int64_t top = size - 1 - offset;
  hi = top < 0 ? 0 : std::min<int64_t>(out_size, top / stride + 1);
  lo = std::min(lo, hi);
}

// How one kernel tap (ki, kj) maps output pixels to input pixels: output rows
// [oh_lo, oh_hi) x columns [ow_lo, ow_hi) read input (oh*sH + h_offset,
// ow*sW + w_offset); all other outputs read padding (0).
struct TapWindow {
  int64_t oh_lo, oh_hi, ow_lo, ow_hi, h_offset, w_offset;
};

// Per-call precomputation shared by all planes. Two im2col strategies:
//  - rows (wide outputs): per tap and output row, one memcpy / strided copy.
//  - table (narrow outputs, e.g. 7x7 or 3x3 maps, where per-row overhead
//    would dominate): the plane is first copied into a small zero-bordered
//    scratch plane [padded_H, padded_W], and a [kH*kW, P] table of offsets
//    into it turns im2col into one branch-free flat gather per plane (and
//    col2im into one branch-free scatter-add plus a copy back).
struct Im2colPlan {
  std::vector<TapWindow> taps;      // kH*kW entries
  std::vector<int32_t> src_offset;  // [kH*kW, P] offsets into the padded plane, when use_table
  int64_t padded_H = 0, padded_W = 0;
  bool use_table = false;
  bool table_reads_plane = false;  // no padding needed: offsets index x's plane directly
};

Im2colPlan make_im2col_plan(const Conv2dGeometry& g) {
  Im2colPlan plan;
  plan.taps.resize(static_cast<size_t>(g.kH * g.kW));
  for (int64_t ki = 0; ki < g.kH; ++ki)
    for (int64_t kj = 0; kj < g.kW; ++kj) {
      TapWindow& t = plan.taps[ki * g.kW + kj];
      t.h_offset = ki * g.dilH - g.padH;
      t.w_offset = kj * g.dilW - g.padW;
      valid_output_range(t.h_offset, g.strideH, g.H, g.outH, t.oh_lo, t.oh_hi);
      valid_output_range(t.w_offset, g.strideW, g.W, g.outW, t.ow_lo, t.ow_hi);
    }
  const int64_t P = g.outH * g.outW;
  // The padded plane covers every tap of every window: rows [-padH, last),
  // last = max(H, furthest tap + 1).
  plan.padded_H = g.padH + std::max(g.H, (g.outH - 1) * g.strideH + (g.kH - 1) * g.dilH - g.padH + 1);
  plan.padded_W = g.padW + std::max(g.W, (g.outW - 1) * g.strideW + (g.kW - 1) * g.dilW - g.padW + 1);
  plan.use_table = g.outW < 16 && plan.padded_H * plan.padded_W <= (int64_t(1) << 16);
  plan.table_reads_plane = g.padH == 0 && g.padW == 0 && plan.padded_H == g.H && plan.padded_W == g.W;
  if (plan.use_table) {
    plan.src_offset.resize(static_cast<size_t>(g.kH * g.kW * P));
    for (int64_t ki = 0; ki < g.kH; ++ki)
      for (int64_t kj = 0; kj < g.kW; ++kj)
        for (int64_t oh = 0; oh < g.outH; ++oh)
          for (int64_t ow = 0; ow < g.outW; ++ow)
            plan.src_offset[(ki * g.kW + kj) * P + oh * g.outW + ow] = static_cast<int32_t>(
                (oh * g.strideH + ki * g.dilH) * plan.padded_W + ow * g.strideW + kj * g.dilW);
  }
  return plan;
}

// Writes the kH*kW rows of input channel plane `x_plane` [H, W] into `col`
// (row r = ki*kW + kj at col + r*row_stride, P entries each).
template <class T>
void im2col_plane(const T* x_plane, T* col, int64_t row_stride, const Conv2dGeometry& g,
                  const Im2colPlan& plan) {
  const int64_t P = g.outH * g.outW;
  const int64_t taps = static_cast<int64_t>(plan.taps.size());
  if (plan.use_table) {
    const T* padded = x_plane;
    if (!plan.table_reads_plane) {
      T* buffer = thread_scratch<T>(kPaddedPlane, plan.padded_H * plan.padded_W);
      std::fill(buffer, buffer + plan.padded_H * plan.padded_W, T(0));
      for (int64_t h = 0; h < g.H; ++h)
        std::memcpy(buffer + (h + g.padH) * plan.padded_W + g.padW, x_plane + h * g.W, sizeof(T) * g.W);
      padded = buffer;
    }
    for (int64_t r = 0; r < taps; ++r) {
      const int32_t* offset = plan.src_offset.data() + r * P;
      T* dst = col + r * row_stride;
      // dst (the column matrix) and padded (the plane) never overlap: simd lets the compiler use
      // vector gathers (without it, a scalar loop of ~2.4 cycles per element); not for a few
      // pixels (D4's 1x1 output), where the masked gather costs more than it saves
      if (P >= 16) {
#pragma omp simd
        for (int64_t p = 0; p < P; ++p) dst[p] = padded[offset[p]];
      } else {
        for (int64_t p = 0; p < P; ++p) dst[p] = padded[offset[p]];
      }
    }
    return;
  }
  for (int64_t r = 0; r < taps; ++r) {
    const TapWindow& t = plan.taps[r];
    T* dst_row = col + r * row_stride;
    std::fill(dst_row, dst_row + t.oh_lo * g.outW, T(0));
    for (int64_t oh = t.oh_lo; oh < t.oh_hi; ++oh) {
      T* dst = dst_row + oh * g.outW;
      const T* src = x_plane + (oh * g.strideH + t.h_offset) * g.W + t.w_offset;
      for (int64_t ow = 0; ow < t.ow_lo; ++ow) dst[ow] = T(0);
      if (g.strideW == 1) {
        std::memcpy(dst + t.ow_lo, src + t.ow_lo, sizeof(T) * (t.ow_hi - t.ow_lo));
      } else {
        const int64_t sw = g.strideW;
        for (int64_t ow = t.ow_lo; ow < t.ow_hi; ++ow) dst[ow] = src[ow * sw];
      }
      for (int64_t ow = t.ow_hi; ow < g.outW; ++ow) dst[ow] = T(0);
    }
    std::fill(dst_row + t.oh_hi * g.outW, dst_row + P, T(0));
  }
}

// Adjoint of im2col_plane: gx_plane [H, W] = sum of the kH*kW rows scattered
// back to the pixels they were read from. gx_plane is overwritten.
template <class T>
void col2im_plane(const T* col, int64_t row_stride, T* gx_plane, const Conv2dGeometry& g,
                  const Im2colPlan& plan) {
  const int64_t P = g.outH * g.outW;
  const int64_t taps = static_cast<int64_t>(plan.taps.size());
  if (plan.use_table) {
    T* padded = plan.table_reads_plane ? gx_plane
                                       : thread_scratch<T>(kPaddedPlane, plan.padded_H * plan.padded_W);
    std::fill(padded, padded + plan.padded_H * plan.padded_W, T(0));
    for (int64_t r = 0; r < taps; ++r) {
      const int32_t* offset = plan.src_offset.data() + r * P;
      const T* src = col + r * row_stride;
      // (scalar on purpose: with `omp simd` the AVX-512 scatter made the DQN input gradient 25%
      // slower)
      for (int64_t p = 0; p < P; ++p) padded[offset[p]] += src[p];
    }
    if (plan.table_reads_plane) return;
    for (int64_t h = 0; h < g.H; ++h)
      std::memcpy(gx_plane + h * g.W, padded + (h + g.padH) * plan.padded_W + g.padW, sizeof(T) * g.W);
    return;
  }
  std::fill(gx_plane, gx_plane + g.H * g.W, T(0));
  for (int64_t r = 0; r < taps; ++r) {
    const TapWindow& t = plan.taps[r];
    const T* src_row = col + r * row_stride;
    for (int64_t oh = t.oh_lo; oh < t.oh_hi; ++oh) {
      const T* src = src_row + oh * g.outW;
      T* dst = gx_plane + (oh * g.strideH + t.h_offset) * g.W + t.w_offset;
      if (g.strideW == 1) {
        for (int64_t ow = t.ow_lo; ow < t.ow_hi; ++ow) dst[ow] += src[ow];
      } else {
        const int64_t sw = g.strideW;
        for (int64_t ow = t.ow_lo; ow < t.ow_hi; ++ow) dst[ow * sw] += src[ow];
      }
    }
  }
}

// Sizes derived from the geometry.
struct ConvLayout {
  int64_t in_per_group;    // Cg = C / groups
  int64_t out_per_group;   // Og = O / groups
  int64_t kernel_area;     // kH * kW
  int64_t rows_per_group;  // Kg = Cg * kH * kW
  int64_t rows;            // K = C * kH * kW (all groups)
  int64_t out_pixels;      // P = outH * outW
  int64_t in_pixels;       // H * W
  bool pointwise;          // 1x1, stride 1, no padding, same size: col == x
  Im2colPlan im2col;
};


ConvLayout make_layout(const Conv2dGeometry& g) {
  ConvLayout L;
  L.in_per_group = g.C / g.groups;
  L.out_per_group = g.O / g.groups;
  L.kernel_area = g.kH * g.kW;
  L.rows_per_group = L.in_per_group * L.kernel_area;
  L.rows = g.C * L.kernel_area;
  L.out_pixels = g.outH * g.outW;
  L.in_pixels = g.H * g.W;
  L.pointwise = g.kH == 1 && g.kW == 1 && g.strideH == 1 && g.strideW == 1 && g.padH == 0 &&
                g.padW == 0 && g.outH == g.H && g.outW == g.W;
  L.im2col = make_im2col_plan(g);
  return L;
}

// Threads for a whole convolution pass: 1 below kParallelMacs multiply-adds (the three passes
// have the same count), else all of them.
int conv_threads(const Conv2dGeometry& g, const ConvLayout& L) {
  const int64_t macs = g.N * g.O * L.rows_per_group * L.out_pixels;
  return macs >= kParallelMacs ? usable_threads() : 1;
}

// im2col of samples [n0, n0+nb) into col [K, nb*P].
template <class T>
void im2col_block(const T* x, T* col, int64_t n0, int64_t nb, const Conv2dGeometry& g,
                  const ConvLayout& L, bool parallel) {
  const int64_t row_stride = nb * L.out_pixels;
  const int64_t planes = nb * g.C;
  auto one_plane = [&](int64_t plane) {
    const int64_t n = plane / g.C, c = plane % g.C;
    im2col_plane(x + ((n0 + n) * g.C + c) * L.in_pixels,
                 col + c * L.kernel_area * row_stride + n * L.out_pixels, row_stride, g, L.im2col);
  };
  if (parallel) {
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) one_plane(plane);
  } else {
    for (int64_t plane = 0; plane < planes; ++plane) one_plane(plane);
  }
}

// col2im of col [K, nb*P] into gx samples [n0, n0+nb) (overwritten).
template <class T>
void col2im_block(const T* col, T* gx, int64_t n0, int64_t nb, const Conv2dGeometry& g,
                  const ConvLayout& L, bool parallel) {
  const int64_t row_stride = nb * L.out_pixels;
  const int64_t planes = nb * g.C;
  auto one_plane = [&](int64_t plane) {
    const int64_t n = plane / g.C, c = plane % g.C;
    col2im_plane(col + c * L.kernel_area * row_stride + n * L.out_pixels, row_stride,
                 gx + ((n0 + n) * g.C + c) * L.in_pixels, g, L.im2col);
  };
  if (parallel) {
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < planes; ++plane) one_plane(plane);
  } else {
    for (int64_t plane = 0; plane < planes; ++plane) one_plane(plane);
  }
}

// [nb, O, P] (tensor layout, samples n0..) -> [O, nb*P] (GEMM layout).
template <class T>
void gather_channels_major(const T* tensor, T* matrix, int64_t n0, int64_t nb, int64_t channels,
                           int64_t P) {
  for (int64_t o = 0; o < channels; ++o)
    for (int64_t n = 0; n < nb; ++n)
      std::memcpy(matrix + (o * nb + n) * P, tensor + ((n0 + n) * channels + o) * P,
                  sizeof(T) * P);
}

// [O, nb*P] (GEMM layout) -> [nb, O, P] (tensor layout, samples n0..).
template <class T>
void scatter_channels_major(const T* matrix, T* tensor, int64_t n0, int64_t nb,
                            int64_t channels, int64_t P) {
  for (int64_t o = 0; o < channels; ++o)
    for (int64_t n = 0; n < nb; ++n)
      std::memcpy(tensor + ((n0 + n) * channels + o) * P, matrix + (o * nb + n) * P,
                  sizeof(T) * P);
}

// Tuning: aim for GEMMs with at least kTargetColumns columns, and keep the
// per-thread column buffer under kColumnBudgetBytes (unless one sample
// already needs more).
constexpr int64_t kTargetColumns = 512;
constexpr int64_t kColumnBudgetBytes = int64_t(4) << 20;

template <class T>
int64_t choose_block(const ConvLayout& L, int64_t max_samples) {
  int64_t nb = (kTargetColumns + L.out_pixels - 1) / L.out_pixels;
  const int64_t per_sample_bytes = L.rows * L.out_pixels * int64_t(sizeof(T));
  nb = std::min(nb, std::max<int64_t>(1, kColumnBudgetBytes / std::max<int64_t>(1, per_sample_bytes)));
  // Pointwise convs with big images need no batching (and then skip im2col).
  if (L.pointwise && L.out_pixels >= 64) nb = 1;
  return std::max<int64_t>(1, std::min(nb, max_samples));
}

// Splits the batch into `parts` contiguous ranges.
inline void part_range(int64_t N, int64_t parts, int64_t part, int64_t& begin, int64_t& end) {
  begin = N * part / parts;
  end = N * (part + 1) / parts;
}

// ---------------------------------------------------------------------------
// forward

// y for samples [n0, n0+nb). `parallel`: parallel im2col + threaded GEMM.
template <class T>
void forward_block(const T* x, const T* w, T* y, int64_t n0, int64_t nb, const Conv2dGeometry& g,
                   const ConvLayout& L, bool parallel) {
  const int64_t cols = nb * L.out_pixels;
  const T* col;
  if (L.pointwise && nb == 1) {
    col = x + n0 * g.C * L.in_pixels;
  } else {
    T* col_buffer = thread_scratch<T>(kColumns, L.rows * cols);
    im2col_block(x, col_buffer, n0, nb, g, L, parallel);
    col = col_buffer;
  }
  T* gemm_out = nb == 1 ? nullptr : thread_scratch<T>(kGemmOutput, g.O * cols);
  const int64_t Og = L.out_per_group, Kg = L.rows_per_group;
  const int threads = gemm_threads(parallel, Og, cols, Kg);
  auto one_group = [&](int64_t gi) {
    // out [Og, cols] = weight [Og, Kg] * columns [Kg, cols]
    T* out = nb == 1 ? y + (n0 * g.O + gi * Og) * L.out_pixels : gemm_out + gi * Og * cols;
    gemm<T>(Og, cols, Kg, w + gi * Og * Kg, Kg, 1, col + gi * Kg * cols, cols, 1, out, cols, false, threads);
  };
  if (parallel && g.groups >= usable_threads() && g.groups > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t gi = 0; gi < g.groups; ++gi) one_group(gi);
  } else {
    for (int64_t gi = 0; gi < g.groups; ++gi) one_group(gi);
  }
  if (nb > 1) scatter_channels_major(gemm_out, y, n0, nb, g.O, L.out_pixels);
}

// ---------------------------------------------------------------------------
// backward wrt input

template <class T>
void backward_input_block(const T* gy, const T* w, T* gx, int64_t n0, int64_t nb,
                          const Conv2dGeometry& g, const ConvLayout& L, bool parallel) {
  const int64_t cols = nb * L.out_pixels;
  const T* grad_out;
  if (nb == 1) {
    grad_out = gy + n0 * g.O * L.out_pixels;
  } else {
    T* buffer = thread_scratch<T>(kGemmOutput, g.O * cols);
    gather_channels_major(gy, buffer, n0, nb, g.O, L.out_pixels);
    grad_out = buffer;
  }
  const bool direct = L.pointwise && nb == 1;  // column matrix == gx block
  T* col = direct ? gx + n0 * g.C * L.in_pixels : thread_scratch<T>(kColumns, L.rows * cols);
  const int64_t Og = L.out_per_group, Kg = L.rows_per_group;
  const int threads = gemm_threads(parallel, Kg, cols, Og);
  auto one_group = [&](int64_t gi) {
    // columns [Kg, cols] = weight^T [Kg, Og] * grad [Og, cols] (weight^T read with strides (1, Kg))
    gemm<T>(Kg, cols, Og, w + gi * Og * Kg, 1, Kg, grad_out + gi * Og * cols, cols, 1, col + gi * Kg * cols, cols,
            false, threads);
  };
  if (parallel && g.groups >= usable_threads() && g.groups > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t gi = 0; gi < g.groups; ++gi) one_group(gi);
  } else {
    for (int64_t gi = 0; gi < g.groups; ++gi) one_group(gi);
  }
  if (!direct) col2im_block(col, gx, n0, nb, g, L, parallel);
}

// ---------------------------------------------------------------------------
// backward wrt weight

// grad_weight [O, Kg] += contribution of samples [n0, n0+nb).
template <class T>
void backward_weight_block(const T* x, const T* gy, T* grad_weight, int64_t n0, int64_t nb,
                           const Conv2dGeometry& g, const ConvLayout& L, bool parallel) {
  const int64_t cols = nb * L.out_pixels;
  const T* col;
  if (L.pointwise && nb == 1) {
    col = x + n0 * g.C * L.in_pixels;
  } else {
    T* col_buffer = thread_scratch<T>(kColumns, L.rows * cols);
    im2col_block(x, col_buffer, n0, nb, g, L, parallel);
    col = col_buffer;
  }
  const T* grad_out;
  if (nb == 1) {
    grad_out = gy + n0 * g.O * L.out_pixels;
  } else {
    T* buffer = thread_scratch<T>(kGemmOutput, g.O * cols);
    gather_channels_major(gy, buffer, n0, nb, g.O, L.out_pixels);
    grad_out = buffer;
  }
  const int64_t Og = L.out_per_group, Kg = L.rows_per_group;
  const int threads = gemm_threads(parallel, Og, Kg, cols);
  auto one_group = [&](int64_t gi) {
    // grad_weight [Og, Kg] += grad [Og, cols] * columns^T [cols, Kg] (columns^T read with strides (1, cols))
    gemm<T>(Og, Kg, cols, grad_out + gi * Og * cols, cols, 1, col + gi * Kg * cols, 1, cols,
            grad_weight + gi * Og * Kg, Kg, true, threads);
  };
  if (parallel && g.groups >= usable_threads() && g.groups > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t gi = 0; gi < g.groups; ++gi) one_group(gi);
  } else {
    for (int64_t gi = 0; gi < g.groups; ++gi) one_group(gi);
  }
}

// ---------------------------------------------------------------------------
// implicit GEMM (float32)

std::atomic<int>& algorithm_setting() {
  static std::atomic<int> a{[] {
    const std::string e = duel::detail::impl_from_env("cpu:conv2d");  // throws on a malformed DUEL_IMPL
    return static_cast<int>(e == "im2col" ? ConvAlgorithm::Im2col : ConvAlgorithm::Implicit);
  }()};
  return a;
}

std::atomic<int64_t> g_implicit_passes{0};

// The offset tables of one call (kernels/cpu/gemm.h, GatherMatrix), for blocks of up to
// `max_nb` samples.
struct ImplicitPlan {
  int64_t Hp = 0, Wp = 0;       // the zero-bordered plane
  bool border = false;          // false: xp is x itself (no padding, no tap outside the image)
  std::vector<int32_t> tap;     // [Kg]      (c, ki, kj) -> c*Hp*Wp + ki*dH*Wp + kj*dW
  std::vector<int32_t> pix;     // [nb*P]    (n, oh, ow) -> n*C*Hp*Wp + oh*sH*Wp + ow*sW
  std::vector<int32_t> chan;    // [Og]      o -> o*P                  (y, gy)
  std::vector<int32_t> outpix;  // [nb*P]    (n, p) -> n*O*P + p       (y, gy)
};

// Whether the implicit path can run this call: float32 (double goes through Eigen), the
// chosen algorithm, duel's own GEMM kernel (eigen is kept as the reference, and it cannot
// gather), no GEMM split over threads (one sample with threads), offsets within int32.
template <class T>
bool use_implicit(const Conv2dGeometry& g, const ConvLayout& L, int threads, int64_t max_nb) {
  if (!std::is_same_v<T, float> || conv_algorithm() != ConvAlgorithm::Implicit) return false;
  if (gemm_resolved_impl() == GemmImpl::Eigen) return false;
  if (threads > 1 && g.N < 2) return false;
  const int64_t limit = int64_t(1) << 31;
  return max_nb * g.C * L.im2col.padded_H * L.im2col.padded_W < limit && max_nb * g.O * L.out_pixels < limit;
}

ImplicitPlan make_implicit_plan(const Conv2dGeometry& g, const ConvLayout& L, int64_t max_nb) {
  g_implicit_passes.fetch_add(1, std::memory_order_relaxed);
  ImplicitPlan ip;
  ip.Hp = L.im2col.padded_H;
  ip.Wp = L.im2col.padded_W;
  ip.border = !(g.padH == 0 && g.padW == 0 && ip.Hp == g.H && ip.Wp == g.W);
  if (!ip.border) ip.Hp = g.H, ip.Wp = g.W;
  const int64_t plane = ip.Hp * ip.Wp, P = L.out_pixels;
  ip.tap.resize(static_cast<size_t>(L.rows_per_group));
  for (int64_t c = 0; c < L.in_per_group; ++c)
    for (int64_t ki = 0; ki < g.kH; ++ki)
      for (int64_t kj = 0; kj < g.kW; ++kj)
        ip.tap[(c * g.kH + ki) * g.kW + kj] = static_cast<int32_t>(c * plane + ki * g.dilH * ip.Wp + kj * g.dilW);
  ip.pix.resize(static_cast<size_t>(max_nb * P));
  ip.outpix.resize(static_cast<size_t>(max_nb * P));
  for (int64_t n = 0; n < max_nb; ++n)
    for (int64_t oh = 0; oh < g.outH; ++oh)
      for (int64_t ow = 0; ow < g.outW; ++ow) {
        const int64_t j = n * P + oh * g.outW + ow;
        ip.pix[j] = static_cast<int32_t>(n * g.C * plane + oh * g.strideH * ip.Wp + ow * g.strideW);
        ip.outpix[j] = static_cast<int32_t>(n * g.O * P + oh * g.outW + ow);
      }
  ip.chan.resize(static_cast<size_t>(L.out_per_group));
  for (int64_t o = 0; o < L.out_per_group; ++o) ip.chan[o] = static_cast<int32_t>(o * P);
  return ip;
}

// Samples [n0, n0+nb) of x copied into zero-bordered planes [nb, C, Hp, Wp] (the input at row
// padH, column padW of each), or x itself when no border is needed.
const float* bordered_input(const float* x, int64_t n0, int64_t nb, const Conv2dGeometry& g, const ImplicitPlan& ip) {
  const int64_t HW = g.H * g.W;
  if (!ip.border) return x + n0 * g.C * HW;
  const int64_t plane = ip.Hp * ip.Wp;
  float* xp = thread_scratch<float>(kColumns, nb * g.C * plane);
  for (int64_t s = 0; s < nb * g.C; ++s) {
    float* dst = xp + s * plane;
    const float* src = x + n0 * g.C * HW + s * HW;
    std::fill(dst, dst + g.padH * ip.Wp, 0.0f);
    for (int64_t h = 0; h < g.H; ++h) {
      float* row = dst + (h + g.padH) * ip.Wp;
      std::fill(row, row + g.padW, 0.0f);
      std::memcpy(row + g.padW, src + h * g.W, sizeof(float) * g.W);
      std::fill(row + g.padW + g.W, row + ip.Wp, 0.0f);
    }
    std::fill(dst + (g.H + g.padH) * ip.Wp, dst + plane, 0.0f);
  }
  return xp;
}

template <class T>
void forward_block_implicit(const T* x, const T* w, T* y, int64_t n0, int64_t nb, const Conv2dGeometry& g,
                            const ConvLayout& L, const ImplicitPlan& ip) {
  if constexpr (std::is_same_v<T, float>) {
    const float* xp = bordered_input(x, n0, nb, g, ip);
    const int64_t Og = L.out_per_group, Kg = L.rows_per_group, plane = ip.Hp * ip.Wp, P = L.out_pixels;
    const int64_t cols = nb * P;
    // One K block: each micro-tile goes once, straight to y through the offsets. Several: each
    // tile would be re-read and re-added through them once per block, so the GEMM writes a dense
    // [O, cols] buffer instead, copied to y's [nb, O, P] layout once at the end (2-10 % faster
    // on D2 and D3, 3-5 % slower on the one-block DQN and D1 layers).
    float* out = Kg > gemm_gather_kc() ? thread_scratch<float>(kGemmOutput, g.O * cols) : nullptr;
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      const DenseMatrix weight{w + gi * Og * Kg, Kg, 1};
      const GatherMatrix columns{xp + gi * L.in_per_group * plane, ip.tap.data(), ip.pix.data()};
      if (out) {
        gemm_gather(Og, cols, Kg, weight, columns, DenseOutput{out + gi * Og * cols, cols, false});
      } else {
        gemm_gather(Og, cols, Kg, weight, columns,
                    GatherOutput{y + (n0 * g.O + gi * Og) * P, ip.chan.data(), ip.outpix.data(), GatherStore::Store});
      }
    }
    if (out) scatter_channels_major(out, y, n0, nb, g.O, P);
  }
}

template <class T>
void backward_weight_block_implicit(const T* x, const T* gy, T* grad_weight, int64_t n0, int64_t nb,
                                    const Conv2dGeometry& g, const ConvLayout& L, const ImplicitPlan& ip) {
  if constexpr (std::is_same_v<T, float>) {
    const float* xp = bordered_input(x, n0, nb, g, ip);
    const int64_t Og = L.out_per_group, Kg = L.rows_per_group, plane = ip.Hp * ip.Wp, P = L.out_pixels;
    for (int64_t gi = 0; gi < g.groups; ++gi)
      gemm_gather(Og, Kg, nb * P, GatherMatrix{gy + (n0 * g.O + gi * Og) * P, ip.chan.data(), ip.outpix.data()},
                  GatherMatrix{xp + gi * L.in_per_group * plane, ip.pix.data(), ip.tap.data()},
                  DenseOutput{grad_weight + gi * Og * Kg, Kg, true});
  }
}

template <class T>
void backward_input_block_implicit(const T* gy, const T* w, T* gx, int64_t n0, int64_t nb, const Conv2dGeometry& g,
                                   const ConvLayout& L, const ImplicitPlan& ip) {
  if constexpr (std::is_same_v<T, float>) {
    const int64_t Og = L.out_per_group, Kg = L.rows_per_group, plane = ip.Hp * ip.Wp, P = L.out_pixels;
    const int64_t HW = g.H * g.W;
    float* gxp = ip.border ? thread_scratch<float>(kColumns, nb * g.C * plane) : gx + n0 * g.C * HW;
    std::fill(gxp, gxp + nb * g.C * plane, 0.0f);
    for (int64_t gi = 0; gi < g.groups; ++gi)
      gemm_gather(Kg, nb * P, Og, DenseMatrix{w + gi * Og * Kg, 1, Kg},
                  GatherMatrix{gy + (n0 * g.O + gi * Og) * P, ip.chan.data(), ip.outpix.data()},
                  GatherOutput{gxp + gi * L.in_per_group * plane, ip.tap.data(), ip.pix.data(), GatherStore::ScatterAdd});
    if (!ip.border) return;
    for (int64_t s = 0; s < nb * g.C; ++s)
      for (int64_t h = 0; h < g.H; ++h)
        std::memcpy(gx + n0 * g.C * HW + s * HW + h * g.W, gxp + s * plane + (h + g.padH) * ip.Wp + g.padW,
                    sizeof(float) * g.W);
  }
}

// Implicit-GEMM blocks: bigger than im2col's (there is no column buffer to keep in cache), up to
// kImplicitColumns columns and an 8 MB bordered copy. 1024 was the best of 256-4096 on the
// DCGAN and DQN layers (docs/performance.md, "Implicit-GEMM convolution on the CPU").
constexpr int64_t kImplicitColumns = 1024;
constexpr int64_t kImplicitBudgetBytes = int64_t(8) << 20;

int64_t choose_block_implicit(const Conv2dGeometry& g, const ConvLayout& L, int64_t max_samples) {
  int64_t nb = (kImplicitColumns + L.out_pixels - 1) / L.out_pixels;
  const int64_t per_sample = g.C * L.im2col.padded_H * L.im2col.padded_W * int64_t(sizeof(float));
  nb = std::min(nb, std::max<int64_t>(1, kImplicitBudgetBytes / std::max<int64_t>(1, per_sample)));
  return std::max<int64_t>(1, std::min(nb, max_samples));
}

// Runs block(n0, nb, parallel) over the batch: one contiguous range of samples per thread
// ("samples" mode) when threads > 1 and N >= 2, else all samples on the calling thread (with
// `parallel` = threads > 1 for the im2col path's threaded GEMM). `choose(range)` is the block
// size for a range of samples.
template <class Choose, class Block>
void over_batch(const Conv2dGeometry& g, int threads, const Choose& choose, const Block& block) {
  if (threads > 1 && g.N >= 2) {
#pragma omp parallel num_threads(static_cast<int>(std::min<int64_t>(threads, g.N)))
    {
#ifdef _OPENMP
      const int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
#else
      const int64_t parts = 1, part = 0;
#endif
      int64_t begin, end;
      part_range(g.N, parts, part, begin, end);
      const int64_t nb = choose(end - begin);
      for (int64_t n0 = begin; n0 < end; n0 += nb) block(n0, std::min(nb, end - n0), part, false);
    }
  } else {
    const int64_t nb = choose(g.N);
    for (int64_t n0 = 0; n0 < g.N; n0 += nb) block(n0, std::min(nb, g.N - n0), 0, threads > 1);
  }
}

// One pass over the batch: on the implicit path when it can run (use_implicit), with
// implicit_block(n0, nb, part, plan), else on im2col's with im2col_block(n0, nb, part, parallel).
template <class T, class ImplicitBlock, class Im2colBlock>
void run_pass(const Conv2dGeometry& g, const ConvLayout& L, int threads, const ImplicitBlock& implicit_block,
              const Im2colBlock& im2col_block) {
  const int64_t max_nb = choose_block_implicit(g, L, g.N);
  if (use_implicit<T>(g, L, threads, max_nb)) {
    const ImplicitPlan ip = make_implicit_plan(g, L, max_nb);
    over_batch(g, threads, [&](int64_t range) { return choose_block_implicit(g, L, range); },
               [&](int64_t n0, int64_t nb, int part, bool) { implicit_block(n0, nb, part, ip); });
  } else {
    over_batch(g, threads, [&](int64_t range) { return choose_block<T>(L, range); }, im2col_block);
  }
}

}  // namespace

void set_conv_algorithm(ConvAlgorithm a) { algorithm_setting().store(static_cast<int>(a)); }
ConvAlgorithm conv_algorithm() { return static_cast<ConvAlgorithm>(algorithm_setting().load()); }
int64_t detail::implicit_conv_passes() { return g_implicit_passes.load(std::memory_order_relaxed); }

template <class T>
void conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g) {
  const ConvLayout L = make_layout(g);
  if (g.N <= 0 || g.O <= 0 || L.out_pixels <= 0) return;
  if (L.rows == 0) {
    std::fill(y, y + g.N * g.O * L.out_pixels, T(0));
    return;
  }
  run_pass<T>(
      g, L, conv_threads(g, L),
      [&](int64_t n0, int64_t nb, int, const ImplicitPlan& ip) { forward_block_implicit(x, w, y, n0, nb, g, L, ip); },
      [&](int64_t n0, int64_t nb, int, bool parallel) { forward_block(x, w, y, n0, nb, g, L, parallel); });
}

template <class T>
void conv2d_backward_input(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  const ConvLayout L = make_layout(g);
  if (g.N <= 0 || g.C <= 0 || L.in_pixels <= 0) return;
  if (g.O == 0 || L.out_pixels == 0) {
    std::fill(gx, gx + g.N * g.C * L.in_pixels, T(0));
    return;
  }
  run_pass<T>(
      g, L, conv_threads(g, L),
      [&](int64_t n0, int64_t nb, int, const ImplicitPlan& ip) {
        backward_input_block_implicit(gy, w, gx, n0, nb, g, L, ip);
      },
      [&](int64_t n0, int64_t nb, int, bool parallel) { backward_input_block(gy, w, gx, n0, nb, g, L, parallel); });
}

template <class T>
void conv2d_backward_weight(const T* x, const T* gy, T* gw, const Conv2dGeometry& g) {
  const ConvLayout L = make_layout(g);
  const int64_t weight_size = g.O * L.rows_per_group;
  std::fill(gw, gw + weight_size, T(0));
  if (g.N <= 0 || weight_size == 0 || L.out_pixels <= 0) return;
  const int threads = conv_threads(g, L);
  // With one range of samples per thread, each thread accumulates into a private copy of gw
  // (thread 0 straight into gw), and the copies are summed at the end.
  const int parts = threads > 1 && g.N >= 2 ? static_cast<int>(std::min<int64_t>(threads, g.N)) : 1;
  std::vector<T*> partial(static_cast<size_t>(parts), nullptr);
  partial[0] = gw;
  auto accumulator = [&](int part) {
    if (!partial[part]) {
      partial[part] = thread_scratch<T>(kWeightAccumulator, weight_size);
      std::fill(partial[part], partial[part] + weight_size, T(0));
    }
    return partial[part];
  };
  run_pass<T>(
      g, L, threads,
      [&](int64_t n0, int64_t nb, int part, const ImplicitPlan& ip) {
        backward_weight_block_implicit(x, gy, accumulator(part), n0, nb, g, L, ip);
      },
      [&](int64_t n0, int64_t nb, int part, bool parallel) {
        backward_weight_block(x, gy, accumulator(part), n0, nb, g, L, parallel);
      });
  int used = 1;
  while (used < parts && partial[used]) ++used;
  if (used > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < weight_size; ++i) {
      T sum = gw[i];
      for (int p = 1; p < used; ++p) sum += partial[p][i];
      gw[i] = sum;
    }
  }
}

template void conv2d_forward<float>(const float*, const float*, float*, const Conv2dGeometry&);
template void conv2d_forward<double>(const double*, const double*, double*, const Conv2dGeometry&);
template void conv2d_backward_input<float>(const float*, const float*, float*,
                                           const Conv2dGeometry&);
template void conv2d_backward_input<double>(const double*, const double*, double*,
                                            const Conv2dGeometry&);
template void conv2d_backward_weight<float>(const float*, const float*, float*,
                                            const Conv2dGeometry&);
template void conv2d_backward_weight<double>(const double*, const double*, double*,
                                             const Conv2dGeometry&);

}  // namespace duel::cpu
