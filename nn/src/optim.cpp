#include "matgrad/nn/optim.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/backend.hpp"
#include "optim_state.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>


namespace matgrad::optim {

namespace detail {

Tensor copy_of(const Tensor& t) { return t.detach().clone(); }

Tensor scalar(double value) { return tensor(value, {.dtype = DType::float64}); }

void check_hyper(std::string_view op, std::string_view what, double value, double low,
                 double high, bool high_open) {
  const bool ok = std::isfinite(value) && value >= low && (high_open ? value < high : value <= high);
  if (!ok) {
    fail<ValueError>("{}: invalid {} {}: expected a value in [{}, {}{}", op, what, value, low, high,
                     high_open ? ")" : "]");
  }
}

ParsedState parse_state(std::string_view op, const NamedTensors& state, std::size_t num_params,
                        const std::vector<std::string>& hyper_keys,
                        const std::vector<std::string>& param_keys, const std::string& source) {
  ParsedState parsed;
  parsed.per_param.resize(num_params);
  for (const auto& [name, value] : state) {
    if (!value.defined()) fail<ValueError>("{}: {}: entry '{}' is undefined", op, source, name);
    if (name.rfind("state.", 0) == 0) {
      const std::string rest = name.substr(6);
      const auto dot = rest.find('.');
      std::size_t index = 0;
      bool ok = dot != std::string::npos && dot > 0 && dot <= 9;
      for (std::size_t k = 0; ok && k < dot; ++k) {
        ok = rest[k] >= '0' && rest[k] <= '9';
        index = index * 10 + static_cast<std::size_t>(rest[k] - '0');
      }
      const std::string key = ok ? rest.substr(dot + 1) : "";
      if (!ok || std::find(param_keys.begin(), param_keys.end(), key) == param_keys.end()) {
        fail<ValueError>("{}: {}: unexpected entry '{}' (expected state.<i>.{{{}}})", op, source,
                         name, fmt::join(param_keys, ","));
      }
      if (index >= num_params) {
        fail<ValueError>("{}: {}: entry '{}' is for parameter {}, but the optimiser has {}", op,
                         source, name, index, num_params);
      }
      parsed.per_param[index][key] = value;
    } else if (std::find(hyper_keys.begin(), hyper_keys.end(), name) != hyper_keys.end()) {
      if (value.numel() != 1) {
        fail<ShapeError>("{}: {}: entry '{}' must hold one value, got shape {}", op, source, name,
                         to_string(value.shape()));
      }
      parsed.hyper[name] = value;
    } else {
      fail<ValueError>("{}: {}: unexpected entry '{}'", op, source, name);
    }
  }
  for (const std::string& key : hyper_keys) {
    if (!parsed.hyper.count(key)) fail<ValueError>("{}: {}: missing entry '{}'", op, source, key);
  }
  return parsed;
}

void check_buffer(std::string_view op, const std::string& source, std::size_t i,
                  const std::string& key, const Tensor& buffer, const Tensor& param) {
  if (buffer.shape() != param.shape() || buffer.dtype() != param.dtype()) {
    fail<ShapeError>("{}: {}: entry 'state.{}.{}' is {} {} but parameter {} is {} {}", op, source, i,
                     key, dtype_name(buffer.dtype()), to_string(buffer.shape()), i,
                     dtype_name(param.dtype()), to_string(param.shape()));
  }
}

std::uint64_t read_step(std::string_view op, const std::string& source, std::size_t i, const Tensor& t) {
  const double step = t.numel() == 1 ? t.item() : -1;
  if (!(step >= 1 && step <= 9.0e15 && step == std::floor(step))) {
    fail<ValueError>("{}: {}: entry 'state.{}.step' must be one positive integer, got {}", op, source, i,
                     t.numel() == 1 ? fmt::format("{}", step) : to_string(t.shape()));
  }
  return static_cast<std::uint64_t>(step);
}

}  // namespace detail

using detail::check_buffer;
using detail::check_hyper;
using detail::copy_of;
using detail::parse_state;
using detail::ParsedState;
using detail::scalar;

// ---- Optimizer ----

Optimizer::Optimizer(std::string_view name, std::vector<Tensor> params, double lr)
    : params_(std::move(params)), lr_(lr) {
  check_hyper(name, "learning rate", lr, 0, HUGE_VAL);
  if (params_.empty()) {
    fail<ValueError>(
        "{}: got an empty parameter list, so nothing would be trained (a module lists its "
        "parameters with register_parameter and register_module; see nn/module.hpp)",
        name);
  }
  std::unordered_map<const void*, std::size_t> seen;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined()) fail<ValueError>("{}: parameter {} is an undefined tensor", name, i);
    if (!p.requires_grad()) {
      fail<ValueError>("{}: parameter {} (shape {}) does not require grad", name, i,
                       to_string(p.shape()));
    }
    if (!p.is_leaf()) {
      fail<ValueError>("{}: parameter {} (shape {}) is not a leaf tensor; only leaves can be "
                       "optimised",
                       name, i, to_string(p.shape()));
    }
    if (auto [it, fresh] = seen.emplace(p.impl().get(), i); !fresh) {
      fail<ValueError>("{}: parameter {} is the same tensor as parameter {}", name, i, it->second);
    }
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

RemovableHandle Optimizer::register_step_pre_hook(StepPreHook hook) {
  if (!hook) fail<ValueError>("{}: register_step_pre_hook: the hook is empty", name());
  const std::uint64_t id = step_pre_hooks_->add(std::move(hook));
  return RemovableHandle(step_pre_hooks_, id);
}

void Optimizer::run_step_pre_hooks() {
  if (step_pre_hooks_->empty()) return;
  for (const StepPreHook& hook : step_pre_hooks_->snapshot()) hook(*this);
}

void Optimizer::set_lr(double lr) {
  check_hyper(name(), "learning rate", lr, 0, HUGE_VAL);
  lr_ = lr;
}

// ---- SGD ----

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : Optimizer("SGD", std::move(params), options.lr), options_(options) {
  check_hyper("SGD", "momentum", options.momentum, 0, HUGE_VAL);
  check_hyper("SGD", "dampening", options.dampening, -HUGE_VAL, HUGE_VAL);
  check_hyper("SGD", "weight_decay", options.weight_decay, 0, HUGE_VAL);
  if (options.nesterov && (options.momentum <= 0 || options.dampening != 0)) {
    fail<ValueError>("SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                     "momentum {} and dampening {}",
                     options.momentum, options.dampening);
  }
  momentum_buffer_.resize(params_.size());
}

void SGD::set_momentum(double momentum) {
  check_hyper("SGD", "momentum", momentum, 0, HUGE_VAL);
  options_.momentum = momentum;
}

// Large updates are split over matgrad's threads (parallel_for, matgrad/backend.hpp): every
// element's update is independent of the others, so the result is the same to the last bit for
// any thread count. A/B on the demo (AdamW, float32, 2 threads): benchmarks/README.md.
template <class T, class F>
static void for_each_chunk(std::size_t n, F&& f) {
  parallel_for(dtype_of<T>(), n, kGrain, f);
}

// p + offset, or null for an absent buffer (offsetting a null pointer is undefined).
template <class T>
static T* offset(T* p, std::size_t at) {
  return p ? p + at : nullptr;
}

// One loop per combination of the options, with the flags as template parameters, so that it
// has no branches and vectorises: one loop testing the options per element took 0.39–0.50 ms a
// step with momentum for the demo's 235,146 parameters, these 0.12–0.14 ms (perf, A/B of
// `fashion_mnist --optimizer sgd`). maximize multiplies by sign = ±1, which is exact.
template <bool Decay, bool Momentum, bool Nesterov, class T>
static void sgd_loop(T* __restrict w, const T* __restrict grad, T* __restrict buf, bool first,
                     std::size_t n, T sign, T wd, T mu, T one_minus_dampening, T neg_lr) {
  for (std::size_t i = 0; i < n; ++i) {
    T d = sign * grad[i];
    if constexpr (Decay) d = d + wd * w[i];
    if constexpr (Momentum) {
      const T b = first ? d : buf[i] * mu + one_minus_dampening * d;  // no dampening at first
      buf[i] = b;
      d = Nesterov ? d + mu * b : b;
    }
    w[i] = w[i] + neg_lr * d;
  }
}

template <class T>
static void sgd_update(T* w, const T* grad, T* buf, bool first, std::size_t n, const SGDOptions& o,
                       double lr) {
  const T sign = o.maximize ? T(-1) : T(1), wd = static_cast<T>(o.weight_decay);
  const T mu = static_cast<T>(o.momentum), one_minus_dampening = static_cast<T>(1 - o.dampening);
  const T neg_lr = static_cast<T>(-lr);
  auto run = [&]<bool Decay>(std::size_t b, std::size_t e) {
    T* bb = offset(buf, b);
    if (o.momentum == 0) {
      sgd_loop<Decay, false, false>(w + b, grad + b, bb, first, e - b, sign, wd, mu, one_minus_dampening, neg_lr);
    } else if (o.nesterov) {
      sgd_loop<Decay, true, true>(w + b, grad + b, bb, first, e - b, sign, wd, mu, one_minus_dampening, neg_lr);
    } else {
      sgd_loop<Decay, true, false>(w + b, grad + b, bb, first, e - b, sign, wd, mu, one_minus_dampening, neg_lr);
    }
  };
  for_each_chunk<T>(n, [&](std::size_t b, std::size_t e) {
    o.weight_decay != 0 ? run.template operator()<true>(b, e) : run.template operator()<false>(b, e);
  });
}

void SGD::step() {
  run_step_pre_hooks();
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    Tensor& buf = momentum_buffer_[i];
    const bool first = !buf.defined();
    if (options_.momentum != 0 && first) buf = zeros_like(p);
    p.visit([&](const auto& x) {
      using T = typename std::decay_t<decltype(x)>::value_type;
      T* b = options_.momentum != 0 ? buf.mutable_data<T>().data() : nullptr;
      sgd_update(p.mutable_data<T>().data(), g.data<T>().data(), b, first, x.size(), options_, lr_);
    });
  }
}

