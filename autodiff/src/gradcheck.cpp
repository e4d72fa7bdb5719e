// Central differences against the autodiff gradient.
#include "matgrad/gradcheck.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/compare.hpp"
#include "matgrad/ops.hpp"

#include <fmt/format.h>

#include <cmath>

namespace matgrad {

namespace {

// Fresh leaves with the same values, so that checking never touches the caller's tensors.
std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) {
    Tensor leaf = x.detach();
    leaf.requires_grad_(x.requires_grad());
    leaves.push_back(leaf);
  }
  return leaves;
}

// sum(f(x) ⊙ r) as a double, without recording.
double project(const TensorFunction& f, const std::vector<Tensor>& x, const Tensor& r) {
  NoGradGuard no_grad;
  const Tensor y = f(x);
  return r.defined() ? sum(y * r).item() : y.item();
}

// The central difference of project() in every element of x[i].
Tensor central_differences(const TensorFunction& f, std::vector<Tensor>& x, std::size_t i,
                           const Tensor& r, double eps) {
  Tensor numeric = zeros(x[i].shape(), {.dtype = DType::float64});
  auto& out = numeric.mutable_data<double>();
  x[i].visit([&](const auto& data) {
    using T = typename std::decay_t<decltype(data)>::value_type;
    T* values = const_cast<T*>(data.data());
    for (std::size_t k = 0; k < data.size(); ++k) {
      const T saved = values[k];
      values[k] = static_cast<T>(saved + eps);
      const double plus = project(f, x, r);
      values[k] = static_cast<T>(saved - eps);
      const double minus = project(f, x, r);
      values[k] = saved;
      out.data()[k] = (plus - minus) / (2 * eps);
    }
  });
  return numeric;
}

}  // namespace

std::vector<Tensor> numerical_grad(const TensorFunction& f, const std::vector<Tensor>& inputs,
                                   double eps) {
  std::vector<Tensor> x = fresh_leaves(inputs);
  {
    NoGradGuard no_grad;
    const Tensor y = f(x);
    if (y.numel() != 1) {
      fail<ShapeError>("numerical_grad: f must return one element, got shape {}",
                       to_string(y.shape()));
    }
  }
  std::vector<Tensor> result(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].requires_grad()) result[i] = central_differences(f, x, i, Tensor(), eps);
  }
  return result;
}

GradcheckResult gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  GradcheckResult result;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) fail<ValueError>("gradcheck: input {} is undefined", i);
    if (inputs[i].dtype() != DType::float64) {
      if (!options.allow_float32) {
        fail<ValueError>(
            "gradcheck: input {} is float32; finite differences need float64 (convert with "
            ".to(DType::float64), or set allow_float32 for a rough check)",
            i);
      }
      result.warning = "float32 inputs: finite differences are only roughly accurate";
    }
  }
  std::vector<Tensor> x = fresh_leaves(inputs);
  std::vector<Tensor> wanted;
  for (const Tensor& leaf : x) {
    if (leaf.requires_grad()) wanted.push_back(leaf);
  }
  const Tensor y = f(x);
  Generator gen(options.seed);
  const Tensor r = y.numel() == 1 ? Tensor() : randn(y.shape(), gen, {.dtype = y.dtype()});
  std::vector<Tensor> analytic;
  if (!wanted.empty()) {
    if (!y.requires_grad()) {
      fail<AutogradError>("gradcheck: the output does not require grad, so it has no gradient");
    }
    analytic = grad({y}, wanted, {r.defined() ? r : ones_like(y)}, false, false, true);
  }

  std::size_t next = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    InputGradcheck check;
    check.input = i;
    if (!x[i].requires_grad()) {
      result.inputs.push_back(check);
      continue;
    }
    check.checked = true;
    Tensor a = analytic[next++];
    a = a.defined() ? a.to(DType::float64) : zeros(x[i].shape(), {.dtype = DType::float64});
    const Tensor numeric = central_differences(f, x, i, r, options.eps);
    const TensorComparison c = compare_tensors(a, numeric, options.atol, options.rtol);
    check.passed = c.passed;
    check.max_abs_error = c.max_abs_error;
    check.max_rel_error = c.max_rel_error;
    check.worst_index = c.worst_index;
    check.analytic = c.actual;
    check.numeric = c.expected;
    result.passed = result.passed && check.passed;
    result.inputs.push_back(check);
  }
  return result;
}

std::string GradcheckResult::report() const {
  std::string out = fmt::format("gradcheck: {}\n", passed ? "passed" : "FAILED");
  if (!warning.empty()) out += fmt::format("warning: {}\n", warning);
  out += fmt::format("{:>5}  {:>11}  {:>11}  {:<12}  {:>14}  {:>14}  {}\n", "input", "max abs err",
                     "max rel err", "worst at", "autodiff", "numeric", "");
  for (const InputGradcheck& c : inputs) {
    if (!c.checked) {
      out += fmt::format("{:>5}  (does not require grad)\n", c.input);
      continue;
    }
    out += fmt::format("{:>5}  {:>11.3e}  {:>11.3e}  {:<12}  {:>14.8g}  {:>14.8g}  {}\n", c.input,
                       c.max_abs_error, c.max_rel_error, to_string(c.worst_index), c.analytic,
                       c.numeric, c.passed ? "ok" : "FAIL");
  }
  return out;
}

}  // namespace matgrad
