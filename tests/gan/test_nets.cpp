// The zoo's shared networks (gan/nets.h) and data helpers (gan/data.h): shapes, the
// identities their definitions imply, and clear errors for inputs they cannot take.
#include <catch2/catch.hpp>

#include "duel.h"
#include "gan/data.h"
#include "gan/nets.h"
#include "gan/semi_supervised.h"
#include "nn/nn.h"

using namespace duel;
using Catch::Contains;

TEST_CASE("gan nets: DCGAN pair shapes", "[gan][nets]") {
  NoGradGuard ng;
  auto G = gan::dcgan_generator(100);
  auto D = gan::dcgan_discriminator(/*sigmoid=*/false, /*batchnorm=*/true);
  Tensor x = (*G)(randn({3, 100, 1, 1}));
  CHECK(x.sizes() == Shape{3, 1, 28, 28});
  CHECK((*D)(x).sizes() == Shape{3, 1});
  CHECK(amax(abs(x)).item() <= 1.0);  // tanh output
}

TEST_CASE("gan nets: the multi-head discriminator shares the DCGAN trunk between its heads", "[gan][nets]") {
  manual_seed(3);
  gan::MultiHeadDiscriminator d({{.out = 1}, {.out = 12, .hidden = 16}});
  Tensor x = randn({5, 1, 28, 28});
  Tensor h = d.features(x);
  CHECK(h.sizes() == Shape{5, 256, 3, 3});
  CHECK(d.head(0, h).sizes() == Shape{5, 1});
  CHECK(d.head(1, h).sizes() == Shape{5, 12});
  CHECK(d.forward(x).to_vector<float>() == d.head(0, h).to_vector<float>());  // forward is head 0
  // the trunk is the DCGAN discriminator's: the same parameter shapes, less its last conv
  auto dcgan = gan::dcgan_discriminator(false);
  size_t trunk_params = 0;
  for (auto& [name, p] : d.named_parameters())
    if (name.rfind("trunk.", 0) == 0) ++trunk_params;
  CHECK(trunk_params + 1 == dcgan->parameters().size());
  CHECK_THROWS_WITH(d.features(randn({2, 1, 32, 32})), Catch::Contains("[2, 1, 32, 32]"));
  CHECK_THROWS_WITH(d.head(2, h), Catch::Contains("head 2 of 2"));
}

TEST_CASE("gan nets: a residual block with a zero body is the identity", "[gan][nets]") {
  gan::ResidualBlock block(4, gan::Norm::kInstance);
  Tensor x = randn({2, 4, 6, 6});
  {
    NoGradGuard ng;
    CHECK(block(x).sizes() == x.sizes());
    for (Tensor& p : block.parameters()) p.fill_(0.0);
    CHECK(allclose(block(x), x, 0, 0));
  }
}

TEST_CASE("gan nets: U-Net shapes, skip connections and the size check", "[gan][nets]") {
  gan::UNet unet(3, 2, /*base=*/4, /*depth=*/4);
  Tensor x = randn({2, 3, 32, 32}).requires_grad_();
  Tensor y = unet(x);
  CHECK(y.sizes() == Shape{2, 2, 32, 32});
  y.sum().backward();
  REQUIRE(x.grad().defined());
  CHECK(sum(abs(x.grad())).item() > 0);
  CHECK_THROWS_WITH(unet(randn({1, 3, 28, 28})),
                    Contains("UNet: expected input [N, C, H, W] with H and W divisible by 2^depth = 16, got [1, 3, 28, 28]"));
  gan::UNet shallow(1, 1, 4, 1);
  CHECK(shallow(randn({1, 1, 8, 8})).sizes() == Shape{1, 1, 8, 8});
}

TEST_CASE("gan nets: PatchGAN gives one logit per patch (pix2pix: 256 -> 30x30)", "[gan][nets]") {
  NoGradGuard ng;
  auto d = gan::patchgan_discriminator(3, 4, 3);
  CHECK((*d)(randn({2, 3, 64, 64})).sizes() == Shape{2, 1, 6, 6});
  auto d1 = gan::patchgan_discriminator(1, 4, 1);
  CHECK((*d1)(randn({1, 1, 32, 32})).sizes() == Shape{1, 1, 14, 14});
}

