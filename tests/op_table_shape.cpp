// Op-table rows of issue 14's shape family (rearrange.cpp): permute, flip, roll, triu, tril,
// repeat, and the ops composed from them and the views (movedim, tile, expand, split, chunk,
// unbind).
#include "op_table.hpp"

namespace matgrad::testing {

namespace {

using In = const std::vector<Tensor>&;
using Shapes = std::vector<std::vector<Shape>>;

// Every dim of x, last first.
std::vector<std::ptrdiff_t> reversed_dims(const Tensor& x) {
  std::vector<std::ptrdiff_t> dims;
  for (std::size_t d = x.dim(); d-- > 0;) dims.push_back(static_cast<std::ptrdiff_t>(d));
  return dims;
}

const Shapes any_rank = {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}, {{7}}};
const Shapes matrices = {{{3, 4}}, {{4, 3}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}};

// The pieces side by side again, each weighted by its position (so that a piece in the wrong
// place changes the result).
Tensor weighted(const std::vector<Tensor>& parts, std::ptrdiff_t dim) {
  std::vector<Tensor> scaled;
  for (std::size_t k = 0; k < parts.size(); ++k) scaled.push_back(parts[k] * static_cast<double>(k + 1));
  return concat(scaled, dim);
}

}  // namespace

std::vector<OpRow> shape_rows() {
  return {
      {"permute", any_rank, [](In x) { return permute(x[0], reversed_dims(x[0])); }},
      {"movedim", {{{2, 3, 4}}, {{3, 4}}, {{1, 5}}}, [](In x) { return movedim(x[0], 0, -1) * 2.0; }},
      {"flip", any_rank, [](In x) { return flip(x[0], reversed_dims(x[0])) + flip(x[0], {}) * 0.5; }},
      {"roll", any_rank,
       [](In x) {
         if (x[0].dim() == 0) return roll(x[0], {3});
         return roll(x[0], {1, -7}, {0, -1}) + roll(x[0], {5}) * 2.0;
       }},
      {"triu", matrices, [](In x) { return triu(x[0]) + triu(x[0], 1) * 2.0 + triu(x[0], -1) * 3.0; }},
      {"tril", matrices, [](In x) { return tril(x[0]) + tril(x[0], 2) * 2.0 + tril(x[0], -1) * 3.0; }},
      {"repeat", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{}}, {{7}}},
       [](In x) { return repeat(x[0], {2, 1, 3}); }},
      {"tile", {{{3, 4}}, {{2, 3, 4}}, {{}}}, [](In x) { return concat({flatten(tile(x[0], {2})), flatten(tile(x[0], {2, 1, 3})) * 2.0}); }},
      {"expand", {{{3, 1}}, {{1, 4}}, {{}}},
       [](In x) { return x[0].dim() == 0 ? expand(x[0], {2}) : expand(x[0], {2, -1, 4}); }},
      {"split", {{{5, 3}}, {{4, 2}}, {{1, 3}}},
       [](In x) { return weighted(split(x[0], 2), 0) + weighted(split(x[0], {1, x[0].size(0) - 1}), 0); }},
      {"chunk", {{{5, 3}}, {{4, 2}}, {{2, 6}}}, [](In x) { return weighted(chunk(x[0], 3, -1), -1); }},
      {"unbind", {{{3, 4}}, {{2, 3, 4}}, {{1, 5}}}, [](In x) {
         const std::vector<Tensor> columns = unbind(x[0], 1);  // none for a zero-size dim 1
         const Tensor rows = weighted(unbind(x[0]), 0).sum();
         return columns.empty() ? rows : stack(columns) * 1.5 + rows;
       }},
  };
}

}  // namespace matgrad::testing
