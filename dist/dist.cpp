// The collectives of dist/dist.h over MPI. Every wait goes through wait_for(), which polls the
// request with a growing sleep (the ranks may share cores with each other) and aborts the job
// when timeout_seconds() pass: a dead or hung rank then stops the job with a message naming the
// collective, instead of leaving the others blocked forever.
#include "dist/dist.h"

#ifndef DUEL_WITH_MPI
#define DUEL_WITH_MPI 0
#endif

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "dist/nccl.h"
#include "kernels/cuda/runtime.h"
#include "nn/optim.h"

#if DUEL_WITH_MPI
#include <mpi.h>
#endif

namespace duel::dist {
namespace {

int g_rank = 0;
int g_world = 1;
bool g_mpi_started = false;
double g_timeout = -1;  // < 0: read DUEL_DIST_TIMEOUT on first use
int64_t g_bytes_reduced = 0;
int64_t g_collectives = 0;

// The environment variables an MPI launcher sets in every process it starts.
const char* launcher_world_size() {
  for (const char* k : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(k)) return v;
  if (std::getenv("PMIX_RANK") || std::getenv("PMI_RANK")) return "?";
  return nullptr;
}

double env_double(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  double x = std::strtod(v, &end);
  if (end == v || *end || !(x > 0)) {
    std::fprintf(stderr, "duel: %s must be a positive number, got '%s'\n", name, v);
    std::exit(2);
  }
  return x;
}

#if DUEL_WITH_MPI
MPI_Datatype mpi_type(DType t, const char* op) {
  switch (t) {
    case kFloat32: return MPI_FLOAT;
    case kFloat64: return MPI_DOUBLE;
    case kInt64: return MPI_INT64_T;
    case kBool: return MPI_UINT8_T;
  }
  DUEL_FAIL(op, ": unsupported dtype ", dtype_name(t));
}

// Waits for `requests`, aborting the job after timeout_seconds().
void wait_for(std::vector<MPI_Request>& requests, const char* what) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  g_collectives += (int64_t)requests.size();
  int64_t polls = 0;
  for (;;) {
    int done = 0;
    MPI_Testall((int)requests.size(), requests.data(), &done, MPI_STATUSES_IGNORE);
    if (done) return;
    const double waited = std::chrono::duration<double>(clock::now() - start).count();
    if (waited > timeout_seconds()) {
      char b[512];
      std::snprintf(b, sizeof b,
                    "no answer from the other ranks for %.0f s in %s: a rank died or hangs; stopping the job "
                    "(DUEL_DIST_TIMEOUT=%g seconds sets this limit)",
                    waited, what, timeout_seconds());
      abort_job(b, 1);
    }
    // poll tightly for a moment (the usual case: the other ranks are a few microseconds away),
    // then sleep longer and longer, up to 1 ms, so that a waiting rank leaves the cores to the others
    if (++polls > 64) std::this_thread::sleep_for(std::chrono::microseconds(std::min<int64_t>(1000, polls)));
  }
}

void wait_for(MPI_Request& r, const char* what) {
  std::vector<MPI_Request> v{r};
  wait_for(v, what);
}
#endif

void require_mpi(const char* op) {
#if !DUEL_WITH_MPI
  DUEL_CHECK(g_world == 1, op, ": this duel was built without MPI");
#else
  (void)op;
#endif
}

// Runs `fn` on a contiguous CPU tensor holding t's values, then copies the result back when t
// was elsewhere (another device, or strided).
template <class F>
void on_host(Tensor& t, F fn) {
  if (t.device().is_cpu() && t.is_contiguous()) {
    fn(t);
    return;
  }
  Tensor h = t.to(kCPU).contiguous();
  if (h.storage() == t.storage()) h = h.clone();
  fn(h);
  NoGradGuard ng;
  t.copy_(h);
}

}  // namespace

bool built_with_mpi() { return DUEL_WITH_MPI != 0; }
bool built_with_nccl() {
#ifdef DUEL_WITH_NCCL
  return true;
#else
  return false;
#endif
}

bool using_mpi() { return g_mpi_started; }
int rank() { return g_rank; }
int world_size() { return g_world; }

double timeout_seconds() {
  if (g_timeout < 0) g_timeout = env_double("DUEL_DIST_TIMEOUT", 300);
  return g_timeout;
}
void set_timeout_seconds(double seconds) {
  DUEL_CHECK(seconds > 0, "dist::set_timeout_seconds: expected a positive number of seconds, got ", seconds);
  g_timeout = seconds;
}

int64_t bucket_bytes() {
  static const int64_t b = (int64_t)(env_double("DUEL_DIST_BUCKET_MB", 25) * 1024 * 1024);
  return b;
}

