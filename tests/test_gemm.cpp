// duel's CPU GEMM (kernels/cpu/gemm.h): every kernel this CPU can run (generic, AVX2,
// AVX-512) against a naive float64 product and against Eigen, over many shapes (the odd sizes
// that exercise the MR/NR edges and the MC/KC/NC block boundaries), operand layouts (row-major,
// column-major i.e. transposed, both strides non-unit, stride 0), C with a leading dim larger
// than N, overwrite and accumulate, and 1 and 2 threads (which must agree bitwise: the split
// never changes the order in which an element is summed). Then the same through duel::matmul
// in the linear layer's three layouts.
//
// Tolerance. A float32 dot product of length K summed in any order (with or without FMA) has
// |computed - exact| <= gamma_K * sum_k |a_ik b_kj|, gamma_K = K u / (1 - K u), u = 2^-24
// (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); accumulating into C adds one
// more rounding, so K + 1 terms. The reference is computed in float64 from the same float32
// inputs (its own error is ~1e-16 relative, negligible). The test allows exactly that bound
// (x 1.01 for the rounding of the bound itself) plus 1e-30 for exact zeros: a wrong kernel
// (a dropped or doubled term, a wrong edge) misses by about |a_ik b_kj|, i.e. roughly
// sum/K, far above K u sum for every K used here (K <= 1100: K u <= 6.6e-5, 1/K >= 9e-4).
#include <omp.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "duel.h"
#include "kernels/cpu/gemm.h"

using namespace duel;
using duel::cpu::GemmImpl;

namespace {

// A matrix stored in a buffer with arbitrary (row, col) strides.
struct Strided {
  std::vector<float> storage;
  int64_t offset = 0, rs = 0, cs = 0;
  const float* data() const { return storage.data() + offset; }
  float at(int64_t r, int64_t c) const { return storage[offset + r * rs + c * cs]; }
};

enum class Layout { RowMajor, ColMajor, Strided, Broadcast };
const char* layout_name(Layout l) {
  switch (l) {
    case Layout::RowMajor: return "row-major";
    case Layout::ColMajor: return "col-major";
    case Layout::Strided: return "strided";
    case Layout::Broadcast: return "stride-0 cols";
  }
  return "?";
}

// rows x cols values uniform in [-1, 1) stored in `layout`. Strided: both strides non-unit
// (row stride 2, column stride 2*rows+3: a transposed, padded, every-other-element view).
// Broadcast: the column stride is 0 (every row constant, as an expanded [rows, 1] tensor).
Strided make_matrix(int64_t rows, int64_t cols, Layout layout, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Strided m;
  switch (layout) {
    case Layout::RowMajor: m.rs = cols, m.cs = 1; break;
    case Layout::ColMajor: m.rs = 1, m.cs = rows; break;
    case Layout::Strided: m.rs = 2, m.cs = 2 * rows + 3; break;
    case Layout::Broadcast: m.rs = 1, m.cs = 0; break;
  }
  m.offset = 5;  // not 64-byte aligned: the kernels must not assume aligned operands
  const int64_t span = (rows - 1) * m.rs + (cols - 1) * m.cs + 1;
  m.storage.assign(static_cast<size_t>(m.offset + span + 7), 0.0f);
  for (auto& v : m.storage) v = u(rng);  // padding gets values too: reading it would show
  return m;
}

struct Reference {
  std::vector<double> value, bound;  // exact product (+ C) and the allowed error
};

Reference reference(int64_t M, int64_t N, int64_t K, const Strided& A, const Strided& B, const std::vector<float>& c0,
                    int64_t ldc, bool accumulate) {
  const double u = std::ldexp(1.0, -24);
  const double terms = K + (accumulate ? 1 : 0);
  const double gamma = terms * u / (1 - terms * u);
  Reference r;
  r.value.resize(M * N), r.bound.resize(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = accumulate ? c0[m * ldc + n] : 0.0, abs_sum = accumulate ? std::abs(s) : 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double p = static_cast<double>(A.at(m, k)) * B.at(k, n);
        s += p, abs_sum += std::abs(p);
      }
      r.value[m * N + n] = s;
      r.bound[m * N + n] = 1.01 * gamma * abs_sum + 1e-30;
    }
  return r;
}

