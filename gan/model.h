// What every GAN of the zoo shares beyond the losses and networks: the generator G and its
// noise prior, the data source, the picture of G's samples on a fixed noise batch at every
// snapshot, sampling for `duel sample`, and the evaluation for `duel eval` (FCD and classifier
// score against real images with the judge network, or mode coverage on the toy mixtures).
// A GAN file derives from GanModel and writes its networks, optimizers and step().
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "gan/data.h"
#include "gan/losses.h"
#include "gan/nets.h"
#include "train/model.h"

namespace duel::gan {

using train::Checkpointable;
using train::Metrics;
using train::Options;
using train::Run;

class GanModel : public train::Model {
 public:
  // Registers G, D, opt_G, opt_D (those that are set), G's noise stream and the data source;
  // a model with more state overrides it and calls GanModel::state first.
  void state(Checkpointable& s) override;
  Metrics snapshot(Run& run, int64_t step) override;
  Tensor sample(int64_t n, Generator& gen) override;
  void evaluate(Run& run, const train::EvalRequest& request) override;
  std::vector<std::string> plotted() const override { return {"loss_D", "loss_G"}; }

 protected:
  // Reads --seed, --device, --data and --batch; the noise is z ~ N(0, I) of `z_dim`
  // ([n, z_dim, 1, 1] when `conv_noise`, for convolutional generators).
  GanModel(const Options& o, int64_t z_dim, bool conv_noise);
  // Adam over a module's parameters (the optimizer of most GANs).
  static std::unique_ptr<optim::Optimizer> adam(nn::Module& m, double lr, double beta1, double beta2 = 0.999);
  // A training batch's noise: under mpirun this rank's shard of the global batch's (gan/data.h).
  Tensor noise_batch(int64_t n) { return sample_noise_shard(n, z_dim, noise, device, conv_noise); }
  // G's input for n samples from `gen` on `dev`, as snapshots, FCD, `duel sample` and `duel
  // eval` draw it: z ~ N(0, I) by default; models with codes append them (AC-GAN: the class,
  // InfoGAN: its categorical and continuous codes), in an order that suits the picture.
  virtual Tensor latent(int64_t n, Generator& gen, Device dev) { return sample_noise(n, z_dim, gen, dev, conv_noise); }
  // The snapshot picture: how many samples (from a fixed latent()) and how many per row.
  virtual int64_t grid_samples() const { return data.is_image() ? 64 : 1000; }
  virtual int64_t grid_columns() const { return 8; }
  // Codes for a k-wide grid with one row per value: sample i gets (i / k) mod k, so any k * k
  // consecutive samples hold k of each value (int64 [n] on `dev`; AC-GAN's class, InfoGAN's c_1).
  static Tensor grid_codes(int64_t n, int64_t k, Device dev);
  // For toy data: a field drawn under the points (e.g. the critic's values); none by default.
  virtual Tensor field_on_grid(const Tensor& points) {
    (void)points;
    return {};
  }
  virtual std::string field_name() const { return ""; }
  // FCD of 500 samples against 500 test images (logged at every snapshot as `fcd500`, so that
  // losses and sample quality can be compared over training); NaN without the judge.
  double snapshot_fcd();
  // `duel eval --birthday`: the birthday-paradox test on G's samples and, as the reference, on
  // the real training set (gan/birthday.h).
  void evaluate_birthday(Run& run, const train::EvalRequest& request);
  // `duel eval` of a class-conditional generator (AC-GAN): `per_class` samples of each class k
  // from generate(k, n, gen). Prints per class and overall the judge's accuracy on them against
  // k (the AC-GAN paper's "discriminability"), next to the judge's accuracy on the real test
  // images of k, and the FCD to the test images of class k.
  void evaluate_classes(const train::EvalRequest& request, int64_t per_class,
                        const std::function<Tensor(int64_t cls, int64_t n, Generator& gen)>& generate);

  Device device;
  uint64_t seed;
  int64_t z_dim;
  bool conv_noise;
  DataSource data;
  Generator noise;
  // The two players and their optimizers, set by the derived constructor.
  std::shared_ptr<nn::Module> G, D;
  std::unique_ptr<optim::Optimizer> opt_G, opt_D;

 private:
  Tensor fixed_z_;  // the snapshot picture's latent(), drawn at the first snapshot
  std::shared_ptr<nn::Module> judge_;  // loaded on the first snapshot
  Tensor judge_test_features_;
  bool judge_missing_ = false;
};

// A class-conditional generator's input: z [n, d] with the one-hot class c (int64 [n], k
// classes) appended, [n, d + k, 1, 1] (AC-GAN, Triple-GAN; the conditional GAN's concatenation).
Tensor with_one_hot(const Tensor& z, const Tensor& c, int64_t k);

// Options most GANs declare, with the same names everywhere.
train::Option data_option(const std::string& fallback, bool images_only = false);
train::Option batch_option(int64_t fallback);
train::Option lr_option(double fallback, const std::string& symbol = "alpha");

}  // namespace duel::gan
