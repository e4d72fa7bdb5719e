// Matrix functions from the Matrix Cookbook: trace, inverse, det, logdet, slogdet, solve, outer
// and diag. The factorisations run in LAPACK through xtensor-blas; every VJP is written with
// matgrad's own ops, so these gradients can be differentiated again.
#include "../blas.hpp"
#include "common.hpp"

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace matgrad {

using detail::check_defined;

namespace {

void check_square(std::string_view op, const Tensor& a) {
  check_defined(op, a);
  if (a.dim() != 2 || a.size(0) != a.size(1)) {
    fail<ShapeError>("{}: expects a square matrix, got shape {}{}", op, to_string(a.shape()),
                     a.dim() > 2 ? " (batches of matrices are not supported)" : "");
  }
}

// LAPACK would turn NaN or ±Inf into a plausible-looking factorisation or a misleading
// "singular" verdict; say what is wrong instead.
template <class T>
void check_finite(std::string_view op, const Array<T>& x) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x.data()[i])) {
      fail<ValueError>("{}: the matrix of shape {} has a non-finite entry ({}) at flat index {}",
                       op, to_string(x.shape()), x.data()[i], i);
    }
  }
}

// P A = L U by LAPACK getrf, in column-major storage as LAPACK wants it.
template <class T>
struct Lu {
  xt::xtensor<T, 2, xt::layout_type::column_major> lu;
  xt::uvector<xt::blas_index_t> pivots;  // 1-based, as LAPACK returns them
  std::size_t zero_pivot = 0;            // 1-based column of an exactly zero pivot, 0 if none

  std::size_t n() const { return lu.shape()[0]; }

  // The sign of det P: each pivot that is not the identity is one row swap.
  int pivot_sign() const {
    int sign = 1;
    for (std::size_t i = 0; i < pivots.size(); ++i) {
      if (pivots[i] != static_cast<xt::blas_index_t>(i + 1)) sign = -sign;
    }
    return sign;
  }
};

template <class T>
Lu<T> lu_factor(std::string_view op, const Array<T>& a) {
  check_finite(op, a);
  detail::prepare_blas();  // every LAPACK call starts from an LU factorisation
  Lu<T> f;
  f.lu = detail::allocating<T>(a.shape(), op, [&] { return decltype(f.lu)(a); });
  f.pivots.resize(a.shape()[0]);
  if (a.shape()[0] == 0) return f;
  const int info = xt::lapack::getrf(f.lu, f.pivots);
  if (info < 0) fail<Error>("{}: internal error: LAPACK getrf rejected argument {}", op, -info);
  f.zero_pivot = static_cast<std::size_t>(info);
  return f;
}

// LAPACK's estimate of 1 / (‖A‖₁ ‖A⁻¹‖₁), from the LU factors (gecon).
template <class T>
T reciprocal_condition(const Array<T>& a, const Lu<T>& f) {
  const std::size_t n = f.n();
  if (n == 0) return T(1);
  if (f.zero_pivot) return T(0);
  T norm1 = 0;
  for (std::size_t j = 0; j < n; ++j) {
    T column = 0;
    for (std::size_t i = 0; i < n; ++i) column += std::abs(a(i, j));
    norm1 = std::max(norm1, column);
  }
  const auto ld = static_cast<xt::blas_index_t>(n);
  std::vector<T> work(4 * n);
  std::vector<xt::blas_index_t> iwork(n);
  T rcond = 0;
  cxxlapack::gecon<xt::blas_index_t>('1', ld, f.lu.data(), ld, norm1, rcond, work.data(),
                                     iwork.data());
  return rcond;
}

