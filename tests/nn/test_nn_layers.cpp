// nn layers against PyTorch (tests/fixtures/nn_layers_modules.txt, written by
// tests/fixtures/make_nn_layer_fixtures.py): each case loads torch's parameter
// values into the duel layer through load_state_dict (PyTorch key names), runs
// the forward, and compares the outputs, the updated buffers and the gradients
// of loss = sum(out * w) for the inputs and every parameter.
// Plus float64 gradchecks and train/eval behaviour.
#include <catch2/catch.hpp>
#include <cmath>

#include "nn/nn.h"
#include "tests/fixture.h"

using namespace duel;
using duel::test::FxCase;

namespace {

const char* kFile = "nn_layers_modules.txt";
using Inputs = std::map<std::string, Tensor>;
using MakeFn = std::function<std::shared_ptr<nn::Module>()>;
using RunFn = std::function<TensorList(nn::Module&, const Inputs&)>;

struct LayerSpec {
  MakeFn make;
  RunFn run;  // null: {m(x)}
};

template <class M, class... Args>
MakeFn mk(Args... args) {
  return [=] { return std::make_shared<M>(args...); };
}

nn::ConvOptions conv_opts(nn::Size2 stride, nn::Size2 padding, nn::Size2 output_padding, nn::Size2 dilation,
                          int64_t groups, bool bias) {
  return {.stride = stride, .padding = padding, .output_padding = output_padding, .dilation = dilation,
          .groups = groups, .bias = bias};
}

std::map<std::string, LayerSpec> layer_table() {
  std::map<std::string, LayerSpec> t;
  t["linear"] = {mk<nn::Linear>(5, 3), {}};
  t["linear_nobias"] = {mk<nn::Linear>(5, 3, false), {}};
  t["linear_3d"] = {mk<nn::Linear>(4, 2), {}};
  t["linear_f32"] = {mk<nn::Linear>(6, 4), {}};
  t["conv1d"] = {mk<nn::Conv1d>(3, 4, 3, 2, 1), {}};
  t["conv1d_groups_dilation"] = {mk<nn::Conv1d>(4, 6, 2, /*stride*/ 1, /*padding*/ 2, /*dilation*/ 2, /*groups*/ 2), {}};
  t["conv2d"] = {mk<nn::Conv2d>(3, 4, 3, 2, 1), {}};
  t["conv2d_rect_groups_nobias"] = {
      [] { return std::make_shared<nn::Conv2d>(4, 6, nn::Size2{3, 2}, conv_opts({1, 2}, {1, 0}, 0, {2, 1}, 2, false)); },
      {}};
  t["conv2d_f32"] = {[] { return std::make_shared<nn::Conv2d>(2, 3, 3, nn::ConvOptions{.padding = 1}); }, {}};
  t["convtranspose1d"] = {mk<nn::ConvTranspose1d>(3, 2, 3, 2, 1, 1), {}};
  t["convtranspose2d"] = {[] { return std::make_shared<nn::ConvTranspose2d>(4, 4, 3, conv_opts(2, 1, 1, 1, 2, true)); },
                          {}};
  t["convtranspose2d_dcgan"] = {
      [] { return std::make_shared<nn::ConvTranspose2d>(3, 2, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false}); },
      {}};
  t["convtranspose2d_dilation"] = {[] {
                                     return std::make_shared<nn::ConvTranspose2d>(
                                         2, 3, nn::Size2{2, 3}, conv_opts({2, 1}, {0, 1}, 0, {1, 2}, 1, true));
                                   },
                                   {}};
  t["batchnorm1d_train_2d"] = {mk<nn::BatchNorm1d>(3), {}};
  t["batchnorm1d_train_3d"] = {mk<nn::BatchNorm1d>(2, 1e-5, 0.3), {}};
  t["batchnorm1d_eval"] = {mk<nn::BatchNorm1d>(3), {}};
  t["batchnorm2d_train"] = {mk<nn::BatchNorm2d>(3), {}};
  t["batchnorm2d_eval"] = {mk<nn::BatchNorm2d>(3, 1e-3), {}};
  t["batchnorm2d_noaffine_train"] = {mk<nn::BatchNorm2d>(2, 1e-5, 0.1, false), {}};
  t["batchnorm2d_notrack_eval"] = {mk<nn::BatchNorm2d>(2, 1e-5, 0.1, true, false), {}};
  t["batchnorm2d_f32_train"] = {mk<nn::BatchNorm2d>(3), {}};
  t["instancenorm2d"] = {mk<nn::InstanceNorm2d>(3), {}};
  t["instancenorm2d_affine"] = {mk<nn::InstanceNorm2d>(2, 1e-5, 0.1, true), {}};
  t["instancenorm2d_track_train"] = {mk<nn::InstanceNorm2d>(2, 1e-5, 0.2, true, true), {}};
  t["instancenorm2d_track_eval"] = {mk<nn::InstanceNorm2d>(2, 1e-5, 0.1, true, true), {}};
  t["layernorm"] = {mk<nn::LayerNorm>(Shape{4}), {}};
  t["layernorm_2d"] = {mk<nn::LayerNorm>(Shape{3, 4}, 1e-3), {}};
  t["layernorm_noaffine"] = {mk<nn::LayerNorm>(Shape{5}, 1e-5, false), {}};
  t["relu"] = {mk<nn::ReLU>(), {}};
  t["leakyrelu"] = {mk<nn::LeakyReLU>(0.2), {}};
  t["prelu"] = {mk<nn::PReLU>(), {}};
  t["prelu_channels"] = {mk<nn::PReLU>(3), {}};
  t["elu"] = {mk<nn::ELU>(0.7), {}};
  t["tanh"] = {mk<nn::Tanh>(), {}};
  t["sigmoid"] = {mk<nn::Sigmoid>(), {}};
  t["softplus"] = {mk<nn::Softplus>(2.0, 3.0), {}};
  t["softmax"] = {mk<nn::Softmax>(1), {}};
  t["logsoftmax"] = {mk<nn::LogSoftmax>(-1), {}};
  t["upsample_nearest"] = {mk<nn::Upsample>(2), {}};
  t["upsample_bilinear"] = {mk<nn::Upsample>(2, nn::UpsampleMode::Bilinear, false), {}};
  t["upsample_bilinear_corners"] = {mk<nn::Upsample>(3, nn::UpsampleMode::Bilinear, true), {}};
  t["pixelshuffle"] = {mk<nn::PixelShuffle>(2), {}};
  t["maxpool2d"] = {mk<nn::MaxPool2d>(3, 2, 1), {}};
  t["maxpool2d_default_stride"] = {mk<nn::MaxPool2d>(2), {}};
  t["avgpool2d"] = {mk<nn::AvgPool2d>(3, 2, 1), {}};
  t["avgpool2d_nopadcount"] = {[] { return std::make_shared<nn::AvgPool2d>(nn::Size2{2, 3}, nn::Size2{2, 1}, 1, false); },
                               {}};
  t["flatten"] = {mk<nn::Flatten>(), {}};
  t["reshape"] = {mk<nn::Reshape>(Shape{2, 3}), {}};
  t["embedding"] = {mk<nn::Embedding>(5, 3), [](nn::Module& m, const Inputs& in) { return TensorList{m(in.at("idx"))}; }};
  t["lstmcell"] = {mk<nn::LSTMCell>(3, 4), [](nn::Module& m, const Inputs& in) {
                     auto [h, c] = dynamic_cast<nn::LSTMCell&>(m)(in.at("x"), {in.at("h0"), in.at("c0")});
                     return TensorList{h, c};
                   }};
  t["lstmcell_nostate_nobias"] = {mk<nn::LSTMCell>(3, 2, false), {}};
  t["grucell"] = {mk<nn::GRUCell>(3, 4), [](nn::Module& m, const Inputs& in) {
                    return TensorList{dynamic_cast<nn::GRUCell&>(m)(in.at("x"), in.at("h0"))};
                  }};
  t["grucell_nostate"] = {mk<nn::GRUCell>(2, 3), {}};
  t["lstm"] = {mk<nn::LSTM>(3, 4, nn::RNNOptions{}), {}};
  t["lstm_2layer_batchfirst_state"] = {
      [] { return std::make_shared<nn::LSTM>(3, 3, nn::RNNOptions{.num_layers = 2, .batch_first = true}); },
      [](nn::Module& m, const Inputs& in) {
        auto [out, state] = dynamic_cast<nn::LSTM&>(m).forward_with_state(in.at("x"), {in.at("h0"), in.at("c0")});
        return TensorList{out, state.first, state.second};
      }};
  t["lstm_unbatched"] = {mk<nn::LSTM>(2, 3, nn::RNNOptions{}), [](nn::Module& m, const Inputs& in) {
                           auto [out, state] = dynamic_cast<nn::LSTM&>(m).forward_with_state(in.at("x"));
                           return TensorList{out, state.first, state.second};
                         }};
  t["gru"] = {mk<nn::GRU>(3, 4, nn::RNNOptions{}), {}};
  t["gru_2layer_batchfirst_state"] = {
      [] { return std::make_shared<nn::GRU>(2, 3, nn::RNNOptions{.num_layers = 2, .bias = false, .batch_first = true}); },
      [](nn::Module& m, const Inputs& in) {
        auto [out, h] = dynamic_cast<nn::GRU&>(m).forward_with_state(in.at("x"), in.at("h0"));
        return TensorList{out, h};
      }};
  t["minibatch_discrimination"] = {mk<nn::MinibatchDiscrimination>(4, 3, 2), {}};
  t["minibatch_discrimination_mean"] = {mk<nn::MinibatchDiscrimination>(3, 2, 3, true), {}};
  t["sequential"] = {[] {
                       auto s = std::make_shared<nn::Sequential>();
                       s->emplace_back<nn::ConvTranspose2d>(3, 4, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
                       s->emplace_back<nn::BatchNorm2d>(4);
                       s->emplace_back<nn::ReLU>();
                       s->emplace_back<nn::Conv2d>(4, 2, 3, 2, 1);
                       s->emplace_back<nn::LeakyReLU>(0.2);
                       s->emplace_back<nn::Flatten>();
                       s->emplace_back<nn::Linear>(8, 1);
                       return s;
                     },
                     {}};
  return t;
}

void run_layer_case(const FxCase& c, const LayerSpec& spec) {
  INFO("case " << c.name);
  const bool f32 = c.has_flag("f32");
  const DType dt = f32 ? kFloat32 : kFloat64;
  const double rtol = f32 ? 2e-5 : 1e-10, atol = f32 ? 2e-5 : 1e-11;

  auto m = spec.make();
  m->to(dt);
  nn::StateDict sd;
  Inputs in;
  for (auto& t : c.inputs) {
    if (t.name.rfind("p.", 0) == 0) {
      sd[t.name.substr(2)] = t.make(dt);
    } else {
      Tensor leaf = t.make(dt);
      if (is_floating(leaf.dtype())) leaf.requires_grad_();
      in[t.name] = leaf;
    }
  }
  m->load_state_dict(sd);  // strict: torch's keys must be exactly duel's
  if (c.has_flag("eval")) m->eval();

  TensorList outs = spec.run ? spec.run(*m, in) : TensorList{(*m)(in.at("x"))};
  // forward outputs, then the buffers after the forward
  size_t k = 0;
  Tensor loss;
  nn::StateDict after = m->state_dict();
  for (auto& o : c.outputs) {
    if (o.name.rfind("b.", 0) == 0) {
      auto it = after.find(o.name.substr(2));
      REQUIRE(it != after.end());
      duel::test::check_values(it->second, o.values, o.shape, rtol, atol, "buffer " + o.name);
      continue;
    }
    REQUIRE(k < outs.size());
    const Tensor& y = outs[k++];
    CHECK(y.dtype() == dt);
    duel::test::check_values(y, o.values, o.shape, rtol, atol, "output " + o.name);
    const auto* w = c.weight_for(o.name);
    REQUIRE(w != nullptr);
    Tensor term = sum(y * w->make(dt));
    loss = loss.defined() ? loss + term : term;
  }
  CHECK(k == outs.size());
  REQUIRE(loss.defined());
  loss.backward();

  auto params = m->named_parameters();
  size_t param_grads = 0;
  for (auto& g : c.grads) {
    Tensor actual;
    if (g.name.rfind("p.", 0) == 0) {
      ++param_grads;
      for (auto& [n, p] : params)
        if (n == g.name.substr(2)) actual = p.grad();
      if (!actual.defined()) actual = zeros(g.shape, TensorOptions(dt));  // torch: allow_unused -> zeros
    } else {
      actual = in.at(g.name).grad();
    }
    duel::test::check_values(actual, g.values, g.shape, rtol * 10, atol * 10, "grad " + g.name);
  }
  CHECK(param_grads == params.size());  // every parameter was checked
}

}  // namespace

