// Elementwise kernels: unary, binary (with broadcasting), where, copy (with dtype
// conversion) and fill, for operands with arbitrary strides.
//
// Parallelisation: one CUDA thread per output element, in a grid-stride loop
// (grid = min(ceil(n / 256), 65535) blocks of 256 threads), so any n works with one
// launch and small tensors start few blocks. There is no cooperation between threads:
// no shared memory, no barriers.
//
// Memory access: thread i handles linear (row-major) output index i, i + stride, ...
// When every operand is one dense run (the common case: contiguous tensors of the same
// shape, after coalescing) the offsets are i itself, so a warp reads and writes 32
// consecutive elements: fully coalesced. Otherwise OffsetCalc (utils.cuh) turns i into
// each operand's element offset with one div/mod per (coalesced) dim; broadcast operands
// have stride 0 in the broadcast dims (all lanes of a warp read the same address: one
// transaction), and permuted operands are read with their own strides (uncoalesced
// reads; the output is still written in its own order). Dims that are laid out back to
// back in every operand are merged on the host first (make_offset_calc), so a slice of
// a contiguous tensor costs one or two divisions per element, not one per dim.
//
// The op is a functor type (a template argument), so the switch on the op code happens
// once per call on the host, never per element, as in the CPU backend. Arithmetic is
// done in the element type exactly like kernels/cpu/elementwise.cpp, so results agree
// with the CPU bit for bit except where the device math library rounds differently
// (exp, log, tanh, pow, ...: within an ulp or two).
#include "kernels/cuda/utils.cuh"

#include <cmath>
#include <limits>

namespace duel::DUEL_BACKEND_NAMESPACE {
namespace {

// ------------------------------------------------------------------------ kernels ----
// No __restrict__: in-place ops (x.add_(y), x.mul_(2)) pass out == an input.
template <class To, class Ti, class F>
__global__ void map1_kernel(To* out, const Ti* in, OffsetCalc<2> oc, int64_t n, bool dense, F f) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (dense) {
      out[i] = f(in[i]);
    } else {
      int64_t off[2];
      oc.get(i, off);
      out[off[0]] = f(in[off[1]]);
    }
  }
}

template <class To, class Ti, class F>
__global__ void map2_kernel(To* out, const Ti* a, const Ti* b, OffsetCalc<3> oc, int64_t n, bool dense, F f) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (dense) {
      out[i] = f(a[i], b[i]);
    } else {
      int64_t off[3];
      oc.get(i, off);
      out[off[0]] = f(a[off[1]], b[off[2]]);
    }
  }
}

template <class T>
__global__ void where_kernel(T* out, const uint8_t* cond, const T* a, const T* b, OffsetCalc<4> oc, int64_t n) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    int64_t off[4];
    oc.get(i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <class T>
__global__ void fill_kernel(T* out, OffsetCalc<1> oc, int64_t n, bool dense, T value) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    if (dense) {
      out[i] = value;
    } else {
      int64_t off[1];
      oc.get(i, off);
      out[off[0]] = value;
    }
  }
}

// ------------------------------------------------------------------------ functors ----
// Parameterless ops: struct NAME { template <class T> T operator()(T v) const { return EXPR; } };
#define DUEL_UNARY_FUNCTOR(NAME, EXPR)                       \
  struct NAME {                                              \
    template <class T>                                       \
    DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const {   \
      return EXPR;                                           \
    }                                                        \
  };
DUEL_UNARY_FUNCTOR(NegF, T(-v))
DUEL_UNARY_FUNCTOR(SquareF, T(v * v))
DUEL_UNARY_FUNCTOR(ReluF, v > 0 ? v : T(0))
DUEL_UNARY_FUNCTOR(ExpF, dm::exp(v))
DUEL_UNARY_FUNCTOR(LogF, dm::log(v))
DUEL_UNARY_FUNCTOR(Log1pF, dm::log1p(v))
DUEL_UNARY_FUNCTOR(SqrtF, dm::sqrt(v))
DUEL_UNARY_FUNCTOR(RsqrtF, T(1) / dm::sqrt(v))
DUEL_UNARY_FUNCTOR(ReciprocalF, T(1) / v)
DUEL_UNARY_FUNCTOR(SinF, dm::sin(v))
DUEL_UNARY_FUNCTOR(CosF, dm::cos(v))
DUEL_UNARY_FUNCTOR(TanhF, dm::tanh(v))
#undef DUEL_UNARY_FUNCTOR

