// Error reporting for duel: every user-facing failure throws duel::Error with a
// message that names the op, the shapes involved and what was expected.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace duel {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
template <class... Args>
[[noreturn]] void fail(const char* file, int line, const Args&... args) {
  std::ostringstream os;
  append(os, args...);
  (void)file;
  (void)line;
  throw Error(os.str());
}
}  // namespace detail
}  // namespace duel

// DUEL_CHECK(cond, "op: message parts", ...) throws duel::Error when cond is false.
#define DUEL_CHECK(cond, ...)                                  \
  do {                                                         \
    if (!(cond)) ::duel::detail::fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define DUEL_FAIL(...) ::duel::detail::fail(__FILE__, __LINE__, __VA_ARGS__)
