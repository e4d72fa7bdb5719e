// The engine: grad mode, appending records, compacting the tape, and the reverse walk.
#include "ops/common.hpp"
#include "tape.hpp"

#include "matgrad/ops.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

namespace matgrad {

namespace {
thread_local bool grad_enabled = true;
thread_local bool anomaly_enabled = false;
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }
bool is_anomaly_enabled() { return anomaly_enabled; }
void set_anomaly_enabled(bool enabled) { anomaly_enabled = enabled; }

namespace {

// "shape [3, 4], range [-1.5, 2]" or, with non-finite values, how many there are.
std::string describe_values(const Tensor& t) {
  return t.visit([&](const auto& x) {
    double lo = INFINITY, hi = -INFINITY;
    std::size_t nan = 0, inf = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double v = x.data()[i];
      if (std::isnan(v)) {
        ++nan;
      } else {
        inf += std::isinf(v) ? 1 : 0;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    std::string text = fmt::format("shape {}", to_string(t.shape()));
    if (nan + inf < x.size()) text += fmt::format(", range [{:.6g}, {:.6g}]", lo, hi);
    if (nan) text += fmt::format(", {} NaN", nan);
    if (inf) text += fmt::format(", {} ±Inf", inf);
    return text;
  });
}

bool all_finite(const Tensor& t) {
  return t.visit([](const auto& x) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x.data()[i])) return false;
    }
    return true;
  });
}

}  // namespace

namespace detail {

Tape& current_tape() {
  thread_local Tape tape;
  return tape;
}

Tape::~Tape() {
  for (const auto& node : nodes) {
    if (auto out = node->output.lock()) {
      out->node = nullptr;
      out->requires_grad = false;
    }
  }
}

// The edges stay: grad() needs them to tell whether a later pass would run through here.
void Node::release() {
  vjp.reset();
  saved_output.reset();
  released = true;
}

Node& Tape::push() {
  if (nodes.size() >= collect_at && backward_depth == 0) collect();
  auto& node = nodes.emplace_back(std::make_unique<Node>());
  node->tape = this;
  node->index = nodes.size() - 1;
  return *node;
}

// One reverse pass marks what is live (inputs have smaller indices than their consumers),
// one forward pass compacts.
void Tape::collect() {
  const std::size_t n = nodes.size();
  std::vector<char> live(n, 0);
  // Records are prefetched this far ahead of each pass (a visit is much shorter than a trip to
  // memory), outputs' counts half as far (their address is read from the prefetched record).
  constexpr std::size_t ahead = 16;
  for (std::size_t i = n; i-- > 0;) {
    if (i >= ahead) prefetch_for_collect(nodes[i - ahead].get());
    if (i >= ahead / 2) prefetch_output_count(nodes[i - ahead / 2].get());
    const Node& node = *nodes[i];
    if (!live[i] && !node.output_alive()) continue;
    live[i] = 1;
    for (const Edge& edge : node.inputs) {
      if (edge.node) live[edge.node->index] = 1;
    }
  }
  std::vector<std::unique_ptr<Node>> dead;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i + ahead < n && live[i + ahead]) __builtin_prefetch(nodes[i + ahead].get());
    if (live[i]) {
      nodes[i]->index = kept;
      nodes[kept++] = std::move(nodes[i]);
    } else {
      dead.push_back(std::move(nodes[i]));
    }
  }
  nodes.resize(kept);
  // Twice what is kept, or four times when most of it was kept (a graph still growing): each
  // compaction visits every record, so on a long graph the visits stay a small multiple of
  // its length either way, and fewer of them when they free little.
  collect_at = std::max(kMinCollect, (2 * kept > n ? 4 : 2) * kept);
  // Closures may free tensors; the tape is consistent again by now. (Records are plain heap
  // objects: keeping them in a free list for reuse measured 35% slower on long chains, as the
  // tensors freed around them then no longer merge into large blocks for malloc to reuse.)
  for (std::size_t k = 0; k < dead.size(); ++k) {
    if (k + ahead < dead.size()) prefetch(dead[k + ahead].get());
    dead[k].reset();
  }
  dead.clear();
}

