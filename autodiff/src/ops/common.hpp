// Helpers shared by the op families: argument checks and dtype dispatch.
#pragma once

#include "matgrad/autograd.hpp"
#include "matgrad/backend.hpp"
#include "matgrad/ops.hpp"
#include "pool.hpp"
#include "tangent.hpp"

#include <xtensor/xarray.hpp>
#include <xtensor/xnoalias.hpp>

#include <algorithm>
#include <cmath>
#include <span>
#include <string_view>
#include <type_traits>

namespace matgrad::detail {

// A defined tensor of any dtype: for the ops that take int64 tensors too (views, indexing,
// comparisons, integer arithmetic).
inline void check_defined_any_dtype(std::string_view op, const Tensor& t) {
  if (!t.defined()) fail<Error>("{}: an input is an undefined tensor", op);
}

[[noreturn]] void fail_not_floating(std::string_view op, const Tensor& t);

// A defined float32 or float64 tensor: the check every floating-point op starts with, so that an
// int64 input is refused with the op's name rather than deep in a kernel.
inline void check_defined(std::string_view op, const Tensor& t) {
  check_defined_any_dtype(op, t);
  if (t.dtype() == DType::int64) [[unlikely]] fail_not_floating(op, t);
}

// Two tensors of one dtype, any dtype. matgrad promotes no dtype to another (torch would turn
// int64 with float32 into float32, and float32 with float64 into float64).
inline void check_same_dtype_any(std::string_view op, const Tensor& a, const Tensor& b) {
  check_defined_any_dtype(op, a);
  check_defined_any_dtype(op, b);
  if (a.dtype() != b.dtype()) {
    fail<DTypeError>("{}: dtypes differ: {} and {} (matgrad does not promote: convert one with .to())",
                     op, dtype_name(a.dtype()), dtype_name(b.dtype()));
  }
}

// Two floating-point tensors of one dtype.
inline void check_same_dtype(std::string_view op, const Tensor& a, const Tensor& b) {
  check_same_dtype_any(op, a, b);
  check_defined(op, a);
}

// An int64 index tensor (gather, scatter, index_select, cross_entropy's targets, ...): `what`
// names the argument in the error.
inline void check_index_tensor(std::string_view op, std::string_view what, const Tensor& index) {
  check_defined_any_dtype(op, index);
  if (index.dtype() != DType::int64) {
    fail<DTypeError>("{}: {} must be an int64 tensor, got {} (convert it with .to(DType::int64))",
                     op, what, dtype_name(index.dtype()));
  }
}

// gather's and the scatters' checks, as torch's: index (int64) has the rank of self and of src
// (a 0-d tensor counting as rank 1); index.size(d) ≤ self.size(d) for d ≠ dim, and
// index.size(d) ≤ src.size(d) for every d (src null: no src).
void check_index_shape(std::string_view op, const Tensor& self, std::size_t dim, const Tensor& index,
                       const Tensor* src);

// The scatters' src may be larger than their index (as torch allows): the index-shaped leading
// block of src that they read (slices from 0 along each dim), and its adjoint, g of the index's
// shape padded with zeros to src's shape (gather_scatter.cpp).
Tensor leading_block(const Tensor& src, const Shape& shape);
Tensor pad_to(const Tensor& g, const Shape& shape);

// A scalar given for an int64 tensor must be an integer that int64 holds (torch would promote
// the tensor to float for 1.5; matgrad refuses).
void check_integral_scalar(std::string_view op, std::string_view what, double value);
// remainder of two int64 tensors (integer.cpp), which remainder() hands them to.
Tensor integer_remainder(const Tensor& a, const Tensor& b);

// A dim in [-rank, rank) as an index in [0, rank). A 0-d tensor has no dim to name (PyTorch:
// "dimension specified as 0 but tensor has no dimensions"); the ops that accept one take
// wrap_dim instead.
inline std::size_t normalize_dim(std::string_view op, std::ptrdiff_t dim, std::size_t rank) {
  const auto r = static_cast<std::ptrdiff_t>(rank);
  if (rank == 0) {
    fail<IndexError>("{}: dim {} given for a 0-d tensor, which has no dims", op, dim);
  }
  if (dim < -r || dim >= r) {
    fail<IndexError>("{}: dim {} is out of range for a tensor of rank {} (expected {} to {})", op,
                     dim, rank, -r, r - 1);
  }
  return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

// The same, but a 0-d tensor counts as one dim of size 1 (dim 0 or -1), as PyTorch's reductions,
// index_select, index_add, transpose, squeeze and the softmax family have it. split_at and
// reduced_shape read that dim 0 of a 0-d shape accordingly.
inline std::size_t wrap_dim(std::string_view op, std::ptrdiff_t dim, std::size_t rank) {
  if (rank == 0 && dim != 0 && dim != -1) {
    fail<IndexError>("{}: dim {} is out of range for a 0-d tensor (expected 0 or -1)", op, dim);
  }
  return rank == 0 ? 0 : normalize_dim(op, dim, rank);
}

// The NumPy broadcast of two shapes, or a ShapeError naming the op.
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);

// Product of dims [begin, end).
inline std::size_t dims_product(const Shape& s, std::size_t begin, std::size_t end) {
  std::size_t n = 1;
  for (std::size_t i = begin; i < end; ++i) n *= s[i];
  return n;
}

// A tensor viewed as [outer, n, inner] around dim (a 0-d tensor as [1, 1, 1]), for loops over
// one dimension. Copy the fields into named variables rather than a structured binding: clang
// 14 (the fuzzing build) cannot capture structured bindings in lambdas.
struct DimSplit {
  std::size_t outer, n, inner;
};
inline DimSplit split_at(const Shape& s, std::size_t dim) {
  if (s.empty()) return {1, 1, 1};
  return {dims_product(s, 0, dim), s[dim], dims_product(s, dim + 1, s.size())};
}

// Shape with dim removed (keepdim false) or set to 1 (keepdim true); a 0-d shape stays 0-d.
inline Shape reduced_shape(const Shape& s, std::size_t dim, bool keepdim) {
  Shape out = s;
  if (s.empty()) return out;
  if (keepdim) {
    out[dim] = 1;
  } else {
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(dim));
  }
  return out;
}

