// The differentiable ops. Each is defined in autodiff/src/ops/<family>.cpp next to its shape
// checks, its VJP and its derivative rule; `docs` in README lists the rules as a table.
// Dimensions may be negative (counted from the end), as in PyTorch; the reductions,
// index_select, index_add, transpose, squeeze, flatten and the softmax family take dim 0 or -1
// of a 0-d tensor, which then counts as one dim of size 1.
#pragma once

#include "matgrad/call_site.hpp"
#include "matgrad/tensor.hpp"

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace matgrad {

// ---- arithmetic, broadcasting with NumPy rules ----
Tensor add(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor sub(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor mul(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor div(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor neg(const Tensor& a, const SourceLocation& caller = SourceLocation::current());

// A tensor operand of an operator, remembering the line the expression was written on (an
// operator cannot take a defaulted SourceLocation itself; the conversion to Operand can).
struct Operand {
  Operand(const Tensor& tensor, SourceLocation where = SourceLocation::current())  // NOLINT
      : tensor(tensor), where(where) {}
  const Tensor& tensor;
  SourceLocation where;
};

Tensor operator+(const Tensor& a, Operand b);
Tensor operator-(const Tensor& a, Operand b);
Tensor operator*(const Tensor& a, Operand b);
Tensor operator/(const Tensor& a, Operand b);
Tensor operator-(Operand a);
Tensor operator+(Operand a, double b);
Tensor operator+(double a, Operand b);
Tensor operator-(Operand a, double b);
Tensor operator-(double a, Operand b);
Tensor operator*(Operand a, double b);
Tensor operator*(double a, Operand b);
Tensor operator/(Operand a, double b);
Tensor operator/(double a, Operand b);

// ---- shape ----
// Views: the output shares a's storage (elements and version counter), so an in-place change
// through either is seen by both; each is recorded, and its VJP reshapes the gradient back.
// transpose, t and broadcast_to copy (matgrad has no strided views).
Tensor reshape(const Tensor& a, const ShapeArg& shape, const SourceLocation& caller = SourceLocation::current());
Tensor view(const Tensor& a, const ShapeArg& shape, const SourceLocation& caller = SourceLocation::current());
Tensor view_as(const Tensor& a, const Tensor& other, const SourceLocation& caller = SourceLocation::current());
Tensor flatten(const Tensor& a, std::ptrdiff_t start_dim = 0, std::ptrdiff_t end_dim = -1, const SourceLocation& caller = SourceLocation::current());
Tensor unsqueeze(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller = SourceLocation::current());
// Removes dim if its size is 1; any other size leaves a unchanged, as in PyTorch.
Tensor squeeze(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller = SourceLocation::current());
Tensor squeeze(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // every dim of size 1
Tensor transpose(const Tensor& a, std::ptrdiff_t dim0, std::ptrdiff_t dim1, const SourceLocation& caller = SourceLocation::current());
Tensor t(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // transpose of a matrix; vectors and scalars unchanged
Tensor broadcast_to(const Tensor& a, const Shape& shape, const SourceLocation& caller = SourceLocation::current());
Tensor sum_to_size(const Tensor& a, const Shape& shape, const SourceLocation& caller = SourceLocation::current());  // the adjoint of broadcast_to

// ---- linear algebra ----
// C = op(A) op(B), op(X) = X or Xᵀ: BLAS gemm with transpose flags, for 2-D matrices or 3-D
// batches of equal size. matmul and every matmul VJP reduce to it.
Tensor gemm(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false, const SourceLocation& caller = SourceLocation::current());
// y = x Wᵀ + b for x [*, in] (any rank ≥ 1), weight [out, in] and bias [out] (undefined:
// none), as torch.nn.functional.linear: the bias goes in by the gemm itself, one op on the tape.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, const SourceLocation& caller = SourceLocation::current());
// C = op(A) v for a matrix A and a vector v, op(A) = A or Aᵀ: torch.mv (transpose_a gives vᵀA as
// Aᵀv), on gemv. matmul runs its matrix·vector and vector·matrix cases here.
Tensor mv(const Tensor& a, const Tensor& v, bool transpose_a = false, const SourceLocation& caller = SourceLocation::current());
// PyTorch's matmul: vector·vector, matrix·vector, vector·matrix, matrix·matrix, and batches
// [*, m, k] @ [*, k, n] of any rank whose batch dims broadcast (a vector gains a dim and loses it).
Tensor matmul(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());

// ---- matrix functions (the Matrix Cookbook) ----
// The LU-based ops (inverse, det, logdet, slogdet, solve) take a matrix or a batch [*, n, n]
// (the results are per matrix: det of [*, n, n] is [*]); they refuse non-square matrices
// (ShapeError) and matrices that are singular or singular to working precision (ValueError,
// naming the batch element); det of a singular matrix is 0, but its backward refuses it.
Tensor trace(const Tensor& a, const SourceLocation& caller = SourceLocation::current());    // Σᵢ Aᵢᵢ; any m×n matrix, as torch.trace
Tensor inverse(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // A⁻¹ (torch.linalg.inv)
Tensor det(const Tensor& a, const SourceLocation& caller = SourceLocation::current());      // [*] (0-d for a matrix; torch.linalg.det)
Tensor logdet(const Tensor& a, const SourceLocation& caller = SourceLocation::current());   // log det A; refuses det ≤ 0 (use slogdet for log|det|)
struct SlogdetResult {
  Tensor sign;       // ±1, 0-d, never requires grad
  Tensor logabsdet;  // log|det A|, 0-d, differentiable
};
SlogdetResult slogdet(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // torch.linalg.slogdet; refuses singular matrices
// X with A X = B (torch.linalg.solve), without forming A⁻¹: B [*, n] (1-D, or A's shape
// without its last dim) is a batch of vectors, else [*, n, k] of matrices, the leading dims
// broadcasting.
Tensor solve(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor outer(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());  // a bᵀ for vectors a, b
// torch.diag: a vector gives the square matrix with it on diagonal `diagonal` (> 0 above the
// main one, < 0 below); a matrix gives that diagonal as a vector.
Tensor diag(const Tensor& a, std::ptrdiff_t diagonal = 0, const SourceLocation& caller = SourceLocation::current());

// ---- linear algebra: decompositions and triangular solves (LAPACK), torch.linalg's names ----
// Each takes a matrix or a batch [*, m, n] (batched over the leading dims, which broadcast
// between two inputs), float32 or float64, and refuses NaN or ±Inf entries (ValueError).
// X = A⁻¹ B (left) or B A⁻¹ (right) for triangular A [*, n, n] (only its upper or lower
// triangle is read; its diagonal is taken as ones when unitriangular), B [*, n, k] (left) or
// [*, k, n] (right): torch.linalg.solve_triangular. A zero on A's diagonal raises a ValueError
// (torch returns inf / NaN).
Tensor solve_triangular(const Tensor& a, const Tensor& b, bool upper, bool left = true, bool unitriangular = false,
                        const SourceLocation& caller = SourceLocation::current());
// L with A = L Lᵀ (upper: U with A = Uᵀ U), from A's lower (upper) triangle; a matrix that is
// not positive-definite raises a ValueError naming its batch element and leading minor, as
// torch.linalg.cholesky's error.
Tensor cholesky(const Tensor& a, bool upper = false, const SourceLocation& caller = SourceLocation::current());
// X = (L Lᵀ)⁻¹ B (upper: (Uᵀ U)⁻¹ B) from a Cholesky factor: torch.cholesky_solve(B, L, upper),
// its argument order. B [*, n, k]; gradients as torch's (L read as a full matrix in L Lᵀ).
Tensor cholesky_solve(const Tensor& b, const Tensor& l, bool upper = false, const SourceLocation& caller = SourceLocation::current());
// A = V diag(λ) Vᵀ for symmetric A from its lower (UPLO "L") or upper ("U") triangle, λ
// ascending: torch.linalg.eigh and eigvalsh. Eigenvector gradients divide by the eigenvalue
// gaps: inf or NaN at repeated eigenvalues, and defined only for losses that do not depend on
// the eigenvectors' signs (as torch's).
struct EighResult {
  Tensor eigenvalues;   // [*, n]
  Tensor eigenvectors;  // [*, n, n], the columns
};
EighResult eigh(const Tensor& a, std::string_view uplo = "L", const SourceLocation& caller = SourceLocation::current());
Tensor eigvalsh(const Tensor& a, std::string_view uplo = "L", const SourceLocation& caller = SourceLocation::current());
// A = U diag(S) Vh, S descending, k = min(m, n): torch.linalg.svd (full_matrices: U [*, m, m]
// and Vh [*, n, n], else [*, m, k] and [*, k, n]) and svdvals. U's and Vh's gradients divide by
// the gaps sⱼ² − sᵢ² (and by s when m ≠ n): inf or NaN at repeated or zero singular values, and
// defined only for losses that do not depend on the singular vectors' signs (as torch's).
struct SvdResult {
  Tensor U, S, Vh;
};
SvdResult svd(const Tensor& a, bool full_matrices = true, const SourceLocation& caller = SourceLocation::current());
Tensor svdvals(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
// A = Q R, k = min(m, n): torch.linalg.qr. mode "reduced" (Q [*, m, k], R [*, k, n]),
// "complete" (Q [*, m, m], R [*, m, n]) or "r" (R only, Q an empty tensor). Gradients for
// full-rank A; differentiating mode "r", or "complete" with m > n, raises torch's error.
struct QrResult {
  Tensor Q, R;
};
QrResult qr(const Tensor& a, std::string_view mode = "reduced", const SourceLocation& caller = SourceLocation::current());
// P A = L U with partial pivoting (getrf): torch.linalg.lu_factor. LU [*, m, n] holds L below
// the diagonal (its unit diagonal implied) and U on and above it; pivots [*, min(m, n)] int64,
// 1-based as LAPACK's (row i was swapped with row pivots[i]). A zero pivot is kept, as torch
// (lu_solve then refuses it). Gradients as torch's, for square and rectangular A.
struct LuFactorResult {
  Tensor LU, pivots;
};
LuFactorResult lu_factor(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
// X with A X = B (left), X A = B (not left), Aᴴ in place of A with adjoint, A = P L U from
// lu_factor: torch.linalg.lu_solve(LU, pivots, B, left, adjoint). Composed from
// solve_triangular and a permutation, so its gradients in LU (L's strict lower and U's upper
// triangle) and B are torch's. A zero on U's diagonal raises a ValueError (torch: inf / NaN).
Tensor lu_solve(const Tensor& lu, const Tensor& pivots, const Tensor& b, bool left = true, bool adjoint = false,
                const SourceLocation& caller = SourceLocation::current());
// The Moore–Penrose pseudoinverse, torch.linalg.pinv: from the SVD (hermitian: from eigh),
// dropping singular values ≤ max(atol, rtol · σ_max). rtol defaults to ε · max(m, n) when atol
// is not given (or is 0), else to 0. Gradient as torch's pinv_backward (defined where the rank
// does not change).
Tensor pinv(const Tensor& a, std::optional<double> atol = std::nullopt, std::optional<double> rtol = std::nullopt,
            bool hermitian = false, const SourceLocation& caller = SourceLocation::current());
// min ‖A X − B‖ (min-norm X when A is wide): torch.linalg.lstsq(A, B, rcond, driver). B is
// [*, m, k] or [*, m] (a batch of vectors when A has one more dim). driver "gels" assumes full
// rank (through qr); "gelsy", "gelsd" and "gelss" drop singular values ≤ rcond · σ_max (rcond
// defaults to ε · max(m, n)), through pinv. residuals (‖A X − B‖² per column) only when m > n
// and every matrix is of full rank, and not for "gelsy"; rank not for "gels"; singular_values
// only for "gelsd" and "gelss" (else empty tensors, as torch). The gradient flows through
// solution (and residuals).
struct LstsqResult {
  Tensor solution, residuals, rank, singular_values;
};
LstsqResult lstsq(const Tensor& a, const Tensor& b, std::optional<double> rcond = std::nullopt,
                  std::string_view driver = "gelsy", const SourceLocation& caller = SourceLocation::current());

// ---- reductions ----
// The dims a reduction runs over: one dim, a braced list {0, -1} or a vector; negative dims
// count from the end, a repeated dim is an IndexError, and a 0-d tensor takes dim 0 or -1 (its
// one element). No dims (the default, {}) means every dim, as torch's dim=None (and dim=[]).
// keepdim leaves the reduced dims in the result at size 1, on a full reduction too. float32
// inputs accumulate in double.
class DimList {
 public:
  DimList() = default;
  DimList(std::ptrdiff_t dim) : dims_{dim} {}                                 // NOLINT: implicit
  DimList(std::initializer_list<std::ptrdiff_t> dims) : dims_(dims) {}        // NOLINT
  DimList(std::vector<std::ptrdiff_t> dims) : dims_(std::move(dims)) {}       // NOLINT
  bool all() const { return dims_.empty(); }
  const std::vector<std::ptrdiff_t>& dims() const { return dims_; }

 private:
  std::vector<std::ptrdiff_t> dims_;
};

// sum(a), sum(a, 1), sum(a, {0, 2}, true). sum(a, caller) also reads as the full sum (a
// template, so that a braced list of dims never converts to a SourceLocation instead).
// The sum over an empty dim is 0, the mean NaN, the product 1, as in PyTorch.
Tensor sum(const Tensor& a, const DimList& dim = {}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
Tensor mean(const Tensor& a, const DimList& dim = {}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
template <std::same_as<SourceLocation> L>
Tensor sum(const Tensor& a, const L& caller) { return sum(a, DimList(), false, caller); }
template <std::same_as<SourceLocation> L>
Tensor mean(const Tensor& a, const L& caller) { return mean(a, DimList(), false, caller); }
// Its gradient as torch's: where no element of a slice is 0, gC ⊙ C ⊘ A; where one is, the
// product of the others at it and 0 elsewhere; where two or more are, 0.
Tensor prod(const Tensor& a, const DimList& dim = {}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
// Σ (A − mean)² / (N − correction) over the dims (correction 1: Bessel's); N − correction ≤ 0
// gives inf (NaN where the sum of squares is 0, or N = 0), as torch. std = √var, with gradient
// 0 where std is 0, as torch. var_mean and std_mean return both (torch's tuple).
Tensor var(const Tensor& a, const DimList& dim = {}, double correction = 1, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
Tensor std(const Tensor& a, const DimList& dim = {}, double correction = 1, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
struct VarMeanResult {
  Tensor var;
  Tensor mean;
};
struct StdMeanResult {
  Tensor std;
  Tensor mean;
};
VarMeanResult var_mean(const Tensor& a, const DimList& dim = {}, double correction = 1, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
StdMeanResult std_mean(const Tensor& a, const DimList& dim = {}, double correction = 1, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
// The largest (smallest) element over the dims; NaN if any is NaN. The gradient is split evenly
// between the elements that tie for it, as torch's. Over an empty dim: an IndexError.
Tensor amax(const Tensor& a, const DimList& dim = {}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
Tensor amin(const Tensor& a, const DimList& dim = {}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
// log Σ exp(A) over the dims, shifted by the max (large inputs neither overflow nor lose the
// answer); −inf over an empty dim.
Tensor logsumexp(const Tensor& a, const DimList& dim, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());

// Scans along one dim (0 or -1 of a 0-d tensor): running sums, products and log Σ exp, each
// accumulated in double. cumprod's gradient handles zeros as torch's.
Tensor cumsum(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller = SourceLocation::current());
Tensor cumprod(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller = SourceLocation::current());
Tensor logcumsumexp(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller = SourceLocation::current());

// Norms, named as ATen names torch.linalg's (flat, as matgrad's solve and det):
// linalg_vector_norm(a, ord, dim, keepdim) is (Σ |A|^ord)^(1/ord) over the dims (every dim by
// default), with ord 2 (the Frobenius norm of all elements), 1, 0 (the count of non-zeros,
// gradient 0), ±inf (max / min |A|, gradient split between ties) or any other p. Gradients at
// 0 as torch's: 0 where the norm is 0 (p > 0), sign(0) = 0 for p = 1. ord < 0 and −inf over an
// empty dim are an IndexError (no identity).
Tensor linalg_vector_norm(const Tensor& a, double ord = 2, const DimList& dim = {}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
// torch.norm(a, p, dim, keepdim) for a numeric p: linalg_vector_norm. (matgrad's earlier
// norm(a, dim) read its second argument as a dim; it is the order p, as in torch.)
Tensor norm(const Tensor& a, double p = 2, const DimList& dim = {}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
// The matrix norm over two dims (the last two by default) of a tensor of rank ≥ 2: ord "fro",
// "nuc" (Σ σᵢ), 1 / −1 (max / min column sum of |A|), 2 / −2 (largest / smallest singular
// value), inf / −inf (max / min row sum). nuc and ±2 go through svdvals.
Tensor linalg_matrix_norm(const Tensor& a, std::string_view ord = "fro", const DimList& dim = {-2, -1}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
Tensor linalg_matrix_norm(const Tensor& a, double ord, const DimList& dim = {-2, -1}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());

// ---- elementwise ----
Tensor exp(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor log(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor sqrt(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // gradient at 0 is +inf, as in PyTorch
Tensor pow(const Tensor& a, double exponent, const SourceLocation& caller = SourceLocation::current());
Tensor square(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor abs(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // gradient at 0 is 0
Tensor tanh(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor sigmoid(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
// The VJPs of tanh and sigmoid as ops of their own, from the gradient G and the forward's
// output C (G may broadcast against C): G ⊙ (1 − C²) and G ⊙ C ⊙ (1 − C) in one pass; differentiable in both.
Tensor tanh_backward(const Tensor& grad, const Tensor& output, const SourceLocation& caller = SourceLocation::current());
Tensor sigmoid_backward(const Tensor& grad, const Tensor& output, const SourceLocation& caller = SourceLocation::current());
Tensor relu(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // gradient at 0 is 0
// relu's VJP as an op of its own, gC ⊙ [A > 0] in one pass (differentiable: gradient
// gC ⊙ [A > 0] for the first argument, 0 for A). G may broadcast against A.
Tensor relu_backward(const Tensor& grad, const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor leaky_relu(const Tensor& a, double negative_slope = 0.01, const SourceLocation& caller = SourceLocation::current());  // gradient at 0 is the slope
Tensor softplus(const Tensor& a, double beta = 1.0, double threshold = 20.0, const SourceLocation& caller = SourceLocation::current());
// softplus's VJP as an op of its own, G ⊙ where(βA > threshold, 1, σ(βA)) in one pass
// (torch's softplus_backward); differentiable in both. G may broadcast against A.
Tensor softplus_backward(const Tensor& grad, const Tensor& a, double beta = 1.0, double threshold = 20.0,
                         const SourceLocation& caller = SourceLocation::current());
// Gradient passes where min <= a <= max (bounds included), as in PyTorch.
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max, const SourceLocation& caller = SourceLocation::current());

// Not differentiable (their gradient is zero almost everywhere): results never require grad.
Tensor sign(const Tensor& a);
Tensor gt(const Tensor& a, const Tensor& b);  // 1 where a > b, else 0; broadcasting
Tensor ge(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);  // torch.ne, a != b
// Picks a where condition is non-zero, else b; differentiable in a and b. The gradient sent to
// the branch not taken is exactly zero, but that branch's own VJP still runs on it, so a NaN
// or ±inf there comes back: where(x > 0, sqrt(x), 0) has gradient NaN at x < 0, as in PyTorch
// (0 ⊘ (2 sqrt(x)) with sqrt(x) NaN). Keep such inputs out of the branch as well ("double
// where"): where(x > 0, sqrt(where(x > 0, x, 1)), 0) has gradient 0 there.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());

// ---- more elementwise functions (trigonometric.cpp, special.cpp, activations.cpp, rounding.cpp) ----
// PyTorch's names, values and derivatives, also at the edges of each domain (asin'(±1) = ±∞,
// lgamma and digamma at the poles, ...). Each differentiates again, to any order.
Tensor sin(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor cos(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor tan(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor asin(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor acos(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor atan(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor sinh(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor cosh(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor asinh(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor acosh(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor atanh(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor log1p(const Tensor& a, const SourceLocation& caller = SourceLocation::current());       // log(1 + a), accurate near 0
Tensor expm1(const Tensor& a, const SourceLocation& caller = SourceLocation::current());       // eᵃ − 1, accurate near 0
Tensor log2(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor log10(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor exp2(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor rsqrt(const Tensor& a, const SourceLocation& caller = SourceLocation::current());       // 1 / √a
Tensor reciprocal(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // 1 / a
Tensor erf(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor erfc(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor erfinv(const Tensor& a, const SourceLocation& caller = SourceLocation::current());      // the inverse of erf on (−1, 1); ±∞ at ±1
Tensor lgamma(const Tensor& a, const SourceLocation& caller = SourceLocation::current());      // log |Γ(a)|
Tensor digamma(const Tensor& a, const SourceLocation& caller = SourceLocation::current());     // ψ(a) = Γ'(a) / Γ(a); −∞ at +0, NaN at the negative integers
// ψ⁽ⁿ⁾(a), the n-th derivative of digamma (polygamma(0, a) = digamma(a)).
Tensor polygamma(int n, const Tensor& a, const SourceLocation& caller = SourceLocation::current());
// x log y, 0 where x = 0 (unless y is NaN), broadcasting; as torch.xlogy.
Tensor xlogy(const Tensor& x, const Tensor& y, const SourceLocation& caller = SourceLocation::current());

// Activations (torch.nn.functional). gelu's approximate is "none" (x Φ(x)) or "tanh".
Tensor gelu(const Tensor& a, std::string_view approximate = "none", const SourceLocation& caller = SourceLocation::current());
Tensor silu(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // a σ(a)
Tensor elu(const Tensor& a, double alpha = 1.0, const SourceLocation& caller = SourceLocation::current());
Tensor selu(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor celu(const Tensor& a, double alpha = 1.0, const SourceLocation& caller = SourceLocation::current());
Tensor softsign(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // a / (1 + |a|)
// clamp(a, min_val, max_val); unlike clamp, the gradient passes only strictly inside the bounds.
Tensor hardtanh(const Tensor& a, double min_val = -1.0, double max_val = 1.0, const SourceLocation& caller = SourceLocation::current());
Tensor hardsigmoid(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // relu6(a + 3) / 6
Tensor hardswish(const Tensor& a, const SourceLocation& caller = SourceLocation::current());    // a relu6(a + 3) / 6
Tensor logsigmoid(const Tensor& a, const SourceLocation& caller = SourceLocation::current());   // log σ(a), stable for large |a|
Tensor mish(const Tensor& a, const SourceLocation& caller = SourceLocation::current());         // a tanh(softplus(a))

// Rounding: recorded, with gradient zero (frac's is 1), as in PyTorch. round rounds half to
// even; with decimals, to that many decimal places (negative: to tens, hundreds, ...).
Tensor floor(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor ceil(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor round(const Tensor& a, int decimals = 0, const SourceLocation& caller = SourceLocation::current());
Tensor trunc(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor frac(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // a − trunc(a)

// ---- binary, broadcasting with NumPy rules (binary.cpp) ----
// maximum and minimum propagate NaN and split the gradient in half between equal inputs;
// fmax and fmin ignore a NaN operand and send the gradient to the input they return (the first
// on ties), as in PyTorch.
Tensor maximum(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor minimum(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor fmax(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor fmin(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
// a^b. As in PyTorch, the gradient in a is 0 where b = 0, and the one in b is 0 where a = 0 and
// b ≥ 0 (elsewhere C log a, NaN for a < 0).
Tensor pow(const Tensor& a, const Tensor& exponent, const SourceLocation& caller = SourceLocation::current());
Tensor pow(double base, const Tensor& exponent, const SourceLocation& caller = SourceLocation::current());
Tensor atan2(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor hypot(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor fmod(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());       // sign of a (C's std::fmod)
Tensor remainder(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());  // sign of b (Python's %)
// |a| with the sign of b; the gradient in b is zero, the one in a is ±1 (0 at a = 0).
Tensor copysign(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
// start + weight (end − start), with a tensor or a number as the weight.
Tensor lerp(const Tensor& start, const Tensor& end, const Tensor& weight, const SourceLocation& caller = SourceLocation::current());
Tensor lerp(const Tensor& start, const Tensor& end, double weight, const SourceLocation& caller = SourceLocation::current());
// clamp with tensor bounds (an undefined tensor: no bound), broadcasting; the gradients are
// PyTorch's: a gets it where min ≤ a ≤ max, min where a < min < max, max where a > max or
// max < min (every element is then max).
Tensor clamp(const Tensor& a, const Tensor& min, const Tensor& max, const SourceLocation& caller = SourceLocation::current());
// a + alpha b and a − alpha b (torch's alpha).
Tensor add(const Tensor& a, const Tensor& b, double alpha, const SourceLocation& caller = SourceLocation::current());
Tensor sub(const Tensor& a, const Tensor& b, double alpha, const SourceLocation& caller = SourceLocation::current());
// a / b rounded toward zero ("trunc") or down ("floor", Python's //); gradient zero, as torch.
Tensor div(const Tensor& a, const Tensor& b, std::string_view rounding_mode, const SourceLocation& caller = SourceLocation::current());

// ---- softmax family, stable for large inputs ----
Tensor softmax(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller = SourceLocation::current());
Tensor log_softmax(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller = SourceLocation::current());

// ---- indexing and joining ----
Tensor index_select(const Tensor& a, std::ptrdiff_t dim, std::span<const std::size_t> index, const SourceLocation& caller = SourceLocation::current());
// a with source's slices added at `index` along dim (repeated indices accumulate).
Tensor index_add(const Tensor& a, std::ptrdiff_t dim, std::span<const std::size_t> index,
                 const Tensor& source, const SourceLocation& caller = SourceLocation::current());
// index_add of alpha · source, as torch's alpha (an integer for int64 tensors).
Tensor index_add(const Tensor& a, std::ptrdiff_t dim, std::span<const std::size_t> index,
                 const Tensor& source, double alpha, const SourceLocation& caller = SourceLocation::current());
// index_select with an int64 index tensor of rank ≤ 1, as torch.index_select (the indices are
// constants: the index tensor never gets a gradient).
Tensor index_select(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const SourceLocation& caller = SourceLocation::current());
// Elements start, start + step, ... (< end) along dim; end is clipped to the size. A copy.
Tensor slice(const Tensor& a, std::ptrdiff_t dim, std::size_t start, std::size_t end,
             std::size_t step = 1, const SourceLocation& caller = SourceLocation::current());
// Elements start .. start + length − 1 along dim (a negative start counts from the end), as a
// view sharing a's storage; only where that is contiguous (every dim before `dim` of size 1,
// e.g. a range of rows): any other raises a ShapeError (slice copies those).
Tensor narrow(const Tensor& a, std::ptrdiff_t dim, std::ptrdiff_t start, std::size_t length,
              const SourceLocation& caller = SourceLocation::current());
// a with that slice replaced by source.
Tensor slice_scatter(const Tensor& a, const Tensor& source, std::ptrdiff_t dim, std::size_t start,
                     std::size_t end, std::size_t step = 1, const SourceLocation& caller = SourceLocation::current());
Tensor concat(const std::vector<Tensor>& tensors, std::ptrdiff_t dim = 0, const SourceLocation& caller = SourceLocation::current());
Tensor stack(const std::vector<Tensor>& tensors, std::ptrdiff_t dim = 0, const SourceLocation& caller = SourceLocation::current());

// ---- losses (loss.cpp, loss_classification.cpp, loss_regression.cpp) ----
// torch.nn.functional's losses, names and arguments. mean averages over every element, sum adds,
// none keeps the per-element losses; batchmean (kl_div only) divides the sum by input.size(0).
enum class Reduction { none, mean, sum, batchmean };
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());
// Softmax cross-entropy of logits [N, C] (or [C]) against class indices, fused and stable.
Tensor cross_entropy(const Tensor& logits, std::span<const std::size_t> targets,
                     Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());
// The same with an int64 tensor of class indices, [N] for logits [N, C] or 0-d for [C], as torch.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());

// cross_entropy and nll_loss with torch's keyword arguments, as designated initialisers:
// cross_entropy(x, t, {.weight = w, .label_smoothing = 0.1}). input is [N, C, d...] (classes
// in dim 1) or [C]; target is int64 class indices [N, d...] (or 0-d for [C]), or, for
// cross_entropy, class probabilities shaped as input. weight [C] weighs the classes; with class
// indices it is a constant (no gradient, as torch's nll_loss); a class-index target equal to ignore_index adds nothing and is not counted. The mean
// over class-index targets is torch's weighted mean, Σ w[tᵢ] ℓᵢ / Σ w[tᵢ] over the targets not
// ignored (NaN when none is left, with gradient 0); over probability targets it divides by the
// number of positions (N·d...). label_smoothing ε mixes the target with the uniform
// distribution: (1 − ε) onehot(t) + ε / C.
struct CrossEntropyOptions {
  Tensor weight{};
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;
};
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options,
                     const SourceLocation& caller = SourceLocation::current());
// −w[t] input[t] per position, input being log-probabilities (log_softmax); reduced as above.
struct NllLossOptions {
  Tensor weight{};
  std::int64_t ignore_index = -100;
  Reduction reduction = Reduction::mean;
};
Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& options = {},
                const SourceLocation& caller = SourceLocation::current());
// −w (y log p + (1 − y) log(1 − p)) for probabilities p, each log clamped at −100 as torch's;
// weight broadcasts to the input. The gradient in p is torch's, w (p − y) / max(p (1 − p), 1e-12)
// (finite at p = 0 and 1).
struct BinaryCrossEntropyOptions {
  Tensor weight{};
  Reduction reduction = Reduction::mean;
};
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BinaryCrossEntropyOptions& options = {},
                            const SourceLocation& caller = SourceLocation::current());
// −w (p_w y log σ(x) + (1 − y) log(1 − σ(x))): weight broadcasts to the input, pos_weight
// (weighting the positive term) broadcasts along the last dim (one per class), as torch's.
struct BCEWithLogitsOptions {
  Tensor weight{};
  Tensor pos_weight{};
  Reduction reduction = Reduction::mean;
};
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, const BCEWithLogitsOptions& options,
                                        const SourceLocation& caller = SourceLocation::current());
// |x − y|; the gradient at x = y is 0, as torch's. Shapes must match, as for mse_loss.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
               const SourceLocation& caller = SourceLocation::current());
// 0.5 d² / beta where |d| < beta, else |d| − 0.5 beta (d = x − y); beta 0 is l1_loss.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                      double beta = 1.0, const SourceLocation& caller = SourceLocation::current());
// 0.5 d² where |d| < delta, else delta (|d| − 0.5 delta).
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                  double delta = 1.0, const SourceLocation& caller = SourceLocation::current());
// y (log y − x) for log-probabilities x and probabilities y (0 where y = 0), or, with log_target,
// eʸ (y − x) for log-probabilities y. torch's default mean divides by every element; batchmean
// (the KL divergence proper) by input.size(0) (a 0-d input: by 1).
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
              bool log_target = false, const SourceLocation& caller = SourceLocation::current());
// Σ x₁x₂ / √(max(Σx₁², eps²) · max(Σx₂², eps²)) along dim of the broadcast inputs, as torch's
// (torch clamps each squared norm with gradients off, so the clamp passes the gradient through;
// so does matgrad's).
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::ptrdiff_t dim = 1, double eps = 1e-8,
                         const SourceLocation& caller = SourceLocation::current());
// 1 − cos(x₁, x₂) where y = 1, max(0, cos(x₁, x₂) − margin) where y = −1 (0 for other y), the
// cosine over the last dim with 1e-12 added to each squared norm, as torch's: x₁, x₂ [N, D]
// with y [N], or [D] with a 0-d y.
Tensor cosine_embedding_loss(const Tensor& x1, const Tensor& x2, const Tensor& target, double margin = 0.0,
                             Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());
// max(0, −y (x₁ − x₂) + margin), broadcasting; the gradient at 0 passes, as torch's clamp_min.
Tensor margin_ranking_loss(const Tensor& x1, const Tensor& x2, const Tensor& target, double margin = 0.0,
                           Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());

// ---- normalisation (normalization.cpp), composed from the reductions: differentiable to any order ----
// torch.nn.functional.layer_norm: (x − mean) / √(var + eps) over the last dims, those of
// normalized_shape (biased var), then ⊙ weight + bias (each undefined: none; shaped as
// normalized_shape).
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5, const SourceLocation& caller = SourceLocation::current());
// torch.nn.functional.batch_norm for input [N, C, *]: in training, the statistics of the batch
// over every dim but 1 (biased var), and running_mean / running_var (when defined: [C]) updated
// in place to (1 − momentum) running + momentum · batch, with the unbiased batch var (as
// torch); in eval, the running statistics. Then ⊙ weight + bias per channel.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight = {},
                  const Tensor& bias = {}, bool training = false, double momentum = 0.1, double eps = 1e-5,
                  const SourceLocation& caller = SourceLocation::current());

// ---- rearranging elements (any dtype; copies: matgrad has no strided views) ----
// torch.permute: C's dim i is A's dim dims[i] (dims a permutation of A's dims).
Tensor permute(const Tensor& a, const std::vector<std::ptrdiff_t>& dims, const SourceLocation& caller = SourceLocation::current());
// torch.movedim of one dim: the dim `source` moved to position `destination`, the others in order.
Tensor movedim(const Tensor& a, std::ptrdiff_t source, std::ptrdiff_t destination, const SourceLocation& caller = SourceLocation::current());
Tensor flip(const Tensor& a, const std::vector<std::ptrdiff_t>& dims, const SourceLocation& caller = SourceLocation::current());
// torch.roll: C[i] = A[(i − shift) mod n] along each of dims; no dims: the flattened tensor,
// rolled by the one shift and reshaped back.
Tensor roll(const Tensor& a, const std::vector<std::ptrdiff_t>& shifts, const std::vector<std::ptrdiff_t>& dims = {},
            const SourceLocation& caller = SourceLocation::current());
// The elements on and above (triu) or on and below (tril) diagonal `diagonal` of the last two
// dims (> 0 above the main one), the others 0; rank ≥ 2 (batched over the leading dims), as torch.
Tensor triu(const Tensor& a, std::ptrdiff_t diagonal = 0, const SourceLocation& caller = SourceLocation::current());
Tensor tril(const Tensor& a, std::ptrdiff_t diagonal = 0, const SourceLocation& caller = SourceLocation::current());
// Tensor.repeat: at least a.dim() repeats (a gets leading 1s up to their count); torch.tile
// takes fewer too (leading 1s for the repeats).
Tensor repeat(const Tensor& a, const std::vector<std::size_t>& repeats, const SourceLocation& caller = SourceLocation::current());
Tensor tile(const Tensor& a, const std::vector<std::size_t>& reps, const SourceLocation& caller = SourceLocation::current());
// Tensor.expand: broadcast_to where -1 keeps a's size in that dim (new leading dims take sizes).
Tensor expand(const Tensor& a, const std::vector<std::ptrdiff_t>& sizes, const SourceLocation& caller = SourceLocation::current());
// torch.split into pieces of split_size (the last may be smaller) or of the given sizes,
// torch.chunk into `chunks` pieces of ⌈n / chunks⌉ (fewer when they run out, as torch), and
// torch.unbind: the slices along dim with dim removed. Each piece is a copy (slice).
std::vector<Tensor> split(const Tensor& a, std::size_t split_size, std::ptrdiff_t dim = 0, const SourceLocation& caller = SourceLocation::current());
std::vector<Tensor> split(const Tensor& a, const std::vector<std::size_t>& sizes, std::ptrdiff_t dim = 0, const SourceLocation& caller = SourceLocation::current());
std::vector<Tensor> chunk(const Tensor& a, std::size_t chunks, std::ptrdiff_t dim = 0, const SourceLocation& caller = SourceLocation::current());
std::vector<Tensor> unbind(const Tensor& a, std::ptrdiff_t dim = 0, const SourceLocation& caller = SourceLocation::current());

// ---- diagonals, padding, slices from the end, tensor algebra (issue 14, tensoralg) ----
// torch.diagonal: the elements A[..., i, i + offset] of dims (dim1, dim2), which are removed, the
// diagonal becoming the last dim. A copy (torch: a strided view; matgrad's views are contiguous).
Tensor diagonal(const Tensor& a, std::ptrdiff_t offset = 0, std::ptrdiff_t dim1 = 0, std::ptrdiff_t dim2 = 1,
                const SourceLocation& caller = SourceLocation::current());
// torch.diag_embed: the last dim of a laid on diagonal `offset` of a new pair of dims (dim1, dim2,
// of the output's rank a.dim() + 1), each of size n + |offset|; zeros elsewhere.
Tensor diag_embed(const Tensor& a, std::ptrdiff_t offset = 0, std::ptrdiff_t dim1 = -2, std::ptrdiff_t dim2 = -1,
                  const SourceLocation& caller = SourceLocation::current());
// torch.nn.functional.pad: pad = {before, after} pairs, the last dim's first; a negative pad
// crops. mode "constant" (with value), "reflect" (about the edge element,
// each pad < the size) or "replicate" (the edge element repeated); the last two pad any trailing
// dims of any rank (torch: 1–3 dims of a batched input).
Tensor pad(const Tensor& a, const std::vector<std::ptrdiff_t>& pad, std::string_view mode = "constant", double value = 0,
           const SourceLocation& caller = SourceLocation::current());
// slice with torch's negative bounds, for signed arguments (literals): slice(a, 1, -3, -1) is
// a[:, -3:-1]; a bound below −size counts as 0; size_t arguments take slice above.
namespace detail {
Tensor slice_signed(const Tensor& a, std::ptrdiff_t dim, std::ptrdiff_t start, std::ptrdiff_t end, std::ptrdiff_t step,
                    const SourceLocation& caller);
}
// (The step's type is a parameter too, so that a size_t step takes slice above, not an
// ambiguity.)
template <std::signed_integral S, std::signed_integral E, std::signed_integral St = std::ptrdiff_t>
Tensor slice(const Tensor& a, std::ptrdiff_t dim, S start, E end, St step = 1,
             const SourceLocation& caller = SourceLocation::current()) {
  return detail::slice_signed(a, dim, start, end, step, caller);
}
// torch.movedim of several dims: source[i] goes to destination[i], the other dims keep their order.
Tensor movedim(const Tensor& a, const std::vector<std::ptrdiff_t>& source, const std::vector<std::ptrdiff_t>& destination,
               const SourceLocation& caller = SourceLocation::current());

// torch.kron: shapes padded with leading 1s to one rank; each dim of C has size a_d · b_d.
Tensor kron(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
// torch.linalg.cross: the cross product along dim (size 3), a and b of one rank broadcasting.
Tensor cross(const Tensor& a, const Tensor& b, std::ptrdiff_t dim = -1, const SourceLocation& caller = SourceLocation::current());
// torch.linalg.vecdot (real): Σ_dim a ⊙ b, broadcasting.
Tensor vecdot(const Tensor& a, const Tensor& b, std::ptrdiff_t dim = -1, const SourceLocation& caller = SourceLocation::current());
// torch.tensordot: a's last `dims` dims contracted with b's first `dims`, or dims_a[i] with
// dims_b[i]; C has a's free dims then b's.
// (A template without a default, so that tensordot(a, b, {1}, {0}) never reads {1} as the
// count and {0} as a SourceLocation.)
namespace detail {
Tensor tensordot_count(const Tensor& a, const Tensor& b, std::int64_t dims, const SourceLocation& caller);
}
template <std::integral I>
Tensor tensordot(const Tensor& a, const Tensor& b, I dims, const SourceLocation& caller = SourceLocation::current()) {
  return detail::tensordot_count(a, b, static_cast<std::int64_t>(dims), caller);
}
inline Tensor tensordot(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current()) {
  return detail::tensordot_count(a, b, 2, caller);
}
Tensor tensordot(const Tensor& a, const Tensor& b, const std::vector<std::ptrdiff_t>& dims_a,
                 const std::vector<std::ptrdiff_t>& dims_b, const SourceLocation& caller = SourceLocation::current());
// torch.linalg.multi_dot: the product of ≥ 2 matrices in the cheapest order; the first may be a
// vector (as a row), the last a vector (as a column), and their dims are dropped, as torch.
Tensor multi_dot(const std::vector<Tensor>& tensors, const SourceLocation& caller = SourceLocation::current());
// torch.linalg.matrix_power of square matrices [..., n, n]: I for k = 0 (constant), repeated
// squaring for k > 0, (A⁻¹)^|k| for k < 0 (refusing singular matrices, as inverse).
Tensor matrix_power(const Tensor& a, std::int64_t k, const SourceLocation& caller = SourceLocation::current());
// torch.linalg.matrix_exp of square matrices [..., n, n] (scaling and squaring, Padé 13).
Tensor matrix_exp(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
// torch.einsum: "ij,jk->ik" (explicit output) or "ij,jk" (implicit: the ellipsis dims, then the
// letters used once, in alphabetical order, capitals first); a letter repeated in one operand
// takes its diagonal ("ii->i", "ii" is the trace); "..." stands for broadcast dims. Letters
// a–z and A–Z; any number of operands, contracted left to right with one gemm per pair. An
// output without "..." sums the ellipsis dims out.
Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands, const SourceLocation& caller = SourceLocation::current());

// ---- int64 tensors: integer arithmetic, truth tests ----
// add, sub, mul, neg, the comparisons (0/1 in the inputs' dtype), where, to, clone and the shape
// and indexing ops above also take int64 tensors (never differentiable: tensor.hpp); div of two
// int64 tensors is true division in float32, as torch's. int64 arithmetic wraps on overflow.
// For two int64 tensors (broadcasting): a ⊘ b rounded toward −∞, and (remainder, declared with
// the binary ops above) a − b·floor_divide(a, b) (the sign of b, Python's %), as torch; a zero
// divisor raises a ValueError (torch: an error too).
Tensor floor_divide(const Tensor& a, const Tensor& b);
// matgrad has no bool dtype: all and any give int64 0 or 1 (torch gives bool), over every
// element or along dim; count_nonzero gives int64 counts, as torch. Any input dtype; NaN counts
// as non-zero, as in torch.
Tensor all(const Tensor& a);
Tensor all(const Tensor& a, std::ptrdiff_t dim, bool keepdim = false);
Tensor any(const Tensor& a);
Tensor any(const Tensor& a, std::ptrdiff_t dim, bool keepdim = false);
Tensor count_nonzero(const Tensor& a);
Tensor count_nonzero(const Tensor& a, const DimList& dim);  // one dim or several, {} every dim (no keepdim, as torch)
// torch.nn.functional.one_hot: int64 labels of any shape → int64 [..., num_classes]; a
// num_classes of -1 takes max(labels) + 1. Negative or too large labels raise an IndexError.
Tensor one_hot(const Tensor& labels, std::ptrdiff_t num_classes = -1);
Tensor one_hot(std::span<const std::size_t> labels, std::ptrdiff_t num_classes = -1);

// ---- arg-extrema, and max and min with their indices ----
// int64 indices of the first extremum (NaN counts as the extremum, as in torch): over every
// element of a (flattened; keepdim gives a shape of ones) when dim is nullopt, else along dim.
// Any input dtype; a size-0 reduction raises a ShapeError (as torch).
Tensor argmax(const Tensor& a, std::optional<std::ptrdiff_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& a, std::optional<std::ptrdiff_t> dim = std::nullopt, bool keepdim = false);
// torch.max(a, dim) and torch.min(a, dim): the extreme values along dim and their int64 indices
// (first on ties, as torch on the CPU); the gradient goes to the index taken, as torch's.
struct ValuesIndices {
  Tensor values;   // differentiable
  Tensor indices;  // int64, never requires grad
};
ValuesIndices max(const Tensor& a, std::ptrdiff_t dim, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
ValuesIndices min(const Tensor& a, std::ptrdiff_t dim, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
// torch.max(a), torch.min(a): 0-d, over every element; the gradient is split evenly among the
// elements equal to the result (among the NaNs when it is NaN), as torch's. Refuses an empty a.
Tensor max(const Tensor& a, const SourceLocation& caller = SourceLocation::current());
Tensor min(const Tensor& a, const SourceLocation& caller = SourceLocation::current());

// ---- gather, scatter and masks (int64 index tensors) ----
// The index is a constant (it never gets a gradient); indices out of range raise an IndexError,
// negative ones too (as torch's gather). Shapes follow torch: index has a's rank, and
// index.size(d) ≤ a.size(d) for d ≠ dim (≤ src.size(d) for every d for the scatters).
// C[i][j][k] = A[index[i][j][k]][j][k] (dim 0): shaped as index.
Tensor gather(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const SourceLocation& caller = SourceLocation::current());
// a with C[index[i][j]][j] = src[i][j] (dim 0). With repeated indices the last write wins and
// the gradient goes to that src element (torch leaves which one unspecified).
Tensor scatter(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const Tensor& src, const SourceLocation& caller = SourceLocation::current());
Tensor scatter(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, double value, const SourceLocation& caller = SourceLocation::current());
// a with src[i][j] added at C[index[i][j]][j] (dim 0); repeated indices accumulate.
Tensor scatter_add(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const Tensor& src, const SourceLocation& caller = SourceLocation::current());
// torch.scatter_reduce: each position of a named by index becomes the reduction of the src
// elements sent there (and of a's own element when include_self). Positions no index names keep
// a's value. Gradients as torch: mean divides by the count; amax/amin split evenly among the
// elements equal to the result; prod is C/x for each factor x (where no factor is 0).
enum class ScatterReduce { sum, prod, mean, amax, amin };
Tensor scatter_reduce(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const Tensor& src,
                      ScatterReduce reduce, bool include_self = true, const SourceLocation& caller = SourceLocation::current());
// torch.take_along_dim: gather after broadcasting a and index against each other in every dim
// but `dim`; without dim, a and index are flattened.
Tensor take_along_dim(const Tensor& a, const Tensor& index, std::optional<std::ptrdiff_t> dim = std::nullopt,
                      const SourceLocation& caller = SourceLocation::current());
// torch.nonzero: the int64 coordinates [n, a.dim()] of a's n non-zero elements, in row-major
// order (any dtype; NaN is non-zero). Not differentiable.
Tensor nonzero(const Tensor& a);
// A mask as an index of index_put, torch's bool index (matgrad has no bool dtype, so a mask is
// marked as one): Mask{m}, of any dtype, non-zero = true, stands for the m.dim() index tensors
// of m's non-zero elements (the columns of nonzero(m)) and addresses m.dim() dims of a, whose
// sizes it must have. index_put(a, {Mask{m}}, v) is torch's a[m] = v.
struct Mask {
  Tensor mask;
};
// One index of index_put: an int64 index tensor or a Mask.
struct TensorIndex {
  TensorIndex(Tensor index) : tensor(std::move(index)) {}          // NOLINT: implicit, as torch's
  TensorIndex(Mask m) : tensor(std::move(m.mask)), is_mask(true) {}  // NOLINT
  Tensor tensor;
  bool is_mask = false;
};
// a[indices₀, indices₁, ...] = values (+= with accumulate), torch's index_put: int64 index
// tensors (broadcasting together, masks replaced by their nonzero() columns first) address a's
// leading dims; values broadcast to the indexed shape. Without accumulate, a repeated position
// takes the last value written. Departure: a 0-d mask (torch's a[True]) is refused.
Tensor index_put(const Tensor& a, const std::vector<TensorIndex>& indices, const Tensor& values,
                 bool accumulate = false, const SourceLocation& caller = SourceLocation::current());
// value where mask is non-zero, else a (mask of any dtype; a and mask broadcast, as torch).
Tensor masked_fill(const Tensor& a, const Tensor& mask, double value, const SourceLocation& caller = SourceLocation::current());
// With a 0-d tensor value of a's dtype (as torch), differentiable in it too: its gradient is
// the sum of the output's gradient over the masked positions.
Tensor masked_fill(const Tensor& a, const Tensor& mask, const Tensor& value,
                   const SourceLocation& caller = SourceLocation::current());
// The elements of a where mask (broadcast with a) is non-zero, in row-major order, as a 1-D tensor.
Tensor masked_select(const Tensor& a, const Tensor& mask, const SourceLocation& caller = SourceLocation::current());

}  // namespace matgrad
