#include "tests/fixture.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace duel::test {
namespace {

std::string fixture_dir() {
  namespace fs = std::filesystem;
  fs::path here = fs::path(__FILE__).parent_path() / "fixtures";
  if (fs::exists(here / "elementwise.txt")) return here.string();
  for (const char* p : {"tests/fixtures", "../tests/fixtures", "fixtures"})
    if (fs::exists(fs::path(p) / "elementwise.txt")) return p;
  return here.string();
}

DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "float32") return kFloat32;
  if (s == "float64") return kFloat64;
  if (s == "int64") return kInt64;
  if (s == "bool") return kBool;
  throw std::runtime_error(where + ": unknown dtype '" + s + "'");
}

Shape parse_shape(const std::string& s, const std::string& where) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') throw std::runtime_error(where + ": bad shape '" + s + "'");
  Shape out;
  std::string body = s.substr(1, s.size() - 2);
  std::stringstream ss(body);
  std::string tok;
  while (std::getline(ss, tok, ',')) out.push_back(std::stoll(tok));
  return out;
}

std::vector<double> parse_values(const std::string& line, int64_t expect, const std::string& where) {
  std::vector<double> v;
  std::istringstream ss(line);
  std::string tok;
  while (ss >> tok) {
    char* end = nullptr;
    double d = std::strtod(tok.c_str(), &end);
    if (end == tok.c_str()) throw std::runtime_error(where + ": bad value '" + tok + "'");
    v.push_back(d);
  }
  if ((int64_t)v.size() != expect)
    throw std::runtime_error(where + ": expected " + std::to_string(expect) + " values, got " + std::to_string(v.size()));
  return v;
}

std::vector<FxCase> parse_file(const std::string& file) {
  std::string path = fixture_dir() + "/" + file;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture file " + path + " (run tests/fixtures/make_fixtures.py)");
  std::vector<FxCase> cases;
  std::string line;
  int lineno = 0;
  FxCase* cur = nullptr;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::string where = file + ":" + std::to_string(lineno);
    std::istringstream ss(line);
    std::string kind;
    ss >> kind;
    if (kind == "case") {
      cases.emplace_back();
      cur = &cases.back();
      cur->file = file;
      ss >> cur->name;
      continue;
    }
    if (!cur) throw std::runtime_error(where + ": entry outside a case");
    if (kind == "end") {
      cur = nullptr;
      continue;
    }
    if (kind == "flags") {
      std::string f;
      while (ss >> f) cur->flags.insert(f);
      continue;
    }
    FxTensor t;
    std::string dt = "float64", shp;
    ss >> t.name;
    if (kind == "input" || kind == "output") ss >> dt;
    ss >> shp;
    t.dtype = parse_dtype(dt, where);
    t.shape = parse_shape(shp, where);
    std::string values;
    if (!std::getline(in, values)) throw std::runtime_error(where + ": missing values line");
    ++lineno;
    t.values = parse_values(values, shape_numel(t.shape), where);
    if (kind == "input") cur->inputs.push_back(t);
    else if (kind == "output") cur->outputs.push_back(t);
    else if (kind == "weight") cur->weights.push_back(t);
    else if (kind == "grad") cur->grads.push_back(t);
    else throw std::runtime_error(where + ": unknown entry '" + kind + "'");
  }
  return cases;
}

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

}  // namespace

// ---------------------------------------------------------------- FxTensor / FxCase

Tensor FxTensor::make(DType float_dtype, bool noncontig) const {
  DType dt = dtype == kFloat64 ? float_dtype : dtype;
  Tensor t = from_vector(values, shape.empty() ? Shape{1} : shape, TensorOptions(dt));
  if (shape.empty()) t = t.reshape({});
  return noncontig ? noncontiguous_copy(t) : t;
}

const FxTensor& FxCase::input(const std::string& n) const {
  for (auto& t : inputs)
    if (t.name == n) return t;
  throw std::runtime_error("fixture case " + name + " has no input " + n);
}
const FxTensor* FxCase::weight_for(const std::string& output) const {
  for (auto& t : weights)
    if (t.name == output) return &t;
  return nullptr;
}
const FxTensor* FxCase::grad_for(const std::string& input) const {
  for (auto& t : grads)
    if (t.name == input) return &t;
  return nullptr;
}

