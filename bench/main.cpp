// duel_bench: throughput of duel's CPU kernels, side by side with libtorch
// (when built against it), against the machine's peak. See docs/performance.md.
//
//   duel_bench [--filter SUBSTR] [--reps N] [--threads N] [--min-time MS]
//              [--stat median|min] [--clock wall|cpu] [--quiesce MS]
//              [--gemm IMPL] [--no-torch] [--blas-as-is] [--markdown] [--list]
//
// Compute-bound rows (matmul, linear, conv) report GFLOP/s and the fraction
// of the peak (the larger of cores x GHz x FLOPs/cycle and a measured FMA
// loop); memory-bound rows (elementwise, reductions, batch norm) report GB/s
// and the fraction of the memcpy bandwidth measured at start-up. Each row's
// time is the median (or the fastest) of --reps repetitions; a repetition
// times a calibrated number of back-to-back calls (at least --min-time ms)
// after a warm-up. duel and libtorch are timed one after the other, each
// after a pause (--quiesce) that lets the other library's busy-waiting worker
// threads go to sleep.
// This is a benchmark, not a test: nothing here asserts on timings.
#include <immintrin.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench.h"

namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

// The clock rows are timed with. Wall time by default; with --clock cpu, the
// CPU time of the whole process (user + system, all threads) divided by the
// thread count: on a machine shared with other jobs, where wall time mostly
// measures the scheduler, single-threaded (--threads 1) CPU time still
// measures the kernels. With several threads it is not a time at all (it
// counts OpenMP spin-waiting, and halves serial sections), so main() warns.
bool g_cpu_clock = false;
int g_threads = 1;
double now_s() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (ts.tv_sec + ts.tv_nsec * 1e-9) / g_threads;
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------
struct Options {
  std::string filter;
  int reps = 7;
  int threads = 2;
  double min_time_ms = 20;
  double flops_per_cycle = 32;  // AVX2: 2 FMA pipes x 8 float lanes x 2 FLOPs
  bool torch = true;
  bool blas_as_is = false;
  bool markdown = false;
  bool list = false;
  bool cpu_clock = false;
  int quiesce_ms = 200;
  bool best = false;  // --stat min
  std::string gemm;   // --gemm: duel's GEMM (empty: DUEL_GEMM or auto)
};

[[noreturn]] void usage(int code) {
  std::printf(
      "usage: duel_bench [options]\n"
      "  --filter S        run only rows whose \"op shape\" contains S (case-insensitive)\n"
      "  --reps N          repetitions per row (default 7)\n"
      "  --threads N       threads for duel and libtorch (default: $OMP_NUM_THREADS, else 2)\n"
      "  --min-time MS     minimum duration of one repetition (default 20)\n"
      "  --flops-per-cycle F  single-precision FLOPs per cycle per core for the peak estimate (default 32)\n"
      "  --clock wall|cpu  time with the wall clock (default) or with process CPU time / threads\n"
      "                    (robust on a loaded machine, but meaningful only with --threads 1)\n"
      "  --quiesce MS      pause before timing each library in a row, so that the other library's\n"
      "                    spinning worker threads go idle (default 200)\n"
      "  --stat median|min report the median (default) or the fastest repetition; on a machine shared\n"
      "                    with other jobs, \"--stat min --min-time 1 --reps 31\" approximates a quiet machine\n"
      "  --gemm IMPL       duel's float32 GEMM: auto|avx512|avx2|generic|eigen (default: $DUEL_GEMM, else auto);\n"
      "                    the \"matmul eigen\" rows always run Eigen's GEMM, for comparison\n"
      "  --no-torch        skip the libtorch columns\n"
      "  --blas-as-is      keep OpenBLAS's own kernel choice for libtorch, even an SSE fallback (by default,\n"
      "                    when OpenBLAS did not recognise this CPU, duel_bench runs itself again with\n"
      "                    OPENBLAS_CORETYPE=SkylakeX or Haswell; a set OPENBLAS_CORETYPE is always kept)\n"
      "  --markdown        print the table as Markdown\n"
      "  --list            list the rows and exit\n");
  std::exit(code);
}

