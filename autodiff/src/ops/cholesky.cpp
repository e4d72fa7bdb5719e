// Triangular solves and the Cholesky factorisation (torch.linalg.solve_triangular, cholesky,
// torch.cholesky_solve), batched over leading dims, in LAPACK (trtrs, potrf). Every rule is
// read off the op's matrix differential and written with matgrad's ops, so it differentiates
// again.
#include "lapack.hpp"

namespace matgrad {

using detail::lapack_int;
using detail::MatrixBatch;
using detail::mT;

namespace {

// The triangle an op reads: on and above the diagonal (upper), or on and below; without the
// diagonal when it is taken as ones (unitriangular).
Tensor triangle_of(const Tensor& a, bool upper, bool unitriangular) {
  return upper ? triu(a, unitriangular ? 1 : 0) : tril(a, unitriangular ? -1 : 0);
}

// A and B broadcast to one batch shape (torch broadcasts the leading dims of both).
std::pair<Tensor, Tensor> broadcast_batches(std::string_view op, const Tensor& a, const Tensor& b) {
  const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  if (ba == bb) return {a, b};
  Shape batch = detail::broadcast_shapes(op, ba, bb);
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), a.shape().end() - 2, a.shape().end());
  sb.insert(sb.end(), b.shape().end() - 2, b.shape().end());
  return {broadcast_to(a, sa), broadcast_to(b, sb)};
}

// X with op(A) X = B for each matrix of the batch (A triangular, n × n; B n × k), in place in
// the column-major buffer b; `what` names the matrix in the error for a zero on its diagonal.
template <class T>
void triangular_solve(std::string_view op, char uplo, char trans, char diag, std::size_t n, std::size_t k,
                      const std::vector<T>& a, std::vector<T>& b, const MatrixBatch& batch, std::size_t i) {
  if (n == 0 || k == 0) return;
  const auto info = cxxlapack::trtrs<xt::blas_index_t>(uplo, trans, diag, lapack_int(n), lapack_int(k), a.data(),
                                                       lapack_int(n), b.data(), lapack_int(n));
  if (info > 0) {
    fail<ValueError>("{}: the triangular matrix of shape [{}, {}]{} is singular (zero on its diagonal at {})", op,
                     n, n, detail::batch_element(batch, i), info - 1);
  }
  if (info < 0) fail<Error>("{}: internal error: LAPACK trtrs rejected argument {}", op, -info);
}

}  // namespace

// X = A⁻¹ B (left) or B A⁻¹ (right), A triangular (only its triangle is read; its diagonal is
// taken as ones when unitriangular).
//   left:  A X = B  =>  dA X + A dX = dB  =>  dX = A⁻¹ (dB − dA X)
//          tr(gXᵀ A⁻¹ dB) gives gB = A⁻ᵀ gX; tr(−gXᵀ A⁻¹ dA X) gives gA = −gB Xᵀ (its triangle)
//   right: X A = B  =>  dX = (dB − X dA) A⁻¹  =>  gB = gX A⁻ᵀ, gA = −Xᵀ gB (its triangle)
// Departure: torch returns inf / NaN for a zero on A's diagonal; matgrad raises a ValueError.
static const OpInfo solve_triangular_info{
    "solve_triangular",
    "left: dX = A⁻¹ (dB − dA X); right: dX = (dB − X dA) A⁻¹",
    "left: tX = A⁻¹ (tB − tA X); right: tX = (tB − X tA) A⁻¹",
    "left: gB = A⁻ᵀ gX, gA = −gB Xᵀ; right: gB = gX A⁻ᵀ, gA = −Xᵀ gB (the triangle of A)",
    Saves::inputs_and_output, "X = A⁻¹ B"};