// The gradient of a reduction over dim d, with d put back at size 1 so that it broadcasts
// against the input (nothing to put back after keepdim, or for a 0-d input).
inline Tensor unreduce(const Tensor& g, std::size_t d, bool keepdim, std::size_t input_rank) {
  return keepdim || input_rank == 0 ? g : unsqueeze(g, static_cast<std::ptrdiff_t>(d));
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

// An uninitialised array in a storage of its own; `op` names the op in the error when it cannot
// be allocated.
template <class T>
Array<T> empty_array(const Shape& shape, std::string_view op) {
  return allocating<T>(shape, op, [&] { return Array<T>(SharedBuffer<T>(xt::compute_size(shape)), shape); });
}

// A 0-d array holding value.
template <class T>
Array<T> scalar_array(T value, std::string_view op) {
  auto a = empty_array<T>({}, op);
  a.data()[0] = value;
  return a;
}

// An xtensor expression evaluated into an array of its own (one allocation, as for an
// xt::xarray, which a tensor would take over with a second one for its storage's header).
template <class E, class T = typename E::value_type>
Array<T> to_array(const xt::xexpression<E>& e, std::string_view op) {
  auto out = empty_array<T>(Shape(e.derived_cast().shape().begin(), e.derived_cast().shape().end()), op);
  xt::noalias(out) = e;
  return out;
}

// The same as a tensor: the array is built inside the tensor, where building it first and
// moving it in costs a third more for a small tensor (the shape, strides and back-strides are
// copied). Two allocations: the TensorImpl, and the storage with its elements. Write its
// elements through elements_of.
template <class T>
Tensor empty_tensor(const Shape& shape, std::string_view op) {
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
  return a.visit_any_dtype([](const auto& x) {
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

// The same for a tensor of any dtype (f is instantiated for int64 too).
template <class F>
Tensor map_any_data(const Tensor& a, F&& f) {
  return a.visit_any_dtype([&](const auto& x) { return Tensor(f(x)); });
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
Tensor elementwise(std::string_view op, const Array<T>& x, F f) {
  Tensor out = empty_tensor<T>(x.shape(), op);
  const T* src = x.data();
  T* dst = elements_of<T>(out);
  parallel_for(dtype_of<T>(), x.size(), kGrain, [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) dst[i] = f(src[i]);
  });
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
    Tensor out = empty_tensor<T>(x.shape(), op);
    T* dst = elements_of<T>(out);
    const T* a = x.data();
    const T* b = y.data();
    parallel_for(dtype_of<T>(), x.size(), kGrain, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) dst[i] = f(a[i], b[i]);
    });
    return out;
  }
  const Shape shape = broadcast_shapes(op, x.shape(), y.shape());
  Tensor out = empty_tensor<T>(shape, op);
  T* dst = elements_of<T>(out);
  const std::size_t n = out.numel();
  const T* a = x.data();
  const T* b = y.data();
  if (y.size() == 1) {
    const T v = b[0];
    parallel_for(dtype_of<T>(), n, kGrain, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) dst[i] = f(a[i], v);
    });
    return out;
  }
  if (x.size() == 1) {
    const T v = a[0];
    parallel_for(dtype_of<T>(), n, kGrain, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) dst[i] = f(v, b[i]);
    });
    return out;
  }
  // A row repeated along the leading dims (a bias [N] added to [B, N]) or a column repeated
  // along the trailing dims ([B, 1] against [B, N]): plain nested loops, no broadcast iterators,
  // split over the threads by rows of m elements.
  if (n != 0) {
    const auto by_rows = [&](std::size_t rows, std::size_t m, const auto& row) {
      parallel_for(dtype_of<T>(), rows, std::max<std::size_t>(1, kGrain / m),
                   [&](std::size_t begin, std::size_t end) {
                     for (std::size_t r = begin; r < end; ++r) row(r * m, r);
                   });
    };
    if (x.size() == n && repeats_as_row(y.shape(), shape)) {
      const std::size_t m = y.size();
      by_rows(n / m, m, [&](std::size_t at, std::size_t) {
        for (std::size_t j = 0; j < m; ++j) dst[at + j] = f(a[at + j], b[j]);
      });
      return out;
    }
    if (y.size() == n && repeats_as_row(x.shape(), shape)) {
      const std::size_t m = x.size();
      by_rows(n / m, m, [&](std::size_t at, std::size_t) {
        for (std::size_t j = 0; j < m; ++j) dst[at + j] = f(a[j], b[at + j]);
      });
      return out;
    }
    if (x.size() == n && repeats_as_column(y.shape(), shape)) {
      const std::size_t m = n / y.size();
      by_rows(y.size(), m, [&](std::size_t at, std::size_t r) {
        const T v = b[r];
        for (std::size_t j = 0; j < m; ++j) dst[at + j] = f(a[at + j], v);
      });
      return out;
    }
    if (y.size() == n && repeats_as_column(x.shape(), shape)) {
      const std::size_t m = n / x.size();
      by_rows(x.size(), m, [&](std::size_t at, std::size_t r) {
        const T v = a[r];
        for (std::size_t j = 0; j < m; ++j) dst[at + j] = f(v, b[at + j]);
      });
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

// Sums for the reductions. float32 accumulates in double: a float running sum stops growing
// once it is 2^24 times its addends (Σ of 2^25 ones is 2^24 in float) and loses digits well
// before that; NumPy and PyTorch sum pairwise. Total::norm is sqrt(Σ x²), squared and rooted in
// double, so that float32 entries above 1.8e19 do not overflow on the way.
enum class Total { sum, norm };

template <Total K, class T>
inline double summand(T v) {
  const double d = static_cast<double>(v);
  if constexpr (K == Total::norm) {
    return d * d;
  } else {
    return d;
  }
}

template <Total K>
inline double finish(double acc) {
  if constexpr (K == Total::norm) {
    return std::sqrt(acc);
  } else {
    return acc;
  }
}

// The total of n contiguous elements, in four interleaved double sums (independent additions
// pipeline; a single chain waits on each add).
template <Total K = Total::sum, class T>
double total_contiguous(const T* p, std::size_t n) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += summand<K>(p[i]);
    a1 += summand<K>(p[i + 1]);
    a2 += summand<K>(p[i + 2]);
    a3 += summand<K>(p[i + 3]);
  }
  for (; i < n; ++i) a0 += summand<K>(p[i]);
  return finish<K>((a0 + a1) + (a2 + a3));
}