// Refuses a matrix that is singular, or singular to working precision (reciprocal condition
// number below the dtype's epsilon, where MATLAB warns): its inverse would be rounding noise.
template <class T>
void check_invertible(std::string_view op, const Array<T>& a, const Lu<T>& f) {
  if (f.zero_pivot) {
    fail<ValueError>("{}: the matrix of shape {} is singular (zero pivot in column {} of its LU "
                     "factorisation)",
                     op, to_string(a.shape()), f.zero_pivot);
  }
  const T rcond = reciprocal_condition(a, f);
  const T eps = std::numeric_limits<T>::epsilon();
  if (!(rcond >= eps)) {
    fail<ValueError>("{}: the matrix of shape {} is singular to working precision (reciprocal "
                     "condition number {:.3g} < {} epsilon {:.3g})",
                     op, to_string(a.shape()), rcond, dtype_name(dtype_of<T>()), eps);
  }
}

template <class T>
void check_finite_result(std::string_view op, const Shape& shape, const xt::xarray<T>& r) {
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (!std::isfinite(r.data()[i])) {
      fail<ValueError>("{}: the result for the matrix of shape {} overflowed (non-finite entry "
                       "at flat index {}); the matrix is too close to singular",
                       op, to_string(shape), i);
    }
  }
}

// (sign, log|det|) from the LU factors: det A = det P · Πᵢ Uᵢᵢ.
template <class T>
std::pair<T, T> sign_logabsdet(const Lu<T>& f) {
  T sign = static_cast<T>(f.pivot_sign());
  T log_abs = 0;
  for (std::size_t i = 0; i < f.n(); ++i) {
    const T u = f.lu(i, i);
    if (u < 0) sign = -sign;
    log_abs += std::log(std::abs(u));
  }
  return {f.zero_pivot ? T(0) : sign, log_abs};
}

// Refuses what has no real logarithm of the determinant.
template <class T>
void check_positive_det(std::string_view op, const Shape& shape, const Lu<T>& f, bool need_sign) {
  if (f.zero_pivot) {
    fail<ValueError>("{}: the matrix of shape {} is singular (det = 0, so log|det| = −∞)", op,
                     to_string(shape));
  }
  if (need_sign && sign_logabsdet(f).first < 0) {
    fail<ValueError>("{}: the determinant of the matrix of shape {} is negative, so log det is "
                     "not real (slogdet gives the sign and log|det|)",
                     op, to_string(shape));
  }
}

Tensor zero_d(DType dtype, double value) { return full({}, value, {.dtype = dtype}); }

}  // namespace

// c = Σᵢ Aᵢᵢ;  dc = tr(dA) = tr(Iᵀ dA)  =>  gA = gc I
static const OpInfo trace_info{"trace", "dc = tr(dA)", "tc = tr(tA)", "gA = gc I", Saves::nothing,
    "c = tr(A)"};
Tensor trace(const Tensor& a, const SourceLocation& caller) {
  check_defined("trace", a);
  if (a.dim() != 2) {
    fail<ShapeError>("trace: expects a matrix, got shape {}", to_string(a.shape()));
  }
  Tensor out = detail::map_data(a, [](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    double total = 0;  // in double, also for float32
    for (std::size_t i = 0; i < std::min(x.shape()[0], x.shape()[1]); ++i) total += x(i, i);
    return xt::xarray<T>(static_cast<T>(total));
  });
  const std::size_t rows = a.size(0), cols = a.size(1);
  return record(
      trace_info, std::move(out), {a},
      [](const Tangent& ta) { return trace(ta); },
      [rows, cols](const Tensor& g) -> Grads { return {g * eye(rows, cols, {.dtype = g.dtype()})}; },
      caller);
}

// C = A⁻¹;  A C = I  =>  dA C + A dC = 0  =>  dC = −C dA C
// tr(gCᵀ dC) = −tr(gCᵀ C dA C) = −tr((Cᵀ gC Cᵀ)ᵀ dA)  =>  gA = −Cᵀ gC Cᵀ
static const OpInfo inverse_info{"inverse", "dC = −C dA C", "tC = −C tA C", "gA = −Cᵀ gC Cᵀ", Saves::output,
    "C = A⁻¹"};
