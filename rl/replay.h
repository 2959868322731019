// Experience replay for the DQN family (Lin 1992; Mnih et al. 2013, 2015): a fixed-capacity
// ring of transitions (s, a, r, s', terminated, truncated) sampled uniformly with a seeded
// duel::Generator.
//
//   ReplayBuffer buf(100000, {4, 10, 10}, ObsStorage::kBits);
//   buf.add(obs, action, reward, next_obs, terminated, truncated);   // uint8 or float obs
//   ReplayBatch b = buf.sample(32, gen);                             // float32 tensors
//
// Storage. Each slot keeps its own s and s' (so the real final observation of a truncated
// episode is kept, and every index in [0, size) is a valid transition):
//   kFloat32  float32 [capacity, D]                   (CartPole)
//   kUInt8    bool    [capacity, D], one byte per cell (MinAtar grids are 0/1)
//   kBits     int64   [capacity, ceil(D / 64)], one bit per cell (MinAtar default: 100k
//             Breakout transitions take 11 MB instead of 80 MB)
// duel has no uint8 dtype; its one-byte Bool type holds the 0/1 bytes. kUInt8 and kBits
// accept only 0/1 observations (any other value throws).
//
// terminated and truncated are kept apart: the TD target bootstraps unless TERMINATED, so a
// time-limit truncation (CartPole's 500 steps) still uses gamma * max Q(s').
//
// Checkpoints: state() returns the filled part as tensors ("<prefix>obs", "next_obs",
// "action", "reward", "terminated", "truncated", and "info" = int64 [capacity, size,
// position, storage, D]); load_state() restores them into a buffer of the same capacity,
// storage and observation size.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tensor/random.h"
#include "tensor/serialize.h"
#include "tensor/tensor.h"

namespace duel::rl {

enum class ObsStorage : int64_t { kFloat32 = 0, kUInt8 = 1, kBits = 2 };
const char* obs_storage_name(ObsStorage s);

// A sampled minibatch (fresh CPU tensors; move them to a device with .to()).
struct ReplayBatch {
  Tensor obs;                  // float32 [B, *obs_shape]
  Tensor action;               // int64 [B]
  Tensor reward;               // float32 [B]
  Tensor next_obs;             // float32 [B, *obs_shape]
  Tensor terminated;           // float32 [B], 1 where s' is terminal (no bootstrap)
  Tensor truncated;            // float32 [B], 1 where a time limit ended the episode (still bootstraps)
  std::vector<int64_t> index;  // slot of each sample
};

class ReplayBuffer {
 public:
  ReplayBuffer(int64_t capacity, Shape obs_shape, ObsStorage storage);

  // Appends one transition, overwriting the oldest when full.
  void add(const float* obs, int64_t action, float reward, const float* next_obs, bool terminated, bool truncated);
  void add(const uint8_t* obs, int64_t action, float reward, const uint8_t* next_obs, bool terminated, bool truncated);

  // `n` transitions drawn uniformly with replacement from [0, size()) using `gen`
  // (one randint draw of n values, so the stream is reproducible and checkpointable).
  ReplayBatch sample(int64_t n, Generator& gen) const;
  // Gathers the given slots (each in [0, size())).
  ReplayBatch gather(const std::vector<int64_t>& index) const;

  int64_t size() const { return size_; }
  int64_t capacity() const { return capacity_; }
  int64_t position() const { return pos_; }  // next slot written
  const Shape& obs_shape() const { return obs_shape_; }
  int64_t obs_numel() const { return obs_numel_; }
  ObsStorage storage() const { return storage_; }
  // Bytes used by the observation arrays (s and s').
  int64_t obs_bytes() const;

  // Decodes slot i's observation (next = s') into `out` (obs_numel() floats).
  void decode(int64_t i, bool next, float* out) const;
  int64_t action(int64_t i) const { return action_[i]; }
  float reward(int64_t i) const { return reward_[i]; }
  bool terminated(int64_t i) const { return terminated_[i]; }
  bool truncated(int64_t i) const { return truncated_[i]; }

  std::map<std::string, Tensor> state(const std::string& prefix = "replay.") const;
  // Restores from tensors written by state() (e.g. a Checkpoint's map). Checks capacity,
  // storage and observation size; throws naming the mismatch.
  void load_state(const std::map<std::string, Tensor>& tensors, const std::string& prefix = "replay.");

 private:
  void encode(int64_t slot, bool next, const float* src);
  void encode(int64_t slot, bool next, const uint8_t* src);
  void finish_add(int64_t action, float reward, bool terminated, bool truncated);

  int64_t capacity_;
  Shape obs_shape_;
  int64_t obs_numel_;
  ObsStorage storage_;
  int64_t row_;            // elements per stored observation (floats, bytes or 64-bit words)
  Tensor obs_, next_obs_;  // [capacity, row_]
  std::vector<int64_t> action_;
  std::vector<float> reward_;
  std::vector<uint8_t> terminated_, truncated_;
  int64_t size_ = 0, pos_ = 0;
};

}  // namespace duel::rl