// Runs C (+)= A B with `impl` and `threads`; C starts as c0 (leading dim ldc).
std::vector<float> run(GemmImpl impl, int threads, int64_t M, int64_t N, int64_t K, const Strided& A,
                       const Strided& B, const std::vector<float>& c0, int64_t ldc, bool accumulate) {
  std::vector<float> c = c0;
  cpu::gemm<float>(M, N, K, A.data(), A.rs, A.cs, B.data(), B.rs, B.cs, c.data(), ldc, accumulate, threads, impl);
  return c;
}

// Number of elements of C outside the bound (C's padding columns must be untouched too).
int64_t count_bad(const std::vector<float>& c, const std::vector<float>& c0, const Reference& r, int64_t M, int64_t N,
                  int64_t ldc, std::string& first) {
  int64_t bad = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < ldc; ++n) {
      const float v = c[m * ldc + n];
      bool ok;
      if (n >= N) ok = v == c0[m * ldc + n] || (std::isnan(v) && std::isnan(c0[m * ldc + n]));
      else ok = std::abs(v - r.value[m * N + n]) <= r.bound[m * N + n];
      if (!ok && bad++ == 0)
        first = "C(" + std::to_string(m) + "," + std::to_string(n) + ") = " + std::to_string(v) +
                (n < N ? ", expected " + std::to_string(r.value[m * N + n]) + " +- " +
                             std::to_string(r.bound[m * N + n])
                       : ", padding overwritten");
    }
  return bad;
}

std::vector<GemmImpl> kernels_to_test() {
  std::vector<GemmImpl> impls = {GemmImpl::Generic};
  for (GemmImpl i : {GemmImpl::Avx2, GemmImpl::Avx512}) {
    if (cpu::gemm_impl_supported(i)) impls.push_back(i);
    else WARN("skipped: this CPU cannot run the " << cpu::gemm_impl_name(i) << " GEMM kernel");
  }
  return impls;
}

struct Shape3 {
  int64_t M, N, K;
};

// Odd sizes around the micro-tile edges (MR = 6/12, NR = 16/32), K around the KC blocks
// (256 for AVX2, 384 for AVX-512), M across MC (144 / 240), N across NC (4080 / 3072), and the
// shapes of the bench (linear layer, DQN head).
const std::vector<Shape3>& shapes() {
  static const std::vector<Shape3> s = {
      {1, 1, 1},     {1, 1, 7},     {3, 1, 17},     {1, 3, 33},    {7, 17, 3},     {17, 7, 100},
      {33, 33, 33},  {6, 16, 1},    {12, 32, 5},    {13, 33, 255}, {100, 17, 7},   {5, 100, 1},
      {17, 255, 9},  {255, 3, 17},  {24, 48, 257},  {49, 31, 385}, {64, 64, 64},   {145, 40, 20},
      {241, 33, 11}, {7, 3100, 3},  {2, 4100, 2},   {30, 100, 600}, {48, 80, 1100}, {100, 255, 100},
  };
  return s;
}

void check_all(GemmImpl impl, const std::vector<Shape3>& cases, const std::vector<Layout>& layouts, bool vs_eigen) {
  std::mt19937 rng(1234);
  for (const Shape3& s : cases)
    for (Layout la : layouts)
      for (Layout lb : layouts)
        for (bool accumulate : {false, true}) {
          const int64_t M = s.M, N = s.N, K = s.K, ldc = N + 3;
          Strided A = make_matrix(M, K, la, rng), B = make_matrix(K, N, lb, rng);
          std::vector<float> c0(M * ldc);
          std::uniform_real_distribution<float> u(-1.0f, 1.0f);
          for (auto& v : c0) v = u(rng);
          const Reference r = reference(M, N, K, A, B, c0, ldc, accumulate);
          const std::string what = std::string(cpu::gemm_impl_name(impl)) + " M=" + std::to_string(M) +
                                   " N=" + std::to_string(N) + " K=" + std::to_string(K) + " A " +
                                   layout_name(la) + ", B " + layout_name(lb) + (accumulate ? ", C +=" : ", C =");
          const std::vector<float> one = run(impl, 1, M, N, K, A, B, c0, ldc, accumulate);
          std::string first;
          const int64_t bad = count_bad(one, c0, r, M, N, ldc, first);
          INFO(what << ": " << bad << " wrong elements, first " << first);
          REQUIRE(bad == 0);
          const std::vector<float> two = run(impl, 2, M, N, K, A, B, c0, ldc, accumulate);
          INFO(what << ": 2 threads differ from 1 thread");
          REQUIRE(two == one);  // bitwise: the thread split never changes the summation order
          if (vs_eigen) {
            // Eigen must be inside the same bound, so the two are within twice of it.
            const std::vector<float> eig = run(GemmImpl::Eigen, 1, M, N, K, A, B, c0, ldc, accumulate);
            int64_t far = 0;
            for (int64_t m = 0; m < M; ++m)
              for (int64_t n = 0; n < N; ++n)
                far += !(std::abs(one[m * ldc + n] - eig[m * ldc + n]) <= 2 * r.bound[m * N + n]);
            INFO(what << ": differs from Eigen beyond twice the error bound");
            REQUIRE(far == 0);
          }
        }
}

