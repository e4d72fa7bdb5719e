// Trigonometric and hyperbolic functions and their inverses: the forward is the C library's,
// and each derivative f'(A) is written with matgrad ops (record_slope), so it differentiates
// again. At the ends of a domain the derivative is what the formula gives, as in PyTorch:
// asin'(±1) = +∞, acosh'(1) = +∞, atanh'(±1) = +∞; outside it, NaN.
#include "pointwise.hpp"

#include <cmath>

namespace matgrad {

using detail::record_slope;
using detail::record_slope_of_output;
using detail::unary;

static const OpInfo sin_info{"sin", "dC = cos(A) ⊙ dA", "tC = cos(A) ⊙ tA", "gA = gC ⊙ cos(A)",
    "C = sin(A)"};
Tensor sin(const Tensor& a, const SourceLocation& caller) {
  return record_slope(sin_info, unary("sin", a, [](auto v) { return std::sin(v); }), a,
                      [](const Tensor& x) { return cos(x); }, caller);
}

static const OpInfo cos_info{"cos", "dC = −sin(A) ⊙ dA", "tC = −sin(A) ⊙ tA", "gA = −gC ⊙ sin(A)",
    "C = cos(A)"};
Tensor cos(const Tensor& a, const SourceLocation& caller) {
  return record_slope(cos_info, unary("cos", a, [](auto v) { return std::cos(v); }), a,
                      [](const Tensor& x) { return -sin(x); }, caller);
}

// tan' = 1 + tan², read off the output (PyTorch's rule).
static const OpInfo tan_info{"tan", "dC = (1 + C²) ⊙ dA", "tC = (1 + C²) ⊙ tA", "gA = gC ⊙ (1 + C²)",
                             Saves::output,
    "C = tan(A)"};
Tensor tan(const Tensor& a, const SourceLocation& caller) {
  return record_slope_of_output(tan_info, unary("tan", a, [](auto v) { return std::tan(v); }), a,
                                [](const Tensor& c) { return 1.0 + square(c); }, caller);
}

static const OpInfo asin_info{"asin", "dC = dA ⊘ √(1 − A²)", "tC = tA ⊘ √(1 − A²)",
                              "gA = gC ⊘ √(1 − A²)",
    "C = asin(A)"};
Tensor asin(const Tensor& a, const SourceLocation& caller) {
  return record_slope(asin_info, unary("asin", a, [](auto v) { return std::asin(v); }), a,
                      [](const Tensor& x) { return rsqrt(1.0 - square(x)); }, caller);
}

static const OpInfo acos_info{"acos", "dC = −dA ⊘ √(1 − A²)", "tC = −tA ⊘ √(1 − A²)",
                              "gA = −gC ⊘ √(1 − A²)",
    "C = acos(A)"};
Tensor acos(const Tensor& a, const SourceLocation& caller) {
  return record_slope(acos_info, unary("acos", a, [](auto v) { return std::acos(v); }), a,
                      [](const Tensor& x) { return -rsqrt(1.0 - square(x)); }, caller);
}

static const OpInfo atan_info{"atan", "dC = dA ⊘ (1 + A²)", "tC = tA ⊘ (1 + A²)", "gA = gC ⊘ (1 + A²)",
    "C = atan(A)"};
Tensor atan(const Tensor& a, const SourceLocation& caller) {
  return record_slope(atan_info, unary("atan", a, [](auto v) { return std::atan(v); }), a,
                      [](const Tensor& x) { return reciprocal(1.0 + square(x)); }, caller);
}

static const OpInfo sinh_info{"sinh", "dC = cosh(A) ⊙ dA", "tC = cosh(A) ⊙ tA", "gA = gC ⊙ cosh(A)",
    "C = sinh(A)"};
Tensor sinh(const Tensor& a, const SourceLocation& caller) {
  return record_slope(sinh_info, unary("sinh", a, [](auto v) { return std::sinh(v); }), a,
                      [](const Tensor& x) { return cosh(x); }, caller);
}

static const OpInfo cosh_info{"cosh", "dC = sinh(A) ⊙ dA", "tC = sinh(A) ⊙ tA", "gA = gC ⊙ sinh(A)",
    "C = cosh(A)"};
Tensor cosh(const Tensor& a, const SourceLocation& caller) {
  return record_slope(cosh_info, unary("cosh", a, [](auto v) { return std::cosh(v); }), a,
                      [](const Tensor& x) { return sinh(x); }, caller);
}

static const OpInfo asinh_info{"asinh", "dC = dA ⊘ √(A² + 1)", "tC = tA ⊘ √(A² + 1)",
                               "gA = gC ⊘ √(A² + 1)",
    "C = asinh(A)"};
Tensor asinh(const Tensor& a, const SourceLocation& caller) {
  return record_slope(asinh_info, unary("asinh", a, [](auto v) { return std::asinh(v); }), a,
                      [](const Tensor& x) { return rsqrt(square(x) + 1.0); }, caller);
}

static const OpInfo acosh_info{"acosh", "dC = dA ⊘ √(A² − 1)", "tC = tA ⊘ √(A² − 1)",
                               "gA = gC ⊘ √(A² − 1)",
    "C = acosh(A)"};
Tensor acosh(const Tensor& a, const SourceLocation& caller) {
  return record_slope(acosh_info, unary("acosh", a, [](auto v) { return std::acosh(v); }), a,
                      [](const Tensor& x) { return rsqrt(square(x) - 1.0); }, caller);
}

static const OpInfo atanh_info{"atanh", "dC = dA ⊘ (1 − A²)", "tC = tA ⊘ (1 − A²)", "gA = gC ⊘ (1 − A²)",
    "C = atanh(A)"};
Tensor atanh(const Tensor& a, const SourceLocation& caller) {
  return record_slope(atanh_info, unary("atanh", a, [](auto v) { return std::atanh(v); }), a,
                      [](const Tensor& x) { return reciprocal(1.0 - square(x)); }, caller);
}

}  // namespace matgrad