struct AbsF {
  template <class T>
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const {
    if constexpr (std::is_unsigned_v<T>) return v;  // bool
    else return v < 0 ? T(-v) : v;
  }
};
struct SignF {
  template <class T>
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const {
    if constexpr (std::is_unsigned_v<T>) return T(v > 0);  // bool
    else return T((v > 0) - (v < 0));
  }
};
struct SigmoidF {
  template <class T>
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const {
    if (v >= 0) return T(1) / (T(1) + dm::exp(-v));  // stable for large |v|
    const T e = dm::exp(v);
    return e / (T(1) + e);
  }
};
template <class T>
struct AddScalarF {
  T a;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const { return T(v + a); }
};
template <class T>
struct MulScalarF {
  T a;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const { return T(v * a); }
};
template <class T>
struct ClampF {
  T lo, hi;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const { return v < lo ? lo : (v > hi ? hi : v); }
};
template <class T>
struct LeakyReluF {
  T slope;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const { return v > 0 ? v : T(slope * v); }
};
template <class T>
struct EluF {
  T alpha;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const { return v > 0 ? v : T(alpha * (dm::exp(v) - T(1))); }
};
template <class T>
struct SoftplusF {
  T beta, threshold;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const {
    const T bv = beta * v;
    return bv > threshold ? v : T(dm::log1p(dm::exp(bv)) / beta);
  }
};
template <class T>
struct PowScalarF {
  T e;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T v) const { return T(dm::pow(v, e)); }
};
struct LogicalNotF {
  template <class T>
  DUEL_DEVICE DUEL_FORCEINLINE uint8_t operator()(T v) const {
    return uint8_t(!v);
  }
};
template <class To>
struct CastF {
  template <class Ti>
  DUEL_DEVICE DUEL_FORCEINLINE To operator()(Ti v) const {
    if constexpr (std::is_same_v<To, uint8_t>) return uint8_t(v != Ti(0));  // bool: any non-zero is true
    else return static_cast<To>(v);
  }
};

// Binary ops.
#define DUEL_BINARY_FUNCTOR(NAME, R, EXPR)                          \
  struct NAME {                                                     \
    template <class T>                                              \
    DUEL_DEVICE DUEL_FORCEINLINE R operator()(T x, T y) const {     \
      return EXPR;                                                  \
    }                                                               \
  };
DUEL_BINARY_FUNCTOR(AddF, T, T(x + y))
DUEL_BINARY_FUNCTOR(SubF, T, T(x - y))
DUEL_BINARY_FUNCTOR(MulF, T, T(x * y))
DUEL_BINARY_FUNCTOR(DivF, T, T(x / y))
DUEL_BINARY_FUNCTOR(MaximumF, T, x > y ? x : y)
DUEL_BINARY_FUNCTOR(MinimumF, T, x < y ? x : y)
DUEL_BINARY_FUNCTOR(PowF, T, T(dm::pow(x, y)))
DUEL_BINARY_FUNCTOR(EqF, uint8_t, uint8_t(x == y))
DUEL_BINARY_FUNCTOR(NeF, uint8_t, uint8_t(x != y))
DUEL_BINARY_FUNCTOR(LtF, uint8_t, uint8_t(x < y))
DUEL_BINARY_FUNCTOR(LeF, uint8_t, uint8_t(x <= y))
DUEL_BINARY_FUNCTOR(GtF, uint8_t, uint8_t(x > y))
DUEL_BINARY_FUNCTOR(GeF, uint8_t, uint8_t(x >= y))
DUEL_BINARY_FUNCTOR(LogicalAndF, uint8_t, uint8_t(x && y))
DUEL_BINARY_FUNCTOR(LogicalOrF, uint8_t, uint8_t(x || y))
DUEL_BINARY_FUNCTOR(ReluBackwardF, T, y > 0 ? x : T(0))                  // (g, x)
DUEL_BINARY_FUNCTOR(TanhBackwardF, T, T(x * (T(1) - y * y)))             // (g, y)
DUEL_BINARY_FUNCTOR(SigmoidBackwardF, T, T(x * y * (T(1) - y)))          // (g, y)
#undef DUEL_BINARY_FUNCTOR

template <class T>
struct AddAlphaF {
  T alpha;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T x, T y) const { return T(x + alpha * y); }
};
template <class T>
struct SubAlphaF {
  T alpha;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T x, T y) const { return T(x - alpha * y); }
};
template <class T>
struct LeakyReluBackwardF {  // (g, x)
  T alpha;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T g, T x) const { return x > 0 ? g : T(alpha * g); }
};
template <class T>
struct EluBackwardF {  // (g, y), y = elu(x)
  T alpha;
  DUEL_DEVICE DUEL_FORCEINLINE T operator()(T g, T y) const { return y > 0 ? g : T(g * (y + alpha)); }
};

