// libFuzzer harness: read_idx (data/idx.cpp) on arbitrary plain and gzip files. See
// fuzz/idx_reader.h and scripts/fuzz.sh.
#include "fuzz/idx_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static duel::fuzz::InputFile file;
  duel::fuzz::run_idx_input(file, data, size);
  return 0;
}
