// nn::Module bookkeeping: registration, dotted names, state dicts (round trip
// and load errors), placement with to(), printing, containers.
#include <catch2/catch.hpp>

#include "nn/nn.h"

using namespace duel;
using Catch::Matchers::Contains;

namespace {

struct Block : nn::Module {
  std::shared_ptr<nn::Linear> fc;
  std::shared_ptr<nn::BatchNorm1d> bn;
  Block(int64_t in, int64_t out) {
    fc = register_module("fc", std::make_shared<nn::Linear>(in, out));
    bn = register_module("bn", std::make_shared<nn::BatchNorm1d>(out));
  }
  Tensor forward(const Tensor& x) override { return relu((*bn)((*fc)(x))); }
};

struct Net : nn::Module {
  std::shared_ptr<Block> block;
  std::shared_ptr<nn::Sequential> head;
  Tensor scale;
  Net() {
    block = register_module("block", std::make_shared<Block>(4, 3));
    head = register_module("head", std::make_shared<nn::Sequential>(
                                       std::initializer_list<std::shared_ptr<nn::Module>>{
                                           std::make_shared<nn::Linear>(3, 2), std::make_shared<nn::Tanh>()}));
    scale = register_parameter("scale", ones({1}));
  }
  Tensor forward(const Tensor& x) override { return (*head)((*block)(x)) * scale; }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (auto& e : v) out.push_back(e.first);
  return out;
}

}  // namespace

TEST_CASE("Module: dotted parameter and buffer names, counts, requires_grad", "[nnlib]") {
  Net net;
  CHECK(names_of(net.named_parameters()) ==
        std::vector<std::string>{"scale", "block.fc.weight", "block.fc.bias", "block.bn.weight", "block.bn.bias",
                                 "head.0.weight", "head.0.bias"});
  CHECK(names_of(net.named_buffers()) ==
        std::vector<std::string>{"block.bn.running_mean", "block.bn.running_var", "block.bn.num_batches_tracked"});
  CHECK(net.num_parameters() == 1 + 12 + 3 + 3 + 3 + 6 + 2);
  CHECK(net.parameters().size() == 7);
  CHECK(net.children().size() == 2);
  for (auto& p : net.parameters()) CHECK(p.requires_grad());
  for (auto& b : net.buffers()) CHECK_FALSE(b.requires_grad());
  // the layer's member and the registry hold the same tensor, named by its full path
  CHECK(net.parameters()[1].is_same(net.block->fc->weight));
  CHECK(net.block->fc->weight.name() == "block.fc.weight");
  auto mods = net.named_modules();
  REQUIRE(mods.size() == 6);
  CHECK(mods[0].first == "block");
  CHECK(mods[1].first == "block.fc");
  CHECK(mods[5].first == "head.1");
  int visited = 0;
  net.apply([&](nn::Module&) { ++visited; });
  CHECK(visited == 7);
}

