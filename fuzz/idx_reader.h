// One input of the idx_reader fuzzer. The first byte chooses how the rest is presented:
// even: the rest is the file as it is (a plain IDX file, or a gzip file the fuzzer damaged);
// odd: the rest is gzip-compressed first, so the IDX parser is explored behind a valid gzip
// stream too. read_idx and to_tensor must answer with a value or a duel::Error, nothing else.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "data/idx.h"
#include "fuzz/input_file.h"

namespace duel::fuzz {

// A single gzip member holding `data` (zlib's deflate with a gzip wrapper).
inline std::vector<uint8_t> gzip_bytes(const uint8_t* data, size_t size) {
  z_stream z;
  std::memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::vector<uint8_t> out(deflateBound(&z, (uLong)size) + 32);
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = (uInt)size;
  z.next_out = out.data();
  z.avail_out = (uInt)out.size();
  const int rc = deflate(&z, Z_FINISH);
  out.resize(rc == Z_STREAM_END ? z.total_out : 0);
  deflateEnd(&z);
  return out;
}

// Returns true when the file was read, false when it was refused with a duel::Error.
inline bool run_idx_input(InputFile& file, const uint8_t* data, size_t size) {
  if (size == 0) return false;
  const std::string* path;
  if (data[0] & 1) {
    const auto z = gzip_bytes(data + 1, size - 1);
    path = &file.write(z.data(), z.size());
  } else {
    path = &file.write(data + 1, size - 1);
  }
  try {
    IdxArray a = read_idx(*path);
    if (a.data.size() < (size_t(1) << 20)) (void)a.to_tensor(kInt64);  // serial (no OpenMP team) below 2^20
    return true;
  } catch (const duel::Error&) {
    return false;
  }
}

}  // namespace duel::fuzz
