// The `cuda` device of the tensor API (nvcc build only): an Allocator for
// DeviceType::CUDA, registered at static initialisation, made of
//   * a caching allocator (kernels/caching_allocator.h) over cudaMalloc/cudaFree: blocks are
//     rounded to size classes, freed blocks are kept per (stream, class) and reused, so a
//     training loop does not call cudaMalloc every step (DUEL_CUDA_CACHE=0: no caching);
//   * host <-> device copies on the current stream (cudaMemcpyAsync, then a wait for that
//     stream, so a tensor read back on the host always sees the finished kernels);
// and the rest of the backend's runtime glue: streams (kernels/cuda/stream.h),
// DUEL_CUDA_CHECK's throw_cuda_error (common.cuh) and check_launch (utils.cuh).
//
// No CUDA call runs at static-initialisation time: the allocator checks
// duel::cuda::is_available() (kernels/cuda/runtime.h) at the first allocation, so a
// program built with CUDA runs fine on a machine without a GPU as long as it does not
// ask for a `cuda` tensor, and then gets the reason (no driver, no device, ...).
//
// Under the emulator (DUEL_SIM) this file compiles to nothing: the sim device lives in
// kernels/sim/sim_device.cpp.
#include "kernels/cuda/common.cuh"

#if defined(__CUDACC__)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "kernels/caching_allocator.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/stream.h"
#include "kernels/cuda/utils.cuh"
#include "tensor/storage.h"

namespace duel::cuda {
namespace {

// "/work/main/kernels/cuda/x.cu" -> "kernels/cuda/x.cu" (messages stay readable).
std::string short_path(const char* file) {
  if (!file) return "?";
  std::string f = file;
  for (const char* dir : {"/kernels/", "/tensor/", "/tests/", "/bench/"}) {
    const size_t k = f.rfind(dir);
    if (k != std::string::npos) return f.substr(k + 1);
  }
  return f;
}

std::string error_text(cudaError_t err) {
  const char* msg = cudaGetErrorString(err);
  const char* name = cudaGetErrorName(err);
  return std::string(msg ? msg : "unknown error") + " (" + (name ? name : "?") + ")";
}

void require_device() {
  if (!is_available()) DUEL_FAIL("no CUDA device available: ", unavailable_reason(), "; use device cpu or sim");
}

// ------------------------------------------------------------------ allocation ----
struct CudaRawMemory final : RawDeviceMemory {
  void* raw_allocate(size_t nbytes) override {
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, nbytes);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // not sticky: clear it, the caching allocator retries
      return nullptr;
    }
    if (err != cudaSuccess) throw_cuda_error(err, "cudaMalloc", __FILE__, __LINE__);
    return p;
  }
  void raw_free(void* ptr, size_t) noexcept override {
    if (ptr) (void)cudaFree(ptr);  // never throws (destructor path); cudaFree synchronises
  }
};

CudaRawMemory& raw_memory() {
  static CudaRawMemory* m = new CudaRawMemory();  // never destroyed: tensors may outlive statics
  return *m;
}
CachingAllocator& caching() {
  static CachingAllocator* c = new CachingAllocator(raw_memory(), "cuda");
  return *c;
}
bool caching_enabled() {
  static const bool on = [] {
    const char* e = std::getenv("DUEL_CUDA_CACHE");
    return !(e && *e == '0');
  }();
  return on;
}