NamedTensors SGD::state_dict() const {
  NamedTensors out{{"lr", scalar(lr_)}, {"momentum", scalar(options_.momentum)}};
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (momentum_buffer_[i].defined()) {
      out.emplace_back(fmt::format("state.{}.momentum_buffer", i), copy_of(momentum_buffer_[i]));
    }
  }
  return out;
}

void SGD::load_state_dict(const NamedTensors& state, const std::string& source) {
  const ParsedState parsed =
      parse_state("SGD", state, params_.size(), {"lr", "momentum"}, {"momentum_buffer"}, source);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (const auto& [key, value] : parsed.per_param[i]) {
      check_buffer("SGD", source, i, key, value, params_[i]);
    }
  }
  const double lr = parsed.hyper.at("lr").item(), momentum = parsed.hyper.at("momentum").item();
  check_hyper("SGD", "learning rate", lr, 0, HUGE_VAL);
  check_hyper("SGD", "momentum", momentum, 0, HUGE_VAL);
  lr_ = lr;
  options_.momentum = momentum;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto& entries = parsed.per_param[i];
    auto it = entries.find("momentum_buffer");
    momentum_buffer_[i] = it == entries.end() ? Tensor() : copy_of(it->second);
  }
}

// ---- Adam and AdamW ----

Adam::Adam(std::vector<Tensor> params, AdamOptions options) : Adam(std::move(params), options, false) {}

