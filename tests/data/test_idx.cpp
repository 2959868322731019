// IDX reading (raw and gzip), its error messages, and the Fashion-MNIST loader.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <unistd.h>
#include <zlib.h>

#include "data/idx.h"
#include "tests/fixture.h"
#include "duel.h"

using namespace duel;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("duel_test_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::vector<uint8_t> read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), (std::streamsize)b.size());
}

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (uint8_t)((i * 37 + 11) % 256);
  return v;
}

}  // namespace

TEST_CASE("idx: raw and gzip round trip", "[data][idx]") {
  TempDir dir("idx_rt");
  const Shape dims = {3, 4, 5};
  const auto bytes = pattern(60);
  for (bool gz : {false, true}) {
    const std::string p = dir / (gz ? "a.idx.gz" : "a.idx");
    write_idx(p, dims, bytes, gz);
    auto raw = read_bytes(p);
    if (gz) REQUIRE((raw[0] == 0x1f && raw[1] == 0x8b));
    else REQUIRE(raw.size() == 4 + 12 + 60);
    IdxArray a = read_idx(p);
    REQUIRE(a.dims == dims);
    REQUIRE(a.data == bytes);
    Tensor t = read_idx_tensor(p, kInt64);
    REQUIRE(t.sizes() == dims);
    REQUIRE(t.dtype() == kInt64);
    auto v = t.to_vector<int64_t>();
    for (size_t i = 0; i < v.size(); ++i) REQUIRE(v[i] == bytes[i]);
    REQUIRE(a.to_tensor().dtype() == kFloat32);
  }
  // 1-d label file
  write_idx(dir / "l.idx", {7}, {0, 1, 2, 3, 4, 5, 6});
  REQUIRE(read_idx(dir / "l.idx").dims == Shape{7});
}

TEST_CASE("idx: corrupt files give errors naming the file and the problem", "[data][idx]") {
  TempDir dir("idx_bad");
  const auto bytes = pattern(2 * 3 * 4);
  write_idx(dir / "good.idx", {2, 3, 4}, bytes);
  const auto good = read_bytes(dir / "good.idx");

  SECTION("missing file") {
    REQUIRE_THROWS_WITH(read_idx(dir / "nope.idx"), Contains("nope.idx") && Contains("does not exist"));
  }
  SECTION("truncated payload (raw)") {
    const std::string p = dir / "trunc.idx";
    write_bytes(p, std::vector<uint8_t>(good.begin(), good.end() - 5));
    REQUIRE_THROWS_WITH(read_idx(p), Contains("trunc.idx") && Contains("truncated") && Contains("24 bytes") &&
                                         Contains("only 19"));
  }
  SECTION("truncated header") {
    const std::string p = dir / "hdr.idx";
    write_bytes(p, std::vector<uint8_t>(good.begin(), good.begin() + 9));
    REQUIRE_THROWS_WITH(read_idx(p), Contains("hdr.idx") && Contains("truncated") && Contains("header"));
    write_bytes(p, std::vector<uint8_t>(good.begin(), good.begin() + 2));
    REQUIRE_THROWS_WITH(read_idx(p), Contains("hdr.idx") && Contains("truncated"));
  }
  SECTION("truncated gzip stream") {
    const std::string gz = dir / "big.idx.gz";
    write_idx(gz, {50, 28, 28}, pattern(50 * 28 * 28), true);
    auto z = read_bytes(gz);
    const std::string p = dir / "cut.idx.gz";
    write_bytes(p, std::vector<uint8_t>(z.begin(), z.begin() + (long)z.size() / 2));
    REQUIRE_THROWS_WITH(read_idx(p), Contains("cut.idx.gz") && Contains("truncated"));
  }
  SECTION("wrong magic") {
    auto b = good;
    b[0] = 0x12;
    write_bytes(dir / "magic.idx", b);
    REQUIRE_THROWS_WITH(read_idx(dir / "magic.idx"), Contains("magic.idx") && Contains("bad magic") &&
                                                         Contains("12 00 08 03"));
  }
  SECTION("wrong dtype code") {
    auto b = good;
    b[2] = 0x0D;
    write_bytes(dir / "float.idx", b);
    REQUIRE_THROWS_WITH(read_idx(dir / "float.idx"), Contains("float.idx") && Contains("0x0D") &&
                                                         Contains("float32") && Contains("only 0x08"));
  }
  SECTION("dims product does not match the payload") {
    auto b = good;
    b.insert(b.end(), {1, 2, 3});
    write_bytes(dir / "extra.idx", b);
    REQUIRE_THROWS_WITH(read_idx(dir / "extra.idx"), Contains("extra.idx") && Contains("does not match the payload") &&
                                                         Contains("3 extra bytes"));
  }
  SECTION("zero dims") {
    write_bytes(dir / "zero.idx", {0, 0, 8, 0});
    REQUIRE_THROWS_WITH(read_idx(dir / "zero.idx"), Contains("zero.idx") && Contains("0 dimensions"));
  }
  SECTION("a zero dim does not excuse huge others (found by the idx_reader fuzzer)") {
    // [1, 2, 0, 3506396928, 4279174149] holds 0 bytes, but as tensor sizes its strides overflow
    write_bytes(dir / "zerohuge.idx", {0, 0, 8, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0xd0, 0xff, 0x5f, 0,
                                       0xff, 0x0f, 0x04, 0x05});
    REQUIRE_THROWS_WITH(read_idx(dir / "zerohuge.idx"), Contains("zerohuge.idx") && Contains("implausible dimensions") &&
                                                             Contains("[1, 2, 0, 3506396928, 4279174149]"));
    // a zero dim with sane others is an empty array
    write_bytes(dir / "empty.idx", {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28});
    IdxArray e = read_idx(dir / "empty.idx");
    REQUIRE(e.dims == Shape{0, 28, 28});
    REQUIRE(e.data.empty());
    REQUIRE(e.to_tensor().sizes() == Shape{0, 28, 28});
  }
}

