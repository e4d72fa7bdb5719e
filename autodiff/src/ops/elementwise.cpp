// Elementwise functions, the non-differentiable comparisons and where.
//
// Every VJP is written with matgrad ops, so it can itself be differentiated. Masks (relu,
// clamp, ...) come from the comparisons: they are constants of the backward graph, which is
// right, as their derivative is zero almost everywhere. Values at non-differentiable points
// follow PyTorch and are noted next to each op.
#include "matgrad/composed_op.hpp"
#include "pointwise.hpp"

#include <cmath>
#include <functional>
#include <limits>

namespace matgrad {

using detail::check_defined;
using detail::map_data;
using detail::mask_of;
using detail::unary;

static Tensor zero_like_scalar(const Tensor& like) { return scalar_like(like, 0.0); }

static const OpInfo exp_info{"exp", "dC = C ⊙ dA", "tC = tA ⊙ C", "gA = gC ⊙ C", Saves::output,
    "C = exp(A)"};
Tensor exp(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("exp", a, [](auto v) { return std::exp(v); });
  return record(
      exp_info, std::move(out), {a},
      [](const Tangent& ta, const JvpContext& ctx) { return ta * ctx.output; },
      [](const Tensor& g, const VjpContext& ctx) -> Grads { return {g * ctx.output}; }, caller);
}

static const OpInfo log_info{"log", "dC = dA ⊘ A", "tC = tA ⊘ A", "gA = gC ⊘ A",
    "C = log(A)"};
Tensor log(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("log", a, [](auto v) { return std::log(v); });
  return record(
      log_info, std::move(out), {a},
      [&](const Tangent& ta) { return ta / a; },
      [a](const Tensor& g) -> Grads { return {g / a}; }, caller);
}

// At 0 the gradient is gC / 0 = +inf (for gC > 0), as in PyTorch.
static const OpInfo sqrt_info{"sqrt", "dC = dA ⊘ (2 C)", "tC = tA ⊘ (2 C)", "gA = gC ⊘ (2 C)",
                              Saves::output,
    "C = √A"};
Tensor sqrt(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("sqrt", a, [](auto v) { return std::sqrt(v); });
  return record(
      sqrt_info, std::move(out), {a},
      [](const Tangent& ta, const JvpContext& ctx) { return ta / (2.0 * ctx.output); },
      [](const Tensor& g, const VjpContext& ctx) -> Grads { return {g / (2.0 * ctx.output)}; }, caller);
}

// pow(A, 0) is the constant 1: its derivative is exactly 0, even at A = 0 (as in PyTorch).
static const OpInfo pow_info{"pow", "dC = p A^(p−1) ⊙ dA", "tC = p A^(p−1) ⊙ tA (0 for p = 0)",
                             "gA = gC ⊙ p A^(p−1) (0 for p = 0)",
    "C = A^p"};
Tensor pow(const Tensor& a, double exponent, const SourceLocation& caller) {
  Tensor out = unary(
      "pow", a, [exponent](auto v) { return std::pow(v, static_cast<decltype(v)>(exponent)); });
  return record(
      pow_info, std::move(out), {a},
      [&](const Tangent& ta) { return exponent == 0.0 ? Tangent() : ta * (exponent * pow(a, exponent - 1.0)); },
      [a, exponent](const Tensor& g) -> Grads {
        if (exponent == 0.0) return {zeros_like(g)};
        return {g * (exponent * pow(a, exponent - 1.0))};
      },
      caller);
}

static const OpInfo square_info{"square", "dC = 2 A ⊙ dA", "tC = 2 A ⊙ tA", "gA = 2 gC ⊙ A",
    "C = A²"};
Tensor square(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("square", a, [](auto v) { return v * v; });
  return record(
      square_info, std::move(out), {a},
      [&](const Tangent& ta) { return (2.0 * a) * ta; },
      [a](const Tensor& g) -> Grads { return {2.0 * (g * a)}; }, caller);
}

// abs'(0) = sign(0) = 0, as in PyTorch.
static const OpInfo abs_info{"abs", "dC = sign(A) ⊙ dA", "tC = sign(A) ⊙ tA",
                             "gA = gC ⊙ sign(A) (0 at A = 0)",
    "C = |A|"};
Tensor abs(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("abs", a, [](auto v) { return std::abs(v); });
  return record(
      abs_info, std::move(out), {a},
      [&](const Tangent& ta) { return sign(a) * ta; },
      [a](const Tensor& g) -> Grads { return {g * sign(a)}; }, caller);
}

// The VJP of tanh and sigmoid, gC ⊙ f'(A) read off the saved output C, as a two-input op of its
// own (G, C): one pass and one tensor, where the composed form g * (1.0 - square(c)) made four.
// It differentiates again in both arguments, so second order through tanh and sigmoid works.
// G may broadcast against C (batched tangents do: [directions] ++ C's shape).
template <class F>
static Tensor backward_kernel(std::string_view op, const Tensor& g, const Tensor& c, F f) {
  return detail::map_data2(op, g, c, [&](const auto& x, const auto& y) {
    return detail::elementwise(op, x, y, f);
  });
}

static const OpInfo tanh_info{"tanh", "dC = (1 − C²) ⊙ dA", "tC = tanh_backward(tA, C)",
                              "gA = gC ⊙ (1 − C²)", Saves::output,
    "C = tanh(A)"};
Tensor tanh(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("tanh", a, [](auto v) { return std::tanh(v); });
  return record(
      tanh_info, std::move(out), {a},
      [](const Tangent& ta, const JvpContext& ctx) { return tanh_backward(ta, ctx.output); },
      [](const Tensor& g, const VjpContext& ctx) -> Grads { return {tanh_backward(g, ctx.output)}; },
      caller);
}

// D = G ⊙ (1 − C²);  dD = dG ⊙ (1 − C²) − 2 G ⊙ C ⊙ dC
static const OpInfo tanh_backward_info{"tanh_backward", "dD = dG ⊙ (1 − C²) − 2 G ⊙ C ⊙ dC",
                                       "tD = tanh_backward(tG, C) − 2 G ⊙ C ⊙ tC",
                                       "gG = gD ⊙ (1 − C²), gC = −2 gD ⊙ G ⊙ C",
    "D = G ⊙ (1 − C²)"};
Tensor tanh_backward(const Tensor& g, const Tensor& c, const SourceLocation& caller) {
  Tensor out = backward_kernel("tanh_backward", g, c, [](auto u, auto v) { return u * (1 - v * v); });
  return record(
      tanh_backward_info, std::move(out), {g, c},
      [&](const Tangent& tg, const Tangent& tc) { return tanh_backward(tg, c) - (2.0 * (g * c)) * tc; },
      [g, c](const Tensor& gd, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? tanh_backward(gd, c) : Tensor(),
                ctx.needs[1] ? -2.0 * (gd * g * c) : Tensor()};
      },
      caller);
}

