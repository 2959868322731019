// NCCL for CUDA gradients (dist/nccl.cpp): internal to dist/, used by dist/dist.cpp.
//
// Built only with DUEL_WITH_NCCL (CMake -DDUEL_NCCL=AUTO|ON, which needs the CUDA backend and
// MPI); without it these functions exist but report "not built" (nccl_version() == 0) and the
// others are never called (dist.cpp selects MPI, or refuses DUEL_DIST_BACKEND=nccl).
//
// The communicator is made on first use, by every rank at the same collective (all ranks
// reduce their gradients at the same optimizer step): rank 0 calls ncclGetUniqueId, the id is
// broadcast over MPI_COMM_WORLD, and every rank calls ncclCommInitRank with its MPI rank and
// the MPI world size, on the CUDA device select_device() made current at init.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace duel::dist::nccl {

// NCCL_VERSION_CODE of the libnccl this process loaded (ncclGetVersion; e.g. 22809 for
// 2.28.9), 0 in a build without NCCL. Needs no GPU.
int version();

// Makes CUDA device `local_rank % device count` current (cudaSetDevice), so that the ranks on
// one machine use different GPUs; returns the device chosen, or -1 when there is no CUDA
// device (or no NCCL build). Called by dist::init before any CUDA work.
int select_device(int local_rank);

// In place, over every rank: each tensor of `buckets` (contiguous, 1-d, on the CUDA device,
// float32/float64/int64) becomes its sum over the ranks, or its mean when `average` (floating
// point only: integer buckets are summed). One ncclAllReduce per bucket, all between
// ncclGroupStart/ncclGroupEnd, on the CUDA backend's current stream; then waits, at most
// timeout_seconds(), for the stream (and checks ncclCommGetAsyncError), aborting the job with a
// message naming the collective when that passes.
void all_reduce_(std::vector<Tensor>& buckets, bool average);

// ncclCommDestroy of the communicator, if one was made (dist::finalize, before MPI_Finalize).
void finalize();

}  // namespace duel::dist::nccl
