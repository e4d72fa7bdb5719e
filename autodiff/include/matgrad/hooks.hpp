// Gradient hooks, as in PyTorch: Tensor::register_hook and
// Tensor::register_post_accumulate_grad_hook (declared on Tensor) return a RemovableHandle.
//
//   Tensor y = x * w;
//   RemovableHandle h = y.register_hook([](const Tensor& g) { return clamp(g, -1, 1); });
//   w.register_post_accumulate_grad_hook([](const Tensor& w) { fmt::print("{}\n", w.grad()); });
//
// The contract (tests/test_hooks.cpp states each point):
// - register_hook(fn), on a leaf or a non-leaf that requires grad: fn sees the gradient flowing
//   into the tensor, the total over all its uses, once per backward or grad() pass that
//   reaches it. Returning a defined tensor (same shape and dtype) replaces that gradient:
//   what flows on into the tensor's inputs, what a leaf's .grad() accumulates, what
//   retain_grad() keeps and what grad() returns for it. Returning an undefined Tensor (or
//   nothing: a void callable is accepted) leaves it unchanged. Several hooks run in the order
//   they were registered, each on the previous one's result.
// - On a leaf the hook runs on the pass's total before it is added to .grad(); under grad()
//   it runs when the leaf is one of grad()'s inputs (and .grad() stays untouched). A hook on a
//   non-leaf stays with the record that computed the tensor: it runs even when the tensor
//   itself is gone. With create_graph the gradient it sees is part of the graph, and so is
//   whatever it computes from it.
// - register_post_accumulate_grad_hook(fn), on leaves only: fn(tensor) runs once per
//   backward() that reaches the leaf, as soon as its .grad() is final for that pass: right
//   after the last record of this backward that feeds the leaf has run, before the rest of
//   the walk (data-parallel training starts its all-reduces there). It does not run for
//   grad(), which leaves .grad() alone.
// - RemovableHandle::remove() takes the hook out; it is idempotent and harmless once the
//   tensor is gone. A hook may remove itself (or others) while it runs: the pass in progress
//   still runs the hooks it started with.
// Hooks are registered and removed from the thread that runs the backward passes using them.
//
// detail::Hooks is the small registry behind a handle, also used for optimiser step hooks.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace matgrad {

class Tensor;

// fn(grad) returns the gradient to use instead, or an undefined Tensor to keep it.
using GradHook = std::function<Tensor(const Tensor& grad)>;
// fn(tensor): the leaf itself, whose .grad() is final for this backward.
using PostAccumulateGradHook = std::function<void(const Tensor& tensor)>;

namespace detail {

// What a RemovableHandle takes its hook out of.
struct HookRegistry {
  virtual ~HookRegistry() = default;
  virtual void remove(std::uint64_t id) = 0;
  virtual bool contains(std::uint64_t id) const = 0;
};

// Hooks of one kind in registration order. `count`, when set, follows how many there are
// (the engine's count of hooks on leaves).
template <class Fn>
class Hooks final : public HookRegistry {
 public:
  explicit Hooks(std::atomic<std::size_t>* count = nullptr) : count_(count) {}
  Hooks(const Hooks&) = delete;
  Hooks& operator=(const Hooks&) = delete;
  ~Hooks() override {
    if (count_) *count_ -= entries_.size();
  }

  std::uint64_t add(Fn fn) {
    entries_.emplace_back(next_id_, std::move(fn));
    if (count_) ++*count_;
    return next_id_++;
  }
  void remove(std::uint64_t id) override {
    const auto it = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const auto& entry) { return entry.first == id; });
    if (it == entries_.end()) return;
    entries_.erase(it);
    if (count_) --*count_;
  }
  bool contains(std::uint64_t id) const override {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const auto& entry) { return entry.first == id; });
  }
  bool empty() const { return entries_.empty(); }
  // A copy to run from: a hook may remove itself, or add others, while it runs.
  std::vector<Fn> snapshot() const {
    std::vector<Fn> out;
    out.reserve(entries_.size());
    for (const auto& entry : entries_) out.push_back(entry.second);
    return out;
  }

 private:
  std::atomic<std::size_t>* count_;
  std::vector<std::pair<std::uint64_t, Fn>> entries_;
  std::uint64_t next_id_ = 1;
};

}  // namespace detail

// Takes out the hook it was returned for (torch.utils.hooks.RemovableHandle). Copies refer to
// the same hook; destroying a handle leaves the hook in place.
class RemovableHandle {
 public:
  RemovableHandle() = default;
  RemovableHandle(std::weak_ptr<detail::HookRegistry> registry, std::uint64_t id)
      : registry_(std::move(registry)), id_(id) {}
  // Idempotent; harmless once the hook's owner (tensor, record, optimiser) is gone.
  void remove() {
    if (const auto registry = registry_.lock()) registry->remove(id_);
    registry_.reset();
  }
  // Whether the hook is still registered.
  bool active() const {
    const auto registry = registry_.lock();
    return registry && registry->contains(id_);
  }

 private:
  std::weak_ptr<detail::HookRegistry> registry_;
  std::uint64_t id_ = 0;
};

}  // namespace matgrad