struct CudaAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    require_device();
    // Blocks are keyed by the stream's id, not its cudaStream_t: a handle value can be
    // recycled by a later cudaStreamCreate, an id never is.
    if (caching_enabled())
      return caching().allocate(nbytes, reinterpret_cast<const void*>(static_cast<uintptr_t>(current_stream().id())));
    void* p = raw_memory().raw_allocate(nbytes);
    if (!p) DUEL_FAIL("cuda: out of memory allocating ", nbytes, " bytes (cudaMalloc)");
    return p;
  }
  void deallocate(void* ptr, size_t nbytes) override {
    if (!ptr) return;
    if (!caching_enabled()) return raw_memory().raw_free(ptr, nbytes);
    try {
      caching().deallocate(ptr);
    } catch (const std::exception& e) {  // never throw from a destructor path
      std::fprintf(stderr, "duel: %s\n", e.what());
    }
  }
  void copy_to_host(void* host_dst, const void* device_src, size_t nbytes) override {
    if (!nbytes) return;
    cudaStream_t s = launch_stream();
    DUEL_CUDA_CHECK(cudaMemcpyAsync(host_dst, device_src, nbytes, cudaMemcpyDeviceToHost, s));
    DUEL_CUDA_CHECK(cudaStreamSynchronize(s));
  }
  void copy_from_host(void* device_dst, const void* host_src, size_t nbytes) override {
    if (!nbytes) return;
    cudaStream_t s = launch_stream();
    DUEL_CUDA_CHECK(cudaMemcpyAsync(device_dst, host_src, nbytes, cudaMemcpyHostToDevice, s));
    DUEL_CUDA_CHECK(cudaStreamSynchronize(s));  // the host buffer may be freed right after
  }
};

CudaAllocator cuda_allocator;

const bool registered = [] {
  register_allocator(DeviceType::CUDA, &cuda_allocator);
  return true;
}();

bool sync_after_launch() {
  static const bool on = [] {
    const char* e = std::getenv("DUEL_CUDA_SYNC");
    return e && *e && *e != '0';
  }();
  return on;
}

// ---------------------------------------------------------------------- streams ----
std::atomic<uint64_t> g_next_stream_id{1};
thread_local Stream t_current_stream;  // default-constructed: the legacy default stream

}  // namespace

struct Stream::State {
  cudaStream_t stream = nullptr;
  uint64_t id = 0;
  ~State() {
    if (stream) (void)cudaStreamDestroy(stream);  // queued work still completes
  }
};

Stream Stream::create() {
  require_device();
  auto st = std::make_shared<State>();
  DUEL_CUDA_CHECK(cudaStreamCreateWithFlags(&st->stream, cudaStreamDefault));
  st->id = g_next_stream_id.fetch_add(1);
  return Stream(std::move(st));
}

void Stream::synchronize() const {
  if (!is_available()) return;  // nothing can have been queued
  DUEL_CUDA_CHECK(cudaStreamSynchronize(state_ ? state_->stream : nullptr));
}

void* Stream::handle() const { return state_ ? static_cast<void*>(state_->stream) : nullptr; }
uint64_t Stream::id() const { return state_ ? state_->id : 0; }

Stream current_stream() { return t_current_stream; }
void* current_stream_handle() { return t_current_stream.handle(); }
void set_current_stream(const Stream& s) { t_current_stream = s; }

void device_synchronize() {
  if (is_available()) DUEL_CUDA_CHECK(cudaDeviceSynchronize());
}

// ------------------------------------------------------------------ error checks ----
void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  (void)cudaGetLastError();  // clear a non-sticky error so later calls are not blamed
  DUEL_FAIL("cuda: ", expr ? expr : "CUDA call", " failed at ", short_path(file), ":", line, ": ", error_text(err));
}

void check_launch(const char* kernel, const char* file, int line) {
  const std::string where = file ? " launched at " + short_path(file) + ":" + std::to_string(line) : std::string();
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    DUEL_FAIL("cuda: kernel ", kernel, where, " failed to launch: ", error_text(err));
  if (sync_after_launch()) {
    err = cudaStreamSynchronize(launch_stream());
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      DUEL_FAIL("cuda: kernel ", kernel, where, " failed while running: ", error_text(err));
    }
  }
}

// ------------------------------------------------------------ allocator controls ----
void empty_cache() {
  if (is_available()) caching().empty_cache();
}
CachingAllocatorStats memory_stats() { return is_available() ? caching().stats() : CachingAllocatorStats{}; }

}  // namespace duel::cuda
#endif  // __CUDACC__
