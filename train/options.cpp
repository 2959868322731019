#include "train/options.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "tensor/error.h"

namespace duel::train {

// ------------------------------------------------------------------ strict number parsing

bool parse_int64(const std::string& s, int64_t& out) {
  if (s.empty() || std::isspace((unsigned char)s[0])) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno == ERANGE || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

bool parse_uint64(const std::string& s, uint64_t& out) {
  if (s.empty() || !std::isdigit((unsigned char)s[0])) return false;  // no sign, no space
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno == ERANGE || end != s.c_str() + s.size()) return false;
  out = v;
  return true;
}

bool parse_finite_double(const std::string& s, double& out) {
  if (s.empty() || std::isspace((unsigned char)s[0])) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v) || errno == ERANGE) return false;
  out = v;
  return true;
}

namespace {

// The shortest text that reads back as the same double: plain decimals where they are short
// ("0.99", "10", "0.0002", "1000000"), else scientific ("1e-08", "1.5e+20").
std::string format_real(double v) {
  char fixed[400], general[64];
  auto f = std::to_chars(fixed, fixed + sizeof fixed, v, std::chars_format::fixed);
  auto g = std::to_chars(general, general + sizeof general, v);
  if (f.ec == std::errc() && f.ptr - fixed <= 10) return std::string(fixed, f.ptr);
  return std::string(general, g.ptr);
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] != b[j - 1])});
      prev = cur;
    }
  }
  return row[b.size()];
}

std::string prefix(const std::string& context) { return context.empty() ? "" : context + ": "; }

}  // namespace

// ------------------------------------------------------------------ Option

Option Option::integer(std::string name, std::string symbol, int64_t fallback, int64_t lo, int64_t hi,
                       std::string help) {
  Option o;
  o.name = std::move(name);
  o.symbol = std::move(symbol);
  o.type = OptionType::kInt;
  o.fallback = std::to_string(fallback);
  o.int_lo = lo;
  o.int_hi = hi;
  o.help = std::move(help);
  return o;
}

Option Option::real(std::string name, std::string symbol, double fallback, double lo, double hi, std::string help,
                    bool open_low) {
  Option o;
  o.name = std::move(name);
  o.symbol = std::move(symbol);
  o.type = OptionType::kReal;
  o.fallback = format_real(fallback);
  o.lo = lo;
  o.hi = hi;
  o.open_low = open_low;
  o.help = std::move(help);
  return o;
}

Option Option::boolean(std::string name, std::string symbol, bool fallback, std::string help) {
  Option o;
  o.name = std::move(name);
  o.symbol = std::move(symbol);
  o.type = OptionType::kBool;
  o.fallback = fallback ? "1" : "0";
  o.help = std::move(help);
  return o;
}

Option Option::flag(std::string name, std::string help) {
  Option o;
  o.name = std::move(name);
  o.type = OptionType::kSwitch;
  o.fallback = "0";
  o.help = std::move(help);
  return o;
}

Option Option::choice(std::string name, std::string symbol, std::string fallback, std::vector<std::string> choices,
                      std::string help) {
  Option o;
  o.name = std::move(name);
  o.symbol = std::move(symbol);
  o.type = OptionType::kChoice;
  o.fallback = std::move(fallback);
  o.choices = std::move(choices);
  o.help = std::move(help);
  return o;
}

Option Option::text(std::string name, std::string symbol, std::string fallback, std::string help) {
  Option o;
  o.name = std::move(name);
  o.symbol = std::move(symbol);
  o.type = OptionType::kText;
  o.fallback = std::move(fallback);
  o.help = std::move(help);
  return o;
}

