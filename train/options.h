// Declared options: every hyperparameter of every model is declared once, with its
// command-line name, the paper's symbol, a type and valid range, a default and a line of help.
// Parsing, validation, `--help`, the run's stored configuration and docs/options.md are all
// derived from these declarations (as CleanRL's Args dataclass, without copying the plumbing).
//
//   OptionTable t = {
//       Option::integer("n-critic", "n_critic", 5, 1, 1000, "critic updates per generator update"),
//       Option::real("lr", "alpha", 1e-4, 0, 1, "Adam learning rate", /*open_low=*/true),
//       Option::choice("data", "", "25gaussians", {"8gaussians", "25gaussians", "fashion-mnist"}, "data set"),
//   };
//   Options o = t.resolve({{"n-critic", "3"}});   // throws duel::Error on an unknown or bad value
//   o.integer("n-critic")                          // 3
//
// Values are validated as whole strings: "10abc", "1e3" for an integer, "-1" for a seed,
// "inf" or "nan" for a real are rejected, with a message that names the option, the value and
// what is expected.
#pragma once
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace duel::train {

enum class OptionType {
  kInt,     // int64 in [lo, hi]
  kReal,    // finite double in [lo, hi] (or (lo, hi] with open_low)
  kBool,    // 0 | 1 | true | false, given a value: --critic-bn 1
  kSwitch,  // no value: --no-resume
  kChoice,  // one of `choices`
  kText,    // any single-line text
};

struct Option {
  std::string name;    // command-line name without the dashes: "n-critic"
  std::string symbol;  // the paper's symbol ("n_critic", "lambda", "alpha"); empty when none
  OptionType type = OptionType::kText;
  std::string fallback;  // the default, as text
  std::string help;
  double lo = -std::numeric_limits<double>::infinity();  // kReal range
  double hi = std::numeric_limits<double>::infinity();
  int64_t int_lo = std::numeric_limits<int64_t>::min();  // kInt range
  int64_t int_hi = std::numeric_limits<int64_t>::max();
  bool open_low = false;               // kReal: lo itself is excluded (a learning rate > 0)
  std::vector<std::string> choices;    // kChoice
  bool may_change_on_resume = false;   // steps, cadences, device: a resumed run may be given new values
  bool stored = true;                  // part of the run's configuration (false: --out, --no-resume, --quiet)

  static Option integer(std::string name, std::string symbol, int64_t fallback, int64_t lo, int64_t hi,
                        std::string help);
  static Option real(std::string name, std::string symbol, double fallback, double lo, double hi, std::string help,
                     bool open_low = false);
  static Option boolean(std::string name, std::string symbol, bool fallback, std::string help);
  static Option flag(std::string name, std::string help);  // kSwitch, default off
  static Option choice(std::string name, std::string symbol, std::string fallback, std::vector<std::string> choices,
                       std::string help);
  static Option text(std::string name, std::string symbol, std::string fallback, std::string help);

  Option& resumable() {
    may_change_on_resume = true;
    return *this;
  }
  Option& not_stored() {
    stored = false;
    return *this;
  }

  // Throws duel::Error naming the option when `value` is not valid; returns its canonical text.
  std::string validate(const std::string& value) const;
  std::string expected() const;  // "an integer in [1, 1000]", "one of cpu, sim, cuda", ...
};

// Defaults that depend on another option's value: when `option` is one of `values`, the
// options in `set` default to those values (given options still win).
struct Preset {
  std::string option;
  std::vector<std::string> values;
  std::map<std::string, std::string> set;
};

class Options;

class OptionTable {
 public:
  OptionTable() = default;
  OptionTable(std::initializer_list<Option> options);
  void add(Option o);  // throws on a duplicate name
  void add_preset(Preset p);

  const Option* find(const std::string& name) const;
  const Option& at(const std::string& name) const;  // throws listing the valid names
  const std::vector<Option>& options() const { return options_; }
  const std::vector<Preset>& presets() const { return presets_; }

  // Validates `given` (name -> value text) and fills in the rest: an option not given takes
  // its value from `stored` (a resumed run's configuration) when present there, else from the
  // presets, else its default. `context` prefixes errors ("gan").
  Options resolve(const std::map<std::string, std::string>& given,
                  const std::map<std::string, std::string>& stored = {}, const std::string& context = "") const;

  // One line per option: --name VALUE  symbol  default  help (and the presets).
  std::string help_text() const;
  // A Markdown table of the options (docs/options.md).
  std::string markdown() const;

 private:
  std::vector<Option> options_;
  std::vector<Preset> presets_;
};

// The resolved values of a table's options.
class Options {
 public:
  int64_t integer(const std::string& name) const;
  double real(const std::string& name) const;
  bool boolean(const std::string& name) const;  // kBool and kSwitch
  const std::string& text(const std::string& name) const;  // any type, as canonical text

  bool given(const std::string& name) const { return given_.count(name) != 0; }
  const std::map<std::string, std::string>& values() const { return values_; }
  // The stored options as "name = value" lines (the run's configuration).
  std::string serialize() const;
  static std::map<std::string, std::string> parse_serialized(const std::string& text);

  const OptionTable* table() const { return table_; }

 private:
  friend class OptionTable;
  const OptionTable* table_ = nullptr;
  std::map<std::string, std::string> values_;
  std::set<std::string> given_;
};

// Strict parsers used by Option::validate (exposed for the command line and tests). Each
// returns false when `s` is not entirely a number of that kind.
bool parse_int64(const std::string& s, int64_t& out);
bool parse_uint64(const std::string& s, uint64_t& out);  // no sign: "-1" is rejected
bool parse_finite_double(const std::string& s, double& out);

// Parses `--name value` / `--switch` arguments against `table`: unknown names are rejected
// with the valid ones listed, a missing value is an error. Returns name -> raw value.
std::map<std::string, std::string> parse_arguments(const OptionTable& table, const std::vector<std::string>& args,
                                                   const std::string& context);

}  // namespace duel::train
