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
  std::string label;     // shown instead of the input's number when set (gradgradcheck's "v")
  bool checked = false;  // false when the input does not require grad
  bool passed = true;
  double max_abs_error = 0;
  double max_rel_error = 0;  // |analytic - numeric| / max(|numeric|, atol)
  Shape worst_index;         // multi-index of the worst element (by the pass criterion)
  double analytic = 0;       // both gradients at the worst element
  double numeric = 0;
};

struct GradcheckResult {
  std::string check = "gradcheck";  // the report's title
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

// The second-order check (PyTorch's gradgradcheck). With v a random cotangent of f's output
// and u a random vector, φ(x, v) = Σᵢ ⟨uᵢ, ∂⟨v, f(x)⟩/∂xᵢ⟩ is the projected first-order
// gradient; its gradient is computed by double backward (the first gradient taken with
// create_graph) and compared with central differences of φ, each φ a first-order backward.
// The gradient in x is u's side of the Hessian bilinear form d²⟨v, f⟩(u, ·); the gradient in
// v is J u, which checks that the VJPs are recorded as functions of gC as well. The report
// lists the inputs, then v. Piecewise-linear ops pass with a zero second derivative.
GradcheckResult gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {});

// Forward mode's check: for each input that requires grad, the tangent of f along a random
// direction v of that input alone (forward mode, the other inputs without tangents) against
// the central difference (f(x + eps v) − f(x − eps v)) / 2 eps, element by element of f's
// output. Opens a dual level, so it cannot run inside another.
GradcheckResult jvpcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                         const GradcheckOptions& options = {});

// The central-difference gradient (f(x + eps eᵢ) − f(x − eps eᵢ)) / 2eps of a function with a
// one-element output, for each input (undefined for inputs that do not require grad).
std::vector<Tensor> numerical_grad(const TensorFunction& f, const std::vector<Tensor>& inputs,
                                   double eps = 1e-6);

}  // namespace matgrad
