// Text and image renderers for the duel::rl environments (see render.h).
#include "rl/envs/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "rl/envs/cartpole.h"
#include "rl/envs/minatar.h"
#include "tensor/error.h"

#include "data/image.h"
#include "tensor/serialize.h"

namespace duel::rl {

namespace {

constexpr int N = MinAtarEnv::kSize;

// For each cell, the highest-numbered channel set there, or -1.
std::vector<int> top_channels(const MinAtarEnv& env) {
  std::vector<uint8_t> grid(env.obs_size());
  env.observe(grid.data());
  std::vector<int> top(N * N, -1);
  for (int c = 0; c < env.n_channels(); ++c)
    for (int i = 0; i < N * N; ++i)
      if (grid[c * N * N + i]) top[i] = c;
  return top;
}

std::string render_minatar_text(const MinAtarEnv& env) {
  const auto top = top_channels(env);
  const auto channels = env.channels();
  std::ostringstream os;
  os << '+' << std::string(N, '-') << "+\n";
  for (int y = 0; y < N; ++y) {
    os << '|';
    for (int x = 0; x < N; ++x) {
      const int c = top[y * N + x];
      os << (c < 0 ? ' ' : channels[c].glyph);
    }
    os << "|\n";
  }
  os << '+' << std::string(N, '-') << "+\nlegend:";
  for (const ChannelInfo& ch : channels) os << "  " << ch.glyph << ' ' << ch.name;
  os << "  (empty: ' ')\n";
  return os.str();
}

std::string render_cartpole_text(const CartPoleEnv& env) {
  // 49 columns span x in [-2.4, 2.4] (0.1 per column); the pole is drawn above the cart.
  constexpr int kCols = 49;
  const auto& s = env.state();
  const double u = (s.x + CartPoleEnv::kXThreshold) / (2 * CartPoleEnv::kXThreshold);
  const int col = std::clamp(static_cast<int>(std::lround(u * (kCols - 1))), 0, kCols - 1);
  const char pole = s.theta > 0.05 ? '/' : s.theta < -0.05 ? '\\' : '|';
  std::string pole_row(kCols + 2, ' '), cart_row(kCols + 2, ' ');
  pole_row[col + 1] = pole;
  cart_row[col + 1] = 'C';
  std::string track(kCols + 2, '=');
  track.front() = '[';
  track.back() = ']';
  char numbers[160];
  std::snprintf(numbers, sizeof numbers, "x=%+.3f x_dot=%+.3f theta=%+.4f (%+.1f deg) theta_dot=%+.3f step=%d\n",
                s.x, s.x_dot, s.theta, s.theta * 180.0 / 3.141592653589793, s.theta_dot, env.elapsed_steps());
  std::ostringstream os;
  os << pole_row << '\n' << cart_row << '\n' << track << '\n' << numbers
     << "legend:  C cart  / | \\ pole leaning right / upright / left  [ ] track ends at x = -2.4 / +2.4\n";
  return os.str();
}

Image render_minatar_rgb(const MinAtarEnv& env, int cell_px) {
  DUEL_CHECK(cell_px >= 1 && cell_px <= 256, "render_rgb: cell_px must be in [1, 256], got ", cell_px);
  const auto top = top_channels(env);
  const auto channels = env.channels();
  Image img{N * cell_px, N * cell_px, {}};
  img.rgb.assign(static_cast<size_t>(img.width) * img.height * 3, 0);
  for (int py = 0; py < img.height; ++py)
    for (int px = 0; px < img.width; ++px) {
      const int c = top[(py / cell_px) * N + px / cell_px];
      if (c < 0) continue;
      std::copy_n(channels[c].rgb, 3, &img.rgb[(static_cast<size_t>(py) * img.width + px) * 3]);
    }
  return img;
}

Image render_cartpole_rgb(const CartPoleEnv& env) {
  // Gymnasium's layout: 600x400, 125 px per metre, cart 50x30 centred 100 px above the
  // bottom on the track line, axle 7.5 px above the cart's centre, pole 10 px wide and
  // 2 * length (125 px) long, white background.
  constexpr int W = 600, H = 400;
  constexpr double kScale = W / (2 * CartPoleEnv::kXThreshold);
  const auto& s = env.state();
  Image img{W, H, std::vector<uint8_t>(W * H * 3, 255)};
  auto put = [&](int x, int y_up, const uint8_t (&c)[3]) {  // y_up: pixels above the bottom
    const int y = H - 1 - y_up;
    if (x < 0 || x >= W || y < 0 || y >= H) return;
    std::copy_n(c, 3, &img.rgb[(static_cast<size_t>(y) * W + x) * 3]);
  };
  constexpr uint8_t kBlack[3] = {0, 0, 0}, kPole[3] = {202, 152, 101}, kAxle[3] = {129, 132, 203};
  const double cart_x = s.x * kScale + W / 2.0;
  const double cart_y = 100;
  for (int x = 0; x < W; ++x) put(x, static_cast<int>(cart_y), kBlack);  // track
  for (int y = -15; y <= 15; ++y)
    for (int x = -25; x <= 25; ++x) put(static_cast<int>(std::lround(cart_x)) + x, static_cast<int>(cart_y) + y, kBlack);
  // Pole: pixels within 5 px of the segment from the axle along the pole's angle.
  const double ax = cart_x, ay = cart_y + 30 / 4.0;
  const double len = kScale * 2 * CartPoleEnv::kLength;
  const double dx = std::sin(s.theta), dy = std::cos(s.theta);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const double rx = x - ax, ry = y - ay;
      const double t = std::clamp(rx * dx + ry * dy, 0.0, len);
      const double ex = rx - t * dx, ey = ry - t * dy;
      if (ex * ex + ey * ey <= 25.0) put(x, y, kPole);
      if (rx * rx + ry * ry <= 25.0) put(x, y, kAxle);
    }
  return img;
}

}  // namespace

std::string render_text(const Env& env) {
  if (auto* m = dynamic_cast<const MinAtarEnv*>(&env)) return render_minatar_text(*m);
  if (auto* c = dynamic_cast<const CartPoleEnv*>(&env)) return render_cartpole_text(*c);
  DUEL_FAIL("render_text: no text renderer for environment '", env.name(), "'");
}

Image render_rgb(const Env& env, int cell_px) {
  if (auto* m = dynamic_cast<const MinAtarEnv*>(&env)) return render_minatar_rgb(*m, cell_px);
  if (auto* c = dynamic_cast<const CartPoleEnv*>(&env)) return render_cartpole_rgb(*c);
  DUEL_FAIL("render_rgb: no renderer for environment '", env.name(), "'");
}

// Both write atomically (tensor/serialize.h): a failed write throws and leaves the previous file.
void write_ppm(const Image& image, const std::string& path) {
  std::string bytes = "P6\n" + std::to_string(image.width) + " " + std::to_string(image.height) + "\n255\n";
  bytes.append(reinterpret_cast<const char*>(image.rgb.data()), image.rgb.size());
  write_file_atomic(path, bytes.data(), bytes.size(), "write_ppm");
}

void write_png(const Image& image, const std::string& path) {
  ::duel::Image rgb(image.width, image.height, 3);
  rgb.pixels = image.rgb;
  save_png(path, rgb);
}

void write_ppm(const Env& env, const std::string& path, int cell_px) { write_ppm(render_rgb(env, cell_px), path); }
void write_png(const Env& env, const std::string& path, int cell_px) { write_png(render_rgb(env, cell_px), path); }

}  // namespace duel::rl
