// Vector and matrix norms: linalg_vector_norm (torch.linalg.vector_norm, and torch.norm with a
// numeric p) and linalg_matrix_norm (torch.linalg.matrix_norm), named as ATen names them. The
// vector norm is one reduction with elementwise weights W = ∂c/∂A (reduce.hpp), accumulated in
// double; the matrix norms compose it, abs, sum, amax, amin and svdvals (nuc, ±2).
#include "matgrad/composed_op.hpp"
#include "reduce.hpp"

#include <cmath>
#include <limits>

namespace matgrad {

using detail::check_defined;
using detail::plan_reduction;
using detail::ReducePlan;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

template <class T>
Array<T> vector_norm_kernel(const Array<T>& x, const ReducePlan& plan, double ord) {
  constexpr std::string_view op = "linalg_vector_norm";
  if (ord == 2) return detail::total<detail::Total::norm>(op, x, plan);
  auto fold = [&](double init, auto step) { return detail::fold(x.data(), plan, init, step); };
  std::vector<double> acc;
  if (ord == inf) {
    acc = fold(0.0, [](double m, double v) { return std::abs(v) > m || std::isnan(v) ? std::abs(v) : m; });
  } else if (ord == -inf) {
    acc = fold(inf, [](double m, double v) { return std::abs(v) < m || std::isnan(v) ? std::abs(v) : m; });
  } else if (ord == 0) {
    acc = fold(0.0, [](double n, double v) { return n + (v != 0 ? 1.0 : 0.0); });
  } else if (ord == 1) {
    acc = fold(0.0, [](double s, double v) { return s + std::abs(v); });
  } else {
    acc = fold(0.0, [ord](double s, double v) { return s + std::pow(std::abs(v), ord); });
    for (double& s : acc) s = std::pow(s, 1 / ord);
  }
  return detail::from_doubles<T>(op, plan, acc);
}

// W = ∂c/∂A, with torch's values where A or c is 0:
//   2:     A / c (0 where c = 0)            1:  sign A (0 at 0)
//   ±inf:  sign A at the ties |A| = c, split evenly between them
//   0:     0                                 p:  sign A |A|^(p−1) / c^(p−1) (0 at A = 0, and
//                                                where c = 0 for p > 1)
Tensor vector_norm_weights(const Tensor& a, const Tensor& c, const ReducePlan& plan, double ord) {
  if (ord == 2) return detail::over_nonzero(a, c);
  if (ord == 1) return sign(a);
  if (ord == 0) return zeros_like(a);
  if (std::isinf(ord)) {
    const Tensor at = eq(abs(a), c);
    return sign(a) * (at / sum(at, DimList(plan.signed_dims()), true));
  }
  const Tensor zero = scalar_like(a, 0.0);
  const Tensor nonzero = 1.0 - eq(a, zero);
  const Tensor scaled = sign(a) * pow(where(nonzero, abs(a), ones_like(a)), ord - 1);
  if (ord < 1) return scaled * pow(c, 1 - ord);
  return detail::over_nonzero(scaled, pow(c, ord - 1));
}

}  // namespace

static const OpInfo vector_norm_info{
    "linalg_vector_norm", "dc = Σ_dims(W ⊙ dA), W = sign(A) |A|^(p−1) / c^(p−1) (p = 2: A / c; ±inf: at the ties)",
    "tc = Σ_dims(W ⊙ tA)", "gA = gc ⊙ W (gc broadcast along the dims)", Saves::inputs_and_output,
    "c = (Σ_dims |A|^p)^(1/p)"};
Tensor linalg_vector_norm(const Tensor& a, double ord, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  constexpr std::string_view op = "linalg_vector_norm";
  check_defined(op, a);
  if (std::isnan(ord)) fail<ValueError>("{}: ord is NaN", op);
  const ReducePlan plan = plan_reduction(op, a.shape(), dim, keepdim);
  if (ord < 0 || std::isinf(ord)) detail::check_nonempty(op, plan);
  Tensor out = detail::map_data(a, [&](const auto& x) { return vector_norm_kernel(x, plan, ord); });
  return detail::record_weighted(
      vector_norm_info, std::move(out), a, plan,
      [plan, ord](const Tensor& x, const Tensor& c) { return vector_norm_weights(x, c, plan, ord); }, caller);
}

static const ComposedOpInfo norm_composed{"norm", "C = linalg_vector_norm(A, p, dims)"};
Tensor norm(const Tensor& a, double p, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  return linalg_vector_norm(a, p, dim, keepdim, caller);
}

