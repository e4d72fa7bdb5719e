// Scans along one dim: cumsum, cumprod and logcumsumexp, each running in double. A 0-d tensor
// takes dim 0 or -1 and is its own scan. The gradients need the same scans run from the end
// (cumsum's VJP is a cumsum from the end, and back): those are the ops' own reverse form, the
// flag `reverse` below, not a public op (torch writes them as flip, scan, flip).
#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace matgrad {

using detail::check_defined;

namespace {

// out[k] = step(out[k − 1], x[k]) along dim d from init (from the end when reversed).
template <class T, class Step>
Array<T> scan(std::string_view op, const Array<T>& x, std::size_t d, bool reverse, double init, Step step) {
  const detail::DimSplit split = detail::split_at(x.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  auto out = detail::empty_array<T>(x.shape(), op);
  std::vector<double> acc(inner);
  for (std::size_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), init);
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t at = (o * n + (reverse ? n - 1 - j : j)) * inner;
      for (std::size_t i = 0; i < inner; ++i) {
        acc[i] = step(acc[i], static_cast<double>(x.data()[at + i]));
        out.data()[at + i] = static_cast<T>(acc[i]);
      }
    }
  }
  return out;
}

// A scan applied to a tangent: each direction's, along the input's dim.
template <class F>
Tangent scan_tangent(const Tangent& t, std::size_t d, F f) {
  if (!t || t.primal_dim() == 0) return t;
  return Tangent(f(t.tensor(), d + (t.batch() ? 1 : 0)), t.batch());
}

std::size_t scan_dim(std::string_view op, const Tensor& a, std::ptrdiff_t dim) {
  check_defined(op, a);
  return detail::wrap_dim(op, dim, a.dim());
}

const OpInfo cumsum_info{"cumsum", "dC = cumsum(dA, dim)", "tC = cumsum(tA, dim)",
                         "gA = revcumsum(gC, dim) (the cumsum of gC from the end, Σ_{j ≥ k} gC_j)", Saves::nothing,
    "C = cumsum(A, dim)"};
Tensor cumulative_sum(const Tensor& a, std::size_t d, bool reverse,
                      const SourceLocation& caller = SourceLocation::current()) {
  Tensor out = detail::map_data(a, [&](const auto& x) {
    return scan("cumsum", x, d, reverse, 0.0, [](double s, double v) { return s + v; });
  });
  return record(
      cumsum_info, std::move(out), {a},
      [&](const Tangent& ta) {
        return scan_tangent(ta, d, [reverse](const Tensor& t, std::size_t dt) { return cumulative_sum(t, dt, reverse); });
      },
      [d, reverse](const Tensor& g) -> Grads { return {cumulative_sum(g, d, !reverse)}; }, caller);
}

// log(eˣ + eʸ) as torch's: a NaN propagates, and equal infinities stay what they are.
double log_add_exp(double x, double y) {
  const double lo = std::isnan(y) ? y : std::min(x, y), hi = std::isnan(y) ? y : std::max(x, y);
  if (lo != hi || std::isfinite(lo)) return std::log1p(std::exp(lo - hi)) + hi;
  return x;
}

// log |w| of w's positive and of its negative part, the dtype's lowest value where that part is
// 0 (not −inf, so that no inf − inf or 0 · inf appears further on or in a derivative).
struct LogParts {
  Tensor positive, negative;
};
LogParts log_parts(const Tensor& w) {
  const double lowest = w.dtype() == DType::float32 ? std::numeric_limits<float>::lowest()
                                                    : std::numeric_limits<double>::lowest();
  const Tensor zero = scalar_like(w, 0.0), floor = scalar_like(w, lowest), one = ones_like(w);
  const Tensor pos = gt(w, zero), neg = lt(w, zero);
  return {where(pos, log(where(pos, w, one)), floor), where(neg, log(where(neg, -w, one)), floor)};
}

Tensor cumulative_logsumexp(const Tensor& a, std::size_t d, bool reverse,
                            const SourceLocation& caller = SourceLocation::current());

// Σ_{j ≤ k} w_j exp(u_j) for any signed w (from the end when reversed), as
// exp(logcumsumexp(log w⁺ + u)) − exp(logcumsumexp(log w⁻ + u)): nothing overflows.
Tensor signed_scan(const Tensor& w, const Tensor& u, const Tensor& shift, std::size_t d, bool reverse) {
  const LogParts parts = log_parts(w);
  return exp(cumulative_logsumexp(parts.positive + u, d, reverse) - shift) -
         exp(cumulative_logsumexp(parts.negative + u, d, reverse) - shift);
}

// C_k = log Σ_{j ≤ k} exp(A_j):  dC_k = Σ_{j ≤ k} exp(A_j − C_k) dA_j.
const OpInfo logcumsumexp_info{"logcumsumexp", "dC = exp(−C) ⊙ cumsum(exp(A) ⊙ dA, dim) (that is dC_k = Σ_{j ≤ k} exp(A_j − C_k) dA_j)",
                               "tC = exp(−C) ⊙ cumsum(exp(A) ⊙ tA, dim) (by signed parts in log space)",
                               "gA = exp(A) ⊙ revcumsum(gC ⊙ exp(−C), dim) (by signed parts in log space)",
                               Saves::inputs_and_output,
    "C = log(cumsum(exp(A), dim))"};
