// Matrix functions from the Matrix Cookbook: trace, inverse, det, logdet, slogdet, solve, outer
// and diag; the LU-based ones batched over leading dims ([*, n, n]). The factorisations run in LAPACK through xtensor-blas; every VJP is written with
// matgrad's own ops, so these gradients can be differentiated again.
#include "lapack.hpp"
#include <xtensor/xtensor.hpp>

#include <cmath>
#include <limits>
#include <vector>

namespace matgrad {

using detail::check_defined;

namespace {

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
void check_finite_result(std::string_view op, const Shape& shape, const Array<T>& r) {
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

// Each matrix of a batch [*, n, n] as a 2-D array of its own, with the name the errors give it
// (the op, and the batch element when there is a batch, as torch's errors).
template <class T>
struct BatchMatrix {
  Array<T> matrix;
  std::string op;
};
template <class T, class F>
void for_each_matrix(std::string_view op, const Array<T>& x, const detail::MatrixBatch& b, F&& f) {
  const std::size_t n = b.rows;
  for (std::size_t i = 0; i < b.count; ++i) {
    BatchMatrix<T> m{detail::empty_array<T>({n, n}, op), fmt::format("{}{}", op, detail::batch_element(b, i))};
    std::copy(x.data() + i * n * n, x.data() + (i + 1) * n * n, m.matrix.data());
    f(i, m);
  }
}

// For the scalar-per-matrix results (det, logdet): gc [*] broadcast against [*, n, n].
static Tensor per_matrix(const Tensor& g) { return unsqueeze(unsqueeze(g, -1), -1); }

// C = A⁻¹;  A C = I  =>  dA C + A dC = 0  =>  dC = −C dA C
// tr(gCᵀ dC) = −tr(gCᵀ C dA C) = −tr((Cᵀ gC Cᵀ)ᵀ dA)  =>  gA = −Cᵀ gC Cᵀ
static const OpInfo inverse_info{"inverse", "dC = −C dA C", "tC = −C tA C", "gA = −Cᵀ gC Cᵀ", Saves::output,
    "C = A⁻¹"};
Tensor inverse(const Tensor& a, const SourceLocation& caller) {
  const detail::MatrixBatch batch = detail::square_batch("inverse", a);
  const std::size_t n = batch.rows;
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto inv = detail::empty_array<T>(x.shape(), "inverse");
    for_each_matrix("inverse", x, batch, [&](std::size_t i, const BatchMatrix<T>& m) {
      Lu<T> f = lu_factor(m.op, m.matrix);
      check_invertible(m.op, m.matrix, f);
      if (n > 0) {
        const int info = xt::lapack::getri(f.lu, f.pivots);
        if (info != 0) fail<Error>("inverse: internal error: LAPACK getri returned {}", info);
      }
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t c = 0; c < n; ++c) inv.data()[i * n * n + r * n + c] = f.lu(r, c);
      }
    });
    check_finite_result("inverse", x.shape(), inv);
    return inv;
  });
  return record(
      inverse_info, std::move(out), {a},
      [](const Tangent& ta, const JvpContext& ctx) {
        const Tensor& c = ctx.output;
        return ta.map([&](const Tensor& d) { return -matmul(matmul(c, d), c); });
      },
      [](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor ct = detail::mT(ctx.output);
        return {-matmul(matmul(ct, g), ct)};
      },
      caller);
}

// A⁻ᵀ for det's rules. c A⁻ᵀ is the transposed adjugate, defined at singular A too; through
// the inverse it is not, so the rules refuse a singular A instead of returning noise.
static Tensor inverse_transpose(const Tensor& a, std::string_view who) {
  const detail::MatrixBatch batch = detail::square_batch(who, a);
  a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    for_each_matrix(who, x, batch, [&](std::size_t, const BatchMatrix<T>& m) {
      check_invertible(m.op, m.matrix, lu_factor(m.op, m.matrix));
    });
  });
  return detail::mT(inverse(a));
}

// c = det A;  dc = det A · tr(A⁻¹ dA) = tr((c A⁻ᵀ)ᵀ dA)  =>  gA = gc c A⁻ᵀ
static const OpInfo det_info{"det", "dc = c tr(A⁻¹ dA)", "tc = c Σ(A⁻ᵀ ⊙ tA)", "gA = gc c A⁻ᵀ",
                             Saves::inputs_and_output,
    "c = det(A)"};
