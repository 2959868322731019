// The DQN family (rl/dqn.h): TD targets of every variant on hand-computed examples (including
// bootstrapping through a time-limit truncation), the dueling aggregation and its 1/sqrt(2)
// trunk-gradient scaling (checked against finite differences), the epsilon schedule, the
// reference hyperparameters, target-network copies, and the evaluation's Q probe.
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/grad_mode.h"
#include "rl/dqn.h"
#include "rl/dqn_model.h"
#include "tensor/ops/reduction.h"

using namespace duel;
using namespace duel::rl;

namespace {

void set_param(const Tensor& p, std::initializer_list<std::initializer_list<double>> rows) {
  NoGradGuard ng;
  p.detach().copy_(tensor(rows));
}
void set_param(const Tensor& p, std::initializer_list<double> v) {
  NoGradGuard ng;
  p.detach().copy_(tensor(v));
}

// A 2-input, 2-action MLP Q-network with hidden size 2 whose weights make Q(s) = s for s >= 0
// (identity layers), or Q(s) = 2 * (s_1, s_0) with `swap_scale` (a different target net).
void make_identity(QNetwork& q, bool swap_scale) {
  set_param(q.trunk->at<nn::Linear>(0)->weight, {{1, 0}, {0, 1}});
  set_param(q.trunk->at<nn::Linear>(0)->bias, {0, 0});
  set_param(q.head->at<nn::Linear>(0)->weight, {{1, 0}, {0, 1}});
  set_param(q.head->at<nn::Linear>(0)->bias, {0, 0});
  if (swap_scale)
    set_param(q.head->at<nn::Linear>(2)->weight, {{0, 2}, {2, 0}});
  else
    set_param(q.head->at<nn::Linear>(2)->weight, {{1, 0}, {0, 1}});
  set_param(q.head->at<nn::Linear>(2)->bias, {0, 0});
}

// next_obs rows s' = (1, 3), (2, 0), (4, 1); rewards 1, 0, 1; the second transition was
// TRUNCATED (a time limit: still bootstraps), the third TERMINATED.
ReplayBatch hand_batch() {
  ReplayBatch b;
  b.obs = zeros({3, 2});
  b.next_obs = tensor({{1, 3}, {2, 0}, {4, 1}});
  b.action = from_vector(std::vector<int64_t>{0, 1, 0}, {3}, TensorOptions(kInt64));
  b.reward = tensor({1, 0, 1});
  b.terminated = tensor({0, 0, 1});
  b.truncated = tensor({0, 1, 0});
  return b;
}

std::vector<float> targets_of(DQNVariant v) {
  DQNConfig c = DQNConfig::defaults("cartpole", v);
  c.hidden = 2;
  c.gamma = 0.5;
  c.dueling = false;  // the hand-built network is a plain MLP; dueling's targets are Double's
  DQNAgent agent(c, {2}, 2, 1);
  make_identity(*agent.online, false);
  if (agent.target) make_identity(*agent.target, true);
  return agent.targets(hand_batch()).to_vector<float>();
}

}  // namespace

TEST_CASE("dqn: td_target formulas on hand-computed numbers", "[dqn]") {
  Tensor r = tensor({1, 0.5, -1}), term = tensor({0, 1, 0});
  Tensor q_eval = tensor({{1, 3}, {2, 0}, {0.5, -2}});
  // max: r + 0.9 * max_a Q(s', a) * (1 - terminated) = 1 + 2.7, 0.5, -1 + 0.45
  auto y = td_target(r, term, q_eval, Tensor(), 0.9).to_vector<float>();
  CHECK(y[0] == Approx(3.7));
  CHECK(y[1] == Approx(0.5));
  CHECK(y[2] == Approx(-0.55));
  // double: argmax of q_select = 0, 1, 1 -> q_eval 1, 0, -2 -> 1.9, 0.5 (terminal), -2.8
  Tensor q_sel = tensor({{5, 0}, {0, 1}, {-1, 2}});
  auto yd = td_target(r, term, q_eval, q_sel, 0.9).to_vector<float>();
  CHECK(yd[0] == Approx(1.9));
  CHECK(yd[1] == Approx(0.5));
  CHECK(yd[2] == Approx(-2.8));
  CHECK_THROWS(td_target(r, term, q_eval, tensor({{1, 2}}), 0.9));
}

