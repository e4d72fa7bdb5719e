// Issue 14's remaining shape ops: diagonal, diag_embed, pad, and slice with negative bounds. Each
// is composed from differentiable primitives (permute, reshape, index_select, index_add, slice,
// concat), so the VJP and the JVP fall out of the graph: one gather or scatter pass each, as fast
// as a rule of their own would be, and exact.
#include "matgrad/composed_op.hpp"
#include "common.hpp"

#include <numeric>
#include <vector>

namespace matgrad {

using detail::check_defined_any_dtype;
using detail::normalize_dim;

namespace {

std::vector<std::ptrdiff_t> signed_dims(const std::vector<std::size_t>& v) { return {v.begin(), v.end()}; }

// Flat offsets into an n1×n2 matrix of the elements on diagonal `offset`.
std::vector<std::size_t> diagonal_offsets(std::size_t n1, std::size_t n2, std::ptrdiff_t offset) {
  const auto r = static_cast<std::ptrdiff_t>(n1), c = static_cast<std::ptrdiff_t>(n2);
  const std::ptrdiff_t length = std::max<std::ptrdiff_t>(0, offset >= 0 ? std::min(r, c - offset) : std::min(r + offset, c));
  std::vector<std::size_t> offsets;
  for (std::ptrdiff_t k = 0; k < length; ++k) {
    const std::ptrdiff_t row = offset >= 0 ? k : k - offset, col = offset >= 0 ? k + offset : k;
    offsets.push_back(static_cast<std::size_t>(row * c + col));
  }
  return offsets;
}

// The two dims of a diagonal, normalised against `rank` and required to differ.
std::pair<std::size_t, std::size_t> two_dims(std::string_view op, std::ptrdiff_t dim1, std::ptrdiff_t dim2, std::size_t rank) {
  const std::size_t d1 = normalize_dim(op, dim1, rank), d2 = normalize_dim(op, dim2, rank);
  if (d1 == d2) fail<IndexError>("{}: dim1 and dim2 are the same dim ({} and {})", op, dim1, dim2);
  return {d1, d2};
}

}  // namespace

static const ComposedOpInfo diagonal_composed{"diagonal", "C = index_select(reshape(permute(A) with dim1, dim2 last, [..., n₁n₂]), −1, positions of diagonal offset)"};
// C[..., k] = A[..., i, j] on diagonal `offset` of dims (dim1, dim2), which go, the diagonal
// taking their place as the last dim: dims permuted to the end, flattened, then index_select of
// the diagonal's offsets (gA is index_add of gC there). A copy, where torch returns a strided
// view: matgrad's views are contiguous (a documented departure; values and gradients agree).
Tensor diagonal(const Tensor& a, std::ptrdiff_t offset, std::ptrdiff_t dim1, std::ptrdiff_t dim2,
                const SourceLocation& caller) {
  check_defined_any_dtype("diagonal", a);
  if (a.dim() < 2) {
    fail<ShapeError>("diagonal: expects a tensor of rank >= 2, got shape {}", to_string(a.shape()));
  }
  const auto [d1, d2] = two_dims("diagonal", dim1, dim2, a.dim());
  std::vector<std::size_t> order;
  Shape flat;
  for (std::size_t d = 0; d < a.dim(); ++d) {
    if (d != d1 && d != d2) {
      order.push_back(d);
      flat.push_back(a.shape()[d]);
    }
  }
  order.push_back(d1);
  order.push_back(d2);
  const std::size_t n1 = a.shape()[d1], n2 = a.shape()[d2];
  flat.push_back(n1 * n2);
  const std::vector<std::size_t> offsets = diagonal_offsets(n1, n2, offset);
  const Tensor rows = reshape(permute(a, signed_dims(order), caller), flat, caller);
  return index_select(rows, -1, offsets, caller);
}

static const ComposedOpInfo diag_embed_composed{"diag_embed", "C = permute(reshape(index_add(0 of [..., n²], −1, positions of diagonal offset, A), [..., n, n])) with the new dims at dim1, dim2"};
// The inverse placement: A's last dim laid on diagonal `offset` of a new square pair of dims
// (dim1, dim2) of size n + |offset|, zeros elsewhere: index_add into zeros, then the two new dims
// moved into place.
Tensor diag_embed(const Tensor& a, std::ptrdiff_t offset, std::ptrdiff_t dim1, std::ptrdiff_t dim2,
                  const SourceLocation& caller) {
  check_defined_any_dtype("diag_embed", a);
  if (a.dim() == 0) fail<ShapeError>("diag_embed: expects a tensor of rank >= 1, got a 0-d tensor");
  const std::size_t rank = a.dim() + 1;
  const auto [d1, d2] = two_dims("diag_embed", dim1, dim2, rank);
  const std::size_t n = a.shape().back() + static_cast<std::size_t>(offset < 0 ? -offset : offset);
  Shape flat(a.shape().begin(), a.shape().end() - 1);
  flat.push_back(n * n);
  const std::vector<std::size_t> offsets = diagonal_offsets(n, n, offset);
  Tensor square = index_add(zeros(flat, {.dtype = a.dtype()}), -1, offsets, a, caller);
  Shape matrices(a.shape().begin(), a.shape().end() - 1);
  matrices.push_back(n);
  matrices.push_back(n);
  square = reshape(square, matrices, caller);
  // Output dim d1 is the rows (square's dim rank − 2), d2 the columns; the rest keep their order.
  std::vector<std::ptrdiff_t> order(rank);
  std::ptrdiff_t next = 0;
  for (std::size_t d = 0; d < rank; ++d) {
    order[d] = d == d1 ? static_cast<std::ptrdiff_t>(rank - 2) : d == d2 ? static_cast<std::ptrdiff_t>(rank - 1) : next++;
  }
  return permute(square, order, caller);
}

namespace {

// The source index of each output position along one dim of size n padded by (before, after),
// for reflect and replicate.
std::vector<std::size_t> padded_indices(std::string_view mode, std::size_t n, std::ptrdiff_t before, std::ptrdiff_t after) {
  const auto size = static_cast<std::ptrdiff_t>(n);
  std::vector<std::size_t> index;
  for (std::ptrdiff_t j = 0; j < size + before + after; ++j) {
    std::ptrdiff_t i = j - before;
    if (mode == "reflect") {
      i = i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;
    } else {
      i = std::clamp<std::ptrdiff_t>(i, 0, size - 1);
    }
    index.push_back(static_cast<std::size_t>(i));
  }
  return index;
}

}  // namespace

static const ComposedOpInfo pad_composed{"pad", "C = concat of full(value) blocks (constant), index_select of the reflected / edge positions (reflect, replicate) and A, dim by dim; slice for a negative pad"};
// torch.nn.functional.pad: pad = (before, after) pairs, the last dim's first. "constant" crops a
// negative pad (slice) and concatenates blocks of `value`; "reflect" mirrors about the edge
// element (each pad < the dim's size) and "replicate" repeats it (non-empty dim), both an
// index_select of the source positions (a negative pad shifts them: a crop), whose adjoint
// index_add sums the copies. A departure: reflect and replicate pad any number of trailing dims
// of any rank (torch: 1 to 3 dims of a batched input).
Tensor pad(const Tensor& a, const std::vector<std::ptrdiff_t>& pad, std::string_view mode, double value,
           const SourceLocation& caller) {
  check_defined_any_dtype("pad", a);
  if (pad.size() % 2 != 0) fail<ShapeError>("pad: the pad list has odd length {} (pairs, the last dim first)", pad.size());
  if (pad.size() / 2 > a.dim()) {
    fail<ShapeError>("pad: {} pad pairs for a tensor of rank {} (shape {})", pad.size() / 2, a.dim(), to_string(a.shape()));
  }
  const bool constant = mode == "constant";
  if (!constant && mode != "reflect" && mode != "replicate") {
    fail<ValueError>("pad: mode '{}' is not one of constant, reflect, replicate (circular is not implemented)", mode);
  }
  if (!constant && value != 0) fail<ValueError>("pad: a value ({}) is only taken by mode 'constant'", value);
  Tensor out = a;
  for (std::size_t k = 0; k < pad.size() / 2; ++k) {
    const std::size_t d = a.dim() - 1 - k;
    const std::ptrdiff_t before = pad[2 * k], after = pad[2 * k + 1];
    const auto n = static_cast<std::ptrdiff_t>(a.shape()[d]);
    if (n + before + after < 0 || (constant && n + std::min<std::ptrdiff_t>(before, 0) + std::min<std::ptrdiff_t>(after, 0) < 0)) {
      fail<ShapeError>("pad: pads ({}, {}) of dim {} of size {} leave a negative size", before, after, d, n);
    }
    if (before == 0 && after == 0) continue;
    const auto dim = static_cast<std::ptrdiff_t>(d);
    if (!constant) {
      if (mode == "reflect" && (before >= n || after >= n)) {
        fail<ShapeError>("pad: reflect pads ({}, {}) of dim {} must be smaller than its size {}", before, after, d, n);
      }
      if (n == 0) fail<ShapeError>("pad: mode '{}' cannot pad dim {} of size 0", mode, d);
      out = index_select(out, dim, padded_indices(mode, static_cast<std::size_t>(n), before, after), caller);
      continue;
    }
    const auto first = static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, -before));
    const auto last = static_cast<std::size_t>(n - std::max<std::ptrdiff_t>(0, -after));
    if (first != 0 || last != static_cast<std::size_t>(n)) out = slice(out, dim, first, last, 1, caller);
    std::vector<Tensor> parts;
    auto block = [&](std::ptrdiff_t size) {
      Shape s = out.shape();
      s[d] = static_cast<std::size_t>(size);
      parts.push_back(full(s, value, {.dtype = a.dtype()}));
    };
    if (before > 0) block(before);
    parts.push_back(out);
    if (after > 0) block(after);
    if (parts.size() > 1) out = concat(parts, dim, caller);
  }
  return out;
}

namespace detail {
// torch's slice bounds: negative ones count from the end, one below −size is 0.
Tensor slice_signed(const Tensor& a, std::ptrdiff_t dim, std::ptrdiff_t start, std::ptrdiff_t end, std::ptrdiff_t step,
                    const SourceLocation& caller) {
  check_defined_any_dtype("slice", a);
  const auto size = static_cast<std::ptrdiff_t>(a.shape()[normalize_dim("slice", dim, a.dim())]);
  if (step < 0) fail<ValueError>("slice: step must be positive, got {} (dim {})", step, dim);
  auto wrap = [size](std::ptrdiff_t i) { return static_cast<std::size_t>(i < 0 ? std::max<std::ptrdiff_t>(0, i + size) : i); };
  return slice(a, dim, wrap(start), wrap(end), static_cast<std::size_t>(step), caller);
}
}  // namespace detail

}  // namespace matgrad
