#include "tensor/shape.h"

#include <algorithm>
#include <sstream>

#include "tensor/error.h"

namespace duel {

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s)
    if (__builtin_mul_overflow(n, d, &n))
      DUEL_FAIL("shape ", shape_str(s), " has more elements than a 64-bit count can hold");
  return n;
}

Shape contiguous_strides(const Shape& sizes) {
  Shape st(sizes.size());
  int64_t acc = 1;
  for (int64_t i = (int64_t)sizes.size() - 1; i >= 0; --i) {
    st[i] = acc;
    // a size-0 dimension still needs the strides of the others (PyTorch's convention)
    if (i > 0 && __builtin_mul_overflow(acc, std::max<int64_t>(sizes[i], 1), &acc))
      DUEL_FAIL("shape ", shape_str(sizes), ": its strides overflow a 64-bit offset");
  }
  return st;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else
      DUEL_FAIL(op, ": shapes ", shape_str(a), " and ", shape_str(b),
                " cannot be broadcast together (dim ", i, ": ", da, " vs ", db,
                "; expected equal sizes or one of them 1)");
  }
  return out;
}

bool is_broadcastable_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[i + off]) return false;
  return true;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = std::max<int64_t>(ndim, 1);  // a 0-d tensor accepts dim 0 / -1
  if (dim < -n || dim >= n)
    DUEL_FAIL(op, ": dim ", dim, " is out of range for a tensor with ", ndim,
              " dims (expected ", -n, " <= dim < ", n, ")");
  return dim < 0 ? dim + n : dim;
}

std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (ndim == 0) {  // a 0-d tensor accepts dim 0 / -1, which name no actual dim
    for (auto d : dims) (void)wrap_dim(d, ndim, op);
    return out;
  }
  if (dims.empty()) {
    for (int64_t i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (auto d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    DUEL_FAIL(op, ": dim list repeats a dim");
  return out;
}

}  // namespace duel