TEST_CASE("dqn: each variant's targets use the right networks", "[dqn]") {
  // online Q(s') = s' = (1,3), (2,0), (4,1); target Q~(s') = 2 (s'_1, s'_0) = (6,2), (0,4), (2,8); gamma 0.5.
  SECTION("dqn 2013: no target network, r + g max_a Q(s', a)") {
    auto y = targets_of(DQNVariant::kDQN2013);
    CHECK(y[0] == Approx(1 + 0.5 * 3));
    CHECK(y[1] == Approx(0 + 0.5 * 2));  // truncated: bootstraps
    CHECK(y[2] == Approx(1));            // terminated: reward only
  }
  SECTION("nature: r + g max_a Q~(s', a)") {
    auto y = targets_of(DQNVariant::kNature);
    CHECK(y[0] == Approx(1 + 0.5 * 6));
    CHECK(y[1] == Approx(0 + 0.5 * 4));
    CHECK(y[2] == Approx(1));
  }
  SECTION("double: r + g Q~(s', argmax_a Q(s', a))") {
    // online argmax = 1, 0, 0 -> Q~ = 2, 0, (2)
    auto y = targets_of(DQNVariant::kDouble);
    CHECK(y[0] == Approx(1 + 0.5 * 2));
    CHECK(y[1] == Approx(0));
    CHECK(y[2] == Approx(1));
  }
}

TEST_CASE("dqn: variant settings and reference hyperparameters", "[dqn]") {
  DQNConfig d = DQNConfig::defaults("breakout", DQNVariant::kDQN2013);
  CHECK_FALSE(d.target_network);
  CHECK(d.loss == "mse");
  DQNConfig n = DQNConfig::defaults("breakout", DQNVariant::kNature);
  CHECK(n.target_network);
  CHECK_FALSE(n.double_q);
  CHECK(n.loss == "huber");
  // MinAtar's reference (Young & Tian 2019)
  CHECK(n.optimizer == "rmsprop");
  CHECK(n.lr == 2.5e-4);
  CHECK(n.rms_alpha == 0.95);
  CHECK(n.rms_eps == 0.01);
  CHECK(n.rms_centered);
  CHECK_FALSE(n.rms_eps_inside_sqrt);  // torch.optim.RMSprop adds eps outside the sqrt
  CHECK(n.batch == 32);
  CHECK(n.replay_size == 100000);
  CHECK(n.target_update == 1000);
  CHECK(n.learning_starts == 5000);
  CHECK(n.eps_end == 0.1);
  CHECK(n.eps_decay == 100000);
  CHECK(n.gamma == 0.99);
  CHECK(n.train_freq == 1);
  CHECK(n.storage == ObsStorage::kBits);
  DQNConfig db = DQNConfig::defaults("cartpole", DQNVariant::kDouble);
  CHECK(db.double_q);
  CHECK_FALSE(db.dueling);
  DQNConfig du = DQNConfig::defaults("cartpole", DQNVariant::kDueling);
  CHECK(du.double_q);
  CHECK(du.dueling);
  CHECK(du.clip_grad == 10.0);
  CHECK(parse_dqn_variant("double") == DQNVariant::kDouble);
  CHECK_THROWS(parse_dqn_variant("rainbow"));
  // overrides from the command line
  const train::OptionTable& table = train::find_model("dqn").options;
  std::map<std::string, std::string> given = {
      {"env", "breakout"}, {"variant", "dueling"}, {"lr", "1e-4"}, {"batch", "16"}, {"double", "0"}, {"steps", "1234"}};
  DQNConfig c = dqn_config(table.resolve(given));
  CHECK(c.env == "breakout");
  CHECK(c.dueling);
  CHECK_FALSE(c.double_q);
  CHECK(c.lr == 1e-4);
  CHECK(c.batch == 16);
  CHECK(c.frames == 1234);
  CHECK(c.clip_grad == 10.0);           // the dueling preset
  CHECK(c.replay_size == 100000);       // the MinAtar preset
  CHECK(c.optimizer == "rmsprop");
  given["loss"] = "l3";
  CHECK_THROWS_WITH(table.resolve(given), Catch::Contains("--loss expects one of huber, mse, got 'l3'"));
  given.erase("loss");
  given["replay-size"] = "8";
  CHECK_THROWS_WITH(dqn_config(table.resolve(given)), Catch::Contains("--replay-size 8 cannot hold a --batch of 16"));
}

