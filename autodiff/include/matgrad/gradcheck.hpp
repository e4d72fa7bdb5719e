// Finite-difference checking of autodiff gradients, in float64.
#pragma once

#include "matgrad/tensor.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace matgrad {

using TensorFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-5;  // an element passes when |analytic - numeric| <= atol + rtol |numeric|
  double rtol = 1e-3;
  std::uint64_t seed = 0;      // for the random projection of non-scalar outputs
  bool allow_float32 = false;  // float32 inputs are refused unless set (then the report warns)
};

// One input's comparison.
struct InputGradcheck {
  std::size_t input = 0;
  bool checked = false;  // false when the input does not require grad
  bool passed = true;
  double max_abs_error = 0;
  double max_rel_error = 0;  // |analytic - numeric| / max(|numeric|, atol)
  Shape worst_index;         // multi-index of the worst element (by the pass criterion)
  double analytic = 0;       // both gradients at the worst element
  double numeric = 0;
};

struct GradcheckResult {
  bool passed = true;
  std::vector<InputGradcheck> inputs;
  std::string warning;   // e.g. float32 inputs
  std::string report() const;  // a readable, aligned table
  explicit operator bool() const { return passed; }
};

// Central differences of the scalar sum(f(x) ⊙ R) in every element of every input that
// requires grad, against the autodiff gradient of the same scalar. R is a fixed random
// cotangent (all ones for a one-element output), so every entry of the VJP is exercised.
GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// The central-difference gradient (f(x + eps eᵢ) − f(x − eps eᵢ)) / 2eps of a function with a
// one-element output, for each input (undefined for inputs that do not require grad).
std::vector<Tensor> numerical_grad(const TensorFunction& f, const std::vector<Tensor>& inputs,
                                   double eps = 1e-6);

}  // namespace matgrad
