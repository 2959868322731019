// cuDNN implementation of conv2d (forward, input gradient, weight gradient) and
// batch_norm (training forward, eval forward, backward) for CUDA tensors, and the
// run-time backend switch. See kernels/cudnn/cudnn_ops.h for the API and the
// conventions, docs/kernels.md ("cuDNN cross-check") for the design.
//
// A plain C++ file: cudnn.h and cuda_runtime.h are C headers, so g++ compiles this
// (no nvcc, no device code). Without DUEL_WITH_CUDNN (no CUDA in the build, or cuDNN not
// found at configure time) the same API compiles to stubs that say why cuDNN is
// unavailable.
//
// cuDNN 9 marks its whole "legacy" API (tensor/filter/convolution descriptors,
// cudnnConvolution*, cudnnBatchNormalization*) deprecated in favour of the graph API,
// but ships and supports it; it is still the clearest way to call one convolution, so
// this file uses it and silences -Wdeprecated-declarations locally.
#include "kernels/cudnn/cudnn_ops.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "kernels/impl.h"  // detail::impl_from_env
#include "tensor/error.h"

#if defined(DUEL_WITH_CUDNN)
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include <type_traits>
#include "kernels/cuda/kernels.h"  // cuda::fill
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/stream.h"
#endif

namespace duel {

// ------------------------------------------------------------------------------------
// The cuDNN selection per op (always compiled): the cuda:conv2d and cuda:batch_norm rows
// of kernels/impl.h's switch
// ------------------------------------------------------------------------------------
namespace {

// -1: not yet read from the environment; 0: duel's kernels; 1: cuDNN.
std::atomic<int> g_conv{-1}, g_bn{-1};

const char* op_key(cudnn::Op op) { return op == cudnn::Op::Conv2d ? "cuda:conv2d" : "cuda:batch_norm"; }

// DUEL_IMPL's value for the op when it names one (kernels/impl.h), else DUEL_CUDNN.
int selection_from_env(cudnn::Op op) {
  const std::string v = detail::impl_from_env(op_key(op));
  if (!v.empty()) return v == "cudnn" ? 1 : 0;
  const char* e = std::getenv("DUEL_CUDNN");
  if (!e || !*e || !std::strcmp(e, "0") || !std::strcmp(e, "native")) return 0;
  if (!std::strcmp(e, "1") || !std::strcmp(e, "cudnn")) return 1;
  DUEL_FAIL("DUEL_CUDNN: expected 0, 1, native or cudnn, got '", e, "'");
}

std::atomic<int>& flag(cudnn::Op op) { return op == cudnn::Op::Conv2d ? g_conv : g_bn; }

}  // namespace

namespace detail {
void reload_conv_backend_from_env() {
  const int c = selection_from_env(cudnn::Op::Conv2d), b = selection_from_env(cudnn::Op::BatchNorm);
  g_conv.store(c);
  g_bn.store(b);
}
}  // namespace detail

namespace cudnn {
bool selected(Op op) {
  std::atomic<int>& f = flag(op);
  int v = f.load(std::memory_order_relaxed);
  if (v < 0) {
    v = selection_from_env(op);  // throws on a bad value (and stays unread)
    f.store(v);
  }
  return v == 1;
}

void select(Op op, bool on) {
  if (on && !is_available())
    DUEL_FAIL(op_key(op), "=cudnn: the cuDNN backend is unavailable: ", unavailable_reason());
  flag(op).store(on ? 1 : 0);
}
}  // namespace cudnn

ConvBackend conv_backend() { return cudnn::selected(cudnn::Op::Conv2d) ? ConvBackend::Cudnn : ConvBackend::Native; }

const char* conv_backend_name(ConvBackend b) { return b == ConvBackend::Cudnn ? "cudnn" : "native"; }

void set_conv_backend(ConvBackend b) {
  if (b == ConvBackend::Cudnn && !cudnn::is_available())
    DUEL_FAIL("set_conv_backend(cudnn): the cuDNN backend is unavailable: ", cudnn::unavailable_reason());
  g_conv.store(b == ConvBackend::Cudnn ? 1 : 0);
  g_bn.store(b == ConvBackend::Cudnn ? 1 : 0);
}

namespace cudnn {
namespace {
std::atomic<int> g_algo_search{(int)AlgoSearch::Heuristic};
std::atomic<int> g_allow_tf32{-1};  // -1: not read from DUEL_CUDNN_TF32 yet
struct Counters {
  std::atomic<int64_t> conv_forward{0}, conv_backward_data{0}, conv_backward_filter{0};
  std::atomic<int64_t> bn_forward_training{0}, bn_backward{0};
} g_counts;
}  // namespace

void set_algo_search(AlgoSearch s) { g_algo_search.store((int)s); }
AlgoSearch algo_search() { return static_cast<AlgoSearch>(g_algo_search.load()); }

void set_allow_tf32(bool on) { g_allow_tf32.store(on ? 1 : 0); }
bool allow_tf32() {
  int v = g_allow_tf32.load();
  if (v < 0) {
    const char* e = std::getenv("DUEL_CUDNN_TF32");
    v = (e && *e && std::strcmp(e, "0") != 0) ? 1 : 0;
    g_allow_tf32.store(v);
  }
  return v == 1;
}

CallCounts call_counts() {
  CallCounts c;
  c.conv_forward = g_counts.conv_forward.load();
  c.conv_backward_data = g_counts.conv_backward_data.load();
  c.conv_backward_filter = g_counts.conv_backward_filter.load();
  c.bn_forward_training = g_counts.bn_forward_training.load();
  c.bn_backward = g_counts.bn_backward.load();
  return c;
}

#if !defined(DUEL_WITH_CUDNN)
// ------------------------------------------------------------------------------------
// Stubs: this build has no cuDNN
// ------------------------------------------------------------------------------------
namespace {
const char* why_not() {
#if defined(DUEL_WITH_CUDA)
  return "duel was built without cuDNN (cudnn.h / libcudnn were not found when CMake configured the CUDA "
         "backend; set CUDNN_ROOT and reconfigure)";
#else
  return "duel was built without CUDA support (DUEL_CUDA=OFF or no nvcc), so there is no cuDNN backend";
#endif
}
[[noreturn]] void unavailable(const char* op) {
  DUEL_FAIL(op, ": the cuDNN backend was selected (set_impl, DUEL_IMPL, set_conv_backend or DUEL_CUDNN=1) but ", why_not());
}
}  // namespace

bool built_with_cudnn() { return false; }
bool is_available() { return false; }
std::string unavailable_reason() { return why_not(); }
std::string version_string() { return why_not(); }

template <class T>
bool conv2d_forward(const T*, const T*, T*, const Conv2dGeometry&) {
  unavailable("conv2d");
}
template <class T>
bool conv2d_backward_input(const T*, const T*, T*, const Conv2dGeometry&) {
  unavailable("conv2d_input_grad");
}
template <class T>
bool conv2d_backward_weight(const T*, const T*, T*, const Conv2dGeometry&) {
  unavailable("conv2d_weight_grad");
}
template <class T>
bool batch_norm_forward(const T*, const T*, const T*, int64_t, int64_t, int64_t, double, T*, T*, T*) {
  unavailable("batch_norm");
}
template <class T>
bool batch_norm_backward(const T*, const T*, const T*, const T*, const T*, int64_t, int64_t, int64_t, T*, T*, T*) {
  unavailable("batch_norm_backward");
}

#else  // DUEL_WITH_CUDNN
// ------------------------------------------------------------------------------------
// The cuDNN implementation
// ------------------------------------------------------------------------------------
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace {

std::string status_str(cudnnStatus_t s) {
  const char* m = cudnnGetErrorString(s);
  return std::string(m ? m : "unknown cuDNN status") + " (" + std::to_string((int)s) + ")";
}

// Errors name the op, the call and the shapes (`what` carries them).
void check(cudnnStatus_t s, const char* op, const char* call, const std::string& what) {
  if (s != CUDNN_STATUS_SUCCESS) DUEL_FAIL(op, ": ", call, " failed: ", status_str(s), " for ", what);
}

std::string version_text(size_t v) {
  // cuDNN >= 9: major*10000 + minor*100 + patch (cuDNN 8 used major*1000 + minor*100 + patch)
  if (v >= 90000) return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." + std::to_string(v % 100);
  return std::to_string(v / 1000) + "." + std::to_string(v / 100 % 10) + "." + std::to_string(v % 100);
}
size_t major_of(size_t v) { return v >= 90000 ? v / 10000 : v / 1000; }

// One cuDNN handle per (thread, device): a handle must not be used by two host threads
// at once. Handles are never destroyed (destroying them at thread or process exit can
// run after the CUDA driver was torn down).
//
// Streams: every call runs on the calling thread's current stream
// (kernels/cuda/stream.h), like duel's kernels, so cuDNN calls are ordered with them; the
// workspace tensors come from the caching allocator on that same stream.
cudnnHandle_t create_handle(int dev, std::string* err) {
  cudnnHandle_t h = nullptr;
  cudnnStatus_t s = cudnnCreate(&h);
  if (s != CUDNN_STATUS_SUCCESS) {
    if (err) *err = "cudnnCreate failed on CUDA device " + std::to_string(dev) + ": " + status_str(s);
    return nullptr;
  }
  return h;
}

cudnnHandle_t handle(const char* op) {
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    DUEL_FAIL(op, ": no CUDA device available: cudaGetDevice failed: ", cudaGetErrorString(e));
  }
  thread_local std::unordered_map<int, cudnnHandle_t> handles;
  cudnnHandle_t h = nullptr;
  auto it = handles.find(dev);
  if (it != handles.end()) {
    h = it->second;
  } else {
    std::string err;
    h = create_handle(dev, &err);
    if (!h) DUEL_FAIL(op, ": ", err);
    handles.emplace(dev, h);
  }
  check(cudnnSetStream(h, static_cast<cudaStream_t>(cuda::current_stream_handle())), op, "cudnnSetStream",
        "the current stream");
  return h;
}

struct Availability {
  bool ok = false;
  std::string reason;
};

const Availability& availability() {
  static const Availability a = [] {
    Availability r;
    if (!cuda::is_available()) {
      r.reason = "no CUDA device available: " + cuda::unavailable_reason();
      return r;
    }
    const size_t loaded = cudnnGetVersion();
    if (major_of(loaded) != major_of(CUDNN_VERSION)) {
      r.reason = "duel was built against cuDNN " + version_text(CUDNN_VERSION) + " but the loaded libcudnn is " +
                 version_text(loaded) + " (major versions differ)";
      return r;
    }
    int dev = 0;
    (void)cudaGetDevice(&dev);
    std::string err;
    if (!create_handle(dev, &err)) {  // a probe handle (leaked: one per process)
      r.reason = err;
      return r;
    }
    r.ok = true;
    return r;
  }();
  return a;
}

template <class T>
cudnnDataType_t data_type() {
  static_assert(std::is_same<T, float>::value || std::is_same<T, double>::value, "cuDNN backend: float or double");
  return std::is_same<T, double>::value ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
}

int as_int(int64_t v, const char* op, const char* what) {
  DUEL_CHECK(v >= 0 && v <= INT32_MAX, op, ": cuDNN backend: ", what, " = ", v, " does not fit cuDNN's int");
  return (int)v;
}

// Refuses a null or host pointer before any cuDNN call (a CPU tensor's data handed to the
// cuDNN kernels by mistake), naming the op and the argument.
void check_device_pointer(const void* p, const char* op, const char* name) {
  DUEL_CHECK(p != nullptr, op, ": cuDNN backend: ", name, " is null");
  cudaPointerAttributes a{};
  const cudaError_t e = cudaPointerGetAttributes(&a, p);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    DUEL_FAIL(op, ": cuDNN backend: ", name, " must be on a cuda device (cudaPointerGetAttributes: ",
              cudaGetErrorString(e), ")");
  }
  DUEL_CHECK(a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged, op, ": cuDNN backend: ", name,
             " must be on a cuda device, got a host pointer");
}

Device current_device() {
  int dev = 0;
  (void)cudaGetDevice(&dev);
  return Device(DeviceType::CUDA, dev);
}

// RAII wrappers of the descriptors.
struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc() { check(cudnnCreateTensorDescriptor(&d), "cudnn", "cudnnCreateTensorDescriptor", "a descriptor"); }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  void set4d(cudnnDataType_t dt, int64_t n, int64_t c, int64_t h, int64_t w, const char* op) {
    check(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, dt, as_int(n, op, "N"), as_int(c, op, "C"),
                                     as_int(h, op, "H"), as_int(w, op, "W")),
          op, "cudnnSetTensor4dDescriptor",
          "[" + std::to_string(n) + ", " + std::to_string(c) + ", " + std::to_string(h) + ", " + std::to_string(w) + "]");
  }
};
struct FilterDesc {
  cudnnFilterDescriptor_t d = nullptr;
  FilterDesc() { check(cudnnCreateFilterDescriptor(&d), "cudnn", "cudnnCreateFilterDescriptor", "a descriptor"); }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};
