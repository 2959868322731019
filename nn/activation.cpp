#include "nn/activation.h"

#include <sstream>

#include "tensor/ops/elementwise.h"
#include "tensor/ops/nn_ops.h"

namespace duel::nn {
namespace {
std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + fmt(negative_slope); }

PReLU::PReLU(int64_t n, double init) : num_parameters(n) {
  DUEL_CHECK(n > 0, "PReLU: num_parameters must be positive, got ", n);
  weight = register_parameter("weight", full({n}, init));
}
Tensor PReLU::forward(const Tensor& x) { return prelu(x, weight); }
std::string PReLU::extra_repr() const { return "num_parameters=" + std::to_string(num_parameters); }

Tensor ELU::forward(const Tensor& x) { return elu(x, alpha); }
std::string ELU::extra_repr() const { return "alpha=" + fmt(alpha); }

Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }

Tensor Softplus::forward(const Tensor& x) { return softplus(x, beta, threshold); }
std::string Softplus::extra_repr() const { return "beta=" + fmt(beta) + ", threshold=" + fmt(threshold); }

Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim); }
Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim); }

}  // namespace duel::nn
