// Op-table rows of the ops with int64 index inputs or results (issue 14): max and min, gather,
// the scatters, take_along_dim, index_put, the masks, and the int64 overloads of index_select
// and cross_entropy. The table draws float64 inputs only: each row builds its index tensors
// from the shapes it is given.
#include "op_table.hpp"

#include <algorithm>

namespace matgrad::testing {

namespace {

using In = const std::vector<Tensor>&;
using Shapes = std::vector<std::vector<Shape>>;

// An int64 tensor of `shape` indexing a dim of size `size`: the entry at coordinates c is
// (c[dim] + spread · Σ_{d ≠ dim} c[d] + offset) mod size, distinct along dim for each position
// of the other dims when shape[dim] ≤ size.
Tensor index_along(const Shape& shape, std::size_t dim, std::size_t size, std::size_t spread = 1,
                   std::size_t offset = 0) {
  Tensor index = zeros(shape, {.dtype = DType::int64});
  auto& v = index.mutable_data<std::int64_t>();
  std::vector<std::size_t> coord(shape.size(), 0);
  for (std::size_t k = 0; k < v.size(); ++k) {
    std::size_t value = offset;
    for (std::size_t d = 0; d < shape.size(); ++d) value += d == dim ? coord[d] : spread * coord[d];
    v.data()[k] = static_cast<std::int64_t>(value % std::max<std::size_t>(size, 1));
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
  return index;
}

std::size_t size_at(const Tensor& x, std::size_t dim) { return x.dim() == 0 ? 1 : x.shape()[dim]; }
std::size_t last_dim(const Tensor& x) { return x.dim() == 0 ? 0 : x.dim() - 1; }

// s with dim set to n (a 0-d shape stays 0-d).
Shape with_size(Shape s, std::size_t dim, std::size_t n) {
  if (!s.empty()) s[dim] = n;
  return s;
}

// The scatters' index for a = x[0] and src = x[1] along dim 0: src's shape cut to a's in the
// other dims, and along dim 0 to a's size when `distinct` (each position written once), else
// src's size there with indices repeating mod a's size (none at all when a has no rows).
Tensor scatter_index(In x, bool distinct) {
  const std::size_t n = size_at(x[0], 0);
  Shape shape = x[1].shape();
  for (std::size_t d = 0; d < shape.size(); ++d) {
    shape[d] = d == 0 ? (n == 0 ? 0 : distinct ? std::min(shape[d], n) : shape[d])
                      : std::min(shape[d], x[0].shape()[d]);
  }
  return index_along(shape, 0, n, distinct ? 1 : 0, 1);
}

Tensor int64s(const NestedList& values) { return tensor(values, {.dtype = DType::int64}); }

const Shapes reduce_shapes = {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}, {{7}}};
// a, then src: equal shapes, src longer along dim 0, larger in both dims, 3-D, 0-d.
const Shapes scatter_shapes = {{{3, 4}, {2, 4}}, {{1, 5}, {1, 5}}, {{5, 1}, {3, 1}}, {{3, 4}, {5, 4}},
                               {{4, 3}, {3, 5}}, {{2, 3, 4}, {2, 3, 4}}, {{}, {}}};

// Every reduction with and without a's own elements.
Tensor both_ways(In x, ScatterReduce r) {
  const Tensor index = scatter_index(x, false);
  return scatter_reduce(x[0], 0, index, x[1], r, true) + 2.0 * scatter_reduce(x[0], 0, index, x[1], r, false);
}

}  // namespace

std::vector<OpRow> index_rows() {
  return {
      // ---- max and min: of every element (no ties: see test_int64.cpp), along a dim ----
      {"max", reduce_shapes, [](In x) { return max(x[0]); }, Domain::distinct},
      {"min", reduce_shapes, [](In x) { return min(x[0]); }, Domain::distinct},
      {"max_dim", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}},
       [](In x) { return max(x[0], 0).values + max(x[0], -1, true).values.sum(); }, Domain::distinct},
      {"min_dim", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}},
       [](In x) { return min(x[0], 0).values + min(x[0], -1, true).values.sum(); }, Domain::distinct},

      // ---- gather and the scatters (index along dim 0 and along the last dim) ----
      {"gather", reduce_shapes,
       [](In x) {
         const std::size_t n = size_at(x[0], 0), last = last_dim(x[0]);
         const Tensor rows = index_along(with_size(x[0].shape(), 0, n == 0 ? 0 : n + 2), 0, n, 2);
         const Tensor cols = index_along(x[0].shape(), last, size_at(x[0], last), 3);
         return gather(x[0], 0, rows) * 2.0 + gather(x[0], -1, cols).sum();
       }},
      {"scatter", scatter_shapes, [](In x) { return scatter(x[0], 0, scatter_index(x, true), x[1]); }},
      {"scatter value", reduce_shapes,
       [](In x) {
         const std::size_t n = size_at(x[0], 0);
         const Tensor index = index_along(with_size(x[0].shape(), 0, std::min<std::size_t>(n, 2)), 0, n);
         return scatter(x[0], 0, index, 2.5) * x[0];
       }},
      {"scatter_add", scatter_shapes,
       [](In x) { return scatter_add(x[0], 0, scatter_index(x, false), x[1]) * 1.5; }},
      {"scatter_reduce", scatter_shapes, [](In x) { return both_ways(x, ScatterReduce::sum); }},
      {"scatter_reduce mean", scatter_shapes, [](In x) { return both_ways(x, ScatterReduce::mean); }},
      {"scatter_reduce prod", scatter_shapes, [](In x) { return both_ways(x, ScatterReduce::prod); },
       Domain::positive},
      {"scatter_reduce amax", scatter_shapes, [](In x) { return both_ways(x, ScatterReduce::amax); },
       Domain::distinct},
      {"scatter_reduce amin", scatter_shapes, [](In x) { return both_ways(x, ScatterReduce::amin); },
       Domain::distinct},
      {"take_along_dim", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}},
       [](In x) {
         // Along the last dim with an index of size 1 in the other dims (it broadcasts), and
         // over the flattened tensor.
         const std::size_t last = last_dim(x[0]), n = size_at(x[0], last);
         Shape shape(x[0].dim(), 1);
         if (!shape.empty()) shape.back() = n == 0 ? 0 : 3;
         const Tensor along = take_along_dim(x[0], index_along(shape, last, n, 1, 1), -1);
         const Tensor flat = take_along_dim(x[0], index_along({x[0].numel() == 0 ? 0u : 2u}, 0, x[0].numel(), 1, 1));
         return along.sum() + flat.sum() * 3.0;
       }},

      // ---- index_put, index_select and the masks ----
      {"index_put", {{{5, 4}, {3, 4}}, {{5, 4}, {4}}, {{6}, {3}}, {{5, 3, 4}, {3, 3, 4}}, {{5, 1}, {}}},
       [](In x) {
         const std::size_t n = x[0].size(0);
         const Tensor distinct = int64s({0.0, 2.0, -1.0});  // -1: the last row, as torch
         const Tensor repeated = int64s({1.0, 0.0, 1.0});
         Tensor out = index_put(x[0], {distinct}, x[1]) + index_put(x[0], {repeated}, x[1], true);
         if (x[0].dim() >= 2 && x[0].size(1) >= 2 && n > 2) {  // two index tensors, broadcasting
           out = out + index_put(x[0], {int64s({{0.0}, {2.0}}), int64s({1.0, 0.0})}, sum(x[1]) * 1.0, true);
         }
         return out;
       }},
      // A mask (torch's bool index) over the first dim, and one over the first two.
      {"index_put mask", {{{5, 4}, {4}}, {{5, 4}, {}}, {{6}, {}}, {{5, 3, 4}, {3, 4}}, {{1, 5}, {5}}, {{0, 3}, {3}}},
       [](In x) {
         const Tensor rows = index_along({x[0].size(0)}, 0, 2);  // 0, 1, 0, 1, ...
         Tensor out = index_put(x[0], {Mask{rows}}, x[1]) + index_put(x[0], {Mask{rows}}, x[1], true);
         if (x[0].dim() >= 2) {
           const Tensor cells = index_along({x[0].size(0), x[0].size(1)}, 0, 3, 1, 1);
           out = out + index_put(x[0], {Mask{cells}}, sum(x[1]) * 1.0, true);
         }
         return out;
       }},
      {"index_select int64", reduce_shapes,
       [](In x) {
         const std::size_t n = size_at(x[0], 0);
         if (x[0].dim() == 0) return index_select(x[0], 0, int64s(0.0));
         return index_select(x[0], 0, int64s({static_cast<double>(n - 1), 0.0, static_cast<double>(n - 1)}));
       }},
      {"masked_fill", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}},
       [](In x) {
         const Tensor mask = gt(x[0].detach(), scalar_like(x[0], 0.0));
         const Tensor row_mask = index_along({x[0].dim() ? x[0].shape().back() : 1u}, 0, 2);  // 0/1, broadcasting
         return masked_fill(x[0], mask, 2.0) * x[0] + masked_fill(x[0], x[0].dim() ? row_mask : mask, -1.0);
       },
       Domain::away_from_zero},
      // The value a 0-d tensor that requires grad: x[1] (or the sum of x[1], broadcast rows).
      {"masked_fill tensor value", {{{3, 4}, {}}, {{1, 5}, {}}, {{5, 1}, {}}, {{2, 3, 4}, {}}, {{}, {}}, {{0, 3}, {}}},
       [](In x) {
         const Tensor mask = index_along(x[0].shape(), 0, 2, 1);
         const Tensor row_mask = index_along({x[0].dim() ? x[0].shape().back() : 1u}, 0, 2);
         return masked_fill(x[0], mask, x[1]) * x[0] + masked_fill(x[0], x[0].dim() ? row_mask : mask, x[1] * 3.0);
       }},
      {"masked_select", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}, {{3, 1}}},
       [](In x) {
         // A mask of x's shape, and one that broadcasts with x ([1, 4] against [3, 1]).
         const Tensor mask = index_along(x[0].shape(), 0, 2, 1);
         const Tensor picked = masked_select(x[0], mask).sum();
         if (x[0].dim() != 2 || (x[0].size(1) != 1 && x[0].size(1) != 4)) return picked;
         return picked + masked_select(x[0], index_along({1, 4}, 1, 2, 1, 1)).sum() * 2.0;
       }},
      {"cross_entropy int64 targets", {{{4, 3}}, {{1, 5}}, {{2, 6}}, {{5}}},
       [](In x) {
         if (x[0].dim() == 1) return cross_entropy(x[0], int64s(2.0), Reduction::none);
         const Tensor targets = index_along({x[0].size(0)}, 0, x[0].size(1), 1, 2);
         return cross_entropy(x[0], targets, Reduction::sum);
       }},
  };
}

}  // namespace matgrad::testing