// σ(x) = 1 / (1 + e^−x), evaluated without overflow on either side.
template <class T>
static T stable_sigmoid(T v) {
  if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
  const T e = std::exp(v);
  return e / (T(1) + e);
}

static const OpInfo sigmoid_info{"sigmoid", "dC = C ⊙ (1 − C) ⊙ dA", "tC = sigmoid_backward(tA, C)",
                                 "gA = gC ⊙ C ⊙ (1 − C)", Saves::output,
    "C = σ(A)"};
Tensor sigmoid(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("sigmoid", a, [](auto v) { return stable_sigmoid(v); });
  return record(
      sigmoid_info, std::move(out), {a},
      [](const Tangent& ta, const JvpContext& ctx) { return sigmoid_backward(ta, ctx.output); },
      [](const Tensor& g, const VjpContext& ctx) -> Grads { return {sigmoid_backward(g, ctx.output)}; },
      caller);
}

// D = G ⊙ C ⊙ (1 − C);  dD = dG ⊙ C ⊙ (1 − C) + G ⊙ (1 − 2C) ⊙ dC
static const OpInfo sigmoid_backward_info{
    "sigmoid_backward", "dD = dG ⊙ C ⊙ (1 − C) + G ⊙ (1 − 2C) ⊙ dC",
    "tD = sigmoid_backward(tG, C) + G ⊙ (1 − 2C) ⊙ tC", "gG = gD ⊙ C ⊙ (1 − C), gC = gD ⊙ G ⊙ (1 − 2C)",
    "D = G ⊙ C ⊙ (1 − C)"};
