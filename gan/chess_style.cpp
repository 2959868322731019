// Style Transfer Generative Adversarial Networks: Learning to Play Chess Differently
// (Chidambaram and Qi 2017), survey section 5.6: a conditional GAN whose generator proposes a
// move for a board position and whose discriminator tells the target player's (position, move)
// pairs from the generator's; a likelihood term keeps the generator's moves close to the
// target player's recorded moves and away from random ones (the survey's reading of the paper).
//
// Data (data/chess.h): positions from games between two engine "players" (Debian's stockfish
// at Skill Level 20 and at Skill Level 0, both at depth 8; scripts/chess_data.py), each
// position labelled with BOTH players' moves. --target names the player to imitate.
//
// The networks (everything from the side to move's view):
//   G_theta(s): board planes [18, 8, 8] -> 3x3 convolutions -> per-square features; the logit of
//     the move from a to b is <W_q f_a, W_k f_b> / sqrt(d) (+ a learnt bias per under-promotion
//     piece); illegal moves get -1e9, so pi_theta(. | s) = softmax puts exactly 0 on them and
//     no sample or argmax can ever be illegal.
//   D_phi(s, a): the board planes plus two planes for the move (its from and to squares, or
//     their expected values under a distribution over moves) -> 3x3 convolutions -> a logit.
//
//   repeat
//     (s_i, a*_i) <- a batch of training positions and the target player's moves
//     a~_i <- argmax_a (log pi_theta(a | s_i) + g_a), g ~ Gumbel(0, 1)     (a sample of pi_theta)
//     phi <- Adam( -[log D(s, a*) + log(1 - D(s, a~))] )                  (the GAN's D loss)
//     r_i <- a uniformly random legal move of s_i other than a*_i
//     L_like = -log pi_theta(a* | s) - lambda_r log(1 - pi_theta(r | s))  (toward a*, away from r)
//     L_adv  = -log D(s, onehot(a~) + y - sg(y)),  y = softmax((log pi_theta + g) / tau)
//              (straight-through Gumbel-softmax: D sees the sampled move, the gradient flows
//              through the relaxed one; Jang et al. 2017)
//     theta <- Adam(L_like + lambda_adv L_adv)
//
// --mode supervised is baseline (a) of the issue: the same G trained on -log pi_theta(a* | s)
// alone (no D, no random-move term). Baseline (b) needs no training: `duel eval` reports how
// often the other player's move in the same held-out positions is the target's.
//
// The paper's setting differs: human games (a large general set, then a grandmaster's), an
// AlphaGo-style policy network over boards, and a discriminator on board pairs. Here both
// players are engines, so every position has both players' moves and the "style" is exactly
// measurable as move-match accuracy on held-out games.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "data/chess.h"
#include "data/loader.h"
#include "dist/dist.h"
#include "gan/losses.h"
#include "gan/models.h"
#include "nn/nn.h"
#include "tensor/ops/loss.h"
#include "tensor/serialize.h"