Options parse(int argc, char** argv) {
  Options o;
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {
    int t = std::atoi(env);
    if (t > 0) o.threads = t;
  }
  auto value = [&](int& i) -> const char* {
    if (i + 1 >= argc) {
      std::fprintf(stderr, "duel_bench: %s needs a value\n", argv[i]);
      usage(2);
    }
    return argv[++i];
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--filter") o.filter = value(i);
    else if (a == "--reps") o.reps = std::max(1, std::atoi(value(i)));
    else if (a == "--threads") o.threads = std::max(1, std::atoi(value(i)));
    else if (a == "--min-time") o.min_time_ms = std::max(0.1, std::atof(value(i)));
    else if (a == "--stat") {
      const std::string v = value(i);
      if (v != "median" && v != "min") {
        std::fprintf(stderr, "duel_bench: --stat takes median or min, got '%s'\n", v.c_str());
        usage(2);
      }
      o.best = v == "min";
    } else if (a == "--quiesce") o.quiesce_ms = std::max(0, std::atoi(value(i)));
    else if (a == "--flops-per-cycle") o.flops_per_cycle = std::max(1.0, std::atof(value(i)));
    else if (a == "--clock") {
      const std::string c = value(i);
      if (c != "wall" && c != "cpu") {
        std::fprintf(stderr, "duel_bench: --clock takes wall or cpu, got '%s'\n", c.c_str());
        usage(2);
      }
      o.cpu_clock = c == "cpu";
    } else if (a == "--gemm") o.gemm = value(i);
    else if (a == "--no-torch") o.torch = false;
    else if (a == "--blas-as-is") o.blas_as_is = true;
    else if (a == "--markdown") o.markdown = true;
    else if (a == "--list") o.list = true;
    else if (a == "-h" || a == "--help") usage(0);
    else {
      std::fprintf(stderr, "duel_bench: unknown argument '%s'\n", a.c_str());
      usage(2);
    }
  }
  return o;
}

std::string lower(std::string s) {
  for (char& c : s) c = (char)std::tolower((unsigned char)c);
  return s;
}

// ---------------------------------------------------------------------------
// Machine description and peaks
// ---------------------------------------------------------------------------
struct Machine {
  std::string model = "unknown CPU";
  int physical_cores = 0;
  double ghz = 0;           // the highest clock we can find
  std::string ghz_source;   // where it came from
  bool avx512 = false;
};

Machine describe_machine() {
  Machine m;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> physical_ids;
  int cores_per_socket = 0, logical = 0;
  double mhz = 0;
  auto value_of = [](const std::string& l) {
    auto p = l.find(':');
    if (p == std::string::npos) return std::string();
    std::string v = l.substr(p + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    return v;
  };
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) m.model = value_of(line);
    else if (line.rfind("physical id", 0) == 0) physical_ids.insert(value_of(line));
    else if (line.rfind("cpu cores", 0) == 0) cores_per_socket = std::atoi(value_of(line).c_str());
    else if (line.rfind("processor", 0) == 0) ++logical;
    else if (line.rfind("cpu MHz", 0) == 0) mhz = std::max(mhz, std::atof(value_of(line).c_str()));
    else if (line.rfind("flags", 0) == 0) m.avx512 = line.find(" avx512f") != std::string::npos;
  }
  if (cores_per_socket > 0) m.physical_cores = cores_per_socket * std::max<int>(1, (int)physical_ids.size());
  if (m.physical_cores <= 0) m.physical_cores = logical > 0 ? logical : (int)std::thread::hardware_concurrency();
  std::ifstream maxf("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  double khz = 0;
  if (maxf >> khz && khz > 0) {
    m.ghz = khz / 1e6;
    m.ghz_source = "cpufreq cpuinfo_max_freq";
  } else {
    m.ghz = mhz / 1e3;
    m.ghz_source = "/proc/cpuinfo 'cpu MHz' (no cpufreq: a VM; turbo clocks are not visible)";
  }
  return m;
}

// The 1-minute load average: other jobs on the machine make wall-clock numbers noisy.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  return (in >> one) ? one : std::string("?");
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Measured FMA throughput of one core: independent chains of vector FMAs
// (enough of them to cover latency x FMA pipes), timed in the thread's CPU
// time so that other jobs on the machine do not lower it. Uses the widest
// vectors the build targets (AVX-512 or AVX2); 0 when neither is enabled.
double thread_cpu_s() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

