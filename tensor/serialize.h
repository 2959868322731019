// Checkpoint files: named tensors plus a string metadata map in a versioned, checksummed
// binary format (see docs/data-and-checkpoints.md for the byte layout).
//
//   save_checkpoint("run/ckpt.duel", {{"G.fc1.weight", w}, ...}, {{"step", "1200"}});
//   Checkpoint c = load_checkpoint("run/ckpt.duel");
//   Tensor w = c.get("G.fc1.weight");
//
// Writes are atomic: the data goes to a temporary file in the target's directory, which is
// flushed and fsync'ed, renamed over the target, and the directory is fsync'ed. A crash or an
// error mid-write leaves any previous file untouched. Loads verify the magic, format version,
// header CRC, sizes (truncation), every tensor's CRC32 and a whole-file CRC32; any problem is
// a duel::Error naming the file and the problem; nothing is returned partially.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace duel {

inline constexpr uint32_t kCheckpointFormatVersion = 1;

struct Checkpoint {
  std::string path;  // the file it was loaded from
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> meta;

  bool has(const std::string& name) const { return tensors.count(name) != 0; }
  // The tensor `name`; throws naming the file and listing the names present when missing.
  const Tensor& get(const std::string& name) const;
  // Metadata value; `fallback` when absent.
  std::string meta_or(const std::string& key, const std::string& fallback = "") const;
};

// Saves `tensors` (any dtype, any device, any strides: copied to contiguous CPU memory) and
// `meta` to `path`, atomically. Tensors must be defined. Throws duel::Error on failure.
void save_checkpoint(const std::string& path, const std::map<std::string, Tensor>& tensors,
                     const std::map<std::string, std::string>& meta = {});

// Loads and verifies a checkpoint. Tensors come back as contiguous CPU tensors without
// requires_grad (copy them into parameters under NoGradGuard, or .to(device)).
Checkpoint load_checkpoint(const std::string& path);

// Reads only the metadata (verifies magic, version and the header CRC, not the payloads).
std::map<std::string, std::string> read_checkpoint_meta(const std::string& path);

// Writes `size` bytes to `path` atomically, the way save_checkpoint writes: a temporary file
// in the target's directory, every write checked, fflush + fsync, rename over the target,
// fsync of the directory. Any failure (a missing or read-only directory, a full disk) throws
// duel::Error naming `path`, removes the temporary file and leaves a previous file untouched.
// `op` starts the error messages (e.g. "save_png"). Used for PNGs and plots.
void write_file_atomic(const std::string& path, const void* data, size_t size, const char* op = "write_file_atomic");

namespace testing {
// Test hook: called by every atomic write (save_checkpoint, write_file_atomic, so also PNGs and
// plots) after each chunk written to the temporary file, with the number of bytes written so
// far; throwing from it simulates a failed write. Pass an empty function to remove it. Not
// thread-safe; tests only.
void set_checkpoint_write_hook(std::function<void(uint64_t bytes_written)> hook);
}  // namespace testing

}  // namespace duel
