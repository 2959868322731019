#include "data/image.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "tensor/serialize.h"

// stb (Debian libstb-dev headers), compiled here with static linkage so that no stb symbol
// leaks out of libduel (no clash with a program that links libstb or its own copy).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO  // stb's file writer ignores write errors; save_png writes atomically itself
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include <stb/stb_image.h>
#include <stb/stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace duel {

// ---------------------------------------------------------------------------
// PNG files and tensors
// ---------------------------------------------------------------------------

void save_png(const std::string& path, const Image& img) {
  DUEL_CHECK(img.width > 0 && img.height > 0, "save_png: '", path, "': empty image (", img.width, "x", img.height, ")");
  DUEL_CHECK(img.channels >= 1 && img.channels <= 4, "save_png: '", path, "': channels must be 1..4, got ", img.channels);
  DUEL_CHECK(img.pixels.size() == (size_t)img.width * img.height * img.channels, "save_png: '", path,
             "': pixel buffer size does not match ", img.width, "x", img.height, "x", img.channels);
  // stb's own file writer ignores fwrite/fclose errors (a full disk gave a 0-byte PNG and
  // "success"), so encode into memory and write the bytes atomically (tensor/serialize.h): a
  // failed write throws and leaves the previous picture in place.
  std::vector<unsigned char> png;
  auto append = [](void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<unsigned char>*>(ctx);
    const auto* p = static_cast<const unsigned char*>(data);
    out->insert(out->end(), p, p + size);
  };
  if (!stbi_write_png_to_func(append, &png, img.width, img.height, img.channels, img.pixels.data(),
                              img.width * img.channels) ||
      png.empty())
    DUEL_FAIL("save_png: encoding the ", img.width, "x", img.height, "x", img.channels, " image for '", path,
              "' failed (out of memory?)");
  write_file_atomic(path, png.data(), png.size(), "save_png");
}

Image load_png(const std::string& path) {
  int w = 0, h = 0, c = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &c, 0);
  if (!data) DUEL_FAIL("load_png: cannot read '", path, "': ", stbi_failure_reason());
  Image img(w, h, c);
  std::memcpy(img.pixels.data(), data, img.pixels.size());
  stbi_image_free(data);
  return img;
}

namespace {

inline uint8_t to_byte(double v, double lo, double hi) {
  double t = (v - lo) / (hi - lo);
  if (!(t >= 0)) t = 0;  // also NaN
  if (t > 1) t = 1;
  return (uint8_t)std::lround(t * 255.0);
}

}  // namespace

Image tensor_to_image(const Tensor& t, double lo, double hi) {
  DUEL_CHECK(t.defined(), "tensor_to_image: undefined tensor");
  DUEL_CHECK(hi > lo, "tensor_to_image: need lo < hi, got [", lo, ", ", hi, "]");
  NoGradGuard no_grad;
  if (is_floating(t.dtype())) {
    DUEL_CHECK(t.dim() == 2 || t.dim() == 3, "tensor_to_image: a floating image must be [C, H, W] or [H, W], got ",
               shape_str(t.sizes()));
    Tensor chw = t.dim() == 2 ? t.unsqueeze(0) : t;
    const int64_t c = chw.size(0), h = chw.size(1), w = chw.size(2);
    DUEL_CHECK(c == 1 || c == 3 || c == 4, "tensor_to_image: [C, H, W] needs C = 1, 3 or 4, got ", shape_str(t.sizes()),
               " (an [H, W, C] float image? permute({2, 0, 1}) it)");
    DUEL_CHECK(h > 0 && w > 0, "tensor_to_image: empty image ", shape_str(t.sizes()));
    auto v = chw.to_vector<double>();
    Image img((int)w, (int)h, (int)c);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) img.at((int)x, (int)y)[ch] = to_byte(v[(ch * h + y) * w + x], lo, hi);
    return img;
  }
  DUEL_CHECK(t.dim() == 2 || t.dim() == 3, "tensor_to_image: an integer image must be [H, W, C] or [H, W], got ",
             shape_str(t.sizes()));
  const int64_t h = t.size(0), w = t.size(1), c = t.dim() == 3 ? t.size(2) : 1;
  DUEL_CHECK(c >= 1 && c <= 4, "tensor_to_image: [H, W, C] needs C = 1..4, got ", shape_str(t.sizes()));
  auto v = t.to_vector<int64_t>();
  Image img((int)w, (int)h, (int)c);
  for (size_t i = 0; i < v.size(); ++i) img.pixels[i] = (uint8_t)std::clamp<int64_t>(v[i], 0, 255);
  return img;
}

