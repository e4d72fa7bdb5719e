// The Module concept: anything with forward(), named_parameters(), train()/eval() and
// zero_grad() is a module. Layers are plain structs that satisfy it through the ModuleBase
// mix-in (static dispatch); AnyModule erases the type where a container needs one element type.
#pragma once

#include "matgrad/autograd.hpp"
#include "matgrad/tensor.hpp"

#include <concepts>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace matgrad::nn {

// Parameters in a stable order, named as in PyTorch's state_dict ("0.weight", "2.bias").
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

template <class M>
concept Module = requires(M& m, const M& cm, const Tensor& x, bool mode) {
  { m.forward(x) } -> std::same_as<Tensor>;
  { cm.named_parameters() } -> std::same_as<NamedTensors>;
  { cm.parameters() } -> std::same_as<std::vector<Tensor>>;
  m.train(mode);
  m.eval();
  { cm.is_training() } -> std::same_as<bool>;
  m.zero_grad();
};

namespace detail {
// Drops repeated tensors (a module used twice), keeping the first name, as PyTorch does.
NamedTensors unique_parameters(NamedTensors named);
}  // namespace detail

template <class M>
void append_parameters(NamedTensors& out, const std::string& prefix, const M& child);
template <class M>
void append_buffers(NamedTensors& out, const std::string& prefix, const M& child);

// A module's parameters, then its buffers (when it has any): what checkpoints save and load.
template <class M>
NamedTensors state_dict(const M& module) {
  NamedTensors out = module.named_parameters();
  if constexpr (requires { { module.named_buffers() } -> std::same_as<NamedTensors>; }) {
    for (auto& entry : module.named_buffers()) out.push_back(std::move(entry));
  }
  return out;
}

// What every layer shares, written once. A module lists its parameters and child modules once,
// in its constructor, by member pointer (so the list survives copies and moves):
//   struct Net : nn::ModuleBase<Net> {
//     nn::Linear fc1, fc2;
//     Tensor scale;
//     Net(Generator& gen) : fc1(4, 8, gen), fc2(8, 1, gen), scale(ones({1}, {.requires_grad = true})) {
//       register_module("fc1", &Net::fc1);
//       register_module("fc2", &Net::fc2);
//       register_parameter("scale", &Net::scale);
//     }
//     Tensor forward(const Tensor& x) { return fc2(relu(fc1(x))) * scale; }
//   };
// named_parameters(), parameters(), zero_grad() and train()/eval() then cover them, in the
// order registered; an optimiser given no parameters at all refuses to start.
template <class Derived>
class ModuleBase {
 public:
  Tensor operator()(const Tensor& x) { return self().forward(x); }

  NamedTensors named_parameters() const {
    NamedTensors out;
    for (const Entry& e : registered_) {
      if (e.append) e.append(cself(), e.name, out);
    }
    return detail::unique_parameters(std::move(out));
  }
  // Buffers: state saved with the parameters but not trained (BatchNorm1d's running
  // statistics), named as parameters are; checkpoints hold both (state_dict).
  NamedTensors named_buffers() const {
    NamedTensors out;
    for (const Entry& e : registered_) {
      if (e.buffers) e.buffers(cself(), e.name, out);
    }
    return out;
  }
  std::vector<Tensor> parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, p] : detail::unique_parameters(cself().named_parameters())) {
      out.push_back(p);
    }
    return out;
  }
  void train(bool mode = true) {
    training_ = mode;
    for (const Entry& e : registered_) {
      if (e.train) e.train(self(), mode);
    }
  }
  void eval() { self().train(false); }
  bool is_training() const { return training_; }
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad() {
    for (Tensor& p : parameters()) p.zero_grad();
  }

 protected:
  // A parameter: a member Tensor (listed while it is defined, so an optional bias may stay
  // undefined).
  void register_parameter(const std::string& name, Tensor Derived::*member) {
    add({name,
         [member](const Derived& m, const std::string& n, NamedTensors& out) {
           if ((m.*member).defined()) out.emplace_back(n, m.*member);
         },
         nullptr, nullptr});
  }
  // A buffer: a member Tensor that is saved but not trained (listed while it is defined).
  void register_buffer(const std::string& name, Tensor Derived::*member) {
    add({name, nullptr, nullptr, [member](const Derived& m, const std::string& n, NamedTensors& out) {
           if ((m.*member).defined()) out.emplace_back(n, m.*member);
         }});
  }
  // A child module: its parameters named "<name>.<its name>", its train mode following ours.
  template <class M>
  void register_module(const std::string& name, M Derived::*member) {
    add({name,
         [member](const Derived& m, const std::string& n, NamedTensors& out) {
           append_parameters(out, n, m.*member);
         },
         [member](Derived& m, bool mode) { (m.*member).train(mode); },
         [member](const Derived& m, const std::string& n, NamedTensors& out) {
           append_buffers(out, n, m.*member);
         }});
  }

  bool training_ = true;

 private:
  struct Entry {
    std::string name;
    std::function<void(const Derived&, const std::string&, NamedTensors&)> append;
    std::function<void(Derived&, bool)> train;
    std::function<void(const Derived&, const std::string&, NamedTensors&)> buffers;
  };
  void add(Entry entry) {
    for (const Entry& e : registered_) {
      if (e.name == entry.name) {
        fail<ValueError>("register: a parameter or module named '{}' is already registered",
                         entry.name);
      }
    }
    registered_.push_back(std::move(entry));
  }
  Derived& self() { return static_cast<Derived&>(*this); }
  const Derived& cself() const { return static_cast<const Derived&>(*this); }
  std::vector<Entry> registered_;
};