TEST_CASE("dqn: epsilon schedule", "[dqn]") {
  EpsilonSchedule s{1.0, 0.1, 100, 50};
  CHECK(s(0) == 1.0);
  CHECK(s(49) == 1.0);  // random frames before learning starts
  CHECK(s(50) == 1.0);
  CHECK(s(75) == Approx(0.775));
  CHECK(s(100) == Approx(0.55));
  CHECK(s(149) == Approx(0.109));
  CHECK(s(150) == Approx(0.1));
  CHECK(s(1000000) == Approx(0.1));
  DQNConfig m = DQNConfig::defaults("breakout", DQNVariant::kNature);
  EpsilonSchedule ms{m.eps_start, m.eps_end, m.eps_decay, m.learning_starts};
  CHECK(ms(4999) == 1.0);
  CHECK(ms(55000) == Approx(0.55));
  CHECK(ms(105000) == Approx(0.1));
  EpsilonSchedule none{1.0, 0.05, 0, 0};
  CHECK(none(0) == 0.05);
}

TEST_CASE("dqn: dueling aggregation V + A - mean A", "[dqn]") {
  Tensor v = from_vector(std::vector<float>{1, 2}, {2, 1}), a = tensor({{1, 2, 3}, {0, 0, 3}});
  auto q = dueling_aggregate(v, a).to_vector<float>();
  // means 2 and 1
  std::vector<float> expect = {0, 1, 2, 1, 1, 4};
  CHECK(q == expect);
  CHECK_THROWS(dueling_aggregate(tensor({{1, 2}}), a));
  // the network: mean_a Q = V for any input
  Generator g(3);
  QNetwork net({4}, 3, true, 16, 16, &g);
  Tensor x = randn({5, 4}, {}, &g);
  NoGradGuard ng;
  Tensor qn = net(x);
  Tensor vn = (*net.value)((*net.trunk)(x));
  CHECK(allclose(mean(qn, {1}, true), vn, 1e-5, 1e-6));
}

TEST_CASE("dqn: scale_gradient is the identity forward and scales the gradient", "[dqn]") {
  Tensor x = tensor({1.5, -2.0, 3.0}).requires_grad_();
  Tensor y = scale_gradient(x, 0.25);
  CHECK(y.to_vector<float>() == x.to_vector<float>());
  sum(y * y).backward();
  auto gx = x.grad().to_vector<float>();
  CHECK(gx[0] == Approx(0.25 * 2 * 1.5));
  CHECK(gx[1] == Approx(0.25 * 2 * -2.0));
  CHECK(gx[2] == Approx(0.25 * 2 * 3.0));
}

TEST_CASE("dqn: the dueling trunk gradient is 1/sqrt(2) of the true gradient", "[dqn]") {
  // Two identical float64 dueling networks, one with the scaling switched off.
  Generator g1(11), g2(11);
  QNetwork scaled({3}, 2, true, 5, 4, &g1), plain({3}, 2, true, 5, 4, &g2);
  scaled.to(kFloat64);
  plain.to(kFloat64);
  plain.trunk_grad_scale = 1.0;
  CHECK(scaled.trunk_grad_scale == Approx(1.0 / std::sqrt(2.0)));
  Generator gx(5);
  Tensor x = randn({4, 3}, TensorOptions(kFloat64), &gx);
  Tensor w = randn({4, 2}, TensorOptions(kFloat64), &gx);  // loss = sum(w * Q)
  auto loss_of = [&](QNetwork& net) { return sum(net(x) * w); };
  // forward is unchanged
  CHECK(allclose(scaled(x), plain(x), 0, 0));
  loss_of(scaled).backward();
  loss_of(plain).backward();
  // the trunk's parameters get 1/sqrt(2) of the gradient; the streams get the full one
  Tensor tw_s = scaled.trunk->at<nn::Linear>(0)->weight.grad(), tw_p = plain.trunk->at<nn::Linear>(0)->weight.grad();
  CHECK(allclose(tw_s, tw_p * (1.0 / std::sqrt(2.0)), 1e-12, 1e-14));
  CHECK(allclose(scaled.value->at<nn::Linear>(0)->weight.grad(), plain.value->at<nn::Linear>(0)->weight.grad(), 0, 0));
  CHECK(allclose(scaled.advantage->at<nn::Linear>(2)->weight.grad(), plain.advantage->at<nn::Linear>(2)->weight.grad(),
                 0, 0));
  // ... and the unscaled gradient is the true derivative (central differences on the trunk)
  Tensor W = plain.trunk->at<nn::Linear>(0)->weight;
  auto analytic = tw_p.to_vector<double>();
  const double h = 1e-6;
  for (int64_t i = 0; i < W.numel(); ++i) {
    double num;
    {
      NoGradGuard ng;
      double* p = W.data<double>();
      const double old = p[i];
      p[i] = old + h;
      double up = loss_of(plain).item();
      p[i] = old - h;
      double down = loss_of(plain).item();
      p[i] = old;
      num = (up - down) / (2 * h);
    }
    CHECK(analytic[i] == Approx(num).margin(1e-7));
    CHECK(tw_s.to_vector<double>()[i] == Approx(num / std::sqrt(2.0)).margin(1e-7));
  }
}

