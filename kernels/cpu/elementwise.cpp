// CPU elementwise kernels.
//
// Each op is a small functor applied by for_each_row (kernels/cpu/loops.h):
// the operands' dims are coalesced and every innermost row runs a tight loop.
// When all operands are contiguous the row is the whole tensor and the
// compiler vectorises the loop. The switch on the op happens once per call,
// never per element.
#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/cpu/loops.h"
#include "kernels/cpu/simd_math.h"

namespace duel::cpu {
namespace {

template <size_t N>
std::array<Shape, N> strides_in(const Shape& out_sizes, const std::array<const Tensor*, N>& ts) {
  std::array<Shape, N> st;
  for (size_t k = 0; k < N; ++k) {
    const Tensor& t = *ts[k];
    // broadcast: align trailing dims, stride 0 where the operand has size 1
    Shape s(out_sizes.size(), 0);
    size_t off = out_sizes.size() - t.sizes().size();
    for (size_t d = 0; d < t.sizes().size(); ++d) s[d + off] = t.sizes()[d] == 1 ? 0 : t.strides()[d];
    st[k] = s;
  }
  return st;
}

// The loops below take the functor by value into each thread (firstprivate) or a local copy per
// row: a functor reached through a pointer (the shared closure) makes its captured constants
// loads that may trap, and GCC then will not if-convert `v > 0 ? v : a * v` and leaves the loop
// scalar with a data-dependent branch (leaky_relu ran at 1.5 GB/s, 19x libtorch's time).
template <class To, class Ti, class F>
void map1(Tensor& out, const Tensor& in, F f) {
  To* o = out.data<To>();
  const Ti* x = static_cast<const Ti*>(in.raw_data());
  if (out.is_contiguous() && in.is_contiguous() && in.sizes() == out.sizes()) {
    int64_t n = out.numel();
#pragma omp parallel for simd firstprivate(f) if (parallel: n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    return;
  }
  for_each_row<2>(out.sizes(), strides_in<2>(out.sizes(), {&out, &in}),
                  [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                    const F fl = f;
                    To* po = o + off[0];
                    const Ti* px = x + off[1];
                    if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) po[i] = fl(px[i]);
                    } else {
                      for (int64_t i = 0; i < n; ++i) po[i * st[0]] = fl(px[i * st[1]]);
                    }
                  });
}

template <class To, class Ti, class F>
void map2(Tensor& out, const Tensor& a, const Tensor& b, F f) {
  To* o = out.data<To>();
  const Ti* x = static_cast<const Ti*>(a.raw_data());
  const Ti* y = static_cast<const Ti*>(b.raw_data());
  int64_t n = out.numel();
  if (out.is_contiguous() && a.is_contiguous() && b.is_contiguous() && a.sizes() == out.sizes() &&
      b.sizes() == out.sizes()) {
#pragma omp parallel for simd firstprivate(f) if (parallel: n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    return;
  }
  if (out.is_contiguous() && a.is_contiguous() && a.sizes() == out.sizes() && b.numel() == 1) {
    const Ti yv = *y;
#pragma omp parallel for simd firstprivate(f) if (parallel: n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    return;
  }
  for_each_row<3>(out.sizes(), strides_in<3>(out.sizes(), {&out, &a, &b}),
                  [&](const std::array<int64_t, 3>& off, int64_t m, const std::array<int64_t, 3>& st) {
                    const F fl = f;
                    To* po = o + off[0];
                    const Ti* px = x + off[1];
                    const Ti* py = y + off[2];
                    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
                      for (int64_t i = 0; i < m; ++i) po[i] = fl(px[i], py[i]);
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
                      const Ti yv = *py;
#pragma omp simd
                      for (int64_t i = 0; i < m; ++i) po[i] = fl(px[i], yv);
                    } else {
                      for (int64_t i = 0; i < m; ++i) po[i * st[0]] = fl(px[i * st[1]], py[i * st[2]]);
                    }
                  });
}

// double -> T; integral types saturate (so clamp_min(int_tensor, lo) with hi = +inf works; a plain cast of inf is UB)
template <class T>
T saturate_cast(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= (double)std::numeric_limits<T>::lowest()) return std::numeric_limits<T>::lowest();
    if (v >= (double)std::numeric_limits<T>::max()) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