class Threads {
 public:
  explicit Threads(int n) : prev_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(prev_); }

 private:
  int prev_;
};

class ForceGemm {
 public:
  explicit ForceGemm(GemmImpl impl) : prev_(cpu::gemm_impl()) { cpu::set_gemm_impl(impl); }
  ~ForceGemm() { cpu::set_gemm_impl(prev_); }

 private:
  GemmImpl prev_;
};

}  // namespace

TEST_CASE("gemm: every kernel matches float64 and Eigen over shapes and layouts, 1 and 2 threads",
          "[gemm][matmul][threads]") {
  const std::vector<Layout> all = {Layout::RowMajor, Layout::ColMajor, Layout::Strided};
  for (GemmImpl impl : kernels_to_test()) {
    check_all(impl, shapes(), all, /*vs_eigen=*/true);
    // Stride-0 operands (expanded tensors): read in place, never copied.
    check_all(impl, {{7, 17, 33}, {33, 100, 7}, {1, 3, 255}}, {Layout::RowMajor, Layout::Broadcast}, false);
  }
}

TEST_CASE("gemm: the products that split over threads match the float64 reference", "[gemm][matmul][threads]") {
  // Large enough for every block loop to run more than once and for both the M and the N split.
  const std::vector<Shape3> big = {{300, 40, 520}, {40, 700, 300}, {513, 257, 129}};
  for (GemmImpl impl : kernels_to_test()) check_all(impl, big, {Layout::RowMajor, Layout::ColMajor}, true);
}

TEST_CASE("gemm: K = 0 and empty products", "[gemm][matmul]") {
  for (GemmImpl impl : kernels_to_test()) {
    std::vector<float> c(6, 7.0f);
    const float one = 1.0f;
    cpu::gemm<float>(2, 3, 0, &one, 1, 1, &one, 1, 1, c.data(), 3, /*accumulate=*/true, 1, impl);
    REQUIRE(c == std::vector<float>(6, 7.0f));
    cpu::gemm<float>(2, 3, 0, &one, 1, 1, &one, 1, 1, c.data(), 3, /*accumulate=*/false, 1, impl);
    REQUIRE(c == std::vector<float>(6, 0.0f));
    cpu::gemm<float>(0, 3, 5, &one, 1, 1, &one, 1, 1, c.data(), 3, false, 2, impl);  // nothing to do
  }
}

TEST_CASE("gemm: float64 runs through Eigen and matches the naive product", "[gemm][matmul]") {
  const int64_t M = 19, N = 23, K = 29;
  std::vector<double> a(M * K), b(K * N), c(M * N), ref(M * N, 0.0);
  for (size_t i = 0; i < a.size(); ++i) a[i] = std::sin(0.37 * i);
  for (size_t i = 0; i < b.size(); ++i) b[i] = std::cos(0.91 * i);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) ref[m * N + n] += a[m * K + k] * b[k * N + n];
  // B passed transposed-in-storage: b holds B^T [N, K] read with strides (1, K)
  std::vector<double> bt(N * K);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) bt[n * K + k] = b[k * N + n];
  cpu::gemm<double>(M, N, K, a.data(), K, 1, bt.data(), 1, K, c.data(), N, false, 2);
  for (int64_t i = 0; i < M * N; ++i) REQUIRE(std::abs(c[i] - ref[i]) <= 1e-12 * K);
}