struct ConvDesc {
  cudnnConvolutionDescriptor_t d = nullptr;
  ConvDesc() { check(cudnnCreateConvolutionDescriptor(&d), "cudnn", "cudnnCreateConvolutionDescriptor", "a descriptor"); }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

std::string geometry_str(const Conv2dGeometry& g) {
  auto s = [](int64_t v) { return std::to_string(v); };
  return "x [" + s(g.N) + ", " + s(g.C) + ", " + s(g.H) + ", " + s(g.W) + "], weight [" + s(g.O) + ", " +
         s(g.groups > 0 ? g.C / g.groups : 0) + ", " + s(g.kH) + ", " + s(g.kW) + "], y [" + s(g.N) + ", " + s(g.O) +
         ", " + s(g.outH) + ", " + s(g.outW) + "], stride (" + s(g.strideH) + ", " + s(g.strideW) + "), padding (" +
         s(g.padH) + ", " + s(g.padW) + "), dilation (" + s(g.dilH) + ", " + s(g.dilW) + "), groups " + s(g.groups);
}

// The descriptors of one convolution. `ok` is false when cuDNN's output-size formula does
// not give g.outH x g.outW (see the header); the caller then falls back to duel's kernel.
struct ConvSetup {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  cudnnDataType_t dt;
  bool ok = false;
  std::string what;  // the shapes, for error messages

