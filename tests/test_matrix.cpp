// The Matrix Cookbook ops: values against hand-computed results, the errors for non-square,
// singular and ill-formed inputs, and differentiability of their VJPs (second order).
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

using namespace matgrad;
using namespace matgrad::testing;

static constexpr TensorOptions f64{.dtype = DType::float64};

// Largest |a − b| over all elements; shapes must match.
static double max_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return compare_tensors(a, b, 0, 0).max_abs_error;
}

static Tensor well_conditioned(std::size_t n, Generator& gen, TensorOptions options = f64) {
  return randn({n, n}, gen, options) + static_cast<double>(n) * eye(n, options);
}

TEST_CASE("trace sums the main diagonal, of square and non-square matrices") {
  CHECK(trace(tensor({{1, 2}, {3, 4}}, f64)).item() == 5.0);
  CHECK(trace(tensor({{1, 2, 3}, {4, 5, 6}}, f64)).item() == 6.0);
  CHECK(trace(tensor({{1, 2}, {3, 4}, {5, 6}})).item() == 5.0);
  CHECK(trace(tensor({{1, 2}, {3, 4}})).dtype() == DType::float32);
}

TEST_CASE("inverse: a 2×2 by the textbook formula, and A A⁻¹ = I") {
  // [[4, 7], [2, 6]]⁻¹ = [[6, −7], [−2, 4]] / (4·6 − 7·2)
  const Tensor inv = inverse(tensor({{4, 7}, {2, 6}}, f64));
  CHECK(max_diff(inv, tensor({{0.6, -0.7}, {-0.2, 0.4}}, f64)) < 1e-15);
  Generator gen(1);
  for (std::size_t n : {1, 3, 8}) {
    const Tensor a = well_conditioned(n, gen);
    CHECK(max_diff(matmul(a, inverse(a)), eye(n, f64)) < 1e-13);
    CHECK(max_diff(matmul(inverse(a), a), eye(n, f64)) < 1e-13);
  }
  const Tensor a32 = well_conditioned(4, gen, {});
  CHECK(inverse(a32).dtype() == DType::float32);
  CHECK(max_diff(matmul(a32, inverse(a32)), eye(4)) < 1e-5);
  CHECK(inverse(zeros({0, 0}, f64)).shape() == Shape{0, 0});
}

TEST_CASE("det: sign of the row swaps, singular matrices give 0") {
  CHECK(det(tensor({{1, 2}, {3, 4}}, f64)).item() == doctest::Approx(-2.0).epsilon(1e-15));
  // A permutation matrix: its determinant is the sign of the permutation.
  CHECK(det(tensor({{0, 1, 0}, {1, 0, 0}, {0, 0, 1}}, f64)).item() == -1.0);
  CHECK(det(tensor({{0, 1, 0}, {0, 0, 1}, {1, 0, 0}}, f64)).item() == 1.0);
  CHECK(det(tensor({{2, 0, 0}, {0, 3, 0}, {0, 0, -4}}, f64)).item() == -24.0);
  CHECK(det(tensor({{1, 2}, {2, 4}}, f64)).item() == 0.0);
  CHECK(det(zeros({0, 0}, f64)).item() == 1.0);
  CHECK(det(tensor({{1, 2}, {3, 4}})).shape() == Shape{});
}

TEST_CASE("logdet and slogdet agree with log|det|, and slogdet gives the sign") {
  CHECK(logdet(tensor({{2, 0}, {0, 3}}, f64)).item() == doctest::Approx(std::log(6.0)));
  Generator gen(2);
  const Tensor x = randn({4, 4}, gen, f64);
  const Tensor spd = matmul(x, t(x)) + eye(4, f64);
  CHECK(logdet(spd).item() == doctest::Approx(std::log(det(spd).item())).epsilon(1e-12));

  const SlogdetResult swap = slogdet(tensor({{0, 1}, {1, 0}}, f64));
  CHECK(swap.sign.item() == -1.0);
  CHECK(swap.logabsdet.item() == 0.0);
  const SlogdetResult negative = slogdet(tensor({{-2, 0}, {0, 3}}, f64));
  CHECK(negative.sign.item() == -1.0);
  CHECK(negative.logabsdet.item() == doctest::Approx(std::log(6.0)));
  // Far beyond the range of det itself: 200 × log 1e3.
  const SlogdetResult big = slogdet(1e3 * eye(200, f64));
  CHECK(std::isinf(det(1e3 * eye(200, f64)).item()));
  CHECK(big.sign.item() == 1.0);
  CHECK(big.logabsdet.item() == doctest::Approx(200 * std::log(1e3)).epsilon(1e-14));
  CHECK_FALSE(slogdet(tensor({{1, 2}, {3, 5}}, {.dtype = DType::float64, .requires_grad = true}))
                  .sign.requires_grad());
}