// ------------------------------------------------------------------------ host side ----
template <class To, class Ti, class F>
void launch_map1(Tensor& out, const Tensor& in, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  bool dense = false;
  const OffsetCalc<2> oc =
      make_offset_calc<2>(out.sizes(), {out.strides(), broadcast_strides(in, out.sizes())}, &dense);
  DUEL_LAUNCH((map1_kernel<To, Ti, F>), grid_for(n), kThreads, 0, launch_stream())(
      static_cast<To*>(out.raw_data()), static_cast<const Ti*>(in.raw_data()), oc, n, dense, f);
  DUEL_CHECK_LAUNCH("map1_kernel");
}

template <class To, class Ti, class F>
void launch_map2(Tensor& out, const Tensor& a, const Tensor& b, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  bool dense = false;
  const OffsetCalc<3> oc = make_offset_calc<3>(
      out.sizes(), {out.strides(), broadcast_strides(a, out.sizes()), broadcast_strides(b, out.sizes())}, &dense);
  DUEL_LAUNCH((map2_kernel<To, Ti, F>), grid_for(n), kThreads, 0, launch_stream())(
      static_cast<To*>(out.raw_data()), static_cast<const Ti*>(a.raw_data()), static_cast<const Ti*>(b.raw_data()),
      oc, n, dense, f);
  DUEL_CHECK_LAUNCH("map2_kernel");
}

// double -> T; integral types saturate (as kernels/cpu/elementwise.cpp).
template <class T>
T saturate_cast(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

template <class T>
void unary_typed(UnaryOp op, const Tensor& in, Tensor& out, UnaryParams p) {
  const T a = saturate_cast<T>(p.a), b = saturate_cast<T>(p.b);
  switch (op) {
    case UnaryOp::Neg: return launch_map1<T, T>(out, in, NegF{});
    case UnaryOp::Abs: return launch_map1<T, T>(out, in, AbsF{});
    case UnaryOp::Sign: return launch_map1<T, T>(out, in, SignF{});
    case UnaryOp::Square: return launch_map1<T, T>(out, in, SquareF{});
    case UnaryOp::Relu: return launch_map1<T, T>(out, in, ReluF{});
    case UnaryOp::AddScalar: return launch_map1<T, T>(out, in, AddScalarF<T>{a});
    case UnaryOp::MulScalar: return launch_map1<T, T>(out, in, MulScalarF<T>{a});
    case UnaryOp::Clamp: return launch_map1<T, T>(out, in, ClampF<T>{a, b});
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::Exp: return launch_map1<T, T>(out, in, ExpF{});
      case UnaryOp::Log: return launch_map1<T, T>(out, in, LogF{});
      case UnaryOp::Log1p: return launch_map1<T, T>(out, in, Log1pF{});
      case UnaryOp::Sqrt: return launch_map1<T, T>(out, in, SqrtF{});
      case UnaryOp::Rsqrt: return launch_map1<T, T>(out, in, RsqrtF{});
      case UnaryOp::Reciprocal: return launch_map1<T, T>(out, in, ReciprocalF{});
      case UnaryOp::Sin: return launch_map1<T, T>(out, in, SinF{});
      case UnaryOp::Cos: return launch_map1<T, T>(out, in, CosF{});
      case UnaryOp::Tanh: return launch_map1<T, T>(out, in, TanhF{});
      case UnaryOp::Sigmoid: return launch_map1<T, T>(out, in, SigmoidF{});
      case UnaryOp::LeakyRelu: return launch_map1<T, T>(out, in, LeakyReluF<T>{a});
      case UnaryOp::Elu: return launch_map1<T, T>(out, in, EluF<T>{a});
      case UnaryOp::Softplus: return launch_map1<T, T>(out, in, SoftplusF<T>{a, b});
      case UnaryOp::PowScalar: return launch_map1<T, T>(out, in, PowScalarF<T>{a});
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
      if (alpha_d == 1.0) return launch_map2<T, T>(out, a, b, AddF{});
      return launch_map2<T, T>(out, a, b, AddAlphaF<T>{alpha});
    case BinaryOp::Sub:
      if (alpha_d == 1.0) return launch_map2<T, T>(out, a, b, SubF{});
      return launch_map2<T, T>(out, a, b, SubAlphaF<T>{alpha});
    case BinaryOp::Mul: return launch_map2<T, T>(out, a, b, MulF{});
    case BinaryOp::Div: return launch_map2<T, T>(out, a, b, DivF{});
    case BinaryOp::Maximum: return launch_map2<T, T>(out, a, b, MaximumF{});
    case BinaryOp::Minimum: return launch_map2<T, T>(out, a, b, MinimumF{});
    case BinaryOp::Eq: return launch_map2<uint8_t, T>(out, a, b, EqF{});
    case BinaryOp::Ne: return launch_map2<uint8_t, T>(out, a, b, NeF{});
    case BinaryOp::Lt: return launch_map2<uint8_t, T>(out, a, b, LtF{});
    case BinaryOp::Le: return launch_map2<uint8_t, T>(out, a, b, LeF{});
    case BinaryOp::Gt: return launch_map2<uint8_t, T>(out, a, b, GtF{});
    case BinaryOp::Ge: return launch_map2<uint8_t, T>(out, a, b, GeF{});
    case BinaryOp::LogicalAnd: return launch_map2<uint8_t, T>(out, a, b, LogicalAndF{});
    case BinaryOp::LogicalOr: return launch_map2<uint8_t, T>(out, a, b, LogicalOrF{});
    case BinaryOp::ReluBackward: return launch_map2<T, T>(out, a, b, ReluBackwardF{});
    case BinaryOp::LeakyReluBackward: return launch_map2<T, T>(out, a, b, LeakyReluBackwardF<T>{alpha});
    case BinaryOp::TanhBackward: return launch_map2<T, T>(out, a, b, TanhBackwardF{});
    case BinaryOp::SigmoidBackward: return launch_map2<T, T>(out, a, b, SigmoidBackwardF{});
    case BinaryOp::EluBackward: return launch_map2<T, T>(out, a, b, EluBackwardF<T>{alpha});
    case BinaryOp::Pow:
      if constexpr (std::is_floating_point_v<T>) return launch_map2<T, T>(out, a, b, PowF{});
      break;
  }
  DUEL_FAIL(binary_op_name(op), ": not supported for dtype ", dtype_name(a.dtype()));
}

void check_device(const Tensor& t, const char* op) {
  DUEL_CHECK(t.device().type == kDevice, op, ": tensor on ", t.device().str(), " passed to the ",
             Device(kDevice).str(), " kernel");
}

}  // namespace