Tensor inverse(const Tensor& a, const SourceLocation& caller) {
  check_square("inverse", a);
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Lu<T> f = lu_factor("inverse", x);
    check_invertible("inverse", x, f);
    if (f.n() > 0) {
      const int info = xt::lapack::getri(f.lu, f.pivots);
      if (info != 0) fail<Error>("inverse: internal error: LAPACK getri returned {}", info);
    }
    auto inv = detail::allocating<T>(x.shape(), "inverse", [&] { return xt::xarray<T>(f.lu); });
    check_finite_result("inverse", x.shape(), inv);
    return inv;
  });
  return record(
      inverse_info, std::move(out), {a},
      [](const Tangent& ta, const JvpContext& ctx) {
        const Tensor& c = ctx.output;
        return -gemm(gemm(c, ta, false, false), c, false, false);
      },
      [](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor& c = ctx.output;
        return {-gemm(gemm(c, g, true, false), c, false, true)};
      },
      caller);
}

// A⁻ᵀ for det's rules. c A⁻ᵀ is the transposed adjugate, defined at singular A too; through
// the inverse it is not, so the rules refuse a singular A instead of returning noise.
static Tensor inverse_transpose(const Tensor& a, std::string_view who) {
  a.visit([&](const auto& x) { check_invertible(who, x, lu_factor("det", x)); });
  return t(inverse(a));
}

// c = det A;  dc = det A · tr(A⁻¹ dA) = tr((c A⁻ᵀ)ᵀ dA)  =>  gA = gc c A⁻ᵀ
static const OpInfo det_info{"det", "dc = c tr(A⁻¹ dA)", "tc = c Σ(A⁻ᵀ ⊙ tA)", "gA = gc c A⁻ᵀ",
                             Saves::inputs_and_output,
    "c = det(A)"};
Tensor det(const Tensor& a, const SourceLocation& caller) {
  check_square("det", a);
  Tensor out = detail::map_data(a, [](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const Lu<T> f = lu_factor("det", x);
    T value = static_cast<T>(f.pivot_sign());
    for (std::size_t i = 0; i < f.n(); ++i) value *= f.lu(i, i);
    return xt::xarray<T>(value);
  });
  return record(
      det_info, std::move(out), {a},
      [&](const Tangent& ta, const JvpContext& ctx) { return sum(inverse_transpose(a, "det (forward mode)") * ta) * ctx.output; },
      [a](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {(g * ctx.output) * inverse_transpose(a, "det (backward)")};
      },
      caller);
}

// c = log det A;  dc = tr(A⁻¹ dA)  =>  gA = gc A⁻ᵀ
static const OpInfo logdet_info{"logdet", "dc = tr(A⁻¹ dA)", "tc = Σ(A⁻ᵀ ⊙ tA)", "gA = gc A⁻ᵀ",
    "c = log(det(A))"};
Tensor logdet(const Tensor& a, const SourceLocation& caller) {
  check_square("logdet", a);
  Tensor out = detail::map_data(a, [](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const Lu<T> f = lu_factor("logdet", x);
    check_positive_det("logdet", x.shape(), f, true);
    return xt::xarray<T>(sign_logabsdet(f).second);
  });
  return record(
      logdet_info, std::move(out), {a},
      [&](const Tangent& ta) { return sum(t(inverse(a)) * ta); },
      [a](const Tensor& g) -> Grads { return {g * t(inverse(a))}; }, caller);
}

// c = log|det A|;  dc = tr(A⁻¹ dA) as for logdet (the sign is locally constant)  =>  gA = gc A⁻ᵀ
static const OpInfo slogdet_info{"slogdet", "dc = tr(A⁻¹ dA) for c = log|det A|",
                                 "tc = Σ(A⁻ᵀ ⊙ tA) (the sign has no tangent)",
                                 "gA = gc A⁻ᵀ (the sign has no gradient)",
    "c = log(|det(A)|)"};
