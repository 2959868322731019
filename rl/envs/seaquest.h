// MinAtar Seaquest; rules, channels and quirks are documented in seaquest.cpp.
#pragma once
#include "rl/envs/fixed_vector.h"
#include "rl/envs/minatar.h"

namespace duel::rl {

// What surfacing with 6 divers leaves in the diver count (see seaquest.cpp).
enum class SeaquestDiverRule {
  kReference,  // minatar 1.0.15: the count becomes -1 (default)
  kDocumented  // the reference's docstring: the count becomes 0
};

class SeaquestEnv final : public MinAtarEnv {
 public:
  enum Channel {
    kSubFront = 0, kSubBack = 1, kFriendlyBullet = 2, kTrail = 3, kEnemyBullet = 4,
    kEnemyFish = 5, kEnemySub = 6, kOxygenGauge = 7, kDiverGauge = 8, kDiver = 9
  };
  static constexpr int kMaxOxygen = 200;
  static constexpr int kInitSpawnSpeed = 20;
  static constexpr int kDiverSpawnSpeed = 30;
  static constexpr int kInitMoveInterval = 5;
  static constexpr int kShotCoolDown = 5;
  static constexpr int kEnemyShotInterval = 10;
  static constexpr int kDiverMoveInterval = 5;
  static constexpr int kMaxDivers = 6;

  struct Bullet { int x = 0, y = 0; bool right = false; };
  struct Mover { int x = 0, y = 0; bool right = false; int move_timer = 0; };  // fish, diver
  struct Sub { int x = 0, y = 0; bool right = false; int move_timer = 0, shot_timer = 0; };
  // Capacities are far above anything reachable (at most one spawn per frame, and every
  // entity leaves the screen within ~60 frames); exceeding one throws.
  static constexpr size_t kCapacity = 128;
  struct State {
    int sub_x = 5, sub_y = 0;
    bool sub_right = false;  // orientation: the back cell is behind the front one
    int oxygen = kMaxOxygen;
    int diver_count = 0;
    FixedVector<Bullet, kCapacity> f_bullets, e_bullets;
    FixedVector<Mover, kCapacity> fish, divers;
    FixedVector<Sub, kCapacity> subs;
    int e_spawn_speed = kInitSpawnSpeed, e_spawn_timer = kInitSpawnSpeed;
    int d_spawn_timer = kDiverSpawnSpeed;
    int move_speed = kInitMoveInterval;
    int ramp_index = 0;
    int shot_timer = 0;
    bool surface = true;  // already surfaced (no surfacing event until the sub dives again)
  };

  explicit SeaquestEnv(const MinAtarOptions& options = {},
                       SeaquestDiverRule diver_rule = SeaquestDiverRule::kReference);
  std::string name() const override { return "seaquest"; }
  std::span<const int> minimal_action_set() const override;
  std::span<const ChannelInfo> channels() const override;
  int difficulty_ramp() const override { return s_.ramp_index; }
  SeaquestDiverRule diver_rule() const { return diver_rule_; }

  const State& state() const { return s_; }
  State& mutable_state() { return s_; }

 protected:
  void reset_game() override;
  int act(int action) override;
  void draw(uint8_t* grid) const override;

 private:
  bool at_player(int x, int y) const { return x == s_.sub_x && y == s_.sub_y; }
  int surface();
  void spawn_enemy();
  void spawn_diver();
  State s_;
  SeaquestDiverRule diver_rule_;
};

}  // namespace duel::rl
