// MinAtar Freeway; rules, channels and quirks are documented in freeway.cpp.
#pragma once
#include <array>

#include "rl/envs/minatar.h"

namespace duel::rl {

class FreewayEnv final : public MinAtarEnv {
 public:
  enum Channel { kChicken = 0, kCar = 1, kSpeed1 = 2 /* .. kSpeed5 = 6 */ };
  static constexpr int kPlayerSpeed = 3;   // the chicken moves at most every 3 frames
  static constexpr int kTimeLimit = 2500;  // terminal once the timer goes below 0
  static constexpr int kNumCars = 8;
  struct Car {
    int x = 0, y = 1;
    int timer = 1;  // frames until the next move
    int speed = 1;  // signed: sign = direction, |speed| in 1..5 (moves every |speed|+1 frames)
  };
  struct State {
    int pos = 9;  // chicken row; the chicken is always in column 4
    int move_timer = kPlayerSpeed;
    int terminate_timer = kTimeLimit;
    std::array<Car, kNumCars> cars{};
  };

  explicit FreewayEnv(const MinAtarOptions& options = {});
  std::string name() const override { return "freeway"; }
  std::span<const int> minimal_action_set() const override;
  std::span<const ChannelInfo> channels() const override;

  const State& state() const { return s_; }
  State& mutable_state() { return s_; }

 protected:
  void reset_game() override;
  int act(int action) override;
  void draw(uint8_t* grid) const override;

 private:
  void randomize_cars(bool initialize);
  State s_;
};

}  // namespace duel::rl
