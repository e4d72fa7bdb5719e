// Reductions: sum and mean (all elements or one dim) and the 2-norm; max, min and the
// arg-extrema are in extremum.cpp. float32 sums accumulate in double (common.hpp's
// total_columns). A 0-d tensor reduces over dim 0 or -1 as one element, as in PyTorch.
#include "common.hpp"

#include <cmath>
#include <limits>

namespace matgrad {

using detail::check_defined;
using detail::wrap_dim;

static const OpInfo sum_info{"sum", "dc = Σᵢⱼ dAᵢⱼ = tr(1ᵀ dA)", "tc = Σᵢⱼ tAᵢⱼ", "gA = gc 1 (broadcast)",
                             Saves::nothing};
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
                                 "gA = gC broadcast along dim", Saves::nothing};
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
                              "gA = gc A / c (0 where c = 0)", Saves::inputs_and_output};

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

}  // namespace matgrad
