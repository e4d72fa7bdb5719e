// The pseudoinverse and least squares (torch.linalg.pinv, lstsq), batched over leading dims.
// pinv is one record, its value from the SVD (or eigh when hermitian) and its rules from its
// own differential (torch's pinv_backward), which holds wherever the rank does not change (no
// division by singular-value gaps, unlike composing through svd). lstsq is composed: through qr
// for the full-rank driver "gels", through pinv for the rank-revealing ones.
#include "matgrad/composed_op.hpp"
#include "lapack.hpp"

#include <limits>

namespace matgrad {

using detail::MatrixBatch;
using detail::mT;

namespace {

double default_rtol(const Tensor& a, const MatrixBatch& b) {
  const double eps = a.dtype() == DType::float32 ? std::numeric_limits<float>::epsilon()
                                                 : std::numeric_limits<double>::epsilon();
  return eps * static_cast<double>(std::max(b.rows, b.cols));
}

// 1/σ where σ > max(atol, rtol σ_max), else 0, for each row of s [*, k] (|σ| compared, σ kept
// with its sign: eigenvalues when hermitian).
Tensor inverted_above(const Tensor& s, double atol, double rtol) {
  return s.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor out = detail::empty_tensor<T>(x.shape(), "pinv");
    T* dst = detail::elements_of<T>(out);
    const std::size_t k = x.shape().back(), count = k ? x.size() / k : 0;
    for (std::size_t i = 0; i < count; ++i) {
      const T* row = x.data() + i * k;
      T largest = 0;
      for (std::size_t j = 0; j < k; ++j) largest = std::max(largest, std::abs(row[j]));
      const double tol = std::max(atol, rtol * static_cast<double>(largest));
      for (std::size_t j = 0; j < k; ++j) dst[i * k + j] = std::abs(row[j]) > tol ? T(1) / row[j] : T(0);
    }
    return out;
  });
}

Tensor symmetric_part(const Tensor& x) { return 0.5 * (x + mT(x)); }

}  // namespace

// P = A⁺ (P A P = P, A P A = A, A P and P A symmetric): where the rank is locally constant,
//   dP = −P dA P + P Pᵀ dAᵀ (I − A P) + (I − P A) dAᵀ Pᵀ P
// Read as tr(gPᵀ dP) = tr(gAᵀ dA):
//   gA = −Pᵀ gP Pᵀ + (I − A P) gPᵀ P Pᵀ + Pᵀ P gPᵀ (I − P A)   (torch's pinv_backward)
// hermitian: A is read as symmetric (its lower triangle, as eigh), the tangent and the gradient
// are the symmetric parts of the above (as torch's, which differentiates through eigh).
static const OpInfo pinv_info{
    "pinv", "dP = −P dA P + P Pᵀ dAᵀ (I − A P) + (I − P A) dAᵀ Pᵀ P",
    "tP = −P tA P + P Pᵀ tAᵀ (I − A P) + (I − P A) tAᵀ Pᵀ P",
    "gA = −Pᵀ gP Pᵀ + (I − A P) gPᵀ P Pᵀ + Pᵀ P gPᵀ (I − P A)", Saves::inputs_and_output, "P = pinv(A)"};
Tensor pinv(const Tensor& a, std::optional<double> atol, std::optional<double> rtol, bool hermitian,
            const SourceLocation& caller) {
  constexpr std::string_view op = "pinv";
  const MatrixBatch ab = hermitian ? detail::square_batch(op, a) : detail::matrix_batch(op, a);
  if ((atol && !(*atol >= 0)) || (rtol && !(*rtol >= 0))) {
    fail<ValueError>("pinv: atol and rtol must be ≥ 0, got atol={} rtol={}", atol ? *atol : 0.0, rtol ? *rtol : 0.0);
  }
  const double abs_tol = atol.value_or(0.0);
  const double rel_tol = rtol ? *rtol : abs_tol > 0 ? 0.0 : default_rtol(a, ab);
  const Shape out_shape = ab.with({ab.cols, ab.rows});
  Tensor value;
  {
    const Tensor x = a.detach();
    x.visit([&](const auto& data) { detail::check_finite_matrices(op, data, ab); });
    if (std::min(ab.rows, ab.cols) == 0) {
      value = zeros(out_shape, {.dtype = a.dtype()});
    } else if (hermitian) {
      const EighResult e = eigh(x);
      value = matmul(e.eigenvectors * unsqueeze(inverted_above(e.eigenvalues, abs_tol, rel_tol), -2),
                  mT(e.eigenvectors));
    } else {
      const SvdResult r = svd(x, false);
      value = matmul(mT(r.Vh) * unsqueeze(inverted_above(r.S, abs_tol, rel_tol), -2), mT(r.U));
    }
    value = detail::copy(value);
  }
  return record(
      pinv_info, std::move(value), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        const Tensor& p = ctx.output;
        return ta.map([&](const Tensor& d) {
          const Tensor da = hermitian ? symmetric_part(d) : d;
          const Tensor pda = matmul(p, da);
          const Tensor term2 = matmul(matmul(p, mT(p)), mT(da) - matmul(mT(da), matmul(a, p)));
          const Tensor term3 = matmul(mT(da) - matmul(p, matmul(a, mT(da))), matmul(mT(p), p));
          return -matmul(pda, p) + term2 + term3;
        });
      },
      [a, hermitian](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor& p = ctx.output;
        const Tensor gt = mT(g);
        const Tensor gpp = matmul(gt, matmul(p, mT(p)));  // gPᵀ P Pᵀ
        const Tensor ppg = matmul(matmul(mT(p), p), gt);  // Pᵀ P gPᵀ
        const Tensor ga = -matmul(mT(p), matmul(g, mT(p))) + gpp - matmul(a, matmul(p, gpp)) + ppg - matmul(matmul(ppg, p), a);
        return {hermitian ? symmetric_part(ga) : ga};
      },
      caller);
}

