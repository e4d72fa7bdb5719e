// The reductions over lists of dims, the scans and the norms at the points the op table's
// random draws never reach: repeated and out-of-range dims, keepdim on a full reduction, empty
// dims, zeros in products, ties, N − correction ≤ 0, norms at 0, and the SVD's matrix norms.
// Expected values are PyTorch's (torch 2.x, float64).
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

Tensor f64(const NestedList& values, bool requires_grad = false) {
  return tensor(values, {.dtype = DType::float64, .requires_grad = requires_grad});
}

std::vector<double> values(const Tensor& t) {
  const Tensor d = t.detach().to(DType::float64);
  const auto& x = d.data<double>();
  return std::vector<double>(x.begin(), x.end());
}

void check_values(const Tensor& t, const std::vector<double>& want) {
  const std::vector<double> got = values(t);
  INFO("got ", to_string(t));
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      CHECK(std::isnan(got[i]));
    } else if (std::isinf(want[i])) {
      CHECK(got[i] == want[i]);
    } else {
      CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-12));
    }
  }
}

// The gradient of sum(f(x)) at x.
template <class F>
Tensor gradient(F f, const Tensor& x) {
  Tensor leaf = x.detach().clone().requires_grad_(true);
  return grad({sum(f(leaf))}, {leaf})[0];
}

}  // namespace

TEST_CASE("a list of dims: negative dims, repeated and out-of-range dims refused") {
  const Tensor x = arange(24.0, {.dtype = DType::float64}).reshape({2, 3, 4});
  CHECK(sum(x, {0, -1}).shape() == Shape{3});
  CHECK(sum(x, {-1, 0}, true).shape() == Shape{1, 3, 1});
  check_values(sum(x, {0, 2}), {0 + 1 + 2 + 3 + 12 + 13 + 14 + 15, 92, 124});
  check_values(amax(x, {1, 2}), {11, 23});
  check_error<IndexError>([&] { sum(x, {1, -2}); }, {"sum", "dim 1 appears more than once"});
  check_error<IndexError>([&] { var(x, {0, 3}); }, {"var", "dim 3 is out of range"});
  const Tensor s = f64(2.0);
  CHECK(sum(s, {0}).shape() == Shape{});
  CHECK(amax(s, -1, true).shape() == Shape{});
  check_error<IndexError>([&] { mean(s, {0, -1}); }, {"mean", "appears more than once"});
  check_error<IndexError>([&] { prod(s, 1); }, {"prod", "out of range for a 0-d tensor"});
}

TEST_CASE("keepdim on a full reduction keeps every dim at size 1") {
  const Tensor x = ones({2, 3}, {.dtype = DType::float64});
  CHECK(sum(x, {}, true).shape() == Shape{1, 1});
  CHECK(mean(x, {}, true).shape() == Shape{1, 1});
  CHECK(linalg_vector_norm(x, 2, {}, true).shape() == Shape{1, 1});
  CHECK(var(x, {}, 1, true).shape() == Shape{1, 1});
  CHECK(sum(x).shape() == Shape{});
}

TEST_CASE("reductions over an empty dim: the identity where there is one, else an error") {
  const Tensor e = zeros({0, 3}, {.dtype = DType::float64});
  check_values(sum(e, 0), {0, 0, 0});
  check_values(prod(e, 0), {1, 1, 1});
  check_values(mean(e, 0), {NAN, NAN, NAN});
  check_values(linalg_vector_norm(e, 2, 0), {0, 0, 0});
  check_values(logsumexp(e, 0), {-inf, -inf, -inf});
  CHECK(amax(e, 1).shape() == Shape{0});  // nothing reduced over an empty dim
  check_error<IndexError>([&] { amax(e, 0); }, {"amax", "non-zero size"});
  check_error<IndexError>([&] { amin(e); }, {"amin", "non-zero size"});
  check_error<IndexError>([&] { linalg_vector_norm(e, -inf); }, {"linalg_vector_norm", "non-zero size"});
}

