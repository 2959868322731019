// The fuzz input as a file: the readers under test take a path, so each input is written into
// one in-memory file (memfd) and read back through /proc/self/fd/N. Shared by the libFuzzer
// harnesses and by tests/data/test_fuzz_regressions.cpp, which feeds them the corpus and every
// input a fuzzer ever crashed on.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace duel::fuzz {

class InputFile {
 public:
  InputFile() {
    fd_ = ::memfd_create("duel-fuzz-input", MFD_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("memfd_create failed");
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~InputFile() { ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  // Replaces the file's contents; returns its path.
  const std::string& write(const void* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0) throw std::runtime_error("ftruncate failed");
    const char* p = static_cast<const char*>(data);
    for (size_t done = 0; done < size;) {
      ssize_t w = ::pwrite(fd_, p + done, size - done, (off_t)done);
      if (w <= 0) throw std::runtime_error("pwrite failed");
      done += (size_t)w;
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace duel::fuzz
