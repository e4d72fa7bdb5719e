// The walk: backward() and grad().
//
// From the outputs' records, the walk visits the records a gradient reaches, latest first: a
// max-heap on the records' sequence numbers. A record is popped only after every record with
// a larger number that could still send it a gradient has run (its consumers all come later),
// so its gradient is complete when it runs its VJP, which sends each input its part. The walk
// touches only records reachable from its outputs, whatever else is alive.
//
// grad() first marks, in one depth-first pass over the reachable records, those that lead to
// a requested input; only those run their VJP.
//
// Hooks (hooks.hpp): a record's output hooks run on its gradient when it is popped; while some
// leaf has hooks, backward() first finds when each hooked leaf it reaches is final (the lowest
// sequence number that feeds it), holds that leaf's gradients back until the walk is below that
// number, and then runs the leaf's hooks.
//
// A walk keeps its state (the gradient summed so far, the marks) on the records it reaches,
// which it claims for its duration: a second walk reaching a claimed record (on another thread
// at the same time, or from inside a VJP) stops with an error instead of mixing the two.
#include "checks.hpp"
#include "forward.hpp"
#include "hooks.hpp"
#include "ops/common.hpp"

#include "matgrad/ops.hpp"

#include <algorithm>
#include <mutex>

namespace matgrad {

namespace {

using detail::Edge;
using detail::Node;
using detail::TensorImpl;

std::atomic<std::uint64_t> next_walk_id{1};

// Marks of grad()'s first pass.
constexpr std::uint8_t kTarget = 1;  // the record's output is a requested input
constexpr std::uint8_t kNeeded = 2;  // an input leads to a requested input: run the VJP
constexpr std::uint8_t kWanted = 4;  // kNeeded or kTarget: the output wants its gradient

// grad(): the requested inputs, by address, with the slot of each one's gradient.
struct Targets {
  std::vector<std::pair<const void*, std::size_t>> slots;  // sorted, unique
  std::vector<Tensor> results;

  const std::size_t* slot(const void* key) const {
    auto it = std::lower_bound(slots.begin(), slots.end(), key,
                               [](const auto& entry, const void* k) { return entry.first < k; });
    return it != slots.end() && it->first == key ? &it->second : nullptr;
  }
};

// Adds g into an accumulator slot. Out of place when the slot's tensor or its storage is
// shared (a VJP may return the same tensor for two inputs, or a view of one, as reshape's does)
// or when building a graph of the backward pass.
void accumulate(Tensor& slot, Tensor g, bool create_graph) {
  if (!slot.defined()) {
    slot = std::move(g);
  } else if (create_graph || slot.impl().use_count() > 1 || slot.impl()->storage_shared() ||
             slot.requires_grad()) {
    slot = slot + g;
  } else if (slot.shape() == g.shape() && slot.dtype() == g.dtype()) {
    slot.visit([&](const auto& x) {  // the common case, without add_'s broadcasting
      using T = typename std::decay_t<decltype(x)>::value_type;
      T* __restrict dst = const_cast<T*>(x.data());
      const T* __restrict src = g.data<T>().data();
      for (std::size_t i = 0, n = x.size(); i < n; ++i) dst[i] += src[i];
    });
    slot.impl()->bump_version();
    if (detail::forward_mode) detail::add_tangent_in_place(slot, g, 1.0);  // as add_ does
  } else {
    slot.add_(g);
  }
}

// ---- the one lock of the walk ----
// backward() on several threads at once may deliver gradients to one shared leaf (PyTorch
// makes that safe too): a leaf's .grad is updated under a mutex picked by the leaf's address,
// from a fixed set rather than one per tensor, so that tensors stay small. Uncontended, it
// costs two atomic operations per leaf and pass.
std::mutex& leaf_grad_mutex(const TensorImpl* leaf) {
  struct alignas(64) Stripe {
    std::mutex mutex;
  };
  static Stripe stripes[64];
  const auto address = reinterpret_cast<std::uintptr_t>(leaf);
  return stripes[((address >> 4) ^ (address >> 10)) % 64].mutex;
}

class Walk {
 public:
  Walk(bool retain_graph, bool create_graph, Targets* targets)
      : id_(next_walk_id.fetch_add(1, std::memory_order_relaxed)),
        retain_graph_(retain_graph),
        create_graph_(create_graph),
        grad_norms_(detail::grad_norms_enabled()),
        targets_(targets) {}
  Walk(const Walk&) = delete;
  Walk& operator=(const Walk&) = delete;
  // Gives the records back, also after an error.
  ~Walk() {
    for (Node* node : claimed_) unclaim(node);
    for (Node* node : ready_) unclaim(node);
  }

