// PNG output, image grids and plots, checked by reading the files back with stb_image.
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "data/image.h"
#include "data/toy.h"
#include "duel.h"
#include "tensor/serialize.h"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>

using namespace duel;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

// Writes into $DUEL_TEST_PNG_DIR when set (to look at the pictures), else a temp dir.
struct OutDir {
  fs::path path;
  bool keep;
  OutDir() {
    const char* env = std::getenv("DUEL_TEST_PNG_DIR");
    keep = env && *env;
    path = keep ? fs::path(env) : fs::temp_directory_path() / ("duel_test_png_" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~OutDir() {
    std::error_code ec;
    if (!keep) fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& n) const { return (path / n).string(); }
};

struct Loaded {
  int w = 0, h = 0, c = 0;
  std::vector<uint8_t> px;
  const uint8_t* at(int x, int y) const { return &px[((size_t)y * w + x) * c]; }
};
Loaded stb_read(const std::string& p) {
  Loaded l;
  unsigned char* d = stbi_load(p.c_str(), &l.w, &l.h, &l.c, 0);
  REQUIRE(d != nullptr);
  l.px.assign(d, d + (size_t)l.w * l.h * l.c);
  stbi_image_free(d);
  return l;
}
size_t count_colour(const Loaded& l, uint32_t rgb, int tol = 8) {
  size_t n = 0;
  for (int y = 0; y < l.h; ++y)
    for (int x = 0; x < l.w; ++x) {
      const uint8_t* p = l.at(x, y);
      if (std::abs(p[0] - (int)(rgb >> 16 & 255)) <= tol && std::abs(p[1] - (int)(rgb >> 8 & 255)) <= tol &&
          std::abs(p[2] - (int)(rgb & 255)) <= tol)
        ++n;
    }
  return n;
}

}  // namespace

TEST_CASE("image: save_png from float CHW and integer HWC tensors", "[data][image]") {
  OutDir out;
  // [3, 2, 4]: R = -1, 0, 1 across; G = 1; B = -1
  Tensor img = zeros({3, 2, 4});
  std::vector<float> v(24);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 4; ++x) {
      v[(0 * 2 + y) * 4 + x] = -1.0f + x * 2.0f / 3.0f;
      v[(1 * 2 + y) * 4 + x] = 1.0f;
      v[(2 * 2 + y) * 4 + x] = -1.0f;
    }
  img = from_vector(v, {3, 2, 4});
  save_png(out / "rgb.png", img);
  Loaded l = stb_read(out / "rgb.png");
  REQUIRE(l.w == 4);
  REQUIRE(l.h == 2);
  REQUIRE(l.c == 3);
  REQUIRE((int)l.at(0, 0)[0] == 0);
  REQUIRE((int)l.at(3, 1)[0] == 255);
  REQUIRE((int)l.at(1, 0)[0] == 85);
  REQUIRE((int)l.at(2, 1)[1] == 255);
  REQUIRE((int)l.at(2, 1)[2] == 0);

  // grey [H, W] with a custom range and a non-contiguous view
  Tensor g = from_vector(std::vector<float>{0, 0.5f, 1, 2}, {2, 2}).t();
  save_png(out / "grey.png", g, 0.0, 1.0);
  l = stb_read(out / "grey.png");
  REQUIRE((l.w == 2 && l.h == 2 && l.c == 1));
  REQUIRE(std::vector<int>(l.px.begin(), l.px.end()) == std::vector<int>{0, 255, 128, 255});

  // int64 HWC bytes
  Tensor hwc = from_vector(std::vector<int64_t>{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 300}, {2, 2, 3}, kInt64);
  save_png(out / "hwc.png", hwc);
  l = stb_read(out / "hwc.png");
  REQUIRE(std::vector<int>(l.px.begin(), l.px.end()) == std::vector<int>{255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 255});
  REQUIRE(load_png(out / "hwc.png").pixels == l.px);

  REQUIRE_THROWS_WITH(save_png(out / "no/such/dir/x.png", img), Contains("x.png"));
  REQUIRE_THROWS_WITH(save_png(out / "bad.png", zeros({2, 5, 5})), Contains("C = 1, 3 or 4"));
}