TEST_CASE("solve: A X = B for matrix and vector right-hand sides") {
  Generator gen(3);
  const Tensor a = well_conditioned(5, gen);
  const Tensor b = randn({5, 3}, gen, f64);
  const Tensor x = solve(a, b);
  CHECK(x.shape() == Shape{5, 3});
  CHECK(max_diff(matmul(a, x), b) < 1e-13);
  CHECK(max_diff(x, matmul(inverse(a), b)) < 1e-13);
  const Tensor v = randn({5}, gen, f64);
  CHECK(solve(a, v).shape() == Shape{5});
  CHECK(max_diff(matmul(a, solve(a, v)), v) < 1e-13);
  CHECK(solve(tensor({{2, 0}, {0, 4}}, f64), tensor({{2, 4}, {8, 12}}, f64)).data<double>() ==
        tensor({{1, 2}, {2, 3}}, f64).data<double>());
}

TEST_CASE("outer and diag") {
  CHECK(outer(tensor({1, 2}, f64), tensor({3, 4, 5}, f64)).data<double>() ==
        tensor({{3, 4, 5}, {6, 8, 10}}, f64).data<double>());
  const Tensor v = tensor({1, 2}, f64);
  CHECK(diag(v).data<double>() == tensor({{1, 0}, {0, 2}}, f64).data<double>());
  CHECK(diag(v, 1).data<double>() ==
        tensor({{0, 1, 0}, {0, 0, 2}, {0, 0, 0}}, f64).data<double>());
  CHECK(diag(v, -1).data<double>() ==
        tensor({{0, 0, 0}, {1, 0, 0}, {0, 2, 0}}, f64).data<double>());
  const Tensor m = tensor({{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}}, f64);
  CHECK(diag(m).data<double>() == tensor({0, 5, 10}, f64).data<double>());
  CHECK(diag(m, 1).data<double>() == tensor({1, 6, 11}, f64).data<double>());
  CHECK(diag(m, 3).data<double>() == tensor({3}, f64).data<double>());
  CHECK(diag(m, -2).data<double>() == tensor({8}, f64).data<double>());
  CHECK(diag(m, 4).shape() == Shape{0});
  CHECK(diag(m, -3).shape() == Shape{0});
  CHECK(diag(diag(v)).data<double>() == v.data<double>());
}

TEST_CASE("non-square matrices are refused with the op and the shape") {
  const Tensor r = ones({2, 3}, f64);
  check_error<ShapeError>([&] { inverse(r); }, {"inverse: expects a square matrix or a batch of them [*, n, n], got shape [2, 3]"});
  check_error<ShapeError>([&] { det(r); }, {"det: expects a square matrix or a batch of them [*, n, n], got shape [2, 3]"});
  check_error<ShapeError>([&] { logdet(r); }, {"logdet: expects a square matrix or a batch of them [*, n, n], got shape [2, 3]"});
  check_error<ShapeError>([&] { slogdet(r); }, {"slogdet: expects a square matrix or a batch of them [*, n, n], got shape [2, 3]"});
  check_error<ShapeError>([&] { solve(r, ones({2}, f64)); },
                          {"solve: expects a square matrix or a batch of them [*, n, n], got shape [2, 3]"});
  check_error<ShapeError>([] { inverse(ones({4}, f64)); }, {"inverse", "got shape [4]"});
  check_error<ShapeError>([] { det(ones({2, 3, 2}, f64)); }, {"det", "[*, n, n]", "[2, 3, 2]"});
  check_error<ShapeError>([] { solve(eye(3, f64), ones({2, 3}, f64)); }, {"solve", "[*, 3, k]", "[2, 3]"});
  check_error<ShapeError>([] { trace(ones({3}, f64)); }, {"trace: expects a matrix, got shape [3]"});
}

// The elements of t in order, whatever its shape.
static std::vector<double> flat(const Tensor& t) {
  const auto& d = t.data<double>();
  return {d.data(), d.data() + d.size()};
}