const std::vector<FxCase>& load_fixtures(const std::string& file) {
  static std::map<std::string, std::vector<FxCase>> cache;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(file);
  if (it == cache.end()) it = cache.emplace(file, parse_file(file)).first;
  return it->second;
}

const FxCase& find_case(const std::string& file, const std::string& name) {
  for (auto& c : load_fixtures(file))
    if (c.name == name) return c;
  throw std::runtime_error("fixture " + file + " has no case " + name);
}

// ---------------------------------------------------------------- comparisons

std::vector<double> values_of(const Tensor& t) { return t.to_vector<double>(); }

void check_values(const Tensor& actual, const std::vector<double>& expected, const Shape& shape, double rtol,
                  double atol, const std::string& what) {
  INFO(what);
  if (!actual.defined()) {
    FAIL_CHECK("undefined tensor, expected shape " << shape_str(shape));
    return;
  }
  if (actual.sizes() != shape) {
    FAIL_CHECK("shape " << shape_str(actual.sizes()) << ", expected " << shape_str(shape));
    return;
  }
  std::vector<double> a = values_of(actual);
  int bad = 0;
  std::ostringstream report;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = a[i], e = expected[i];
    bool ok;
    if (std::isnan(e)) ok = std::isnan(x);
    else if (std::isinf(e)) ok = x == e;
    else ok = std::abs(x - e) <= atol + rtol * std::abs(e);
    if (!ok && bad++ < 6) report << "  [" << i << "] got " << fmt(x) << ", expected " << fmt(e) << "\n";
  }
  if (bad) FAIL_CHECK(bad << " of " << a.size() << " values differ (rtol " << rtol << ", atol " << atol << "):\n"
                          << report.str());
}

void check_close(const Tensor& actual, const Tensor& expected, double rtol, double atol, const std::string& what) {
  check_values(actual, values_of(expected), expected.sizes(), rtol, atol, what);
}

Tensor noncontiguous_copy(const Tensor& t) {
  NoGradGuard ng;
  if (t.dim() == 0 || t.numel() == 0) return t.detach().clone().detach();
  // storage laid out with the dims reversed and the last dim doubled, viewed back with a step of 2
  const int64_t n = t.dim();
  Shape rev(t.sizes().rbegin(), t.sizes().rend());
  rev[0] *= 2;
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = n - 1 - i;
  Tensor base = zeros(rev, TensorOptions(t.dtype()));
  Tensor v = base.permute(perm).slice(n - 1, 0, 2 * t.size(-1), 2).detach();
  v.copy_(t);
  return v;
}

Tensor det_values(const Shape& shape, double lo, double hi, uint64_t salt) {
  int64_t n = shape_numel(shape);
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) {
    double s = std::sin((double)(i + 1) * 12.9898 + (double)salt * 78.233) * 43758.5453;
    double frac = s - std::floor(s);
    v[i] = std::round((lo + (hi - lo) * frac) * 1000) / 1000;
  }
  Tensor t = from_vector(v, shape.empty() ? Shape{1} : shape, TensorOptions(kFloat64));
  return shape.empty() ? t.reshape({}).clone().detach() : t;
}

// ---------------------------------------------------------------- running cases

void check_case(const FxCase& c, const FxFn& f, const FxOptions& opts) {
  std::string tag = c.file + " case '" + c.name + "' (" + dtype_name(opts.dtype) +
                    (opts.noncontig ? ", non-contiguous leaves)" : ", contiguous leaves)");
  INFO(tag);
  TensorList ins;
  for (auto& in : c.inputs) {
    Tensor t = in.make(opts.dtype, opts.noncontig);
    if (c.grad_for(in.name)) t.requires_grad_();
    ins.push_back(t);
  }
  TensorList outs;
  try {
    outs = f(ins);
  } catch (const std::exception& e) {
    FAIL_CHECK("forward threw: " << e.what());
    return;
  }
  if (outs.size() != c.outputs.size()) {
    FAIL_CHECK("got " << outs.size() << " outputs, fixture has " << c.outputs.size());
    return;
  }
  Tensor loss;
  for (size_t k = 0; k < outs.size(); ++k) {
    const FxTensor& e = c.outputs[k];
    DType want = e.dtype == kFloat64 ? opts.dtype : e.dtype;
    INFO("output " << e.name);
    CHECK(std::string(dtype_name(outs[k].dtype())) == dtype_name(want));
    check_values(outs[k], e.values, e.shape, opts.rtol, opts.atol, "forward output " + e.name);
    const FxTensor* w = c.weight_for(e.name);
    if (w && outs[k].defined() && outs[k].requires_grad()) {
      Tensor term = (outs[k] * w->make(outs[k].dtype())).sum();
      loss = loss.defined() ? loss + term : term;
    }
  }
  bool any_grad = false;
  for (auto& in : c.inputs) any_grad |= c.grad_for(in.name) != nullptr;
  if (!any_grad) return;
  if (loss.defined()) {
    try {
      loss.backward();
    } catch (const std::exception& e) {
      FAIL_CHECK("backward threw: " << e.what());
      return;
    }
  }
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const FxTensor* g = c.grad_for(c.inputs[i].name);
    if (!g) continue;
    Tensor got = ins[i].grad();
    if (!got.defined()) got = zeros(ins[i].sizes(), TensorOptions(ins[i].dtype()));
    INFO("gradient of input " << g->name);
    CHECK(std::string(dtype_name(got.dtype())) == dtype_name(ins[i].dtype()));
    check_values(got, g->values, g->shape, opts.rtol, opts.atol, "gradient " + g->name);
  }
}

