// Values and gradients of issue 14's elementwise and binary ops where the op table's random
// draws do not go: known values of the hand-written series (digamma, polygamma, erfinv; the
// references are mpmath's at 30 digits), accuracy near 0, the values and gradients at kinks,
// ties, zeros, poles and NaN as PyTorch gives them, and the error messages.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> values(const Tensor& t) {
  NoGradGuard no_grad;
  const Tensor d = t.to(DType::float64);
  const auto& a = d.data<double>();
  return {a.data(), a.data() + a.size()};
}

Tensor vec(const std::vector<double>& v, bool requires_grad = false) {
  Tensor t = zeros({v.size()}, {.dtype = DType::float64});
  std::copy(v.begin(), v.end(), t.mutable_data<double>().data());
  return t.requires_grad_(requires_grad);
}

// Every element against want: relative tolerance tol (so a 0 must be exact), infinities (with
// their sign) and NaN exact.
void check_values(const Tensor& got, const std::vector<double>& want, double tol = 1e-13) {
  const std::vector<double> v = values(got);
  REQUIRE(v.size() == want.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    INFO("element ", i, ": got ", v[i], ", want ", want[i]);
    if (std::isnan(want[i])) {
      CHECK(std::isnan(v[i]));
    } else if (std::isinf(want[i])) {
      CHECK(v[i] == want[i]);
    } else {
      CHECK(std::abs(v[i] - want[i]) <= tol * std::abs(want[i]));
    }
  }
}

// The gradient of sum(y) with respect to each input.
std::vector<Tensor> grads_of(const Tensor& y, const std::vector<Tensor>& x) {
  return grad({y}, x, {ones_like(y)}, false, false, /*allow_unused=*/true);
}

}  // namespace

TEST_CASE("digamma and polygamma match known values, on both sides of 0") {
  check_values(digamma(vec({1, 0.5, -0.5, 10.5, -2.3, 1e-3, 200, 10})),
               {-0.57721566490153286061, -1.9635100260214234794, 0.036489973978576520559,
                2.3030010342976863753, 3.3173231575618227391, -1000.5755719318102797,
                5.2958152832199116155, 2.25175258906672110764});
  check_values(polygamma(1, vec({1, 0.5, -0.5, -2.3, 30})),
               {1.6449340668482264365, 4.9348022005446793094, 8.9348022005446793094,
                14.725912160961291488, 0.033895060357739944214}, 1e-12);
  check_values(polygamma(2, vec({1, 3.7})), {-2.4041138063191885708, -0.095395308728554033483}, 1e-12);
  check_values(polygamma(3, vec({1, -0.5})), {6.4939394022668291491, 193.40909103400243724}, 1e-12);
  check_values(polygamma(4, vec({2.5})), {-0.31375599950673136338}, 1e-12);
  check_values(polygamma(0, vec({1})), {-0.57721566490153286061});
  // The poles: ψ(±0) = ∓∞ and NaN at the negative integers; ψ⁽ⁿ⁾ = (−1)ⁿ⁺¹ ∞ (PyTorch's values).
  check_values(digamma(vec({0.0, -0.0, -2})), {-kInf, kInf, kNaN});
  check_values(polygamma(1, vec({0, -3})), {kInf, kInf});
  check_values(polygamma(2, vec({0, -1, kNaN})), {-kInf, -kInf, kNaN});
}

TEST_CASE("lgamma's gradient is digamma, digamma's is trigamma") {
  const Tensor x = vec({0.5, 3.0, -2.3}, true);
  check_values(lgamma(x), {0.57236494292470008707, 0.69314718055994530942, 0.36956666345500803746});
  check_values(grads_of(lgamma(x), {x})[0], values(digamma(x)));
  check_values(grads_of(digamma(x), {x})[0], values(polygamma(1, x)));
  // Second order, through trigamma's own rule.
  const Tensor g = grad({sum(digamma(x))}, {x}, {}, false, true)[0];
  check_values(grad({sum(g)}, {x})[0], values(polygamma(2, x)));
}