SlogdetResult slogdet(const Tensor& a, const SourceLocation& caller) {
  check_square("slogdet", a);
  Tensor sign;
  Tensor logabsdet = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const Lu<T> f = lu_factor("slogdet", x);
    check_positive_det("slogdet", x.shape(), f, false);
    const auto [s, log_abs] = sign_logabsdet(f);
    sign = zero_d(a.dtype(), s);
    return xt::xarray<T>(log_abs);
  });
  logabsdet = record(
      slogdet_info, std::move(logabsdet), {a},
      [&](const Tangent& ta) { return sum(t(inverse(a)) * ta); },
      [a](const Tensor& g) -> Grads { return {g * t(inverse(a))}; }, caller);
  return {sign, logabsdet};
}

// X = A⁻¹ B;  A X = B  =>  dA X + A dX = dB  =>  dX = A⁻¹ (dB − dA X)
// tr(gXᵀ A⁻¹ dB) gives gB = A⁻ᵀ gX = solve(Aᵀ, gX); tr(−gXᵀ A⁻¹ dA X) gives gA = −gB Xᵀ
static const OpInfo solve_info{"solve", "dX = A⁻¹ (dB − dA X)", "tX = solve(A, tB − tA X)",
                               "gA = −A⁻ᵀ gX Xᵀ, gB = A⁻ᵀ gX", Saves::inputs_and_output,
    "X = A⁻¹ B"};
Tensor solve(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  check_square("solve", a);
  detail::check_same_dtype("solve", a, b);
  const std::size_t n = a.size(0);
  if ((b.dim() != 1 && b.dim() != 2) || b.size(0) != n) {
    fail<ShapeError>("solve: A of shape {} needs B of shape [{}] or [{}, k], got {}",
                     to_string(a.shape()), n, n, to_string(b.shape()));
  }
  Tensor out = detail::map_data2("solve", a, b, [&](const auto& x, const auto& y) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Lu<T> f = lu_factor("solve", x);
    check_invertible("solve", x, f);
    check_finite("solve", y);
    const std::size_t k = y.dimension() == 1 ? 1 : y.shape()[1];
    auto rhs = detail::allocating<T>({n, k}, "solve", [&] {
      return xt::xtensor<T, 2, xt::layout_type::column_major>({n, k});
    });
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < k; ++j) rhs(i, j) = y.data()[i * k + j];
    }
    if (n > 0 && k > 0) {
      const auto ld = static_cast<xt::blas_index_t>(n);
      const auto info = cxxlapack::getrs<xt::blas_index_t>(
          'N', ld, static_cast<xt::blas_index_t>(k), f.lu.data(), ld, f.pivots.data(),
          rhs.data(), ld);
      if (info != 0) fail<Error>("solve: internal error: LAPACK getrs returned {}", info);
    }
    auto x_out = detail::allocating<T>(y.shape(), "solve", [&] { return xt::xarray<T>(rhs); });
    x_out.reshape(y.shape());
    check_finite_result("solve", x.shape(), x_out);
    return x_out;
  });
  return record(
      solve_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb, const JvpContext& ctx) {
        const Tensor& x = ctx.output;
        const Tangent rhs = tb - ta.map([&](const Tensor& d) { return matmul(d, x); });
        return rhs.map([&](const Tensor& r) { return solve(a, r); });
      },
      [a](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor gb = solve(t(a), g);
        if (!ctx.needs[0]) return {Tensor(), gb};
        const Tensor& x = ctx.output;
        return {x.dim() == 1 ? -outer(gb, x) : -gemm(gb, x, false, true), gb};
      },
      caller);
}

// C = a bᵀ;  dC = da bᵀ + a dbᵀ  =>  ga = gC b,  gb = gCᵀ a
static const OpInfo outer_info{"outer", "dC = da bᵀ + a dbᵀ", "tC = ta bᵀ + a tbᵀ", "ga = gC b, gb = gCᵀ a",
    "C = a bᵀ"};
