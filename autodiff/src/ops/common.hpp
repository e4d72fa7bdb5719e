// Helpers shared by the op families: argument checks and dtype dispatch.
#pragma once

#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"
#include "pool.hpp"

#include <xtensor/xarray.hpp>
#include <xtensor/xnoalias.hpp>

#include <algorithm>
#include <span>
#include <string_view>
#include <type_traits>

namespace matgrad::detail {

inline void check_defined(std::string_view op, const Tensor& t) {
  if (!t.defined()) fail<Error>("{}: an input is an undefined tensor", op);
}

inline void check_same_dtype(std::string_view op, const Tensor& a, const Tensor& b) {
  check_defined(op, a);
  check_defined(op, b);
  if (a.dtype() != b.dtype()) {
    fail<DTypeError>("{}: dtypes differ: {} and {} (convert one with .to())", op,
                     dtype_name(a.dtype()), dtype_name(b.dtype()));
  }
}

// A dim in [-rank, rank) as an index in [0, rank).
inline std::size_t normalize_dim(std::string_view op, std::ptrdiff_t dim, std::size_t rank) {
  const auto r = static_cast<std::ptrdiff_t>(rank);
  if (dim < -r || dim >= r) {
    fail<IndexError>("{}: dim {} is out of range for a tensor of rank {} (expected {} to {})", op,
                     dim, rank, -r, r - 1);
  }
  return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

// The NumPy broadcast of two shapes, or a ShapeError naming the op.
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);

// Product of dims [begin, end).
inline std::size_t dims_product(const Shape& s, std::size_t begin, std::size_t end) {
  std::size_t n = 1;
  for (std::size_t i = begin; i < end; ++i) n *= s[i];
  return n;
}

// A tensor viewed as [outer, n, inner] around dim, for loops over one dimension. Copy the
// fields into named variables rather than a structured binding: clang 14 (the fuzzing build)
// cannot capture structured bindings in lambdas.
struct DimSplit {
  std::size_t outer, n, inner;
};
inline DimSplit split_at(const Shape& s, std::size_t dim) {
  return {dims_product(s, 0, dim), s[dim], dims_product(s, dim + 1, s.size())};
}

// Shape with dim removed (keepdim false) or set to 1 (keepdim true).
inline Shape reduced_shape(const Shape& s, std::size_t dim, bool keepdim) {
  Shape out = s;
  if (keepdim) {
    out[dim] = 1;
  } else {
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(dim));
  }
  return out;
}

// The element count of a shape, or a ShapeError when it overflows what memory could hold.
std::size_t checked_numel(std::string_view op, const Shape& shape, std::size_t element_size);

// Runs make(), which allocates `shape` of T: every kernel and factory allocates through here,
// so that huge or overflowing shapes fail cleanly instead of wrapping around.
template <class T, class Make>
auto allocating(const Shape& shape, std::string_view op, Make make) {
  const std::size_t n = checked_numel(op, shape, sizeof(T));
  try {
    return make();
  } catch (const std::bad_alloc&) {
    fail<ValueError>("{}: out of memory allocating shape {} ({} elements, {:.3g} GiB)", op,
                     to_string(shape), n, static_cast<double>(n) * sizeof(T) / (1u << 30));
  }
}

// An uninitialised array in a storage of its own.
template <class T>
Array<T> empty_array(const Shape& shape, std::string_view op = "allocate") {
  return allocating<T>(shape, op, [&] { return Array<T>(SharedBuffer<T>(xt::compute_size(shape)), shape); });
}

// A 0-d array holding value.
template <class T>
Array<T> scalar_array(T value) {
  auto a = empty_array<T>({});
  a.data()[0] = value;
  return a;
}

// An xtensor expression evaluated into an array of its own (one allocation, as for an
// xt::xarray, which a tensor would take over with a second one for its storage's header).
template <class E, class T = typename E::value_type>
Array<T> to_array(const xt::xexpression<E>& e) {
  auto out = empty_array<T>(Shape(e.derived_cast().shape().begin(), e.derived_cast().shape().end()));
  xt::noalias(out) = e;
  return out;
}

