// libFuzzer harness: load_checkpoint / read_checkpoint_meta (tensor/serialize.cpp) on arbitrary
// files with fixed-up CRCs. See fuzz/checkpoint_reader.h and scripts/fuzz.sh.
#include "fuzz/checkpoint_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static duel::fuzz::InputFile file;
  duel::fuzz::run_checkpoint_input(file, data, size);
  return 0;
}