bool should_record(std::span<const InputRef> inputs) {
  if (!grad_enabled) return false;
  return std::any_of(inputs.begin(), inputs.end(), [](const InputRef& ref) {
    const Tensor& t = ref;
    return t.defined() && t.requires_grad();
  });
}

Tensor push_record(const OpInfo& op, Tensor output, std::span<const InputRef> inputs, Vjp vjp,
                   const SourceLocation& where) {
  Tape& tape = current_tape();
  for (const Tensor& input : inputs) {
    const Node* producer = input.defined() ? input.impl()->node : nullptr;
    if (producer && producer->tape != &tape) {
      fail<AutogradError>(
          "{}: an input was computed on another thread; non-leaf tensors belong to the tape of "
          "the thread that made them (share leaves, or detach() first)",
          op.name);
    }
  }
  if (!output.defined()) fail<Error>("{}: internal error: the op produced no output", op.name);
  // The record marks its output as part of the graph: an op that handed back an input, or a
  // tensor already in a graph, gets a copy of its own.
  const bool is_input = std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& input) {
    return input.impl() == output.impl();
  });
  if (is_input || output.impl()->node || output.impl()->requires_grad) output = detail::copy(output);
  const SourceLocation& site = detail::CallSite::current() ? *detail::CallSite::current() : where;
  if (anomaly_enabled && !all_finite(output)) {
    std::string inputs_text;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const Tensor& input = inputs[k];
      if (input.defined()) inputs_text += fmt::format("\n  input {}: {}", k, describe_values(input));
    }
    fail<AutogradError>("anomaly: '{}' produced a non-finite output ({}){}\n  recorded at {}:{}",
                        op.name, describe_values(output), inputs_text, site.file, site.line);
  }
  Node& node = tape.push();
  node.op = &op;
  node.where = site;
  node.vjp = std::move(vjp);
  node.inputs.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined() && input.requires_grad()) {
      if (input.impl()->node) {
        edge.node = input.impl()->node;
      } else {
        edge.leaf = input.impl();
      }
    } else if (input.defined()) {
      edge.constant = input.impl();
    }
    if (input.defined()) {
      edge.shape = input.shape();
      edge.dtype = input.dtype();
    }
    if (op.saves_inputs() && input.defined()) {
      edge.saved = input.impl();
      edge.saved_version = input.impl()->version();
    }
    node.inputs.push_back(std::move(edge));
  }
  TensorImpl& impl = *output.impl();
  impl.requires_grad = true;
  impl.node = &node;
  node.output = output.impl();
  node.output_address = output.impl().get();
  node.output_shape = output.shape();
  if (op.saves_output()) {
    node.saved_output = output.impl();
    node.saved_output_version = output.impl()->version();
  }
  return output;
}

}  // namespace detail

std::size_t tape_size() { return detail::current_tape().nodes.size(); }

