// Minimal downstream program built against an installed duel (see scripts/test.sh): the
// engine (duel::duel) and the zoo's registry (duel::zoo).
#include <duel/duel.h>
#include <duel/train/registry.h>

#include <iostream>

int main() {
  auto x = duel::randn({4, 3}, duel::DType::Float64).requires_grad_();
  auto y = (x * x).sum();
  y.backward();
  std::cout << x.grad() << "\n";
  std::cout << duel::train::models().size() << " models in the zoo\n";
  std::cout << "consumer ok\n";
  return 0;
}
