#include "gan/nets.h"

#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/shape_ops.h"

namespace duel::gan {

std::shared_ptr<nn::Sequential> mlp(int64_t in, int64_t hidden, int64_t out, int layers) {
  auto net = std::make_shared<nn::Sequential>();
  int64_t width = in;
  for (int i = 0; i < layers; ++i) {
    net->emplace_back<nn::Linear>(width, hidden);
    net->emplace_back<nn::ReLU>();
    width = hidden;
  }
  net->emplace_back<nn::Linear>(width, out);
  return net;
}

std::shared_ptr<nn::Sequential> gan_generator(int64_t z_dim, int64_t hidden, int64_t out_dim, bool image) {
  auto g = std::make_shared<nn::Sequential>();
  g->emplace_back<nn::Linear>(z_dim, hidden);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::Linear>(hidden, hidden);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::Linear>(hidden, out_dim);
  if (image) {
    g->emplace_back<nn::Tanh>();
    g->emplace_back<nn::Reshape>(Shape{1, 28, 28});
  }
  return g;
}

std::shared_ptr<nn::Sequential> gan_discriminator(int64_t in_dim, int64_t hidden) {
  auto d = std::make_shared<nn::Sequential>();
  d->emplace_back<nn::Flatten>();
  d->emplace_back<nn::Linear>(in_dim, hidden);
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Linear>(hidden, hidden);
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Linear>(hidden, 1);  // logit of D(x)
  return d;
}

std::shared_ptr<nn::Sequential> dcgan_generator(int64_t z_dim) {
  auto g = std::make_shared<nn::Sequential>();
  g->emplace_back<nn::ConvTranspose2d>(z_dim, 256, 4, nn::ConvOptions{.bias = false});
  g->emplace_back<nn::BatchNorm2d>(256);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::ConvTranspose2d>(256, 128, 3, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  g->emplace_back<nn::BatchNorm2d>(128);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::ConvTranspose2d>(128, 64, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  g->emplace_back<nn::BatchNorm2d>(64);
  g->emplace_back<nn::ReLU>();
  g->emplace_back<nn::ConvTranspose2d>(64, 1, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = false});
  g->emplace_back<nn::Tanh>();
  return g;
}

std::shared_ptr<nn::Sequential> dcgan_discriminator_trunk(bool batchnorm, bool bias) {
  auto d = std::make_shared<nn::Sequential>();
  d->emplace_back<nn::Conv2d>(1, 64, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = bias});
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Conv2d>(64, 128, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = bias});
  if (batchnorm) d->emplace_back<nn::BatchNorm2d>(128);
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Conv2d>(128, 256, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = bias});
  if (batchnorm) d->emplace_back<nn::BatchNorm2d>(256);
  d->emplace_back<nn::LeakyReLU>(0.2);
  return d;
}

std::shared_ptr<nn::Sequential> dcgan_discriminator(bool sigmoid, bool batchnorm, bool bias) {
  auto d = dcgan_discriminator_trunk(batchnorm, bias);
  d->emplace_back<nn::Conv2d>(256, 1, 3, nn::ConvOptions{.stride = 1, .padding = 0, .bias = bias});
  d->emplace_back<nn::Flatten>();
  if (sigmoid) d->emplace_back<nn::Sigmoid>();
  return d;
}

void dcgan_init(nn::Module& net, Generator& gen) {
  net.apply([&](nn::Module& m) {
    if (auto* c = dynamic_cast<nn::ConvBase*>(&m)) nn::init::normal_(c->weight, 0.0, 0.02, &gen);
    if (auto* v = dynamic_cast<VirtualBatchNorm2d*>(&m)) {
      nn::init::normal_(v->weight, 1.0, 0.02, &gen);
      nn::init::constant_(v->bias, 0.0);
    }
    if (auto* b = dynamic_cast<nn::BatchNorm*>(&m)) {
      if (b->weight.defined()) nn::init::normal_(b->weight, 1.0, 0.02, &gen);
      if (b->bias.defined()) nn::init::constant_(b->bias, 0.0);
    }
  });
}

