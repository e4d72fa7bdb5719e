// Indexing and joining: index_select / index_add and slice / slice_scatter (each the other's
// adjoint), narrow (a view), concat and stack. Every kernel views a tensor as [outer, n, inner]
// around the dim and moves rows of `inner` contiguous elements. All but index_add move elements
// without arithmetic, so they take int64 tensors too.
#include "matgrad/composed_op.hpp"
#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace matgrad {

using detail::check_defined;
using detail::normalize_dim;
using detail::split_at;
using detail::wrap_dim;

namespace {

void check_indices(std::string_view op, std::span<const std::size_t> index, std::size_t dim,
                   std::size_t size) {
  for (const std::size_t i : index) {
    if (i >= size) {
      fail<IndexError>("{}: index {} is out of range for dim {} of size {}", op, i, dim, size);
    }
  }
}

// The positions start, start + step, ... (< end, end clipped to size) of a slice along one dim.
struct SliceRange {
  std::size_t start, step, count;
};

SliceRange slice_range(std::string_view op, const Shape& shape, std::size_t dim,
                       std::size_t start, std::size_t end, std::size_t step) {
  const std::size_t size = shape[dim];
  if (step == 0) fail<ValueError>("{}: step must be positive, got 0 (dim {})", op, dim);
  // Bounds beyond the size are clamped to it, as Python's slices: a[7:] of 5 rows is empty.
  start = std::min(start, size);
  end = std::min(end, size);
  // ⌈(end − start) / step⌉, written so that a huge step cannot wrap it around.
  const std::size_t count = start >= end ? 0 : (end - start - 1) / step + 1;
  return {start, step, count};
}

Shape with_dim(Shape shape, std::size_t dim, std::size_t size) {
  shape[dim] = size;
  return shape;
}

// A 0-d tensor indexed along its dim 0 (as PyTorch allows): the one index must be 0, and the
// result keeps its 0-d shape.
void check_scalar_index(std::string_view op, std::span<const std::size_t> index) {
  if (index.size() != 1) {
    fail<IndexError>("{}: a 0-d tensor takes exactly one index (0), got {}", op, index.size());
  }
  check_indices(op, index, 0, 1);
}

}  // namespace

static const OpInfo index_select_info{"index_select", "dC = dA[index] (along dim)",
                                      "tC = index_select(tA, dim, index)",
                                      "gA = index_add(0, dim, index, gC)", Saves::nothing,
    "C = index_select(A, dim, index)"};
Tensor index_select(const Tensor& a, std::ptrdiff_t dim, std::span<const std::size_t> index, const SourceLocation& caller) {
  detail::check_defined_any_dtype("index_select", a);
  const std::size_t d = wrap_dim("index_select", dim, a.dim());
  const detail::DimSplit split = split_at(a.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  const std::size_t m = index.size();
  if (a.dim() == 0) check_scalar_index("index_select", index);
  check_indices("index_select", index, d, n);
  const Shape out_shape = a.dim() == 0 ? Shape{} : with_dim(a.shape(), d, m);
  Tensor out = detail::map_any_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto y = detail::empty_array<T>(out_shape, "index_select");
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t j = 0; j < m; ++j) {
        const T* src = x.data() + (o * n + index[j]) * inner;
        std::copy(src, src + inner, y.data() + (o * m + j) * inner);
      }
    }
    return y;
  });
  return record(
      index_select_info, std::move(out), {a},
      [&](const Tangent& ta) { return index_select(ta, d, index); },
      [shape = a.shape(), d, idx = std::vector<std::size_t>(index.begin(), index.end())](
          const Tensor& g) -> Grads {
        return {index_add(zeros(shape, {.dtype = g.dtype()}), static_cast<std::ptrdiff_t>(d), idx, g)};
      },
      caller);
}

static const OpInfo index_add_info{"index_add", "dC = index_add(dA, dim, index, dS)",
                                   "tC = index_add(tA, dim, index, tS)",
                                   "gA = gC, gS = index_select(gC, dim, index)", Saves::nothing,
    "C = index_add(A, dim, index, S)"};
