#include "train/run.h"

#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "data/image.h"

namespace duel::train {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
int64_t g_stop_after = -1;

void on_signal(int) { g_interrupted = 1; }

}  // namespace

std::string RunOptions::get(const std::string& key, const std::string& fallback) const {
  auto it = extra.find(key);
  return it == extra.end() ? fallback : it->second;
}

double RunOptions::get(const std::string& key, double fallback) const {
  auto it = extra.find(key);
  if (it == extra.end()) return fallback;
  try {
    return std::stod(it->second);
  } catch (...) {
    DUEL_FAIL("option --", key, ": expected a number, got '", it->second, "'");
  }
}

int64_t RunOptions::get_int(const std::string& key, int64_t fallback) const {
  auto it = extra.find(key);
  if (it == extra.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (...) {
    DUEL_FAIL("option --", key, ": expected an integer, got '", it->second, "'");
  }
}

Run::Run(RunOptions options) : opt_(std::move(options)) {
  if (opt_.out_dir.empty()) opt_.out_dir = "runs/" + opt_.model;
  std::error_code ec;
  std::filesystem::create_directories(opt_.out_dir, ec);
  DUEL_CHECK(!ec, "run: cannot create the output folder '", opt_.out_dir, "': ", ec.message());
  {
    std::ofstream cfg(path("config.txt"));
    cfg << "model = " << opt_.model << "\ndevice = " << opt_.device << "\nseed = " << opt_.seed
        << "\nsteps = " << opt_.steps << "\n";
    for (auto& [k, v] : opt_.extra) cfg << k << " = " << v << "\n";
  }
  bool fresh = !opt_.resume || !std::filesystem::exists(path("checkpoint.duel"));
  metrics_.open(path("metrics.jsonl"), fresh ? std::ios::trunc : std::ios::app);
  DUEL_CHECK(metrics_.good(), "run: cannot write ", path("metrics.jsonl"));
  g_interrupted = 0;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

Run::~Run() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

void Run::save_checkpoint(const Checkpointable& state, int64_t step, std::map<std::string, std::string> meta) {
  std::map<std::string, Tensor> tensors;
  for (auto& [name, m] : state.modules)
    for (auto& [k, t] : m->state_dict()) tensors[name + "." + k] = t;
  for (auto& [name, o] : state.optimizers)
    for (auto& [k, t] : o->state_dict()) tensors[name + "." + k] = t;
  for (auto& [name, g] : state.generators)
    tensors["rng." + name] = from_vector(std::vector<int64_t>{(int64_t)g->seed(), (int64_t)g->offset()}, {2},
                                         TensorOptions(kInt64));
  meta["model"] = opt_.model;
  meta["step"] = std::to_string(step);
  duel::save_checkpoint(path("checkpoint.duel"), tensors, meta);
}

int64_t Run::maybe_resume(const Checkpointable& state, std::map<std::string, std::string>* meta_out) {
  const std::string file = path("checkpoint.duel");
  if (!opt_.resume || !std::filesystem::exists(file)) return 0;
  Checkpoint ck = load_checkpoint(file);
  DUEL_CHECK(ck.meta_or("model") == opt_.model, "resume: ", file, " is a checkpoint of model '", ck.meta_or("model"),
             "', not '", opt_.model, "'; use another --out folder or --no-resume");
  auto subset = [&](const std::string& prefix) {
    nn::StateDict d;
    for (auto& [k, t] : ck.tensors)
      if (k.rfind(prefix + ".", 0) == 0) d[k.substr(prefix.size() + 1)] = t;
    return d;
  };
  for (auto& [name, m] : state.modules) m->load_state_dict(subset(name));
  for (auto& [name, o] : state.optimizers) o->load_state_dict(subset(name));
  for (auto& [name, g] : state.generators) {
    auto v = ck.get("rng." + name).to_vector<int64_t>();
    g->set_state((uint64_t)v[0], (uint64_t)v[1]);
  }
  if (meta_out) *meta_out = ck.meta;
  return std::stoll(ck.meta_or("step", "0"));
}

void Run::log_metrics(int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  metrics_ << "{\"step\": " << step;
  for (auto& [k, v] : values) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    metrics_ << ", \"" << k << "\": " << (std::isfinite(v) ? buf : "null");
  }
  metrics_ << "}\n";
  metrics_.flush();
}

std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> read_metrics(const std::string& path) {
  std::map<std::string, std::pair<std::vector<double>, std::vector<double>>> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    // minimal parser for the flat objects written above: "key": number
    double step = 0;
    std::vector<std::pair<std::string, double>> kv;
    size_t pos = 0;
    while ((pos = line.find('"', pos)) != std::string::npos) {
      size_t end = line.find('"', pos + 1);
      if (end == std::string::npos) break;
      std::string key = line.substr(pos + 1, end - pos - 1);
      size_t colon = line.find(':', end);
      if (colon == std::string::npos) break;
      size_t vstart = colon + 1;
      while (vstart < line.size() && line[vstart] == ' ') ++vstart;
      size_t vend = line.find_first_of(",}", vstart);
      std::string val = line.substr(vstart, vend - vstart);
      pos = vend;
      if (val == "null") continue;
      double v = std::strtod(val.c_str(), nullptr);
      if (key == "step") step = v;
      else kv.push_back({key, v});
    }
    for (auto& [k, v] : kv) {
      out[k].first.push_back(step);
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

bool Run::interrupted() { return g_interrupted != 0; }
void Run::set_stop_after(int64_t step) { g_stop_after = step; }
bool Run::should_stop(int64_t step) { return g_interrupted || (g_stop_after >= 0 && step >= g_stop_after); }

}  // namespace duel::train
