// MinAtar Space Invaders, transcribed from minatar/environments/space_invaders.py
// (minatar 1.0.15).
//
// Rules: the cannon sits in row 9 (start column 5) and moves left/right or fires (fire
// takes precedence and needs the 5-frame shot cool-down to be over). Friendly bullets fly
// up and enemy bullets down one row per frame. A block of 4x6 aliens (rows 0-3, columns
// 2-7) marches sideways one column per move; when an alien touches the side it is moving
// towards, the block instead steps down one row and reverses. The alien move timer is
// reloaded with min(#aliens, enemy_move_interval), so the last few aliens speed up and a
// lone alien moves every frame. Every 10 frames the alien nearest the cannon's column
// (ties: the left column; lowest alien in that column) fires. A friendly bullet sharing a
// cell with an alien after all moves removes both and pays +1. The episode terminates
// when an enemy bullet or an alien reaches the cannon's cell, or when the block must step
// down while an alien is in row 9. Clearing a wave spawns a new block; with difficulty
// ramping each new wave moves one frame faster (enemy_move_interval 12 -> 6 at most).
//
// Channels (reference order): 0 cannon, 1 alien, 2 alien_left / 3 alien_right (a copy of
// the alien grid in the channel of the current marching direction), 4 friendly_bullet,
// 5 enemy_bullet.
//
// No randomness besides sticky actions. Reference details kept on purpose: the grids move
// like np.roll (the block stepping down from row 9 wraps to row 0 on the terminal frame),
// and bullets leaving the screen vanish.
#include "rl/envs/space_invaders.h"

#include <algorithm>
#include <cstdlib>

