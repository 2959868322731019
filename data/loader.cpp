#include "data/loader.h"

#include <cstring>
#include <numeric>

#include "autograd/grad_mode.h"

namespace duel {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Copies rows `idx` of a contiguous CPU tensor [N, ...] into a new [B, ...] tensor.
Tensor gather_rows(const Tensor& src, const std::vector<int64_t>& idx, size_t begin, size_t end) {
  Shape shape = src.sizes();
  shape[0] = (int64_t)(end - begin);
  Tensor out = empty(shape, TensorOptions(src.dtype()));
  const size_t row = (size_t)(src.numel() / std::max<int64_t>(src.size(0), 1)) * src.element_size();
  const char* s = static_cast<const char*>(src.raw_data());
  char* d = static_cast<char*>(out.raw_data());
  if (row == 0) return out;  // rows of zero elements (e.g. inputs [N, 0]): nothing to copy, and no storage
  for (size_t i = begin; i < end; ++i) std::memcpy(d + (i - begin) * row, s + (size_t)idx[i] * row, row);
  return out;
}

}  // namespace

std::string LoaderPosition::str() const { return std::to_string(epoch) + ":" + std::to_string(batch); }

LoaderPosition LoaderPosition::parse(const std::string& s) {
  auto colon = s.find(':');
  LoaderPosition p;
  try {
    DUEL_CHECK(colon != std::string::npos, "");
    size_t k1 = 0, k2 = 0;
    p.epoch = std::stoll(s.substr(0, colon), &k1);
    p.batch = std::stoll(s.substr(colon + 1), &k2);
    DUEL_CHECK(k1 == colon && k2 == s.size() - colon - 1 && p.epoch >= 0 && p.batch >= 0, "");
  } catch (const std::exception&) {
    DUEL_FAIL("LoaderPosition::parse: '", s, "' is not a position of the form \"epoch:batch\" (e.g. \"3:120\")");
  }
  return p;
}

