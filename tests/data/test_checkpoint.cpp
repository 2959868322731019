// Checkpoint files: round trip, verification errors, atomic replacement.
#include <catch2/catch.hpp>

#include <unistd.h>

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