TEST_CASE("Module: registration errors and shared parameters", "[nnlib]") {
  nn::Module m;
  m.register_parameter("w", zeros({2}));
  CHECK_THROWS_WITH(m.register_parameter("w", zeros({2})), Contains("'w' is already registered"));
  CHECK_THROWS_WITH(m.register_buffer("a.b", zeros({2})), Contains("must not contain '.'"));
  CHECK_THROWS_WITH(m.register_parameter("idx", zeros({2}, TensorOptions(kInt64))), Contains("float32 or float64"));
  CHECK_THROWS_WITH(m.forward(zeros({1})), Contains("not implemented"));
  // the same layer registered twice: its parameters are listed once
  auto shared = std::make_shared<nn::Linear>(2, 2);
  nn::Sequential s{shared, shared};
  CHECK(s.parameters().size() == 2);
  CHECK(s.state_dict().size() == 4);  // both names are in the state dict (as PyTorch)
  nn::ModuleList list{std::make_shared<nn::Linear>(2, 3), std::make_shared<nn::ReLU>()};
  CHECK(names_of(list.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias"});
  CHECK(list.at<nn::Linear>(0)->out_features == 3);
  CHECK_THROWS(list.at<nn::Linear>(1));
  CHECK_THROWS_WITH(list(zeros({1, 2})), Contains("not implemented"));
}

TEST_CASE("Module: state_dict round trip reproduces the outputs, state_dict is detached", "[nnlib]") {
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  Tensor x = rand({5, 4});
  a(x);  // one training step changes a's running statistics
  a.eval();
  b.eval();
  Tensor ya = a(x);
  CHECK_FALSE(allclose(b(x), ya));
  nn::StateDict sd = a.state_dict();
  CHECK(sd.size() == 10);
  CHECK(sd.count("block.bn.num_batches_tracked"));
  CHECK(sd.at("block.bn.num_batches_tracked").dtype() == kInt64);
  for (auto& [k, t] : sd) CHECK_FALSE(t.requires_grad());
  b.load_state_dict(sd);
  CHECK(b(x).to_vector<double>() == ya.to_vector<double>());
  CHECK(b.block->bn->num_batches_tracked.item() == 1);
  // b's tensors were copied into, not replaced: handles stay the same
  CHECK(b.named_parameters()[1].second.is_same(b.block->fc->weight));
  CHECK_FALSE(b.block->fc->weight.storage() == a.block->fc->weight.storage());
  // loading a model's own state dict is a no-op
  a.load_state_dict(a.state_dict());
  CHECK(a(x).to_vector<double>() == ya.to_vector<double>());
}

TEST_CASE("Module: load_state_dict errors name the key, the shapes and dtypes, nothing is loaded", "[nnlib]") {
  nn::Linear l(3, 2);
  Tensor w0 = l.weight.clone();
  nn::StateDict good = nn::Linear(3, 2).state_dict();

  nn::StateDict missing = good;
  missing.erase("bias");
  CHECK_THROWS_WITH(l.load_state_dict(missing), Contains("missing keys: 'bias'"));

  nn::StateDict extra = good;
  extra["gamma"] = zeros({2});
  CHECK_THROWS_WITH(l.load_state_dict(extra), Contains("unexpected keys: 'gamma'"));

  nn::StateDict shape = good;
  shape["weight"] = zeros({3, 2});
  CHECK_THROWS_WITH(l.load_state_dict(shape),
                    Contains("'weight'") && Contains("shape [3, 2] from the checkpoint") &&
                        Contains("the current model is [2, 3]"));
  CHECK_THROWS_WITH(l.load_state_dict(shape, /*strict=*/false), Contains("[3, 2]"));

  nn::StateDict dtype = good;
  dtype["bias"] = zeros({2}, TensorOptions(kFloat64));
  CHECK_THROWS_WITH(l.load_state_dict(dtype), Contains("'bias'") && Contains("float64") && Contains("float32"));

  CHECK(l.weight.to_vector<double>() == w0.to_vector<double>());  // nothing was copied

  // non-strict: loads the matching keys and ignores the rest
  nn::StateDict partial{{"weight", ones({2, 3})}, {"other", zeros({1})}};
  l.load_state_dict(partial, false);
  CHECK(l.weight.to_vector<double>() == std::vector<double>(6, 1.0));
}

TEST_CASE("Module: to(dtype) keeps the tensor handles valid and converts floating tensors only", "[nnlib]") {
  Net net;
  Tensor w = net.block->fc->weight;  // a handle taken before the move
  auto params_before = net.parameters();
  net.to(kFloat64);
  CHECK(w.dtype() == kFloat64);
  CHECK(params_before[1].dtype() == kFloat64);
  CHECK(params_before[1].is_same(net.block->fc->weight));
  CHECK(w.requires_grad());
  CHECK(net.block->bn->running_mean.dtype() == kFloat64);
  CHECK(net.block->bn->num_batches_tracked.dtype() == kInt64);
  Tensor y = net(rand({3, 4}, TensorOptions(kFloat64)));
  CHECK(y.dtype() == kFloat64);
  y.sum().backward();
  CHECK(w.grad().defined());
  CHECK(w.grad().dtype() == kFloat64);
  // an optimizer built on the handles updates the float64 tensors
  optim::SGD opt(net.parameters(), {.lr = 0.1});
  Tensor before = w.clone();
  opt.step();
  CHECK_FALSE(allclose(w, before));
  net.to(kCPU);  // same device: nothing changes
  CHECK(w.dtype() == kFloat64);
  net.zero_grad();
  CHECK_FALSE(w.grad().defined());
  CHECK_THROWS(net.to(kInt64));
}

TEST_CASE("Module: repr prints a PyTorch-like tree", "[nnlib]") {
  nn::Sequential s;
  s.push_back(std::make_shared<nn::Conv2d>(1, 8, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false}));
  s.push_back(std::make_shared<nn::BatchNorm2d>(8));
  s.push_back(std::make_shared<nn::LeakyReLU>(0.2));
  auto inner = s.push_back(std::make_shared<nn::Sequential>());
  inner->emplace_back<nn::Flatten>();
  inner->emplace_back<nn::Linear>(8, 1);
  CHECK(s.repr() ==
        "Sequential(\n"
        "  (0): Conv2d(1, 8, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), bias=False)\n"
        "  (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (2): LeakyReLU(negative_slope=0.2)\n"
        "  (3): Sequential(\n"
        "    (0): Flatten(start_dim=1, end_dim=-1)\n"
        "    (1): Linear(in_features=8, out_features=1, bias=True)\n"
        "  )\n"
        ")");
  CHECK(nn::LSTM(3, 4, {.num_layers = 2, .batch_first = true}).repr() == "LSTM(3, 4, num_layers=2, batch_first=True)");
  CHECK(nn::ReLU().repr() == "ReLU()");
  CHECK(s.at<nn::Conv2d>(0)->out_channels == 8);
  CHECK_THROWS(s.at<nn::Linear>(0));
}
