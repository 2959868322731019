// Random numbers drawn on the device (kernels/cuda/random.cu through tensor/random.cpp)
// against the CPU: rand/uniform/randn/normal/bernoulli, the in-place initialisers and
// dropout, for the same generator state, must give the same numbers on sim (bit for bit:
// the same expressions and libm) and advance the generator identically; on a GPU normal
// may differ by a few ulps (CUDA's log/sin/cos), so it is compared with a tolerance there.
#include <catch2/catch.hpp>

#include "tests/skip.h"

#include <functional>
#include <string>
#include <vector>

#include "duel.h"
#include "kernels/cuda/runtime.h"
#include "kernels/sim/runtime.h"
#include "tests/fixture.h"

namespace duel::test {
namespace {

struct Draw {
  std::string name;
  std::function<Tensor(const Shape&, TensorOptions, Generator*)> f;
};

std::vector<Draw> draws() {
  return {
      {"rand", [](const Shape& s, TensorOptions o, Generator* g) { return rand(s, o, g); }},
      {"uniform(-2, 3)", [](const Shape& s, TensorOptions o, Generator* g) { return uniform(s, -2.0, 3.0, o, g); }},
      {"randn", [](const Shape& s, TensorOptions o, Generator* g) { return randn(s, o, g); }},
      {"normal(0.5, 2)", [](const Shape& s, TensorOptions o, Generator* g) { return normal(s, 0.5, 2.0, o, g); }},
      {"bernoulli(0.3)", [](const Shape& s, TensorOptions o, Generator* g) { return bernoulli(s, 0.3, o, g); }},
  };
}

void check_device_draws(Device dev, double rtol_normal) {
  for (const Draw& d : draws()) {
    for (DType dt : {kFloat32, kFloat64}) {
      for (Shape shape : {Shape{1}, Shape{2}, Shape{3}, Shape{5}, Shape{33}, Shape{7, 143}}) {
        Generator gc(4242), gd(4242);
        gc.advance(9), gd.advance(9);  // a non-zero starting offset
        const std::string what = d.name + " " + dtype_name(dt) + " " + shape_str(shape) + " on " + dev.str();
        for (int rep = 0; rep < 2; ++rep) {  // two consecutive draws: the offsets must advance alike
          Tensor want = d.f(shape, TensorOptions(dt), &gc);
          Tensor got = d.f(shape, TensorOptions(dt, dev), &gd);
          CHECK(got.device() == dev);
          CHECK(got.dtype() == dt);
          CHECK(got.sizes() == shape);
          const bool normal = d.name.rfind("normal", 0) == 0 || d.name == "randn";
          const double rtol = normal ? rtol_normal : 0.0;
          check_close(got.to(kCPU), want, rtol, rtol, what + " draw " + std::to_string(rep));
          CHECK(gd.offset() == gc.offset());
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("parity: rand/randn/bernoulli on sim draw on the device, same stream as the cpu", "[parity][random]") {
  sim::Options o = sim::options();
  o.poison = true;  // an element the kernel forgets to write is NaN
  o.schedule_seed = 0xd1ce;
  sim::ScopedOptions scoped(o);
  check_device_draws(Device("sim"), 0.0);

  // the draw is one device kernel, not a CPU draw plus a copy
  sim::reset_stats();
  Tensor r = randn({1000}, TensorOptions(kFloat32, Device("sim")));
  CHECK(sim::stats().kernels_launched == 1);
  sim::reset_stats();
  Tensor b = bernoulli({1000}, 0.5, TensorOptions(kFloat64, Device("sim")));
  CHECK(sim::stats().kernels_launched == 1);
  const double ones_frac = b.sum().item() / 1000.0;
  CHECK(ones_frac > 0.4);
  CHECK(ones_frac < 0.6);

  // in-place initialisers and dropout (default generator)
  Tensor xs = zeros({4, 9}, TensorOptions(kFloat32, Device("sim"))), xc = zeros({4, 9}, TensorOptions(kFloat32));
  manual_seed(77);
  normal_(xc, 0.0, 0.1);
  uniform_(xc, -1.0, 1.0);
  Tensor dc = dropout(ones({6, 7}, TensorOptions(kFloat64)), 0.25, true);
  manual_seed(77);
  normal_(xs, 0.0, 0.1);
  uniform_(xs, -1.0, 1.0);
  Tensor ds = dropout(ones({6, 7}, TensorOptions(kFloat64, Device("sim"))), 0.25, true);
  check_close(xs.to(kCPU), xc, 0.0, 0.0, "normal_ then uniform_ on sim");
  check_close(ds.to(kCPU), dc, 0.0, 0.0, "dropout mask on sim");

  // non-floating dtypes still work (drawn on the cpu, converted)
  Generator g1(5), g2(5);
  CHECK(bernoulli({9}, 0.5, TensorOptions(kInt64, Device("sim")), &g1).to(kCPU).to_vector<double>() ==
        bernoulli({9}, 0.5, TensorOptions(kInt64), &g2).to_vector<double>());
}

TEST_CASE("parity: random draws on cuda match the cpu stream", "[parity][random]") {
  if (!cuda::is_available()) {
    SKIP_TEST("parity: no CUDA device, cuda random parity skipped (" << cuda::unavailable_reason() << ")");
  }
  check_device_draws(Device("cuda"), 1e-5);
}

}  // namespace duel::test
