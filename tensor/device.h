// Where a tensor's storage lives. `cpu` is the reference backend; `sim` runs the
// CUDA kernel sources on the CPU through the SIMT emulator; `cuda` is a GPU.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/error.h"

namespace duel {

enum class DeviceType : uint8_t { CPU, Sim, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}
  // Parses "cpu", "sim", "cuda", "cuda:1".
  explicit Device(const std::string& spec);

  bool is_cpu() const { return type == DeviceType::CPU; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const;
};

inline const Device kCPU{DeviceType::CPU, 0};

}  // namespace duel
