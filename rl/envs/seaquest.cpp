// MinAtar Seaquest, transcribed from minatar/environments/seaquest.py (minatar 1.0.15).
//
// Rules: the player's submarine occupies two cells (front and, behind it, back) and starts
// at the surface (row 0, column 5) facing left. left/right move and turn it, up/down move
// it within rows 0-8; fire launches a bullet from the front cell in the facing direction
// (5-frame cool-down; fire takes precedence over moving). Bullets fly one cell per frame.
// Enemies -- fish, and (prob. 1/3) subs that shoot -- spawn every e_spawn_speed + 1 frames
// in a random row 1-8 at column 0 moving right or column 9 moving left (prob. 1/2), unless
// that row holds an entity moving the other way (then nothing spawns); they move one cell
// every move_speed + 1 frames. A sub fires a bullet along its direction every 11 frames.
// Divers spawn every 31 frames the same way and move every 6 frames; touching one picks it
// up while fewer than 6 are carried. +1 for each enemy hit by a friendly bullet (both
// removed). Touching an enemy or enemy bullet terminates the episode. Oxygen (200) drops by
// one per frame below the surface; the episode terminates when it is <= 0 at the end of a
// frame. Arriving at the surface with no divers terminates; with 1-5 divers it costs one
// diver and refills the oxygen; with 6 it pays oxygen*10/200 (floor, up to +10), removes
// them all and refills the oxygen. Every surfacing ramps the difficulty (if enabled):
// e_spawn_speed drops by 1 (down to 1) and, on odd ramp indices, move_speed by 1 (down to
// 2).
//
// Channels (reference order): 0 sub_front, 1 sub_back, 2 friendly_bullet, 3 trail (the
// cell behind every fish, enemy sub and diver), 4 enemy_bullet, 5 enemy_fish, 6 enemy_sub,
// 7 oxygen_guage (row 9, columns [0, oxygen*10/200)), 8 diver_guage (row 9, columns
// [9 - divers, 9)), 9 diver.
//
// Randomness: enemy spawn rand() < 1/2 (direction), rand() < 1/3 (sub), randint(1, 9)
// (row); diver spawn rand() < 1/2, randint(1, 9); all on the env's single RNG.
//
// Reference quirks kept on purpose (all verified against minatar by the trace test):
//  * DIVER COUNT AFTER A FULL SURFACING. The reference's _surface() sets the count to 0
//    when surfacing with 6 divers and then unconditionally decrements it, leaving -1. So
//    the next full load needs 7 pick-ups, the diver gauge is empty meanwhile, and --
//    because "no divers" is tested as count == 0 -- the player may surface again with a
//    negative count without dying (each surfacing decrements it further). The docstring
//    says all divers are removed (count 0). We follow the CODE by default
//    (SeaquestDiverRule::kReference), because results reported with MinAtar (e.g. the DQN
//    baselines) were produced by it; SeaquestDiverRule::kDocumented gives count 0 instead.
//    A uniformly random policy essentially never collects 6 divers, so the choice does
//    not show in the random-policy statistics.
//  * Entities are updated in the reference's order (bullets, divers, subs, enemy bullets,
//    fish), each list back to front, so e.g. a sub that collides with a bullet or leaves
//    the screen still fires its pending shot that frame (an off-screen shot vanishes at
//    once; an on-screen one stays -- the sub's "last bullet").
//  * Collisions are only tested on equal cells, so a bullet and an enemy moving towards
//    each other may swap cells without meeting.
//  * The oxygen test runs before the oxygen update: a dive lasts 200 frames underwater and
//    terminates on the next one.
#include "rl/envs/seaquest.h"

#include <algorithm>