TEST_CASE("idx: load_fashion_mnist on synthetic files, overrides and errors", "[data][idx]") {
  TempDir dir("fmnist_fake");
  const int64_t n = 6;
  auto imgs = pattern(n * 28 * 28);
  imgs[0] = 0;
  imgs[1] = 255;
  write_idx(dir / "train-images-idx3-ubyte.gz", {n, 28, 28}, imgs, true);
  write_idx(dir / "train-labels-idx1-ubyte", {n}, {3, 1, 4, 1, 5, 9});  // uncompressed is accepted too

  ImageDataset ds = load_fashion_mnist("train", dir.path.string());
  REQUIRE(ds.size() == n);
  REQUIRE(ds.images.sizes() == Shape{n, 1, 28, 28});
  REQUIRE(ds.images.dtype() == kFloat32);
  REQUIRE(ds.labels.dtype() == kInt64);
  REQUIRE(ds.labels.to_vector<int64_t>() == std::vector<int64_t>{3, 1, 4, 1, 5, 9});
  auto px = ds.images.to_vector<float>();
  REQUIRE(px[0] == -1.0f);
  REQUIRE(px[1] == 1.0f);
  REQUIRE(px[2] == Approx(imgs[2] / 127.5 - 1.0));

  ImageDataset raw = load_fashion_mnist("train", dir.path.string(), /*normalize=*/false, /*limit=*/2);
  REQUIRE(raw.size() == 2);
  REQUIRE(raw.images.to_vector<float>()[1] == 255.0f);

  {  // environment variable override
    test::ScopedEnv env(kFashionMnistDirEnv, dir.path.string());
    REQUIRE(fashion_mnist_dir() == dir.path.string());
    REQUIRE(load_fashion_mnist("train").size() == n);
    REQUIRE(fashion_mnist_dir("/x") == "/x");  // the argument wins
  }

  SECTION("count mismatch") {
    write_idx(dir / "train-labels-idx1-ubyte", {n - 1}, {3, 1, 4, 1, 5});
    REQUIRE_THROWS_WITH(load_fashion_mnist("train", dir.path.string()),
                        Contains("count mismatch") && Contains("6 images") && Contains("5 labels") &&
                            Contains("train-labels-idx1-ubyte"));
  }
  SECTION("missing files name the directory and how to install") {
    REQUIRE_THROWS_WITH(load_fashion_mnist("test", dir.path.string()),
                        Contains("t10k-images-idx3-ubyte") && Contains(dir.path.string()) &&
                            Contains("apt-get install dataset-fashion-mnist") && Contains(kFashionMnistDirEnv));
    REQUIRE_THROWS_WITH(load_fashion_mnist("train", (dir.path / "missing").string()),
                        Contains("does not exist") && Contains("dataset-fashion-mnist"));
  }
  SECTION("label out of range, wrong rank, unknown split") {
    write_idx(dir / "train-labels-idx1-ubyte", {n}, {3, 1, 4, 1, 5, 10});
    REQUIRE_THROWS_WITH(load_fashion_mnist("train", dir.path.string()), Contains("label 10") && Contains("index 5"));
    write_idx(dir / "train-labels-idx1-ubyte", {n, 1}, {3, 1, 4, 1, 5, 9});
    REQUIRE_THROWS_WITH(load_fashion_mnist("train", dir.path.string()), Contains("expected 1 dim"));
    REQUIRE_THROWS_WITH(load_fashion_mnist("validation", dir.path.string()), Contains("unknown split 'validation'"));
  }
}

