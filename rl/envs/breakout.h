// MinAtar Breakout; rules, channels and quirks are documented in breakout.cpp.
#pragma once
#include <array>

#include "rl/envs/minatar.h"

namespace duel::rl {

class BreakoutEnv final : public MinAtarEnv {
 public:
  enum Channel { kPaddle = 0, kBall = 1, kTrail = 2, kBrick = 3 };
  // Ball directions: 0 up-left, 1 up-right, 2 down-right, 3 down-left.
  struct State {
    int ball_x = 0, ball_y = 3, ball_dir = 2;
    int last_x = 0, last_y = 3;  // previous ball position (the trail)
    int pos = 4;                 // paddle column (row 9)
    bool strike = false;         // a brick was hit on the previous frame
    std::array<uint8_t, kSize * kSize> bricks{};  // [y * 10 + x]
    bool brick(int y, int x) const { return bricks[y * kSize + x] != 0; }
  };

  explicit BreakoutEnv(const MinAtarOptions& options = {});
  std::string name() const override { return "breakout"; }
  std::span<const int> minimal_action_set() const override;
  std::span<const ChannelInfo> channels() const override;

  const State& state() const { return s_; }
  State& mutable_state() { return s_; }  // for tests and tools

 protected:
  void reset_game() override;
  int act(int action) override;
  void draw(uint8_t* grid) const override;

 private:
  State s_;
};

}  // namespace duel::rl
