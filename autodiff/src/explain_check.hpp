// explain()'s numbers: directional finite-difference checks of a gradient, by re-running the
// user's program with a leaf or a result perturbed (explain_check.cpp). Private.
#pragma once

#include "matgrad/autograd.hpp"
#include "matgrad/explain.hpp"

#include <optional>
#include <string>
#include <unordered_map>

namespace matgrad::detail {

struct Node;

class GradientChecker {
 public:
  GradientChecker(const ExplainOptions& options, const Tensor& output, const Tensor& seed);

  // How a check finds its target in the re-run program: a leaf is perturbed in place; a result
  // the user named, as set_name names it; an unnamed result, as the record that takes the
  // place of `record` (a record of the explained graph). `symmetric_for` names the op that
  // reads the target as a symmetric matrix, if one does.
  struct Target {
    bool leaf = false;
    std::string name;
    const Node* record = nullptr;
    std::string_view symmetric_for;
  };

  // Checks G = ∂ℓ/∂target along a random direction.
  ExplainCheck check(const Tensor& target, const Tensor& gradient, const Target& how);

 private:
  double loss_with(const Tensor& target, const Tensor& direction, double step, const Target& how, bool& found);
  // The position among the re-run's records of the one that takes the place of `record`.
  std::optional<std::size_t> position_in_rerun(const Node* record);

  std::optional<std::unordered_map<const Node*, std::size_t>> positions_;
  const ExplainOptions& options_;
  Tensor output_;
  Tensor seed_;
  Generator generator_;
  double eps_, rtol_, atol_;
};

// Whether `op` reads its first input as a symmetric matrix: its gradient, as torch's, is that of
// the input's symmetric part, so it holds along symmetric directions only.
bool reads_symmetric(const OpInfo& op);

// ⟨a, b⟩ in double.
double inner(const Tensor& a, const Tensor& b);

}  // namespace matgrad::detail
