// The machinery of the reductions over a list of dims (sum, mean, prod, var, amax, norms, ...):
// the plan of one reduction (its dims checked, the shapes it makes, the input's layout
// coalesced), one kernel walking the input in memory order, and the two rules every reduction
// with an elementwise Jacobian shares.
#pragma once

#include "common.hpp"

#include <functional>
#include <string_view>
#include <vector>

namespace matgrad::detail {

struct ReducePlan {
  Shape input_shape;
  // The vectors are inline up to four entries: a plan is copied into the VJP closures, and
  // these were three allocations per copy.
  SmallVector<std::size_t, 4> dims;  // the reduced dims, ascending; none for a 0-d input
  bool keepdim = false;
  Shape out_shape;   // the result's shape
  Shape kept_shape;  // the input's with the reduced dims at size 1: the result's under keepdim
  std::size_t count = 1;  // elements reduced into each result element (N)
  // The input's dims merged where neighbours are both reduced or both kept (sizes of 1
  // dropped): groups[k] elements, at a stride of out_strides[k] in the result (0 if reduced).
  SmallVector<std::size_t, 4> groups, out_strides;
  // Set when the reduced dims form one block: the input is [outer, n, inner] around it.
  bool one_block = false;
  std::size_t outer = 1, n = 1, inner = 1;

  // The dims as signed values (for the ops that take a DimList), shifted by `offset`.
  std::vector<std::ptrdiff_t> signed_dims(std::size_t offset = 0) const {
    std::vector<std::ptrdiff_t> out;
    for (std::size_t d : dims) out.push_back(static_cast<std::ptrdiff_t>(d + offset));
    return out;
  }
};

// Checks `dims` against `shape` (in range, none repeated; a 0-d shape takes 0 and -1) and plans
// the reduction; no dims means every dim.
ReducePlan plan_reduction(std::string_view op, const Shape& shape, const DimList& dims, bool keepdim);

// Refuses a reduction without an identity (amax, amin, ±inf and negative norms) over nothing.
void check_nonempty(std::string_view op, const ReducePlan& plan);

// Calls f(o, x[i]) for every input element i in memory order, o being the index of the result
// element it reduces into.
template <class T, class F>
void for_each_reduced(const T* x, const ReducePlan& p, F&& f) {
  const std::size_t total = xt::compute_size(p.input_shape);
  if (total == 0) return;
  const std::size_t g = p.groups.size();
  if (g == 0) {  // one element
    f(std::size_t{0}, x[0]);
    return;
  }
  std::vector<std::size_t> index(g, 0);
  const std::size_t last = p.groups[g - 1], step = p.out_strides[g - 1];
  std::size_t out = 0;
  for (std::size_t i = 0; i < total; i += last) {
    for (std::size_t k = 0; k < last; ++k) f(out + k * step, x[i + k]);
    for (std::size_t d = g - 1; d-- > 0;) {
      out += p.out_strides[d];
      if (++index[d] < p.groups[d]) break;
      out -= p.out_strides[d] * p.groups[d];
      index[d] = 0;
    }
  }
}

// acc[o] = the result of folding every input element of result element o into init with
// step(acc, value), in double.
template <class T, class Step>
std::vector<double> fold(const T* x, const ReducePlan& p, double init, Step step) {
  std::vector<double> acc(xt::compute_size(p.out_shape), init);
  for_each_reduced(x, p, [&](std::size_t o, T v) { acc[o] = step(acc[o], static_cast<double>(v)); });
  return acc;
}

// The Σ (Total::sum) or 2-norm (Total::norm) over the plan, accumulated in double; the
// vectorised column kernel when the reduced dims form one block.
template <Total K, class T>
Array<T> total(std::string_view op, const Array<T>& x, const ReducePlan& p) {
  auto out = empty_array<T>(p.out_shape, op);
  if (p.one_block) {
    total_columns<K>(x.data(), p.outer, p.n, p.inner, out.data());
    return out;
  }
  const std::vector<double> acc = fold(x.data(), p, 0.0, [](double a, double v) { return a + summand<K>(v); });
  for (std::size_t o = 0; o < acc.size(); ++o) out.data()[o] = static_cast<T>(finish<K>(acc[o]));
  return out;
}

// A result of the plan's shape from double values.
template <class T>
Array<T> from_doubles(std::string_view op, const ReducePlan& p, const std::vector<double>& values) {
  auto out = empty_array<T>(p.out_shape, op);
  for (std::size_t o = 0; o < values.size(); ++o) out.data()[o] = static_cast<T>(values[o]);
  return out;
}

// The result (or its gradient) shaped to broadcast against the input: as it is when the reduced
// dims lead the input's (a full reduction among them: it lines up from the right), else with the
// reduced dims put back at size 1 (a view).
inline Tensor unreduce(const Tensor& c, const ReducePlan& p) {
  const bool leading = p.dims.empty() || p.dims[p.dims.size() - 1] + 1 == p.dims.size();
  return p.keepdim || leading ? c : reshape(c, p.kept_shape);
}

// Σ over the plan's dims of a tangent shaped like the input (batched ones shifted by one).
Tangent sum_over(const Tangent& t, const ReducePlan& p);

// The weights W = ∂C/∂A of a reduction, shaped like A, from A and the result C (unreduced),
// built with matgrad ops so that the rules below are differentiable again.
using Weights = std::function<Tensor(const Tensor& a, const Tensor& c)>;

// Records C = f(A) for a reduction whose derivative is elementwise weights:
//   dC = Σ_dims(W ⊙ dA)  =>  tC = Σ_dims(W ⊙ tA),  gA = gC (broadcast) ⊙ W.
Tensor record_weighted(const OpInfo& info, Tensor out, const Tensor& a, const ReducePlan& plan,
                       Weights weights, const SourceLocation& caller);

// g / c where c ≠ 0, else 0 (the gradient PyTorch gives norms and std at 0): `where` keeps the
// 0/0 of the other branch out of the result.
Tensor over_nonzero(const Tensor& g, const Tensor& c);

}  // namespace matgrad::detail