template <class V, class Fma, class Set>
double fma_gflops_one_core(Fma fma, Set set1, int lanes) {
  constexpr int kChains = 12;
  const int64_t iters = 20'000'000;
  double best = 0;
  for (int trial = 0; trial < 3; ++trial) {
    V acc[kChains];
    for (int j = 0; j < kChains; ++j) acc[j] = set1(float(j));
    const V a = set1(1.0f), b = set1(1e-7f);
    const double t0 = thread_cpu_s();
    for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
      for (int j = 0; j < kChains; ++j) acc[j] = fma(acc[j], a, b);
    }
    const double dt = thread_cpu_s() - t0;
    alignas(64) float out[16];
    float sink = 0;
    for (int j = 0; j < kChains; ++j) {
      std::memcpy(out, &acc[j], sizeof(V));
      sink += out[0];
    }
    volatile float keep = sink;
    (void)keep;
    best = std::max(best, 2.0 * lanes * kChains * (double)iters / dt / 1e9);
  }
  return best;
}

double measured_fma_gflops_per_core() {
#if defined(__AVX512F__)
  return fma_gflops_one_core<__m512>([](__m512 c, __m512 a, __m512 b) { return _mm512_fmadd_ps(c, a, b); },
                                     [](float v) { return _mm512_set1_ps(v); }, 16);
#elif defined(__FMA__) && defined(__AVX__)
  return fma_gflops_one_core<__m256>([](__m256 c, __m256 a, __m256 b) { return _mm256_fmadd_ps(c, a, b); },
                                     [](float v) { return _mm256_set1_ps(v); }, 8);
#else
  return 0;
#endif
}

// Copy bandwidth: memcpy of a 64 MiB buffer (larger than any L3 here),
// counted as bytes read + bytes written (the STREAM convention, write-allocate
// traffic not counted), once single-threaded and once split over `threads`.
struct CopyBandwidth {
  double single_gbs = 0, parallel_gbs = 0;
  double peak() const { return std::max(single_gbs, parallel_gbs); }
};

CopyBandwidth measure_copy_bandwidth(int threads) {
  const size_t n = size_t(16) << 20;  // floats
  std::vector<float> src(n, 1.0f), dst(n, 0.0f);
  const double bytes = 2.0 * n * sizeof(float);
  auto time_one = [&](bool parallel) {
    const double t0 = now_s();
    if (parallel) {
#pragma omp parallel num_threads(threads)
      {
        const size_t nt = (size_t)omp_get_num_threads(), t = (size_t)omp_get_thread_num();
        const size_t chunk = (n + nt - 1) / nt, s = std::min(n, t * chunk), e = std::min(n, s + chunk);
        if (e > s) std::memcpy(dst.data() + s, src.data() + s, (e - s) * sizeof(float));
      }
    } else {
      std::memcpy(dst.data(), src.data(), n * sizeof(float));
    }
    // (--clock cpu divides by the thread count; the single-threaded copy must not be)
    return (now_s() - t0) * (!parallel && g_cpu_clock ? g_threads : 1);
  };
  CopyBandwidth r;
  for (int parallel = 0; parallel < 2; ++parallel) {
    for (int i = 0; i < 3; ++i) time_one(parallel);
    std::vector<double> t;
    for (int i = 0; i < 10; ++i) t.push_back(time_one(parallel));
    // the best repetition: bandwidth is a capability, background load only lowers it
    const double best = *std::min_element(t.begin(), t.end());
    (parallel ? r.parallel_gbs : r.single_gbs) = bytes / best / 1e9;
  }
  if (threads == 1) r.single_gbs = r.parallel_gbs = r.peak();  // the same measurement twice
  return r;
}

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------
enum class Unit { Flops, Bytes, Steps };  // Steps: whole training steps or environment steps, no peak

struct Row {
  std::string op, shape;
  Unit unit;
  double work;  // FLOPs or bytes per call
  std::function<Prepared()> duel;
  std::function<Prepared()> torch;  // empty without libtorch
  std::string key() const { return lower(op + " " + shape); }
};

std::string dims(std::initializer_list<int64_t> d) {
  std::string s = "[";
  for (auto it = d.begin(); it != d.end(); ++it) {
    if (it != d.begin()) s += ',';
    s += std::to_string(*it);
  }
  s += ']';
  return s;
}

