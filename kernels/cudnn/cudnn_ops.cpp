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

#include "autograd/grad_mode.h"  // NoGradGuard
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/stream.h"
#endif

namespace duel {

// ------------------------------------------------------------------------------------
// The backend switch (always compiled)
// ------------------------------------------------------------------------------------
namespace {

// -1: not yet read from the environment; otherwise a ConvBackend value.
std::atomic<int> g_backend{-1};

int backend_from_env() {
  const char* e = std::getenv("DUEL_CUDNN");
  if (!e || !*e || !std::strcmp(e, "0") || !std::strcmp(e, "native")) return (int)ConvBackend::Native;
  if (!std::strcmp(e, "1") || !std::strcmp(e, "cudnn")) return (int)ConvBackend::Cudnn;
  DUEL_FAIL("DUEL_CUDNN: expected 0, 1, native or cudnn, got '", e, "'");
}

}  // namespace

namespace detail {
void reload_conv_backend_from_env() { g_backend.store(backend_from_env()); }
}  // namespace detail

ConvBackend conv_backend() {
  int b = g_backend.load(std::memory_order_relaxed);
  if (b < 0) {
    b = backend_from_env();
    g_backend.store(b);
  }
  return static_cast<ConvBackend>(b);
}

const char* conv_backend_name(ConvBackend b) { return b == ConvBackend::Cudnn ? "cudnn" : "native"; }

void set_conv_backend(ConvBackend b) {
  if (b == ConvBackend::Cudnn && !cudnn::is_available())
    DUEL_FAIL("set_conv_backend(cudnn): the cuDNN backend is unavailable: ", cudnn::unavailable_reason());
  g_backend.store((int)b);
}

namespace cudnn {
namespace {
std::atomic<int> g_algo_search{(int)AlgoSearch::Heuristic};
std::atomic<int> g_allow_tf32{-1};  // -1: not read from DUEL_CUDNN_TF32 yet
struct Counters {
  std::atomic<int64_t> conv_forward{0}, conv_backward_data{0}, conv_backward_filter{0};
  std::atomic<int64_t> bn_forward_training{0}, bn_forward_inference{0}, bn_backward{0};
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
  c.bn_forward_inference = g_counts.bn_forward_inference.load();
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
  DUEL_FAIL(op, ": the cuDNN backend was selected (set_conv_backend or DUEL_CUDNN=1) but ", why_not());
}
}  // namespace

bool built_with_cudnn() { return false; }
bool is_available() { return false; }
std::string unavailable_reason() { return why_not(); }
std::string version_string() { return why_not(); }

bool conv2d_forward(const Tensor&, const Tensor&, Tensor&, const cpu::Conv2dGeometry&) { unavailable("conv2d"); }
bool conv2d_backward_input(const Tensor&, const Tensor&, Tensor&, const cpu::Conv2dGeometry&) {
  unavailable("conv2d_input_grad");
}
bool conv2d_backward_weight(const Tensor&, const Tensor&, Tensor&, const cpu::Conv2dGeometry&) {
  unavailable("conv2d_weight_grad");
}
bool batch_norm_forward_training(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double,
                                 double, Tensor&, Tensor&, Tensor&) {
  unavailable("batch_norm");
}
bool batch_norm_forward_inference(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double,
                                  Tensor&) {
  unavailable("batch_norm (eval)");
}
bool batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double, Tensor&,
                         Tensor&, Tensor&) {
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

cudnnDataType_t data_type(const Tensor& t, const char* op) {
  if (t.dtype() == kFloat32) return CUDNN_DATA_FLOAT;
  if (t.dtype() == kFloat64) return CUDNN_DATA_DOUBLE;
  DUEL_FAIL(op, ": cuDNN backend: expected float32 or float64, got ", dtype_name(t.dtype()));
}

int as_int(int64_t v, const char* op, const char* what) {
  DUEL_CHECK(v >= 0 && v <= INT32_MAX, op, ": cuDNN backend: ", what, " = ", v, " does not fit cuDNN's int");
  return (int)v;
}

void check_tensor(const Tensor& t, const Tensor& like, const char* op, const char* name) {
  DUEL_CHECK(t.defined(), op, ": cuDNN backend: ", name, " is undefined");
  DUEL_CHECK(t.device().type == DeviceType::CUDA, op, ": cuDNN backend: expected ", name,
             " on a cuda device, got ", t.device().str());
  DUEL_CHECK(t.device() == like.device() && t.dtype() == like.dtype(), op, ": cuDNN backend: ", name, " (",
             t.str(), ") must have the device and dtype of ", like.str());
  DUEL_CHECK(t.is_contiguous(), op, ": cuDNN backend: ", name, " of shape ", shape_str(t.sizes()),
             " must be contiguous");
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

std::string geometry_str(const cpu::Conv2dGeometry& g) {
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

  ConvSetup(const cpu::Conv2dGeometry& g, cudnnDataType_t dtype, const char* op) : dt(dtype), what(geometry_str(g)) {
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

// A workspace is a duel CUDA tensor (so it comes from the CUDA backend's allocator).
Tensor workspace(size_t bytes, Device dev) {
  if (bytes == 0) return Tensor();
  return empty({(int64_t)((bytes + 7) / 8)}, TensorOptions(kInt64, dev));
}

// The algorithm chosen for one (direction, dtype, geometry, math) is cached for the process.
using AlgoKey = std::array<int64_t, 19>;
std::mutex g_algo_mutex;
std::map<AlgoKey, int> g_algo_cache;

AlgoKey algo_key(int direction, cudnnDataType_t dt, const cpu::Conv2dGeometry& g) {
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
void run_conv(const char* op, int direction, ConvSetup& s, const cpu::Conv2dGeometry& g, Device dev, int max_algos,
              Rank rank, WsSize ws_size, Run run) {
  auto try_algo = [&](Algo algo, cudnnMathType_t math) -> bool {
    check(cudnnSetConvolutionMathType(s.conv.d, math_type_for(s.dt, math)), op, "cudnnSetConvolutionMathType", s.what);
    size_t bytes = 0;
    cudnnStatus_t st = ws_size(algo, &bytes);
    if (st == CUDNN_STATUS_NOT_SUPPORTED) return false;
    check(st, op, "cudnnGetConvolution*WorkspaceSize", s.what);
    Tensor ws = workspace(bytes, dev);
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

void check_conv_operands(const char* op, const Tensor& a, const char* an, const Tensor& b, const char* bn,
                         const Tensor& out, const char* on) {
  check_tensor(a, a, op, an);
  check_tensor(b, a, op, bn);
  check_tensor(out, a, op, on);
}

}  // namespace

bool built_with_cudnn() { return true; }
bool is_available() { return availability().ok; }
std::string unavailable_reason() { return availability().reason; }
std::string version_string() {
  return "built against cuDNN " + version_text(CUDNN_VERSION) + ", loaded " + version_text(cudnnGetVersion());
}

bool conv2d_forward(const Tensor& x, const Tensor& w, Tensor& y, const cpu::Conv2dGeometry& g) {
  const char* op = "conv2d";
  check_conv_operands(op, x, "x", w, "weight", y, "y");
  cudnnHandle_t h = handle(op);
  ConvSetup s(g, data_type(x, op), op);
  if (!s.ok) return false;
  Scalars k;
  const int dir = 0;
  int max_algos = 0;
  check(cudnnGetConvolutionForwardAlgorithmMaxCount(h, &max_algos), op, "cudnnGetConvolutionForwardAlgorithmMaxCount",
        s.what);
  run_conv<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(
      op, dir, s, g, x.device(), max_algos,
      [&](cudnnConvolutionFwdAlgoPerf_t* p, int n, int* got) {
        return algo_search() == AlgoSearch::Find
                   ? cudnnFindConvolutionForwardAlgorithm(h, s.x.d, s.w.d, s.conv.d, s.y.d, n, got, p)
                   : cudnnGetConvolutionForwardAlgorithm_v7(h, s.x.d, s.w.d, s.conv.d, s.y.d, n, got, p);
      },
      [&](cudnnConvolutionFwdAlgo_t a, size_t* bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, s.x.d, s.w.d, s.conv.d, s.y.d, a, bytes);
      },
      [&](cudnnConvolutionFwdAlgo_t a, void* ws, size_t bytes) {
        return cudnnConvolutionForward(h, k.one(s.dt), s.x.d, x.raw_data(), s.w.d, w.raw_data(), s.conv.d, a, ws, bytes,
                                       k.zero(s.dt), s.y.d, y.raw_data());
      });
  y.bump_version();
  ++g_counts.conv_forward;
  return true;
}

bool conv2d_backward_input(const Tensor& gy, const Tensor& w, Tensor& gx, const cpu::Conv2dGeometry& g) {
  const char* op = "conv2d_input_grad";
  check_conv_operands(op, gy, "grad_out", w, "weight", gx, "grad_input");
  cudnnHandle_t h = handle(op);
  ConvSetup s(g, data_type(gy, op), op);
  if (!s.ok) return false;
  Scalars k;
  int max_algos = 0;
  check(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, &max_algos), op,
        "cudnnGetConvolutionBackwardDataAlgorithmMaxCount", s.what);
  run_conv<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(
      op, 1, s, g, gy.device(), max_algos,
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
        return cudnnConvolutionBackwardData(h, k.one(s.dt), s.w.d, w.raw_data(), s.y.d, gy.raw_data(), s.conv.d, a, ws,
                                            bytes, k.zero(s.dt), s.x.d, gx.raw_data());
      });
  gx.bump_version();
  ++g_counts.conv_backward_data;
  return true;
}

bool conv2d_backward_weight(const Tensor& x, const Tensor& gy, Tensor& gw, const cpu::Conv2dGeometry& g) {
  const char* op = "conv2d_weight_grad";
  check_conv_operands(op, x, "x", gy, "grad_out", gw, "grad_weight");
  cudnnHandle_t h = handle(op);
  ConvSetup s(g, data_type(x, op), op);
  if (!s.ok) return false;
  Scalars k;
  int max_algos = 0;
  check(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, &max_algos), op,
        "cudnnGetConvolutionBackwardFilterAlgorithmMaxCount", s.what);
  run_conv<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
      op, 2, s, g, x.device(), max_algos,
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
        return cudnnConvolutionBackwardFilter(h, k.one(s.dt), s.x.d, x.raw_data(), s.y.d, gy.raw_data(), s.conv.d, a,
                                              ws, bytes, k.zero(s.dt), s.w.d, gw.raw_data());
      });
  gw.bump_version();
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
  int64_t N = 0, C = 0, S = 0;
  std::string what;
  BnSetup(const Tensor& xt, const char* op) : dt(data_type(xt, op)) {
    DUEL_CHECK(xt.dim() >= 2, op, ": cuDNN backend: expected an input [N, C, ...], got shape ", shape_str(xt.sizes()));
    N = xt.size(0);
    C = xt.size(1);
    S = xt.numel() / std::max<int64_t>(1, N * C);
    what = "input of shape " + shape_str(xt.sizes());
    x.set4d(dt, N, C, S, 1, op);
    check(cudnnDeriveBNTensorDescriptor(param.d, x.d, CUDNN_BATCHNORM_SPATIAL), op, "cudnnDeriveBNTensorDescriptor",
          what);
  }
};

// A per-channel parameter as cuDNN needs it: C contiguous elements of x's dtype on x's
// device (cuDNN's parameter type is float for float data and double for double data).
// Undefined -> filled with `fill` (weight 1, bias 0).
Tensor param_or(const Tensor& p, const Tensor& x, double fill) {
  if (!p.defined()) return full({x.size(1)}, fill, TensorOptions(x.dtype(), x.device()));
  Tensor d = p.detach();
  if (d.dtype() != x.dtype()) d = d.to(x.dtype());
  return d.contiguous();
}

// A running statistic cuDNN updates in place: the tensor itself when it already has the
// right layout and dtype, else a working copy that is written back afterwards.
struct RunningStat {
  Tensor user, work;
  RunningStat(const Tensor& r, const Tensor& x) : user(r) {
    if (!r.defined()) return;
    if (r.dtype() == x.dtype() && r.is_contiguous()) {
      work = r.detach();  // shares the storage
    } else {
      NoGradGuard ng;
      work = r.detach().to(x.dtype()).contiguous().clone();
    }
  }
  void* ptr() const { return work.defined() ? work.raw_data() : nullptr; }
  void finish() {
    if (!user.defined()) return;
    if (work.storage() == user.storage()) {
      user.bump_version();  // written by cuDNN in place
    } else {
      NoGradGuard ng;
      Tensor u = user;
      u.copy_(work);
    }
  }
};

}  // namespace

