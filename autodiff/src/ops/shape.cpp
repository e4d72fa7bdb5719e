// Ops that move or repeat elements without arithmetic: reshape, transpose, broadcast.
#include "matgrad/composed_op.hpp"
#include "common.hpp"

#include <xtensor/xbroadcast.hpp>
#include <xtensor/xmanipulation.hpp>

#include <numeric>
#include <optional>

namespace matgrad {

// Every op here moves elements without arithmetic, so it takes int64 tensors too (sum_to_size,
// the adjoint of broadcast_to, excepted).
using detail::check_defined;
using detail::check_defined_any_dtype;
using detail::map_data;
using detail::normalize_dim;
using detail::wrap_dim;

// The shape a view or reshape of `a` to `shape_arg` has, or a ShapeError naming the op.
static Shape view_shape(std::string_view op, const Tensor& a, const ShapeArg& shape_arg) {
  check_defined_any_dtype(op, a);
  const Shape shape = shape_arg.resolve(op, a.numel());
  const std::size_t numel = detail::checked_numel(op, shape, 1);
  if (numel != a.numel()) {
    fail<ShapeError>("{}: cannot reshape {} ({} elements) to {} ({} elements)", op,
                     to_string(a.shape()), a.numel(), to_string(shape), numel);
  }
  return shape;
}

// Every tensor is contiguous, so a reshape is always a view: the output shares a's storage
// (elements and version counter), as PyTorch's reshape does for a contiguous tensor.
static const OpInfo reshape_info{"reshape", "dC = reshape(dA)", "tC = reshape(tA)", "gA = reshape(gC, shape(A))",
                                 Saves::nothing,
    "C = reshape(A, shape)"};
Tensor reshape(const Tensor& a, const ShapeArg& shape_arg, const SourceLocation& caller) {
  const Shape shape = view_shape("reshape", a, shape_arg);
  Tensor out = detail::view_of(a, shape);
  const Shape input_shape = a.shape();
  return record(
      reshape_info, std::move(out), {a},
      [&](const Tangent& ta) { return reshape(ta, shape); },
      [input_shape](const Tensor& g) -> Grads { return {reshape(g, input_shape)}; }, caller);
}

// PyTorch's view: the same as reshape here. PyTorch refuses a view only where strides do not
// allow one, and a matgrad tensor is always contiguous, so only a wrong element count fails.
static const OpInfo view_info{"view", "dC = view(dA)", "tC = view(tA)", "gA = view(gC, shape(A))", Saves::nothing,
    "C = view(A, shape)"};
Tensor view(const Tensor& a, const ShapeArg& shape_arg, const SourceLocation& caller) {
  const Shape shape = view_shape("view", a, shape_arg);
  Tensor out = detail::view_of(a, shape);
  const Shape input_shape = a.shape();
  return record(
      view_info, std::move(out), {a},
      [&](const Tangent& ta) { return reshape(ta, shape); },
      [input_shape](const Tensor& g) -> Grads { return {view(g, input_shape)}; }, caller);
}

static const ComposedOpInfo view_as_composed{"view_as", "C = view(A, other.shape())"};
Tensor view_as(const Tensor& a, const Tensor& other, const SourceLocation& caller) {
  check_defined_any_dtype("view_as", other);
  return view(a, other.shape(), caller);
}

static const ComposedOpInfo flatten_composed{"flatten", "C = reshape(A) with dims start_dim..end_dim merged into one"};
Tensor flatten(const Tensor& a, std::ptrdiff_t start_dim, std::ptrdiff_t end_dim, const SourceLocation& caller) {
  check_defined_any_dtype("flatten", a);
  const std::size_t start = wrap_dim("flatten", start_dim, a.dim());
  const std::size_t end = wrap_dim("flatten", end_dim, a.dim());
  if (start > end) {
    fail<IndexError>("flatten: start_dim {} comes after end_dim {}", start_dim, end_dim);
  }
  if (a.dim() == 0) return reshape(a, {1}, caller);
  const Shape& s = a.shape();
  Shape shape(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(start));
  const Shape flattened(s.begin() + static_cast<std::ptrdiff_t>(start),
                        s.begin() + static_cast<std::ptrdiff_t>(end) + 1);
  shape.push_back(detail::checked_numel("flatten", flattened, 1));
  shape.insert(shape.end(), s.begin() + static_cast<std::ptrdiff_t>(end) + 1, s.end());
  return reshape(a, shape, caller);
}

static const ComposedOpInfo unsqueeze_composed{"unsqueeze", "C = reshape(A) with a new dim of size 1 at dim"};
Tensor unsqueeze(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller) {
  check_defined_any_dtype("unsqueeze", a);
  const std::size_t d = normalize_dim("unsqueeze", dim, a.dim() + 1);
  Shape shape = a.shape();
  shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(d), 1);
  return reshape(a, shape, caller);
}

static const ComposedOpInfo squeeze_composed{"squeeze", "C = reshape(A) without the size-1 dim (or, with no dim, without every one)"};
// As in PyTorch, a dim whose size is not 1 (or a 0-d tensor) leaves the tensor as it is.
Tensor squeeze(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller) {
  check_defined_any_dtype("squeeze", a);
  const std::size_t d = wrap_dim("squeeze", dim, a.dim());
  if (a.dim() == 0 || a.shape()[d] != 1) return a;
  Shape shape = a.shape();
  shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(d));
  return reshape(a, shape, caller);
}

Tensor squeeze(const Tensor& a, const SourceLocation& caller) {
  check_defined_any_dtype("squeeze", a);
  Shape shape;
  for (const std::size_t n : a.shape()) {
    if (n != 1) shape.push_back(n);
  }
  return shape.size() == a.dim() ? a : reshape(a, shape, caller);
}

