// SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient (Yu et al. 2017), survey
// section 5.5: the paper's synthetic experiment.
//
// An oracle LSTM with random weights (N(0, 1), as the authors' target LSTM) defines the "real"
// distribution over sequences of T = 20 tokens from a vocabulary of 5000; 10,000 of its samples
// are the training set S. A generator of the same shape learns them, and the quality of its
// samples is measured exactly: NLL-oracle = - E_{Y ~ G} [ (1/T) sum_t log G_oracle(y_t | Y_{1:t-1}) ].
//
// Algorithm 1 of the paper, as the run's steps:
//
//   pre-train G_theta by maximum likelihood on S            steps [0, Pg): one epoch each
//   pre-train D_phi on S against samples of G_theta           steps [Pg, Pg + Pd): one round each
//   beta <- theta                                             (the roll-out policy)
//   repeat                                                    steps [Pg + Pd, ...): one each
//     Y_{1:T} ~ G_theta
//     Q(s = Y_{1:t-1}, a = y_t) = (1/N) sum_n D_phi(Y^n_{1:T}), Y^n ~ MC^{G_beta}(Y_{1:t}; N)   (t < T)
//                               = D_phi(Y_{1:T})                                             (t = T)
//     theta <- theta + alpha grad sum_t E[ log G_theta(y_t | Y_{1:t-1}) Q(Y_{1:t-1}, y_t) ]   (eq. 8)
//     beta <- 0.8 beta + 0.2 theta                            (the authors' code's delayed copy)
//     d-steps times: new negatives from G_theta; train D_phi on them and S   (eq. 5)
//
// The policy-gradient step, as the authors' code takes it: the loss summed over the batch's
// tokens, the gradient clipped to a global norm of 5 (--grad-clip, which also clips the MLE
// steps, as theirs does), and its own Adam, created fresh for the adversarial phase
// (--pg-optimizer own). Sharing pre-training's Adam instead (--pg-optimizer shared) makes the
// steps tiny: its second-moment estimate still holds the MLE gradients' scale, against which
// the reward-weighted gradient is small, and it shrinks further as D wins and the rewards
// fall. The first recorded runs did that, with the mean instead of the sum and no clipping:
// `--pg-optimizer shared --pg-loss mean --grad-clip 0` reproduces them.
//
// With --mode mle the adversarial steps are replaced by maximum-likelihood steps on S (one
// batch each, the same number of generator updates): the paper's baseline of continued MLE
// from the same pre-trained generator (the same --seed gives the same oracle, data and
// pre-training, bit for bit).
//
// Data-parallel (mpirun -np N): --batch and --d-samples are per rank; every draw (MLE batches,
// G's sequences, the roll-outs, D's negatives and dropout masks) is this rank's share of the
// draw one process with N times the batch would make, so N ranks follow that process
// (`dist: 2 ranks of seqgan match 1 process with the whole batch`).
//
// Scaled to a CPU budget (the paper's values in brackets): G pre-training 15 epochs [80-120];
// D pre-training 20 rounds of 3 epochs on 1000 + 1000 sequences [50 rounds of 3 epochs on
// 10,000 + 10,000]; 100 adversarial steps [200], each with 1 D round of 3 epochs on 1000 +
// 1000 [5 rounds of 3 epochs on 10,000 + 10,000]; D's CNN with 16 filters per width for the widths
// {1,2,3,4,5,6,7,8,9,10,15,20} [100-200 per width], the highway layer and dropout 0.25 kept,
// without the L2 penalty. G, the oracle, the 16 roll-outs, batch 64 and the learning rates
// are the paper's.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "dist/dist.h"
#include "gan/models.h"
#include "nn/nn.h"
#include "tensor/ops/loss.h"
#include "tensor/serialize.h"
#include "train/model.h"

