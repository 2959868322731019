// Text corpora and truncated-BPTT batches (data/text.h), against hand-derived values.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "data/text.h"
#include "tests/skip.h"
#include "tests/error_of.h"

using namespace duel;
using test::error_of;
namespace fs = std::filesystem;

namespace {

bool has_bible() {
  for (const char* d : {"/usr/bin", "/bin", "/usr/local/bin"})
    if (::access((std::string(d) + "/bible").c_str(), X_OK) == 0) return true;
  return false;
}

}  // namespace

TEST_CASE("text: corpus vocabulary, fixed split and encoding", "[data][text]") {
  std::string text;
  for (int i = 0; i < 20; ++i) text += "ba c\n";  // 100 bytes, symbols '\n' ' ' 'a' 'b' 'c'
  TextCorpus c = make_text_corpus("toy", text);
  CHECK(c.size() == 100);
  CHECK(c.vocab == std::vector<uint8_t>{'\n', ' ', 'a', 'b', 'c'});
  CHECK(c.ids['b'] == 3);
  CHECK(c.ids['z'] == -1);
  CHECK(c.train_end == 90);
  CHECK(c.val_end == 95);
  CHECK(c.split("train").size(0) == 90);
  CHECK(c.split("val").size(0) == 5);
  CHECK(c.split("test").size(0) == 5);
  // the validation split starts at byte 90: "ba c\n" again (90 = 18 * 5)
  CHECK(c.split("val").to_vector<int64_t>() == std::vector<int64_t>{3, 2, 1, 4, 0});
  CHECK(c.decode(c.encode("cab\n")) == "cab\n");
  CHECK(c.hash == fnv1a64(text));
  CHECK(fnv1a64("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cULL);  // the FNV-1a 64 test vector
  CHECK_THAT(error_of([&] { c.encode("abz"); }), Catch::Contains("code 122") && Catch::Contains("offset 2"));
  CHECK_THAT(error_of([&] { c.split("dev"); }), Catch::Contains("train, val or test"));
  CHECK_THAT(error_of([&] { c.decode(from_vector(std::vector<int64_t>{5}, {1}, TensorOptions(kInt64))); }),
             Catch::Contains("outside the vocabulary"));
}

TEST_CASE("text: bad corpora are rejected with the reason", "[data][text]") {
  CHECK_THAT(error_of([] { make_text_corpus("short", "abc"); }),
             Catch::Contains("'short'") && Catch::Contains("at least 100"));
  std::string nul(200, 'a');
  nul[150] = '\0';
  CHECK_THAT(error_of([&] { make_text_corpus("bin", nul); }), Catch::Contains("NUL byte at offset 150"));
  CHECK_THAT(error_of([] { load_text_corpus("wikipedia"); }), Catch::Contains("unknown") && Catch::Contains("kjv"));
  CHECK_THAT(error_of([] { load_text_corpus("/nonexistent/corpus.txt"); }), Catch::Contains("cannot open"));
}

TEST_CASE("text: truncated-BPTT batches continue each other across iterations and epochs", "[data][text]") {
  // ids 0..22: 2 streams of (23 - 1) / 2 = 11 characters: stream 0 = 0..10 (+ target 11),
  // stream 1 = 11..21 (+ target 22); T = 3: 3 batches per epoch (9 of 11 characters)
  std::vector<int64_t> v(23);
  for (int64_t i = 0; i < 23; ++i) v[i] = i;
  TextStream s(from_vector(v, {23}, TensorOptions(kInt64)), 2, 3, "toy");
  CHECK(s.batches_per_epoch() == 3);
  auto [x0, y0] = s.next();
  CHECK(s.new_epoch());
  CHECK(x0.sizes() == Shape{3, 2});
  CHECK(x0.to_vector<int64_t>() == std::vector<int64_t>{0, 11, 1, 12, 2, 13});
  CHECK(y0.to_vector<int64_t>() == std::vector<int64_t>{1, 12, 2, 13, 3, 14});
  auto [x1, y1] = s.next();
  CHECK_FALSE(s.new_epoch());
  CHECK(x1.to_vector<int64_t>() == std::vector<int64_t>{3, 14, 4, 15, 5, 16});
  auto [x2, y2] = s.next();
  CHECK(y2.to_vector<int64_t>() == std::vector<int64_t>{7, 18, 8, 19, 9, 20});
  CHECK(s.epoch == 0);
  auto [x3, y3] = s.next();  // the next epoch starts over
  CHECK(s.new_epoch());
  CHECK(s.epoch == 1);
  CHECK(x3.to_vector<int64_t>() == x0.to_vector<int64_t>());
  // a restored position continues where it was
  TextStream r(from_vector(v, {23}, TensorOptions(kInt64)), 2, 3, "toy");
  r.position = 1;
  CHECK(r.next().first.to_vector<int64_t>() == x1.to_vector<int64_t>());
  r.position = 7;
  CHECK_THAT(error_of([&] { r.next(); }), Catch::Contains("toy") && Catch::Contains("outside 0..3"));
  CHECK_THAT(error_of([&] { TextStream(from_vector(v, {23}, TensorOptions(kInt64)), 4, 6, "tiny split"); }),
             Catch::Contains("tiny split") && Catch::Contains("too few"));
}

TEST_CASE("text: the kjv corpus from Debian's bible-kjv, or $DUEL_KJV_TEXT", "[data][text]") {
  const fs::path f = fs::temp_directory_path() / ("duel_kjv_" + std::to_string(::getpid()) + ".txt");
  std::string text;
  for (int i = 0; i < 30; ++i) text += "In the beginning God created the heaven and the earth.\n";
  std::ofstream(f) << text;
  ::setenv(kKjvTextEnv, f.c_str(), 1);
  TextCorpus c = load_text_corpus("kjv");
  ::unsetenv(kKjvTextEnv);
  fs::remove(f);
  CHECK(c.text == text);
  {  // without the program, the error names the package
    const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    ::setenv("PATH", "/nonexistent", 1);
    const std::string e = error_of([] { load_text_corpus("kjv"); });
    ::setenv("PATH", path.c_str(), 1);
    CHECK_THAT(e, Catch::Contains("bible-kjv") && Catch::Contains(kKjvTextEnv));
  }
  if (!has_bible()) SKIP_TEST("Debian's bible-kjv is not installed (apt-get install bible-kjv)");
  TextCorpus kjv = load_text_corpus("kjv");
  // the verses of bible-kjv 4.38 (docs/results.md records these): one per line, no numbers
  CHECK(kjv.size() == 4137850);
  CHECK(kjv.hash == 0xca234ace6589dc01ULL);  // computed by Python from the same verses
  CHECK(kjv.vocab_size() == 63);
  CHECK(kjv.text.rfind("In the beginning God created the heaven and the earth.\n", 0) == 0);
  CHECK(kjv.text.substr(kjv.size() - 58) == "The grace of our Lord Jesus Christ be with you all. Amen.\n");
}
