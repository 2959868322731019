// Streams of the CUDA backend, and the same API for the SIMT emulator (plain C++, no CUDA
// names; safe to include anywhere).
//
//   cuda::Stream s = cuda::Stream::create();   // a new stream (cudaStreamCreate)
//   {
//     cuda::StreamGuard guard(s);               // kernels launched by this thread now go to s
//     Tensor y = matmul(a, b);                  // ... and so do the caching allocator's blocks
//   }                                           // back to the previous stream
//   s.synchronize();                            // wait for everything queued on s
//
// * Every kernel of kernels/cuda/*.cu is launched on the calling thread's *current stream*
//   (current_stream(); the default stream unless a StreamGuard or set_current_stream
//   changed it). The current stream is thread-local.
// * A default-constructed Stream is the legacy default stream (handle null). Created streams
//   are blocking streams (cudaStreamDefault flags): they synchronise with the legacy default
//   stream, so host <-> device copies, which the allocator does on the current stream and
//   then waits for, always see finished kernels.
// * Stream is a shared handle: copies refer to the same stream; the CUDA stream is destroyed
//   (cudaStreamDestroy; queued work still completes) when the last handle goes away, or
//   when destroy() is called on the last one. A StreamGuard / set_current_stream holds a
//   handle, so the current stream stays alive while it is current.
// * Memory: the caching allocator (kernels/caching_allocator.h) records the stream that was
//   current at allocation and reuses a freed block only on that stream. Memory allocated on
//   one stream and used on another must not be freed before that other stream is
//   synchronised.
//
// Builds without a GPU: in a build without CUDA (DUEL_CUDA=OFF) duel::cuda streams are
// plain ids and every call is a no-op (there are no cuda kernels to order). In a CUDA build
// on a machine without a usable GPU, Stream::create() throws "no CUDA device available".
// duel::sim has the identical API for the emulator, where every stream is the same serial
// queue: a launch returns when its grid is done, so synchronize() has nothing to wait for
// and results never depend on the stream; the stream ids still key the sim caching
// allocator's free lists exactly as on the GPU.
#pragma once
#include <cstdint>
#include <memory>
#include <utility>

#define DUEL_DECLARE_STREAM_API(NS)                                                                  \
  namespace duel::NS {                                                                              \
  class Stream {                                                                                    \
   public:                                                                                          \
    struct State;                                                                                   \
    Stream() = default; /* the default stream */                                                    \
    static Stream create();                                                                         \
    /* Blocks the host until all work queued on this stream is done. */                             \
    void synchronize() const;                                                                       \
    /* Drops this handle (it becomes the default stream); see above. */                             \
    void destroy() { state_.reset(); }                                                              \
    /* The native handle: a cudaStream_t (null = default stream), or the emulator's id. */          \
    void* handle() const;                                                                           \
    /* 0 for the default stream, else unique per created stream. */                                 \
    uint64_t id() const;                                                                            \
    bool is_default() const { return !state_; }                                                     \
    bool operator==(const Stream& o) const { return state_ == o.state_; }                           \
    bool operator!=(const Stream& o) const { return state_ != o.state_; }                           \
                                                                                                    \
   private:                                                                                         \
    explicit Stream(std::shared_ptr<State> s) : state_(std::move(s)) {}                             \
    std::shared_ptr<State> state_;                                                                  \
  };                                                                                                \
  /* The calling thread's current stream (the default stream unless changed). */                   \
  Stream current_stream();                                                                          \
  /* current_stream().handle() without copying the handle (what kernel launches use). */            \
  void* current_stream_handle();                                                                    \
  void set_current_stream(const Stream& s);                                                         \
  /* Blocks until all work on every stream of the device is done (cudaDeviceSynchronize). */        \
  void device_synchronize();                                                                        \
  /* RAII: makes `s` the current stream of this thread for a scope, then restores the previous. */  \
  class StreamGuard {                                                                               \
   public:                                                                                          \
    explicit StreamGuard(const Stream& s) : saved_(current_stream()) { set_current_stream(s); }     \
    ~StreamGuard() { set_current_stream(saved_); }                                                  \
    StreamGuard(const StreamGuard&) = delete;                                                       \
    StreamGuard& operator=(const StreamGuard&) = delete;                                            \
                                                                                                    \
   private:                                                                                         \
    Stream saved_;                                                                                  \
  };                                                                                                \
  }

// Defined in kernels/cuda/device.cu (CUDA build) or kernels/cuda/runtime_nocuda.cpp.
DUEL_DECLARE_STREAM_API(cuda)
// Defined in kernels/sim/sim_device.cpp.
DUEL_DECLARE_STREAM_API(sim)