void save_png(const std::string& path, const Tensor& image, double lo, double hi) {
  save_png(path, tensor_to_image(image, lo, hi));
}

Image make_image_grid(const Tensor& images, int nrow, int padding, int upscale, double pad_value, double lo, double hi) {
  DUEL_CHECK(images.defined() && images.dim() == 4, "make_image_grid: images must be [N, C, H, W], got ",
             images.defined() ? shape_str(images.sizes()) : std::string("an undefined tensor"));
  DUEL_CHECK(is_floating(images.dtype()), "make_image_grid: images must be floating (values in [", lo, ", ", hi,
             "]), got ", dtype_name(images.dtype()));
  DUEL_CHECK(nrow >= 1 && padding >= 0 && upscale >= 1, "make_image_grid: need nrow >= 1, padding >= 0, upscale >= 1");
  DUEL_CHECK(hi > lo, "make_image_grid: need lo < hi");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  DUEL_CHECK(n >= 1 && h >= 1 && w >= 1, "make_image_grid: no images in ", shape_str(images.sizes()));
  DUEL_CHECK(c == 1 || c == 3, "make_image_grid: C must be 1 or 3, got ", shape_str(images.sizes()));
  NoGradGuard no_grad;
  const auto v = images.to_vector<float>();
  const int cols = (int)std::min<int64_t>(nrow, n), rows = (int)((n + nrow - 1) / nrow);
  const int gw = cols * (int)(w + padding) + padding, gh = rows * (int)(h + padding) + padding;
  Image grid(gw * upscale, gh * upscale, (int)c, to_byte(pad_value, lo, hi));
  for (int64_t k = 0; k < n; ++k) {
    const int ox = padding + (int)(k % nrow) * (int)(w + padding), oy = padding + (int)(k / nrow) * (int)(h + padding);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const uint8_t b = to_byte(v[((k * c + ch) * h + y) * w + x], lo, hi);
          for (int sy = 0; sy < upscale; ++sy)
            for (int sx = 0; sx < upscale; ++sx)
              grid.at((ox + (int)x) * upscale + sx, (oy + (int)y) * upscale + sy)[ch] = b;
        }
  }
  return grid;
}

void save_image_grid(const std::string& path, const Tensor& images, int nrow, int padding, int upscale,
                     double pad_value, double lo, double hi) {
  save_png(path, make_image_grid(images, nrow, padding, upscale, pad_value, lo, hi));
}

// ---------------------------------------------------------------------------
// A tiny RGB rasteriser
// ---------------------------------------------------------------------------

