// Denormal flushing (kernels/cpu/fp_env.h).
#include "kernels/cpu/fp_env.h"

#include <omp.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define DUEL_FP_ENV_X86 1
#else
#define DUEL_FP_ENV_X86 0
#endif

namespace duel {
namespace {

#if DUEL_FP_ENV_X86
constexpr unsigned kFlushToZero = 0x8000;       // MXCSR bit 15: denormal results become 0
constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR bit 6: denormal inputs read as 0
constexpr unsigned kBoth = kFlushToZero | kDenormalsAreZero;

void set_this_thread(bool on) { _mm_setcsr(on ? (_mm_getcsr() | kBoth) : (_mm_getcsr() & ~kBoth)); }
#endif

}  // namespace

bool set_flush_denormal(bool on) {
#if DUEL_FP_ENV_X86
  set_this_thread(on);
  // MXCSR is per thread: set it on every thread of the team this thread's parallel regions use
  if (!omp_in_parallel() && omp_get_max_threads() > 1) {
#pragma omp parallel
    set_this_thread(on);
  }
  return true;
#else
  (void)on;
  return false;
#endif
}

bool flush_denormal() {
#if DUEL_FP_ENV_X86
  return (_mm_getcsr() & kBoth) == kBoth;
#else
  return false;
#endif
}

}  // namespace duel
