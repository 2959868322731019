#include "data/idx.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>
#include <type_traits>

namespace duel {

namespace {

const char* kInstallHint =
    "Fashion-MNIST comes with the Debian package dataset-fashion-mnist "
    "(apt-get install dataset-fashion-mnist); or point DUEL_FASHION_MNIST_DIR (or the dir argument) "
    "at a directory holding the original {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] files";

const char* idx_type_name(int code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
  }
  return "unknown";
}

struct FileCloser {
  void operator()(FILE* f) const { if (f) std::fclose(f); }
};

// The bytes of an IDX file, plain or gzip-compressed, read front to back.
//
// Plain files: the size is known up front (fstat), so the reader can check the header's dims
// against it before allocating anything.
//
// Gzip files are inflated with zlib's gzip decoder (inflateInit2 with 16 + MAX_WBITS), which
// checks the trailer: the CRC32 and the length (ISIZE) of the decompressed data. read() only
// reports the end of the data once every member has ended with Z_STREAM_END and its trailer
// has been verified; a stream cut short, a corrupt stream, a CRC or length mismatch, and bytes
// after the last member that do not start another gzip member all throw, naming the file.
// Concatenated members (`cat a.gz b.gz`) are read as one stream, as gzip(1) does.
class IdxSource {
 public:
  explicit IdxSource(const std::string& path) : path_(path) {
    f_.reset(std::fopen(path.c_str(), "rb"));
    if (!f_) DUEL_FAIL("read_idx: cannot open '", path, "': ", std::strerror(errno));
    struct stat st;
    if (::fstat(::fileno(f_.get()), &st) != 0) DUEL_FAIL("read_idx: cannot stat '", path, "': ", std::strerror(errno));
    if (S_ISDIR(st.st_mode)) DUEL_FAIL("read_idx: '", path, "' is a directory, expected an IDX file");
    file_size_ = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    fill(2);
    gz_ = avail_ >= 2 && in_[pos_] == 0x1f && in_[pos_ + 1] == 0x8b;
    if (gz_) {
      std::memset(&z_, 0, sizeof z_);
      if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) DUEL_FAIL("read_idx: '", path, "': zlib initialisation failed");
      z_open_ = true;
    }
  }
  ~IdxSource() {
    if (z_open_) inflateEnd(&z_);
  }
  IdxSource(const IdxSource&) = delete;
  IdxSource& operator=(const IdxSource&) = delete;

  bool gz() const { return gz_; }
  uint64_t file_size() const { return file_size_; }

  // Reads up to n bytes and returns the count; fewer than n only at the (verified) end of the
  // data. `what` names the part being read in error messages.
  size_t read(void* dst, size_t n, const char* what) { return gz_ ? inflate_some(dst, n, what) : read_raw(dst, n, what); }

 private:
  static constexpr size_t kInBuf = size_t(1) << 18;

  // Makes at least `want` unread input bytes available in in_ if the file has them.
  void fill(size_t want) {
    if (avail_ >= want || eof_) return;
    if (pos_ > 0) {
      std::memmove(in_.data(), in_.data() + pos_, avail_);
      pos_ = 0;
    }
    while (avail_ < want && !eof_) {
      size_t r = std::fread(in_.data() + avail_, 1, in_.size() - avail_, f_.get());
      if (r == 0) {
        if (std::ferror(f_.get())) DUEL_FAIL("read_idx: '", path_, "': read error: ", std::strerror(errno));
        eof_ = true;
      }
      avail_ += r;
    }
  }

  size_t read_raw(void* dst, size_t n, const char*) {
    char* p = static_cast<char*>(dst);
    size_t got = 0;
    while (got < n) {
      fill(1);
      if (avail_ == 0) break;
      const size_t k = std::min(n - got, avail_);
      std::memcpy(p + got, in_.data() + pos_, k);
      pos_ += k, avail_ -= k, got += k;
    }
    return got;
  }

