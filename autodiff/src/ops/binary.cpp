// Binary elementwise ops, broadcasting with NumPy rules (the engine sums each gradient back to
// its input's shape, so the rules read as if no broadcasting happened). Forwards, values at
// ties, zeros and NaN, and the gradients there, are PyTorch's (derivatives.yaml). Weights that
// pick or split the gradient come from 0/1 masks, constants of the graph.
#include "pointwise.hpp"

#include <cmath>
#include <limits>

namespace matgrad {

using detail::binary;
using detail::mask_of;
using detail::ternary;

// The share of the gradient each input of maximum/minimum gets: 1 where it is the result,
// ½ on ties, 0 where the other is; NaN in either input sends the whole gradient to both (as
// PyTorch's masks do: neither a < b nor a == b holds).
template <class Loses>
static Tensor extremum_share(const Tensor& a, const Tensor& b, Loses loses) {
  return binary("maximum", a, b, [&](auto u, auto v) {
    using T = decltype(u);
    return loses(u, v) ? T(0) : u == v ? T(0.5) : T(1);
  });
}

static const OpInfo maximum_info{"maximum", "dC = Wa ⊙ dA + Wb ⊙ dB, Wa = [A > B] + ½[A = B], Wb = [B > A] + ½[A = B]",
                                 "tC = Wa ⊙ tA + Wb ⊙ tB", "gA = gC ⊙ Wa, gB = gC ⊙ Wb",
    "C = maximum(A, B)"};
static const OpInfo minimum_info{"minimum", "dC = Wa ⊙ dA + Wb ⊙ dB, Wa = [A < B] + ½[A = B], Wb = [B < A] + ½[A = B]",
                                 "tC = Wa ⊙ tA + Wb ⊙ tB", "gA = gC ⊙ Wa, gB = gC ⊙ Wb",
    "C = minimum(A, B)"};

template <class Less>
static Tensor extremum(const OpInfo& info, const Tensor& a, const Tensor& b, Less less,
                       const SourceLocation& caller) {
  Tensor out = binary(info.name, a, b, [&](auto u, auto v) {
    if (std::isnan(u)) return u;
    if (std::isnan(v)) return v;
    return less(u, v) ? v : u;  // std::max(u, v) for maximum, std::min for minimum
  });
  auto share_a = [less](const Tensor& x, const Tensor& y) {
    return extremum_share(x, y, [&](auto u, auto v) { return less(u, v); });
  };
  auto share_b = [less](const Tensor& x, const Tensor& y) {
    return extremum_share(x, y, [&](auto u, auto v) { return less(v, u); });
  };
  return record(
      info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb) {
        return (ta ? share_a(a, b) * ta : ta) + (tb ? share_b(a, b) * tb : tb);
      },
      [a, b, share_a, share_b](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * share_a(a, b) : Tensor(), ctx.needs[1] ? g * share_b(a, b) : Tensor()};
      },
      caller);
}

Tensor maximum(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  return extremum(maximum_info, a, b, [](auto u, auto v) { return u < v; }, caller);
}
Tensor minimum(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  return extremum(minimum_info, a, b, [](auto u, auto v) { return v < u; }, caller);
}

// fmax/fmin: a NaN operand is ignored; the gradient goes to A where A ≥ B (fmin: A ≤ B) or B
// is NaN, else to B: ties send it all to A.
static const OpInfo fmax_info{"fmax", "dC = M ⊙ dA + (1 − M) ⊙ dB, M = [A ≥ B or B is NaN]",
                              "tC = M ⊙ tA + (1 − M) ⊙ tB", "gA = gC ⊙ M, gB = gC ⊙ (1 − M)",
    "C = fmax(A, B)"};
static const OpInfo fmin_info{"fmin", "dC = M ⊙ dA + (1 − M) ⊙ dB, M = [A ≤ B or B is NaN]",
                              "tC = M ⊙ tA + (1 − M) ⊙ tB", "gA = gC ⊙ M, gB = gC ⊙ (1 − M)",
    "C = fmin(A, B)"};

template <class Keeps, class F>
static Tensor nan_ignoring(const OpInfo& info, const Tensor& a, const Tensor& b, Keeps keeps_a, F f,
                           const SourceLocation& caller) {
  Tensor out = binary(info.name, a, b, f);
  auto share = [keeps_a](const Tensor& x, const Tensor& y, bool first) {
    return mask_of("fmax", x, y, [&](auto u, auto v) { return (keeps_a(u, v) || std::isnan(v)) == first; });
  };
  return record(
      info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb) {
        return (ta ? share(a, b, true) * ta : ta) + (tb ? share(a, b, false) * tb : tb);
      },
      [a, b, share](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * share(a, b, true) : Tensor(), ctx.needs[1] ? g * share(a, b, false) : Tensor()};
      },
      caller);
}

