#include "nn/linear.h"

#include <cmath>

#include "nn/init.h"
#include "tensor/ops/linalg.h"

namespace duel::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator* gen) : in_features(in), out_features(out) {
  DUEL_CHECK(in > 0 && out > 0, "Linear: in_features and out_features must be positive, got ", in, " and ", out);
  weight = register_parameter("weight", empty({out, in}));
  if (with_bias) bias = register_parameter("bias", empty({out}));
  reset_parameters(gen);
}

void Linear::reset_parameters(Generator* gen) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, gen);
  if (bias.defined()) {
    double bound = 1.0 / std::sqrt((double)in_features);
    init::uniform_(bias, -bound, bound, gen);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False");
}

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
}

Tensor Reshape::forward(const Tensor& x) {
  DUEL_CHECK(x.dim() >= 1, "Reshape: expected an input with a batch dim, got a 0-d tensor");
  Shape s{x.size(0)};
  s.insert(s.end(), shape.begin(), shape.end());
  return x.reshape(s);
}

std::string Reshape::extra_repr() const { return "shape=" + shape_str(shape); }

}  // namespace duel::nn