bool batch_norm_forward_training(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 const Tensor& running_mean, const Tensor& running_var, double momentum, double eps,
                                 Tensor& y, Tensor& save_mean, Tensor& save_invstd) {
  const char* op = "batch_norm";
  if (eps < CUDNN_BN_MIN_EPSILON) return false;
  check_tensor(x, x, op, "input");
  check_tensor(y, x, op, "output");
  check_tensor(save_mean, x, op, "save_mean");
  check_tensor(save_invstd, x, op, "save_invstd");
  cudnnHandle_t h = handle(op);
  BnSetup s(x, op);
  Tensor wt = param_or(weight, x, 1.0), bt = param_or(bias, x, 0.0);
  // cuDNN updates either both running statistics or neither: a missing one gets a scratch buffer.
  Tensor rm_in = running_mean, rv_in = running_var;
  if (rm_in.defined() != rv_in.defined()) {
    if (!rm_in.defined()) rm_in = zeros({s.C}, TensorOptions(x.dtype(), x.device()));
    if (!rv_in.defined()) rv_in = ones({s.C}, TensorOptions(x.dtype(), x.device()));
  }
  RunningStat rm(rm_in, x), rv(rv_in, x);
  Scalars k;
  // exponentialAverageFactor = momentum: running = (1 - momentum) * running + momentum * batch.
  // cuDNN folds the unbiased (M/(M-1)) batch variance into running_var, as duel's native path does.
  check(cudnnBatchNormalizationForwardTraining(h, CUDNN_BATCHNORM_SPATIAL, k.one(s.dt), k.zero(s.dt), s.x.d,
                                               x.raw_data(), s.x.d, y.raw_data(), s.param.d, wt.raw_data(),
                                               bt.raw_data(), momentum, rm.ptr(), rv.ptr(), eps, save_mean.raw_data(),
                                               save_invstd.raw_data()),
        op, "cudnnBatchNormalizationForwardTraining", s.what);
  rm.finish();
  rv.finish();
  y.bump_version();
  ++g_counts.bn_forward_training;
  return true;
}