TEST_CASE("inverse, det, slogdet, logdet and solve are batched over leading dims, as torch.linalg's") {
  // diag(2, 3) and [[0, 1], [1, 0]] (det −1), in a batch [2, 1, 2, 2].
  const Tensor a = reshape(tensor({2, 0, 0, 3, 0, 1, 1, 0}, f64), Shape{2, 1, 2, 2});
  CHECK(det(a).shape() == Shape{2, 1});
  CHECK(flat(det(a)) == flat(tensor({6, -1}, f64)));
  CHECK(flat(inverse(a)) == flat(tensor({0.5, 0, 0, 1.0 / 3, 0, 1, 1, 0}, f64)));
  const SlogdetResult r = slogdet(a);
  CHECK(flat(r.sign) == flat(tensor({1, -1}, f64)));
  CHECK(r.logabsdet.data<double>()(0, 0) == doctest::Approx(std::log(6.0)));
  CHECK(r.logabsdet.data<double>()(1, 0) == 0.0);
  // B [*, n] (A's shape without its last dim) is a batch of vectors; [*, n, k] of matrices, and
  // the leading dims broadcast.
  const Tensor b = reshape(tensor({4, 9, 5, 7}, f64), Shape{2, 1, 2});
  CHECK(flat(solve(a, b)) == flat(tensor({2, 3, 7, 5}, f64)));
  CHECK(solve(a, unsqueeze(b, -1)).shape() == Shape{2, 1, 2, 1});
  CHECK(solve(a, ones({3, 2, 4}, f64)).shape() == Shape{2, 3, 2, 4});
  // The failing matrix is named by its batch element.
  const Tensor with_singular = reshape(tensor({1, 0, 0, 1, 1, 2, 2, 4}, f64), Shape{2, 2, 2});
  check_error<ValueError>([&] { inverse(with_singular); }, {"inverse (batch element 1)", "[2, 2]", "singular"});
  check_error<ValueError>([&] { logdet(with_singular); }, {"logdet (batch element 1)", "singular"});
  CHECK(flat(det(with_singular)) == flat(tensor({1, 0}, f64)));
}

TEST_CASE("singular matrices are refused by the ops that would divide by zero") {
  const Tensor singular = tensor({{1, 2}, {2, 4}}, f64);
  check_error<ValueError>([&] { inverse(singular); },
                          {"inverse: the matrix of shape [2, 2] is singular",
                           "zero pivot in column 2"});
  check_error<ValueError>([&] { solve(singular, ones({2}, f64)); },
                          {"solve: the matrix of shape [2, 2] is singular"});
  check_error<ValueError>([&] { logdet(singular); }, {"logdet", "[2, 2]", "singular", "−∞"});
  check_error<ValueError>([&] { slogdet(singular); }, {"slogdet", "[2, 2]", "singular"});
  check_error<ValueError>([] { inverse(zeros({3, 3}, f64)); }, {"inverse", "singular"});
}

TEST_CASE("matrices singular to working precision are refused, not inverted into noise") {
  // 1 + ε differs from 1 in the last bit: the inverse would be of size 1/ε.
  const double eps = std::numeric_limits<double>::epsilon();
  const Tensor nearly = tensor({{1, 1}, {1, 1 + eps}}, f64);
  CHECK(det(nearly).item() != 0.0);
  check_error<ValueError>([&] { inverse(nearly); },
                          {"inverse: the matrix of shape [2, 2] is singular to working precision",
                           "reciprocal condition number", "float64 epsilon"});
  check_error<ValueError>([&] { solve(nearly, ones({2, 1}, f64)); },
                          {"solve", "singular to working precision"});
  // In float32 the same threshold is float32's epsilon.
  const float eps32 = std::numeric_limits<float>::epsilon();
  check_error<ValueError>([&] { inverse(tensor({{1, 1}, {1, 1 + eps32}})); },
                          {"inverse", "singular to working precision", "float32 epsilon"});
  CHECK(inverse(tensor({{1, 1}, {1, 1 + 1e-3}})).shape() == Shape{2, 2});
}

TEST_CASE("log det of a matrix with negative determinant points to slogdet") {
  check_error<ValueError>([] { logdet(tensor({{-1, 0}, {0, 2}}, f64)); },
                          {"logdet", "[2, 2]", "negative", "slogdet"});
}

