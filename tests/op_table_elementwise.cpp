// The op table's rows for the elementwise and binary ops of issue 14 (trigonometric.cpp,
// special.cpp, activations.cpp, rounding.cpp, binary.cpp). Inputs are kept inside each
// function's domain by the row's own function where no Domain fits (0.9 tanh(x) for (−1, 1)),
// and away from the kinks by the domain; values at kinks are in test_elementwise_values.cpp.
#include "op_table.hpp"

namespace matgrad::testing {

using In = const std::vector<Tensor>&;
using Shapes = std::vector<std::vector<Shape>>;

namespace {

// Three inputs that broadcast together (lerp, clamp with tensor bounds).
const Shapes ternary_shapes = {{{3, 4}, {3, 4}, {3, 4}}, {{1, 5}, {1, 5}, {1, 5}}, {{5, 1}, {5, 1}, {5, 1}},
                               {{3, 4}, {4}, {}},        {{}, {2, 3}, {2, 1}},     {{2, 3, 4}, {3, 1}, {4}}};

// Values in (−0.9, 0.9), for the inverse functions defined on (−1, 1).
Tensor inside_unit(const Tensor& x) { return 0.9 * tanh(x); }

// Values in (−1.9, −1.1), for lgamma and the polygammas on the negative axis.
Tensor between_poles(const Tensor& x) { return 0.4 * tanh(x) - 1.5; }

}  // namespace

std::vector<OpRow> elementwise_rows() {
  return {
      // ---- trigonometric and hyperbolic (trigonometric.cpp) ----
      {"sin", unary_shapes, [](In x) { return sin(x[0]); }},
      {"cos", unary_shapes, [](In x) { return cos(x[0]); }},
      {"tan", unary_shapes, [](In x) { return tan(0.4 * x[0]); }},  // |0.4 x| < π/2
      {"asin", unary_shapes, [](In x) { return asin(inside_unit(x[0])); }},
      {"acos", unary_shapes, [](In x) { return acos(inside_unit(x[0])); }},
      {"atan", unary_shapes, [](In x) { return atan(x[0] * 2.0); }},
      {"sinh", unary_shapes, [](In x) { return sinh(x[0]); }},
      {"cosh", unary_shapes, [](In x) { return cosh(x[0]); }},
      {"asinh", unary_shapes, [](In x) { return asinh(x[0] * 2.0); }},
      {"acosh", unary_shapes, [](In x) { return acosh(x[0] + 1.0); }, Domain::positive},
      {"atanh", unary_shapes, [](In x) { return atanh(inside_unit(x[0])); }},

      // ---- logarithms, exponentials, special functions (special.cpp) ----
      {"log1p", unary_shapes, [](In x) { return log1p(x[0] - 0.4); }, Domain::positive},
      {"expm1", unary_shapes, [](In x) { return expm1(x[0]); }},
      {"log2", unary_shapes, [](In x) { return log2(x[0]); }, Domain::positive},
      {"log10", unary_shapes, [](In x) { return log10(x[0]); }, Domain::positive},
      {"exp2", unary_shapes, [](In x) { return exp2(x[0]); }},
      {"rsqrt", unary_shapes, [](In x) { return rsqrt(x[0]); }, Domain::positive},
      {"reciprocal", unary_shapes, [](In x) { return reciprocal(x[0]); }, Domain::away_from_zero},
      {"erf", unary_shapes, [](In x) { return erf(x[0]); }},
      {"erfc", unary_shapes, [](In x) { return erfc(x[0]); }},
      {"erfinv", unary_shapes, [](In x) { return erfinv(inside_unit(x[0])); }},
      // Positive arguments, and negative ones in (−1.9, −1.1), between the poles at −1 and −2.
      {"lgamma", unary_shapes, [](In x) { return lgamma(x[0]) + lgamma(between_poles(x[0])); }, Domain::positive},
      {"digamma", unary_shapes, [](In x) { return digamma(x[0]) + digamma(between_poles(x[0])); }, Domain::positive},
      {"polygamma", unary_shapes,
       [](In x) { return polygamma(1, x[0]) + polygamma(2, x[0]) + polygamma(1, between_poles(x[0])); },
       Domain::positive},
      {"xlogy", binary_shapes, [](In x) { return xlogy(x[0] - 1.0, x[1]); }, Domain::positive},

      // ---- activations (activations.cpp) ----
      {"gelu", unary_shapes, [](In x) { return gelu(x[0]) + gelu(x[0] * 2.0, "tanh"); }},
      {"silu", unary_shapes, [](In x) { return silu(x[0] * 2.0); }},
      // alpha ≠ 1 puts a kink at 0: the domain keeps away from it.
      {"elu", unary_shapes, [](In x) { return elu(x[0]) + elu(x[0], 0.5); }, Domain::away_from_zero},
      {"selu", unary_shapes, [](In x) { return selu(x[0]); }, Domain::away_from_zero},
      {"celu", unary_shapes, [](In x) { return celu(x[0]) + celu(x[0], 0.7); }, Domain::away_from_zero},
      {"softsign", unary_shapes, [](In x) { return softsign(x[0] * 2.0); }, Domain::away_from_zero},
      {"hardtanh", unary_shapes, [](In x) { return hardtanh(x[0]) + hardtanh(x[0], -0.3, 1.2); },
       Domain::distinct},
      {"hardsigmoid", unary_shapes, [](In x) { return hardsigmoid(x[0] * 4.0); }},
      {"hardswish", unary_shapes, [](In x) { return hardswish(x[0] * 4.0); }},
      {"logsigmoid", unary_shapes, [](In x) { return logsigmoid(x[0] * 3.0); }},
      {"mish", unary_shapes, [](In x) { return mish(x[0] * 2.0); }},

      // ---- rounding (rounding.cpp): zero gradient, so each is multiplied by its input, whose
      // gradient is then the rounded value exactly ----
      {"floor", unary_shapes, [](In x) { return floor(x[0] * 2.5) * x[0]; }},
      {"ceil", unary_shapes, [](In x) { return ceil(x[0] * 2.5) * x[0]; }},
      {"round", unary_shapes, [](In x) { return (round(x[0] * 2.5) + round(x[0], 1)) * x[0]; }},
      {"trunc", unary_shapes, [](In x) { return trunc(x[0] * 2.5) * x[0]; }},
      {"frac", unary_shapes, [](In x) { return frac(x[0] * 2.5) * x[0]; }},
      // The quotient moves by up to 3|A| / B² ≈ 75 |A| per unit of B: with the default step a
      // central difference straddles one of its jumps about once in 10⁴ elements (it did, on
      // [3, 4] draws). The function is piecewise linear, so a step of 1e-9 is as exact and
      // makes that a thousand times rarer.
      {"div_trunc", binary_shapes, [](In x) { return div(x[0] * 3.0, x[1], "trunc") * x[0] + x[1]; },
       Domain::away_from_zero, 1e-9},
      {"div_floor", binary_shapes, [](In x) { return div(x[0] * 3.0, x[1], "floor") * x[1] + x[0]; },
       Domain::away_from_zero, 1e-9},

      // ---- binary (binary.cpp) ----
      {"maximum", binary_shapes, [](In x) { return maximum(x[0], x[1]); }},
      {"minimum", binary_shapes, [](In x) { return minimum(x[0], x[1]); }},
      {"fmax", binary_shapes, [](In x) { return fmax(x[0], x[1]); }},
      {"fmin", binary_shapes, [](In x) { return fmin(x[0], x[1]); }},
      // Exponents of either sign on positive bases.
      {"pow (tensor exponent)", binary_shapes, [](In x) { return pow(x[0], x[1] - 1.2); }, Domain::positive},
      {"pow scalar base", unary_shapes, [](In x) { return pow(2.5, x[0]) + pow(0.5, x[0]); }},
      {"atan2", binary_shapes, [](In x) { return atan2(x[0], x[1]); }, Domain::away_from_zero},
      {"hypot", binary_shapes, [](In x) { return hypot(x[0], x[1]); }, Domain::away_from_zero},
      {"fmod", binary_shapes, [](In x) { return fmod(x[0] * 3.0, x[1]); }, Domain::away_from_zero},
      {"remainder", binary_shapes, [](In x) { return remainder(x[0] * 3.0, x[1]); }, Domain::away_from_zero},
      {"copysign", binary_shapes, [](In x) { return copysign(x[0], x[1]) * x[1]; }, Domain::away_from_zero},
      {"lerp", ternary_shapes, [](In x) { return lerp(x[0], x[1], x[2]); }},
      {"lerp scalar weight", binary_shapes, [](In x) { return lerp(x[0], x[1], 0.3) + lerp(x[0], x[1], 0.8); }},
      // Bounds of either order (min > max makes the result max); one bound alone.
      {"clamp (tensor bounds)", ternary_shapes,
       [](In x) {
         return clamp(x[0], x[1] - 0.5, x[2] + 0.5) + clamp(x[0], x[1], Tensor()) +
                clamp(x[0], Tensor(), x[2]);
       }},
      {"add alpha", binary_shapes, [](In x) { return add(x[0], x[1], -2.5); }},
      {"sub alpha", binary_shapes, [](In x) { return sub(x[0], x[1], 0.5); }},
  };
}

}  // namespace matgrad::testing
