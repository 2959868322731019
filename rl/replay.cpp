#include "rl/replay.h"

#include <cstring>

#include "tensor/error.h"

namespace duel::rl {

const char* obs_storage_name(ObsStorage s) {
  switch (s) {
    case ObsStorage::kFloat32:
      return "float32";
    case ObsStorage::kUInt8:
      return "uint8";
    case ObsStorage::kBits:
      return "bits";
  }
  return "?";
}

ReplayBuffer::ReplayBuffer(int64_t capacity, Shape obs_shape, ObsStorage storage)
    : capacity_(capacity), obs_shape_(std::move(obs_shape)), obs_numel_(shape_numel(obs_shape_)), storage_(storage) {
  DUEL_CHECK(capacity_ > 0, "ReplayBuffer: capacity must be positive, got ", capacity_);
  DUEL_CHECK(obs_numel_ > 0, "ReplayBuffer: empty observation shape");
  DType dt = kFloat32;
  switch (storage_) {
    case ObsStorage::kFloat32:
      row_ = obs_numel_;
      dt = kFloat32;
      break;
    case ObsStorage::kUInt8:
      row_ = obs_numel_;
      dt = kBool;
      break;
    case ObsStorage::kBits:
      row_ = (obs_numel_ + 63) / 64;
      dt = kInt64;
      break;
    default:
      DUEL_FAIL("ReplayBuffer: unknown storage ", (int64_t)storage_);
  }
  obs_ = zeros({capacity_, row_}, TensorOptions(dt));
  next_obs_ = zeros({capacity_, row_}, TensorOptions(dt));
  action_.assign(capacity_, 0);
  reward_.assign(capacity_, 0.0f);
  terminated_.assign(capacity_, 0);
  truncated_.assign(capacity_, 0);
}

int64_t ReplayBuffer::obs_bytes() const { return 2 * capacity_ * row_ * (int64_t)obs_.element_size(); }

void ReplayBuffer::encode(int64_t slot, bool next, const float* src) {
  Tensor& dst = next ? next_obs_ : obs_;
  switch (storage_) {
    case ObsStorage::kFloat32:
      std::memcpy(dst.data<float>() + slot * row_, src, sizeof(float) * obs_numel_);
      return;
    case ObsStorage::kUInt8: {
      bool* d = dst.data<bool>() + slot * row_;
      for (int64_t i = 0; i < obs_numel_; ++i) {
        DUEL_CHECK(src[i] == 0.0f || src[i] == 1.0f, "ReplayBuffer(uint8): observation value ", src[i], " at ", i,
                   " is not 0 or 1");
        d[i] = src[i] != 0.0f;
      }
      return;
    }
    case ObsStorage::kBits: {
      uint64_t* d = reinterpret_cast<uint64_t*>(dst.data<int64_t>() + slot * row_);
      std::memset(d, 0, sizeof(uint64_t) * row_);
      for (int64_t i = 0; i < obs_numel_; ++i) {
        DUEL_CHECK(src[i] == 0.0f || src[i] == 1.0f, "ReplayBuffer(bits): observation value ", src[i], " at ", i,
                   " is not 0 or 1");
        if (src[i] != 0.0f) d[i >> 6] |= uint64_t(1) << (i & 63);
      }
      return;
    }
  }
}

void ReplayBuffer::encode(int64_t slot, bool next, const uint8_t* src) {
  Tensor& dst = next ? next_obs_ : obs_;
  switch (storage_) {
    case ObsStorage::kFloat32: {
      float* d = dst.data<float>() + slot * row_;
      for (int64_t i = 0; i < obs_numel_; ++i) d[i] = (float)src[i];
      return;
    }
    case ObsStorage::kUInt8: {
      bool* d = dst.data<bool>() + slot * row_;
      for (int64_t i = 0; i < obs_numel_; ++i) {
        DUEL_CHECK(src[i] <= 1, "ReplayBuffer(uint8): observation value ", (int)src[i], " at ", i, " is not 0 or 1");
        d[i] = src[i] != 0;
      }
      return;
    }
    case ObsStorage::kBits: {
      uint64_t* d = reinterpret_cast<uint64_t*>(dst.data<int64_t>() + slot * row_);
      std::memset(d, 0, sizeof(uint64_t) * row_);
      for (int64_t i = 0; i < obs_numel_; ++i) {
        DUEL_CHECK(src[i] <= 1, "ReplayBuffer(bits): observation value ", (int)src[i], " at ", i, " is not 0 or 1");
        if (src[i]) d[i >> 6] |= uint64_t(1) << (i & 63);
      }
      return;
    }
  }
}

void ReplayBuffer::finish_add(int64_t action, float reward, bool terminated, bool truncated) {
  action_[pos_] = action;
  reward_[pos_] = reward;
  terminated_[pos_] = terminated;
  truncated_[pos_] = truncated;
  pos_ = (pos_ + 1) % capacity_;
  if (size_ < capacity_) ++size_;
  obs_.bump_version();
  next_obs_.bump_version();
}

void ReplayBuffer::add(const float* obs, int64_t action, float reward, const float* next_obs, bool terminated,
                       bool truncated) {
  encode(pos_, false, obs);
  encode(pos_, true, next_obs);
  finish_add(action, reward, terminated, truncated);
}

void ReplayBuffer::add(const uint8_t* obs, int64_t action, float reward, const uint8_t* next_obs, bool terminated,
                       bool truncated) {
  encode(pos_, false, obs);
  encode(pos_, true, next_obs);
  finish_add(action, reward, terminated, truncated);
}

void ReplayBuffer::decode(int64_t i, bool next, float* out) const {
  DUEL_CHECK(i >= 0 && i < size_, "ReplayBuffer: index ", i, " outside the ", size_, " stored transitions");
  const Tensor& src = next ? next_obs_ : obs_;
  switch (storage_) {
    case ObsStorage::kFloat32:
      std::memcpy(out, src.data<float>() + i * row_, sizeof(float) * obs_numel_);
      return;
    case ObsStorage::kUInt8: {
      const bool* s = src.data<bool>() + i * row_;
      for (int64_t k = 0; k < obs_numel_; ++k) out[k] = s[k] ? 1.0f : 0.0f;
      return;
    }
    case ObsStorage::kBits: {
      const uint64_t* s = reinterpret_cast<const uint64_t*>(src.data<int64_t>() + i * row_);
      for (int64_t k = 0; k < obs_numel_; ++k) out[k] = (float)((s[k >> 6] >> (k & 63)) & 1u);
      return;
    }
  }
}

ReplayBatch ReplayBuffer::gather(const std::vector<int64_t>& index) const {
  const int64_t n = (int64_t)index.size();
  Shape shape = {n};
  shape.insert(shape.end(), obs_shape_.begin(), obs_shape_.end());
  ReplayBatch b;
  b.obs = empty(shape);
  b.next_obs = empty(shape);
  b.action = empty({n}, TensorOptions(kInt64));
  b.reward = empty({n});
  b.terminated = empty({n});
  b.truncated = empty({n});
  float* o = b.obs.data<float>();
  float* no = b.next_obs.data<float>();
  int64_t* a = b.action.data<int64_t>();
  float* r = b.reward.data<float>();
  float* te = b.terminated.data<float>();
  float* tr = b.truncated.data<float>();
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = index[k];
    decode(i, false, o + k * obs_numel_);
    decode(i, true, no + k * obs_numel_);
    a[k] = action_[i];
    r[k] = reward_[i];
    te[k] = terminated_[i] ? 1.0f : 0.0f;
    tr[k] = truncated_[i] ? 1.0f : 0.0f;
  }
  b.index = index;
  return b;
}