TEST_CASE("gan nets: the autoencoder discriminator's energy is its reconstruction error", "[gan][nets]") {
  gan::AutoencoderDiscriminator D(8, 4, gan::AutoencoderDiscriminator::Activation::kELU, /*batchnorm=*/false);
  NoGradGuard ng;
  Tensor x = rand({3, 1, 28, 28}) * 2.0 - 1.0;
  CHECK(D.encode(x).sizes() == Shape{3, 8});
  Tensor r = D(x);
  CHECK(r.sizes() == x.sizes());
  Tensor e = D.energy(x), e1 = D.energy(x, /*l1=*/true);
  REQUIRE(e.sizes() == Shape{3});
  auto rv = r.contiguous().to_vector<double>(), xv = x.contiguous().to_vector<double>();
  for (int64_t i = 0; i < 3; ++i) {
    double sq = 0, ab = 0;
    for (int64_t j = 0; j < 784; ++j) {
      double d = rv[i * 784 + j] - xv[i * 784 + j];
      sq += d * d;
      ab += std::abs(d);
    }
    CHECK(e.to_vector<double>()[i] == Approx(sq / 784).epsilon(1e-5));
    CHECK(e1.to_vector<double>()[i] == Approx(ab / 784).epsilon(1e-5));
  }
  CHECK_THROWS_WITH(D.encode(randn({1, 1, 32, 32})), Contains("expected images [N, 1, 28, 28], got [1, 1, 32, 32]"));
}

TEST_CASE("gan data: a labelled subset has per_class images of each class, fixed by its seed", "[gan][data]") {
  ImageDataset ds;
  ds.images = randn({100, 1, 28, 28});
  std::vector<int64_t> labels(100);
  for (int i = 0; i < 100; ++i) labels[i] = (i * 7) % 10;
  ds.labels = from_vector(labels, {100}, TensorOptions(kInt64));
  ImageDataset a = gan::labelled_subset(ds, 3, 11), b = gan::labelled_subset(ds, 3, 11), c = gan::labelled_subset(ds, 3, 12);
  REQUIRE(a.size() == 30);
  std::vector<int> count(10, 0);
  for (int64_t y : a.labels.to_vector<int64_t>()) ++count[y];
  CHECK(count == std::vector<int>(10, 3));
  CHECK(allclose(a.images, b.images, 0, 0));
  const bool same = a.labels.to_vector<int64_t>() == c.labels.to_vector<int64_t>() && allclose(a.images, c.images, 0, 0);
  CHECK_FALSE(same);
  CHECK_THROWS_WITH(gan::labelled_subset(ds, 11, 1), Contains("class 0 has only 10 images, 11 asked for"));
}

TEST_CASE("semi-supervised protocol: the labelled source draws only its subset, the test error counts the test set",
          "[gan][data]") {
  // the labelled source: 2 per class from subset seed 5 -> every image of every batch is one
  // of the 20 of labelled_subset(train, 2, 5), with its label, and each appears once per epoch
  ImageDataset subset = gan::labelled_subset(load_fashion_mnist("train"), 2, 5);
  auto src = gan::DataSource::labelled(2, 5, 4, /*seed=*/1, kCPU);
  std::vector<int> seen(20, 0);
  const auto subset_labels = subset.labels.to_vector<int64_t>();
  for (int b = 0; b < 5; ++b) {  // one epoch of 20 / 4 batches
    gan::LabelledBatch batch = src.next_labelled();
    REQUIRE(batch.x.sizes() == Shape{4, 1, 28, 28});
    const auto y = batch.y.to_vector<int64_t>();
    for (int64_t i = 0; i < 4; ++i) {
      int found = -1;
      for (int64_t k = 0; k < 20 && found < 0; ++k)
        if (allclose(batch.x.narrow(0, i, 1), subset.images.narrow(0, k, 1), 0, 0)) found = (int)k;
      REQUIRE(found >= 0);
      CHECK(y[i] == subset_labels[found]);
      ++seen[found];
    }
  }
  CHECK(seen == std::vector<int>(20, 1));
  auto too_big = gan::DataSource::labelled(1, 0, 11, 1, kCPU);
  CHECK_THROWS_WITH(too_big.next_labelled(), Contains("--batch 11 is larger than the data set (10 labelled images)"));
  // the test error: a classifier that always says class 3 is right on the 1000 test images of class 3
  CHECK(gan::test_error_percent([](const Tensor& x) { return one_hot(full({x.size(0)}, 3.0, TensorOptions(kInt64)), 10); },
                                kCPU) == Approx(90.0));
  CHECK_THROWS_WITH(gan::test_error_percent([](const Tensor& x) { return zeros({x.size(0), 9}); }, kCPU),
                    Contains("expected logits [500, 10], got [500, 9]"));
}

