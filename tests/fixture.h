// Test helpers: the PyTorch reference fixtures (tests/fixtures/*.txt, written
// by tests/fixtures/make_fixtures.py) and comparisons of duel tensors with
// independently computed values.
//
// A fixture case holds inputs, the reference outputs, a weight w per floating
// output, and the reference gradient of loss = sum_k sum(out_k * w_k) with
// respect to each floating input. run_fixture_family() checks every case of
// a file against a table of duel calls:
//   * forward and backward in float64 with contiguous leaves,
//   * the same with non-contiguous leaves (transposed / strided storage),
//   * forward and backward in float32 (looser tolerance),
//   * gradcheck (float64 finite differences) with contiguous and
//     non-contiguous leaves, unless the case is flagged `nogradcheck`
//     (inputs placed on kinks or ties on purpose).
// Other flags: `nof32` skips the float32 sweep, `nogradgrad` skips
// gradgradcheck, `contiguous_only` skips the non-contiguous sweeps (view()).
#pragma once
#include <cstdlib>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "duel.h"

namespace duel::test {

struct FxTensor {
  std::string name;
  DType dtype = kFloat64;
  Shape shape;
  std::vector<double> values;
  // A fresh tensor with these values; floating data converted to `float_dtype`.
  // noncontig: same values, but stored with non-contiguous strides (a leaf).
  Tensor make(DType float_dtype = kFloat64, bool noncontig = false) const;
};

struct FxCase {
  std::string file;
  std::string name;
  std::set<std::string> flags;
  std::vector<FxTensor> inputs, outputs, weights, grads;
  bool has_flag(const std::string& f) const { return flags.count(f) > 0; }
  const FxTensor& input(const std::string& n) const;
  const FxTensor* weight_for(const std::string& output) const;
  const FxTensor* grad_for(const std::string& input) const;
};

// Parses tests/fixtures/<file> (cached). Fails the test when the file is missing or malformed.
const std::vector<FxCase>& load_fixtures(const std::string& file);
const FxCase& find_case(const std::string& file, const std::string& name);

// The duel call of a case: inputs in fixture order -> outputs in fixture order.
using FxFn = std::function<TensorList(const TensorList&)>;
using FxTable = std::map<std::string, FxFn>;

struct FxOptions {
  DType dtype = kFloat64;  // floating inputs are converted to this
  bool noncontig = false;  // leaves with non-contiguous strides
  double rtol = 1e-10, atol = 1e-12;
};

// Forward outputs (shape, dtype, values) and backward gradients against the fixture.
void check_case(const FxCase& c, const FxFn& f, const FxOptions& opts);
// gradcheck on the case's inputs (float64); gradgrad also runs gradgradcheck.
void gradcheck_case(const FxCase& c, const FxFn& f, bool noncontig, bool gradgrad);
// All sweeps for every case of `file`; also checks that the table and the file list the same cases.
// gradgrad_cases: cases that also get gradgradcheck ("*" = every case that gets gradcheck).
void run_fixture_family(const std::string& file, const FxTable& table, const std::set<std::string>& gradgrad_cases);

// ---- comparisons with independent references ----
// Element-wise |a - e| <= atol + rtol * |e| (NaN matches NaN, inf matches inf); shape must match.
// Reports the first mismatches through Catch (CHECK), labelled with `what`.
void check_values(const Tensor& actual, const std::vector<double>& expected, const Shape& shape, double rtol,
                  double atol, const std::string& what);
void check_close(const Tensor& actual, const Tensor& expected, double rtol = 1e-12, double atol = 1e-12,
                 const std::string& what = "");
std::vector<double> values_of(const Tensor& t);  // row-major doubles

// A leaf with t's values stored non-contiguously (transposed storage for >= 2 dims, stride 2 for 1 dim).
Tensor noncontiguous_copy(const Tensor& t);
// Deterministic float64 values in [lo, hi) (a fixed formula, no RNG): for gradcheck inputs.
Tensor det_values(const Shape& shape, double lo = -1.0, double hi = 1.0, uint64_t salt = 0);

// Sets (or, with no value, unsets) an environment variable for a scope and puts back what
// was there before.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::string name) : name_(std::move(name)) {
    const char* old = std::getenv(name_.c_str());
    had_ = old != nullptr;
    if (had_) old_ = old;
  }
  ScopedEnv(std::string name, const std::string& value) : ScopedEnv(std::move(name)) {
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had_) ::setenv(name_.c_str(), old_.c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_, old_;
  bool had_ = false;
};

}  // namespace duel::test
