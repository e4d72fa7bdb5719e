// torch.linalg.matrix_exp, batched over leading dims: its own rule, since composing e^A from a
// truncated series would lose accuracy and the Fréchet derivative is best had from the block
// identity below (torch's backward). Forward: Higham's scaling and squaring with Padé
// approximants of degree 3, 5, 7, 9 or 13 (SIAM J. Matrix Anal. Appl. 26(4), 2005), in double.
// Backward: for M = [[Aᵀ, G], [0, Aᵀ]], e^M = [[e^{Aᵀ}, L(Aᵀ, G)], [0, e^{Aᵀ}]], and
// tr(Gᵀ dC) = tr(L(Aᵀ, G)ᵀ dA): gA is the top-right block of matrix_exp(M), written with
// matrix_exp itself (so it differentiates again); the JVP is the same block for [[A, tA], [0, A]].
#include "../blas.hpp"
#include "common.hpp"

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xtensor.hpp>

#include <array>
#include <cmath>
#include <vector>

namespace matgrad {

namespace {

using Matrix = xt::xtensor<double, 2>;

Matrix product(const Matrix& a, const Matrix& b) {
  const std::size_t n = a.shape()[0];
  Matrix c = xt::zeros<double>({n, n});
  detail::gemm(false, false, n, n, n, a.data(), n, b.data(), n, 0.0, c.data(), n);
  return c;
}

// Higham 2005, table 2.3 and the coefficients b_k of the [m/m] Padé approximants.
constexpr std::array<double, 4> theta{1.495585217958292e-2, 2.539398330063230e-1, 9.504178996162932e-1,
                                      2.097847961257068e0};
constexpr double theta13 = 5.371920351148152e0;
constexpr std::array<double, 4> b3{120, 60, 12, 1};
constexpr std::array<double, 6> b5{30240, 15120, 3360, 420, 30, 1};
constexpr std::array<double, 8> b7{17297280, 8648640, 1995840, 277200, 25200, 1512, 56, 1};
constexpr std::array<double, 10> b9{17643225600, 8821612800, 2075673600, 302702400, 30270240,
                                    2162160,     110880,     3960,       90,        1};
constexpr std::array<double, 14> b13{64764752532480000., 32382376266240000., 7771770303897600.,
                                     1187353796428800.,  129060195264000.,   10559470521600.,
                                     670442572800.,      33522128640.,       1323241920.,
                                     40840800.,          960960.,            16380.,
                                     182.,               1.};

// U (odd terms) and V (even terms) of a low-degree Padé approximant, from the powers A^0, A^2, ...
template <std::size_t N>
void low_degree(const Matrix& a, const std::vector<Matrix>& even_powers, const std::array<double, N>& b, Matrix& u,
                Matrix& v) {
  Matrix odd = xt::zeros<double>(a.shape());
  v = xt::zeros<double>(a.shape());
  for (std::size_t k = 0; k < N / 2; ++k) {
    odd += b[2 * k + 1] * even_powers[k];
    v += b[2 * k] * even_powers[k];
  }
  u = product(a, odd);
}

Matrix expm(Matrix a) {
  const std::size_t n = a.shape()[0];
  if (n == 0) return a;
  double norm1 = 0;
  for (std::size_t j = 0; j < n; ++j) {
    double column = 0;
    for (std::size_t i = 0; i < n; ++i) column += std::abs(a(i, j));
    norm1 = std::max(norm1, column);
  }
  if (!std::isfinite(norm1)) return Matrix(xt::full_like(a, std::nan("")));
  const Matrix identity = xt::eye<double>(n);
  const Matrix a2 = product(a, a);
  Matrix u, v;
  int squarings = 0;
  if (norm1 <= theta[3]) {
    std::vector<Matrix> powers{identity, a2};
    if (norm1 > theta[0]) powers.push_back(product(a2, a2));
    if (norm1 > theta[1]) powers.push_back(product(powers[2], a2));
    if (norm1 > theta[2]) powers.push_back(product(powers[3], a2));
    if (norm1 <= theta[0]) low_degree(a, powers, b3, u, v);
    else if (norm1 <= theta[1]) low_degree(a, powers, b5, u, v);
    else if (norm1 <= theta[2]) low_degree(a, powers, b7, u, v);
    else low_degree(a, powers, b9, u, v);
  } else {
    squarings = std::max(0, static_cast<int>(std::ceil(std::log2(norm1 / theta13))));
    const double scale = std::ldexp(1.0, -squarings);
    a *= scale;
    const Matrix s2 = a2 * (scale * scale);
    const Matrix s4 = product(s2, s2), s6 = product(s4, s2);
    const Matrix w = b13[13] * s6 + b13[11] * s4 + b13[9] * s2;
    u = product(a, Matrix(product(s6, w) + b13[7] * s6 + b13[5] * s4 + b13[3] * s2 + b13[1] * identity));
    const Matrix z = b13[12] * s6 + b13[10] * s4 + b13[8] * s2;
    v = product(s6, z) + b13[6] * s6 + b13[4] * s4 + b13[2] * s2 + b13[0] * identity;
  }
  // (V − U) R = V + U.
  Matrix r = xt::linalg::solve(Matrix(v - u), Matrix(v + u));
  for (int k = 0; k < squarings; ++k) r = product(r, r);
  return r;
}

// The top-right n×n block of matrix_exp([[X, Y], [0, X]]) (the Fréchet derivative of e^· at X
// in the direction Y), for X and Y of one shape [..., n, n].
Tensor frechet(const Tensor& x, const Tensor& y, const SourceLocation& caller) {
  const std::size_t n = x.shape().back();
  const Tensor top = concat({x, y}, -1, caller);
  const Tensor bottom = concat({zeros_like(x), x}, -1, caller);
  const Tensor e = matrix_exp(concat({top, bottom}, -2, caller), caller);
  return slice(slice(e, -2, std::size_t{0}, n, 1, caller), -1, n, 2 * n, 1, caller);
}

}  // namespace

// expm_frechet(X, Y) is the top-right block of the exponential of the block matrix [X Y; 0 X].
static const OpInfo matrix_exp_info{
    "matrix_exp", "dC = expm_frechet(A, dA) (the top-right block of the exponential of rows A dA and 0 A)",
    "tC = expm_frechet(A, tA)",
    "gA = expm_frechet(Aᵀ, gC) (the top-right block of the exponential of rows Aᵀ gC and 0 Aᵀ)",
    "C = matrix_exp(A)"};
Tensor matrix_exp(const Tensor& a, const SourceLocation& caller) {
  detail::check_defined("matrix_exp", a);
  if (a.dim() < 2 || a.shape()[a.dim() - 1] != a.shape()[a.dim() - 2]) {
    fail<ShapeError>("matrix_exp: expects square matrices [..., n, n], got shape {}", to_string(a.shape()));
  }
  const std::size_t n = a.shape().back();
  const std::size_t count = n == 0 ? 0 : a.numel() / (n * n);
  detail::prepare_blas();
  Tensor out = a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor y = detail::empty_tensor<T>(a.shape(), "matrix_exp");
    T* dst = detail::elements_of<T>(y);
    for (std::size_t b = 0; b < count; ++b) {
      Matrix m = xt::zeros<double>({n, n});
      std::copy(x.data() + b * n * n, x.data() + (b + 1) * n * n, m.data());
      const Matrix e = expm(std::move(m));
      std::transform(e.begin(), e.end(), dst + b * n * n, [](double v) { return static_cast<T>(v); });
    }
    return y;
  });
  return record(
      matrix_exp_info, std::move(out), {a},
      [&](const Tangent& ta) {
        return ta.map([&](const Tensor& t) { return frechet(a, t, caller); });
      },
      [a, caller](const Tensor& g) -> Grads {
        return {frechet(transpose(a, -2, -1, caller), g, caller)};
      },
      caller);
}

}  // namespace matgrad