TEST_CASE("nn layers match PyTorch: forward, buffers, input and parameter gradients", "[nnlib]") {
  auto table = layer_table();
  const auto& cases = duel::test::load_fixtures(kFile);
  std::set<std::string> in_file;
  for (auto& c : cases) {
    in_file.insert(c.name);
    auto it = table.find(c.name);
    if (it == table.end()) FAIL("fixture case '" << c.name << "' has no entry in the C++ table");
    SECTION(c.name) { run_layer_case(c, it->second); }
  }
  for (auto& [name, spec] : table) {
    INFO("table case '" << name << "' is missing from " << kFile << " (rerun make_nn_layer_fixtures.py)");
    CHECK(in_file.count(name));
  }
}

// ---------------------------------------------------------------- gradcheck (float64)

namespace {

// Checks d out / d (x and every parameter) of a module by finite differences.
void gradcheck_module(nn::Module& m, const Tensor& x, const std::function<Tensor(const Tensor&)>& f = nullptr) {
  m.to(kFloat64);
  TensorList inputs{x};
  for (auto& p : m.parameters()) inputs.push_back(p);
  auto fn = [&](const TensorList& in) { return f ? f(in[0]) : m(in[0]); };
  CHECK(gradcheck(fn, inputs));
}

}  // namespace

