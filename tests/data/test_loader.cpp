// DataLoader: coverage, seeded order, prefetch thread, errors, resume.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "data/loader.h"
#include "duel.h"

using namespace duel;
using Catch::Contains;

namespace {

const int64_t N = 103;

// inputs row i = [3i, 3i+1, 3i+2], labels i
Tensor inputs() { return arange(0, 3 * N, 1, kFloat32).reshape({N, 3}); }
Tensor labels() { return arange(0, N, 1, kInt64); }

std::vector<std::vector<int64_t>> run_epoch(DataLoader& dl) {
  std::vector<std::vector<int64_t>> out;
  while (auto b = dl.next()) out.push_back(b->labels.to_vector<int64_t>());
  return out;
}

}  // namespace

TEST_CASE("loader: every sample exactly once per epoch, rows stay paired", "[data][loader]") {
  for (int prefetch : {0, 2}) {
    for (bool shuffle : {true, false}) {
      DataLoaderOptions o;
      o.batch_size = 10;
      o.shuffle = shuffle;
      o.seed = 7;
      o.prefetch = prefetch;
      DataLoader dl(inputs(), labels(), o);
      REQUIRE(dl.batches_per_epoch() == 11);
      for (int64_t epoch = 0; epoch < 2; ++epoch) {
        std::multiset<int64_t> seen;
        int64_t batches = 0;
        while (auto b = dl.next()) {
          REQUIRE(b->epoch == epoch);
          REQUIRE(b->index == batches);
          const int64_t bs = batches == 10 ? 3 : 10;
          REQUIRE(b->inputs.sizes() == Shape{bs, 3});
          auto x = b->inputs.to_vector<float>();
          auto y = b->labels.to_vector<int64_t>();
          REQUIRE(b->indices.to_vector<int64_t>() == y);
          for (int64_t i = 0; i < bs; ++i) {
            REQUIRE(x[3 * i] == 3 * y[i]);
            REQUIRE(x[3 * i + 2] == 3 * y[i] + 2);
            seen.insert(y[i]);
          }
          ++batches;
        }
        REQUIRE(batches == 11);
        REQUIRE(seen.size() == (size_t)N);
        REQUIRE(std::set<int64_t>(seen.begin(), seen.end()).size() == (size_t)N);
        REQUIRE(dl.position() == LoaderPosition{epoch + 1, 0});
      }
      if (!shuffle) {
        DataLoader d2(inputs(), labels(), o);
        REQUIRE(d2.next()->labels.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
      }
    }
  }
}

TEST_CASE("loader: drop_last", "[data][loader]") {
  DataLoaderOptions o;
  o.batch_size = 10;
  o.drop_last = true;
  DataLoader dl(inputs(), labels(), o);
  REQUIRE(dl.batches_per_epoch() == 10);
  auto e = run_epoch(dl);
  REQUIRE(e.size() == 10);
  std::set<int64_t> seen;
  for (auto& b : e) {
    REQUIRE(b.size() == 10);
    seen.insert(b.begin(), b.end());
  }
  REQUIRE(seen.size() == 100);
}

TEST_CASE("loader: order is reproducible from the seed and differs across seeds and epochs", "[data][loader]") {
  DataLoaderOptions o;
  o.batch_size = 16;
  o.seed = 42;
  DataLoader a(inputs(), labels(), o), b(inputs(), labels(), o);
  auto a0 = run_epoch(a), a1 = run_epoch(a);
  auto b0 = run_epoch(b), b1 = run_epoch(b);
  REQUIRE(a0 == b0);
  REQUIRE(a1 == b1);
  REQUIRE(a0 != a1);
  o.seed = 43;
  DataLoader c(inputs(), labels(), o);
  REQUIRE(run_epoch(c) != a0);
  // synchronous mode gives the same batches as the prefetching one
  o.seed = 42;
  o.prefetch = 0;
  DataLoader d(inputs(), labels(), o);
  REQUIRE(run_epoch(d) == a0);
  REQUIRE(a.epoch_order(0) == d.epoch_order(0));
}

TEST_CASE("loader: prefetch runs on a worker thread and fills the queue", "[data][loader]") {
  std::atomic<int> calls{0};
  std::thread::id worker_id;
  std::mutex mu;
  DataLoaderOptions o;
  o.batch_size = 8;
  o.prefetch = 3;
  o.transform = [&](Batch& b, Generator& gen) {
    {
      std::lock_guard<std::mutex> lock(mu);
      worker_id = std::this_thread::get_id();
    }
    ++calls;
    b.inputs = b.inputs + rand(b.inputs.sizes(), {}, &gen) * 0.0;  // uses the generator
  };
  DataLoader dl(inputs(), labels(), o);
  REQUIRE(dl.next().has_value());
  {
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(worker_id != std::this_thread::get_id());
  }
  // the worker prepares the next 3 batches while the "training step" runs
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (dl.queued() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(dl.queued() == 3);
  REQUIRE(calls == 4);  // bounded: no more than prefetch batches ahead
  // the queue is consumed without waiting
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) REQUIRE(dl.next().has_value());
  REQUIRE(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
  // destroying the loader with a full queue and a blocked worker does not hang
}

TEST_CASE("loader: slow transform overlaps with the consumer", "[data][loader]") {
  // each batch takes 20 ms to produce and 20 ms to consume: with prefetch the epoch takes
  // about 8 x 20 ms rather than 8 x 40 ms
  DataLoaderOptions o;
  o.batch_size = 13;
  o.prefetch = 2;
  o.transform = [](Batch&, Generator&) { std::this_thread::sleep_for(std::chrono::milliseconds(20)); };
  DataLoader dl(inputs(), labels(), o);
  auto t0 = std::chrono::steady_clock::now();
  int n = 0;
  while (auto b = dl.next()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ++n;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(n == 8);
  CHECK(ms < 8 * 40 * 0.9);  // about 180 ms expected; 320 ms without overlap
}

TEST_CASE("loader: worker exceptions are re-thrown by next()", "[data][loader]") {
  for (int prefetch : {0, 2}) {
    DataLoaderOptions o;
    o.batch_size = 10;
    o.prefetch = prefetch;
    o.transform = [](Batch& b, Generator&) {
      if (b.index == 2) throw duel::Error("augment failed on batch 2");
    };
    DataLoader dl(inputs(), labels(), o);
    REQUIRE(dl.next().has_value());
    REQUIRE(dl.next().has_value());
    REQUIRE_THROWS_WITH(dl.next(), Contains("augment failed on batch 2"));
    REQUIRE(dl.position() == LoaderPosition{0, 2});
    REQUIRE_THROWS_WITH(dl.next(), Contains("augment failed"));  // same position, same failure
    dl.set_position({0, 3});
    auto b = dl.next();
    REQUIRE(b.has_value());
    REQUIRE(b->index == 3);
  }
}

TEST_CASE("loader: position can be saved and restored", "[data][loader]") {
  DataLoaderOptions o;
  o.batch_size = 9;
  o.seed = 5;
  o.transform = [](Batch& b, Generator& gen) { b.inputs = rand({1}, {}, &gen); };  // reproducible per batch
  DataLoader a(inputs(), labels(), o);
  run_epoch(a);
  for (int i = 0; i < 4; ++i) a.next();
  const LoaderPosition pos = a.position();
  REQUIRE(pos == LoaderPosition{1, 4});
  const std::string saved = pos.str();
  REQUIRE(saved == "1:4");

  DataLoader b(inputs(), labels(), o);
  b.set_position(LoaderPosition::parse(saved));
  for (int i = 0; i < 15; ++i) {  // across the end of epoch 1 into epoch 2
    auto x = a.next(), y = b.next();
    REQUIRE(x.has_value() == y.has_value());
    if (!x) continue;
    REQUIRE(x->epoch == y->epoch);
    REQUIRE(x->index == y->index);
    REQUIRE(x->labels.to_vector<int64_t>() == y->labels.to_vector<int64_t>());
    REQUIRE(x->inputs.item() == y->inputs.item());
  }
  // reset starts an epoch from its first batch
  b.reset(1);
  DataLoader c(inputs(), labels(), o);
  c.reset(1);
  REQUIRE(b.next()->labels.to_vector<int64_t>() == c.next()->labels.to_vector<int64_t>());
  REQUIRE_THROWS_WITH(b.set_position({0, 99}), Contains("out of range"));
  REQUIRE_THROWS_WITH(LoaderPosition::parse("3-4"), Contains("epoch:batch"));
}

TEST_CASE("loader: inputs only, mismatched sizes", "[data][loader]") {
  DataLoaderOptions o;
  o.batch_size = 50;
  DataLoader dl(inputs(), o);
  auto b = dl.next();
  REQUIRE(b.has_value());
  REQUIRE(!b->labels.defined());
  REQUIRE(b->inputs.sizes() == Shape{50, 3});
  REQUIRE_THROWS_WITH(DataLoader(inputs(), arange(0, 5, 1, kInt64)), Contains("same number of samples"));
  o.batch_size = 0;
  REQUIRE_THROWS_WITH(DataLoader(inputs(), o), Contains("batch_size"));
}

TEST_CASE("loader: an empty data set or a batch larger than the data set", "[data][loader]") {
  SECTION("0 samples: a clear error instead of epochs with no batches") {
    REQUIRE_THROWS_WITH(DataLoader(zeros({0, 1, 28, 28}), DataLoaderOptions{}),
                        Contains("the data set is empty") && Contains("[0, 1, 28, 28]"));
    REQUIRE_THROWS_WITH(DataLoader(zeros({0, 3}), zeros({0}, kInt64), DataLoaderOptions{}),
                        Contains("the data set is empty"));
  }
  SECTION("batch_size > samples with drop_last: every epoch would be empty") {
    DataLoaderOptions o;
    o.batch_size = 64;
    o.drop_last = true;
    REQUIRE_THROWS_WITH(DataLoader(inputs().narrow(0, 0, 10), o),
                        Contains("batch_size 64") && Contains("10 samples") && Contains("drop_last"));
  }
  SECTION("batch_size > samples without drop_last: one short batch per epoch") {
    for (int prefetch : {0, 2}) {
      DataLoaderOptions o;
      o.batch_size = 64;
      o.prefetch = prefetch;
      o.seed = 3;
      DataLoader dl(inputs().narrow(0, 0, 10), labels().narrow(0, 0, 10), o);
      REQUIRE(dl.batches_per_epoch() == 1);
      for (int epoch = 0; epoch < 2; ++epoch) {
        auto b = dl.next();
        REQUIRE(b.has_value());
        REQUIRE(b->inputs.sizes() == Shape{10, 3});
        auto y = b->labels.to_vector<int64_t>();
        REQUIRE(std::set<int64_t>(y.begin(), y.end()).size() == 10);
        REQUIRE(!dl.next().has_value());
      }
    }
  }
  SECTION("samples of zero elements (inputs [N, 0]) are batched without copying") {
    for (int prefetch : {0, 2}) {
      DataLoaderOptions o;
      o.batch_size = 4;
      o.prefetch = prefetch;
      DataLoader dl(zeros({10, 0}), labels().narrow(0, 0, 10), o);
      int64_t rows = 0;
      while (auto b = dl.next()) {
        REQUIRE(b->inputs.size(1) == 0);
        rows += b->inputs.size(0);
        REQUIRE(b->labels.numel() == b->inputs.size(0));
      }
      REQUIRE(rows == 10);
    }
  }
}

TEST_CASE("loader: empty tensors clone, concatenate and copy (no memcpy through null)", "[data][loader]") {
  // empty tensors own no storage; copying them must not hand null pointers to memcpy (UBSan)
  Tensor e = zeros({0, 3});
  REQUIRE(e.clone().sizes() == Shape{0, 3});
  REQUIRE(e.contiguous().sizes() == Shape{0, 3});
  REQUIRE(cat({e, e}, 0).sizes() == Shape{0, 3});
  REQUIRE(cat({e, ones({2, 3})}, 0).sizes() == Shape{2, 3});
  Tensor dst = empty({0, 3});
  dst.copy_(e);
  REQUIRE(dst.numel() == 0);
}