Tensor outer(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  detail::check_same_dtype("outer", a, b);
  if (a.dim() != 1 || b.dim() != 1) {
    fail<ShapeError>("outer: expects two vectors, got shapes {} and {}", to_string(a.shape()),
                     to_string(b.shape()));
  }
  Tensor out = detail::map_data2("outer", a, b, [](const auto& x, const auto& y) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto c = detail::empty_array<T>({x.size(), y.size()}, "outer");
    for (std::size_t i = 0; i < x.size(); ++i) {
      for (std::size_t j = 0; j < y.size(); ++j) c(i, j) = x(i) * y(j);
    }
    return c;
  });
  return record(
      outer_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb) { return unsqueeze(ta, 1) * b + unsqueeze(a, 1) * tb; },
      [a, b](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? matmul(g, b) : Tensor(), ctx.needs[1] ? matmul(t(g), a) : Tensor()};
      },
      caller);
}

// Vector -> matrix with it on diagonal k; matrix -> its diagonal k (torch.diag). The two are
// adjoint: each VJP is the other direction, with the matrix's shape restored.
static const OpInfo diag_info{"diag", "C = diag(a): dC = diag(da); c = diag(A): dc = diag(dA)",
                              "tC = diag(ta); tc = diag(tA)",
                              "ga = diag(gC); gA = diag(gc) placed in A's shape", Saves::nothing,
    "C = diag(a); c = diag(A)"};
Tensor diag(const Tensor& a, std::ptrdiff_t diagonal, const SourceLocation& caller) {
  check_defined("diag", a);
  if (a.dim() != 1 && a.dim() != 2) {
    fail<ShapeError>("diag: expects a vector or a matrix, got shape {}", to_string(a.shape()));
  }
  // Diagonal k starts at (r0, c0) and runs for `length` elements. |diagonal| in unsigned
  // arithmetic: −PTRDIFF_MIN does not fit a ptrdiff_t.
  const std::size_t k = diagonal < 0 ? std::size_t{0} - static_cast<std::size_t>(diagonal)
                                     : static_cast<std::size_t>(diagonal);
  const std::size_t r0 = diagonal < 0 ? k : 0, c0 = diagonal < 0 ? 0 : k;
  if (a.dim() == 1) {
    const std::size_t n = a.size(0);
    std::size_t size = 0;
    if (__builtin_add_overflow(n, k, &size)) {
      fail<ShapeError>("diag: a vector of {} elements on diagonal {} needs a matrix larger than "
                       "memory can address",
                       n, diagonal);
    }
    Tensor out = detail::map_data(a, [&](const auto& x) {
      using T = typename std::decay_t<decltype(x)>::value_type;
      auto c = detail::empty_array<T>({size, size}, "diag");  // checks size² before allocating
      std::fill(c.data(), c.data() + c.size(), T(0));
      for (std::size_t i = 0; i < n; ++i) c(r0 + i, c0 + i) = x(i);
      return c;
    });
    return record(
        diag_info, std::move(out), {a},
        [&](const Tangent& ta) { return ta.map([&](const Tensor& d) { return diag(d, diagonal); }); },
        [diagonal](const Tensor& g) -> Grads { return {diag(g, diagonal)}; }, caller);
  }
  const std::size_t rows = a.size(0), cols = a.size(1);
  const std::size_t length =
      r0 < rows && c0 < cols ? std::min(rows - r0, cols - c0) : std::size_t{0};
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto c = detail::empty_array<T>({length}, "diag");
    for (std::size_t i = 0; i < length; ++i) c(i) = x(r0 + i, c0 + i);
    return c;
  });
  std::vector<std::size_t> flat(length);  // the diagonal's positions in the flattened matrix
  for (std::size_t i = 0; i < length; ++i) flat[i] = (r0 + i) * cols + c0 + i;
  return record(
      diag_info, std::move(out), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& d) { return diag(d, diagonal); }); },
      [rows, cols, flat = std::move(flat)](const Tensor& g) -> Grads {
        const Tensor placed = index_add(zeros({rows * cols}, {.dtype = g.dtype()}), 0, flat, g);
        return {reshape(placed, Shape{rows, cols})};
      },
      caller);
}

}  // namespace matgrad
