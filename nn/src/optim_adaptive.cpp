// RMSprop and Adagrad, as torch.optim's single-tensor implementations: each line of an update
// is one of PyTorch's tensor ops on T, in its order, so the roundings are the same ones.
#include "matgrad/autograd.hpp"
#include "matgrad/nn/optim.hpp"
#include "optim_state.hpp"

#include <fmt/format.h>

#include <cmath>

namespace matgrad::optim {

using detail::check_buffer;
using detail::check_hyper;
using detail::copy_of;
using detail::scalar;

using detail::read_step;

// ---- RMSprop ----

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : Optimizer("RMSprop", std::move(params), options.lr), options_(options) {
  check_hyper("RMSprop", "alpha", options.alpha, 0, HUGE_VAL);
  check_hyper("RMSprop", "eps", options.eps, 0, HUGE_VAL);
  check_hyper("RMSprop", "weight_decay", options.weight_decay, 0, HUGE_VAL);
  check_hyper("RMSprop", "momentum", options.momentum, 0, HUGE_VAL);
  steps_.assign(params_.size(), 0);
  square_avg_.resize(params_.size());
  grad_avg_.resize(params_.size());
  momentum_buffer_.resize(params_.size());
}

void RMSprop::set_momentum(double momentum) {
  check_hyper("RMSprop", "momentum", momentum, 0, HUGE_VAL);
  if ((momentum > 0) != (options_.momentum > 0)) {
    fail<ValueError>("RMSprop: set_momentum from {} to {}: momentum can change but not turn on or off "
                     "(the momentum buffer exists only with a momentum > 0)",
                     options_.momentum, momentum);
  }
  options_.momentum = momentum;
}

template <class T>
static void rmsprop_update(T* w, const T* grad, T* v, T* g_avg, T* buf, std::size_t n, const RMSpropOptions& o,
                           double lr) {
  const T sign = o.maximize ? T(-1) : T(1), wd = static_cast<T>(o.weight_decay);
  const T alpha = static_cast<T>(o.alpha), one_minus_alpha = static_cast<T>(1 - o.alpha);
  const T eps = static_cast<T>(o.eps), mu = static_cast<T>(o.momentum), neg_lr = static_cast<T>(-lr);
  for (std::size_t i = 0; i < n; ++i) {
    T g = sign * grad[i];
    if (o.weight_decay != 0) g = g + wd * w[i];         // grad.add(param, alpha=λ)
    v[i] = v[i] * alpha + one_minus_alpha * g * g;       // square_avg.mul_(α).addcmul_(g, g, 1 − α)
    T avg;
    if (o.centered) {
      g_avg[i] = g_avg[i] * alpha + one_minus_alpha * g;  // grad_avg.mul_(α).add_(g, alpha=1 − α)
      avg = std::sqrt(v[i] + T(-1) * g_avg[i] * g_avg[i]);  // square_avg.addcmul(ḡ, ḡ, −1).sqrt_()
    } else {
      avg = std::sqrt(v[i]);
    }
    avg = avg + eps;
    if (o.momentum > 0) {
      buf[i] = buf[i] * mu + g / avg;  // buf.mul_(μ).addcdiv_(g, avg)
      w[i] = w[i] + neg_lr * buf[i];   // param.add_(buf, alpha=−lr)
    } else {
      w[i] = w[i] + neg_lr * g / avg;  // param.addcdiv_(g, avg, value=−lr)
    }
  }
}

void RMSprop::step() {
  run_step_pre_hooks();
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!square_avg_[i].defined()) {
      square_avg_[i] = zeros_like(p);
      if (options_.centered) grad_avg_[i] = zeros_like(p);
      if (options_.momentum > 0) momentum_buffer_[i] = zeros_like(p);
    }
    ++steps_[i];
    p.visit([&](const auto& x) {
      using T = typename std::decay_t<decltype(x)>::value_type;
      T* g_avg = options_.centered ? grad_avg_[i].mutable_data<T>().data() : nullptr;
      T* buf = options_.momentum > 0 ? momentum_buffer_[i].mutable_data<T>().data() : nullptr;
      rmsprop_update(p.mutable_data<T>().data(), g.data<T>().data(), square_avg_[i].mutable_data<T>().data(), g_avg,
                     buf, x.size(), options_, lr_);
    });
  }
}

NamedTensors RMSprop::state_dict() const {
  NamedTensors out{{"lr", scalar(lr_)}, {"momentum", scalar(options_.momentum)}};
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (steps_[i] == 0) continue;
    out.emplace_back(fmt::format("state.{}.step", i), scalar(static_cast<double>(steps_[i])));
    out.emplace_back(fmt::format("state.{}.square_avg", i), copy_of(square_avg_[i]));
    if (options_.centered) out.emplace_back(fmt::format("state.{}.grad_avg", i), copy_of(grad_avg_[i]));
    if (options_.momentum > 0) {
      out.emplace_back(fmt::format("state.{}.momentum_buffer", i), copy_of(momentum_buffer_[i]));
    }
  }
  return out;
}

