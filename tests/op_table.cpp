// One row per op: its name, the input shapes it is checked on (1×N, N×1, non-square and
// broadcast cases among them) and the function under check. Adding an op = adding a row.
#include "op_table.hpp"

namespace matgrad::testing {

using In = const std::vector<Tensor>&;
using Shapes = std::vector<std::vector<Shape>>;

// Shapes for ops on one input; for two inputs that broadcast.
static const Shapes unary_shapes = {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}, {{7}}};
static const Shapes binary_shapes = {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{5, 1}, {5, 1}},
                                     {{3, 4}, {4}},    {{3, 1}, {1, 4}}, {{}, {2, 3}},
                                     {{2, 3, 4}, {3, 1}}};
static const Shapes matrix_shapes = {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{4, 4}}};

const std::vector<OpRow>& op_table() {
  static const std::vector<OpRow> rows = {
      // ---- arithmetic ----
      {"add", binary_shapes, [](In x) { return x[0] + x[1]; }},
      {"sub", binary_shapes, [](In x) { return x[0] - x[1]; }},
      {"mul", binary_shapes, [](In x) { return x[0] * x[1]; }},
      {"div", binary_shapes, [](In x) { return x[0] / x[1]; }, Domain::away_from_zero},
      {"neg", unary_shapes, [](In x) { return -x[0]; }},
      {"scalar operators", unary_shapes,
       [](In x) { return (2.0 * x[0] + 1.0) / 3.0 - 0.5 / (x[0] * x[0] + 1.0); }},
      // Values on a 1/1024 grid and a step of 1/1024 are exact in float32, so the round trip
      // through float32 loses nothing and the central difference stays exact.
      {"to", unary_shapes, [](In x) { return x[0].to(DType::float32).to(DType::float64) * 3.0; },
       Domain::float32_grid, 1.0 / 1024},
      {"clone", unary_shapes, [](In x) { return x[0].clone() * x[0]; }},

      // ---- shape ----
      {"reshape", {{{3, 4}}, {{1, 6}}, {{6, 1}}}, [](In x) { return reshape(x[0], {2, -1}); }},
      {"flatten", {{{2, 3, 4}}, {{1, 5}}}, [](In x) { return flatten(x[0]); }},
      {"unsqueeze", unary_shapes, [](In x) { return unsqueeze(x[0], 0); }},
      {"squeeze", {{{1, 4}}, {{3, 1, 2}}}, [](In x) { return squeeze(x[0], x[0].size(0) == 1 ? 0 : 1); }},
      {"transpose", {{{3, 4}}, {{2, 3, 4}}, {{1, 5}}}, [](In x) { return transpose(x[0], 0, -1); }},
      {"t", matrix_shapes, [](In x) { return t(x[0]); }},
      {"broadcast_to", {{{3, 1}}, {{4}}, {{}}}, [](In x) { return broadcast_to(x[0], {2, 3, 4}); }},
      {"sum_to_size", {{{2, 3, 4}}}, [](In x) { return sum_to_size(x[0], {3, 1}); }},

      // ---- linear algebra ----
      {"gemm", {{{3, 4}, {4, 5}}, {{1, 4}, {4, 1}}, {{4, 1}, {1, 4}}, {{2, 3, 4}, {2, 4, 2}}},
       [](In x) { return gemm(x[0], x[1]); }},
      {"gemm Aᵀ B", {{{4, 3}, {4, 5}}, {{4, 1}, {4, 2}}}, [](In x) { return gemm(x[0], x[1], true, false); }},
      {"gemm A Bᵀ", {{{3, 4}, {5, 4}}, {{1, 4}, {2, 4}}}, [](In x) { return gemm(x[0], x[1], false, true); }},
      {"gemm Aᵀ Bᵀ", {{{4, 3}, {5, 4}}, {{2, 3, 4}, {2, 5, 3}}},
       [](In x) { return gemm(x[0], x[1], true, true); }},
      {"matmul",
       {{{3, 4}, {4, 5}}, {{4}, {4}}, {{4}, {4, 3}}, {{3, 4}, {4}}, {{1, 4}, {4, 1}},
        {{2, 3, 4}, {4, 5}}, {{3, 4}, {2, 4, 5}}, {{2, 3, 4}, {2, 4, 5}}, {{1, 3, 4}, {2, 4, 5}}},
       [](In x) { return matmul(x[0], x[1]); }},

      // ---- reductions ----
      {"sum", unary_shapes, [](In x) { return sum(x[0]); }},
      {"sum_dim", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}},
       [](In x) { return sum(x[0], 0) + sum(x[0], -1, true).sum(); }},
      {"mean", unary_shapes, [](In x) { return mean(x[0]); }},
      {"mean_dim", {{{3, 4}}, {{1, 5}}, {{2, 3, 4}}}, [](In x) { return mean(x[0], -1, true); }},
      {"max", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}},
       [](In x) { return max(x[0], 0) + max(x[0], -1, true).sum(); }, Domain::distinct},
      {"min", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}},
       [](In x) { return min(x[0], 0) + min(x[0], -1, true).sum(); }, Domain::distinct},

      // ---- elementwise ----

      // ---- softmax family ----

      // ---- indexing and joining ----

      // ---- losses ----
  };
  return rows;
}

}  // namespace matgrad::testing
