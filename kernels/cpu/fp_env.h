// The CPU's floating-point environment: whether denormal (subnormal) numbers are flushed to
// zero. On x86 an operation that reads or produces a denormal float takes a microcode assist,
// tens to hundreds of cycles instead of one. Optimizer state decays into that range: RMSprop's
// and Adam's running averages of squared gradients shrink by a constant factor every step for a
// weight whose gradient is (nearly) zero, and a DQN on MinAtar has many (input channels and
// pixels that are almost never set), so its update spent most of its time in assists
// (docs/performance.md, "Denormals"). `duel train` therefore flushes them while it trains
// (--keep-denormals turns that off); a program embedding duel decides for itself, as with
// PyTorch's torch.set_flush_denormal.
#pragma once

namespace duel {

// Flush denormal results to zero and treat denormal inputs as zero (x86: MXCSR's FTZ and DAZ
// bits), or stop doing so, on the calling thread and on the threads of its OpenMP team (the
// current omp_get_max_threads() of them; threads created later inherit the creating thread's
// setting). Returns false, changing nothing, where the CPU has no such mode (not x86-64).
bool set_flush_denormal(bool on);

// Whether the calling thread flushes denormals now.
bool flush_denormal();

// Sets the mode for a scope and restores the previous one (of the calling thread) at its end.
class FlushDenormalGuard {
 public:
  explicit FlushDenormalGuard(bool on) : prev_(flush_denormal()) { set_flush_denormal(on); }
  ~FlushDenormalGuard() { set_flush_denormal(prev_); }
  FlushDenormalGuard(const FlushDenormalGuard&) = delete;
  FlushDenormalGuard& operator=(const FlushDenormalGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace duel