TEST_CASE("idx: the real Fashion-MNIST test set", "[data][idx][fashion-mnist]") {
  const std::string dir = kFashionMnistDefaultDir;
  if (!fs::exists(fs::path(dir) / "t10k-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST not installed at " << dir << " (apt-get install dataset-fashion-mnist); skipped");
    return;
  }
  IdxArray lbl = read_idx(dir + "/t10k-labels-idx1-ubyte.gz");
  REQUIRE(lbl.dims == Shape{10000});
  // reference values from an independent reader (python3 gzip + struct)
  REQUIRE(std::vector<uint8_t>(lbl.data.begin(), lbl.data.begin() + 10) ==
          std::vector<uint8_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7});
  REQUIRE(std::accumulate(lbl.data.begin(), lbl.data.end(), int64_t(0)) == 45000);

  ImageDataset ds = load_fashion_mnist("test", dir, /*normalize=*/false);
  REQUIRE(ds.images.sizes() == Shape{10000, 1, 28, 28});
  REQUIRE(ds.labels.sizes() == Shape{10000});
  REQUIRE(ds.labels.to_vector<int64_t>()[0] == 9);
  auto px = ds.images.to_vector<float>();
  double first = 0, all = 0;
  for (size_t i = 0; i < px.size(); ++i) {
    all += px[i];
    if (i < 784) first += px[i];
  }
  REQUIRE(first == 33456);
  REQUIRE(all == 573469082.0);

  ImageDataset norm = load_fashion_mnist("test", dir, true, 100);
  REQUIRE(norm.size() == 100);
  auto pn = norm.images.to_vector<float>();
  REQUIRE(*std::min_element(pn.begin(), pn.end()) == -1.0f);
  REQUIRE(*std::max_element(pn.begin(), pn.end()) == 1.0f);
}

// ---------------------------------------------------------------------------
// Integrity of gzip files and headers that lie (input, not trusted state)
// ---------------------------------------------------------------------------

namespace {

// Image-like bytes: mostly zeros with noisy blobs, so that gzip compresses them about as well as
// Fashion-MNIST and the deflate stream has literal, match and Huffman-table bits to flip.
std::vector<uint8_t> image_like(size_t n, uint32_t seed = 1) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    const size_t col = i % 28, row = (i / 28) % 28;
    v[i] = (col > 6 && col < 22 && row > 4 && row < 24) ? (uint8_t)(x >> 24) : 0;
  }
  return v;
}

}  // namespace

TEST_CASE("idx: a gzip file cut short anywhere is rejected, naming the file", "[data][idx]") {
  TempDir dir("idx_gzcut");
  // 3000 images (2.3 MB): above about 2 MB, zlib's gzread returned the data of a stream cut
  // inside its last block or trailer without an error, and read_idx accepted the file
  const int64_t n = 3000;
  const std::string gz = dir / "train-images-idx3-ubyte.gz";
  write_idx(gz, {n, 28, 28}, image_like(n * 28 * 28), true);
  const auto z = read_bytes(gz);
  REQUIRE(read_idx(gz).data == image_like(n * 28 * 28));
  // the last 8 bytes are the trailer (CRC32, ISIZE)
  for (size_t cut : {size_t(1), size_t(2), size_t(4), size_t(5), size_t(8), size_t(9), size_t(100), z.size() / 2}) {
    INFO("cut the last " << cut << " bytes");
    const std::string p = dir / "cut.idx.gz";
    write_bytes(p, std::vector<uint8_t>(z.begin(), z.end() - (long)cut));
    REQUIRE_THROWS_WITH(read_idx(p), Contains("cut.idx.gz") && Contains("truncated"));
  }
}

TEST_CASE("idx: a bit flip anywhere in a gzip file's data or trailer is rejected", "[data][idx]") {
  TempDir dir("idx_gzflip");
  const std::string gz = dir / "good.idx.gz";
  write_idx(gz, {20, 28, 28}, image_like(20 * 28 * 28, 7), true);
  const auto z = read_bytes(gz);
  REQUIRE(z.size() > 200);
  // bytes 0..9 are the gzip header; its MTIME, XFL and OS bytes (4..9) are covered by no
  // checksum in the gzip format, so flips are made in the deflate data and the trailer
  std::vector<size_t> at;
  for (int k = 0; k < 15; ++k) at.push_back(10 + (z.size() - 10 - 10) * k / 14);  // spread over the deflate data
  for (size_t t = z.size() - 8; t < z.size(); ++t) at.push_back(t);               // CRC32 and ISIZE
  int rejected = 0;
  for (size_t i = 0; i < at.size(); ++i) {
    auto b = z;
    b[at[i]] ^= (uint8_t)(1u << (i % 8));
    const std::string p = dir / "flipped.idx.gz";
    write_bytes(p, b);
    INFO("bit " << i % 8 << " of byte " << at[i] << " of " << z.size());
    REQUIRE_THROWS_WITH(read_idx(p), Contains("flipped.idx.gz"));
    ++rejected;
  }
  REQUIRE(rejected == (int)at.size());
}

