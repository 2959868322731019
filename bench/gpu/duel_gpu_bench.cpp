// duel_gpu_bench: duel's hand-written CUDA kernels against cuDNN / cuBLAS on the same
// shapes, timed with CUDA events (docs/performance.md, "GPU kernel benchmarks").
//
//   build/bench/duel_gpu_bench                 # every row
//   build/bench/duel_gpu_bench --filter conv   # rows whose "op shape" contains the text
//   build/bench/duel_gpu_bench --list
//   options: --reps N (7)  --min-time MS (20)  --heuristic (cuDNN algorithm by heuristics
//            instead of timing every algorithm)  --tf32 (allow TF32 tensor cores in cuDNN)
//
// Rows (float32, the shapes of docs/performance.md):
//   conv    the DCGAN layers at batch 64 (D1..D4 conv2d, G1..G4 conv_transpose2d) and the
//           MinAtar DQN conv at batch 32 (4 and 10 channels -> 16, k3, 10x10): fwd,
//           bwd-input, bwd-weight; duel = kernels/cuda/conv.cu (duel::cuda::conv2d_*),
//           library = cuDNN (duel::cudnn::conv2d_*: descriptors are built on every call,
//           as the front-end does). 2*N*O*(C/g)*kH*kW*outH*outW FLOP per pass.
//   bn      batch_norm [64,128,7,7] and [64,64,14,14]: training forward (duel:
//           batch_norm_stats + batch_norm_apply; cuDNN: cudnnBatchNormalizationForwardTraining
//           without running statistics, the same work) and backward; GB/s counted as the
//           minimal traffic, 2 tensors forward (x in, y out), 3 backward (x, gy in, gx out).
//   matmul  square 256..4096, the 784->512 linear layer at batch 64, the DQN head 1024->128
//           at batch 32; duel = the hand-written tiled GEMM (MatmulImpl::Hand), library =
//           cuBLAS (MatmulImpl::Cublas, SgemmStridedBatched). 2*M*N*K FLOP.
// Each row: warm-up, then calls per repetition chosen so one repetition lasts >= --min-time
// ms, median of --reps repetitions; CUDA events around the repetition on the current
// stream, so host overhead that leaves the GPU idle counts. %peak: of the FP32 (non
// tensor core) FMA peak, SMs x FP32 lanes per SM x 2 x boost clock, or of the DRAM
// bandwidth 2 x memory clock x bus width, both from the device attributes.
//
// Without a usable GPU it says so and exits 0 (it is built in CI, where there is none).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "duel.h"
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "kernels/impl.h"

using namespace duel;

namespace {

struct Options {
  std::string filter;
  int reps = 7;
  double min_ms = 20;
  bool list = false, heuristic = false, tf32 = false;
};

struct Peak {
  double gflops = 0, gbs = 0;
  std::string note;
};

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "duel_gpu_bench: %s failed: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// FP32 FMA lanes per SM by compute capability (CUDA programming guide, "arithmetic
// instructions" throughput table).
int fp32_lanes_per_sm(int major, int minor, bool& known) {
  known = true;
  if (major == 8 && minor == 0) return 64;   // A100
  if (major == 7) return 64;                 // V100, T4
  if (major == 6 && minor == 0) return 64;   // P100
  if (major >= 8) return 128;                // sm_86/87/89 (Ampere/Ada consumer), sm_90 H100, sm_10x, sm_12x
  known = false;
  return 128;
}

Peak device_peak(int dev) {
  cudaDeviceProp p{};
  cuda_ok(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  int clk_khz = 0, mem_khz = 0, bus_bits = 0;
  cuda_ok(cudaDeviceGetAttribute(&clk_khz, cudaDevAttrClockRate, dev), "cudaDeviceGetAttribute(ClockRate)");
  cuda_ok(cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, dev), "cudaDeviceGetAttribute(MemoryClockRate)");
  cuda_ok(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev),
          "cudaDeviceGetAttribute(GlobalMemoryBusWidth)");
  bool known = true;
  const int lanes = fp32_lanes_per_sm(p.major, p.minor, known);
  Peak pk;
  pk.gflops = double(p.multiProcessorCount) * lanes * 2.0 * clk_khz * 1e3 / 1e9;
  pk.gbs = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%s (sm_%d%d), %d SMs x %d FP32 lanes%s x 2 x %.0f MHz = %.1f TFLOP/s FP32; "
                "memory %d-bit x 2 x %.0f MHz = %.0f GB/s; %.1f GiB",
                p.name, p.major, p.minor, p.multiProcessorCount, lanes, known ? "" : " (guessed)", clk_khz / 1e3,
                pk.gflops / 1e3, bus_bits, mem_khz / 1e3, pk.gbs, p.totalGlobalMem / double(1 << 30));
  pk.note = buf;
  return pk;
}

