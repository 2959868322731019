// Checkpoint files: round trip, verification errors, atomic replacement.
#include <catch2/catch.hpp>

#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "duel.h"
#include "tensor/serialize.h"

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
  size_t count() const { return (size_t)std::distance(fs::directory_iterator(path), fs::directory_iterator()); }
};

std::vector<char> read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}
void write_bytes(const std::string& p, const std::vector<char>& b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(b.data(), (std::streamsize)b.size());
}

void require_same(const Tensor& a, const Tensor& b) {
  REQUIRE(a.dtype() == b.dtype());
  REQUIRE(a.sizes() == b.sizes());
  REQUIRE(a.to_vector<double>() == b.to_vector<double>());
}

std::map<std::string, Tensor> sample_tensors() {
  Generator gen(1);
  Tensor base = randn({4, 6}, kFloat32, &gen);
  std::map<std::string, Tensor> t;
  t["G.fc1.weight"] = randn({5, 3}, kFloat32, &gen).requires_grad_();
  t["f64"] = randn({2, 3, 4}, kFloat64, &gen);
  t["i64"] = from_vector(std::vector<int64_t>{-3, 0, 7, INT64_MAX, INT64_MIN}, {5}, kInt64);
  t["mask"] = gt(randn({7}, kFloat32, &gen), zeros({7}));
  t["scalar"] = scalar_tensor(2.5, kFloat64);
  t["empty"] = zeros({0, 3});
  t["transposed"] = base.t();                      // non-contiguous
  t["narrowed"] = base.narrow(1, 2, 3);            // offset + strides
  t["expanded"] = tensor({1.0, 2.0}).expand({3, 2});  // zero strides
  t["beta"] = from_vector(std::vector<float>{1234.5f, -9876.25f, 31415.9f, 27182.8f}, {4});
  return t;
}

// Byte offset of the 16 bytes of "beta" in the file.
size_t find_beta(const std::vector<char>& file) {
  const float v[4] = {1234.5f, -9876.25f, 31415.9f, 27182.8f};
  for (size_t i = 0; i + sizeof v <= file.size(); ++i)
    if (std::memcmp(file.data() + i, v, sizeof v) == 0) return i;
  FAIL("beta payload not found");
  return 0;
}

}  // namespace

TEST_CASE("checkpoint: round trip of all dtypes, views and metadata", "[data][checkpoint]") {
  TempDir dir("ckpt_rt");
  const std::string p = dir / "model.duel";
  auto tensors = sample_tensors();
  std::map<std::string, std::string> meta = {
      {"step", "1200"},
      {"model", "dcgan"},
      {"config", "{\"lr\": 0.0002,\n \"betas\": [0.5, 0.999]}"},
      {std::string("bin\0ary", 7), std::string("\0\1\2\xff", 4)},
      {"empty", ""}};
  save_checkpoint(p, tensors, meta);
  Checkpoint c = load_checkpoint(p);
  REQUIRE(c.path == p);
  REQUIRE(c.tensors.size() == tensors.size());
  for (auto& [name, t] : tensors) {
    INFO(name);
    REQUIRE(c.has(name));
    require_same(c.get(name), t);
    REQUIRE(c.get(name).is_contiguous());
    REQUIRE(c.get(name).device() == kCPU);
    REQUIRE(!c.get(name).requires_grad());
  }
  REQUIRE(c.meta == meta);
  REQUIRE(c.meta_or("step") == "1200");
  REQUIRE(c.meta_or("nope", "x") == "x");
  REQUIRE(read_checkpoint_meta(p) == meta);
  REQUIRE_THROWS_WITH(c.get("G.fc2.weight"), Contains("no tensor 'G.fc2.weight'") && Contains("'G.fc1.weight'") &&
                                                 Contains(p));
  // overwrite in place, no leftovers; empty checkpoint
  save_checkpoint(p, {}, {});
  Checkpoint e = load_checkpoint(p);
  REQUIRE(e.tensors.empty());
  REQUIRE(e.meta.empty());
  REQUIRE(dir.count() == 1);
  REQUIRE_THROWS_WITH(save_checkpoint(p, {{"x", Tensor()}}), Contains("'x' is undefined"));
}

