// CPU-only build of the runtime probe (see runtime.h) and of the cuda stream API
// (stream.h); compiled when duel is configured without CUDA (DUEL_CUDA=OFF or no nvcc
// found). There are no cuda kernels to order, so streams are plain ids and every call is
// a sequential no-op.
#include <atomic>

#include "kernels/cuda/runtime.h"
#include "kernels/cuda/stream.h"

namespace duel::cuda {

int device_count() noexcept { return 0; }

bool is_available() noexcept { return false; }

std::string unavailable_reason() { return "duel was built without CUDA support (DUEL_CUDA=OFF)"; }

void empty_cache() {}
CachingAllocatorStats memory_stats() { return {}; }

namespace {
std::atomic<uint64_t> g_next_stream_id{1};
thread_local Stream t_current_stream;
}  // namespace

struct Stream::State {
  uint64_t id = 0;
};

Stream Stream::create() {
  auto st = std::make_shared<State>();
  st->id = g_next_stream_id.fetch_add(1);
  return Stream(std::move(st));
}
void Stream::synchronize() const {}
void* Stream::handle() const { return state_ ? reinterpret_cast<void*>(static_cast<uintptr_t>(state_->id)) : nullptr; }
uint64_t Stream::id() const { return state_ ? state_->id : 0; }

Stream current_stream() { return t_current_stream; }
void* current_stream_handle() { return t_current_stream.handle(); }
void set_current_stream(const Stream& s) { t_current_stream = s; }
void device_synchronize() {}

}  // namespace duel::cuda
