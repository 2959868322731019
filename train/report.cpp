#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <regex>
#include <sstream>

#include "tensor/error.h"
#include "tensor/serialize.h"
#include "train/options.h"
#include "train/run.h"

namespace duel::train {
namespace fs = std::filesystem;

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {  // 3 bytes -> 4 characters of 6 bits
    const uint32_t n = (uint8_t)bytes[i] << 16 | (uint8_t)bytes[i + 1] << 8 | (uint8_t)bytes[i + 2];
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += kAlphabet[n >> 6 & 63];
    out += kAlphabet[n & 63];
  }
  if (i < bytes.size()) {  // 1 or 2 bytes left: padded with '='
    const bool two = i + 1 < bytes.size();
    const uint32_t n = (uint8_t)bytes[i] << 16 | (two ? (uint8_t)bytes[i + 1] << 8 : 0);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += two ? kAlphabet[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

std::vector<std::string> split_words(const std::string& line) {
  std::istringstream in(line);
  return {std::istream_iterator<std::string>(in), std::istream_iterator<std::string>()};
}

std::string join(const std::vector<std::string>& words, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) out += (out.empty() ? "" : " ") + words[i];
  return out;
}

bool is_number(const std::string& word) {
  double v;
  return parse_finite_double(word, v);
}

}  // namespace

std::vector<EvalNumber> parse_eval_text(const std::string& text) {
  std::vector<EvalNumber> out;
  std::vector<std::string> header;  // the last line without a number: names the columns
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> words = split_words(line);
    // "key=value" and "key:value" written without spaces: split them
    for (size_t i = 0; i < words.size(); ++i) {
      const size_t sep = words[i].find_last_of(":=");
      if (sep != std::string::npos && sep > 0 && sep + 1 < words[i].size() && is_number(words[i].substr(sep + 1)) &&
          !is_number(words[i])) {
        const std::string value = words[i].substr(sep + 1);
        words[i].resize(sep + 1);
        words.insert(words.begin() + (long)i + 1, value);
      }
    }
    size_t first = 0;
    while (first < words.size() && !is_number(words[first])) ++first;
    if (first == words.size()) {
      if (!words.empty()) header = words;
      continue;
    }
    if (first == 0) continue;  // a number without a label
    size_t end = first + 1;
    while (end < words.size() && is_number(words[end])) ++end;

    EvalNumber n;
    n.key = join(words, 0, first);
    // a number inside a sentence ("run x (model wgan, step 250, 600 CPU seconds ...") has no label
    if (std::count(n.key.begin(), n.key.end(), '(') != std::count(n.key.begin(), n.key.end(), ')')) continue;
    // "FCD:", "FCD =" and "FCD=" name FCD; "log p(x) >=" keeps its ">="
    if (n.key.back() == ':') n.key.pop_back();
    else if (n.key.back() == '=' && (n.key.size() < 2 || !std::strchr("<>!=", n.key[n.key.size() - 2]))) n.key.pop_back();
    while (!n.key.empty() && n.key.back() == ' ') n.key.pop_back();
    if (n.key.empty()) continue;
    n.value = words[first];
    const size_t columns = end - first;
    for (size_t c = 1; c < columns; ++c) {
      // header "metric generated real" over "FCD 182.8 2.5": the second value is "real"
      const bool named = header.size() == columns + 1;
      n.more.push_back({named ? header[c + 1] : "#" + std::to_string(c + 1), words[first + c]});
    }
    // the same label twice ("modes 8 / modes 8 (real samples)"): the second says what it is
    const bool seen = std::any_of(out.begin(), out.end(), [&](const EvalNumber& e) { return e.key == n.key; });
    if (seen) {
      std::string rest = join(words, end, words.size());
      if (!rest.empty() && rest[0] == '(' && rest.find(')') != std::string::npos) rest = rest.substr(0, rest.find(')') + 1);
      n.key += rest.empty() ? " #" + std::to_string(out.size() + 1) : " " + rest;
    }
    out.push_back(std::move(n));
  }
  return out;
}

