// gather and the scatters (scatter, scatter_add, scatter_reduce), with int64 index tensors, and
// what composes from them (take_along_dim, index_put). Each VJP is written with these ops, so
// that it is differentiable again: gather's adjoint is scatter_add, and scatter_add's is gather.
// The index is a constant: the ops keep a copy of it, so a later in-place change of the caller's
// index tensor cannot change a backward pass.
#include "matgrad/composed_op.hpp"
#include "common.hpp"

#include <vector>

namespace matgrad {

using detail::wrap_dim;

namespace {

// A 0-d shape as [1]: gather and the scatters take dim 0 of a 0-d tensor (as torch).
Shape at_least_1d(const Shape& s) { return s.empty() ? Shape{1} : s; }

std::vector<std::size_t> row_major_strides(const Shape& s) {
  std::vector<std::size_t> strides(s.size(), 1);
  for (std::size_t d = s.size(); d-- > 1;) strides[d - 1] = strides[d] * s[d];
  return strides;
}

// Calls f(k, target, from) for element k of index (row-major): `target` is the offset in self
// with the dim coordinate replaced by index[k] (checked in range), `from` the offset of the same
// coordinates in a tensor of shape `other` (src's, for the scatters; index's own for gather).
template <class F>
void walk_index(std::string_view op, const Shape& self_shape, std::size_t dim, const Tensor& index,
                const Shape& other_shape, F f) {
  const Shape s = at_least_1d(self_shape), i = at_least_1d(index.shape()), o = at_least_1d(other_shape);
  const std::size_t n = index.numel();
  if (n == 0) return;
  const auto ss = row_major_strides(s), os = row_major_strides(o);
  const std::int64_t* idx = index.data<std::int64_t>().data();
  const auto size = static_cast<std::int64_t>(s[dim]);
  std::vector<std::size_t> coord(i.size(), 0);
  for (std::size_t k = 0; k < n; ++k) {
    const std::int64_t v = idx[k];
    if (v < 0 || v >= size) {
      fail<IndexError>("{}: index {} is out of range for dim {} of size {}", op, v, dim, size);
    }
    std::size_t target = 0, from = 0;
    for (std::size_t d = 0; d < i.size(); ++d) {
      target += (d == dim ? static_cast<std::size_t>(v) : coord[d]) * ss[d];
      from += coord[d] * os[d];
    }
    f(k, target, from);
    for (std::size_t d = i.size(); d-- > 0;) {
      if (++coord[d] < i[d]) break;
      coord[d] = 0;
    }
  }
}

// A copy of a, to write a scatter's result into.
template <class T>
Tensor copy_of(const Array<T>& x, std::string_view op) {
  Tensor out = detail::empty_tensor<T>(x.shape(), op);
  std::copy(x.data(), x.data() + x.size(), detail::elements_of<T>(out));
  return out;
}

}  // namespace

void detail::check_index_shape(std::string_view op, const Tensor& self, std::size_t dim,
                               const Tensor& index, const Tensor* src) {
  detail::check_index_tensor(op, "index", index);
  const Shape s = at_least_1d(self.shape()), i = at_least_1d(index.shape());
  if (i.size() != s.size()) {
    fail<ShapeError>("{}: index has rank {} (shape {}) but the input has rank {} (shape {}); they "
                     "must be equal",
                     op, index.dim(), to_string(index.shape()), self.dim(), to_string(self.shape()));
  }
  for (std::size_t d = 0; d < s.size(); ++d) {
    if (d != dim && i[d] > s[d]) {
      fail<ShapeError>("{}: index of shape {} is larger than the input of shape {} in dim {} (only "
                       "dim {} may be larger)",
                       op, to_string(index.shape()), to_string(self.shape()), d, dim);
    }
  }
  if (!src) return;
  const Shape r = at_least_1d(src->shape());
  if (r.size() != i.size()) {
    fail<ShapeError>("{}: src has rank {} (shape {}) but index has rank {} (shape {}); they must be "
                     "equal",
                     op, src->dim(), to_string(src->shape()), index.dim(), to_string(index.shape()));
  }
  for (std::size_t d = 0; d < r.size(); ++d) {
    if (i[d] > r[d]) {
      fail<ShapeError>("{}: index of shape {} is larger than src of shape {} in dim {}", op,
                       to_string(index.shape()), to_string(src->shape()), d);
    }
  }
}

Tensor detail::pad_to(const Tensor& g, const Shape& shape) {
  Tensor out = g;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (out.shape()[d] == shape[d]) continue;
    Shape rest = out.shape();
    rest[d] = shape[d] - rest[d];
    out = concat({out, zeros(rest, {.dtype = g.dtype()})}, static_cast<std::ptrdiff_t>(d));
  }
  return out;
}