  void run(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds) {
    if (targets_) {
      mark_paths(outputs);
    } else if (detail::leaf_hook_count.load(std::memory_order_relaxed) != 0) {
      held_.plan(outputs);
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const Tensor seed = seeds.empty() ? Tensor() : seeds[i];
      Tensor g = seed.defined() ? seed : ones_like(outputs[i]);
      const std::shared_ptr<TensorImpl>& root = outputs[i].impl();
      if (root->node) {
        deliver(root->node, &root, std::move(g));
      } else {
        deliver_to_leaf(*root, std::move(g));
      }
    }
    while (!ready_.empty()) {
      std::pop_heap(ready_.begin(), ready_.end(), later_last);
      Node* node = ready_.back();
      // backward() gives each record back once it has run (no later record can reach it);
      // grad() gives them all back at the end, as its first pass claimed some that never run.
      struct Done {
        Walk& walk;
        Node* node;
        ~Done() {
          if (!walk.targets_) walk.unclaim(node);
        }
      } done{*this, node};
      ready_.pop_back();
      if (!held_.empty()) finish_leaves(node->sequence);
      run_vjp(*node);
    }
    if (!held_.empty()) finish_leaves(0);
  }

 private:
  static bool later_last(const Node* a, const Node* b) { return a->sequence < b->sequence; }

  static void unclaim(Node* node) {
    node->pending = Tensor();
    node->handle = nullptr;
    node->marks = 0;
    node->walk.store(0, std::memory_order_release);
  }

  void claim(Node* node) {
    std::uint64_t free = 0;
    if (!node->walk.compare_exchange_strong(free, id_, std::memory_order_acquire)) {
      fail<AutogradError>(
          "backward: the record of '{}' (recorded at {}:{}) is part of another backward pass "
          "running at the same time (on another thread, or one that called this one); a "
          "graph can be walked by one backward or grad call at a time",
          node->op->name, node->where.file, node->where.line);
    }
    if (targets_) claimed_.push_back(node);
  }

  // grad(): one depth-first pass over the reachable records (explicit stack), marking in
  // post-order (inputs first) the records that lead to a requested input.
  void mark_paths(const std::vector<Tensor>& outputs) {
    std::vector<std::pair<Node*, std::size_t>> stack;  // a record, and its next input to visit
    auto visit = [&](Node* node) {
      claim(node);
      if (targets_->slot(node)) node->marks |= kTarget;
      stack.emplace_back(node, 0);
    };
    for (const Tensor& output : outputs) {
      Node* root = output.impl()->node;
      if (root && root->walk.load(std::memory_order_relaxed) != id_) visit(root);
      while (!stack.empty()) {
        Node* node = stack.back().first;
        const std::size_t k = stack.back().second++;
        if (k < node->inputs.size()) {
          Node* input = node->inputs[k].producer;
          if (input && input->walk.load(std::memory_order_relaxed) != id_) visit(input);
          continue;
        }
        stack.pop_back();
        bool needed = false;
        for (const Edge& e : node->inputs) needed = needed || takes_grad(e);
        if (needed) node->marks |= kNeeded;
        if (needed || (node->marks & kTarget)) node->marks |= kWanted;
      }
    }
  }

  // Whether the gradient for this input is wanted: by backward(), for every input that
  // requires grad; by grad(), for requested leaves and records marked as leading to one.
  bool takes_grad(const Edge& e) const {
    if (!targets_) return e.takes_grad();
    if (e.leaf) return targets_->slot(e.input.get()) != nullptr;
    return e.producer && (e.producer->marks & kWanted);
  }

  void deliver(Node* node, const std::shared_ptr<TensorImpl>* handle, Tensor g) {
    if (node->walk.load(std::memory_order_relaxed) != id_) claim(node);
    if (!node->pending.defined()) {
      node->handle = handle;
      ready_.push_back(node);
      std::push_heap(ready_.begin(), ready_.end(), later_last);
    }
    accumulate(node->pending, std::move(g), create_graph_);
  }

  void deliver_to_leaf(TensorImpl& leaf, Tensor g) {
    if (targets_) {
      if (const std::size_t* slot = targets_->slot(&leaf)) {
        accumulate(targets_->results[*slot], std::move(g), create_graph_);
      }
      return;
    }
    if (!held_.empty()) {
      if (Tensor* total = held_.total(&leaf)) return accumulate(*total, std::move(g), create_graph_);
    }
    add_to_grad(leaf, std::move(g));
  }

  void add_to_grad(TensorImpl& leaf, Tensor g) {
    // Leaves are not claimed: walks on other threads may reach this one at the same time.
    const std::lock_guard<std::mutex> lock(leaf_grad_mutex(&leaf));
    Tensor& grad = leaf.grad;
    if (!grad.defined() && !create_graph_ &&
        (g.impl().use_count() > 1 || g.impl()->storage_shared() || g.requires_grad())) {
      grad = detail::copy(g);  // a fresh .grad must not alias a tensor held elsewhere
    } else {
      accumulate(grad, std::move(g), create_graph_);
    }
  }

  // Hooked leaves that no record numbered `sequence` or lower feeds: their .grad is final.
  void finish_leaves(std::uint64_t sequence) {
    while (detail::HeldLeaves::Leaf* leaf = held_.next_final(sequence)) {
      if (!leaf->total.defined()) continue;  // no gradient reached it in this pass
      const std::shared_ptr<detail::HookList> hooks = leaf->impl->hooks;
      add_to_grad(*leaf->impl, detail::run_grad_hooks(hooks.get(), std::move(leaf->total)));
      detail::run_post_accumulate_hooks(hooks.get(), Tensor(leaf->impl));
    }
  }

