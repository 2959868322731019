// SEGAN (gan/segan.cpp) on a tiny speech pair set: G learns to remove the noise (the L1 term
// falls and the enhanced test speech has a higher segmental SNR than the noisy input), both
// losses of the GAN are logged, and `duel eval` writes every enhanced utterance whole (windows side
// by side, and joined by overlap-add).
#include <catch2/catch.hpp>
#include <filesystem>

#include "data/audio.h"
#include "tests/data/speech_fixture.h"
#include "tests/train/run_files.h"
#include "train/fit.h"
#include "train/registry.h"

using namespace duel;
namespace fs = std::filesystem;

namespace {
train::RunOptions segan_run(const fs::path& out, const fs::path& data, const std::string& mode, int64_t steps) {
  train::RunOptions o;
  o.model = "segan";
  o.out_dir = out.string();
  o.seed = 4;
  o.steps = steps;
  o.log_every = 10;
  o.sample_every = steps;
  o.checkpoint_every = steps;
  o.quiet = true;
  o.extra = {{"data", data.string()}, {"mode", mode},          {"batch", "8"},
             {"window", "512"},       {"layers", "4"},         {"base-channels", "4"},
             {"lr", "0.002"},         {"eval-utterances", "2"}};
  return o;
}
}  // namespace

TEST_CASE("segan: G learns to denoise a tiny pair set, and eval writes the enhanced speech", "[train][segan]") {
  test::TempDir tmp("duel_segan");
  test::write_speech_fixture(tmp.dir / "speech", 6, 2, 8000);
  for (const std::string mode : {"l1", "gan"}) {
    INFO("mode " << mode);
    const fs::path out = tmp.dir / mode;
    train::Run run(segan_run(out, tmp.dir / "speech", mode, 600));
    REQUIRE(train::fit(run).completed);
    auto l1 = test::metric_series(out, "l1");
    REQUIRE(l1.size() >= 10);
    CHECK(l1.back() < 0.7 * l1.front());
    if (mode == "gan") CHECK(test::metric_series(out, "loss_D").size() == l1.size());
    auto ssnr = test::metric_series(out, "ssnr");
    REQUIRE(ssnr.size() == 1);

    train::RunOptions o;
    o.model = "segan";
    o.out_dir = out.string();
    train::Run done(o);
    auto model = train::load_trained_model(done);
    model->evaluate(done, {});
    SpeechSet set = load_speech_set((tmp.dir / "speech").string());
    double noisy = 0, enhanced = 0, ola = 0;
    for (const auto& u : set.test) {
      Wav e = read_wav((out / "enhanced" / (u.id + ".wav")).string());
      Wav o2 = read_wav((out / "enhanced-ola" / (u.id + ".wav")).string());  // the overlap-add version
      REQUIRE(e.samples.size() == u.clean.size());
      REQUIRE(o2.samples.size() == u.clean.size());
      noisy += segmental_snr(u.clean, u.noisy);
      enhanced += segmental_snr(u.clean, e.samples);
      ola += segmental_snr(u.clean, o2.samples);
    }
    CHECK(enhanced / set.test.size() > noisy / set.test.size() + 1.0);  // 1 dB better than its input, on average
    CHECK(ola / set.test.size() > noisy / set.test.size() + 1.0);
  }
}

TEST_CASE("segan: a window that the encoder cannot halve --layers times is refused, naming both", "[train][segan]") {
  test::TempDir tmp("duel_segan_window");
  test::write_speech_fixture(tmp.dir / "speech");
  train::RunOptions o = segan_run(tmp.dir / "run", tmp.dir / "speech", "gan", 2);
  o.extra["window"] = "500";  // 4 layers need a multiple of 16
  train::Run run(o);
  REQUIRE_THROWS_WITH(train::fit(run), Catch::Contains("--window 500") && Catch::Contains("2^--layers = 16"));
}
