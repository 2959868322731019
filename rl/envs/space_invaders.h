// MinAtar Space Invaders; rules, channels and quirks are documented in space_invaders.cpp.
#pragma once
#include <array>

#include "rl/envs/minatar.h"

namespace duel::rl {

class SpaceInvadersEnv final : public MinAtarEnv {
 public:
  enum Channel {
    kCannon = 0, kAlien = 1, kAlienLeft = 2, kAlienRight = 3, kFriendlyBullet = 4, kEnemyBullet = 5
  };
  static constexpr int kShotCoolDown = 5;
  static constexpr int kEnemyMoveInterval = 12;
  static constexpr int kEnemyShotInterval = 10;
  using Grid = std::array<uint8_t, kSize * kSize>;  // [y * 10 + x], 0/1
  struct State {
    int pos = 5;  // cannon column (row 9)
    Grid f_bullets{}, e_bullets{}, aliens{};
    int alien_dir = -1;  // -1 left, +1 right
    int enemy_move_interval = kEnemyMoveInterval;
    int alien_move_timer = kEnemyMoveInterval;
    int alien_shot_timer = kEnemyShotInterval;
    int ramp_index = 0;
    int shot_timer = 0;
  };

  explicit SpaceInvadersEnv(const MinAtarOptions& options = {});
  std::string name() const override { return "space_invaders"; }
  std::span<const int> minimal_action_set() const override;
  std::span<const ChannelInfo> channels() const override;
  int difficulty_ramp() const override { return s_.ramp_index; }

  const State& state() const { return s_; }
  State& mutable_state() { return s_; }

 protected:
  void reset_game() override;
  int act(int action) override;
  void draw(uint8_t* grid) const override;

 private:
  State s_;
};

}  // namespace duel::rl
