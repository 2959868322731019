#include "data/idx.h"

#include <zlib.h>

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

bool is_gzip_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  unsigned char m[2] = {0, 0};
  size_t n = std::fread(m, 1, 2, f);
  std::fclose(f);
  return n == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

struct GzCloser {
  void operator()(gzFile_s* f) const { if (f) gzclose(f); }
};

// Reads up to n bytes; returns the count. Throws on a decompression error (corrupt or truncated
// gzip stream).
size_t gz_read(gzFile f, void* dst, size_t n, const std::string& path, bool gz, const char* what) {
  size_t got = 0;
  char* p = static_cast<char*>(dst);
  while (got < n) {
    unsigned chunk = (unsigned)std::min<size_t>(n - got, 1u << 30);
    int r = gzread(f, p + got, chunk);
    if (r < 0 || (r == 0 && !gzeof(f))) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      DUEL_FAIL("read_idx: '", path, "': ", gz ? "gzip decompression failed" : "read failed", " while reading the ",
                what, ": ", (errnum == Z_ERRNO ? std::strerror(errno) : msg),
                gz ? " (the .gz file is corrupt or truncated; re-download or reinstall it)" : "");
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  // zlib reports a gzip stream cut short as Z_BUF_ERROR at EOF (after returning what it had)
  if (got < n && gz) {
    int errnum = Z_OK;
    const char* msg = gzerror(f, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END)
      DUEL_FAIL("read_idx: '", path, "': the gzip stream is truncated or corrupt (", msg, ") while reading the ", what,
                " (", got, " of ", n, " bytes); re-download or reinstall the file");
  }
  return got;
}

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
  if (std::filesystem::is_directory(path, ec))
    DUEL_FAIL("read_idx: '", path, "' is a directory, expected an IDX file");
  const bool gz = is_gzip_file(path);
  std::unique_ptr<gzFile_s, GzCloser> f(gzopen(path.c_str(), "rb"));
  if (!f) DUEL_FAIL("read_idx: cannot open '", path, "': ", std::strerror(errno));
  gzbuffer(f.get(), 1 << 18);

  unsigned char magic[4];
  size_t got = gz_read(f.get(), magic, 4, path, gz, "header");
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
  got = gz_read(f.get(), dimbytes.data(), dimbytes.size(), path, gz, "dimensions");
  if (got < dimbytes.size())
    DUEL_FAIL("read_idx: '", path, "' is truncated in the header: it declares ", ndim, " dimensions (", 4 * ndim,
              " bytes) but only ", got, " bytes follow the magic");
  IdxArray out;
  int64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    const unsigned char* b = &dimbytes[4 * d];
    uint32_t v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    out.dims.push_back((int64_t)v);
    if (v != 0 && numel > (int64_t(1) << 40) / (int64_t)v)
      DUEL_FAIL("read_idx: '", path, "': implausible dimensions ", shape_str(out.dims), " (over 2^40 bytes)");
    numel *= (int64_t)v;
  }

  out.data.resize((size_t)numel);
  got = gz_read(f.get(), out.data.data(), out.data.size(), path, gz, "payload");
  if ((int64_t)got < numel)
    DUEL_FAIL("read_idx: '", path, "' is truncated: the header's dims ", shape_product_str(out.dims), " need ", numel,
              " bytes of data but only ", got, " follow the header", gz ? " (after gzip decompression)" : "",
              "; the file is incomplete, re-download or reinstall it");
  // anything left means the dims do not describe the payload
  std::vector<char> extra(1 << 16);
  size_t surplus = 0;
  for (;;) {
    size_t r = gz_read(f.get(), extra.data(), extra.size(), path, gz, "end of the payload");
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