void unary(UnaryOp op, const Tensor& in, Tensor& out, UnaryParams p) {
  check_device(in, unary_op_name(op));
  if (op == UnaryOp::LogicalNot) {
    DUEL_DISPATCH_ALL(in.dtype(), "logical_not", [&] { launch_map1<uint8_t, scalar_t>(out, in, LogicalNotF{}); });
    return;
  }
  DUEL_DISPATCH_ALL(in.dtype(), unary_op_name(op), [&] { unary_typed<scalar_t>(op, in, out, p); });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out, double alpha) {
  check_device(a, binary_op_name(op));
  DUEL_DISPATCH_ALL(a.dtype(), binary_op_name(op), [&] { binary_typed<scalar_t>(op, a, b, out, alpha); });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  check_device(out, "where");
  const int64_t n = out.numel();
  if (n == 0) return;
  const OffsetCalc<4> oc = make_offset_calc<4>(
      out.sizes(), {out.strides(), broadcast_strides(cond, out.sizes()), broadcast_strides(a, out.sizes()),
                    broadcast_strides(b, out.sizes())});
  DUEL_DISPATCH_ALL(out.dtype(), "where", [&] {
    using T = scalar_t;
    DUEL_LAUNCH((where_kernel<T>), grid_for(n), kThreads, 0, launch_stream())(
        static_cast<T*>(out.raw_data()), static_cast<const uint8_t*>(cond.raw_data()),
        static_cast<const T*>(a.raw_data()), static_cast<const T*>(b.raw_data()), oc, n);
    DUEL_CHECK_LAUNCH("where_kernel");
  });
}

void copy(const Tensor& src, Tensor& dst) {
  check_device(src, "copy");
  check_device(dst, "copy");
  DUEL_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using To = scalar_t;
    DUEL_DISPATCH_ALL(src.dtype(), "copy", [&] { launch_map1<To, scalar_t>(dst, src, CastF<To>{}); });
  });
}

void fill(Tensor& dst, double value) {
  check_device(dst, "fill");
  const int64_t n = dst.numel();
  if (n == 0) return;
  bool dense = false;
  const OffsetCalc<1> oc = make_offset_calc<1>(dst.sizes(), {dst.strides()}, &dense);
  DUEL_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    using T = scalar_t;
    const T v = std::is_same_v<T, uint8_t> ? T(value != 0.0) : static_cast<T>(value);  // bool: non-zero is true
    DUEL_LAUNCH((fill_kernel<T>), grid_for(n), kThreads, 0, launch_stream())(static_cast<T*>(dst.raw_data()), oc, n, dense, v);
    DUEL_CHECK_LAUNCH("fill_kernel");
  });
}

}  // namespace duel::DUEL_BACKEND_NAMESPACE