  ConvSetup(const Conv2dGeometry& g, cudnnDataType_t dtype, const char* op) : dt(dtype), what(geometry_str(g)) {
    DUEL_CHECK(g.groups > 0 && g.C % g.groups == 0 && g.O % g.groups == 0, op, ": cuDNN backend: channels of ",
               what, " are not divisible by groups");
    x.set4d(dt, g.N, g.C, g.H, g.W, op);
    y.set4d(dt, g.N, g.O, g.outH, g.outW, op);
    check(cudnnSetFilter4dDescriptor(w.d, dt, CUDNN_TENSOR_NCHW, as_int(g.O, op, "O"), as_int(g.C / g.groups, op, "C/g"),
                                     as_int(g.kH, op, "kH"), as_int(g.kW, op, "kW")),
          op, "cudnnSetFilter4dDescriptor", what);
    // CROSS_CORRELATION: no kernel flip, the definition duel (and PyTorch) use. The compute
    // type equals the data type: float accumulates in float, double in double.
    check(cudnnSetConvolution2dDescriptor(conv.d, as_int(g.padH, op, "padH"), as_int(g.padW, op, "padW"),
                                          as_int(g.strideH, op, "strideH"), as_int(g.strideW, op, "strideW"),
                                          as_int(g.dilH, op, "dilH"), as_int(g.dilW, op, "dilW"),
                                          CUDNN_CROSS_CORRELATION, dt),
          op, "cudnnSetConvolution2dDescriptor", what);
    check(cudnnSetConvolutionGroupCount(conv.d, as_int(g.groups, op, "groups")), op, "cudnnSetConvolutionGroupCount",
          what);
    int n = 0, c = 0, h = 0, ww = 0;
    check(cudnnGetConvolution2dForwardOutputDim(conv.d, x.d, w.d, &n, &c, &h, &ww), op,
          "cudnnGetConvolution2dForwardOutputDim", what);
    ok = n == g.N && c == g.O && h == g.outH && ww == g.outW;
  }
};

// float: plain FP32 FMAs unless TF32 is allowed (CUDNN_DEFAULT_MATH permits TF32 tensor
// cores on sm_80+). double: the default (there is no reduced-precision double path).
cudnnMathType_t math_type_for(cudnnDataType_t dt, cudnnMathType_t algo_math) {
  if (dt == CUDNN_DATA_FLOAT && !allow_tf32()) return CUDNN_FMA_MATH;
  return algo_math;
}
bool is_tensor_op(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// A workspace is an allocation of the CUDA backend's caching allocator (an uninitialised
// buffer held by a Tensor handle: no op runs on it).
Tensor workspace(size_t bytes) {
  if (bytes == 0) return Tensor();
  return empty({(int64_t)((bytes + 7) / 8)}, TensorOptions(kInt64, current_device()));
}

// The algorithm chosen for one (direction, dtype, geometry, math) is cached for the process.
using AlgoKey = std::array<int64_t, 19>;
std::mutex g_algo_mutex;
std::map<AlgoKey, int> g_algo_cache;

AlgoKey algo_key(int direction, cudnnDataType_t dt, const Conv2dGeometry& g) {
  int dev = 0;
  (void)cudaGetDevice(&dev);
  return {direction, (int64_t)dt, dev, allow_tf32() ? 1 : 0, g.N, g.C, g.H, g.W, g.O, g.kH, g.kW, g.groups,
          g.strideH, g.strideW, g.padH, g.padW, g.dilH, g.dilW, g.outH * 1000003 + g.outW};
}

// Runs one convolution direction. Perf is cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t.
//   rank(list, max)            fills candidates (heuristic or find), returns how many
//   ws_size(algo, &bytes)      cudnnGet...WorkspaceSize
//   run(algo, ws, bytes)       the convolution itself
// Candidates are tried in cuDNN's order: skipped when not supported for these
// descriptors, when they are tensor-core (TF32) algorithms and TF32 is off, or when
// their workspace query or launch reports CUDNN_STATUS_NOT_SUPPORTED.
template <class Perf, class Algo, class Rank, class WsSize, class Run>
void run_conv(const char* op, int direction, ConvSetup& s, const Conv2dGeometry& g, int max_algos,
              Rank rank, WsSize ws_size, Run run) {
  auto try_algo = [&](Algo algo, cudnnMathType_t math) -> bool {
    check(cudnnSetConvolutionMathType(s.conv.d, math_type_for(s.dt, math)), op, "cudnnSetConvolutionMathType", s.what);
    size_t bytes = 0;
    cudnnStatus_t st = ws_size(algo, &bytes);
    if (st == CUDNN_STATUS_NOT_SUPPORTED) return false;
    check(st, op, "cudnnGetConvolution*WorkspaceSize", s.what);
    Tensor ws = workspace(bytes);
    st = run(algo, ws.defined() ? ws.raw_data() : nullptr, bytes);
    if (st == CUDNN_STATUS_NOT_SUPPORTED) return false;
    check(st, op, "cudnnConvolution*", s.what + " (algorithm " + std::to_string((int)algo) + ")");
    return true;
  };

  const AlgoKey key = algo_key(direction, s.dt, g);
  {
    int cached = -1;
    {
      std::lock_guard<std::mutex> lock(g_algo_mutex);
      auto it = g_algo_cache.find(key);
      if (it != g_algo_cache.end()) cached = it->second;
    }
    // the cached entry packs algo * 16 + math type
    if (cached >= 0 && try_algo(static_cast<Algo>(cached / 16), static_cast<cudnnMathType_t>(cached % 16))) return;
  }
  // rank() runs with the descriptor's math type; FMA when TF32 is off, so find/heuristics
  // consider FP32 algorithms
  check(cudnnSetConvolutionMathType(s.conv.d, math_type_for(s.dt, CUDNN_DEFAULT_MATH)), op,
        "cudnnSetConvolutionMathType", s.what);
  std::vector<Perf> perf(std::max(1, max_algos));
  int returned = 0;
  check(rank(perf.data(), (int)perf.size(), &returned), op,
        algo_search() == AlgoSearch::Find ? "cudnnFindConvolution*Algorithm" : "cudnnGetConvolution*Algorithm_v7",
        s.what);
  std::string tried;
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perf[i];
    if (p.status != CUDNN_STATUS_SUCCESS) continue;
    if (s.dt == CUDNN_DATA_FLOAT && !allow_tf32() && is_tensor_op(p.mathType)) continue;
    tried += (tried.empty() ? "" : ", ") + std::to_string((int)p.algo);
    if (try_algo(p.algo, p.mathType)) {
      std::lock_guard<std::mutex> lock(g_algo_mutex);
      g_algo_cache[key] = (int)p.algo * 16 + (int)p.mathType;
      return;
    }
  }
  DUEL_FAIL(op, ": cuDNN has no usable algorithm for ", s.what, " (", dtype_name(s.dt == CUDNN_DATA_FLOAT ? kFloat32 : kFloat64),
            ", TF32 ", allow_tf32() ? "allowed" : "off", "; tried: ", tried.empty() ? "none" : tried, ")");
}

// alpha/beta scaling factors: float for float data, double for double (cuDNN's rule).
struct Scalars {
  float f1 = 1.f, f0 = 0.f;
  double d1 = 1.0, d0 = 0.0;
  const void* one(cudnnDataType_t dt) const { return dt == CUDNN_DATA_DOUBLE ? (const void*)&d1 : (const void*)&f1; }
  const void* zero(cudnnDataType_t dt) const { return dt == CUDNN_DATA_DOUBLE ? (const void*)&d0 : (const void*)&f0; }
};

void check_conv_operands(const char* op, const void* a, const char* an, const void* b, const char* bn, const void* out,
                         const char* on) {
  check_device_pointer(a, op, an);
  check_device_pointer(b, op, bn);
  check_device_pointer(out, op, on);
}

}  // namespace