namespace {

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
const char* const kDash = "\u2013";  // a missing value
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct Series {
  std::string name;
  std::vector<double> steps, values;
};

// What the page shows of one run, read from its folder.
struct RunRecord {
  fs::path dir;
  std::string name, model, command, eval_text;
  std::vector<std::pair<std::string, std::string>> config;  // in the file's order, without "model"
  std::vector<Series> series;                               // in the order of first appearance
  double last_step = kNone;
  double cpu_seconds = kNone;
  std::string cpu_source;  // the file the CPU time came from
  std::vector<EvalNumber> eval;
  fs::path samples;        // empty when the run has no sample picture
  std::string samples_png;
};

bool read_file(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), {});
  return !in.bad();
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Axis labels: whole numbers in full (steps up to millions), others with 4 significant digits.
std::string fmt_number(double v) {
  if (v == std::round(v) && std::fabs(v) < 1e12) return fmt("%.0f", v);
  return fmt("%.4g", v);
}

// "runs/x/" as "runs/x", so that filename() and parent_path() name the folder and its parent.
fs::path folder_path(const fs::path& dir) {
  fs::path p = dir.lexically_normal();
  return p.filename().empty() ? p.parent_path() : p;
}

std::string run_name(const fs::path& dir) {
  std::string name = folder_path(dir).filename().string();
  if (name.empty() || name == "." || name == "..") name = fs::absolute(dir).lexically_normal().filename().string();
  return name;
}

void read_metrics_file(RunRecord& r, const fs::path& path) {
  std::ifstream in(path);
  DUEL_CHECK(in, "report: cannot read ", path.string());
  std::string line, error;
  MetricsLine m;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    DUEL_CHECK(parse_metrics_line(line, m, &error), "report: ", path.string(), " line ", number,
               ": not a metrics line (", error, "): ", line.size() > 120 ? line.substr(0, 120) + "..." : line);
    r.last_step = std::isnan(r.last_step) ? m.step : std::max(r.last_step, m.step);
    for (auto& [key, v] : m.values) {
      if (key == "cpu_seconds") {  // the loop's bookkeeping, not a curve: shown as CPU minutes
        r.cpu_seconds = v;
        r.cpu_source = path.filename().string();
        continue;
      }
      auto it = std::find_if(r.series.begin(), r.series.end(), [&, &key = key](const Series& s) { return s.name == key; });
      if (it == r.series.end()) it = r.series.insert(r.series.end(), Series{key, {}, {}});
      it->steps.push_back(m.step);
      it->values.push_back(v);
    }
  }
}

// The CPU time when metrics.jsonl does not log it: the checkpoint's metadata, the line of
// `duel eval` ("... 1234.5 CPU seconds of training"), or a note in command.txt ("63 CPU min").
void find_cpu_seconds(RunRecord& r) {
  if (!std::isnan(r.cpu_seconds)) return;
  double v;
  if (fs::exists(r.dir / "checkpoint.duel")) {
    try {
      auto meta = read_checkpoint_meta((r.dir / "checkpoint.duel").string());
      if (meta.count("cpu_seconds") && parse_finite_double(meta["cpu_seconds"], v)) {
        r.cpu_seconds = v;
        r.cpu_source = "checkpoint.duel";
        return;
      }
    } catch (const Error&) {
      // a checkpoint being replaced or damaged: the report is still useful without its CPU time
    }
  }
  std::smatch m;
  if (std::regex_search(r.eval_text, m, std::regex(R"(([0-9][0-9.]*) CPU seconds)")) && parse_finite_double(m[1], v)) {
    r.cpu_seconds = v;
    r.cpu_source = "eval.txt";
  } else if (std::regex_search(r.command, m, std::regex(R"(([0-9][0-9.]*) CPU min)")) &&
             parse_finite_double(m[1], v)) {
    r.cpu_seconds = 60 * v;
    r.cpu_source = "command.txt";
  }
}

