// `duel report` (train/report.h): two fake runs, a training folder and a committed record, made
// in a temporary folder; the page must stand alone (every src/href a data: URI holding a PNG, or
// a link to a section of the page), show both runs in the table with their steps, CPU time and
// eval.txt numbers, draw one polyline per logged metric, escape what it quotes, and refuse bad
// runs naming the path (the library call, and the `duel` binary with its exit codes).
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "data/image.h"
#include "train/report.h"
#include "train/run.h"
#include "tests/train/run_cli.h"

using namespace duel;
namespace fs = std::filesystem;
using Catch::Contains;
using test::CliResult;
using test::run_cli;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path d = test::fresh_dir("report", name);
  fs::create_directories(d);
  return d;
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Written here, not taken from the code under test.
std::string base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  REQUIRE(text.size() % 4 == 0);
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    if (c == '=') break;
    const size_t v = alphabet.find(c);
    REQUIRE(v != std::string::npos);
    bits = bits << 6 | (uint32_t)v;
    if ((count += 6) >= 8) {
      count -= 8;
      out += (char)(bits >> count & 0xff);
    }
  }
  return out;
}

// A small real PNG (the project's writer), w x h.
void write_png(const fs::path& path, int w, int h) {
  fs::create_directories(path.parent_path());
  Image image(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) image.at(x, y)[0] = (uint8_t)(16 * x), image.at(x, y)[1] = (uint8_t)(16 * y);
  save_png(path.string(), image);
}

// runs/alpha: a training folder (samples_latest.png, cpu_seconds logged, no eval.txt), with an
// option value full of HTML. docs/runs/beta: a committed record (command.txt, eval.txt in the
// format of `duel eval`, its picture in docs/images/beta.png).
struct FakeRuns {
  fs::path root, alpha, beta;
};

FakeRuns make_runs(const std::string& name) {
  FakeRuns r;
  r.root = fresh_dir(name);
  r.alpha = r.root / "runs" / "alpha";
  write_text(r.alpha / "config.txt", "model = gan\nseed = 0\nnote = <script>alert(\"x\")</script> & co\n");
  write_text(r.alpha / "metrics.jsonl",
             "{\"step\": 10, \"loss_D\": 1.5, \"loss_G\": 0.7}\n"
             "{\"step\": 20, \"loss_D\": 1.25, \"loss_G\": 0.8}\n"
             "{\"step\": 30, \"loss_D\": 1, \"loss_G\": null}\n"
             "{\"step\": 30, \"cpu_seconds\": 90}\n");
  write_png(r.alpha / "samples_latest.png", 12, 10);

  r.beta = r.root / "docs" / "runs" / "beta";
  write_text(r.beta / "command.txt", "build/duel train wgan --out runs/beta --steps 250   # a note\n");
  write_text(r.beta / "config.txt", "model = wgan\nsteps = 250\nclip = 0.01\n");
  write_text(r.beta / "metrics.jsonl",
             "{\"step\": 100, \"loss_D\": -0.5, \"loss_G\": 0.25, \"wasserstein\": 0.5}\n"
             "\n"
             "{\"step\": 200, \"loss_D\": -0.4, \"loss_G\": 0.2, \"wasserstein\": 0.4, \"fcd500\": 250.5}\n"
             "{\"step\": 250, \"loss_D\": -0.3, \"loss_G\": 0.1, \"wasserstein\": 0.3}\n");
  write_text(r.beta / "eval.txt",
             "run runs/beta (model wgan, step 250, 600 CPU seconds of training)\n"
             "metric                generated         real\n"
             "FCD                     182.844        2.476   (FCD to 2000 test images; 'real' = 2000 train images)\n"
             "classifier score          4.404        7.936   (max 10)\n"
             "mode coverage: 7\n"
             "kl = 0.25\n");
  write_png(r.root / "docs" / "images" / "beta.png", 7, 9);
  return r;
}