bool built_with_cudnn() { return true; }
bool is_available() { return availability().ok; }
std::string unavailable_reason() { return availability().reason; }
std::string version_string() {
  return "built against cuDNN " + version_text(CUDNN_VERSION) + ", loaded " + version_text(cudnnGetVersion());
}

template <class T>
bool conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g) {
  const char* op = "conv2d";
  check_conv_operands(op, x, "x", w, "weight", y, "y");
  cudnnHandle_t h = handle(op);
  ConvSetup s(g, data_type<T>(), op);
  if (!s.ok) return false;
  Scalars k;
  const int dir = 0;
  int max_algos = 0;
  check(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_algos), op, "cudnnGetConvolutionForwardAlgorithmMaxCount",
        s.what);
  run_conv<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
      op, dir, s, g, max_algos,
      [&](cudnnConvolutionFwdAlgoPerf_t* p, int n, int* got) {
        return algo_search() == AlgoSearch::Find
                   ? cudnnFindConvolutionForwardAlgorithm(h, s.x.d, s.w.d, s.conv.d, s.y.d, n, got, p)
                   : cudnnGetConvolutionForwardAlgorithm_v7(h, s.x.d, s.w.d, s.conv.d, s.y.d, n, got, p);
      },
      [&](cudnnConvolutionFwdAlgo_t a, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, s.x.d, s.w.d, s.conv.d, s.y.d, a, bytes);
      },
      [&](cudnnConvolutionFwdAlgo_t a, void* ws, size_t bytes) {
        return cudnnConvolutionForward(h, k.one(s.dt), s.x.d, x, s.w.d, w, s.conv.d, a, ws, bytes,
                                       k.zero(s.dt), s.y.d, y);
      });
  ++g_counts.conv_forward;
  return true;
}

