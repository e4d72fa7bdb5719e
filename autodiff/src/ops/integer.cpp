// Ops of int64 tensors and of truth values: floor_divide and remainder, all / any /
// count_nonzero, one_hot, the int64 overload of index_select, and the masks
// (nonzero, masked_fill, masked_select). None is differentiable in an int64 argument.
#include "matgrad/composed_op.hpp"
#include "common.hpp"
#include "reduce.hpp"

#include <limits>
#include <vector>

namespace matgrad {

namespace {

void check_int64_pair(std::string_view op, const Tensor& a, const Tensor& b) {
  detail::check_same_dtype_any(op, a, b);
  if (a.dtype() != DType::int64) {
    fail<DTypeError>("{}: takes int64 tensors here, got {} (floating-point {} is not part of the "
                     "int64 dtype's ops)",
                     op, dtype_name(a.dtype()), op);
  }
}

// Floor division without the overflow of INT64_MIN / -1 (which wraps to INT64_MIN, as torch).
std::int64_t floor_div(std::int64_t x, std::int64_t y) {
  if (y == -1) return static_cast<std::int64_t>(-static_cast<std::uint64_t>(x));
  const std::int64_t q = x / y;
  return (x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q;
}

std::int64_t floor_mod(std::int64_t x, std::int64_t y) {
  if (y == -1) return 0;
  const std::int64_t r = x % y;
  return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;
}

template <class F>
Tensor integer_binary(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  check_int64_pair(op, a, b);
  return detail::elementwise(op, a.data<std::int64_t>(), b.data<std::int64_t>(),
                             [&](std::int64_t x, std::int64_t y) {
                               if (y == 0) fail<ValueError>("{}: integer division by zero", op);
                               return f(x, y);
                             });
}

// The int64 values of an index tensor as positions, each checked in [0, size).
std::vector<std::size_t> positions(std::string_view op, const Tensor& index, std::size_t size,
                                   std::string_view what) {
  std::vector<std::size_t> out(index.numel());
  const std::int64_t* v = index.data<std::int64_t>().data();
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (v[i] < 0 || static_cast<std::uint64_t>(v[i]) >= size) {
      fail<IndexError>("{}: {} {} is out of range for size {}", op, what, v[i], size);
    }
    out[i] = static_cast<std::size_t>(v[i]);
  }
  return out;
}

// Whether each element is non-zero (NaN is), as 0/1.
template <class T>
bool truth(T v) {
  return v != T(0);
}

// The count of non-zero elements along dim of a viewed as [outer, n, inner]; `finish` maps a
// count (out of n) to the result.
template <class Finish>
Tensor count_along(std::string_view op, const Tensor& a, std::size_t d, const Shape& shape, Finish finish) {
  const detail::DimSplit split = detail::split_at(a.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  Tensor out = detail::empty_tensor<std::int64_t>(shape, op);
  std::int64_t* dst = detail::elements_of<std::int64_t>(out);
  a.visit_any_dtype([&](const auto& x) {
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t i = 0; i < inner; ++i) {
        std::size_t count = 0;
        for (std::size_t k = 0; k < n; ++k) count += truth(x.data()[(o * n + k) * inner + i]) ? 1 : 0;
        dst[o * inner + i] = finish(count, n);
      }
    }
  });
  return out;
}

template <class Finish>
Tensor count_all(std::string_view op, const Tensor& a, Finish finish) {
  detail::check_defined_any_dtype(op, a);
  const std::size_t n = a.numel();
  std::size_t count = 0;
  a.visit_any_dtype([&](const auto& x) {
    for (std::size_t i = 0; i < n; ++i) count += truth(x.data()[i]) ? 1 : 0;
  });
  return Tensor(detail::scalar_array<std::int64_t>(finish(count, n), op));
}

template <class Finish>
Tensor count_dim(std::string_view op, const Tensor& a, std::ptrdiff_t dim, bool keepdim, Finish finish) {
  detail::check_defined_any_dtype(op, a);
  const std::size_t d = detail::wrap_dim(op, dim, a.dim());
  return count_along(op, a, d, detail::reduced_shape(a.shape(), d, keepdim), finish);
}

constexpr auto all_of = [](std::size_t count, std::size_t n) -> std::int64_t { return count == n; };
constexpr auto any_of = [](std::size_t count, std::size_t) -> std::int64_t { return count > 0; };
constexpr auto count_of = [](std::size_t count, std::size_t) { return static_cast<std::int64_t>(count); };

}  // namespace

Tensor floor_divide(const Tensor& a, const Tensor& b) { return integer_binary("floor_divide", a, b, floor_div); }
Tensor detail::integer_remainder(const Tensor& a, const Tensor& b) { return integer_binary("remainder", a, b, floor_mod); }

Tensor all(const Tensor& a) { return count_all("all", a, all_of); }
Tensor all(const Tensor& a, std::ptrdiff_t dim, bool keepdim) { return count_dim("all", a, dim, keepdim, all_of); }
Tensor any(const Tensor& a) { return count_all("any", a, any_of); }
Tensor any(const Tensor& a, std::ptrdiff_t dim, bool keepdim) { return count_dim("any", a, dim, keepdim, any_of); }
Tensor count_nonzero(const Tensor& a) { return count_all("count_nonzero", a, count_of); }
Tensor count_nonzero(const Tensor& a, const DimList& dim) {
  detail::check_defined_any_dtype("count_nonzero", a);
  const detail::ReducePlan plan = detail::plan_reduction("count_nonzero", a.shape(), dim, false);
  Tensor out = detail::empty_tensor<std::int64_t>(plan.out_shape, "count_nonzero");
  std::int64_t* dst = detail::elements_of<std::int64_t>(out);
  std::fill(dst, dst + out.numel(), 0);
  a.visit_any_dtype([&](const auto& x) {
    detail::for_each_reduced(x.data(), plan, [&](std::size_t o, auto v) { dst[o] += truth(v) ? 1 : 0; });
  });
  return out;
}

