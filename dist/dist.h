// Data-parallel training over MPI (and NCCL for CUDA tensors): the few collectives duel needs.
//
//   mpirun -np 4 duel train dcgan ...      every rank runs the same command
//
// init() looks at the environment: launched by mpirun (OMPI_COMM_WORLD_SIZE, PMI_SIZE or
// PMIX_RANK set) it calls MPI_Init, otherwise it does nothing and the program is one process of
// a world of one, exactly as without this layer. Built without MPI (-DDUEL_MPI=OFF, or AUTO
// where no MPI was found), a launch by mpirun with more than one process is refused with a
// message that says so.
//
// How the zoo uses it (train/fit.cpp, docs/distributed.md):
//   * every rank builds the same model; rank 0's parameters, buffers and optimizer state are
//     broadcast to the others before the first step (broadcast_state);
//   * each rank draws its own shard of every global batch (gan/data.cpp, gan/model.h);
//   * every optimizer step first averages the gradients over the ranks, in buckets
//     (nn/optim.h's gradient-sync hook, installed by init);
//   * batch norm normalises with per-rank statistics, or with synchronised ones (--sync-bn,
//     all_reduce_sum below through nn/norm.h's hook);
//   * only rank 0 writes (samples, metrics, the checkpoint).
//
// Every collective waits at most timeout_seconds() (DUEL_DIST_TIMEOUT, default 300 s): when a
// rank died or hangs, the others print which collective starved and abort the whole job
// (MPI_Abort) instead of waiting forever.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace duel::dist {

// Whether this build has MPI (DUEL_WITH_MPI) and NCCL (DUEL_WITH_NCCL).
bool built_with_mpi();
bool built_with_nccl();

// Initialises from the environment (see above); call once, first thing in main. Installs the
// gradient-sync hook of nn/optim.h when the world has more than one process. In a build with
// NCCL it also makes CUDA device (local rank mod device count) current, so that the ranks of
// one machine use different GPUs, and checks DUEL_DIST_BACKEND (see below).
void init(int* argc, char*** argv);
// Finalises MPI if init started it (a no-op otherwise), destroying the NCCL communicator first.
void finalize();
// Stops every process of the job: prints `message` (prefixed with this rank) and calls
// MPI_Abort with `code` when more than one process runs; otherwise std::exit(code).
[[noreturn]] void abort_job(const std::string& message, int code = 1);

// Whether init() started MPI (launched by mpirun, even with -np 1).
bool using_mpi();
int rank();        // 0 without MPI
int world_size();  // 1 without MPI
inline bool is_root() { return rank() == 0; }
inline bool is_distributed() { return world_size() > 1; }

// Seconds a collective may wait for the other ranks before the job is aborted.
double timeout_seconds();
void set_timeout_seconds(double seconds);

// Which library reduces the gradients: DUEL_DIST_BACKEND=mpi|nccl|auto (unset or empty: auto).
//   mpi   every gradient through MPI; CUDA gradients are staged through host memory.
//   nccl  CUDA gradients through NCCL, device to device (dist/nccl.cpp). An error, stopping the
//         job, when this duel was built without NCCL (-DDUEL_NCCL=ON needs the CUDA backend,
//         MPI and NCCL), when no CUDA device is present, or when the gradients are not on a
//         CUDA device (CPU, or the emulator's `sim`).
//   auto  NCCL for gradients on a CUDA device when built with NCCL, MPI otherwise.
// Broadcasts, synchronised batch norm and metrics always go through MPI.
struct BackendChoice {
  std::string backend;  // "mpi" or "nccl"; empty when `error` is set
  std::string error;    // why the request cannot be met (empty if it can)
};
// The rule above as a pure function: `requested` is DUEL_DIST_BACKEND's value, `gradients`
// where the gradients are, `nccl_built` built_with_nccl(), `cuda_devices` the CUDA devices
// present (cuda::device_count()).
BackendChoice select_backend(const std::string& requested, DeviceType gradients, bool nccl_built, int cuda_devices);
// select_backend for this process (DUEL_DIST_BACKEND, this build, this machine); an error stops
// the job through abort_job ("duel: rank R of N: DUEL_DIST_BACKEND=nccl: ...").
std::string backend_for(DeviceType gradients);
// backend_for(DeviceType::CUDA): what reduces CUDA tensors.
std::string cuda_backend();
// NCCL_VERSION_CODE of the loaded libnccl (e.g. 22809 for 2.28.9); 0 in a build without NCCL.
int nccl_version();

// ---- collectives (every rank calls them in the same order, with tensors of the same shapes) ----
void barrier();
// In place: t = the sum (or max) of t over the ranks. Any device, float32/float64/int64.
void all_reduce_sum_(Tensor& t);
void all_reduce_max_(Tensor& t);
// Doubles summed over the ranks (metrics, flags).
std::vector<double> all_reduce_sum(const std::vector<double>& values);
// In place: every rank gets root's values (t must have the same shape and dtype everywhere).
void broadcast_(Tensor& t, int root = 0);
void broadcast(std::string& text, int root = 0);

// The differentiable sum over ranks: forward sums x over the ranks, backward sums the incoming
// gradients over the ranks (each rank's loss depends on every rank's x). Its backward is this
// op again, so it can be differentiated twice. Used by synchronised batch norm.
Tensor all_reduce_sum(const Tensor& x);
// Every rank's `part` [n, ...] (the same shape everywhere) stacked by rank along dim 0,
// [n * ranks, ...] on the CPU: rank r's rows are r * n ... (a sum of zero-padded copies).
Tensor all_gather_rows(const Tensor& part);

// Averages the gradients of `params` over the ranks: packed by dtype and device into buckets
// of at most bucket_bytes() (DUEL_DIST_BUCKET_MB, default 25 MiB), every bucket's reduction
// started before the first is waited for. A parameter whose gradient is undefined on some ranks
// gets zeros there; one undefined on every rank stays undefined (the optimizer then skips it
// everywhere, as it would in one process).
void all_reduce_gradients(const std::vector<Tensor>& params);
int64_t bucket_bytes();

// Bytes of gradient reduced by this process since the start, and the collectives (all-reduce,
// broadcast, barrier) it took part in (for measurements).
int64_t bytes_all_reduced();
int64_t collectives();

}  // namespace duel::dist