Tensor index_add(const Tensor& a, std::ptrdiff_t dim, std::span<const std::size_t> index,
                 const Tensor& source, const SourceLocation& caller) {
  detail::check_same_dtype_any("index_add", a, source);  // int64 too, as torch (diag_embed needs it)
  const std::size_t d = wrap_dim("index_add", dim, a.dim());
  // A 0-d a takes one index and a source of shape [] or [1] (PyTorch allows both).
  const bool scalar = a.dim() == 0;
  if (scalar) check_scalar_index("index_add", index);
  const Shape expected = scalar ? Shape{} : with_dim(a.shape(), d, index.size());
  if (source.shape() != expected && !(scalar && source.shape() == Shape{1})) {
    fail<ShapeError>(
        "index_add: source has shape {} but a of shape {} with {} indices along dim {} needs a "
        "source of shape {}",
        to_string(source.shape()), to_string(a.shape()), index.size(), d, to_string(expected));
  }
  const detail::DimSplit split = split_at(a.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  check_indices("index_add", index, d, n);
  const std::size_t m = index.size();
  Tensor out = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const auto& s = source.data<T>();
    auto y = detail::empty_array<T>(x.shape(), "index_add");
    std::copy(x.data(), x.data() + x.size(), y.data());
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t j = 0; j < m; ++j) {
        const T* src = s.data() + (o * m + j) * inner;
        T* dst = y.data() + (o * n + index[j]) * inner;
        for (std::size_t i = 0; i < inner; ++i) dst[i] += src[i];
      }
    }
    return Tensor(std::move(y));
  });
  return record(
      index_add_info, std::move(out), {a, source},
      [&](const Tangent& ta, const Tangent& ts) { return ts ? index_add(ta.or_zeros(a), d, index, ts) : ta; },
      [d, idx = std::vector<std::size_t>(index.begin(), index.end()),
       source_1d = scalar && source.dim() == 1](const Tensor& g, const VjpContext& ctx) -> Grads {
        if (!ctx.needs[1]) return {g, Tensor()};
        const Tensor gs = index_select(g, static_cast<std::ptrdiff_t>(d), idx);
        return {g, source_1d ? reshape(gs, {1}) : gs};
      },
      caller);
}

// torch's alpha: a + alpha · (source's slices at index), composed through index_add and mul.
Tensor index_add(const Tensor& a, std::ptrdiff_t dim, std::span<const std::size_t> index, const Tensor& source,
                 double alpha, const SourceLocation& caller) {
  if (alpha == 1) return index_add(a, dim, index, source, caller);
  if (source.dtype() == DType::int64 && alpha != std::trunc(alpha)) {
    fail<ValueError>("index_add: alpha {} is not an integer, and source is int64", alpha);
  }
  return index_add(a, dim, index, Operand(source, caller) * alpha, caller);
}

static const OpInfo slice_info{"slice", "dC = slice(dA, dim, start, end, step) (dA[start:end:step] along dim)",
                               "tC = slice(tA, dim, start, end, step)",
                               "gA = slice_scatter(0, gC, dim, start, end, step)", Saves::nothing,
    "C = slice(A, dim, start, end, step)"};
Tensor slice(const Tensor& a, std::ptrdiff_t dim, std::size_t start, std::size_t end,
             std::size_t step, const SourceLocation& caller) {
  detail::check_defined_any_dtype("slice", a);
  const std::size_t d = normalize_dim("slice", dim, a.dim());
  const SliceRange r = slice_range("slice", a.shape(), d, start, end, step);
  const detail::DimSplit split = split_at(a.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  const Shape out_shape = with_dim(a.shape(), d, r.count);
  Tensor out = detail::map_any_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto y = detail::empty_array<T>(out_shape, "slice");
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t j = 0; j < r.count; ++j) {
        const T* src = x.data() + (o * n + r.start + j * r.step) * inner;
        std::copy(src, src + inner, y.data() + (o * r.count + j) * inner);
      }
    }
    return y;
  });
  return record(
      slice_info, std::move(out), {a},
      [&](const Tangent& ta) { return slice(ta, d, start, end, step); },
      [shape = a.shape(), d, start, end, step](const Tensor& g) -> Grads {
        return {slice_scatter(zeros(shape, {.dtype = g.dtype()}), g, static_cast<std::ptrdiff_t>(d),
                              start, end, step)};
      },
      caller);
}

// C = A[start:start+length] along dim, sharing A's storage (elements and version counter), as
// PyTorch's narrow. matgrad has no strided views, so only a narrow that is contiguous is
// allowed: every dim before `dim` of size 1 (any range of rows, say); slice copies the others.
static const OpInfo narrow_info{"narrow", "dC = narrow(dA, dim, start, length) (dA[start:start+length] along dim)",
                                "tC = narrow(tA, dim, start, length)",
                                "gA = slice_scatter(0, gC, dim, start, start + length)", Saves::nothing,
    "C = narrow(A, dim, start, length)"};
