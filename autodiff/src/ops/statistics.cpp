// Statistics over a list of dims: var, std (and var_mean, std_mean), amax and amin. Each is a
// reduction with elementwise weights W = ∂C/∂A (reduce.hpp's record_weighted), accumulated in
// double.
#include "reduce.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace matgrad {

using detail::check_defined;
using detail::plan_reduction;
using detail::ReducePlan;

namespace {

// Σ (x − mean)² / max(N − correction, 0), two passes in double: 0/0 = NaN (N = 0, or every
// element equal with N ≤ correction) and s/0 = inf, as torch.
template <class T>
Array<T> var_kernel(const Array<T>& x, const ReducePlan& plan, double correction) {
  std::vector<double> mean = detail::fold(x.data(), plan, 0.0, [](double a, double v) { return a + v; });
  const auto n = static_cast<double>(plan.count);
  for (double& m : mean) m /= n;
  std::vector<double> squares(mean.size(), 0.0);
  detail::for_each_reduced(x.data(), plan, [&](std::size_t o, T v) {
    const double d = static_cast<double>(v) - mean[o];
    squares[o] += d * d;
  });
  const double dof = std::max(n - correction, 0.0);
  for (double& s : squares) s /= dof;
  return detail::from_doubles<T>("var", plan, squares);
}

Tensor var_forward(const Tensor& a, const ReducePlan& plan, double correction, bool root) {
  return detail::map_data(a, [&](const auto& x) {
    auto v = var_kernel(x, plan, correction);
    if (root) {
      for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = std::sqrt(v.data()[i]);
    }
    return v;
  });
}

// ∂var/∂A = 2 (A − mean) / (N − correction): the mean's own term vanishes, as Σ (A − mean) = 0.
// N − correction ≤ 0 makes the factor 2/0 = inf, as the forward's divisor.
Tensor var_weights(const Tensor& a, const ReducePlan& plan, double correction) {
  const double dof = std::max(static_cast<double>(plan.count) - correction, 0.0);
  return (a - mean(a, DimList(plan.signed_dims()), true)) * (2.0 / dof);
}

void check_correction(std::string_view op, double correction) {
  if (!std::isfinite(correction)) fail<ValueError>("{}: correction must be finite, got {}", op, correction);
}

}  // namespace

static const OpInfo var_info{"var", "dC = Σ_dims(W ⊙ dA), W = 2 (A − mean_dims A) / (N − correction)",
                             "tC = Σ_dims(W ⊙ tA)", "gA = gC ⊙ W (gC broadcast along the dims)",
                             Saves::inputs_and_output};
Tensor var(const Tensor& a, const DimList& dim, double correction, bool keepdim, const SourceLocation& caller) {
  check_defined("var", a);
  check_correction("var", correction);
  const ReducePlan plan = plan_reduction("var", a.shape(), dim, keepdim);
  return detail::record_weighted(
      var_info, var_forward(a, plan, correction, false), a, plan,
      [plan, correction](const Tensor& x, const Tensor&) { return var_weights(x, plan, correction); }, caller);
}

// std = √var;  dstd = dvar / (2 std), taken as 0 where std = 0, as torch (not √'s inf).
static const OpInfo std_info{"std", "dC = Σ_dims(W ⊙ dA), W = (A − mean_dims A) / ((N − correction) C), 0 where C = 0",
                             "tC = Σ_dims(W ⊙ tA)", "gA = gC ⊙ W (gC broadcast along the dims)",
                             Saves::inputs_and_output};
Tensor std(const Tensor& a, const DimList& dim, double correction, bool keepdim, const SourceLocation& caller) {
  check_defined("std", a);
  check_correction("std", correction);
  const ReducePlan plan = plan_reduction("std", a.shape(), dim, keepdim);
  return detail::record_weighted(
      std_info, var_forward(a, plan, correction, true), a, plan,
      [plan, correction](const Tensor& x, const Tensor& c) {
        return detail::over_nonzero(var_weights(x, plan, correction), 2.0 * c);
      },
      caller);
}

VarMeanResult var_mean(const Tensor& a, const DimList& dim, double correction, bool keepdim, const SourceLocation& caller) {
  return {var(a, dim, correction, keepdim, caller), mean(a, dim, keepdim, caller)};
}
StdMeanResult std_mean(const Tensor& a, const DimList& dim, double correction, bool keepdim, const SourceLocation& caller) {
  return {std(a, dim, correction, keepdim, caller), mean(a, dim, keepdim, caller)};
}

// The extremum with NaN winning (once NaN, always NaN), as torch's amax/amin.
template <bool Max>
static Tensor extremum_forward(std::string_view op, const Tensor& a, const ReducePlan& plan) {
  detail::check_nonempty(op, plan);
  const double start = Max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  return detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    return detail::from_doubles<T>(op, plan, detail::fold(x.data(), plan, start, [](double m, double v) {
      return (Max ? v > m : v < m) || std::isnan(v) ? v : m;
    }));
  });
}

// W = [A = C] / (the number of ties): the gradient split evenly between the elements equal to
// the extremum, as torch; constants of the backward graph (zero second derivative).
static Tensor tie_weights(const Tensor& a, const Tensor& c, const ReducePlan& plan) {
  const Tensor at = eq(a, c);
  return at / sum(at, DimList(plan.signed_dims()), true);
}

static const OpInfo amax_info{"amax", "dC = Σ_dims(W ⊙ dA), W = [A = C] / #ties", "tC = Σ_dims(W ⊙ tA)",
                              "gA = gC ⊙ W: split evenly between the ties", Saves::inputs_and_output};
static const OpInfo amin_info{"amin", "dC = Σ_dims(W ⊙ dA), W = [A = C] / #ties", "tC = Σ_dims(W ⊙ tA)",
                              "gA = gC ⊙ W: split evenly between the ties", Saves::inputs_and_output};
Tensor amax(const Tensor& a, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  check_defined("amax", a);
  const ReducePlan plan = plan_reduction("amax", a.shape(), dim, keepdim);
  return detail::record_weighted(
      amax_info, extremum_forward<true>("amax", a, plan), a, plan,
      [plan](const Tensor& x, const Tensor& c) { return tie_weights(x, c, plan); }, caller);
}
Tensor amin(const Tensor& a, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  check_defined("amin", a);
  const ReducePlan plan = plan_reduction("amin", a.shape(), dim, keepdim);
  return detail::record_weighted(
      amin_info, extremum_forward<false>("amin", a, plan), a, plan,
      [plan](const Tensor& x, const Tensor& c) { return tie_weights(x, c, plan); }, caller);
}

}  // namespace matgrad