Tensor sigmoid_backward(const Tensor& g, const Tensor& c, const SourceLocation& caller) {
  Tensor out = backward_kernel("sigmoid_backward", g, c, [](auto u, auto v) { return u * (v * (1 - v)); });
  return record(
      sigmoid_backward_info, std::move(out), {g, c},
      [&](const Tangent& tg, const Tangent& tc) {
        return sigmoid_backward(tg, c) + (g * (1.0 - 2.0 * c)) * tc;
      },
      [g, c](const Tensor& gd, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? sigmoid_backward(gd, c) : Tensor(),
                ctx.needs[1] ? gd * g * (1.0 - 2.0 * c) : Tensor()};
      },
      caller);
}

// relu'(0) = 0, as in PyTorch (the gradient passes only where A > 0). NaN propagates.
static const OpInfo relu_info{"relu", "dC = [A > 0] ⊙ dA", "tC = relu_backward(tA, A)",
                              "gA = gC ⊙ [A > 0]",
    "C = max(A, 0)"};
Tensor relu(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("relu", a, [](auto v) { return v < 0 ? decltype(v)(0) : v; });
  return record(
      relu_info, std::move(out), {a},
      [&](const Tangent& ta) { return relu_backward(ta, a); },
      [a](const Tensor& g) -> Grads { return {relu_backward(g, a)}; }, caller);
}

// relu's VJP in one pass (no mask tensor): C = G ⊙ [A > 0]. The mask is piecewise constant,
// so A gets no gradient (and contributes no tangent), and G's is the same masking: a
// second-order pass through relu records this op again.
static const OpInfo relu_backward_info{"relu_backward", "dC = dG ⊙ [A > 0]",
                                       "tC = relu_backward(tG, A)", "gG = gC ⊙ [A > 0], gA = 0",
    "C = G ⊙ [A > 0]"};
Tensor relu_backward(const Tensor& g, const Tensor& a, const SourceLocation& caller) {
  Tensor out = backward_kernel("relu_backward", g, a,
                               [](auto u, auto v) { return v > 0 ? u : decltype(u)(0); });
  return record(
      relu_backward_info, std::move(out), {g, a},
      [&](const Tangent& tg, const Tangent&) { return relu_backward(tg, a); },
      [a](const Tensor& gc, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? relu_backward(gc, a) : Tensor(), ctx.needs[1] ? zeros_like(a) : Tensor()};
      },
      caller);
}

// leaky_relu'(0) = negative_slope, as in PyTorch (slope 1 only where A > 0).
static const OpInfo leaky_relu_info{"leaky_relu", "dC = ([A > 0] + s [A ≤ 0]) ⊙ dA",
                                    "tC = where(A > 0, 1, s) ⊙ tA", "gA = where(A > 0, gC, s gC)",
    "C = where(A > 0, A, s A)"};
Tensor leaky_relu(const Tensor& a, double negative_slope, const SourceLocation& caller) {
  Tensor out = unary("leaky_relu", a, [negative_slope](auto v) {
    return v > 0 ? v : static_cast<decltype(v)>(negative_slope) * v;
  });
  return record(
      leaky_relu_info, std::move(out), {a},
      [&](const Tangent& ta) {
        const Tensor slope = unary("leaky_relu", a, [negative_slope](auto v) {
          return v > 0 ? decltype(v)(1) : static_cast<decltype(v)>(negative_slope);
        });  // piecewise constant: a constant of the graph, as the masks are
        return slope * ta;
      },
      [a, negative_slope](const Tensor& g) -> Grads {
        return {where(gt(a, zero_like_scalar(a)), g, g * negative_slope)};
      },
      caller);
}

// softplus(x) = log(1 + e^(βx)) / β, and x itself where βx > threshold (PyTorch's linear
// regime, derivative exactly 1 there; the threshold itself is still in the log regime). Its
// slope s(A) = where(βA > threshold, 1, σ(βA)) multiplies the tangent and the gradient alike,
// in softplus_backward's one pass.
static const OpInfo softplus_info{"softplus", "dC = σ(βA) ⊙ dA (dA where βA > threshold)",
                                  "tC = softplus_backward(tA, A, β, threshold)",
                                  "gA = softplus_backward(gC, A, β, threshold)",
    "C = log(1 + exp(β A)) / β"};
