// qr, lu_factor / lu_solve, pinv and lstsq beyond the op table (which checks their gradients):
// the properties of their results, float32, the outputs torch leaves empty, and the errors.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <cmath>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

const TensorOptions f64{.dtype = DType::float64};

double max_abs(const Tensor& x) { return x.numel() ? amax(abs(x)).item() : 0.0; }

}  // namespace

TEST_CASE("qr: Q orthonormal, R upper triangular, Q R = A, in each mode and dtype") {
  Generator gen(5);
  for (const Shape& s : {Shape{5, 3}, Shape{3, 5}, Shape{4, 4}, Shape{3, 6, 2}}) {
    for (const DType dtype : {DType::float64, DType::float32}) {
      const Tensor a = randn(s, gen, {.dtype = dtype});
      const double tol = dtype == DType::float64 ? 1e-12 : 1e-5;
      const std::size_t m = s[s.size() - 2], n = s.back(), k = std::min(m, n);
      for (const char* mode : {"reduced", "complete"}) {
        INFO(to_string(s), " ", mode);
        const QrResult f = qr(a, mode);
        const std::size_t q_cols = std::string(mode) == "complete" ? m : k;
        CHECK(f.Q.size(-1) == q_cols);
        CHECK(f.R.size(-2) == q_cols);
        CHECK(f.Q.dtype() == dtype);
        CHECK(max_abs(matmul(transpose(f.Q, -2, -1), f.Q) - eye(q_cols, {.dtype = dtype})) < tol);
        CHECK(max_abs(f.R - triu(f.R)) == 0.0);
        CHECK(max_abs(matmul(f.Q, f.R) - a) < 10 * tol);
      }
      const QrResult r = qr(a, "r");
      CHECK(r.Q.shape() == Shape{0});
      CHECK(max_abs(r.R - qr(a).R) == 0.0);
    }
  }
}

TEST_CASE("qr: the modes torch cannot differentiate raise its errors") {
  Generator gen(6);
  const Tensor tall = randn({4, 2}, gen, f64).requires_grad_();
  check_error<AutogradError>([&] { sum(qr(tall, "r").R).backward(); }, {"qr:", "mode='r'"});
  check_error<AutogradError>([&] { sum(qr(tall, "complete").Q).backward(); },
                             {"qr:", "mode='complete' and nrows > ncols", "[4, 2]"});
  const Tensor wide = randn({2, 4}, gen, f64).requires_grad_();
  sum(qr(wide, "complete").Q).backward();  // m ≤ n: the reduced decomposition, differentiable
  CHECK(wide.grad().shape() == Shape{2, 4});
  check_error<ValueError>([&] { qr(tall, "full"); }, {"qr: mode must be", "\"full\""});
  check_error<ShapeError>([&] { qr(randn({3}, gen, f64)); }, {"qr: expects a matrix", "[3]"});
}

TEST_CASE("lu_factor and lu_solve: P L U = A, 1-based pivots, the four solves") {
  Generator gen(7);
  const Tensor a = randn({2, 4, 4}, gen, f64);
  const LuFactorResult f = lu_factor(a);
  CHECK(f.pivots.dtype() == DType::int64);
  CHECK(f.pivots.shape() == Shape{2, 4});
  const std::int64_t* piv = f.pivots.data<std::int64_t>().data();
  for (std::size_t i = 0; i < 8; ++i) CHECK((piv[i] >= 1 && piv[i] <= 4));
  // A X = B, Aᵀ X = B, X A = B, X Aᵀ = B
  const Tensor b = randn({2, 4, 3}, gen, f64), at = transpose(a, -2, -1);
  CHECK(max_abs(matmul(a, lu_solve(f.LU, f.pivots, b)) - b) < 1e-12);
  CHECK(max_abs(matmul(at, lu_solve(f.LU, f.pivots, b, true, true)) - b) < 1e-12);
  const Tensor bt = transpose(b, -2, -1);
  CHECK(max_abs(matmul(lu_solve(f.LU, f.pivots, bt, false), a) - bt) < 1e-12);
  CHECK(max_abs(matmul(lu_solve(f.LU, f.pivots, bt, false, true), at) - bt) < 1e-12);
  // Rectangular factorisations: pivots [*, min(m, n)]
  CHECK(lu_factor(randn({5, 3}, gen, f64)).pivots.shape() == Shape{3});
  CHECK(lu_factor(randn({3, 5}, gen, f64)).pivots.shape() == Shape{3});
}