TEST_CASE("nn layers: gradcheck of Linear, convolutions, cells and minibatch discrimination", "[nnlib]") {
  Generator gen(7);
  auto input = [&](const Shape& s) { return duel::test::det_values(s, -1.0, 1.0, 11).requires_grad_(); };
  SECTION("Linear") {
    nn::Linear l(4, 3, true, &gen);
    gradcheck_module(l, input({2, 4}));
  }
  SECTION("Conv2d strided, grouped") {
    nn::Conv2d c(4, 2, 3, nn::ConvOptions{.stride = 2, .padding = 1, .groups = 2, .gen = &gen});
    gradcheck_module(c, input({1, 4, 4, 4}));
  }
  SECTION("ConvTranspose2d with output_padding") {
    nn::ConvTranspose2d c(2, 2, 3, nn::ConvOptions{.stride = 2, .padding = 1, .output_padding = 1, .gen = &gen});
    gradcheck_module(c, input({1, 2, 2, 2}));
  }
  SECTION("Conv1d and ConvTranspose1d") {
    nn::Conv1d c(2, 3, 3, 1, 1, 1, 1, true, &gen);
    gradcheck_module(c, input({2, 2, 4}));
    nn::ConvTranspose1d ct(2, 2, 2, 2, 0, 0, 1, true, 1, &gen);
    gradcheck_module(ct, input({1, 2, 3}));
  }
  SECTION("LSTMCell (h and c)") {
    nn::LSTMCell cell(3, 2, true, &gen);
    Tensor h0 = duel::test::det_values({2, 2}, -0.5, 0.5, 3).requires_grad_();
    Tensor c0 = duel::test::det_values({2, 2}, -0.5, 0.5, 4).requires_grad_();
    cell.to(kFloat64);
    TensorList inputs{input({2, 3}), h0, c0};
    for (auto& p : cell.parameters()) inputs.push_back(p);
    CHECK(gradcheck([&](const TensorList& in) {
      auto [h, c] = cell(in[0], {in[1], in[2]});
      return cat({h, c}, 1);
    }, inputs));
  }
  SECTION("GRUCell") {
    nn::GRUCell cell(3, 2, true, &gen);
    Tensor h0 = duel::test::det_values({2, 2}, -0.5, 0.5, 5).requires_grad_();
    cell.to(kFloat64);
    TensorList inputs{input({2, 3}), h0};
    for (auto& p : cell.parameters()) inputs.push_back(p);
    CHECK(gradcheck([&](const TensorList& in) { return cell(in[0], in[1]); }, inputs));
  }
  SECTION("two-layer LSTM with dropout off") {
    nn::LSTM lstm(2, 2, {.num_layers = 2, .gen = &gen});
    gradcheck_module(lstm, input({3, 1, 2}));
  }
  SECTION("MinibatchDiscrimination") {
    nn::MinibatchDiscrimination mbd(3, 2, 2, false, false, &gen);
    {
      NoGradGuard ng;
      mbd.T.mul_(0.3);  // keep exp(-L1) away from 0 so the check is meaningful
    }
    gradcheck_module(mbd, input({3, 3}));
    nn::MinibatchDiscrimination mean_self(3, 2, 2, true, true, &gen);
    {
      NoGradGuard ng;
      mean_self.T.mul_(0.3);
    }
    gradcheck_module(mean_self, input({3, 3}));
  }
}