namespace duel::gan {
namespace {

using train::Checkpointable;
using train::Metrics;
using train::Options;
using train::Run;

// Which rows of a data-parallel draw are this rank's: the global draw has B * ranks sequences
// laid out as `groups` groups (e.g. the roll-outs) of B / groups rows per rank, and local row
// g * (B / groups) + b is global row (g * ranks + rank) * (B / groups) + b.
struct Shard {
  int64_t ranks = 1, rank = 0, groups = 1;
};
Shard this_rank(int64_t groups = 1) { return {dist::world_size(), dist::rank(), groups}; }

// A token-level LSTM language model: x_t -> embedding -> LSTM cell -> logits over the vocabulary.
// The input at t = 1 is the start token 0 (as in the authors' code).
class TokenLstm : public nn::Module {
 public:
  TokenLstm(int64_t vocab, int64_t emb, int64_t hidden) : V(vocab), H(hidden) {
    embedding = register_module("embedding", std::make_shared<nn::Embedding>(vocab, emb));
    cell = register_module("cell", std::make_shared<nn::LSTMCell>(emb, hidden));
    output = register_module("output", std::make_shared<nn::Linear>(hidden, vocab));
  }
  Tensor forward(const Tensor& y) override { return logits(y); }

  // Teacher forcing: y int64 [B, T] -> the logits of p(y_t | y_{1:t-1}) for every t, [B, T, V].
  Tensor logits(const Tensor& y) {
    const int64_t B = y.size(0), T = y.size(1);
    Tensor in = cat({zeros({B, 1}, TensorOptions(kInt64)), y.narrow(1, 0, T - 1)}, 1);  // start token, y_1..y_{T-1}
    Tensor e = (*embedding)(in).transpose(0, 1);                                        // [T, B, E]
    // the whole sequence at once (the values of T cell steps): the input projections in one
    // GEMM, the recurrence as one lstm_sequence node
    Tensor hs = cell->forward_sequence(e).first;     // h_1..h_T, [T, B, H]
    return (*output)(hs.transpose(0, 1));           // [B, T, V]
  }

  // log p(y_t | y_{1:t-1}) for every t, [B, T].
  Tensor token_log_probs(const Tensor& y) {
    Tensor lp = log_softmax(logits(y), 2);
    return gather(lp, 2, y.unsqueeze(2)).squeeze(2);
  }

  // B sequences of length T; with a prefix [B, P] (P < T) the first P tokens are given. With a
  // shard, this rank's B rows of a global draw, each with exactly the uniforms one process
  // sampling all of them would give it.
  Tensor sample(int64_t B, int64_t T, Generator& gen, const Tensor& prefix = {}, Shard shard = {}) {
    NoGradGuard ng;
    const int64_t P = prefix.defined() ? prefix.size(1) : 0;
    std::vector<int64_t> out(B * T);
    if (P > 0) {
      auto p = prefix.contiguous().to_vector<int64_t>();
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < P; ++t) out[b * T + t] = p[b * P + t];
    }
    nn::LSTMState s;
    Tensor token = zeros({B}, TensorOptions(kInt64));  // the start token
    for (int64_t t = 0; t < T; ++t) {
      s = (*cell)((*embedding)(token), s);
      if (t < P) {
        token = prefix.select(1, t).contiguous();
        continue;
      }
      std::vector<float> probs = softmax((*output)(s.first), 1).to_vector<float>();
      std::vector<double> u = rand({B * shard.ranks}, TensorOptions(kFloat64), &gen)
                                  .reshape({shard.groups, shard.ranks, B / shard.groups})
                                  .select(1, shard.rank)
                                  .contiguous()
                                  .to_vector<double>();
      std::vector<int64_t> next(B);
      for (int64_t b = 0; b < B; ++b) {  // inverse CDF
        double acc = 0;
        int64_t k = 0;
        for (; k < V - 1; ++k) {
          acc += (double)probs[b * V + k];
          if (u[b] < acc) break;
        }
        next[b] = k;
        out[b * T + t] = k;
      }
      token = from_vector(next, {B}, TensorOptions(kInt64));
    }
    return from_vector(out, {B, T}, TensorOptions(kInt64));
  }