template <class T>
void unary_typed(UnaryOp op, const Tensor& in, Tensor& out, UnaryParams p) {
  const T a = saturate_cast<T>(p.a), b = saturate_cast<T>(p.b);
  switch (op) {
    case UnaryOp::Neg: return map1<T, T>(out, in, [](T v) { return T(-v); });
    case UnaryOp::Abs: return map1<T, T>(out, in, [](T v) { return v < 0 ? T(-v) : v; });
    case UnaryOp::Sign: return map1<T, T>(out, in, [](T v) { return T((v > 0) - (v < 0)); });
    case UnaryOp::Square: return map1<T, T>(out, in, [](T v) { return T(v * v); });
    case UnaryOp::Relu: return map1<T, T>(out, in, [](T v) { return v > 0 ? v : T(0); });
    case UnaryOp::AddScalar: return map1<T, T>(out, in, [a](T v) { return T(v + a); });
    case UnaryOp::MulScalar: return map1<T, T>(out, in, [a](T v) { return T(v * a); });
    case UnaryOp::Clamp: return map1<T, T>(out, in, [a, b](T v) { return v < a ? a : (v > b ? b : v); });
    default: break;
  }
  if constexpr (std::is_same_v<T, float>) {
    // exp, sigmoid, tanh and elu of contiguous float tensors: 8 lanes at a time (kernels/cpu/simd_math.h)
    if ((op == UnaryOp::Exp || op == UnaryOp::Sigmoid || op == UnaryOp::Tanh || op == UnaryOp::Elu) &&
        in.is_contiguous() && out.is_contiguous() && in.sizes() == out.sizes() && have_avx2_fma()) {
      const float* x = static_cast<const float*>(in.raw_data());
      float* y = out.data<float>();
      const int64_t n = out.numel(), chunk = 1 << 14;
#pragma omp parallel for if (n >= kParallelGrain)
      for (int64_t c = 0; c < n; c += chunk) {
        if (op == UnaryOp::Exp) exp_avx2(x + c, y + c, std::min(chunk, n - c));
        else if (op == UnaryOp::Elu) {
          // exp of the chunk (an overflow to inf is discarded where x > 0), then the select, in
          // the arithmetic of the scalar path below
          const int64_t m = std::min(chunk, n - c);
          exp_avx2(x + c, y + c, m);
          for (int64_t i = c; i < c + m; ++i) y[i] = x[i] > 0 ? x[i] : float(a * double(y[i] - 1.0f));
        } else if (op == UnaryOp::Sigmoid) sigmoid_avx2(x + c, y + c, std::min(chunk, n - c));
        else tanh_avx2(x + c, y + c, std::min(chunk, n - c));
      }
      return;
    }
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::Exp: return map1<T, T>(out, in, [](T v) { return std::exp(v); });
      case UnaryOp::Log: return map1<T, T>(out, in, [](T v) { return std::log(v); });
      case UnaryOp::Log1p: return map1<T, T>(out, in, [](T v) { return std::log1p(v); });
      case UnaryOp::Sqrt: return map1<T, T>(out, in, [](T v) { return std::sqrt(v); });
      case UnaryOp::Rsqrt: return map1<T, T>(out, in, [](T v) { return T(1) / std::sqrt(v); });
      case UnaryOp::Reciprocal: return map1<T, T>(out, in, [](T v) { return T(1) / v; });
      case UnaryOp::Sin: return map1<T, T>(out, in, [](T v) { return std::sin(v); });
      case UnaryOp::Cos: return map1<T, T>(out, in, [](T v) { return std::cos(v); });
      case UnaryOp::Tanh: return map1<T, T>(out, in, [](T v) { return std::tanh(v); });
      case UnaryOp::Sigmoid: return map1<T, T>(out, in, [](T v) { return sigmoid_scalar(v); });  // stable for large |v|
      case UnaryOp::LeakyRelu: return map1<T, T>(out, in, [a](T v) { return v > 0 ? v : T(a * v); });
      case UnaryOp::Elu: return map1<T, T>(out, in, [a](T v) { return v > 0 ? v : T(a * (std::exp(v) - T(1))); });
      case UnaryOp::Softplus:
        return map1<T, T>(out, in, [a, b](T v) {
          T bv = a * v;
          return bv > b ? v : T(std::log1p(std::exp(bv)) / a);
        });
      case UnaryOp::PowScalar: return map1<T, T>(out, in, [a](T v) { return T(std::pow(v, a)); });
      default: break;
    }
  }
  DUEL_FAIL(unary_op_name(op), ": not supported for dtype ", dtype_name(in.dtype()));
}

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha_d) {
  const T alpha = static_cast<T>(alpha_d);
  switch (op) {
    case BinaryOp::Add:
      if (alpha_d == 1.0) return map2<T, T>(out, a, b, [](T x, T y) { return T(x + y); });
      return map2<T, T>(out, a, b, [alpha](T x, T y) { return T(x + alpha * y); });
    case BinaryOp::Sub:
      if (alpha_d == 1.0) return map2<T, T>(out, a, b, [](T x, T y) { return T(x - y); });
      return map2<T, T>(out, a, b, [alpha](T x, T y) { return T(x - alpha * y); });
    case BinaryOp::Mul: return map2<T, T>(out, a, b, [](T x, T y) { return T(x * y); });
    case BinaryOp::Div: return map2<T, T>(out, a, b, [](T x, T y) { return T(x / y); });
    case BinaryOp::Maximum: return map2<T, T>(out, a, b, [](T x, T y) { return x > y ? x : y; });
    case BinaryOp::Minimum: return map2<T, T>(out, a, b, [](T x, T y) { return x < y ? x : y; });
    case BinaryOp::Eq: return map2<uint8_t, T>(out, a, b, [](T x, T y) { return uint8_t(x == y); });
    case BinaryOp::Ne: return map2<uint8_t, T>(out, a, b, [](T x, T y) { return uint8_t(x != y); });
    case BinaryOp::Lt: return map2<uint8_t, T>(out, a, b, [](T x, T y) { return uint8_t(x < y); });
    case BinaryOp::Le: return map2<uint8_t, T>(out, a, b, [](T x, T y) { return uint8_t(x <= y); });
    case BinaryOp::Gt: return map2<uint8_t, T>(out, a, b, [](T x, T y) { return uint8_t(x > y); });
    case BinaryOp::Ge: return map2<uint8_t, T>(out, a, b, [](T x, T y) { return uint8_t(x >= y); });
    case BinaryOp::LogicalAnd: return map2<uint8_t, T>(out, a, b, [](T x, T y) { return uint8_t(x && y); });
    case BinaryOp::LogicalOr: return map2<uint8_t, T>(out, a, b, [](T x, T y) { return uint8_t(x || y); });
    case BinaryOp::ReluBackward: return map2<T, T>(out, a, b, [](T g, T x) { return x > 0 ? g : T(0); });
    case BinaryOp::LeakyReluBackward:
      return map2<T, T>(out, a, b, [alpha](T g, T x) { return x > 0 ? g : T(alpha * g); });
    case BinaryOp::TanhBackward: return map2<T, T>(out, a, b, [](T g, T y) { return T(g * (T(1) - y * y)); });
    case BinaryOp::SigmoidBackward: return map2<T, T>(out, a, b, [](T g, T y) { return T(g * y * (T(1) - y)); });
    case BinaryOp::EluBackward:
      return map2<T, T>(out, a, b, [alpha](T g, T y) { return y > 0 ? g : T(g * (y + alpha)); });
    case BinaryOp::Pow:
      if constexpr (std::is_floating_point_v<T>)
        return map2<T, T>(out, a, b, [](T x, T y) { return T(std::pow(x, y)); });
      break;
  }
  DUEL_FAIL(binary_op_name(op), ": not supported for dtype ", dtype_name(a.dtype()));
}

}  // namespace

