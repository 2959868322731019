// The implementation switch (kernels/impl.h): one table of the ops with several
// implementations, each row reading and writing its family's typed setting.
#include "kernels/impl.h"

#include <cstdlib>
#include <functional>

#include "kernels/cpu/conv.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cuda/conv_algorithm.h"
#include "kernels/cudnn/cudnn_ops.h"
#include "tensor/error.h"
#if defined(DUEL_WITH_CUDA)
#include "kernels/cuda/kernels.h"  // cuda::set_matmul_impl
#endif

namespace duel {
namespace {

struct Row {
  const char* op;
  std::vector<std::string> choices;
  const char* what;
  std::function<std::string()> get;               // the current choice
  std::function<void(const std::string&)> set;    // a valid choice; throws if it cannot run here
};

[[noreturn]] void no_cuda(const std::string& op, const std::string& choice) {
  DUEL_FAIL(op, "=", choice, ": this build has no CUDA backend (DUEL_CUDA=OFF or no nvcc at configure time), so only ",
            "the default can be chosen");
}

ConvAlgorithm parse_algorithm(const std::string& c) {
  return c == "im2col" ? ConvAlgorithm::Im2col : ConvAlgorithm::Implicit;
}

const std::vector<Row>& rows() {
  static const std::vector<Row> table = [] {
    std::vector<Row> t;
    t.push_back({"cpu:gemm",
                 {"auto", "avx512", "avx2", "generic", "eigen"},
                 "float32 matrix products on the CPU (matmul, linear, the CPU convolutions' GEMMs)",
                 [] { return std::string(cpu::gemm_impl_name(cpu::gemm_impl())); },
                 [](const std::string& c) {
                   cpu::GemmImpl g;
                   cpu::parse_gemm_impl(c, g);
                   DUEL_CHECK(cpu::gemm_impl_supported(g), "cpu:gemm=", c, ": this CPU cannot run it");
                   cpu::set_gemm_impl(g);
                 }});
    t.push_back({"cpu:conv2d",
                 {"implicit", "im2col"},
                 "float32 conv2d, its gradients, conv_transpose2d and conv1d on the CPU",
                 [] { return std::string(conv_algorithm_name(cpu::conv_algorithm())); },
                 [](const std::string& c) { cpu::set_conv_algorithm(parse_algorithm(c)); }});
    t.push_back({"sim:conv2d",
                 {"implicit", "im2col"},
                 "conv2d, its gradients, conv_transpose2d and conv1d on the SIMT emulator",
                 [] { return std::string(conv_algorithm_name(sim::conv_algorithm())); },
                 [](const std::string& c) { sim::set_conv_algorithm(parse_algorithm(c)); }});
    t.push_back({"cuda:conv2d",
                 {"implicit", "im2col", "cudnn"},
                 "conv2d, its gradients, conv_transpose2d and conv1d on a CUDA GPU",
                 []() -> std::string {
#if defined(DUEL_WITH_CUDA)
                   if (cudnn::selected(cudnn::Op::Conv2d)) return "cudnn";
                   return conv_algorithm_name(cuda::conv_algorithm());
#else
                   return "implicit";
#endif
                 },
                 [](const std::string& c) {
#if defined(DUEL_WITH_CUDA)
                   if (c == "cudnn") return cudnn::select(cudnn::Op::Conv2d, true);
                   cuda::set_conv_algorithm(parse_algorithm(c));
                   cudnn::select(cudnn::Op::Conv2d, false);
#else
                   if (c != "implicit") no_cuda("cuda:conv2d", c);
#endif
                 }});
    t.push_back({"cuda:matmul",
                 {"auto", "hand", "cublas"},
                 "matrix products on a CUDA GPU (duel's tiled kernel or cuBLAS)",
                 []() -> std::string {
#if defined(DUEL_WITH_CUDA)
                   switch (cuda::matmul_impl()) {
                     case cuda::MatmulImpl::Hand: return "hand";
                     case cuda::MatmulImpl::Cublas: return "cublas";
                     default: return "auto";
                   }
#else
                   return "auto";
#endif
                 },
                 [](const std::string& c) {
#if defined(DUEL_WITH_CUDA)
                   cuda::set_matmul_impl(c == "hand"     ? cuda::MatmulImpl::Hand
                                         : c == "cublas" ? cuda::MatmulImpl::Cublas
                                                         : cuda::MatmulImpl::Auto);
#else
                   if (c != "auto") no_cuda("cuda:matmul", c);
#endif
                 }});
    t.push_back({"cuda:batch_norm",
                 {"native", "cudnn"},
                 "batch_norm's training forward and fused backward on a CUDA GPU",
                 []() -> std::string {
#if defined(DUEL_WITH_CUDA)
                   return cudnn::selected(cudnn::Op::BatchNorm) ? "cudnn" : "native";
#else
                   return "native";
#endif
                 },
                 [](const std::string& c) {
#if defined(DUEL_WITH_CUDA)
                   cudnn::select(cudnn::Op::BatchNorm, c == "cudnn");
#else
                   if (c != "native") no_cuda("cuda:batch_norm", c);
#endif
                 }});
    return t;
  }();
  return table;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string known_ops() {
  std::vector<std::string> ops;
  for (const Row& r : rows()) ops.push_back(r.op);
  return join(ops);
}

const Row* find(const std::string& op) {
  for (const Row& r : rows())
    if (op == r.op) return &r;
  return nullptr;
}

const Row& row(const std::string& op, const char* where) {
  const Row* r = find(op);
  DUEL_CHECK(r, where, ": unknown op '", op, "'; the ops with a choice of implementation are ", known_ops());
  return *r;
}

bool valid_choice(const Row& r, const std::string& c) {
  for (const std::string& x : r.choices)
    if (x == c) return true;
  return false;
}

}  // namespace

void set_impl(const std::string& op, const std::string& choice) {
  const Row& r = row(op, "set_impl");
  DUEL_CHECK(valid_choice(r, choice), "set_impl: ", op, " has no implementation '", choice, "'; expected one of ",
             join(r.choices));
  r.set(choice);
}

std::string impl(const std::string& op) { return row(op, "impl").get(); }

std::vector<ImplInfo> impl_table() {
  std::vector<ImplInfo> out;
  for (const Row& r : rows()) out.push_back({r.op, r.choices, r.choices.front(), r.get(), r.what});
  return out;
}

namespace detail {
std::string impl_from_env(const char* op) {
  const char* e = std::getenv("DUEL_IMPL");
  if (!e || !*e) return "";
  std::string value;
  const std::string s(e);
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    const std::string item = trim(s.substr(start, end - start));
    start = end + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    DUEL_CHECK(eq != std::string::npos, "DUEL_IMPL: expected a comma-separated list of op=implementation, got '",
               item, "' in '", s, "'");
    const std::string key = trim(item.substr(0, eq)), choice = trim(item.substr(eq + 1));
    const Row* r = find(key);
    DUEL_CHECK(r, "DUEL_IMPL: unknown op '", key, "' in '", s, "'; the ops with a choice of implementation are ",
               known_ops());
    DUEL_CHECK(valid_choice(*r, choice), "DUEL_IMPL: ", key, " has no implementation '", choice,
               "'; expected one of ", join(r->choices));
    if (key == op) value = choice;  // the last one wins
  }
  return value;
}
}  // namespace detail

}  // namespace duel