TEST_CASE("checkpoint: corruption and truncation are detected", "[data][checkpoint]") {
  TempDir dir("ckpt_bad");
  const std::string good = dir / "good.duel";
  save_checkpoint(good, sample_tensors(), {{"step", "7"}});
  const auto bytes = read_bytes(good);
  const std::string p = dir / "bad.duel";

  SECTION("flipped payload byte names the tensor") {
    auto b = bytes;
    b[find_beta(b) + 5] ^= 0x10;
    write_bytes(p, b);
    REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("bad.duel") && Contains("CRC mismatch in tensor 'beta'"));
  }
  SECTION("flipped header byte") {
    for (size_t at : {size_t(20), size_t(40), size_t(100)}) {
      auto b = bytes;
      b[at] ^= 0x01;
      write_bytes(p, b);
      REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("bad.duel") && Contains("header CRC mismatch"));
      REQUIRE_THROWS_WITH(read_checkpoint_meta(p), Contains("header CRC mismatch"));
    }
  }
  SECTION("flipped trailer / padding byte: whole-file CRC") {
    auto b = bytes;
    b[b.size() - 8] ^= 0x01;  // the stored file CRC
    write_bytes(p, b);
    REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("whole-file CRC mismatch"));
    uint32_t h;
    std::memcpy(&h, bytes.data() + 12, 4);
    const size_t header_end = 16 + h + 4;
    if (header_end % 64 != 0) {  // zero padding before the first payload
      b = bytes;
      b[header_end] ^= 0x01;
      write_bytes(p, b);
      REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("whole-file CRC mismatch"));
    }
    b = bytes;
    b[b.size() - 20] ^= 0x01;  // trailer magic
    write_bytes(p, b);
    REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("trailer"));
  }
  SECTION("truncated anywhere") {
    for (size_t len : {size_t(0), size_t(5), size_t(12), size_t(30), bytes.size() / 2, bytes.size() - 30,
                       bytes.size() - 1}) {
      INFO("length " << len);
      write_bytes(p, std::vector<char>(bytes.begin(), bytes.begin() + (long)len));
      REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("bad.duel") && Contains("truncated"));
    }
  }
  SECTION("appended bytes") {
    auto b = bytes;
    b.push_back(0);
    write_bytes(p, b);
    REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("1 unexpected bytes"));
  }
  SECTION("wrong magic") {
    auto b = bytes;
    std::memcpy(b.data(), "PK\3\4xxxx", 8);
    write_bytes(p, b);
    REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("bad.duel") && Contains("not a duel checkpoint") &&
                                                Contains("wrong magic"));
    write_bytes(p, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
    REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("not a duel checkpoint"));
  }
  SECTION("newer format version") {
    auto b = bytes;
    b[8] = 2;
    write_bytes(p, b);
    REQUIRE_THROWS_WITH(load_checkpoint(p), Contains("unsupported checkpoint format version 2") &&
                                                Contains("reads version 1"));
  }
  SECTION("missing file, directory") {
    REQUIRE_THROWS_WITH(load_checkpoint(dir / "missing.duel"), Contains("missing.duel") && Contains("cannot open"));
    REQUIRE_THROWS_WITH(load_checkpoint(dir.path.string()), Contains("directory"));
  }
}

TEST_CASE("checkpoint: a failed write leaves the previous file intact", "[data][checkpoint]") {
  TempDir dir("ckpt_atomic");
  const std::string p = dir / "ckpt.duel";
  save_checkpoint(p, {{"w", tensor({1.0, 2.0, 3.0})}}, {{"step", "1"}});
  const auto before = read_bytes(p);

  std::map<std::string, Tensor> big = {{"w", randn({1000, 1000})}, {"b", zeros({10})}};
  uint64_t seen = 0;
  for (uint64_t fail_at : {uint64_t(1), uint64_t(100), uint64_t(4000000)}) {
    INFO("failing after " << fail_at << " bytes");
    testing::set_checkpoint_write_hook([&](uint64_t written) {
      seen = written;
      if (written >= fail_at) throw duel::Error("simulated disk failure");
    });
    REQUIRE_THROWS_WITH(save_checkpoint(p, big, {{"step", "2"}}), Contains("simulated disk failure"));
    testing::set_checkpoint_write_hook({});
    REQUIRE(seen >= fail_at);
    REQUIRE(read_bytes(p) == before);   // untouched
    REQUIRE(dir.count() == 1);          // temporary file removed
    REQUIRE(load_checkpoint(p).meta.at("step") == "1");
  }
  // the target directory does not exist: error, nothing created
  REQUIRE_THROWS_WITH(save_checkpoint(dir / "no/such/dir/x.duel", big),
                      Contains("x.duel") && Contains("does the directory exist"));
  // the target is a directory: rename fails, temp removed
  fs::create_directory(dir / "adir");
  REQUIRE_THROWS_WITH(save_checkpoint(dir / "adir", {{"w", zeros({2})}}), Contains("adir") && Contains("renaming"));
  REQUIRE(dir.count() == 2);
  // a successful save replaces the file
  save_checkpoint(p, big, {{"step", "3"}});
  Checkpoint c = load_checkpoint(p);
  REQUIRE(c.meta.at("step") == "3");
  require_same(c.get("w"), big["w"]);
}

