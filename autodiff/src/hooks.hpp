// Gradient hooks inside the engine: where they are stored and the three points at which the
// reverse walk calls them (matgrad/hooks.hpp states the contract). Private to the engine.
//
//   1. a record's output:  g = run_grad_hooks(node.hooks, g) when the walk reaches it, before
//      grad() captures it, retain_grad() keeps it and the VJP reads it (its gradient is total
//      by then: every consumer sits later on the tape and has run);
//   2. a leaf, in backward(): LeafHookPass holds back the gradients of leaves that have hooks,
//      then, once the walk is past the last record that feeds the leaf, runs its grad hooks on
//      the pass's total, adds the result to .grad() and runs its post-accumulate hooks;
//   3. a leaf, in grad(): its grad hooks run on the total grad() returns for it.
#pragma once

#include "tape.hpp"

#include <atomic>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace matgrad::detail {

// How many hooks are registered on leaves, over all threads: while none is, backward() plans
// nothing for them.
extern std::atomic<std::size_t> leaf_hook_count;

// A tensor's hooks: a leaf's on its TensorImpl, a non-leaf's on the record that computed it.
struct HookList {
  explicit HookList(bool leaf)
      : grad_hooks(leaf ? &leaf_hook_count : nullptr),
        post_accumulate_hooks(leaf ? &leaf_hook_count : nullptr) {}
  Hooks<GradHook> grad_hooks;
  Hooks<PostAccumulateGradHook> post_accumulate_hooks;
  bool empty() const { return grad_hooks.empty() && post_accumulate_hooks.empty(); }
};

// Runs the grad hooks in registration order on g; returns g or what they replaced it with.
// `node` (null for a leaf) is named in the error raised when a hook changes the shape or dtype.
Tensor run_grad_hooks(const HookList* hooks, Tensor g, const Node* node = nullptr);

inline bool has_hooks(const HookList* hooks) { return hooks && !hooks->empty(); }

// One backward() pass's hooked leaves. A leaf's gradient is final once the walk, which visits
// records in decreasing tape order, is below the last (lowest) record that has an edge into it
// among the records the walk can reach from the roots; the constructor finds that record for
// every hooked leaf with one reverse scan of the reachable records (the walk's own rule, from
// the same roots). A record the walk reaches but whose VJP gives the leaf nothing only delays
// the leaf's turn to that record, never past the end of the pass.
class LeafHookPass {
 public:
  LeafHookPass() = default;  // holds nothing back (grad())
  // The roots of backward() with their seeds: records (top is the highest) and leaves.
  LeafHookPass(const Tape& tape, std::span<const std::pair<Node*, Tensor>> roots,
               std::span<const std::pair<std::shared_ptr<TensorImpl>, Tensor>> root_leaves,
               std::size_t top);

  // Where the walk adds up a hooked leaf's gradients in this pass; nullptr for other leaves.
  Tensor* held_total(const TensorImpl* leaf) {
    if (leaves_.empty()) return nullptr;
    const auto it = index_of_.find(leaf);
    return it == index_of_.end() ? nullptr : &leaves_[it->second].total;
  }

  // Finishes every leaf that no record at or below `index` feeds: grad hooks on the total,
  // add_to_grad(leaf, total), post-accumulate hooks. finish_all() finishes the rest.
  template <class AddToGrad>
  void finish_above(std::size_t index, AddToGrad&& add_to_grad) {
    while (next_ < order_.size() && leaves_[order_[next_]].final_below > index) {
      finish(leaves_[order_[next_++]], add_to_grad);
    }
  }
  template <class AddToGrad>
  void finish_all(AddToGrad&& add_to_grad) {
    while (next_ < order_.size()) finish(leaves_[order_[next_++]], add_to_grad);
  }

 private:
  struct Leaf {
    std::shared_ptr<TensorImpl> impl;
    // The lowest record that feeds it: its gradient is final once the walk is below. top + 1
    // for a root that no record feeds.
    std::size_t final_below = 0;
    Tensor total;
  };
  template <class AddToGrad>
  void finish(Leaf& leaf, AddToGrad& add_to_grad) {
    if (!leaf.total.defined()) return;  // no gradient reached it in this pass
    const std::shared_ptr<HookList> hooks = leaf.impl->hooks;  // a hook may drop the leaf's list
    Tensor g = run_grad_hooks(hooks.get(), std::move(leaf.total));
    add_to_grad(leaf.impl, std::move(g));
    if (!hooks) return;
    const Tensor tensor(leaf.impl);
    for (const auto& hook : hooks->post_accumulate_hooks.snapshot()) hook(tensor);
  }

  std::vector<Leaf> leaves_;
  std::unordered_map<const TensorImpl*, std::size_t> index_of_;
  std::vector<std::size_t> order_;  // leaves_ by decreasing final_below
  std::size_t next_ = 0;
};

}  // namespace matgrad::detail