Tensor narrow(const Tensor& a, std::ptrdiff_t dim, std::ptrdiff_t start, std::size_t length,
              const SourceLocation& caller) {
  detail::check_defined_any_dtype("narrow", a);
  const std::size_t d = normalize_dim("narrow", dim, a.dim());
  const std::size_t size = a.shape()[d];
  const auto signed_size = static_cast<std::ptrdiff_t>(size);
  if (start < -signed_size || start > signed_size) {
    fail<IndexError>("narrow: start {} is out of range for dim {} of size {}", start, d, size);
  }
  const std::size_t first = static_cast<std::size_t>(start < 0 ? start + signed_size : start);
  if (length > size - first) {
    fail<IndexError>("narrow: start {} + length {} exceeds dim {} of size {}", first, length, d, size);
  }
  const detail::DimSplit split = split_at(a.shape(), d);
  if (split.outer > 1 && split.inner != 0 && length != size) {
    fail<ShapeError>(
        "narrow: elements {}..{} of dim {} of a {} tensor are not contiguous (the dims before it "
        "hold {} of them) and matgrad has no strided views; slice copies them",
        first, first + length, d, to_string(a.shape()), split.outer);
  }
  const std::size_t offset = a.numel() == 0 ? 0 : first * split.inner;
  Tensor out = detail::view_of(a, with_dim(a.shape(), d, length), offset);
  return record(
      narrow_info, std::move(out), {a},
      [&](const Tangent& ta) {
        return slice(ta, d, first, first + length, 1);
      },
      [shape = a.shape(), d, first, length](const Tensor& g) -> Grads {
        return {slice_scatter(zeros(shape, {.dtype = g.dtype()}), g, static_cast<std::ptrdiff_t>(d),
                              first, first + length)};
      },
      caller);
}

static const OpInfo slice_scatter_info{
    "slice_scatter", "dC = slice_scatter(dA, dS, dim, start, end, step) (dA with dA[start:end:step] replaced by dS)",
    "tC = slice_scatter(tA, tS, dim, start, end, step)",
    "gA = slice_scatter(gC, 0, dim, start, end, step), gS = slice(gC, dim, start, end, step)",
    Saves::nothing,
    "C = slice_scatter(A, S, dim, start, end, step)"};
Tensor slice_scatter(const Tensor& a, const Tensor& source, std::ptrdiff_t dim, std::size_t start,
                     std::size_t end, std::size_t step, const SourceLocation& caller) {
  detail::check_same_dtype_any("slice_scatter", a, source);
  const std::size_t d = normalize_dim("slice_scatter", dim, a.dim());
  const SliceRange r = slice_range("slice_scatter", a.shape(), d, start, end, step);
  const Shape expected = with_dim(a.shape(), d, r.count);
  if (source.shape() != expected) {
    fail<ShapeError>(
        "slice_scatter: source has shape {} but the slice {}:{}:{} of dim {} of a {} has shape {}",
        to_string(source.shape()), start, end, step, d, to_string(a.shape()), to_string(expected));
  }
  const detail::DimSplit split = split_at(a.shape(), d);
  const std::size_t outer = split.outer, n = split.n, inner = split.inner;
  Tensor out = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const auto& s = source.data<T>();
    auto y = detail::empty_array<T>(x.shape(), "slice_scatter");
    std::copy(x.data(), x.data() + x.size(), y.data());
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t j = 0; j < r.count; ++j) {
        const T* src = s.data() + (o * r.count + j) * inner;
        std::copy(src, src + inner, y.data() + (o * n + r.start + j * r.step) * inner);
      }
    }
    return Tensor(std::move(y));
  });
  return record(
      slice_scatter_info, std::move(out), {a, source},
      [&](const Tangent& ta, const Tangent& ts) {
        return slice_scatter(ta.or_zeros(a), ts.or_zeros(source), d, start, end, step);
      },
      [source_shape = source.shape(), d, start, end, step](const Tensor& g,
                                                           const VjpContext& ctx) -> Grads {
        const auto dd = static_cast<std::ptrdiff_t>(d);
        Tensor ga, gs;
        if (ctx.needs[0]) {
          ga = slice_scatter(g, zeros(source_shape, {.dtype = g.dtype()}), dd, start, end, step);
        }
        if (ctx.needs[1]) gs = slice(g, dd, start, end, step);
        return {ga, gs};
      },
      caller);
}

static const OpInfo concat_info{"concat", "dC = concat(dAₖ, dim) (dA₀, dA₁, … along dim)",
                                "tC = concat(tA₀, tA₁, ...) (0 for an absent tAₖ)",
                                "gAₖ = slice(gC, dim, offsetₖ, offsetₖ + sizeₖ)", Saves::nothing,
    "C = concat(Aₖ, dim)"};