// Median time of one call in ms, measured with CUDA events.
double time_ms(const std::function<void()>& fn, const Options& o) {
  for (int i = 0; i < 3; ++i) fn();
  cuda_ok(cudaDeviceSynchronize(), "warm-up");
  cudaEvent_t a, b;
  cuda_ok(cudaEventCreate(&a), "cudaEventCreate");
  cuda_ok(cudaEventCreate(&b), "cudaEventCreate");
  auto run = [&](int iters) {
    cuda_ok(cudaEventRecord(a, 0), "cudaEventRecord");
    for (int i = 0; i < iters; ++i) fn();
    cuda_ok(cudaEventRecord(b, 0), "cudaEventRecord");
    cuda_ok(cudaEventSynchronize(b), "cudaEventSynchronize");
    float ms = 0;
    cuda_ok(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
    return double(ms) / iters;
  };
  const double one = std::max(1e-4, run(1));
  const int iters = (int)std::clamp(std::ceil(o.min_ms / one), 1.0, 100000.0);
  std::vector<double> t;
  for (int r = 0; r < o.reps; ++r) t.push_back(run(iters));
  std::sort(t.begin(), t.end());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return t[t.size() / 2];
}

struct Row {
  std::string op, shape;
  double work = 0;       // FLOP or bytes per call
  bool flops = true;     // GFLOP/s (true) or GB/s
  std::function<void()> ours, lib;  // lib may be empty (not available)
  std::string lib_name;
};

Tensor dev_randn(const Shape& s) { return randn(s, TensorOptions(kFloat32)).to(Device("cuda")); }
Tensor dev_empty(const Shape& s) { return empty(s, TensorOptions(kFloat32, Device("cuda"))); }

struct ConvLayer {
  std::string name;
  bool transposed;
  // geometry in the conv2d orientation (for a transposed layer: its output is the conv's input)
  int64_t N, C, H, W, O, k, stride, pad;
};

Conv2dGeometry geometry(const ConvLayer& l) {
  Conv2dGeometry g;
  g.N = l.N, g.C = l.C, g.H = l.H, g.W = l.W, g.O = l.O, g.kH = l.k, g.kW = l.k;
  g.strideH = g.strideW = l.stride;
  g.padH = g.padW = l.pad;
  g.outH = (l.H + 2 * l.pad - l.k) / l.stride + 1;
  g.outW = (l.W + 2 * l.pad - l.k) / l.stride + 1;
  return g;
}

std::string conv_label(const ConvLayer& l, const Conv2dGeometry& g) {
  char buf[160];
  if (!l.transposed)
    std::snprintf(buf, sizeof buf, "%s [%ld,%ld,%ld,%ld] %ld->%ld k%lds%ldp%ld ->%ldx%ld", l.name.c_str(), (long)g.N,
                  (long)g.C, (long)g.H, (long)g.W, (long)g.C, (long)g.O, (long)l.k, (long)l.stride, (long)l.pad,
                  (long)g.outH, (long)g.outW);
  else  // the transposed conv maps [N, O, outH, outW] -> [N, C, H, W]
    std::snprintf(buf, sizeof buf, "%s [%ld,%ld,%ld,%ld] %ld->%ld k%lds%ldp%ld ->%ldx%ld", l.name.c_str(), (long)g.N,
                  (long)g.O, (long)g.outH, (long)g.outW, (long)g.O, (long)g.C, (long)l.k, (long)l.stride, (long)l.pad,
                  (long)g.H, (long)g.W);
  return buf;
}

void add_conv_rows(std::vector<Row>& rows, bool have_cudnn) {
  const std::vector<ConvLayer> layers = {
      {"D1", false, 64, 1, 28, 28, 64, 4, 2, 1},
      {"D2", false, 64, 64, 14, 14, 128, 4, 2, 1},
      {"D3", false, 64, 128, 7, 7, 256, 4, 2, 1},
      {"D4", false, 64, 256, 3, 3, 1, 3, 1, 0},
      // generator: conv_transpose2d(Cin -> Cout) is the input gradient of conv2d(Cout -> Cin)
      {"G1", true, 64, 256, 4, 4, 100, 4, 1, 0},   // 100->256 k4s1p0 1->4
      {"G2", true, 64, 128, 7, 7, 256, 3, 2, 1},   // 256->128 k3s2p1 4->7
      {"G3", true, 64, 64, 14, 14, 128, 4, 2, 1},  // 128->64 k4s2p1 7->14
      {"G4", true, 64, 1, 28, 28, 64, 4, 2, 1},    // 64->1 k4s2p1 14->28
      {"DQN", false, 32, 4, 10, 10, 16, 3, 1, 0},
      {"DQN", false, 32, 10, 10, 10, 16, 3, 1, 0},
  };
  for (const ConvLayer& l : layers) {
    const Conv2dGeometry g = geometry(l);
    Tensor x = dev_randn({g.N, g.C, g.H, g.W}), w = dev_randn({g.O, g.C, g.kH, g.kW});
    Tensor y = dev_randn({g.N, g.O, g.outH, g.outW});
    Tensor gx = dev_empty(x.sizes()), gw = dev_empty(w.sizes()), yo = dev_empty(y.sizes());
    const double flop = 2.0 * g.N * g.O * g.C * g.kH * g.kW * g.outH * g.outW;
    const std::string label = conv_label(l, g);
    const char* prefix = l.transposed ? "convT2d" : "conv2d";
    // the three primitive passes, in the conv orientation
    std::function<void()> ours_f = [=] { cuda::conv2d_forward<float>(x.data<float>(), w.data<float>(), yo.data<float>(), g); };
    std::function<void()> ours_bd = [=] { cuda::conv2d_backward_input<float>(y.data<float>(), w.data<float>(), gx.data<float>(), g); };
    std::function<void()> ours_bf = [=] { cuda::conv2d_backward_weight<float>(x.data<float>(), y.data<float>(), gw.data<float>(), g); };
    std::function<void()> lib_f, lib_bd, lib_bf;
    if (have_cudnn) {
      lib_f = [=] { cudnn::conv2d_forward<float>(x.data<float>(), w.data<float>(), yo.data<float>(), g); };
      lib_bd = [=] { cudnn::conv2d_backward_input<float>(y.data<float>(), w.data<float>(), gx.data<float>(), g); };
      lib_bf = [=] { cudnn::conv2d_backward_weight<float>(x.data<float>(), y.data<float>(), gw.data<float>(), g); };
    }
    // conv: fwd = F, bwd-input = BD; transposed: fwd = BD, bwd-input = F; bwd-weight = BF for both
    rows.push_back({std::string(prefix) + " fwd", label, flop, true, l.transposed ? ours_bd : ours_f,
                    l.transposed ? lib_bd : lib_f, "cuDNN"});
    rows.push_back({std::string(prefix) + " bwd-input", label, flop, true, l.transposed ? ours_f : ours_bd,
                    l.transposed ? lib_f : lib_bd, "cuDNN"});
    rows.push_back({std::string(prefix) + " bwd-weight", label, flop, true, ours_bf, lib_bf, "cuDNN"});
  }
}

void add_bn_rows(std::vector<Row>& rows, bool have_cudnn) {
  for (const Shape& s : {Shape{64, 128, 7, 7}, Shape{64, 64, 14, 14}}) {
    const int64_t N = s[0], C = s[1], S = s[2] * s[3];
    Tensor x = dev_randn(s), gy = dev_randn(s), y = dev_empty(s), gx = dev_empty(s);
    Tensor w = dev_randn({C}), b = dev_randn({C}), mean = dev_empty({C}), invstd = dev_empty({C});
    Tensor gw = dev_empty({C}), gb = dev_empty({C});
    const double bytes = double(x.numel()) * 4;
    const std::string label = shape_str(s);
    Row fwd{"batch_norm fwd (train)", label, 2 * bytes, false,
            [=] {
              cuda::batch_norm_stats<float>(x.data<float>(), N, C, S, 1e-5, mean.data<float>(), invstd.data<float>());
              cuda::batch_norm_apply<float>(x.data<float>(), mean.data<float>(), invstd.data<float>(), w.data<float>(),
                                            b.data<float>(), N, C, S, y.data<float>());
            },
            {}, "cuDNN"};
    Row bwd{"batch_norm bwd", label, 3 * bytes, false,
            [=] {
              cuda::batch_norm_backward<float>(gy.data<float>(), x.data<float>(), mean.data<float>(),
                                               invstd.data<float>(), w.data<float>(), N, C, S, gx.data<float>(),
                                               gw.data<float>(), gb.data<float>());
            },
            {}, "cuDNN"};
    if (have_cudnn) {
      fwd.lib = [=] {
        cudnn::batch_norm_forward<float>(x.data<float>(), w.data<float>(), b.data<float>(), N, C, S, 1e-5,
                                         mean.data<float>(), invstd.data<float>(), y.data<float>());
      };
      bwd.lib = [=] {
        cudnn::batch_norm_backward<float>(gy.data<float>(), x.data<float>(), mean.data<float>(), invstd.data<float>(),
                                          w.data<float>(), N, C, S, gx.data<float>(), gw.data<float>(),
                                          gb.data<float>());
      };
    }
    rows.push_back(fwd);
    rows.push_back(bwd);
  }
}

void add_matmul_rows(std::vector<Row>& rows) {
  struct MM {
    const char* name;
    int64_t M, K, N;
  };
  const std::vector<MM> mms = {{"matmul square", 256, 256, 256},   {"matmul square", 512, 512, 512},
                               {"matmul square", 1024, 1024, 1024}, {"matmul square", 2048, 2048, 2048},
                               {"matmul square", 4096, 4096, 4096}, {"matmul MLP x@W", 64, 784, 512},
                               {"matmul linear dx gy@W", 64, 512, 784}, {"matmul DQN head", 32, 1024, 128}};
  for (const MM& m : mms) {
    Tensor a = dev_randn({1, m.M, m.K}), b = dev_randn({1, m.K, m.N}), out = dev_empty({1, m.M, m.N});
    char label[96];
    std::snprintf(label, sizeof label, "[%ld,%ld]@[%ld,%ld]", (long)m.M, (long)m.K, (long)m.K, (long)m.N);
    rows.push_back({m.name, label, 2.0 * m.M * m.N * m.K, true,
                    [=]() mutable {
                      cuda::set_matmul_impl(cuda::MatmulImpl::Hand);
                      cuda::matmul(a, b, out);
                    },
                    [=]() mutable {
                      cuda::set_matmul_impl(cuda::MatmulImpl::Cublas);
                      cuda::matmul(a, b, out);
                    },
                    "cuBLAS"});
  }
}

std::string rate(double work, double ms, bool flops) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", work / (ms * 1e-3) / 1e9, flops ? "GFLOP/s" : "GB/s");
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](const char* what) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "duel_gpu_bench: %s needs a value\n", what);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--filter") o.filter = next("--filter");
    else if (a == "--reps") o.reps = std::max(1, std::atoi(next("--reps").c_str()));
    else if (a == "--min-time") o.min_ms = std::max(0.1, std::atof(next("--min-time").c_str()));
    else if (a == "--list") o.list = true;
    else if (a == "--heuristic") o.heuristic = true;
    else if (a == "--tf32") o.tf32 = true;
    else if (a == "-h" || a == "--help") {
      std::printf("usage: duel_gpu_bench [--filter TEXT] [--reps N] [--min-time MS] [--list] [--heuristic] [--tf32]\n");
      return 0;
    } else {
      std::fprintf(stderr, "duel_gpu_bench: unknown option '%s' (see --help)\n", a.c_str());
      return 2;
    }
  }

  if (!cuda::is_available()) {
    std::printf("no CUDA device available: GPU benchmarks skipped (%s)\n", cuda::unavailable_reason().c_str());
    return 0;
  }
  int dev = 0;
  cuda_ok(cudaGetDevice(&dev), "cudaGetDevice");
  const Peak peak = device_peak(dev);
  const bool have_cudnn = cudnn::is_available();
  // "ours" is duel's kernels: the cuda backend's conv entry points would otherwise hand
  // over to cuDNN under DUEL_IMPL / DUEL_CUDNN (kernels/impl.h)
  set_impl("cuda:conv2d", "implicit");
  set_impl("cuda:batch_norm", "native");
  std::printf("device: %s\n", peak.note.c_str());
  std::printf("cuDNN: %s\n", have_cudnn ? cudnn::version_string().c_str()
                                        : ("unavailable: " + cudnn::unavailable_reason()).c_str());
  if (have_cudnn) {
    cudnn::set_algo_search(o.heuristic ? cudnn::AlgoSearch::Heuristic : cudnn::AlgoSearch::Find);
    cudnn::set_allow_tf32(o.tf32);
    std::printf("cuDNN algorithms: %s; math: %s\n", o.heuristic ? "heuristic ranking" : "fastest by timing (Find)",
                o.tf32 ? "TF32 allowed (%peak is still against the FP32 peak)" : "FP32 FMA (no TF32)");
  }
  std::printf("timing: CUDA events, median of %d repetitions of >= %.0f ms, float32\n\n", o.reps, o.min_ms);

  manual_seed(1);
  std::vector<Row> rows;
  add_conv_rows(rows, have_cudnn);
  add_bn_rows(rows, have_cudnn);
  add_matmul_rows(rows);

  if (!o.list) {
    std::printf("| op | shape | duel ms | duel rate | duel %%peak | lib | lib ms | lib rate | lib %%peak | duel/lib |\n");
    std::printf("| :-- | :-- | --: | --: | --: | :-- | --: | --: | --: | --: |\n");
  }
  for (const Row& r : rows) {
    const std::string key = r.op + " " + r.shape;
    if (!o.filter.empty() && key.find(o.filter) == std::string::npos) continue;
    if (o.list) {
      std::printf("%s\n", key.c_str());
      continue;
    }
    const double pk = r.flops ? peak.gflops : peak.gbs;
    const double t_ours = time_ms(r.ours, o);
    const double ours_pct = 100.0 * r.work / (t_ours * 1e-3) / 1e9 / pk;
    if (r.lib) {
      const double t_lib = time_ms(r.lib, o);
      const double lib_pct = 100.0 * r.work / (t_lib * 1e-3) / 1e9 / pk;
      std::printf("| %s | %s | %.4f | %s | %.1f%% | %s | %.4f | %s | %.1f%% | %.2f |\n", r.op.c_str(), r.shape.c_str(),
                  t_ours, rate(r.work, t_ours, r.flops).c_str(), ours_pct, r.lib_name.c_str(), t_lib,
                  rate(r.work, t_lib, r.flops).c_str(), lib_pct, t_ours / t_lib);
    } else {
      std::printf("| %s | %s | %.4f | %s | %.1f%% | %s | n/a | n/a | n/a | n/a |\n", r.op.c_str(), r.shape.c_str(),
                  t_ours, rate(r.work, t_ours, r.flops).c_str(), ours_pct, r.lib_name.c_str());
    }
    std::fflush(stdout);
  }
  cuda::set_matmul_impl(cuda::MatmulImpl::Auto);
  return 0;
}