std::vector<Row> make_rows() {
  std::vector<Row> rows;
  auto add = [&](std::string op, std::string shape, Unit unit, double work, std::function<Prepared()> d,
                 std::function<Prepared()> t) {
    rows.push_back(Row{std::move(op), std::move(shape), unit, work, std::move(d), std::move(t)});
  };
#ifdef DUEL_BENCH_WITH_TORCH
#define TORCH_BODY(...) [=] { return __VA_ARGS__; }
#else
#define TORCH_BODY(...) std::function<Prepared()>()
#endif

  // ---- matmul ----
  struct MM {
    MatmulSpec s;
    const char* what;
  };
  const MM matmuls[] = {
      {{256, 256, 256}, "square"},
      {{512, 512, 512}, "square"},
      {{1024, 1024, 1024}, "square"},
      {{64, 784, 512}, "MLP x@W"},
      {{64, 784, 512, false, true}, "linear fwd x@W^T"},
      {{784, 64, 512, true, false}, "linear dW x^T@gy"},
      {{64, 512, 784}, "linear dx gy@W"},
      {{32, 1024, 128, false, true}, "DQN head"},
  };
  for (const MM& m : matmuls) {
    const MatmulSpec s = m.s;
    std::string a = s.a_transposed ? dims({s.K, s.M}) + "^T" : dims({s.M, s.K});
    std::string b = s.b_transposed ? dims({s.N, s.K}) + "^T" : dims({s.K, s.N});
    add(std::string("matmul ") + m.what, a + "@" + b, Unit::Flops, 2.0 * s.M * s.N * s.K,
        [=] { return duel_matmul(s); }, TORCH_BODY(torch_matmul(s)));
  }
  // The same products with Eigen's GEMM forced (duel's GEMM before kernels/cpu/gemm.cpp), duel only.
  for (const MM& m : matmuls) {
    MatmulSpec s = m.s;
    s.gemm = "eigen";
    std::string a = s.a_transposed ? dims({s.K, s.M}) + "^T" : dims({s.M, s.K});
    std::string b = s.b_transposed ? dims({s.N, s.K}) + "^T" : dims({s.K, s.N});
    add(std::string("matmul eigen ") + m.what, a + "@" + b, Unit::Flops, 2.0 * s.M * s.N * s.K,
        [=] { return duel_matmul(s); }, std::function<Prepared()>());
  }
  // ---- linear forward + backward (autograd) ----
  for (LinearSpec s : {LinearSpec{64, 784, 512}, LinearSpec{32, 1024, 128}}) {
    add("linear fwd+bwd", dims({s.batch, s.in}) + "->" + std::to_string(s.out), Unit::Flops,
        3 * 2.0 * s.batch * s.in * s.out, [=] { return duel_linear(s); }, TORCH_BODY(torch_linear(s)));
  }

  // ---- convolutions: DCGAN at batch 64 on 28x28, MinAtar DQN at batch 32 ----
  struct CV {
    const char* name;
    ConvSpec s;
  };
  const CV convs[] = {
      {"D1", {64, 1, 28, 28, 64, 4, 2, 1}},
      {"D2", {64, 64, 14, 14, 128, 4, 2, 1}},
      {"D3", {64, 128, 7, 7, 256, 4, 2, 1}},
      {"D4", {64, 256, 3, 3, 1, 3, 1, 0}},
      {"G1", {64, 100, 1, 1, 256, 4, 1, 0, true}},
      {"G2", {64, 256, 4, 4, 128, 3, 2, 1, true}},
      {"G3", {64, 128, 7, 7, 64, 4, 2, 1, true}},
      {"G4", {64, 64, 14, 14, 1, 4, 2, 1, true}},
      {"DQN", {32, 4, 10, 10, 16, 3, 1, 0}},
      {"DQN", {32, 10, 10, 10, 16, 3, 1, 0}},
  };
  const struct {
    ConvPass pass;
    const char* name;
    double passes;
  } conv_passes[] = {{ConvPass::Forward, "fwd", 1},
                     {ConvPass::BackwardInput, "bwd-input", 1},
                     {ConvPass::BackwardWeight, "bwd-weight", 1},
                     {ConvPass::ForwardBackward, "fwd+bwd", 3}};
  for (const CV& c : convs) {
    const ConvSpec s = c.s;
    std::ostringstream shape;
    shape << c.name << " " << dims({s.N, s.C, s.H, s.W}) << " " << s.C << "->" << s.O << " k" << s.k << "s"
          << s.stride << "p" << s.pad << " ->" << s.out_h() << "x" << s.out_w();
    for (const auto& p : conv_passes) {
      const ConvPass pass = p.pass;
      add(std::string(s.transposed ? "convT2d " : "conv2d ") + p.name, shape.str(), Unit::Flops,
          p.passes * s.flops(), [=] { return duel_conv(s, pass); }, TORCH_BODY(torch_conv(s, pass)));
    }
  }

  // ---- batch norm, training mode ----
  for (BatchNormSpec s : {BatchNormSpec{64, 128, 7, 7}, BatchNormSpec{64, 64, 14, 14}}) {
    const double bytes = 4.0 * s.N * s.C * s.H * s.W;
    const std::string shape = dims({s.N, s.C, s.H, s.W});
    // minimal traffic: forward reads x and writes y; backward reads gy and x and writes gx
    add("batch_norm fwd (train)", shape, Unit::Bytes, 2 * bytes,
        [=] { return duel_batch_norm(s, BatchNormPass::Forward); },
        TORCH_BODY(torch_batch_norm(s, BatchNormPass::Forward)));
    add("batch_norm fwd+bwd", shape, Unit::Bytes, 5 * bytes,
        [=] { return duel_batch_norm(s, BatchNormPass::ForwardBackward); },
        TORCH_BODY(torch_batch_norm(s, BatchNormPass::ForwardBackward)));
  }

  // ---- elementwise and reductions: 16M floats (64 MiB per operand, out of cache) ----
  const struct {
    EwOp op;
    const char* name;
    double units;  // tensors of the full size read or written
    int64_t rows, cols;
  } ews[] = {
      {EwOp::Clone, "clone", 2, 4096, 4096},
      {EwOp::Add, "add", 3, 4096, 4096},
      {EwOp::AddInplace, "add_ (in-place)", 3, 4096, 4096},
      {EwOp::AddOut, "add (out=, no alloc)", 3, 4096, 4096},
      {EwOp::Mul, "mul", 3, 4096, 4096},
      {EwOp::Relu, "relu", 2, 4096, 4096},
      {EwOp::LeakyRelu, "leaky_relu", 2, 4096, 4096},
      {EwOp::Sigmoid, "sigmoid", 2, 4096, 4096},
      {EwOp::Exp, "exp", 2, 4096, 4096},
      {EwOp::Tanh, "tanh", 2, 4096, 4096},
      // SeqGAN's roll-outs (1024 sequences x a 5000-word vocabulary) and the chess policy
      {EwOp::Softmax, "softmax", 2, 1024, 5000},
      {EwOp::Softmax, "softmax", 2, 256, 4168},
      {EwOp::AddRowBcast, "add bcast row", 2, 4096, 4096},
      {EwOp::AddColBcast, "add bcast col", 2, 4096, 4096},
      {EwOp::SumAll, "sum", 1, 4096, 4096},
      {EwOp::SumDim0, "sum dim0", 1, 4096, 4096},
      {EwOp::SumDim1, "sum dim1", 1, 4096, 4096},
      // DCGAN activation size (1.6 MB, cache resident): per-call overhead and threading
      {EwOp::Add, "add", 3, 64, 6272},
      {EwOp::Relu, "relu", 2, 64, 6272},
      {EwOp::LeakyRelu, "leaky_relu", 2, 64, 6272},
      // forward (read x, write y) and backward (read g and x, write dx, accumulate into x.grad)
      {EwOp::LeakyReluBwd, "leaky_relu fwd+bwd", 7, 64, 6272},
      {EwOp::SumDim0, "sum dim0", 1, 64, 6272},
  };
  for (const auto& e : ews) {
    const EwSpec s{e.op, e.rows, e.cols};
    std::string shape = dims({s.rows, s.cols});
    if (e.op == EwOp::AddRowBcast) shape += " + " + dims({s.cols});
    if (e.op == EwOp::AddColBcast) shape += " + " + dims({s.rows, 1});
    add(e.name, shape, Unit::Bytes, e.units * 4.0 * s.rows * s.cols, [=] { return duel_elementwise(s); },
        TORCH_BODY(torch_elementwise(s)));
  }

  // ---- recurrent layers: the char-rnn's first layer (gan/char_rnn.cpp: T 100, batch 32, 128
  // units, 63 one-hot inputs = the KJV's symbols), two wider stacks, and a GRU ----
  for (RnnSpec s : {RnnSpec{true, 100, 32, 63, 128, 1, false}, RnnSpec{true, 100, 32, 63, 128, 1, true},
                    RnnSpec{true, 100, 32, 256, 256, 2, true}, RnnSpec{true, 50, 64, 512, 512, 1, true},
                    RnnSpec{false, 100, 32, 63, 128, 1, true}}) {
    std::string shape = dims({s.T, s.batch, s.input}) + " h" + std::to_string(s.hidden);
    if (s.layers > 1) shape += " x" + std::to_string(s.layers) + " layers";
    add(std::string(s.lstm ? "lstm" : "gru") + (s.backward ? " fwd+bwd" : " fwd"), shape, Unit::Flops, s.flops(),
        [=] { return duel_rnn(s); }, TORCH_BODY(torch_rnn(s)));
  }

  // ---- whole training steps (the models' inner loops) and environment steps ----
  const struct {
    StepKind kind;
    const char* op;
    const char* shape;
  } steps[] = {
      {StepKind::Dcgan, "step dcgan (D+G, Adam)", "batch 64, 1x28x28"},
      {StepKind::WganCriticImage, "step wgan-gp critic", "batch 64, 1x28x28, no BN, lambda 10"},
      {StepKind::WganCriticImageBN, "step wgan-gp critic", "batch 64, 1x28x28, BN critic, lambda 10"},
      {StepKind::WganCriticToy, "step wgan-gp critic", "batch 256, 2-D, MLP 3x512, lambda 0.1"},
      {StepKind::DqnUpdate, "step dqn update (Nature)", "batch 32, 4x10x10 -> 6"},
      {StepKind::Began, "step began (AE D+G, Adam)", "batch 64, 1x28x28, code 64"},
  };
  for (const auto& st : steps) {
    const StepSpec s{st.kind};
    add(st.op, st.shape, Unit::Steps, 1, [=] { return duel_step(s); }, TORCH_BODY(torch_step(s)));
  }
  // how the DCGAN step's cost grows with the batch (64 is the row above;
  // scripts/batch_scaling.py turns these rows into docs/performance.md's table and plot)
  for (int64_t b : {16, 32, 128, 256}) {
    const StepSpec s{StepKind::Dcgan, b};
    add("step dcgan (D+G, Adam)", "batch " + std::to_string(b) + ", 1x28x28", Unit::Steps, 1,
        [=] { return duel_step(s); }, TORCH_BODY(torch_step(s)));
  }
  for (const char* game : {"cartpole", "breakout", "freeway", "asterix", "space_invaders", "seaquest"}) {
    const std::string g = game;
    add("env steps", g + " (random actions, 1000 steps)", Unit::Steps, 1000, [=] { return duel_env_steps(g, 1000); },
        std::function<Prepared()>());
  }
#undef TORCH_BODY
  return rows;
}

