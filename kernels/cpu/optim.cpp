// CPU fused optimizer updates: one OpenMP loop per parameter over raw memory; the
// per-element rules live in optim.h and are shared with kernels/cuda/optim.cu.
#include "kernels/cpu/optim.h"

#include <type_traits>

#include "kernels/cpu/loops.h"

namespace duel::cpu {
// Parameters of kParallelGrain elements or more (kernels/cpu/loops.h, the elementwise loops' grain)
// are updated by several OpenMP threads (elements are independent). The grain was 2^15 here, which
// made the 135k-weight DQN update pay a thread wake-up per step.

// Each rule's option flags are turned into compile-time constants before the loop (the
// `with_flag` dispatch below), so the loop body has no branches and the compiler vectorises it
// (sqrt too, since the project builds with -fno-math-errno). The arithmetic is the same
// per-element function the CUDA kernels run, so results match them bit for bit.
template <class F>
void with_flag(bool b, F&& f) {
  if (b) {
    f(std::true_type{});
  } else {
    f(std::false_type{});
  }
}

// The scalars with their flags fixed at compile time (these static members hide the runtime ones).
template <class T, bool WD, bool MOM>
struct SgdFixed : optim_detail::SgdScalars<T> {
  static constexpr bool use_wd = WD, use_mom = MOM;
};
template <class T, bool WD, bool AMS>
struct AdamFixed : optim_detail::AdamScalars<T> {
  static constexpr bool use_wd = WD, amsgrad = AMS;
};
template <class T, bool WD, bool CENTERED, bool MOM, bool INSIDE>
struct RmspropFixed : optim_detail::RmspropScalars<T> {
  static constexpr bool use_wd = WD, centered = CENTERED, use_mom = MOM, inside = INSIDE;
};

// The loops take plain pointers (not lambda captures), which the vectoriser needs.
template <class S, class T>
void sgd_loop(const S s, T* param, const T* grad, T* buf, int64_t n) {
#pragma omp parallel for simd if (parallel: n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i) optim_detail::sgd_element(s, param[i], grad[i], S::use_mom ? buf + i : nullptr);
}
template <class S, class T>
void adam_loop(const S s, T* param, const T* grad, T* m, T* v, T* vmax, int64_t n) {
#pragma omp parallel for simd if (parallel: n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    optim_detail::adam_element(s, param[i], grad[i], m[i], v[i], S::amsgrad ? vmax + i : nullptr);
}
template <class S, class T>
void rmsprop_loop(const S s, T* param, const T* grad, T* sq, T* ga, T* buf, int64_t n) {
#pragma omp parallel for simd if (parallel: n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    optim_detail::rmsprop_element(s, param[i], grad[i], sq[i], S::centered ? ga + i : nullptr,
                                  S::use_mom ? buf + i : nullptr);
}

template <class T>
void sgd_update(T* param, const T* grad, T* momentum_buffer, int64_t n, const SgdUpdate& u) {
  const auto s = optim_detail::sgd_scalars<T>(u);
  with_flag(s.use_wd, [&](auto wd) {
    with_flag(s.use_mom, [&](auto mom) {
      sgd_loop(SgdFixed<T, decltype(wd)::value, decltype(mom)::value>{s}, param, grad, momentum_buffer, n);
    });
  });
}

template <class T>
void adam_update(T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq, int64_t n,
                 const AdamUpdate& u) {
  const auto s = optim_detail::adam_scalars<T>(u);
  with_flag(s.use_wd, [&](auto wd) {
    with_flag(s.amsgrad, [&](auto ams) {
      adam_loop(AdamFixed<T, decltype(wd)::value, decltype(ams)::value>{s}, param, grad, exp_avg, exp_avg_sq,
                max_exp_avg_sq, n);
    });
  });
}

template <class T>
void rmsprop_update(T* param, const T* grad, T* square_avg, T* grad_avg, T* momentum_buffer, int64_t n,
                    const RmspropUpdate& u) {
  const auto s = optim_detail::rmsprop_scalars<T>(u);
  with_flag(s.use_wd, [&](auto wd) {
    with_flag(s.centered, [&](auto c) {
      with_flag(s.use_mom, [&](auto mom) {
        with_flag(s.inside, [&](auto in) {
          rmsprop_loop(RmspropFixed<T, decltype(wd)::value, decltype(c)::value, decltype(mom)::value,
                                    decltype(in)::value>{s},
                       param, grad, square_avg, grad_avg, momentum_buffer, n);
        });
      });
    });
  });
}

#define DUEL_INSTANTIATE_OPTIM(T)                                                                  \
  template void sgd_update<T>(T*, const T*, T*, int64_t, const SgdUpdate&);                        \
  template void adam_update<T>(T*, const T*, T*, T*, T*, int64_t, const AdamUpdate&);              \
  template void rmsprop_update<T>(T*, const T*, T*, T*, T*, int64_t, const RmspropUpdate&);
DUEL_INSTANTIATE_OPTIM(float)
DUEL_INSTANTIATE_OPTIM(double)
#undef DUEL_INSTANTIATE_OPTIM

}  // namespace duel::cpu
