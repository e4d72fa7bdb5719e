// max and min over a dim, argmax and argmin. A 0-d tensor reduces over dim 0 or -1 as one
// element, as in PyTorch. The reductions over a list of dims are in sums.cpp (sum, mean, prod,
// logsumexp), statistics.cpp (var, std, amax, amin) and norms.cpp; the scans in cumulative.cpp.
#include "common.hpp"

#include <cmath>
#include <limits>

namespace matgrad {

using detail::check_defined;
using detail::wrap_dim;

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
                             Saves::nothing};
static const OpInfo min_info{"min", "dC = dA at the arg-min (first on ties)",
                             "tC = Σ_dim(tA ⊙ onehot(argmin))", "gA = gC ⊙ onehot(argmin)",
                             Saves::nothing};

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