template <class T>
bool conv2d_backward_input(const T* gy, const T* w, T* gx, const Conv2dGeometry& g) {
  const char* op = "conv2d_input_grad";
  check_conv_operands(op, gy, "grad_out", w, "weight", gx, "grad_input");
  cudnnHandle_t h = handle(op);
  ConvSetup s(g, data_type<T>(), op);
  if (!s.ok) return false;
  Scalars k;
  int max_algos = 0;
  check(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_algos), op,
        "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", s.what);
  run_conv<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
      op, 1, s, g, max_algos,
      [&](cudnnConvolutionBwdDataAlgoPerf_t* p, int n, int* got) {
        return algo_search() == AlgoSearch::Find
                   ? cudnnFindConvolutionBackwardDataAlgorithm(h, s.w.d, s.y.d, s.conv.d, s.x.d, n, got, p)
                   : cudnnGetConvolutionBackwardDataAlgorithm_v7(h, s.w.d, s.y.d, s.conv.d, s.x.d, n, got, p);
      },
      [&](cudnnConvolutionBwdDataAlgo_t a, size_t* bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, s.w.d, s.y.d, s.conv.d, s.x.d, a, bytes);
      },
      [&](cudnnConvolutionBwdDataAlgo_t a, void* ws, size_t bytes) {
        // beta = 0: gx is overwritten; pixels no window touches get 0, as in duel's kernel
        return cudnnConvolutionBackwardData(h, k.one(s.dt), s.w.d, w, s.y.d, gy, s.conv.d, a, ws,
                                            bytes, k.zero(s.dt), s.x.d, gx);
      });
  ++g_counts.conv_backward_data;
  return true;
}