namespace duel::gan {
namespace {

using train::Checkpointable;
using train::Metrics;
using train::Options;
using train::Run;

// Constant maps of the move ids: [kChessMoves] -> the from-to pair index a * 64 + b whose
// bilinear logit a move uses, and the under-promotion piece (-1 for other moves).
struct MoveTables {
  Tensor pair;        // int64 [kChessMoves]
  Tensor promo;       // float [kChessMoves, 3]: one-hot under-promotion piece (zeros otherwise)
  Tensor from, to;    // float [kChessMoves, 64]: one-hot from and to squares
  MoveTables() {
    std::vector<int64_t> p(kChessMoves);
    std::vector<float> pr(kChessMoves * 3, 0.f), f(kChessMoves * 64, 0.f), t(kChessMoves * 64, 0.f);
    for (int64_t id = 0; id < kChessMoves; ++id) {
      int64_t a = id / 64, b = id % 64;
      if (id >= 4096) {
        const int64_t k = id - 4096, piece = k % 3, dir = (k / 3) % 3, file = k / 9;
        a = 48 + file;
        b = file + dir - 1 >= 0 && file + dir - 1 < 8 ? 56 + file + dir - 1 : a;  // off the board: no move
        pr[id * 3 + piece] = 1.f;
      }
      p[id] = a * 64 + b;
      f[id * 64 + a] = 1.f;
      t[id * 64 + b] = 1.f;
    }
    pair = from_vector(p, {kChessMoves}, TensorOptions(kInt64));
    promo = from_vector(pr, {kChessMoves, 3});
    from = from_vector(f, {kChessMoves, 64});
    to = from_vector(t, {kChessMoves, 64});
  }
};

const MoveTables& move_tables() {
  static const MoveTables t;
  return t;
}

// A stack of `n` 3x3 convolutions with ReLU, `in` -> `c` channels, on the 8x8 board.
std::shared_ptr<nn::Sequential> board_trunk(int64_t in, int64_t c, int64_t n) {
  auto s = std::make_shared<nn::Sequential>();
  for (int64_t i = 0; i < n; ++i) {
    s->push_back(std::make_shared<nn::Conv2d>(i == 0 ? in : c, c, 3, 1, 1));
    s->push_back(std::make_shared<nn::ReLU>());
  }
  return s;
}

// G_theta: the policy network. forward(planes [B, 18, 8, 8]) -> logits over every move id,
// [B, kChessMoves] (add ChessData::legal_mask before a softmax).
class MovePolicy : public nn::Module {
 public:
  MovePolicy(int64_t channels, int64_t layers, int64_t d) : d_(d) {
    trunk = register_module("trunk", board_trunk(kChessPlanes, channels, layers));
    query = register_module("query", std::make_shared<nn::Conv2d>(channels, d, 1));
    key = register_module("key", std::make_shared<nn::Conv2d>(channels, d, 1));
    promo_bias = register_parameter("promo_bias", zeros({3}));
  }
  Tensor forward(const Tensor& planes) override {
    const auto& mt = move_tables();
    const int64_t B = planes.size(0);
    Tensor f = (*trunk)(planes);
    Tensor q = (*query)(f).reshape({B, d_, 64}).permute({0, 2, 1});  // [B, 64 from, d]
    Tensor k = (*key)(f).reshape({B, d_, 64});                         // [B, d, 64 to]
    Tensor pairs = matmul(q, k).reshape({B, 64 * 64}) * (1.0 / std::sqrt((double)d_));
    Tensor logits = index_select(pairs, 1, mt.pair.to(planes.device()));
    return logits + matmul(mt.promo.to(planes.device()), promo_bias);
  }

 private:
  int64_t d_;
  std::shared_ptr<nn::Sequential> trunk;
  std::shared_ptr<nn::Conv2d> query, key;
  Tensor promo_bias;
};

// D_phi: forward(planes [B, 18 + 2, 8, 8]) -> logit [B]; score() builds the two move planes.
class MoveCritic : public nn::Module {
 public:
  MoveCritic(int64_t channels, int64_t layers) {
    trunk = register_module("trunk", board_trunk(kChessPlanes + 2, channels, layers));
    out = register_module("out", std::make_shared<nn::Linear>(channels * 64, 1));
  }
  Tensor forward(const Tensor& x) override { return (*out)((*trunk)(x).reshape({x.size(0), -1})).squeeze(1); }
  // planes [B, 18, 8, 8] and moves as distributions (or one-hot rows) [B, kChessMoves].
  Tensor score(const Tensor& planes, const Tensor& moves) {
    const auto& mt = move_tables();
    const int64_t B = planes.size(0);
    Tensor from = matmul(moves, mt.from.to(moves.device())).reshape({B, 1, 8, 8});
    Tensor to = matmul(moves, mt.to.to(moves.device())).reshape({B, 1, 8, 8});
    return forward(cat({planes, from, to}, 1));
  }