Tensor one_hot(const Tensor& labels, std::ptrdiff_t num_classes) {
  detail::check_index_tensor("one_hot", "labels", labels);
  const std::int64_t* v = labels.data<std::int64_t>().data();
  const std::size_t n = labels.numel();
  for (std::size_t i = 0; i < n; ++i) {
    if (v[i] < 0) fail<IndexError>("one_hot: label {} (element {}) is negative", v[i], i);
  }
  if (num_classes < -1) fail<ValueError>("one_hot: num_classes must be -1 or at least 0, got {}", num_classes);
  std::size_t classes = 0;
  if (num_classes == -1) {
    if (n == 0) fail<ValueError>("one_hot: cannot infer num_classes from empty labels (give it)");
    classes = static_cast<std::size_t>(*std::max_element(v, v + n)) + 1;
  } else {
    classes = static_cast<std::size_t>(num_classes);
  }
  Shape shape = labels.shape();
  shape.push_back(classes);
  Tensor out = zeros(shape, {.dtype = DType::int64});
  std::int64_t* dst = detail::elements_of<std::int64_t>(out);
  for (std::size_t i = 0; i < n; ++i) {
    if (static_cast<std::size_t>(v[i]) >= classes) {
      fail<IndexError>("one_hot: label {} (element {}) is out of range for {} classes", v[i], i, classes);
    }
    dst[i * classes + static_cast<std::size_t>(v[i])] = 1;
  }
  return out;
}

Tensor one_hot(std::span<const std::size_t> labels, std::ptrdiff_t num_classes) {
  Tensor t = detail::empty_tensor<std::int64_t>({labels.size()}, "one_hot");
  std::int64_t* dst = detail::elements_of<std::int64_t>(t);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
      fail<IndexError>("one_hot: label {} (element {}) is out of int64's range", labels[i], i);
    }
    dst[i] = static_cast<std::int64_t>(labels[i]);
  }
  return one_hot(t, num_classes);
}

Tensor index_select(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const SourceLocation& caller) {
  detail::check_defined_any_dtype("index_select", a);
  detail::check_index_tensor("index_select", "index", index);
  if (index.dim() > 1) {
    fail<ShapeError>("index_select: index must be 0-d or 1-D, got shape {}", to_string(index.shape()));
  }
  const std::size_t d = detail::wrap_dim("index_select", dim, a.dim());
  const std::size_t size = a.dim() == 0 ? 1 : a.shape()[d];
  return index_select(a, dim, positions("index_select", index, size, "index"), caller);
}

static const ComposedOpInfo masked_fill_composed{"masked_fill", "C = where(M, v, A) (v a number or a 0-d tensor, which gets Σ_M gC)"};
// value where mask, else a: where(mask, value, a), a and mask broadcasting (torch's out-of-place
// masked_fill does too).
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value, const SourceLocation& caller) {
  detail::check_defined_any_dtype("masked_fill", a);
  detail::check_defined_any_dtype("masked_fill", mask);
  if (a.dtype() == DType::int64) detail::check_integral_scalar("masked_fill", "value", value);
  return where(mask, scalar_like(a, value), a, caller);
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, const Tensor& value, const SourceLocation& caller) {
  detail::check_defined_any_dtype("masked_fill", a);
  detail::check_defined_any_dtype("masked_fill", mask);
  detail::check_defined_any_dtype("masked_fill", value);
  if (value.dim() != 0) {
    fail<ShapeError>("masked_fill: the value must be a 0-d tensor (as torch's), got shape {}", to_string(value.shape()));
  }
  detail::check_same_dtype_any("masked_fill", a, value);
  return where(mask, value, a, caller);
}

Tensor nonzero(const Tensor& a) {
  detail::check_defined_any_dtype("nonzero", a);
  const Shape& shape = a.shape();
  std::vector<std::size_t> picked;
  a.visit_any_dtype([&](const auto& x) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (truth(x.data()[i])) picked.push_back(i);
    }
  });
  const std::size_t k = shape.size();
  Tensor out = detail::empty_tensor<std::int64_t>({picked.size(), k}, "nonzero");
  std::int64_t* dst = detail::elements_of<std::int64_t>(out);
  for (std::size_t p = 0; p < picked.size(); ++p) {
    std::size_t rest = picked[p];
    for (std::size_t d = k; d-- > 0;) {
      dst[p * k + d] = static_cast<std::int64_t>(rest % shape[d]);
      rest /= shape[d];
    }
  }
  return out;
}

static const ComposedOpInfo masked_select_composed{"masked_select", "C = index_select(flatten(broadcast(A)), 0, positions where M ≠ 0)"};
// index_select of the flattened broadcast input at the positions where the mask is non-zero.
Tensor masked_select(const Tensor& a, const Tensor& mask, const SourceLocation& caller) {
  detail::check_defined_any_dtype("masked_select", a);
  detail::check_defined_any_dtype("masked_select", mask);
  const Shape shape = detail::broadcast_shapes("masked_select", a.shape(), mask.shape());
  const Tensor m = broadcast_to(mask, shape);
  std::vector<std::size_t> picked;
  m.visit_any_dtype([&](const auto& x) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (truth(x.data()[i])) picked.push_back(i);
    }
  });
  const Tensor flat = reshape(a.shape() == shape ? a : broadcast_to(a, shape, caller), {-1}, caller);
  return index_select(flat, 0, picked, caller);
}

}  // namespace matgrad