Tensor concat(const std::vector<Tensor>& tensors, std::ptrdiff_t dim, const SourceLocation& caller) {
  if (tensors.empty()) fail<ValueError>("concat: expects at least one tensor, got none");
  for (const Tensor& t : tensors) detail::check_defined_any_dtype("concat", t);
  const Tensor& first = tensors[0];
  const Shape& s0 = first.shape();
  if (s0.empty()) {
    fail<ShapeError>("concat: input 0 is 0-d (shape []); 0-d tensors cannot be concatenated "
                     "(stack them instead)");
  }
  const std::size_t d = normalize_dim("concat", dim, s0.size());
  std::vector<std::size_t> offsets(tensors.size() + 1, 0);  // input k is [offsets[k], offsets[k+1])
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    const Shape& s = t.shape();
    if (t.dtype() != first.dtype()) {
      fail<DTypeError>("concat: input {} has dtype {} but input 0 has dtype {}", k,
                       dtype_name(t.dtype()), dtype_name(first.dtype()));
    }
    if (s.size() != s0.size()) {
      fail<ShapeError>("concat: input {} has rank {} (shape {}) but input 0 has rank {} (shape {})",
                       k, s.size(), to_string(s), s0.size(), to_string(s0));
    }
    if (with_dim(s, d, 0) != with_dim(s0, d, 0)) {
      fail<ShapeError>(
          "concat: input {} has shape {} but input 0 has shape {}; shapes must match except "
          "along dim {}",
          k, to_string(s), to_string(s0), d);
    }
    if (__builtin_add_overflow(offsets[k], s[d], &offsets[k + 1])) {
      fail<ShapeError>("concat: the sizes along dim {} add up to more than memory can address", d);
    }
  }
  const std::size_t total = offsets.back();
  const detail::DimSplit split = split_at(s0, d);
  const std::size_t outer = split.outer, inner = split.inner;
  Tensor out = first.visit_any_dtype([&](const auto& x0) {
    using T = typename std::decay_t<decltype(x0)>::value_type;
    auto y = detail::empty_array<T>(with_dim(s0, d, total), "concat");
    for (std::size_t k = 0; k < tensors.size(); ++k) {
      const T* src = tensors[k].data<T>().data();
      const std::size_t block = (offsets[k + 1] - offsets[k]) * inner;
      for (std::size_t o = 0; o < outer; ++o) {
        std::copy(src + o * block, src + (o + 1) * block,
                  y.data() + (o * total + offsets[k]) * inner);
      }
    }
    return Tensor(std::move(y));
  });
  return record(
      concat_info, std::move(out), tensors,
      [&](const Tangents& t) {
        std::vector<Tangent> parts;
        for (std::size_t k = 0; k < t.size(); ++k) parts.push_back(t[k].or_zeros(tensors[k]));
        return concat(parts, d);
      },
      [d, offsets = std::move(offsets)](const Tensor& g, const VjpContext& ctx) -> Grads {
        Grads grads(offsets.size() - 1);
        for (std::size_t k = 0; k < grads.size(); ++k) {
          if (ctx.needs[k]) grads[k] = slice(g, static_cast<std::ptrdiff_t>(d), offsets[k], offsets[k + 1]);
        }
        return grads;
      },
      caller);
}

static const ComposedOpInfo stack_composed{"stack", "C = concat(unsqueeze(Aᵢ, dim) for each i, dim)"};
// Not a primitive: unsqueeze each input at dim, then concat along it.
Tensor stack(const std::vector<Tensor>& tensors, std::ptrdiff_t dim, const SourceLocation& caller) {
  if (tensors.empty()) fail<ValueError>("stack: expects at least one tensor, got none");
  for (const Tensor& t : tensors) detail::check_defined_any_dtype("stack", t);
  const Shape& s0 = tensors[0].shape();
  const std::size_t d = normalize_dim("stack", dim, s0.size() + 1);
  for (std::size_t k = 1; k < tensors.size(); ++k) {
    if (tensors[k].shape() != s0) {
      fail<ShapeError>("stack: input {} has shape {} but input 0 has shape {}; all must be equal",
                       k, to_string(tensors[k].shape()), to_string(s0));
    }
  }
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(unsqueeze(t, static_cast<std::ptrdiff_t>(d), caller));
  return concat(parts, static_cast<std::ptrdiff_t>(d), caller);
}

}  // namespace matgrad