bool batch_norm_forward_inference(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var, double eps, Tensor& y) {
  const char* op = "batch_norm (eval)";
  if (eps < CUDNN_BN_MIN_EPSILON) return false;
  check_tensor(x, x, op, "input");
  check_tensor(y, x, op, "output");
  DUEL_CHECK(running_mean.defined() && running_var.defined(), op, ": eval mode needs running_mean and running_var");
  cudnnHandle_t h = handle(op);
  BnSetup s(x, op);
  Tensor wt = param_or(weight, x, 1.0), bt = param_or(bias, x, 0.0);
  Tensor rm = param_or(running_mean, x, 0.0), rv = param_or(running_var, x, 1.0);
  Scalars k;
  check(cudnnBatchNormalizationForwardInference(h, CUDNN_BATCHNORM_SPATIAL, k.one(s.dt), k.zero(s.dt), s.x.d,
                                                x.raw_data(), s.x.d, y.raw_data(), s.param.d, wt.raw_data(),
                                                bt.raw_data(), rm.raw_data(), rv.raw_data(), eps),
        op, "cudnnBatchNormalizationForwardInference", s.what);
  y.bump_version();
  ++g_counts.bn_forward_inference;
  return true;
}

bool batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, double eps, Tensor& gx, Tensor& gweight, Tensor& gbias) {
  const char* op = "batch_norm_backward";
  if (eps < CUDNN_BN_MIN_EPSILON) return false;
  check_tensor(x, x, op, "input");
  check_tensor(gy, x, op, "grad_out");
  check_tensor(save_mean, x, op, "save_mean");
  check_tensor(save_invstd, x, op, "save_invstd");
  DUEL_CHECK(gy.sizes() == x.sizes(), op, ": grad_out of shape ", shape_str(gy.sizes()), " does not match input ",
             shape_str(x.sizes()));
  cudnnHandle_t h = handle(op);
  BnSetup s(x, op);
  Tensor wt = param_or(weight, x, 1.0);
  // cuDNN always writes dx, dscale and dbias: scratch buffers for the unwanted ones
  auto out_or_scratch = [&](const Tensor& t, const Shape& shape, const char* name) {
    if (t.defined()) {
      check_tensor(t, x, op, name);
      return t;
    }
    return empty(shape, TensorOptions(x.dtype(), x.device()));
  };
  Tensor dx = out_or_scratch(gx, x.sizes(), "grad_input");
  Tensor dw = out_or_scratch(gweight, {s.C}, "grad_weight");
  Tensor db = out_or_scratch(gbias, {s.C}, "grad_bias");
  Scalars k;
  check(cudnnBatchNormalizationBackward(h, CUDNN_BATCHNORM_SPATIAL, k.one(s.dt), k.zero(s.dt), k.one(s.dt),
                                        k.zero(s.dt), s.x.d, x.raw_data(), s.x.d, gy.raw_data(), s.x.d, dx.raw_data(),
                                        s.param.d, wt.raw_data(), dw.raw_data(), db.raw_data(), eps,
                                        save_mean.raw_data(), save_invstd.raw_data()),
        op, "cudnnBatchNormalizationBackward", s.what);
  for (Tensor* t : {&dx, &dw, &db}) t->bump_version();
  ++g_counts.bn_backward;
  return true;
}

#pragma GCC diagnostic pop
#endif  // DUEL_WITH_CUDNN

}  // namespace cudnn
}  // namespace duel