namespace {
// The case's floating outputs as one tensor (flattened and concatenated when there are several).
Tensor joined_outputs(const TensorList& outs) {
  TensorList fl;
  for (auto& o : outs)
    if (o.defined() && is_floating(o.dtype())) fl.push_back(o);
  if (fl.size() == 1) return fl[0];
  TensorList parts;
  for (auto& o : fl) parts.push_back(o.reshape({-1}));
  return cat(parts, 0);
}
}  // namespace

void gradcheck_case(const FxCase& c, const FxFn& f, bool noncontig, bool gradgrad) {
  std::string tag = c.file + " case '" + c.name + "' gradcheck" + (gradgrad ? "+gradgradcheck" : "") +
                    (noncontig ? " (non-contiguous leaves)" : " (contiguous leaves)");
  INFO(tag);
  TensorList ins;
  bool any = false;
  for (auto& in : c.inputs) {
    Tensor t = in.make(kFloat64, noncontig);
    if (c.grad_for(in.name)) {
      t.requires_grad_();
      any = true;
    }
    ins.push_back(t);
  }
  if (!any) return;
  bool has_float_out = false;
  for (auto& o : c.outputs) has_float_out |= is_floating(o.dtype);
  if (!has_float_out) return;
  TensorFunction fn = [&f](const TensorList& x) { return joined_outputs(f(x)); };
  try {
    CHECK(gradcheck(fn, ins));
    if (gradgrad) CHECK(gradgradcheck(fn, ins));
  } catch (const std::exception& e) {
    FAIL_CHECK(e.what());
  }
}

void run_fixture_family(const std::string& file, const FxTable& table, const std::set<std::string>& gradgrad_cases) {
  const auto& cases = load_fixtures(file);
  REQUIRE(!cases.empty());
  std::set<std::string> in_file;
  for (auto& c : cases) {
    in_file.insert(c.name);
    INFO("fixture case '" << c.name << "' of " << file << " has no duel call in the test table");
    CHECK(table.count(c.name) == 1);
  }
  for (auto& [name, fn] : table) {
    INFO("test table case '" << name << "' is missing from " << file << " (rerun make_fixtures.py)");
    CHECK(in_file.count(name) == 1);
  }
  for (auto& name : gradgrad_cases) {
    INFO("gradgrad case '" << name << "' is not in " << file);
    CHECK((name == "*" || in_file.count(name) == 1));
  }
  bool all_gg = gradgrad_cases.count("*") > 0;
  for (auto& c : cases) {
    auto it = table.find(c.name);
    if (it == table.end()) continue;
    const FxFn& f = it->second;
    check_case(c, f, FxOptions{kFloat64, false, 1e-10, 1e-12});
    bool nc = !c.has_flag("contiguous_only");
    if (nc) check_case(c, f, FxOptions{kFloat64, true, 1e-10, 1e-12});
    if (!c.has_flag("nof32")) check_case(c, f, FxOptions{kFloat32, false, 2e-5, 2e-5});
    if (!c.has_flag("nogradcheck")) {
      bool gg = (all_gg || gradgrad_cases.count(c.name)) && !c.has_flag("nogradgrad");
      gradcheck_case(c, f, false, gg);
      if (nc) gradcheck_case(c, f, true, false);
    }
  }
}

}  // namespace duel::test
