// MinAtar Asterix, transcribed from minatar/environments/asterix.py (minatar 1.0.15).
//
// Rules: the player (start (x=5, y=5)) moves freely in the 4 cardinal directions within
// columns 0-9 and rows 1-8. Each of rows 1-8 holds at most one entity: an enemy or (with
// probability 1/3) treasure. When the spawn timer is 0, an entity spawns at the start of
// the frame in a random free row, at column 0 moving right or column 9 moving left (prob.
// 1/2 each; with every row occupied nothing spawns); the timer is reloaded with
// spawn_speed, so spawns come every spawn_speed frames (the first on frame 11). Entities
// all move one column together every move_speed frames and vanish off the edge. Touching treasure (before or after the
// entities move) pays +1 and removes it; touching an enemy terminates the episode (the
// frame is still finished, so treasure touched later in the same frame is still paid).
// Difficulty ramping: a ramp timer of 100 counts down once per frame while spawn_speed
// or move_speed can still drop; when it would go below 0 it is reloaded and the ramp
// index increments: spawn_speed drops by 1 (down to 1) every ramp and move_speed by 1
// (down to 1) on odd ramp indices. Without ramping the speeds stay at their initial 10/5.
//
// Channels (reference order): 0 player, 1 enemy, 2 trail (cell behind each moving entity,
// when on screen), 3 gold.
//
// Randomness per spawn: rand() < 1/2 (direction), rand() < 1/3 (gold), then
// randint(#free rows) -- the last only if some row is free.
#include "rl/envs/asterix.h"

#include <algorithm>

namespace duel::rl {

namespace {
constexpr int kMinimal[] = {MinAtarEnv::kNoop, MinAtarEnv::kLeft, MinAtarEnv::kUp, MinAtarEnv::kRight,
                            MinAtarEnv::kDown};
constexpr ChannelInfo kChannels[] = {
    {"player", 'P', {90, 200, 255}},
    {"enemy", 'E', {230, 60, 60}},
    {"trail", '.', {120, 120, 120}},
    {"gold", '$', {255, 215, 0}},
};
}  // namespace

AsterixEnv::AsterixEnv(const MinAtarOptions& options) : MinAtarEnv(options) { reset_game(); }

std::span<const int> AsterixEnv::minimal_action_set() const { return kMinimal; }
std::span<const ChannelInfo> AsterixEnv::channels() const { return kChannels; }

void AsterixEnv::reset_game() {
  s_ = State{};
  terminal_ = false;
}

void AsterixEnv::spawn_entity() {
  const bool right = rng_.rand() < 1.0 / 2;
  const bool gold = rng_.rand() < 1.0 / 3;
  int free_slots[kNumSlots];
  int n_free = 0;
  for (int i = 0; i < kNumSlots; ++i)
    if (!s_.entities[i].active) free_slots[n_free++] = i;
  if (n_free == 0) return;
  const int slot = free_slots[rng_.randint(n_free)];
  s_.entities[slot] = Entity{true, right ? 0 : 9, slot + 1, right, gold};
}

int AsterixEnv::touch(Entity& e) {
  if (e.gold) {
    e.active = false;
    return 1;
  }
  terminal_ = true;
  return 0;
}

int AsterixEnv::act(int action) {
  int r = 0;
  if (s_.spawn_timer == 0) {
    spawn_entity();
    s_.spawn_timer = s_.spawn_speed;
  }

  if (action == kLeft) s_.player_x = std::max(0, s_.player_x - 1);
  else if (action == kRight) s_.player_x = std::min(9, s_.player_x + 1);
  else if (action == kUp) s_.player_y = std::max(1, s_.player_y - 1);
  else if (action == kDown) s_.player_y = std::min(8, s_.player_y + 1);

  // Collisions with the player's new cell, then entity movement.
  for (Entity& e : s_.entities)
    if (e.active && e.x == s_.player_x && e.y == s_.player_y) r += touch(e);
  if (s_.move_timer == 0) {
    s_.move_timer = s_.move_speed;
    for (Entity& e : s_.entities) {
      if (!e.active) continue;
      e.x += e.right ? 1 : -1;
      if (e.x < 0 || e.x > 9) e.active = false;
      else if (e.x == s_.player_x && e.y == s_.player_y) r += touch(e);
    }
  }

  s_.spawn_timer -= 1;
  s_.move_timer -= 1;

  if (options().difficulty_ramping && (s_.spawn_speed > 1 || s_.move_speed > 1)) {
    if (s_.ramp_timer >= 0) {
      s_.ramp_timer -= 1;
    } else {
      if (s_.move_speed > 1 && s_.ramp_index % 2) s_.move_speed -= 1;
      if (s_.spawn_speed > 1) s_.spawn_speed -= 1;
      s_.ramp_index += 1;
      s_.ramp_timer = kRampInterval;
    }
  }
  return r;
}

void AsterixEnv::draw(uint8_t* grid) const {
  set(grid, kPlayer, s_.player_y, s_.player_x);
  for (const Entity& e : s_.entities) {
    if (!e.active) continue;
    set(grid, e.gold ? kGold : kEnemy, e.y, e.x);
    const int back_x = e.right ? e.x - 1 : e.x + 1;
    if (back_x >= 0 && back_x <= 9) set(grid, kTrail, e.y, back_x);
  }
}

}  // namespace duel::rl
