// A device buffer of the SIMT emulator with host copies in and out (the emulator's tests).
#pragma once
#include <cstddef>
#include <vector>

#include "kernels/sim/runtime.h"

namespace duel::sim::testing {

template <class T>
struct DevBuf {
  T* p = nullptr;
  size_t n = 0;
  explicit DevBuf(size_t count) : p(sim::device_alloc<T>(count)), n(count) {}
  explicit DevBuf(const std::vector<T>& h) : DevBuf(h.size()) { upload(h); }
  ~DevBuf() { sim::device_free(p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  void upload(const std::vector<T>& h) { sim::memcpy_htod(p, h.data(), h.size() * sizeof(T)); }
  std::vector<T> download() const {
    std::vector<T> h(n);
    sim::memcpy_dtoh(h.data(), p, n * sizeof(T));
    return h;
  }
  void zero() { sim::memset(p, 0, n * sizeof(T)); }
};

}  // namespace duel::sim::testing