template <class T>
bool conv2d_backward_weight(const T* x, const T* gy, T* gw, const Conv2dGeometry& g) {
  const char* op = "conv2d_weight_grad";
  check_conv_operands(op, x, "x", gy, "grad_out", gw, "grad_weight");
  cudnnHandle_t h = handle(op);
  ConvSetup s(g, data_type<T>(), op);
  if (!s.ok) return false;
  Scalars k;
  int max_algos = 0;
  check(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_algos), op,
        "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", s.what);
  run_conv<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
      op, 2, s, g, max_algos,
      [&](cudnnConvolutionBwdFilterAlgoPerf_t* p, int n, int* got) {
        return algo_search() == AlgoSearch::Find
                   ? cudnnFindConvolutionBackwardFilterAlgorithm(h, s.x.d, s.y.d, s.conv.d, s.w.d, n, got, p)
                   : cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, s.x.d, s.y.d, s.conv.d, s.w.d, n, got, p);
      },
      [&](cudnnConvolutionBwdFilterAlgo_t a, size_t* bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, s.x.d, s.y.d, s.conv.d, s.w.d, a, bytes);
      },
      [&](cudnnConvolutionBwdFilterAlgo_t a, void* ws, size_t bytes) {
        // beta = 0: gw is overwritten, not accumulated
        return cudnnConvolutionBackwardFilter(h, k.one(s.dt), s.x.d, x, s.y.d, gy, s.conv.d, a,
                                              ws, bytes, k.zero(s.dt), s.w.d, gw);
      });
  ++g_counts.conv_backward_filter;
  return true;
}

