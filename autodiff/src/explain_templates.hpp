// An op's explain() templates, read off its OpInfo for one record: the letters of its output
// and inputs, and its forward equation, differential and per-input adjoints as expressions in
// those letters (explain_templates.cpp). Private.
#pragma once

#include "explain_expr.hpp"
#include "matgrad/autograd.hpp"

#include <string>
#include <vector>

namespace matgrad::detail {

struct OpTemplates {
  std::string output;               // "C"
  std::vector<std::string> inputs;  // "A", "B", one per input ("Aₖ" for every input of concat)
  expr::Ptr equation;               // the right-hand sides
  expr::Ptr differential;
  std::vector<expr::Ptr> adjoints;  // one per input
  bool variadic = false;            // the inputs are A₀, A₁, … ("Aₖ")
  bool elementwise = false;         // broadcasts its inputs (no matrix product in its VJP)
  std::string missing;              // what the OpInfo lacks, when it lacks something
};

// The templates of `op` for a record with these input and output shapes: of the variants of
// the equation ("C = A B; C = Aᵀ B: …"), the first that fits the shapes.
OpTemplates templates_for(const OpInfo& op, const std::vector<Shape>& inputs, const Shape& output);

}  // namespace matgrad::detail