TEST_CASE("idx: trailing garbage after a gzip stream is an error, concatenated members are one stream",
          "[data][idx]") {
  TempDir dir("idx_gztail");
  const Shape dims = {3, 28, 28};
  const auto bytes = image_like(3 * 28 * 28);
  const std::string gz = dir / "a.idx.gz";
  write_idx(gz, dims, bytes, true);
  const auto z = read_bytes(gz);

  auto garbage = z;
  garbage.insert(garbage.end(), {'j', 'u', 'n', 'k'});
  write_bytes(dir / "garbage.idx.gz", garbage);
  REQUIRE_THROWS_WITH(read_idx(dir / "garbage.idx.gz"), Contains("garbage.idx.gz") && Contains("4 bytes of trailing garbage"));

  auto zeros = z;
  zeros.insert(zeros.end(), 512, 0);  // e.g. padded to a block size by a tape or a bad copy
  write_bytes(dir / "zeros.idx.gz", zeros);
  REQUIRE_THROWS_WITH(read_idx(dir / "zeros.idx.gz"), Contains("zeros.idx.gz") && Contains("trailing garbage"));

  // `cat head.gz rest.gz`: gzip(1) reads two members as one stream, and so does read_idx
  std::vector<uint8_t> whole = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28};
  whole.insert(whole.end(), bytes.begin(), bytes.end());
  auto gzip_member = [&](const std::vector<uint8_t>& data) {
    const std::string tmp = dir / "member.gz";
    gzFile f = gzopen(tmp.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, data.data(), (unsigned)data.size()) == (int)data.size());
    REQUIRE(gzclose(f) == Z_OK);
    return read_bytes(tmp);
  };
  auto two = gzip_member(std::vector<uint8_t>(whole.begin(), whole.begin() + 1000));
  const auto rest = gzip_member(std::vector<uint8_t>(whole.begin() + 1000, whole.end()));
  two.insert(two.end(), rest.begin(), rest.end());
  write_bytes(dir / "two.idx.gz", two);
  IdxArray a = read_idx(dir / "two.idx.gz");
  REQUIRE(a.dims == dims);
  REQUIRE(a.data == bytes);
  // ... but a second member cut short is still an error
  write_bytes(dir / "two_cut.idx.gz", std::vector<uint8_t>(two.begin(), two.end() - 3));
  REQUIRE_THROWS_WITH(read_idx(dir / "two_cut.idx.gz"), Contains("two_cut.idx.gz") && Contains("truncated"));
}

TEST_CASE("idx: a header claiming more data than the file holds fails before allocating it", "[data][idx]") {
  TempDir dir("idx_huge");
  // 268435456 images of 28x28: 210 GB, more than any machine here could allocate
  const std::vector<uint8_t> header = {0, 0, 8, 3, 0x10, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
  auto raw = header;
  const auto img = image_like(2 * 28 * 28);
  raw.insert(raw.end(), img.begin(), img.end());

  SECTION("plain file: dims checked against the file size") {
    const std::string p = dir / "huge.idx";
    write_bytes(p, raw);
    REQUIRE_THROWS_WITH(read_idx(p), Contains("huge.idx") && Contains("268435456 x 28 x 28") &&
                                         Contains("210453397504 bytes") && Contains("only 1568 follow") &&
                                         Contains("1584 bytes"));
  }
  SECTION("gzip file: dims checked against what the compressed size can hold") {
    const std::string p = dir / "huge.idx.gz";
    gzFile f = gzopen(p.c_str(), "wb");
    REQUIRE(gzwrite(f, raw.data(), (unsigned)raw.size()) == (int)raw.size());
    REQUIRE(gzclose(f) == Z_OK);
    REQUIRE_THROWS_WITH(read_idx(p), Contains("huge.idx.gz") && Contains("268435456 x 28 x 28") &&
                                         Contains("210453397504 bytes") && Contains("decompresses to at most"));
  }
  SECTION("gzip file: a lie within the compression bound runs out of data") {
    // 200 images claimed (156800 bytes; a 1 KB .gz could hold that), 2 present
    auto r2 = raw;
    r2[4] = 0, r2[5] = 0, r2[6] = 0, r2[7] = 200;
    const std::string p = dir / "lie.idx.gz";
    gzFile f = gzopen(p.c_str(), "wb");
    REQUIRE(gzwrite(f, r2.data(), (unsigned)r2.size()) == (int)r2.size());
    REQUIRE(gzclose(f) == Z_OK);
    REQUIRE_THROWS_WITH(read_idx(p), Contains("lie.idx.gz") && Contains("truncated") && Contains("156800 bytes") &&
                                         Contains("only 1568"));
  }
}
