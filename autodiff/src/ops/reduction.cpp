// Reductions: sum and mean (all elements or one dim), max and min over a dim. float32 sums
// accumulate in double (common.hpp's total_columns). A 0-d tensor reduces over dim 0 or -1 as
// one element, as in PyTorch.
#include "common.hpp"

#include <cmath>
#include <limits>

namespace matgrad {

using detail::check_defined;
using detail::wrap_dim;

static const OpInfo sum_info{"sum", "dc = Σᵢⱼ dAᵢⱼ = tr(1ᵀ dA)", "tc = Σᵢⱼ tAᵢⱼ", "gA = gc 1 (broadcast)",
                             Saves::nothing,
    "c = Σ A"};
Tensor sum(const Tensor& a, const SourceLocation& caller) {
  check_defined("sum", a);
  Tensor out = detail::map_data(a, [](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    return detail::scalar_array(static_cast<T>(detail::total_contiguous(x.data(), x.size())), "sum");
  });
  const Shape input_shape = a.shape();
  return record(
      sum_info, std::move(out), {a},
      [](const Tangent& ta) { return sum(ta); },
      [input_shape](const Tensor& g) -> Grads { return {broadcast_to(g, input_shape)}; }, caller);
}

static const OpInfo sum_dim_info{"sum_dim", "dC = Σₖ dA[.., k, ..]", "tC = Σₖ tA[.., k, ..]",
                                 "gA = gC broadcast along dim", Saves::nothing,
    "C = Σ_dim A"};
Tensor sum(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  check_defined("sum", a);
  const std::size_t d = wrap_dim("sum", dim, a.dim());
  const Shape out_shape = detail::reduced_shape(a.shape(), d, keepdim);
  Tensor out = detail::map_data(a, [&](const auto& x) { return detail::sum_dim("sum", x, d, out_shape); });
  const Shape input_shape = a.shape();
  return record(
      sum_dim_info, std::move(out), {a},
      [&](const Tangent& ta) { return sum(ta, d, keepdim); },
      [input_shape, d, keepdim](const Tensor& g) -> Grads {
        return {broadcast_to(detail::unreduce(g, d, keepdim, input_shape.size()), input_shape)};
      },
      caller);
}

// mean = sum / n. The mean of nothing is NaN, as in PyTorch, but made as sum + NaN rather than
// sum / 0: a 1/0 factor in the backward would multiply the zeros of a second-order pass into
// NaN (PyTorch divides after broadcasting, where an empty input leaves nothing to divide).
static Tensor divide_by_count(const Tensor& total, std::size_t n, const SourceLocation& caller) {
  if (n == 0) return add(total, scalar_like(total, std::numeric_limits<double>::quiet_NaN()), caller);
  return div(total, scalar_like(total, static_cast<double>(n)), caller);
}

Tensor mean(const Tensor& a, const SourceLocation& caller) {
  check_defined("mean", a);
  return divide_by_count(sum(a, caller), a.numel(), caller);
}

Tensor mean(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  check_defined("mean", a);
  const std::size_t d = wrap_dim("mean", dim, a.dim());
  return divide_by_count(sum(a, dim, keepdim, caller), detail::split_at(a.shape(), d).n, caller);
}

// c = ‖A‖ = sqrt(Σ A²);  dc = tr(Aᵀ dA) / c  =>  gA = gc A / c  (0 where c = 0)
static const OpInfo norm_info{"norm", "dc = tr(Aᵀ dA) / c", "tc = Σ(A ⊙ tA) / c (0 where c = 0)",
                              "gA = gc A / c (0 where c = 0)", Saves::inputs_and_output,
    "c = ‖A‖"};

// g / c where c > 0, else 0: `where` keeps the 0/0 of the other branch out of the result.
static Tensor over_norm(const Tensor& g, const Tensor& c) {
  const Tensor zero = scalar_like(c, 0.0);
  return where(gt(c, zero), g / where(gt(c, zero), c, ones_like(c)), zero);
}

Tensor norm(const Tensor& a, const SourceLocation& caller) {
  check_defined("norm", a);
  Tensor out = detail::map_data(a, [](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    return detail::scalar_array(static_cast<T>(detail::total_contiguous<detail::Total::norm>(x.data(), x.size())), "norm");
  });
  return record(
      norm_info, std::move(out), {a},
      [&](const Tangent& ta, const JvpContext& ctx) { return sum(a * ta) * over_norm(ones_like(ctx.output), ctx.output); },
      [a](const Tensor& g, const VjpContext& ctx) -> Grads { return {a * over_norm(g, ctx.output)}; },
      caller);
}

Tensor norm(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  check_defined("norm", a);
  const std::size_t d = wrap_dim("norm", dim, a.dim());
  const Shape out_shape = detail::reduced_shape(a.shape(), d, keepdim);
  Tensor out = detail::map_data(
      a, [&](const auto& x) { return detail::sum_dim<detail::Total::norm>("norm", x, d, out_shape); });
  return record(
      norm_info, std::move(out), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        return sum(a * ta, d, keepdim) * over_norm(ones_like(ctx.output), ctx.output);
      },
      [a, d, keepdim](const Tensor& g, const VjpContext& ctx) -> Grads {
        const std::size_t rank = a.dim();
        return {a * over_norm(detail::unreduce(g, d, keepdim, rank), detail::unreduce(ctx.output, d, keepdim, rank))};
      },
      caller);
}