// ---------------------------------------------------------------- behaviour

TEST_CASE("MinibatchDiscrimination: self term and mean by hand", "[nnlib]") {
  // T = identity-like projection: A = 2, B = 1, C = 2, M_i = x_i
  nn::MinibatchDiscrimination plain(2, 1, 2), with_self(2, 1, 2, false, true), mean(2, 1, 2, true, false);
  for (auto* m : {&plain, &with_self, &mean}) {
    NoGradGuard ng;
    m->T.copy_(from_vector(std::vector<double>{1, 0, 0, 1}, {2, 1, 2}));
  }
  Tensor x = tensor({{0.0, 0.0}, {1.0, 0.5}, {-1.0, 1.0}});
  // L1 distances: d01 = 1.5, d02 = 2, d12 = 2.5
  double e01 = std::exp(-1.5), e02 = std::exp(-2.0), e12 = std::exp(-2.5);
  std::vector<double> o = {e01 + e02, e01 + e12, e02 + e12};
  auto check_col = [&](const Tensor& y, const std::vector<double>& want) {
    REQUIRE(y.sizes() == Shape{3, 3});
    auto v = y.to_vector<double>();
    for (int i = 0; i < 3; ++i) {
      CHECK(v[i * 3 + 0] == Approx(x.to_vector<double>()[i * 2]));
      CHECK(v[i * 3 + 2] == Approx(want[i]).epsilon(1e-6));
    }
  };
  check_col(plain(x), o);
  check_col(with_self(x), {o[0] + 1, o[1] + 1, o[2] + 1});
  check_col(mean(x), {o[0] / 2, o[1] / 2, o[2] / 2});
}