TEST_CASE("prod: gradients with zeros as torch's") {
  const auto product = [](const Tensor& x) { return prod(x); };
  check_values(gradient(product, f64({2.0, 4.0, 3.0})), {12, 6, 8});
  check_values(gradient(product, f64({2.0, 0.0, 3.0})), {0, 6, 0});
  check_values(gradient(product, f64({0.0, 0.0, 3.0})), {0, 0, 0});
  const auto rows = [](const Tensor& x) { return prod(x, 1); };
  check_values(gradient(rows, f64({{2.0, 0.0, 3.0}, {1.0, 2.0, 5.0}})), {0, 6, 0, 10, 5, 2});
  // The second derivative at a single zero: ∂²C/∂x₀∂x₁ = x₂ (torch's too).
  Tensor x = f64({2.0, 0.0, 3.0}, true);
  const Tensor g = grad({prod(x)}, {x}, {}, false, true)[0];
  check_values(grad({sum(g * f64({1.0, 0.0, 0.0}))}, {x})[0], {0, 3, 0});
}

TEST_CASE("var and std: corrections, and torch's values when N − correction ≤ 0") {
  const Tensor x = f64({1.0, 2.0, 3.0, 4.0});
  check_values(var(x), {5.0 / 3});
  check_values(var(x, {}, 0), {1.25});
  check_values(matgrad::std(x, 0, 2), {std::sqrt(5.0 / 2)});
  check_values(var(f64({3.0}), {}, 1), {NAN});            // 0 / 0
  check_values(var(f64({1.0, 2.0}), {}, 2), {inf});      // 0.5 / 0
  check_values(var(f64({3.0, 3.0}), {}, 2), {NAN});      // 0 / 0
  check_values(var(zeros({0}, {.dtype = DType::float64})), {NAN});
  // Their gradients there, as torch's: over every dim NaN at the mean and inf elsewhere; over
  // dims given 2 (A − mean) / (N − correction) as it stands.
  const auto var2 = [](const Tensor& t) { return var(t, {}, 2); };
  check_values(gradient(var2, f64({1.0, 2.0})), {inf, inf});
  check_values(gradient(var2, f64({3.0, 3.0})), {NAN, NAN});
  check_values(gradient([](const Tensor& t) { return var(t, 0, 2); }, f64({1.0, 2.0})), {-inf, inf});
  check_values(gradient([](const Tensor& t) { return var(t, 0, 3); }, f64({1.0, 2.0})), {1, -1});
  // std at 0 has gradient 0, as torch (not √'s inf).
  check_values(gradient([](const Tensor& t) { return matgrad::std(t, {}, 0); }, f64({2.0, 2.0})), {0, 0});
  const VarMeanResult vm = var_mean(f64({{1.0, 3.0}, {2.0, 6.0}}), 1, 1, true);
  CHECK(vm.var.shape() == Shape{2, 1});
  check_values(vm.var, {2, 8});
  check_values(vm.mean, {2, 4});
  const StdMeanResult sm = std_mean(x, {}, 0);
  check_values(sm.std, {std::sqrt(1.25)});
  check_values(sm.mean, {2.5});
}

TEST_CASE("amax and amin split the gradient evenly between ties; NaN wins") {
  check_values(gradient([](const Tensor& t) { return amax(t); }, f64({1.0, 3.0, 3.0})), {0, 0.5, 0.5});
  check_values(gradient([](const Tensor& t) { return amin(t, 0); }, f64({{1.0, 5.0}, {1.0, 2.0}, {4.0, 2.0}})),
               {0.5, 0, 0.5, 0.5, 0, 0.5});
  check_values(amax(f64({1.0, NAN, 3.0})), {NAN});
  check_values(amin(f64({NAN, 1.0})), {NAN});
}

TEST_CASE("logsumexp over several dims, with large inputs") {
  const Tensor x = f64({{1000.0, 1000.0}, {1000.0, 1000.0}});
  check_values(logsumexp(x, {0, 1}), {1000 + std::log(4.0)});
  check_values(gradient([](const Tensor& t) { return logsumexp(t, {0, -1}); }, x), {0.25, 0.25, 0.25, 0.25});
  check_values(logsumexp(f64({-inf, -inf}), 0), {-inf});
  check_values(logsumexp(f64({inf, 1.0}), 0), {inf});
}