// Index of the first extremum along dim, for each position of the other dims.
template <class T, class Better>
static xt::xarray<std::size_t> arg_extremum(std::string_view op, const Array<T>& x,
                                            std::size_t dim, bool keepdim, Better better) {
  const detail::DimSplit split = detail::split_at(x.shape(), dim);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  if (n == 0) fail<ShapeError>("{}: cannot reduce over dim {} of size 0", op, dim);
  const Shape shape = detail::reduced_shape(x.shape(), dim, keepdim);
  auto out = detail::allocating<std::size_t>(
      shape, op, [&] { return xt::xarray<std::size_t>::from_shape(shape); });
  for (std::size_t o = 0; o < outer; ++o) {
    for (std::size_t i = 0; i < inner; ++i) {
      const T* p = x.data() + o * n * inner + i;
      std::size_t best = 0;
      for (std::size_t k = 1; k < n; ++k) {
        if (better(p[k * inner], p[best * inner])) best = k;
      }
      out.data()[o * inner + i] = best;
    }
  }
  return out;
}

template <class Better>
static xt::xarray<std::size_t> arg_extremum(std::string_view op, const Tensor& a,
                                            std::ptrdiff_t dim, bool keepdim, Better better) {
  check_defined(op, a);
  const std::size_t d = wrap_dim(op, dim, a.dim());
  return a.visit([&](const auto& x) { return arg_extremum(op, x, d, keepdim, better); });
}

// NaN counts as the extremum, as in PyTorch.
static constexpr auto greater = [](auto u, auto v) { return u > v || (u != u && v == v); };
static constexpr auto less = [](auto u, auto v) { return u < v || (u != u && v == v); };

xt::xarray<std::size_t> argmax(const Tensor& a, std::ptrdiff_t dim, bool keepdim) {
  return arg_extremum("argmax", a, dim, keepdim, greater);
}
xt::xarray<std::size_t> argmin(const Tensor& a, std::ptrdiff_t dim, bool keepdim) {
  return arg_extremum("argmin", a, dim, keepdim, less);
}

// C = A[.., argmax, ..];  dC = dA[.., argmax, ..]  =>  gA = gC at the arg-extremum, 0 elsewhere
static const OpInfo max_info{"max", "dC = dA at the arg-max (first on ties)",
                             "tC = Σ_dim(tA ⊙ onehot(argmax))", "gA = gC ⊙ onehot(argmax)",
                             Saves::nothing,
    "C = max(A, dim)"};
static const OpInfo min_info{"min", "dC = dA at the arg-min (first on ties)",
                             "tC = Σ_dim(tA ⊙ onehot(argmin))", "gA = gC ⊙ onehot(argmin)",
                             Saves::nothing,
    "C = min(A, dim)"};

template <class Better>
static Tensor extremum(const OpInfo& info, const Tensor& a, std::ptrdiff_t dim, bool keepdim,
                       Better better, const SourceLocation& caller) {
  const auto index = arg_extremum(info.name, a, dim, true, better);
  const std::size_t d = wrap_dim(info.name, dim, a.dim());
  const detail::DimSplit split = detail::split_at(a.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  Tensor mask;
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto values = detail::empty_array<T>(detail::reduced_shape(x.shape(), d, keepdim), info.name);
    mask = detail::empty_tensor<T>(x.shape(), info.name);
    T* m = detail::elements_of<T>(mask);
    std::fill(m, m + x.size(), T(0));
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t i = 0; i < inner; ++i) {
        const std::size_t at = (o * n + index.data()[o * inner + i]) * inner + i;
        values.data()[o * inner + i] = x.data()[at];
        m[at] = T(1);
      }
    }
    return values;
  });
  return record(
      info, std::move(out), {a},
      [&](const Tangent& ta) { return sum(mask * ta, d, keepdim); },
      [mask, d, keepdim](const Tensor& g) -> Grads { return {detail::unreduce(g, d, keepdim, mask.dim()) * mask}; },
      caller);
}

Tensor max(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  return extremum(max_info, a, dim, keepdim, greater, caller);
}
Tensor min(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  return extremum(min_info, a, dim, keepdim, less, caller);
}

}  // namespace matgrad