ReplayBatch ReplayBuffer::sample(int64_t n, Generator& gen) const {
  DUEL_CHECK(size_ > 0, "ReplayBuffer::sample: the buffer is empty");
  DUEL_CHECK(n > 0, "ReplayBuffer::sample: batch size must be positive, got ", n);
  Tensor idx = randint(0, size_, {n}, &gen);
  const int64_t* p = idx.data<int64_t>();
  return gather(std::vector<int64_t>(p, p + n));
}

std::map<std::string, Tensor> ReplayBuffer::state(const std::string& prefix) const {
  std::map<std::string, Tensor> m;
  const std::vector<int64_t> info = {capacity_, size_, pos_, (int64_t)storage_, obs_numel_};
  m[prefix + "info"] = from_buffer(info.data(), {5}, kInt64);
  // An empty buffer still saves one (unused) row so that every tensor is non-empty.
  const int64_t n = std::max<int64_t>(size_, 1);
  m[prefix + "obs"] = obs_.narrow(0, 0, n);
  m[prefix + "next_obs"] = next_obs_.narrow(0, 0, n);
  m[prefix + "action"] = from_buffer(action_.data(), {n}, kInt64);
  m[prefix + "reward"] = from_buffer(reward_.data(), {n}, kFloat32);
  Tensor te = empty({n}, TensorOptions(kBool)), tr = empty({n}, TensorOptions(kBool));
  for (int64_t i = 0; i < n; ++i) {
    te.data<bool>()[i] = terminated_[i];
    tr.data<bool>()[i] = truncated_[i];
  }
  m[prefix + "terminated"] = te;
  m[prefix + "truncated"] = tr;
  return m;
}