void RMSprop::load_state_dict(const NamedTensors& state, const std::string& source) {
  std::vector<std::string> keys{"step", "square_avg"};
  if (options_.centered) keys.emplace_back("grad_avg");
  if (options_.momentum > 0) keys.emplace_back("momentum_buffer");
  const auto parsed = detail::parse_state("RMSprop", state, params_.size(), {"lr", "momentum"}, keys, source);
  std::vector<std::uint64_t> steps(params_.size(), 0);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto& entries = parsed.per_param[i];
    if (entries.empty()) continue;
    for (const std::string& key : keys) {
      auto it = entries.find(key);
      if (it == entries.end()) {
        fail<ValueError>("RMSprop: {}: parameter {} has state but no entry 'state.{}.{}'", source, i, i, key);
      }
      if (key == "step") {
        steps[i] = read_step("RMSprop", source, i, it->second);
      } else {
        check_buffer("RMSprop", source, i, key, it->second, params_[i]);
      }
    }
  }
  const double lr = parsed.hyper.at("lr").item(), momentum = parsed.hyper.at("momentum").item();
  check_hyper("RMSprop", "learning rate", lr, 0, HUGE_VAL);
  if ((momentum > 0) != (options_.momentum > 0)) set_momentum(momentum);  // the error
  check_hyper("RMSprop", "momentum", momentum, 0, HUGE_VAL);
  lr_ = lr;
  options_.momentum = momentum;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto& entries = parsed.per_param[i];
    auto get = [&](const char* key) {
      auto it = entries.find(key);
      return it == entries.end() ? Tensor() : copy_of(it->second);
    };
    steps_[i] = steps[i];
    square_avg_[i] = get("square_avg");
    grad_avg_[i] = get("grad_avg");
    momentum_buffer_[i] = get("momentum_buffer");
  }
}

// ---- Adagrad ----

Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions options)
    : Optimizer("Adagrad", std::move(params), options.lr), options_(options) {
  check_hyper("Adagrad", "lr_decay", options.lr_decay, 0, HUGE_VAL);
  check_hyper("Adagrad", "weight_decay", options.weight_decay, 0, HUGE_VAL);
  check_hyper("Adagrad", "initial_accumulator_value", options.initial_accumulator_value, 0, HUGE_VAL);
  check_hyper("Adagrad", "eps", options.eps, 0, HUGE_VAL);
  steps_.assign(params_.size(), 0);
  NoGradGuard no_grad;
  for (const Tensor& p : params_) sum_.push_back(full_like(p.detach(), options.initial_accumulator_value));
}

void Adagrad::set_momentum(double momentum) {
  fail<ValueError>("Adagrad: has no momentum to set (asked for {})", momentum);
}

template <class T>
static void adagrad_update(T* w, const T* grad, T* s, std::size_t n, const AdagradOptions& o, double clr) {
  const T sign = o.maximize ? T(-1) : T(1), wd = static_cast<T>(o.weight_decay);
  const T eps = static_cast<T>(o.eps), neg_clr = static_cast<T>(-clr);
  for (std::size_t i = 0; i < n; ++i) {
    T g = sign * grad[i];
    if (o.weight_decay != 0) g = g + wd * w[i];  // grad.add(param, alpha=λ)
    s[i] = s[i] + T(1) * g * g;                   // state_sum.addcmul_(g, g, value=1)
    const T std = std::sqrt(s[i]) + eps;          // state_sum.sqrt().add_(ε)
    w[i] = w[i] + neg_clr * g / std;              // param.addcdiv_(g, std, value=−clr)
  }
}

void Adagrad::step() {
  run_step_pre_hooks();
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    const double t = static_cast<double>(++steps_[i]);
    const double clr = lr_ / (1 + (t - 1) * options_.lr_decay);
    p.visit([&](const auto& x) {
      using T = typename std::decay_t<decltype(x)>::value_type;
      adagrad_update(p.mutable_data<T>().data(), g.data<T>().data(), sum_[i].mutable_data<T>().data(), x.size(),
                     options_, clr);
    });
  }
}

NamedTensors Adagrad::state_dict() const {
  NamedTensors out{{"lr", scalar(lr_)}};
  for (std::size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back(fmt::format("state.{}.step", i), scalar(static_cast<double>(steps_[i])));
    out.emplace_back(fmt::format("state.{}.sum", i), copy_of(sum_[i]));
  }
  return out;
}

void Adagrad::load_state_dict(const NamedTensors& state, const std::string& source) {
  const auto parsed = detail::parse_state("Adagrad", state, params_.size(), {"lr"}, {"step", "sum"}, source);
  std::vector<std::uint64_t> steps(params_.size(), 0);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto& entries = parsed.per_param[i];
    for (const char* key : {"step", "sum"}) {
      if (!entries.count(key)) {
        fail<ValueError>("Adagrad: {}: parameter {} has no entry 'state.{}.{}'", source, i, i, key);
      }
    }
    const Tensor& step = entries.at("step");
    // Step 0: a parameter that has not been updated yet.
    steps[i] = step.numel() == 1 && step.item() == 0 ? 0 : read_step("Adagrad", source, i, step);
    check_buffer("Adagrad", source, i, "sum", entries.at("sum"), params_[i]);
  }
  const double lr = parsed.hyper.at("lr").item();
  check_hyper("Adagrad", "learning rate", lr, 0, HUGE_VAL);
  lr_ = lr;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    steps_[i] = steps[i];
    sum_[i] = copy_of(parsed.per_param[i].at("sum"));
  }
}

}  // namespace matgrad::optim
