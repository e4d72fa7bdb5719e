// Logarithms, exponentials and special functions. Each has a rule of its own rather than a
// composition: log1p and expm1 keep the digits that log(1 + x) and exp(x) − 1 lose near 0;
// log2, log10 and exp2 are the C library's, correctly rounded where log(x) / ln 10 is not;
// rsqrt and reciprocal are one pass where pow(x, −½) and 1 / x take two or the same. The
// derivatives are written with matgrad ops, so each differentiates again: digamma's needs
// trigamma, polygamma(1, x), whose own needs polygamma(2, x), and so on (one kernel for all n).
// The C library has no digamma, polygamma or erfinv: they are series written here, tested
// against known values in tests/test_elementwise_values.cpp.
#include "pointwise.hpp"

#include <cmath>
#include <limits>
#include <numbers>

namespace matgrad {

using detail::record_slope;
using detail::record_slope_of_output;
using detail::unary;

static const OpInfo log1p_info{"log1p", "dC = dA ⊘ (1 + A)", "tC = tA ⊘ (1 + A)", "gA = gC ⊘ (1 + A)",
    "C = log(1 + A)"};
Tensor log1p(const Tensor& a, const SourceLocation& caller) {
  return record_slope(log1p_info, unary("log1p", a, [](auto v) { return std::log1p(v); }), a,
                      [](const Tensor& x) { return reciprocal(x + 1.0); }, caller);
}

static const OpInfo expm1_info{"expm1", "dC = (C + 1) ⊙ dA", "tC = (C + 1) ⊙ tA", "gA = gC ⊙ (C + 1)",
                               Saves::output,
    "C = exp(A) − 1"};
Tensor expm1(const Tensor& a, const SourceLocation& caller) {
  return record_slope_of_output(expm1_info, unary("expm1", a, [](auto v) { return std::expm1(v); }), a,
                                [](const Tensor& c) { return c + 1.0; }, caller);
}

static const OpInfo log2_info{"log2", "dC = dA ⊘ (A ln 2)", "tC = tA ⊘ (A ln 2)", "gA = gC ⊘ (A ln 2)",
    "C = log2(A)"};
Tensor log2(const Tensor& a, const SourceLocation& caller) {
  return record_slope(log2_info, unary("log2", a, [](auto v) { return std::log2(v); }), a,
                      [](const Tensor& x) { return reciprocal(x * std::numbers::ln2); }, caller);
}

static const OpInfo log10_info{"log10", "dC = dA ⊘ (A ln 10)", "tC = tA ⊘ (A ln 10)",
                               "gA = gC ⊘ (A ln 10)",
    "C = log10(A)"};
Tensor log10(const Tensor& a, const SourceLocation& caller) {
  return record_slope(log10_info, unary("log10", a, [](auto v) { return std::log10(v); }), a,
                      [](const Tensor& x) { return reciprocal(x * std::numbers::ln10); }, caller);
}

static const OpInfo exp2_info{"exp2", "dC = C ln 2 ⊙ dA", "tC = C ln 2 ⊙ tA", "gA = gC ⊙ C ln 2",
                              Saves::output,
    "C = 2^A"};
Tensor exp2(const Tensor& a, const SourceLocation& caller) {
  return record_slope_of_output(exp2_info, unary("exp2", a, [](auto v) { return std::exp2(v); }), a,
                                [](const Tensor& c) { return c * std::numbers::ln2; }, caller);
}

// rsqrt(0) = +∞ and its derivative −∞, as in PyTorch.
static const OpInfo rsqrt_info{"rsqrt", "dC = −½ C³ ⊙ dA", "tC = −½ C³ ⊙ tA", "gA = −½ gC ⊙ C³",
                               Saves::output,
    "C = 1 ⊘ √A"};
Tensor rsqrt(const Tensor& a, const SourceLocation& caller) {
  return record_slope_of_output(rsqrt_info, unary("rsqrt", a, [](auto v) { return 1 / std::sqrt(v); }), a,
                                [](const Tensor& c) { return -0.5 * (c * square(c)); }, caller);
}

static const OpInfo reciprocal_info{"reciprocal", "dC = −C² ⊙ dA", "tC = −C² ⊙ tA", "gA = −gC ⊙ C²",
                                    Saves::output,
    "C = 1 ⊘ A"};
Tensor reciprocal(const Tensor& a, const SourceLocation& caller) {
  return record_slope_of_output(reciprocal_info, unary("reciprocal", a, [](auto v) { return 1 / v; }), a,
                                [](const Tensor& c) { return -square(c); }, caller);
}

// 2/√π e^(−A²): erf's derivative, and −erfc's.
static Tensor erf_slope(const Tensor& x) {
  return std::numbers::inv_sqrtpi * 2.0 * exp(-square(x));
}

static const OpInfo erf_info{"erf", "dC = 2/√π e^(−A²) ⊙ dA", "tC = 2/√π e^(−A²) ⊙ tA",
                             "gA = gC ⊙ 2/√π e^(−A²)",
    "C = erf(A)"};
Tensor erf(const Tensor& a, const SourceLocation& caller) {
  return record_slope(erf_info, unary("erf", a, [](auto v) { return std::erf(v); }), a, erf_slope, caller);
}

static const OpInfo erfc_info{"erfc", "dC = −2/√π e^(−A²) ⊙ dA", "tC = −2/√π e^(−A²) ⊙ tA",
                              "gA = −gC ⊙ 2/√π e^(−A²)",
    "C = 1 − erf(A)"};
Tensor erfc(const Tensor& a, const SourceLocation& caller) {
  return record_slope(erfc_info, unary("erfc", a, [](auto v) { return std::erfc(v); }), a,
                      [](const Tensor& x) { return -erf_slope(x); }, caller);
}

// erfinv(y): Giles' single-precision approximation ("Approximating the erfinv function", GPU
// Computing Gems, 2011), then two Newton steps on erf(x) = y, which take it to double
// precision. ±1 give ±∞ and |y| > 1 NaN, as in PyTorch.
template <class T>
static T erfinv_value(T value) {
  const double y = static_cast<double>(value);
  if (std::isnan(y) || std::abs(y) > 1) return std::numeric_limits<T>::quiet_NaN();
  if (std::abs(y) == 1) return static_cast<T>(std::copysign(std::numeric_limits<double>::infinity(), y));
  double w = -std::log((1 - y) * (1 + y));
  double p;
  if (w < 5) {
    w -= 2.5;
    p = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941}) {
      p = c + p * w;
    }
  } else {
    w = std::sqrt(w) - 3;
    p = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682}) {
      p = c + p * w;
    }
  }
  double x = p * y;
  for (int step = 0; step < 2; ++step) {
    const double slope = 2 * std::numbers::inv_sqrtpi * std::exp(-x * x);
    if (slope == 0) break;  // |x| ≳ 27: erf(x) is ±1 in double, nothing to refine
    x -= (std::erf(x) - y) / slope;
  }
  return static_cast<T>(x);
}