Tensor solve_triangular(const Tensor& a, const Tensor& b, bool upper, bool left, bool unitriangular,
                        const SourceLocation& caller) {
  constexpr std::string_view op = "solve_triangular";
  const MatrixBatch ab = detail::square_batch(op, a);
  detail::check_same_dtype(op, a, b);
  const std::size_t n = ab.rows;
  const MatrixBatch bb = detail::solve_operand(op, "A", a.shape(), n, b, left);
  if (ab.batch != bb.batch) {
    const auto [a2, b2] = broadcast_batches(op, a, b);
    return solve_triangular(a2, b2, upper, left, unitriangular, caller);
  }
  const std::size_t k = left ? bb.cols : bb.rows;
  Tensor out = detail::map_data2(op, a, b, [&](const auto& x, const auto& y) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    detail::check_finite_matrices(op, x, ab);
    detail::check_finite_matrices(op, y, bb);
    detail::prepare_blas();
    auto result = detail::empty_array<T>(y.shape(), op);
    std::vector<T> am, bm;
    for (std::size_t i = 0; i < ab.count; ++i) {
      detail::to_column_major(x.data() + i * n * n, n, n, am);
      const T* src = y.data() + i * n * k;
      T* dst = result.data() + i * n * k;
      if (left) {
        detail::to_column_major(src, n, k, bm);
      } else {
        bm.assign(src, src + n * k);  // B (k × n, row-major) is Bᵀ column-major: solve Aᵀ Xᵀ = Bᵀ
      }
      triangular_solve(op, upper ? 'U' : 'L', left ? 'N' : 'T', unitriangular ? 'U' : 'N', n, k, am, bm, ab, i);
      if (left) {
        detail::from_column_major(bm.data(), n, k, n, dst);
      } else {
        std::copy(bm.begin(), bm.end(), dst);
      }
    }
    return result;
  });
  return record(
      solve_triangular_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb, const JvpContext& ctx) {
        const Tensor& x = ctx.output;
        const Tangent rhs = tb - ta.map([&](const Tensor& d) {
          const Tensor da = triangle_of(d, upper, unitriangular);
          return left ? matmul(da, x) : matmul(x, da);
        });
        return rhs.map([&](const Tensor& r) { return solve_triangular(a, r, upper, left, unitriangular); });
      },
      [a, upper, left, unitriangular](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor gb = solve_triangular(mT(a), g, !upper, left, unitriangular);
        if (!ctx.needs[0]) return {Tensor(), gb};
        const Tensor& x = ctx.output;
        return {triangle_of(-(left ? matmul(gb, mT(x)) : matmul(mT(x), gb)), upper, unitriangular), gb};
      },
      caller);
}

// A = L Lᵀ, L lower triangular with a positive diagonal (upper: A = Uᵀ U, U = Lᵀ), from A's
// lower (upper) triangle.
//   dA = dL Lᵀ + L dLᵀ  =>  L⁻¹ dA L⁻ᵀ = L⁻¹ dL + (L⁻¹ dL)ᵀ, lower + upper triangular, so
//   dL = L Φ(L⁻¹ dA L⁻ᵀ), Φ(X) = the lower triangle of X with its diagonal halved
//   tr(gLᵀ dL) = tr(Φ(Lᵀ gL)ᵀ L⁻¹ dA L⁻ᵀ)  =>  gA = L⁻ᵀ Φ(Lᵀ gL) L⁻¹, symmetrised as torch's:
//   gA = L⁻ᵀ ½ (P + tril(P, −1)ᵀ) L⁻¹ with P = tril(Lᵀ gL)
static const OpInfo cholesky_info{"cholesky", "dL = L Φ(L⁻¹ dA L⁻ᵀ)", "tL = L Φ(L⁻¹ tA L⁻ᵀ)",
                                  "gA = L⁻ᵀ ½ (P + tril(P, −1)ᵀ) L⁻¹, P = tril(Lᵀ gL)", Saves::output,
                                  "L = cholesky(A)"};
Tensor cholesky(const Tensor& a, bool upper, const SourceLocation& caller) {
  constexpr std::string_view op = "cholesky";
  const MatrixBatch ab = detail::square_batch(op, a);
  const std::size_t n = ab.rows;
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    detail::check_finite_matrices(op, x, ab);
    detail::prepare_blas();
    auto result = detail::empty_array<T>(x.shape(), op);
    std::vector<T> am;
    for (std::size_t i = 0; i < ab.count; ++i) {
      detail::to_column_major(x.data() + i * n * n, n, n, am);
      if (n > 0) {
        const auto info = cxxlapack::potrf<xt::blas_index_t>(upper ? 'U' : 'L', lapack_int(n), am.data(), lapack_int(n));
        if (info > 0) {
          fail<ValueError>("cholesky: the matrix of shape [{}, {}]{} is not positive-definite (its leading minor "
                           "of order {} is not positive)",
                           n, n, detail::batch_element(ab, i), info);
        }
        if (info < 0) fail<Error>("cholesky: internal error: LAPACK potrf rejected argument {}", -info);
      }
      T* dst = result.data() + i * n * n;
      detail::from_column_major(am.data(), n, n, n, dst);
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t c = 0; c < n; ++c) {
          if (upper ? c < r : c > r) dst[r * n + c] = T(0);
        }
      }
    }
    return result;
  });
  return record(
      cholesky_info, std::move(out), {a},
      [upper](const Tangent& ta, const JvpContext& ctx) {
        const Tensor l = upper ? mT(ctx.output) : ctx.output;
        return ta.map([&](const Tensor& d) {
          // L⁻¹ tA L⁻ᵀ: two triangular solves
          const Tensor m = solve_triangular(mT(l), solve_triangular(l, d, false), true, false);
          const Tensor dl = matmul(l, tril(m) - 0.5 * (m * detail::identity_like(m, m.size(-1))));
          return upper ? mT(dl) : dl;
        });
      },
      [upper](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor l = upper ? mT(ctx.output) : ctx.output;
        const Tensor gl = upper ? mT(g) : g;
        const Tensor p = tril(matmul(mT(l), gl));
        const Tensor sym = 0.5 * (p + mT(tril(p, -1)));
        return {solve_triangular(l, solve_triangular(mT(l), sym, true), false, false)};
      },
      caller);
}

