// Pretty printing in the style of NumPy/PyTorch: nested brackets, aligned
// columns, and "..." in place of the middle when a tensor has more than 1000
// elements (first and last 3 entries of each dim are shown).
#include <cmath>
#include <functional>
#include <iomanip>
#include <sstream>

#include "autograd/node.h"
#include "tensor/tensor.h"

namespace duel {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Printer {
  std::vector<double> values;  // row-major copy
  Shape sizes;
  Shape strides;
  bool summarize = false;
  bool integral = true;
  int width = 1;
  int precision = 4;
  bool scientific = false;

  std::string format(double v) const {
    std::ostringstream os;
    if (std::isnan(v)) os << "nan";
    else if (std::isinf(v)) os << (v > 0 ? "inf" : "-inf");
    else if (integral) os << (int64_t)v;
    else if (scientific) os << std::scientific << std::setprecision(precision) << v;
    else os << std::fixed << std::setprecision(precision) << v;
    return os.str();
  }

  void visit_shown(int64_t dim, int64_t base, const std::function<void(int64_t)>& leaf) const {
    if (dim == (int64_t)sizes.size()) return leaf(base);
    for (int64_t i = 0; i < sizes[dim]; ++i) {
      if (summarize && sizes[dim] > 2 * kEdgeItems && i == kEdgeItems) i = sizes[dim] - kEdgeItems;
      visit_shown(dim + 1, base + i * strides[dim], leaf);
    }
  }

  void print(std::ostream& os, int64_t dim, int64_t base, int indent) const {
    if (dim == (int64_t)sizes.size()) {
      std::string s = format(values[base]);
      os << std::string(std::max<int>(0, width - (int)s.size()), ' ') << s;
      return;
    }
    os << "[";
    for (int64_t i = 0; i < sizes[dim]; ++i) {
      if (summarize && sizes[dim] > 2 * kEdgeItems && i == kEdgeItems) {
        if (dim + 1 == (int64_t)sizes.size()) os << " ..., ";
        else os << "\n" << std::string(indent + 1, ' ') << "...,\n" << std::string(indent + 1, ' ');
        i = sizes[dim] - kEdgeItems;
      }
      print(os, dim + 1, base + i * strides[dim], indent + 1);
      if (i + 1 < sizes[dim]) {
        if (dim + 1 == (int64_t)sizes.size()) os << ", ";
        else os << "," << std::string(sizes.size() - dim - 1, '\n') << std::string(indent + 1, ' ');
      }
    }
    os << "]";
  }
};

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  Printer p;
  p.values = t.to_vector<double>();
  p.sizes = t.sizes();
  p.strides = contiguous_strides(t.sizes());
  p.summarize = t.numel() > kSummarizeAbove;
  double maxabs = 0, minabs = INFINITY;
  p.integral = true;
  p.visit_shown(0, 0, [&](int64_t i) {
    double v = p.values[i];
    if (std::isfinite(v)) {
      if (v != std::floor(v)) p.integral = false;
      maxabs = std::max(maxabs, std::abs(v));
      if (v != 0) minabs = std::min(minabs, std::abs(v));
    }
  });
  if (!is_floating(t.dtype())) p.integral = true;
  else if (p.integral && maxabs < 1e8) p.integral = false, p.precision = 1;  // 1.0 style for whole floats
  if (is_floating(t.dtype()) && (maxabs >= 1e8 || (minabs < 1e-4 && minabs > 0))) p.scientific = true;
  if (is_floating(t.dtype()) && !p.scientific && p.precision != 1) p.precision = 4;
  p.visit_shown(0, 0, [&](int64_t i) { p.width = std::max<int>(p.width, (int)p.format(p.values[i]).size()); });
  std::ostringstream os;
  os << "tensor(";
  if (t.dim() == 0) os << p.format(p.values.empty() ? 0 : p.values[0]);
  else if (t.numel() == 0) os << "[]";
  else p.print(os, 0, 0, 7);
  os << ", shape=" << shape_str(t.sizes()) << ", dtype=" << dtype_name(t.dtype()) << ", device=" << t.device().str();
  if (t.grad_fn()) os << ", grad_fn=<" << t.grad_fn()->name << ">";
  else if (t.requires_grad()) os << ", requires_grad=true";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << to_string(t); }

}  // namespace duel
