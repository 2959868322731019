// MinAtar Asterix; rules, channels and quirks are documented in asterix.cpp.
#pragma once
#include <array>

#include "rl/envs/minatar.h"

namespace duel::rl {

class AsterixEnv final : public MinAtarEnv {
 public:
  enum Channel { kPlayer = 0, kEnemy = 1, kTrail = 2, kGold = 3 };
  static constexpr int kRampInterval = 100;
  static constexpr int kInitSpawnSpeed = 10;
  static constexpr int kInitMoveInterval = 5;
  static constexpr int kNumSlots = 8;  // one entity slot per row 1..8
  struct Entity {
    bool active = false;
    int x = 0, y = 0;
    bool right = false;  // moving right (spawned at column 0)
    bool gold = false;   // treasure rather than an enemy
  };
  struct State {
    int player_x = 5, player_y = 5;
    std::array<Entity, kNumSlots> entities{};
    int spawn_speed = kInitSpawnSpeed, spawn_timer = kInitSpawnSpeed;
    int move_speed = kInitMoveInterval, move_timer = kInitMoveInterval;
    int ramp_timer = kRampInterval, ramp_index = 0;
  };

  explicit AsterixEnv(const MinAtarOptions& options = {});
  std::string name() const override { return "asterix"; }
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
  void spawn_entity();
  // Picks up treasure (+1, removed) or ends the episode on an enemy in the player's cell.
  int touch(Entity& e);
  State s_;
};

}  // namespace duel::rl
