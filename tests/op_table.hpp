// The gradient-check table: one row per differentiable op (JAX's declarative test list).
#pragma once

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

namespace matgrad::testing {

// Where an op's inputs are drawn: kinks and poles are kept away from, since central
// differences straddling them are meaningless.
enum class Domain {
  real,            // N(0, 1)
  positive,        // |N(0, 1)| + 0.5
  away_from_zero,  // ±(|N(0, 1)| + 0.2)
  distinct,        // N(0, 1) plus a spread that keeps values apart (for max/min/clamp/relu ties)
  float32_grid,    // N(0, 1) rounded to multiples of 1/1024 (exact in float32)
};

struct OpRow {
  std::string op;                       // the op's name, as in OpInfo and the docs table
  std::vector<std::vector<Shape>> shapes;  // each entry: the shapes of the inputs for one check
  TensorFunction f;
  Domain domain = Domain::real;
  double eps = 1e-6;  // central-difference step
};

// Every row: the ones in op_table.cpp, then each family's from its own file
// (op_table_<family>.cpp).
const std::vector<OpRow>& op_table();
std::vector<OpRow> elementwise_rows();  // op_table_elementwise.cpp
std::vector<OpRow> reductions_rows();   // op_table_reductions.cpp
std::vector<OpRow> index_rows();        // op_table_index.cpp: gather, scatter, max/min, masks
std::vector<OpRow> shape_rows();        // op_table_shape.cpp: permute, flip, roll, triu, repeat, split
std::vector<OpRow> losses_rows();       // op_table_losses.cpp: the losses' options, l1, huber, kl_div, ...
std::vector<OpRow> linalg_rows();       // op_table_linalg.cpp: cholesky, triangular solves, eigh, svd
std::vector<OpRow> tensoralg_rows();    // op_table_tensoralg.cpp: diagonal, pad, kron, matrix_exp, einsum, ...

// Shapes for ops on one input; for two inputs that broadcast.
inline const std::vector<std::vector<Shape>> unary_shapes = {{{3, 4}}, {{1, 5}}, {{5, 1}},
                                                             {{2, 3, 4}}, {{}}, {{7}}};
inline const std::vector<std::vector<Shape>> binary_shapes = {
    {{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{5, 1}, {5, 1}}, {{3, 4}, {4}},
    {{3, 1}, {1, 4}}, {{}, {2, 3}},     {{2, 3, 4}, {3, 1}}};

// A float64 input of the given shape drawn from the domain, requiring grad.
inline Tensor draw_input(const Shape& shape, Domain domain, Generator& gen) {
  Tensor x = randn(shape, gen, {.dtype = DType::float64});
  auto& v = x.mutable_data<double>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    double& e = v.data()[i];
    switch (domain) {
      case Domain::real: break;
      case Domain::positive: e = std::abs(e) + 0.5; break;
      case Domain::away_from_zero: e = std::copysign(std::abs(e) + 0.2, e); break;
      case Domain::distinct: e = e * 0.1 + 0.37 * static_cast<double>((i * 7) % 11) - 2.0; break;
      case Domain::float32_grid: e = std::round(e * 1024) / 1024; break;
    }
  }
  return x.requires_grad_(true);
}

// Calls check(row, inputs) for every row and every shape set of the table, with fresh inputs
// drawn from the row's domain and the case named in doctest's log; returns the case count.
template <class Check>
std::size_t for_each_case(Generator& gen, Check&& check) {
  std::size_t cases = 0;
  for (const OpRow& row : op_table()) {
    for (const auto& shapes : row.shapes) {
      std::vector<Tensor> inputs;
      std::string shape_list;
      for (const Shape& s : shapes) {
        inputs.push_back(draw_input(s, row.domain, gen));
        shape_list += to_string(s) + " ";
      }
      INFO(row.op, " on ", shape_list);
      check(row, inputs);
      ++cases;
    }
  }
  return cases;
}

}  // namespace matgrad::testing
