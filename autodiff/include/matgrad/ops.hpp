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
// PyTorch's matmul: vector·vector, matrix·vector, vector·matrix, matrix·matrix, batched 3-D.
Tensor matmul(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());

// ---- matrix functions (the Matrix Cookbook), for 2-D matrices ----
// LU-based ops refuse non-square matrices (ShapeError) and matrices that are singular or
// singular to working precision (ValueError); det of a singular matrix is 0, but its backward
// refuses it.
Tensor trace(const Tensor& a, const SourceLocation& caller = SourceLocation::current());    // Σᵢ Aᵢᵢ; any m×n matrix, as torch.trace
Tensor inverse(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // A⁻¹ (torch.linalg.inv)
Tensor det(const Tensor& a, const SourceLocation& caller = SourceLocation::current());      // 0-d (torch.linalg.det)
Tensor logdet(const Tensor& a, const SourceLocation& caller = SourceLocation::current());   // log det A; refuses det ≤ 0 (use slogdet for log|det|)
struct SlogdetResult {
  Tensor sign;       // ±1, 0-d, never requires grad
  Tensor logabsdet;  // log|det A|, 0-d, differentiable
};
SlogdetResult slogdet(const Tensor& a, const SourceLocation& caller = SourceLocation::current());  // torch.linalg.slogdet; refuses singular matrices
// X with A X = B, for B of shape [n] or [n, k] (torch.linalg.solve), without forming A⁻¹.
Tensor solve(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());
Tensor outer(const Tensor& a, const Tensor& b, const SourceLocation& caller = SourceLocation::current());  // a bᵀ for vectors a, b
// torch.diag: a vector gives the square matrix with it on diagonal `diagonal` (> 0 above the
// main one, < 0 below); a matrix gives that diagonal as a vector.
Tensor diag(const Tensor& a, std::ptrdiff_t diagonal = 0, const SourceLocation& caller = SourceLocation::current());

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
// or 1 / −1 (max / min column sum of |A|), inf / −inf (max / min row sum). "nuc", 2 and −2 need
// the SVD, which matgrad does not have yet: they raise a ValueError saying so.
Tensor linalg_matrix_norm(const Tensor& a, std::string_view ord = "fro", const DimList& dim = {-2, -1}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
Tensor linalg_matrix_norm(const Tensor& a, double ord, const DimList& dim = {-2, -1}, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());

// Max/min over a dim; the gradient goes to the first arg-extremum (ties: lowest index).
Tensor max(const Tensor& a, std::ptrdiff_t dim, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
Tensor min(const Tensor& a, std::ptrdiff_t dim, bool keepdim = false, const SourceLocation& caller = SourceLocation::current());
xt::xarray<std::size_t> argmax(const Tensor& a, std::ptrdiff_t dim, bool keepdim = false);
xt::xarray<std::size_t> argmin(const Tensor& a, std::ptrdiff_t dim, bool keepdim = false);

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
// Gradient passes where min <= a <= max (bounds included), as in PyTorch.
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max, const SourceLocation& caller = SourceLocation::current());

// Not differentiable (their gradient is zero almost everywhere): results never require grad.
Tensor sign(const Tensor& a);
Tensor gt(const Tensor& a, const Tensor& b);  // 1 where a > b, else 0; broadcasting
Tensor ge(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
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

// ---- losses ----
enum class Reduction { none, mean, sum };
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());
// Softmax cross-entropy of logits [N, C] (or [C]) against class indices, fused and stable.
Tensor cross_entropy(const Tensor& logits, std::span<const std::size_t> targets,
                     Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction = Reduction::mean, const SourceLocation& caller = SourceLocation::current());

}  // namespace matgrad