namespace duel::rl {

namespace {
constexpr int kMinimal[] = {MinAtarEnv::kNoop, MinAtarEnv::kLeft, MinAtarEnv::kUp,
                            MinAtarEnv::kRight, MinAtarEnv::kDown, MinAtarEnv::kFire};
constexpr ChannelInfo kChannels[] = {
    {"sub_front", 'S', {255, 230, 60}},       {"sub_back", 's', {200, 180, 40}},
    {"friendly_bullet", '-', {255, 255, 255}}, {"trail", '.', {120, 120, 120}},
    {"enemy_bullet", '*', {255, 120, 0}},      {"enemy_fish", 'F', {230, 60, 60}},
    {"enemy_sub", 'E', {180, 60, 200}},        {"oxygen_guage", 'O', {60, 160, 255}},
    {"diver_guage", 'd', {120, 220, 200}},     {"diver", 'D', {60, 220, 90}},
};
}  // namespace

SeaquestEnv::SeaquestEnv(const MinAtarOptions& options, SeaquestDiverRule diver_rule)
    : MinAtarEnv(options), diver_rule_(diver_rule) {
  reset_game();
}

std::span<const int> SeaquestEnv::minimal_action_set() const { return kMinimal; }
std::span<const ChannelInfo> SeaquestEnv::channels() const { return kChannels; }

void SeaquestEnv::reset_game() {
  s_ = State{};
  terminal_ = false;
}

void SeaquestEnv::spawn_enemy() {
  const bool right = rng_.rand() < 1.0 / 2;
  const bool is_sub = rng_.rand() < 1.0 / 3;
  const int x = right ? 0 : 9;
  const int y = static_cast<int>(rng_.randint(1, 9));
  // Never spawn into a row holding an enemy moving the other way.
  for (const Sub& e : s_.subs)
    if (e.y == y && e.right != right) return;
  for (const Mover& e : s_.fish)
    if (e.y == y && e.right != right) return;
  if (is_sub) s_.subs.push_back({x, y, right, s_.move_speed, kEnemyShotInterval});
  else s_.fish.push_back({x, y, right, s_.move_speed});
}

void SeaquestEnv::spawn_diver() {
  const bool right = rng_.rand() < 1.0 / 2;
  const int x = right ? 0 : 9;
  const int y = static_cast<int>(rng_.randint(1, 9));
  s_.divers.push_back({x, y, right, kDiverMoveInterval});
}

int SeaquestEnv::surface() {
  s_.surface = true;
  int r = 0;
  if (s_.diver_count == kMaxDivers) {
    s_.diver_count = 0;
    r = s_.oxygen * 10 / kMaxOxygen;
    if (diver_rule_ == SeaquestDiverRule::kReference) s_.diver_count -= 1;  // see header comment
  } else {
    s_.diver_count -= 1;
  }
  s_.oxygen = kMaxOxygen;
  if (options().difficulty_ramping && (s_.e_spawn_speed > 1 || s_.move_speed > 2)) {
    if (s_.move_speed > 2 && s_.ramp_index % 2) s_.move_speed -= 1;
    if (s_.e_spawn_speed > 1) s_.e_spawn_speed -= 1;
    s_.ramp_index += 1;
  }
  return r;
}

int SeaquestEnv::act(int action) {
  int r = 0;
  if (s_.e_spawn_timer == 0) {
    spawn_enemy();
    s_.e_spawn_timer = s_.e_spawn_speed;
  }
  if (s_.d_spawn_timer == 0) {
    spawn_diver();
    s_.d_spawn_timer = kDiverSpawnSpeed;
  }

  // Player action.
  if (action == kFire && s_.shot_timer == 0) {
    s_.f_bullets.push_back({s_.sub_x, s_.sub_y, s_.sub_right});
    s_.shot_timer = kShotCoolDown;
  } else if (action == kLeft) {
    s_.sub_x = std::max(0, s_.sub_x - 1);
    s_.sub_right = false;
  } else if (action == kRight) {
    s_.sub_x = std::min(9, s_.sub_x + 1);
    s_.sub_right = true;
  } else if (action == kUp) {
    s_.sub_y = std::max(0, s_.sub_y - 1);
  } else if (action == kDown) {
    s_.sub_y = std::min(8, s_.sub_y + 1);
  }

  // Friendly bullets: move, then hit the first fish (else the first sub) in their cell.
  for (size_t i = s_.f_bullets.size(); i-- > 0;) {
    Bullet& b = s_.f_bullets[i];
    b.x += b.right ? 1 : -1;
    if (b.x < 0 || b.x > 9) {
      s_.f_bullets.erase(i);
      continue;
    }
    bool removed = false;
    for (size_t j = 0; j < s_.fish.size(); ++j) {
      if (s_.fish[j].x == b.x && s_.fish[j].y == b.y) {
        s_.fish.erase(j);
        s_.f_bullets.erase(i);
        r += 1;
        removed = true;
        break;
      }
    }
    if (removed) continue;
    for (size_t j = 0; j < s_.subs.size(); ++j) {
      if (s_.subs[j].x == b.x && s_.subs[j].y == b.y) {
        s_.subs.erase(j);
        s_.f_bullets.erase(i);
        r += 1;
        break;
      }
    }
  }

  // Divers: picked up (while fewer than 6 are carried) before or after moving.
  for (size_t i = s_.divers.size(); i-- > 0;) {
    Mover& d = s_.divers[i];
    if (at_player(d.x, d.y) && s_.diver_count < kMaxDivers) {
      s_.divers.erase(i);
      s_.diver_count += 1;
    } else if (d.move_timer == 0) {
      d.move_timer = kDiverMoveInterval;
      d.x += d.right ? 1 : -1;
      if (d.x < 0 || d.x > 9) {
        s_.divers.erase(i);
      } else if (at_player(d.x, d.y) && s_.diver_count < kMaxDivers) {
        s_.divers.erase(i);
        s_.diver_count += 1;
      }
    } else {
      d.move_timer -= 1;
    }
  }

  // Enemy subs: collide, move, get shot by a bullet already in their new cell, fire.
  for (size_t i = s_.subs.size(); i-- > 0;) {
    Sub sub = s_.subs[i];  // a copy: the reference keeps using it after removing it
    bool alive = true;
    if (at_player(sub.x, sub.y)) terminal_ = true;
    if (sub.move_timer == 0) {
      sub.move_timer = s_.move_speed;
      sub.x += sub.right ? 1 : -1;
      if (sub.x < 0 || sub.x > 9) {
        alive = false;
      } else if (at_player(sub.x, sub.y)) {
        terminal_ = true;
      } else {
        for (size_t j = 0; j < s_.f_bullets.size(); ++j) {
          if (s_.f_bullets[j].x == sub.x && s_.f_bullets[j].y == sub.y) {
            alive = false;
            s_.f_bullets.erase(j);
            r += 1;
            break;
          }
        }
      }
    } else {
      sub.move_timer -= 1;
    }
    if (sub.shot_timer == 0) {
      sub.shot_timer = kEnemyShotInterval;
      s_.e_bullets.push_back({sub.x, sub.y, sub.right});
    } else {
      sub.shot_timer -= 1;
    }
    if (alive) s_.subs[i] = sub;
    else s_.subs.erase(i);
  }

  // Enemy bullets (including the ones just fired).
  for (size_t i = s_.e_bullets.size(); i-- > 0;) {
    Bullet& b = s_.e_bullets[i];
    if (at_player(b.x, b.y)) terminal_ = true;
    b.x += b.right ? 1 : -1;
    if (b.x < 0 || b.x > 9) s_.e_bullets.erase(i);
    else if (at_player(b.x, b.y)) terminal_ = true;
  }

  // Enemy fish: like subs, without shooting.
  for (size_t i = s_.fish.size(); i-- > 0;) {
    Mover& f = s_.fish[i];
    if (at_player(f.x, f.y)) terminal_ = true;
    if (f.move_timer == 0) {
      f.move_timer = s_.move_speed;
      f.x += f.right ? 1 : -1;
      if (f.x < 0 || f.x > 9) {
        s_.fish.erase(i);
      } else if (at_player(f.x, f.y)) {
        terminal_ = true;
      } else {
        for (size_t j = 0; j < s_.f_bullets.size(); ++j) {
          if (s_.f_bullets[j].x == f.x && s_.f_bullets[j].y == f.y) {
            s_.fish.erase(i);
            s_.f_bullets.erase(j);
            r += 1;
            break;
          }
        }
      }
    } else {
      f.move_timer -= 1;
    }
  }

  // Timers, oxygen and surfacing.
  if (s_.e_spawn_timer > 0) s_.e_spawn_timer -= 1;
  if (s_.d_spawn_timer > 0) s_.d_spawn_timer -= 1;
  if (s_.shot_timer > 0) s_.shot_timer -= 1;
  if (s_.oxygen <= 0) terminal_ = true;
  if (s_.sub_y > 0) {
    s_.oxygen -= 1;
    s_.surface = false;
  } else if (!s_.surface) {
    if (s_.diver_count == 0) terminal_ = true;
    else r += surface();
  }
  return r;
}

void SeaquestEnv::draw(uint8_t* grid) const {
  set(grid, kSubFront, s_.sub_y, s_.sub_x);
  // The back cell is always on screen in play (the sub reaches column 0 only facing left
  // and column 9 only facing right); states set by hand may put it off screen.
  const int back_x = s_.sub_right ? s_.sub_x - 1 : s_.sub_x + 1;
  if (back_x >= 0 && back_x <= 9) set(grid, kSubBack, s_.sub_y, back_x);
  const int oxygen_cells = std::max(0, s_.oxygen) * 10 / kMaxOxygen;
  for (int x = 0; x < oxygen_cells; ++x) set(grid, kOxygenGauge, 9, x);
  for (int x = std::max(0, 9 - s_.diver_count); x < 9; ++x) set(grid, kDiverGauge, 9, x);
  for (const Bullet& b : s_.f_bullets) set(grid, kFriendlyBullet, b.y, b.x);
  for (const Bullet& b : s_.e_bullets) set(grid, kEnemyBullet, b.y, b.x);
  auto trail = [&](int x, int y, bool right) {
    const int bx = right ? x - 1 : x + 1;
    if (bx >= 0 && bx <= 9) set(grid, kTrail, y, bx);
  };
  for (const Mover& f : s_.fish) {
    set(grid, kEnemyFish, f.y, f.x);
    trail(f.x, f.y, f.right);
  }
  for (const Sub& e : s_.subs) {
    set(grid, kEnemySub, e.y, e.x);
    trail(e.x, e.y, e.right);
  }
  for (const Mover& d : s_.divers) {
    set(grid, kDiver, d.y, d.x);
    trail(d.x, d.y, d.right);
  }
}

}  // namespace duel::rl