void ReplayBuffer::load_state(const std::map<std::string, Tensor>& t, const std::string& prefix) {
  auto get = [&](const std::string& k) -> const Tensor& {
    auto it = t.find(prefix + k);
    DUEL_CHECK(it != t.end(), "ReplayBuffer::load_state: missing tensor '", prefix + k, "'");
    return it->second;
  };
  auto info = get("info").to_vector<int64_t>();
  DUEL_CHECK(info.size() == 5, "ReplayBuffer::load_state: malformed '", prefix, "info'");
  DUEL_CHECK(info[0] == capacity_, "ReplayBuffer::load_state: the checkpoint's buffer has capacity ", info[0],
             ", this one ", capacity_, " (pass the same --replay-size to resume)");
  DUEL_CHECK(info[3] == (int64_t)storage_, "ReplayBuffer::load_state: the checkpoint stores observations as ",
             obs_storage_name((ObsStorage)info[3]), ", this buffer as ", obs_storage_name(storage_));
  DUEL_CHECK(info[4] == obs_numel_, "ReplayBuffer::load_state: observation size ", info[4], " vs ", obs_numel_);
  const int64_t size = info[1], pos = info[2];
  DUEL_CHECK(size >= 0 && size <= capacity_ && pos >= 0 && pos < capacity_ && (size == capacity_ || pos == size),
             "ReplayBuffer::load_state: inconsistent size ", size, " / position ", pos);
  const int64_t n = std::max<int64_t>(size, 1);
  const Tensor& o = get("obs");
  const Tensor& no = get("next_obs");
  DUEL_CHECK(o.dim() == 2 && o.size(0) == n && o.size(1) == row_ && o.dtype() == obs_.dtype() &&
                 no.sizes() == o.sizes() && no.dtype() == o.dtype(),
             "ReplayBuffer::load_state: observation tensors have shape ", shape_str(o.sizes()), " ",
             dtype_name(o.dtype()), ", expected [", n, ", ", row_, "] ", dtype_name(obs_.dtype()));
  auto a = get("action").to_vector<int64_t>();
  auto r = get("reward").to_vector<float>();
  auto te = get("terminated").to_vector<bool>();
  auto tr = get("truncated").to_vector<bool>();
  DUEL_CHECK((int64_t)a.size() == n && (int64_t)r.size() == n && (int64_t)te.size() == n && (int64_t)tr.size() == n,
             "ReplayBuffer::load_state: per-transition arrays do not have ", n, " entries");
  obs_.narrow(0, 0, n).copy_(o);
  next_obs_.narrow(0, 0, n).copy_(no);
  std::copy(a.begin(), a.end(), action_.begin());
  std::copy(r.begin(), r.end(), reward_.begin());
  for (int64_t i = 0; i < n; ++i) {
    terminated_[i] = te[i];
    truncated_[i] = tr[i];
  }
  size_ = size;
  pos_ = pos;
}

}  // namespace duel::rl