// ---------------------------------------------------------------------------
// Crafted checkpoints: well-formed CRCs around contents no duel ever writes. A checkpoint from
// someone else is input; every field must be checked before it is used.
// ---------------------------------------------------------------------------

namespace {

void put32(std::string& b, uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back((char)(v >> (8 * i))); }
void put64(std::string& b, uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back((char)(v >> (8 * i))); }
uint32_t crc_of(const std::string& b) { return (uint32_t)crc32(0L, reinterpret_cast<const Bytef*>(b.data()), (uInt)b.size()); }

struct CraftedTensor {
  std::string name = "w";
  uint8_t dtype = 1;  // float32
  uint8_t flags = 0;
  uint16_t reserved = 0;
  std::vector<int64_t> dims = {2};
  int64_t offset = -1;  // -1: the next 64-byte aligned offset
  int64_t nbytes = -1;  // -1: payload.size()
  std::string payload = std::string(8, '\x01');
};

struct Crafted {
  std::string meta_body;              // raw metadata part of the header, after the count
  uint64_t n_meta = 0;
  std::vector<CraftedTensor> tensors;
  int64_t n_tensors = -1;             // -1: tensors.size()
  std::string header_tail;            // extra bytes at the end of the header body
  char padding = 0;                   // the padding byte value
  uint32_t trailer_reserved = 0;

  void meta(const std::string& k, const std::string& v) {
    put32(meta_body, (uint32_t)k.size());
    meta_body += k;
    put64(meta_body, v.size());
    meta_body += v;
    ++n_meta;
  }

  // The file bytes, with a correct header CRC, payload CRCs and whole-file CRC.
  std::string bytes() const {
    std::string body;
    put64(body, n_meta);
    body += meta_body;
    put64(body, n_tensors >= 0 ? (uint64_t)n_tensors : tensors.size());
    size_t entries = 0;
    for (auto& t : tensors) entries += 4 + t.name.size() + 8 + 8 * t.dims.size() + 20;
    uint64_t off = (16 + body.size() + entries + header_tail.size() + 4 + 63) / 64 * 64;
    std::vector<uint64_t> offsets;
    for (auto& t : tensors) {
      offsets.push_back(t.offset >= 0 ? (uint64_t)t.offset : off);
      off = (offsets.back() + t.payload.size() + 63) / 64 * 64;
      put32(body, (uint32_t)t.name.size());
      body += t.name;
      body.push_back((char)t.dtype);
      body.push_back((char)t.flags);
      body.push_back((char)(t.reserved & 255));
      body.push_back((char)(t.reserved >> 8));
      put32(body, (uint32_t)t.dims.size());
      for (auto d : t.dims) put64(body, (uint64_t)d);
      put64(body, offsets.back());
      put64(body, t.nbytes >= 0 ? (uint64_t)t.nbytes : t.payload.size());
      put32(body, crc_of(t.payload));
    }
    body += header_tail;
    std::string f("DUELCKPT", 8);
    put32(f, 1);
    put32(f, (uint32_t)body.size());
    f += body;
    put32(f, crc_of(f));
    for (size_t k = 0; k < tensors.size(); ++k) {
      if (f.size() < offsets[k]) f.append(offsets[k] - f.size(), padding);
      f += tensors[k].payload;
    }
    const uint64_t end = f.size();
    const uint32_t file_crc = crc_of(f);
    f += "DUELEND!";
    put64(f, end + 24);
    put32(f, file_crc);
    put32(f, trailer_reserved);
    return f;
  }
};

}  // namespace

