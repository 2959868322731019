#include "train/run.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "data/image.h"
#include "train/options.h"

namespace duel::train {
namespace fs = std::filesystem;
namespace {

volatile std::sig_atomic_t g_signal = 0;
int64_t g_stop_after = -1;

void on_signal(int sig) { g_signal = sig; }

// The step of a metrics.jsonl line `{"step": N, ...}`, or -1 when the line is torn.
int64_t metrics_line_step(const std::string& line) {
  if (line.empty() || line.back() != '}') return -1;
  const std::string key = "{\"step\": ";
  if (line.rfind(key, 0) != 0) return -1;
  size_t end = line.find_first_of(",}", key.size());
  int64_t step = -1;
  if (end == std::string::npos || !parse_int64(line.substr(key.size(), end - key.size()), step)) return -1;
  return step;
}

}  // namespace

Run::Run(RunOptions options) : opt_(std::move(options)) {
  if (opt_.out_dir.empty()) opt_.out_dir = "runs/" + opt_.model;
}

Run::~Run() {
  if (handlers_) {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

bool Run::has_checkpoint() const { return fs::exists(path("checkpoint.duel")); }

void Run::open_for_training(const std::string& config, int64_t resumed_step) {
  std::error_code ec;
  fs::create_directories(opt_.out_dir, ec);
  DUEL_CHECK(!ec, "run: cannot create the output folder '", opt_.out_dir, "': ", ec.message());
  if (lock_fd_ < 0) {
    lock_fd_ = ::open(path("run.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    DUEL_CHECK(lock_fd_ >= 0, "run: cannot create '", path("run.lock"), "': ", std::strerror(errno));
    if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(lock_fd_);
      lock_fd_ = -1;
      DUEL_FAIL("run: another `duel train` is using '", opt_.out_dir,
                "' (run.lock is held); wait for it to finish or use another --out");
    }
  }
  // temporary files of writers that were killed mid-write (checkpoint, config, metrics, PNGs)
  for (auto& e : fs::directory_iterator(opt_.out_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) fs::remove(e.path(), ec);
  }
  config_text = config;
  const std::string config_file = "model = " + opt_.model + "\n" + config;
  write_file_atomic(path("config.txt"), config_file.data(), config_file.size(), "run");

  // metrics.jsonl: keep the lines up to the resumed step (the steps after it run again)
  std::string kept;
  if (resumed_step > 0) {
    std::ifstream in(path("metrics.jsonl"));
    for (std::string line; std::getline(in, line);) {
      int64_t s = metrics_line_step(line);
      if (s >= 0 && s <= resumed_step) kept += line + "\n";
    }
  }
  write_file_atomic(path("metrics.jsonl"), kept.data(), kept.size(), "run");
  metrics_.open(path("metrics.jsonl"), std::ios::app);
  DUEL_CHECK(metrics_.good(), "run: cannot write ", path("metrics.jsonl"));

  install_signal_handlers();
}

void Run::install_signal_handlers() {
  g_signal = 0;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  handlers_ = true;
}

void Run::save_checkpoint(const Checkpointable& state, int64_t step, std::map<std::string, std::string> meta) {
  std::map<std::string, Tensor> tensors;
  auto put = [&](const std::string& key, const Tensor& t) {
    DUEL_CHECK(!tensors.count(key), "checkpoint: two entries are named '", key, "'");
    tensors[key] = t;
  };
  for (auto& [name, m] : state.modules)
    for (auto& [k, t] : m->state_dict()) put(name + "." + k, t);
  for (auto& [name, o] : state.optimizers)
    for (auto& [k, t] : o->state_dict()) put(name + "." + k, t);
  for (auto& [name, g] : state.generators) {
    const int64_t v[2] = {(int64_t)g->seed(), (int64_t)g->offset()};
    put("rng." + name, from_buffer(v, {2}, kInt64));
  }
  for (auto& [name, i] : state.integers) put("int." + name, from_buffer(i.value, {1}, kInt64));
  for (auto& [name, r] : state.reals) put("real." + name, from_buffer(r, {1}, kFloat64));
  for (auto& [name, g] : state.groups)
    for (auto& [k, t] : g.save()) put(name + "." + k, t);
  for (auto& [name, s] : state.texts) meta["text." + name] = *s;
  meta["model"] = opt_.model;
  meta["step"] = std::to_string(step);
  meta["options"] = config_text;
  duel::save_checkpoint(path("checkpoint.duel"), tensors, meta);
}

namespace {

nn::StateDict subset(const Checkpoint& ck, const std::string& prefix) {
  nn::StateDict d;
  for (auto& [k, t] : ck.tensors)
    if (k.rfind(prefix + ".", 0) == 0) d[k.substr(prefix.size() + 1)] = t;
  return d;
}

const Tensor& scalar_entry(const Checkpoint& ck, const std::string& key, DType dtype, int64_t numel) {
  const Tensor& t = ck.get(key);  // throws naming the file when missing
  DUEL_CHECK(t.dtype() == dtype && t.dim() == 1 && t.numel() == numel, "checkpoint ", ck.path, ": '", key,
             "' should be ", dtype_name(dtype), " [", numel, "], is ", dtype_name(t.dtype()), " ",
             shape_str(t.sizes()));
  return t;
}

Checkpoint load_own_checkpoint(const Run& run) {
  const std::string file = run.path("checkpoint.duel");
  Checkpoint ck = load_checkpoint(file);
  DUEL_CHECK(ck.meta_or("model") == run.options().model, "resume: ", file, " is a checkpoint of model '",
             ck.meta_or("model"), "', not '", run.options().model, "'; use another --out folder or --no-resume");
  return ck;
}

}  // namespace

int64_t Run::load_checkpoint_into(const Checkpointable& state, std::map<std::string, std::string>* meta_out) const {
  Checkpoint ck = load_own_checkpoint(*this);
  int64_t step = -1;
  DUEL_CHECK(parse_int64(ck.meta_or("step"), step) && step >= 0, "checkpoint ", ck.path, ": invalid step '",
             ck.meta_or("step"), "' (expected an integer >= 0)");
  // validate the plain fields before changing anything
  for (auto& [name, g] : state.generators) scalar_entry(ck, "rng." + name, kInt64, 2);
  for (auto& [name, i] : state.integers) {
    int64_t v = scalar_entry(ck, "int." + name, kInt64, 1).to_vector<int64_t>()[0];
    DUEL_CHECK(v >= i.lo && v <= i.hi, "checkpoint ", ck.path, ": '", name, "' is ", v, ", outside [", i.lo, ", ",
               i.hi, "]");
  }
  for (auto& [name, r] : state.reals) scalar_entry(ck, "real." + name, kFloat64, 1);
  for (auto& [name, s] : state.texts)
    DUEL_CHECK(ck.meta.count("text." + name), "checkpoint ", ck.path, ": no '", name, "' in its metadata");

  for (auto& [name, m] : state.modules) m->load_state_dict(subset(ck, name));
  for (auto& [name, o] : state.optimizers) o->load_state_dict(subset(ck, name));
  for (auto& [name, g] : state.generators) {
    auto v = ck.get("rng." + name).to_vector<int64_t>();
    g->set_state((uint64_t)v[0], (uint64_t)v[1]);
  }
  for (auto& [name, i] : state.integers) *i.value = ck.get("int." + name).to_vector<int64_t>()[0];
  for (auto& [name, r] : state.reals) *r = ck.get("real." + name).to_vector<double>()[0];
  for (auto& [name, s] : state.texts) *s = ck.meta.at("text." + name);
  for (auto& [name, g] : state.groups) g.load(subset(ck, name));
  if (meta_out) *meta_out = ck.meta;
  return step;
}

void Run::load_modules(const Checkpointable& state) const {
  Checkpoint ck = load_own_checkpoint(*this);
  for (auto& [name, m] : state.modules) {
    nn::StateDict d = subset(ck, name);
    DUEL_CHECK(!d.empty(), "checkpoint ", ck.path, " holds no module '", name, "'");
    m->load_state_dict(d);
  }
}

void Run::log_metrics(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  if (!metrics_.is_open()) return;  // not opened for training (sampling, evaluation)
  std::string line = "{\"step\": " + std::to_string(step);
  for (auto& [k, v] : values) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    line += ", \"" + k + "\": " + (std::isfinite(v) ? buf : "null");
  }
  line += "}\n";
  metrics_ << line;  // one write per line
  metrics_.flush();
  // a full disk or a lost file system: stop the run (its last checkpoint is intact) rather than
  // train on with a record that silently ends here
  DUEL_CHECK(metrics_.good(), "run: writing ", path("metrics.jsonl"), " failed at step ", step, " (",
             std::strerror(errno), "); the run's last checkpoint is kept");
}

bool parse_metrics_line(const std::string& line, MetricsLine& out, std::string* error) {
  auto fail = [&](size_t at, const std::string& what) {
    if (error) *error = "column " + std::to_string(at + 1) + ": " + what;
    return false;
  };
  out = MetricsLine{};
  bool has_step = false;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
  };
  skip_space();
  if (i == line.size() || line[i] != '{') return fail(i, "expected '{'");
  ++i;
  skip_space();
  if (i < line.size() && line[i] == '}') return fail(i, "an empty object (no \"step\")");
  while (true) {
    skip_space();
    if (i == line.size() || line[i] != '"') return fail(i, "expected a quoted key");
    size_t key_end = line.find('"', i + 1);
    if (key_end == std::string::npos) return fail(i, "unterminated key");
    const std::string key = line.substr(i + 1, key_end - i - 1);
    i = key_end + 1;
    skip_space();
    if (i == line.size() || line[i] != ':') return fail(i, "expected ':' after \"" + key + "\"");
    ++i;
    skip_space();
    const size_t value_start = i;
    while (i < line.size() && line[i] != ',' && line[i] != '}' && line[i] != ' ') ++i;
    const std::string text = line.substr(value_start, i - value_start);
    double v = 0;
    if (text == "null") {
      if (key == "step") return fail(value_start, "\"step\" is null");
    } else if (!parse_finite_double(text, v)) {
      return fail(value_start, "\"" + key + "\" should be a number or null, got '" + text + "'");
    } else if (key == "step") {
      out.step = v;
      has_step = true;
    } else {
      out.values.push_back({key, v});
    }
    skip_space();
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] == '}') break;
    return fail(i, "expected ',' or '}' (a torn line?)");
  }
  ++i;
  skip_space();
  if (i != line.size()) return fail(i, "text after the closing '}'");
  if (!has_step) return fail(0, "no \"step\"");
  return true;
}

std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> read_metrics(const std::string& path) {
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> out;
  std::ifstream in(path);
  std::string line;
  MetricsLine m;
  while (std::getline(in, line)) {
    if (!parse_metrics_line(line, m)) continue;  // a torn line
    for (auto& [k, v] : m.values) {
      out[k].first.push_back(m.step);
      out[k].second.push_back(v);
    }
  }
  return out;
}

void Run::plot_metrics(const std::vector<std::string>& names, const std::string& file, const std::string& title) const {
  auto m = read_metrics(path("metrics.jsonl"));
  std::vector<Series> series;
  for (auto& n : names)
    if (m.count(n)) series.push_back(Series{n, m[n].second, m[n].first});
  if (series.empty()) return;
  PlotOptions po;
  po.title = title.empty() ? opt_.model + " training" : title;
  po.x_label = "step";
  plot_curves(path(file), series, po);
}

bool Run::interrupted() { return g_signal != 0; }
int Run::interrupt_signal() { return (int)g_signal; }
void Run::set_stop_after(int64_t step) { g_stop_after = step; }
bool Run::should_stop(int64_t step) { return g_signal || (g_stop_after >= 0 && step >= g_stop_after); }

}  // namespace duel::train