RunRecord read_run(const fs::path& dir) {
  DUEL_CHECK(fs::exists(dir), "report: '", dir.string(), "' does not exist (expected a run folder such as runs/dcgan)");
  DUEL_CHECK(fs::is_directory(dir), "report: '", dir.string(),
             "' is not a folder (expected a run folder such as runs/dcgan, or a record such as docs/runs/NAME)");
  RunRecord r;
  r.dir = dir;
  r.name = run_name(dir);
  const bool has_config = fs::exists(dir / "config.txt"), has_metrics = fs::exists(dir / "metrics.jsonl");
  DUEL_CHECK(has_config || has_metrics, "report: '", dir.string(),
             "' holds neither config.txt nor metrics.jsonl: not a run folder (train one with `duel train`)");

  std::string text;
  if (has_config) {
    DUEL_CHECK(read_file(dir / "config.txt", text), "report: cannot read ", (dir / "config.txt").string());
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      const size_t eq = line.find(" = ");
      if (eq == std::string::npos) continue;
      const std::string key = line.substr(0, eq), value = line.substr(eq + 3);
      if (key == "model") r.model = value;
      else r.config.push_back({key, value});
    }
  }
  if (has_metrics) read_metrics_file(r, dir / "metrics.jsonl");
  if (read_file(dir / "command.txt", text)) r.command = text.substr(0, text.find_last_not_of("\n") + 1);
  if (read_file(dir / "eval.txt", r.eval_text)) r.eval = parse_eval_text(r.eval_text);
  find_cpu_seconds(r);

  // the sample grid: a training folder's samples_latest.png, or a record's docs/images/NAME.png
  for (const fs::path& p : {dir / "samples_latest.png", folder_path(dir).parent_path().parent_path() / "images" /
                                                             (r.name + ".png")}) {
    if (!fs::is_regular_file(p)) continue;
    DUEL_CHECK(read_file(p, r.samples_png), "report: cannot read ", p.string());
    DUEL_CHECK(r.samples_png.rfind("\x89PNG\r\n\x1a\n", 0) == 0, "report: ", p.string(),
               " is not a PNG file (no PNG signature)");
    r.samples = p;
    break;
  }
  return r;
}

// 1, 2 or 5 times a power of ten, about `count` of them over [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / magnitude;
  const double step = magnitude * (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10);
  std::vector<double> ticks;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return ticks;
}

// [lo, hi] of `values`, widened a little so that no curve lies on the frame.
std::pair<double, double> padded_range(double lo, double hi, double pad) {
  if (hi - lo <= 0) {
    const double half = std::max(std::fabs(lo) * 0.1, 1.0);
    return {lo - half, hi + half};
  }
  return {lo - (hi - lo) * pad, hi + (hi - lo) * pad};
}

// The series in groups of similar magnitude (largest |value| within a factor of 30), each
// drawn on its own axes: an FCD of 300 beside losses of 0.2 would flatten the losses.
std::vector<std::vector<size_t>> scale_groups(const std::vector<Series>& series) {
  std::vector<std::pair<double, size_t>> by_magnitude;
  for (size_t i = 0; i < series.size(); ++i) {
    double m = 1e-12;
    for (double v : series[i].values) m = std::max(m, std::fabs(v));
    by_magnitude.push_back({std::log10(m), i});
  }
  std::sort(by_magnitude.begin(), by_magnitude.end());
  std::vector<std::vector<size_t>> groups;
  double group_lo = 0;
  for (auto& [magnitude, i] : by_magnitude) {
    if (groups.empty() || magnitude - group_lo > std::log10(30.0)) {
      groups.push_back({});
      group_lo = magnitude;
    }
    groups.back().push_back(i);
  }
  for (auto& g : groups) std::sort(g.begin(), g.end());
  std::sort(groups.begin(), groups.end());  // the group of the first series first
  return groups;
}