TEST_CASE("checkpoint: crafted files with valid CRCs are checked field by field", "[data][checkpoint]") {
  TempDir dir("ckpt_crafted");
  const std::string p = dir / "crafted.duel";
  auto load = [&](const Crafted& c) {
    const std::string b = c.bytes();
    write_bytes(p, std::vector<char>(b.begin(), b.end()));
    return load_checkpoint(p);
  };
  auto fails = [&](const Crafted& c, const std::string& what) {
    INFO("expecting: " << what);
    REQUIRE_THROWS_WITH(load(c), Contains("crafted.duel") && Contains(what));
  };

  Crafted ok;
  ok.meta("step", "3");
  ok.tensors.push_back({});
  {  // the crafting itself is right: this one loads
    Checkpoint c = load(ok);
    REQUIRE(c.meta.at("step") == "3");
    REQUIRE(c.get("w").sizes() == Shape{2});
  }

  SECTION("dtype, flags and reserved fields") {
    Crafted c = ok;
    c.tensors[0].dtype = 9;
    fails(c, "unknown dtype code 9");
    c = ok;
    c.tensors[0].dtype = 0;
    fails(c, "unknown dtype code 0");
    c = ok;
    c.tensors[0].flags = 1;
    fails(c, "flags 1");
    c = ok;
    c.tensors[0].reserved = 0x100;
    fails(c, "reserved field 256");
  }
  SECTION("dimensions") {
    Crafted c = ok;
    c.tensors[0].dims = std::vector<int64_t>(65, 1);
    fails(c, "65 dimensions");
    c.tensors[0].dims = {-1};
    c.tensors[0].nbytes = 0;
    fails(c, "invalid dimension -1");
    c.tensors[0].dims = {int64_t(1) << 40, int64_t(1) << 40};  // product overflows
    c.tensors[0].nbytes = 0;
    fails(c, "invalid dimension");
    // zero elements, but sizes whose strides would overflow int64
    c.tensors[0].dims = {0, int64_t(1) << 62, int64_t(1) << 62};
    c.tensors[0].payload.clear();
    fails(c, "invalid dimension 4611686018427387904");
    c.tensors[0].dims = {INT64_MIN};
    fails(c, "invalid dimension -9223372036854775808");
  }
  SECTION("byte counts and offsets") {
    Crafted c = ok;
    c.tensors[0].nbytes = 12;  // [2] float32 is 8 bytes
    fails(c, "needs 8 bytes but the header says 12");
    c = ok;
    c.tensors[0].dims = {int64_t(1) << 50};  // consistent, 4 PB: truncation, never an allocation
    c.tensors[0].nbytes = int64_t(4) << 50;
    fails(c, "truncated");
    c = ok;
    c.tensors[0].offset = 130;  // not 64-byte aligned
    fails(c, "invalid payload offset 130");
    c = ok;
    c.tensors[0].offset = 0;  // inside the header
    fails(c, "invalid payload offset 0");
    c = ok;
    c.tensors.push_back(ok.tensors[0]);
    c.tensors[1].name = "v";
    c.tensors[1].offset = 64 * 3;  // overlaps the first payload
    c.tensors[0].offset = 64 * 3;
    fails(c, "invalid payload offset 192");
    c = ok;
    c.tensors.push_back(ok.tensors[0]);
    fails(c, "duplicate tensor name 'w'");
  }
  SECTION("counts and string lengths stay inside the header") {
    Crafted c = ok;
    c.n_meta = uint64_t(1) << 62;
    fails(c, "metadata entries, more than");
    c = ok;
    c.n_tensors = int64_t(1) << 40;
    fails(c, "tensors, more than");
    c = ok;
    c.n_tensors = INT64_MAX;
    fails(c, "tensors, more than");
    c = ok;
    c.meta_body.clear();
    c.n_meta = 1;
    put32(c.meta_body, 1);
    c.meta_body += "k";
    put64(c.meta_body, uint64_t(1) << 63);  // value length far past the header
    fails(c, "metadata value runs past the end of the header");
    c = ok;
    c.meta_body.clear();
    c.n_meta = 1;
    put32(c.meta_body, 0xffffffffu);  // key length past the header
    fails(c, "metadata key runs past the end of the header");
    c = ok;
    c.header_tail = "zz";
    fails(c, "2 unexpected bytes at the end of the header");
  }
  SECTION("padding and the trailer's last word") {
    Crafted c = ok;
    c.padding = 'P';
    fails(c, "non-zero byte in the padding");
    c = ok;
    c.trailer_reserved = 0xdeadbeef;
    fails(c, "reserved last word is 0xdeadbeef");
  }
  SECTION("read_checkpoint_meta checks the header the same way") {
    Crafted c = ok;
    c.tensors[0].flags = 4;
    const std::string b = c.bytes();
    write_bytes(p, std::vector<char>(b.begin(), b.end()));
    REQUIRE_THROWS_WITH(read_checkpoint_meta(p), Contains("crafted.duel") && Contains("flags 4"));
  }
}
