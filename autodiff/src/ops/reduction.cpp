// Reductions: sum and mean (all elements or one dim), max and min over a dim.
#include "common.hpp"

#include <cmath>
#include <limits>

namespace matgrad {

using detail::check_defined;
using detail::normalize_dim;

static constexpr OpInfo sum_info{"sum", "dc = Σᵢⱼ dAᵢⱼ = tr(1ᵀ dA)", "gA = gc 1 (broadcast)", Saves::nothing};
Tensor sum(const Tensor& a, const SourceLocation& caller) {
  const detail::CallSite site(caller);
  check_defined("sum", a);
  Tensor out = detail::map_data(a, [](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    T total = 0;
    for (std::size_t i = 0; i < x.size(); ++i) total += x.data()[i];
    return detail::scalar_array(total);
  });
  const Shape input_shape = a.shape();
  return record(sum_info, std::move(out), {a}, [input_shape](const Tensor& g) -> Grads {
    return {broadcast_to(g, input_shape)};
  });
}

static constexpr OpInfo sum_dim_info{"sum_dim", "dC = Σₖ dA[.., k, ..]",
                                     "gA = gC broadcast along dim", Saves::nothing};
Tensor sum(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  const detail::CallSite site(caller);
  check_defined("sum", a);
  const std::size_t d = normalize_dim("sum", dim, a.dim());
  const Shape out_shape = detail::reduced_shape(a.shape(), d, keepdim);
  Tensor out = detail::map_data(a, [&](const auto& x) { return detail::sum_dim(x, d, out_shape); });
  const Shape input_shape = a.shape();
  return record(sum_dim_info, std::move(out), {a}, [input_shape, d, keepdim](const Tensor& g) -> Grads {
    return {broadcast_to(keepdim ? g : unsqueeze(g, static_cast<std::ptrdiff_t>(d)), input_shape)};
  });
}

Tensor mean(const Tensor& a, const SourceLocation& caller) {
  const detail::CallSite site(caller);
  check_defined("mean", a);
  return sum(a) / static_cast<double>(a.numel());
}

Tensor mean(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  const detail::CallSite site(caller);
  check_defined("mean", a);
  const std::size_t d = normalize_dim("mean", dim, a.dim());
  return sum(a, dim, keepdim) / static_cast<double>(a.shape()[d]);
}

// c = ‖A‖ = sqrt(Σ A²);  dc = tr(Aᵀ dA) / c  =>  gA = gc A / c  (0 where c = 0)
static constexpr OpInfo norm_info{"norm", "dc = tr(Aᵀ dA) / c", "gA = gc A / c (0 where c = 0)",
                                  Saves::inputs_and_output};

template <class T>
static void sqrt_in_place(Array<T>& x) {
  for (auto& v : x) v = std::sqrt(v);
}

static Tensor norm_vjp(const Tensor& g, const Tensor& a, const Tensor& c) {
  const Tensor zero = scalar_like(c, 0.0);
  // g / c where c > 0, else 0: `where` keeps the 0/0 of the other branch out of the result.
  const Tensor scale = where(gt(c, zero), g / where(gt(c, zero), c, ones_like(c)), zero);
  return a * scale;
}

Tensor norm(const Tensor& a, const SourceLocation& caller) {
  const detail::CallSite site(caller);
  check_defined("norm", a);
  Tensor out = detail::map_data(a, [](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    T total = 0;
    for (std::size_t i = 0; i < x.size(); ++i) total += x.data()[i] * x.data()[i];
    return detail::scalar_array(std::sqrt(total));
  });
  return record(norm_info, std::move(out), {a}, [a](const Tensor& g, const VjpContext& ctx) -> Grads {
    return {norm_vjp(g, a, ctx.output)};
  });
}

Tensor norm(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  const detail::CallSite site(caller);
  check_defined("norm", a);
  const std::size_t d = normalize_dim("norm", dim, a.dim());
  const Shape out_shape = detail::reduced_shape(a.shape(), d, keepdim);
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const Tensor squares = detail::elementwise(x, [](T v) { return v * v; });
    auto y = detail::sum_dim(squares.data<T>(), d, out_shape);
    sqrt_in_place(y);
    return y;
  });
  return record(norm_info, std::move(out), {a}, [a, d, keepdim](const Tensor& g, const VjpContext& ctx) -> Grads {
    const auto expand = [&](const Tensor& t) {
      return keepdim ? t : unsqueeze(t, static_cast<std::ptrdiff_t>(d));
    };
    return {norm_vjp(expand(g), a, expand(ctx.output))};
  });
}

// Index of the first extremum along dim, for each position of the other dims.
template <class T, class Better>
static xt::xarray<std::size_t> arg_extremum(std::string_view op, const Array<T>& x,
                                            std::size_t dim, bool keepdim, Better better) {
  const detail::DimSplit split = detail::split_at(x.shape(), dim);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  if (n == 0) fail<ShapeError>("{}: cannot reduce over dim {} of size 0", op, dim);
  auto out = xt::xarray<std::size_t>::from_shape(detail::reduced_shape(x.shape(), dim, keepdim));
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
  const std::size_t d = normalize_dim(op, dim, a.dim());
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
static constexpr OpInfo max_info{"max", "dC = dA at the arg-max (first on ties)",
                                 "gA = gC ⊙ onehot(argmax)", Saves::nothing};
static constexpr OpInfo min_info{"min", "dC = dA at the arg-min (first on ties)",
                                 "gA = gC ⊙ onehot(argmin)", Saves::nothing};

template <class Better>
static Tensor extremum(const OpInfo& info, const Tensor& a, std::ptrdiff_t dim, bool keepdim,
                       Better better) {
  const auto index = arg_extremum(info.name, a, dim, true, better);
  const std::size_t d = normalize_dim(info.name, dim, a.dim());
  const detail::DimSplit split = detail::split_at(a.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  Tensor mask = zeros_like(a);
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto values = detail::empty_array<T>(detail::reduced_shape(x.shape(), d, keepdim));
    T* m = const_cast<T*>(mask.data<T>().data());
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t i = 0; i < inner; ++i) {
        const std::size_t at = (o * n + index.data()[o * inner + i]) * inner + i;
        values.data()[o * inner + i] = x.data()[at];
        m[at] = T(1);
      }
    }
    return values;
  });
  return record(info, out, {a}, [mask, d, keepdim](const Tensor& g) -> Grads {
    return {(keepdim ? g : unsqueeze(g, static_cast<std::ptrdiff_t>(d))) * mask};
  });
}

Tensor max(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  const detail::CallSite site(caller);
  return extremum(max_info, a, dim, keepdim, greater);
}
Tensor min(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  const detail::CallSite site(caller);
  return extremum(min_info, a, dim, keepdim, less);
}

}  // namespace matgrad
