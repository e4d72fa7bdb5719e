// The softmax family over one dim: softmax and log_softmax (logsumexp, over a list of dims, is
// in sums.cpp). The forward kernels subtract the maximum along the dim, so large inputs (1000,
// 1001, ...) neither overflow nor lose the answer. A 0-d tensor accepts dim 0 or -1 and acts as
// a single element, as in PyTorch.
#include "common.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace matgrad {

using detail::check_defined;
using detail::DimSplit;

namespace {

enum class Kind { softmax, log_softmax };

// The dim as an index; a 0-d tensor is treated as having one dim of size 1.
std::size_t softmax_dim(std::string_view op, const Tensor& a, std::ptrdiff_t dim) {
  check_defined(op, a);
  return detail::wrap_dim(op, dim, a.dim());
}

// Σ over dim d, kept as size 1; a 0-d tensor is its own sum.
Tensor sum_keep(const Tensor& t, std::size_t d) {
  return t.dim() == 0 ? t : sum(t, static_cast<std::ptrdiff_t>(d), true);
}
Tangent sum_keep(const Tangent& t, std::size_t d) { return t.primal_dim() == 0 ? t : sum(t, d, true); }

// With the input viewed as [outer, n, inner]: per (outer, inner) position, the max m along n,
// then z = Σ exp(x − m), then the output. softmax and log_softmax shift by m itself (a row of
// all −inf gives NaN, as in PyTorch). z accumulates in double, so that float32 denominators
// over long dims keep their digits.
template <class T>
void kernel(Kind kind, const T* x, T* y, DimSplit s) {
  const detail::DimSplit split = s;
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  std::vector<T> m(inner);
  std::vector<double> z(inner);
  for (std::size_t o = 0; o < outer; ++o) {
    const T* xo = x + o * n * inner;
    std::fill(m.begin(), m.end(), -std::numeric_limits<T>::infinity());
    std::fill(z.begin(), z.end(), 0.0);
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t i = 0; i < inner; ++i) {
        const T v = xo[k * inner + i];
        if (v > m[i]) m[i] = v;
      }
    }
    if (kind == Kind::softmax) {
      T* yo = y + o * n * inner;
      for (std::size_t k = 0; k < n; ++k) {
        for (std::size_t i = 0; i < inner; ++i) {
          const T e = std::exp(xo[k * inner + i] - m[i]);
          yo[k * inner + i] = e;
          z[i] += e;
        }
      }
      for (std::size_t i = 0; i < inner; ++i) m[i] = static_cast<T>(z[i]);  // m: done with the max
      for (std::size_t k = 0; k < n; ++k) {
        for (std::size_t i = 0; i < inner; ++i) yo[k * inner + i] /= m[i];
      }
      continue;
    }
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t i = 0; i < inner; ++i) z[i] += std::exp(xo[k * inner + i] - m[i]);
    }
    for (std::size_t i = 0; i < inner; ++i) z[i] = std::log(z[i]);  // now log Σ exp(x − m)
    T* yo = y + o * n * inner;
    for (std::size_t k = 0; k < n; ++k) {
      for (std::size_t i = 0; i < inner; ++i) {
        yo[k * inner + i] = (xo[k * inner + i] - m[i]) - static_cast<T>(z[i]);
      }
    }
  }
}

Tensor run(std::string_view op, Kind kind, const Tensor& a, std::size_t d, const Shape& out_shape) {
  const DimSplit s = detail::split_at(a.shape(), d);
  return detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto y = detail::empty_array<T>(out_shape, op);
    kernel(kind, x.data(), y.data(), s);
    return y;
  });
}

}  // namespace

static const OpInfo softmax_info{"softmax", "dC = C ⊙ (dA − Σ_dim(C ⊙ dA))",
                                 "tC = C ⊙ (tA − Σ_dim(C ⊙ tA))", "gA = C ⊙ (gC − Σ_dim(gC ⊙ C))",
                                 Saves::output,
    "C = softmax(A)"};
Tensor softmax(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller) {
  const std::size_t d = softmax_dim("softmax", a, dim);
  Tensor out = run("softmax", Kind::softmax, a, d, a.shape());
  return record(
      softmax_info, std::move(out), {a},
      [d](const Tangent& ta, const JvpContext& ctx) {
        const Tensor& c = ctx.output;
        return c * (ta - sum_keep(c * ta, d));
      },
      [d](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor& c = ctx.output;
        return {c * (g - sum_keep(g * c, d))};
      },
      caller);
}

static const OpInfo log_softmax_info{"log_softmax", "dC = dA − Σ_dim(exp(C) ⊙ dA)",
                                     "tC = tA − Σ_dim(exp(C) ⊙ tA)", "gA = gC − exp(C) ⊙ Σ_dim gC",
                                     Saves::output,
    "C = log_softmax(A)"};
Tensor log_softmax(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller) {
  const std::size_t d = softmax_dim("log_softmax", a, dim);
  Tensor out = run("log_softmax", Kind::log_softmax, a, d, a.shape());
  return record(
      log_softmax_info, std::move(out), {a},
      [d](const Tangent& ta, const JvpContext& ctx) { return ta - sum_keep(exp(ctx.output) * ta, d); },
      [d](const Tensor& g, const VjpContext& ctx) -> Grads { return {g - exp(ctx.output) * sum_keep(g, d)}; },
      caller);
}

}  // namespace matgrad
