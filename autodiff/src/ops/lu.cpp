// The LU factorisation and its solves (torch.linalg.lu_factor, lu_solve), batched over leading
// dims, in LAPACK (getrf): P A = L U... as LAPACK writes it, A = P L U, L unit lower triangular
// (trapezoidal when m > n), U upper; LU packs L's strict lower part and U into one matrix, as
// torch's. lu_solve is composed from solve_triangular and the permutation, so its rules are
// solve_triangular's.
#include "lapack.hpp"

namespace matgrad {

using detail::bmm;
using detail::lapack_int;
using detail::MatrixBatch;
using detail::mT;

namespace {

// P [*, m, m] with A = P L U, from LAPACK's 1-based row swaps (row i with row pivots[i], in
// order), after checking their shape and range; a constant of the dtype of `like`.
Tensor permutation_of(std::string_view op, const Tensor& pivots, const MatrixBatch& lb, const Tensor& like) {
  detail::check_defined_any_dtype(op, pivots);
  const std::size_t m = lb.rows, k = std::min(lb.rows, lb.cols);
  Shape expected = lb.batch;
  expected.push_back(k);
  if (pivots.dtype() != DType::int64) {
    fail<DTypeError>("{}: pivots must be int64 (as lu_factor returns them), got {}", op, dtype_name(pivots.dtype()));
  }
  if (pivots.shape() != expected) {
    fail<ShapeError>("{}: LU of shape {} needs pivots of shape {}, got {}", op, to_string(like.shape()),
                     to_string(expected), to_string(pivots.shape()));
  }
  Shape p_shape = lb.batch;
  p_shape.insert(p_shape.end(), {m, m});
  const std::int64_t* piv = detail::elements_of<std::int64_t>(pivots);
  return like.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor p = zeros(p_shape, {.dtype = like.dtype()});
    T* dst = detail::elements_of<T>(p);
    std::vector<std::size_t> perm(m);
    for (std::size_t b = 0; b < lb.count; ++b) {
      for (std::size_t r = 0; r < m; ++r) perm[r] = r;
      for (std::size_t i = 0; i < k; ++i) {
        const std::int64_t to = piv[b * k + i];
        if (to < 1 || static_cast<std::size_t>(to) > m) {
          fail<ValueError>("{}: pivots[{}] = {} in matrix {} of the batch is outside [1, {}]", op, i, to, b, m);
        }
        std::swap(perm[i], perm[static_cast<std::size_t>(to - 1)]);
      }
      // (Pᵀ A) row r is A's row perm[r]: P[perm[r], r] = 1
      for (std::size_t r = 0; r < m; ++r) dst[b * m * m + perm[r] * m + r] = T(1);
    }
    return p;
  });
}

}  // namespace

// Square A = P L U:  dA = P (dL U + L dU)  =>  X = L⁻¹ Pᵀ dA U⁻¹ = L⁻¹ dL + dU U⁻¹, strictly lower
// (L's diagonal is fixed at 1) plus upper triangular, so
//   dL = L tril(X, −1),  dU = triu(X) U,  dLU = dL + dU
//   tr(gLUᵀ dLU) = tr((tril(Lᵀ gL, −1) + triu(gU Uᵀ))ᵀ X), gL = tril(gLU, −1), gU = triu(gLU)
//   =>  gA = P L⁻ᵀ (tril(Lᵀ gL, −1) + triu(gU Uᵀ)) U⁻ᵀ   (torch's lu_factor_ex_backward, m = n)
static const OpInfo lu_factor_info{
    "lu_factor", "dLU = L tril(X, −1) + triu(X) U, X = L⁻¹ Pᵀ dA U⁻¹",
    "tLU = L tril(X, −1) + triu(X) U, X = L⁻¹ Pᵀ tA U⁻¹",
    "gA = P L⁻ᵀ (tril(Lᵀ gL, −1) + triu(gU Uᵀ)) U⁻ᵀ, gL = tril(gLU, −1), gU = triu(gLU)", Saves::output,
    "C = lu_factor(A)"};
