// MinAtar Freeway, transcribed from minatar/environments/freeway.py (minatar 1.0.15).
//
// Rules: the chicken lives in column 4 and starts in row 9 (bottom). Actions up/down move
// it one row, but only when its move timer is 0; a move reloads the timer with 3 and it is
// decremented at the end of every frame, so the chicken moves at most once every 3 frames.
// Reaching row 0 pays +1, re-randomises every car's speed and direction (not its position)
// and puts the chicken back in row 9. Eight cars, one per row 1-8, start in column 0 and
// wrap around the screen; a car with speed s (|s| in 1..5) moves one cell in direction
// sign(s) whenever its timer is 0, then reloads the timer with |s| (no countdown on the
// frame it moves), so it moves once every |s| + 1 frames. A car in the chicken's cell --
// before or after the car's move -- sends the chicken back to row 9 (no penalty). The
// episode ends when the 2500-frame timer goes below zero, i.e. the 2501st step is
// terminal (reported as terminated, like the reference: it is a rule of the game, not a
// wrapper's truncation). No difficulty ramp.
//
// Channels (reference order): 0 chicken, 1 car, 2..6 speed1..speed5 -- a trail cell
// behind each car (the direction) in the channel of its |speed| (how often it moves).
//
// Randomness per randomisation: randint(1, 6, size=8) speeds, then sign(rand(8) - 0.5)
// directions, in that order.
#include "rl/envs/freeway.h"

#include <algorithm>
#include <cstdlib>

namespace duel::rl {

namespace {
constexpr int kMinimal[] = {MinAtarEnv::kNoop, MinAtarEnv::kUp, MinAtarEnv::kDown};
constexpr ChannelInfo kChannels[] = {
    {"chicken", 'C', {255, 230, 60}}, {"car", 'X', {230, 60, 60}},  {"speed1", '1', {40, 80, 200}},
    {"speed2", '2', {60, 110, 210}},  {"speed3", '3', {80, 140, 220}}, {"speed4", '4', {100, 170, 230}},
    {"speed5", '5', {120, 200, 240}},
};
}  // namespace

FreewayEnv::FreewayEnv(const MinAtarOptions& options) : MinAtarEnv(options) { reset_game(); }

std::span<const int> FreewayEnv::minimal_action_set() const { return kMinimal; }
std::span<const ChannelInfo> FreewayEnv::channels() const { return kChannels; }

void FreewayEnv::randomize_cars(bool initialize) {
  int speeds[kNumCars];
  for (int& s : speeds) s = static_cast<int>(rng_.randint(1, 6));
  for (int& s : speeds) {
    const double d = rng_.rand() - 0.5;  // np.sign: 0 keeps a speed of 0 (never happens in practice)
    s *= (d > 0) - (d < 0);
  }
  for (int i = 0; i < kNumCars; ++i) {
    Car& car = s_.cars[i];
    if (initialize) {
      car.x = 0;
      car.y = i + 1;
    }
    car.timer = std::abs(speeds[i]);
    car.speed = speeds[i];
  }
}

void FreewayEnv::reset_game() {
  randomize_cars(/*initialize=*/true);
  s_.pos = 9;
  s_.move_timer = kPlayerSpeed;
  s_.terminate_timer = kTimeLimit;
  terminal_ = false;
}

int FreewayEnv::act(int action) {
  int r = 0;
  if (action == kUp && s_.move_timer == 0) {
    s_.move_timer = kPlayerSpeed;
    s_.pos = std::max(0, s_.pos - 1);
  } else if (action == kDown && s_.move_timer == 0) {
    s_.move_timer = kPlayerSpeed;
    s_.pos = std::min(9, s_.pos + 1);
  }

  // Win condition.
  if (s_.pos == 0) {
    r += 1;
    randomize_cars(/*initialize=*/false);
    s_.pos = 9;
  }

  // Update cars; a collision (before or after the move) resets the chicken.
  for (Car& car : s_.cars) {
    if (car.x == 4 && car.y == s_.pos) s_.pos = 9;
    if (car.timer == 0) {
      car.timer = std::abs(car.speed);
      car.x += car.speed > 0 ? 1 : -1;
      if (car.x < 0) car.x = 9;
      else if (car.x > 9) car.x = 0;
      if (car.x == 4 && car.y == s_.pos) s_.pos = 9;
    } else {
      car.timer -= 1;
    }
  }

  // Timers.
  if (s_.move_timer > 0) s_.move_timer -= 1;
  s_.terminate_timer -= 1;
  if (s_.terminate_timer < 0) terminal_ = true;
  return r;
}

void FreewayEnv::draw(uint8_t* grid) const {
  set(grid, kChicken, s_.pos, 4);
  for (const Car& car : s_.cars) {
    set(grid, kCar, car.y, car.x);
    int back_x = car.speed > 0 ? car.x - 1 : car.x + 1;
    if (back_x < 0) back_x = 9;
    else if (back_x > 9) back_x = 0;
    const int speed = std::abs(car.speed);
    if (speed >= 1 && speed <= 5) set(grid, kSpeed1 + speed - 1, car.y, back_x);
  }
}

}  // namespace duel::rl