Tensor softplus(const Tensor& a, double beta, double threshold, const SourceLocation& caller) {
  Tensor out = unary("softplus", a, [beta, threshold](auto v) {
    using T = decltype(v);
    const T bx = v * static_cast<T>(beta);
    if (bx > static_cast<T>(threshold)) return v;
    return std::log1p(std::exp(bx)) / static_cast<T>(beta);
  });
  return record(
      softplus_info, std::move(out), {a},
      [&](const Tangent& ta) { return softplus_backward(ta, a, beta, threshold); },
      [a, beta, threshold](const Tensor& g) -> Grads { return {softplus_backward(g, a, beta, threshold)}; },
      caller);
}

// s'(A) = β σ(βA) ⊙ (1 − σ(βA)) in the log regime, 0 in the linear one: sigmoid_backward of
// the log regime's 0/1 mask, a constant of the graph as the other masks are.
static Tensor softplus_slope_derivative(const Tensor& a, double beta, double threshold) {
  const Tensor log_regime = mask_of("softplus_backward", a, [&](auto v) {
    return !(v * static_cast<decltype(v)>(beta) > static_cast<decltype(v)>(threshold));
  });
  const Tensor s = sigmoid_backward(log_regime, sigmoid(beta == 1.0 ? a : a * beta));
  return beta == 1.0 ? s : s * beta;
}

// D = G ⊙ s(A), s(A) = where(βA > threshold, 1, σ(βA)): softplus's VJP in one pass and one
// tensor, where the composed slope took five ops (torch.ops.aten.softplus_backward).
//   dD = dG ⊙ s(A) + G ⊙ s'(A) ⊙ dA
static const OpInfo softplus_backward_info{
    "softplus_backward", "dD = dG ⊙ s(A) + G ⊙ s'(A) ⊙ dA, s(A) = where(βA > threshold, 1, σ(βA))",
    "tD = softplus_backward(tG, A, β, threshold) + G ⊙ s'(A) ⊙ tA",
    "gG = softplus_backward(gD, A, β, threshold), gA = gD ⊙ G ⊙ s'(A) (s' = β σ(βA)(1 − σ(βA)), 0 where βA > threshold)",
    "D = G ⊙ where(βA > threshold, 1, σ(βA))"};
Tensor softplus_backward(const Tensor& g, const Tensor& a, double beta, double threshold,
                         const SourceLocation& caller) {
  Tensor out = backward_kernel("softplus_backward", g, a, [beta, threshold](auto u, auto v) {
    using T = decltype(v);
    const T bx = v * static_cast<T>(beta);
    return bx > static_cast<T>(threshold) ? u : u * stable_sigmoid(bx);
  });
  return record(
      softplus_backward_info, std::move(out), {g, a},
      [&](const Tangent& tg, const Tangent& ta) {
        const Tangent first = softplus_backward(tg, a, beta, threshold);
        return ta ? first + (g * softplus_slope_derivative(a, beta, threshold)) * ta : first;
      },
      [g, a, beta, threshold](const Tensor& gd, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? softplus_backward(gd, a, beta, threshold) : Tensor(),
                ctx.needs[1] ? gd * g * softplus_slope_derivative(a, beta, threshold) : Tensor()};
      },
      caller);
}

// The derivative passes where min <= A <= max, bounds included (PyTorch); where min > max
// every element becomes max and none passes. NaN stays NaN with zero derivative.
static Tensor clamp_passes(const Tensor& a, double lo, double hi) {
  return mask_of("clamp", a, [lo, hi](auto v) {
    using T = decltype(v);
    return v >= static_cast<T>(lo) && v <= static_cast<T>(hi);
  });
}

static const OpInfo clamp_info{"clamp", "dC = [min ≤ A ≤ max] ⊙ dA", "tC = [min ≤ A ≤ max] ⊙ tA",
                               "gA = gC ⊙ [min ≤ A ≤ max]",
    "C = clamp(A, min, max)"};
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max, const SourceLocation& caller) {
  check_defined("clamp", a);
  if (!min && !max) fail<ValueError>("clamp: at least one of min and max must be given");
  const double lo = min.value_or(-std::numeric_limits<double>::infinity());
  const double hi = max.value_or(std::numeric_limits<double>::infinity());
  Tensor out = unary("clamp", a, [lo, hi](auto v) {
    using T = decltype(v);
    if (v < static_cast<T>(lo)) v = static_cast<T>(lo);
    if (v > static_cast<T>(hi)) v = static_cast<T>(hi);
    return v;
  });
  return record(
      clamp_info, std::move(out), {a},
      [&](const Tangent& ta) { return clamp_passes(a, lo, hi) * ta; },
      [a, lo, hi](const Tensor& g) -> Grads { return {g * clamp_passes(a, lo, hi)}; }, caller);
}