// X = A⁻¹ B with A = L Lᵀ (upper: Uᵀ U) from its Cholesky factor, torch.cholesky_solve(B, L).
// Its rules read L as a full matrix (as torch's do): A's differential dA = dL Lᵀ + L dLᵀ, so
//   dX = A⁻¹ (dB − dA X)  =>  gB = A⁻¹ gX,  gA = −gB Xᵀ,  gL = (gA + gAᵀ) L = −(gB Xᵀ + X gBᵀ) L
//   (upper: dA = dUᵀ U + Uᵀ dU, gU = −U (gB Xᵀ + X gBᵀ))
static const OpInfo cholesky_solve_info{
    "cholesky_solve", "dX = A⁻¹ (dB − (dL Lᵀ + L dLᵀ) X), A = L Lᵀ",
    "tX = A⁻¹ (tB − (tL Lᵀ + L tLᵀ) X)", "gB = A⁻¹ gX, gL = −(gB Xᵀ + X gBᵀ) L",
    Saves::inputs_and_output, "X = (L Lᵀ)⁻¹ B"};
Tensor cholesky_solve(const Tensor& b, const Tensor& l, bool upper, const SourceLocation& caller) {
  constexpr std::string_view op = "cholesky_solve";
  const MatrixBatch lb = detail::square_batch(op, l);
  detail::check_same_dtype(op, b, l);
  const MatrixBatch bb = detail::matrix_batch(op, b);
  const std::size_t n = lb.rows;
  if (bb.rows != n) {
    fail<ShapeError>("{}: the factor of shape {} needs B of shape [*, {}, k], got {}", op, to_string(l.shape()), n,
                     to_string(b.shape()));
  }
  if (lb.batch != bb.batch) {
    const auto [l2, b2] = broadcast_batches(op, l, b);
    return cholesky_solve(b2, l2, upper, caller);
  }
  const std::size_t k = bb.cols;
  Tensor out = detail::map_data2(op, b, l, [&](const auto& y, const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    detail::check_finite_matrices(op, x, lb);
    detail::check_finite_matrices(op, y, bb);
    detail::prepare_blas();
    auto result = detail::empty_array<T>(y.shape(), op);
    std::vector<T> lm, bm;
    for (std::size_t i = 0; i < lb.count; ++i) {
      detail::to_column_major(x.data() + i * n * n, n, n, lm);
      detail::to_column_major(y.data() + i * n * k, n, k, bm);
      // L Lᵀ X = B: L Y = B, then Lᵀ X = Y (upper: Uᵀ Y = B, then U X = Y)
      const char uplo = upper ? 'U' : 'L';
      triangular_solve(op, uplo, upper ? 'T' : 'N', 'N', n, k, lm, bm, lb, i);
      triangular_solve(op, uplo, upper ? 'N' : 'T', 'N', n, k, lm, bm, lb, i);
      detail::from_column_major(bm.data(), n, k, n, result.data() + i * n * k);
    }
    return result;
  });
  return record(
      cholesky_solve_info, std::move(out), {b, l},
      [&](const Tangent& tb, const Tangent& tl, const JvpContext& ctx) {
        const Tensor& x = ctx.output;
        const Tangent rhs = tb - tl.map([&](const Tensor& d) {
          const Tensor da = upper ? matmul(mT(d), l) + matmul(mT(l), d) : matmul(d, mT(l)) + matmul(l, mT(d));
          return matmul(da, x);
        });
        return rhs.map([&](const Tensor& r) { return cholesky_solve(r, l, upper); });
      },
      [l, upper](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor gb = cholesky_solve(g, l, upper);
        if (!ctx.needs[1]) return {gb, Tensor()};
        const Tensor& x = ctx.output;
        const Tensor s = matmul(gb, mT(x)) + matmul(x, mT(gb));
        return {gb, upper ? -matmul(l, s) : -matmul(s, l)};
      },
      caller);
}

}  // namespace matgrad