DataLoader::DataLoader(const Tensor& inputs, const Tensor& labels, DataLoaderOptions options) : opt_(std::move(options)) {
  DUEL_CHECK(inputs.defined(), "DataLoader: inputs tensor is undefined");
  DUEL_CHECK(inputs.dim() >= 1, "DataLoader: inputs must have a leading sample dimension, got a 0-d tensor");
  DUEL_CHECK(opt_.batch_size >= 1, "DataLoader: batch_size must be >= 1, got ", opt_.batch_size);
  DUEL_CHECK(opt_.prefetch >= 0, "DataLoader: prefetch must be >= 0, got ", opt_.prefetch);
  DUEL_CHECK(inputs.size(0) > 0, "DataLoader: the data set is empty (inputs ", shape_str(inputs.sizes()),
             " has 0 samples); there is nothing to iterate over (an empty file, or a limit of 0?)");
  DUEL_CHECK(!opt_.drop_last || opt_.batch_size <= inputs.size(0), "DataLoader: batch_size ", opt_.batch_size,
             " is larger than the data set (", inputs.size(0), " samples) and drop_last is set, so every epoch would ",
             "be empty; use a smaller batch_size, or drop_last = false for one batch of ", inputs.size(0));
  NoGradGuard no_grad;
  inputs_ = inputs.detach().to(kCPU).contiguous();
  n_ = inputs_.size(0);
  if (labels.defined()) {
    DUEL_CHECK(labels.dim() >= 1 && labels.size(0) == n_, "DataLoader: inputs ", shape_str(inputs.sizes()),
               " and labels ", shape_str(labels.sizes()), " must have the same number of samples (size(0))");
    labels_ = labels.detach().to(kCPU).contiguous();
  }
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::batches_per_epoch() const {
  return opt_.drop_last ? n_ / opt_.batch_size : (n_ + opt_.batch_size - 1) / opt_.batch_size;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  if (!opt_.shuffle) {
    std::vector<int64_t> order(n_);
    std::iota(order.begin(), order.end(), int64_t(0));
    return order;
  }
  Generator gen(splitmix64(splitmix64(opt_.seed) ^ (uint64_t)epoch));
  return randperm(n_, &gen).to_vector<int64_t>();
}

DataLoader::Item DataLoader::produce(const LoaderPosition& at, OrderCache& cache) const {
  Item item;
  if (at.batch >= batches_per_epoch()) {
    item.kind = Item::kEndOfEpoch;
    item.epoch = at.epoch;
    return item;
  }
  if (cache.epoch != at.epoch) {
    cache.order = epoch_order(at.epoch);
    cache.epoch = at.epoch;
  }
  const size_t begin = (size_t)(at.batch * opt_.batch_size);
  const size_t end = std::min<size_t>(begin + (size_t)opt_.batch_size, (size_t)n_);
  Batch& b = item.batch;
  b.epoch = at.epoch;
  b.index = at.batch;
  b.inputs = gather_rows(inputs_, cache.order, begin, end);
  if (labels_.defined()) b.labels = gather_rows(labels_, cache.order, begin, end);
  b.indices = from_vector(std::vector<int64_t>(cache.order.begin() + begin, cache.order.begin() + end),
                          {(int64_t)(end - begin)}, TensorOptions(kInt64));
  if (opt_.transform) {
    NoGradGuard no_grad;
    Generator gen(splitmix64(splitmix64(splitmix64(opt_.seed ^ 0x7472616e73666f72ull) ^ (uint64_t)at.epoch) ^
                             (uint64_t)at.batch));
    opt_.transform(b, gen);
  }
  return item;
}

void DataLoader::worker_main(LoaderPosition at) {
  OrderCache cache;
  for (;;) {
    {  // wait for room first, so at most `prefetch` batches exist ahead of the consumer
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || queue_.size() < (size_t)opt_.prefetch; });
      if (stop_) return;
    }
    Item item;
    try {
      item = produce(at, cache);
    } catch (...) {
      item = Item();
      item.kind = Item::kError;
      item.error = std::current_exception();
    }
    const Item::Kind kind = item.kind;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      queue_.push_back(std::move(item));
    }
    cv_.notify_all();
    if (kind == Item::kError) return;
    if (kind == Item::kEndOfEpoch) at = {at.epoch + 1, 0};
    else ++at.batch;
  }
}

void DataLoader::start_worker() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = false;
  queue_.clear();
  worker_ = std::thread(&DataLoader::worker_main, this, pos_);
}

void DataLoader::stop_worker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mu_);
  queue_.clear();
  stop_ = false;
}

std::optional<Batch> DataLoader::next() {
  Item item;
  if (opt_.prefetch == 0) {
    item = produce(pos_, sync_cache_);  // exceptions propagate directly
  } else {
    if (!worker_.joinable()) start_worker();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();
    if (item.kind == Item::kError) {
      // the worker has exited; the next call restarts it from the same position
      if (worker_.joinable()) worker_.join();
      std::rethrow_exception(item.error);
    }
  }
  if (item.kind == Item::kEndOfEpoch) {
    pos_ = {item.epoch + 1, 0};
    return std::nullopt;
  }
  pos_ = {item.batch.epoch, item.batch.index + 1};
  if (opt_.device != kCPU) {
    NoGradGuard no_grad;
    item.batch.inputs = item.batch.inputs.to(opt_.device);
    if (item.batch.labels.defined()) item.batch.labels = item.batch.labels.to(opt_.device);
  }
  return std::move(item.batch);
}

void DataLoader::set_position(const LoaderPosition& pos) {
  DUEL_CHECK(pos.epoch >= 0 && pos.batch >= 0 && pos.batch <= batches_per_epoch(), "DataLoader::set_position: position ",
             pos.str(), " is out of range (", batches_per_epoch(), " batches per epoch)");
  stop_worker();
  pos_ = pos;
}

void DataLoader::reset(int64_t epoch) { set_position({epoch, 0}); }

size_t DataLoader::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

}  // namespace duel