  size_t inflate_some(void* dst, size_t n, const char* what) {
    unsigned char* p = static_cast<unsigned char*>(dst);
    size_t got = 0;
    while (got < n && !finished_) {
      fill(1);
      if (avail_ == 0)
        DUEL_FAIL("read_idx: '", path_, "': the gzip stream is truncated: the file ends before the end of the ",
                  "compressed data (while reading the ", what, ", ", produced_, " bytes decompressed so far); ",
                  "the file is incomplete, re-download or reinstall it");
      z_.next_in = in_.data() + pos_;
      z_.avail_in = (uInt)std::min<size_t>(avail_, 1u << 30);
      z_.next_out = p + got;
      z_.avail_out = (uInt)std::min<size_t>(n - got, 1u << 30);
      const uInt in_before = z_.avail_in, out_before = z_.avail_out;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      const size_t used = in_before - z_.avail_in, made = out_before - z_.avail_out;
      pos_ += used, avail_ -= used, got += made, produced_ += made;
      if (rc == Z_STREAM_END) {
        // the member's trailer (CRC32 and ISIZE) has been verified; is there another member?
        fill(2);
        if (avail_ == 0) {
          finished_ = true;
        } else if (avail_ >= 2 && in_[pos_] == 0x1f && in_[pos_ + 1] == 0x8b) {
          inflateReset(&z_);
        } else {
          uint64_t rest = avail_;
          if (file_size_ > 0) rest = file_size_ - consumed_total();
          DUEL_FAIL("read_idx: '", path_, "': ", rest, " bytes of trailing garbage after the end of the gzip stream ",
                    "(at byte ", consumed_total(), " of the file); the file is corrupt or was appended to");
        }
      } else if (rc == Z_BUF_ERROR) {
        if (used == 0 && made == 0 && avail_ > 0)  // cannot happen with room for output; guard against a spin
          DUEL_FAIL("read_idx: '", path_, "': gzip decompression made no progress (", z_.msg ? z_.msg : "Z_BUF_ERROR", ")");
      } else if (rc != Z_OK) {
        const char* msg = z_.msg ? z_.msg : zError(rc);
        DUEL_FAIL("read_idx: '", path_, "': gzip decompression failed while reading the ", what, ": ", msg,
                  " (after ", produced_, " decompressed bytes); the .gz file is corrupt, re-download or reinstall it");
      }
    }
    return got;
  }

  uint64_t consumed_total() const { return read_total() - avail_; }
  uint64_t read_total() const { return (uint64_t)std::ftell(f_.get()); }

  std::string path_;
  std::unique_ptr<FILE, FileCloser> f_;
  uint64_t file_size_ = 0;
  std::vector<unsigned char> in_ = std::vector<unsigned char>(kInBuf);
  size_t pos_ = 0, avail_ = 0;
  bool eof_ = false;
  bool gz_ = false;
  z_stream z_;
  bool z_open_ = false;
  bool finished_ = false;
  uint64_t produced_ = 0;
};

std::string shape_product_str(const Shape& dims) {
  std::ostringstream os;
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? " x " : "") << dims[i];
  return os.str();
}

}  // namespace

Tensor IdxArray::to_tensor(DType dtype) const {
  DUEL_CHECK(dtype == kFloat32 || dtype == kFloat64 || dtype == kInt64,
             "IdxArray::to_tensor: dtype must be float32, float64 or int64, got ", dtype_name(dtype));
  DUEL_CHECK(shape_numel(dims) == (int64_t)data.size(), "IdxArray::to_tensor: dims ", shape_str(dims), " hold ",
             shape_numel(dims), " elements but there are ", data.size(), " bytes");
  Tensor t = empty(dims, TensorOptions(dtype));
  const uint8_t* s = data.data();
  const int64_t n = (int64_t)data.size();
  auto fill = [&](auto* p) {
#pragma omp parallel for if (n >= (1 << 20))
    for (int64_t i = 0; i < n; ++i) p[i] = (std::remove_pointer_t<decltype(p)>)s[i];
  };
  if (dtype == kFloat32) fill(t.data<float>());
  else if (dtype == kFloat64) fill(t.data<double>());
  else fill(t.data<int64_t>());
  return t;
}