// ------------------------------------------------------------------------------------
// batch norm
// ------------------------------------------------------------------------------------
namespace {

struct BnSetup {
  TensorDesc x, param;  // x viewed as [N, C, S, 1]; param [1, C, 1, 1] (derived)
  cudnnDataType_t dt;
  std::string what;
  BnSetup(cudnnDataType_t dtype, int64_t N, int64_t C, int64_t S, const char* op) : dt(dtype) {
    what = "input [N, C, S] = [" + std::to_string(N) + ", " + std::to_string(C) + ", " + std::to_string(S) + "]";
    x.set4d(dt, N, C, S, 1, op);
    check(cudnnDeriveBNTensorDescriptor(param.d, x.d, CUDNN_BATCHNORM_SPATIAL), op, "cudnnDeriveBNTensorDescriptor",
          what);
  }
};

// C elements of T on the current device, all `value`: cuDNN's stand-in for a missing weight
// (1) or bias (0), and scratch for an unwanted output. Filled by the CUDA backend's fill
// kernel on the current stream, so it is ordered before the cuDNN call that reads it.
template <class T>
Tensor filled(int64_t n, double value) {
  Tensor t = empty({n}, TensorOptions(dtype_of<T>::value, current_device()));
  cuda::fill(t, value);
  return t;
}

// cudnnBatchNormalizationBackward takes an epsilon, but with the saved mean and inverse
// standard deviation given it reads those and recomputes nothing from eps; it only has to
// be a legal value.
constexpr double kBackwardEps = CUDNN_BN_MIN_EPSILON > 1e-5 ? CUDNN_BN_MIN_EPSILON : 1e-5;

}  // namespace