Adam::Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled)
    : Optimizer(decoupled ? "AdamW" : "Adam", std::move(params), options.lr),
      options_(options),
      decoupled_(decoupled) {
  const std::string_view op = decoupled ? "AdamW" : "Adam";
  check_hyper(op, "beta1", options.beta1, 0, 1, true);
  check_hyper(op, "beta2", options.beta2, 0, 1, true);
  check_hyper(op, "eps", options.eps, 0, HUGE_VAL);
  check_hyper(op, "weight_decay", options.weight_decay, 0, HUGE_VAL);
  steps_.assign(params_.size(), 0);
  exp_avg_.resize(params_.size());
  exp_avg_sq_.resize(params_.size());
  max_exp_avg_sq_.resize(params_.size());
}

static AdamOptions as_adam(const AdamWOptions& o) {
  return {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps,
          .weight_decay = o.weight_decay, .amsgrad = o.amsgrad, .maximize = o.maximize};
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : Adam(std::move(params), as_adam(options), true) {}

void Adam::set_momentum(double beta1) {
  check_hyper(name(), "beta1", beta1, 0, 1, true);
  options_.beta1 = beta1;
}

namespace {
struct AdamStep {
  double lr, step_size, bias_correction2_sqrt;
  const AdamOptions* o;
  bool decoupled;
};
}  // namespace

// Each line is one of PyTorch's tensor ops on T, so the roundings are the same ones. The flags
// are template parameters so that the loop has no branches and vectorises (multiplying by
// sign = ±1 or decay = 1 is exact, so those need no flag).
template <bool L2, bool Amsgrad, class T>
static void adam_update(T* __restrict w, const T* __restrict grad, T* __restrict m, T* __restrict v,
                        T* __restrict v_max, std::size_t n, const AdamStep& s) {
  const AdamOptions& o = *s.o;
  const T sign = o.maximize ? T(-1) : T(1);
  const T wd = static_cast<T>(o.weight_decay);
  const T decay = s.decoupled ? static_cast<T>(1 - s.lr * o.weight_decay) : T(1);
  const T beta1 = static_cast<T>(o.beta1), one_minus_beta1 = static_cast<T>(1 - o.beta1);
  const T beta2 = static_cast<T>(o.beta2), one_minus_beta2 = static_cast<T>(1 - o.beta2);
  const T bc2_sqrt = static_cast<T>(s.bias_correction2_sqrt), eps = static_cast<T>(o.eps);
  const T neg_step_size = static_cast<T>(-s.step_size);
  for (std::size_t i = 0; i < n; ++i) {
    T g = sign * grad[i];
    if constexpr (L2) g = g + wd * w[i];           // grad.add(param, alpha=λ)
    const T p = w[i] * decay;                      // AdamW: param.mul_(1 − lr·λ)
    const T mi = m[i] * beta1 + one_minus_beta1 * g;   // exp_avg.mul_(β₁).add_(g, 1 − β₁)
    const T vi = v[i] * beta2 + one_minus_beta2 * g * g;  // exp_avg_sq.mul_(β₂).addcmul_(g, g, 1 − β₂)
    T second = vi;
    if constexpr (Amsgrad) second = v_max[i] = std::max(v_max[i], vi);
    const T denom = std::sqrt(second) / bc2_sqrt + eps;  // (v.sqrt() / √bc₂).add_(ε)
    m[i] = mi;
    v[i] = vi;
    w[i] = p + neg_step_size * mi / denom;               // param.addcdiv_(m, denom, −step_size)
  }
}

template <class T>
static void adam_update(T* w, const T* grad, T* m, T* v, T* v_max, std::size_t n, const AdamStep& s) {
  const bool l2 = !s.decoupled && s.o->weight_decay != 0;
  for_each_chunk<T>(n, [&](std::size_t b, std::size_t e) {
    T *wb = w + b, *mb = m + b, *vb = v + b, *vmax = offset(v_max, b);
    const T* gb = grad + b;
    if (l2) {
      v_max ? adam_update<true, true>(wb, gb, mb, vb, vmax, e - b, s) : adam_update<true, false>(wb, gb, mb, vb, vmax, e - b, s);
    } else {
      v_max ? adam_update<false, true>(wb, gb, mb, vb, vmax, e - b, s) : adam_update<false, false>(wb, gb, mb, vb, vmax, e - b, s);
    }
  });
}

void Adam::step() {
  run_step_pre_hooks();
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!exp_avg_[i].defined()) {
      exp_avg_[i] = zeros_like(p);
      exp_avg_sq_[i] = zeros_like(p);
      if (options_.amsgrad) max_exp_avg_sq_[i] = zeros_like(p);
    }
    const double t = static_cast<double>(++steps_[i]);
    const double bias_correction1 = 1 - std::pow(options_.beta1, t);
    const double bias_correction2 = 1 - std::pow(options_.beta2, t);
    const AdamStep s{lr_, lr_ / bias_correction1, std::sqrt(bias_correction2), &options_, decoupled_};
    p.visit([&](const auto& x) {
      using T = typename std::decay_t<decltype(x)>::value_type;
      T* v_max = options_.amsgrad ? max_exp_avg_sq_[i].mutable_data<T>().data() : nullptr;
      adam_update(p.mutable_data<T>().data(), g.data<T>().data(), exp_avg_[i].mutable_data<T>().data(),
                  exp_avg_sq_[i].mutable_data<T>().data(), v_max, x.size(), s);
    });
  }
}

