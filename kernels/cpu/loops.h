// The CPU backend's iteration machinery: visit every element of one or more
// strided operands that share a shape (broadcast operands have stride 0).
//
// Dims that are laid out back to back in every operand are merged first, so a
// contiguous tensor is one long row and a transposed one is a few rows; the
// kernel body then runs a tight loop over the innermost row with known strides.
// Rows are split across OpenMP threads when the work is large enough.
#pragma once
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "tensor/shape.h"

namespace duel::cpu {

// Elements below which a kernel stays single-threaded: an OpenMP region costs microseconds (far more
// when the cores are shared), which only pays off once the work is around a megabyte.
constexpr int64_t kParallelGrain = 1 << 18;

// Multiply-adds below which a GEMM or a convolution stays single-threaded: about 100 us of one
// core's FMA peak. Waking a sleeping OpenMP thread costs tens of microseconds on bare metal and
// can cost milliseconds in a VM whose spinning vCPUs the hypervisor deschedules (docs/performance.md,
// "OpenMP in a VM"), so the small products of a DQN update (1-4 M multiply-adds) run on one thread.
constexpr int64_t kParallelMacs = 1 << 23;

template <size_t N>
struct StridedGeometry {
  Shape sizes;
  std::array<Shape, N> strides;
};

// Drops size-1 dims and merges dims that are contiguous with their inner neighbour in every operand.
template <size_t N>
StridedGeometry<N> coalesce(const Shape& sizes, const std::array<Shape, N>& strides) {
  StridedGeometry<N> g;
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == 1) continue;
    g.sizes.push_back(sizes[d]);
    for (size_t k = 0; k < N; ++k) g.strides[k].push_back(strides[k][d]);
  }
  if (g.sizes.empty()) {  // scalar-like
    g.sizes.push_back(1);
    for (size_t k = 0; k < N; ++k) g.strides[k].push_back(0);
  }
  // merge from the innermost dim outwards
  StridedGeometry<N> m;
  m.sizes.push_back(g.sizes.back());
  for (size_t k = 0; k < N; ++k) m.strides[k].push_back(g.strides[k].back());
  for (int64_t d = (int64_t)g.sizes.size() - 2; d >= 0; --d) {
    bool mergeable = true;
    for (size_t k = 0; k < N; ++k)
      if (g.strides[k][d] != m.strides[k].back() * m.sizes.back()) mergeable = false;
    if (mergeable) {
      m.sizes.back() *= g.sizes[d];
    } else {
      m.sizes.push_back(g.sizes[d]);
      for (size_t k = 0; k < N; ++k) m.strides[k].push_back(g.strides[k][d]);
    }
  }
  // m is innermost-first; flip to outermost-first
  std::reverse(m.sizes.begin(), m.sizes.end());
  for (size_t k = 0; k < N; ++k) std::reverse(m.strides[k].begin(), m.strides[k].end());
  return m;
}

// Calls row(offsets, n, inner_strides) for every innermost row, where offsets[k]
// is the element offset of operand k at the row start.
template <size_t N, class Row>
void for_each_row(const Shape& sizes, const std::array<Shape, N>& strides, Row row) {
  int64_t total = shape_numel(sizes);
  if (total == 0) return;
  StridedGeometry<N> g = coalesce<N>(sizes, strides);
  const int64_t nd = (int64_t)g.sizes.size();
  const int64_t inner = g.sizes[nd - 1];
  std::array<int64_t, N> inner_strides;
  for (size_t k = 0; k < N; ++k) inner_strides[k] = g.strides[k][nd - 1];
  const int64_t rows = total / inner;

  auto run_range = [&](int64_t r0, int64_t r1) {
    // multi-index of row r0 over the outer dims
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    int64_t rem = r0;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % g.sizes[d];
      rem /= g.sizes[d];
    }
    std::array<int64_t, N> off{};
    for (size_t k = 0; k < N; ++k)
      for (int64_t d = 0; d < nd - 1; ++d) off[k] += idx[d] * g.strides[k][d];
    for (int64_t r = r0; r < r1; ++r) {
      row(off, inner, inner_strides);
      // increment the outer multi-index
      for (int64_t d = nd - 2; d >= 0; --d) {
        ++idx[d];
        for (size_t k = 0; k < N; ++k) off[k] += g.strides[k][d];
        if (idx[d] < g.sizes[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= idx[d] * g.strides[k][d];
        idx[d] = 0;
      }
    }
  };

  if (total < kParallelGrain) {
    run_range(0, rows);
    return;
  }
  if (rows == 1) {
    // one long row: split it
#pragma omp parallel
    {
      int nt = omp_get_num_threads();
      int t = omp_get_thread_num();
      int64_t chunk = (inner + nt - 1) / nt;
      int64_t s = std::min<int64_t>(inner, t * chunk), e = std::min<int64_t>(inner, s + chunk);
      if (e > s) {
        std::array<int64_t, N> off;
        for (size_t k = 0; k < N; ++k) off[k] = s * inner_strides[k];
        row(off, e - s, inner_strides);
      }
    }
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads();
    int t = omp_get_thread_num();
    int64_t chunk = (rows + nt - 1) / nt;
    int64_t s = std::min<int64_t>(rows, t * chunk), e = std::min<int64_t>(rows, s + chunk);
    if (e > s) run_range(s, e);
  }
}

}  // namespace duel::cpu
