// One input of the options_parser fuzzer: the command-line option parser and the run
// configuration reader of train/options.h (what `duel train` does with argv, and what a resumed
// run does with the options stored in its checkpoint). The input is split at NUL bytes into
// arguments; the first argument chooses what is parsed:
//   'c...': the rest of the input is a stored configuration ("name = value" lines)
//   else:   the arguments are a command line
// Both go through OptionTable::resolve against a table with every option type, range and a
// preset. The parser must answer with resolved options or a duel::Error, nothing else; and
// resolved options must survive their own serialisation.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tensor/error.h"
#include "train/options.h"

namespace duel::fuzz {

inline const train::OptionTable& fuzz_option_table() {
  using train::Option;
  static const train::OptionTable table = [] {
    train::OptionTable t;
    t.add(Option::integer("seed", "", 0, 0, std::numeric_limits<int64_t>::max(), "seed"));
    t.add(Option::integer("steps", "", 100, 1, std::numeric_limits<int64_t>::max(), "steps").resumable());
    t.add(Option::integer("k", "k", 1, 1, 100, "k"));
    t.add(Option::real("lr", "alpha", 2e-4, 0, 1, "lr", /*open_low=*/true));
    t.add(Option::real("lambda", "lambda", 10, 0, 1e6, "lambda"));
    t.add(Option::boolean("critic-bn", "", false, "bn"));
    t.add(Option::flag("no-resume", "switch").not_stored());
    t.add(Option::choice("data", "", "8gaussians", {"fashion-mnist", "8gaussians", "25gaussians"}, "data"));
    t.add(Option::text("out", "", "runs/x", "out").not_stored());
    t.add_preset({"data", {"fashion-mnist"}, {{"k", "5"}, {"lr", "0.001"}}});
    return t;
  }();
  return table;
}

// Returns true when the input was accepted, false when it was refused with a duel::Error.
inline bool run_options_input(const uint8_t* data, size_t size) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) args.emplace_back();
    else args.back().push_back((char)data[i]);
  }
  const train::OptionTable& table = fuzz_option_table();
  try {
    train::Options o;
    if (!args[0].empty() && args[0][0] == 'c') {
      std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
      o = table.resolve({}, train::Options::parse_serialized(text), "fuzz");
    } else {
      o = table.resolve(train::parse_arguments(table, args, "fuzz"), {}, "fuzz");
    }
    // accepted options serialise and read back to the same values
    train::Options again = table.resolve({}, train::Options::parse_serialized(o.serialize()), "fuzz");
    if (again.serialize() != o.serialize()) __builtin_trap();
    (void)o.integer("k"), (void)o.real("lr"), (void)o.boolean("critic-bn");
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace duel::fuzz