void unary(UnaryOp op, const Tensor& in, Tensor& out, UnaryParams p) {
  if (op == UnaryOp::LogicalNot) {
    DUEL_DISPATCH_ALL(in.dtype(), "logical_not",
                      [&] { map1<uint8_t, scalar_t>(out, in, [](scalar_t v) { return uint8_t(!v); }); });
    return;
  }
  DUEL_DISPATCH_ALL(in.dtype(), unary_op_name(op), [&] { unary_typed<scalar_t>(op, in, out, p); });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha) {
  DUEL_DISPATCH_ALL(a.dtype(), binary_op_name(op), [&] { binary_typed<scalar_t>(op, a, b, out, alpha); });
}

namespace {
// (a function of its own: OpenMP pragmas cannot sit inside the dispatch macro's argument)
template <class T>
void where_typed(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  T* o = out.data<T>();
  const uint8_t* c = cond.data<uint8_t>();
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  // both sides are read unconditionally, so that the select vectorises as a blend (a branch
  // per element was the hot spot of ELU, which is a `where`: 18 % of a BEGAN step)
  auto select = [](uint8_t cv, T xv, T yv) { return cv ? xv : yv; };
  const Shape& sz = out.sizes();
  if (out.is_contiguous() && cond.is_contiguous() && a.is_contiguous() && b.is_contiguous() && cond.sizes() == sz &&
      a.sizes() == sz && b.sizes() == sz) {
    const int64_t n = out.numel();
#pragma omp parallel for simd if (parallel: n >= kParallelGrain)
    for (int64_t i = 0; i < n; ++i) o[i] = select(c[i], x[i], y[i]);
    return;
  }
  for_each_row<4>(sz, strides_in<4>(sz, {&out, &cond, &a, &b}),
                  [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
                    if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 1) {
                      T* po = o + off[0];
                      const uint8_t* pc = c + off[1];
                      const T *px = x + off[2], *py = y + off[3];
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) po[i] = select(pc[i], px[i], py[i]);
                    } else if (st[0] == 1 && st[1] == 1 && (st[2] == 1 || st[2] == 0) && (st[3] == 1 || st[3] == 0)) {
                      // one side a broadcast scalar (where's own backward: where(c, g, 0))
                      T* po = o + off[0];
                      const uint8_t* pc = c + off[1];
                      const T *px = x + off[2], *py = y + off[3];
                      const int64_t sx = st[2], sy = st[3];
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) po[i] = select(pc[i], px[i * sx], py[i * sy]);
                    } else {
                      for (int64_t i = 0; i < n; ++i)
                        o[off[0] + i * st[0]] = select(c[off[1] + i * st[1]], x[off[2] + i * st[2]], y[off[3] + i * st[3]]);
                    }
                  });
}
}  // namespace