static const ComposedOpInfo lstsq_composed{"lstsq", "X = argmin ‖A X − B‖ of least norm: gels R⁻¹ Qᵀ B (A = Q R) or Q R⁻ᵀ B (Aᵀ = Q R, wide A); the others pinv(A) B, σ cut at rcond σ_max"};
LstsqResult lstsq(const Tensor& a, const Tensor& b, std::optional<double> rcond, std::string_view driver,
                  const SourceLocation& caller) {
  constexpr std::string_view op = "lstsq";
  if (driver != "gels" && driver != "gelsy" && driver != "gelsd" && driver != "gelss") {
    fail<ValueError>("lstsq: driver must be \"gels\", \"gelsy\", \"gelsd\" or \"gelss\", got \"{}\"", driver);
  }
  const MatrixBatch ab = detail::matrix_batch(op, a);
  detail::check_defined(op, b);
  detail::check_same_dtype(op, a, b);
  const bool vector = b.dim() + 1 == a.dim();
  if (!vector && b.dim() < 2) {
    fail<ShapeError>("lstsq: B must be [*, m, k], or [*, m] with one dim fewer than A, got A {} and B {}",
                     to_string(a.shape()), to_string(b.shape()));
  }
  Tensor rhs = vector ? unsqueeze(b, -1) : b;
  const std::size_t m = ab.rows, n = ab.cols;
  if (rhs.size(-2) != m) {
    fail<ShapeError>("lstsq: A of shape {} ({} rows) needs B with {} rows, got B of shape {}", to_string(a.shape()), m,
                     m, to_string(b.shape()));
  }
  Tensor lhs = a;
  {  // broadcast the leading dims
    const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(rhs.shape().begin(), rhs.shape().end() - 2);
    if (ba != bb) {
      const Shape batch = detail::broadcast_shapes(op, ba, bb);
      Shape sa = batch, sb = batch;
      sa.insert(sa.end(), {m, n});
      sb.insert(sb.end(), {m, rhs.size(-1)});
      lhs = broadcast_to(a, sa);
      rhs = broadcast_to(rhs, sb);
    }
  }
  const MatrixBatch lb = detail::matrix_batch(op, lhs);
  const double tol = rcond && *rcond > 0 ? *rcond : default_rtol(a, lb);
  LstsqResult result;
  const Tensor empty = zeros({0}, {.dtype = a.dtype()});
  result.rank = zeros({0}, {.dtype = DType::int64});
  result.singular_values = empty;
  bool full_rank = true;
  if (driver == "gels") {
    if (m >= n) {
      const QrResult f = qr(lhs);
      result.solution = solve_triangular(f.R, matmul(mT(f.Q), rhs), true, true, false, caller);
    } else {  // Aᵀ = Q R: A = Rᵀ Qᵀ, the least-norm X = Q R⁻ᵀ B
      const QrResult f = qr(mT(lhs));
      result.solution = matmul(f.Q, solve_triangular(mT(f.R), rhs, false, true, false, caller));
    }
  } else {
    const Tensor s = svdvals(lhs.detach());
    Tensor rank = detail::empty_tensor<std::int64_t>(lb.batch, op);
    std::int64_t* r = detail::elements_of<std::int64_t>(rank);
    const std::size_t k = std::min(m, n);
    s.visit([&](const auto& x) {
      for (std::size_t i = 0; i < lb.count; ++i) {
        const auto* row = x.data() + i * k;
        std::int64_t count = 0;
        for (std::size_t j = 0; j < k; ++j) count += static_cast<double>(row[j]) > tol * static_cast<double>(row[0]);
        r[i] = count;
        full_rank = full_rank && static_cast<std::size_t>(count) == n;
      }
    });
    result.rank = rank;
    if (driver != "gelsy") result.singular_values = s;
    result.solution = matmul(pinv(lhs, std::nullopt, tol), rhs);
  }
  if (m > n && full_rank && driver != "gelsy") {
    result.residuals = sum(square(matmul(lhs, result.solution) - rhs), {-2}, false, caller);
    if (vector) result.residuals = squeeze(result.residuals, -1);
  } else {
    result.residuals = empty;
  }
  if (vector) result.solution = squeeze(result.solution, -1);
  return result;
}

}  // namespace matgrad