 private:
  std::shared_ptr<nn::Sequential> trunk;
  std::shared_ptr<nn::Linear> out;
};

class ChessStyle : public train::Model {
 public:
  explicit ChessStyle(const Options& o)
      : device(o.text("device")),
        seed((uint64_t)o.integer("seed")),
        data(load_chess_data(o.text("data"))),
        target(chess_player_index(o.text("target"))),
        gan_mode(o.text("mode") == "gan"),
        B(o.integer("batch")),
        lambda_adv(o.real("lambda-adv")),
        lambda_random(o.real("lambda-random")),
        tau(o.real("tau")),
        eval_positions(o.integer("eval-positions")),
        noise(seed + 1),
        train_rows(data.split("train")) {
    DUEL_CHECK(!train_rows.empty(), "chess-style: the data '", data.path,
               "' has no training positions (games whose number mod 10 is 0..7)");
    DUEL_CHECK((int64_t)train_rows.size() >= B * dist::world_size(), "chess-style: --batch ", B, " (x ",
               dist::world_size(), " ranks) is more than the ", train_rows.size(), " training positions of '",
               data.path, "'");
    manual_seed(seed);
    G = std::make_shared<MovePolicy>(o.integer("channels"), o.integer("layers"), o.integer("key-dim"));
    G->to(device);
    opt_G = std::make_unique<optim::Adam>(G->parameters(), optim::AdamOptions{.lr = o.real("lr")});
    if (gan_mode) {
      D = std::make_shared<MoveCritic>(o.integer("d-channels"), o.integer("d-layers"));
      D->to(device);
      opt_D = std::make_unique<optim::Adam>(D->parameters(), optim::AdamOptions{.lr = o.real("lr-d")});
    }
    // the loader yields row numbers into train_rows; with N ranks each draws the global batch
    // of N * B and takes its own B (as gan::DataSource does)
    std::vector<int64_t> idx(train_rows.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = (int64_t)i;
    loader = std::make_unique<DataLoader>(
        from_vector(idx, {(int64_t)idx.size()}, TensorOptions(kInt64)),
        DataLoaderOptions{.batch_size = B * dist::world_size(), .seed = seed + 2, .drop_last = true, .prefetch = 0});
    position = loader->position().str();
  }

  void state(Checkpointable& s) override {
    s.add("G", *G);
    s.add("opt_G", *opt_G);
    if (gan_mode) {
      s.add("D", *D);
      s.add("opt_D", *opt_D);
    }
    s.add("noise", noise);
    s.add("data_position", position);
  }
  void resumed(Run&, int64_t) override { loader->set_position(LoaderPosition::parse(position)); }

  void step(int64_t) override {
    auto batch = loader->next();
    if (!batch) batch = loader->next();  // an epoch ended
    position = loader->position().str();
    std::vector<int64_t> rows;
    for (int64_t k : batch->inputs.narrow(0, dist::rank() * B, B).to_vector<int64_t>()) rows.push_back(train_rows[k]);
    Tensor planes = index_select(data.planes, 0, from_vector(rows, {B}, TensorOptions(kInt64))).to(device);
    Tensor mask = data.legal_mask(rows).to(device);
    std::vector<int64_t> best(B);
    for (int64_t i = 0; i < B; ++i) best[i] = data.move[target][rows[i]];
    Tensor y = from_vector(best, {B}, TensorOptions(kInt64)).to(device);

    Tensor logits = (*G)(planes) + mask;
    loss_like = cross_entropy(logits, y);
    Tensor loss = loss_like;
    if (gan_mode) {
      // a~ ~ pi_theta by the Gumbel-max trick; y_soft its relaxation (straight-through)
      Tensor u = clamp(shard(rand({B * dist::world_size(), kChessMoves}, TensorOptions(kFloat32), &noise)), 1e-10,
                       1.0 - 1e-7)
                     .to(device);
      Tensor g = -log(-log(u));
      Tensor perturbed = logits + g;
      Tensor fake = one_hot(argmax(perturbed.detach(), 1), kChessMoves).to(device);
      Tensor real = one_hot(y, kChessMoves).to(device);

      Tensor d_loss = minimax_d_loss(D->score(planes, real), D->score(planes, fake));
      opt_D->zero_grad();
      d_loss.backward();
      opt_D->step();
      loss_D = d_loss.item();

      Tensor y_soft = softmax(perturbed * (1.0 / tau), 1);
      Tensor straight = fake + y_soft - y_soft.detach();
      loss_adv = non_saturating_g_loss(D->score(planes, straight));
      Tensor away = lambda_random > 0 ? random_move_term(logits, rows) : zeros({});
      loss_random = away.item();
      loss = loss + lambda_random * away + lambda_adv * loss_adv;
    }
    opt_G->zero_grad();
    loss.backward();
    opt_G->step();  // (L_adv's gradient also reached D's parameters: opt_D->zero_grad() clears it)
  }

  Metrics values() override {
    Metrics m = {{"loss_like", loss_like.item()}};
    if (gan_mode) {
      m.push_back({"loss_D", loss_D});
      m.push_back({"loss_adv", loss_adv.item()});
      m.push_back({"loss_random", loss_random});
    }
    return m;
  }
  std::vector<std::string> plotted() const override { return {"loss_like", "val_match"}; }

  Metrics snapshot(Run&, int64_t) override {
    auto rows = data.split("val");
    if ((int64_t)rows.size() > eval_positions) rows.resize(eval_positions);
    if (rows.empty()) return {};
    Scores s = score(rows);
    return {{"val_match", s.match}, {"val_match3", s.match3}, {"val_nll", s.nll}};
  }

  // The proposed moves (ids, argmax) of the first n test positions, int64 [n, 1]: one move,
  // a sequence of length 1, per position.
  Tensor sample(int64_t n, Generator&) override {
    auto rows = data.split("test");
    rows.resize(std::min<size_t>(rows.size(), (size_t)n));
    return from_vector(score(rows).argmax, {(int64_t)rows.size(), 1}, TensorOptions(kInt64));
  }
  // `duel sample`: FEN, the proposed move and the target's, one position a line.
  void write_samples(int64_t n, Generator& gen, const std::string& path) override {
    auto rows = data.split("test");
    rows.resize(std::min<size_t>(rows.size(), (size_t)n));
    std::vector<int64_t> moves = sample(n, gen).to_vector<int64_t>();
    std::string text = "# FEN\tproposed\t" + std::string(kChessPlayers[target]) + "\n";
    for (size_t i = 0; i < rows.size(); ++i)
      text += data.fen[rows[i]] + "\t" + data.move_uci(rows[i], moves[i]) + "\t" +
              data.move_uci(rows[i], data.move[target][rows[i]]) + "\n";
    write_file_atomic(path, text.data(), text.size(), "duel sample");
  }
  std::string sample_file_extension() const override { return ".tsv"; }

  void evaluate(Run& run, const train::EvalRequest& r) override {
    auto meta = read_checkpoint_meta(run.path("checkpoint.duel"));
    auto rows = data.split("test");
    DUEL_CHECK(!rows.empty(), "chess-style eval: the data '", data.path, "' has no test positions (games whose number mod 10 is 9)");
    if (r.n > 0 && (int64_t)rows.size() > r.n) rows.resize(r.n);
    const int other = 1 - target;
    std::printf("run %s (model chess-style, mode %s, target %s, step %s, %s CPU seconds of training)\n",
                run.dir().c_str(), gan_mode ? "gan" : "supervised", kChessPlayers[target], meta["step"].c_str(),
                meta.count("cpu_seconds") ? meta["cpu_seconds"].c_str() : "?");
    std::printf("data %s: %lld positions, FNV-1a %016llx; test: %zu positions (games %% 10 == 9)\n", data.path.c_str(),
                (long long)data.size(), (unsigned long long)data.hash, rows.size());
    Scores s = score(rows, /*samples=*/8);
    double other_match = 0, uniform = 0;
    for (int64_t i : rows) {
      other_match += data.move[other][i] == data.move[target][i];
      uniform += 1.0 / (double)data.legal_count(i);
    }
    other_match /= (double)rows.size();
    uniform /= (double)rows.size();
    std::printf("%-44s %7.4f\n", "move match (top 1) with the target", s.match);
    std::printf("%-44s %7.4f\n", "move match (top 3) with the target", s.match3);
    std::printf("%-44s %7.4f\n", "NLL of the target's moves (nats)", s.nll);
    std::printf("%-44s %7.4f\n", "move match (top 1) with the other player", s.match_other);
    std::printf("%-44s %7.4f\n", "baseline: the other player's moves", other_match);
    std::printf("%-44s %7.4f\n", "baseline: a uniformly random legal move", uniform);
    std::printf("%-44s %lld of %lld\n", "illegal moves proposed (argmax + 8 samples)", (long long)s.illegal,
                (long long)s.proposed);
    // the proposals, for an independent legality check (scripts/chess_check.py, python-chess)
    std::string text = "# FEN\tproposed (argmax)\n";
    for (size_t i = 0; i < rows.size(); ++i)
      text += data.fen[rows[i]] + "\t" + data.move_uci(rows[i], s.argmax[i]) + "\n";
    write_file_atomic(run.path("proposed_moves.tsv"), text.data(), text.size(), "chess-style evaluation");
    std::printf("proposed moves written to %s\n", run.path("proposed_moves.tsv").c_str());
  }

 private:
  // This rank's rows of a draw for the global batch: every rank draws all N * B rows from the
  // same stream, so N ranks see the draws one process with the whole batch would.
  Tensor shard(const Tensor& global) const {
    return dist::world_size() == 1 ? global : global.narrow(0, dist::rank() * B, B).contiguous();
  }

  // -mean_i log(1 - pi(r_i | s_i)), r_i a uniformly random legal move other than the target's
  // (positions with a single legal move contribute 0).
  Tensor random_move_term(const Tensor& logits, const std::vector<int64_t>& rows) {
    std::vector<int64_t> r(rows.size());
    std::vector<float> w(rows.size());
    auto uv = shard(rand({B * dist::world_size()}, TensorOptions(kFloat64), &noise)).to_vector<double>();
    for (size_t i = 0; i < rows.size(); ++i) {
      const int64_t n = data.legal_count(rows[i]), off = data.legal_offset[rows[i]];
      const int64_t a = data.move[target][rows[i]];
      if (n < 2) {
        r[i] = a, w[i] = 0.f;
        continue;
      }
      int64_t k = std::min<int64_t>(n - 2, (int64_t)(uv[i] * (double)(n - 1)));  // one of the n - 1 others
      if (data.legal[off + k] >= a) ++k;
      r[i] = data.legal[off + k];
      w[i] = 1.f;
    }
    Tensor p = gather(softmax(logits, 1), 1, from_vector(r, {(int64_t)r.size(), 1}, TensorOptions(kInt64)).to(device));
    Tensor wt = from_vector(w, {(int64_t)w.size(), 1}).to(device);
    return -mean(wt * log(clamp(1.0 - p, 1e-6, 1.0)));
  }

  struct Scores {
    double match = 0, match3 = 0, match_other = 0, nll = 0;
    int64_t illegal = 0, proposed = 0;
    std::vector<int64_t> argmax;
  };
  // G's argmax and top 3 against the players' moves on `rows`; with samples > 0 also that many
  // draws from pi per position, every proposal checked against the position's legal moves.
  Scores score(const std::vector<int64_t>& rows, int64_t samples = 0) {
    NoGradGuard ng;
    G->eval();
    Scores s;
    Generator gen(seed + 4242);
    const int64_t n = (int64_t)rows.size(), chunk = 256;
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
      std::vector<int64_t> part(rows.begin() + i0, rows.begin() + std::min(n, i0 + chunk));
      const int64_t b = (int64_t)part.size();
      Tensor planes = index_select(data.planes, 0, from_vector(part, {b}, TensorOptions(kInt64))).to(device);
      Tensor logp = log_softmax((*G)(planes) + data.legal_mask(part).to(device), 1).to(kCPU);
      std::vector<float> lp = logp.to_vector<float>();
      for (int64_t i = 0; i < b; ++i) {
        const float* row = lp.data() + i * kChessMoves;
        std::vector<int64_t> order(kChessMoves);
        for (int64_t k = 0; k < kChessMoves; ++k) order[k] = k;
        std::partial_sort(order.begin(), order.begin() + 3, order.end(),
                          [&](int64_t a, int64_t c) { return row[a] > row[c]; });
        const int64_t want = data.move[target][part[i]];
        s.match += order[0] == want;
        s.match3 += order[0] == want || order[1] == want || order[2] == want;
        s.match_other += order[0] == data.move[1 - target][part[i]];
        s.nll -= row[want];
        s.argmax.push_back(order[0]);
        s.illegal += !data.is_legal(part[i], order[0]);
        ++s.proposed;
        if (samples > 0) {
          std::vector<double> u = rand({samples}, TensorOptions(kFloat64), &gen).to_vector<double>();
          for (double v : u) {  // inverse CDF
            double acc = 0;
            int64_t k = 0;
            for (; k < kChessMoves - 1; ++k) {
              acc += std::exp((double)row[k]);
              if (v < acc) break;
            }
            s.illegal += !data.is_legal(part[i], k);
            ++s.proposed;
          }
        }
      }
    }
    G->train();
    s.match /= (double)n, s.match3 /= (double)n, s.match_other /= (double)n, s.nll /= (double)n;
    return s;
  }