namespace {

// A matrix norm's input and dims, checked: a tensor of rank ≥ 2 and two distinct dims.
void check_matrix_dims(const Tensor& a, const DimList& dim) {
  constexpr std::string_view op = "linalg_matrix_norm";
  check_defined(op, a);
  if (a.dim() < 2) {
    fail<ShapeError>("{}: expects a tensor of rank 2 or more (matrices in its last dims), got shape {}", op,
                     to_string(a.shape()));
  }
  if (dim.dims().size() != 2) {
    fail<IndexError>("{}: expects 2 dims, got {} ({})", op, dim.dims().size(), fmt::join(dim.dims(), ", "));
  }
  plan_reduction(op, a.shape(), dim, false);  // in range, distinct
}

// The singular values of the matrices in dims (rows, cols), in a trailing dim: the input moved
// so that those two dims are last.
Tensor singular_values(const Tensor& a, const DimList& dim) {
  const auto rank = a.dim();
  const std::size_t rows = detail::normalize_dim("linalg_matrix_norm", dim.dims()[0], rank);
  const std::size_t cols = detail::normalize_dim("linalg_matrix_norm", dim.dims()[1], rank);
  std::vector<std::ptrdiff_t> order;
  for (std::size_t d = 0; d < rank; ++d) {
    if (d != rows && d != cols) order.push_back(static_cast<std::ptrdiff_t>(d));
  }
  order.push_back(static_cast<std::ptrdiff_t>(rows));
  order.push_back(static_cast<std::ptrdiff_t>(cols));
  return svdvals(permute(a, order));
}

// The reduction of the singular values (sum, max or min over the last dim), with keepdim putting
// both matrix dims back at size 1.
template <class Reduce>
Tensor over_singular_values(const Tensor& a, const DimList& dim, bool keepdim, Reduce reduce) {
  Tensor c = reduce(singular_values(a, dim));
  if (!keepdim) return c;
  const std::size_t rows = detail::normalize_dim("linalg_matrix_norm", dim.dims()[0], a.dim());
  const std::size_t cols = detail::normalize_dim("linalg_matrix_norm", dim.dims()[1], a.dim());
  c = unsqueeze(c, static_cast<std::ptrdiff_t>(std::min(rows, cols)));
  return unsqueeze(c, static_cast<std::ptrdiff_t>(std::max(rows, cols)));
}

}  // namespace

static const ComposedOpInfo linalg_matrix_norm_composed{"linalg_matrix_norm", "fro: linalg_vector_norm(A, 2, dims); nuc: Σ svdvals(A); ±2: amax / amin of svdvals(A); ±1, ±inf: amax / amin of Σ |A| over the rows / columns"};
Tensor linalg_matrix_norm(const Tensor& a, std::string_view ord, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  check_matrix_dims(a, dim);
  // nuc: Σ σᵢ, composed (svdvals has the rule: its gradient is U Vh at full rank).
  if (ord == "nuc") {
    return over_singular_values(a, dim, keepdim, [&](const Tensor& s) { return sum(s, -1, false, caller); });
  }
  if (ord != "fro") fail<ValueError>("linalg_matrix_norm: ord '{}' is not a matrix norm (expected 'fro' or 'nuc')", ord);
  return linalg_vector_norm(a, 2, dim, keepdim, caller);
}

// ord ±1: the max / min over columns of Σ_rows |A| (the sum over the first of the two dims);
// ord ±inf: over rows of Σ_columns |A|. Composed: abs, sum and amax / amin have the rules.
Tensor linalg_matrix_norm(const Tensor& a, double ord, const DimList& dim, bool keepdim, const SourceLocation& caller) {
  check_matrix_dims(a, dim);
  // ±2: the largest / smallest singular value (amax / amin split the gradient between ties).
  if (std::abs(ord) == 2) {
    return over_singular_values(a, dim, keepdim, [&](const Tensor& s) {
      return ord > 0 ? amax(s, -1, false, caller) : amin(s, -1, false, caller);
    });
  }
  if (std::abs(ord) != 1 && !std::isinf(ord)) {
    fail<ValueError>("linalg_matrix_norm: ord {} is not a matrix norm (expected 'fro', 'nuc', 1, -1, 2, -2, inf or -inf)", ord);
  }
  // The two dims, in the order given (the first is summed over for ±1, the second for ±inf).
  const std::ptrdiff_t rows = static_cast<std::ptrdiff_t>(detail::normalize_dim("linalg_matrix_norm", dim.dims()[0], a.dim()));
  const std::ptrdiff_t cols = static_cast<std::ptrdiff_t>(detail::normalize_dim("linalg_matrix_norm", dim.dims()[1], a.dim()));
  const Tensor sums = sum(abs(a, caller), std::isinf(ord) ? cols : rows, true, caller);
  const DimList both{rows, cols};
  return ord > 0 ? amax(sums, both, keepdim, caller) : amin(sums, both, keepdim, caller);
}

}  // namespace matgrad