TEST_CASE("minibatch discrimination: hand-derived closeness features and their gradient", "[gan][nets]") {
  gan::MinibatchDiscrimination mbd(2, 1, 2);
  mbd.T.detach().copy_(from_vector(std::vector<double>{1, 0, 0, 1}, {2, 2}));  // M = f
  Tensor f = from_vector(std::vector<double>{0, 0, 1, 0, 0, 2}, {3, 2});
  // L1 distances: |0-1| = 1, |0-2| = 2, |(1,0)-(0,2)| = 3
  std::vector<double> want = {0, 0, std::exp(-1.0) + std::exp(-2.0), 1, 0, std::exp(-1.0) + std::exp(-3.0),
                              0, 2, std::exp(-2.0) + std::exp(-3.0)};
  std::vector<float> got = mbd(f).to_vector<float>();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).margin(1e-6));
  CHECK_THROWS_WITH(mbd(zeros({3, 4})), Catch::Contains("expected features [N, 2], got [3, 4]"));
  // gradcheck in float64 (inputs chosen away from the kinks of |.|)
  gan::MinibatchDiscrimination mbd64(3, 2, 2);
  mbd64.to(kFloat64);
  Tensor x = from_vector(std::vector<double>{0.3, -1.2, 0.7, 1.1, 0.4, -0.6, -0.9, 0.8, 1.5, 0.2, -0.3, 0.9}, {4, 3},
                         TensorOptions(kFloat64))
                 .requires_grad_();
  // the module's own T is the second input: gradcheck perturbs it in place
  CHECK(gradcheck([&](const TensorList& in) { return mbd64(in[0]); }, {x, mbd64.T}));
}

TEST_CASE("virtual batch norm: the reference statistics mixed with the sample's own (hand-computed)", "[gan][nets]") {
  gan::VirtualBatchNorm2d vbn(2);
  vbn.to(kFloat64);
  Tensor ref = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 1, 2, 2, 4, 4}, {2, 2, 2, 2});
  Tensor x = from_vector(std::vector<double>{9, 9, 9, 9, -1, 1, -1, 1}, {1, 2, 2, 2});
  CHECK_THROWS_WITH(vbn(x), Catch::Contains("no reference batch yet"));
  vbn.set_reference_pass(true);
  Tensor yr = vbn(ref);
  vbn.set_reference_pass(false);
  Tensor y = vbn(x);
  const auto r = ref.to_vector<double>(), xv = x.to_vector<double>(), yv = y.to_vector<double>(), yrv = yr.to_vector<double>();
  for (int c = 0; c < 2; ++c) {
    double s = 0, s2 = 0;  // reference statistics of channel c over N, H, W
    for (int n = 0; n < 2; ++n)
      for (int k = 0; k < 4; ++k) {
        double v = r[n * 8 + c * 4 + k];
        s += v, s2 += v * v;
      }
    const double mu_r = s / 8, sq_r = s2 / 8;
    for (int n = 0; n < 2; ++n)  // the reference batch: normalised by its own statistics
      for (int k = 0; k < 4; ++k)
        CHECK(yrv[n * 8 + c * 4 + k] == Approx((r[n * 8 + c * 4 + k] - mu_r) / std::sqrt(sq_r - mu_r * mu_r + 1e-5)));
    double xs = 0, xs2 = 0;
    for (int k = 0; k < 4; ++k) xs += xv[c * 4 + k], xs2 += xv[c * 4 + k] * xv[c * 4 + k];
    const double mu = (2 * mu_r + xs / 4) / 3, sq = (2 * sq_r + xs2 / 4) / 3;  // R = 2 reference samples and x
    for (int k = 0; k < 4; ++k) CHECK(yv[c * 4 + k] == Approx((xv[c * 4 + k] - mu) / std::sqrt(sq - mu * mu + 1e-5)));
  }
}

TEST_CASE("virtual batch norm: a generated sample does not depend on the rest of its batch", "[gan][nets]") {
  Generator gen(5);
  gan::VbnGenerator g(8, 4, gen);
  g.eval();
  Tensor z = randn({3, 8, 1, 1}, {}, &gen);
  Tensor alone = g(z.narrow(0, 0, 1)), together = g(z);
  CHECK(allclose(alone, together.narrow(0, 0, 1), 1e-5, 1e-6));
  // batch norm (the DCGAN generator in training mode) does depend on it
  auto bn = gan::dcgan_generator(8);
  CHECK_FALSE(allclose((*bn)(z.narrow(0, 0, 2)).narrow(0, 0, 1), (*bn)(z).narrow(0, 0, 1), 1e-3, 1e-4));
  // the gradient reaches the reference pass (the statistics are part of the graph)
  g.train();
  sum(g(z)).backward();
  for (auto& [name, p] : g.named_parameters()) {
    INFO(name);
    CHECK(p.grad().defined());
  }
  CHECK(g.buffers().size() == 1);  // the reference noise, saved with the generator
}
