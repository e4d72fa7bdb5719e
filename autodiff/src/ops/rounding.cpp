// Rounding. As in PyTorch, these are recorded and their gradient is exactly zero (the
// derivative wherever it exists), so a model may use them without detaching; frac = A − trunc(A)
// has derivative 1. div with a rounding mode is here too: its gradient is zero in both inputs.
#include "pointwise.hpp"

#include <cmath>

namespace matgrad {

using detail::record_zero_slope;
using detail::unary;

static const OpInfo floor_info{"floor", "dC = 0", "tC = 0", "gA = 0", Saves::nothing,
    "C = floor(A)"};
Tensor floor(const Tensor& a, const SourceLocation& caller) {
  return record_zero_slope(floor_info, unary("floor", a, [](auto v) { return std::floor(v); }), a, caller);
}

static const OpInfo ceil_info{"ceil", "dC = 0", "tC = 0", "gA = 0", Saves::nothing,
    "C = ceil(A)"};
Tensor ceil(const Tensor& a, const SourceLocation& caller) {
  return record_zero_slope(ceil_info, unary("ceil", a, [](auto v) { return std::ceil(v); }), a, caller);
}

static const OpInfo trunc_info{"trunc", "dC = 0", "tC = 0", "gA = 0", Saves::nothing,
    "C = trunc(A)"};
Tensor trunc(const Tensor& a, const SourceLocation& caller) {
  return record_zero_slope(trunc_info, unary("trunc", a, [](auto v) { return std::trunc(v); }), a, caller);
}

// Half to even (std::nearbyint in the default rounding mode), as torch.round; with decimals d,
// PyTorch's nearbyint(A · 10ᵈ) / 10ᵈ, or nearbyint(A / 10⁻ᵈ) · 10⁻ᵈ for d < 0.
static const OpInfo round_info{"round", "dC = 0", "tC = 0", "gA = 0", Saves::nothing,
    "C = round(A)"};
Tensor round(const Tensor& a, int decimals, const SourceLocation& caller) {
  Tensor out = unary("round", a, [decimals](auto v) {
    using T = decltype(v);
    if (decimals == 0) return std::nearbyint(v);
    const T ten_pow = static_cast<T>(std::pow(10.0, std::abs(decimals)));
    return decimals > 0 ? std::nearbyint(v * ten_pow) / ten_pow : std::nearbyint(v / ten_pow) * ten_pow;
  });
  return record_zero_slope(round_info, std::move(out), a, caller);
}

static const OpInfo frac_info{"frac", "dC = dA", "tC = tA", "gA = gC", Saves::nothing,
    "C = A − trunc(A)"};
Tensor frac(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("frac", a, [](auto v) { return v - std::trunc(v); });
  return record(
      frac_info, std::move(out), {a}, [](const Tangent& ta) { return ta; },
      [](const Tensor& g) -> Grads { return {g}; }, caller);
}

// PyTorch's floor division of floating values (div_floor_floating): from fmod rather than
// floor(a / b), which rounds a / b first and can land on the wrong side of an integer. b = 0
// gives a / b (±∞ or NaN).
template <class T>
static T floor_divide(T a, T b) {
  if (b == 0) return a / b;
  const T mod = std::fmod(a, b);
  T div = (a - mod) / b;
  if (mod != 0 && (b < 0) != (mod < 0)) div -= T(1);
  if (div == 0) return std::copysign(T(0), a / b);
  T floored = std::floor(div);
  if (div - floored > T(0.5)) floored += T(1);
  return floored;
}

static const OpInfo div_trunc_info{"div_trunc", "dC = 0 (div with rounding_mode \"trunc\")", "tC = 0",
                                   "gA = 0, gB = 0", Saves::nothing,
    "C = trunc(A ⊘ B)"};
static const OpInfo div_floor_info{"div_floor", "dC = 0 (div with rounding_mode \"floor\")", "tC = 0",
                                   "gA = 0, gB = 0", Saves::nothing,
    "C = floor(A ⊘ B)"};
Tensor div(const Tensor& a, const Tensor& b, std::string_view rounding_mode, const SourceLocation& caller) {
  if (rounding_mode == "trunc") {
    Tensor out = detail::binary("div", a, b, [](auto u, auto v) { return std::trunc(u / v); });
    return record_zero_slope(div_trunc_info, std::move(out), a, b, caller);
  }
  if (rounding_mode == "floor") {
    Tensor out = detail::binary("div", a, b, [](auto u, auto v) { return floor_divide(u, v); });
    return record_zero_slope(div_floor_info, std::move(out), a, b, caller);
  }
  fail<ValueError>("div: rounding_mode must be \"trunc\" or \"floor\" (or none, for true division), got \"{}\"",
                   rounding_mode);
}

}  // namespace matgrad
