// Replay buffer of the DQN family (rl/replay.h): ring wrap-around, sampling only stored
// slots, terminated vs truncated flags, the three observation storages (float, byte, bit)
// round-tripping exactly, and save/load through a checkpoint file.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "rl/replay.h"
#include "tensor/error.h"
#include "tensor/ops/elementwise.h"
#include "tensor/serialize.h"

using namespace duel;
using namespace duel::rl;

namespace {

// Transition k of a test stream: obs filled with k, next_obs with k + 0.5, action k % 3,
// reward -k, terminated when k % 4 == 1, truncated when k % 4 == 2.
void add_float(ReplayBuffer& b, int k) {
  std::vector<float> o(b.obs_numel(), (float)k), n(b.obs_numel(), (float)k + 0.5f);
  b.add(o.data(), k % 3, (float)-k, n.data(), k % 4 == 1, k % 4 == 2);
}

// Binary observation k: cell i set when a hash of (k, i) is odd.
std::vector<uint8_t> binary_obs(int64_t n, uint64_t k) {
  std::vector<uint8_t> v(n);
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = (k + 1) * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xBF58476D1CE4E5B9ull;
    z ^= z >> 29;
    z *= 0x94D049BB133111EBull;
    v[i] = (z >> 40) & 1;
  }
  return v;
}

std::filesystem::path temp_file(const std::string& tag) {
  return std::filesystem::temp_directory_path() / ("duel_test_" + tag + "_" + std::to_string(::getpid()) + ".duel");
}

}  // namespace

TEST_CASE("replay: the ring overwrites the oldest transitions", "[dqn][replay]") {
  ReplayBuffer b(5, {2}, ObsStorage::kFloat32);
  CHECK(b.size() == 0);
  for (int k = 0; k < 3; ++k) add_float(b, k);
  CHECK(b.size() == 3);
  CHECK(b.position() == 3);
  for (int k = 3; k < 8; ++k) add_float(b, k);
  CHECK(b.size() == 5);
  CHECK(b.capacity() == 5);
  CHECK(b.position() == 3);  // 8 % 5
  // slots 0..2 hold transitions 5, 6, 7; slots 3, 4 hold 3, 4
  const int expect[5] = {5, 6, 7, 3, 4};
  ReplayBatch batch = b.gather({0, 1, 2, 3, 4});
  auto obs = batch.obs.to_vector<float>(), next = batch.next_obs.to_vector<float>();
  auto act = batch.action.to_vector<int64_t>();
  auto rew = batch.reward.to_vector<float>();
  REQUIRE(batch.obs.sizes() == Shape{5, 2});
  for (int s = 0; s < 5; ++s) {
    CHECK(obs[2 * s] == expect[s]);
    CHECK(obs[2 * s + 1] == expect[s]);
    CHECK(next[2 * s] == expect[s] + 0.5f);
    CHECK(act[s] == expect[s] % 3);
    CHECK(rew[s] == -expect[s]);
  }
  CHECK_THROWS_AS(b.gather({5}), Error);
}

TEST_CASE("replay: uniform sampling draws only stored slots, reproducibly", "[dqn][replay]") {
  ReplayBuffer b(100, {1}, ObsStorage::kFloat32);
  Generator g0(1);
  CHECK_THROWS_AS(b.sample(4, g0), Error);  // empty
  for (int k = 0; k < 7; ++k) add_float(b, k);
  Generator g(7);
  std::vector<int> count(7, 0);
  for (int rep = 0; rep < 200; ++rep) {
    ReplayBatch batch = b.sample(32, g);
    REQUIRE(batch.index.size() == 32);
    auto obs = batch.obs.to_vector<float>();
    for (size_t i = 0; i < 32; ++i) {
      REQUIRE(batch.index[i] >= 0);
      REQUIRE(batch.index[i] < 7);
      CHECK(obs[i] == (float)batch.index[i]);  // the slot's own data
      ++count[batch.index[i]];
    }
  }
  // 6400 draws over 7 slots: each about 914 (sd ~28); 6 sd bounds
  for (int c : count) CHECK(std::abs(c - 6400.0 / 7) < 6 * 28);
  // same seed, same indices
  Generator a(99), c(99);
  CHECK(b.sample(16, a).index == b.sample(16, c).index);
  // after wrap-around every slot is valid and reachable
  for (int k = 7; k < 250; ++k) add_float(b, k);
  std::set<int64_t> seen;
  for (int rep = 0; rep < 100; ++rep)
    for (int64_t i : b.sample(64, g).index) {
      REQUIRE(i >= 0);
      REQUIRE(i < 100);
      seen.insert(i);
    }
  CHECK(seen.size() == 100);
}

TEST_CASE("replay: terminated and truncated are kept apart", "[dqn][replay]") {
  ReplayBuffer b(8, {1}, ObsStorage::kFloat32);
  for (int k = 0; k < 8; ++k) add_float(b, k);
  ReplayBatch batch = b.gather({0, 1, 2, 3, 4, 5, 6, 7});
  auto te = batch.terminated.to_vector<float>(), tr = batch.truncated.to_vector<float>();
  for (int k = 0; k < 8; ++k) {
    CHECK(te[k] == (k % 4 == 1 ? 1.0f : 0.0f));
    CHECK(tr[k] == (k % 4 == 2 ? 1.0f : 0.0f));
    CHECK(b.terminated(k) == (k % 4 == 1));
    CHECK(b.truncated(k) == (k % 4 == 2));
  }
  CHECK(batch.terminated.dtype() == kFloat32);
}