namespace {

struct Rgb {
  uint8_t r, g, b;
};
Rgb hex(uint32_t v) { return {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v}; }

const uint32_t kTab10[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                             0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
const Rgb kBlack{0, 0, 0}, kWhite{255, 255, 255}, kGrid{225, 225, 225}, kText{30, 30, 30};

class Canvas {
 public:
  Canvas(int w, int h, Rgb bg) : img(w, h, 3) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) set(x, y, bg);
  }
  int w() const { return img.width; }
  int h() const { return img.height; }

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    uint8_t* p = img.at(x, y);
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void blend(int x, int y, Rgb c, double a) {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height || a <= 0) return;
    if (clip_ && (x < cx0_ || x > cx1_ || y < cy0_ || y > cy1_)) return;
    a = std::min(a, 1.0);
    uint8_t* p = img.at(x, y);
    p[0] = (uint8_t)std::lround(p[0] + (c.r - p[0]) * a);
    p[1] = (uint8_t)std::lround(p[1] + (c.g - p[1]) * a);
    p[2] = (uint8_t)std::lround(p[2] + (c.b - p[2]) * a);
  }
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c) {  // inclusive
    for (int y = std::max(0, y0); y <= std::min(h() - 1, y1); ++y)
      for (int x = std::max(0, x0); x <= std::min(w() - 1, x1); ++x) set(x, y, c);
  }
  void hline(int x0, int x1, int y, Rgb c) { fill_rect(std::min(x0, x1), y, std::max(x0, x1), y, c); }
  void vline(int x, int y0, int y1, Rgb c) { fill_rect(x, std::min(y0, y1), x, std::max(y0, y1), c); }
  void rect(int x0, int y0, int x1, int y1, Rgb c) {
    hline(x0, x1, y0, c), hline(x0, x1, y1, c), vline(x0, y0, y1, c), vline(x1, y0, y1, c);
  }
  void set_clip(int x0, int y0, int x1, int y1) { clip_ = true, cx0_ = x0, cy0_ = y0, cx1_ = x1, cy1_ = y1; }
  void no_clip() { clip_ = false; }

  // Anti-aliased segment of the given width (coverage from the distance to the segment).
  void line(double x0, double y0, double x1, double y1, Rgb c, double width = 1.5, double alpha = 1.0) {
    const double r = width / 2;
    const int bx0 = (int)std::floor(std::min(x0, x1) - r - 1), bx1 = (int)std::ceil(std::max(x0, x1) + r + 1);
    const int by0 = (int)std::floor(std::min(y0, y1) - r - 1), by1 = (int)std::ceil(std::max(y0, y1) + r + 1);
    const double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int y = std::max(by0, 0); y <= std::min(by1, h() - 1); ++y)
      for (int x = std::max(bx0, 0); x <= std::min(bx1, w() - 1); ++x) {
        double t = len2 > 0 ? ((x - x0) * dx + (y - y0) * dy) / len2 : 0;
        t = std::clamp(t, 0.0, 1.0);
        const double px = x0 + t * dx - x, py = y0 + t * dy - y;
        const double d = std::sqrt(px * px + py * py);
        const double cov = std::clamp(r + 0.5 - d, 0.0, 1.0);
        if (cov > 0) blend_max(x, y, c, cov * alpha);
      }
    flush_stroke();
  }

  // Text with the stb_easy_font bitmap font at integer `scale`; (x, y) is the top-left corner.
  // Characters are drawn one at a time so that the slash of the font's '0' can be left out
  // (at small sizes a slashed zero reads as a 6).
  void text(int x, int y, const std::string& s, Rgb c, int scale) {
    std::string t = printable(s);
    char buf[64 * 64];
    int cx = 0;
    for (char ch : t) {
      char one[2] = {ch, 0};
      const int quads = stb_easy_font_print(0, 0, one, nullptr, buf, (int)sizeof buf);
      for (int q = 0; q < quads; ++q) {
        float v0[2], v2[2];
        std::memcpy(v0, buf + q * 64, sizeof v0);
        std::memcpy(v2, buf + q * 64 + 32, sizeof v2);
        const int qx0 = (int)std::lround(v0[0]), qy0 = (int)std::lround(v0[1]);
        const int qx1 = (int)std::lround(v2[0]), qy1 = (int)std::lround(v2[1]);
        if (ch == '0' && qx1 - qx0 == 1 && qy1 - qy0 == 1 && qx0 >= 1 && qx1 <= 3) continue;  // the slash
        fill_rect(x + (cx + qx0) * scale, y + qy0 * scale, x + (cx + qx1) * scale - 1, y + qy1 * scale - 1, c);
      }
      cx += stb_easy_font_width(one);
    }
  }
  static int text_width(const std::string& s, int scale) {
    std::string t = printable(s);
    return t.empty() ? 0 : (stb_easy_font_width(t.data()) - 1) * scale;
  }
  static int text_height(int scale) { return 8 * scale; }  // cap height 7 + 1 for descenders' start

  Image img;

 private:
  static std::string printable(const std::string& s) {
    std::string t;
    for (char ch : s) t.push_back((ch >= 32 && ch < 127) ? ch : '?');
    return t;
  }
  // Within one stroke, overlapping pixels take the max coverage (no dark joints).
  void blend_max(int x, int y, Rgb c, double a) {
    const size_t key = (size_t)y * w() + x;
    auto it = stroke_.find(key);
    if (it == stroke_.end()) stroke_.emplace(key, std::make_pair(a, c));
    else it->second.first = std::max(it->second.first, a);
  }
  void flush_stroke() {
    if (batch_) return;
    for (auto& [key, v] : stroke_) blend((int)(key % w()), (int)(key / w()), v.second, v.first);
    stroke_.clear();
  }

 public:
  // Group several segments into one stroke (a polyline) so joints are not blended twice.
  void begin_stroke() { batch_ = true; }
  void end_stroke() { batch_ = false; flush_stroke(); }

 private:
  bool clip_ = false;
  int cx0_ = 0, cy0_ = 0, cx1_ = 0, cy1_ = 0;
  bool batch_ = false;
  std::unordered_map<size_t, std::pair<double, Rgb>> stroke_;
};