std::string Option::expected() const {
  auto bound = [](int64_t v, bool low) -> std::string {
    if (low && v == std::numeric_limits<int64_t>::min()) return "-inf";
    if (!low && v == std::numeric_limits<int64_t>::max()) return "inf";
    return std::to_string(v);
  };
  switch (type) {
    case OptionType::kInt:
      if (int_hi == std::numeric_limits<int64_t>::max()) return "an integer >= " + bound(int_lo, true);
      return "an integer in [" + bound(int_lo, true) + ", " + bound(int_hi, false) + "]";
    case OptionType::kReal:
      return std::string("a finite number in ") + (open_low ? "(" : "[") + format_real(lo) + ", " + format_real(hi) +
             "]";
    case OptionType::kBool:
      return "0, 1, true or false";
    case OptionType::kSwitch:
      return "no value";
    case OptionType::kChoice:
      return "one of " + join(choices, ", ");
    case OptionType::kText:
      return "one line of text";
  }
  return "";
}

std::string Option::validate(const std::string& value) const {
  auto bad = [&]() -> std::string {
    DUEL_FAIL("--", name, " expects ", expected(), ", got '", value, "'");
  };
  switch (type) {
    case OptionType::kInt: {
      int64_t v;
      if (!parse_int64(value, v) || v < int_lo || v > int_hi) bad();
      return std::to_string(v);
    }
    case OptionType::kReal: {
      double v;
      if (!parse_finite_double(value, v) || v > hi || v < lo || (open_low && v == lo)) bad();
      return format_real(v);
    }
    case OptionType::kBool:
    case OptionType::kSwitch:
      if (value == "1" || value == "true") return "1";
      if (value == "0" || value == "false") return "0";
      return bad();
    case OptionType::kChoice:
      if (std::find(choices.begin(), choices.end(), value) == choices.end()) bad();
      return value;
    case OptionType::kText:
      if (value.find('\n') != std::string::npos || value.find('\r') != std::string::npos) bad();
      return value;
  }
  return value;
}

// ------------------------------------------------------------------ OptionTable

OptionTable::OptionTable(std::initializer_list<Option> options) {
  for (auto& o : options) add(o);
}

void OptionTable::add(Option o) {
  DUEL_CHECK(!find(o.name), "option table: --", o.name, " is declared twice");
  o.fallback = o.validate(o.fallback);  // a declaration's own default must be valid; kept canonical
  options_.push_back(std::move(o));
}

void OptionTable::add_preset(Preset p) {
  at(p.option);
  for (auto& [k, v] : p.set) at(k).validate(v);
  presets_.push_back(std::move(p));
}

