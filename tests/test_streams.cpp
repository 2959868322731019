// The stream API (kernels/cuda/stream.h) on the emulator (every stream is one serial
// queue there) and on the cuda backend of this build (real streams with a GPU; without
// one, creating a stream fails clearly), and the CUDA error-check message format.
#include <catch2/catch.hpp>

#include <thread>

#include "duel.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/stream.h"
#include "kernels/sim/runtime.h"
#include "tests/fixture.h"

#if defined(DUEL_WITH_CUDA) && __has_include(<cuda_runtime.h>)
#include "kernels/cuda/cuda_check.h"
#define DUEL_TEST_CUDA_CHECK 1
#endif

namespace duel::test {

TEST_CASE("streams on sim: create, current stream, StreamGuard, synchronize", "[streams][sim]") {
  const sim::Stream def;
  CHECK(def.is_default());
  CHECK(def.id() == 0);
  CHECK(def.handle() == nullptr);
  CHECK(sim::current_stream() == def);  // the default stream unless changed

  sim::Stream a = sim::Stream::create(), b = sim::Stream::create();
  CHECK_FALSE(a.is_default());
  CHECK(a.id() != 0);
  CHECK(a.id() != b.id());
  CHECK(a != b);
  const sim::Stream a2 = a;  // copies share the stream
  CHECK(a2 == a);
  CHECK(a2.id() == a.id());

  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}).to(Device("sim"));
  const Tensor want = (x * x).sum({1}).to(kCPU);
  {
    sim::StreamGuard ga(a);
    CHECK(sim::current_stream() == a);
    CHECK(sim::current_stream_handle() == a.handle());
    Tensor ya = (x * x).sum({1});  // runs "on" a
    {
      sim::StreamGuard gb(b);  // nested
      CHECK(sim::current_stream() == b);
      Tensor yb = (x * x).sum({1});
      b.synchronize();
      check_close(yb.to(kCPU), want, 0, 0, "result computed on stream b");
    }
    CHECK(sim::current_stream() == a);  // restored
    a.synchronize();
    check_close(ya.to(kCPU), want, 0, 0, "result computed on stream a");
    // the current stream is per thread
    sim::Stream seen_elsewhere = a;
    std::thread([&] { seen_elsewhere = sim::current_stream(); }).join();
    CHECK(seen_elsewhere.is_default());
  }
  CHECK(sim::current_stream().is_default());
  sim::set_current_stream(b);
  CHECK(sim::current_stream() == b);
  sim::set_current_stream(sim::Stream());
  CHECK(sim::current_stream().is_default());
  sim::device_synchronize();

  b.destroy();  // drops the handle: b is now the default stream
  CHECK(b.is_default());
  CHECK(a2.id() == a.id());  // other handles are unaffected
}

TEST_CASE("streams on cuda: no-op without CUDA, clear error without a GPU", "[streams]") {
  CHECK(cuda::current_stream().is_default());
  CHECK(cuda::current_stream_handle() == nullptr);
  cuda::device_synchronize();  // nothing to wait for; must not throw or crash without a GPU
  if (cuda::is_available()) {
    cuda::Stream s = cuda::Stream::create();
    CHECK(s.handle() != nullptr);
    Tensor x = ones({1000}, TensorOptions(kFloat32, Device("cuda")));
    {
      cuda::StreamGuard g(s);
      CHECK(cuda::current_stream() == s);
      Tensor y = (x * 2.0).sum();
      CHECK(y.item() == 2000.0);  // the copy to the host waits for the stream
      s.synchronize();
    }
    CHECK(cuda::current_stream().is_default());
    const auto st = cuda::memory_stats();
    CHECK(st.allocations > 0);
    cuda::empty_cache();
    CHECK(cuda::memory_stats().bytes_cached == 0);
    return;
  }
#if defined(DUEL_WITH_CUDA)
  // a CUDA build on a machine without a usable GPU
  CHECK_THROWS_WITH(cuda::Stream::create(), Catch::Contains("no CUDA device available"));
#else
  // a build without CUDA: streams are ids, every call a no-op
  cuda::Stream s = cuda::Stream::create();
  CHECK(s.id() != 0);
  {
    cuda::StreamGuard g(s);
    CHECK(cuda::current_stream() == s);
    s.synchronize();
  }
  CHECK(cuda::current_stream().is_default());
#endif
  CHECK(cuda::memory_stats().allocations == 0);
  cuda::empty_cache();  // no-op
}

#if defined(DUEL_TEST_CUDA_CHECK)
TEST_CASE("DUEL_CUDA_CHECK names the CUDA error, the call and its file:line", "[streams]") {
  auto fails = [] { DUEL_CUDA_CHECK(cudaErrorMemoryAllocation); };
  const int line = __LINE__ - 1;
  CHECK_THROWS_AS(fails(), Error);
  CHECK_THROWS_WITH(fails(), Catch::Contains("cuda: cudaErrorMemoryAllocation failed at tests/test_streams.cpp:" +
                                             std::to_string(line)) &&
                                 Catch::Contains("(cudaErrorMemoryAllocation)"));
  CHECK_NOTHROW([] { DUEL_CUDA_CHECK(cudaSuccess); }());
}
#endif

}  // namespace duel::test
