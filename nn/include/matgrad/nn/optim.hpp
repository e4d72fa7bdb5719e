// Optimisers (torch.optim): SGD, Adam, AdamW, RMSprop and Adagrad with PyTorch's update
// formulas, one parameter group. Updates run under NoGradGuard and write through Tensor::mutable_data; parameters
// whose grad() is undefined are skipped, as in PyTorch.
#pragma once

#include "matgrad/nn/module.hpp"
#include "matgrad/tensor.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace matgrad::optim {

using nn::NamedTensors;

// The one interface the schedules and checkpoints need; SGD, Adam and AdamW implement it.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  // hook(optimizer) runs at the start of every step(), in registration order (torch's
  // register_step_pre_hook): e.g. a data-parallel wrapper averaging the gradients first.
  using StepPreHook = std::function<void(Optimizer&)>;
  RemovableHandle register_step_pre_hook(StepPreHook hook);

  double lr() const { return lr_; }
  void set_lr(double lr);
  // The momentum a one-cycle schedule cycles: SGD's momentum, Adam's β1.
  virtual double momentum() const = 0;
  virtual void set_momentum(double momentum) = 0;

  const std::vector<Tensor>& params() const { return params_; }
  virtual std::string name() const = 0;

  // Step counts and buffers ("state.<i>.<key>", i the parameter's index) plus the
  // hyperparameters a schedule changes ("lr", "momentum"); enough to resume training exactly.
  virtual NamedTensors state_dict() const = 0;
  // Checks every entry (names, shapes, dtypes) before changing anything; errors name the
  // entry at fault and `source` (e.g. the checkpoint's path).
  virtual void load_state_dict(const NamedTensors& state, const std::string& source = "state") = 0;

 protected:
  Optimizer(std::string_view name, std::vector<Tensor> params, double lr);
  void run_step_pre_hooks();  // first thing in every step()
  std::vector<Tensor> params_;
  double lr_;

 private:
  std::shared_ptr<matgrad::detail::Hooks<StepPreHook>> step_pre_hooks_ =
      std::make_shared<matgrad::detail::Hooks<StepPreHook>>();
};

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;
};

// g ← ∇ + λθ;  b ← μ b + (1 − τ) g (b₁ = g);  g ← g + μ b (Nesterov) or b;  θ ← θ − γ g
class SGD final : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  void step() override;
  double momentum() const override { return options_.momentum; }
  void set_momentum(double momentum) override;
  std::string name() const override { return "SGD"; }
  NamedTensors state_dict() const override;
  void load_state_dict(const NamedTensors& state, const std::string& source = "state") override;
  const SGDOptions& options() const { return options_; }

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_buffer_;  // undefined until a parameter's first step
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // Adam: L2 added to the gradient; AdamW: decoupled
  bool amsgrad = false;
  bool maximize = false;
};

// Adam (Kingma & Ba) as torch.optim.Adam, step t:
//   g ← ∇ + λθ;  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;  (amsgrad: v̂ ← max(v̂, v))
//   θ ← θ − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
// AdamW (Loshchilov & Hutter) as torch.optim.AdamW: θ ← θ(1 − γλ) first, and no L2 term.
class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  void step() final;
  double momentum() const final { return options_.beta1; }
  void set_momentum(double beta1) final;
  std::string name() const final { return decoupled_ ? "AdamW" : "Adam"; }
  NamedTensors state_dict() const final;
  void load_state_dict(const NamedTensors& state, const std::string& source = "state") final;
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled);

 private:
  AdamOptions options_;
  bool decoupled_;
  std::vector<std::uint64_t> steps_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_, max_exp_avg_sq_;
};

// AdamOptions with PyTorch's AdamW default weight decay.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

class AdamW final : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;
};

// RMSprop as torch.optim.RMSprop (optim_adaptive.cpp):
//   g ← ∇ + λθ;  v ← αv + (1 − α)g²;  centered: ḡ ← αḡ + (1 − α)g, ṽ = v − ḡ², else ṽ = v
//   μ > 0: b ← μb + g / (√ṽ + ε), θ ← θ − γb;  else θ ← θ − γ g / (√ṽ + ε)
class RMSprop final : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  void step() override;
  double momentum() const override { return options_.momentum; }
  void set_momentum(double momentum) override;
  std::string name() const override { return "RMSprop"; }
  NamedTensors state_dict() const override;
  void load_state_dict(const NamedTensors& state, const std::string& source = "state") override;
  const RMSpropOptions& options() const { return options_; }

 private:
  RMSpropOptions options_;
  std::vector<std::uint64_t> steps_;
  std::vector<Tensor> square_avg_, grad_avg_, momentum_buffer_;
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  bool maximize = false;
};

// Adagrad as torch.optim.Adagrad, step t (optim_adaptive.cpp):
//   γₜ = γ / (1 + (t − 1) η);  g ← ∇ + λθ;  s ← s + g²  (s₀ = initial_accumulator_value)
//   θ ← θ − γₜ g / (√s + ε)
// It has no momentum: momentum() is 0 and set_momentum raises a ValueError.
class Adagrad final : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
  void step() override;
  double momentum() const override { return 0; }
  void set_momentum(double momentum) override;
  std::string name() const override { return "Adagrad"; }
  NamedTensors state_dict() const override;
  void load_state_dict(const NamedTensors& state, const std::string& source = "state") override;
  const AdagradOptions& options() const { return options_; }

 private:
  AdagradOptions options_;
  std::vector<std::uint64_t> steps_;
  std::vector<Tensor> sum_;
};

}  // namespace matgrad::optim
