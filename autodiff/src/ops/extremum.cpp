// Arg-extrema, and max and min with their indices: argmax / argmin (int64 results), max / min
// along a dim (values and indices), max / min of every element (ties share the gradient). Every
// kernel views a tensor as [outer, n, inner] around the dim; any dtype, NaN being the extremum.
#include "common.hpp"

#include <cmath>

namespace matgrad {

using detail::wrap_dim;

namespace {

// NaN counts as the extremum, as in PyTorch.
constexpr auto greater = [](auto u, auto v) { return u > v || (u != u && v == v); };
constexpr auto less = [](auto u, auto v) { return u < v || (u != u && v == v); };

// Where the reduction runs: [outer, n, inner] around dim, or all elements as [1, numel, 1].
struct Reduced {
  detail::DimSplit split;
  Shape shape;  // of the result
};

Reduced reduced(std::string_view op, const Tensor& a, std::optional<std::ptrdiff_t> dim, bool keepdim) {
  detail::check_defined_any_dtype(op, a);
  if (!dim) {
    if (a.numel() == 0) {
      fail<ShapeError>("{}: cannot reduce a tensor of shape {} with no elements (give a dim)", op,
                       to_string(a.shape()));
    }
    return {{1, a.numel(), 1}, keepdim ? Shape(a.dim(), 1) : Shape{}};
  }
  const std::size_t d = wrap_dim(op, *dim, a.dim());
  const detail::DimSplit split = detail::split_at(a.shape(), d);
  if (split.n == 0) {
    fail<ShapeError>("{}: cannot reduce over dim {} of size 0 (shape {})", op, d, to_string(a.shape()));
  }
  return {split, detail::reduced_shape(a.shape(), d, keepdim)};
}

// The index (along the reduced dim) of the first extremum of each [outer, ·, inner] position.
template <class Better>
Tensor arg_extremum(std::string_view op, const Tensor& a, std::optional<std::ptrdiff_t> dim,
                    bool keepdim, Better better) {
  const Reduced r = reduced(op, a, dim, keepdim);
  const std::size_t outer = r.split.outer, n = r.split.n, inner = r.split.inner;
  Tensor out = detail::empty_tensor<std::int64_t>(r.shape, op);
  std::int64_t* dst = detail::elements_of<std::int64_t>(out);
  a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t i = 0; i < inner; ++i) {
        const T* p = x.data() + o * n * inner + i;
        std::size_t best = 0;
        for (std::size_t k = 1; k < n; ++k) {
          if (better(p[k * inner], p[best * inner])) best = k;
        }
        dst[o * inner + i] = static_cast<std::int64_t>(best);
      }
    }
  });
  return out;
}

}  // namespace

Tensor argmax(const Tensor& a, std::optional<std::ptrdiff_t> dim, bool keepdim) {
  return arg_extremum("argmax", a, dim, keepdim, greater);
}
Tensor argmin(const Tensor& a, std::optional<std::ptrdiff_t> dim, bool keepdim) {
  return arg_extremum("argmin", a, dim, keepdim, less);
}

// C = A[.., index, ..];  dC = dA[.., index, ..]  =>  gA = gC at the index taken, 0 elsewhere
static const OpInfo max_dim_info{"max_dim", "dC = gather(dA, dim, indices) (at the arg-max, the first on ties)",
                                 "tC = Σ_dim(tA ⊙ onehot(indices))", "gA = gC ⊙ onehot(indices)",
                                 Saves::nothing,
    "C = max(A, dim)"};
static const OpInfo min_dim_info{"min_dim", "dC = gather(dA, dim, indices) (at the arg-min, the first on ties)",
                                 "tC = Σ_dim(tA ⊙ onehot(indices))", "gA = gC ⊙ onehot(indices)",
                                 Saves::nothing,
    "C = min(A, dim)"};