  int64_t V, H;
  std::shared_ptr<nn::Embedding> embedding;
  std::shared_ptr<nn::LSTMCell> cell;
  std::shared_ptr<nn::Linear> output;
};

// The paper's CNN discriminator over token sequences: embedding, one 1-D convolution per width
// with max-over-time pooling, a highway layer, dropout, the logit of "real".
class CnnDiscriminator : public nn::Module {
 public:
  // `drop` draws the dropout masks (a generator the model checkpoints).
  CnnDiscriminator(int64_t vocab, int64_t emb, int64_t seq_len, int64_t filters, Generator* drop) {
    embedding = register_module("embedding", std::make_shared<nn::Embedding>(vocab, emb));
    int64_t F = 0;
    for (int64_t w : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20}) {
      if (w > seq_len) continue;
      convs.push_back(register_module("conv" + std::to_string(w), std::make_shared<nn::Conv1d>(emb, filters, w)));
      F += filters;
    }
    highway_h = register_module("highway_h", std::make_shared<nn::Linear>(F, F));
    highway_t = register_module("highway_t", std::make_shared<nn::Linear>(F, F));
    dropout = register_module("dropout", std::make_shared<nn::Dropout>(0.25, drop));
    out = register_module("out", std::make_shared<nn::Linear>(F, 1));
  }
  // y int64 [B, T] -> the logit of D(y), [B].
  Tensor forward(const Tensor& y) override {
    Tensor e = (*embedding)(y).permute({0, 2, 1});  // [B, E, T]
    std::vector<Tensor> pooled;
    for (auto& c : convs) pooled.push_back(amax(relu((*c)(e)), {2}));
    Tensor h = cat(pooled, 1);
    Tensor gate = sigmoid((*highway_t)(h));
    h = gate * relu((*highway_h)(h)) + (1.0 - gate) * h;
    if (is_training() && dist::is_distributed()) {
      // this rank's rows of the mask one process would draw for the global batch
      const int64_t B = h.size(0), ranks = dist::world_size();
      Tensor keep = bernoulli({B * ranks, h.size(1)}, 1.0 - dropout->p, TensorOptions(h.dtype()), dropout->gen)
                        .narrow(0, dist::rank() * B, B);
      h = h * (keep * (1.0 / (1.0 - dropout->p)));
    } else {
      h = (*dropout)(h);
    }
    return (*out)(h).squeeze(1);
  }
  std::shared_ptr<nn::Embedding> embedding;
  std::vector<std::shared_ptr<nn::Conv1d>> convs;
  std::shared_ptr<nn::Linear> highway_h, highway_t, out;
  std::shared_ptr<nn::Dropout> dropout;
};

class SeqGan : public train::Model {
 public:
  explicit SeqGan(const Options& o)
      : seed((uint64_t)o.integer("seed")),
        V(o.integer("vocab")),
        T(o.integer("seq-len")),
        B(o.integer("batch")),
        pre_g(o.integer("pretrain-g")),
        pre_d(o.integer("pretrain-d")),
        rollouts(o.integer("rollouts")),
        d_samples(o.integer("d-samples")),
        d_epochs(o.integer("d-epochs")),
        eval_samples(o.integer("eval-samples")),
        beta_rate(o.real("rollout-update")),
        grad_clip(o.real("grad-clip")),
        own_pg_optimizer(o.text("pg-optimizer") == "own"),
        pg_sum(o.text("pg-loss") == "sum"),
        mle_mode(o.text("mode") == "mle"),
        sampler(seed + 1),
        data_gen(seed + 2),
        dropout_gen(seed + 3) {
    DUEL_CHECK(o.text("device") == "cpu",
               "seqgan: runs on the CPU only (sampling is token by token on the host), got --device ",
               o.text("device"));
    const int64_t E = o.integer("emb"), Hd = o.integer("hidden");
    // the oracle: N(0, 1) weights from its own stream, so that every run with this seed sees
    // the same "real" distribution and the same S
    manual_seed(seed + 1000);
    oracle = std::make_shared<TokenLstm>(V, E, Hd);
    Generator og(seed + 1001);
    for (auto& p : oracle->parameters()) {
      NoGradGuard ng;
      p.copy_(randn(p.sizes(), TensorOptions(p.dtype()), &og));
    }
    Generator sg(seed + 1002);
    S = oracle->sample(o.integer("oracle-samples"), T, sg);
    manual_seed(seed);
    G = std::make_shared<TokenLstm>(V, E, Hd);
    beta = std::make_shared<TokenLstm>(V, E, Hd);
    copy_params(*G, *beta, 0.0);
    D = std::make_shared<CnnDiscriminator>(V, o.integer("d-emb"), T, o.integer("d-filters"), &dropout_gen);
    opt_G = std::make_unique<optim::Adam>(G->parameters(), optim::AdamOptions{.lr = o.real("lr-g")});
    opt_D = std::make_unique<optim::Adam>(D->parameters(), optim::AdamOptions{.lr = o.real("lr-d")});
    opt_PG = std::make_unique<optim::Adam>(G->parameters(), optim::AdamOptions{.lr = o.real("lr-g")});
  }