// The same as a tensor: the array is built inside the tensor, where building it first and
// moving it in costs a third more for a small tensor (the shape, strides and back-strides are
// copied). Two allocations: the TensorImpl, and the storage with its elements. Write its
// elements through elements_of.
template <class T>
Tensor empty_tensor(const Shape& shape, std::string_view op = "allocate") {
  return allocating<T>(shape, op, [&] {
    return Tensor(new_impl(std::in_place_type<T>, shape));
  });
}

// The elements of a tensor the caller has just made and nobody else has seen: no version bump.
template <class T>
T* elements_of(const Tensor& fresh) {
  return std::get<Array<T>>(fresh.impl()->data).data();
}

// A tensor over a's storage (its elements from `offset` on, and its version counter) with
// `shape`, without history: the body of every view (reshape, view, narrow, detach and those
// built on them). The caller checks that the shape fits.
inline Tensor view_of(const Tensor& a, const Shape& shape, std::size_t offset = 0) {
  return Tensor(new_impl(TensorImpl::ViewOf{}, *a.impl(), shape, offset));
}

// A copy of a's elements in a storage of its own, without history.
inline Tensor copy(const Tensor& a) {
  return a.visit([](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor out = empty_tensor<T>(x.shape(), "copy");
    std::copy(x.data(), x.data() + x.size(), elements_of<T>(out));
    return out;
  });
}

// Calls f(const Array<T>&) on a's data and wraps the array (or tensor) it returns.
template <class F>
Tensor map_data(const Tensor& a, F&& f) {
  return a.visit([&](const auto& x) { return Tensor(f(x)); });
}

// Calls f(x, y) on the data of two tensors of one dtype.
template <class F>
Tensor map_data2(std::string_view op, const Tensor& a, const Tensor& b, F&& f) {
  check_same_dtype(op, a, b);
  return a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    return Tensor(f(x, b.data<T>()));
  });
}

// Elementwise y = f(x) into a new tensor of the same shape.
template <class T, class F>
Tensor elementwise(const Array<T>& x, F f) {
  Tensor out = empty_tensor<T>(x.shape());
  const T* src = x.data();
  T* dst = elements_of<T>(out);
  const std::size_t n = x.size();
  for (std::size_t i = 0; i < n; ++i) dst[i] = f(src[i]);
  return out;
}

// Whether `small`, broadcast to `full`, is one block repeated along full's leading dims: its
// dims, right-aligned, equal full's trailing dims once its own leading 1s are dropped.
inline bool repeats_as_row(const Shape& small, const Shape& full) {
  std::size_t first = 0;
  while (first < small.size() && small[first] == 1) ++first;
  const std::size_t rank = small.size() - first;
  if (rank > full.size()) return false;
  return std::equal(small.begin() + static_cast<std::ptrdiff_t>(first), small.end(),
                    full.end() - static_cast<std::ptrdiff_t>(rank));
}

// Whether `small` is full's leading dims followed by 1s only (each element repeated along the
// trailing dims), as in [B, 1] against [B, N].
inline bool repeats_as_column(const Shape& small, const Shape& full) {
  if (small.size() != full.size()) return false;
  std::size_t last = small.size();
  while (last > 0 && small[last - 1] == 1) --last;
  return std::equal(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(last), full.begin());
}