template <class Better>
static ValuesIndices extremum(const OpInfo& info, std::string_view op, const Tensor& a,
                              std::ptrdiff_t dim, bool keepdim, Better better,
                              const SourceLocation& caller) {
  Tensor indices = arg_extremum(op, a, dim, keepdim, better);
  const std::size_t d = wrap_dim(op, dim, a.dim());
  const detail::DimSplit split = detail::split_at(a.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  const std::int64_t* index = detail::elements_of<std::int64_t>(indices);
  Tensor mask;  // 1 at the index taken, in a's dtype
  Tensor values = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor v = detail::empty_tensor<T>(indices.shape(), op);
    T* out = detail::elements_of<T>(v);
    mask = detail::empty_tensor<T>(x.shape(), op);
    T* m = detail::elements_of<T>(mask);
    std::fill(m, m + x.size(), T(0));
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t i = 0; i < inner; ++i) {
        const std::size_t at = (o * n + static_cast<std::size_t>(index[o * inner + i])) * inner + i;
        out[o * inner + i] = x.data()[at];
        m[at] = T(1);
      }
    }
    return v;
  });
  values = record(
      info, std::move(values), {a},
      [&](const Tangent& ta) { return sum(mask * ta, d, keepdim); },
      [mask, d, keepdim](const Tensor& g) -> Grads { return {detail::unreduce(g, d, keepdim, mask.dim()) * mask}; },
      caller);
  return {values, indices};
}

ValuesIndices max(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  return extremum(max_dim_info, "max", a, dim, keepdim, greater, caller);
}
ValuesIndices min(const Tensor& a, std::ptrdiff_t dim, bool keepdim, const SourceLocation& caller) {
  return extremum(min_dim_info, "min", a, dim, keepdim, less, caller);
}

// c = max A;  dc = Σ_{A = c} dA / k over the k elements equal to c  =>  gA = gc [A = c] / k
// (torch's evenly_distribute_backward; a NaN maximum shares it among the NaNs).
static const OpInfo max_info{"max", "dc = Σ(W ⊙ dA), W = [A = c] / k (k: the number of ties of the max)", "tc = Σ(W ⊙ tA), W = [A = c] / k",
                             "gA = gc W", Saves::nothing,
    "c = max(A)"};
static const OpInfo min_info{"min", "dc = Σ(W ⊙ dA), W = [A = c] / k (k: the number of ties of the min)", "tc = Σ(W ⊙ tA), W = [A = c] / k",
                             "gA = gc W", Saves::nothing,
    "c = min(A)"};

template <class Better>
static Tensor extremum_all(const OpInfo& info, const Tensor& a, Better better, const SourceLocation& caller) {
  const Tensor index = arg_extremum(info.name, a, std::nullopt, false, better);
  const std::size_t at = static_cast<std::size_t>(detail::elements_of<std::int64_t>(index)[0]);
  Tensor weights;  // [A = c] / k, in a's dtype
  Tensor out = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const T c = x.data()[at];
    if constexpr (!std::is_integral_v<T>) {
      weights = detail::empty_tensor<T>(x.shape(), info.name);
      T* w = detail::elements_of<T>(weights);
      std::size_t k = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const T v = x.data()[i];
        const bool tie = c != c ? v != v : v == c;
        w[i] = tie ? T(1) : T(0);
        k += tie ? 1 : 0;
      }
      for (std::size_t i = 0; i < x.size(); ++i) w[i] /= static_cast<T>(k);
    }
    return Tensor(detail::scalar_array<T>(c, info.name));
  });
  return record(
      info, std::move(out), {a},
      [&](const Tangent& ta) { return sum(weights * ta); },
      [weights](const Tensor& g) -> Grads { return {g * weights}; }, caller);
}

Tensor max(const Tensor& a, const SourceLocation& caller) { return extremum_all(max_info, a, greater, caller); }
Tensor min(const Tensor& a, const SourceLocation& caller) { return extremum_all(min_info, a, less, caller); }

}  // namespace matgrad