// The text of each cell of each row of the page's first table, tags removed.
std::vector<std::vector<std::string>> table_rows(const std::string& page) {
  const size_t begin = page.find("<table class=\"compare\">"), end = page.find("</table>", begin);
  REQUIRE(begin != std::string::npos);
  const std::string table = page.substr(begin, end - begin);
  std::vector<std::vector<std::string>> rows;
  const std::regex row_re("<tr>(.*?)</tr>"), cell_re("<t[dh][^>]*>(.*?)</t[dh]>"), tag_re("<[^>]*>");
  for (std::sregex_iterator row(table.begin(), table.end(), row_re), none; row != none; ++row) {
    const std::string row_text = (*row)[1];
    rows.push_back({});
    for (std::sregex_iterator cell(row_text.begin(), row_text.end(), cell_re); cell != none; ++cell)
      rows.back().push_back(std::regex_replace((*cell)[1].str(), tag_re, ""));
  }
  return rows;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("report: base64 and HTML escaping", "[report]") {
  CHECK(train::base64_encode("") == "");
  CHECK(train::base64_encode("f") == "Zg==");
  CHECK(train::base64_encode("fo") == "Zm8=");
  CHECK(train::base64_encode("foo") == "Zm9v");
  CHECK(train::base64_encode("foobar") == "Zm9vYmFy");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += (char)i;
  CHECK(base64_decode(train::base64_encode(bytes)) == bytes);
  CHECK(train::html_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
}

TEST_CASE("report: metrics.jsonl lines are parsed strictly, read_metrics skips torn ones", "[report]") {
  train::MetricsLine m;
  std::string error;
  REQUIRE(train::parse_metrics_line("{\"step\": 25, \"loss_D\": -0.39, \"loss_G\": null, \"w\": 1e-3}", m, &error));
  CHECK(m.step == 25);
  CHECK(m.values == std::vector<std::pair<std::string, double>>{{"loss_D", -0.39}, {"w", 1e-3}});
  CHECK_FALSE(train::parse_metrics_line("{\"step\": 25, \"loss_D\": -0.3", m, &error));  // torn
  CHECK_THAT(error, Contains("expected ',' or '}'"));
  CHECK_FALSE(train::parse_metrics_line("{\"step\": 25, \"loss_D\": 1x}", m, &error));
  CHECK_THAT(error, Contains("\"loss_D\" should be a number or null, got '1x'"));
  CHECK_FALSE(train::parse_metrics_line("{\"step\": 25} extra", m, &error));
  CHECK_FALSE(train::parse_metrics_line("[1, 2]", m, &error));

  const fs::path dir = fresh_dir("read_metrics");
  write_text(dir / "metrics.jsonl", "{\"step\": 1, \"a\": 2}\n{\"step\": 2, \"a\": 3, \"b\": null}\n{\"step\": 3, \"a\": 4");
  auto series = train::read_metrics((dir / "metrics.jsonl").string());
  REQUIRE(series.size() == 1);
  CHECK(series["a"].first == std::vector<double>{1, 2});
  CHECK(series["a"].second == std::vector<double>{2, 3});
  fs::remove_all(dir);
}

TEST_CASE("report: eval.txt numbers are read without knowing the model", "[report]") {
  auto numbers = train::parse_eval_text(
      "run runs/x (model vae, step 12000, 1234.5 CPU seconds of training)\n"
      "test ELBO               -239.95 nats   (10000 binarised test images)\n"
      "test log p(x) >=        -236.63 nats   (k = 100)\n"
      "metric                generated         real\n"
      "FCD                     182.844        2.476   (FCD to 2000 test images)\n"
      "accuracy: 0.93\n"
      "loss = 1e-3\n"
      "modes=8\n"
      "modes 7 (real samples)\n");
  REQUIRE(numbers.size() == 7);
  CHECK(numbers[0].key == "test ELBO");
  CHECK(numbers[0].value == "-239.95");
  CHECK(numbers[1].key == "test log p(x) >=");
  CHECK(numbers[2].key == "FCD");
  CHECK(numbers[2].value == "182.844");
  REQUIRE(numbers[2].more.size() == 1);
  CHECK(numbers[2].more[0] == std::pair<std::string, std::string>{"real", "2.476"});
  CHECK((numbers[3].key == "accuracy" && numbers[3].value == "0.93"));
  CHECK((numbers[4].key == "loss" && numbers[4].value == "1e-3"));
  CHECK((numbers[5].key == "modes" && numbers[5].value == "8"));
  CHECK((numbers[6].key == "modes (real samples)" && numbers[6].value == "7"));
}

TEST_CASE("report: one self-contained page with the table, the pictures and a plot per run", "[report]") {
  const FakeRuns runs = make_runs("page");
  // beta given with a trailing slash, as a shell's completion writes it
  const std::string page = train::render_report({runs.alpha, runs.beta.string() + "/"});

  SECTION("every src and href is an embedded PNG or a link inside the page") {
    const std::regex ref_re(R"((src|href)\s*=\s*"([^"]*)\")");
    int images = 0;
    for (std::sregex_iterator it(page.begin(), page.end(), ref_re), none; it != none; ++it) {
      const std::string attr = (*it)[1], value = (*it)[2];
      INFO(attr << "=" << value.substr(0, 60));
      if (attr == "href" && value.rfind("#", 0) == 0) {
        CHECK(page.find("id=\"" + value.substr(1) + "\"") != std::string::npos);
        continue;
      }
      const std::string prefix = "data:image/png;base64,";
      REQUIRE(value.rfind(prefix, 0) == 0);
      const std::string png = base64_decode(value.substr(prefix.size()));
      CHECK(png.rfind("\x89PNG\r\n\x1a\n", 0) == 0);
      const fs::path copy = runs.root / ("decoded" + std::to_string(images) + ".png");
      write_text(copy, png);
      const Image image = load_png(copy.string());
      CHECK(image.width == (images == 0 ? 12 : 7));  // alpha's samples_latest.png, beta's docs/images/beta.png
      ++images;
    }
    CHECK(images == 2);
    CHECK(count(page, "url(") == 0);
    CHECK(count(page, "<script") == 0);
    CHECK(count(page, "<link") == 0);
  }

  SECTION("the table: one row per run, steps reached, CPU minutes, eval.txt numbers, the last fcd500") {
    const auto rows = table_rows(page);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0] == std::vector<std::string>{"run", "model", "steps reached", "CPU minutes", "FCD", "classifier score",
                                              "mode coverage", "kl", "fcd500 (last logged)"});
    CHECK(rows[1] == std::vector<std::string>{"alpha", "gan", "30", "1.5", "\u2013", "\u2013", "\u2013", "\u2013", "\u2013"});
    // beta's CPU time comes from eval.txt's "600 CPU seconds"
    CHECK(rows[2] == std::vector<std::string>{"beta", "wgan", "250", "10.0", "182.844real 2.476", "4.404real 7.936",
                                              "7", "0.25", "250.5"});
  }

  SECTION("one polyline per logged metric, with its name in the legend") {
    std::vector<std::string> svgs;
    for (size_t at = page.find("<svg"); at != std::string::npos; at = page.find("<svg", at + 1))
      svgs.push_back(page.substr(at, page.find("</svg>", at) - at));
    REQUIRE(svgs.size() == 2);
    CHECK(count(svgs[0], "<polyline") == 2);  // loss_D, loss_G (cpu_seconds is not a curve)
    CHECK(count(svgs[1], "<polyline") == 4);  // loss_D, loss_G, wasserstein, fcd500
    for (const char* name : {">loss_D<", ">loss_G<", ">wasserstein<", ">fcd500<"}) CHECK(count(svgs[1], name) == 2);
    CHECK(count(svgs[0], ">cpu_seconds<") == 0);
  }

  SECTION("what the page quotes is escaped; the command, options and eval.txt are shown") {
    CHECK(count(page, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co") == 1);
    CHECK(count(page, "alert(\"x\")") == 0);
    CHECK(count(page, "build/duel train wgan --out runs/beta --steps 250   # a note") == 1);
    CHECK(count(page, "<td>clip</td><td>0.01</td>") == 1);
    CHECK(count(page, "classifier score          4.404        7.936   (max 10)") == 1);
    CHECK(count(page, "<td>cpu_seconds</td><td>90.0</td>") == 1);
  }
  fs::remove_all(runs.root);
}

TEST_CASE("report: bad runs and outputs are refused naming the path", "[report]") {
  const FakeRuns runs = make_runs("errors");
  const fs::path file = runs.alpha / "config.txt", missing = runs.root / "nowhere", empty = runs.root / "empty";
  fs::create_directories(empty);
  CHECK_THROWS_WITH(train::render_report({runs.alpha, file}), Contains(file.string()) && Contains("is not a folder"));
  CHECK_THROWS_WITH(train::render_report({missing}), Contains(missing.string()) && Contains("does not exist"));
  CHECK_THROWS_WITH(train::render_report({empty}),
                    Contains(empty.string()) && Contains("neither config.txt nor metrics.jsonl"));

  const fs::path metrics = runs.beta / "metrics.jsonl";
  write_text(metrics, "{\"step\": 100, \"loss_D\": -0.5}\n\n{\"step\": 200, \"loss_D\": abc}\n");
  CHECK_THROWS_WITH(train::render_report({runs.beta}),
                    Contains(metrics.string() + " line 3") && Contains("\"loss_D\" should be a number or null, got 'abc'"));
  write_text(metrics, "{\"step\": 100, \"loss_D\": -0.5}\n{\"step\": 200, \"loss_D\": -0.4\n");
  CHECK_THROWS_WITH(train::render_report({runs.beta}), Contains(metrics.string() + " line 2"));
  write_text(metrics, "{\"loss_D\": -0.5}\n");
  CHECK_THROWS_WITH(train::render_report({runs.beta}), Contains(metrics.string() + " line 1") && Contains("no \"step\""));

  write_text(runs.alpha / "samples_latest.png", "not a picture");
  CHECK_THROWS_WITH(train::render_report({runs.alpha}),
                    Contains((runs.alpha / "samples_latest.png").string()) && Contains("not a PNG"));
  write_png(runs.alpha / "samples_latest.png", 4, 4);

  const fs::path unwritable = runs.root / "no-such-folder" / "report.html";
  CHECK_THROWS_WITH(train::write_report({runs.alpha}, unwritable), Contains(unwritable.string()));
  CHECK_FALSE(fs::exists(unwritable));
  fs::remove_all(runs.root);
}

TEST_CASE("report: the duel command writes the page, exit 1 for bad runs, 2 for a bad command line", "[report]") {
  const FakeRuns runs = make_runs("cli");
  const fs::path out = runs.root / "report.html";
  CliResult r = run_cli("report " + runs.alpha.string() + " " + runs.beta.string() + " --out " + out.string());
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(read_text(out) == train::render_report({runs.alpha, runs.beta}));

  r = run_cli("report " + runs.alpha.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("report needs --out FILE.html"));
  r = run_cli("report " + runs.alpha.string() + " --out");
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("--out needs a file name"));
  r = run_cli("report --out " + out.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("report needs run folders"));
  r = run_cli("report " + runs.alpha.string() + " --bogus --out " + out.string());
  CHECK(r.code == 2);
  CHECK_THAT(r.output, Contains("unknown option --bogus"));

  const fs::path missing = runs.root / "nowhere";
  r = run_cli("report " + missing.string() + " --out " + out.string());
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains(missing.string()) && Contains("does not exist"));
  const fs::path unwritable = runs.root / "no-such-folder" / "r.html";
  r = run_cli("report " + runs.alpha.string() + " --out " + unwritable.string());
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Contains(unwritable.string()));
  fs::remove_all(runs.root);
}
