// Every model of the zoo's registry, through the shared training loop, on a tiny data set:
// a few steps train, a run stopped half-way and resumed ends bit for bit where an
// uninterrupted run ends, and a trained generator's samples have the data's shape. New models
// are covered by adding them to the registry (with their ModelInfo::test_options).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "data/chess.h"
#include "data/idx.h"
#include "data/text.h"
#include "tensor/serialize.h"
#include "tests/data/chess_fixture.h"
#include "tests/data/speech_fixture.h"
#include "train/fit.h"
#include "train/registry.h"

using namespace duel;
namespace fs = std::filesystem;

namespace {

// A Fashion-MNIST stand-in of 64 training and 32 test images (random bytes, labels 0..9 in
// turn), installed as $DUEL_FASHION_MNIST_DIR for the test's lifetime, a tiny text corpus
// as $DUEL_KJV_TEXT, 60 chess positions as $DUEL_CHESS_DATA and six noisy/clean speech pairs
// as $DUEL_SPEECH_DIR.
struct TinyFashionMnist {
  fs::path dir;
  std::string old;
  bool had_old = false;
  TinyFashionMnist() {
    dir = fs::temp_directory_path() / ("duel_tiny_fmnist_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    uint32_t state = 12345;
    auto byte = [&] {
      state = state * 1664525u + 1013904223u;
      return (uint8_t)(state >> 24);
    };
    for (auto [split, n] : {std::pair<const char*, int64_t>{"train", 64}, {"t10k", 32}}) {
      std::vector<uint8_t> images(n * 28 * 28), labels(n);
      for (auto& b : images) b = byte();
      for (int64_t i = 0; i < n; ++i) labels[i] = (uint8_t)(i % 10);
      write_idx((dir / (std::string(split) + "-images-idx3-ubyte.gz")).string(), {n, 28, 28}, images, true);
      write_idx((dir / (std::string(split) + "-labels-idx1-ubyte.gz")).string(), {n}, labels, true);
    }
    if (const char* o = std::getenv("DUEL_FASHION_MNIST_DIR")) old = o, had_old = true;
    ::setenv("DUEL_FASHION_MNIST_DIR", dir.c_str(), 1);
    // and the text models' corpus (data/text.h): 1200 characters of verse
    std::ofstream text(dir / "kjv.txt");
    for (int i = 0; i < 20; ++i) text << "And God said, Let there be light: and there was light.\n";
    ::setenv(kKjvTextEnv, (dir / "kjv.txt").c_str(), 1);
    test::write_chess_fixture((dir / "chess.tsv").string());
    ::setenv(kChessDataEnv, (dir / "chess.tsv").c_str(), 1);
    test::write_speech_fixture(dir / "speech", 4, 2, 600);
    ::setenv(kSpeechDirEnv, (dir / "speech").c_str(), 1);
  }
  ~TinyFashionMnist() {
    if (had_old) ::setenv("DUEL_FASHION_MNIST_DIR", old.c_str(), 1);
    else ::unsetenv("DUEL_FASHION_MNIST_DIR");
    ::unsetenv(kKjvTextEnv);
    ::unsetenv(kChessDataEnv);
    ::unsetenv(kSpeechDirEnv);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

train::RunOptions tiny_run(const train::ModelInfo& m, const fs::path& dir, int64_t steps) {
  train::RunOptions o;
  o.model = m.name;
  o.out_dir = dir.string();
  o.seed = 3;
  o.steps = steps;
  o.log_every = 1;
  o.sample_every = 3;
  o.checkpoint_every = 2;
  o.quiet = true;
  o.extra = m.test_options;
  return o;
}

}  // namespace

namespace {

// Every model of the registry whose index is `part` modulo kZooParts: the registry is split
// over several test cases so that each stays well inside ctest's time limit under the
// sanitizers, and ctest -j runs them side by side.
constexpr size_t kZooParts = 4;

void check_zoo_part(size_t part) {
  TinyFashionMnist data;
  REQUIRE(train::models().size() >= 5);
  for (size_t i = part; i < train::models().size(); i += kZooParts) {
    const train::ModelInfo& m = train::models()[i];
    INFO("model " << m.name);
    const fs::path a = data.dir / (m.name + "_full"), b = data.dir / (m.name + "_resumed");
    {
      train::Run run(tiny_run(m, a, 5));
      train::FitResult r = train::fit(run);
      CHECK(r.completed);
      CHECK(r.step == 5);
    }
    {
      train::Run::set_stop_after(3);
      train::Run run(tiny_run(m, b, 5));
      train::FitResult r = train::fit(run);
      train::Run::set_stop_after(-1);
      CHECK_FALSE(r.completed);
      CHECK(read_checkpoint_meta((b / "checkpoint.duel").string())["step"] == "3");
    }
    {
      train::Run run(tiny_run(m, b, 5));
      CHECK(train::fit(run).completed);
    }
    Checkpoint ca = load_checkpoint((a / "checkpoint.duel").string());
    Checkpoint cb = load_checkpoint((b / "checkpoint.duel").string());
    CHECK(ca.meta_or("step") == "5");
    CHECK(cb.meta_or("step") == "5");
    CHECK(ca.meta_or("options") == cb.meta_or("options"));
    REQUIRE(ca.tensors.size() == cb.tensors.size());
    for (auto& [k, t] : ca.tensors) {
      INFO("tensor " << k);
      REQUIRE(cb.has(k));
      CHECK(t.to_vector<double>() == cb.get(k).to_vector<double>());
    }
    // the metrics of the resumed run hold each logged step once, in order
    std::ifstream in(b / "metrics.jsonl");
    int64_t last = 0, lines = 0;
    for (std::string line; std::getline(in, line); ++lines) {
      int64_t step = std::stoll(line.substr(line.find(':') + 1));
      CHECK(step >= last);
      last = step;
    }
    CHECK(lines >= 5);
    if (m.generator) {
      train::RunOptions o;
      o.model = m.name;
      o.out_dir = a.string();
      train::Run run(o);
      std::unique_ptr<train::Model> model = train::load_trained_model(run);
      Generator gen(7);
      Tensor s = model->sample(6, gen);
      if (s.dtype() == kInt64) {  // a text model's symbol ids [n, length] (chess: one move per position)
        CHECK((s.dim() == 2 && s.size(0) == 6));
      } else {
        const bool image = m.test_options.count("data") == 0 || m.test_options.at("data") == "fashion-mnist";
        CHECK(s.sizes() == (image ? Shape{6, 1, 28, 28} : Shape{6, 2}));
      }
      // what `duel sample` writes
      const fs::path f = a / ("samples_cli" + model->sample_file_extension());
      model->write_samples(6, gen, f.string());
      CHECK(fs::file_size(f) > 0);
    }
  }
}
}  // namespace

TEST_CASE("zoo: every registered model trains, resumes bit for bit and samples on tiny data (part 1 of 4)",
          "[train][zoo]") {
  check_zoo_part(0);
}
TEST_CASE("zoo: every registered model trains, resumes bit for bit and samples on tiny data (part 2 of 4)",
          "[train][zoo]") {
  check_zoo_part(1);
}
TEST_CASE("zoo: every registered model trains, resumes bit for bit and samples on tiny data (part 3 of 4)",
          "[train][zoo]") {
  check_zoo_part(2);
}
TEST_CASE("zoo: every registered model trains, resumes bit for bit and samples on tiny data (part 4 of 4)",
          "[train][zoo]") {
  check_zoo_part(3);
}