// ---- not differentiable: the results are constants, never recorded ----

static const ComposedOpInfo sign_composed{"sign", "C = −1, 0 or 1 by the sign of A (a constant: never requires grad)"};
// -1, 0 or 1 (0 for ±0). NaN gives NaN, as in NumPy (PyTorch gives 0).
Tensor sign(const Tensor& a) {
  return unary("sign", a, [](auto v) {
    using T = decltype(v);
    return v > 0 ? T(1) : v < 0 ? T(-1) : v == 0 ? T(0) : v;
  });
}

template <class F>
static Tensor compare(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  detail::check_same_dtype_any(op, a, b);  // int64 too: 0/1 in the inputs' dtype (no bool dtype)
  return a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    return detail::elementwise(op, x, b.data<T>(), [&](T u, T v) { return static_cast<T>(f(u, v) ? 1 : 0); });
  });
}

static const ComposedOpInfo gt_composed{"gt", "C = [A > B] as 0/1 in A's dtype (a constant)"};
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", a, b, std::greater<>()); }
static const ComposedOpInfo ge_composed{"ge", "C = [A ≥ B] (a constant)"};
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", a, b, std::greater_equal<>()); }
static const ComposedOpInfo lt_composed{"lt", "C = [A < B] (a constant)"};
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", a, b, std::less<>()); }
static const ComposedOpInfo le_composed{"le", "C = [A ≤ B] (a constant)"};
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", a, b, std::less_equal<>()); }
static const ComposedOpInfo eq_composed{"eq", "C = [A = B] (a constant)"};
Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", a, b, std::equal_to<>()); }
static const ComposedOpInfo ne_composed{"ne", "C = [A ≠ B] (a constant; NaN ≠ NaN)"};
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", a, b, std::not_equal_to<>()); }  // NaN != NaN: 1

// C = where(M, A, B);  dC = where(M, dA, 0) + where(M, 0, dB). The condition is only read
// (non-zero = take A; it may have either dtype) and never differentiated; A and B share a
// dtype. All three broadcast. M is the record's third input, a constant, so that the engine
// checks its version like any saved input: the VJP reads it.
static const OpInfo where_info{"where", "dC = where(M, dA, 0) + where(M, 0, dB)", "tC = where(M, tA, tB)",
                               "gA = where(M, gC, 0), gB = where(M, 0, gC), gM = 0 (a constant)",
    "C = where(M, A, B)"};
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  detail::check_defined_any_dtype("where", condition);
  detail::check_same_dtype_any("where", a, b);
  const Shape shape = detail::broadcast_shapes(
      "where", detail::broadcast_shapes("where", condition.shape(), a.shape()), b.shape());
  Tensor out = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const auto& y = b.data<T>();
    return condition.visit_any_dtype([&](const auto& m) {
      auto c = detail::empty_array<T>(shape, "where");
      T* dst = c.data();
      const std::size_t n = c.size();
      if (m.shape() == shape && x.shape() == shape && y.shape() == shape) {
        for (std::size_t i = 0; i < n; ++i) dst[i] = m.data()[i] != 0 ? x.data()[i] : y.data()[i];
      } else {
        auto bm = xt::broadcast(m, shape);
        auto bx = xt::broadcast(x, shape);
        auto by = xt::broadcast(y, shape);
        auto im = bm.cbegin();
        auto ix = bx.cbegin();
        auto iy = by.cbegin();
        for (std::size_t i = 0; i < n; ++i, ++im, ++ix, ++iy) dst[i] = *im != 0 ? *ix : *iy;
      }
      return Tensor(std::move(c));
    });
  });
  return record(
      where_info, std::move(out), {a, b, condition},
      [&](const Tangent& ta, const Tangent& tb, const Tangent&) { return where(condition, ta, tb); },
      [condition](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor zero = zero_like_scalar(g);
        return {ctx.needs[0] ? where(condition, g, zero) : Tensor(),
                ctx.needs[1] ? where(condition, zero, g) : Tensor(), Tensor()};
      },
      caller);
}

}  // namespace matgrad