namespace {
void add_norm(nn::Sequential& s, Norm norm, int64_t channels) {
  if (norm == Norm::kBatch) s.emplace_back<nn::BatchNorm2d>(channels);
  if (norm == Norm::kInstance) s.emplace_back<nn::InstanceNorm2d>(channels, 1e-5, 0.1, /*affine=*/true);
}
}  // namespace

ResidualBlock::ResidualBlock(int64_t channels, Norm norm) {
  body_ = register_module("body", std::make_shared<nn::Sequential>());
  body_->emplace_back<nn::Conv2d>(channels, channels, 3, nn::ConvOptions{.padding = 1});
  add_norm(*body_, norm, channels);
  body_->emplace_back<nn::ReLU>();
  body_->emplace_back<nn::Conv2d>(channels, channels, 3, nn::ConvOptions{.padding = 1});
  add_norm(*body_, norm, channels);
}

Tensor ResidualBlock::forward(const Tensor& x) { return x + (*body_)(x); }

UNet::UNet(int64_t in_channels, int64_t out_channels, int64_t base, int depth, Norm norm) : depth_(depth) {
  DUEL_CHECK(depth >= 1 && base >= 1, "UNet: expected depth >= 1 and base >= 1, got depth ", depth, ", base ", base);
  std::vector<int64_t> width;  // channels after each down step
  int64_t c = in_channels;
  for (int i = 0; i < depth; ++i) {
    int64_t w = std::min<int64_t>(base << std::min(i, 3), 8 * base);
    auto d = register_module("down" + std::to_string(i), std::make_shared<nn::Sequential>());
    d->emplace_back<nn::Conv2d>(c, w, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = norm == Norm::kNone});
    if (i > 0 && i + 1 < depth) add_norm(*d, norm, w);  // pix2pix: no norm on the first and innermost
    d->emplace_back<nn::LeakyReLU>(0.2);
    down_.push_back(d);
    width.push_back(w);
    c = w;
  }
  // up step j maps the activation of down step depth-1-j to the size of down step depth-2-j
  for (int j = 0; j + 1 < depth; ++j) {
    const int64_t skip = width[depth - 2 - j];
    const int64_t in = j == 0 ? width[depth - 1] : 2 * width[depth - 1 - j];
    auto u = register_module("up" + std::to_string(j), std::make_shared<nn::Sequential>());
    u->emplace_back<nn::ConvTranspose2d>(in, skip, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = norm == Norm::kNone});
    add_norm(*u, norm, skip);
    u->emplace_back<nn::ReLU>();
    up_.push_back(u);
  }
  const int64_t last_in = depth == 1 ? width[0] : 2 * width[0];
  out_ = register_module("out", std::make_shared<nn::ConvTranspose2d>(last_in, out_channels, 4,
                                                                        nn::ConvOptions{.stride = 2, .padding = 1}));
}

Tensor UNet::forward(const Tensor& x) {
  const int64_t f = int64_t(1) << depth_;
  DUEL_CHECK(x.dim() == 4 && x.size(2) % f == 0 && x.size(3) % f == 0, "UNet: expected input [N, C, H, W] with H and W ",
             "divisible by 2^depth = ", f, ", got ", shape_str(x.sizes()));
  std::vector<Tensor> skips;
  Tensor h = x;
  for (auto& d : down_) {
    h = (*d)(h);
    skips.push_back(h);
  }
  for (int j = 0; j + 1 < depth_; ++j) {
    h = (*up_[j])(h);
    h = cat({h, skips[depth_ - 2 - j]}, 1);
  }
  return tanh((*out_)(h));
}