int64_t bytes_all_reduced() { return g_bytes_reduced; }
int64_t collectives() { return g_collectives; }

BackendChoice select_backend(const std::string& requested, DeviceType gradients, bool nccl_built, int cuda_devices) {
  const std::string r = requested.empty() ? "auto" : requested;
  if (r != "mpi" && r != "nccl" && r != "auto")
    return {"", "DUEL_DIST_BACKEND must be mpi, nccl or auto, got '" + requested + "'"};
  const bool cuda_grads = gradients == DeviceType::CUDA;
  if (r == "mpi") return {"mpi", ""};
  if (r == "auto") return {nccl_built && cuda_grads && cuda_devices > 0 ? "nccl" : "mpi", ""};
  if (!nccl_built)
    return {"",
            "DUEL_DIST_BACKEND=nccl: this duel was built without NCCL (DUEL_WITH_NCCL; configure with -DDUEL_NCCL=ON, "
            "which needs the CUDA backend, MPI and nccl.h + libnccl); unset DUEL_DIST_BACKEND or set it to mpi or "
            "auto: CUDA gradients then go through MPI, staged through host memory"};
  if (cuda_devices <= 0)
    return {"",
            "DUEL_DIST_BACKEND=nccl: no CUDA device is present (NCCL reduces CUDA tensors only); unset "
            "DUEL_DIST_BACKEND or set it to mpi or auto"};
  if (!cuda_grads)
    return {"", std::string("DUEL_DIST_BACKEND=nccl: the gradients are on the ") +
                    (gradients == DeviceType::CPU ? "cpu" : "sim (emulator)") +
                    " device, and NCCL reduces CUDA tensors only: train with --device cuda, or set "
                    "DUEL_DIST_BACKEND to mpi or auto"};
  return {"nccl", ""};
}

std::string backend_for(DeviceType gradients) {
  const char* v = std::getenv("DUEL_DIST_BACKEND");
  BackendChoice c = select_backend(v ? v : "", gradients, built_with_nccl(), cuda::device_count());
  if (!c.error.empty()) abort_job(c.error, 2);
  return c.backend;
}

std::string cuda_backend() { return backend_for(DeviceType::CUDA); }

int nccl_version() { return nccl::version(); }

void init(int* argc, char*** argv) {
  const char* launched = launcher_world_size();
  if (!launched) return;  // not started by mpirun: one process, no MPI at all
#if DUEL_WITH_MPI
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  g_mpi_started = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world);
  if (built_with_nccl()) {
    // one GPU per rank of a machine: the local rank (rank among the processes sharing memory)
    MPI_Comm local;
    int local_rank = 0;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &local_rank);
    MPI_Comm_free(&local);
    nccl::select_device(local_rank);
  }
  // DUEL_DIST_BACKEND: a value this build or machine cannot honour stops the job now, not at
  // the first step (whether the gradients are on a CUDA device is checked at the first step)
  if (const char* b = std::getenv("DUEL_DIST_BACKEND"); b && *b)
    if (BackendChoice c = select_backend(b, DeviceType::CUDA, built_with_nccl(), cuda::device_count());
        !c.error.empty())
      abort_job(c.error, 2);
  if (g_world > 1)
    optim::set_gradient_sync([](const std::vector<Tensor>& params) { all_reduce_gradients(params); });
#else
  (void)argc, (void)argv;
  if (std::strcmp(launched, "1") != 0) {
    std::fprintf(stderr,
                 "duel: started by an MPI launcher (%s processes), but this duel was built without MPI: every "
                 "process would train alone. Install Open MPI (apt-get install libopenmpi-dev) and rebuild with "
                 "-DDUEL_MPI=ON\n",
                 launched);
    std::exit(2);
  }
#endif
}

void finalize() {
#if DUEL_WITH_MPI
  if (g_mpi_started) {
    optim::set_gradient_sync(nullptr);
    nccl::finalize();
    MPI_Finalize();
    g_mpi_started = false;
  }
#endif
}