NamedTensors Adam::state_dict() const {
  NamedTensors out{{"lr", scalar(lr_)}, {"momentum", scalar(options_.beta1)}};
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (steps_[i] == 0) continue;
    out.emplace_back(fmt::format("state.{}.step", i), scalar(static_cast<double>(steps_[i])));
    out.emplace_back(fmt::format("state.{}.exp_avg", i), copy_of(exp_avg_[i]));
    out.emplace_back(fmt::format("state.{}.exp_avg_sq", i), copy_of(exp_avg_sq_[i]));
    if (options_.amsgrad) {
      out.emplace_back(fmt::format("state.{}.max_exp_avg_sq", i), copy_of(max_exp_avg_sq_[i]));
    }
  }
  return out;
}

void Adam::load_state_dict(const NamedTensors& state, const std::string& source) {
  const std::string op = name();
  std::vector<std::string> keys{"step", "exp_avg", "exp_avg_sq"};
  if (options_.amsgrad) keys.emplace_back("max_exp_avg_sq");
  const ParsedState parsed = parse_state(op, state, params_.size(), {"lr", "momentum"}, keys, source);
  std::vector<std::uint64_t> steps(params_.size(), 0);
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto& entries = parsed.per_param[i];
    if (entries.empty()) continue;
    for (const std::string& key : keys) {
      auto it = entries.find(key);
      if (it == entries.end()) {
        fail<ValueError>("{}: {}: parameter {} has state but no entry 'state.{}.{}'", op, source, i,
                         i, key);
      }
      if (key == "step") {
        steps[i] = detail::read_step(op, source, i, it->second);
      } else {
        check_buffer(op, source, i, key, it->second, params_[i]);
      }
    }
  }
  const double lr = parsed.hyper.at("lr").item(), beta1 = parsed.hyper.at("momentum").item();
  check_hyper(op, "learning rate", lr, 0, HUGE_VAL);
  check_hyper(op, "beta1", beta1, 0, 1, true);
  lr_ = lr;
  options_.beta1 = beta1;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const auto& entries = parsed.per_param[i];
    steps_[i] = steps[i];
    auto get = [&](const char* key) {
      auto it = entries.find(key);
      return it == entries.end() ? Tensor() : copy_of(it->second);
    };
    exp_avg_[i] = get("exp_avg");
    exp_avg_sq_[i] = get("exp_avg_sq");
    max_exp_avg_sq_[i] = get("max_exp_avg_sq");
  }
}

}  // namespace matgrad::optim
