// DataLoader: mini-batches over an in-memory data set (inputs [N, ...] and optional labels
// [N, ...]) with seeded shuffling, drop_last and background prefetch.
//
//   DataLoader loader(ds.images, ds.labels, {.batch_size = 64, .seed = 1});
//   for (int epoch = 0; epoch < 10; ++epoch)
//     while (auto batch = loader.next()) train_step(batch->inputs, batch->labels);
//
// next() returns std::nullopt once at the end of each epoch and then continues with the next
// epoch, so the loop above needs no reset(). The order of epoch e is a Philox randperm seeded
// from (seed, e) alone, so any position can be restored exactly: save position() in a
// checkpoint and call set_position() after loading it.
//
// With prefetch > 0 a worker thread gathers the next batches (and runs the optional transform)
// into a bounded queue while the training step runs; an exception thrown in the worker is
// re-thrown by next(). The destructor stops and joins the worker.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace duel {

struct Batch {
  Tensor inputs;   // [B, ...] rows of the data set's inputs (contiguous)
  Tensor labels;   // [B, ...] rows of the labels; undefined when the loader has none
  Tensor indices;  // int64 [B]: the data set rows in this batch
  int64_t epoch = 0;
  int64_t index = 0;  // batch number within the epoch
};

// Where the loader stands: the next batch next() returns is batch `batch` of epoch `epoch`
// (batch == batches_per_epoch() means "the end-of-epoch nullopt comes next").
struct LoaderPosition {
  int64_t epoch = 0;
  int64_t batch = 0;
  bool operator==(const LoaderPosition&) const = default;
  std::string str() const;                           // "3:120"
  static LoaderPosition parse(const std::string&);   // inverse of str(), for checkpoint metadata
};

struct DataLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;  // drop the last incomplete batch of each epoch
  int prefetch = 2;        // batches prepared ahead by a worker thread; 0 = no thread
  // Optional per-batch transform (augmentation, dequantisation noise, ...), run on the worker
  // thread. `gen` is seeded from (seed, epoch, batch) so the result is reproducible.
  std::function<void(Batch& batch, Generator& gen)> transform;
  // Device the batch is moved to by next() (on the calling thread). CPU by default.
  Device device = kCPU;
};

class DataLoader {
 public:
  // `inputs` and `labels` (optional: pass an undefined Tensor) must have the same size(0).
  // They are kept as contiguous CPU tensors (copied if needed).
  DataLoader(const Tensor& inputs, const Tensor& labels, DataLoaderOptions options = {});
  explicit DataLoader(const Tensor& inputs, DataLoaderOptions options = {}) : DataLoader(inputs, Tensor(), std::move(options)) {}
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // The next batch, or std::nullopt at the end of an epoch (after which the next epoch starts).
  std::optional<Batch> next();
  // Starts epoch `epoch` from its first batch.
  void reset(int64_t epoch);
  void reset() { reset(position().epoch); }
  LoaderPosition position() const { return pos_; }
  void set_position(const LoaderPosition& pos);

  int64_t dataset_size() const { return n_; }
  int64_t batches_per_epoch() const;
  const DataLoaderOptions& options() const { return opt_; }
  // Data set order of epoch `epoch` (int64 [N]); identity when shuffle is off.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Batches ready in the prefetch queue (diagnostics and tests).
  size_t queued() const;

 private:
  struct Item {
    enum Kind { kBatch, kEndOfEpoch, kError } kind = kBatch;
    Batch batch;
    int64_t epoch = 0;
    std::exception_ptr error;
  };
  struct OrderCache {
    int64_t epoch = -1;
    std::vector<int64_t> order;
  };
  Item produce(const LoaderPosition& at, OrderCache& cache) const;
  void start_worker();
  void stop_worker();
  void worker_main(LoaderPosition from);

  Tensor inputs_, labels_;
  int64_t n_ = 0;
  DataLoaderOptions opt_;
  LoaderPosition pos_;
  OrderCache sync_cache_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace duel