// A module of any type behind one handle. Copies share the module, like Tensor handles share
// data, so a layer inside a Sequential can still be reached and trained from outside.
class AnyModule : public ModuleBase<AnyModule> {
 public:
  template <class M>
    requires(!std::same_as<std::decay_t<M>, AnyModule> && Module<M>)
  AnyModule(M module)  // NOLINT: implicit, so Sequential{Linear(...), ReLU()} reads naturally
      : impl_(std::make_shared<Model<M>>(std::move(module))) {}

  Tensor forward(const Tensor& x) { return impl_->forward(x); }
  NamedTensors named_parameters() const { return impl_->named_parameters(); }
  NamedTensors named_buffers() const { return impl_->named_buffers(); }
  void train(bool mode = true) { impl_->train(mode); }
  bool is_training() const { return impl_->is_training(); }
  std::string repr() const { return impl_->repr(); }

  // The module as its concrete type, or nullptr when it is another type.
  template <Module M>
  M* get() {
    auto* model = dynamic_cast<Model<M>*>(impl_.get());
    return model ? &model->module : nullptr;
  }
  template <Module M>
  const M* get() const {
    const auto* model = dynamic_cast<const Model<M>*>(impl_.get());
    return model ? &model->module : nullptr;
  }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual Tensor forward(const Tensor& x) = 0;
    virtual NamedTensors named_parameters() const = 0;
    virtual NamedTensors named_buffers() const = 0;
    virtual void train(bool mode) = 0;
    virtual bool is_training() const = 0;
    virtual std::string repr() const = 0;
  };
  template <class M>
  struct Model final : Concept {
    explicit Model(M m) : module(std::move(m)) {}
    Tensor forward(const Tensor& x) override { return module.forward(x); }
    NamedTensors named_parameters() const override { return module.named_parameters(); }
    NamedTensors named_buffers() const override {
      if constexpr (requires { { module.named_buffers() } -> std::same_as<NamedTensors>; }) {
        return module.named_buffers();
      } else {
        return {};
      }
    }
    void train(bool mode) override { module.train(mode); }
    bool is_training() const override { return module.is_training(); }
    std::string repr() const override {
      if constexpr (requires { { module.repr() } -> std::convertible_to<std::string>; }) {
        return module.repr();
      } else {
        return "Module";
      }
    }
    M module;
  };
  std::shared_ptr<Concept> impl_;
};

// Appends a child's parameters under "prefix.".
template <class M>
void append_parameters(NamedTensors& out, const std::string& prefix, const M& child) {
  for (auto& [name, p] : child.named_parameters()) out.emplace_back(prefix + "." + name, p);
}

// Appends a child's buffers (if it has any) under "prefix.".
template <class M>
void append_buffers(NamedTensors& out, const std::string& prefix, const M& child) {
  if constexpr (requires { { child.named_buffers() } -> std::same_as<NamedTensors>; }) {
    for (auto& [name, b] : child.named_buffers()) out.emplace_back(prefix + "." + name, b);
  }
}

}  // namespace matgrad::nn