Tensor fmax(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  return nan_ignoring(fmax_info, a, b, [](auto u, auto v) { return u >= v; },
                      [](auto u, auto v) { return std::fmax(u, v); }, caller);
}
Tensor fmin(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  return nan_ignoring(fmin_info, a, b, [](auto u, auto v) { return u <= v; },
                      [](auto u, auto v) { return std::fmin(u, v); }, caller);
}

// C = A^B. PyTorch's rules: ∂C/∂A = B A^(B−1), taken as 0 where B = 0 (A⁰ is the constant 1,
// also at A = 0); ∂C/∂B = C log A, taken as 0 where A = 0 and B ≥ 0 (0^B is constant there
// for B > 0); NaN for A < 0, where log A is.
static Tensor pow_slope_base(const Tensor& a, const Tensor& b) {
  const Tensor b_zero = mask_of("pow", b, [](auto v) { return v == 0; });
  return where(b_zero, scalar_like(a, 0.0), b * pow(a, b - 1.0));
}
static Tensor pow_slope_exponent(const Tensor& a, const Tensor& b, const Tensor& c) {
  const Tensor constant = mask_of("pow", a, b, [](auto u, auto v) { return u == 0 && v >= 0; });
  return where(constant, scalar_like(a, 0.0), c * log(a));
}

static const OpInfo pow_tensor_info{
    "pow (tensor exponent)", "dC = B A^(B−1) ⊙ dA + C log A ⊙ dB",
    "tC = B A^(B−1) ⊙ tA + C log A ⊙ tB (0 where B = 0, resp. A = 0 ≤ B)",
    "gA = gC ⊙ B A^(B−1) (0 where B = 0), gB = gC ⊙ C log A (0 where A = 0 ≤ B)",
    Saves::inputs_and_output,
    "C = A^B"};
Tensor pow(const Tensor& a, const Tensor& exponent, const SourceLocation& caller) {
  Tensor out = binary("pow", a, exponent, [](auto u, auto v) { return std::pow(u, v); });
  const Tensor& b = exponent;
  return record(
      pow_tensor_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb, const JvpContext& ctx) {
        return (ta ? pow_slope_base(a, b) * ta : ta) + (tb ? pow_slope_exponent(a, b, ctx.output) * tb : tb);
      },
      [a, b](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * pow_slope_base(a, b) : Tensor(),
                ctx.needs[1] ? g * pow_slope_exponent(a, b, ctx.output) : Tensor()};
      },
      caller);
}

// The base as a constant 0-d tensor: the same values and exponent gradient as PyTorch's
// pow(Scalar, Tensor).
Tensor pow(double base, const Tensor& exponent, const SourceLocation& caller) {
  detail::check_defined("pow", exponent);
  return pow(scalar_like(exponent, base), exponent, caller);
}

// atan2(A, B), the angle of (B, A): dC = (B dA − A dB) / (A² + B²).
static const OpInfo atan2_info{"atan2", "dC = (B ⊙ dA − A ⊙ dB) ⊘ (A² + B²)",
                               "tC = (B ⊙ tA − A ⊙ tB) ⊘ (A² + B²)",
                               "gA = gC ⊙ B ⊘ (A² + B²), gB = −gC ⊙ A ⊘ (A² + B²)",
    "C = atan2(A, B)"};
Tensor atan2(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  Tensor out = binary("atan2", a, b, [](auto u, auto v) { return std::atan2(u, v); });
  return record(
      atan2_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb) {
        const Tensor r = reciprocal(square(a) + square(b));
        return (b * r) * ta - (a * r) * tb;
      },
      [a, b](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor gr = g * reciprocal(square(a) + square(b));
        return {ctx.needs[0] ? gr * b : Tensor(), ctx.needs[1] ? -gr * a : Tensor()};
      },
      caller);
}

// C = √(A² + B²) without overflow (std::hypot); the gradient at (0, 0) is NaN, as in PyTorch.
static const OpInfo hypot_info{"hypot", "dC = (A ⊙ dA + B ⊙ dB) ⊘ C", "tC = (A ⊙ tA + B ⊙ tB) ⊘ C",
                               "gA = gC ⊙ A ⊘ C, gB = gC ⊙ B ⊘ C", Saves::inputs_and_output,
    "C = √(A² + B²)"};
