// Activation functions (torch.nn.functional): forwards and values at the kinks as PyTorch's
// CPU kernels compute them. Each has a rule of its own (one pass forward, one product
// backward, where the compositions take three to six); the derivatives are written with matgrad
// ops, so they differentiate again. Piecewise rules take their pieces from 0/1 masks, constants
// of the graph (their derivative is zero almost everywhere).
#include "pointwise.hpp"

#include <cmath>
#include <numbers>

namespace matgrad {

using detail::mask_of;
using detail::record_slope;
using detail::unary;

namespace {
constexpr double kSqrtHalf = 0.70710678118654752440;               // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;             // 1/√(2π)
constexpr double kSqrt2OverPi = 0.79788456080286535588;            // √(2/π)
constexpr double kKappa = 0.044715;                                // gelu's tanh approximation
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;
}  // namespace

// Φ(A) + A φ(A), exact; for "tanh", with T = tanh(√(2/π)(A + κA³)):
// ½(1 + T) + ½A (1 − T²) √(2/π)(1 + 3κA²).
static const OpInfo gelu_info{"gelu", "dC = (Φ(A) + A φ(A)) ⊙ dA (tanh: its derivative)",
                              "tC = gelu′(A) ⊙ tA", "gA = gC ⊙ gelu′(A)",
    "C = A ⊙ Φ(A) (tanh: its approximation)"};
Tensor gelu(const Tensor& a, std::string_view approximate, const SourceLocation& caller) {
  detail::check_defined("gelu", a);
  if (approximate == "none") {
    Tensor out = unary("gelu", a, [](auto v) {
      using T = decltype(v);
      return v * T(0.5) * (T(1) + std::erf(v * T(kSqrtHalf)));
    });
    return record_slope(gelu_info, std::move(out), a, [](const Tensor& x) {
      return 0.5 * (1.0 + erf(x * kSqrtHalf)) + x * (exp(-0.5 * square(x)) * kInvSqrt2Pi);
    }, caller);
  }
  if (approximate == "tanh") {
    Tensor out = unary("gelu", a, [](auto v) {
      using T = decltype(v);
      return T(0.5) * v * (T(1) + std::tanh(T(kSqrt2OverPi) * (v + T(kKappa) * v * v * v)));
    });
    return record_slope(gelu_info, std::move(out), a, [](const Tensor& x) {
      const Tensor t = tanh(kSqrt2OverPi * (x + kKappa * (x * square(x))));
      return 0.5 * (1.0 + t) + (0.5 * x) * (1.0 - square(t)) * (kSqrt2OverPi * (1.0 + (3 * kKappa) * square(x)));
    }, caller);
  }
  fail<ValueError>("gelu: approximate must be \"none\" or \"tanh\", got \"{}\"", approximate);
}

static const OpInfo silu_info{"silu", "dC = σ(A) (1 + A (1 − σ(A))) ⊙ dA", "tC = σ(A) (1 + A (1 − σ(A))) ⊙ tA",
                              "gA = gC ⊙ σ(A) (1 + A (1 − σ(A)))",
    "C = A ⊙ σ(A)"};
Tensor silu(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("silu", a, [](auto v) { return v / (decltype(v)(1) + std::exp(-v)); });
  return record_slope(silu_info, std::move(out), a, [](const Tensor& x) {
    const Tensor s = sigmoid(x);
    return s * (1.0 + x * (1.0 - s));
  }, caller);
}

// PyTorch's elu kernel, shared by elu, selu and celu: scale A for A > 0, else
// scale α (e^(βA) − 1) with β the input scale; the derivative at 0 is the left one, scale α β.
// The exponential is of A ⊙ [A ≤ 0], so that it cannot overflow where it is not used.
static Tensor elu_family(const OpInfo& info, const Tensor& a, double alpha, double scale,
                         double input_scale, const SourceLocation& caller) {
  Tensor out = unary(info.name, a, [=](auto v) {
    using T = decltype(v);
    return v <= 0 ? T(alpha * scale) * std::expm1(v * T(input_scale)) : v * T(scale);
  });
  return record_slope(info, std::move(out), a, [=](const Tensor& x) {
    const Tensor neg = mask_of("elu", x, [](auto v) { return v <= 0; });
    return scale * (1.0 - neg) + (alpha * scale * input_scale) * (neg * exp((x * neg) * input_scale));
  }, caller);
}

static const OpInfo elu_info{"elu", "dC = ([A > 0] + α e^A [A ≤ 0]) ⊙ dA",
                             "tC = ([A > 0] + α e^A [A ≤ 0]) ⊙ tA", "gA = gC ⊙ ([A > 0] + α e^A [A ≤ 0])",
    "C = where(A > 0, A, α (e^A − 1))"};
Tensor elu(const Tensor& a, double alpha, const SourceLocation& caller) {
  return elu_family(elu_info, a, alpha, 1.0, 1.0, caller);
}

static const OpInfo selu_info{"selu", "dC = λ ([A > 0] + α e^A [A ≤ 0]) ⊙ dA",
                              "tC = λ ([A > 0] + α e^A [A ≤ 0]) ⊙ tA",
                              "gA = gC ⊙ λ ([A > 0] + α e^A [A ≤ 0])",
    "C = λ where(A > 0, A, α (e^A − 1))"};
Tensor selu(const Tensor& a, const SourceLocation& caller) {
  return elu_family(selu_info, a, kSeluAlpha, kSeluScale, 1.0, caller);
}

static const OpInfo celu_info{"celu", "dC = ([A > 0] + e^(A/α) [A ≤ 0]) ⊙ dA",
                              "tC = ([A > 0] + e^(A/α) [A ≤ 0]) ⊙ tA",
                              "gA = gC ⊙ ([A > 0] + e^(A/α) [A ≤ 0])",
    "C = where(A > 0, A, α (e^(A/α) − 1))"};
Tensor celu(const Tensor& a, double alpha, const SourceLocation& caller) {
  if (alpha == 0) fail<ValueError>("celu: alpha must not be 0 (it divides the input)");
  return elu_family(celu_info, a, alpha, 1.0, 1.0 / alpha, caller);
}

static const OpInfo softsign_info{"softsign", "dC = dA ⊘ (1 + |A|)²", "tC = tA ⊘ (1 + |A|)²",
                                  "gA = gC ⊘ (1 + |A|)²",
    "C = A ⊘ (1 + |A|)"};
Tensor softsign(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("softsign", a, [](auto v) { return v / (decltype(v)(1) + std::abs(v)); });
  return record_slope(softsign_info, std::move(out), a,
                      [](const Tensor& x) { return reciprocal(square(1.0 + abs(x))); }, caller);
}

// The gradient passes strictly inside (min_val, max_val) (PyTorch's hardtanh_backward), where
// clamp's passes on the bounds too. min_val > max_val makes every element max_val.
static const OpInfo hardtanh_info{"hardtanh", "dC = [min < A < max] ⊙ dA", "tC = [min < A < max] ⊙ tA",
                                  "gA = gC ⊙ [min < A < max]",
    "C = clamp(A, min, max)"};
Tensor hardtanh(const Tensor& a, double min_val, double max_val, const SourceLocation& caller) {
  Tensor out = unary("hardtanh", a, [=](auto v) {
    using T = decltype(v);
    if (v < T(min_val)) v = T(min_val);
    if (v > T(max_val)) v = T(max_val);
    return v;
  });
  return record_slope(hardtanh_info, std::move(out), a, [=](const Tensor& x) {
    return mask_of("hardtanh", x, [=](auto v) {
      using T = decltype(v);
      return !(v <= T(min_val) || v >= T(max_val));
    });
  }, caller);
}

// Departure: torch 1.13's float64 kernel multiplies the gradient by float(1/6) (3e-8 off);
// this one by 1/6.
static const OpInfo hardsigmoid_info{"hardsigmoid", "dC = [−3 < A < 3] ⊙ dA / 6", "tC = [−3 < A < 3] ⊙ tA / 6",
                                     "gA = gC ⊙ [−3 < A < 3] / 6",
    "C = clamp(A + 3, 0, 6) / 6"};
Tensor hardsigmoid(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("hardsigmoid", a, [](auto v) {
    using T = decltype(v);
    return std::min(std::max(v + T(3), T(0)), T(6)) / T(6);
  });
  return record_slope(hardsigmoid_info, std::move(out), a, [](const Tensor& x) {
    return mask_of("hardsigmoid", x, [](auto v) { return v > -3 && v < 3; }) / 6.0;
  }, caller);
}

// PyTorch's derivative: 0 below −3, A/3 + ½ on [−3, 3] (bounds included), 1 above.
static const OpInfo hardswish_info{"hardswish", "dC = ([−3 ≤ A ≤ 3] (A/3 + ½) + [A > 3]) ⊙ dA",
                                   "tC = ([−3 ≤ A ≤ 3] (A/3 + ½) + [A > 3]) ⊙ tA",
                                   "gA = gC ⊙ ([−3 ≤ A ≤ 3] (A/3 + ½) + [A > 3])",
    "C = A ⊙ clamp(A + 3, 0, 6) / 6"};
Tensor hardswish(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("hardswish", a, [](auto v) {
    using T = decltype(v);
    return v * std::min(std::max(v + T(3), T(0)), T(6)) / T(6);
  });
  return record_slope(hardswish_info, std::move(out), a, [](const Tensor& x) {
    const Tensor middle = mask_of("hardswish", x, [](auto v) { return v >= -3 && v <= 3; });
    const Tensor above = mask_of("hardswish", x, [](auto v) { return !(v < -3) && !(v <= 3); });
    return middle * (x / 3.0 + 0.5) + above;
  }, caller);
}

// log σ(A) = min(A, 0) − log1p(e^(−|A|)), stable on both sides; its derivative σ(−A).
static const OpInfo logsigmoid_info{"logsigmoid", "dC = σ(−A) ⊙ dA", "tC = σ(−A) ⊙ tA", "gA = gC ⊙ σ(−A)",
    "C = log(σ(A))"};
Tensor logsigmoid(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("logsigmoid", a, [](auto v) {
    using T = decltype(v);
    return std::min(v, T(0)) - std::log1p(std::exp(-std::abs(v)));
  });
  return record_slope(logsigmoid_info, std::move(out), a, [](const Tensor& x) { return sigmoid(-x); }, caller);
}

// With S = tanh(softplus(A)): dC = (S + A σ(A) (1 − S²)) ⊙ dA.
static const OpInfo mish_info{"mish", "dC = (S + A σ(A) (1 − S²)) ⊙ dA, S = tanh(softplus(A))",
                              "tC = (S + A σ(A) (1 − S²)) ⊙ tA", "gA = gC ⊙ (S + A σ(A) (1 − S²))",
    "C = A ⊙ tanh(softplus(A))"};
Tensor mish(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("mish", a, [](auto v) { return v * std::tanh(std::log1p(std::exp(v))); });
  return record_slope(mish_info, std::move(out), a, [](const Tensor& x) {
    const Tensor s = tanh(softplus(x));
    return s + x * sigmoid(x) * (1.0 - square(s));
  }, caller);
}

}  // namespace matgrad