  void run_vjp(Node& node) {
    Tensor g = std::move(node.pending);
    if (node.released) {
      fail<AutogradError>(
          "backward: trying to backward through the graph a second time: the saved values of "
          "'{}' (output shape {}) were freed by the previous backward. Pass retain_graph=true "
          "to the first backward (or grad) call if you need to run backward twice",
          node.op->name, to_string(g.shape()));
    }
    if (node.hooked) [[unlikely]] {
      g = detail::run_grad_hooks(node.output->hooks.get(), std::move(g), &node);
    }
    if (grad_norms_) node.grad_norm = detail::frobenius_norm(g);
    if (targets_) {
      if (node.marks & kTarget) {
        accumulate(targets_->results[*targets_->slot(&node)], g, create_graph_);
      }
      if (!(node.marks & kNeeded)) return;
    } else if (node.retains_grad) {
      accumulate(node.output->grad, create_graph_ ? g : detail::copy(g), create_graph_);  // g flows on
    }

    // The mask tells the VJP which of the first Needs::kBits inputs take a gradient (later
    // ones count as needed there); the delivery below asks each input.
    std::uint32_t mask = 0;
    for (std::size_t k = 0; k < std::min(node.inputs.size(), Needs::kBits); ++k) {
      if (takes_grad(node.inputs[k])) mask |= 1u << k;
    }
    detail::check_saved_versions(node);
    const VjpContext ctx{node.op->saves_output() ? Tensor(*node.handle) : Tensor(), Needs(mask)};
    Grads grads;
    {
      const detail::CallSite site(node.where);  // records of a create_graph pass point there too
      grads = node.vjp(g, ctx);
    }
    if (detail::anomaly_enabled()) detail::check_finite_grads(node, g, grads);
    detail::check_grad_count(node, grads.size());
    for (std::size_t k = 0; k < node.inputs.size(); ++k) {
      const Edge& e = node.inputs[k];
      if (!grads[k].defined() || !takes_grad(e)) continue;
      Tensor gk = detail::fits_input(node, k, grads[k])
                      ? std::move(grads[k])
                      : detail::fit_to_input(node, k, std::move(grads[k]));
      if (e.leaf) {
        deliver_to_leaf(*e.input, std::move(gk));
      } else {
        deliver(e.producer, &e.input, std::move(gk));
      }
    }
    if (!retain_graph_) node.release();
  }

  const std::uint64_t id_;
  const bool retain_graph_, create_graph_, grad_norms_;
  Targets* const targets_;
  std::vector<Node*> ready_;    // records holding a gradient, a max-heap on sequence
  std::vector<Node*> claimed_;  // grad(): every record this walk has claimed
  detail::HeldLeaves held_;     // backward(): the hooked leaves' gradients, until final
};

void run_backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds,
                  bool retain_graph, bool create_graph, Targets* targets) {
  if (!seeds.empty() && seeds.size() != outputs.size()) {
    fail<AutogradError>("backward: {} seeds for {} outputs", seeds.size(), outputs.size());
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    detail::check_root(outputs[i], seeds.empty() ? Tensor() : seeds[i], i);
  }
  AutoGradMode mode(create_graph);
  Walk walk(retain_graph, create_graph, targets);
  walk.run(outputs, seeds);
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds,
              bool retain_graph, bool create_graph) {
  run_backward(outputs, seeds, retain_graph || create_graph, create_graph, nullptr);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& seeds, bool retain_graph, bool create_graph,
                         bool allow_unused) {
  // A requested input is found by its record (a non-leaf) or its TensorImpl (a leaf).
  auto key = [](const Tensor& t) -> const void* {
    return t.impl()->node ? static_cast<const void*>(t.impl()->node) : t.impl().get();
  };
  Targets targets;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) {
      fail<AutogradError>("grad: input {} does not require grad", i);
    }
    targets.slots.emplace_back(key(inputs[i]), i);
  }
  // Duplicate inputs share the slot of their first occurrence.
  std::stable_sort(targets.slots.begin(), targets.slots.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  targets.slots.erase(std::unique(targets.slots.begin(), targets.slots.end(),
                                  [](const auto& a, const auto& b) { return a.first == b.first; }),
                      targets.slots.end());
  targets.results.resize(inputs.size());
  run_backward(outputs, seeds, retain_graph || create_graph, create_graph, &targets);
  {  // A leaf's hooks see the total it gets, once per leaf (a non-leaf's ran on the walk).
    AutoGradMode mode(create_graph);
    for (const auto& [input_key, slot] : targets.slots) {
      const TensorImpl& input = *inputs[slot].impl();
      if (!input.node && targets.results[slot].defined()) {
        targets.results[slot] =
            detail::run_grad_hooks(input.hooks.get(), std::move(targets.results[slot]));
      }
    }
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::size_t slot = *targets.slot(key(inputs[i]));
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
