// One row per op: its name, the input shapes it is checked on (1×N, N×1, non-square and
// broadcast cases among them) and the function under check. Adding an op = adding a row.
#include "op_table.hpp"

#include <algorithm>
#include <iterator>

namespace matgrad::testing {

using In = const std::vector<Tensor>&;
using Shapes = std::vector<std::vector<Shape>>;

static const Shapes matrix_shapes = {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{4, 4}}};

// x + n I for an n×n draw: far enough from singular for the matrix-function rows.
static Tensor shifted(const Tensor& x) {
  return x + static_cast<double>(x.size(0)) * eye(x.size(0), {.dtype = x.dtype()});
}

// The rows below, then each family's rows from its own file (one line each).
static std::vector<OpRow> with_family_rows(std::vector<OpRow> rows) {
  auto append = [&rows](std::vector<OpRow> family) {
    for (OpRow& row : family) rows.push_back(std::move(row));
  };
  append(elementwise_rows());
  append(reductions_rows());
  append(index_rows());
  append(shape_rows());
  append(losses_rows());
  append(linalg_rows());
  append(tensoralg_rows());
  return rows;
}

const std::vector<OpRow>& op_table() {
  static const std::vector<OpRow> rows = with_family_rows({
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
      // Views: the product makes the incoming gradient depend on both the view and its base.
      {"view", {{{3, 4}}, {{1, 6}}, {{6, 1}}, {{}}, {{0, 3}}},
       [](In x) { return view(x[0], {-1}) * flatten(x[0]); }},
      {"view_as", {{{2, 3}, {3, 2}}, {{1, 5}, {5}}},
       [](In x) { return view_as(x[0], x[1]) * x[1]; }},
      {"flatten", {{{2, 3, 4}}, {{1, 5}}}, [](In x) { return flatten(x[0]); }},
      {"unsqueeze", unary_shapes, [](In x) { return unsqueeze(x[0], 0); }},
      {"squeeze", {{{1, 4}}, {{3, 1, 2}}}, [](In x) { return squeeze(x[0], x[0].size(0) == 1 ? 0 : 1); }},
      // Every size-1 dim; a dim of another size, or of a 0-d tensor, is left alone (PyTorch).
      {"squeeze all", {{{1, 4}}, {{3, 1, 2}}, {{1, 1}}, {{5}}, {{}}}, [](In x) { return squeeze(x[0]); }},
      {"squeeze a dim not of size 1", {{{3, 4}}, {{}}}, [](In x) { return squeeze(x[0], 0) * x[0]; }},
      {"transpose", {{{3, 4}}, {{2, 3, 4}}, {{1, 5}}, {{}}}, [](In x) { return transpose(x[0], 0, -1); }},
      {"t", matrix_shapes, [](In x) { return t(x[0]); }},
      {"broadcast_to", {{{3, 1}}, {{4}}, {{}}}, [](In x) { return broadcast_to(x[0], {2, 3, 4}); }},
      {"sum_to_size", {{{2, 3, 4}}}, [](In x) { return sum_to_size(x[0], {3, 1}); }},

      // ---- linear algebra ----
      {"gemm", {{{3, 4}, {4, 5}}, {{1, 4}, {4, 1}}, {{4, 1}, {1, 4}}, {{2, 3, 4}, {2, 4, 2}}},
       [](In x) { return gemm(x[0], x[1]); }},
      {"gemm Aᵀ B", {{{4, 3}, {4, 5}}, {{4, 1}, {4, 2}}, {{4, 3}, {4, 1}}, {{1, 3}, {1, 4}}},
       [](In x) { return gemm(x[0], x[1], true, false); }},
      {"gemm A Bᵀ", {{{3, 4}, {5, 4}}, {{1, 4}, {2, 4}}, {{3, 4}, {1, 4}}, {{3, 1}, {4, 1}}},
       [](In x) { return gemm(x[0], x[1], false, true); }},
      {"gemm Aᵀ Bᵀ", {{{4, 3}, {5, 4}}, {{2, 3, 4}, {2, 5, 3}}, {{4, 1}, {5, 4}}, {{4, 3}, {1, 4}}},
       [](In x) { return gemm(x[0], x[1], true, true); }},
      {"linear", {{{3, 4}, {5, 4}, {5}}, {{1, 4}, {2, 4}, {2}}, {{3, 1}, {1, 1}, {1}}},
       [](In x) { return linear(x[0], x[1], x[2]); }},
      {"linear without bias", {{{3, 4}, {5, 4}}}, [](In x) { return linear(x[0], x[1]); }},
      {"linear, input of rank 1 and 3", {{{4}, {5, 4}, {5}}, {{2, 3, 4}, {5, 4}, {5}}, {{2, 0, 4}, {3, 4}, {3}}},
       [](In x) { return linear(x[0], x[1], x[2]); }},
      // A v, then Aᵀ of that (a vector of A's rows), on one-row, one-column and square A.
      {"mv", {{{3, 4}, {4}}, {{1, 5}, {5}}, {{5, 1}, {1}}, {{4, 4}, {4}}},
       [](In x) { return concat({mv(x[0], x[1]), mv(x[0], mv(x[0], x[1]), true)}); }},
      {"matmul",
       {{{3, 4}, {4, 5}}, {{4}, {4}}, {{4}, {4, 3}}, {{3, 4}, {4}}, {{1, 4}, {4, 1}},
        {{2, 3, 4}, {4, 5}}, {{3, 4}, {2, 4, 5}}, {{2, 3, 4}, {2, 4, 5}}, {{1, 3, 4}, {2, 4, 5}},
        {{2, 3, 4}, {4}}, {{4}, {2, 4, 5}}, {{5, 1}, {1}},
        // rank 4 with broadcast batch dims, as attention's [batch, heads, t, d] products
        {{2, 1, 3, 4}, {3, 4, 2}}, {{2, 3, 2, 4}, {2, 3, 4, 1}}, {{1, 2, 3}, {2, 2, 3, 2}}, {{2, 2, 2, 3}, {3}},
        {{3}, {2, 1, 3, 2}}, {{2, 3, 4}, {1, 2, 4, 0}}, {{2, 0, 3, 4}, {4, 5}}},
       [](In x) { return matmul(x[0], x[1]); }},

      // ---- matrix cookbook ----
      // Scalar results are squared (or scaled) so the incoming gradient is not just 1. Inputs
      // are made well conditioned inside the row: x + n I, or x xᵀ + I (symmetric positive
      // definite, so log det is real).
      {"trace", {{{3, 4}}, {{4, 4}}, {{1, 5}}, {{5, 1}}}, [](In x) { return square(trace(x[0])); }},
      {"inverse", {{{3, 3}}, {{1, 1}}, {{4, 4}}}, [](In x) { return inverse(shifted(x[0])); }},
      {"det", {{{3, 3}}, {{1, 1}}, {{4, 4}}}, [](In x) { return square(det(shifted(x[0]))); }},
      {"logdet", {{{3, 3}}, {{3, 5}}, {{1, 1}}, {{4, 2}}},
       [](In x) { return square(logdet(matmul(x[0], t(x[0])) + eye(x[0].size(0), {.dtype = x[0].dtype()}))); }},
      // −(x + n I) has a negative determinant for odd n: the sign is a constant factor.
      {"slogdet", {{{3, 3}}, {{4, 4}}, {{1, 1}}},
       [](In x) {
         const SlogdetResult r = slogdet(-shifted(x[0]));
         return square(r.logabsdet) * r.sign;
       }},
      {"solve", {{{3, 3}, {3, 2}}, {{3, 3}, {3}}, {{1, 1}, {1, 4}}, {{4, 4}, {4, 1}}},
       [](In x) { return solve(shifted(x[0]), x[1]); }},
      {"outer", {{{3}, {4}}, {{1}, {5}}, {{4}, {1}}}, [](In x) { return outer(x[0], x[1]); }},
      {"diag", {{{4}}, {{3, 4}}, {{4, 3}}, {{1, 5}}, {{5, 1}}}, [](In x) { return diag(x[0]); }},
      {"diag off the main diagonal", {{{4}}, {{3, 4}}, {{4, 3}}, {{1, 5}}},
       [](In x) { return concat({flatten(diag(x[0], 1)), flatten(diag(x[0], -2))}); }},


      // ---- elementwise ----
      {"exp", unary_shapes, [](In x) { return exp(x[0]); }},
      {"log", unary_shapes, [](In x) { return log(x[0]); }, Domain::positive},
      {"sqrt", unary_shapes, [](In x) { return sqrt(x[0]); }, Domain::positive},
      {"pow", unary_shapes, [](In x) { return pow(x[0], 2.5) + pow(x[0], -1.5); }, Domain::positive},
      // Integer exponents on any sign, and the constant exponents 0 and 1.
      {"pow integer", unary_shapes,
       [](In x) { return pow(x[0], 3.0) + pow(x[0], 0.0) * x[0] + pow(x[0], 1.0); }},
      {"square", unary_shapes, [](In x) { return square(x[0]); }},
      {"abs", unary_shapes, [](In x) { return abs(x[0]); }, Domain::away_from_zero},
      {"tanh", unary_shapes, [](In x) { return tanh(x[0]); }},
      {"sigmoid", unary_shapes, [](In x) { return sigmoid(x[0] * 3.0); }},
      {"relu", unary_shapes, [](In x) { return relu(x[0]); }, Domain::away_from_zero},
      {"tanh_backward", {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{}, {}}},
       [](In x) { return tanh_backward(x[0], x[1]); }},
      {"sigmoid_backward", {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{}, {}}},
       [](In x) { return sigmoid_backward(x[0], x[1]); }},
      // Both regimes (β = 2, threshold 1: linear above A = 0.5); G broadcast over A (as a
      // batch of tangents is) and A over G.
      {"softplus_backward", {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{}, {}}, {{2, 3, 4}, {3, 4}}, {{3, 4}, {4}}},
       [](In x) { return softplus_backward(x[0], x[1]) + softplus_backward(x[0], x[1], 2.0, 1.0); }},
      {"relu_backward", {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{}, {}}},
       [](In x) { return relu_backward(x[0], x[1]); }, Domain::away_from_zero},
      {"leaky_relu", unary_shapes, [](In x) { return leaky_relu(x[0], 0.2); }, Domain::away_from_zero},
      // beta = 1 (log regime) and beta = 2, threshold 1 (linear above x = 0.5).
      {"softplus", unary_shapes, [](In x) { return softplus(x[0]) + softplus(x[0], 2.0, 1.0); }},
      {"clamp", unary_shapes,
       [](In x) {
         return clamp(x[0], -0.5, 0.8) + clamp(x[0], std::nullopt, 0.3) + clamp(x[0], -0.2, std::nullopt);
       },
       Domain::distinct},
      // The comparisons are constants: only the products with them carry gradient.
      {"sign", unary_shapes, [](In x) { return x[0] * sign(x[0]); }, Domain::away_from_zero},
      {"gt le", binary_shapes, [](In x) { return x[0] * gt(x[0], x[1]) + x[1] * le(x[0], x[1]); }},
      {"ge lt", binary_shapes, [](In x) { return x[0] * ge(x[0], x[1]) + x[1] * lt(x[0], x[1]); }},
      {"eq", binary_shapes, [](In x) { return x[0] * eq(x[0], x[0]) + x[1] * eq(x[1], x[0]); }},
      {"ne", binary_shapes, [](In x) { return x[0] * ne(x[0], x[0]) + x[1] * ne(x[1], x[0]); }},
      // Condition: a fixed 0/1 pattern of the broadcast shape of a and b.
      {"where", binary_shapes,
       [](In x) {
         Tensor c = zeros_like(x[0]) + zeros_like(x[1]);
         auto& m = c.mutable_data<double>();
         for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = i % 3 == 1 ? 0.0 : 1.0;
         return where(c, x[0], x[1]);
       }},
      // A [4] condition that itself broadcasts against a and b.
      {"where broadcast condition", {{{3, 4}, {3, 1}}, {{2, 3, 4}, {}}, {{4}, {4}}, {{1, 4}, {2, 1}}},
       [](In x) { return where(tensor({1.0, 0.0, 0.0, 1.0}, {.dtype = DType::float64}), x[0], x[1]); }},

      // ---- softmax family ----
      {"softmax", unary_shapes, [](In x) { return softmax(x[0], -1); }},
      {"softmax dim 0", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}}, [](In x) { return softmax(x[0], 0); }},
      {"softmax dim 1", {{{2, 3, 4}}, {{3, 1, 2}}}, [](In x) { return softmax(x[0], 1); }},
      {"softmax large inputs", {{{3, 4}}, {{2, 3, 4}}}, [](In x) { return softmax(x[0] + 1000.0, -1); }},
      {"log_softmax", unary_shapes, [](In x) { return log_softmax(x[0], -1); }},
      {"log_softmax dim 0", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}},
       [](In x) { return log_softmax(x[0], 0); }},
      {"log_softmax dim 1", {{{2, 3, 4}}, {{3, 1, 2}}}, [](In x) { return log_softmax(x[0], 1); }},
      {"log_softmax large inputs", {{{3, 4}}, {{2, 3, 4}}},
       [](In x) { return log_softmax(x[0] * 3.0 - 1000.0, -1); }},

      // ---- indexing and joining ----
      // Fixed index lists with repeats; the "dim -1" rows cover 1×N shapes and the last dim.
      {"index_select", {{{3, 4}}, {{3, 1}}, {{5, 2}}, {{3, 2, 4}}},
       [idx = std::vector<std::size_t>{2, 0, 2, 1}](In x) { return index_select(x[0], 0, idx); }},
      {"index_select dim -1", {{{1, 5}}, {{2, 4}}, {{6}}, {{2, 3, 4}}},
       [idx = std::vector<std::size_t>{3, 0, 3}](In x) { return index_select(x[0], -1, idx); }},
      {"index_add", {{{3, 4}, {4, 4}}, {{3, 1}, {4, 1}}, {{5, 2}, {4, 2}}, {{3, 2, 2}, {4, 2, 2}}},
       [idx = std::vector<std::size_t>{1, 2, 1, 0}](In x) { return index_add(x[0], 0, idx, x[1]); }},
      {"index_add dim -1", {{{1, 5}, {1, 3}}, {{2, 6}, {2, 3}}, {{5}, {3}}},
       [idx = std::vector<std::size_t>{4, 0, 4}](In x) { return index_add(x[0], -1, idx, x[1]); }},
      {"index_add alpha", {{{3, 4}, {4, 4}}, {{5}, {4}}, {{3, 0}, {4, 0}}},
       [idx = std::vector<std::size_t>{1, 2, 1, 0}](In x) { return index_add(x[0], 0, idx, x[1], -2.5); }},
      // A 0-d tensor along its dim 0: one index, 0 (a source of shape [] or [1] for index_add).
      {"index_select 0-d", {{{}}},
       [idx = std::vector<std::size_t>{0}](In x) { return index_select(x[0], -1, idx) * x[0]; }},
      {"index_add 0-d", {{{}, {}}, {{}, {1}}},
       [idx = std::vector<std::size_t>{0}](In x) { return index_add(x[0], 0, idx, x[1]) * x[1].sum(); }},
      {"slice", {{{5, 3}}, {{4, 1}}, {{6, 2}}, {{3, 2, 2}}},
       [](In x) { return slice(x[0], 0, 1, 100, 2); }},  // end clipped to the size
      {"slice dim -1", {{{1, 5}}, {{3, 4}}, {{7}}, {{2, 3, 4}}},
       [](In x) { return slice(x[0], -1, 1, 4); }},
      {"narrow", {{{5, 3}}, {{4, 1}}, {{1, 6, 2}}, {{7}}},
       [](In x) { return narrow(x[0], x[0].dim() == 3 ? 1 : 0, -3, 2); }},
      {"slice_scatter",
       {{{5, 3}, {2, 3}}, {{5, 1}, {2, 1}}, {{4, 2}, {2, 2}}, {{5, 2, 3}, {2, 2, 3}}},
       [](In x) { return slice_scatter(x[0], x[1], 0, 1, 5, 2); }},
      {"slice_scatter dim -1", {{{1, 5}, {1, 2}}, {{3, 4}, {3, 2}}, {{6}, {2}}},
       [](In x) { return slice_scatter(x[0], x[1], -1, 0, 9, 3); }},
      {"concat",
       {{{2, 3}, {4, 3}}, {{1, 5}, {1, 5}}, {{5, 1}, {2, 1}, {1, 1}}, {{2, 3, 2}, {1, 3, 2}, {3, 3, 2}}},
       [](In x) { return concat(x, 0); }},
      {"concat dim -1", {{{3, 2}, {3, 4}}, {{1, 5}, {1, 2}, {1, 1}}, {{5, 1}, {5, 1}}, {{4}, {3}, {2}}},
       [](In x) { return concat(x, -1); }},
      {"stack", {{{2, 3}, {2, 3}}, {{1, 5}, {1, 5}, {1, 5}}, {{5, 1}, {5, 1}}, {{}, {}, {}}},
       [](In x) { return stack(x, 0); }},
      {"stack dim -1", {{{3, 4}, {3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{4}, {4}}},
       [](In x) { return stack(x, -1); }},

      // ---- losses ----
      {"mse_loss", {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{5, 1}, {5, 1}}, {{}, {}}, {{7}, {7}}},
       [](In x) { return mse_loss(x[0], x[1]); }},
      {"mse_loss sum", {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{2, 3, 4}, {2, 3, 4}}},
       [](In x) { return mse_loss(x[0], x[1], Reduction::sum); }},
      {"mse_loss none", {{{3, 4}, {3, 4}}, {{5, 1}, {5, 1}}, {{}, {}}},
       [](In x) { return mse_loss(x[0], x[1], Reduction::none); }},
      // Targets: a fixed list, taken modulo the number of classes of each shape.
      {"cross_entropy", {{{4, 3}}, {{1, 5}}, {{5, 1}}, {{2, 6}}},
       [idx = std::vector<std::size_t>{2, 0, 4, 1, 3}](In x) {
         std::vector<std::size_t> t(x[0].size(0));
         for (std::size_t i = 0; i < t.size(); ++i) t[i] = idx[i] % x[0].size(1);
         return cross_entropy(x[0], t);
       }},
      {"cross_entropy sum", {{{4, 3}}, {{1, 5}}, {{2, 6}}},
       [idx = std::vector<std::size_t>{1, 4, 0, 2}](In x) {
         std::vector<std::size_t> t(x[0].size(0));
         for (std::size_t i = 0; i < t.size(); ++i) t[i] = idx[i] % x[0].size(1);
         return cross_entropy(x[0], t, Reduction::sum);
       }},
      {"cross_entropy none", {{{4, 3}}, {{1, 5}}, {{2, 6}}},
       [idx = std::vector<std::size_t>{2, 3, 1, 0}](In x) {
         std::vector<std::size_t> t(x[0].size(0));
         for (std::size_t i = 0; i < t.size(); ++i) t[i] = idx[i] % x[0].size(1);
         return cross_entropy(x[0], t, Reduction::none);
       }},
      {"cross_entropy [C]", {{{5}}, {{3}}},
       [idx = std::vector<std::size_t>{2}](In x) { return cross_entropy(x[0], idx, Reduction::none); }},
      {"cross_entropy large logits", {{{4, 3}}, {{2, 6}}},
       [idx = std::vector<std::size_t>{2, 0, 1, 1}](In x) {
         return cross_entropy(x[0] * 20.0 + 1000.0, std::span(idx).first(x[0].size(0)));
       }},
      {"binary_cross_entropy_with_logits",
       {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{5, 1}, {5, 1}}, {{}, {}}, {{7}, {7}}},
       [](In x) { return binary_cross_entropy_with_logits(x[0], sigmoid(x[1])); }},
      {"binary_cross_entropy_with_logits sum", {{{3, 4}, {3, 4}}, {{2, 3, 4}, {2, 3, 4}}},
       [](In x) { return binary_cross_entropy_with_logits(x[0] * 30.0, x[1], Reduction::sum); }},
      {"binary_cross_entropy_with_logits none", {{{3, 4}, {3, 4}}, {{5, 1}, {5, 1}}, {{}, {}}},
       [](In x) { return binary_cross_entropy_with_logits(x[0], x[1], Reduction::none); }},
  });
  return rows;
}

}  // namespace matgrad::testing
