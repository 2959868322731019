// libFuzzer harness: the command-line option parser and the run configuration reader
// (train/options.cpp). See fuzz/options_parser.h and scripts/fuzz.sh.
#include "fuzz/options_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  duel::fuzz::run_options_input(data, size);
  return 0;
}
