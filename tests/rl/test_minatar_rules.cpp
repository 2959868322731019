// Rule-level tests of the MinAtar games against minatar 1.0.15's rules: each test builds a
// situation through mutable_state() (sticky actions off unless stated) and checks one rule.
#include <catch2/catch.hpp>

#include <vector>

#include "rl/envs/asterix.h"
#include "rl/envs/breakout.h"
#include "rl/envs/freeway.h"
#include "rl/envs/seaquest.h"
#include "rl/envs/space_invaders.h"
#include "tensor/error.h"

using namespace duel::rl;
using A = MinAtarEnv::Action;

namespace {

MinAtarOptions deterministic() {
  MinAtarOptions o;
  o.sticky_action_prob = 0.0;
  return o;
}

// Observation cell (channel, row, column) of the channel-major grid.
bool cell(const MinAtarEnv& env, int c, int y, int x) {
  std::vector<uint8_t> obs(env.obs_size());
  env.observe(obs.data());
  return obs[(c * 10 + y) * 10 + x] != 0;
}

int count_channel(const MinAtarEnv& env, int c) {
  std::vector<uint8_t> obs(env.obs_size());
  env.observe(obs.data());
  int n = 0;
  for (int i = 0; i < 100; ++i) n += obs[c * 100 + i];
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Breakout
// ---------------------------------------------------------------------------------------

TEST_CASE("breakout: start state and channels", "[rl][minatar][breakout]") {
  BreakoutEnv env(deterministic());
  env.reset(uint64_t{0});
  const auto& s = env.state();
  CHECK(s.ball_y == 3);
  CHECK(((s.ball_x == 0 && s.ball_dir == 2) || (s.ball_x == 9 && s.ball_dir == 3)));
  CHECK(env.obs_shape().dims == std::array<int, 3>{4, 10, 10});
  CHECK(count_channel(env, BreakoutEnv::kBrick) == 30);
  for (int y = 1; y <= 3; ++y) CHECK(cell(env, BreakoutEnv::kBrick, y, 5));
  CHECK(cell(env, BreakoutEnv::kPaddle, 9, 4));
  CHECK(cell(env, BreakoutEnv::kBall, 3, s.ball_x));
  CHECK(cell(env, BreakoutEnv::kTrail, 3, s.ball_x));
}

TEST_CASE("breakout: the ball bounces off walls and the ceiling", "[rl][minatar][breakout]") {
  BreakoutEnv env(deterministic());
  auto& s = env.mutable_state();
  s.bricks.fill(0);
  SECTION("left wall") {
    s.ball_x = 0, s.ball_y = 5, s.ball_dir = 3;  // down-left into the wall
    CHECK(env.step(A::kNoop).reward == 0);
    CHECK(s.ball_x == 0);  // column clamped: only the row changes this frame
    CHECK(s.ball_y == 6);
    CHECK(s.ball_dir == 2);  // now down-right
    env.step(A::kNoop);
    CHECK(s.ball_x == 1);
    CHECK(s.ball_y == 7);
  }
  SECTION("right wall") {
    s.ball_x = 9, s.ball_y = 5, s.ball_dir = 1;  // up-right into the wall
    env.step(A::kNoop);
    CHECK(s.ball_x == 9);
    CHECK(s.ball_y == 4);
    CHECK(s.ball_dir == 0);  // up-left
  }
  SECTION("ceiling") {
    s.ball_x = 4, s.ball_y = 0, s.ball_dir = 1;  // up-right into the ceiling
    env.step(A::kNoop);
    CHECK(s.ball_x == 5);
    CHECK(s.ball_y == 0);
    CHECK(s.ball_dir == 2);  // down-right
  }
}

TEST_CASE("breakout: hitting a brick pays +1, removes it and reflects", "[rl][minatar][breakout]") {
  BreakoutEnv env(deterministic());
  auto& s = env.mutable_state();
  s.ball_x = 5, s.ball_y = 4, s.ball_dir = 0;  // up-left into brick (row 3, column 4)
  REQUIRE(s.brick(3, 4));
  const StepResult r = env.step(A::kNoop);
  CHECK(r.reward == 1.0f);
  CHECK_FALSE(r.terminated);
  CHECK_FALSE(s.brick(3, 4));
  CHECK_FALSE(cell(env, BreakoutEnv::kBrick, 3, 4));
  CHECK(s.ball_x == 4);
  CHECK(s.ball_y == 4);     // stays in its row
  CHECK(s.ball_dir == 3);   // down-left
  CHECK(s.strike);

  SECTION("reference quirk: a brick entered on the very next frame is not broken") {
    s.bricks[5 * 10 + 3] = 1;  // a brick where the ball goes next
    const StepResult r2 = env.step(A::kNoop);
    CHECK(r2.reward == 0.0f);
    CHECK(s.brick(5, 3));  // still there
    CHECK(s.ball_x == 3);
    CHECK(s.ball_y == 5);  // the ball sits inside the brick cell
    CHECK(s.strike);
  }
}

TEST_CASE("breakout: the paddle bounces the ball, a miss terminates", "[rl][minatar][breakout]") {
  BreakoutEnv env(deterministic());
  auto& s = env.mutable_state();
  s.pos = 4;
  SECTION("paddle under the ball: straight back up") {
    s.ball_x = 4, s.ball_y = 8, s.ball_dir = 2;
    CHECK_FALSE(env.step(A::kNoop).terminated);
    CHECK(s.ball_x == 5);
    CHECK(s.ball_y == 8);
    CHECK(s.ball_dir == 1);  // up-right
  }
  SECTION("paddle where the ball lands: bounced back sideways") {
    s.ball_x = 3, s.ball_y = 8, s.ball_dir = 2;
    CHECK_FALSE(env.step(A::kNoop).terminated);
    CHECK(s.ball_x == 4);
    CHECK(s.ball_y == 8);
    CHECK(s.ball_dir == 0);  // up-left
  }
  SECTION("miss") {
    s.ball_x = 7, s.ball_y = 8, s.ball_dir = 2;
    const StepResult r = env.step(A::kNoop);
    CHECK(r.terminated);
    CHECK(s.ball_y == 9);
    // After the end the env stays put and pays nothing.
    const StepResult r2 = env.step(A::kLeft);
    CHECK(r2.terminated);
    CHECK(r2.reward == 0.0f);
    CHECK(s.pos == 4);
  }
  SECTION("moving the paddle") {
    env.step(A::kLeft);
    CHECK(s.pos == 3);
    env.step(A::kRight);
    env.step(A::kRight);
    CHECK(s.pos == 5);
    env.step(A::kUp);  // up, down and fire do nothing
    env.step(A::kFire);
    CHECK(s.pos == 5);
  }
}

TEST_CASE("breakout: bricks are restored when the ball reaches the bottom with none left",
          "[rl][minatar][breakout]") {
  BreakoutEnv env(deterministic());
  auto& s = env.mutable_state();
  s.bricks.fill(0);
  s.pos = 4;
  s.ball_x = 4, s.ball_y = 8, s.ball_dir = 2;
  env.step(A::kNoop);
  CHECK(count_channel(env, BreakoutEnv::kBrick) == 30);
}

// ---------------------------------------------------------------------------------------
// Freeway
// ---------------------------------------------------------------------------------------

namespace {
// Parks every car far from column 4 and makes it slow so that it cannot interfere.
void park_cars(FreewayEnv& env) {
  for (auto& car : env.mutable_state().cars) {
    car.x = 0;
    car.speed = -5;
    car.timer = 5;
  }
}
}  // namespace

TEST_CASE("freeway: reaching the top pays +1 and returns the chicken", "[rl][minatar][freeway]") {
  FreewayEnv env(deterministic());
  park_cars(env);
  auto& s = env.mutable_state();
  s.pos = 1;
  s.move_timer = 0;
  const StepResult r = env.step(A::kUp);
  CHECK(r.reward == 1.0f);
  CHECK(s.pos == 9);
  CHECK(cell(env, FreewayEnv::kChicken, 9, 4));
  // Car speeds were re-randomised, positions kept.
  for (const auto& car : s.cars) {
    CHECK(car.x == 0);  // the cars were slowed to speed 5 with timers of 5: nobody moved
    CHECK(std::abs(car.speed) >= 1);
    CHECK(std::abs(car.speed) <= 5);
  }
}

TEST_CASE("freeway: the chicken moves at most every 3 frames", "[rl][minatar][freeway]") {
  FreewayEnv env(deterministic());
  park_cars(env);
  auto& s = env.mutable_state();
  CHECK(s.move_timer == 3);  // also right after reset
  s.move_timer = 0;
  env.step(A::kUp);
  CHECK(s.pos == 8);
  env.step(A::kUp);
  env.step(A::kUp);
  CHECK(s.pos == 8);
  env.step(A::kUp);
  CHECK(s.pos == 7);
  env.step(A::kLeft);  // left/right/fire do nothing
  env.step(A::kFire);
  env.step(A::kDown);
  CHECK(s.pos == 8);
}

TEST_CASE("freeway: a car collision sends the chicken back to the bottom", "[rl][minatar][freeway]") {
  FreewayEnv env(deterministic());
  park_cars(env);
  auto& s = env.mutable_state();
  s.pos = 5;
  s.move_timer = 2;
  SECTION("car moving into the chicken") {
    auto& car = s.cars[4];  // row 5
    REQUIRE(car.y == 5);
    car.x = 3, car.speed = 2, car.timer = 0;
    const StepResult r = env.step(A::kNoop);
    CHECK(r.reward == 0.0f);
    CHECK(car.x == 4);
    CHECK(car.timer == 2);
    CHECK(s.pos == 9);
  }
  SECTION("chicken stepping onto a car") {
    s.move_timer = 0;
    auto& car = s.cars[3];  // row 4
    car.x = 4, car.speed = 3, car.timer = 2;
    env.step(A::kUp);
    CHECK(s.pos == 9);
  }
  SECTION("cars wrap around and show their speed in a trail channel") {
    auto& car = s.cars[0];
    car.x = 9, car.speed = 1, car.timer = 0;
    env.step(A::kNoop);
    CHECK(car.x == 0);
    CHECK(cell(env, FreewayEnv::kCar, 1, 0));
    CHECK(cell(env, FreewayEnv::kSpeed1, 1, 9));  // behind it, wrapped
    s.cars[1].speed = -4;
    CHECK(cell(env, FreewayEnv::kSpeed1 + 3, 2, 1));
  }
}

TEST_CASE("freeway: the episode ends after 2500 frames (on the 2501st step)", "[rl][minatar][freeway]") {
  FreewayEnv env;  // sticky actions on: irrelevant here
  env.reset(uint64_t{5});
  for (int t = 1; t <= 2500; ++t) REQUIRE_FALSE(env.step(A::kNoop).terminated);
  const StepResult r = env.step(A::kNoop);
  CHECK(r.terminated);
  CHECK_FALSE(r.truncated);  // the reference reports it as terminal
}

// ---------------------------------------------------------------------------------------
// Asterix
// ---------------------------------------------------------------------------------------

TEST_CASE("asterix: treasure pays +1 and disappears, an enemy terminates", "[rl][minatar][asterix]") {
  AsterixEnv env(deterministic());
  auto& s = env.mutable_state();
  s.spawn_timer = 50;
  s.move_timer = 3;
  REQUIRE(s.player_x == 5);
  REQUIRE(s.player_y == 5);
  SECTION("walking onto treasure") {
    s.entities[4] = {true, 4, 5, true, true};  // row 5, column 4, gold
    CHECK(cell(env, AsterixEnv::kGold, 5, 4));
    CHECK(cell(env, AsterixEnv::kTrail, 5, 3));
    const StepResult r = env.step(A::kLeft);
    CHECK(r.reward == 1.0f);
    CHECK_FALSE(r.terminated);
    CHECK_FALSE(s.entities[4].active);
    CHECK(count_channel(env, AsterixEnv::kGold) == 0);
  }
  SECTION("treasure moving onto the player") {
    s.move_timer = 0;
    s.entities[4] = {true, 6, 5, false, true};  // moving left into (5, 5)
    CHECK(env.step(A::kNoop).reward == 1.0f);
  }
  SECTION("enemy") {
    s.entities[3] = {true, 5, 4, false, false};  // row 4, column 5, enemy
    const StepResult r = env.step(A::kUp);
    CHECK(r.terminated);
    CHECK(r.reward == 0.0f);
  }
  SECTION("the player stays within rows 1-8") {
    for (int i = 0; i < 6; ++i) env.step(A::kUp);
    CHECK(s.player_y == 1);
  }
}

TEST_CASE("asterix: spawning and difficulty ramping", "[rl][minatar][asterix]") {
  AsterixEnv env(deterministic());
  env.reset(uint64_t{1});
  auto& s = env.mutable_state();
  SECTION("the first entity spawns on frame 11 at a screen edge (and moves at once)") {
    for (int t = 1; t <= 10; ++t) env.step(A::kNoop);
    int active = 0;
    for (const auto& e : s.entities) active += e.active;
    CHECK(active == 0);
    env.step(A::kNoop);
    for (int i = 0; i < AsterixEnv::kNumSlots; ++i) {
      const auto& e = s.entities[i];
      if (!e.active) continue;
      ++active;
      CHECK(e.y == i + 1);
      CHECK(e.x == (e.right ? 1 : 8));  // spawned at column 0 or 9; frame 11 is a move frame
    }
    CHECK(active == 1);
  }
  SECTION("ramping speeds up spawns and, every other ramp, movement") {
    s.spawn_timer = 1000;  // nothing spawns
    s.ramp_timer = 0;
    env.step(A::kNoop);  // 0 -> -1
    CHECK(s.spawn_speed == 10);
    env.step(A::kNoop);  // ramp 0 -> 1: spawn speed only
    CHECK(s.ramp_index == 1);
    CHECK(s.spawn_speed == 9);
    CHECK(s.move_speed == 5);
    CHECK(s.ramp_timer == 100);
    CHECK(env.difficulty_ramp() == 1);
    s.ramp_timer = -1;
    env.step(A::kNoop);  // ramp 1 -> 2: both
    CHECK(s.spawn_speed == 8);
    CHECK(s.move_speed == 4);
  }
  SECTION("without ramping the speeds never change") {
    MinAtarOptions o = deterministic();
    o.difficulty_ramping = false;
    AsterixEnv flat(o);
    flat.mutable_state().spawn_timer = 1000;
    for (int t = 0; t < 300; ++t) flat.step(A::kNoop);
    CHECK(flat.state().spawn_speed == 10);
    CHECK(flat.state().ramp_index == 0);
  }
}

// ---------------------------------------------------------------------------------------
// Space Invaders
// ---------------------------------------------------------------------------------------

TEST_CASE("space_invaders: shooting an alien pays +1 and removes it", "[rl][minatar][space_invaders]") {
  SpaceInvadersEnv env(deterministic());
  auto& s = env.mutable_state();
  REQUIRE(s.pos == 5);
  REQUIRE(s.aliens[3 * 10 + 5]);
  s.alien_move_timer = 100;  // hold the block still
  s.alien_shot_timer = 100;
  CHECK(env.step(A::kFire).reward == 0.0f);
  CHECK(cell(env, SpaceInvadersEnv::kFriendlyBullet, 8, 5));  // fired from row 9, moved once
  CHECK(s.shot_timer == 4);
  float total = 0;
  for (int t = 0; t < 4; ++t) total += env.step(A::kNoop).reward;  // rows 7, 6, 5, 4
  CHECK(total == 0.0f);
  CHECK(env.step(A::kNoop).reward == 1.0f);  // row 3: the lowest alien of column 5
  CHECK_FALSE(s.aliens[3 * 10 + 5]);
  CHECK(s.aliens[2 * 10 + 5]);
  CHECK(count_channel(env, SpaceInvadersEnv::kFriendlyBullet) == 0);
  CHECK(count_channel(env, SpaceInvadersEnv::kAlien) == 23);
}

TEST_CASE("space_invaders: shot cool-down, aliens marching, enemy fire", "[rl][minatar][space_invaders]") {
  SpaceInvadersEnv env(deterministic());
  auto& s = env.mutable_state();
  SECTION("a second shot needs the 5-frame cool-down") {
    s.alien_shot_timer = 100;
    s.alien_move_timer = 100;
    s.pos = 0;  // no aliens in this column
    env.step(A::kFire);
    env.step(A::kFire);
    CHECK(count_channel(env, SpaceInvadersEnv::kFriendlyBullet) == 1);
    CHECK(s.pos == 0);  // fire is not a move
    env.step(A::kNoop);
    env.step(A::kNoop);
    env.step(A::kNoop);
    env.step(A::kFire);  // timer 5 -> 0 after 5 frames
    CHECK(count_channel(env, SpaceInvadersEnv::kFriendlyBullet) == 2);
  }
  SECTION("the block moves left every 12 frames, then steps down and turns at the edge") {
    s.alien_shot_timer = 1000;
    CHECK(cell(env, SpaceInvadersEnv::kAlienLeft, 0, 2));
    for (int t = 0; t < 12; ++t) env.step(A::kNoop);
    CHECK(s.aliens[0 * 10 + 2]);  // not yet
    env.step(A::kNoop);
    CHECK(s.aliens[0 * 10 + 1]);
    CHECK_FALSE(s.aliens[0 * 10 + 7]);
    // Two more moves reach column 0; the next move steps down and turns right.
    s.alien_move_timer = 0;
    env.step(A::kNoop);
    CHECK(s.aliens[0 * 10 + 0]);
    s.alien_move_timer = 0;
    env.step(A::kNoop);
    CHECK(s.alien_dir == 1);
    CHECK(s.aliens[1 * 10 + 0]);
    CHECK_FALSE(s.aliens[0 * 10 + 0]);
    CHECK(cell(env, SpaceInvadersEnv::kAlienRight, 1, 0));
    CHECK(count_channel(env, SpaceInvadersEnv::kAlienLeft) == 0);
  }
  SECTION("the nearest alien fires; its bullet kills the cannon") {
    s.alien_move_timer = 1000;
    s.alien_shot_timer = 0;
    env.step(A::kNoop);  // column 5's lowest alien (row 3) fires
    CHECK(cell(env, SpaceInvadersEnv::kEnemyBullet, 3, 5));
    bool terminated = false;
    int steps = 0;
    while (!terminated && steps < 10) {
      terminated = env.step(A::kNoop).terminated;
      ++steps;
    }
    CHECK(terminated);
    CHECK(steps == 6);  // rows 4..9
  }
  SECTION("clearing a wave spawns a faster one") {
    s.aliens.fill(0);
    s.aliens[8 * 10 + 5] = 1;
    s.alien_move_timer = 100;
    s.alien_shot_timer = 100;
    env.step(A::kFire);  // bullet at row 8 meets the last alien
    CHECK(count_channel(env, SpaceInvadersEnv::kAlien) == 24);
    CHECK(s.enemy_move_interval == 11);
    CHECK(env.difficulty_ramp() == 1);
  }
}

// ---------------------------------------------------------------------------------------
// Seaquest
// ---------------------------------------------------------------------------------------

namespace {
// No enemy or diver spawns during the test.
void quiet(SeaquestEnv& env) {
  auto& s = env.mutable_state();
  s.e_spawn_timer = 100000;
  s.d_spawn_timer = 100000;
}
}  // namespace

TEST_CASE("seaquest: running out of oxygen terminates", "[rl][minatar][seaquest]") {
  SeaquestEnv env(deterministic());
  quiet(env);
  const auto& s = env.state();
  REQUIRE(s.oxygen == 200);
  CHECK(count_channel(env, SeaquestEnv::kOxygenGauge) == 10);
  REQUIRE_FALSE(env.step(A::kDown).terminated);
  for (int t = 2; t <= 200; ++t) REQUIRE_FALSE(env.step(A::kNoop).terminated);
  CHECK(s.oxygen == 0);
  CHECK(count_channel(env, SeaquestEnv::kOxygenGauge) == 0);
  CHECK(env.step(A::kNoop).terminated);  // 201st frame underwater
}

TEST_CASE("seaquest: surfacing", "[rl][minatar][seaquest]") {
  SeaquestEnv env(deterministic());
  quiet(env);
  auto& s = env.mutable_state();
  env.step(A::kDown);
  for (int t = 0; t < 49; ++t) env.step(A::kNoop);
  REQUIRE(s.oxygen == 150);
  SECTION("with no divers terminates") {
    CHECK(env.step(A::kUp).terminated);
  }
  SECTION("with 1-5 divers costs one, refills oxygen and ramps difficulty") {
    s.diver_count = 3;
    const StepResult r = env.step(A::kUp);
    CHECK_FALSE(r.terminated);
    CHECK(r.reward == 0.0f);
    CHECK(s.diver_count == 2);
    CHECK(s.oxygen == 200);
    CHECK(s.e_spawn_speed == 19);
    CHECK(s.move_speed == 5);  // ramp index 0 is even
    CHECK(s.ramp_index == 1);
    // Staying at the surface is no new surfacing.
    CHECK_FALSE(env.step(A::kNoop).terminated);
    CHECK(s.diver_count == 2);
  }
  SECTION("with 6 divers pays for the remaining oxygen; the reference leaves the count at -1") {
    s.diver_count = 6;
    CHECK(count_channel(env, SeaquestEnv::kDiverGauge) == 6);
    const StepResult r = env.step(A::kUp);
    CHECK(r.reward == 7.0f);  // 150 * 10 / 200, floored
    CHECK(s.oxygen == 200);
    CHECK(s.diver_count == -1);  // documented quirk of minatar 1.0.15, kept by default
    CHECK(count_channel(env, SeaquestEnv::kDiverGauge) == 0);
    // With the count at -1, surfacing again does not end the game.
    env.step(A::kDown);
    CHECK_FALSE(env.step(A::kUp).terminated);
    CHECK(s.diver_count == -2);
  }
  SECTION("with 6 divers and the documented rule the count becomes 0") {
    SeaquestEnv doc(deterministic(), SeaquestDiverRule::kDocumented);
    quiet(doc);
    auto& d = doc.mutable_state();
    doc.step(A::kDown);
    d.diver_count = 6;
    CHECK(doc.step(A::kUp).reward == 9.0f);  // oxygen 199 -> 9
    CHECK(d.diver_count == 0);
    doc.step(A::kDown);
    CHECK(doc.step(A::kUp).terminated);  // surfacing empty-handed ends it
  }
}

TEST_CASE("seaquest: divers, shooting and collisions", "[rl][minatar][seaquest]") {
  SeaquestEnv env(deterministic());
  quiet(env);
  auto& s = env.mutable_state();
  s.sub_y = 4;
  s.surface = false;
  REQUIRE(s.sub_x == 5);
  REQUIRE_FALSE(s.sub_right);
  CHECK(cell(env, SeaquestEnv::kSubFront, 4, 5));
  CHECK(cell(env, SeaquestEnv::kSubBack, 4, 6));  // facing left
  SECTION("picking up a diver") {
    s.divers.push_back({4, 4, true, 3});
    env.step(A::kLeft);
    CHECK(s.diver_count == 1);
    CHECK(s.divers.empty());
    CHECK(cell(env, SeaquestEnv::kDiverGauge, 9, 8));
  }
  SECTION("shooting a fish pays +1") {
    s.fish.push_back({2, 4, true, 3});  // two cells left, moving right
    const StepResult r = env.step(A::kFire);
    CHECK(r.reward == 0.0f);  // bullet moved to column 4
    CHECK(s.f_bullets.size() == 1);
    const StepResult r2 = env.step(A::kNoop);  // bullet to column 3 ... fish still at 2
    const StepResult r3 = env.step(A::kNoop);  // bullet to column 2: hit
    CHECK(r2.reward + r3.reward == 1.0f);
    CHECK(s.fish.empty());
    CHECK(s.f_bullets.empty());
  }
  SECTION("touching a fish terminates") {
    s.fish.push_back({6, 3, false, 3});
    CHECK(env.step(A::kUp).terminated == false);  // moved to (5, 3); fish at (6, 3) not yet
    s.fish[0].move_timer = 0;
    CHECK(env.step(A::kNoop).terminated);  // fish moves left onto the sub
  }
  SECTION("enemy subs fire along their direction") {
    s.subs.push_back({0, 7, true, 10, 0});
    env.step(A::kNoop);
    REQUIRE(s.e_bullets.size() == 1);
    CHECK(s.e_bullets[0].x == 1);  // fired from column 0 and moved once
    CHECK(cell(env, SeaquestEnv::kEnemyBullet, 7, 1));
    CHECK(cell(env, SeaquestEnv::kEnemySub, 7, 0));
  }
}

// ---------------------------------------------------------------------------------------
// Common MinAtar machinery
// ---------------------------------------------------------------------------------------

TEST_CASE("minatar: sticky actions repeat the previous action 10% of the time", "[rl][minatar][sticky]") {
  FreewayEnv env;  // default p = 0.1
  env.reset(uint64_t{77});
  const int n = 20000;
  int repeated = 0;
  for (int t = 0; t < n; ++t) {
    const int wanted = (env.last_action() + 1 + t % 5) % 6;  // always differs from the last one
    const StepResult r = env.step(wanted);
    repeated += env.last_action() != wanted;
    if (r.done()) env.reset();
  }
  // Binomial(20000, 0.1): standard deviation 0.0021.
  CHECK(repeated / double(n) == Approx(0.1).margin(0.01));

  MinAtarOptions never;
  never.sticky_action_prob = 0.0;
  MinAtarOptions always;
  always.sticky_action_prob = 1.0;
  BreakoutEnv a(never), b(always);
  for (int t = 0; t < 50; ++t) {
    a.step(t % 6);
    CHECK(a.last_action() == t % 6);
    b.step(t % 6);
    CHECK(b.last_action() == 0);  // stuck with the initial no-op
  }
}

TEST_CASE("minatar: full and minimal action sets", "[rl][minatar]") {
  for (const char* game : {"breakout", "freeway", "asterix", "space_invaders", "seaquest"}) {
    auto env = make_minatar_env(game);
    CHECK(env->num_actions() == 6);  // the reference default
    CHECK(env->full_action(5) == 5);
  }
  MinAtarOptions o = deterministic();
  o.use_minimal_action_set = true;
  BreakoutEnv breakout(o);
  CHECK(breakout.num_actions() == 3);
  CHECK(breakout.action_name(2) == "right");
  breakout.step(2);
  CHECK(breakout.state().pos == 5);
  CHECK(breakout.last_action() == A::kRight);
  CHECK_THROWS_AS(breakout.step(3), duel::Error);
  CHECK(make_minatar_env("freeway", o)->num_actions() == 3);
  CHECK(make_minatar_env("asterix", o)->num_actions() == 5);
  CHECK(make_minatar_env("space_invaders", o)->num_actions() == 4);
  CHECK(make_minatar_env("seaquest", o)->num_actions() == 6);
}

TEST_CASE("minatar: reset(seed) is reproducible, reset() continues the stream", "[rl][minatar]") {
  auto run = [](MinAtarEnv& env) {
    std::vector<uint8_t> all, obs(env.obs_size());
    for (int t = 0; t < 300; ++t) {
      const StepResult r = env.step((t * 7 + 3) % 6);
      env.observe(obs.data());
      all.insert(all.end(), obs.begin(), obs.end());
      if (r.done()) env.reset();
    }
    return all;
  };
  SeaquestEnv a, b;
  a.reset(uint64_t{9});
  b.reset(uint64_t{9});
  const auto first = run(a);
  CHECK(first == run(b));
  b.reset(uint64_t{10});
  CHECK(first != run(b));
  a.reset(uint64_t{9});
  CHECK(first == run(a));  // re-seeding also forgets the last action
}