  void state(Checkpointable& s) override {
    s.add("G", *G);
    s.add("rollout", *beta);
    s.add("D", *D);
    s.add("opt_G", *opt_G);
    s.add("opt_D", *opt_D);
    s.add("opt_PG", *opt_PG);
    s.add("sampler", sampler);
    s.add("data", data_gen);
    s.add("dropout", dropout_gen);
  }

  void step(int64_t step) override {
    if (step < pre_g) return mle_epoch();
    if (step == pre_g) copy_params(*G, *beta, 0.0);  // beta <- theta: G's pre-training is over
    if (step < pre_g + pre_d) return d_round();
    if (mle_mode) return mle_batch();
    policy_gradient_step();
    copy_params(*G, *beta, beta_rate);  // beta <- 0.8 beta + 0.2 theta
    d_round();
  }

  Metrics values() override { return {{"loss_G", loss_G}, {"loss_D", loss_D}, {"reward", reward}}; }
  std::vector<std::string> plotted() const override { return {"nll_oracle"}; }

  Metrics snapshot(Run&, int64_t) override { return {{"nll_oracle", nll_oracle(eval_samples)}}; }

  void evaluate(Run& run, const train::EvalRequest& r) override {
    const int64_t n = r.n > 0 ? r.n : 10000;
    std::printf("run %s (model seqgan, mode %s)\n", run.dir().c_str(), mle_mode ? "mle" : "seqgan");
    std::printf("%-26s %8.4f   (%lld samples of G; nats per token)\n", "NLL-oracle", nll_oracle(n), (long long)n);
    Generator g(seed + 4242);
    NoGradGuard ng;
    Tensor own = oracle->sample(std::min<int64_t>(n, 2000), T, g);
    std::printf("%-26s %8.4f   (the oracle's own samples: the floor)\n", "NLL-oracle of the oracle",
                -mean(oracle->token_log_probs(own)).item());
    // The other direction: how well G covers the real distribution. NLL-oracle rewards a
    // generator that puts its mass on a few likely sequences; G's likelihood of fresh oracle
    // samples (not in S) falls only if G also keeps the rest of the oracle's mass.
    std::printf("%-26s %8.4f   (G's NLL of %lld fresh oracle samples: coverage, lower is better)\n", "NLL-test",
                -mean(G->token_log_probs(own)).item(), (long long)own.size(0));
    Generator eg(seed + 4343);
    std::printf("%-26s %8.4f   (G's NLL of its own samples: its entropy per token)\n", "entropy of G",
                -mean(G->token_log_probs(G->sample(std::min<int64_t>(n, 2000), T, eg))).item());
    std::printf("%-26s %8.4f   (log of the vocabulary: a uniform generator's expected NLL is higher)\n", "log V",
                std::log((double)V));
  }