std::shared_ptr<nn::Sequential> patchgan_discriminator(int64_t in_channels, int64_t base, int layers, Norm norm) {
  DUEL_CHECK(layers >= 1, "patchgan_discriminator: expected layers >= 1, got ", layers);
  auto d = std::make_shared<nn::Sequential>();
  d->emplace_back<nn::Conv2d>(in_channels, base, 4, nn::ConvOptions{.stride = 2, .padding = 1});
  d->emplace_back<nn::LeakyReLU>(0.2);
  int64_t c = base;
  for (int i = 1; i < layers; ++i) {
    int64_t w = std::min<int64_t>(base << i, 8 * base);
    d->emplace_back<nn::Conv2d>(c, w, 4, nn::ConvOptions{.stride = 2, .padding = 1, .bias = norm == Norm::kNone});
    add_norm(*d, norm, w);
    d->emplace_back<nn::LeakyReLU>(0.2);
    c = w;
  }
  int64_t w = std::min<int64_t>(base << layers, 8 * base);
  d->emplace_back<nn::Conv2d>(c, w, 4, nn::ConvOptions{.stride = 1, .padding = 1, .bias = norm == Norm::kNone});
  add_norm(*d, norm, w);
  d->emplace_back<nn::LeakyReLU>(0.2);
  d->emplace_back<nn::Conv2d>(w, 1, 4, nn::ConvOptions{.stride = 1, .padding = 1});
  return d;
}

AutoencoderDiscriminator::AutoencoderDiscriminator(int64_t code_dim, int64_t width, Activation act, bool batchnorm) {
  auto activation = [&](nn::Sequential& s) {
    if (act == Activation::kReLU) s.emplace_back<nn::ReLU>();
    if (act == Activation::kLeakyReLU) s.emplace_back<nn::LeakyReLU>(0.2);
    if (act == Activation::kELU) s.emplace_back<nn::ELU>();
  };
  encoder_ = register_module("encoder", std::make_shared<nn::Sequential>());
  encoder_->emplace_back<nn::Conv2d>(1, width, 4, nn::ConvOptions{.stride = 2, .padding = 1});
  activation(*encoder_);
  encoder_->emplace_back<nn::Conv2d>(width, 2 * width, 4, nn::ConvOptions{.stride = 2, .padding = 1});
  if (batchnorm) encoder_->emplace_back<nn::BatchNorm2d>(2 * width);
  activation(*encoder_);
  encoder_->emplace_back<nn::Flatten>();
  encoder_->emplace_back<nn::Linear>(2 * width * 7 * 7, code_dim);
  decoder_ = register_module("decoder", std::make_shared<nn::Sequential>());
  decoder_->emplace_back<nn::Linear>(code_dim, 2 * width * 7 * 7);
  activation(*decoder_);
  decoder_->emplace_back<nn::Reshape>(Shape{2 * width, 7, 7});
  decoder_->emplace_back<nn::ConvTranspose2d>(2 * width, width, 4, nn::ConvOptions{.stride = 2, .padding = 1});
  if (batchnorm) decoder_->emplace_back<nn::BatchNorm2d>(width);
  activation(*decoder_);
  // a linear output, no tanh (as in the BEGAN and EBGAN reference decoders): a saturated tanh
  // has no gradient, so D could not raise the energy of a generated image it reconstructs in
  // saturation (an all-black one), and G would collapse onto it
  decoder_->emplace_back<nn::ConvTranspose2d>(width, 1, 4, nn::ConvOptions{.stride = 2, .padding = 1});
}

Tensor AutoencoderDiscriminator::encode(const Tensor& x) {
  DUEL_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == 28 && x.size(3) == 28,
             "AutoencoderDiscriminator: expected images [N, 1, 28, 28], got ", shape_str(x.sizes()));
  return (*encoder_)(x);
}
Tensor AutoencoderDiscriminator::decode(const Tensor& code) { return (*decoder_)(code); }
Tensor AutoencoderDiscriminator::forward(const Tensor& x) { return decode(encode(x)); }

