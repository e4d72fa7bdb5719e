// Gradient hooks: registering and removing them, running them, and planning when a hooked
// leaf's gradient is final in a backward pass (hooks.hpp).
#include "hooks.hpp"

#include <algorithm>
#include <unordered_set>

namespace matgrad {

using detail::HookList;

namespace detail {

std::atomic<std::size_t> leaf_hook_count{0};

Tensor run_grad_hooks(const HookList* hooks, Tensor g, const Node* node) {
  if (!hooks || hooks->grad_hooks.empty()) return g;
  for (const auto& hook : hooks->grad_hooks.snapshot()) {
    Tensor replaced = hook(g);
    if (!replaced.defined()) continue;
    if (replaced.shape() != g.shape() || replaced.dtype() != g.dtype()) {
      const std::string where =
          node ? fmt::format("the output of '{}' recorded at {}:{}", node->op->name,
                             node->where.file, node->where.line)
               : std::string("a leaf");
      fail<ShapeError>(
          "register_hook: a hook on {} returned a {} gradient of shape {} for a {} gradient of "
          "shape {}; a hook may change the values of a gradient, not its shape or dtype",
          where, dtype_name(replaced.dtype()), to_string(replaced.shape()), dtype_name(g.dtype()),
          to_string(g.shape()));
    }
    g = std::move(replaced);
  }
  return g;
}

void run_post_accumulate_hooks(const HookList* hooks, const Tensor& leaf) {
  if (!hooks) return;
  for (const auto& hook : hooks->post_accumulate_hooks.snapshot()) hook(leaf);
}

void HeldLeaves::plan(const std::vector<Tensor>& outputs) {
  auto add = [&](const std::shared_ptr<TensorImpl>& leaf, std::uint64_t final_below) {
    if (!leaf->hooks || leaf->hooks->empty()) return;
    const auto [it, inserted] = index_of_.try_emplace(leaf.get(), leaves_.size());
    if (inserted) {
      leaves_.push_back({leaf, final_below, {}});
    } else {
      leaves_[it->second].final_below = std::min(leaves_[it->second].final_below, final_below);
    }
  };
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack;
  for (const Tensor& output : outputs) {
    const std::shared_ptr<TensorImpl>& root = output.impl();
    if (!root->node) {
      add(root, UINT64_MAX);
    } else if (seen.insert(root->node).second) {
      stack.push_back(root->node);
    }
  }
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    for (const Edge& e : node->inputs) {
      if (e.leaf) {
        add(e.input, node->sequence);
      } else if (e.producer && seen.insert(e.producer).second) {
        stack.push_back(e.producer);
      }
    }
  }
  order_.resize(leaves_.size());
  for (std::size_t k = 0; k < order_.size(); ++k) order_[k] = k;
  std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
    return leaves_[a].final_below > leaves_[b].final_below;
  });
}

// The list a tensor's hooks go in: a leaf's own, or the record's that computed it.
static std::shared_ptr<HookList>& hook_list(const Tensor& t, std::string_view what) {
  if (!t.defined()) fail<Error>("{}: the tensor is undefined (default-constructed)", what);
  if (!t.requires_grad()) {
    fail<AutogradError>("{}: cannot register a hook on a tensor that does not require grad",
                        what);
  }
  TensorImpl& impl = *t.impl();
  if (!impl.hooks) impl.hooks = std::make_shared<HookList>(impl.node == nullptr);
  if (impl.node) impl.node->hooked = true;
  return impl.hooks;
}

// Adds fn to one of the list's registries; the handle shares the list's ownership.
template <class Fn>
static RemovableHandle add_hook(const std::shared_ptr<HookList>& list, Hooks<Fn> HookList::*hooks,
                                Fn fn, std::string_view what) {
  if (!fn) fail<ValueError>("{}: the hook is empty", what);
  Hooks<Fn>& registry = (*list).*hooks;
  const std::uint64_t id = registry.add(std::move(fn));
  return RemovableHandle(std::shared_ptr<HookRegistry>(list, &registry), id);
}

}  // namespace detail

RemovableHandle Tensor::register_hook(GradHook hook) const {
  return detail::add_hook(detail::hook_list(*this, "register_hook"), &HookList::grad_hooks,
                          std::move(hook), "register_hook");
}

RemovableHandle Tensor::register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const {
  constexpr std::string_view what = "register_post_accumulate_grad_hook";
  if (defined() && impl()->node) {
    fail<AutogradError>(
        "{}: post accumulate grad hooks cannot be registered on non-leaf tensors (this one was "
        "computed by '{}'); use register_hook to see its gradient",
        what, impl()->node->op->name);
  }
  return detail::add_hook(detail::hook_list(*this, what), &HookList::post_accumulate_hooks,
                          std::move(hook), what);
}

}  // namespace matgrad
