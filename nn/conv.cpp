#include "nn/conv.h"

#include <cmath>

#include "nn/init.h"

namespace duel::nn {

std::string Size2::str() const { return "(" + std::to_string(h) + ", " + std::to_string(w) + ")"; }

ConvBase::ConvBase(int64_t in, int64_t out, Size2 kernel, const ConvOptions& opt, bool transposed, bool one_d)
    : in_channels(in), out_channels(out), kernel_size(kernel), options(opt), transposed_(transposed), one_d_(one_d) {
  const char* name = one_d ? (transposed ? "ConvTranspose1d" : "Conv1d") : (transposed ? "ConvTranspose2d" : "Conv2d");
  DUEL_CHECK(in > 0 && out > 0, name, ": in_channels and out_channels must be positive, got ", in, " and ", out);
  DUEL_CHECK(kernel.h > 0 && kernel.w > 0, name, ": kernel_size must be positive, got ", kernel.str());
  DUEL_CHECK(opt.groups > 0 && in % opt.groups == 0 && out % opt.groups == 0, name, ": in_channels (", in,
             ") and out_channels (", out, ") must be divisible by groups (", opt.groups, ")");
  if (one_d)
    for (const Size2* s : {&opt.stride, &opt.padding, &opt.output_padding, &opt.dilation})
      DUEL_CHECK(s->h == s->w, name, ": expected a single value per option, got ", s->str());
  if (!transposed)
    DUEL_CHECK(opt.output_padding == Size2(0), name, ": output_padding is only for transposed convolutions");
  Shape w = transposed ? Shape{in, out / opt.groups} : Shape{out, in / opt.groups};
  if (one_d) {
    w.push_back(kernel.w);
  } else {
    w.push_back(kernel.h);
    w.push_back(kernel.w);
  }
  weight = register_parameter("weight", empty(w));
  if (opt.bias) bias = register_parameter("bias", empty({out}));
  reset_parameters(opt.gen);
}

void ConvBase::reset_parameters(Generator* gen) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, gen);
  if (bias.defined()) {
    int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    double bound = fan_in > 0 ? 1.0 / std::sqrt((double)fan_in) : 0.0;
    init::uniform_(bias, -bound, bound, gen);
  }
}

Conv2dOptions ConvBase::functional_2d() const {
  Conv2dOptions o;
  o.stride = options.stride.arr();
  o.padding = options.padding.arr();
  o.output_padding = options.output_padding.arr();
  o.dilation = options.dilation.arr();
  o.groups = options.groups;
  return o;
}

Conv1dOptions ConvBase::functional_1d() const {
  Conv1dOptions o;
  o.stride = options.stride.w;
  o.padding = options.padding.w;
  o.output_padding = options.output_padding.w;
  o.dilation = options.dilation.w;
  o.groups = options.groups;
  return o;
}

std::string ConvBase::extra_repr() const {
  auto v = [&](const Size2& s) { return one_d_ ? "(" + std::to_string(s.w) + ",)" : s.str(); };
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + v(kernel_size) + ", stride=" + v(options.stride);
  if (!(options.padding == Size2(0))) s += ", padding=" + v(options.padding);
  if (!(options.dilation == Size2(1))) s += ", dilation=" + v(options.dilation);
  if (!(options.output_padding == Size2(0))) s += ", output_padding=" + v(options.output_padding);
  if (options.groups != 1) s += ", groups=" + std::to_string(options.groups);
  if (!bias.defined()) s += ", bias=False";
  return s;
}

namespace {
ConvOptions make_opts(Size2 stride, Size2 padding, Size2 output_padding, Size2 dilation, int64_t groups, bool bias,
                      Generator* gen) {
  ConvOptions o;
  o.stride = stride;
  o.padding = padding;
  o.output_padding = output_padding;
  o.dilation = dilation;
  o.groups = groups;
  o.bias = bias;
  o.gen = gen;
  return o;
}
}  // namespace

Conv2d::Conv2d(int64_t in, int64_t out, Size2 k, const ConvOptions& opt) : ConvBase(in, out, k, opt, false, false) {}
Conv2d::Conv2d(int64_t in, int64_t out, Size2 k, Size2 stride, Size2 padding, Size2 dilation, int64_t groups,
               bool bias, Generator* gen)
    : Conv2d(in, out, k, make_opts(stride, padding, 0, dilation, groups, bias, gen)) {}
Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, functional_2d()); }

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, Size2 k, const ConvOptions& opt)
    : ConvBase(in, out, k, opt, true, false) {}
ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, Size2 k, Size2 stride, Size2 padding, Size2 output_padding,
                                 int64_t groups, bool bias, Size2 dilation, Generator* gen)
    : ConvTranspose2d(in, out, k, make_opts(stride, padding, output_padding, dilation, groups, bias, gen)) {}
Tensor ConvTranspose2d::forward(const Tensor& x) { return conv_transpose2d(x, weight, bias, functional_2d()); }

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, const ConvOptions& opt) : ConvBase(in, out, {1, k}, opt, false, true) {}
Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding, int64_t dilation, int64_t groups,
               bool bias, Generator* gen)
    : Conv1d(in, out, k, make_opts(stride, padding, 0, dilation, groups, bias, gen)) {}
Tensor Conv1d::forward(const Tensor& x) { return conv1d(x, weight, bias, functional_1d()); }

ConvTranspose1d::ConvTranspose1d(int64_t in, int64_t out, int64_t k, const ConvOptions& opt)
    : ConvBase(in, out, {1, k}, opt, true, true) {}
ConvTranspose1d::ConvTranspose1d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t padding,
                                 int64_t output_padding, int64_t groups, bool bias, int64_t dilation, Generator* gen)
    : ConvTranspose1d(in, out, k, make_opts(stride, padding, output_padding, dilation, groups, bias, gen)) {}
Tensor ConvTranspose1d::forward(const Tensor& x) { return conv_transpose1d(x, weight, bias, functional_1d()); }

}  // namespace duel::nn