IdxArray read_idx(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    DUEL_FAIL("read_idx: '", path, "' does not exist");
  IdxSource src(path);
  const bool gz = src.gz();

  unsigned char magic[4];
  size_t got = src.read(magic, 4, "header");
  if (got < 4)
    DUEL_FAIL("read_idx: '", path, "' is truncated: ", got, " bytes, too short for the 4-byte IDX magic",
              gz ? " (after gzip decompression)" : "");
  if (magic[0] != 0 || magic[1] != 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02x %02x %02x %02x", magic[0], magic[1], magic[2], magic[3]);
    DUEL_FAIL("read_idx: '", path, "' is not an IDX file: bad magic ", buf,
              " (an IDX file starts with 00 00 <type> <ndims>, e.g. 00 00 08 03 for uint8 images)");
  }
  const int type = magic[2], ndim = magic[3];
  if (type != 0x08) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%02X", type);
    DUEL_FAIL("read_idx: '", path, "': unsupported IDX dtype code ", buf, " (", idx_type_name(type),
              "); only 0x08 (unsigned byte) is supported");
  }
  if (ndim < 1) DUEL_FAIL("read_idx: '", path, "': IDX header declares 0 dimensions; expected at least 1");

  std::vector<unsigned char> dimbytes(4 * (size_t)ndim);
  got = src.read(dimbytes.data(), dimbytes.size(), "dimensions");
  if (got < dimbytes.size())
    DUEL_FAIL("read_idx: '", path, "' is truncated in the header: it declares ", ndim, " dimensions (", 4 * ndim,
              " bytes) but only ", got, " bytes follow the magic");
  const uint64_t header_bytes = 4 + dimbytes.size();
  IdxArray out;
  // numel: the byte count; span: the product of max(dim, 1). A zero dim makes numel 0, but the
  // other dims still become the tensor's sizes and strides, so their product is bounded too.
  int64_t numel = 1, span = 1;
  for (int d = 0; d < ndim; ++d) {
    const unsigned char* b = &dimbytes[4 * d];
    uint32_t v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    out.dims.push_back((int64_t)v);
    if (v != 0 && span > (int64_t(1) << 40) / (int64_t)v)
      DUEL_FAIL("read_idx: '", path, "': implausible dimensions ", shape_str(out.dims),
                " (their product, zeros left out, is over 2^40)");
    numel *= (int64_t)v;
    span *= std::max<int64_t>(v, 1);
  }

  // The header is input, not a promise: never allocate more than the file can hold.
  if (!gz && src.file_size() > 0) {
    // a plain file's payload size is known exactly
    const uint64_t payload = src.file_size() - header_bytes;
    if ((uint64_t)numel > payload)
      DUEL_FAIL("read_idx: '", path, "' is truncated: the header's dims ", shape_product_str(out.dims), " need ", numel,
                " bytes of data but only ", payload, " follow the header (the file has ", src.file_size(),
                " bytes); the file is incomplete, re-download or reinstall it");
  } else if (gz && src.file_size() > 0) {
    // deflate expands at most 1032:1, so a .gz file of N bytes cannot hold more than about 1032 N
    const uint64_t most = src.file_size() * 1032 + 1024;
    if ((uint64_t)numel + header_bytes > most)
      DUEL_FAIL("read_idx: '", path, "': the header's dims ", shape_product_str(out.dims), " need ", numel,
                " bytes of data, but a gzip file of ", src.file_size(), " bytes decompresses to at most ", most,
                " bytes; the header is corrupt or the file is truncated");
  }

  // Grow the buffer as the data arrives (geometrically), so a lying header in a gzip file (or a
  // pipe) costs at most about twice the data that is really there.
  constexpr size_t kChunk = size_t(1) << 22;
  out.data.reserve((size_t)std::min<int64_t>(numel, int64_t(64) << 20));
  size_t have = 0;
  while (have < (size_t)numel) {
    const size_t want = std::min<size_t>((size_t)numel - have, kChunk);
    if (out.data.size() < have + want) out.data.resize(have + want);
    const size_t r = src.read(out.data.data() + have, want, "payload");
    have += r;
    if (r < want) break;
  }
  if ((int64_t)have < numel)
    DUEL_FAIL("read_idx: '", path, "' is truncated: the header's dims ", shape_product_str(out.dims), " need ", numel,
              " bytes of data but only ", have, " follow the header", gz ? " (after gzip decompression)" : "",
              "; the file is incomplete, re-download or reinstall it");
  // anything left means the dims do not describe the payload (reading to the end of a gzip
  // stream also verifies its CRC32 and length)
  std::vector<char> extra(1 << 16);
  uint64_t surplus = 0;
  for (;;) {
    size_t r = src.read(extra.data(), extra.size(), "end of the payload");
    surplus += r;
    if (r < extra.size()) break;
  }
  if (surplus)
    DUEL_FAIL("read_idx: '", path, "': the product of the dims ", shape_product_str(out.dims), " = ", numel,
              " does not match the payload: ", surplus, " extra bytes follow the data (", numel + (int64_t)surplus,
              " payload bytes in total); the header or the file is wrong");
  return out;
}

Tensor read_idx_tensor(const std::string& path, DType dtype) { return read_idx(path).to_tensor(dtype); }

void write_idx(const std::string& path, const Shape& dims, const std::vector<uint8_t>& data, bool gzip) {
  DUEL_CHECK(!dims.empty() && dims.size() <= 255, "write_idx: '", path, "': need 1..255 dims, got ", dims.size());
  for (auto d : dims)
    DUEL_CHECK(d >= 0 && d <= 0xffffffffLL, "write_idx: '", path, "': dim out of range in ", shape_str(dims));
  DUEL_CHECK(shape_numel(dims) == (int64_t)data.size(), "write_idx: '", path, "': dims ", shape_str(dims), " hold ",
             shape_numel(dims), " bytes but ", data.size(), " were given");
  std::vector<unsigned char> buf = {0, 0, 0x08, (unsigned char)dims.size()};
  for (auto d : dims) {
    uint32_t v = (uint32_t)d;
    buf.insert(buf.end(), {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v});
  }
  buf.insert(buf.end(), data.begin(), data.end());
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb6");
    if (!f) DUEL_FAIL("write_idx: cannot create '", path, "': ", std::strerror(errno));
    size_t off = 0;
    bool ok = true;
    while (off < buf.size() && ok) {
      unsigned chunk = (unsigned)std::min<size_t>(buf.size() - off, 1u << 30);
      ok = gzwrite(f, buf.data() + off, chunk) == (int)chunk;
      off += chunk;
    }
    if (gzclose(f) != Z_OK || !ok) DUEL_FAIL("write_idx: writing '", path, "' failed");
  } else {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) DUEL_FAIL("write_idx: cannot create '", path, "': ", std::strerror(errno));
    bool ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
    if (std::fclose(f) != 0 || !ok) DUEL_FAIL("write_idx: writing '", path, "' failed");
  }
}