// Every logged series over `step`, one polyline each, with tick labels and a legend; series of
// very different magnitudes on separate axes, one above the other, over the same steps.
std::string svg_plot(const std::vector<Series>& series) {
  const auto groups = scale_groups(series);
  const int width = 720, left = 64, right = 170, top = 10, axis_labels = 20, gap = 14, step_label = 16;
  const int plot_w = width - left - right, plot_h = groups.size() == 1 ? 240 : 150;
  const int panel_h = plot_h + axis_labels + gap;
  const int height = top + (int)groups.size() * panel_h - gap + step_label;
  double x_lo = INFINITY, x_hi = -INFINITY;
  for (const Series& s : series)
    for (double x : s.steps) x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
  std::tie(x_lo, x_hi) = padded_range(x_lo, x_hi, 0.0);
  auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * plot_w; };

  std::ostringstream o;
  o << "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << width << ' ' << height
    << "\" width=\"" << width << "\" height=\"" << height << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  for (size_t g = 0; g < groups.size(); ++g) {
    const int y0 = top + (int)g * panel_h;
    double y_lo = INFINITY, y_hi = -INFINITY;
    for (size_t i : groups[g])
      for (double y : series[i].values) y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    std::tie(y_lo, y_hi) = padded_range(y_lo, y_hi, 0.04);
    auto py = [&](double y) { return y0 + (y_hi - y) / (y_hi - y_lo) * plot_h; };

    o << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << plot_w << "\" height=\"" << plot_h
      << "\" fill=\"#fff\" stroke=\"#999\"/>\n";
    for (double t : nice_ticks(x_lo, x_hi, 6)) {
      const std::string x = fmt("%.1f", px(t));
      o << "<line x1=\"" << x << "\" x2=\"" << x << "\" y1=\"" << y0 << "\" y2=\"" << y0 + plot_h
        << "\" stroke=\"#eee\"/><text x=\"" << x << "\" y=\"" << y0 + plot_h + 14 << "\" text-anchor=\"middle\">"
        << fmt_number(t) << "</text>\n";
    }
    for (double t : nice_ticks(y_lo, y_hi, plot_h > 200 ? 6 : 4)) {
      const std::string y = fmt("%.1f", py(t));
      o << "<line x1=\"" << left << "\" x2=\"" << left + plot_w << "\" y1=\"" << y << "\" y2=\"" << y
        << "\" stroke=\"#eee\"/><text x=\"" << left - 5 << "\" y=\"" << y << "\" dy=\"0.35em\" text-anchor=\"end\">"
        << fmt_number(t) << "</text>\n";
    }
    for (size_t k = 0; k < groups[g].size(); ++k) {
      const size_t i = groups[g][k];
      const Series& s = series[i];
      const char* color = kColors[i % std::size(kColors)];
      // at most ~1000 points a curve keeps the page small for long runs; the last point stays
      const size_t n = s.steps.size(), stride = (n + 999) / 1000;
      o << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
      for (size_t p = 0; p < n; p += stride) o << fmt("%.1f", px(s.steps[p])) << ',' << fmt("%.1f", py(s.values[p])) << ' ';
      if ((n - 1) % stride) o << fmt("%.1f", px(s.steps[n - 1])) << ',' << fmt("%.1f", py(s.values[n - 1]));
      o << "\"><title>" << html_escape(s.name) << "</title></polyline>\n";
      if (n < 20)  // a sparse series (an evaluation every few thousand steps): its points marked
        for (size_t p = 0; p < n; ++p)
          o << "<circle cx=\"" << fmt("%.1f", px(s.steps[p])) << "\" cy=\"" << fmt("%.1f", py(s.values[p]))
            << "\" r=\"3\" fill=\"" << color << "\"/>";
      const int ly = y0 + 10 + 18 * (int)k;
      o << "<line x1=\"" << left + plot_w + 12 << "\" x2=\"" << left + plot_w + 32 << "\" y1=\"" << ly << "\" y2=\""
        << ly << "\" stroke=\"" << color << "\" stroke-width=\"2.5\"/><text x=\"" << left + plot_w + 38 << "\" y=\""
        << ly << "\" dy=\"0.35em\">" << html_escape(s.name) << "</text>\n";
    }
  }
  o << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << height - 3 << "\" text-anchor=\"middle\">step</text>\n";
  o << "</svg>";
  return o.str();
}