TEST_CASE("BatchNorm: train uses batch statistics and updates running ones, eval uses running ones", "[nnlib]") {
  nn::BatchNorm1d bn(2, 1e-5, 0.5);
  Tensor x = tensor({{1.0, 10.0}, {3.0, 20.0}, {5.0, 60.0}});  // means 3, 30; unbiased vars 4, 700
  Tensor y = bn(x);
  auto yv = y.to_vector<double>();
  // train: normalised by the biased batch variance (8/3 and 1400/3)
  CHECK(yv[0] == Approx(-2.0 / std::sqrt(8.0 / 3 + 1e-5)).epsilon(1e-5));
  CHECK(bn.running_mean.to_vector<double>() == std::vector<double>{1.5, 15.0});
  auto rv = bn.running_var.to_vector<double>();
  CHECK(rv[0] == Approx(0.5 + 0.5 * 4.0));
  CHECK(rv[1] == Approx(0.5 + 0.5 * 700.0));
  CHECK(bn.num_batches_tracked.item() == 1);

  bn.eval();
  CHECK_FALSE(bn.is_training());
  Tensor z = bn(tensor({{1.5, 15.0}}));
  auto zv = z.to_vector<double>();
  CHECK(zv[0] == Approx(0.0).margin(1e-6));
  CHECK(zv[1] == Approx(0.0).margin(1e-6));
  Tensor z2 = bn(tensor({{3.5, 15.0}}));
  CHECK(z2.to_vector<double>()[0] == Approx(2.0 / std::sqrt(2.5 + 1e-5)).epsilon(1e-5));
  CHECK(bn.running_mean.to_vector<double>() == std::vector<double>{1.5, 15.0});  // untouched in eval
  CHECK(bn.num_batches_tracked.item() == 1);

  bn.train();
  bn(x);
  CHECK(bn.num_batches_tracked.item() == 2);
  CHECK(bn.running_mean.to_vector<double>()[0] == Approx(0.5 * 1.5 + 0.5 * 3.0));
}

TEST_CASE("Dropout: zeroes about p of the elements and rescales in training, identity in eval", "[nnlib]") {
  manual_seed(123);
  nn::Dropout d(0.25);
  Tensor x = ones({200, 50});
  Tensor y = d(x);
  auto v = y.to_vector<double>();
  int64_t zeros_count = 0, bad = 0;
  for (double e : v) {
    if (e == 0.0) {
      ++zeros_count;
    } else if (std::abs(e - 1.0 / 0.75) > 1e-6) {
      ++bad;
    }
  }
  CHECK(bad == 0);
  double frac = (double)zeros_count / v.size();
  CHECK(frac == Approx(0.25).margin(0.02));
  d.eval();
  Tensor z = d(x);
  CHECK(z.to_vector<double>() == x.to_vector<double>());
  // train()/eval() reach nested modules
  nn::Sequential s{std::make_shared<nn::Linear>(3, 3), std::make_shared<nn::Dropout>(0.9)};
  s.eval();
  CHECK_FALSE(s[1]->is_training());
  s.train();
  CHECK(s[1]->is_training());
}