TEST_CASE("dqn: the MinAtar network has the reference shape", "[dqn]") {
  Generator g(1);
  QNetwork net({4, 10, 10}, 6, false, 128, 16, &g);
  // conv 4->16 3x3 (16*4*9 + 16), fc 1024->128 (+128), fc 128->6 (+6)
  CHECK(net.num_parameters() == 16 * 4 * 9 + 16 + 1024 * 128 + 128 + 128 * 6 + 6);
  NoGradGuard ng;
  CHECK(net(zeros({2, 4, 10, 10})).sizes() == Shape{2, 6});
  QNetwork cp({4}, 2, false, 128, 16, &g);
  CHECK(cp.num_parameters() == 4 * 128 + 128 + 128 * 128 + 128 + 128 * 2 + 2);
}

TEST_CASE("dqn: the target network is copied every target_update updates", "[dqn]") {
  DQNConfig c = DQNConfig::defaults("cartpole", DQNVariant::kNature);
  c.target_update = 3;
  c.hidden = 8;
  DQNAgent agent(c, {4}, 2, 9);
  auto same = [&] {
    auto a = agent.online->state_dict(), b = agent.target->state_dict();
    for (auto& [k, v] : a)
      if (!allclose(v, b.at(k), 0, 0)) return false;
    return true;
  };
  CHECK(same());  // starts as a copy
  Generator g(4);
  ReplayBatch b;
  b.obs = randn({8, 4}, {}, &g);
  b.next_obs = randn({8, 4}, {}, &g);
  b.action = randint(0, 2, {8}, &g);
  b.reward = randn({8}, {}, &g);
  b.terminated = zeros({8});
  b.truncated = zeros({8});
  agent.update(b);
  CHECK_FALSE(same());
  agent.update(b);
  CHECK_FALSE(same());
  agent.update(b);
  CHECK(agent.num_updates == 3);
  CHECK(same());
  // repeated updates on one batch reduce its TD loss
  double first = agent.update(b).loss, last = first;
  for (int i = 0; i < 30; ++i) last = agent.update(b).loss;
  CHECK(last < first);
}

TEST_CASE("dqn: evaluation probes Q(s0, a0) against the discounted return", "[dqn]") {
  // A network whose Q is constant 7 everywhere: q_s0 = 7; CartPole pays 1 per step, so the
  // discounted return is sum_{t<L} 0.9^t.
  QNetwork net({4}, 2, false, 4, 16);
  {
    NoGradGuard ng;
    for (auto& p : net.parameters()) p.detach().zero_();
    net.head->at<nn::Linear>(2)->bias.detach().fill_(7.0);
  }
  EvalResult e = evaluate_q_network(net, "cartpole", 3, 0.0, 0.9, 1, 10000);
  CHECK(e.episodes == 3);
  CHECK(e.q_s0 == Approx(7.0));
  CHECK(e.mean_return == Approx(e.mean_length));
  CHECK(e.g_s0 < 10.0);
  CHECK(e.g_s0 == Approx((1 - std::pow(0.9, e.mean_length)) / 0.1).epsilon(0.2));
  // always action 0 (ties go to the first): the pole falls in about 10 steps
  CHECK(e.mean_length < 30);
}