namespace {

using detail::Edge;
using detail::Node;
using detail::Tape;
using detail::TensorImpl;

// Adds g into an accumulator slot. Out of place when the slot's tensor or its storage is
// shared (a VJP may return the same tensor for two inputs, or a view of one, as reshape's does)
// or when building a graph of the backward pass.
void accumulate(Tensor& slot, Tensor g, bool create_graph) {
  if (!slot.defined()) {
    slot = std::move(g);
  } else if (create_graph || slot.impl().use_count() > 1 || slot.impl()->storage_shared() ||
             slot.requires_grad()) {
    slot = slot + g;
  } else {
    slot.add_(g);
  }
}

// The gradient a VJP returned for one input, summed over broadcast dimensions to the input's
// shape: the one place where gradient shapes and dtypes are checked.
Tensor fit_to_input(const Node& node, std::size_t k, Tensor g) {
  const Edge& edge = node.inputs[k];
  if (g.dtype() != edge.dtype) {
    fail<DTypeError>("{}: the VJP returned a {} gradient for input {} of dtype {}", node.op->name,
                     dtype_name(g.dtype()), k, dtype_name(edge.dtype));
  }
  if (g.shape() == edge.shape) return g;
  // A broadcast input gets a gradient of the output's shape; nothing else is acceptable.
  if (g.shape() != node.output_shape) {
    fail<ShapeError>(
        "{}: the VJP returned a gradient of shape {} for input {} of shape {} (output shape {})",
        node.op->name, to_string(g.shape()), k, to_string(edge.shape),
        to_string(node.output_shape));
  }
  return sum_to_size(g, edge.shape);
}

// A value a VJP reads must be the one the forward saw.
void check_saved_versions(const Node& node) {
  auto fail_modified = [&](const std::string& which, const Shape& shape, std::uint64_t then,
                           std::uint64_t now) {
    fail<AutogradError>(
        "backward: {} of '{}' (shape {}) was modified in place after '{}' saved it for "
        "backward at {}:{}: it was at version {} then and is at version {} now, so the "
        "gradient would be wrong. Make in-place changes (optimiser steps, add_, mutable_data) "
        "after backward(), or change a clone() instead",
        which, node.op->name, to_string(shape), node.op->name, node.where.file, node.where.line,
        then, now);
  };
  for (std::size_t k = 0; k < node.inputs.size(); ++k) {
    const Edge& e = node.inputs[k];
    if (auto input = e.saved.lock(); input && input->version() != e.saved_version) {
      fail_modified(fmt::format("input {}", k), Tensor(input).shape(), e.saved_version,
                    input->version());
    }
  }
  if (node.saved_output && node.saved_output->version() != node.saved_output_version) {
    fail_modified("the output", node.output_shape, node.saved_output_version,
                  node.saved_output->version());
  }
}

void check_finite_grads(const Node& node, const Tensor& g, const Grads& grads) {
  for (std::size_t k = 0; k < grads.size(); ++k) {
    if (!grads[k].defined() || all_finite(grads[k])) continue;
    fail<AutogradError>(
        "anomaly: the VJP of '{}' produced a non-finite gradient for input {} ({}) from an "
        "incoming gradient with {}\n  recorded at {}:{}",
        node.op->name, k, describe_values(grads[k]), describe_values(g), node.where.file,
        node.where.line);
  }
}

struct Targets {
  // For grad(): where each requested input's gradient is collected.
  std::unordered_map<const TensorImpl*, std::size_t> leaves;
  std::unordered_map<const Node*, std::size_t> nodes;
  std::vector<Tensor> results;
};

void check_root(const Tensor& output, const Tensor& seed, std::size_t i) {
  if (!output.defined()) fail<AutogradError>("backward: output {} is an undefined tensor", i);
  if (!output.requires_grad()) {
    fail<AutogradError>(
        "backward: output {} of shape {} does not require grad and has no recorded history "
        "(was it computed under NoGradGuard, or from tensors without requires_grad?)",
        i, to_string(output.shape()));
  }
  if (!seed.defined()) {
    if (output.numel() != 1) {
      fail<AutogradError>(
          "backward: output {} has shape {}; a gradient seed can be implied only for a "
          "one-element output, so pass a seed of that shape",
          i, to_string(output.shape()));
    }
    return;
  }
  if (seed.shape() != output.shape()) {
    fail<ShapeError>("backward: seed of shape {} for output {} of shape {}", to_string(seed.shape()),
                     i, to_string(output.shape()));
  }
  if (seed.dtype() != output.dtype()) {
    fail<DTypeError>("backward: seed of dtype {} for output {} of dtype {}", dtype_name(seed.dtype()),
                     i, dtype_name(output.dtype()));
  }
}

// The reverse walk shared by backward() (targets == nullptr: accumulate into leaves' .grad)
// and grad() (collect into targets->results).
void run_backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds,
                  bool retain_graph, bool create_graph, Targets* targets) {
  if (!seeds.empty() && seeds.size() != outputs.size()) {
    fail<AutogradError>("backward: {} seeds for {} outputs", seeds.size(), outputs.size());
  }
  Tape& tape = detail::current_tape();
  AutoGradMode mode(create_graph);

  auto deliver_to_leaf = [&](const std::shared_ptr<TensorImpl>& leaf, Tensor g) {
    if (targets) {
      auto it = targets->leaves.find(leaf.get());
      if (it != targets->leaves.end()) accumulate(targets->results[it->second], g, create_graph);
      return;
    }
    Tensor& slot = leaf->grad;
    if (!slot.defined() && !create_graph &&
        (g.impl().use_count() > 1 || g.impl()->storage_shared() || g.requires_grad())) {
      slot = detail::copy(g);  // a fresh .grad must not alias a tensor held elsewhere
    } else {
      accumulate(slot, g, create_graph);
    }
  };

  std::size_t top = 0;
  bool any_node = false;
  std::vector<std::pair<Node*, Tensor>> root_grads;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor seed = seeds.empty() ? Tensor() : seeds[i];
    check_root(outputs[i], seed, i);
    Tensor g = seed.defined() ? seed : ones_like(outputs[i]);
    if (Node* node = outputs[i].impl()->node) {
      if (node->tape != &tape) {
        fail<AutogradError>("backward: output {} was computed on another thread's tape", i);
      }
      top = std::max(top, node->index);
      any_node = true;
      root_grads.emplace_back(node, std::move(g));
    } else {
      deliver_to_leaf(outputs[i].impl(), g);
    }
  }
  if (!any_node) return;

  // For grad(), one forward pass (inputs precede their consumers) decides which records run
  // their VJP (needed: an input leads to a requested tensor) and which outputs must receive a
  // gradient (wanted: needed, or itself requested).
  std::vector<char> needed, wanted;
  if (targets) {
    needed.assign(top + 1, 0);
    wanted.assign(top + 1, 0);
    for (std::size_t i = 0; i <= top; ++i) {
      const Node& node = *tape.nodes[i];
      bool hit = false;
      for (const Edge& e : node.inputs) {
        hit = hit || (e.leaf && targets->leaves.count(e.leaf.get())) ||
              (e.node && wanted[e.node->index]);
      }
      needed[i] = hit;
      wanted[i] = hit || targets->nodes.count(&node);
    }
  }

  std::vector<Tensor> grads(top + 1);
  // Gradients delivered to records below the one being visited and not yet consumed: when
  // none is left, nothing further down the tape can receive one (a training loop's tape also
  // holds the released records of earlier steps until it compacts), so the walk stops.
  std::size_t pending = 0;
  auto deliver_to_node = [&](std::size_t index, Tensor g) {
    if (!grads[index].defined()) ++pending;
    accumulate(grads[index], std::move(g), create_graph);
  };
  for (auto& [node, g] : root_grads) deliver_to_node(node->index, g);

  ++tape.backward_depth;
  std::size_t released = 0;
  struct Exit {
    Tape& tape;
    const std::size_t& released;
    // Released records go at the next compaction: aim it at twice what is left.
    ~Exit() {
      if (--tape.backward_depth == 0 && released > 0) {
        const std::size_t left = tape.nodes.size() - std::min(released, tape.nodes.size());
        tape.collect_at = std::max(Tape::kMinCollect, std::min(tape.collect_at, 2 * left));
      }
    }
  } exit{tape, released};

  for (std::size_t i = top + 1; i-- > 0 && pending > 0;) {
    // The records 8 ahead, and the shared count and version of the output 4 ahead (an input
    // the version check and the VJP read; its address is on the record's first line).
    if (i >= 8) prefetch(tape.nodes[i - 8].get());
    if (i >= 4) detail::prefetch_output_count(tape.nodes[i - 4].get());
    if (!grads[i].defined()) continue;
    Node& node = *tape.nodes[i];  // nodes never move while backward_depth > 0
    const Tensor g = std::move(grads[i]);
    --pending;
    if (node.released) {
      fail<AutogradError>(
          "backward: trying to backward through the graph a second time: the saved values of "
          "'{}' (output shape {}) were freed by the previous backward. Pass retain_graph=true "
          "to the first backward (or grad) call if you need to run backward twice",
          node.op->name, to_string(g.shape()));
    }
    if (detail::grad_norms_enabled()) node.grad_norm = detail::frobenius_norm(g);
    if (targets) {
      if (auto it = targets->nodes.find(&node); it != targets->nodes.end()) {
        accumulate(targets->results[it->second], g, create_graph);
      }
      if (!needed[i]) continue;
    } else if (node.retains_grad) {
      if (auto out = node.output.lock()) {
        accumulate(out->grad, create_graph ? g : detail::copy(g), create_graph);  // g flows on
      }
    }

    // Whether input k takes a gradient: the mask tells the VJP for the first Needs::kBits
    // inputs (later ones count as needed there), the delivery below asks each input.
    auto takes_grad = [&](std::size_t k) {
      const Edge& e = node.inputs[k];
      return targets ? (e.leaf && targets->leaves.count(e.leaf.get())) ||
                           (e.node && wanted[e.node->index])
                     : (e.leaf || e.node);
    };
    std::uint32_t mask = 0;
    for (std::size_t k = 0; k < std::min(node.inputs.size(), Needs::kBits); ++k) {
      if (takes_grad(k)) mask |= 1u << k;
    }
    check_saved_versions(node);
    const VjpContext ctx{Tensor(node.saved_output), Needs(mask)};
    Grads input_grads;
    {
      const detail::CallSite site(node.where);  // records of a create_graph pass point there too
      input_grads = node.vjp(g, ctx);
    }
    if (anomaly_enabled) check_finite_grads(node, g, input_grads);
    if (input_grads.size() != node.inputs.size()) {
      fail<Error>("{}: internal error: the VJP returned {} gradients for {} inputs", node.op->name,
                  input_grads.size(), node.inputs.size());
    }
    for (std::size_t k = 0; k < node.inputs.size(); ++k) {
      if (!input_grads[k].defined() || !takes_grad(k)) continue;
      Tensor gk = fit_to_input(node, k, std::move(input_grads[k]));
      const Edge& e = node.inputs[k];
      if (e.leaf) {
        deliver_to_leaf(e.leaf, std::move(gk));
      } else {
        deliver_to_node(e.node->index, std::move(gk));
      }
    }
    if (!retain_graph) {
      node.release();
      ++released;
    }
  }
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds,
              bool retain_graph, bool create_graph) {
  run_backward(outputs, seeds, retain_graph || create_graph, create_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& seeds, bool retain_graph, bool create_graph,
                         bool allow_unused) {
  Targets targets;
  targets.results.resize(inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& input = inputs[i];
    if (!input.defined() || !input.requires_grad()) {
      fail<AutogradError>("grad: input {} does not require grad", i);
    }
    if (Node* node = input.impl()->node) {
      targets.nodes.emplace(node, i);
    } else {
      targets.leaves.emplace(input.impl().get(), i);
    }
  }
  run_backward(outputs, seeds, retain_graph || create_graph, create_graph, &targets);
  // Duplicate inputs share one slot in the maps: copy its result to each of them.
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto* impl = inputs[i].impl().get();
    const std::size_t slot = impl->node ? targets.nodes.at(impl->node) : targets.leaves.at(impl);
    if (slot != i) targets.results[i] = targets.results[slot];
    if (!targets.results[i].defined() && !allow_unused) {
      fail<AutogradError>(
          "grad: input {} (shape {}) was not used to compute the outputs; pass allow_unused=true "
          "to get an undefined gradient for it",
          i, to_string(inputs[i].shape()));
    }
  }
  return targets.results;
}

}  // namespace matgrad