// erfinv'(y) = 1 / erf'(erfinv(y)) = √π/2 e^(C²).
static const OpInfo erfinv_info{"erfinv", "dC = √π/2 e^(C²) ⊙ dA", "tC = √π/2 e^(C²) ⊙ tA",
                                "gA = gC ⊙ √π/2 e^(C²)", Saves::output,
    "C = erfinv(A)"};
Tensor erfinv(const Tensor& a, const SourceLocation& caller) {
  return record_slope_of_output(
      erfinv_info, unary("erfinv", a, [](auto v) { return erfinv_value(v); }), a,
      [](const Tensor& c) { return (0.5 / std::numbers::inv_sqrtpi) * exp(square(c)); }, caller);
}

// lgamma_r: std::lgamma may write the global signgam, a data race between threads.
static double lgamma_value(double v) {
  int sign = 0;
  return ::lgamma_r(v, &sign);
}
static float lgamma_value(float v) {
  int sign = 0;
  return ::lgammaf_r(v, &sign);
}

static const OpInfo lgamma_info{"lgamma", "dC = ψ(A) ⊙ dA", "tC = ψ(A) ⊙ tA", "gA = gC ⊙ ψ(A)",
    "C = log(|Γ(A)|)"};
Tensor lgamma(const Tensor& a, const SourceLocation& caller) {
  return record_slope(lgamma_info, unary("lgamma", a, [](auto v) { return lgamma_value(v); }), a,
                      [](const Tensor& x) { return digamma(x); }, caller);
}

// ψ(x), as PyTorch computes it (Cephes' psi): the reflection ψ(x) = ψ(1 − x) − π / tan(πx) for
// x < 0, the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic series
// ψ(x) ~ ln x − 1/(2x) − Σₖ B₂ₖ / (2k x²ᵏ).
static double digamma_value(double x) {
  if (x == 0) return std::copysign(std::numeric_limits<double>::infinity(), -x);
  if (x < 0) {
    if (x == std::trunc(x)) return std::numeric_limits<double>::quiet_NaN();
    double whole;
    const double r = std::modf(x, &whole);  // tan(πr) is more accurate than tan(πx)
    return digamma_value(1 - x) - std::numbers::pi / std::tan(std::numbers::pi * r);
  }
  double result = 0;
  while (x < 10) {
    result -= 1 / x;
    x += 1;
  }
  if (x == 10) return result + 2.25175258906672110764;  // ψ(10)
  // B₂ₖ / 2k for k = 7 .. 1, highest first (Horner in 1/x²).
  static constexpr double kB[] = {8.33333333333333333333E-2, -2.10927960927960927961E-2,
                                  7.57575757575757575758E-3, -4.16666666666666666667E-3,
                                  3.96825396825396825397E-3, -8.33333333333333333333E-3,
                                  8.33333333333333333333E-2};
  double y = 0;
  if (x < 1.0e17) {
    const double z = 1 / (x * x);
    double p = 0;
    for (double c : kB) p = p * z + c;
    y = z * p;
  }
  return result + std::log(x) - 0.5 / x - y;
}

