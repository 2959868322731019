// Finite-difference checks of gradients (public: users adding ops need them too).
//
// gradcheck compares the Jacobian computed by backward with central finite
// differences, element by element, in float64. gradgradcheck does the same
// for the gradient itself (as a function of the inputs and of the incoming
// gradient), which verifies second derivatives: the WGAN-GP penalty needs them.
// gradgradcheck first checks that the first derivative computed under create_graph equals
// the one computed without (which gradcheck checked): ops with a fused first-order backward
// write their differentiable backward separately, and it must be the same function.
#pragma once
#include <functional>
#include <string>

#include "autograd/node.h"

namespace duel {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  bool raise = true;  // throw with a report on mismatch (otherwise return false)
  uint64_t seed = 1234;  // for gradgradcheck's random incoming gradients
};

using TensorFunction = std::function<Tensor(const TensorList& inputs)>;

// Checks every input that requires grad (which must be float64).
bool gradcheck(const TensorFunction& f, const TensorList& inputs, const GradcheckOptions& opts = {});
bool gradgradcheck(const TensorFunction& f, const TensorList& inputs, const GradcheckOptions& opts = {});

}  // namespace duel
