// Learning-rate schedules (torch.optim.lr_scheduler), in closed form. Construction sets the
// optimiser's lr for step 0; call step() once after each optimizer.step() (one-cycle) or once
// per epoch (step decay, cosine), as in PyTorch.
#pragma once

#include "matgrad/nn/optim.hpp"

#include <cstddef>
#include <optional>

namespace matgrad::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  void step();  // advances last_epoch and sets the optimiser's lr (and momentum) for it
  double get_last_lr() const { return last_lr_; }
  std::size_t last_epoch() const { return last_epoch_; }
  // The lr at a given step, without changing anything.
  virtual double lr_at(std::size_t step) const = 0;
  virtual std::optional<double> momentum_at(std::size_t) const { return std::nullopt; }

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  void apply();  // derived constructors call it once they are fully built
  Optimizer& optimizer_;
  double base_lr_;
  std::size_t last_epoch_ = 0;
  double last_lr_ = 0;
};

// lr = base_lr · γ^⌊epoch / step_size⌋
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::size_t step_size, double gamma = 0.1);
  double lr_at(std::size_t step) const override;

 private:
  std::size_t step_size_;
  double gamma_;
};

// lr = η_min + (base_lr − η_min) · (1 + cos(π · epoch / T_max)) / 2
class CosineAnnealingLR final : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::size_t T_max, double eta_min = 0);
  double lr_at(std::size_t step) const override;

 private:
  std::size_t T_max_;
  double eta_min_;
};

struct OneCycleOptions {
  double pct_start = 0.3;
  bool cos_anneal = true;  // false: linear annealing
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25;
  double final_div_factor = 1e4;
  bool three_phase = false;
};

// Smith & Topin's one-cycle policy as torch.optim.lr_scheduler.OneCycleLR: lr rises from
// max_lr / div_factor to max_lr over the first pct_start of total_steps, then anneals to
// max_lr / (div_factor · final_div_factor); momentum (Adam's β1) moves the opposite way
// between max_momentum and base_momentum. Stepping past total_steps is an error.
class OneCycleLR final : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, double max_lr, std::size_t total_steps,
             OneCycleOptions options = {});
  double lr_at(std::size_t step) const override;
  std::optional<double> momentum_at(std::size_t step) const override;

 private:
  struct Phase {
    double end_step, start_lr, end_lr, start_momentum, end_momentum;
  };
  std::pair<const Phase*, double> phase_at(std::size_t step) const;  // the phase and pct
  double anneal(double start, double end, double pct) const;
  std::size_t total_steps_;
  OneCycleOptions options_;
  std::vector<Phase> phases_;
};

}  // namespace matgrad::optim