// ---------------------------------------------------------------------------
// Fashion-MNIST
// ---------------------------------------------------------------------------

std::string fashion_mnist_dir(const std::string& dir) {
  if (!dir.empty()) return dir;
  const char* env = std::getenv(kFashionMnistDirEnv);
  if (env && *env) return env;
  return kFashionMnistDefaultDir;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

namespace {

std::string find_idx_file(const std::string& dir, const std::string& stem, const std::string& source) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const char* ext : {".gz", ""}) {
    fs::path p = fs::path(dir) / (stem + ext);
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  std::string why = fs::is_directory(dir, ec) ? "" : " (the directory does not exist)";
  DUEL_FAIL("load_fashion_mnist: cannot find ", stem, ".gz (or ", stem, ") in '", dir, "'", why, "; directory taken from ",
            source, ". ", kInstallHint);
}

}  // namespace

ImageDataset load_fashion_mnist(const std::string& split, const std::string& dir_arg, bool normalize, int64_t limit) {
  std::string prefix;
  if (split == "train") prefix = "train";
  else if (split == "test" || split == "t10k") prefix = "t10k";
  else DUEL_FAIL("load_fashion_mnist: unknown split '", split, "'; expected \"train\" or \"test\"");

  const char* env = std::getenv(kFashionMnistDirEnv);
  std::string source = !dir_arg.empty()          ? std::string("the dir argument")
                       : (env && *env)           ? std::string("$") + kFashionMnistDirEnv
                                                 : std::string("the default location");
  const std::string dir = fashion_mnist_dir(dir_arg);
  const std::string img_path = find_idx_file(dir, prefix + "-images-idx3-ubyte", source);
  const std::string lbl_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte", source);

  IdxArray imgs = read_idx(img_path);
  IdxArray lbls = read_idx(lbl_path);
  if (imgs.dims.size() != 3)
    DUEL_FAIL("load_fashion_mnist: '", img_path, "' has dims ", shape_str(imgs.dims),
              "; expected 3 dims [N, rows, cols] (an idx3 image file)");
  if (lbls.dims.size() != 1)
    DUEL_FAIL("load_fashion_mnist: '", lbl_path, "' has dims ", shape_str(lbls.dims),
              "; expected 1 dim [N] (an idx1 label file)");
  if (imgs.dims[0] != lbls.dims[0])
    DUEL_FAIL("load_fashion_mnist: images/labels count mismatch: '", img_path, "' has ", imgs.dims[0], " images but '",
              lbl_path, "' has ", lbls.dims[0], " labels; the two files must come from the same split and release");
  for (size_t i = 0; i < lbls.data.size(); ++i)
    if (lbls.data[i] > 9)
      DUEL_FAIL("load_fashion_mnist: '", lbl_path, "': label ", (int)lbls.data[i], " at index ", i,
                " is out of range 0..9; is this really a Fashion-MNIST label file?");

  int64_t n = imgs.dims[0];
  if (limit >= 0 && limit < n) n = limit;
  const int64_t rows = imgs.dims[1], cols = imgs.dims[2], per = rows * cols;

  ImageDataset ds;
  ds.images = empty({n, 1, rows, cols}, TensorOptions(kFloat32));
  float* p = ds.images.data<float>();
  const uint8_t* s = imgs.data.data();
  const int64_t total = n * per;
  if (normalize) {
#pragma omp parallel for if (total >= (1 << 20))
    for (int64_t i = 0; i < total; ++i) p[i] = ((float)s[i] - 127.5f) / 127.5f;  // 0 -> -1, 255 -> 1 exactly
  } else {
#pragma omp parallel for if (total >= (1 << 20))
    for (int64_t i = 0; i < total; ++i) p[i] = (float)s[i];
  }
  ds.labels = empty({n}, TensorOptions(kInt64));
  int64_t* l = ds.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) l[i] = lbls.data[i];
  return ds;
}

}  // namespace duel