Tensor AutoencoderDiscriminator::energy(const Tensor& x, bool l1) {
  Tensor diff = (*this)(x) - x;
  return mean((l1 ? abs(diff) : diff * diff).flatten(1), {1});
}

MultiHeadDiscriminator::MultiHeadDiscriminator(const std::vector<Head>& heads, bool batchnorm) {
  DUEL_CHECK(!heads.empty(), "MultiHeadDiscriminator: expected at least one head");
  trunk_ = register_module("trunk", dcgan_discriminator_trunk(batchnorm, /*bias=*/!batchnorm));
  for (size_t i = 0; i < heads.size(); ++i) {
    const Head& h = heads[i];
    DUEL_CHECK(h.out >= 1 && h.hidden >= 0 && h.minibatch_kernels >= 0 && !(h.hidden > 0 && h.minibatch_kernels > 0),
               "MultiHeadDiscriminator: head ", i, " expects out >= 1, hidden >= 0, minibatch_kernels >= 0 and not both ",
               "hidden and minibatch_kernels, got out ", h.out, ", hidden ", h.hidden, ", minibatch_kernels ",
               h.minibatch_kernels);
    auto s = register_module("head" + std::to_string(i), std::make_shared<nn::Sequential>());
    if (h.minibatch_kernels > 0) {
      s->emplace_back<nn::Flatten>();
      s->emplace_back<MinibatchDiscrimination>(256 * 3 * 3, h.minibatch_kernels, 5);
      s->emplace_back<nn::Linear>(256 * 3 * 3 + h.minibatch_kernels, h.out);
      heads_.push_back(s);
      continue;
    }
    s->emplace_back<nn::Conv2d>(256, h.hidden > 0 ? h.hidden : h.out, 3, nn::ConvOptions{.bias = h.hidden == 0});
    s->emplace_back<nn::Flatten>();
    if (h.hidden > 0) {
      s->emplace_back<nn::BatchNorm1d>(h.hidden);
      s->emplace_back<nn::LeakyReLU>(0.2);
      s->emplace_back<nn::Linear>(h.hidden, h.out);
    }
    heads_.push_back(s);
  }
}

Tensor MultiHeadDiscriminator::features(const Tensor& x) {
  DUEL_CHECK(x.dim() == 4 && x.size(1) == 1 && x.size(2) == 28 && x.size(3) == 28,
             "MultiHeadDiscriminator: expected images [N, 1, 28, 28], got ", shape_str(x.sizes()));
  return (*trunk_)(x);
}

Tensor MultiHeadDiscriminator::head(size_t i, const Tensor& features) {
  DUEL_CHECK(i < heads_.size(), "MultiHeadDiscriminator: head ", i, " of ", heads_.size());
  return (*heads_[i])(features);
}

Tensor MultiHeadDiscriminator::forward(const Tensor& x) { return head(0, features(x)); }

MinibatchDiscrimination::MinibatchDiscrimination(int64_t in_features, int64_t kernels, int64_t kernel_dim)
    : in_(in_features), kernels_(kernels), dim_(kernel_dim) {
  DUEL_CHECK(in_features >= 1 && kernels >= 1 && kernel_dim >= 1, "MinibatchDiscrimination: expected positive sizes, got ",
             "in_features ", in_features, ", kernels ", kernels, ", kernel_dim ", kernel_dim);
  T = register_parameter("T", randn({in_features, kernels * kernel_dim}) * 0.05);
}

Tensor MinibatchDiscrimination::forward(const Tensor& f) {
  DUEL_CHECK(f.dim() == 2 && f.size(1) == in_, "MinibatchDiscrimination: expected features [N, ", in_, "], got ",
             shape_str(f.sizes()));
  const int64_t N = f.size(0);
  Tensor M = matmul(f, T).reshape({N, kernels_, dim_});
  Tensor l1 = sum(abs(M.unsqueeze(1) - M.unsqueeze(0)), {3});  // [N, N, B]: ||M_i,b - M_j,b||_1
  Tensor o = sum(exp(-l1), {1}) - 1.0;                       // the j = i term is exp(0) = 1
  return cat({f, o}, 1);
}