// ψ⁽ⁿ⁾(x) for n ≥ 1: the recurrence ψ⁽ⁿ⁾(x) = ψ⁽ⁿ⁾(x + 1) + (−1)ⁿ⁺¹ n! / xⁿ⁺¹ up to x ≥ 20 + n
// (for negative x too), then the asymptotic series
// ψ⁽ⁿ⁾(x) ~ (−1)ⁿ⁺¹ [(n−1)!/xⁿ + n!/(2xⁿ⁺¹) + Σₖ B₂ₖ (2k+n−1)! / ((2k)! x²ᵏ⁺ⁿ)].
// At the poles (0, −1, −2, ...) it is (−1)ⁿ⁺¹ ∞, as PyTorch's.
static double polygamma_value(int n, double x) {
  const double sign = n % 2 == 1 ? 1.0 : -1.0;
  if (std::isnan(x)) return x;
  if (x <= 0 && x == std::trunc(x)) return sign * std::numeric_limits<double>::infinity();
  double n_factorial = 1;
  for (int k = 2; k <= n; ++k) n_factorial *= k;
  double total = 0;
  const double start = 20.0 + n;
  for (; x < start; x += 1) total += n_factorial / std::pow(x, n + 1);
  static constexpr double kBernoulli[] = {1.0 / 6,  -1.0 / 30,     1.0 / 42,      -1.0 / 30,
                                          5.0 / 66, -691.0 / 2730, 7.0 / 6,       -3617.0 / 510,
                                          43867.0 / 798, -174611.0 / 330};
  const double xn = std::pow(x, n);
  double series = n_factorial / n / xn + n_factorial / (2 * xn * x);
  double ratio = n_factorial / n;  // (2k + n − 1)! / (2k)!, from k = 0: (n − 1)!
  double power = xn;               // x^(2k + n)
  for (int k = 1; k <= 10; ++k) {
    ratio *= static_cast<double>(2 * k + n - 2) * (2 * k + n - 1) / ((2.0 * k - 1) * (2.0 * k));
    power *= x * x;
    series += kBernoulli[k - 1] * ratio / power;
  }
  return sign * (total + series);
}

static const OpInfo digamma_info{"digamma", "dC = ψ⁽¹⁾(A) ⊙ dA", "tC = ψ⁽¹⁾(A) ⊙ tA",
                                 "gA = gC ⊙ ψ⁽¹⁾(A)",
    "C = ψ(A)"};
Tensor digamma(const Tensor& a, const SourceLocation& caller) {
  Tensor out = unary("digamma", a, [](auto v) {
    return static_cast<decltype(v)>(digamma_value(static_cast<double>(v)));
  });
  return record_slope(digamma_info, std::move(out), a,
                      [](const Tensor& x) { return polygamma(1, x); }, caller);
}

static const OpInfo polygamma_info{"polygamma", "dC = ψ⁽ⁿ⁺¹⁾(A) ⊙ dA", "tC = ψ⁽ⁿ⁺¹⁾(A) ⊙ tA",
                                   "gA = gC ⊙ ψ⁽ⁿ⁺¹⁾(A)",
    "C = ψ⁽ⁿ⁾(A)"};
Tensor polygamma(int n, const Tensor& a, const SourceLocation& caller) {
  if (n < 0) fail<ValueError>("polygamma: n must be non-negative, got {}", n);
  if (n == 0) return digamma(a, caller);
  Tensor out = unary("polygamma", a, [n](auto v) {
    return static_cast<decltype(v)>(polygamma_value(n, static_cast<double>(v)));
  });
  return record_slope(polygamma_info, std::move(out), a,
                      [n](const Tensor& x) { return polygamma(n + 1, x); }, caller);
}

// C = X log Y, and 0 where X = 0 unless Y is NaN. PyTorch's rules: gX = gC xlogy([X ≠ 0], Y)
// (log Y, but 0 where X = 0, also at Y = 0), gY = gC X ⊘ Y.
static Tensor nonzero_mask(const Tensor& x) {
  return detail::mask_of("xlogy", x, [](auto v) { return v != 0; });
}

static const OpInfo xlogy_info{"xlogy", "dC = log Y ⊙ dX + X ⊘ Y ⊙ dY",
                               "tC = xlogy([X ≠ 0], Y) ⊙ tX + X ⊘ Y ⊙ tY",
                               "gX = gC ⊙ xlogy([X ≠ 0], Y), gY = gC ⊙ X ⊘ Y",
    "C = X ⊙ log Y"};
Tensor xlogy(const Tensor& x, const Tensor& y, const SourceLocation& caller) {
  Tensor out = detail::binary("xlogy", x, y, [](auto u, auto v) {
    if (std::isnan(v)) return v;
    return u == 0 ? decltype(u)(0) : u * std::log(v);
  });
  return record(
      xlogy_info, std::move(out), {x, y},
      [&](const Tangent& tx, const Tangent& ty) {
        return (tx ? xlogy(nonzero_mask(x), y) * tx : tx) + (ty ? (x / y) * ty : ty);
      },
      [x, y](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * xlogy(nonzero_mask(x), y) : Tensor(), ctx.needs[1] ? g * x / y : Tensor()};
      },
      caller);
}

}  // namespace matgrad