// ---------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------
double time_calls(const std::function<void()>& f, int64_t iters) {
  const double t0 = now_s();
  for (int64_t i = 0; i < iters; ++i) f();
  return (now_s() - t0) / (double)iters;
}

// Warms `f` up (>= 3 calls and >= 50 ms) and returns the number of calls that
// makes one repetition last at least min_time_ms.
int64_t calibrate(const std::function<void()>& f, double min_time_ms) {
  f();
  const double t0 = now_s();
  int64_t calls = 0;
  double elapsed = 0;
  do {
    f();
    ++calls;
    elapsed = now_s() - t0;
  } while (calls < 3 || elapsed < 0.05);
  const double per_call = elapsed / (double)calls;
  return std::max<int64_t>(1, (int64_t)std::ceil(min_time_ms * 1e-3 / per_call));
}

struct Result {
  double duel_ms = NAN, torch_ms = NAN;
  std::string error;
};

Result run_row(const Row& row, const Options& opt) {
  Result r;
  Prepared d, t;
  try {
    d = row.duel();
    if (opt.torch && row.torch) t = row.torch();
  } catch (const std::exception& e) {
    r.error = std::string("setup failed: ") + e.what();
    return r;
  }
  if (t.run && t.out_shape != d.out_shape) r.error = "duel and libtorch result shapes differ";
  // One library at a time, each after a quiet pause: worker threads that busy-wait after a call
  // (OpenBLAS's pool spins for ~2^28 cycles, libgomp's for a few ms) would otherwise steal the
  // cores from the other library's threads. Interleaving the two per repetition made duel's
  // 2-thread matmul look 6-10x slower than it is.
  auto measure = [&](const std::function<void()>& f) {
    std::this_thread::sleep_for(std::chrono::milliseconds(opt.quiesce_ms));
    const int64_t n = calibrate(f, opt.min_time_ms);
    std::vector<double> samples;
    for (int rep = 0; rep < opt.reps; ++rep) samples.push_back(time_calls(f, n));
    return (opt.best ? *std::min_element(samples.begin(), samples.end()) : median(samples)) * 1e3;
  };
  try {
    r.duel_ms = measure(d.run);
    if (t.run) r.torch_ms = measure(t.run);
  } catch (const std::exception& e) {
    r.error = std::string("failed: ") + e.what();
  }
  return r;
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------
std::string fmt(const char* f, double v) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string fmt_ms(double ms) {
  if (std::isnan(ms)) return "-";
  return fmt(ms < 0.1 ? "%.4f" : ms < 10 ? "%.3f" : "%.2f", ms);
}

std::string fmt_rate(double v) { return fmt(v < 10 ? "%.2f" : "%.1f", v); }

class Table {
 public:
  explicit Table(bool markdown) : markdown_(markdown) {}
  void add(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print() const {
    if (rows_.empty()) return;
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& r : rows_)
      for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
    for (size_t ri = 0; ri < rows_.size(); ++ri) {
      const auto& r = rows_[ri];
      std::string line = markdown_ ? "| " : "";
      for (size_t i = 0; i < r.size(); ++i) {
        const bool left = i < 2;
        const std::string pad(width[i] - r[i].size(), ' ');
        line += left ? r[i] + pad : pad + r[i];
        if (i + 1 < r.size()) line += markdown_ ? " | " : "  ";
      }
      if (markdown_) line += " |";
      std::puts(line.c_str());
      if (ri == 0) {
        std::string sep = markdown_ ? "|" : "";
        for (size_t i = 0; i < r.size(); ++i) {
          const std::string dashes(std::max<size_t>(width[i], 2) - 1, '-');
          if (markdown_) {
            sep += ' ';
            if (i < 2) sep += ':';
            sep += dashes;
            if (i >= 2) sep += ':';
            sep += " |";
          }
          else sep += std::string(width[i], '-') + (i + 1 < r.size() ? "  " : "");
        }
        std::puts(sep.c_str());
      }
    }
  }

 private:
  bool markdown_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  using namespace bench;
  const Options opt = parse(argc, argv);
  std::vector<Row> rows = make_rows();
  if (!opt.filter.empty()) {
    const std::string f = lower(opt.filter);
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const Row& r) { return r.key().find(f) == std::string::npos; }),
               rows.end());
  }
  if (opt.list) {
    for (const Row& r : rows) std::printf("%s  %s\n", r.op.c_str(), r.shape.c_str());
    return 0;
  }
  const auto start = Clock::now();

  g_cpu_clock = opt.cpu_clock;
  g_threads = opt.threads;
  duel_set_threads(opt.threads);
  if (!opt.gemm.empty() && !duel_set_gemm(opt.gemm)) {
    std::fprintf(stderr, "duel_bench: --gemm %s: unknown, or this CPU cannot run it\n", opt.gemm.c_str());
    return 2;
  }
  bool with_torch = false;
