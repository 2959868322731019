// Image output: PNG files, torchvision-style image grids, and small line / scatter plots
// rasterised in-process (no Python, no plotting library) with stb_image_write and the
// stb_easy_font bitmap font (Debian libstb-dev, compiled into duel with static linkage).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace duel {

// 8-bit image, rows top to bottom, channels interleaved (HWC): 1 = grey, 3 = RGB, 4 = RGBA.
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
  Image() = default;
  Image(int w, int h, int c, uint8_t fill = 0) : width(w), height(h), channels(c), pixels((size_t)w * h * c, fill) {}
  uint8_t* at(int x, int y) { return &pixels[((size_t)y * width + x) * channels]; }
  const uint8_t* at(int x, int y) const { return &pixels[((size_t)y * width + x) * channels]; }
};

void save_png(const std::string& path, const Image& image);
// Reads a PNG (via stb_image); channels as stored in the file.
Image load_png(const std::string& path);

// A tensor as an image. Floating tensors are [C, H, W] or [H, W] (C = 1 or 3) with values in
// [lo, hi] (default [-1, 1], what a tanh generator produces), clamped and mapped to 0..255.
// Int64 / bool tensors are [H, W, C] or [H, W] byte values 0..255 (HWC, like an image file).
Image tensor_to_image(const Tensor& image, double lo = -1.0, double hi = 1.0);
void save_png(const std::string& path, const Tensor& image, double lo = -1.0, double hi = 1.0);

// Tiles images [N, C, H, W] (floating, values in [lo, hi]; C = 1 or 3) into a grid of `nrow`
// images per row with `padding` pixels between and around them (filled with `pad_value`, in
// the same [lo, hi] units), then scales it up by the integer factor `upscale` (nearest
// neighbour). Like torchvision.utils.make_grid / save_image.
Image make_image_grid(const Tensor& images, int nrow = 8, int padding = 2, int upscale = 1, double pad_value = -1.0,
                      double lo = -1.0, double hi = 1.0);
void save_image_grid(const std::string& path, const Tensor& images, int nrow = 8, int padding = 2, int upscale = 1,
                     double pad_value = -1.0, double lo = -1.0, double hi = 1.0);

// ---- plots ----

struct Series {
  std::string name;
  std::vector<double> y;
  std::vector<double> x;  // empty: 0, 1, 2, ...; else the same length as y
};

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 800;
  int height = 500;
  bool log_y = false;  // values <= 0 are skipped
  int smooth = 0;      // > 1: trailing moving average over this many points (raw drawn faintly)
  int font_scale = 0;  // pixel size of the bitmap font; 0 = automatic (1 below 600 px wide, else 2)
};

// Line plot of one or more series with axes, numbered ticks, a title and a legend; colours
// follow matplotlib's tab10 cycle. Non-finite values break the line.
void plot_curves(const std::string& path, const std::vector<Series>& series, const PlotOptions& options);
void plot_curves(const std::string& path, const std::vector<Series>& series, const std::string& title = "",
                 int width = 800, int height = 500);
Image render_curves(const std::vector<Series>& series, const PlotOptions& options);

struct PointSet {
  std::string name;
  Tensor points;       // [n, 2] (x, y), any floating dtype / device
  uint32_t rgb = 0;    // 0xRRGGBB; 0 = automatic (orange, green, blue, ...)
};

struct ScatterOptions {
  std::string title;
  int width = 600;
  int height = 600;
  double x_min = -3, x_max = 3, y_min = -3, y_max = 3;  // plot extent = extent of the field's grid
  int contour_levels = 10;  // iso-lines drawn over the heatmap; 0 = none
  bool heatmap = true;      // fill the field with a viridis colour map (false: white + iso-lines)
  int marker_size = 3;      // half-size of the '+' markers in pixels
  int font_scale = 0;       // 0 = automatic
};

// Points over a filled heatmap + iso-lines of a scalar field (the WGAN-GP toy pictures: real
// samples, generated samples, critic value on a grid). `field` is [GH, GW] (any floating
// dtype): row r is y = y_min + r (y_max - y_min) / (GH - 1), column c likewise x, so the
// field of a critic evaluated on grid_points(steps, lo, hi) (data/toy.h) reshaped to
// [steps, steps] fits. `field` may be undefined (points only). A colour bar shows the range.
void plot_scatter_with_contour(const std::string& path, const Tensor& field, const std::vector<PointSet>& points,
                               const ScatterOptions& options = {});
Image render_scatter_with_contour(const Tensor& field, const std::vector<PointSet>& points,
                                  const ScatterOptions& options = {});

}  // namespace duel