void abort_job(const std::string& message, int code) {
  if (g_world > 1)
    std::fprintf(stderr, "duel: rank %d of %d: %s\n", g_rank, g_world, message.c_str());
  else
    std::fprintf(stderr, "duel: %s\n", message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
#if DUEL_WITH_MPI
  if (g_mpi_started && g_world > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

void barrier() {
  if (g_world == 1) return;
#if DUEL_WITH_MPI
  MPI_Request r;
  MPI_Ibarrier(MPI_COMM_WORLD, &r);
  wait_for(r, "barrier");
#endif
}

namespace {
void all_reduce_op_(Tensor& t, bool max) {
  if (g_world == 1 || t.numel() == 0) return;
  require_mpi("all_reduce");
#if DUEL_WITH_MPI
  on_host(t, [&](Tensor& h) {
    MPI_Request r;
    MPI_Iallreduce(MPI_IN_PLACE, h.raw_data(), (int)h.numel(), mpi_type(h.dtype(), "all_reduce"), max ? MPI_MAX : MPI_SUM,
                   MPI_COMM_WORLD, &r);
    wait_for(r, max ? "all_reduce (max)" : "all_reduce (sum)");
  });
#else
  (void)max;
#endif
}
}  // namespace

void all_reduce_sum_(Tensor& t) { all_reduce_op_(t, false); }
void all_reduce_max_(Tensor& t) { all_reduce_op_(t, true); }

std::vector<double> all_reduce_sum(const std::vector<double>& values) {
  std::vector<double> v = values;
  if (g_world == 1 || v.empty()) return v;
#if DUEL_WITH_MPI
  MPI_Request r;
  MPI_Iallreduce(MPI_IN_PLACE, v.data(), (int)v.size(), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &r);
  wait_for(r, "all_reduce of values");
#endif
  return v;
}

void broadcast_(Tensor& t, int root) {
  if (g_world == 1 || t.numel() == 0) return;
  require_mpi("broadcast");
#if DUEL_WITH_MPI
  on_host(t, [&](Tensor& h) {
    MPI_Request r;
    MPI_Ibcast(h.raw_data(), (int)h.numel(), mpi_type(h.dtype(), "broadcast"), root, MPI_COMM_WORLD, &r);
    wait_for(r, "broadcast");
  });
#endif
  (void)root;
}

void broadcast(std::string& text, int root) {
  if (g_world == 1) return;
#if DUEL_WITH_MPI
  int64_t n = (int64_t)text.size();
  MPI_Request r;
  MPI_Ibcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD, &r);
  wait_for(r, "broadcast (length)");
  text.resize((size_t)n);
  if (n > 0) {
    MPI_Ibcast(text.data(), (int)n, MPI_CHAR, root, MPI_COMM_WORLD, &r);
    wait_for(r, "broadcast (text)");
  }
#else
  (void)text;
#endif
  (void)root;
}

Tensor all_gather_rows(const Tensor& part) {
  const int64_t n = part.size(0);
  Shape shape = part.sizes();
  shape[0] = n * world_size();
  Tensor all = zeros(shape, TensorOptions(part.dtype()));
  all.narrow(0, rank() * n, n).copy_(part.to(kCPU));
  all_reduce_sum_(all);
  return all;
}

Tensor all_reduce_sum(const Tensor& x) {
  Tensor out;
  {
    NoGradGuard ng;
    out = x.detach().contiguous();
    if (out.storage() == x.storage()) out = out.clone();
  }
  all_reduce_sum_(out);
  return autograd::record("all_reduce_sum", out, {x},
                          [](const Tensor& g, const NeedsGrad&) { return TensorList{all_reduce_sum(g)}; });
}

#if DUEL_WITH_MPI
namespace {
// Step 2-4 of all_reduce_gradients with NCCL: the CUDA gradients packed into device buckets (one
// dtype each, up to bucket_bytes()), reduced to their mean by NCCL on the CUDA stream, unpacked.
// Gradients of another device (a model split over CPU and GPU) go through MPI.
void all_reduce_gradients_nccl(const std::vector<Tensor>& grads) {
  NoGradGuard ng;
  std::vector<Tensor> others;
  struct Bucket {
    std::vector<Tensor> params;
    int64_t numel = 0;
  };
  std::vector<Bucket> plan;
  for (const Tensor& p : grads) {
    if (p.device().type != DeviceType::CUDA) {
      others.push_back(p);
      continue;
    }
    const int64_t bytes = p.numel() * (int64_t)p.element_size();
    if (plan.empty() || plan.back().params[0].dtype() != p.dtype() ||
        (plan.back().numel * (int64_t)p.element_size()) + bytes > bucket_bytes())
      plan.push_back({});
    plan.back().params.push_back(p);
    plan.back().numel += p.numel();
  }
  std::vector<Tensor> buckets;
  for (const Bucket& b : plan) {
    const Tensor& p0 = b.params[0];
    Tensor flat = empty({b.numel}, TensorOptions(p0.dtype(), p0.device()));
    int64_t at = 0;
    for (const Tensor& p : b.params) {
      flat.narrow(0, at, p.numel()).copy_(p.grad().reshape({p.numel()}));
      at += p.numel();
    }
    buckets.push_back(flat);
    g_bytes_reduced += b.numel * (int64_t)p0.element_size();
  }
  g_collectives += (int64_t)buckets.size();
  nccl::all_reduce_(buckets, /*average=*/true);
  for (size_t k = 0; k < plan.size(); ++k) {
    int64_t at = 0;
    for (const Tensor& p : plan[k].params) {
      p.set_grad(buckets[k].narrow(0, at, p.numel()).reshape(p.sizes()).contiguous());
      at += p.numel();
    }
  }
  if (!others.empty()) {
    // the rest through MPI, one all-reduce per gradient (a rare, mixed-device model)
    for (const Tensor& p : others) {
      Tensor g = p.grad().clone();
      all_reduce_sum_(g);
      if (is_floating(g.dtype())) g.mul_(1.0 / g_world);
      p.set_grad(g);
    }
  }
}
}  // namespace
#endif

void all_reduce_gradients(const std::vector<Tensor>& params) {
  if (g_world == 1 || params.empty()) return;
  require_mpi("all_reduce_gradients");
#if DUEL_WITH_MPI
  // mpi or nccl (DUEL_DIST_BACKEND; an impossible request stops the job with the reason)
  const bool use_nccl = backend_for(params[0].device().type) == "nccl";
  // 1. which gradients exist anywhere: those undefined here become zeros, so every rank packs the same list
  std::vector<uint8_t> defined(params.size());
  for (size_t i = 0; i < params.size(); ++i) defined[i] = params[i].grad().defined() ? 1 : 0;
  MPI_Request r;
  MPI_Iallreduce(MPI_IN_PLACE, defined.data(), (int)defined.size(), MPI_UINT8_T, MPI_MAX, MPI_COMM_WORLD, &r);
  wait_for(r, "all_reduce of the gradient list");
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!defined[i]) continue;
    if (!params[i].grad().defined()) params[i].set_grad(zeros_like(params[i]));
    grads.push_back(params[i]);
  }
  if (use_nccl) {
    all_reduce_gradients_nccl(grads);
    return;
  }
  // 2. buckets: consecutive gradients of one dtype and device, up to bucket_bytes() each
  struct Bucket {
    size_t first, last;  // [first, last) in grads
    DType dtype;
    std::vector<char> data;
  };
  std::vector<Bucket> buckets;
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& p = grads[i];
    const int64_t bytes = p.numel() * (int64_t)p.element_size();
    if (buckets.empty() || buckets.back().dtype != p.dtype() ||
        grads[buckets.back().first].device() != p.device() ||
        (int64_t)buckets.back().data.size() + bytes > bucket_bytes())
      buckets.push_back({i, i, p.dtype(), {}});
    Bucket& b = buckets.back();
    const size_t at = b.data.size();
    b.data.resize(at + (size_t)bytes);
    Tensor g = p.grad().to(kCPU).contiguous();
    std::memcpy(b.data.data() + at, g.raw_data(), (size_t)bytes);
    b.last = i + 1;
  }
  // 3. every bucket's reduction is started, then all are waited for
  std::vector<MPI_Request> requests(buckets.size());
  for (size_t k = 0; k < buckets.size(); ++k) {
    Bucket& b = buckets[k];
    const int64_t n = (int64_t)b.data.size() / (int64_t)element_size(b.dtype);
    MPI_Iallreduce(MPI_IN_PLACE, b.data.data(), (int)n, mpi_type(b.dtype, "all_reduce_gradients"), MPI_SUM,
                   MPI_COMM_WORLD, &requests[k]);
    g_bytes_reduced += (int64_t)b.data.size();
  }
  wait_for(requests, "all_reduce of the gradients");
  // 4. the mean over ranks, back into each parameter's gradient (its dtype and device)
  const double inv = 1.0 / g_world;
  for (Bucket& b : buckets) {
    size_t at = 0;
    for (size_t i = b.first; i < b.last; ++i) {
      const Tensor& p = grads[i];
      const size_t bytes = (size_t)p.numel() * p.element_size();
      char* base = b.data.data() + at;
      if (b.dtype == kFloat32)
        for (int64_t j = 0; j < p.numel(); ++j) reinterpret_cast<float*>(base)[j] *= (float)inv;
      else if (b.dtype == kFloat64)
        for (int64_t j = 0; j < p.numel(); ++j) reinterpret_cast<double*>(base)[j] *= inv;
      p.set_grad(from_buffer(base, p.sizes(), p.dtype(), p.device()));
      at += bytes;
    }
  }
#endif
}

}  // namespace duel::dist