TEST_CASE("erfinv inverts erf to double precision; ±1 give ±∞") {
  check_values(erfinv(vec({0.5, -0.9, 1e-10, 0.3, 0})),
               {0.47693627620446987338, -1.1630871536766741628, 8.8622692545275804594e-11,
                0.27246271472675434502, 0},
               1e-14);
  // Near 1, erfinv's condition number y erfinv'(y) / erfinv(y) is 4e4: one ulp of y is 1e-11
  // of the result, whatever the algorithm.
  check_values(erfinv(vec({0.999999})), {3.4589107372754987775}, 1e-10);
  check_values(erfinv(vec({1, -1, 1.5, kNaN})), {kInf, -kInf, kNaN, kNaN});
  const Tensor y = vec({-0.99, -0.4, 0.01, 0.7, 0.95});
  check_values(erf(erfinv(y)), values(y), 1e-15);
  const Tensor x = vec({0.0, 0.3}, true);
  const double c = 0.27246271472675434502;
  check_values(grads_of(erfinv(x), {x})[0],
               {std::sqrt(std::numbers::pi) / 2, std::sqrt(std::numbers::pi) / 2 * std::exp(c * c)});
}

TEST_CASE("log1p and expm1 keep the digits near 0 that the compositions lose") {
  check_values(log1p(vec({1e-10, -1e-12})), {9.9999999995e-11, -1.0000000000005e-12});
  check_values(expm1(vec({1e-10, -1e-12})), {1.00000000005e-10, -9.999999999995e-13});
  CHECK(std::abs(values(log(vec({1e-10}) + 1.0))[0] - 9.9999999995e-11) > 1e-9 * 1e-10);  // 8e-8 off
}

TEST_CASE("inverse trigonometric derivatives at the ends of the domain are +∞, as in PyTorch") {
  const Tensor x = vec({1.0, -1.0}, true);
  check_values(grads_of(asin(x), {x})[0], {kInf, kInf});
  check_values(grads_of(acos(x), {x})[0], {-kInf, -kInf});
  check_values(grads_of(atanh(x), {x})[0], {kInf, kInf});
  check_values(atanh(x), {kInf, -kInf});
}

TEST_CASE("rounding: half to even, decimals, gradient zero (frac's one)") {
  const Tensor x = vec({0.5, 1.5, 2.5, -0.5, -2.5, 2.7, -2.7}, true);
  check_values(round(x), {0, 2, 2, -0.0, -2, 3, -3});
  CHECK(std::signbit(values(round(x))[3]));
  check_values(floor(x), {0, 1, 2, -1, -3, 2, -3});
  check_values(ceil(x), {1, 2, 3, -0.0, -2, 3, -2});
  check_values(trunc(x), {0, 1, 2, -0.0, -2, 2, -2});
  check_values(frac(x), {0.5, 0.5, 0.5, -0.5, -0.5, 0.7000000000000002, -0.7000000000000002});
  check_values(round(vec({1.2345, -1.2355, 1234.5, 1250}), 2), {1.23, -1.24, 1234.5, 1250});
  check_values(round(vec({1234.5, 1250, -1350}), -2), {1200, 1200, -1400});
  for (const Tensor& y : {floor(x), ceil(x), round(x), round(x, 1), trunc(x)}) {
    CHECK(y.requires_grad());  // recorded, as in PyTorch
    check_values(grads_of(y, {x})[0], std::vector<double>(7, 0.0));
  }
  check_values(grads_of(frac(x), {x})[0], std::vector<double>(7, 1.0));
}

TEST_CASE("div with a rounding mode; fmod and remainder and their gradients") {
  const Tensor a = vec({-7, 7, -7, 7, 1}, true);
  const Tensor b = vec({2, -2, -2, 2, 0}, true);
  check_values(div(a, b, "trunc"), {-3, -3, 3, 3, kInf});
  check_values(div(a, b, "floor"), {-4, -4, 3, 3, kInf});
  check_values(div(vec({-0.0, 0.0}), vec({3, -3}), "floor"), {-0.0, -0.0});
  CHECK(std::signbit(values(div(vec({0.0}), vec({-3}), "floor"))[0]));
  for (const char* mode : {"trunc", "floor"}) {
    const auto g = grads_of(div(a, b, mode), {a, b});
    check_values(g[0], std::vector<double>(5, 0.0));
    check_values(g[1], std::vector<double>(5, 0.0));
  }
  const Tensor x = vec({-7, 7, 5.5}, true);
  const Tensor y = vec({2, -2, 2}, true);
  check_values(fmod(x, y), {-1, 1, 1.5});
  check_values(remainder(x, y), {1, -1, 1.5});
  auto g = grads_of(fmod(x, y), {x, y});
  check_values(g[0], {1, 1, 1});
  check_values(g[1], {3, 3, -2});  // −trunc(x / y)
  g = grads_of(remainder(x, y), {x, y});
  check_values(g[1], {4, 4, -2});  // −floor(x / y)
  check_error<ValueError>([&] { div(a, b, "round"); }, {"div", "rounding_mode", "round", "trunc", "floor"});
}

