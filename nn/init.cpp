// Initialisers: draw on the host in float64, then copy into the tensor (any dtype/device).
#include "nn/init.h"

#include <Eigen/QR>
#include <cmath>

#include "autograd/grad_mode.h"

namespace duel::nn::init {
namespace {

Tensor fill_from(const Tensor& t, const Tensor& values) {
  NoGradGuard ng;
  Tensor dst = t;
  dst.copy_(values);
  return t;
}

void check_floating(const Tensor& t, const char* op) {
  DUEL_CHECK(t.defined(), "nn::init::", op, ": the tensor is undefined");
  DUEL_CHECK(is_floating(t.dtype()), "nn::init::", op, ": expected a float32 or float64 tensor, got ",
             dtype_name(t.dtype()));
}

}  // namespace

double calculate_gain(Nonlinearity nl, double param) {
  switch (nl) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv1d:
    case Nonlinearity::Conv2d:
    case Nonlinearity::Conv3d:
    case Nonlinearity::ConvTranspose1d:
    case Nonlinearity::ConvTranspose2d:
    case Nonlinearity::Sigmoid: return 1.0;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::ReLU: return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::SELU: return 3.0 / 4.0;
  }
  return 1.0;
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  DUEL_CHECK(t.dim() >= 2, "nn::init: fan in and fan out cannot be computed for a tensor with fewer than 2 dims "
             "(got shape ", shape_str(t.sizes()), ")");
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor uniform_(const Tensor& t, double a, double b, Generator* gen) {
  check_floating(t, "uniform_");
  DUEL_CHECK(a <= b, "nn::init::uniform_: expected a <= b, got [", a, ", ", b, "]");
  return fill_from(t, uniform(t.sizes(), a, b, TensorOptions(kFloat64), gen));
}

Tensor normal_(const Tensor& t, double mean, double std, Generator* gen) {
  check_floating(t, "normal_");
  DUEL_CHECK(std >= 0, "nn::init::normal_: std must be non-negative, got ", std);
  return fill_from(t, normal(t.sizes(), mean, std, TensorOptions(kFloat64), gen));
}

Tensor constant_(const Tensor& t, double value) {
  check_floating(t, "constant_");
  NoGradGuard ng;
  Tensor dst = t;
  dst.fill_(value);
  return t;
}
Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

Tensor eye_(const Tensor& t) {
  check_floating(t, "eye_");
  DUEL_CHECK(t.dim() == 2, "nn::init::eye_: expected a 2-D tensor, got shape ", shape_str(t.sizes()));
  Tensor e = zeros(t.sizes(), TensorOptions(kFloat64));
  for (int64_t i = 0; i < std::min(t.size(0), t.size(1)); ++i) e.data<double>()[i * t.size(1) + i] = 1.0;
  return fill_from(t, e);
}

Tensor xavier_uniform_(const Tensor& t, double gain, Generator* gen) {
  check_floating(t, "xavier_uniform_");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double a = gain * std::sqrt(6.0 / double(fan_in + fan_out));
  return uniform_(t, -a, a, gen);
}

Tensor xavier_normal_(const Tensor& t, double gain, Generator* gen) {
  check_floating(t, "xavier_normal_");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / double(fan_in + fan_out)), gen);
}

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode, Nonlinearity nl, const char* op) {
  check_floating(t, op);
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  int64_t fan = mode == FanMode::FanIn ? fan_in : fan_out;
  DUEL_CHECK(fan > 0, "nn::init::", op, ": cannot initialise a tensor with zero elements (shape ",
             shape_str(t.sizes()), ")");
  return calculate_gain(nl, a) / std::sqrt((double)fan);
}
}  // namespace

Tensor kaiming_uniform_(const Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nl, "kaiming_uniform_");
  return uniform_(t, -bound, bound, gen);
}

Tensor kaiming_normal_(const Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  return normal_(t, 0.0, kaiming_std(t, a, mode, nl, "kaiming_normal_"), gen);
}

Tensor orthogonal_(const Tensor& t, double gain, Generator* gen) {
  check_floating(t, "orthogonal_");
  DUEL_CHECK(t.dim() >= 2, "nn::init::orthogonal_: only tensors with 2 or more dims are supported, got shape ",
             shape_str(t.sizes()));
  if (t.numel() == 0) return t;
  const int64_t rows = t.size(0), cols = t.numel() / rows;
  // draw [rows, cols] (row-major), factor the tall orientation A = QR
  Tensor flat = normal({rows, cols}, 0.0, 1.0, TensorOptions(kFloat64), gen);
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Mat a = Eigen::Map<Mat>(flat.data<double>(), rows, cols);
  if (rows < cols) a.transposeInPlace();
  const int64_t m = a.rows(), n = a.cols();  // m >= n
  Eigen::HouseholderQR<Mat> qr(a);
  Mat q = qr.householderQ() * Mat::Identity(m, n);
  Mat r = qr.matrixQR().topRows(n).triangularView<Eigen::Upper>();
  for (int64_t j = 0; j < n; ++j) {
    double d = r(j, j);
    double s = d > 0 ? 1.0 : (d < 0 ? -1.0 : 0.0);  // torch: q *= sign(diag(r))
    q.col(j) *= s;
  }
  if (rows < cols) q.transposeInPlace();
  q *= gain;
  Tensor out = empty({rows, cols}, TensorOptions(kFloat64));
  Eigen::Map<Mat>(out.data<double>(), rows, cols) = q;
  return fill_from(t, out.reshape(t.sizes()));
}

}  // namespace duel::nn::init
