// Comparing gradients derived by hand with autodiff's, tensor by tensor: the worst element of
// each, pass/fail at a tolerance, as data for tests and as an aligned table for people.
//
//   GradientComparison cmp = compare_gradients({{"W1", dW1}, {"b1", db1}},
//                                              {{"W1", W1.grad()}, {"b1", b1.grad()}});
//   fmt::print("{}", cmp.report());
//   if (!cmp.passed) return 1;
#pragma once

#include "matgrad/tensor.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace matgrad {

// Tensors with names, for reports and graph labels.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// An element-by-element comparison of two tensors of one shape, in float64. An element passes
// when |actual − expected| ≤ atol + rtol |expected| (torch.testing.assert_close); NaN fails.
struct TensorComparison {
  bool passed = true;
  double max_abs_error = 0;
  double max_rel_error = 0;  // |actual − expected| / max(|expected|, atol); 0 where they agree
  Shape worst_index;         // the element using the largest share of its allowance
                             // atol + rtol |expected| (empty when there are no elements)
  double actual = 0;         // both values at the worst element
  double expected = 0;
};

// Throws ShapeError when the shapes differ. Either dtype; both are compared in float64.
TensorComparison compare_tensors(const Tensor& actual, const Tensor& expected, double atol,
                                 double rtol);

struct GradientComparisonOptions {
  double atol = 1e-7;  // torch.testing.assert_close's float64 defaults; pass looser ones for
  double rtol = 1e-7;  // float32 gradients
  std::string hand_label = "hand-derived";  // column titles in the report
  std::string autodiff_label = "autodiff";
  std::string name_label = "tensor";
};

// One tensor's comparison; autodiff's gradient is the reference for the relative error.
struct GradientComparisonRow {
  std::string name;
  Shape shape;
  bool passed = true;
  double max_abs_error = 0;
  double max_rel_error = 0;
  Shape worst_index;
  double hand = 0;  // both gradients at the worst element
  double autodiff = 0;
};

struct GradientComparison {
  bool passed = true;
  GradientComparisonOptions options;
  std::vector<GradientComparisonRow> rows;

  const GradientComparisonRow& row(std::string_view name) const;  // IndexError if absent
  std::string report() const;  // an aligned table, one line per tensor
  explicit operator bool() const { return passed; }
};

// Gradient k of `hand` against gradient k of `autodiff` (rows named "0", "1", ...).
GradientComparison compare_gradients(const std::vector<Tensor>& hand,
                                     const std::vector<Tensor>& autodiff,
                                     const GradientComparisonOptions& options = {});
// Matched by name; both lists must hold the same names, each once. Rows follow `hand`'s order.
GradientComparison compare_gradients(const NamedTensors& hand, const NamedTensors& autodiff,
                                     const GradientComparisonOptions& options = {});

}  // namespace matgrad