LuFactorResult lu_factor(const Tensor& a, const SourceLocation& caller) {
  constexpr std::string_view op = "lu_factor";
  const MatrixBatch ab = detail::matrix_batch(op, a);
  const std::size_t m = ab.rows, n = ab.cols, k = std::min(m, n);
  Shape pivots_shape = ab.batch;
  pivots_shape.push_back(k);
  Tensor pivots = detail::empty_tensor<std::int64_t>(pivots_shape, op);
  std::int64_t* piv = detail::elements_of<std::int64_t>(pivots);
  Tensor factors = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    detail::check_finite_matrices(op, x, ab);
    detail::prepare_blas();
    auto result = detail::empty_array<T>(x.shape(), op);
    std::vector<T> am;
    std::vector<xt::blas_index_t> ipiv(k);
    for (std::size_t i = 0; i < ab.count; ++i) {
      detail::to_column_major(x.data() + i * m * n, m, n, am);
      if (k > 0) {
        // info > 0 is an exactly zero pivot: the factorisation is complete, as torch's (no error)
        const auto info = cxxlapack::getrf<xt::blas_index_t>(lapack_int(m), lapack_int(n), am.data(), lapack_int(m),
                                                             ipiv.data());
        if (info < 0) fail<Error>("lu_factor: internal error: LAPACK getrf rejected argument {}", -info);
      }
      for (std::size_t j = 0; j < k; ++j) piv[i * k + j] = static_cast<std::int64_t>(ipiv[j]);
      detail::from_column_major(am.data(), m, n, m, result.data() + i * m * n);
    }
    return result;
  });
  const Tensor p = permutation_of(op, pivots, ab, factors);
  auto not_square = [m, n] {
    if (m != n) {
      fail<AutogradError>("lu_factor: the derivative is implemented for square matrices only, got [{}, {}]",
                                m, n);
    }
  };
  Tensor lu = record(
      lu_factor_info, std::move(factors), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        not_square();
        const Tensor& f = ctx.output;
        return ta.map([&](const Tensor& da) {
          // X = L⁻¹ Pᵀ dA U⁻¹: two triangular solves
          const Tensor x = solve_triangular(f, solve_triangular(f, bmm(mT(p), da), false, true, true), true, false);
          return bmm(tril(f, -1) + detail::identity_like(f, n), tril(x, -1)) + bmm(triu(x), triu(f));
        });
      },
      [p, not_square, n](const Tensor& g, const VjpContext& ctx) -> Grads {
        not_square();
        const Tensor& f = ctx.output;
        const Tensor l = tril(f, -1) + detail::identity_like(f, n), u = triu(f);
        const Tensor phi = tril(bmm(mT(l), tril(g, -1)), -1) + triu(bmm(triu(g), mT(u)));
        // L⁻ᵀ Φ U⁻ᵀ: Lᵀ is unit upper triangular, Uᵀ lower
        const Tensor y = solve_triangular(mT(f), phi, true, true, true);
        return {bmm(p, solve_triangular(mT(f), y, false, false))};
      },
      caller);
  return {lu, pivots};
}

// A = P L U:  left A X = B    =>  X = U⁻¹ L⁻¹ Pᵀ B;   adjoint Aᵀ X = B  =>  X = P L⁻ᵀ U⁻ᵀ B
//             right X A = B   =>  X = B U⁻¹ L⁻¹ Pᵀ;   adjoint X Aᵀ = B  =>  X = B P L⁻ᵀ U⁻ᵀ
// (solve_triangular reads only the triangle it needs of LU, or of LUᵀ for the transposes.)
Tensor lu_solve(const Tensor& lu, const Tensor& pivots, const Tensor& b, bool left, bool adjoint,
                const SourceLocation& caller) {
  constexpr std::string_view op = "lu_solve";
  const MatrixBatch lb = detail::square_batch(op, lu);
  detail::check_same_dtype(op, lu, b);
  const MatrixBatch bb = detail::matrix_batch(op, b);
  const std::size_t n = lb.rows;
  if ((left ? bb.rows : bb.cols) != n) {
    fail<ShapeError>("{}: LU of shape {} needs B of shape [*, {}, k] (left) or [*, k, {}] (right), got {} with left={}",
                     op, to_string(lu.shape()), n, n, to_string(b.shape()), left);
  }
  Tensor p = permutation_of(op, pivots, lb, lu.detach());
  Tensor f = lu, rhs = b;
  if (lb.batch != bb.batch) {  // the leading dims broadcast, as torch's
    const Shape batch = detail::broadcast_shapes(op, lb.batch, bb.batch);
    auto to_batch = [&](const Tensor& x) {
      Shape s = batch;
      s.insert(s.end(), x.shape().end() - 2, x.shape().end());
      return broadcast_to(x, s);
    };
    f = to_batch(lu), p = to_batch(p), rhs = to_batch(b);
  }
  const Tensor ft = mT(f);
  if (left && !adjoint) {
    return solve_triangular(f, solve_triangular(f, bmm(mT(p), rhs), false, true, true), true, true, false, caller);
  }
  if (left) return bmm(p, solve_triangular(ft, solve_triangular(ft, rhs, false), true, true, true, caller));
  if (!adjoint) {
    return bmm(solve_triangular(f, solve_triangular(f, rhs, true, false), false, false, true, caller), mT(p));
  }
  return solve_triangular(ft, solve_triangular(ft, bmm(rhs, p), true, false, true), false, false, false, caller);
}

}  // namespace matgrad