// "Nice" tick values covering [lo, hi] (about `target` of them).
std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(target - 1, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  return ticks;
}

std::string fmt_tick(double v, double step) {
  char buf[32];
  const double a = std::abs(v);
  if (v == 0) return "0";
  if (a >= 1e5 || a < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.2g", v);
  } else {
    int decimals = step >= 1 ? 0 : (int)std::ceil(-std::log10(step) - 1e-9);
    std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 6), v);
  }
  return buf;
}

std::string fmt_log_tick(double exponent) {
  char buf[32];
  const double v = std::pow(10.0, exponent);
  if (exponent >= -3 && exponent <= 4) std::snprintf(buf, sizeof buf, "%g", v);
  else std::snprintf(buf, sizeof buf, "1e%d", (int)std::lround(exponent));
  return buf;
}

// Maps data coordinates to pixels inside a plot rectangle.
struct Frame {
  int x0, y0, x1, y1;  // pixel box, inclusive
  double dx0, dx1, dy0, dy1;
  double px(double x) const { return x0 + (x - dx0) / (dx1 - dx0) * (x1 - x0); }
  double py(double y) const { return y1 - (y - dy0) / (dy1 - dy0) * (y1 - y0); }
};

int auto_scale(int font_scale, int width) { return font_scale > 0 ? font_scale : (width >= 600 ? 2 : 1); }

// Axes box, grid lines and numbered ticks. yt are tick positions in (transformed) data units.
void draw_axes(Canvas& cv, const Frame& f, const std::vector<double>& xt, const std::vector<double>& yt,
               const std::vector<std::string>& xl, const std::vector<std::string>& yl, int fs, bool grid) {
  for (size_t i = 0; i < xt.size(); ++i) {
    const int x = (int)std::lround(f.px(xt[i]));
    if (x < f.x0 || x > f.x1) continue;
    if (grid) cv.vline(x, f.y0 + 1, f.y1 - 1, kGrid);
    cv.vline(x, f.y1, f.y1 + 4, kBlack);
    cv.text(x - Canvas::text_width(xl[i], fs) / 2, f.y1 + 7, xl[i], kText, fs);
  }
  for (size_t i = 0; i < yt.size(); ++i) {
    const int y = (int)std::lround(f.py(yt[i]));
    if (y < f.y0 || y > f.y1) continue;
    if (grid) cv.hline(f.x0 + 1, f.x1 - 1, y, kGrid);
    cv.hline(f.x0 - 4, f.x0, y, kBlack);
    cv.text(f.x0 - 7 - Canvas::text_width(yl[i], fs), y - Canvas::text_height(fs) / 2 + fs / 2, yl[i], kText, fs);
  }
  cv.rect(f.x0, f.y0, f.x1, f.y1, kBlack);
}