Tensor detail::leading_block(const Tensor& src, const Shape& shape) {
  Tensor out = src;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (out.shape()[d] != shape[d]) out = slice(out, static_cast<std::ptrdiff_t>(d), 0, shape[d]);
  }
  return out;
}

// C = A[index] along dim;  dC = gather(dA)  =>  gA = scatter_add(0, dim, index, gC)
static const OpInfo gather_info{"gather", "dC = gather(dA, dim, index)", "tC = gather(tA, dim, index)",
                                "gA = scatter_add(0, dim, index, gC)", Saves::nothing,
    "C = gather(A, dim, index)"};
Tensor gather(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const SourceLocation& caller) {
  detail::check_defined_any_dtype("gather", a);
  const std::size_t d = wrap_dim("gather", dim, a.dim());
  detail::check_index_shape("gather", a, d, index, nullptr);
  Tensor out = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor y = detail::empty_tensor<T>(index.shape(), "gather");
    T* dst = detail::elements_of<T>(y);
    walk_index("gather", x.shape(), d, index, index.shape(),
               [&](std::size_t k, std::size_t target, std::size_t) { dst[k] = x.data()[target]; });
    return y;
  });
  return record(
      gather_info, std::move(out), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& t) { return gather(t, d, index); }); },
      [shape = a.shape(), d, idx = detail::copy(index)](const Tensor& g) -> Grads {
        return {scatter_add(zeros(shape, {.dtype = g.dtype()}), static_cast<std::ptrdiff_t>(d), idx, g)};
      },
      caller);
}

// The forward of scatter (accumulate false) and scatter_add (true).
static Tensor scatter_kernel(std::string_view op, const Tensor& a, std::size_t d, const Tensor& index,
                             const Tensor& src, bool accumulate) {
  return a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor y = copy_of(x, op);
    T* dst = detail::elements_of<T>(y);
    const T* from = src.data<T>().data();
    walk_index(op, x.shape(), d, index, src.shape(), [&](std::size_t, std::size_t target, std::size_t at) {
      if (accumulate) {
        dst[target] += from[at];
      } else {
        dst[target] = from[at];
      }
    });
    return y;
  });
}

// C = A with C[index] = S;  dC = scatter(dA, index, dS)  =>  gA = scatter(gC, index, 0),
// gS = gather(gC, index) (exact without repeated indices; torch's rule too)
static const OpInfo scatter_info{"scatter", "dC = scatter(dA, dim, index, dS)",
                                 "tC = scatter(tA, dim, index, tS)",
                                 "gA = scatter(gC, dim, index, 0), gS = gather(gC, dim, index)", Saves::nothing,
    "C = scatter(A, dim, index, S)"};
Tensor scatter(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const Tensor& src,
               const SourceLocation& caller) {
  detail::check_same_dtype_any("scatter", a, src);
  const std::size_t d = wrap_dim("scatter", dim, a.dim());
  detail::check_index_shape("scatter", a, d, index, &src);
  Tensor out = scatter_kernel("scatter", a, d, index, src, false);
  return record(
      scatter_info, std::move(out), {a, src},
      [&](const Tangent& ta, const Tangent& ts) {
        return ta.map([&](const Tensor& t) { return scatter(t, d, index, 0.0); }) +
               ts.map([&](const Tensor& t) { return scatter(zeros(a.shape(), {.dtype = t.dtype()}), d, index, t); });
      },
      [d, idx = detail::copy(index), src_shape = src.shape()](const Tensor& g, const VjpContext& ctx) -> Grads {
        const auto dd = static_cast<std::ptrdiff_t>(d);
        return {ctx.needs[0] ? scatter(g, dd, idx, 0.0) : Tensor(),
                ctx.needs[1] ? detail::pad_to(gather(g, dd, idx), src_shape) : Tensor()};
      },
      caller);
}