Tensor det(const Tensor& a, const SourceLocation& caller) {
  const detail::MatrixBatch batch = detail::square_batch("det", a);
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto values = detail::empty_array<T>(batch.batch, "det");
    for_each_matrix("det", x, batch, [&](std::size_t i, const BatchMatrix<T>& m) {
      const Lu<T> f = lu_factor(m.op, m.matrix);
      T value = static_cast<T>(f.pivot_sign());
      for (std::size_t r = 0; r < f.n(); ++r) value *= f.lu(r, r);
      values.data()[i] = value;
    });
    return values;
  });
  return record(
      det_info, std::move(out), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        const Tensor it = inverse_transpose(a, "det (forward mode)");
        return ta.map([&](const Tensor& d) { return sum(it * d, {-2, -1}) * ctx.output; });
      },
      [a](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {per_matrix(g * ctx.output) * inverse_transpose(a, "det (backward)")};
      },
      caller);
}

// log|det A| (and its sign) of each matrix, refusing what has no real logarithm when `op` needs
// a positive determinant.
template <class T>
static void sign_logabsdet_batch(std::string_view op, const Array<T>& x, const detail::MatrixBatch& batch,
                                 bool need_positive, T* sign, T* log_abs) {
  for_each_matrix(op, x, batch, [&](std::size_t i, const BatchMatrix<T>& m) {
    const Lu<T> f = lu_factor(m.op, m.matrix);
    check_positive_det(m.op, m.matrix.shape(), f, need_positive);
    const auto [s, l] = sign_logabsdet(f);
    if (sign) sign[i] = s;
    log_abs[i] = l;
  });
}

// c = log det A;  dc = tr(A⁻¹ dA)  =>  gA = gc A⁻ᵀ
static const OpInfo logdet_info{"logdet", "dc = tr(A⁻¹ dA)", "tc = Σ(A⁻ᵀ ⊙ tA)", "gA = gc A⁻ᵀ",
    "c = log(det(A))"};
Tensor logdet(const Tensor& a, const SourceLocation& caller) {
  const detail::MatrixBatch batch = detail::square_batch("logdet", a);
  Tensor out = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto values = detail::empty_array<T>(batch.batch, "logdet");
    sign_logabsdet_batch<T>("logdet", x, batch, true, nullptr, values.data());
    return values;
  });
  return record(
      logdet_info, std::move(out), {a},
      [&](const Tangent& ta) {
        const Tensor it = detail::mT(inverse(a));
        return ta.map([&](const Tensor& d) { return sum(it * d, {-2, -1}); });
      },
      [a](const Tensor& g) -> Grads { return {per_matrix(g) * detail::mT(inverse(a))}; }, caller);
}

// c = log|det A|;  dc = tr(A⁻¹ dA) as for logdet (the sign is locally constant)  =>  gA = gc A⁻ᵀ
static const OpInfo slogdet_info{"slogdet", "dc = tr(A⁻¹ dA) for c = log|det A|",
                                 "tc = Σ(A⁻ᵀ ⊙ tA) (the sign has no tangent)",
                                 "gA = gc A⁻ᵀ (the sign has no gradient)",
    "c = log(|det(A)|)"};
SlogdetResult slogdet(const Tensor& a, const SourceLocation& caller) {
  const detail::MatrixBatch batch = detail::square_batch("slogdet", a);
  Tensor sign;
  Tensor logabsdet = detail::map_data(a, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto values = detail::empty_array<T>(batch.batch, "slogdet");
    auto signs = detail::empty_array<T>(batch.batch, "slogdet");
    sign_logabsdet_batch<T>("slogdet", x, batch, false, signs.data(), values.data());
    sign = Tensor(std::move(signs));
    return values;
  });
  logabsdet = record(
      slogdet_info, std::move(logabsdet), {a},
      [&](const Tangent& ta) {
        const Tensor it = detail::mT(inverse(a));
        return ta.map([&](const Tensor& d) { return sum(it * d, {-2, -1}); });
      },
      [a](const Tensor& g) -> Grads { return {per_matrix(g) * detail::mT(inverse(a))}; }, caller);
  return {sign, logabsdet};
}

