#include "tensor/storage.h"

#include <array>
#include <cstdlib>
#include <cstring>

namespace duel {
namespace {

struct CpuAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    size_t rounded = (nbytes + 63) / 64 * 64;  // 64-byte alignment for SIMD loads
    void* p = std::aligned_alloc(64, rounded);
    if (!p) DUEL_FAIL("cpu allocator: out of memory allocating ", nbytes, " bytes");
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  void copy_to_host(void* dst, const void* src, size_t n) override {
    if (n) std::memcpy(dst, src, n);
  }
  void copy_from_host(void* dst, const void* src, size_t n) override {
    if (n) std::memcpy(dst, src, n);
  }
};

CpuAllocator cpu_allocator;
std::array<Allocator*, 3> allocators = {&cpu_allocator, nullptr, nullptr};

}  // namespace

void register_allocator(DeviceType type, Allocator* allocator) {
  allocators[static_cast<size_t>(type)] = allocator;
}

Allocator& allocator_for(Device device) {
  Allocator* a = allocators[static_cast<size_t>(device.type)];
  if (!a) {
    if (device.type == DeviceType::CUDA)
      DUEL_FAIL("no CUDA device available: duel was built without the CUDA backend or no GPU/driver "
                "is present (device ", device.str(), "); use device cpu or sim");
    DUEL_FAIL("device ", device.str(), " is not available in this build");
  }
  return *a;
}

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  try {
    data = allocator_for(d).allocate(n);
  } catch (const Error& e) {
    if (d.is_cpu()) throw;
    DUEL_FAIL(e.what(), " (allocating ", n, " bytes on ", d.str(), ")");
  }
}

Storage::Storage(void* external, size_t n, Device d) : data(external), nbytes(n), device(d), owns(false) {}

Storage::~Storage() {
  if (owns && data) allocator_for(device).deallocate(data, nbytes);
}

Device::Device(const std::string& spec) {
  std::string name = spec;
  int idx = 0;
  auto colon = spec.find(':');
  if (colon != std::string::npos) {
    name = spec.substr(0, colon);
    idx = std::atoi(spec.c_str() + colon + 1);
  }
  if (name == "cpu") type = DeviceType::CPU;
  else if (name == "sim") type = DeviceType::Sim;
  else if (name == "cuda") type = DeviceType::CUDA;
  else DUEL_FAIL("device: unknown device '", spec, "' (expected cpu, sim, cuda or cuda:N)");
  index = idx;
}

std::string Device::str() const {
  switch (type) {
    case DeviceType::CPU: return "cpu";
    case DeviceType::Sim: return "sim";
    case DeviceType::CUDA: return "cuda:" + std::to_string(index);
  }
  return "?";
}

}  // namespace duel
