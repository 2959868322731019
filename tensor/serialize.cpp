// Checkpoint format, version 1 (all integers little-endian):
//
//   0   8  magic "DUELCKPT"
//   8   4  u32 format version (1)
//   12  4  u32 H = size of the header body
//   16  H  header body:
//            u64 n_meta,    then per entry: u32 key length, key, u64 value length, value
//            u64 n_tensors, then per tensor: u32 name length, name, u8 dtype code
//                (1 float32, 2 float64, 3 int64, 4 bool), u8 flags (0), u16 reserved (0),
//                u32 ndim, i64 dims[ndim], u64 payload offset (from the file start),
//                u64 payload bytes, u32 CRC32 of the payload
//   16+H 4 u32 CRC32 of bytes [0, 16+H)
//   zero padding; payloads, each at a 64-byte aligned offset, in header order
//   trailer (24 bytes): "DUELEND!", u64 total file size, u32 CRC32 of every byte before the
//                       trailer, u32 reserved (0)
#include "tensor/serialize.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "autograd/grad_mode.h"

namespace duel {

static_assert(std::endian::native == std::endian::little,
              "duel checkpoints store payloads in host order; only little-endian hosts are supported");

namespace {

constexpr char kMagic[8] = {'D', 'U', 'E', 'L', 'C', 'K', 'P', 'T'};
constexpr char kTrailerMagic[8] = {'D', 'U', 'E', 'L', 'E', 'N', 'D', '!'};
constexpr uint64_t kTrailerSize = 24;
constexpr uint64_t kAlign = 64;
constexpr size_t kChunk = size_t(4) << 20;

std::function<void(uint64_t)>& write_hook() {
  static std::function<void(uint64_t)> hook;
  return hook;
}

uint8_t dtype_code(DType t) {
  switch (t) {
    case DType::Float32: return 1;
    case DType::Float64: return 2;
    case DType::Int64: return 3;
    case DType::Bool: return 4;
  }
  return 0;
}

bool dtype_from_code(uint8_t c, DType& out) {
  switch (c) {
    case 1: out = DType::Float32; return true;
    case 2: out = DType::Float64; return true;
    case 3: out = DType::Int64; return true;
    case 4: out = DType::Bool; return true;
  }
  return false;
}

uint32_t crc_update(uint32_t crc, const void* data, size_t n) {
  const Bytef* p = static_cast<const Bytef*>(data);
  while (n > 0) {
    uInt chunk = (uInt)std::min<size_t>(n, 1u << 30);
    crc = (uint32_t)crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return crc;
}
uint32_t crc_init() { return (uint32_t)crc32(0L, Z_NULL, 0); }

void put_u16(std::string& b, uint16_t v) { for (int i = 0; i < 2; ++i) b.push_back((char)(v >> (8 * i))); }
void put_u32(std::string& b, uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back((char)(v >> (8 * i))); }
void put_u64(std::string& b, uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back((char)(v >> (8 * i))); }
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
uint64_t align_up(uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

struct FileCloser {
  void operator()(FILE* f) const { if (f) std::fclose(f); }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

// ---- writing ----

std::string parent_dir(const std::string& path) {
  std::filesystem::path p(path);
  std::filesystem::path parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

void fsync_dir(const std::string& dir, const std::string& target, const char* op) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) DUEL_FAIL(op, ": '", target, "' was written but its directory '", dir,
                        "' could not be opened to fsync it: ", std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // some filesystems do not support fsync on directories; that is not a write failure
  if (rc != 0 && err != EINVAL && err != ENOTSUP && err != EROFS)
    DUEL_FAIL(op, ": '", target, "' was written but fsync of its directory '", dir, "' failed: ", std::strerror(err));
}

// A file written atomically: the bytes go to `.<name>.tmp.<pid>.<n>` in the target's directory;
// commit() checks the flush, fsyncs, renames the temporary file over the target and fsyncs the
// directory. Until commit() succeeds the target is untouched; on any failure (and in the
// destructor, if commit() was not reached) the temporary file is removed. Every write is
// checked, so a full disk is an error, not a short file.
class AtomicFile {
 public:
  AtomicFile(const std::string& target, const char* op) : target_(target), op_(op) {
    DUEL_CHECK(!target.empty(), op, ": empty path");
    namespace fs = std::filesystem;
    dir_ = parent_dir(target);
    static std::atomic<uint64_t> counter{0};
    tmp_ = (fs::path(dir_) / ("." + fs::path(target).filename().string() + ".tmp." + std::to_string(::getpid()) + "." +
                              std::to_string(counter++)))
               .string();
    int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int err = errno;
      DUEL_FAIL(op, ": cannot create the temporary file '", tmp_, "' for '", target, "': ", std::strerror(err),
                err == ENOENT || err == ENOTDIR ? " (does the directory exist?)"
                : err == EACCES || err == EROFS ? " (is the directory writable?)"
                                                : "");
    }
    struct stat st;
    if (::stat(target.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::fchmod(fd, st.st_mode & 07777);  // keep permissions
    f_ = ::fdopen(fd, "wb");
    if (!f_) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp_.c_str());
      DUEL_FAIL(op, ": fdopen for '", tmp_, "' failed: ", std::strerror(err));
    }
    std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
  }
  ~AtomicFile() { discard(); }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  uint64_t written() const { return written_; }

  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      size_t chunk = std::min(n, kChunk);
      if (std::fwrite(p, 1, chunk, f_) != chunk) fail_io("writing");
      written_ += chunk;
      p += chunk;
      n -= chunk;
      if (write_hook()) write_hook()(written_);
    }
  }

  void commit() {
    if (std::fflush(f_) != 0) fail_io("flushing");
    if (::fsync(::fileno(f_)) != 0) fail_io("fsync of");
    FILE* g = f_;
    f_ = nullptr;
    if (std::fclose(g) != 0) fail_io("closing");
    if (std::rename(tmp_.c_str(), target_.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp_.c_str());
      DUEL_FAIL(op_, ": renaming '", tmp_, "' over '", target_, "' failed: ", std::strerror(err));
    }
    committed_ = true;
    fsync_dir(dir_, target_, op_);
  }

 private:
  [[noreturn]] void fail_io(const char* what) {
    const int err = errno;
    discard();
    DUEL_FAIL(op_, ": ", what, " '", target_, "' (temporary file '", tmp_, "') failed: ", std::strerror(err),
              err == ENOSPC || err == EDQUOT || err == EFBIG ? "; the previous file, if any, is untouched" : "");
  }
  void discard() {
    if (committed_) return;
    if (f_) std::fclose(f_);
    f_ = nullptr;
    ::unlink(tmp_.c_str());
    committed_ = true;  // nothing left to clean up
  }

  std::string target_, dir_, tmp_;
  const char* op_;
  FILE* f_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// The checkpoint body: an AtomicFile that also keeps the CRC32 of everything written.
struct Writer {
  AtomicFile& file;
  uint32_t crc = crc_init();

  void write(const void* data, size_t n) {
    crc = crc_update(crc, data, n);
    file.write(data, n);
  }
  void pad_to(uint64_t offset) {
    static const char zeros[kAlign] = {};
    while (file.written() < offset) write(zeros, (size_t)std::min<uint64_t>(offset - file.written(), kAlign));
  }
};

struct Entry {
  std::string name;
  Tensor data;  // contiguous CPU
  uint64_t offset = 0, nbytes = 0;
  uint32_t crc = 0;
};

// ---- reading ----

class Reader {
 public:
  Reader(const std::string& path, const char* op) : path_(path), op_(op) {
    f_.reset(std::fopen(path.c_str(), "rb"));
    if (!f_) fail("cannot open the file: ", std::strerror(errno));
    struct stat st;
    if (::fstat(::fileno(f_.get()), &st) != 0) fail("cannot stat the file: ", std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail("is a directory, not a checkpoint file");
    size_ = (uint64_t)st.st_size;
  }
  template <class... A>
  [[noreturn]] void fail(const A&... a) const {
    DUEL_FAIL(op_, ": '", path_, "': ", a...);
  }
  uint64_t size() const { return size_; }
  uint64_t pos() const { return pos_; }
  uint32_t crc() const { return crc_; }
  // Reads exactly n bytes (the caller has checked the size, so a short read is an I/O error or a
  // file that shrank meanwhile).
  void read(void* dst, size_t n, bool add_to_crc = true) {
    char* p = static_cast<char*>(dst);
    size_t done = 0;
    while (done < n) {
      size_t chunk = std::min(n - done, kChunk);
      size_t r = std::fread(p + done, 1, chunk, f_.get());
      if (r != chunk) {
        if (std::ferror(f_.get())) fail("read error at byte ", pos_ + done + r, ": ", std::strerror(errno));
        fail("the file is truncated: unexpected end of file at byte ", pos_ + done + r, " (", size_,
             " bytes); it was cut short, e.g. by an interrupted copy");
      }
      if (add_to_crc) crc_ = crc_update(crc_, p + done, chunk);
      done += chunk;
    }
    pos_ += n;
  }
  // Reads up to `offset`, which must be padding. The first non-zero byte skipped is remembered
  // (nonzero_padding_at()) and reported after the whole-file CRC, which covers the padding too.
  void skip_padding_to(uint64_t offset) {
    char buf[4096];
    while (pos_ < offset) {
      const uint64_t at = pos_;
      const size_t n = (size_t)std::min<uint64_t>(offset - pos_, sizeof buf);
      read(buf, n);
      for (size_t i = 0; i < n && nonzero_padding_at_ == 0; ++i)
        if (buf[i] != 0) nonzero_padding_at_ = at + i;
    }
  }
  uint64_t nonzero_padding_at() const { return nonzero_padding_at_; }  // 0: none

 private:
  std::string path_;
  const char* op_;
  FilePtr f_;
  uint64_t size_ = 0, pos_ = 0;
  uint64_t nonzero_padding_at_ = 0;
  uint32_t crc_ = crc_init();
};

struct ParsedEntry {
  std::string name;
  DType dtype;
  Shape dims;
  uint64_t offset, nbytes;
  uint32_t crc;
};

struct Parsed {
  std::map<std::string, std::string> meta;
  std::vector<ParsedEntry> entries;
  uint64_t header_end = 0;  // first byte after the header CRC
};

// Bounds-checked cursor over the header body.
struct Cursor {
  const unsigned char* p;
  uint64_t n, i = 0;
  const Reader& r;
  void need(uint64_t k, const char* what) const {
    if (k > n - i) r.fail("malformed header: the ", what, " runs past the end of the header (format bug or corruption)");
  }
  uint8_t u8(const char* what) { need(1, what); return p[i++]; }
  uint16_t u16(const char* what) { need(2, what); uint16_t v = (uint16_t)(p[i] | (p[i + 1] << 8)); i += 2; return v; }
  uint32_t u32(const char* what) { need(4, what); uint32_t v = get_u32(p + i); i += 4; return v; }
  uint64_t u64(const char* what) { need(8, what); uint64_t v = get_u64(p + i); i += 8; return v; }
  std::string str(uint64_t len, const char* what) {
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p + i), (size_t)len);
    i += len;
    return s;
  }
};

// Reads and verifies everything up to the end of the header.
Parsed read_header(Reader& r) {
  const uint64_t size = r.size();
  if (size < sizeof kMagic)
    r.fail("not a duel checkpoint: the file is only ", size, " bytes (truncated or empty)");
  unsigned char fixed[16];
  r.read(fixed, std::min<uint64_t>(16, size));
  if (std::memcmp(fixed, kMagic, sizeof kMagic) != 0) {
    std::string shown;
    for (int i = 0; i < 8; ++i) shown += (fixed[i] >= 32 && fixed[i] < 127) ? (char)fixed[i] : '.';
    r.fail("not a duel checkpoint: wrong magic \"", shown, "\" (expected \"DUELCKPT\")");
  }
  if (size < 16) r.fail("the file is truncated: ", size, " bytes, shorter than the 16-byte preamble");
  const uint32_t version = get_u32(fixed + 8);
  if (version != kCheckpointFormatVersion)
    r.fail("unsupported checkpoint format version ", version, "; this build of duel reads version ",
           kCheckpointFormatVersion, version > kCheckpointFormatVersion ? " (written by a newer duel?)" : "");
  const uint64_t hsize = get_u32(fixed + 12);
  if (16 + hsize + 4 > size)
    r.fail("the file is truncated: the header needs ", 16 + hsize + 4, " bytes but the file has ", size);
  std::vector<unsigned char> body((size_t)hsize + 4);
  r.read(body.data(), (size_t)hsize, true);
  const uint32_t computed = r.crc();
  r.read(body.data() + hsize, 4, true);
  const uint32_t stored = get_u32(body.data() + hsize);
  if (stored != computed)
    r.fail("header CRC mismatch (stored ", hex32(stored), ", computed ", hex32(computed),
           "): the header is corrupted; restore the file from a backup or an earlier checkpoint");

  // The CRC only proves that the header is what its writer wrote, not that the writer was duel:
  // a checkpoint from someone else is input. Every count, length, size and offset below is
  // checked against the header and the file before it is used, so a crafted file gives an error
  // and never an out-of-bounds read, an overflow or a huge allocation.
  Parsed out;
  out.header_end = 16 + hsize + 4;
  Cursor c{body.data(), hsize, 0, r};
  const uint64_t n_meta = c.u64("metadata count");
  if (n_meta > (hsize - c.i) / 12)  // each entry takes at least 12 bytes (two lengths)
    r.fail("malformed header: it claims ", n_meta, " metadata entries, more than its ", hsize, " bytes can hold");
  for (uint64_t k = 0; k < n_meta; ++k) {
    std::string key = c.str(c.u32("metadata key length"), "metadata key");
    std::string value = c.str(c.u64("metadata value length"), "metadata value");
    if (!out.meta.emplace(std::move(key), std::move(value)).second) r.fail("malformed header: duplicate metadata key");
  }
  const uint64_t n_tensors = c.u64("tensor count");
  if (n_tensors > (hsize - c.i) / 32)  // each tensor entry takes at least 32 bytes
    r.fail("malformed header: it claims ", n_tensors, " tensors, more than its ", hsize, " bytes can hold");
  uint64_t prev_end = out.header_end;
  std::set<std::string> names;
  for (uint64_t k = 0; k < n_tensors; ++k) {
    ParsedEntry e;
    e.name = c.str(c.u32("tensor name length"), "tensor name");
    const uint8_t code = c.u8("dtype code");
    if (!dtype_from_code(code, e.dtype))
      r.fail("tensor '", e.name, "': unknown dtype code ", (int)code, " (written by a newer duel, or corrupted)");
    const uint8_t flags = c.u8("flags");
    const uint16_t reserved = c.u16("reserved field");
    if (flags != 0 || reserved != 0)
      r.fail("malformed header: tensor '", e.name, "' has flags ", (int)flags, " and reserved field ", reserved,
             "; format version 1 requires both to be 0");
    const uint32_t ndim = c.u32("ndim");
    if (ndim > 64) r.fail("malformed header: tensor '", e.name, "' claims ", ndim, " dimensions (at most 64)");
    // numel: the element count; span: the product of max(dim, 1), which bounds the strides a
    // tensor of these sizes gets (a zero dim makes numel 0 but not the other dims harmless)
    constexpr uint64_t kMaxElements = uint64_t(1) << 56;
    uint64_t numel = 1, span = 1;
    for (uint32_t d = 0; d < ndim; ++d) {
      const uint64_t raw = c.u64("dims");
      const int64_t v = (int64_t)raw;
      if (v < 0 || (v > 0 && span > kMaxElements / (uint64_t)v))
        r.fail("malformed header: tensor '", e.name, "' has an invalid dimension ", v, " (dimension ", d, " of ", ndim,
               "; sizes must be non-negative and their product at most 2^56)");
      e.dims.push_back(v);
      numel *= (uint64_t)v;
      span *= std::max<uint64_t>((uint64_t)v, 1);
    }
    e.offset = c.u64("payload offset");
    e.nbytes = c.u64("payload size");
    e.crc = c.u32("payload CRC");
    if (e.nbytes != numel * element_size(e.dtype))
      r.fail("malformed header: tensor '", e.name, "' ", shape_str(e.dims), " ", dtype_name(e.dtype), " needs ",
             numel * element_size(e.dtype), " bytes but the header says ", e.nbytes);
    // (whether the payloads fit in the file is checked by load_checkpoint, as truncation)
    if (e.offset < prev_end || e.offset % kAlign != 0 || e.offset > (uint64_t(1) << 62) || e.nbytes > (uint64_t(1) << 62))
      r.fail("malformed header: tensor '", e.name, "' has an invalid payload offset ", e.offset, " (", e.nbytes,
             " bytes; payloads must be 64-byte aligned and in order, after byte ", prev_end, ")");
    prev_end = e.offset + e.nbytes;
    if (!names.insert(e.name).second) r.fail("malformed header: duplicate tensor name '", e.name, "'");
    out.entries.push_back(std::move(e));
  }
  if (c.i != c.n) r.fail("malformed header: ", c.n - c.i, " unexpected bytes at the end of the header");
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------

const Tensor& Checkpoint::get(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) {
    std::ostringstream names;
    size_t k = 0;
    for (auto& [n, t] : tensors) {
      if (k++ == 20) { names << ", ..."; break; }
      names << (k > 1 ? ", " : "") << "'" << n << "'";
    }
    DUEL_FAIL("checkpoint '", path, "' has no tensor '", name, "'; it has ", tensors.size(), " tensors: ", names.str());
  }
  return it->second;
}

std::string Checkpoint::meta_or(const std::string& key, const std::string& fallback) const {
  auto it = meta.find(key);
  return it == meta.end() ? fallback : it->second;
}

namespace testing {
void set_checkpoint_write_hook(std::function<void(uint64_t)> hook) { write_hook() = std::move(hook); }
}  // namespace testing

void save_checkpoint(const std::string& path, const std::map<std::string, Tensor>& tensors,
                     const std::map<std::string, std::string>& meta) {
  DUEL_CHECK(!path.empty(), "save_checkpoint: empty path");
  // 1. host copies and CRCs
  std::vector<Entry> entries;
  {
    NoGradGuard no_grad;
    for (auto& [name, t] : tensors) {
      DUEL_CHECK(t.defined(), "save_checkpoint: '", path, "': tensor '", name, "' is undefined");
      DUEL_CHECK(name.size() < (1u << 31), "save_checkpoint: '", path, "': tensor name too long");
      Entry e;
      e.name = name;
      e.data = t.detach().to(kCPU).contiguous();
      e.nbytes = (uint64_t)e.data.numel() * e.data.element_size();
      e.crc = crc_update(crc_init(), e.data.raw_data(), (size_t)e.nbytes);
      entries.push_back(std::move(e));
    }
  }
  // 2. header
  std::string body;
  put_u64(body, meta.size());
  for (auto& [k, v] : meta) {
    DUEL_CHECK(k.size() < (1u << 31), "save_checkpoint: '", path, "': metadata key too long");
    put_u32(body, (uint32_t)k.size());
    body += k;
    put_u64(body, v.size());
    body += v;
  }
  put_u64(body, entries.size());
  // offsets depend on the header size, which does not depend on the offsets' values
  size_t size_wo_entries = body.size();
  uint64_t entries_size = 0;
  for (auto& e : entries) entries_size += 4 + e.name.size() + 4 + 4 + 8 * e.data.dim() + 8 + 8 + 4;
  const uint64_t hsize = size_wo_entries + entries_size;
  DUEL_CHECK(hsize < (uint64_t(1) << 32), "save_checkpoint: '", path, "': header too large (", hsize,
             " bytes); metadata values must total under 4 GiB");
  uint64_t offset = align_up(16 + hsize + 4);
  for (auto& e : entries) {
    e.offset = offset;
    offset = align_up(offset + e.nbytes);
  }
  for (auto& e : entries) {
    put_u32(body, (uint32_t)e.name.size());
    body += e.name;
    body.push_back((char)dtype_code(e.data.dtype()));
    body.push_back(0);
    put_u16(body, 0);
    put_u32(body, (uint32_t)e.data.dim());
    for (auto d : e.data.sizes()) put_u64(body, (uint64_t)d);
    put_u64(body, e.offset);
    put_u64(body, e.nbytes);
    put_u32(body, e.crc);
  }
  std::string head(kMagic, sizeof kMagic);
  put_u32(head, kCheckpointFormatVersion);
  put_u32(head, (uint32_t)body.size());
  head += body;
  put_u32(head, crc_update(crc_init(), head.data(), head.size()));

  // 3. a temporary file next to the target, renamed over it once complete
  AtomicFile file(path, "save_checkpoint");
  Writer w{file};
  w.write(head.data(), head.size());
  for (auto& e : entries) {
    w.pad_to(e.offset);
    w.write(e.data.raw_data(), (size_t)e.nbytes);
  }
  const uint64_t data_end = file.written();
  std::string trailer(kTrailerMagic, sizeof kTrailerMagic);
  put_u64(trailer, data_end + kTrailerSize);
  put_u32(trailer, w.crc);
  put_u32(trailer, 0);
  w.write(trailer.data(), trailer.size());
  file.commit();
}

void write_file_atomic(const std::string& path, const void* data, size_t size, const char* op) {
  AtomicFile file(path, op);
  file.write(data, size);
  file.commit();
}

Checkpoint load_checkpoint(const std::string& path) {
  Reader r(path, "load_checkpoint");
  Parsed h = read_header(r);
  uint64_t data_end = h.header_end;
  for (auto& e : h.entries) data_end = std::max(data_end, e.offset + e.nbytes);
  const uint64_t expected = data_end + kTrailerSize;
  if (r.size() < expected)
    r.fail("the file is truncated: the header describes ", expected, " bytes but the file has only ", r.size(),
           " (an interrupted copy or a full disk?); use an earlier checkpoint");
  if (r.size() > expected)
    r.fail("the file has ", r.size() - expected, " unexpected bytes after the end of the checkpoint (", expected,
           " bytes); it was appended to or is corrupted");

  Checkpoint out;
  out.path = path;
  for (auto& e : h.entries) {
    r.skip_padding_to(e.offset);
    Tensor t = empty(e.dims, TensorOptions(e.dtype));
    uint32_t crc = crc_init();
    char* dst = static_cast<char*>(t.raw_data());
    for (uint64_t done = 0; done < e.nbytes;) {
      size_t chunk = (size_t)std::min<uint64_t>(e.nbytes - done, kChunk);
      r.read(dst + done, chunk);
      crc = crc_update(crc, dst + done, chunk);
      done += chunk;
    }
    if (crc != e.crc)
      r.fail("CRC mismatch in tensor '", e.name, "' ", shape_str(e.dims), " ", dtype_name(e.dtype), " (stored ",
             hex32(e.crc), ", computed ", hex32(crc), "): its data is corrupted; use an earlier checkpoint");
    out.tensors.emplace(e.name, std::move(t));
  }
  r.skip_padding_to(data_end);
  const uint32_t file_crc = r.crc();
  unsigned char trailer[kTrailerSize];
  r.read(trailer, kTrailerSize, false);
  if (std::memcmp(trailer, kTrailerMagic, sizeof kTrailerMagic) != 0)
    r.fail("the trailer is missing or corrupted (no \"DUELEND!\" at byte ", data_end, ")");
  if (get_u64(trailer + 8) != expected)
    r.fail("the trailer's file size ", get_u64(trailer + 8), " does not match the header's ", expected);
  if (get_u32(trailer + 16) != file_crc)
    r.fail("whole-file CRC mismatch (stored ", hex32(get_u32(trailer + 16)), ", computed ", hex32(file_crc),
           "): bytes outside the tensor payloads are corrupted");
  if (r.nonzero_padding_at() != 0)
    r.fail("non-zero byte in the padding at byte ", r.nonzero_padding_at(), " (padding is zero in format version 1)");
  if (get_u32(trailer + 20) != 0)
    r.fail("the trailer's reserved last word is ", hex32(get_u32(trailer + 20)), ", not 0 (corrupted or crafted)");
  out.meta = std::move(h.meta);
  return out;
}

std::map<std::string, std::string> read_checkpoint_meta(const std::string& path) {
  Reader r(path, "read_checkpoint_meta");
  return read_header(r).meta;
}

}  // namespace duel