const Option* OptionTable::find(const std::string& name) const {
  for (auto& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

const Option& OptionTable::at(const std::string& name) const {
  if (const Option* o = find(name)) return *o;
  std::vector<std::string> names;
  std::string best;
  size_t best_d = 3;  // suggest only close names
  for (auto& o : options_) {
    names.push_back("--" + o.name);
    size_t d = edit_distance(name, o.name);
    if (d < best_d) best_d = d, best = o.name;
  }
  std::sort(names.begin(), names.end());
  DUEL_FAIL("unknown option --", name, best.empty() ? "" : " (did you mean --" + best + "?)",
            "; valid options: ", join(names, ", "));
}

Options OptionTable::resolve(const std::map<std::string, std::string>& given,
                             const std::map<std::string, std::string>& stored, const std::string& context) const {
  Options out;
  out.table_ = this;
  try {
    for (auto& [k, v] : given) {
      out.values_[k] = at(k).validate(v);
      out.given_.insert(k);
    }
    for (auto& o : options_) {
      if (out.values_.count(o.name) || !o.stored) continue;
      auto it = stored.find(o.name);
      if (it != stored.end()) out.values_[o.name] = o.validate(it->second);
    }
    // presets, in declaration order, keyed on the values resolved so far (or the defaults)
    for (auto& p : presets_) {
      auto it = out.values_.find(p.option);
      const std::string& key = it != out.values_.end() ? it->second : at(p.option).fallback;
      if (std::find(p.values.begin(), p.values.end(), key) == p.values.end()) continue;
      for (auto& [k, v] : p.set)
        if (!out.values_.count(k)) out.values_[k] = at(k).validate(v);
    }
    for (auto& o : options_)
      if (!out.values_.count(o.name)) out.values_[o.name] = o.fallback;
  } catch (const Error& e) {
    DUEL_FAIL(prefix(context), e.what());
  }
  return out;
}

std::string OptionTable::help_text() const {
  std::ostringstream s;
  for (auto& o : options_) {
    std::string lhs = "  --" + o.name + (o.type == OptionType::kSwitch ? "" : " VALUE");
    char line[512];
    std::snprintf(line, sizeof line, "%-28s %s", lhs.c_str(), o.help.c_str());
    s << line;
    if (!o.symbol.empty()) s << " (" << o.symbol << ")";
    s << "\n" << std::string(31, ' ') << o.expected();
    if (o.type != OptionType::kSwitch) s << "; default " << (o.fallback.empty() ? "''" : o.fallback);
    s << "\n";
  }
  for (auto& p : presets_) {
    s << "  when --" << p.option << " is " << join(p.values, " or ") << ":";
    for (auto& [k, v] : p.set) s << " --" << k << " " << v;
    s << "\n";
  }
  return s.str();
}

std::string OptionTable::markdown() const {
  std::ostringstream s;
  s << "| option | symbol | default | valid values | meaning |\n|---|---|---|---|---|\n";
  for (auto& o : options_) {
    s << "| `--" << o.name << "` | " << (o.symbol.empty() ? "" : "`" + o.symbol + "`") << " | "
      << (o.type == OptionType::kSwitch ? "off" : "`" + o.fallback + "`") << " | " << o.expected() << " | " << o.help
      << " |\n";
  }
  if (!presets_.empty()) {
    s << "\nDefaults that depend on another option:\n\n";
    for (auto& p : presets_) {
      s << "- `--" << p.option << " " << join(p.values, "` or `") << "`:";
      for (auto& [k, v] : p.set) s << " `--" << k << " " << v << "`";
      s << "\n";
    }
  }
  return s.str();
}

// ------------------------------------------------------------------ Options

int64_t Options::integer(const std::string& name) const {
  int64_t v = 0;
  DUEL_CHECK(parse_int64(text(name), v), "option --", name, " is not an integer: '", text(name), "'");
  return v;
}

double Options::real(const std::string& name) const {
  double v = 0;
  DUEL_CHECK(parse_finite_double(text(name), v), "option --", name, " is not a number: '", text(name), "'");
  return v;
}

bool Options::boolean(const std::string& name) const { return text(name) == "1"; }

const std::string& Options::text(const std::string& name) const {
  auto it = values_.find(name);
  DUEL_CHECK(it != values_.end(), "option --", name, " is not declared by this model");
  return it->second;
}

std::string Options::serialize() const {
  std::string out;
  for (auto& o : table_->options())
    if (o.stored) out += o.name + " = " + text(o.name) + "\n";
  return out;
}

std::map<std::string, std::string> Options::parse_serialized(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find(" = ");
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return out;
}

// ------------------------------------------------------------------ command line

std::map<std::string, std::string> parse_arguments(const OptionTable& table, const std::vector<std::string>& args,
                                                   const std::string& context) {
  std::map<std::string, std::string> out;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      DUEL_CHECK(a.size() > 2 && a.rfind("--", 0) == 0, "unexpected argument '", a,
                 "' (options look like --name value)");
      std::string name = a.substr(2), value;
      auto eq = name.find('=');
      bool inline_value = eq != std::string::npos;
      if (inline_value) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      const Option& o = table.at(name);
      if (o.type == OptionType::kSwitch) {
        DUEL_CHECK(!inline_value, "--", name, " takes no value");
        value = "1";
      } else if (!inline_value) {
        DUEL_CHECK(i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0, "--", name, " needs a value (",
                   o.expected(), ")");
        value = args[++i];
      }
      DUEL_CHECK(!out.count(name), "--", name, " is given twice");
      out[name] = value;
    }
  } catch (const Error& e) {
    DUEL_FAIL(prefix(context), e.what());
  }
  return out;
}

}  // namespace duel::train