TEST_CASE("cumsum, cumprod (zeros as torch) and logcumsumexp") {
  check_values(cumsum(f64({{1.0, 2.0}, {3.0, 4.0}}), 0), {1, 2, 4, 6});
  check_values(cumprod(f64({2.0, 0.0, 3.0, 4.0}), 0), {2, 0, 0, 0});
  const auto cp = [](const Tensor& t) { return cumprod(t, 0); };
  check_values(gradient(cp, f64({2.0, 3.0, 4.0})), {1 + 3 + 12, 2 + 8, 6});
  check_values(gradient(cp, f64({2.0, 0.0, 3.0, 4.0})), {1, 2 + 6 + 24, 0, 0});
  check_values(gradient(cp, f64({2.0, 0.0, 3.0, 0.0})), {1, 2 + 6, 0, 0});
  check_values(logcumsumexp(f64({1000.0, 1000.0, -inf}), 0), {1000, 1000 + std::log(2.0), 1000 + std::log(2.0)});
  check_values(gradient([](const Tensor& t) { return logcumsumexp(t, 0); }, f64({1000.0, 1000.0})), {1.5, 0.5});
}

TEST_CASE("vector norms of every order, and their gradients at 0 as torch's") {
  const Tensor x = f64({3.0, -4.0, 0.0});
  check_values(linalg_vector_norm(x), {5});
  check_values(linalg_vector_norm(x, 1), {7});
  check_values(linalg_vector_norm(x, inf), {4});
  check_values(linalg_vector_norm(x, -inf), {0});
  check_values(linalg_vector_norm(x, 0), {2});
  check_values(linalg_vector_norm(x, 3), {std::cbrt(91.0)});
  check_values(linalg_vector_norm(x, -1), {0});  // 1 / (1/3 + 1/4 + 1/0)
  check_values(norm(x, 2, 0, true), {5});
  check_values(gradient([](const Tensor& t) { return linalg_vector_norm(t); }, f64({0.0, 0.0})), {0, 0});
  check_values(gradient([](const Tensor& t) { return linalg_vector_norm(t, 1); }, x), {1, -1, 0});
  check_values(gradient([](const Tensor& t) { return linalg_vector_norm(t, 3); }, f64({0.0, 0.0})), {0, 0});
  check_values(gradient([](const Tensor& t) { return linalg_vector_norm(t, 0.5); }, f64({0.0, 1.0})), {0, 1});
  check_values(gradient([](const Tensor& t) { return linalg_vector_norm(t, inf); }, f64({-2.0, 2.0, 1.0})),
               {-0.5, 0.5, 0});
}

TEST_CASE("matrix norms: fro, nuc, ±1, ±2, ±inf") {
  const Tensor a = f64({{1.0, -2.0}, {3.0, 4.0}});
  check_values(linalg_matrix_norm(a), {std::sqrt(30.0)});
  check_values(linalg_matrix_norm(a, 1), {6});
  check_values(linalg_matrix_norm(a, -1), {4});
  check_values(linalg_matrix_norm(a, inf), {7});
  check_values(linalg_matrix_norm(a, -inf), {3});
  check_values(linalg_matrix_norm(a, 1, {-1, -2}), {7});  // dims swapped: the transpose's
  CHECK(linalg_matrix_norm(a, inf, {0, 1}, true).shape() == Shape{1, 1});
  // AᵀA = [[10, 10], [10, 20]]: σ² = 15 ± 5√5, and σ₁σ₂ = |det A| = 10.
  const double s1 = std::sqrt(15 + 5 * std::sqrt(5.0)), s2 = std::sqrt(15 - 5 * std::sqrt(5.0));
  check_values(linalg_matrix_norm(a, "nuc"), {s1 + s2});
  check_values(linalg_matrix_norm(a, 2), {s1});
  check_values(linalg_matrix_norm(a, -2), {s2});
  CHECK(linalg_matrix_norm(a, "nuc", {0, 1}, true).shape() == Shape{1, 1});
  Generator gen(1);
  CHECK(linalg_matrix_norm(randn({2, 3, 4}, gen, {.dtype = DType::float64}), 2.0, {0, 2}, true).shape() == Shape{1, 3, 1});
  check_error<ValueError>([&] { linalg_matrix_norm(a, 3); }, {"ord 3 is not a matrix norm"});
  check_error<ShapeError>([&] { linalg_matrix_norm(f64({1.0, 2.0})); }, {"rank 2 or more"});
  check_error<IndexError>([&] { linalg_matrix_norm(a, "fro", {0}); }, {"expects 2 dims"});
}