TEST_CASE("maximum and minimum split ties in half and propagate NaN; fmax and fmin ignore it") {
  const Tensor a = vec({1, 2, 3, kNaN, 1}, true);
  const Tensor b = vec({3, 2, 1, 1, kNaN}, true);
  check_values(maximum(a, b), {3, 2, 3, kNaN, kNaN});
  check_values(minimum(a, b), {1, 2, 1, kNaN, kNaN});
  auto g = grads_of(maximum(a, b), {a, b});
  check_values(g[0], {0, 0.5, 1, 1, 1});
  check_values(g[1], {1, 0.5, 0, 1, 1});
  g = grads_of(minimum(a, b), {a, b});
  check_values(g[0], {1, 0.5, 0, 1, 1});
  check_values(g[1], {0, 0.5, 1, 1, 1});
  check_values(fmax(a, b), {3, 2, 3, 1, 1});
  check_values(fmin(a, b), {1, 2, 1, 1, 1});
  g = grads_of(fmax(a, b), {a, b});
  check_values(g[0], {0, 1, 1, 0, 1});  // ties to a; NaN in a: to b
  check_values(g[1], {1, 0, 0, 1, 0});
  g = grads_of(fmin(a, b), {a, b});
  check_values(g[0], {1, 1, 0, 0, 1});
  check_values(g[1], {0, 0, 1, 1, 0});
  // Broadcasting: a scalar against a vector gets the sum of its shares.
  const Tensor s = vec({2}, true);
  check_values(grads_of(maximum(s, vec({1, 2, 3})), {s})[0], {1.5});
  check_error<ShapeError>([] { maximum(vec({1, 2}), vec({1, 2, 3})); }, {"maximum", "[2]", "[3]"});
}

TEST_CASE("pow with a tensor exponent: PyTorch's values and gradients at base 0") {
  const Tensor a = vec({0, 0, 0, 2, -2, 0}, true);
  const Tensor b = vec({0, 2, -1, 0.5, 3, 0.5}, true);
  check_values(pow(a, b), {1, 0, kInf, std::sqrt(2.0), -8, 0});
  const auto g = grads_of(pow(a, b), {a, b});
  check_values(g[0], {0, 0, -kInf, 0.5 / std::sqrt(2.0), 12, kInf});
  check_values(g[1], {0, 0, -kInf, std::sqrt(2.0) * std::log(2.0), kNaN, 0});
  // A number as the base: the exponent's gradient is C log(base), 0 for base 0 and exponent ≥ 0.
  const Tensor e = vec({0, 2, -1}, true);
  check_values(grads_of(pow(2.0, e), {e})[0], {std::log(2.0), 4 * std::log(2.0), 0.5 * std::log(2.0)});
  check_values(pow(0.0, e), {1, 0, kInf});
  check_values(grads_of(pow(0.0, e), {e})[0], {0, 0, -kInf});
}

TEST_CASE("activations at their kinks take PyTorch's one-sided derivatives") {
  const Tensor x = vec({-3, 3, -1, 1, 0}, true);
  check_values(grads_of(hardtanh(x), {x})[0], {0, 0, 0, 0, 1});  // open interval
  check_values(grads_of(clamp(x, -1.0, 1.0), {x})[0], {0, 0, 1, 1, 1});  // clamp: closed
  check_values(grads_of(hardsigmoid(x), {x})[0], {0, 0, 1.0 / 6, 1.0 / 6, 1.0 / 6});
  check_values(grads_of(hardswish(x), {x})[0], {-0.5, 1.5, 1.0 / 6, 5.0 / 6, 0.5});
  check_values(hardswish(x), {0, 3, -1.0 / 3, 2.0 / 3, 0});
  const Tensor zero = vec({0.0}, true);
  check_values(grads_of(elu(zero, 0.5), {zero})[0], {0.5});
  check_values(grads_of(celu(zero, 0.5), {zero})[0], {1});
  check_values(grads_of(selu(zero), {zero})[0], {1.6732632423543772848 * 1.0507009873554804934});
  // min_val > max_val: every element is max_val, and no gradient passes (PyTorch).
  check_values(hardtanh(x, 0.5, -0.5), std::vector<double>(5, -0.5));
  check_values(grads_of(hardtanh(x, 0.5, -0.5), {x})[0], std::vector<double>(5, 0.0));
}

