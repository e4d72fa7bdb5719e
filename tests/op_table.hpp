// The gradient-check table: one row per differentiable op (JAX's declarative test list).
#pragma once

#include <matgrad/matgrad.hpp>

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

const std::vector<OpRow>& op_table();

}  // namespace matgrad::testing