// Elementwise z = f(x, y) with NumPy broadcasting; fast paths for equal shapes, scalars, rows
// and columns.
template <class T, class F>
Tensor elementwise(std::string_view op, const Array<T>& x, const Array<T>& y, F f) {
  if (x.shape() == y.shape()) {
    Tensor out = empty_tensor<T>(x.shape());
    T* dst = elements_of<T>(out);
    const std::size_t n = x.size();
    for (std::size_t i = 0; i < n; ++i) dst[i] = f(x.data()[i], y.data()[i]);
    return out;
  }
  const Shape shape = broadcast_shapes(op, x.shape(), y.shape());
  Tensor out = empty_tensor<T>(shape);
  T* dst = elements_of<T>(out);
  const std::size_t n = out.numel();
  if (y.size() == 1) {
    const T v = y.data()[0];
    for (std::size_t i = 0; i < n; ++i) dst[i] = f(x.data()[i], v);
    return out;
  }
  if (x.size() == 1) {
    const T v = x.data()[0];
    for (std::size_t i = 0; i < n; ++i) dst[i] = f(v, y.data()[i]);
    return out;
  }
  // A row repeated along the leading dims (a bias [N] added to [B, N]) or a column repeated
  // along the trailing dims ([B, 1] against [B, N]): plain nested loops, no broadcast iterators.
  if (n != 0) {
    if (x.size() == n && repeats_as_row(y.shape(), shape)) {
      const std::size_t m = y.size();
      for (std::size_t r = 0; r < n; r += m) {
        for (std::size_t j = 0; j < m; ++j) dst[r + j] = f(x.data()[r + j], y.data()[j]);
      }
      return out;
    }
    if (y.size() == n && repeats_as_row(x.shape(), shape)) {
      const std::size_t m = x.size();
      for (std::size_t r = 0; r < n; r += m) {
        for (std::size_t j = 0; j < m; ++j) dst[r + j] = f(x.data()[j], y.data()[r + j]);
      }
      return out;
    }
    if (x.size() == n && repeats_as_column(y.shape(), shape)) {
      const std::size_t m = n / y.size();
      for (std::size_t r = 0; r < y.size(); ++r) {
        const T v = y.data()[r];
        for (std::size_t j = 0; j < m; ++j) dst[r * m + j] = f(x.data()[r * m + j], v);
      }
      return out;
    }
    if (y.size() == n && repeats_as_column(x.shape(), shape)) {
      const std::size_t m = n / x.size();
      for (std::size_t r = 0; r < x.size(); ++r) {
        const T v = x.data()[r];
        for (std::size_t j = 0; j < m; ++j) dst[r * m + j] = f(v, y.data()[r * m + j]);
      }
      return out;
    }
  }
  auto bx = xt::broadcast(x, shape);
  auto by = xt::broadcast(y, shape);
  auto ix = bx.cbegin();
  auto iy = by.cbegin();
  for (std::size_t i = 0; i < n; ++i, ++ix, ++iy) dst[i] = f(*ix, *iy);
  return out;
}

}  // namespace matgrad::detail

namespace matgrad::detail {

// Sum over one dim of x (a row-major array: an Array or an xt::xarray) viewed as
// [outer, n, inner]; the result has shape `out_shape`.
template <class A, class T = typename A::value_type>
Array<T> sum_dim(const A& x, std::size_t dim, const Shape& out_shape) {
  const detail::DimSplit split = split_at(x.shape(), dim);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  auto out = empty_array<T>(out_shape);
  std::fill(out.begin(), out.end(), T(0));
  const T* __restrict src = x.data();
  T* __restrict dst = out.data();  // a fresh array: no aliasing, so the loops vectorise
  for (std::size_t o = 0; o < outer; ++o) {
    T* row = dst + o * inner;
    for (std::size_t k = 0; k < n; ++k) {
      const T* in = src + (o * n + k) * inner;
      for (std::size_t i = 0; i < inner; ++i) row[i] += in[i];
    }
  }
  return out;
}

// Sum of x (a row-major array) viewed as [rows, size / rows] over its rows (the leading dims
// summed away, as for a bias gradient); the result has shape `out_shape` of size / rows elements.
template <class A, class T = typename A::value_type>
Array<T> sum_rows(const A& x, std::size_t rows, const Shape& out_shape) {
  auto out = empty_array<T>(out_shape);
  const std::size_t cols = out.size();
  T* __restrict dst = out.data();  // a fresh array: no aliasing, so the loop vectorises
  std::fill(dst, dst + cols, T(0));
  const T* __restrict src = x.data();
  for (std::size_t r = 0; r < rows; ++r) {
    const T* row = src + r * cols;
    for (std::size_t j = 0; j < cols; ++j) dst[j] += row[j];
  }
  return out;
}

}  // namespace matgrad::detail