const char* const kStyle = R"(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1200px;
       padding: 0 16px; color: #222; background: #fafafa; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 2px; }
h3 { font-size: 13px; margin: 12px 0 4px; text-transform: uppercase; letter-spacing: .04em; color: #666; }
.sub, .path { color: #666; font-size: 13px; margin: 0 0 12px; }
.model { font-weight: normal; color: #fff; background: #4a6fa5; border-radius: 3px; padding: 1px 7px; font-size: 13px;
         vertical-align: 2px; margin-left: 6px; }
table { border-collapse: collapse; font-size: 13px; }
table.compare { width: 100%; background: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.12); margin-bottom: 28px; }
table.compare th { background: #eef1f5; text-align: left; vertical-align: bottom; }
table.compare th, table.compare td { padding: 6px 10px; border-bottom: 1px solid #e3e3e3; }
table.compare td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.compare tr:nth-child(even) td { background: #f7f8fa; }
.more { color: #888; font-size: 11px; margin-left: 4px; }
section.run { background: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.12); padding: 16px 20px; margin-bottom: 24px; }
.figures { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
figure { margin: 0; }
figure img { width: 300px; height: auto; display: block; border: 1px solid #ddd; }
figcaption { font-size: 12px; color: #666; margin-top: 4px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 36px; }
table.kv td { padding: 1px 14px 1px 0; vertical-align: top; }
table.kv td:first-child { color: #666; }
pre { background: #f4f4f4; padding: 8px 10px; font-size: 12px; overflow-x: auto; margin: 0; white-space: pre-wrap; }
.none { color: #999; font-style: italic; font-size: 13px; }
)";

std::string table_cell(const std::string& text, const std::string& title = "") {
  return "<td class=\"num\"" + (title.empty() ? "" : " title=\"" + html_escape(title) + "\"") + ">" +
         html_escape(text) + "</td>";
}

std::string comparison_table(const std::vector<RunRecord>& records) {
  std::vector<std::string> eval_keys;  // the union, in the order of first appearance
  bool any_fcd500 = false;
  for (const RunRecord& r : records) {
    for (const EvalNumber& e : r.eval)
      if (std::find(eval_keys.begin(), eval_keys.end(), e.key) == eval_keys.end()) eval_keys.push_back(e.key);
    for (const Series& s : r.series) any_fcd500 |= s.name == "fcd500";
  }
  std::ostringstream o;
  o << "<table class=\"compare\">\n<tr><th>run</th><th>model</th><th>steps reached</th><th>CPU minutes</th>";
  for (const std::string& k : eval_keys) o << "<th>" << html_escape(k) << "</th>";
  if (any_fcd500) o << "<th>fcd500 (last logged)</th>";
  o << "</tr>\n";
  for (size_t i = 0; i < records.size(); ++i) {
    const RunRecord& r = records[i];
    o << "<tr><td><a href=\"#run-" << i + 1 << "\">" << html_escape(r.name) << "</a></td><td>"
      << html_escape(r.model.empty() ? kDash : r.model) << "</td>";
    o << table_cell(std::isnan(r.last_step) ? kDash : fmt_number(r.last_step));
    o << table_cell(std::isnan(r.cpu_seconds) ? kDash : fmt("%.1f", r.cpu_seconds / 60),
                    r.cpu_source.empty() ? "" : "from " + r.cpu_source);
    for (const std::string& k : eval_keys) {
      auto e = std::find_if(r.eval.begin(), r.eval.end(), [&](const EvalNumber& n) { return n.key == k; });
      if (e == r.eval.end()) {
        o << table_cell(kDash);
        continue;
      }
      o << "<td class=\"num\">" << html_escape(e->value);
      for (auto& [name, value] : e->more) o << "<span class=\"more\">" << html_escape(name + " " + value) << "</span>";
      o << "</td>";
    }
    if (any_fcd500) {
      auto s = std::find_if(r.series.begin(), r.series.end(), [](const Series& s) { return s.name == "fcd500"; });
      o << (s == r.series.end() ? table_cell(kDash)
                                : table_cell(fmt("%.1f", s->values.back()), "step " + fmt_number(s->steps.back())));
    }
    o << "</tr>\n";
  }
  o << "</table>\n";
  return o.str();
}

std::string run_section(const RunRecord& r, size_t index) {
  std::ostringstream o;
  o << "<section class=\"run\" id=\"run-" << index + 1 << "\">\n<h2>" << html_escape(r.name);
  if (!r.model.empty()) o << "<span class=\"model\">" << html_escape(r.model) << "</span>";
  o << "</h2>\n<p class=\"path\">" << html_escape(r.dir.string()) << "</p>\n<div class=\"figures\">\n";
  if (!r.samples.empty())
    o << "<figure><img alt=\"samples of " << html_escape(r.name) << "\" src=\"data:image/png;base64,"
      << base64_encode(r.samples_png) << "\"><figcaption>samples: " << html_escape(r.samples.string())
      << "</figcaption></figure>\n";
  else o << "<p class=\"none\">no sample picture (samples_latest.png)</p>\n";
  if (!r.series.empty())
    o << "<figure>" << svg_plot(r.series) << "<figcaption>metrics.jsonl over step</figcaption></figure>\n";
  else o << "<p class=\"none\">no metrics logged</p>\n";
  o << "</div>\n<div class=\"facts\">\n";

  o << "<div><h3>options</h3>";
  if (r.config.empty()) o << "<p class=\"none\">no config.txt</p>";
  else {
    o << "<table class=\"kv\">";
    for (auto& [k, v] : r.config) o << "<tr><td>" << html_escape(k) << "</td><td>" << html_escape(v) << "</td></tr>";
    o << "</table>";
  }
  o << "</div>\n<div><h3>last logged values</h3>";
  if (r.series.empty() && std::isnan(r.cpu_seconds)) o << "<p class=\"none\">none</p>";
  else {
    o << "<table class=\"kv\">";
    for (const Series& s : r.series)
      o << "<tr><td>" << html_escape(s.name) << "</td><td>" << fmt("%.6g", s.values.back()) << "</td><td>step "
        << fmt_number(s.steps.back()) << "</td></tr>";
    if (!std::isnan(r.cpu_seconds))
      o << "<tr><td>cpu_seconds</td><td>" << fmt("%.1f", r.cpu_seconds) << "</td><td>from "
        << html_escape(r.cpu_source) << "</td></tr>";
    o << "</table>";
  }
  o << "</div>\n";
  if (!r.eval_text.empty()) o << "<div><h3>evaluation (eval.txt)</h3><pre>" << html_escape(r.eval_text) << "</pre></div>\n";
  o << "</div>\n";
  if (!r.command.empty()) o << "<h3>command</h3><pre>" << html_escape(r.command) << "</pre>\n";
  o << "</section>\n";
  return o.str();
}

}  // namespace

std::string render_report(const std::vector<fs::path>& runs) {
  std::vector<RunRecord> records;
  for (const fs::path& dir : runs) records.push_back(read_run(dir));
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>duel report: " << records.size()
    << (records.size() == 1 ? " run" : " runs") << "</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n";
  o << "<h1>duel report</h1>\n<p class=\"sub\">" << records.size() << (records.size() == 1 ? " run" : " runs")
    << ", written by <code>duel report</code>. Evaluation columns come from each run's eval.txt "
       "(<code>duel eval</code>); CPU minutes are the process CPU time of training.</p>\n";
  o << comparison_table(records);
  for (size_t i = 0; i < records.size(); ++i) o << run_section(records[i], i);
  o << "</body>\n</html>\n";
  return o.str();
}

void write_report(const std::vector<fs::path>& runs, const fs::path& out) {
  const std::string page = render_report(runs);
  write_file_atomic(out.string(), page.data(), page.size(), "report");
}

}  // namespace duel::train
