// MinAtar Breakout, transcribed from minatar/environments/breakout.py (minatar 1.0.15).
//
// Rules: the player moves a paddle along the bottom row (actions left/right, others are
// no-ops) and bounces a ball that travels only along diagonals, one cell per frame, to
// break 3 rows of bricks (rows 1-3). +1 per brick broken. When the ball reaches the
// paddle row it bounces back if the paddle is under it -- straight back (vertical flip)
// if the paddle is in the ball's current column, sideways (both flips) if the paddle is
// in the column the ball is moving into -- and the episode terminates otherwise. Walls
// reflect horizontally, the ceiling vertically. When the ball reaches the paddle row with
// no bricks left, the 3 rows are restored. No difficulty ramp.
// Start: paddle in column 4, ball in row 3 at column 0 moving down-right or column 9
// moving down-left (one randint(2)), bricks in rows 1-3.
//
// Channels (reference order): 0 paddle, 1 ball, 2 trail (the ball's previous cell, giving
// its direction), 3 brick.
//
// Reference quirks kept on purpose:
//  * A ball that hits a brick stays in its row and flips vertically; on the next frame
//    (`strike` still set) a second brick in its path is entered without being broken or
//    paid for, so the ball can sit inside a brick cell.
//  * On a wall hit the column is clamped, so the ball moves only vertically that frame.
#include "rl/envs/breakout.h"

#include <algorithm>

namespace duel::rl {

namespace {
constexpr int kMinimal[] = {MinAtarEnv::kNoop, MinAtarEnv::kLeft, MinAtarEnv::kRight};
constexpr ChannelInfo kChannels[] = {
    {"paddle", '=', {90, 200, 255}},
    {"ball", 'o', {255, 255, 255}},
    {"trail", '.', {120, 120, 120}},
    {"brick", '#', {230, 90, 60}},
};
constexpr int kFlipX[] = {1, 0, 3, 2};   // wall
constexpr int kFlipY[] = {3, 2, 1, 0};   // ceiling, brick, paddle (straight)
constexpr int kFlipXY[] = {2, 3, 0, 1};  // paddle (edge)
}  // namespace

BreakoutEnv::BreakoutEnv(const MinAtarOptions& options) : MinAtarEnv(options) { reset_game(); }

std::span<const int> BreakoutEnv::minimal_action_set() const { return kMinimal; }
std::span<const ChannelInfo> BreakoutEnv::channels() const { return kChannels; }

void BreakoutEnv::reset_game() {
  s_ = State{};
  s_.ball_y = 3;
  if (rng_.randint(2) == 0) {
    s_.ball_x = 0;
    s_.ball_dir = 2;
  } else {
    s_.ball_x = 9;
    s_.ball_dir = 3;
  }
  s_.pos = 4;
  std::fill(s_.bricks.begin() + 1 * kSize, s_.bricks.begin() + 4 * kSize, 1);
  s_.strike = false;
  s_.last_x = s_.ball_x;
  s_.last_y = s_.ball_y;
  terminal_ = false;
}

int BreakoutEnv::act(int action) {
  int r = 0;
  if (action == kLeft) s_.pos = std::max(0, s_.pos - 1);
  else if (action == kRight) s_.pos = std::min(9, s_.pos + 1);

  // Move the ball along its diagonal.
  s_.last_x = s_.ball_x;
  s_.last_y = s_.ball_y;
  const int dx = (s_.ball_dir == 1 || s_.ball_dir == 2) ? 1 : -1;
  const int dy = (s_.ball_dir <= 1) ? -1 : 1;
  int new_x = s_.ball_x + dx;
  int new_y = s_.ball_y + dy;

  bool strike_toggle = false;
  if (new_x < 0 || new_x > 9) {
    new_x = std::clamp(new_x, 0, 9);
    s_.ball_dir = kFlipX[s_.ball_dir];
  }
  if (new_y < 0) {
    new_y = 0;
    s_.ball_dir = kFlipY[s_.ball_dir];
  } else if (s_.brick(new_y, new_x)) {
    strike_toggle = true;
    if (!s_.strike) {
      r += 1;
      s_.strike = true;
      s_.bricks[new_y * kSize + new_x] = 0;
      new_y = s_.last_y;
      s_.ball_dir = kFlipY[s_.ball_dir];
    }
  } else if (new_y == 9) {
    if (std::find(s_.bricks.begin(), s_.bricks.end(), 1) == s_.bricks.end())
      std::fill(s_.bricks.begin() + 1 * kSize, s_.bricks.begin() + 4 * kSize, 1);
    if (s_.ball_x == s_.pos) {
      s_.ball_dir = kFlipY[s_.ball_dir];
      new_y = s_.last_y;
    } else if (new_x == s_.pos) {
      s_.ball_dir = kFlipXY[s_.ball_dir];
      new_y = s_.last_y;
    } else {
      terminal_ = true;
    }
  }
  if (!strike_toggle) s_.strike = false;

  s_.ball_x = new_x;
  s_.ball_y = new_y;
  return r;
}

void BreakoutEnv::draw(uint8_t* grid) const {
  set(grid, kBall, s_.ball_y, s_.ball_x);
  set(grid, kPaddle, 9, s_.pos);
  set(grid, kTrail, s_.last_y, s_.last_x);
  for (int i = 0; i < kSize * kSize; ++i)
    if (s_.bricks[i]) grid[kBrick * kSize * kSize + i] = 1;
}

}  // namespace duel::rl