TEST_CASE("replay: compact storages round-trip MinAtar observations exactly", "[dqn][replay]") {
  const Shape shape = {4, 10, 10};  // Breakout
  const int64_t n = 400;
  for (ObsStorage st : {ObsStorage::kUInt8, ObsStorage::kBits, ObsStorage::kFloat32}) {
    INFO(obs_storage_name(st));
    ReplayBuffer b(6, shape, st);
    for (int k = 0; k < 9; ++k) {
      auto o = binary_obs(n, 2 * k), nx = binary_obs(n, 2 * k + 1);
      b.add(o.data(), k % 6, 1.0f, nx.data(), false, false);
    }
    // slot s holds transition k = s + 6 for s < 3, else s
    for (int64_t s = 0; s < 6; ++s) {
      int k = s < 3 ? (int)s + 6 : (int)s;
      ReplayBatch batch = b.gather({s});
      REQUIRE(batch.obs.sizes() == Shape{1, 4, 10, 10});
      auto o = batch.obs.to_vector<float>(), nx = batch.next_obs.to_vector<float>();
      auto eo = binary_obs(n, 2 * k), en = binary_obs(n, 2 * k + 1);
      int bad = 0;
      for (int64_t i = 0; i < n; ++i) bad += (o[i] != eo[i]) + (nx[i] != en[i]);
      CHECK(bad == 0);
    }
  }
  // sizes: 400 cells = 7 64-bit words, 400 bytes, 1600 float bytes per observation
  CHECK(ReplayBuffer(10, shape, ObsStorage::kBits).obs_bytes() == 2 * 10 * 7 * 8);
  CHECK(ReplayBuffer(10, shape, ObsStorage::kUInt8).obs_bytes() == 2 * 10 * 400);
  CHECK(ReplayBuffer(10, shape, ObsStorage::kFloat32).obs_bytes() == 2 * 10 * 400 * 4);
  // non-binary values are refused by the compact storages
  ReplayBuffer bits(2, {3}, ObsStorage::kBits), bytes(2, {3}, ObsStorage::kUInt8);
  const uint8_t bad[3] = {0, 2, 1}, ok[3] = {0, 1, 1};
  const float badf[3] = {0.f, 0.5f, 1.f};
  CHECK_THROWS_AS(bits.add(bad, 0, 0.f, ok, false, false), Error);
  CHECK_THROWS_AS(bytes.add(ok, 0, 0.f, bad, false, false), Error);
  CHECK_THROWS_AS(bits.add(badf, 0, 0.f, badf, false, false), Error);
}

TEST_CASE("replay: save and load through a checkpoint file", "[dqn][replay]") {
  const Shape shape = {4, 10, 10};
  const int64_t n = 400;
  for (ObsStorage st : {ObsStorage::kBits, ObsStorage::kUInt8}) {
    INFO(obs_storage_name(st));
    for (int fill : {3, 11}) {  // partly filled, wrapped
      INFO("fill " << fill);
      ReplayBuffer a(8, shape, st);
      for (int k = 0; k < fill; ++k) {
        auto o = binary_obs(n, k), nx = binary_obs(n, k + 100);
        a.add(o.data(), k % 6, 0.25f * k, nx.data(), k % 3 == 0, k % 3 == 1);
      }
      auto path = temp_file("replay");
      save_checkpoint(path.string(), a.state("replay."), {{"what", "test"}});
      Checkpoint ck = load_checkpoint(path.string());
      std::filesystem::remove(path);
      ReplayBuffer b(8, shape, st);
      b.load_state(ck.tensors, "replay.");
      CHECK(b.size() == a.size());
      CHECK(b.position() == a.position());
      std::vector<int64_t> all;
      for (int64_t i = 0; i < a.size(); ++i) all.push_back(i);
      ReplayBatch x = a.gather(all), y = b.gather(all);
      CHECK(allclose(x.obs, y.obs, 0, 0));
      CHECK(allclose(x.next_obs, y.next_obs, 0, 0));
      CHECK(x.action.to_vector<int64_t>() == y.action.to_vector<int64_t>());
      CHECK(x.reward.to_vector<float>() == y.reward.to_vector<float>());
      CHECK(x.terminated.to_vector<float>() == y.terminated.to_vector<float>());
      CHECK(x.truncated.to_vector<float>() == y.truncated.to_vector<float>());
      // both continue identically
      auto o = binary_obs(n, 555);
      a.add(o.data(), 1, 1.f, o.data(), false, true);
      b.add(o.data(), 1, 1.f, o.data(), false, true);
      Generator g1(3), g2(3);
      CHECK(a.sample(20, g1).index == b.sample(20, g2).index);
      // mismatched buffers are refused
      ReplayBuffer other_cap(9, shape, st);
      CHECK_THROWS_AS(other_cap.load_state(ck.tensors, "replay."), Error);
      ReplayBuffer other_storage(8, shape, st == ObsStorage::kBits ? ObsStorage::kUInt8 : ObsStorage::kBits);
      CHECK_THROWS_AS(other_storage.load_state(ck.tensors, "replay."), Error);
    }
  }
  // an empty buffer saves and loads too
  ReplayBuffer e(4, {2}, ObsStorage::kFloat32), f(4, {2}, ObsStorage::kFloat32);
  f.load_state(e.state());
  CHECK(f.size() == 0);
}