static const OpInfo transpose_info{"transpose", "dC = swap(dA)", "tC = swap(tA)", "gA = swap(gC)", Saves::nothing,
    "C = transpose(A, dim0, dim1)"};
Tensor transpose(const Tensor& a, std::ptrdiff_t dim0, std::ptrdiff_t dim1, const SourceLocation& caller) {
  check_defined_any_dtype("transpose", a);
  const std::size_t d0 = wrap_dim("transpose", dim0, a.dim());
  const std::size_t d1 = wrap_dim("transpose", dim1, a.dim());
  if (a.dim() == 0) return a;  // the only transpose of a 0-d tensor, as t() of a vector
  Tensor out = detail::map_any_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    if (x.dimension() == 2 && d0 != d1) {  // a matrix (t()): one loop, not xtensor's strided walk
      const std::size_t rows = x.shape()[0], cols = x.shape()[1];
      auto y = detail::empty_array<T>({cols, rows}, "transpose");
      const T* src = x.data();
      T* dst = y.data();
      for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
      }
      return y;
    }
    std::vector<std::size_t> permutation(x.dimension());
    std::iota(permutation.begin(), permutation.end(), std::size_t{0});
    std::swap(permutation[d0], permutation[d1]);
    return detail::to_array(xt::transpose(x, permutation), "transpose");
  });
  return record(
      transpose_info, std::move(out), {a},
      [&](const Tangent& ta) { return transpose(ta, d0, d1); },
      [d0, d1](const Tensor& g) -> Grads { return {transpose(g, d0, d1)}; }, caller);
}

static const ComposedOpInfo t_composed{"t", "C = transpose(A, 0, 1) (A itself for rank < 2)"};
Tensor t(const Tensor& a, const SourceLocation& caller) {
  check_defined_any_dtype("t", a);
  if (a.dim() > 2) {
    fail<ShapeError>("t: expects a tensor of rank <= 2, got shape {} (use transpose)",
                     to_string(a.shape()));
  }
  return a.dim() < 2 ? a : transpose(a, 0, 1, caller);
}

static const OpInfo broadcast_to_info{"broadcast_to", "dC = broadcast(dA)", "tC = broadcast(tA)",
                                      "gA = sum_to_size(gC, shape(A))", Saves::nothing,
    "C = broadcast_to(A, shape)"};
Tensor broadcast_to(const Tensor& a, const Shape& shape, const SourceLocation& caller) {
  check_defined_any_dtype("broadcast_to", a);
  if (detail::broadcast_shapes("broadcast_to", a.shape(), shape) != shape) {
    fail<ShapeError>("broadcast_to: shape {} cannot be broadcast to {}", to_string(a.shape()),
                     to_string(shape));
  }
  Tensor out = detail::map_any_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto y = detail::empty_array<T>(shape, "broadcast_to");
    T* dst = y.data();
    const std::size_t n = y.size();
    if (x.size() == 1) {
      std::fill(dst, dst + n, x.data()[0]);
    } else if (n != 0 && detail::repeats_as_row(x.shape(), shape)) {
      for (std::size_t r = 0; r < n; r += x.size()) std::copy(x.data(), x.data() + x.size(), dst + r);
    } else {
      y = xt::broadcast(x, shape);
    }
    return y;
  });
  const Shape input_shape = a.shape();
  return record(
      broadcast_to_info, std::move(out), {a},
      [&](const Tangent& ta) { return broadcast_to(ta, shape); },
      [input_shape](const Tensor& g) -> Grads { return {sum_to_size(g, input_shape)}; }, caller);
}

static const OpInfo sum_to_size_info{"sum_to_size", "dC = sum_to_size(dA)", "tC = sum_to_size(tA)",
                                     "gA = broadcast_to(gC, shape(A))", Saves::nothing,
    "C = sum_to_size(A, shape)"};
Tensor sum_to_size(const Tensor& a, const Shape& shape, const SourceLocation& caller) {
  check_defined("sum_to_size", a);
  const Shape& from = a.shape();
  if (shape.size() > from.size() || detail::broadcast_shapes("sum_to_size", shape, from) != from) {
    fail<ShapeError>("sum_to_size: shape {} cannot be summed to {} (it must broadcast back to it)",
                     to_string(from), to_string(shape));
  }
  if (from == shape) return a;
  Tensor out = map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const std::size_t lead = from.size() - shape.size();
    // Sum the leading dims away, then every dim that the target holds at size 1 (at least one
    // of the two, as from != shape). Each sum makes a new array: an Array is never resized.
    std::optional<Array<T>> y;
    if (lead != 0) {
      Shape rest(from.begin() + static_cast<std::ptrdiff_t>(lead), from.end());
      y.emplace(detail::sum_rows("sum_to_size", x, detail::dims_product(from, 0, lead), rest));
    }
    for (std::size_t d = 0; d < shape.size(); ++d) {
      Shape reduced = y ? y->shape() : x.shape();
      if (shape[d] == 1 && reduced[d] != 1) {
        reduced[d] = 1;
        y.emplace(y ? detail::sum_dim("sum_to_size", *y, d, reduced)
                     : detail::sum_dim("sum_to_size", x, d, reduced));
      }
    }
    return std::move(*y);
  });
  const Shape input_shape = a.shape();
  return record(
      sum_to_size_info, std::move(out), {a},
      [&](const Tangent& ta) { return sum_to_size(ta, shape); },
      [input_shape](const Tensor& g) -> Grads { return {broadcast_to(g, input_shape)}; }, caller);
}

}  // namespace matgrad
