// Shapes, strides and broadcasting rules.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace duel {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& s);
Shape contiguous_strides(const Shape& sizes);
std::string shape_str(const Shape& s);  // "[2, 3]"
// NumPy broadcasting: align trailing dims, size-1 dims stretch. Throws naming `op`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
bool is_broadcastable_to(const Shape& from, const Shape& to);
// Wraps a negative dim (-1 = last) and checks range; `op` names the caller in errors.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Sorted, unique, wrapped dims; an empty list means all dims.
std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);

}  // namespace duel