std::string MinibatchDiscrimination::extra_repr() const {
  return std::to_string(in_) + ", kernels=" + std::to_string(kernels_) + ", kernel_dim=" + std::to_string(dim_);
}

VirtualBatchNorm2d::VirtualBatchNorm2d(int64_t channels, double eps) : channels_(channels), eps_(eps) {
  weight = register_parameter("weight", ones({channels}));
  bias = register_parameter("bias", zeros({channels}));
}

Tensor VirtualBatchNorm2d::forward(const Tensor& x) {
  DUEL_CHECK(x.dim() == 4 && x.size(1) == channels_, "VirtualBatchNorm2d: expected [N, ", channels_,
             ", H, W], got ", shape_str(x.sizes()));
  Tensor mu, meansq;
  if (reference_pass_) {
    ref_mean_ = mean(x, {0, 2, 3}, /*keepdim=*/true);
    ref_meansq_ = mean(x * x, {0, 2, 3}, /*keepdim=*/true);
    ref_size_ = x.size(0);
    mu = ref_mean_;
    meansq = ref_meansq_;
  } else {
    DUEL_CHECK(ref_mean_.defined(), "VirtualBatchNorm2d: no reference batch yet (forward one with set_reference_pass(true) first)");
    const double w = 1.0 / (double)(ref_size_ + 1);
    mu = mean(x, {2, 3}, true) * w + ref_mean_ * (1.0 - w);             // [N, C, 1, 1]
    meansq = mean(x * x, {2, 3}, true) * w + ref_meansq_ * (1.0 - w);
  }
  Tensor y = (x - mu) * rsqrt(meansq - mu * mu + eps_);
  return y * weight.reshape({1, channels_, 1, 1}) + bias.reshape({1, channels_, 1, 1});
}

std::string VirtualBatchNorm2d::extra_repr() const { return std::to_string(channels_); }

VbnGenerator::VbnGenerator(int64_t z_dim, int64_t ref_size, Generator& gen) {
  DUEL_CHECK(ref_size >= 1, "VbnGenerator: the reference batch needs at least 1 sample, got ", ref_size);
  // dcgan_generator with each BatchNorm2d swapped for a VirtualBatchNorm2d of the same width
  auto dcgan = dcgan_generator(z_dim);
  auto vbn_net = std::make_shared<nn::Sequential>();
  for (size_t i = 0; i < dcgan->size(); ++i) {
    const std::shared_ptr<nn::Module>& layer = (*dcgan)[i];
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(layer.get())) {
      auto v = std::make_shared<VirtualBatchNorm2d>(bn->num_features);
      vbn_.push_back(v.get());
      vbn_net->push_back(v);
    } else {
      vbn_net->push_back(layer);
    }
  }
  net_ = register_module("net", vbn_net);
  z_ref_ = register_buffer("z_ref", randn({ref_size, z_dim, 1, 1}, TensorOptions(kFloat32), &gen));
}

Tensor VbnGenerator::forward(const Tensor& z) {
  for (auto* v : vbn_) v->set_reference_pass(true);
  (*net_)(z_ref_);
  for (auto* v : vbn_) v->set_reference_pass(false);
  return (*net_)(z);
}

// ---------------------------------------------------------------- SkipRnn (Graves 2013)

RnnState RnnState::detached() const {
  RnnState s;
  for (auto& t : h) s.h.push_back(t.detach());
  for (auto& t : c) s.c.push_back(t.detach());
  return s;
}