  Device device;
  uint64_t seed;
  ChessData data;
  int target;
  bool gan_mode;
  int64_t B;
  double lambda_adv, lambda_random, tau;
  int64_t eval_positions;
  Generator noise;
  std::vector<int64_t> train_rows;
  std::unique_ptr<DataLoader> loader;
  std::string position;
  std::shared_ptr<MovePolicy> G;
  std::shared_ptr<MoveCritic> D;
  std::unique_ptr<optim::Adam> opt_G, opt_D;
  Tensor loss_like, loss_adv;
  double loss_D = 0, loss_random = 0;
};

}  // namespace

train::ModelInfo chess_style_model() {
  train::ModelInfo info;
  info.name = "chess-style";
  info.section = "5.6";
  info.paper = "Chidambaram and Qi 2017, Style Transfer GANs: Learning to Play Chess Differently";
  info.summary = "board -> move generator vs a (board, move) discriminator, plus likelihood; move-match accuracy";
  info.defaults = {.steps = 1500, .log_every = 50, .sample_every = 250, .checkpoint_every = 250};
  info.options = {
      train::Option::text("data", "", kDefaultChessData, "positions with both players' moves (scripts/chess_data.py)"),
      train::Option::choice("target", "", "strong", {"strong", "weak"}, "the player whose style G learns"),
      train::Option::choice("mode", "", "gan", {"gan", "supervised"},
                            "gan: likelihood + random-move + adversarial terms; supervised: the likelihood alone"),
      train::Option::integer("batch", "", 64, 1, 65536, "positions per step (per rank)"),
      train::Option::integer("channels", "", 64, 1, 4096, "G's convolution channels"),
      train::Option::integer("layers", "", 4, 1, 64, "G's 3x3 convolutions"),
      train::Option::integer("key-dim", "d", 32, 1, 4096, "size of G's from-square and to-square features"),
      train::Option::integer("d-channels", "", 32, 1, 4096, "D's convolution channels"),
      train::Option::integer("d-layers", "", 3, 1, 64, "D's 3x3 convolutions"),
      train::Option::real("lambda-adv", "lambda_adv", 0.1, 0, 1e6, "weight of G's adversarial term"),
      train::Option::real("lambda-random", "lambda_r", 1.0, 0, 1e6,
                          "weight of the term pushing G away from random legal moves"),
      train::Option::real("tau", "", 1.0, 0, 100, "temperature of the straight-through Gumbel-softmax",
                          /*open_low=*/true),
      train::Option::real("lr", "alpha", 1e-3, 0, 1, "G's Adam learning rate", /*open_low=*/true),
      train::Option::real("lr-d", "", 1e-3, 0, 1, "D's Adam learning rate", /*open_low=*/true),
      train::Option::integer("eval-positions", "", 2000, 1, INT64_MAX, "validation positions scored at each snapshot"),
  };
  info.test_options = {{"batch", "4"},      {"channels", "4"}, {"layers", "1"},          {"key-dim", "4"},
                       {"d-channels", "4"}, {"d-layers", "1"}, {"eval-positions", "8"}};
  info.make = [](const Options& o) { return std::make_unique<ChessStyle>(o); };
  return info;
}

}  // namespace duel::gan
