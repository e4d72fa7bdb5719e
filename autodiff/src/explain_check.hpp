// explain()'s numbers: directional finite-difference checks of a gradient, by re-running the
// user's program with a leaf or a named result perturbed (explain_check.cpp). Private.
#pragma once

#include "matgrad/explain.hpp"

#include <string>

namespace matgrad::detail {

class GradientChecker {
 public:
  GradientChecker(const ExplainOptions& options, const Tensor& output, const Tensor& seed);

  // Checks G = ∂ℓ/∂target along a random direction: `leaf` targets are perturbed in place,
  // others through the program's set_name(name).
  ExplainCheck check(const Tensor& target, const Tensor& gradient, bool leaf, const std::string& name);

 private:
  double loss_with(const Tensor& target, const Tensor& direction, double step, bool leaf,
                   const std::string& name, bool& found);
  const ExplainOptions& options_;
  Tensor output_;
  Tensor seed_;
  Generator generator_;
  double eps_, rtol_, atol_;
};

// ⟨a, b⟩ in double.
double inner(const Tensor& a, const Tensor& b);

}  // namespace matgrad::detail