// X = A⁻¹ B;  A X = B  =>  dA X + A dX = dB  =>  dX = A⁻¹ (dB − dA X)
// tr(gXᵀ A⁻¹ dB) gives gB = A⁻ᵀ gX = solve(Aᵀ, gX); tr(−gXᵀ A⁻¹ dA X) gives gA = −gB Xᵀ
static const OpInfo solve_info{"solve", "dX = A⁻¹ (dB − dA X)", "tX = solve(A, tB − tA X)",
                               "gA = −A⁻ᵀ gX Xᵀ, gB = A⁻ᵀ gX", Saves::inputs_and_output,
    "X = A⁻¹ B"};
Tensor solve(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  const detail::MatrixBatch batch = detail::square_batch("solve", a);
  detail::check_same_dtype("solve", a, b);
  const std::size_t n = batch.rows;
  // B is a batch of vectors [*, n] when it is 1-D, or has A's shape without its last dim (as
  // torch.linalg.solve reads it); otherwise a batch of matrices [*, n, k].
  const bool vectors = b.dim() == 1 || (b.dim() == a.dim() - 1 && std::equal(b.shape().begin(), b.shape().end(), a.shape().begin()));
  if (b.dim() == 0 || (vectors && b.size(-1) != n) || (!vectors && b.size(-2) != n)) {
    fail<ShapeError>("solve: A of shape {} needs B of shape [*, {}] or [*, {}, k], got {}", to_string(a.shape()), n, n,
                     to_string(b.shape()));
  }
  if (vectors && b.dim() > 1) return squeeze(solve(a, unsqueeze(b, -1, caller), caller), -1, caller);
  if (!vectors) {
    const Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
    if (ba != bb) {  // the leading dims broadcast, as torch's
      const Shape common = detail::broadcast_shapes("solve", ba, bb);
      Shape sa = common, sb = common;
      sa.insert(sa.end(), {n, n});
      sb.insert(sb.end(), {n, b.size(-1)});
      return solve(broadcast_to(a, sa, caller), broadcast_to(b, sb, caller), caller);
    }
  }
  if (vectors && a.dim() > 2) {
    fail<ShapeError>("solve: a batch of A {} with a vector B {} (give B as [*, {}])", to_string(a.shape()),
                     to_string(b.shape()), n);
  }
  Tensor out = detail::map_data2("solve", a, b, [&](const auto& x, const auto& y) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    check_finite("solve", y);
    const std::size_t k = vectors ? 1 : y.shape().back();
    auto x_out = detail::empty_array<T>(y.shape(), "solve");
    for_each_matrix("solve", x, batch, [&](std::size_t i, const BatchMatrix<T>& m) {
      Lu<T> f = lu_factor(m.op, m.matrix);
      check_invertible(m.op, m.matrix, f);
      auto rhs = detail::allocating<T>({n, k}, "solve", [&] {
        return xt::xtensor<T, 2, xt::layout_type::column_major>({n, k});
      });
      const T* src = y.data() + i * n * k;
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t j = 0; j < k; ++j) rhs(r, j) = src[r * k + j];
      }
      if (n > 0 && k > 0) {
        const auto ld = static_cast<xt::blas_index_t>(n);
        const auto info = cxxlapack::getrs<xt::blas_index_t>(
            'N', ld, static_cast<xt::blas_index_t>(k), f.lu.data(), ld, f.pivots.data(), rhs.data(), ld);
        if (info != 0) fail<Error>("solve: internal error: LAPACK getrs returned {}", info);
      }
      T* dst = x_out.data() + i * n * k;
      for (std::size_t r = 0; r < n; ++r) {
        for (std::size_t j = 0; j < k; ++j) dst[r * k + j] = rhs(r, j);
      }
    });
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
        const Tensor gb = solve(detail::mT(a), g);
        if (!ctx.needs[0]) return {Tensor(), gb};
        const Tensor& x = ctx.output;
        return {x.dim() == 1 ? -outer(gb, x) : -matmul(gb, detail::mT(x)), gb};
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
