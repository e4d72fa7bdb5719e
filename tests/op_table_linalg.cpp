// The op table's rows for the LAPACK decompositions and triangular solves: matrices, batches
// (also broadcast between two inputs) and, through the 4s, zero-size matrices. Inputs are made
// well conditioned inside the row (x + n I, x xᵀ + I, x + xᵀ); the eigenvector and singular
// vector rows check losses that do not depend on the vectors' signs (V diag(c) Vᵀ, |V|, U Vh),
// as torch's own tests do, at distinct eigen / singular values.
#include "op_table.hpp"

namespace matgrad::testing {

namespace {

using In = const std::vector<Tensor>&;

Tensor identity(const Tensor& x) { return eye(x.size(-1), {.dtype = x.dtype()}); }
Tensor mT(const Tensor& x) { return transpose(x, -2, -1); }
// x + n I for the square matrices of x (diagonally dominant enough to be well conditioned).
Tensor shifted(const Tensor& x) { return x + static_cast<double>(x.size(-1) + 1) * identity(x); }
// A B for batches of any rank with the same leading dims (matmul stops at rank 3).
Tensor mm(const Tensor& a, const Tensor& b) {
  if (a.dim() <= 3) return matmul(a, b);
  Shape out(a.shape().begin(), a.shape().end() - 1);
  out.push_back(b.size(-1));
  const auto m = static_cast<std::ptrdiff_t>(a.size(-2)), k = static_cast<std::ptrdiff_t>(a.size(-1)),
             n = static_cast<std::ptrdiff_t>(b.size(-1));
  std::ptrdiff_t batch = 1;
  for (std::size_t d = 0; d + 2 < a.dim(); ++d) batch *= static_cast<std::ptrdiff_t>(a.size(static_cast<std::ptrdiff_t>(d)));
  return reshape(matmul(reshape(a, {batch, m, k}), reshape(b, {batch, k, n})), out);
}
// x xᵀ + I: symmetric positive definite.
Tensor spd(const Tensor& x) { return mm(x, mT(x)) + identity(mT(x)); }

Tensor side_by_side(std::vector<Tensor> parts) {
  for (Tensor& p : parts) p = reshape(p, {-1});
  return concat(parts);
}

// c = (1, 2, …, n): a weight that tells the vectors apart.
Tensor ramp(const Tensor& x, std::size_t n) {
  Tensor c = zeros({n}, {.dtype = x.dtype()});
  auto& d = c.mutable_data<double>();
  for (std::size_t i = 0; i < n; ++i) d.data()[i] = static_cast<double>(i + 1);
  return c;
}

// V diag(c) Vᵀ and |V|: independent of the signs of V's columns.
Tensor sign_free(const Tensor& v) {
  const Tensor c = ramp(v, v.size(-1));
  return side_by_side({mm(v * c, mT(v)), abs(v)});
}

}  // namespace

std::vector<OpRow> linalg_rows() {
  return {
      // The LU-based matrix functions on batches (their 2-D rows are in op_table.cpp).
      {"inverse", {{{2, 3, 3}}, {{2, 1, 4, 4}}}, [](In x) { return inverse(shifted(x[0])); }},
      {"det", {{{2, 3, 3}}, {{2, 1, 4, 4}}}, [](In x) { return square(det(shifted(x[0]))); }},
      {"logdet", {{{2, 3, 3}}, {{3, 2, 4}}}, [](In x) { return square(logdet(spd(x[0]))); }},
      {"slogdet", {{{2, 3, 3}}, {{2, 1, 4, 4}}},
       [](In x) {
         const SlogdetResult r = slogdet(-shifted(x[0]));
         return square(r.logabsdet) * r.sign;
       }},
      {"solve", {{{2, 3, 3}, {2, 3, 2}}, {{2, 3, 3}, {2, 3}}, {{2, 1, 4, 4}, {3, 4, 2}}, {{4, 4}, {2, 4, 1}}},
       [](In x) { return solve(shifted(x[0]), x[1]); }},
      {"solve_triangular",
       {{{3, 3}, {3, 2}}, {{1, 1}, {1, 4}}, {{4, 4}, {4, 1}}, {{2, 3, 3}, {2, 3, 2}}, {{2, 3, 3}, {3, 4}},
        {{3, 3}, {2, 1, 3, 2}}},
       [](In x) {
         const Tensor a = shifted(x[0]), b = x[1];
         return side_by_side({solve_triangular(a, b, true), solve_triangular(a, b, false),
                              solve_triangular(a, b, false, true, true),
                              solve_triangular(a, mT(b), true, false), solve_triangular(a, mT(b), false, false, true)});
       }},
      {"cholesky", {{{3, 3}}, {{1, 1}}, {{4, 4}}, {{3, 5}}, {{2, 3, 3}}, {{2, 1, 4, 2}}},
       [](In x) {
         const Tensor a = spd(x[0]);
         return side_by_side({cholesky(a), cholesky(a, true)});
       }},
      {"cholesky_solve",
       {{{3, 2}, {3, 3}}, {{1, 4}, {1, 1}}, {{4, 1}, {4, 4}}, {{2, 3, 2}, {2, 3, 3}}, {{2, 3, 2}, {3, 3}},
        {{3, 4}, {2, 3, 3}}},
       [](In x) {
         const Tensor l = tril(shifted(x[1])), u = triu(shifted(x[1]));
         return side_by_side({cholesky_solve(x[0], l), cholesky_solve(x[0], u, true)});
       }},
      {"eigh", {{{3, 3}}, {{1, 1}}, {{4, 4}}, {{2, 3, 3}}, {{2, 1, 4, 4}}},
       [](In x) {
         const Tensor a = x[0] + mT(x[0]);
         const EighResult lower = eigh(a), upper = eigh(a, "U");
         return side_by_side({sign_free(lower.eigenvectors), lower.eigenvalues, sign_free(upper.eigenvectors)});
       }},
      {"eigvalsh", {{{3, 3}}, {{1, 1}}, {{4, 4}}, {{2, 3, 3}}},
       [](In x) {
         const Tensor a = x[0] + mT(x[0]);
         return side_by_side({eigvalsh(a), eigvalsh(a, "U")});
       }},
      // U Vh, S, |U| and |Vh| (reduced), and the full U and Vh of square matrices (every column is
      // then determined up to its sign).
      {"svd", {{{3, 4}}, {{4, 3}}, {{3, 3}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{2, 1, 4, 2}}},
       [](In x) {
         const SvdResult r = svd(x[0], false);
         std::vector<Tensor> parts{mm(r.U, r.Vh), r.S, abs(r.U), abs(r.Vh)};
         if (x[0].size(-1) == x[0].size(-2)) {
           const SvdResult f = svd(x[0], true);
           parts.push_back(mm(f.U * unsqueeze(f.S, -2), f.Vh));
           parts.push_back(abs(f.U));
         }
         return side_by_side(parts);
       }},
      {"svdvals", {{{3, 4}}, {{4, 3}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{2, 1, 4, 4}}},
       [](In x) { return svdvals(x[0]); }},
      {"linalg_matrix_norm nuc, 2, -2", {{{3, 4}}, {{4, 3}}, {{1, 5}}, {{2, 3, 4}}, {{3, 2, 4}}},
       [](In x) {
         std::vector<Tensor> parts{linalg_matrix_norm(x[0], "nuc"), linalg_matrix_norm(x[0], "nuc", {0, -1}, true)};
         if (x[0].numel() > 0) {  // ±2 of an empty matrix: amax / amin over no singular value
           parts.push_back(linalg_matrix_norm(x[0], 2.0));
           parts.push_back(linalg_matrix_norm(x[0], -2.0, {-1, 0}, true));
         }
         return side_by_side(parts);
       }},
      // Q and R of full-rank matrices (unique: LAPACK's signs are smooth in A), reduced and, where
      // m ≤ n, complete.
      {"qr", {{{4, 3}}, {{3, 3}}, {{3, 5}}, {{1, 4}}, {{5, 1}}, {{2, 4, 3}}, {{2, 1, 3, 5}}},
       [](In x) {
         const QrResult r = qr(x[0]);
         std::vector<Tensor> parts{r.Q, r.R};
         if (x[0].size(-2) <= x[0].size(-1)) {
           const QrResult c = qr(x[0], "complete");
           parts.push_back(c.Q);
           parts.push_back(c.R);
         }
         return side_by_side(parts);
       }},
      // Without row swaps (x + n I) and with them (its rows reversed).
      {"lu_factor", {{{3, 3}}, {{1, 1}}, {{4, 4}}, {{2, 3, 3}}, {{2, 1, 4, 4}}},
       [](In x) {
         return side_by_side({lu_factor(shifted(x[0])).LU, lu_factor(flip(shifted(x[0]), {-2})).LU});
       }},
      // Tall and wide: x + 3 I (m × n), and its rows reversed.
      {"lu_factor rectangular", {{{5, 3}}, {{3, 5}}, {{1, 4}}, {{4, 1}}, {{2, 4, 3}}, {{2, 1, 3, 4}}},
       [](In x) {
         const Tensor a = x[0] + 3.0 * eye(x[0].size(-2), x[0].size(-1), {.dtype = x[0].dtype()});
         return side_by_side({lu_factor(a).LU, lu_factor(flip(a, {-2})).LU});
       }},
      // LU is an input of its own (with the pivots of a factorisation that swaps rows); left,
      // right and adjoint; B's and LU's leading dims broadcast.
      {"lu_solve",
       {{{3, 3}, {3, 2}}, {{1, 1}, {1, 4}}, {{4, 4}, {4, 1}}, {{2, 3, 3}, {2, 3, 2}}, {{3, 3}, {2, 3, 2}},
        {{2, 3, 3}, {3, 2}}},
       [](In x) {
         const Tensor lu = shifted(x[0]), b = x[1];
         const Tensor pivots = lu_factor(flip(lu.detach(), {-2})).pivots;
         return side_by_side({lu_solve(lu, pivots, b), lu_solve(lu, pivots, b, true, true),
                              lu_solve(lu, pivots, mT(b), false), lu_solve(lu, pivots, mT(b), false, true)});
       }},
      {"pinv", {{{3, 4}}, {{4, 3}}, {{3, 3}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{2, 1, 4, 2}}},
       [](In x) {
         std::vector<Tensor> parts{pinv(x[0])};
         if (x[0].size(-1) == x[0].size(-2)) parts.push_back(pinv(x[0] + mT(x[0]), std::nullopt, std::nullopt, true));
         return side_by_side(parts);
       }},
      // Tall (with residuals), square and wide (the least-norm solution); B a matrix or a vector.
      {"lstsq",
       {{{4, 3}, {4, 2}}, {{3, 3}, {3, 2}}, {{2, 4}, {2, 3}}, {{4, 3}, {4}}, {{5, 1}, {5, 2}}, {{2, 4, 3}, {2, 4, 2}},
        {{2, 4, 3}, {1, 4, 2}}, {{2, 1, 4, 3}, {2, 3, 4}}},
       [](In x) {
         const LstsqResult gels = lstsq(x[0], x[1], std::nullopt, "gels"), gelsd = lstsq(x[0], x[1], std::nullopt, "gelsd");
         return side_by_side({gels.solution, gels.residuals, gelsd.solution, gelsd.residuals,
                              lstsq(x[0], x[1]).solution});
       }},
  };
}

}  // namespace matgrad::testing