namespace duel::rl {

namespace {
constexpr int kMinimal[] = {MinAtarEnv::kNoop, MinAtarEnv::kLeft, MinAtarEnv::kRight, MinAtarEnv::kFire};
constexpr ChannelInfo kChannels[] = {
    {"cannon", 'A', {90, 200, 255}},         {"alien", 'M', {80, 220, 80}},
    {"alien_left", '<', {60, 170, 60}},      {"alien_right", '>', {100, 240, 100}},
    {"friendly_bullet", '^', {255, 255, 255}}, {"enemy_bullet", '!', {230, 60, 60}},
};
constexpr int N = MinAtarEnv::kSize;
using Grid = SpaceInvadersEnv::Grid;

int count(const Grid& g) { return static_cast<int>(std::count(g.begin(), g.end(), 1)); }
bool any_in_column(const Grid& g, int x) {
  for (int y = 0; y < N; ++y)
    if (g[y * N + x]) return true;
  return false;
}
bool any_in_row(const Grid& g, int y) {
  return std::any_of(g.begin() + y * N, g.begin() + (y + 1) * N, [](uint8_t v) { return v != 0; });
}
// np.roll(g, shift, axis=0) for shift = +-1.
void roll_rows(Grid& g, int shift) {
  if (shift > 0) std::rotate(g.begin(), g.end() - N, g.end());
  else std::rotate(g.begin(), g.begin() + N, g.end());
}
// np.roll(g, shift, axis=1) for shift = +-1.
void roll_columns(Grid& g, int shift) {
  for (int y = 0; y < N; ++y) {
    auto row = g.begin() + y * N;
    if (shift > 0) std::rotate(row, row + N - 1, row + N);
    else std::rotate(row, row + 1, row + N);
  }
}
}  // namespace

SpaceInvadersEnv::SpaceInvadersEnv(const MinAtarOptions& options) : MinAtarEnv(options) { reset_game(); }

std::span<const int> SpaceInvadersEnv::minimal_action_set() const { return kMinimal; }
std::span<const ChannelInfo> SpaceInvadersEnv::channels() const { return kChannels; }

void SpaceInvadersEnv::reset_game() {
  s_ = State{};
  for (int y = 0; y < 4; ++y)
    for (int x = 2; x < 8; ++x) s_.aliens[y * N + x] = 1;
  terminal_ = false;
}

int SpaceInvadersEnv::act(int action) {
  int r = 0;
  if (action == kFire && s_.shot_timer == 0) {
    s_.f_bullets[9 * N + s_.pos] = 1;
    s_.shot_timer = kShotCoolDown;
  } else if (action == kLeft) {
    s_.pos = std::max(0, s_.pos - 1);
  } else if (action == kRight) {
    s_.pos = std::min(9, s_.pos + 1);
  }

  // Bullets: friendly up (row 0 leaves the screen), enemy down (row 9 leaves the screen).
  roll_rows(s_.f_bullets, -1);
  std::fill(s_.f_bullets.begin() + 9 * N, s_.f_bullets.end(), 0);
  roll_rows(s_.e_bullets, 1);
  std::fill(s_.e_bullets.begin(), s_.e_bullets.begin() + N, 0);
  if (s_.e_bullets[9 * N + s_.pos]) terminal_ = true;

  // Aliens.
  if (s_.aliens[9 * N + s_.pos]) terminal_ = true;
  if (s_.alien_move_timer == 0) {
    s_.alien_move_timer = std::min(count(s_.aliens), s_.enemy_move_interval);
    if ((any_in_column(s_.aliens, 0) && s_.alien_dir < 0) || (any_in_column(s_.aliens, 9) && s_.alien_dir > 0)) {
      s_.alien_dir = -s_.alien_dir;
      if (any_in_row(s_.aliens, 9)) terminal_ = true;
      roll_rows(s_.aliens, 1);
    } else {
      roll_columns(s_.aliens, s_.alien_dir);
    }
    if (s_.aliens[9 * N + s_.pos]) terminal_ = true;
  }
  if (s_.alien_shot_timer == 0) {
    s_.alien_shot_timer = kEnemyShotInterval;
    // Nearest non-empty column (np's stable sort by |x - pos|: left before right), lowest alien.
    for (int d = 0; d < N; ++d) {
      int col = -1;
      if (s_.pos - d >= 0 && any_in_column(s_.aliens, s_.pos - d)) col = s_.pos - d;
      else if (d > 0 && s_.pos + d < N && any_in_column(s_.aliens, s_.pos + d)) col = s_.pos + d;
      if (col < 0) continue;
      int row = N - 1;
      while (!s_.aliens[row * N + col]) --row;
      s_.e_bullets[row * N + col] = 1;
      break;
    }
  }

  // Friendly bullets that share a cell with an alien destroy it.
  for (int i = 0; i < N * N; ++i) {
    if (s_.aliens[i] && s_.f_bullets[i]) {
      r += 1;
      s_.aliens[i] = s_.f_bullets[i] = 0;
    }
  }

  // Timers and waves.
  if (s_.shot_timer > 0) s_.shot_timer -= 1;
  s_.alien_move_timer -= 1;
  s_.alien_shot_timer -= 1;
  if (count(s_.aliens) == 0) {
    if (s_.enemy_move_interval > 6 && options().difficulty_ramping) {
      s_.enemy_move_interval -= 1;
      s_.ramp_index += 1;
    }
    for (int y = 0; y < 4; ++y)
      for (int x = 2; x < 8; ++x) s_.aliens[y * N + x] = 1;
  }
  return r;
}

void SpaceInvadersEnv::draw(uint8_t* grid) const {
  constexpr int kCells = N * N;
  set(grid, kCannon, 9, s_.pos);
  const int dir_channel = s_.alien_dir < 0 ? kAlienLeft : kAlienRight;
  for (int i = 0; i < kCells; ++i) {
    if (s_.aliens[i]) grid[kAlien * kCells + i] = grid[dir_channel * kCells + i] = 1;
    if (s_.f_bullets[i]) grid[kFriendlyBullet * kCells + i] = 1;
    if (s_.e_bullets[i]) grid[kEnemyBullet * kCells + i] = 1;
  }
}

}  // namespace duel::rl