TEST_CASE("activations: known values, stable for large inputs") {
  check_values(gelu(vec({1.0, -2.0})), {0.8413447460685429, -0.04550026389635842});
  check_values(gelu(vec({1.0}), "tanh"), {0.8411919906082768});
  check_values(silu(vec({1.0, -1000})), {0.7310585786300049, -0.0});
  check_values(logsigmoid(vec({-1000, 1000, 0})), {-1000, -0.0, -std::log(2.0)});
  const Tensor big = vec({-1000, 1000}, true);
  check_values(grads_of(logsigmoid(big), {big})[0], {1, 0});
  check_values(mish(vec({1000, -1000, 1})), {1000, -0.0, 0.8650983882673103});
  check_values(grads_of(mish(big), {big})[0], {0, 1});
  check_values(grads_of(elu(big), {big})[0], {0, 1});  // e^A never overflows where unused
  check_values(softsign(vec({3, -1})), {0.75, -0.5});
  check_error<ValueError>([] { gelu(vec({1}), "erf"); }, {"gelu", "approximate", "erf", "tanh"});
  check_error<ValueError>([] { celu(vec({1}), 0.0); }, {"celu", "alpha"});
}

TEST_CASE("copysign, xlogy, lerp and clamp with tensor bounds at their edge cases") {
  const Tensor a = vec({0, 2, -3, 0}, true);
  const Tensor b = vec({-1, -1, 1, 1}, true);
  check_values(copysign(a, b), {-0.0, -2, 3, 0});
  auto g = grads_of(copysign(a, b), {a, b});
  check_values(g[0], {0, -1, -1, 0});
  check_values(g[1], {0, 0, 0, 0});

  const Tensor x = vec({0, 0, 0, 2}, true);
  const Tensor y = vec({0, kNaN, 3, 0.5}, true);
  check_values(xlogy(x, y), {0, kNaN, 0, 2 * std::log(0.5)});
  g = grads_of(xlogy(x, y), {x, y});
  check_values(g[0], {0, kNaN, 0, std::log(0.5)});
  check_values(g[1], {kNaN, kNaN, 0, 4});  // X / Y: 0 / 0 is NaN, as in PyTorch

  const Tensor s = vec({1, -2}, true);
  const Tensor e = vec({3, 5}, true);
  check_values(lerp(s, e, 1.0), {3, 5});
  check_values(lerp(s, e, vec({0.25, 0.5})), {1.5, 1.5});
  const Tensor w = vec({0.25, 0.5}, true);
  g = grads_of(lerp(s, e, w), {s, e, w});
  check_values(g[0], {0.75, 0.5});
  check_values(g[1], {0.25, 0.5});
  check_values(g[2], {2, 7});

  // Ties with a bound pass the gradient to the input; min > max gives max, and max the gradient.
  const Tensor v = vec({0, 1, 5, -5}, true);
  const Tensor lo = vec({0, 2, 0, 0}, true);
  const Tensor hi = vec({1, 0.5, 1, 1}, true);
  check_values(clamp(v, lo, hi), {0, 0.5, 1, 0});
  g = grads_of(clamp(v, lo, hi), {v, lo, hi});
  check_values(g[0], {1, 0, 0, 0});
  check_values(g[1], {0, 0, 0, 1});
  check_values(g[2], {0, 1, 1, 0});
  check_values(clamp(v, Tensor(), hi), {0, 0.5, 1, -5});
  check_error<ValueError>([&] { clamp(v, Tensor(), Tensor()); }, {"clamp", "min", "max"});
  check_error<DTypeError>([&] { lerp(s, e, vec({0.5}).to(DType::float32)); }, {"lerp", "float32", "float64"});
}

TEST_CASE("add and sub with alpha; float32 inputs stay float32") {
  const Tensor a = vec({1, 2}, true);
  const Tensor b = vec({3, 4}, true);
  check_values(add(a, b, 2.0), {7, 10});
  check_values(sub(a, b, -0.5), {2.5, 4});
  check_values(grads_of(sub(a, b, 3.0), {a, b})[1], {-3, -3});
  const Tensor f = ones({3}, {.requires_grad = true});
  for (const Tensor& y : {sin(f), digamma(f), erfinv(f * 0.5), gelu(f), maximum(f, f), pow(f, f), round(f)}) {
    CHECK(y.dtype() == DType::float32);
  }
  check_values(digamma(f), std::vector<double>(3, -0.5772156649015329), 1e-7);
  check_error<ValueError>([&] { polygamma(-1, f); }, {"polygamma", "-1"});
}