TEST_CASE("lu_factor and lu_solve: errors") {
  Generator gen(8);
  const Tensor a = randn({3, 3}, gen, f64), b = randn({3, 2}, gen, f64);
  const LuFactorResult f = lu_factor(a);
  check_error<DTypeError>([&] { lu_solve(f.LU, f.pivots.to(DType::float64), b); }, {"lu_solve: pivots must be int64"});
  check_error<ShapeError>([&] { lu_solve(f.LU, zeros({2}, {.dtype = DType::int64}), b); },
                          {"lu_solve: LU of shape [3, 3] needs pivots of shape [3], got [2]"});
  Tensor bad = zeros({3}, {.dtype = DType::int64});  // 0 is not a 1-based row
  check_error<ValueError>([&] { lu_solve(f.LU, bad, b); }, {"lu_solve: pivots[0] = 0", "outside [1, 3]"});
  check_error<ShapeError>([&] { lu_solve(f.LU, f.pivots, randn({4, 2}, gen, f64)); }, {"lu_solve: LU of shape [3, 3]", "[4, 2]"});
}

TEST_CASE("pinv: the Penrose conditions, tolerances, hermitian") {
  Generator gen(9);
  for (const Shape& s : {Shape{3, 5}, Shape{5, 3}, Shape{2, 4, 4}}) {
    const Tensor a = randn(s, gen, f64), p = pinv(a);
    CHECK(max_abs(matmul(matmul(a, p), a) - a) < 1e-12);
    CHECK(max_abs(matmul(matmul(p, a), p) - p) < 1e-12);
  }
  // A rank-1 matrix: its pseudoinverse keeps one singular value; rtol = 1 drops all but exact ties.
  const Tensor u = randn({4, 1}, gen, f64), v = randn({1, 3}, gen, f64), r1 = matmul(u, v);
  const Tensor p1 = pinv(r1);
  CHECK(max_abs(p1 - matmul(transpose(v, 0, 1), transpose(u, 0, 1)) / (sum(square(u)) * sum(square(v)))) < 1e-12);
  const Tensor a = randn({3, 3}, gen, f64);
  CHECK(max_abs(pinv(a, std::nullopt, 1.0)) == 0.0);
  CHECK(max_abs(pinv(a, 1e6)) == 0.0);
  const Tensor sym = a + transpose(a, 0, 1);
  CHECK(max_abs(pinv(sym, std::nullopt, std::nullopt, true) - inverse(sym)) < 1e-10);
  check_error<ValueError>([&] { pinv(a, -1.0); }, {"pinv: atol and rtol must be ≥ 0"});
  check_error<ShapeError>([&] { pinv(randn({3, 4}, gen, f64), std::nullopt, std::nullopt, true); },
                          {"pinv: expects a square matrix"});
}

TEST_CASE("lstsq: solutions, residuals, rank and singular values as torch returns them") {
  Generator gen(10);
  const Tensor tall = randn({5, 3}, gen, f64), b = randn({5, 2}, gen, f64);
  const Tensor normal = solve(matmul(transpose(tall, 0, 1), tall), matmul(transpose(tall, 0, 1), b));
  for (const char* driver : {"gels", "gelsy", "gelsd", "gelss"}) {
    INFO(driver);
    const LstsqResult r = lstsq(tall, b, std::nullopt, driver);
    CHECK(max_abs(r.solution - normal) < 1e-12);
    const bool has_rank = std::string(driver) != "gels", has_sv = has_rank && std::string(driver) != "gelsy";
    CHECK(r.rank.shape() == (has_rank ? Shape{} : Shape{0}));
    if (has_rank) CHECK(r.rank.item<std::int64_t>() == 3);
    CHECK(r.singular_values.shape() == (has_sv ? Shape{3} : Shape{0}));
    CHECK(r.residuals.shape() == (std::string(driver) == "gelsy" ? Shape{0} : Shape{2}));
    if (r.residuals.numel()) CHECK(max_abs(r.residuals - sum(square(matmul(tall, normal) - b), {0})) < 1e-12);
  }
  // Wide: the least-norm solution, pinv(A) B.
  const Tensor wide = randn({2, 4}, gen, f64), bw = randn({2, 3}, gen, f64);
  CHECK(max_abs(lstsq(wide, bw, std::nullopt, "gels").solution - matmul(pinv(wide), bw)) < 1e-12);
  // Rank-deficient: gelsd drops the zero singular value, and reports rank 1 and no residuals.
  const Tensor r1 = matmul(randn({4, 1}, gen, f64), randn({1, 2}, gen, f64));
  const LstsqResult d = lstsq(r1, randn({4, 1}, gen, f64), std::nullopt, "gelsd");
  CHECK(d.rank.item<std::int64_t>() == 1);
  CHECK(d.residuals.shape() == Shape{0});
  // B a batch of vectors
  CHECK(lstsq(tall, randn({5}, gen, f64)).solution.shape() == Shape{3});
  check_error<ValueError>([&] { lstsq(tall, b, std::nullopt, "gelsx"); }, {"lstsq: driver must be", "\"gelsx\""});
  check_error<ShapeError>([&] { lstsq(tall, randn({4, 2}, gen, f64)); }, {"lstsq: A of shape [5, 3]", "[4, 2]"});
}