TEST_CASE("LSTM: batch_first matches the time-major layout, dropout only in training", "[nnlib]") {
  Generator g1(3), g2(3);
  nn::LSTM a(3, 4, {.num_layers = 2, .gen = &g1});
  nn::LSTM b(3, 4, {.num_layers = 2, .batch_first = true, .gen = &g2});
  Tensor x = duel::test::det_values({5, 2, 3}, -1, 1, 9).to(kFloat32);
  auto [oa, sa] = a.forward_with_state(x);
  auto [ob, sb] = b.forward_with_state(x.transpose(0, 1));
  duel::test::check_close(ob.transpose(0, 1), oa, 1e-6, 1e-6, "batch_first output");
  duel::test::check_close(sb.first, sa.first, 1e-6, 1e-6, "h_n");
  duel::test::check_close(sb.second, sa.second, 1e-6, 1e-6, "c_n");
  // h_n of the last layer is the last output step
  duel::test::check_close(sa.first.select(0, 1), oa.select(0, 4), 1e-7, 1e-7, "h_n[-1] == out[-1]");
  CHECK(a.named_parameters()[4].first == "weight_ih_l1");

  nn::LSTM drop(3, 4, {.num_layers = 2, .dropout = 0.5});
  drop.eval();
  Tensor e1 = drop(x), e2 = drop(x);
  CHECK(e1.to_vector<double>() == e2.to_vector<double>());
}

TEST_CASE("LSTMCell::forward_sequence equals the cell applied step by step", "[nnlib]") {
  // forward_sequence runs lstm_layer (one GEMM and one lstm_sequence node); the reference is T
  // calls of the cell. Outputs, the final state and every gradient (parameters, xs, the state).
  Generator gen(11);
  for (bool bias : {true, false}) {
    INFO("bias " << bias);
    nn::LSTMCell cell(3, 5, bias, &gen);
    cell.to(kFloat64);
    const int64_t T = 6, N = 2;
    Tensor xs = duel::test::det_values({T, N, 3}, -1, 1, 21).requires_grad_();
    Tensor h0 = duel::test::det_values({N, 5}, -1, 1, 22).requires_grad_();
    Tensor c0 = duel::test::det_values({N, 5}, -1, 1, 23).requires_grad_();
    Tensor w = duel::test::det_values({T, N, 5}, -1, 1, 24);
    auto grads = [&](const Tensor& loss) {
      for (const Tensor& t : {xs, h0, c0}) t.zero_grad();
      cell.zero_grad();
      loss.backward();
      std::vector<Tensor> g{xs.grad().clone(), h0.grad().clone(), c0.grad().clone()};
      for (const Tensor& p : cell.parameters()) g.push_back(p.grad().clone());
      return g;
    };
    auto [hs, state] = cell.forward_sequence(xs, {h0, c0});
    std::vector<Tensor> g_seq = grads(sum(hs * w) + sum(state.second));

    nn::LSTMState s{h0, c0};
    std::vector<Tensor> steps;
    for (int64_t t = 0; t < T; ++t) {
      s = cell(xs.select(0, t), s);
      steps.push_back(s.first);
    }
    Tensor ref = stack(steps, 0);
    std::vector<Tensor> g_ref = grads(sum(ref * w) + sum(s.second));

    duel::test::check_close(hs, ref, 1e-13, 1e-14, "h_1..h_T");
    duel::test::check_close(state.first, s.first, 1e-13, 1e-14, "h_T");
    duel::test::check_close(state.second, s.second, 1e-13, 1e-14, "c_T");
    REQUIRE(g_seq.size() == g_ref.size());
    for (size_t k = 0; k < g_seq.size(); ++k) duel::test::check_close(g_seq[k], g_ref[k], 1e-12, 1e-13, "gradient " + std::to_string(k));
  }
  nn::LSTMCell cell(3, 5);
  CHECK_THROWS_WITH(cell.forward_sequence(zeros({4, 3})),
                    Catch::Contains("LSTMCell::forward_sequence: expected a sequence [T, N, 3] with T >= 1, got shape [4, 3]"));
}
