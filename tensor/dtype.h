// Element types of duel tensors and the macros that turn a runtime dtype into a
// compile-time scalar type (so kernels are written once as templates).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/error.h"

namespace duel {

enum class DType : uint8_t {
  Float32,  // default for training
  Float64,  // gradchecks
  Int64,    // labels, indices
  Bool,     // masks, stored as one byte (0 or 1)
};

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

inline size_t element_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

// Result type of a binary op: float64 > float32 > int64 > bool (like NumPy).
inline DType promote_types(DType a, DType b) {
  auto rank = [](DType t) {
    switch (t) {
      case DType::Bool: return 0;
      case DType::Int64: return 1;
      case DType::Float32: return 2;
      case DType::Float64: return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };

}  // namespace duel

// DUEL_DISPATCH_FLOATING(dtype, "op", [&]{ ... scalar_t ... }) runs the lambda
// with scalar_t bound to float or double.
#define DUEL_DISPATCH_FLOATING(DTYPE, OPNAME, ...)                                         \
  [&] {                                                                                    \
    switch (DTYPE) {                                                                       \
      case ::duel::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }       \
      case ::duel::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }      \
      default:                                                                             \
        ::duel::detail::fail(__FILE__, __LINE__, OPNAME, ": expected a floating dtype "   \
                             "(float32 or float64), got ", ::duel::dtype_name(DTYPE));      \
    }                                                                                      \
  }()

// All four dtypes; bool is handled as uint8_t.
#define DUEL_DISPATCH_ALL(DTYPE, OPNAME, ...)                                              \
  [&] {                                                                                    \
    switch (DTYPE) {                                                                       \
      case ::duel::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }       \
      case ::duel::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }      \
      case ::duel::DType::Int64: { using scalar_t = int64_t; return __VA_ARGS__(); }       \
      case ::duel::DType::Bool: { using scalar_t = uint8_t; return __VA_ARGS__(); }        \
    }                                                                                      \
    ::duel::detail::fail(__FILE__, __LINE__, OPNAME, ": unknown dtype");                    \
  }()

// Numeric dtypes (no bool).
#define DUEL_DISPATCH_NUMERIC(DTYPE, OPNAME, ...)                                          \
  [&] {                                                                                    \
    switch (DTYPE) {                                                                       \
      case ::duel::DType::Float32: { using scalar_t = float; return __VA_ARGS__(); }       \
      case ::duel::DType::Float64: { using scalar_t = double; return __VA_ARGS__(); }      \
      case ::duel::DType::Int64: { using scalar_t = int64_t; return __VA_ARGS__(); }       \
      default:                                                                             \
        ::duel::detail::fail(__FILE__, __LINE__, OPNAME, ": expected a numeric dtype, got ", \
                             ::duel::dtype_name(DTYPE));                                    \
    }                                                                                      \
  }()
