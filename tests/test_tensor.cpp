// Tensor handles (tensor/tensor.h): creation, dtypes, views and their strides,
// printing, in-place ops and version counters.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <sstream>

#include "tests/fixture.h"

using namespace duel;
using namespace duel::test;

TEST_CASE("tensor: creation functions", "[tensor]") {
  Tensor z = zeros({2, 3});
  CHECK(z.dtype() == kFloat32);
  CHECK(z.sizes() == Shape{2, 3});
  CHECK(z.strides() == Shape{3, 1});
  CHECK(z.numel() == 6);
  CHECK(z.dim() == 2);
  CHECK(z.device() == kCPU);
  CHECK(z.to_vector<double>() == std::vector<double>(6, 0.0));
  CHECK(ones({4}, kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1, 1});
  CHECK(full({2, 2}, -2.5, kFloat64).to_vector<double>() == std::vector<double>{-2.5, -2.5, -2.5, -2.5});
  CHECK(full({3}, 1.0, kBool).to_vector<double>() == std::vector<double>{1, 1, 1});
  Tensor s = scalar_tensor(3.5, kFloat64);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 3.5);
  CHECK(zeros({0, 3}).numel() == 0);
  CHECK(zeros({0, 3}).strides() == Shape{3, 1});

  CHECK(arange(5.0).to_vector<double>() == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25, kFloat64).to_vector<double>() == std::vector<double>{1, 1.25, 1.5, 1.75});
  CHECK(arange(5, 0, -2, kInt64).to_vector<int64_t>() == std::vector<int64_t>{5, 3, 1});
  CHECK(arange(3, 3).numel() == 0);
  CHECK(arange(3, 1).numel() == 0);
  CHECK(arange(0, 1, 0.3, kFloat64).numel() == 4);  // ceil((1 - 0) / 0.3)
  REQUIRE_THROWS_WITH(arange(0, 1, 0), Catch::Contains("arange") && Catch::Contains("step"));

  CHECK(linspace(0, 1, 5, kFloat64).to_vector<double>() == std::vector<double>{0, 0.25, 0.5, 0.75, 1});
  CHECK(linspace(2, -2, 3, kFloat64).to_vector<double>() == std::vector<double>{2, 0, -2});
  CHECK(linspace(7, 9, 1, kFloat64).to_vector<double>() == std::vector<double>{7});
  CHECK(linspace(0, 1, 0).numel() == 0);

  CHECK(eye(3, kFloat64).to_vector<double>() == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(eye(2, kInt64).dtype() == kInt64);

  Tensor fv = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, TensorOptions(kFloat64));
  CHECK(fv.sizes() == Shape{2, 3});
  CHECK(fv.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(from_vector(std::vector<float>{1.5f, 2.5f}).sizes() == Shape{2});
  CHECK(from_vector(std::vector<int64_t>{4, 5}, {}, TensorOptions(kInt64)).to_vector<int64_t>() ==
        std::vector<int64_t>{4, 5});
  REQUIRE_THROWS_WITH(from_vector(std::vector<double>{1, 2, 3}, {2, 2}),
                      Catch::Contains("from_vector") && Catch::Contains("[2, 2]") && Catch::Contains("3 values"));

  Tensor t2 = tensor({{1, 2}, {3, 4}, {5, 6}}, kFloat64);
  CHECK(t2.sizes() == Shape{3, 2});
  CHECK(t2.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(tensor({1.0, 2.0}).dtype() == kFloat32);
  REQUIRE_THROWS_WITH(tensor({{1, 2}, {3}}), Catch::Contains("ragged"));
  REQUIRE_THROWS_WITH(zeros({2, -1}), Catch::Contains("negative") && Catch::Contains("[2, -1]"));

  TensorOptions o(kFloat64);
  o.requires_grad = true;
  Tensor rg = zeros({2}, o);
  CHECK(rg.requires_grad());
  CHECK(rg.is_leaf());
  for (const Tensor& t : {ones({2}, o), full({2}, 1.0, o), arange(0, 3, 1, o), linspace(0, 1, 3, o), eye(2, o),
                          from_vector(std::vector<double>{1, 2}, {}, o), tensor({1.0}, o)}) {
    CHECK(t.requires_grad());
    CHECK(t.is_leaf());
  }
  // bool tensors from non-integral values: non-zero is true
  CHECK(full({2}, 0.5, kBool).to_vector<double>() == std::vector<double>{1, 1});
  CHECK(tensor({0.0, 0.25, -3.0}, kBool).to_vector<double>() == std::vector<double>{0, 1, 1});
  CHECK(ones_like(fv).dtype() == kFloat64);
  CHECK(zeros_like(fv).sizes() == Shape{2, 3});
  CHECK(full_like(fv, 7).to_vector<double>() == std::vector<double>(6, 7.0));
  CHECK(empty_like(fv).sizes() == Shape{2, 3});
}

TEST_CASE("tensor: from_vector keeps int64 values beyond 2^53 exact", "[tensor]") {
  // 2^53 + 1 and a 64-bit seed are not representable as doubles
  const std::vector<int64_t> v = {(int64_t(1) << 53) + 1, int64_t(0x7fffffffffffffffLL), -((int64_t(1) << 62) + 3)};
  Tensor t = from_vector(v, {}, kInt64);
  REQUIRE(t.dtype() == kInt64);
  CHECK(t.to_vector<int64_t>() == v);
}

TEST_CASE("tensor: from_buffer, copy_to_buffer, from_blob", "[tensor]") {
  float src[6] = {1, 2, 3, 4, 5, 6};
  Tensor t = from_buffer(src, {2, 3}, kFloat32);
  src[0] = 100;  // copied: the tensor does not see later writes
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  float dst[6] = {};
  copy_to_buffer(t.t(), dst);  // non-contiguous source is written row-major
  CHECK(std::vector<float>(dst, dst + 6) == std::vector<float>{1, 4, 2, 5, 3, 6});
  int64_t ibuf[3] = {7, -8, 9};
  CHECK(from_buffer(ibuf, {3}, kInt64).to_vector<int64_t>() == std::vector<int64_t>{7, -8, 9});

  double blob[4] = {1, 2, 3, 4};
  {
    Tensor b = from_blob(blob, {2, 2}, kFloat64);
    CHECK(b.data<double>() == blob);
    CHECK(b.to_vector<double>() == std::vector<double>{1, 2, 3, 4});
    blob[3] = 40;  // shared both ways
    CHECK(b.to_vector<double>()[3] == 40);
    b.mul_(2.0);
    CHECK(blob[0] == 2);
  }
  CHECK(blob[1] == 4);  // still alive (not freed by the tensor)
  REQUIRE_THROWS_WITH(t.data<double>(), Catch::Contains("float32"));
}

TEST_CASE("tensor: dtypes and promotion", "[tensor]") {
  CHECK(element_size(kFloat32) == 4);
  CHECK(element_size(kFloat64) == 8);
  CHECK(element_size(kInt64) == 8);
  CHECK(element_size(kBool) == 1);
  CHECK(std::string(dtype_name(kBool)) == "bool");
  CHECK(promote_types(kBool, kInt64) == kInt64);
  CHECK(promote_types(kInt64, kFloat32) == kFloat32);
  CHECK(promote_types(kFloat32, kFloat64) == kFloat64);
  CHECK(promote_types(kFloat64, kBool) == kFloat64);
  CHECK(promote_types(kBool, kBool) == kBool);
  CHECK(is_floating(kFloat32));
  CHECK_FALSE(is_floating(kInt64));

  Tensor f = tensor({1.5, -2.5, 0.0}, kFloat64);
  CHECK(f.to(kFloat32).dtype() == kFloat32);
  CHECK(f.to(kInt64).to_vector<int64_t>() == std::vector<int64_t>{1, -2, 0});
  CHECK(f.to(kBool).to_vector<double>() == std::vector<double>{1, 1, 0});
  CHECK(f.to(kFloat64).is_same(f));  // no-op conversion returns the same tensor
  Tensor big = tensor({16777217.0}, kFloat64);  // 2^24 + 1 is not a float32
  CHECK(big.to(kFloat32).item() == 16777216.0);
  CHECK(tensor({1.0, 0.0}, kBool).to(kFloat32).to_vector<float>() == std::vector<float>{1, 0});
  REQUIRE_THROWS_WITH(zeros({2}).item(),
                      Catch::Contains("item") && Catch::Contains("[2]"));
  REQUIRE_THROWS_WITH(zeros({2}, kInt64).requires_grad_(),
                      Catch::Contains("requires_grad") && Catch::Contains("int64"));
}

TEST_CASE("tensor: views share storage and have exact strides", "[tensor]") {
  Tensor a = arange(24.0, kFloat64).reshape({2, 3, 4});
  CHECK(a.strides() == Shape{12, 4, 1});
  CHECK(a.is_contiguous());

  SECTION("permute / transpose / t") {
    Tensor p = a.permute({2, 0, 1});
    CHECK(p.sizes() == Shape{4, 2, 3});
    CHECK(p.strides() == Shape{1, 12, 4});
    CHECK(p.storage() == a.storage());
    CHECK_FALSE(p.is_contiguous());
    Tensor tr = a.transpose(0, -1);
    CHECK(tr.sizes() == Shape{4, 3, 2});
    CHECK(tr.strides() == Shape{1, 4, 12});
    Tensor m = arange(6.0).reshape({2, 3});
    CHECK(m.t().strides() == Shape{1, 3});
    CHECK(m.t().sizes() == Shape{3, 2});
    CHECK(arange(3.0).t().sizes() == Shape{3});
    REQUIRE_THROWS_WITH(a.t(), Catch::Contains("t:") && Catch::Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(a.permute({0, 0, 1}), Catch::Contains("permute") && Catch::Contains("twice"));
    REQUIRE_THROWS_WITH(a.permute({0, 1}), Catch::Contains("permute") && Catch::Contains("[2, 3, 4]"));
  }
  SECTION("narrow / slice / select") {
    Tensor n = a.narrow(2, 1, 2);
    CHECK(n.sizes() == Shape{2, 3, 2});
    CHECK(n.strides() == Shape{12, 4, 1});
    CHECK(n.offset() == 1);
    CHECK_FALSE(n.is_contiguous());
    Tensor s = a.slice(1, 0, 3, 2);
    CHECK(s.sizes() == Shape{2, 2, 4});
    CHECK(s.strides() == Shape{12, 8, 1});
    CHECK(s.offset() == 0);
    Tensor s2 = a.slice(2, -3, 100, 2);  // negative start, end clamped
    CHECK(s2.sizes() == Shape{2, 3, 2});
    CHECK(s2.strides() == Shape{12, 4, 2});
    CHECK(s2.offset() == 1);
    CHECK(s2.to_vector<double>()[0] == 1);
    CHECK(s2.to_vector<double>()[1] == 3);
    Tensor se = a.select(1, -1);
    CHECK(se.sizes() == Shape{2, 4});
    CHECK(se.strides() == Shape{12, 1});
    CHECK(se.offset() == 8);
    CHECK(a[1].offset() == 12);
    CHECK(a[1][2].to_vector<double>() == std::vector<double>{20, 21, 22, 23});
    CHECK(a.slice(0, 1, 1).numel() == 0);
    REQUIRE_THROWS_WITH(a.narrow(2, 3, 2), Catch::Contains("narrow") && Catch::Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(a.select(0, 2), Catch::Contains("select") && Catch::Contains("index 2"));
    REQUIRE_THROWS_WITH(a.slice(0, 0, 1, 0), Catch::Contains("slice") && Catch::Contains("step"));
  }
  SECTION("expand / squeeze / unsqueeze / flatten") {
    Tensor c = arange(3.0).reshape({3, 1});
    Tensor e = c.expand({2, 3, 4});
    CHECK(e.sizes() == Shape{2, 3, 4});
    CHECK(e.strides() == Shape{0, 1, 0});
    CHECK(e.storage() == c.storage());
    CHECK(c.expand({-1, 5}).sizes() == Shape{3, 5});
    CHECK(c.expand({3, 1}).is_same(c));
    REQUIRE_THROWS_WITH(c.expand({4, 2}), Catch::Contains("expand") && Catch::Contains("[3, 1]") && Catch::Contains("[4, 2]"));
    Tensor q = zeros({1, 3, 1, 2});
    CHECK(q.squeeze().sizes() == Shape{3, 2});
    CHECK(q.squeeze(2).sizes() == Shape{1, 3, 2});
    CHECK(q.squeeze(2).strides() == Shape{6, 2, 1});
    CHECK(q.squeeze(1).sizes() == Shape{1, 3, 1, 2});  // not size 1: unchanged
    Tensor u = a.unsqueeze(1);
    CHECK(u.sizes() == Shape{2, 1, 3, 4});
    CHECK(u.strides() == Shape{12, 12, 4, 1});
    CHECK(a.unsqueeze(-1).sizes() == Shape{2, 3, 4, 1});
    CHECK(a.unsqueeze(-1).strides() == Shape{12, 4, 1, 1});
    CHECK(scalar_tensor(1.0).unsqueeze(0).sizes() == Shape{1});
    CHECK(a.flatten().sizes() == Shape{24});
    CHECK(a.flatten(1).sizes() == Shape{2, 12});
    CHECK(a.flatten(0, 1).sizes() == Shape{6, 4});
    CHECK(a.flatten(0, 1).storage() == a.storage());
    CHECK(scalar_tensor(1.0).flatten().sizes() == Shape{1});
  }
  SECTION("view / reshape / contiguous") {
    Tensor v = a.view({6, 4});
    CHECK(v.storage() == a.storage());
    CHECK(v.strides() == Shape{4, 1});
    CHECK(a.view({-1}).sizes() == Shape{24});
    CHECK(a.reshape({4, -1}).sizes() == Shape{4, 6});
    CHECK(a.reshape({2, 3, 4}).is_same(a));
    // a permuted tensor whose merged dims stay compatible is still viewable
    Tensor p = a.permute({1, 0, 2});  // [3, 2, 4] strides [4, 12, 1]
    CHECK(p.reshape({3, 2, 2, 2}).storage() == a.storage());
    CHECK(p.reshape({3, 2, 2, 2}).strides() == Shape{4, 12, 2, 1});
    REQUIRE_THROWS_WITH(p.view({6, 4}), Catch::Contains("view") && Catch::Contains("reshape"));
    Tensor r = p.reshape({6, 4});  // needs a copy
    CHECK(r.storage() != a.storage());
    CHECK(r.is_contiguous());
    CHECK(r.to_vector<double>()[4] == 12);
    CHECK(a.contiguous().is_same(a));
    Tensor c = p.contiguous();
    CHECK(c.is_contiguous());
    CHECK(c.storage() != a.storage());
    CHECK(c.to_vector<double>() == p.to_vector<double>());
    REQUIRE_THROWS_WITH(a.reshape({5, -1}), Catch::Contains("reshape") && Catch::Contains("[2, 3, 4]"));
    REQUIRE_THROWS_WITH(a.reshape({-1, -1}), Catch::Contains("only one dim can be -1"));
    CHECK(zeros({0, 4}).reshape({-1, 2}).sizes() == Shape{0, 2});
    // a size-1 dim's stride does not matter for contiguity
    CHECK(make_view(a, {1, 4}, {999, 1}, 0).is_contiguous());
  }
  SECTION("writing through a view is visible in the base") {
    Tensor base = zeros({3, 4}, kFloat64);
    Tensor col = base.select(1, 2);
    col.fill_(5.0);
    Tensor blk = base.narrow(0, 1, 2).narrow(1, 0, 2);
    blk.add_(1.0);
    base.t()[3].copy_(tensor({7.0, 8.0, 9.0}, kFloat64));
    CHECK(base.to_vector<double>() == std::vector<double>{0, 0, 5, 7, 1, 1, 5, 8, 1, 1, 5, 9});
    // and a write to the base shows through an existing view
    base.zero_();
    CHECK(col.to_vector<double>() == std::vector<double>{0, 0, 0});
    // detach shares storage too
    Tensor d = base.detach();
    d.fill_(2.0);
    CHECK(base.to_vector<double>()[0] == 2.0);
    // clone does not
    Tensor cl = base.clone();
    cl.fill_(3.0);
    CHECK(base.to_vector<double>()[0] == 2.0);
  }
}

TEST_CASE("tensor: size/stride accessors with negative dims", "[tensor]") {
  Tensor a = zeros({2, 3, 4});
  CHECK(a.size(-1) == 4);
  CHECK(a.size(0) == 2);
  CHECK(a.stride(-2) == 4);
  REQUIRE_THROWS_WITH(a.size(3), Catch::Contains("dim 3") && Catch::Contains("out of range"));
  REQUIRE_THROWS_WITH(a.size(-4), Catch::Contains("dim -4"));
  CHECK(a.str() == "Tensor[2, 3, 4] float32 cpu");
}

TEST_CASE("tensor: printing", "[tensor]") {
  std::string s = to_string(tensor({{1.5, -2.25}, {3.0, 4.0}}, kFloat64));
  CHECK(s == "tensor([[ 1.5000, -2.2500],\n"
             "        [ 3.0000,  4.0000]], shape=[2, 2], dtype=float64, device=cpu)");
  CHECK(to_string(tensor({1.0, 2.0, 3.0})) == "tensor([1.0, 2.0, 3.0], shape=[3], dtype=float32, device=cpu)");
  CHECK(to_string(from_vector(std::vector<int64_t>{3, -10}, {}, TensorOptions(kInt64))) ==
        "tensor([  3, -10], shape=[2], dtype=int64, device=cpu)");
  CHECK(to_string(scalar_tensor(2.5, kFloat64)) == "tensor(2.5000, shape=[], dtype=float64, device=cpu)");
  CHECK(to_string(zeros({0, 3})) == "tensor([], shape=[0, 3], dtype=float32, device=cpu)");
  CHECK(to_string(Tensor()) == "tensor(undefined)");
  std::string sci = to_string(tensor({1e-6, 1.0}, kFloat64));
  CHECK_THAT(sci, Catch::Contains("e-06"));
  std::string nan = to_string(tensor({NAN, INFINITY, -INFINITY}, kFloat64));
  CHECK_THAT(nan, Catch::Contains("nan") && Catch::Contains("inf") && Catch::Contains("-inf"));
  CHECK_THAT(to_string(tensor({1.0, 0.0}, kBool)), Catch::Contains("[1, 0]") && Catch::Contains("dtype=bool"));

  // 1000 elements print in full; more are abbreviated with "..."
  std::string full1000 = to_string(arange(1000.0, kInt64));
  CHECK(full1000.find("...") == std::string::npos);
  CHECK_THAT(full1000, Catch::Contains(" 500,"));
  std::string big = to_string(arange(1001.0, kInt64));
  CHECK_THAT(big, Catch::Contains("[   0,    1,    2,  ...,  998,  999, 1000]"));
  CHECK_THAT(big, Catch::Contains("...") && Catch::Contains("1000]") && Catch::Contains("shape=[1001]"));
  CHECK(big.find(" 500,") == std::string::npos);
  std::string big2 = to_string(zeros({50, 40}));
  CHECK_THAT(big2, Catch::Contains("...") && Catch::Contains("shape=[50, 40]") && Catch::Contains("dtype=float32") &&
                       Catch::Contains("device=cpu"));
  CHECK(big2.size() < 1000);  // abbreviated rows and columns

  // autograd annotations; operator<< prints the same
  Tensor x = ones({2}, kFloat64).requires_grad_();
  CHECK_THAT(to_string(x), Catch::Contains("requires_grad=true"));
  Tensor y = x * 2.0;
  CHECK_THAT(to_string(y), Catch::Contains("grad_fn=<mul>"));
  std::ostringstream os;
  os << y;
  CHECK(os.str() == to_string(y));
  // a non-contiguous tensor prints its logical (row-major) order
  CHECK_THAT(to_string(arange(6.0, kInt64).reshape({2, 3}).t()), Catch::Contains("[[0, 3],\n"));
}

TEST_CASE("tensor: in-place ops and version counters", "[tensor]") {
  Tensor a = tensor({1.0, 2.0, 3.0}, kFloat64);
  uint64_t v = a.version();
  CHECK(v == 0);
  a.add_(tensor({1.0, 1.0, 1.0}, kFloat64), 2.0);
  CHECK(a.to_vector<double>() == std::vector<double>{3, 4, 5});
  CHECK(a.version() == 1);
  a.add_(0.5);
  CHECK(a.to_vector<double>() == std::vector<double>{3.5, 4.5, 5.5});
  a.sub_(tensor({0.5}, kFloat64));  // broadcast source
  CHECK(a.to_vector<double>() == std::vector<double>{3, 4, 5});
  a.mul_(tensor({2.0, 0.5, 1.0}, kFloat64));
  CHECK(a.to_vector<double>() == std::vector<double>{6, 2, 5});
  a.mul_(-1.0);
  a.div_(2.0);
  CHECK(a.to_vector<double>() == std::vector<double>{-3, -1, -2.5});
  a.clamp_(-2.0, 2.0);
  CHECK(a.to_vector<double>() == std::vector<double>{-2, -1, -2});
  a.fill_(7.0);
  CHECK(a.to_vector<double>() == std::vector<double>{7, 7, 7});
  a.zero_();
  CHECK(a.to_vector<double>() == std::vector<double>{0, 0, 0});
  CHECK(a.version() == 9);
  a.add_(tensor({1.0, 2.0, 3.0}, kFloat32));  // converts dtype
  CHECK(a.to_vector<double>() == std::vector<double>{1, 2, 3});
  a.copy_(from_vector(std::vector<int64_t>{4, 5, 6}, {3}, TensorOptions(kInt64)));
  CHECK(a.to_vector<double>() == std::vector<double>{4, 5, 6});
  CHECK(a.version() == 11);

  // copy_ broadcasts; copy_ into a transposed view
  Tensor m = zeros({2, 3}, kFloat64);
  m.copy_(tensor({1.0, 2.0, 3.0}, kFloat64));
  CHECK(m.to_vector<double>() == std::vector<double>{1, 2, 3, 1, 2, 3});
  m.t().copy_(tensor({{1, 4}, {2, 5}, {3, 6}}, kFloat64));
  CHECK(m.to_vector<double>() == std::vector<double>{1, 2, 3, 4, 5, 6});
  REQUIRE_THROWS_WITH(m.copy_(zeros({4})), Catch::Contains("copy_") && Catch::Contains("[4]") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(m.add_(zeros({2, 3, 1})), Catch::Contains("add_"));
  REQUIRE_THROWS_WITH(m.mul_(zeros({3, 3})), Catch::Contains("mul_"));
  REQUIRE_THROWS_WITH(m.clamp_(1.0, 0.0), Catch::Contains("clamp_"));

  // a view and its base share one version counter (the storage's)
  Tensor base = zeros({4}, kFloat64);
  Tensor view = base.narrow(0, 1, 2);
  uint64_t bv = base.version();
  view.fill_(1.0);
  CHECK(base.version() == bv + 1);
  CHECK(view.version() == base.version());

  // in-place on a tensor that requires grad is refused while recording, allowed under NoGradGuard
  Tensor p = ones({2}, kFloat64).requires_grad_();
  REQUIRE_THROWS_WITH(p.add_(1.0), Catch::Contains("add_") && Catch::Contains("requires grad") &&
                                        Catch::Contains("NoGradGuard"));
  REQUIRE_THROWS_WITH(a.copy_(p), Catch::Contains("copy_") && Catch::Contains("requires grad"));
  {
    NoGradGuard ng;
    p.add_(1.0);
    p.mul_(tensor({1.0, 3.0}, kFloat64));
  }
  CHECK(p.to_vector<double>() == std::vector<double>{2, 6});
  CHECK(p.is_leaf());
  CHECK(p.requires_grad());
}

TEST_CASE("tensor: item, to_vector and clone", "[tensor]") {
  Tensor t = tensor({{1, 2}, {3, 4}}, kFloat64);
  CHECK(t[1][0].item() == 3);
  CHECK(t.t().to_vector<double>() == std::vector<double>{1, 3, 2, 4});
  CHECK(t.to_vector<int64_t>() == std::vector<int64_t>{1, 2, 3, 4});
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4});
  Tensor c = t.t().clone();
  CHECK(c.is_contiguous());
  CHECK(c.to_vector<double>() == std::vector<double>{1, 3, 2, 4});
  CHECK(c.storage() != t.storage());
  CHECK(zeros({1, 1}).item() == 0);
}

TEST_CASE("tensor: devices", "[tensor]") {
  CHECK(Device("cpu") == kCPU);
  CHECK(Device("sim").type == DeviceType::Sim);
  CHECK(Device("cuda").type == DeviceType::CUDA);
  CHECK(Device("cuda").index == 0);
  CHECK(Device("cuda:1").index == 1);
  CHECK(Device("cuda:1").str() == "cuda:1");
  CHECK(Device("sim").str() == "sim");
  CHECK(kCPU.str() == "cpu");
  CHECK(Device("cuda:1") != Device("cuda:0"));
  REQUIRE_THROWS_WITH(Device("tpu"), Catch::Contains("unknown device") && Catch::Contains("tpu"));
  zeros({2}).to(kCPU);  // no-op
}

namespace {
// Values of t in row-major order read straight from storage with t's strides (independent of the kernels).
std::vector<double> strided_values(const Tensor& t) {
  REQUIRE(t.dtype() == kFloat64);
  const double* base = static_cast<const double*>(t.storage()->data);
  std::vector<double> out;
  Shape idx(t.dim(), 0);
  for (int64_t n = 0; n < t.numel(); ++n) {
    int64_t off = t.offset();
    for (int64_t d = 0; d < t.dim(); ++d) off += idx[d] * t.stride(d);
    out.push_back(base[off]);
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      if (++idx[d] < t.size(d)) break;
      idx[d] = 0;
    }
  }
  return out;
}
struct Lcg {
  uint64_t s;
  int64_t next(int64_t n) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return (int64_t)((s >> 33) % (uint64_t)n);
  }
};
}  // namespace