TEST_CASE("image: save_image_grid layout", "[data][image]") {
  OutDir out;
  // 5 images [1, 4, 3]; image k has the constant value -1 + 0.5 k
  std::vector<float> v;
  for (int k = 0; k < 5; ++k)
    for (int i = 0; i < 12; ++i) v.push_back(-1.0f + 0.5f * k);
  Tensor imgs = from_vector(v, {5, 1, 4, 3});
  save_image_grid(out / "grid.png", imgs, /*nrow=*/3, /*padding=*/2, /*upscale=*/2, /*pad_value=*/1.0);
  Loaded l = stb_read(out / "grid.png");
  REQUIRE(l.c == 1);
  REQUIRE(l.w == (3 * (3 + 2) + 2) * 2);
  REQUIRE(l.h == (2 * (4 + 2) + 2) * 2);
  REQUIRE((int)l.at(0, 0)[0] == 255);                     // padding
  REQUIRE((int)l.at(2 * 2, 2 * 2)[0] == 0);               // image 0 = -1
  REQUIRE((int)l.at((2 + 5) * 2 + 1, 2 * 2)[0] == 64);    // image 1 = -0.5
  REQUIRE((int)l.at((2 + 5 + 5) * 2, 2 * 2 + 7)[0] == 128);  // image 2 = 0
  REQUIRE((int)l.at(2 * 2, (2 + 6) * 2)[0] == 191);       // image 3 (second row) = 0.5
  REQUIRE((int)l.at((2 + 5 + 5) * 2, (2 + 6) * 2)[0] == 255);  // empty slot: padding

  // real-looking sample: Fashion-MNIST-sized noise in RGB
  Generator gen(3);
  save_image_grid(out / "grid_rgb.png", tanh(randn({10, 3, 28, 28}, {}, &gen)), 5, 2, 1);
  l = stb_read(out / "grid_rgb.png");
  REQUIRE((l.w == 5 * 30 + 2 && l.h == 2 * 30 + 2 && l.c == 3));
}

TEST_CASE("image: plot_curves", "[data][image]") {
  OutDir out;
  Series loss_d{"loss_D", {}, {}}, loss_g{"loss_G", {}, {}};
  Generator gen(0);
  auto noise = randn({400}, kFloat64, &gen).to_vector<double>();
  for (int i = 0; i < 400; ++i) {
    loss_d.y.push_back(-2.0 * std::exp(-i / 120.0) + 0.3 * noise[i]);
    loss_g.y.push_back(1.5 * std::exp(-i / 200.0) + 0.1 * noise[(i * 7) % 400]);
  }
  PlotOptions o;
  o.title = "WGAN-GP losses (smoothed, window 20)";
  o.x_label = "iteration";
  o.y_label = "loss";
  o.smooth = 20;
  plot_curves(out / "curves.png", {loss_d, loss_g}, o);
  Loaded l = stb_read(out / "curves.png");
  REQUIRE((l.w == 800 && l.h == 500 && l.c == 3));
  REQUIRE(count_colour(l, 0x1f77b4) > 300);  // first series (tab10 blue)
  REQUIRE(count_colour(l, 0xff7f0e) > 300);  // second series (orange)
  REQUIRE(count_colour(l, 0x000000, 0) > 1000);  // axes and text
  REQUIRE(count_colour(l, 0xffffff, 0) > 200000);

  // log scale with x values, a gap (NaN) and small size, plus the short signature
  Series s{"grad norm", {}, {}};
  for (int i = 1; i <= 50; ++i) {
    s.x.push_back(i * 100.0);
    s.y.push_back(i == 25 ? NAN : 1000.0 / (i * i));
  }
  PlotOptions lo;
  lo.log_y = true;
  lo.width = 480;
  lo.height = 320;
  lo.title = "log y";
  plot_curves(out / "curves_log.png", {s}, lo);
  l = stb_read(out / "curves_log.png");
  REQUIRE((l.w == 480 && l.h == 320));
  REQUIRE(count_colour(l, 0x1f77b4) > 100);
  plot_curves(out / "curves_short.png", {Series{"flat", {1, 1, 1}, {}}}, "constant series", 400, 300);
  REQUIRE(stb_read(out / "curves_short.png").w == 400);
  REQUIRE_THROWS_WITH(plot_curves(out / "x.png", {Series{"a", {1, 2}, {1}}}), Contains("2 y values but 1 x values"));
}

TEST_CASE("image: plot_scatter_with_contour (WGAN-GP toy picture)", "[data][image]") {
  OutDir out;
  ToyDistribution d(ToyKind::EightGaussians);
  Generator gen(1);
  Tensor real = d.sample(512, gen);
  Tensor fake = randn({512, 2}, {}, &gen) * 0.7;
  const int64_t steps = 64;
  Tensor grid = grid_points(steps, -3, 3);
  // a stand-in critic: high near the real modes
  Tensor field = zeros({steps * steps});
  {
    auto g = grid.to_vector<double>();
    auto c = d.centres().to_vector<double>();
    std::vector<double> f(steps * steps, 0.0);
    for (int64_t i = 0; i < steps * steps; ++i)
      for (size_t j = 0; j < c.size(); j += 2)
        f[i] += std::exp(-(std::pow(g[2 * i] - c[j], 2) + std::pow(g[2 * i + 1] - c[j + 1], 2)) / 0.3);
    field = from_vector(f, {steps, steps});
  }
  ScatterOptions o;
  o.title = "8gaussians: critic, real (orange), fake (green)";
  plot_scatter_with_contour(out / "toy.png", field, {{"real", real}, {"generated", fake}}, o);
  Loaded l = stb_read(out / "toy.png");
  REQUIRE((l.w == 600 && l.h == 600 && l.c == 3));
  REQUIRE(count_colour(l, 0xff7f0e, 0) > 300);  // real points
  REQUIRE(count_colour(l, 0x2ca02c, 0) > 300);  // generated points
  REQUIRE(count_colour(l, 0x440154, 12) > 1000);  // viridis low end fills the background

  // no field: points only
  plot_scatter_with_contour(out / "toy_points.png", Tensor(), {{"real", real}});
  REQUIRE(stb_read(out / "toy_points.png").w == 600);
  REQUIRE_THROWS_WITH(plot_scatter_with_contour(out / "x.png", zeros({5}), {}), Contains("[GH, GW]"));
}