Tensor hypot(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  Tensor out = binary("hypot", a, b, [](auto u, auto v) { return std::hypot(u, v); });
  return record(
      hypot_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb, const JvpContext& ctx) {
        return (a / ctx.output) * ta + (b / ctx.output) * tb;
      },
      [a, b](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor gc = g / ctx.output;
        return {ctx.needs[0] ? gc * a : Tensor(), ctx.needs[1] ? gc * b : Tensor()};
      },
      caller);
}

// fmod and remainder: C = A − q B with q = trunc(A / B) (fmod, the sign of A) or floor(A / B)
// (remainder, the sign of B), piecewise constant: gA = gC, gB = −gC ⊙ q. q is div with that
// rounding mode, recorded with a zero gradient, so second order is right too.
static const OpInfo fmod_info{"fmod", "dC = dA − trunc(A ⊘ B) ⊙ dB", "tC = tA − trunc(A ⊘ B) ⊙ tB",
                              "gA = gC, gB = −gC ⊙ trunc(A ⊘ B)",
    "C = A − trunc(A ⊘ B) ⊙ B"};
static const OpInfo remainder_info{"remainder", "dC = dA − floor(A ⊘ B) ⊙ dB",
                                   "tC = tA − floor(A ⊘ B) ⊙ tB", "gA = gC, gB = −gC ⊙ floor(A ⊘ B)",
    "C = A − floor(A ⊘ B) ⊙ B"};

static Tensor modulo(const OpInfo& info, Tensor out, const Tensor& a, const Tensor& b,
                     std::string_view rounding, const SourceLocation& caller) {
  return record(
      info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb) {
        return ta - (tb ? div(a, b, rounding) * tb : tb);
      },
      [a, b, rounding](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {g, ctx.needs[1] ? -g * div(a, b, rounding) : Tensor()};
      },
      caller);
}

Tensor fmod(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  Tensor out = binary("fmod", a, b, [](auto u, auto v) { return std::fmod(u, v); });
  return modulo(fmod_info, std::move(out), a, b, "trunc", caller);
}

Tensor remainder(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  if (a.dtype() == DType::int64 && b.dtype() == DType::int64) return detail::integer_remainder(a, b);
  Tensor out = binary("remainder", a, b, [](auto u, auto v) {
    auto mod = std::fmod(u, v);
    if (mod != 0 && (v < 0) != (mod < 0)) mod += v;
    return mod;
  });
  return modulo(remainder_info, std::move(out), a, b, "floor", caller);
}

// |A| with B's sign: gA = gC ⊙ C ⊘ A (±1, and 0 at A = 0), gB = 0, as in PyTorch.
static Tensor copysign_slope(const Tensor& a, const Tensor& b) {
  return binary("copysign", a, b, [](auto u, auto v) {
    using T = decltype(u);
    return u == 0 ? T(0) : std::signbit(u) == std::signbit(v) ? T(1) : T(-1);
  });
}

static const OpInfo copysign_info{"copysign", "dC = (C ⊘ A) ⊙ dA (that is ±dA; zero at A = 0)", "tC = (C ⊘ A) ⊙ tA",
                                  "gA = gC ⊙ C ⊘ A (zero at A = 0), gB = 0",
    "C = copysign(A, B) (that is |A| with the sign of B, ±0 included)"};
Tensor copysign(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  Tensor out = binary("copysign", a, b, [](auto u, auto v) { return std::copysign(u, v); });
  return record(
      copysign_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent&) { return ta ? copysign_slope(a, b) * ta : ta; },
      [a, b](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * copysign_slope(a, b) : Tensor(), ctx.needs[1] ? zeros_like(b) : Tensor()};
      },
      caller);
}

// C = S + W (E − S), computed as PyTorch does (from E when |W| ≥ ½, which is exact at W = 1).
static const OpInfo lerp_info{"lerp", "dC = (1 − W) ⊙ dS + W ⊙ dE + (E − S) ⊙ dW",
                              "tC = (1 − W) ⊙ tS + W ⊙ tE + (E − S) ⊙ tW",
                              "gS = gC ⊙ (1 − W), gE = gC ⊙ W, gW = gC ⊙ (E − S)",
    "C = S + W ⊙ (E − S)"};
Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight, const SourceLocation& caller) {
  Tensor out = ternary("lerp", start, end, weight, [](auto s, auto e, auto w) {
    using T = decltype(s);
    return std::abs(w) < T(0.5) ? s + w * (e - s) : e - (e - s) * (T(1) - w);
  });
  return record(
      lerp_info, std::move(out), {start, end, weight},
      [&](const Tangent& ts, const Tangent& te, const Tangent& tw) {
        return (ts ? (1.0 - weight) * ts : ts) + (te ? weight * te : te) + (tw ? (end - start) * tw : tw);
      },
      [start, end, weight](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * (1.0 - weight) : Tensor(), ctx.needs[1] ? g * weight : Tensor(),
                ctx.needs[2] ? g * (end - start) : Tensor()};
      },
      caller);
}