// dst[o, i] = the total over k of src[o, k, i], for src viewed as [outer, n, inner]: the column
// totals of each [n, inner] block. The running sums of up to kBlock columns sit in a double
// buffer on the stack (nothing allocated), and the loop over a row of them vectorises.
template <Total K = Total::sum, class T>
void total_columns(const T* __restrict src, std::size_t outer, std::size_t n, std::size_t inner,
                   T* __restrict dst) {
  constexpr std::size_t kBlock = 256;
  double acc[kBlock];
  for (std::size_t o = 0; o < outer; ++o) {
    const T* block = src + o * n * inner;
    if (inner == 1) {
      dst[o] = static_cast<T>(total_contiguous<K>(block, n));
      continue;
    }
    for (std::size_t i0 = 0; i0 < inner; i0 += kBlock) {
      const std::size_t w = std::min(kBlock, inner - i0);
      std::fill(acc, acc + w, 0.0);
      for (std::size_t k = 0; k < n; ++k) {
        const T* row = block + k * inner + i0;
        for (std::size_t i = 0; i < w; ++i) acc[i] += summand<K>(row[i]);
      }
      for (std::size_t i = 0; i < w; ++i) dst[o * inner + i0 + i] = static_cast<T>(finish<K>(acc[i]));
    }
  }
}

// Sum over one dim of x viewed as [outer, n, inner]; the result has shape `out_shape`.
// x is a row-major array: an Array or an xt::xarray.
template <Total K = Total::sum, class A, class T = typename A::value_type>
Array<T> sum_dim(std::string_view op, const A& x, std::size_t dim, const Shape& out_shape) {
  const detail::DimSplit split = split_at(x.shape(), dim);
  auto out = empty_array<T>(out_shape, op);
  total_columns<K>(x.data(), split.outer, split.n, split.inner, out.data());
  return out;
}

// Sum of x (a row-major array) viewed as [rows, size / rows] over its rows (the leading dims
// summed away, as for a bias gradient); the result has shape `out_shape` of size / rows elements.
template <class A, class T = typename A::value_type>
Array<T> sum_rows(std::string_view op, const A& x, std::size_t rows, const Shape& out_shape) {
  auto out = empty_array<T>(out_shape, op);
  total_columns(x.data(), 1, rows, out.size(), out.data());
  return out;
}

}  // namespace matgrad::detail
