// The message of the duel::Error that f throws, or "" if it throws none: for tests of error
// messages that check several parts of one message.
#pragma once
#include <functional>
#include <string>

#include "tensor/error.h"

namespace duel::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace duel::test