template <class T>
bool batch_norm_forward(const T* x, const T* weight, const T* bias, int64_t N, int64_t C, int64_t S, double eps,
                        T* mean, T* invstd, T* y) {
  const char* op = "batch_norm";
  if (eps < CUDNN_BN_MIN_EPSILON) return false;
  check_device_pointer(x, op, "input");
  check_device_pointer(y, op, "output");
  check_device_pointer(mean, op, "save_mean");
  check_device_pointer(invstd, op, "save_invstd");
  cudnnHandle_t h = handle(op);
  BnSetup s(data_type<T>(), N, C, S, op);
  Tensor ones_w = weight ? Tensor() : filled<T>(C, 1.0), zeros_b = bias ? Tensor() : filled<T>(C, 0.0);
  const T* w = weight ? weight : ones_w.data<T>();
  const T* b = bias ? bias : zeros_b.data<T>();
  Scalars k;
  // No running statistics (both null, which cuDNN allows): the front-end updates them.
  check(cudnnBatchNormalizationForwardTraining(h, CUDNN_BATCHNORM_SPATIAL, k.one(s.dt), k.zero(s.dt), s.x.d, x, s.x.d,
                                               y, s.param.d, w, b, /*exponentialAverageFactor=*/0.0, nullptr, nullptr,
                                               eps, mean, invstd),
        op, "cudnnBatchNormalizationForwardTraining", s.what);
  ++g_counts.bn_forward_training;
  return true;
}

template <class T>
bool batch_norm_backward(const T* gy, const T* x, const T* mean, const T* invstd, const T* weight, int64_t N,
                         int64_t C, int64_t S, T* gx, T* gweight, T* gbias) {
  const char* op = "batch_norm_backward";
  check_device_pointer(x, op, "input");
  check_device_pointer(gy, op, "grad_out");
  check_device_pointer(mean, op, "save_mean");
  check_device_pointer(invstd, op, "save_invstd");
  cudnnHandle_t h = handle(op);
  BnSetup s(data_type<T>(), N, C, S, op);
  Tensor ones_w = weight ? Tensor() : filled<T>(C, 1.0);
  const T* w = weight ? weight : ones_w.data<T>();
  // cuDNN always writes dx, dscale and dbias: scratch for the unwanted ones
  Tensor dx_s = gx ? Tensor() : filled<T>(N * C * S, 0.0);
  Tensor dw_s = gweight ? Tensor() : filled<T>(C, 0.0), db_s = gbias ? Tensor() : filled<T>(C, 0.0);
  T* dx = gx ? gx : dx_s.data<T>();
  T* dw = gweight ? gweight : dw_s.data<T>();
  T* db = gbias ? gbias : db_s.data<T>();
  Scalars k;
  check(cudnnBatchNormalizationBackward(h, CUDNN_BATCHNORM_SPATIAL, k.one(s.dt), k.zero(s.dt), k.one(s.dt),
                                        k.zero(s.dt), s.x.d, x, s.x.d, gy, s.x.d, dx, s.param.d, w, dw, db,
                                        kBackwardEps, mean, invstd),
        op, "cudnnBatchNormalizationBackward", s.what);
  ++g_counts.bn_backward;
  return true;
}

#pragma GCC diagnostic pop
#endif  // DUEL_WITH_CUDNN

#define DUEL_CUDNN_INSTANTIATE(T)                                                                          \
  template bool conv2d_forward<T>(const T*, const T*, T*, const Conv2dGeometry&);                          \
  template bool conv2d_backward_input<T>(const T*, const T*, T*, const Conv2dGeometry&);                   \
  template bool conv2d_backward_weight<T>(const T*, const T*, T*, const Conv2dGeometry&);                  \
  template bool batch_norm_forward<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t, double, T*, T*, \
                                      T*);                                                                 \
  template bool batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, int64_t, int64_t,     \
                                       int64_t, T*, T*, T*);
DUEL_CUDNN_INSTANTIATE(float)
DUEL_CUDNN_INSTANTIATE(double)
#undef DUEL_CUDNN_INSTANTIATE

}  // namespace cudnn
}  // namespace duel