// ---------------------------------------------------------------------------
// Write failures: a PNG is replaced atomically or not at all
// ---------------------------------------------------------------------------

namespace {

std::vector<char> file_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}
size_t files_in(const fs::path& d) {
  return (size_t)std::distance(fs::directory_iterator(d), fs::directory_iterator());
}
Tensor noise_image(int64_t h, int64_t w, uint64_t seed) {
  Generator gen(seed);
  return rand({3, h, w}, kFloat32, &gen) * 2.0 - 1.0;  // incompressible: the PNG is about 3 h w bytes
}

// Lowers the file size limit of this process (RLIMIT_FSIZE): writing past it fails with EFBIG,
// as writing to a full disk fails with ENOSPC, also for root. SIGXFSZ is ignored meanwhile.
struct FileSizeLimit {
  struct rlimit old {};
  void (*old_handler)(int);
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = old;
    lim.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lim) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
  }
};

}  // namespace

TEST_CASE("image: a failed PNG write throws naming the file and leaves the previous file intact",
          "[data][image]") {
  OutDir out;
  const fs::path sub = out.path / "atomic";
  fs::remove_all(sub);
  fs::create_directories(sub);
  const std::string p = (sub / "samples_latest.png").string();
  save_png(p, noise_image(32, 32, 1));
  const auto before = file_bytes(p);
  REQUIRE(before.size() > 3000);

  SECTION("the disk fills up mid-write (file size limit)") {
    {
      FileSizeLimit limit(1000);
      REQUIRE_THROWS_WITH(save_png(p, noise_image(64, 64, 2)),
                          Contains("save_png") && Contains("samples_latest.png") && Contains("File too large"));
      REQUIRE_THROWS_WITH(save_image_grid(p, noise_image(64, 64, 3).unsqueeze(0)), Contains("samples_latest.png"));
      REQUIRE_THROWS_WITH(plot_curves(p, {Series{"loss", {3, 2, 1}}}), Contains("samples_latest.png"));
    }
    REQUIRE(file_bytes(p) == before);  // not overwritten in place with a short file
    REQUIRE(files_in(sub) == 1);       // no temporary file left behind
    REQUIRE(load_png(p).width == 32);
  }
  SECTION("a write fails after some bytes (test hook)") {
    testing::set_checkpoint_write_hook([](uint64_t) { throw duel::Error("simulated write error"); });
    REQUIRE_THROWS_WITH(save_png(p, noise_image(16, 16, 4)), Contains("simulated write error"));
    testing::set_checkpoint_write_hook({});
    REQUIRE(file_bytes(p) == before);
    REQUIRE(files_in(sub) == 1);
  }
  SECTION("the folder does not exist, or is a file") {
    REQUIRE_THROWS_WITH(save_png((sub / "no" / "such" / "x.png").string(), noise_image(8, 8, 5)),
                        Contains("save_png") && Contains("x.png") && Contains("does the directory exist"));
    REQUIRE_THROWS_WITH(save_png(p + "/x.png", noise_image(8, 8, 5)),
                        Contains("x.png") && Contains("does the directory exist"));
    REQUIRE_THROWS_WITH(plot_curves((sub / "missing" / "losses.png").string(), {Series{"loss", {3, 2, 1}}}),
                        Contains("losses.png"));
    REQUIRE(file_bytes(p) == before);
  }
  SECTION("the folder is read-only") {
    if (::geteuid() == 0) {
      WARN("running as root, which may write into read-only folders; read-only case skipped");
      return;
    }
    fs::permissions(sub, fs::perms::owner_read | fs::perms::owner_exec);
    CHECK_THROWS_WITH(save_png(p, noise_image(8, 8, 6)), Contains("samples_latest.png") && Contains("writable"));
    fs::permissions(sub, fs::perms::owner_all);
    REQUIRE(file_bytes(p) == before);
  }
  SECTION("a successful save replaces the file") {
    save_png(p, noise_image(20, 24, 7));
    Image img = load_png(p);
    REQUIRE((img.width == 24 && img.height == 20));
    REQUIRE(files_in(sub) == 1);
  }
}