TEST_CASE("non-finite entries are named instead of factorised") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  check_error<ValueError>([&] { inverse(tensor({{1, nan}, {0, 1}}, f64)); },
                          {"inverse", "[2, 2]", "non-finite entry (nan) at flat index 1"});
  check_error<ValueError>([&] { det(tensor({{1, 0}, {INFINITY, 1}}, f64)); },
                          {"det", "non-finite entry (inf) at flat index 2"});
  check_error<ValueError>([&] { solve(eye(2, f64), tensor({1, nan}, f64)); },
                          {"solve", "non-finite"});
}

TEST_CASE("the backward of det refuses a singular matrix") {
  Tensor a = tensor({{1, 2}, {2, 4}}, {.dtype = DType::float64, .requires_grad = true});
  Tensor d = det(a);
  CHECK(d.item() == 0.0);
  check_error<ValueError>([&] { d.backward(); }, {"det (backward)", "[2, 2]", "singular"});
}

TEST_CASE("solve, outer and diag check their other arguments") {
  check_error<ShapeError>([] { solve(eye(3, f64), ones({4, 2}, f64)); },
                          {"solve: A of shape [3, 3] needs B of shape [*, 3] or [*, 3, k], got [4, 2]"});
  check_error<ShapeError>([] { solve(eye(3, f64), ones({3, 2, 1}, f64)); }, {"solve", "[3, 2, 1]"});
  check_error<DTypeError>([] { solve(eye(3, f64), ones({3})); }, {"solve", "float64", "float32"});
  check_error<ShapeError>([] { outer(ones({2, 2}, f64), ones({3}, f64)); },
                          {"outer: expects two vectors, got shapes [2, 2] and [3]"});
  check_error<ShapeError>([] { diag(ones({2, 2, 2}, f64)); },
                          {"diag: expects a vector or a matrix, got shape [2, 2, 2]"});
  check_error<ShapeError>([] { diag(ones({}, f64)); }, {"diag", "got shape []"});
}

TEST_CASE("cookbook gradients by formula: ∂ log det X = X⁻ᵀ, ∂ det X = det X · X⁻ᵀ") {
  Generator gen(4);
  Tensor x = well_conditioned(4, gen).requires_grad_(true);
  logdet(matmul(x, t(x))).backward();
  // log det(X Xᵀ) = 2 log|det X|  =>  gradient 2 X⁻ᵀ
  CHECK(max_diff(x.grad(), 2.0 * t(inverse(x.detach()))) < 1e-13);
  x.zero_grad();
  Tensor d = det(x);
  d.backward();
  CHECK(max_diff(x.grad(), d.item() * t(inverse(x.detach()))) < 1e-9 * std::abs(d.item()));
}

// The gradient of each op, itself differentiated: its VJP is built from matgrad ops, so
// gradcheck can run on the first derivative (grad with create_graph).
TEST_CASE("the VJPs are differentiable: gradcheck of the first gradient") {
  using In = const std::vector<Tensor>&;
  auto first_gradient = [](std::function<Tensor(const Tensor&)> f) {
    return [f](In in) {
      AutoGradMode enabled(true);  // gradcheck's finite differences run under NoGradGuard
      const Tensor y = f(in[0]);
      return grad({y}, {in[0]}, {}, true, true)[0];
    };
  };
  auto shifted = [](const Tensor& x) { return x + 4.0 * eye(4, f64); };
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> cases = {
      {"trace", [](const Tensor& x) { return square(trace(x)); }},
      {"inverse", [&](const Tensor& x) { return sum(square(inverse(shifted(x)))); }},
      {"det", [&](const Tensor& x) { return det(shifted(x)); }},
      {"logdet", [&](const Tensor& x) { return logdet(matmul(x, t(x)) + eye(4, f64)); }},
      {"slogdet", [&](const Tensor& x) { return slogdet(shifted(x)).logabsdet; }},
      {"solve", [&](const Tensor& x) { return sum(square(solve(shifted(x), t(x)))); }},
      {"outer", [](const Tensor& x) { return sum(square(outer(flatten(x), flatten(x)))); }},
      {"diag", [](const Tensor& x) { return sum(square(diag(diag(x, 1)) * 3.0)); }},
  };
  Generator gen(5);
  for (const auto& [name, f] : cases) {
    const Tensor x = randn({4, 4}, gen, {.dtype = DType::float64, .requires_grad = true});
    const GradcheckResult result = gradcheck(first_gradient(f), {x});
    INFO(name, "\n", result.report());
    CHECK(result.passed);
  }
}