void draw_legend(Canvas& cv, const Frame& f, const std::vector<std::string>& names, const std::vector<Rgb>& colours,
                 int fs, bool markers) {
  int tw = 0;
  for (auto& n : names) tw = std::max(tw, Canvas::text_width(n, fs));
  if (names.empty() || tw == 0) return;
  const int line_h = Canvas::text_height(fs) + 4 * fs, sw = 12 * fs, pad = 4 * fs;
  const int bw = pad * 3 + sw + tw, bh = pad * 2 + line_h * (int)names.size() - 4 * fs;
  const int bx1 = f.x1 - 6, bx0 = bx1 - bw, by0 = f.y0 + 6, by1 = by0 + bh;
  cv.fill_rect(bx0, by0, bx1, by1, kWhite);
  cv.rect(bx0, by0, bx1, by1, {160, 160, 160});
  for (size_t i = 0; i < names.size(); ++i) {
    const int ty = by0 + pad + (int)i * line_h, cy = ty + Canvas::text_height(fs) / 2 - 1;
    if (markers) {
      cv.fill_rect(bx0 + pad + sw / 2 - 3 * fs, cy - fs / 2, bx0 + pad + sw / 2 + 3 * fs, cy + fs / 2, colours[i]);
      cv.fill_rect(bx0 + pad + sw / 2 - fs / 2, cy - 3 * fs, bx0 + pad + sw / 2 + fs / 2, cy + 3 * fs, colours[i]);
    } else {
      cv.fill_rect(bx0 + pad, cy - fs / 2, bx0 + pad + sw, cy + (fs + 1) / 2, colours[i]);
    }
    cv.text(bx0 + pad * 2 + sw, ty, names[i], kText, fs);
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Line plots
// ---------------------------------------------------------------------------

Image render_curves(const std::vector<Series>& series, const PlotOptions& o) {
  DUEL_CHECK(o.width >= 200 && o.height >= 150 && o.width <= 16384 && o.height <= 16384,
             "plot_curves: width x height must be between 200x150 and 16384x16384, got ", o.width, "x", o.height);
  const int fs = auto_scale(o.font_scale, o.width);
  // data, smoothed data
  struct Prepared {
    std::vector<double> x, y, ys;
  };
  std::vector<Prepared> data;
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (auto& s : series) {
    DUEL_CHECK(s.x.empty() || s.x.size() == s.y.size(), "plot_curves: series '", s.name, "' has ", s.y.size(),
               " y values but ", s.x.size(), " x values");
    Prepared p;
    for (size_t i = 0; i < s.y.size(); ++i) {
      double x = s.x.empty() ? (double)i : s.x[i], y = s.y[i];
      if (o.log_y) y = y > 0 ? std::log10(y) : NAN;
      p.x.push_back(x);
      p.y.push_back(y);
    }
    p.ys = p.y;
    if (o.smooth > 1) {  // trailing moving average over the finite values
      double sum = 0;
      int cnt = 0;
      std::vector<double> window;
      for (size_t i = 0; i < p.y.size(); ++i) {
        if (std::isfinite(p.y[i])) { sum += p.y[i], ++cnt; }
        if (i >= (size_t)o.smooth && std::isfinite(p.y[i - o.smooth])) { sum -= p.y[i - o.smooth], --cnt; }
        p.ys[i] = std::isfinite(p.y[i]) && cnt ? sum / cnt : NAN;
      }
    }
    for (size_t i = 0; i < p.x.size(); ++i) {
      if (!std::isfinite(p.x[i]) || !std::isfinite(p.y[i])) continue;
      xmin = std::min(xmin, p.x[i]), xmax = std::max(xmax, p.x[i]);
      ymin = std::min(ymin, p.y[i]), ymax = std::max(ymax, p.y[i]);
    }
    data.push_back(std::move(p));
  }
  if (!(xmax >= xmin)) xmin = 0, xmax = 1;
  if (!(ymax >= ymin)) ymin = 0, ymax = 1;
  if (xmax == xmin) xmin -= 0.5, xmax += 0.5;
  if (ymax == ymin) ymin -= o.log_y ? 0.5 : std::max(0.5, std::abs(ymin) * 0.1), ymax += o.log_y ? 0.5 : std::max(0.5, std::abs(ymax) * 0.1);
  const double ypad = (ymax - ymin) * 0.05;
  ymin -= ypad, ymax += ypad;

  // ticks
  std::vector<double> xt = nice_ticks(xmin, xmax, std::max(3, o.width / (70 * fs)));
  std::vector<std::string> xl, yl;
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double v : xt) xl.push_back(fmt_tick(v, xstep));
  std::vector<double> yt;
  if (o.log_y) {
    for (double e = std::ceil(ymin); e <= std::floor(ymax); e += 1) yt.push_back(e);
    if (yt.size() < 2) {  // less than a decade: 1-2-5 ticks in data space
      yt.clear();
      const std::vector<double> vt = nice_ticks(std::pow(10, ymin), std::pow(10, ymax), 5);
      const double step = vt.size() > 1 ? vt[1] - vt[0] : 1;
      for (double v : vt)
        if (v > 0) yt.push_back(std::log10(v)), yl.push_back(fmt_tick(v, step));
    } else {
      while (yt.size() > 8) {  // thin out many decades
        std::vector<double> t;
        for (size_t i = 0; i < yt.size(); i += 2) t.push_back(yt[i]);
        yt = t;
      }
      for (double e : yt) yl.push_back(fmt_log_tick(e));
    }
  } else {
    yt = nice_ticks(ymin, ymax, std::max(3, o.height / (50 * fs)));
    const double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
    for (double v : yt) yl.push_back(fmt_tick(v, ystep));
  }

  // layout
  int ylw = 0;
  for (auto& l : yl) ylw = std::max(ylw, Canvas::text_width(l, fs));
  const int th = Canvas::text_height(fs);
  Frame f;
  f.x0 = ylw + 12 * fs + 4;
  f.x1 = o.width - std::max(12 * fs, Canvas::text_width(xl.empty() ? std::string() : xl.back(), fs) / 2 + 4);
  f.y0 = (o.title.empty() ? 6 * fs : th + 10 * fs) + (o.y_label.empty() ? 0 : th + 4 * fs);
  f.y1 = o.height - th - 12 * fs - (o.x_label.empty() ? 0 : th + 6 * fs);
  f.dx0 = xmin, f.dx1 = xmax, f.dy0 = ymin, f.dy1 = ymax;

  Canvas cv(o.width, o.height, kWhite);
  if (!o.title.empty()) cv.text((o.width - Canvas::text_width(o.title, fs)) / 2, 4 * fs, o.title, kBlack, fs);
  if (!o.y_label.empty()) cv.text(f.x0 - Canvas::text_width(o.y_label, fs) / 2 > 2 ? f.x0 - Canvas::text_width(o.y_label, fs) / 2 : 2,
                                  f.y0 - th - 4 * fs, o.y_label, kText, fs);
  if (!o.x_label.empty())
    cv.text((f.x0 + f.x1 - Canvas::text_width(o.x_label, fs)) / 2, f.y1 + th + 12 * fs, o.x_label, kText, fs);
  draw_axes(cv, f, xt, yt, xl, yl, fs, true);

  cv.set_clip(f.x0 + 1, f.y0 + 1, f.x1 - 1, f.y1 - 1);
  const double lw = std::max(1.5, 0.75 * fs + 0.5);
  std::vector<Rgb> colours;
  std::vector<std::string> names;
  for (size_t k = 0; k < data.size(); ++k) {
    const Rgb c = hex(kTab10[k % 10]);
    colours.push_back(c);
    names.push_back(series[k].name);
    auto draw = [&](const std::vector<double>& y, double width, double alpha) {
      cv.begin_stroke();
      const auto& x = data[k].x;
      bool have = false;
      double px = 0, py = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        if (!std::isfinite(x[i]) || !std::isfinite(y[i])) { have = false; continue; }
        const double qx = f.px(x[i]), qy = f.py(y[i]);
        if (have) cv.line(px, py, qx, qy, c, width, alpha);
        else if (y.size() == 1 || (i + 1 < y.size() && !std::isfinite(y[i + 1])) || i + 1 == y.size())
          cv.line(qx, qy, qx, qy, c, width + 1.5, alpha);  // isolated point
        px = qx, py = qy, have = true;
      }
      cv.end_stroke();
    };
    if (o.smooth > 1) {
      draw(data[k].y, 1.0, 0.25);
      draw(data[k].ys, lw, 1.0);
    } else {
      draw(data[k].y, lw, 1.0);
    }
  }
  cv.no_clip();
  bool any_name = false;
  for (auto& n : names) any_name |= !n.empty();
  if (any_name) draw_legend(cv, f, names, colours, fs, false);
  return std::move(cv.img);
}

