// Renderers for the environments: a terminal text view and an RGB frame (PPM or PNG).
//
//  * MinAtar: one character / one cell_px x cell_px square per grid cell, showing the
//    highest-numbered channel set in that cell (as MinAtar's own display_state does);
//    the glyphs and colours are the games' ChannelInfo tables, listed in the legend.
//  * CartPole: the track, cart and pole (text: one line per element plus the state).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "rl/envs/env.h"

namespace duel::rl {

// Text view with a legend line, e.g. for Breakout:
//   +----------+
//   |          |
//   |##########|
//   ...
//   +----------+
//   legend: = paddle  o ball  . trail  # brick  (empty: ' ')
std::string render_text(const Env& env);

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel
};

// RGB frame. MinAtar: 10 * cell_px square, black background. CartPole: 600 x 400, as
// Gymnasium's renderer lays it out (cell_px is ignored).
Image render_rgb(const Env& env, int cell_px = 20);

// Binary PPM (P6) and PNG files of render_rgb(env, cell_px); throw duel::Error on I/O failure.
void write_ppm(const Env& env, const std::string& path, int cell_px = 20);
void write_png(const Env& env, const std::string& path, int cell_px = 20);
void write_ppm(const Image& image, const std::string& path);
void write_png(const Image& image, const std::string& path);

}  // namespace duel::rl