  Tensor sample(int64_t n, Generator& gen) override { return G->sample(n, T, gen); }
  // `duel sample`: one sequence of token ids per line.
  void write_samples(int64_t n, Generator& gen, const std::string& path) override {
    std::vector<int64_t> ids = sample(n, gen).to_vector<int64_t>();
    std::string text;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t t = 0; t < T; ++t) text += (t ? " " : "") + std::to_string(ids[i * T + t]);
      text += "\n";
    }
    write_file_atomic(path, text.data(), text.size(), "duel sample");
  }
  std::string sample_file_extension() const override { return ".txt"; }

 private:
  // dst <- rate * dst + (1 - rate) * src, parameter by parameter
  static void copy_params(nn::Module& src, nn::Module& dst, double rate) {
    NoGradGuard ng;
    auto s = src.parameters(), d = dst.parameters();
    for (size_t i = 0; i < s.size(); ++i) d[i].copy_(d[i] * rate + s[i] * (1.0 - rate));
  }

  double nll_oracle(int64_t n) {
    NoGradGuard ng;
    Generator g(seed + 777);  // the same draws at every snapshot
    double total = 0;
    for (int64_t i = 0; i < n; i += B) {
      const int64_t b = std::min(B, n - i);
      total -= sum(oracle->token_log_probs(G->sample(b, T, g))).item();
    }
    return total / (double)(n * T);
  }

  // One epoch of maximum likelihood on S, in shuffled batches (each rank: its B rows of every
  // global batch of B * ranks).
  void mle_epoch() {
    const int64_t ranks = dist::world_size(), rank = dist::rank();
    Tensor perm = randperm(S.size(0), &data_gen);
    for (int64_t i = 0; i + B * ranks <= S.size(0); i += B * ranks)
      mle_update(index_select(S, 0, perm.narrow(0, i + rank * B, B)));
  }
  void mle_batch() {
    const int64_t ranks = dist::world_size();
    mle_update(index_select(S, 0, randint(0, S.size(0), {B * ranks}, &data_gen).narrow(0, dist::rank() * B, B)));
  }
  void mle_update(const Tensor& y) {
    Tensor loss = -mean(G->token_log_probs(y));
    opt_G->zero_grad();
    loss.backward();
    opt_G->sync_gradients();  // data-parallel: clip the averaged gradient, as one process would
    if (grad_clip > 0) nn::clip_grad_norm_(G->parameters(), grad_clip);
    opt_G->step();
    loss_G = loss.item();
  }

  // D on d_samples sequences of S and as many fresh ones of G, d_epochs epochs, eq. 5.
  // Data-parallel: d_samples and B per rank. Each rank samples its share of the negatives; they
  // are gathered, so that every rank holds the global set and trains on its B rows of every
  // global batch, as one process with all of them would.
  void d_round() {
    D->train();
    const int64_t ranks = dist::world_size(), rank = dist::rank(), n = d_samples * ranks;
    Tensor pos = index_select(S, 0, randint(0, S.size(0), {n}, &data_gen));
    Tensor neg = G->sample(d_samples, T, sampler, {}, this_rank());
    if (ranks > 1) neg = dist::all_gather_rows(neg);
    Tensor x = cat({pos, neg}, 0);
    Tensor y = cat({ones({n}), zeros({n})}, 0);
    double total = 0;
    int64_t batches = 0;
    for (int64_t e = 0; e < d_epochs; ++e) {
      Tensor perm = randperm(2 * n, &data_gen);
      for (int64_t i = 0; i + B * ranks <= 2 * n; i += B * ranks, ++batches) {
        Tensor idx = perm.narrow(0, i + rank * B, B);
        Tensor loss = binary_cross_entropy_with_logits((*D)(index_select(x, 0, idx)), index_select(y, 0, idx));
        opt_D->zero_grad();
        loss.backward();
        opt_D->step();
        total += loss.item();
      }
    }
    loss_D = total / std::max<int64_t>(1, batches);
  }

  // Q(Y_{1:t-1}, y_t) for every t of Y [B, T]: N roll-outs of G_beta from each prefix Y_{1:t}
  // scored by D, and D(Y) itself at t = T. [B, T], no graph.
  Tensor rewards(const Tensor& Y) {
    NoGradGuard ng;
    D->eval();
    std::vector<Tensor> q;
    for (int64_t t = 1; t < T; ++t) {
      Tensor prefix = repeat(Y.narrow(1, 0, t), {rollouts, 1});  // [N B, t]: B prefixes, N times
      Tensor completed = beta->sample(rollouts * B, T, sampler, prefix, this_rank(rollouts));
      q.push_back(mean(sigmoid((*D)(completed)).reshape({rollouts, B}), {0}));
    }
    q.push_back(sigmoid((*D)(Y)));
    D->train();
    return stack(q, 1);
  }

  void policy_gradient_step() {
    Tensor Y = G->sample(B, T, sampler, {}, this_rank());
    Tensor Q = rewards(Y);
    reward = mean(Q).item();
    Tensor weighted = G->token_log_probs(Y) * Q;
    Tensor loss = pg_sum ? -sum(weighted) : -mean(weighted);  // eq. 8 (the gradient of the expected reward)
    optim::Adam& opt = own_pg_optimizer ? *opt_PG : *opt_G;
    opt.zero_grad();
    loss.backward();
    opt.sync_gradients();
    if (grad_clip > 0) nn::clip_grad_norm_(G->parameters(), grad_clip);
    opt.step();
    loss_G = loss.item();
  }

  uint64_t seed;
  int64_t V, T, B, pre_g, pre_d, rollouts, d_samples, d_epochs, eval_samples;
  double beta_rate, grad_clip;
  bool own_pg_optimizer, pg_sum;
  bool mle_mode;
  Generator sampler, data_gen, dropout_gen;
  std::shared_ptr<TokenLstm> oracle, G, beta;
  std::shared_ptr<CnnDiscriminator> D;
  std::unique_ptr<optim::Adam> opt_G, opt_D, opt_PG;  // opt_PG: the adversarial phase's own Adam
  Tensor S;  // the oracle's samples: the training set
  double loss_G = 0, loss_D = 0, reward = 0;
};

}  // namespace