#ifdef DUEL_BENCH_WITH_TORCH
  with_torch = opt.torch;
  // OpenBLAS chose its kernel when the program loaded; a fair libtorch column needs the one this
  // CPU can run, so start again with it named (docs/performance.md, "Reproducing").
  if (with_torch && !opt.blas_as_is && !std::getenv("OPENBLAS_CORETYPE")) {
    const std::string core = torch_blas_coretype_fix();
    if (!core.empty()) {
      std::fprintf(stderr,
                   "duel_bench: OpenBLAS did not recognise this CPU and chose an SSE kernel for libtorch; running "
                   "again with OPENBLAS_CORETYPE=%s (--blas-as-is keeps its choice)\n",
                   core.c_str());
      setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
      execv("/proc/self/exe", argv);
      std::perror("duel_bench: execv /proc/self/exe");  // not reached unless it failed: go on as is
    }
  }
  if (with_torch) torch_set_threads(opt.threads);
#endif

  const Machine m = describe_machine();
  const int peak_cores = std::min(opt.threads, m.physical_cores);
  const double nominal_gflops = peak_cores * m.ghz * opt.flops_per_cycle;
  const double fma_core = measured_fma_gflops_per_core();
  // The nominal clock of a VM is often below the clock the core really runs at (turbo):
  // use whichever is higher, so that no row can exceed 100% of "peak".
  const double peak_gflops = std::max(nominal_gflops, peak_cores * fma_core);
  const CopyBandwidth bw = measure_copy_bandwidth(opt.threads);

  std::printf("duel_bench: %d thread(s), %s of %d repetitions (each >= %g ms), %s\n", opt.threads,
              opt.best ? "fastest" : "median", opt.reps, opt.min_time_ms,
              opt.cpu_clock ? "timed in process CPU time / threads (--clock cpu)" : "timed in wall-clock time");
  std::printf("CPU: %s, %d physical core(s), %.2f GHz (%s)%s\n", m.model.c_str(), m.physical_cores, m.ghz,
              m.ghz_source.c_str(), m.avx512 ? ", AVX-512" : "");
  std::printf("peak compute: nominal %d core(s) x %.2f GHz x %.0f FLOP/cycle = %.1f GFLOP/s float32; measured "
              "FMA loop %.1f GFLOP/s per core (%.2f GHz effective) -> %%peak uses %.1f GFLOP/s\n",
              peak_cores, m.ghz, opt.flops_per_cycle, nominal_gflops, fma_core, fma_core / opt.flops_per_cycle,
              peak_gflops);
  std::printf("peak memory (measured memcpy of 64 MiB, read+write bytes): %.1f GB/s with 1 thread", bw.single_gbs);
  if (opt.threads > 1) std::printf(", %.1f GB/s with %d", bw.parallel_gbs, opt.threads);
  std::printf("\n");
  std::printf("%s\n", duel_gemm_description().c_str());
  if (opt.cpu_clock && opt.threads > 1)
    std::printf("WARNING: --clock cpu with %d threads is not a time (spin-waits count, serial parts halve); "
                "use it with --threads 1\n", opt.threads);
  std::printf("load average (1 min) at start: %s on %u logical CPU(s)\n", load_average().c_str(),
              std::thread::hardware_concurrency());
