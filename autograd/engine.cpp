// The autograd engine: everything that happens when you call backward().
//
//   1. Walk the graph from the outputs and count, for every node, how many
//      edges point into it (its dependencies).
//   2. Seed the outputs' nodes with their gradients, then repeatedly run the
//      ready node created last (all its consumers have delivered their
//      gradient): call its backward closure and add each returned gradient
//      into the buffer of the corresponding input's node.
//   3. A leaf's AccumulateGrad node adds what arrives into leaf.grad (backward)
//      or hands it back to the caller (grad).
//
// With create_graph the closures run with GradMode on, so the ops they use
// are recorded and the returned gradients can be differentiated again.
#include "autograd/engine.h"

#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduction.h"

namespace duel::autograd {
namespace {

struct ByNewest {
  bool operator()(Node* a, Node* b) const { return a->sequence_nr < b->sequence_nr; }
};

// Makes a gradient returned for input i of `node` fit that input.
Tensor validate_gradient(const Node& node, size_t i, Tensor g) {
  const Shape& want = node.input_sizes[i];
  if (g.sizes() != want) {
    DUEL_CHECK(is_broadcastable_to(want, g.sizes()), "backward of '", node.name, "' returned a gradient of shape ",
               shape_str(g.sizes()), " for input ", i, " of shape ", shape_str(want));
    g = sum_to(g, want);
  }
  if (g.dtype() != node.input_dtypes[i]) g = g.to(node.input_dtypes[i]);
  return g;
}

// True when g is the only handle on a dense buffer that duel allocated, so it can become a leaf's
// .grad without a copy (as PyTorch does): nothing else (a saved tensor, a view, the caller's
// gradient, a captured grad() result) can observe the later in-place accumulation into it.
bool owns_its_memory(const Tensor& g) {
  return g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 && g.storage()->owns && !g.requires_grad() &&
         g.offset() == 0 && g.is_contiguous() && g.storage()->nbytes == (size_t)g.numel() * g.element_size();
}

struct Run {
  bool keep_graph = false;
  bool create_graph = false;
  bool accumulate = true;                                // backward(): into .grad
  std::unordered_map<Node*, size_t> capture;             // grad(): node -> index in inputs
  TensorList captured;
};

void execute(const TensorList& roots, const TensorList& root_grads, Run& run) {
  // 1. dependencies over the reachable graph
  std::unordered_map<Node*, int> deps;
  std::unordered_set<Node*> seen;
  std::vector<Node*> stack;
  for (auto& r : roots) {
    Node* n = gradient_edge(r).get();
    if (n && seen.insert(n).second) stack.push_back(n);
  }
  std::vector<Node*> order;  // DFS discovery order, used to find which nodes lead to captured inputs
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    order.push_back(n);
    for (auto& e : n->next) {
      if (!e) continue;
      deps[e.get()]++;
      if (seen.insert(e.get()).second) stack.push_back(e.get());
    }
  }
  // For grad(): only nodes from which a captured input is reachable need to run.
  std::unordered_set<Node*> needed;
  if (!run.accumulate) {
    bool changed = true;
    for (auto& [n, idx] : run.capture) needed.insert(n);
    while (changed) {  // fixed point; graphs are DAGs so this converges quickly
      changed = false;
      for (Node* n : order) {
        if (needed.count(n)) continue;
        for (auto& e : n->next)
          if (e && needed.count(e.get())) {
            needed.insert(n);
            changed = true;
            break;
          }
      }
    }
  }

  // 2. seed and run
  std::unordered_map<Node*, Tensor> buffers;
  std::priority_queue<Node*, std::vector<Node*>, ByNewest> ready;
  // A node's incoming gradients are summed into one buffer. Without create_graph, a buffer that
  // nothing else can see (owns_its_memory: a fresh result of an earlier backward, no longer in
  // its TensorList) is added to in place: an RNN's weight gradients arrive once per time step,
  // and a new sum per step cost an allocation (page faults above glibc's mmap threshold) each.
  auto add_to_buffer = [&](Node* n, const Tensor& g) {
    auto it = buffers.find(n);
    if (it == buffers.end() || !it->second.defined()) {
      buffers[n] = g;
      return;
    }
    Tensor& acc = it->second;
    if (!run.create_graph && acc.sizes() == g.sizes() && acc.dtype() == g.dtype() && acc.device() == g.device() &&
        owns_its_memory(acc)) {
      NoGradGuard ng;
      acc.add_(g);
    } else {
      acc = acc + g;
    }
  };
  std::unordered_set<Node*> queued;
  for (size_t i = 0; i < roots.size(); ++i) {
    auto node = gradient_edge(roots[i]);
    if (!node) continue;
    add_to_buffer(node.get(), root_grads[i]);
  }
  for (auto& r : roots) {
    Node* n = gradient_edge(r).get();
    if (n && deps[n] == 0 && queued.insert(n).second) ready.push(n);
  }