TEST_CASE("tensor: reshape/view/contiguous of random view chains (property test)", "[tensor]") {
  Lcg rng{12345};
  int views_taken = 0, copies_taken = 0;
  for (int iter = 0; iter < 300; ++iter) {
    Tensor x = arange(0, 120, 1, kFloat64).reshape({2, 3, 4, 5});
    // a random chain of view ops
    for (int k = 0; k < 3; ++k) {
      switch (rng.next(5)) {
        case 0: {
          std::vector<int64_t> p(x.dim());
          for (int64_t i = 0; i < x.dim(); ++i) p[i] = i;
          for (int64_t i = x.dim() - 1; i > 0; --i) std::swap(p[i], p[rng.next(i + 1)]);
          x = x.permute(p);
          break;
        }
        case 1: {
          int64_t d = rng.next(x.dim());
          if (x.size(d) > 1) x = x.slice(d, rng.next(2), x.size(d), 1 + rng.next(2));
          break;
        }
        case 2: x = x.unsqueeze(rng.next(x.dim() + 1)); break;
        case 3: {
          int64_t d = rng.next(x.dim());
          if (x.size(d) == 1) {
            Shape s = x.sizes();
            s[d] = 3;
            x = x.expand(s);
          } else {
            x = x.narrow(d, 0, x.size(d) - 1);
          }
          break;
        }
        default: x = x.squeeze(); break;
      }
    }
    std::vector<double> ref = strided_values(x);
    CHECK(strided_values(x.contiguous()) == ref);
    CHECK(x.to_vector<double>() == ref);
    // reshape to a few shapes with the same number of elements
    int64_t n = x.numel();
    std::vector<Shape> targets = {{n}, {1, n, 1}};
    for (int64_t f = 2; f <= n; ++f)
      if (n % f == 0) targets.push_back({f, n / f});
    for (int64_t f = 2; f * 2 <= n; ++f)
      if (n % (f * 2) == 0) targets.push_back({2, f, n / (2 * f)});
    for (const Shape& s : targets) {
      Tensor r = x.reshape(s);
      REQUIRE(r.sizes() == s);
      CHECK(strided_values(r) == ref);
      if (r.storage() == x.storage()) {
        ++views_taken;
        CHECK(strided_values(x.view(s)) == ref);
      } else {
        ++copies_taken;
      }
    }
  }
  CHECK(views_taken > 100);  // both paths were exercised
  CHECK(copies_taken > 100);
}

TEST_CASE("tensor: shapes whose element count or strides overflow 64 bits are refused by name", "[tensor][shape]") {
  const int64_t big = int64_t(1) << 62;
  // strides of {0, 2^62, 2^62} overflow although the tensor holds no element
  CHECK_THROWS_WITH(empty({0, big, big}), Catch::Contains("[0, 4611686018427387904, 4611686018427387904]") &&
                                              Catch::Contains("overflow"));
  CHECK_THROWS_WITH(shape_numel({big, 4}), Catch::Contains("64-bit"));
  CHECK(shape_numel({big, 1}) == big);
  CHECK(contiguous_strides({0, 3, 4}) == Shape{12, 4, 1});
  CHECK(empty({0, 3}).numel() == 0);
}
