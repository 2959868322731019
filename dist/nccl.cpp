// NCCL for the CUDA gradients of dist/dist.h (dist/nccl.h; docs/distributed.md, "NCCL").
// Compiled to stubs without DUEL_WITH_NCCL; with it, compiled by the host compiler against the
// CUDA toolkit's cuda_runtime.h and nccl.h and linked with libnccl (CMakeLists.txt, DUEL_NCCL).
#include "dist/nccl.h"

#include "dist/dist.h"

#ifdef DUEL_WITH_NCCL
#include <cuda_runtime.h>
#include <mpi.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "kernels/cuda/stream.h"
#endif

namespace duel::dist::nccl {

#ifndef DUEL_WITH_NCCL

int version() { return 0; }
int select_device(int) { return -1; }
void all_reduce_(std::vector<Tensor>&, bool) {
  DUEL_FAIL("dist: NCCL requested, but this duel was built without NCCL (DUEL_WITH_NCCL)");
}
void finalize() {}

#else

namespace {

ncclComm_t g_comm = nullptr;
int g_device = -1;

[[noreturn]] void fail_call(const char* call, const std::string& why) {
  abort_job(std::string("NCCL: ") + call + " failed: " + why, 1);
}

// Checks an NCCL call; on failure stops the job (the other ranks would wait for this one
// forever) with the call, ncclGetErrorString and, where NCCL has it, its last error message.
void check(ncclResult_t r, const char* call) {
  if (r == ncclSuccess) return;
  std::string why = ncclGetErrorString(r);
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
  if (const char* last = ncclGetLastError(g_comm); last && *last) why += std::string(" (") + last + ")";
#endif
  fail_call(call, why);
}
void check(cudaError_t r, const char* call) {
  if (r == cudaSuccess) return;
  fail_call(call, std::string(cudaGetErrorString(r)) + " (" + cudaGetErrorName(r) + ")");
}
#define DUEL_NCCL_CHECK(call) check((call), #call)

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case kFloat32: return ncclFloat32;
    case kFloat64: return ncclFloat64;
    case kInt64: return ncclInt64;
    case kBool: return ncclUint8;
  }
  DUEL_FAIL("dist: NCCL: unsupported dtype ", dtype_name(t));
}

// Polls `done()` with a growing sleep, as dist.cpp's wait_for does for MPI requests, and stops
// the job when timeout_seconds() pass.
template <class Done>
void wait_until(Done done, const char* what) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  for (int64_t polls = 0;; ++polls) {
    if (done()) return;
    const double waited = std::chrono::duration<double>(clock::now() - start).count();
    if (waited > timeout_seconds()) {
      if (g_comm) ncclCommAbort(g_comm), g_comm = nullptr;
      char b[512];
      std::snprintf(b, sizeof b,
                    "no answer from the other ranks for %.0f s in %s (NCCL): a rank died or hangs; stopping the "
                    "job (DUEL_DIST_TIMEOUT=%g seconds sets this limit)",
                    waited, what, timeout_seconds());
      abort_job(b, 1);
    }
    if (polls > 64) std::this_thread::sleep_for(std::chrono::microseconds(std::min<int64_t>(1000, polls)));
  }
}

// The communicator over MPI_COMM_WORLD: rank 0 makes the unique id, MPI broadcasts it, every
// rank joins with its MPI rank and the world size.
ncclComm_t comm() {
  if (g_comm) return g_comm;
  DUEL_CHECK(g_device >= 0, "dist: NCCL needs a CUDA device, and none was selected at init (no CUDA device?)");
  DUEL_NCCL_CHECK(cudaSetDevice(g_device));
  ncclUniqueId id{};
  if (rank() == 0) DUEL_NCCL_CHECK(ncclGetUniqueId(&id));
  MPI_Request r;
  MPI_Ibcast(&id, (int)sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD, &r);
  wait_until(
      [&] {
        int flag = 0;
        MPI_Test(&r, &flag, MPI_STATUS_IGNORE);
        return flag != 0;
      },
      "broadcast of the NCCL unique id");
  ncclComm_t c = nullptr;
  DUEL_NCCL_CHECK(ncclCommInitRank(&c, world_size(), id, rank()));
  g_comm = c;
  return g_comm;
}

}  // namespace

int version() {
  int v = 0;
  DUEL_NCCL_CHECK(ncclGetVersion(&v));
  return v;
}

int select_device(int local_rank) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
    (void)cudaGetLastError();  // no GPU: not an error here (CPU training through MPI)
    return -1;
  }
  g_device = local_rank % n;
  DUEL_NCCL_CHECK(cudaSetDevice(g_device));
  return g_device;
}

void all_reduce_(std::vector<Tensor>& buckets, bool average) {
  if (buckets.empty()) return;
  ncclComm_t c = comm();
  cudaStream_t stream = static_cast<cudaStream_t>(cuda::current_stream_handle());
  // ncclAvg (NCCL >= 2.10) divides by the world size inside the reduction; before that, sum and scale
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
  const bool avg_in_nccl = true;
#else
  const bool avg_in_nccl = false;
#endif
  DUEL_NCCL_CHECK(ncclGroupStart());
  for (Tensor& b : buckets) {
    DUEL_CHECK(b.device().type == DeviceType::CUDA && b.is_contiguous(),
               "dist: NCCL reduces contiguous CUDA tensors only, got one on ", b.device().str());
    const bool mean = average && is_floating(b.dtype());
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 10, 0)
    const ncclRedOp_t op = mean ? ncclAvg : ncclSum;
#else
    const ncclRedOp_t op = ncclSum;
#endif
    DUEL_NCCL_CHECK(ncclAllReduce(b.raw_data(), b.raw_data(), (size_t)b.numel(), nccl_type(b.dtype()), op, c, stream));
  }
  DUEL_NCCL_CHECK(ncclGroupEnd());
  if (average && !avg_in_nccl)
    for (Tensor& b : buckets)
      if (is_floating(b.dtype())) b.mul_(1.0 / world_size());  // on the same stream, after the reduction
  // wait (at most timeout_seconds()) for the reductions: an event after them on the stream
  cudaEvent_t done;
  DUEL_NCCL_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  DUEL_NCCL_CHECK(cudaEventRecord(done, stream));
  wait_until(
      [&] {
        ncclResult_t async = ncclSuccess;
        DUEL_NCCL_CHECK(ncclCommGetAsyncError(c, &async));
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
        if (async == ncclInProgress) async = ncclSuccess;
#endif
        check(async, "ncclAllReduce (asynchronous error)");
        const cudaError_t q = cudaEventQuery(done);
        if (q == cudaErrorNotReady) return false;
        check(q, "cudaEventQuery after ncclAllReduce");
        return true;
      },
      "ncclAllReduce of the gradients");
  DUEL_NCCL_CHECK(cudaEventDestroy(done));
}

void finalize() {
  if (g_comm) {
    ncclCommDestroy(g_comm);  // after every rank's last collective (dist::finalize is called at exit)
    g_comm = nullptr;
  }
}

#endif

}  // namespace duel::dist::nccl
