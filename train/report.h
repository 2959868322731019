// `duel report`: one static HTML page that compares runs, for a person who would rather look
// than read. Each run is a training folder (runs/NAME: config.txt, metrics.jsonl,
// samples_latest.png, ...) or a committed run record (docs/runs/NAME: command.txt, config.txt,
// metrics.jsonl, eval.txt; its sample grid at docs/images/NAME.png, see scripts/record_run.sh).
//
// The page opens with a table (one row per run: model, steps reached, CPU minutes, the numbers
// of eval.txt, the last logged fcd500), then one section per run: its options, command, sample
// grid, the logged metrics drawn as an SVG plot, the last logged values and eval.txt. Everything
// is embedded (pictures as base64 data: URIs, the plot as inline SVG, no scripts), so the one
// file works alone: mailed, attached to an issue, opened offline.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace duel::train {

// The page for `runs`, in the given order. Throws duel::Error naming the path and the problem
// for a run that is not a folder, a folder with neither config.txt nor metrics.jsonl, a
// malformed metrics.jsonl line (file and line number) or a sample picture that is not a PNG.
std::string render_report(const std::vector<std::filesystem::path>& runs);

// render_report written to `out` atomically (tensor/serialize.h's write_file_atomic); an
// unwritable `out` throws naming it.
void write_report(const std::vector<std::filesystem::path>& runs, const std::filesystem::path& out);

// The pieces, for tests.

// One number of an evaluation's text output (eval.txt), read without knowing the model: a line
// "label value ..." or "label: value" or "label = value" gives {label, value}. Further numbers
// on the line are named by the columns of the last line that had no number (eval's
// "metric  generated  real" header), e.g. FCD's {"real", "2.476"}.
struct EvalNumber {
  std::string key;
  std::string value;                                        // as written in the file
  std::vector<std::pair<std::string, std::string>> more;    // further columns: {name, value}
};
std::vector<EvalNumber> parse_eval_text(const std::string& text);

std::string html_escape(std::string_view text);
std::string base64_encode(std::string_view bytes);

}  // namespace duel::train
