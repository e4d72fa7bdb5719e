// Central differences against the autodiff gradient.
#include "matgrad/gradcheck.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/compare.hpp"
#include "matgrad/forward_ad.hpp"
#include "matgrad/ops.hpp"

#include <fmt/format.h>

#include <cmath>

namespace matgrad {

namespace {

// Fresh leaves with the same values, so that checking never touches the caller's tensors.
std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& inputs) {
  std::vector<Tensor> leaves;
  for (const Tensor& x : inputs) {
    Tensor leaf = x.detach().clone();  // central_differences writes into it
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

// Refuses undefined inputs, and float32 ones unless allowed; returns the report's warning.
std::string check_inputs(std::string_view who, const std::vector<Tensor>& inputs,
                         const GradcheckOptions& options) {
  std::string warning;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) fail<ValueError>("{}: input {} is undefined", who, i);
    if (inputs[i].dtype() != DType::float64) {
      if (!options.allow_float32) {
        fail<ValueError>(
            "{}: input {} is float32; finite differences need float64 (convert with "
            ".to(DType::float64), or set allow_float32 for a rough check)",
            who, i);
      }
      warning = "float32 inputs: finite differences are only roughly accurate";
    }
  }
  return warning;
}

InputGradcheck unchecked_input(std::size_t i) {
  InputGradcheck check;
  check.input = i;
  return check;
}

// One input's row: the autodiff gradient (undefined means zero) against the numeric one.
InputGradcheck compare_input(std::size_t i, Tensor analytic, const Tensor& numeric,
                             const GradcheckOptions& options) {
  InputGradcheck check = unchecked_input(i);
  check.checked = true;
  analytic = analytic.defined() ? analytic.to(DType::float64) : zeros_like(numeric);
  const TensorComparison c = compare_tensors(analytic, numeric, options.atol, options.rtol);
  check.passed = c.passed;
  check.max_abs_error = c.max_abs_error;
  check.max_rel_error = c.max_rel_error;
  check.worst_index = c.worst_index;
  check.analytic = c.actual;
  check.numeric = c.expected;
  return check;
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
  result.warning = check_inputs("gradcheck", inputs, options);
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
    if (!x[i].requires_grad()) {
      result.inputs.push_back(unchecked_input(i));
      continue;
    }
    const Tensor numeric = central_differences(f, x, i, r, options.eps);
    result.inputs.push_back(compare_input(i, analytic[next++], numeric, options));
    result.passed = result.passed && result.inputs.back().passed;
  }
  return result;
}