train::ModelInfo seqgan_model() {
  train::ModelInfo info;
  info.name = "seqgan";
  info.section = "5.5";
  info.paper = "Yu et al. 2017, SeqGAN: Sequence Generative Adversarial Nets with Policy Gradient";
  info.summary =
      "oracle-LSTM experiment: MLE pre-training, then policy gradient with MC roll-outs and a CNN D; NLL-oracle";
  info.defaults = {.steps = 135, .log_every = 5, .sample_every = 10, .checkpoint_every = 5};
  info.options = {
      train::Option::choice("mode", "", "seqgan", {"seqgan", "mle"},
                            "after pre-training: adversarial steps, or the baseline's continued MLE steps"),
      train::Option::integer("vocab", "", 5000, 2, 100000, "vocabulary of the oracle and G"),
      train::Option::integer("seq-len", "T", 20, 2, 1000, "sequence length"),
      train::Option::integer("emb", "", 32, 1, 4096, "token embedding size of the oracle and G"),
      train::Option::integer("hidden", "", 32, 1, 4096, "LSTM units of the oracle and G"),
      train::Option::integer("oracle-samples", "|S|", 10000, 1, 10000000, "the oracle's samples: the training set"),
      train::Option::integer("batch", "", 64, 1, 65536, "batch size"),
      train::Option::integer("pretrain-g", "", 15, 0, 100000, "steps of G pre-training, one MLE epoch on S each"),
      train::Option::integer("pretrain-d", "", 20, 0, 100000, "steps of D pre-training, one round each"),
      train::Option::integer("rollouts", "N", 16, 1, 1024, "Monte-Carlo roll-outs per prefix"),
      train::Option::real("rollout-update", "", 0.8, 0, 1, "beta <- r beta + (1 - r) theta after each G step"),
      train::Option::integer("d-samples", "", 1000, 1, 10000000, "positives and negatives in each D round"),
      train::Option::integer("d-epochs", "k", 3, 1, 1000, "epochs over them in each D round"),
      train::Option::integer("d-emb", "", 64, 1, 4096, "D's token embedding size"),
      train::Option::integer("d-filters", "", 16, 1, 4096, "D's convolution filters per width"),
      train::Option::real("lr-g", "alpha", 0.01, 0, 1, "G's Adam learning rate", /*open_low=*/true),
      train::Option::real("lr-d", "", 1e-4, 0, 1, "D's Adam learning rate", /*open_low=*/true),
      train::Option::choice("pg-optimizer", "", "own", {"own", "shared"},
                            "policy-gradient steps: their own fresh Adam (the authors' code) or pre-training's"),
      train::Option::choice("pg-loss", "", "sum", {"sum", "mean"},
                            "policy-gradient loss over the batch's tokens: summed (the authors' code) or averaged"),
      train::Option::real("grad-clip", "", 5, 0, 1e6, "G's gradient-norm clip in MLE and policy-gradient steps (0: off)"),
      train::Option::integer("eval-samples", "", 2000, 1, 10000000,
                             "G's samples scored by the oracle at each snapshot"),
  };
  info.test_options = {{"vocab", "12"},          {"seq-len", "5"},    {"emb", "4"},        {"hidden", "4"},
                       {"oracle-samples", "32"}, {"batch", "8"},      {"pretrain-g", "1"}, {"pretrain-d", "1"},
                       {"rollouts", "2"},        {"d-samples", "16"}, {"d-emb", "4"},      {"d-filters", "2"},
                       {"eval-samples", "16"}};
  info.make = [](const Options& o) { return std::make_unique<SeqGan>(o); };
  return info;
}

}  // namespace duel::gan
