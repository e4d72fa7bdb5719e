#include "matgrad/nn/lr_scheduler.hpp"

#include <cmath>
#include <numbers>

namespace matgrad::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer), base_lr_(optimizer.lr()) {}

void LRScheduler::apply() {
  const double lr = lr_at(last_epoch_);
  const std::optional<double> momentum = momentum_at(last_epoch_);
  optimizer_.set_lr(lr);
  if (momentum) optimizer_.set_momentum(*momentum);
  last_lr_ = lr;
}

void LRScheduler::step() {
  ++last_epoch_;
  try {
    apply();
  } catch (...) {
    --last_epoch_;
    throw;
  }
}

// ---- StepLR ----

StepLR::StepLR(Optimizer& optimizer, std::size_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size == 0) fail<ValueError>("StepLR: step_size must be positive");
  if (!(gamma >= 0) || !std::isfinite(gamma)) fail<ValueError>("StepLR: invalid gamma {}", gamma);
  apply();
}

double StepLR::lr_at(std::size_t step) const {
  return base_lr_ * std::pow(gamma_, static_cast<double>(step / step_size_));
}

// ---- CosineAnnealingLR ----

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::size_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  if (T_max == 0) fail<ValueError>("CosineAnnealingLR: T_max must be positive");
  if (!(eta_min >= 0) || !std::isfinite(eta_min)) {
    fail<ValueError>("CosineAnnealingLR: invalid eta_min {}", eta_min);
  }
  apply();
}

double CosineAnnealingLR::lr_at(std::size_t step) const {
  const double t = static_cast<double>(step) / static_cast<double>(T_max_);
  return eta_min_ + (base_lr_ - eta_min_) * (1 + std::cos(std::numbers::pi * t)) / 2;
}

// ---- OneCycleLR ----

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, std::size_t total_steps,
                       OneCycleOptions o)
    : LRScheduler(optimizer), total_steps_(total_steps), options_(o) {
  if (total_steps == 0) fail<ValueError>("OneCycleLR: total_steps must be positive");
  if (!(o.pct_start >= 0 && o.pct_start <= 1)) {
    fail<ValueError>("OneCycleLR: expected pct_start in [0, 1], got {}", o.pct_start);
  }
  if (!(max_lr > 0) || !std::isfinite(max_lr) || !(o.div_factor > 0) || !(o.final_div_factor > 0)) {
    fail<ValueError>("OneCycleLR: max_lr {}, div_factor {} and final_div_factor {} must be positive",
                     max_lr, o.div_factor, o.final_div_factor);
  }
  const double initial_lr = max_lr / o.div_factor;
  const double min_lr = initial_lr / o.final_div_factor;
  const double total = static_cast<double>(total_steps);
  const double warmup_end = o.pct_start * total - 1;
  if (o.three_phase) {
    phases_ = {{warmup_end, initial_lr, max_lr, o.max_momentum, o.base_momentum},
               {2 * o.pct_start * total - 2, max_lr, initial_lr, o.base_momentum, o.max_momentum},
               {total - 1, initial_lr, min_lr, o.max_momentum, o.max_momentum}};
  } else {
    phases_ = {{warmup_end, initial_lr, max_lr, o.max_momentum, o.base_momentum},
               {total - 1, max_lr, min_lr, o.base_momentum, o.max_momentum}};
  }
  base_lr_ = initial_lr;
  apply();
}

std::pair<const OneCycleLR::Phase*, double> OneCycleLR::phase_at(std::size_t step) const {
  if (step > total_steps_) {
    fail<ValueError>("OneCycleLR: tried to step {} times; the schedule has total_steps = {}", step,
                     total_steps_);
  }
  const double s = static_cast<double>(step);
  double start = 0;
  for (std::size_t i = 0; i < phases_.size(); ++i) {
    const Phase& phase = phases_[i];
    if (s <= phase.end_step || i + 1 == phases_.size()) {
      if (phase.end_step == start) {
        fail<ValueError>("OneCycleLR: phase {} of the schedule has no steps (total_steps {}, "
                         "pct_start {}); use more steps or another pct_start",
                         i, total_steps_, options_.pct_start);
      }
      return {&phase, (s - start) / (phase.end_step - start)};
    }
    start = phase.end_step;
  }
  fail<Error>("OneCycleLR: internal error: no phase for step {}", step);
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (options_.cos_anneal) return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
  return (end - start) * pct + start;
}

double OneCycleLR::lr_at(std::size_t step) const {
  const auto [phase, pct] = phase_at(step);
  return anneal(phase->start_lr, phase->end_lr, pct);
}

std::optional<double> OneCycleLR::momentum_at(std::size_t step) const {
  if (!options_.cycle_momentum) return std::nullopt;
  const auto [phase, pct] = phase_at(step);
  return anneal(phase->start_momentum, phase->end_momentum, pct);
}

}  // namespace matgrad::optim
