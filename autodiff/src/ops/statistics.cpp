// Statistics over a list of dims: var, std (and var_mean, std_mean), amax and amin. Each is a
// reduction with elementwise weights W = ∂C/∂A (reduce.hpp's record_weighted), accumulated in
// double.
#include "matgrad/composed_op.hpp"
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
// Where N − correction ≤ 0 the values are torch's, which differ by how var was called: over
// every dim (no dims given, or a 0-d input) NaN where A equals the mean and inf elsewhere; over
// dims given, the same formula, so 2/0 = inf times A − mean at N = correction and a finite
// negative factor below it.
Tensor var_weights(const Tensor& a, const ReducePlan& plan, double correction, bool every_dim) {
  const double dof = static_cast<double>(plan.count) - correction;
  const Tensor centred = a - mean(a, DimList(plan.signed_dims()), true);
  if (dof > 0 || !every_dim) return centred * (2.0 / dof);
  const Tensor zero = scalar_like(a, 0.0);
  return where(eq(centred, zero), full_like(zero, std::numeric_limits<double>::quiet_NaN()),
               full_like(zero, std::numeric_limits<double>::infinity()));
}

}  // namespace

// var, or std = √var: dstd = dvar / (2 std), taken as 0 where std = 0, as torch (not √'s inf).
static Tensor var_or_std(const OpInfo& info, bool root, const Tensor& a, const DimList& dim, double correction,
                         bool keepdim, const SourceLocation& caller) {
  check_defined(info.name, a);
  if (!std::isfinite(correction)) fail<ValueError>("{}: correction must be finite, got {}", info.name, correction);
  const ReducePlan plan = plan_reduction(info.name, a.shape(), dim, keepdim);
  return detail::record_weighted(
      info, var_forward(a, plan, correction, root), a, plan,
      [plan, correction, root, every_dim = dim.all() || a.dim() == 0](const Tensor& x, const Tensor& c) {
        const Tensor w = var_weights(x, plan, correction, every_dim);
        return root ? detail::over_nonzero(w, 2.0 * c) : w;
      },
      caller);
}

static const OpInfo var_info{"var", "dC = Σ_dims(W ⊙ dA), W = 2 (A − mean_dims A) / (N − correction)",
                             "tC = Σ_dims(W ⊙ tA)", "gA = gC ⊙ W (gC broadcast along the dims)",
                             Saves::inputs_and_output,
    "C = Σ_dims (A − mean_dims A)² / (N − correction)"};
static const OpInfo std_info{"std", "dC = Σ_dims(W ⊙ dA), W = (A − mean_dims A) / ((N − correction) C) (zero where C = 0)",
                             "tC = Σ_dims(W ⊙ tA)", "gA = gC ⊙ W (gC broadcast along the dims)",
                             Saves::inputs_and_output,
    "C = √(Σ_dims (A − mean_dims A)² / (N − correction))"};
Tensor var(const Tensor& a, const DimList& dim, double correction, bool keepdim, const SourceLocation& caller) {
  return var_or_std(var_info, false, a, dim, correction, keepdim, caller);
}
Tensor std(const Tensor& a, const DimList& dim, double correction, bool keepdim, const SourceLocation& caller) {
  return var_or_std(std_info, true, a, dim, correction, keepdim, caller);
}

static const ComposedOpInfo var_mean_composed{"var_mean", "(var(A, dims, correction), mean(A, dims)); std_mean likewise with std"};
VarMeanResult var_mean(const Tensor& a, const DimList& dim, double correction, bool keepdim, const SourceLocation& caller) {
  return {var(a, dim, correction, keepdim, caller), mean(a, dim, keepdim, caller)};
}
StdMeanResult std_mean(const Tensor& a, const DimList& dim, double correction, bool keepdim, const SourceLocation& caller) {
  return {std(a, dim, correction, keepdim, caller), mean(a, dim, keepdim, caller)};
}

// The extremum with NaN winning (once NaN, always NaN), as torch's amax/amin; the gradient
// W = [A = C] / (the number of ties) split evenly between the elements equal to it, as torch:
// constants of the backward graph (zero second derivative).
template <bool Max>
static Tensor extremum(const OpInfo& info, const Tensor& a, const DimList& dim, bool keepdim,
                       const SourceLocation& caller) {
  check_defined(info.name, a);
  const ReducePlan plan = plan_reduction(info.name, a.shape(), dim, keepdim);
  detail::check_nonempty(info.name, plan);
  const double start = Max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    return detail::from_doubles<T>(info.name, plan, detail::fold(x.data(), plan, start, [](double m, double v) {
      return (Max ? v > m : v < m) || std::isnan(v) ? v : m;
    }));
  });
  return detail::record_weighted(
      info, std::move(out), a, plan,
      [plan](const Tensor& x, const Tensor& c) {
        const Tensor at = eq(x, c);
        return at / sum(at, DimList(plan.signed_dims()), true);
      },
      caller);
}

static const OpInfo amax_info{"amax", "dC = Σ_dims(W ⊙ dA), W = [A = C] / k (k: the number of ties)", "tC = Σ_dims(W ⊙ tA)",
                              "gA = gC ⊙ W (split evenly between the ties)", Saves::inputs_and_output,
    "C = amax(A, dims)"};
static const OpInfo amin_info{"amin", "dC = Σ_dims(W ⊙ dA), W = [A = C] / k (k: the number of ties)", "tC = Σ_dims(W ⊙ tA)",
                              "gA = gC ⊙ W (split evenly between the ties)", Saves::inputs_and_output,
    "C = amin(A, dims)"};
Tensor amax(const Tensor& a, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  return extremum<true>(amax_info, a, dim, keepdim, caller);
}
Tensor amin(const Tensor& a, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  return extremum<false>(amin_info, a, dim, keepdim, caller);
}

}  // namespace matgrad