SkipRnn::SkipRnn(int64_t vocab, int64_t hidden, int64_t layers, bool lstm) : V(vocab), H(hidden), lstm(lstm) {
  DUEL_CHECK(vocab >= 1 && hidden >= 1 && layers >= 1, "SkipRnn: vocabulary, hidden size and layers must be positive, got ",
             vocab, ", ", hidden, " and ", layers);
  for (int64_t n = 0; n < layers; ++n) {
    const int64_t in = n == 0 ? V : V + H;  // x_t, and h^{n-1}_t above the first layer
    const std::string name = "layer" + std::to_string(n);
    if (lstm) cells.push_back(register_module(name, std::make_shared<nn::LSTMCell>(in, H)));
    else cells.push_back(register_module(name, std::make_shared<nn::GRUCell>(in, H)));
  }
  out = register_module("output", std::make_shared<nn::Linear>(layers * H, V));
}

Tensor SkipRnn::forward(const Tensor& ids) {
  RnnState s;
  return run(ids, s);
}

Tensor SkipRnn::run(const Tensor& ids, RnnState& s) {
  DUEL_CHECK(ids.dtype() == kInt64 && ids.dim() == 2 && ids.size(0) >= 1, "SkipRnn: expected int64 symbol ids [T, B], got ",
             dtype_name(ids.dtype()), " ", shape_str(ids.sizes()));
  const int64_t T = ids.size(0), B = ids.size(1), N = (int64_t)cells.size();
  const TensorOptions opts(out->weight.dtype(), ids.device());
  if (s.empty()) {
    for (int64_t n = 0; n < N; ++n) {
      s.h.push_back(zeros({B, H}, opts));
      if (lstm) s.c.push_back(zeros({B, H}, opts));
    }
  }
  DUEL_CHECK((int64_t)s.h.size() == N && (int64_t)s.c.size() == (lstm ? N : 0) && s.h[0].size(0) == B,
             "SkipRnn: the state holds ", s.h.size(), " layers of batch ", s.h[0].size(0), "; expected ", N,
             " layers of batch ", B);
  Tensor x_all = one_hot(ids, V, opts.dtype);  // [T, B, V]
  if (lstm) {
    // Layer n's input at step t is [x_t | h^{n-1}_t], so the layers can run one at a time over
    // the whole segment: the input projections of all T steps in one GEMM, and the recurrence
    // as one lstm_sequence node (LSTMCell::forward_sequence), as nn::LSTM does.
    std::vector<Tensor> layers;  // h^n_{1..T}, [T, B, H] each
    for (int64_t n = 0; n < N; ++n) {
      auto& cell = *std::static_pointer_cast<nn::LSTMCell>(cells[n]);
      auto [hs, state] = cell.forward_sequence(n == 0 ? x_all : cat({x_all, layers.back()}, 2), {s.h[n], s.c[n]});
      layers.push_back(hs);
      std::tie(s.h[n], s.c[n]) = state;
    }
    return (*out)(N == 1 ? layers[0] : cat(layers, 2));  // y_t = b_y + sum_n W_{h^n y} h^n_t
  }
  std::vector<Tensor> tops;  // [h^1_t, ..., h^N_t] for every t
  for (int64_t t = 0; t < T; ++t) {
    Tensor x = x_all.select(0, t);
    std::vector<Tensor> hs;
    for (int64_t n = 0; n < N; ++n) {
      Tensor in = n == 0 ? x : cat({x, hs.back()}, 1);
      s.h[n] = (*std::static_pointer_cast<nn::GRUCell>(cells[n]))(in, s.h[n]);  // GRU: step by step
      hs.push_back(s.h[n]);
    }
    tops.push_back(N == 1 ? hs[0] : cat(hs, 1));
  }
  return (*out)(stack(tops, 0));  // y_t = b_y + sum_n W_{h^n y} h^n_t
}

std::string SkipRnn::extra_repr() const {
  return "vocab=" + std::to_string(V) + ", hidden=" + std::to_string(H) + ", layers=" + std::to_string(cells.size()) +
         (lstm ? ", cell=LSTM" : ", cell=GRU");
}

}  // namespace duel::gan
