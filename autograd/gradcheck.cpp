#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/engine.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/shape_ops.h"
#include "tensor/random.h"

namespace duel {
namespace {

// Storage offsets of every element of t in row-major order (handles any strides).
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offs;
  offs.reserve(t.numel());
  Shape idx(t.dim(), 0);
  for (int64_t n = 0; n < t.numel(); ++n) {
    int64_t off = t.offset();
    for (int64_t d = 0; d < t.dim(); ++d) off += idx[d] * t.strides()[d];
    offs.push_back(off);
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      if (++idx[d] < t.sizes()[d]) break;
      idx[d] = 0;
    }
  }
  return offs;
}

std::vector<double> flat(const Tensor& t) { return t.contiguous().to_vector<double>(); }

}  // namespace

bool gradcheck(const TensorFunction& f, const TensorList& inputs, const GradcheckOptions& opts) {
  TensorList diff;
  for (auto& in : inputs)
    if (in.defined() && in.requires_grad()) {
      DUEL_CHECK(in.dtype() == kFloat64, "gradcheck: inputs that require grad must be float64, got ",
                 dtype_name(in.dtype()), " of shape ", shape_str(in.sizes()));
      diff.push_back(in);
    }
  DUEL_CHECK(!diff.empty(), "gradcheck: no input requires grad");
  Tensor y = f(inputs);
  const int64_t ny = y.numel();

  // analytic Jacobian, one row per output element
  std::vector<std::vector<std::vector<double>>> analytic(diff.size(), std::vector<std::vector<double>>(ny));
  if (y.requires_grad()) {
    for (int64_t j = 0; j < ny; ++j) {
      Tensor v = zeros(y.sizes(), TensorOptions(y.dtype()));
      v.data<double>()[j] = 1.0;
      TensorList g = autograd::grad({y}, diff, {v}, false, true, 1);
      for (size_t k = 0; k < diff.size(); ++k)
        analytic[k][j] = g[k].defined() ? flat(g[k]) : std::vector<double>(diff[k].numel(), 0.0);
    }
  } else {
    for (size_t k = 0; k < diff.size(); ++k)
      for (int64_t j = 0; j < ny; ++j) analytic[k][j].assign(diff[k].numel(), 0.0);
  }

  // numerical Jacobian, one column per input element
  std::ostringstream report;
  int mismatches = 0;
  for (size_t k = 0; k < diff.size(); ++k) {
    Tensor x = diff[k];
    double* base = static_cast<double*>(x.storage()->data);
    auto offs = element_offsets(x);
    for (size_t i = 0; i < offs.size(); ++i) {
      double orig = base[offs[i]];
      std::vector<double> yp, ym;
      // (recording stays on: gradgradcheck's f itself calls autograd::grad)
      base[offs[i]] = orig + opts.eps;
      yp = flat(f(inputs));
      base[offs[i]] = orig - opts.eps;
      ym = flat(f(inputs));
      base[offs[i]] = orig;
      for (int64_t j = 0; j < ny; ++j) {
        double num = (yp[j] - ym[j]) / (2 * opts.eps);
        double ana = analytic[k][j][i];
        if (!(std::abs(num - ana) <= opts.atol + opts.rtol * std::abs(num))) {
          if (mismatches++ < 10)
            report << "  input " << k << " " << shape_str(x.sizes()) << " element " << i << ", output element " << j
                   << ": analytic " << ana << " vs numerical " << num << "\n";
        }
      }
    }
  }
  if (mismatches) {
    if (opts.raise)
      DUEL_FAIL("gradcheck: Jacobian mismatch in ", mismatches, " entries (atol ", opts.atol, ", rtol ", opts.rtol,
                "):\n", report.str());
    return false;
  }
  return true;
}

bool gradgradcheck(const TensorFunction& f, const TensorList& inputs, const GradcheckOptions& opts) {
  std::vector<size_t> diff_idx;
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad()) diff_idx.push_back(i);
  DUEL_CHECK(!diff_idx.empty(), "gradgradcheck: no input requires grad");
  Tensor y0 = f(inputs);
  Generator gen(opts.seed);
  Tensor v = randn(y0.sizes(), TensorOptions(kFloat64), &gen).requires_grad_();
  const size_t n_in = inputs.size();
  // g(inputs..., v) = flattened d<f(inputs), v>/d(inputs), with the graph kept so it is differentiable
  TensorFunction g = [&](const TensorList& args) {
    TensorList ins(args.begin(), args.begin() + n_in);
    Tensor y = f(ins);
    TensorList wrt;
    for (auto i : diff_idx) wrt.push_back(ins[i]);
    if (!y.requires_grad()) return zeros({1}, TensorOptions(kFloat64));
    TensorList grads = autograd::grad({y}, wrt, {args[n_in]}, true, true);
    TensorList parts;
    for (size_t k = 0; k < grads.size(); ++k)
      parts.push_back(grads[k].defined() ? grads[k].reshape({-1}) : zeros({wrt[k].numel()}, TensorOptions(kFloat64)));
    return cat(parts, 0);
  };
  TensorList args = inputs;
  args.push_back(v);
  // g is the first derivative as create_graph computes it. Many ops compute it differently
  // without a graph (a fused kernel; the recorded expression only under create_graph), and
  // gradcheck checked that other version; so before g's own derivative is checked, g must equal
  // it, or a wrong but self-consistent differentiable backward would pass.
  {
    TensorList wrt;
    for (auto i : diff_idx) wrt.push_back(inputs[i]);
    const std::vector<double> with_graph = flat(g(args));
    std::vector<double> plain;
    if (y0.requires_grad()) {
      TensorList grads = autograd::grad({y0}, wrt, {v.detach()}, false, true);
      for (size_t k = 0; k < grads.size(); ++k) {
        const std::vector<double> part =
            grads[k].defined() ? flat(grads[k]) : std::vector<double>(wrt[k].numel(), 0.0);
        plain.insert(plain.end(), part.begin(), part.end());
      }
    } else {
      plain.assign(with_graph.size(), 0.0);
    }
    std::ostringstream report;
    int mismatches = 0;
    for (size_t i = 0; i < plain.size() && i < with_graph.size(); ++i)
      if (!(std::abs(with_graph[i] - plain[i]) <= 1e-9 + 1e-7 * std::abs(plain[i])) && mismatches++ < 10)
        report << "  element " << i << ": with create_graph " << with_graph[i] << ", without " << plain[i] << "\n";
    if (plain.size() != with_graph.size() || mismatches) {
      if (opts.raise)
        DUEL_FAIL("gradgradcheck: the first derivative differs with and without create_graph in ", mismatches,
                  " entries (the differentiable backward is not the one gradcheck checked):\n", report.str());
      return false;
    }
  }
  return gradcheck(g, args, opts);
}

}  // namespace duel