Tensor cumulative_logsumexp(const Tensor& a, std::size_t d, bool reverse, const SourceLocation& caller) {
  Tensor out = detail::map_data(a, [&](const auto& x) {
    return scan("logcumsumexp", x, d, reverse, -std::numeric_limits<double>::infinity(), log_add_exp);
  });
  return record(
      logcumsumexp_info, std::move(out), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        const Tensor c = ctx.output;
        return ta.map([&](const Tensor& t) { return signed_scan(t, a, c, d, reverse); });
      },
      [a, d, reverse](const Tensor& g, const VjpContext& ctx) -> Grads {
        // Σ_{k ≥ j} g_k exp(A_j − C_k) = exp(A_j) Σ_{k ≥ j} g_k exp(−C_k): the other direction.
        return {signed_scan(g, -ctx.output, -a, d, !reverse)};
      },
      caller);
}

}  // namespace

Tensor cumsum(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller) {
  return cumulative_sum(a, scan_dim("cumsum", a, dim), false, caller);
}

Tensor logcumsumexp(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller) {
  return cumulative_logsumexp(a, scan_dim("logcumsumexp", a, dim), false, caller);
}

namespace {

// The gradient of C = cumprod(A) along d: gA_j = Σ_{k ≥ j} gC_k ∂C_k/∂A_j. Without zeros,
// ∂C_k/∂A_j = C_k / A_j, so gA = revcumsum(gC ⊙ C) ⊘ A. With zeros (as torch): before the first
// zero of a slice the same; at it, Σ_{k ≥ j} gC_k Π_{i ≤ k, i ≠ j} A_i = revcumsum(gC ⊙
// cumprod(A with that zero as 1)); after it, 0.
Tensor cumprod_vjp(const Tensor& g, const Tensor& a, const Tensor& c, std::size_t d) {
  const Tensor zero = scalar_like(a, 0.0), one = scalar_like(a, 1.0);
  const Tensor is_zero = eq(a, zero);
  if (sum(is_zero).item() == 0) return cumulative_sum(g * c, d, true) / a;
  const Tensor zeros_so_far = cumulative_sum(is_zero, d, false);
  const Tensor before = eq(zeros_so_far, zero);
  const Tensor first = is_zero * eq(zeros_so_far, one);
  const Tensor early = where(before, cumulative_sum(g * c, d, true) / where(before, a, one), zero);
  const auto sd = static_cast<std::ptrdiff_t>(d);
  return early + first * cumulative_sum(g * cumprod(where(first, one, a), sd), d, true);
}

// tC_k = Σ_{j ≤ k} ∂C_k/∂A_j tA_j: C ⊙ cumsum(tA ⊘ A) without zeros; from a slice's first zero
// on, cumprod(A with tA at that zero), as torch's cumprod_jvp.
Tensor cumprod_jvp(const Tensor& t, const Tensor& a, const Tensor& c, std::size_t d) {
  const Tensor zero = scalar_like(a, 0.0), one = scalar_like(a, 1.0);
  const Tensor is_zero = eq(a, zero);
  if (sum(is_zero).item() == 0) return c * cumulative_sum(t / a, d, false);
  const Tensor zeros_so_far = cumulative_sum(is_zero, d, false);
  const Tensor first = is_zero * eq(zeros_so_far, one);
  const Tensor early = c * cumulative_sum(t / where(is_zero, one, a), d, false);
  const auto sd = static_cast<std::ptrdiff_t>(d);
  return where(eq(zeros_so_far, zero), early, cumprod(where(first, t, a), sd));
}

const OpInfo cumprod_info{"cumprod", "dC = C ⊙ cumsum(dA ⊘ A, dim) (that is dC_k = Σ_{j ≤ k} (Π_{i ≤ k, i ≠ j} A_i) dA_j; zeros as torch)",
                          "tC = C ⊙ cumsum(tA ⊘ A, dim) (zeros as torch)",
                          "gA = revcumsum(gC ⊙ C, dim) ⊘ A (zeros as torch)", Saves::inputs_and_output,
    "C = cumprod(A, dim)"};

}  // namespace

Tensor cumprod(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller) {
  const std::size_t d = scan_dim("cumprod", a, dim);
  Tensor out = detail::map_data(a, [&](const auto& x) {
    return scan("cumprod", x, d, false, 1.0, [](double p, double v) { return p * v; });
  });
  return record(
      cumprod_info, std::move(out), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        if (a.dim() == 0) return ta;
        const Tensor c = ctx.output;
        return ta.map([&](const Tensor& t) { return cumprod_jvp(t, a, c, d); });
      },
      [a, d](const Tensor& g, const VjpContext& ctx) -> Grads {
        if (a.dim() == 0) return {g};
        return {cumprod_vjp(g, a, ctx.output, d)};
      },
      caller);
}

}  // namespace matgrad