TEST_CASE("gemm: matmul in the linear layer's layouts, every kernel against Eigen", "[gemm][matmul][linalg][threads]") {
  // forward x W^T, weight gradient x^T gy (as gy^T x in [out, in]), input gradient gy W, and a
  // batched product with a stride-0 batch; float32 through duel::matmul with the kernel forced.
  const int64_t batch = 37, in = 71, out = 45;
  Tensor x = randn({batch, in}), w = randn({out, in}), gy = randn({batch, out});
  Tensor b3 = randn({1, in, out}).expand({3, in, out});
  Tensor a3 = randn({3, batch, in});
  auto products = [&] {
    return TensorList{matmul(x, w.t()), matmul(gy.t(), x), matmul(x.t(), gy), matmul(gy, w), matmul(a3, b3)};
  };
  TensorList expected;
  {
    ForceGemm f(GemmImpl::Eigen);
    expected = products();
  }
  for (GemmImpl impl : kernels_to_test()) {
    for (int threads : {1, 2}) {
      Threads t(threads);
      ForceGemm f(impl);
      TensorList got = products();
      for (size_t i = 0; i < got.size(); ++i) {
        INFO(cpu::gemm_impl_name(impl) << ", " << threads << " thread(s), product #" << i);
        REQUIRE(got[i].sizes() == expected[i].sizes());
        const auto g = got[i].to_vector<double>(), e = expected[i].to_vector<double>();
        // inputs are N(0,1): sum_k |a b| averages K * 2/pi; 2 * gamma_K * 2K bounds both errors
        // with a wide margin (a wrong term would be off by about 1)
        const int64_t K = i == 1 || i == 2 ? batch : i == 3 ? out : in;
        const double tol = 4 * K * std::ldexp(1.0, -24) * K;
        for (size_t j = 0; j < g.size(); ++j) REQUIRE(std::abs(g[j] - e[j]) <= tol);
      }
    }
  }
}

TEST_CASE("gemm: DUEL_GEMM names and the process-wide switch", "[gemm]") {
  GemmImpl impl = GemmImpl::Auto;
  for (const char* name : {"auto", "eigen", "generic", "avx2", "avx512"}) {
    REQUIRE(cpu::parse_gemm_impl(name, impl));
    REQUIRE(std::string(cpu::gemm_impl_name(impl)) == name);
  }
  REQUIRE_FALSE(cpu::parse_gemm_impl("openblas", impl));
  {
    ForceGemm f(GemmImpl::Eigen);
    REQUIRE(cpu::gemm_resolved_impl() == GemmImpl::Eigen);
  }
  {
    ForceGemm f(GemmImpl::Auto);
    const GemmImpl r = cpu::gemm_resolved_impl();
    REQUIRE(r != GemmImpl::Auto);
    REQUIRE(r != GemmImpl::Eigen);
    REQUIRE(cpu::gemm_impl_supported(r));
  }
}

// gemm_gather (the implicit-GEMM convolution's product): operands and output given by offset
// tables. Each case scatters a dense matrix through shuffled offset tables (so no row or
// column is where a strided layout would put it), runs gemm_gather, and compares with the
// float64 product under the error bound above; ScatterAdd's output tables make several
// elements share an address, and the reference adds them the same way.
namespace {

struct Gathered {
  std::vector<float> storage;
  std::vector<int32_t> row, col;
  float at(int64_t r, int64_t c) const { return storage[row[r] + col[c]]; }
};

// rows x cols values at storage[row[r] + col[c]]: row offsets a shuffle of multiples of
// `cols_span`, column offsets a shuffle of 0 .. cols-1 (+ 3 unused slots between rows).
Gathered make_gathered(int64_t rows, int64_t cols, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Gathered g;
  const int64_t span = cols + 3;
  g.storage.resize(static_cast<size_t>(rows * span));
  for (auto& v : g.storage) v = u(rng);
  for (int64_t r = 0; r < rows; ++r) g.row.push_back(static_cast<int32_t>(r * span));
  for (int64_t c = 0; c < cols; ++c) g.col.push_back(static_cast<int32_t>(c));
  std::shuffle(g.row.begin(), g.row.end(), rng);
  std::shuffle(g.col.begin(), g.col.end(), rng);
  return g;
}

}  // namespace