static const OpInfo scatter_value_info{"scatter value", "dC = scatter(dA, dim, index, 0)",
                                       "tC = scatter(tA, dim, index, 0)", "gA = scatter(gC, dim, index, 0)",
                                       Saves::nothing,
    "C = scatter(A, dim, index, value)"};
Tensor scatter(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, double value, const SourceLocation& caller) {
  detail::check_defined_any_dtype("scatter", a);
  if (a.dtype() == DType::int64) detail::check_integral_scalar("scatter", "value", value);
  const std::size_t d = wrap_dim("scatter", dim, a.dim());
  detail::check_index_shape("scatter", a, d, index, nullptr);
  Tensor out = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor y = copy_of(x, "scatter");
    T* dst = detail::elements_of<T>(y);
    const T v = static_cast<T>(value);
    walk_index("scatter", x.shape(), d, index, index.shape(),
               [&](std::size_t, std::size_t target, std::size_t) { dst[target] = v; });
    return y;
  });
  return record(
      scatter_value_info, std::move(out), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& t) { return scatter(t, d, index, 0.0); }); },
      [d, idx = detail::copy(index)](const Tensor& g) -> Grads {
        return {scatter(g, static_cast<std::ptrdiff_t>(d), idx, 0.0)};
      },
      caller);
}

// C = A + S added at index;  dC = dA + scatter_add(0, index, dS)  =>  gA = gC, gS = gather(gC, index)
static const OpInfo scatter_add_info{"scatter_add", "dC = dA + scatter_add(0, dim, index, dS)",
                                     "tC = tA + scatter_add(0, dim, index, tS)",
                                     "gA = gC, gS = gather(gC, dim, index)", Saves::nothing,
    "C = scatter_add(A, dim, index, S)"};
Tensor scatter_add(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const Tensor& src,
                   const SourceLocation& caller) {
  detail::check_same_dtype_any("scatter_add", a, src);
  const std::size_t d = wrap_dim("scatter_add", dim, a.dim());
  detail::check_index_shape("scatter_add", a, d, index, &src);
  Tensor out = scatter_kernel("scatter_add", a, d, index, src, true);
  return record(
      scatter_add_info, std::move(out), {a, src},
      [&](const Tangent& ta, const Tangent& ts) {
        return ta + ts.map([&](const Tensor& t) { return scatter_add(zeros(a.shape(), {.dtype = t.dtype()}), d, index, t); });
      },
      [d, idx = detail::copy(index), src_shape = src.shape()](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {g, ctx.needs[1] ? detail::pad_to(gather(g, static_cast<std::ptrdiff_t>(d), idx), src_shape) : Tensor()};
      },
      caller);
}

static const ComposedOpInfo take_along_dim_composed{"take_along_dim", "C = gather(broadcast(A), dim, broadcast(I)) (A and I broadcast in every dim but dim; flattened without one)"};
Tensor take_along_dim(const Tensor& a, const Tensor& index, std::optional<std::ptrdiff_t> dim,
                      const SourceLocation& caller) {
  detail::check_defined_any_dtype("take_along_dim", a);
  detail::check_index_tensor("take_along_dim", "index", index);
  if (!dim) return gather(reshape(a, {-1}, caller), 0, reshape(index, {-1}), caller);
  if (a.dim() != index.dim()) {
    fail<ShapeError>("take_along_dim: the input (shape {}) and index (shape {}) must have the same "
                     "rank",
                     to_string(a.shape()), to_string(index.shape()));
  }
  const std::size_t d = wrap_dim("take_along_dim", *dim, a.dim());
  if (a.dim() == 0) return gather(a, 0, index, caller);
  Shape a_sizes = a.shape(), index_sizes = index.shape();
  a_sizes[d] = index.shape()[d];
  index_sizes[d] = a.shape()[d];
  const Tensor index_b = broadcast_to(index, detail::broadcast_shapes("take_along_dim", a_sizes, index.shape()));
  const Tensor a_b = broadcast_to(a, detail::broadcast_shapes("take_along_dim", index_sizes, a.shape()), caller);
  return gather(a_b, static_cast<std::ptrdiff_t>(d), index_b, caller);
}

}  // namespace matgrad
