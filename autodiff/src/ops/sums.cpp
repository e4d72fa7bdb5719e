// Sums and products over a list of dims: sum, mean, prod and logsumexp (reduce.hpp plans the
// dims; float32 accumulates in double).
#include "matgrad/composed_op.hpp"
#include "reduce.hpp"

#include <cmath>
#include <limits>

namespace matgrad {

using detail::check_defined;
using detail::plan_reduction;
using detail::ReducePlan;

static const OpInfo sum_info{"sum", "dC = Σ_dims dA", "tC = Σ_dims tA", "gA = gC 1 (gC broadcast along the dims)",
                             Saves::nothing,
    "C = Σ_dims A"};
Tensor sum(const Tensor& a, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  check_defined("sum", a);
  const ReducePlan plan = plan_reduction("sum", a.shape(), dim, keepdim);
  Tensor out = detail::map_data(a, [&](const auto& x) { return detail::total<detail::Total::sum>("sum", x, plan); });
  return record(
      sum_info, std::move(out), {a},
      [&](const Tangent& ta) { return detail::sum_over(ta, plan); },
      [plan](const Tensor& g) -> Grads { return {broadcast_to(detail::unreduce(g, plan), plan.input_shape)}; },
      caller);
}

static const ComposedOpInfo mean_composed{"mean", "C = sum(A, dims) / N (N: the elements reduced into each; NaN over none)"};
// mean = sum / N. The mean of nothing is NaN, as in PyTorch, but made as sum + NaN rather than
// sum / 0: a 1/0 factor in the backward would multiply the zeros of a second-order pass into
// NaN (PyTorch divides after broadcasting, where an empty input leaves nothing to divide).
Tensor mean(const Tensor& a, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  check_defined("mean", a);
  const ReducePlan plan = plan_reduction("mean", a.shape(), dim, keepdim);
  const Tensor total = sum(a, dim, keepdim, caller);
  if (plan.count == 0) return add(total, scalar_like(total, std::numeric_limits<double>::quiet_NaN()), caller);
  return div(total, scalar_like(total, static_cast<double>(plan.count)), caller);
}

// ∂C/∂Aᵢ is the product of the others. With Z = [A = 0] and z = Σ_dims Z the zeros of a slice,
// and P' the product with the zeros taken as 1 (no zero left to divide by):
//   z = 0:  P' ⊘ A
//   z = 1:  P' at the zero, and A₀ P' ⊘ A elsewhere, A₀ = Σ_dims(A ⊙ Z) being the zero itself
//           (its value is 0, but it keeps the second derivatives right)
//   z ≥ 2:  0 (every product of the others holds a zero), as torch.
static Tensor prod_weights(const Tensor& a, const Tensor& c, const ReducePlan& plan) {
  const Tensor zero = scalar_like(a, 0.0), one = scalar_like(a, 1.0);
  const Tensor is_zero = eq(a, zero);
  const bool any_zero = sum(is_zero).item() > 0;
  if (!any_zero) return c / a;
  const DimList dims(plan.signed_dims());
  const Tensor zeros_in_slice = sum(is_zero, dims, true);
  const Tensor safe = where(is_zero, one, a);
  const Tensor others = prod(safe, dims, true);  // P'
  const Tensor zero_itself = sum(a * is_zero, dims, true);
  const Tensor none = eq(zeros_in_slice, zero), single = eq(zeros_in_slice, one);
  const Tensor at_zero = is_zero * others;
  const Tensor elsewhere = (1.0 - is_zero) * (others / safe) * where(none, one, zero_itself);
  return (none + single) * (at_zero + elsewhere);
}

static const OpInfo prod_info{"prod", "dC = Σ_dims(W ⊙ dA), W = C ⊘ A (the product of the others, ∂C/∂A, computed without dividing by zeros)",
                              "tC = Σ_dims(W ⊙ tA)", "gA = gC ⊙ W (gC broadcast along the dims)",
                              Saves::inputs_and_output,
    "C = Π_dims A"};
Tensor prod(const Tensor& a, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  check_defined("prod", a);
  const ReducePlan plan = plan_reduction("prod", a.shape(), dim, keepdim);
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    return detail::from_doubles<T>("prod", plan, detail::fold(x.data(), plan, 1.0, [](double p, double v) { return p * v; }));
  });
  return detail::record_weighted(
      prod_info, std::move(out), a, plan,
      [plan](const Tensor& x, const Tensor& c) { return prod_weights(x, c, plan); }, caller);
}

// With the input viewed per result element: the max m over its elements (shifted to 0 when it
// is ±inf, so that the result is +inf / −inf there and −inf over nothing, as in PyTorch), then
// m + log Σ exp(x − m), the sum in double.
template <class T>
static Array<T> logsumexp_kernel(const Array<T>& x, const ReducePlan& plan) {
  const double lowest = -std::numeric_limits<double>::infinity();
  std::vector<double> m = detail::fold(x.data(), plan, lowest, [](double a, double v) { return v > a ? v : a; });
  for (double& v : m) {
    if (std::isinf(v)) v = 0;
  }
  std::vector<double> z(m.size(), 0.0);
  detail::for_each_reduced(x.data(), plan, [&](std::size_t o, T v) { z[o] += std::exp(static_cast<double>(v) - m[o]); });
  for (std::size_t o = 0; o < z.size(); ++o) z[o] = m[o] + std::log(z[o]);
  return detail::from_doubles<T>("logsumexp", plan, z);
}

// softmax(A) over the dims: the fused op over one dim; over several, exp(A − M) normalised,
// M = the max (a constant: the ratio does not depend on it), so nothing overflows.
static Tensor softmax_over(const Tensor& a, const ReducePlan& plan) {
  if (plan.dims.empty()) return ones_like(a);
  if (plan.dims.size() == 1) return softmax(a, static_cast<std::ptrdiff_t>(plan.dims[0]));
  if (a.numel() == 0) return zeros_like(a);  // nothing to weigh (amax refuses it)
  const DimList dims(plan.signed_dims());
  const Tensor shifted = exp(a - amax(a.detach(), dims, true));
  return shifted / sum(shifted, dims, true);
}

// exp(A − C) is softmax(A), but computed as written it rounds: at A = (1e30, 1e30), C rounds
// to A and the gradient comes out (1, 1). softmax shifts by the max before exponentiating.
static const OpInfo logsumexp_info{"logsumexp", "dC = Σ_dims(softmax(A) ⊙ dA)", "tC = Σ_dims(softmax(A) ⊙ tA)",
                                   "gA = gC ⊙ softmax(A) (gC broadcast along the dims)",
    "C = log(Σ_dims exp(A))"};
Tensor logsumexp(const Tensor& a, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  check_defined("logsumexp", a);
  const ReducePlan plan = plan_reduction("logsumexp", a.shape(), dim, keepdim);
  Tensor out = detail::map_data(a, [&](const auto& x) { return logsumexp_kernel(x, plan); });
  return record(
      logsumexp_info, std::move(out), {a},
      [&](const Tangent& ta) { return detail::sum_over(ta * softmax_over(a, plan), plan); },
      [a, plan](const Tensor& g) -> Grads { return {detail::unreduce(g, plan) * softmax_over(a, plan)}; },
      caller);
}

}  // namespace matgrad
