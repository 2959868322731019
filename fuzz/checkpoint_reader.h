// One input of the checkpoint_reader fuzzer: load_checkpoint and read_checkpoint_meta on a file
// holding the bytes, after fix_checkpoint_crcs (below). A duel::Error is the expected answer to
// a bad file; anything else (another exception, a crash, a sanitizer report, a huge
// allocation) is a bug.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz/input_file.h"
#include "tensor/serialize.h"

namespace duel::fuzz {

// Random bytes almost never carry a right CRC, and every check after the header CRC would go
// unexplored. So before loading, the CRCs are recomputed where the file says they are: each
// tensor's payload CRC (for entries the header describes well enough to find), the header CRC,
// and the trailer's file size and whole-file CRC. This turns the fuzzer into the crafted-file attacker:
// checksums right, contents arbitrary. Best effort: anything out of range is left as it is.
inline void fix_checkpoint_crcs(std::string& b) {
  auto u32 = [&](size_t at) { uint32_t v = 0; for (int i = 0; i < 4; ++i) v |= (uint32_t)(uint8_t)b[at + i] << (8 * i); return v; };
  auto u64 = [&](size_t at) { uint64_t v = 0; for (int i = 0; i < 8; ++i) v |= (uint64_t)(uint8_t)b[at + i] << (8 * i); return v; };
  auto put32 = [&](size_t at, uint32_t v) { for (int i = 0; i < 4; ++i) b[at + i] = (char)(v >> (8 * i)); };
  auto crc = [&](size_t from, size_t n) {
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(b.data() + from), (uInt)n);
  };
  if (b.size() < 20) return;
  const uint64_t h = u32(12);
  if (16 + h + 4 > b.size()) return;
  const uint64_t end = 16 + h;
  uint64_t i = 16;
  auto have = [&](uint64_t k) { return k <= end - i; };
  if (have(8)) {
    uint64_t n_meta = u64(i);
    i += 8;
    for (uint64_t k = 0; k < n_meta && have(4); ++k) {
      const uint64_t klen = u32(i);
      i += 4;
      if (!have(klen)) { i = end; break; }
      i += klen;
      if (!have(8)) { i = end; break; }
      const uint64_t vlen = u64(i);
      i += 8;
      if (!have(vlen)) { i = end; break; }
      i += vlen;
    }
    if (have(8)) {
      const uint64_t n_tensors = u64(i);
      i += 8;
      for (uint64_t k = 0; k < n_tensors && have(4); ++k) {
        const uint64_t nlen = u32(i);
        i += 4;
        if (!have(nlen) || !have(nlen + 8)) break;
        i += nlen + 4;
        const uint64_t ndim = u32(i);
        i += 4;
        if (ndim > 64 || !have(8 * ndim + 20)) break;
        i += 8 * ndim;
        const uint64_t off = u64(i), nbytes = u64(i + 8);
        i += 16;
        if (off <= b.size() && nbytes <= b.size() - off) put32((size_t)i, crc((size_t)off, (size_t)nbytes));
        i += 4;
      }
    }
  }
  put32((size_t)end, crc(0, (size_t)end));
  if (b.size() >= end + 4 + 24) {  // the trailer: total file size, whole-file CRC
    for (int k = 0; k < 8; ++k) b[b.size() - 16 + k] = (char)((uint64_t)b.size() >> (8 * k));
    put32(b.size() - 8, crc(0, b.size() - 24));
  }
}

// Returns true when the file loaded, false when it was refused with a duel::Error.
inline bool run_checkpoint_input(InputFile& file, const uint8_t* data, size_t size) {
  std::string b(reinterpret_cast<const char*>(data), size);
  fix_checkpoint_crcs(b);
  const std::string& path = file.write(b.data(), b.size());
  bool loaded = false;
  try {
    Checkpoint c = load_checkpoint(path);
    for (auto& [name, t] : c.tensors) (void)t.numel();
    loaded = true;
  } catch (const duel::Error&) {
  }
  try {
    (void)read_checkpoint_meta(path);
  } catch (const duel::Error&) {
  }
  return loaded;
}

}  // namespace duel::fuzz