#ifdef DUEL_BENCH_WITH_TORCH
  if (with_torch) std::printf("%s\n", torch_description().c_str());
#else
  std::printf("libtorch: not built in (Torch not found by CMake, or -DDUEL_BENCH_TORCH=OFF)\n");
#endif
  std::printf("%%peak: GFLOP/s rows against the compute peak, GB/s rows against the copy bandwidth (%.1f GB/s).\n"
              "duel/torch: duel time / libtorch time (below 1: duel is faster).\n\n",
              bw.peak());
  std::fflush(stdout);

  Table table(opt.markdown);
  std::vector<std::string> header = {"op", "shape", "duel ms", "duel rate", "unit", "%peak"};
  if (with_torch) {
    for (const char* h : {"torch ms", "torch rate", "duel/torch"}) header.push_back(h);
  }
  table.add(header);
  std::vector<std::string> errors;
  for (const Row& row : rows) {
    const Result r = run_row(row, opt);
    const double scale = row.unit == Unit::Steps ? 1.0 : 1e-9;  // steps/s, or GFLOP/s and GB/s
    const double drate = row.work / (r.duel_ms * 1e-3) * scale;
    const double trate = row.work / (r.torch_ms * 1e-3) * scale;
    const double peak = row.unit == Unit::Flops ? peak_gflops : bw.peak();
    std::vector<std::string> cells = {row.op,
                                      row.shape,
                                      fmt_ms(r.duel_ms),
                                      fmt_rate(drate),
                                      row.unit == Unit::Flops ? "GFLOP/s" : row.unit == Unit::Bytes ? "GB/s" : "steps/s",
                                      row.unit == Unit::Steps ? "-" : fmt("%.0f%%", 100 * drate / peak)};
    if (with_torch) {
      cells.push_back(fmt_ms(r.torch_ms));
      cells.push_back(fmt_rate(trate));
      cells.push_back(fmt("%.2f", r.duel_ms / r.torch_ms));
    }
    if (!r.error.empty()) errors.push_back(row.op + " " + row.shape + ": " + r.error);
    table.add(std::move(cells));
    if (!opt.markdown) {  // progress on stderr, the table goes to stdout at the end
      std::fprintf(stderr, "  %-24s %-44s duel %s ms%s%s\n", row.op.c_str(), row.shape.c_str(),
                   fmt_ms(r.duel_ms).c_str(), with_torch ? ", torch " : "",
                   with_torch ? (fmt_ms(r.torch_ms) + " ms").c_str() : "");
    }
  }
  table.print();
  for (const std::string& e : errors) std::printf("ERROR: %s\n", e.c_str());
  std::printf("\ntotal %.1f s, load average (1 min) at the end: %s\n",
              std::chrono::duration<double>(Clock::now() - start).count(), load_average().c_str());
  return errors.empty() ? 0 : 1;
}
