// The LU factorisation and its solves (torch.linalg.lu_factor, lu_solve), batched over leading
// dims, in LAPACK (getrf): A = P L U with partial pivoting, L unit lower triangular
// (trapezoidal when m > n), U upper (trapezoidal when m < n); LU packs L's strict lower part and U into one matrix, as
// torch's. lu_solve is composed from solve_triangular and the permutation, so its rules are
// solve_triangular's.
#include "matgrad/composed_op.hpp"
#include "lapack.hpp"

namespace matgrad {

using detail::lapack_int;
using detail::MatrixBatch;
using detail::mT;

namespace {

// P [*, m, m] with A = P L U, from LAPACK's 1-based row swaps (row i with row pivots[i], in
// order), after checking their shape and range; a constant of the dtype of `like`.
Tensor permutation_of(std::string_view op, const Tensor& pivots, const MatrixBatch& lb, const Tensor& like) {
  detail::check_defined_any_dtype(op, pivots);
  const std::size_t m = lb.rows, k = std::min(lb.rows, lb.cols);
  const Shape expected = lb.with({k});
  if (pivots.dtype() != DType::int64) {
    fail<DTypeError>("{}: pivots must be int64 (as lu_factor returns them), got {}", op, dtype_name(pivots.dtype()));
  }
  if (pivots.shape() != expected) {
    fail<ShapeError>("{}: LU of shape {} needs pivots of shape {}, got {}", op, to_string(like.shape()),
                     to_string(expected), to_string(pivots.shape()));
  }
  const Shape p_shape = lb.with({m, m});
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

// The square case of the rules below, for f = LU [*, n, n]: dLU from Pᵀ dA, and gA before the
// permutation from gL and gU Uᵀ (the rectangular cases add to these).
Tensor square_tangent(const Tensor& f, const Tensor& pda) {
  const std::size_t n = f.size(-1);
  const Tensor x = solve_triangular(f, solve_triangular(f, pda, false, true, true), true, false);  // L⁻¹ Pᵀ dA U⁻¹
  return matmul(tril(f, -1) + detail::identity_like(f, n), tril(x, -1)) + matmul(triu(x), triu(f));
}
Tensor square_gradient(const Tensor& f, const Tensor& gl, const Tensor& gu_ut) {
  const std::size_t n = f.size(-1);
  const Tensor phi = tril(matmul(mT(tril(f, -1) + detail::identity_like(f, n)), gl), -1) + triu(gu_ut);
  // L⁻ᵀ Φ U⁻ᵀ: Lᵀ is unit upper triangular, Uᵀ lower
  return solve_triangular(mT(f), solve_triangular(mT(f), phi, true, true, true), false, false);
}

}  // namespace

// Square A = P L U:  dA = P (dL U + L dU)  =>  X = L⁻¹ Pᵀ dA U⁻¹ = L⁻¹ dL + dU U⁻¹, strictly lower
// (L's diagonal is fixed at 1) plus upper triangular, so
//   dL = L tril(X, −1),  dU = triu(X) U,  dLU = dL + dU
//   tr(gLUᵀ dLU) = tr((tril(Lᵀ gL, −1) + triu(gU Uᵀ))ᵀ X), gL = tril(gLU, −1), gU = triu(gLU)
//   =>  gA = P L⁻ᵀ (tril(Lᵀ gL, −1) + triu(gU Uᵀ)) U⁻ᵀ   (torch's lu_factor_ex_backward, m = n)
// Tall (m > n), L = [L₁; L₂], Pᵀ A = [A₁; A₂]: A₁ = L₁ U is the square case, A₂ = L₂ U gives
//   dL₂ = (dA₂ − L₂ dU) U⁻¹  =>  gA₂ = gL₂ U⁻ᵀ, and gU Uᵀ − L₂ᵀ gL₂ in place of gU Uᵀ
// Wide (m < n), U = [U₁ U₂]: A₁ = L U₁ is the square case, A₂ = L U₂ gives
//   dU₂ = L⁻¹ (dA₂ − dL U₂)  =>  gA₂ = L⁻ᵀ gU₂, and Lᵀ gL − gU₂ U₂ᵀ in place of Lᵀ gL
static const OpInfo lu_factor_info{
    "lu_factor", "dLU = L tril(X, −1) + triu(X) U, X = L⁻¹ Pᵀ dA U⁻¹",
    "tLU = L tril(X, −1) + triu(X) U, X = L⁻¹ Pᵀ tA U⁻¹",
    "gA = P L⁻ᵀ (tril(Lᵀ gL, −1) + triu(gU Uᵀ)) U⁻ᵀ, gL = tril(gLU, −1), gU = triu(gLU)", Saves::output,
    "C = lu_factor(A)"};
LuFactorResult lu_factor(const Tensor& a, const SourceLocation& caller) {
  constexpr std::string_view op = "lu_factor";
  const MatrixBatch ab = detail::matrix_batch(op, a);
  const std::size_t m = ab.rows, n = ab.cols, k = std::min(m, n);
  Tensor pivots = detail::empty_tensor<std::int64_t>(ab.with({k}), op);
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
  Tensor lu = record(
      lu_factor_info, std::move(factors), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        const Tensor& f = ctx.output;
        return ta.map([&](const Tensor& d) {
          const Tensor da = matmul(mT(p), d);  // Pᵀ dA
          if (m == n) return square_tangent(f, da);
          if (m > n) {  // [L₁; L₂] U: the top n rows are the square case, dL₂ = (dA₂ − L₂ dU) U⁻¹
            const Tensor top = slice(f, -2, 0, n), l2 = slice(f, -2, n, m);
            const Tensor dtop = square_tangent(top, slice(da, -2, 0, n));
            const Tensor dl2 = solve_triangular(top, slice(da, -2, n, m) - matmul(l2, triu(dtop)), true,
                                                false);
            return concat({dtop, dl2}, -2);
          }
          // L [U₁ U₂]: the left m columns are the square case, dU₂ = L⁻¹ (dA₂ − dL U₂)
          const Tensor left = slice(f, -1, 0, m), u2 = slice(f, -1, m, n);
          const Tensor dleft = square_tangent(left, slice(da, -1, 0, m));
          const Tensor du2 = solve_triangular(left, slice(da, -1, m, n) - matmul(tril(dleft, -1), u2), false, true, true);
          return concat({dleft, du2}, -1);
        });
      },
      [p, m, n](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor& f = ctx.output;
        if (m == n) return {matmul(p, square_gradient(f, tril(g, -1), matmul(triu(g), mT(triu(f)))))};
        if (m > n) {  // gA₂ = gL₂ U⁻ᵀ; the square case with triu(gU Uᵀ − L₂ᵀ gL₂)
          const Tensor top = slice(f, -2, 0, n), l2 = slice(f, -2, n, m), gtop = slice(g, -2, 0, n),
                       gl2 = slice(g, -2, n, m);
          const Tensor ga1 = square_gradient(top, tril(gtop, -1), matmul(triu(gtop), mT(triu(top))) - matmul(mT(l2), gl2));
          const Tensor ga2 = solve_triangular(mT(top), gl2, false, false);
          return {matmul(p, concat({ga1, ga2}, -2))};
        }
        // gA₂ = L⁻ᵀ gU₂; the square case with Lᵀ gL − gU₂ U₂ᵀ in place of Lᵀ gL
        const Tensor left = slice(f, -1, 0, m), u2 = slice(f, -1, m, n), gleft = slice(g, -1, 0, m),
                     gu2 = slice(g, -1, m, n);
        const Tensor ga2 = solve_triangular(mT(left), gu2, true, true, true);
        const Tensor lt_gl = tril(gleft, -1) - matmul(ga2, mT(u2));  // L⁻ᵀ (Lᵀ gL − gU₂ U₂ᵀ) = gL − L⁻ᵀ gU₂ U₂ᵀ
        const Tensor ga1 = square_gradient(left, lt_gl, matmul(triu(gleft), mT(triu(left))));
        return {matmul(p, concat({ga1, ga2}, -1))};
      },
      caller);
  return {lu, pivots};
}

static const ComposedOpInfo lu_solve_composed{"lu_solve", "X = U⁻¹ L⁻¹ Pᵀ B (left), B U⁻¹ L⁻¹ Pᵀ (right), P L⁻ᵀ U⁻ᵀ B or B P L⁻ᵀ U⁻ᵀ (adjoint): solve_triangular twice and a permutation matrix"};
// A = P L U:  left A X = B    =>  X = U⁻¹ L⁻¹ Pᵀ B;   adjoint Aᵀ X = B  =>  X = P L⁻ᵀ U⁻ᵀ B
//             right X A = B   =>  X = B U⁻¹ L⁻¹ Pᵀ;   adjoint X Aᵀ = B  =>  X = B P L⁻ᵀ U⁻ᵀ
// (solve_triangular reads only the triangle it needs of LU, or of LUᵀ for the transposes.)
Tensor lu_solve(const Tensor& lu, const Tensor& pivots, const Tensor& b, bool left, bool adjoint,
                const SourceLocation& caller) {
  constexpr std::string_view op = "lu_solve";
  const MatrixBatch lb = detail::square_batch(op, lu);
  detail::check_same_dtype(op, lu, b);
  const MatrixBatch bb = detail::solve_operand(op, "LU", lu.shape(), lb.rows, b, left);
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
    return solve_triangular(f, solve_triangular(f, matmul(mT(p), rhs), false, true, true), true, true, false, caller);
  }
  if (left) return matmul(p, solve_triangular(ft, solve_triangular(ft, rhs, false), true, true, true, caller));
  if (!adjoint) {
    return matmul(solve_triangular(f, solve_triangular(f, rhs, true, false), false, false, true, caller), mT(p));
  }
  return solve_triangular(ft, solve_triangular(ft, matmul(rhs, p), true, false, true), false, false, false, caller);
}

}  // namespace matgrad