Tensor lerp(const Tensor& start, const Tensor& end, double weight, const SourceLocation& caller) {
  detail::check_defined("lerp", start);
  return lerp(start, end, scalar_like(start, weight), caller);
}

// clamp with tensor bounds; a missing bound is ∓∞. PyTorch's masks: A's gradient passes where
// lo ≤ A ≤ hi, lo's where A < lo < hi, hi's where A > hi or hi < lo (then C = hi).
template <class P>
static Tensor clamp_mask(const Tensor& a, const Tensor& lo, const Tensor& hi, P pred) {
  return ternary("clamp", a, lo, hi, [&](auto x, auto l, auto h) {
    return static_cast<decltype(x)>(pred(x, l, h) ? 1 : 0);
  });
}
static Tensor clamp_passes_a(const Tensor& a, const Tensor& lo, const Tensor& hi) {
  return clamp_mask(a, lo, hi, [](auto x, auto l, auto h) { return l <= x && x <= h; });
}
static Tensor clamp_passes_lo(const Tensor& a, const Tensor& lo, const Tensor& hi) {
  return clamp_mask(a, lo, hi, [](auto x, auto l, auto h) { return x < l && l < h; });
}
static Tensor clamp_passes_hi(const Tensor& a, const Tensor& lo, const Tensor& hi) {
  return clamp_mask(a, lo, hi, [](auto x, auto l, auto h) { return x > h || h < l; });
}

static const OpInfo clamp_tensor_info{
    "clamp (tensor bounds)", "dC = [lo ≤ A ≤ hi] ⊙ dA + [A < lo < hi] ⊙ dlo + [A > hi or hi < lo] ⊙ dhi",
    "tC = [lo ≤ A ≤ hi] ⊙ tA + [A < lo < hi] ⊙ tlo + [A > hi or hi < lo] ⊙ thi",
    "gA = gC ⊙ [lo ≤ A ≤ hi], glo = gC ⊙ [A < lo < hi], ghi = gC ⊙ [A > hi or hi < lo]",
    "C = clamp(A, lo, hi)"};
Tensor clamp(const Tensor& a, const Tensor& min, const Tensor& max, const SourceLocation& caller) {
  detail::check_defined("clamp", a);
  if (!min.defined() && !max.defined()) fail<ValueError>("clamp: at least one of min and max must be given");
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor lo = min.defined() ? min : scalar_like(a, -inf);
  const Tensor hi = max.defined() ? max : scalar_like(a, inf);
  Tensor out = ternary("clamp", a, lo, hi, [](auto x, auto l, auto h) {
    if (x < l) x = l;
    if (x > h) x = h;
    return x;
  });
  return record(
      clamp_tensor_info, std::move(out), {a, lo, hi},
      [&](const Tangent& ta, const Tangent& tl, const Tangent& th) {
        return (ta ? clamp_passes_a(a, lo, hi) * ta : ta) + (tl ? clamp_passes_lo(a, lo, hi) * tl : tl) +
               (th ? clamp_passes_hi(a, lo, hi) * th : th);
      },
      [a, lo, hi](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * clamp_passes_a(a, lo, hi) : Tensor(),
                ctx.needs[1] ? g * clamp_passes_lo(a, lo, hi) : Tensor(),
                ctx.needs[2] ? g * clamp_passes_hi(a, lo, hi) : Tensor()};
      },
      caller);
}

// Composed: one more pass for alpha ≠ 1 costs what a fused kernel would save.
Tensor add(const Tensor& a, const Tensor& b, double alpha, const SourceLocation& caller) {
  detail::check_same_dtype("add", a, b);
  return alpha == 1.0 ? add(a, b, caller) : add(a, mul(b, scalar_like(b, alpha), caller), caller);
}
Tensor sub(const Tensor& a, const Tensor& b, double alpha, const SourceLocation& caller) {
  detail::check_same_dtype("sub", a, b);
  return alpha == 1.0 ? sub(a, b, caller) : sub(a, mul(b, scalar_like(b, alpha), caller), caller);
}

}  // namespace matgrad
