#include "gan/model.h"

#include <cmath>
#include <cstdio>

#include "data/image.h"
#include "gan/birthday.h"
#include "gan/metrics.h"
#include "tensor/ops/shape_ops.h"
#include "tensor/serialize.h"

namespace duel::gan {

train::Option data_option(const std::string& fallback, bool images_only) {
  return train::Option::choice("data", "", fallback,
                               images_only ? std::vector<std::string>{"fashion-mnist"} : data_source_names(),
                               "real data: Fashion-MNIST or a toy 2-D mixture");
}

train::Option batch_option(int64_t fallback) {
  return train::Option::integer("batch", "m", fallback, 1, 1 << 20, "minibatch size");
}

train::Option lr_option(double fallback, const std::string& symbol) {
  return train::Option::real("lr", symbol, fallback, 0, 1, "learning rate", /*open_low=*/true);
}

Tensor with_one_hot(const Tensor& z, const Tensor& c, int64_t k) {
  DUEL_CHECK(z.dim() == 2 && c.dim() == 1 && z.size(0) == c.size(0), "with_one_hot: expected noise [n, d] and classes [n], got ",
             shape_str(z.sizes()), " and ", shape_str(c.sizes()));
  return cat({z, one_hot(c, k).to(z.device())}, 1).reshape({z.size(0), z.size(1) + k, 1, 1});
}

GanModel::GanModel(const Options& o, int64_t z_dim, bool conv_noise)
    : device(o.text("device")),
      seed((uint64_t)o.integer("seed")),
      z_dim(z_dim),
      conv_noise(conv_noise),
      data(o.text("data"), o.integer("batch"), (uint64_t)o.integer("seed"), Device(o.text("device"))),
      noise(seed + 1) {}

void GanModel::state(Checkpointable& s) {
  if (G) s.add("G", *G);
  if (D) s.add("D", *D);
  if (opt_G) s.add("opt_G", *opt_G);
  if (opt_D) s.add("opt_D", *opt_D);
  s.add("noise", noise);
  data.add_to(s);
}

std::unique_ptr<optim::Optimizer> GanModel::adam(nn::Module& m, double lr, double beta1, double beta2) {
  return std::make_unique<optim::Adam>(m.parameters(), optim::AdamOptions{.lr = lr, .betas = {beta1, beta2}});
}

double GanModel::snapshot_fcd() {
  const int64_t n = 500;
  if (judge_missing_) return std::nan("");
  if (!judge_) {
    try {
      auto judge = load_judge();
      judge_test_features_ = judge_features(*judge, load_fashion_mnist("test", "", true, n).images);
      judge_ = judge;
    } catch (const Error& e) {
      std::printf("note: no FCD during training (%s)\n", e.what());
      judge_missing_ = true;
      return std::nan("");
    }
  }
  Generator gen(seed + 777);  // the same noise at every snapshot, apart from the training streams
  Tensor fake;
  {
    NoGradGuard ng;
    G->eval();
    fake = (*G)(latent(n, gen, device)).to(kCPU);
    G->train();
  }
  return frechet_distance(judge_features(static_cast<JudgeNet&>(*judge_), fake), judge_test_features_);
}

Metrics GanModel::snapshot(Run& run, int64_t step) {
  NoGradGuard ng;
  if (!fixed_z_.defined()) {
    Generator fixed_gen(999);
    fixed_z_ = latent(grid_samples(), fixed_gen, device);
  }
  G->eval();
  Tensor samples = (*G)(fixed_z_);
  G->train();
  Metrics m = toy_metrics(data, samples);
  if (data.is_image()) {
    const double fcd = snapshot_fcd();
    if (std::isfinite(fcd)) m.push_back({"fcd500", fcd});
  }
  Tensor field;
  if (!data.is_image()) {
    const int64_t grid = 96;
    field = field_on_grid(grid_points(grid, -2.0, 2.0).to(device));
    if (field.defined()) field = field.reshape({grid, grid});
  }
  save_samples(run, data, samples, step, field, field_name(), grid_columns());
  return m;
}

Tensor GanModel::grid_codes(int64_t n, int64_t k, Device dev) {
  std::vector<int64_t> c(n);
  for (int64_t i = 0; i < n; ++i) c[i] = (i / k) % k;
  return from_vector(c, {n}, TensorOptions(kInt64)).to(dev);
}

Tensor GanModel::sample(int64_t n, Generator& gen) {
  G->to(kCPU);
  G->eval();
  NoGradGuard ng;
  return (*G)(latent(n, gen, kCPU));
}

void GanModel::evaluate(Run& run, const train::EvalRequest& request) {
  if (request.birthday) return evaluate_birthday(run, request);
  train::EvalRequest r = request;
  if (r.n <= 0) r.n = 2000;
  Generator gen(seed + 12345);
  Tensor fake = sample(r.n, gen);
  auto meta = read_checkpoint_meta(run.path("checkpoint.duel"));
  std::printf("run %s (model %s, step %s, %s CPU seconds of training)\n", run.dir().c_str(),
              run.options().model.c_str(), meta["step"].c_str(), meta.count("cpu_seconds") ? meta["cpu_seconds"].c_str() : "?");
  if (fake.dim() == 4) {
    auto judge = load_judge(r.judge_path);
    ImageDataset test = load_fashion_mnist("test", "", true, r.n);
    ImageDataset train = load_fashion_mnist("train", "", true, r.n);
    Tensor f_test = judge_features(*judge, test.images);
    double fcd = frechet_distance(judge_features(*judge, fake), f_test);
    double fcd_real = frechet_distance(judge_features(*judge, train.images), f_test);
    // the classifier score and its parts: log CS = H(y) - E H(y|x)
    const ClassifierScoreParts parts = classifier_score_parts(*judge, fake),
                               parts_real = classifier_score_parts(*judge, test.images);
    const double cs = parts.score, cs_real = parts_real.score;
    std::printf("%-18s %12s %12s\n", "metric", "generated", "real");
    std::printf("%-18s %12.3f %12.3f   (FCD to %lld test images; 'real' = %lld train images)\n", "FCD", fcd, fcd_real,
                (long long)r.n, (long long)r.n);
    std::printf("%-18s %12.3f %12.3f   (max 10)\n", "classifier score", cs, cs_real);
    std::printf("%-18s %12.3f %12.3f   (nats, max log 10 = 2.303: diversity over classes)\n", "class entropy H(y)",
                parts.class_entropy, parts_real.class_entropy);
    std::printf("%-18s %12.3f %12.3f   (nats: the judge's uncertainty per image, lower = clearer)\n", "mean H(y|x)",
                parts.mean_conditional_entropy, parts_real.mean_conditional_entropy);
    return;
  }
  auto m = toy_metrics(data, fake);
  if (m.empty()) std::printf("no mode metrics for %s\n", data.name().c_str());
  for (auto& [k, v] : m) std::printf("%-18s %10.4f\n", k.c_str(), v);
  for (auto& [k, v] : toy_metrics(data, data.evaluation_set(r.n)))
    std::printf("%-18s %10.4f   (real samples)\n", k.c_str(), v);
}

void GanModel::evaluate_birthday(Run& run, const train::EvalRequest& request) {
  DUEL_CHECK(data.is_image(), "duel eval --birthday: the birthday-paradox test needs an image generator; ",
             run.dir(), " was trained on ", data.name());
  BirthdayOptions o;
  if (request.birthday_batches > 0) o.batches = request.birthday_batches;
  if (request.birthday_s_max > 0) o.s_max = request.birthday_s_max;
  DUEL_CHECK(o.s_max >= o.s_min, "duel eval --birthday: --s-max must be at least ", o.s_min, ", got ", o.s_max);
  auto judge = load_judge(request.judge_path);
  // the duplicate threshold, from real test images
  ImageDataset pool = load_fashion_mnist("test", "", true, o.pool);
  const double threshold = nearest_neighbour_quantile(judge_features(*judge, pool.images), o.quantile);
  Generator gen(seed + 777);
  BirthdayResult fake = birthday_test([&](int64_t s) { return sample(s, gen); }, *judge, threshold, o);
  // the reference: batches of distinct real training images
  ImageDataset train = load_fashion_mnist("train");
  Generator pick(seed + 778);
  auto draw_real = [&](int64_t s) {
    return index_select(train.images, 0, randperm(train.size(), &pick).narrow(0, 0, s));
  };
  BirthdayResult real = birthday_test(draw_real, *judge, threshold, o);

  std::printf("birthday-paradox test (Arora and Zhang) of %s, %lld batches per s\n", run.dir().c_str(),
              (long long)o.batches);
  std::printf("duplicate: judge-feature distance < %.4g (the %g quantile of nearest-neighbour distances among %lld "
              "real test images)\n",
              threshold, o.quantile, (long long)o.pool);
  std::printf("%8s %16s %16s\n", "s", "generated p(dup)", "real p(dup)");
  for (size_t k = 0; k < std::max(fake.rows.size(), real.rows.size()); ++k) {
    auto cell = [&](const BirthdayResult& r) {
      if (k >= r.rows.size()) return std::string("-");
      char b[48];
      std::snprintf(b, sizeof b, "%lld/%lld", (long long)r.rows[k].with_duplicate, (long long)r.rows[k].batches);
      return std::string(b);
    };
    const int64_t s = k < fake.rows.size() ? fake.rows[k].s : real.rows[k].s;
    std::printf("%8lld %16s %16s\n", (long long)s, cell(fake).c_str(), cell(real).c_str());
  }
  auto estimate = [](const BirthdayResult& r) {
    char b[96];
    if (r.lower_bound())
      std::snprintf(b, sizeof b, ">= %.3g (no s <= %lld reached p 1/2)", r.support(), (long long)r.rows.back().s);
    else
      std::snprintf(b, sizeof b, "%.3g (s = %lld)", r.support(), (long long)r.s_half);
    return std::string(b);
  };
  std::printf("%-18s %s\n", "support generated", estimate(fake).c_str());
  std::printf("%-18s %s\n", "support real", estimate(real).c_str());
  const std::string out = request.birthday_out.empty() ? run.path("birthday_pairs.png") : request.birthday_out;
  if (fake.closest_images.defined()) {
    save_image_grid(out, fake.closest_images, /*nrow=*/4, 2, /*upscale=*/2);
    std::printf("closest generated pairs (left/right, row by row) in %s:\n", out.c_str());
    std::printf("%6s %14s %14s\n", "pair", "feature dist", "pixel rms");
    for (size_t k = 0; k < fake.closest.size(); ++k)
      std::printf("%6zu %14.4f %14.4f\n", k + 1, fake.closest[k].feature_distance, fake.closest[k].pixel_distance);
  }
}

void GanModel::evaluate_classes(const train::EvalRequest& request, int64_t per_class,
                                const std::function<Tensor(int64_t, int64_t, Generator&)>& generate) {
  auto judge = load_judge(request.judge_path);
  ImageDataset test = load_fashion_mnist("test");
  const std::vector<int64_t> labels = test.labels.to_vector<int64_t>();
  const auto& names = fashion_mnist_classes();
  std::printf("\nper class: %lld generated images each, against the test images of that class\n", (long long)per_class);
  std::printf("%-14s %16s %16s %10s\n", "class", "judge acc (gen)", "judge acc (real)", "FCD");
  double acc_gen = 0, acc_real = 0, fcd_sum = 0;
  int64_t n_real = 0, classes = 0;
  for (int64_t k = 0; k < (int64_t)names.size(); ++k) {
    std::vector<int64_t> idx;
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == k) idx.push_back((int64_t)i);
    if (idx.size() < 2) {  // (a tiny test set)
      std::printf("%-14s %16s %16s %10s   (fewer than 2 test images)\n", names[k].c_str(), "-", "-", "-");
      continue;
    }
    Tensor real_k = index_select(test.images, 0, from_vector(idx, {}, TensorOptions(kInt64)));
    Generator gen(seed + 4000 + (uint64_t)k);
    Tensor fake = generate(k, per_class, gen).to(kCPU);
    const double ag = judge_accuracy(*judge, fake, full({per_class}, (double)k, TensorOptions(kInt64)));
    const double ar = judge_accuracy(*judge, real_k, full({(int64_t)idx.size()}, (double)k, TensorOptions(kInt64)));
    const double fcd = frechet_distance(judge_features(*judge, fake), judge_features(*judge, real_k));
    std::printf("%-14s %16.3f %16.3f %10.2f\n", names[k].c_str(), ag, ar, fcd);
    acc_gen += ag * (double)per_class;
    acc_real += ar * (double)idx.size();
    n_real += (int64_t)idx.size();
    fcd_sum += fcd;
    ++classes;
  }
  if (classes == 0) return;
  std::printf("%-14s %16.3f %16.3f %10.2f   (FCD: mean over classes)\n", "all", acc_gen / double(per_class * classes),
              acc_real / (double)n_real, fcd_sum / (double)classes);
}

}  // namespace duel::gan
