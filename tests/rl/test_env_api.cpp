// The Env interface, the make_env factory and the renderers.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <vector>

#include "rl/envs/breakout.h"
#include "rl/envs/cartpole.h"
#include "rl/envs/env.h"
#include "rl/envs/render.h"
#include "tensor/error.h"

using namespace duel::rl;

TEST_CASE("make_env builds every environment with the documented shapes", "[rl][env]") {
  struct Expect {
    const char* name;
    std::vector<int64_t> shape;
    int actions;
  };
  const Expect expected[] = {
      {"cartpole", {4}, 2},           {"breakout", {4, 10, 10}, 6}, {"freeway", {7, 10, 10}, 6},
      {"asterix", {4, 10, 10}, 6},    {"space_invaders", {6, 10, 10}, 6}, {"seaquest", {10, 10, 10}, 6},
  };
  REQUIRE(env_names().size() == std::size(expected));
  for (const Expect& e : expected) {
    INFO(e.name);
    auto env = make_env(e.name);
    CHECK(env->name() == e.name);
    CHECK(env->obs_shape().to_vector() == e.shape);
    CHECK(env->num_actions() == e.actions);
    CHECK(env->obs_dtype() == (e.shape.size() == 1 ? ObsDType::kFloat32 : ObsDType::kUInt8));
    env->reset(uint64_t{1});
    std::vector<float> obs(env->obs_size(), -1.0f);
    env->observe(obs.data());
    for (int t = 0; t < 20; ++t) {
      const StepResult r = env->step(t % env->num_actions());
      if (r.done()) env->reset();
    }
    CHECK_THROWS_AS(env->step(env->num_actions()), duel::Error);
    CHECK_THROWS_AS(env->step(-1), duel::Error);
    CHECK_FALSE(env->action_name(0).empty());
  }
}

TEST_CASE("make_env rejects unknown names and lists the valid ones", "[rl][env]") {
  try {
    make_env("pong");
    FAIL("no exception");
  } catch (const duel::Error& e) {
    const std::string msg = e.what();
    CHECK(msg.find("'pong'") != std::string::npos);
    for (const std::string& n : env_names()) CHECK(msg.find(n) != std::string::npos);
  }
  CHECK_THROWS_AS(make_env("Breakout"), duel::Error);  // names are exact
}

TEST_CASE("MinAtar observations: uint8 and float agree, channel-major layout", "[rl][env]") {
  auto env = make_env("space_invaders");
  env->reset(uint64_t{3});
  std::vector<uint8_t> u8(env->obs_size());
  std::vector<float> f32(env->obs_size());
  env->observe(u8.data());
  env->observe(f32.data());
  for (size_t i = 0; i < u8.size(); ++i) REQUIRE(f32[i] == static_cast<float>(u8[i]));
  // The cannon (channel 0) sits in row 9, column 5: index 0 * 100 + 9 * 10 + 5.
  CHECK(u8[95] == 1);
  // Aliens (channel 1) fill rows 0-3, columns 2-7.
  CHECK(u8[100 + 0 * 10 + 2] == 1);
  CHECK(u8[100 + 3 * 10 + 7] == 1);
  CHECK(u8[100 + 4 * 10 + 7] == 0);
}

TEST_CASE("render_text draws one character per cell with a legend", "[rl][render]") {
  BreakoutEnv env;
  env.reset(uint64_t{0});
  const std::string text = render_text(env);
  INFO(text);
  CHECK(text.find("+----------+\n") == 0);
  CHECK(text.find("|##########|") != std::string::npos);  // a brick row
  CHECK(text.find("legend:") != std::string::npos);
  CHECK(text.find("= paddle") != std::string::npos);
  CHECK(text.find("# brick") != std::string::npos);
  // 12 grid lines + the legend.
  CHECK(std::count(text.begin(), text.end(), '\n') == 13);
  for (const std::string& name : env_names()) {
    auto e = make_env(name);
    CHECK_FALSE(render_text(*e).empty());
  }
  CartPoleEnv cp;
  const std::string ct = render_text(cp);
  CHECK(ct.find('C') != std::string::npos);
  CHECK(ct.find("theta=") != std::string::npos);
}

TEST_CASE("render_rgb, write_ppm and write_png produce upscaled frames", "[rl][render]") {
  namespace fs = std::filesystem;
  BreakoutEnv env;
  env.reset(uint64_t{0});
  const Image img = render_rgb(env, 20);
  CHECK(img.width == 200);
  CHECK(img.height == 200);
  REQUIRE(img.rgb.size() == 200u * 200u * 3u);
  auto px = [&](int x, int y) { return &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3]; };
  // A brick cell (row 1) has the brick colour across its 20x20 block; row 0 is empty.
  const auto brick = env.channels()[BreakoutEnv::kBrick].rgb;
  for (int y : {20, 39})
    for (int x : {0, 19, 199}) {
      CHECK(px(x, y)[0] == brick[0]);
      CHECK(px(x, y)[1] == brick[1]);
      CHECK(px(x, y)[2] == brick[2]);
    }
  CHECK(px(100, 10)[0] == 0);

  const fs::path dir = fs::temp_directory_path() / "duel_rl_render_test";
  fs::create_directories(dir);
  write_ppm(env, (dir / "frame.ppm").string(), 4);
  std::ifstream ppm(dir / "frame.ppm", std::ios::binary);
  std::string magic;
  int w = 0, h = 0, maxv = 0;
  ppm >> magic >> w >> h >> maxv;
  CHECK(magic == "P6");
  CHECK(w == 40);
  CHECK(h == 40);
  CHECK(maxv == 255);
  CHECK(fs::file_size(dir / "frame.ppm") == 13 + 40u * 40u * 3u);  // "P6\n40 40\n255\n" + pixels

  write_png(env, (dir / "frame.png").string());
  std::ifstream png(dir / "frame.png", std::ios::binary);
  char sig[8] = {};
  png.read(sig, 8);
  CHECK(std::string(sig + 1, 3) == "PNG");

  CartPoleEnv cp;
  const Image cimg = render_rgb(cp);
  CHECK(cimg.width == 600);
  CHECK(cimg.height == 400);
  write_png(cp, (dir / "cartpole.png").string());
  CHECK(fs::file_size(dir / "cartpole.png") > 100);
  // frames are written atomically: a write that cannot happen throws naming the file
  CHECK_THROWS_WITH(write_png(cp, (dir / "no-such-folder" / "f.png").string()), Catch::Contains("no-such-folder/f.png"));
  CHECK_THROWS_WITH(write_ppm(cp, (dir / "no-such-folder" / "f.ppm").string()), Catch::Contains("no-such-folder/f.ppm"));
  fs::remove_all(dir);
  CHECK_THROWS_AS(write_ppm(env, "/nonexistent-dir/x.ppm"), duel::Error);
}