void plot_curves(const std::string& path, const std::vector<Series>& series, const PlotOptions& options) {
  save_png(path, render_curves(series, options));
}

void plot_curves(const std::string& path, const std::vector<Series>& series, const std::string& title, int width,
                 int height) {
  PlotOptions o;
  o.title = title;
  o.width = width;
  o.height = height;
  plot_curves(path, series, o);
}

// ---------------------------------------------------------------------------
// Scatter over a heatmap / contour
// ---------------------------------------------------------------------------

namespace {

Rgb viridis(double t) {
  static const double k[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
                                 {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  const double s = t * 8;
  const int i = std::min((int)s, 7);
  const double u = s - i;
  return {(uint8_t)std::lround(k[i][0] + (k[i + 1][0] - k[i][0]) * u),
          (uint8_t)std::lround(k[i][1] + (k[i + 1][1] - k[i][1]) * u),
          (uint8_t)std::lround(k[i][2] + (k[i + 1][2] - k[i][2]) * u)};
}

}  // namespace

Image render_scatter_with_contour(const Tensor& field, const std::vector<PointSet>& points, const ScatterOptions& o) {
  DUEL_CHECK(o.width >= 150 && o.height >= 150 && o.width <= 16384 && o.height <= 16384,
             "plot_scatter_with_contour: width x height must be between 150x150 and 16384x16384");
  DUEL_CHECK(o.x_max > o.x_min && o.y_max > o.y_min, "plot_scatter_with_contour: empty extent [", o.x_min, ", ", o.x_max,
             "] x [", o.y_min, ", ", o.y_max, "]");
  const int fs = auto_scale(o.font_scale, o.width);
  const int th = Canvas::text_height(fs);
  std::vector<double> fv;
  int64_t gh = 0, gw = 0;
  double fmin = 0, fmax = 0;
  if (field.defined()) {
    DUEL_CHECK(field.dim() == 2 && field.size(0) >= 2 && field.size(1) >= 2,
               "plot_scatter_with_contour: field must be [GH, GW] with GH, GW >= 2, got ", shape_str(field.sizes()));
    NoGradGuard no_grad;
    fv = field.detach().to_vector<double>();
    gh = field.size(0), gw = field.size(1);
    fmin = INFINITY, fmax = -INFINITY;
    for (double v : fv)
      if (std::isfinite(v)) fmin = std::min(fmin, v), fmax = std::max(fmax, v);
    if (!(fmax >= fmin)) fmin = 0, fmax = 1;
    if (fmax == fmin) fmax = fmin + 1;
  }
  // layout: square-ish plot area, colour bar on the right when there is a field
  const bool bar = field.defined() && o.heatmap;
  std::vector<double> xt = nice_ticks(o.x_min, o.x_max, 7), yt = nice_ticks(o.y_min, o.y_max, 7);
  std::vector<std::string> xl, yl;
  for (double v : xt) xl.push_back(fmt_tick(v, xt.size() > 1 ? xt[1] - xt[0] : 1));
  for (double v : yt) yl.push_back(fmt_tick(v, yt.size() > 1 ? yt[1] - yt[0] : 1));
  int ylw = 0;
  for (auto& l : yl) ylw = std::max(ylw, Canvas::text_width(l, fs));
  std::vector<std::string> bl;
  std::vector<double> bt;
  int blw = 0;
  if (bar) {
    bt = nice_ticks(fmin, fmax, 5);
    for (double v : bt) bl.push_back(fmt_tick(v, bt.size() > 1 ? bt[1] - bt[0] : 1));
    for (auto& l : bl) blw = std::max(blw, Canvas::text_width(l, fs));
  }
  Frame f;
  f.x0 = ylw + 12 * fs + 4;
  f.x1 = o.width - 1 - (bar ? 12 * fs + 10 * fs + blw + 6 * fs : std::max(10 * fs, Canvas::text_width(xl.back(), fs) / 2 + 4));
  f.y0 = o.title.empty() ? 6 * fs : th + 10 * fs;
  f.y1 = o.height - th - 12 * fs;
  f.dx0 = o.x_min, f.dx1 = o.x_max, f.dy0 = o.y_min, f.dy1 = o.y_max;
  DUEL_CHECK(f.x1 - f.x0 > 20 && f.y1 - f.y0 > 20, "plot_scatter_with_contour: image too small for the labels");

  Canvas cv(o.width, o.height, kWhite);
  if (!o.title.empty()) cv.text((o.width - Canvas::text_width(o.title, fs)) / 2, 4 * fs, o.title, kBlack, fs);

  // field: bilinear sample at each pixel centre
  if (field.defined()) {
    auto sample = [&](double x, double y) {
      double gx = (x - o.x_min) / (o.x_max - o.x_min) * (double)(gw - 1);
      double gy = (y - o.y_min) / (o.y_max - o.y_min) * (double)(gh - 1);
      gx = std::clamp(gx, 0.0, (double)(gw - 1)), gy = std::clamp(gy, 0.0, (double)(gh - 1));
      const int64_t ix = std::min<int64_t>((int64_t)gx, gw - 2), iy = std::min<int64_t>((int64_t)gy, gh - 2);
      const double u = gx - ix, v = gy - iy;
      auto at = [&](int64_t r, int64_t c) { return fv[r * gw + c]; };
      return (1 - v) * ((1 - u) * at(iy, ix) + u * at(iy, ix + 1)) + v * ((1 - u) * at(iy + 1, ix) + u * at(iy + 1, ix + 1));
    };
    const int pw = f.x1 - f.x0 - 1, ph = f.y1 - f.y0 - 1;
    std::vector<double> val((size_t)pw * ph);
    for (int py = 0; py < ph; ++py)
      for (int px = 0; px < pw; ++px) {
        const double x = o.x_min + (px + 0.5) / pw * (o.x_max - o.x_min);
        const double y = o.y_max - (py + 0.5) / ph * (o.y_max - o.y_min);
        val[(size_t)py * pw + px] = sample(x, y);
      }
    for (int py = 0; py < ph; ++py)
      for (int px = 0; px < pw; ++px)
        cv.set(f.x0 + 1 + px, f.y0 + 1 + py,
               o.heatmap ? viridis((val[(size_t)py * pw + px] - fmin) / (fmax - fmin)) : kWhite);
    if (o.contour_levels > 0) {
      const double step = (fmax - fmin) / (o.contour_levels + 1);
      auto level = [&](double v) { return std::isfinite(v) ? (int)std::floor((v - fmin) / step) : -1; };
      const Rgb lc = o.heatmap ? Rgb{255, 255, 255} : Rgb{60, 60, 60};
      for (int py = 0; py < ph; ++py)
        for (int px = 0; px < pw; ++px) {
          const int l = level(val[(size_t)py * pw + px]);
          const bool edge = (px + 1 < pw && level(val[(size_t)py * pw + px + 1]) != l) ||
                            (py + 1 < ph && level(val[(size_t)(py + 1) * pw + px]) != l);
          if (edge) cv.blend(f.x0 + 1 + px, f.y0 + 1 + py, lc, 0.55);
        }
    }
  }
  draw_axes(cv, f, xt, yt, xl, yl, fs, !field.defined());

  // points: '+' markers
  static const uint32_t kPointColours[6] = {0xff7f0e, 0x2ca02c, 0x1f77b4, 0xd62728, 0x9467bd, 0xe377c2};
  std::vector<std::string> names;
  std::vector<Rgb> colours;
  cv.set_clip(f.x0 + 1, f.y0 + 1, f.x1 - 1, f.y1 - 1);
  for (size_t k = 0; k < points.size(); ++k) {
    const auto& ps = points[k];
    const Rgb c = hex(ps.rgb ? ps.rgb : kPointColours[k % 6]);
    names.push_back(ps.name);
    colours.push_back(c);
    if (!ps.points.defined()) continue;
    DUEL_CHECK(ps.points.dim() == 2 && ps.points.size(1) == 2, "plot_scatter_with_contour: points '", ps.name,
               "' must be [n, 2], got ", shape_str(ps.points.sizes()));
    NoGradGuard no_grad;
    const auto p = ps.points.detach().to_vector<double>();
    const int m = std::max(1, o.marker_size);
    for (size_t i = 0; i + 1 < p.size(); i += 2) {
      if (!std::isfinite(p[i]) || !std::isfinite(p[i + 1])) continue;
      const int x = (int)std::lround(f.px(p[i])), y = (int)std::lround(f.py(p[i + 1]));
      for (int d = -m; d <= m; ++d) {
        cv.blend(x + d, y, c, 1.0);
        cv.blend(x, y + d, c, 1.0);
      }
    }
  }
  cv.no_clip();
  bool any_name = false;
  for (auto& n : names) any_name |= !n.empty();
  if (any_name) draw_legend(cv, f, names, colours, fs, true);

  if (bar) {  // colour bar with value ticks
    const int bx0 = f.x1 + 10 * fs, bx1 = bx0 + 8 * fs;
    for (int y = f.y0; y <= f.y1; ++y) {
      const Rgb c = viridis((double)(f.y1 - y) / (f.y1 - f.y0));
      cv.hline(bx0, bx1, y, c);
    }
    cv.rect(bx0, f.y0, bx1, f.y1, kBlack);
    for (size_t i = 0; i < bt.size(); ++i) {
      const int y = (int)std::lround(f.y1 - (bt[i] - fmin) / (fmax - fmin) * (f.y1 - f.y0));
      if (y < f.y0 || y > f.y1) continue;
      cv.hline(bx1, bx1 + 3, y, kBlack);
      cv.text(bx1 + 5, y - th / 2 + fs / 2, bl[i], kText, fs);
    }
  }
  return std::move(cv.img);
}

void plot_scatter_with_contour(const std::string& path, const Tensor& field, const std::vector<PointSet>& points,
                               const ScatterOptions& options) {
  save_png(path, render_scatter_with_contour(field, points, options));
}

}  // namespace duel