GradcheckResult gradgradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options) {
  GradcheckResult result;
  result.check = "gradgradcheck";
  result.warning = check_inputs("gradgradcheck", inputs, options);
  const std::size_t n = inputs.size();
  std::vector<std::size_t> wanted;  // the inputs that require grad, by position
  for (std::size_t i = 0; i < n; ++i) {
    if (inputs[i].requires_grad()) wanted.push_back(i);
  }
  if (wanted.empty()) fail<ValueError>("gradgradcheck: no input requires grad");

  // z = (x₀, …, xₙ₋₁, v): the inputs, then the cotangent of f's output.
  std::vector<Tensor> z = fresh_leaves(inputs);
  {
    NoGradGuard no_grad;
    const Tensor y = f(z);
    Generator gen(options.seed + 1);
    z.push_back(randn(y.shape(), gen, {.dtype = y.dtype(), .requires_grad = true}));
  }

  // The first-order gradient ∂⟨v, f(x)⟩/∂x of every input that requires grad, flattened and
  // joined. It records its backward (create_graph) exactly when called in grad mode, so the
  // central differences below run plain first-order backwards.
  const TensorFunction first_order = [&f, n, &wanted](const std::vector<Tensor>& z) {
    const bool create_graph = is_grad_enabled();
    AutoGradMode enabled(true);
    const std::vector<Tensor> x(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(n));
    std::vector<Tensor> xs;
    for (const std::size_t i : wanted) xs.push_back(x[i]);
    const Tensor y = f(x);
    if (!y.requires_grad()) {
      fail<AutogradError>("gradgradcheck: the output does not require grad, so it has no gradient");
    }
    const std::vector<Tensor> g = grad({y}, xs, {z[n]}, false, create_graph, true);
    std::vector<Tensor> parts;
    for (std::size_t k = 0; k < g.size(); ++k) {
      const Tensor gk = g[k].defined() ? g[k] : zeros_like(xs[k]);
      parts.push_back(flatten(gk.to(DType::float64)));
    }
    return concat(parts, 0);
  };

  const Tensor phi = first_order(z);
  Generator gen(options.seed);
  const Tensor u = randn(phi.shape(), gen, {.dtype = DType::float64});
  std::vector<Tensor> targets;
  for (const std::size_t i : wanted) targets.push_back(z[i]);
  targets.push_back(z[n]);
  std::vector<Tensor> analytic(targets.size());  // undefined: φ does not depend on it
  if (phi.requires_grad()) {
    analytic = grad({phi}, targets, {u}, false, false, true);
  } else {
    result.warning += std::string(result.warning.empty() ? "" : "; ") +
                      "the first-order gradient has no history (no VJP on its path recorded "
                      "anything), so autodiff's second derivative is zero";
  }

  std::size_t next = 0;
  for (std::size_t i = 0; i <= n; ++i) {
    if (!z[i].requires_grad()) {
      result.inputs.push_back(unchecked_input(i));
      continue;
    }
    const Tensor numeric = central_differences(first_order, z, i, u, options.eps);
    InputGradcheck check = compare_input(i, analytic[next++], numeric, options);
    if (i == n) check.label = std::string(1, 'v');
    result.passed = result.passed && check.passed;
    result.inputs.push_back(std::move(check));
  }
  return result;
}

GradcheckResult jvpcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                         const GradcheckOptions& options) {
  GradcheckResult result;
  result.check = "jvpcheck";
  result.warning = check_inputs("jvpcheck", inputs, options);
  const std::vector<Tensor> x = fresh_leaves(inputs);
  NoGradGuard no_grad;  // forward mode alone: nothing to record
  Generator gen(options.seed + 2);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!x[i].requires_grad()) {
      result.inputs.push_back(unchecked_input(i));
      continue;
    }
    const Tensor v = randn(x[i].shape(), gen, {.dtype = x[i].dtype()});
    Tensor analytic;
    {
      const DualLevel level;
      std::vector<Tensor> duals = x;
      duals[i] = make_dual(x[i], v);
      analytic = unpack_dual(f(duals)).tangent;
    }
    std::vector<Tensor> plus = x, minus = x;
    plus[i] = x[i] + v * options.eps;
    minus[i] = x[i] - v * options.eps;
    const Tensor numeric = ((f(plus) - f(minus)) / (2 * options.eps)).to(DType::float64);
    result.inputs.push_back(compare_input(i, analytic, numeric, options));
    result.passed = result.passed && result.inputs.back().passed;
  }
  return result;
}

std::string GradcheckResult::report() const {
  std::string out = fmt::format("{}: {}\n", check, passed ? "passed" : "FAILED");
  if (!warning.empty()) out += fmt::format("warning: {}\n", warning);
  out += fmt::format("{:>5}  {:>11}  {:>11}  {:<12}  {:>14}  {:>14}  {}\n", "input", "max abs err",
                     "max rel err", "worst at", "autodiff", "numeric", "");
  for (const InputGradcheck& c : inputs) {
    const std::string name = c.label.empty() ? std::to_string(c.input) : c.label;
    if (!c.checked) {
      out += fmt::format("{:>5}  (does not require grad)\n", name);
      continue;
    }
    out += fmt::format("{:>5}  {:>11.3e}  {:>11.3e}  {:<12}  {:>14.8g}  {:>14.8g}  {}\n", name,
                       c.max_abs_error, c.max_rel_error, to_string(c.worst_index), c.analytic,
                       c.numeric, c.passed ? "ok" : "FAIL");
  }
  return out;
}

}  // namespace matgrad
