// A fixed-capacity, order-preserving vector for the game entity lists, so that step()
// never allocates. Overflowing the capacity is a logic error and throws duel::Error.
#pragma once
#include <array>
#include <cstddef>

#include "tensor/error.h"

namespace duel::rl {

template <class T, size_t Capacity>
class FixedVector {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  static constexpr size_t capacity() { return Capacity; }
  void clear() { size_ = 0; }
  void push_back(const T& v) {
    DUEL_CHECK(size_ < Capacity, "FixedVector: capacity ", Capacity, " exceeded");
    items_[size_++] = v;
  }
  // Removes element i, keeping the order of the others (like Python's list.remove).
  void erase(size_t i) {
    for (size_t j = i + 1; j < size_; ++j) items_[j - 1] = items_[j];
    --size_;
  }
  T& operator[](size_t i) { return items_[i]; }
  const T& operator[](size_t i) const { return items_[i]; }
  T* begin() { return items_.data(); }
  T* end() { return items_.data() + size_; }
  const T* begin() const { return items_.data(); }
  const T* end() const { return items_.data() + size_; }

 private:
  std::array<T, Capacity> items_{};
  size_t size_ = 0;
};

}  // namespace duel::rl