  GradModeGuard mode(run.create_graph);
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor g = buffers[node];
    buffers.erase(node);

    if (auto it = run.capture.find(node); it != run.capture.end() && g.defined()) run.captured[it->second] = g;

    if (node->is_accumulate_grad()) {
      if (run.accumulate && g.defined()) {
        Tensor leaf(static_cast<AccumulateGrad*>(node)->leaf);
        Tensor old = leaf.grad();
        if (run.create_graph) {
          // g may alias another tensor (an expanded constant, the caller's gradient): never store it
          // as is, since a later backward accumulates into .grad in place (clone keeps the history)
          leaf.set_grad(old.defined() ? old + g : g.clone());
        } else if (old.defined() && !old.requires_grad() && old.is_contiguous()) {
          NoGradGuard ng;
          old.add_(g);  // .grad owns its storage (cloned on first accumulation); a non-contiguous
                        // (possibly overlapping, user-set) .grad is replaced out of place below
        } else if (!old.defined() && owns_its_memory(g)) {
          leaf.set_grad(g);  // nobody else can see g's storage: keep it instead of copying it
        } else {
          NoGradGuard ng;
          leaf.set_grad(old.defined() ? (old + g).detach() : g.detach().clone());
        }
      }
    } else if (g.defined() && (run.accumulate || needed.count(node))) {
      TensorList grads = node->apply(g);
      DUEL_CHECK(grads.size() == node->next.size(), "backward of '", node->name, "' returned ", grads.size(),
                 " gradients for ", node->next.size(), " inputs");
      for (size_t i = 0; i < grads.size(); ++i) {
        if (!node->next[i] || !grads[i].defined()) continue;
        add_to_buffer(node->next[i].get(), validate_gradient(*node, i, grads[i]));
      }
      if (!run.keep_graph) node->release();
    }
    for (auto& e : node->next) {
      if (!e) continue;
      if (--deps[e.get()] == 0 && queued.insert(e.get()).second) ready.push(e.get());
    }
  }
}

TensorList default_root_grads(const TensorList& outputs, const TensorList& grad_outputs, const char* api) {
  DUEL_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), api, ": got ", grad_outputs.size(),
             " grad_outputs for ", outputs.size(), " outputs");
  TensorList grads(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    DUEL_CHECK(out.defined(), api, ": output ", i, " is undefined");
    DUEL_CHECK(out.requires_grad(), api, ": output ", i, " (", out.str(),
               ") does not require grad and has no grad_fn; did you compute it under NoGradGuard or from tensors "
               "without requires_grad?");
    Tensor g = i < grad_outputs.size() ? grad_outputs[i] : Tensor();
    if (!g.defined()) {
      DUEL_CHECK(out.numel() == 1, api, ": gradient can be implicitly created only for one-element outputs; "
                 "output ", i, " has shape ", shape_str(out.sizes()), ", so pass a gradient of that shape");
      g = ones_like(out);
    } else {
      DUEL_CHECK(g.sizes() == out.sizes(), api, ": gradient of shape ", shape_str(g.sizes()),
                 " does not match output ", i, " of shape ", shape_str(out.sizes()));
    }
    grads[i] = g;
  }
  return grads;
}

}  // namespace

void backward(const TensorList& outputs, const TensorList& grad_outputs, bool retain_graph, bool create_graph) {
  Run run;
  run.keep_graph = retain_graph || create_graph;
  run.create_graph = create_graph;
  run.accumulate = true;
  execute(outputs, default_root_grads(outputs, grad_outputs, "backward"), run);
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                bool create_graph, bool allow_unused, int retain_graph) {
  Run run;
  run.keep_graph = retain_graph < 0 ? create_graph : retain_graph != 0;
  run.create_graph = create_graph;
  run.accumulate = false;
  run.captured.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    DUEL_CHECK(inputs[i].defined() && inputs[i].requires_grad(), "grad: input ", i, " (",
               inputs[i].defined() ? inputs[i].str() : "undefined", ") does not require grad");
    run.capture[gradient_edge(inputs[i]).get()] = i;
  }
  execute(outputs, default_root_grads(outputs, grad_outputs, "grad"), run);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!run.captured[i].defined()) {
      DUEL_CHECK(allow_unused, "grad: input ", i, " (", inputs[i].str(),
                 ") was not used to compute the outputs; pass allow_unused=true to get an undefined gradient");
    } else if (run.captured[i].sizes() != inputs[i].sizes()) {
      run.captured[i] = sum_to(run.captured[i], inputs[i].sizes());
    }
  }
  return run.captured;
}

}  // namespace duel::autograd
