#include "nn/misc.h"

#include <sstream>

#include "nn/init.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/shape_ops.h"

namespace duel::nn {
namespace {
std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

Dropout::Dropout(double p, Generator* gen) : p(p), gen(gen) {
  DUEL_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got ", p);
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, training_, gen); }
std::string Dropout::extra_repr() const { return "p=" + fmt(p); }

Embedding::Embedding(int64_t n, int64_t d, Generator* gen) : num_embeddings(n), embedding_dim(d) {
  DUEL_CHECK(n > 0 && d > 0, "Embedding: num_embeddings and embedding_dim must be positive, got ", n, " and ", d);
  weight = register_parameter("weight", empty({n, d}));
  init::normal_(weight, 0.0, 1.0, gen);
}
Tensor Embedding::forward(const Tensor& indices) { return embedding(indices, weight); }
std::string Embedding::extra_repr() const { return std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim); }

Upsample::Upsample(int64_t s, UpsampleMode m, bool ac) : scale_factor(s), mode(m), align_corners(ac) {
  DUEL_CHECK(s >= 1, "Upsample: scale_factor must be >= 1, got ", s);
}
Tensor Upsample::forward(const Tensor& x) {
  if (mode == UpsampleMode::Nearest) return upsample_nearest2d(x, scale_factor);
  DUEL_CHECK(x.dim() == 4, "Upsample: expected a 4-D input [N, C, H, W], got shape ", shape_str(x.sizes()));
  return upsample_bilinear2d(x, x.size(2) * scale_factor, x.size(3) * scale_factor, align_corners);
}
std::string Upsample::extra_repr() const {
  return "scale_factor=" + std::to_string(scale_factor) + ", mode='" +
         (mode == UpsampleMode::Nearest ? "nearest" : "bilinear") + "'";
}

Tensor PixelShuffle::forward(const Tensor& x) { return pixel_shuffle(x, upscale_factor); }

namespace {
Pool2dOptions pool_opts(Size2 k, Size2 s, Size2 p, bool count_include_pad) {
  Pool2dOptions o;
  o.kernel = k.arr();
  o.stride = (s == Size2(0)) ? k.arr() : s.arr();
  o.padding = p.arr();
  o.count_include_pad = count_include_pad;
  return o;
}
}  // namespace

MaxPool2d::MaxPool2d(Size2 k, Size2 s, Size2 p) : kernel_size(k), stride(s == Size2(0) ? k : s), padding(p) {}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, pool_opts(kernel_size, stride, padding, true)); }
std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + kernel_size.str() + ", stride=" + stride.str() + ", padding=" + padding.str();
}

AvgPool2d::AvgPool2d(Size2 k, Size2 s, Size2 p, bool cip)
    : kernel_size(k), stride(s == Size2(0) ? k : s), padding(p), count_include_pad(cip) {}
Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, pool_opts(kernel_size, stride, padding, count_include_pad));
}
std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + kernel_size.str() + ", stride=" + stride.str() + ", padding=" + padding.str() +
         (count_include_pad ? "" : ", count_include_pad=False");
}

MinibatchDiscrimination::MinibatchDiscrimination(int64_t a, int64_t b, int64_t c, bool mean, bool include_self,
                                                 Generator* gen)
    : in_features(a), out_features(b), kernel_dims(c), mean(mean), include_self(include_self) {
  DUEL_CHECK(a > 0 && b > 0 && c > 0, "MinibatchDiscrimination: sizes must be positive, got ", a, ", ", b, ", ", c);
  T = register_parameter("T", empty({a, b, c}));
  init::normal_(T, 0.0, 1.0, gen);
}

Tensor MinibatchDiscrimination::forward(const Tensor& x) {
  DUEL_CHECK(x.dim() == 2 && x.size(1) == in_features, "MinibatchDiscrimination: expected an input [N, ", in_features,
             "], got shape ", shape_str(x.sizes()));
  const int64_t n = x.size(0);
  Tensor m = matmul(x, T.reshape({in_features, out_features * kernel_dims})).reshape({n, out_features, kernel_dims});
  Tensor l1 = sum(abs(m.unsqueeze(0) - m.unsqueeze(1)), {3});  // [N, N, B]: ||M_i,b - M_j,b||_1
  Tensor o = sum(exp(-l1), {0});                                // [N, B]
  if (!include_self) o = o - 1.0;
  if (mean) {
    int64_t terms = include_self ? n : n - 1;
    if (terms > 0) o = o / (double)terms;
  }
  return cat({x, o}, 1);
}

std::string MinibatchDiscrimination::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", kernel_dims=" + std::to_string(kernel_dims) + (mean ? ", mean=True" : "") +
         (include_self ? ", include_self=True" : "");
}

}  // namespace duel::nn
