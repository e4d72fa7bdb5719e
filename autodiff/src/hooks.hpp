// Gradient hooks inside the engine: where they are stored and the three points at which the
// walk (walk.cpp) calls them (matgrad/hooks.hpp states the contract). Private to the engine.
//
//   1. a record's output: when the walk pops the record, its gradient is total (every consumer
//      has a larger sequence number and has run), so the output's grad hooks run on it there,
//      before grad() captures it, retain_grad() keeps it and the VJP reads it;
//   2. a leaf, in backward(): HeldLeaves holds back the gradients of leaves that have hooks
//      and sums them; once the walk is below the last record that feeds a leaf, its grad hooks
//      run on the total, the result goes into .grad() and its post-accumulate hooks run;
//   3. a leaf, in grad(): its grad hooks run on the total grad() returns for it.
// Without hooks this costs the walk a flag test per record (Node::hooked) and, per backward,
// one load of leaf_hook_count.
#pragma once

#include "tape.hpp"

#include <atomic>
#include <unordered_map>
#include <vector>

namespace matgrad::detail {

// How many hooks are registered on leaves, over all threads: while none is, backward() plans
// nothing for them.
extern std::atomic<std::size_t> leaf_hook_count;

// A tensor's hooks, on its TensorImpl: a leaf's own, or the output's of the record that
// computed a non-leaf (the record owns that TensorImpl, so the hooks live as long as it).
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
void run_post_accumulate_hooks(const HookList* hooks, const Tensor& leaf);

// One backward() pass's leaves that have hooks. The walk pops records in decreasing sequence
// order, so a leaf's gradient is final once the walk is below the lowest-numbered record that
// feeds it among those it can reach from the roots; plan() finds that number for every hooked
// leaf in one depth-first pass over the reachable records (an explicit stack). A record the
// walk can reach but never runs (no gradient arrives) only delays the leaf to that record's
// turn, never past the end of the pass.
class HeldLeaves {
 public:
  struct Leaf {
    std::shared_ptr<TensorImpl> impl;
    std::uint64_t final_below;  // the lowest feeder's sequence; UINT64_MAX if none (a root)
    Tensor total;               // the gradients of this pass, summed
  };

  void plan(const std::vector<Tensor>& outputs);
  bool empty() const { return leaves_.empty(); }

  // Where the walk sums a hooked leaf's gradients; nullptr for other leaves.
  Tensor* total(const TensorImpl* leaf) {
    const auto it = index_of_.find(leaf);
    return it == index_of_.end() ? nullptr : &leaves_[it->second].total;
  }
  // The next leaf that no record numbered `sequence` or lower feeds, or nullptr: before the
  // walk runs that record, and with 0 at the end of the walk.
  Leaf* next_final(std::uint64_t sequence) {
    if (next_ == order_.size() || leaves_[order_[next_]].final_below <= sequence) return nullptr;
    return &leaves_[order_[next_++]];
  }

 private:
  std::vector<Leaf> leaves_;
  std::unordered_map<const TensorImpl*, std::size_t> index_of_;
  std::vector<std::size_t> order_;  // leaves_ by decreasing final_below
  std::size_t next_ = 0;
};

}  // namespace matgrad::detail