TEST_CASE("gemm: gemm_gather, gathered operands and stored, accumulated or scatter-added outputs", "[gemm][conv]") {
  std::mt19937 rng(7);
  const double u = std::ldexp(1.0, -24);
  for (GemmImpl impl : {GemmImpl::Generic, GemmImpl::Avx2, GemmImpl::Avx512, GemmImpl::Eigen}) {
    if (!cpu::gemm_impl_supported(impl)) continue;
    // M, N, K: edges of both micro-tiles, a K over two KC blocks, N over NC
    for (auto [M, N, K] : std::vector<std::array<int64_t, 3>>{{1, 1, 1}, {13, 33, 7}, {25, 70, 400}, {7, 3100, 20}}) {
      INFO(cpu::gemm_impl_name(impl) << " M=" << M << " N=" << N << " K=" << K);
      Strided A = make_matrix(M, K, Layout::RowMajor, rng);
      Gathered B = make_gathered(K, N, rng);
      // (1) dense A, gathered B, output stored / accumulated / scatter-added through tables
      for (cpu::GatherStore mode : {cpu::GatherStore::Store, cpu::GatherStore::Accumulate, cpu::GatherStore::ScatterAdd}) {
        INFO("mode " << static_cast<int>(mode));
        // Each mode reaches one of GatherC's three writers. Store: rows at (M-1-i) * (N+5),
        // columns reversed (element by element). Accumulate: the same rows, columns in order
        // (row by row, contiguous). ScatterAdd: row i at offset i, columns reversed, so row i's
        // column j and row i+1's column j+1 share an address (column by column, contiguous).
        const bool scatter = mode == cpu::GatherStore::ScatterAdd;
        const int64_t span = scatter ? 1 : N + 5;
        std::vector<int32_t> out_row(M), out_col(N);
        for (int64_t i = 0; i < M; ++i) out_row[i] = static_cast<int32_t>(scatter ? i : (M - 1 - i) * span);
        for (int64_t j = 0; j < N; ++j)
          out_col[j] = static_cast<int32_t>(mode == cpu::GatherStore::Accumulate ? j : N - 1 - j);
        std::vector<float> out(static_cast<size_t>(M * span + N + 5));
        for (auto& v : out) v = std::uniform_real_distribution<float>(-1, 1)(rng);
        const std::vector<float> out0 = out;
        cpu::gemm_gather(M, N, K, cpu::DenseMatrix{A.data(), A.rs, A.cs},
                         cpu::GatherMatrix{B.storage.data(), B.row.data(), B.col.data()},
                         cpu::GatherOutput{out.data(), out_row.data(), out_col.data(), mode}, impl);
        std::vector<double> want(out0.begin(), out0.end()), bound(out0.size(), 1e-30);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            const size_t at = static_cast<size_t>(out_row[i] + out_col[j]);
            double s = 0, abs_sum = 0;
            for (int64_t k = 0; k < K; ++k) {
              const double p = static_cast<double>(A.at(i, k)) * B.at(k, j);
              s += p, abs_sum += std::abs(p);
            }
            const bool store = mode == cpu::GatherStore::Store;
            if (store) want[at] = s, bound[at] = 0;
            else want[at] += s;
            bound[at] += 1.01 * (K + 2) * u * (abs_sum + (store ? 0.0 : std::abs(out0[at])));
          }
        int64_t bad = 0;
        for (size_t t = 0; t < out.size(); ++t)
          if (!(std::abs(out[t] - want[t]) <= bound[t])) ++bad;  // untouched slots: exactly as they were
        CHECK(bad == 0);
      }
      // (2) gathered A, gathered B, dense C accumulated (the weight gradient's shape)
      Gathered A2 = make_gathered(M, K, rng);
      std::vector<float> c(static_cast<size_t>(M * N), 0.5f);
      cpu::gemm_gather(M, N, K, cpu::GatherMatrix{A2.storage.data(), A2.row.data(), A2.col.data()},
                       cpu::GatherMatrix{B.storage.data(), B.row.data(), B.col.data()},
                       cpu::DenseOutput{c.data(), N, true}, impl);
      int64_t bad = 0;
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          double s = 0.5, abs_sum = 0.5;
          for (int64_t k = 0; k < K; ++k) {
            const double p = static_cast<double>(A2.at(i, k)) * B.at(k, j);
            s += p, abs_sum += std::abs(p);
          }
          if (!(std::abs(c[i * N + j] - s) <= 1.01 * (K + 1) * u * abs_sum + 1e-30)) ++bad;
        }
      CHECK(bad == 0);
    }
  }
}