void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  DUEL_DISPATCH_ALL(out.dtype(), "where", [&] { where_typed<scalar_t>(cond, a, b, out); });
}

void copy(const Tensor& src, Tensor& dst) {
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous() && src.sizes() == dst.sizes()) {
    // an empty tensor may have no storage (a null pointer), and memcpy(nullptr, nullptr, 0) is undefined
    if (src.numel() > 0) std::memcpy(dst.raw_data(), src.raw_data(), src.numel() * src.element_size());
    return;
  }
  DUEL_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using To = scalar_t;
    DUEL_DISPATCH_ALL(src.dtype(), "copy", [&] {
      using Ti = scalar_t;
      if constexpr (std::is_same_v<To, uint8_t>)  // bool: any non-zero value is true
        map1<To, Ti>(dst, src, [](Ti v) { return uint8_t(v != Ti(0)); });
      else
        map1<To, Ti>(dst, src, [](Ti v) { return static_cast<To>(v); });
    });
  });
}

void fill(Tensor& dst, double value) {
  DUEL_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    using T = scalar_t;
    T v = std::is_same_v<T, uint8_t> ? T(value != 0.0) : static_cast<T>(value);  // bool: non-zero is true
    T* o = dst.data<T>();
    std::array<Shape, 1> st{dst.strides()};
    for_each_row<1>(dst.sizes(), st, [&](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& s) {
      for (int64_t i = 0; i < n; ++i) o[off[0] + i * s[0]] = v;
    });
  });
}

}  // namespace duel::cpu
