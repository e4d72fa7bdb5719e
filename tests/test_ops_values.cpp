// Forward values and gradients of the elementwise, softmax and loss ops against hand-computed
// numbers: stability for large inputs, the documented gradients at non-differentiable points,
// no NaN leaking through where, the error messages, and second-order differentiability.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

const double inf = std::numeric_limits<double>::infinity();
const double e = std::exp(1.0);

std::vector<double> values(const Tensor& t) {
  NoGradGuard no_grad;
  const Tensor d = t.to(DType::float64);
  const auto& a = d.data<double>();
  return {a.data(), a.data() + a.size()};
}

// A 1-D tensor: vec({1, 2}) (float64 by default).
Tensor vec(std::initializer_list<NestedList> v, DType dtype = DType::float64,
           bool requires_grad = false) {
  Tensor t = tensor(NestedList(v), {.dtype = dtype});
  return t.requires_grad_(requires_grad);
}

// Every element of `got` against `want` (relative tolerance tol; infinities and NaN exact).
void check_values(const Tensor& got, const std::vector<double>& want, double tol = 1e-12) {
  const std::vector<double> v = values(got);
  REQUIRE(v.size() == want.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    INFO("element ", i, ": got ", v[i], ", want ", want[i]);
    if (std::isnan(want[i])) {
      CHECK(std::isnan(v[i]));
    } else if (std::isinf(want[i])) {
      CHECK(v[i] == want[i]);
    } else {
      CHECK(std::isfinite(v[i]));
      CHECK(v[i] == doctest::Approx(want[i]).epsilon(tol));
    }
  }
}

double tolerance(DType dtype) { return dtype == DType::float32 ? 1e-6 : 1e-12; }

// d(sum(y ⊙ seed))/dx for a leaf x.
Tensor grad_of(const Tensor& y, const Tensor& x, const Tensor& seed = {}) {
  return grad({y}, {x}, {seed.defined() ? seed : ones_like(y)})[0];
}


const DType dtypes[] = {DType::float32, DType::float64};

}  // namespace

TEST_CASE("softmax of large inputs is finite and exact") {
  for (DType dt : dtypes) {
    CAPTURE(dtype_name(dt));
    const double tol = tolerance(dt);
    check_values(softmax(vec({1000, 1001}, dt), 0), {0.2689414213699951, 0.7310585786300049}, tol);
    check_values(softmax(vec({-1000, -1001}, dt), -1), {0.7310585786300049, 0.2689414213699951},
                 tol);
    // Over dim 0 of a matrix (inner stride 2): columns [1000, 1002] and [-1000, -1001].
    Tensor m = tensor({{1000.0, -1000.0}, {1002.0, -1001.0}}, {.dtype = dt});
    check_values(softmax(m, 0),
                 {0.11920292202211757, 0.7310585786300049, 0.8807970779778825, 0.2689414213699951},
                 tol);
    CHECK(softmax(m, 0).dtype() == dt);
  }
}

TEST_CASE("log_softmax and logsumexp of large inputs equal the closed forms") {
  for (DType dt : dtypes) {
    CAPTURE(dtype_name(dt));
    const double tol = tolerance(dt);
    // log_softmax([1000, 1001]) = [−log(1 + e), −log(1 + 1/e)]
    check_values(log_softmax(vec({1000, 1001}, dt), 0), {-1.3132616875182228, -0.31326168751822286},
                 tol);
    check_values(log_softmax(vec({-1000, -1001}, dt), 0),
                 {-0.31326168751822286, -1.3132616875182228}, tol);
    // logsumexp = 1001 + log(1 + 1/e)
    check_values(logsumexp(vec({1000, 1001}, dt), 0), {1001.3132616875182}, tol);
    check_values(logsumexp(vec({-1000, -1001}, dt), 0), {-1000 + 0.31326168751822286}, tol);
    // A gap of 2000: the small term underflows to exactly 0 and nothing overflows.
    check_values(log_softmax(vec({-1000, 1000}, dt), 0), {-2000, 0}, tol);
  }
  Tensor m = tensor({{1000.0, 1001.0}, {-5.0, 5.0}}, {.dtype = DType::float64});
  CHECK(logsumexp(m, 1).shape() == Shape{2});
  CHECK(logsumexp(m, 1, true).shape() == Shape{2, 1});
  CHECK(logsumexp(m, 0).shape() == Shape{2});
  check_values(logsumexp(m, -1, true), {1001.3132616875182, 5 + std::log1p(std::exp(-10.0))});
}

TEST_CASE("softmax family: infinities, 0-d tensors and empty dims") {
  // logsumexp handles infinite maxima as PyTorch does.
  check_values(logsumexp(vec({-inf, -inf}), 0), {-inf});
  check_values(logsumexp(vec({inf, 1}), 0), {inf});
  check_values(log_softmax(vec({-inf, 0}), 0), {-inf, 0});
  check_values(softmax(vec({-inf, 0}), 0), {0, 1});
  // 0-d: one element along dim 0 or -1.
  Tensor s = tensor(3.5, {.dtype = DType::float64});
  check_values(softmax(s, 0), {1});
  check_values(log_softmax(s, -1), {0});
  check_values(logsumexp(s, 0), {3.5});
  CHECK(logsumexp(s, 0, true).shape() == Shape{});
  // Zero-size dims.
  Tensor empty_rows = zeros({0, 3}, {.dtype = DType::float64});
  CHECK(softmax(empty_rows, -1).shape() == Shape{0, 3});
  CHECK(logsumexp(empty_rows, 1).shape() == Shape{0});
  check_values(logsumexp(zeros({2, 0}, {.dtype = DType::float64}), 1), {-inf, -inf});
  CHECK(log_softmax(zeros({2, 0}, {.dtype = DType::float64}), 0).shape() == Shape{2, 0});
}

TEST_CASE("softmax family gradients for large inputs") {
  Tensor x = vec({1000, 1001}, DType::float64, true);
  // d softmax₀ / dx = p₀ (e₀ − p): [p₀ p₁, −p₀ p₁]
  const double p0 = 0.2689414213699951, p1 = 0.7310585786300049;
  check_values(grad_of(softmax(x, 0), x, vec({1, 0})), {p0 * p1, -p0 * p1});
  check_values(grad_of(logsumexp(x, 0), x), {p0, p1});
  // Σ_j ∂ log_softmax_j / ∂x = 1 − 2 p
  check_values(grad_of(log_softmax(x, 0), x), {1 - 2 * p0, 1 - 2 * p1});
  // exp(x − logsumexp(x)) rounds to exp(0) = 1 once log 2 is below x's ulp; the softmax keeps 1/2.
  Tensor huge = vec({1e30, 1e30}, DType::float64, true);
  check_values(grad_of(logsumexp(huge, 0), huge), {0.5, 0.5});
  Tensor huge32 = vec({1e8, 1e8}, DType::float32, true);
  check_values(grad_of(logsumexp(huge32, 0, true), huge32), {0.5, 0.5}, 1e-6);
  Tensor rows = tensor({{1e30, 1e30, -1e30}, {3.0, 3.0, 3.0}}, {.dtype = DType::float64, .requires_grad = true});
  check_values(grad_of(logsumexp(rows, 1), rows), {0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3});
}

TEST_CASE("cross_entropy on large logits equals the closed form") {
  // Row 0: logsumexp − x₀ = log(e + 1 + 1/e); row 1: the target sits 2000 below the max.
  const double row0 = 1.4076059644443804, row1 = 2000;
  const std::vector<std::size_t> targets{0, 0};
  for (DType dt : dtypes) {
    CAPTURE(dtype_name(dt));
    const double tol = tolerance(dt);
    Tensor logits = tensor({{1000.0, 1001.0, 999.0}, {-1000.0, 0.0, 1000.0}}, {.dtype = dt});
    check_values(cross_entropy(logits, targets, Reduction::none), {row0, row1}, tol);
    check_values(cross_entropy(logits, targets), {(row0 + row1) / 2}, tol);
    check_values(cross_entropy(logits, targets, Reduction::sum), {row0 + row1}, tol);
    CHECK(cross_entropy(logits, targets).shape() == Shape{});
    CHECK(cross_entropy(logits, targets, Reduction::none).shape() == Shape{2});
  }
  // A [C] input is one sample: the loss is 0-d.
  const std::vector<std::size_t> one{1};
  Tensor single = cross_entropy(vec({1000, 1001, 999}), one, Reduction::none);
  CHECK(single.shape() == Shape{});
  check_values(single, {row0 - 1});

  // gA = (softmax(A) − onehot(t)) / N for the mean.
  Tensor logits = tensor({{1000.0, 1001.0, 999.0}, {-1000.0, 0.0, 1000.0}},
                         {.dtype = DType::float64, .requires_grad = true});
  const double s = 1 + e + 1 / e;
  check_values(grad_of(cross_entropy(logits, targets), logits),
               {(1 / s - 1) / 2, (e / s) / 2, (1 / e / s) / 2, -0.5, 0, 0.5});
  // none: each row scaled by its own gC.
  check_values(grad_of(cross_entropy(logits, targets, Reduction::none), logits, vec({2, -1})),
               {2 * (1 / s - 1), 2 * (e / s), 2 * (1 / e / s), 1, 0, -1});
}

TEST_CASE("cross_entropy keeps its own copy of the targets") {
  Tensor logits =
      tensor({{0.0, 1.0}, {2.0, 0.0}}, {.dtype = DType::float64, .requires_grad = true});
  Tensor loss;
  {
    std::vector<std::size_t> targets{1, 0};
    loss = cross_entropy(logits, targets, Reduction::sum);
    targets = {0, 1};  // overwritten (then freed) before the backward pass
  }
  const double p = 1 / (1 + e), q = 1 / (1 + e * e);  // softmax of [0, 1] and [2, 0]
  check_values(grad_of(loss, logits), {p, (1 - p) - 1, (1 - q) - 1, q});
}

TEST_CASE("binary_cross_entropy_with_logits on large logits equals the closed form") {
  // max(x, 0) − x y + log(1 + e^−|x|)
  for (DType dt : dtypes) {
    CAPTURE(dtype_name(dt));
    const double tol = tolerance(dt);
    Tensor x = vec({1000, -1000, 1000, -1000, 0}, dt);
    Tensor y = vec({0, 1, 1, 0, 0.25}, dt);
    const double l2 = 0.6931471805599453;
    check_values(binary_cross_entropy_with_logits(x, y, Reduction::none), {1000, 1000, 0, 0, l2},
                 tol);
    check_values(binary_cross_entropy_with_logits(x, y, Reduction::sum), {2000 + l2}, tol);
    check_values(binary_cross_entropy_with_logits(x, y), {(2000 + l2) / 5}, tol);
  }
  Tensor x = vec({1000, -1000, 1000, -1000, 0}, DType::float64, true);
  Tensor y = vec({0, 1, 1, 0, 0.25}, DType::float64, true);
  Tensor loss = binary_cross_entropy_with_logits(x, y);
  auto g = grad({loss}, {x, y});
  // gX = (σ(x) − y) / 5, gY = −x / 5
  check_values(g[0], {0.2, -0.2, 0, 0, 0.05});
  check_values(g[1], {-200, 200, -200, 200, 0});
}

TEST_CASE("gradients at non-differentiable points follow PyTorch") {
  Tensor x = vec({-1, 0, 2}, DType::float64, true);
  check_values(grad_of(relu(x), x), {0, 0, 1});                 // relu'(0) = 0
  check_values(grad_of(abs(x), x), {-1, 0, 1});                 // abs'(0) = 0
  check_values(grad_of(leaky_relu(x, 0.1), x), {0.1, 0.1, 1});  // leaky_relu'(0) = slope
  check_values(relu(x), {0, 0, 2});
  check_values(leaky_relu(x, 0.1), {-0.1, 0, 2});

  Tensor r = vec({0, 4}, DType::float64, true);
  check_values(sqrt(r), {0, 2});
  check_values(grad_of(sqrt(r), r), {inf, 0.25});  // sqrt'(0) = +inf

  // clamp: the gradient passes at the bounds themselves.
  Tensor c = vec({-1, 1, -1.5, 1.5, 0}, DType::float64, true);
  check_values(clamp(c, -1.0, 1.0), {-1, 1, -1, 1, 0});
  check_values(grad_of(clamp(c, -1.0, 1.0), c), {1, 1, 0, 0, 1});
  check_values(grad_of(clamp(c, std::nullopt, 1.0), c), {1, 1, 1, 0, 1});
  check_values(grad_of(clamp(c, -1.0, std::nullopt), c), {1, 1, 0, 1, 1});
  // min > max: everything becomes max, and no gradient passes.
  check_values(clamp(c, 2.0, 1.0), {1, 1, 1, 1, 1});
  check_values(grad_of(clamp(c, 2.0, 1.0), c), {0, 0, 0, 0, 0});

  // NaN propagates through relu and clamp, with zero gradient from clamp.
  Tensor n = vec({std::nan("")}, DType::float64, true);
  check_values(relu(n), {std::nan("")});
  check_values(clamp(n, -1.0, 1.0), {std::nan("")});
  check_values(grad_of(clamp(n, -1.0, 1.0), n), {0});

  // pow(x, 0) = 1 with gradient exactly 0, also at x = 0.
  Tensor p = vec({0, 2}, DType::float64, true);
  check_values(pow(p, 0.0), {1, 1});
  check_values(grad_of(pow(p, 0.0), p), {0, 0});
  check_values(grad_of(pow(p, 2.0), p), {0, 4});
  check_values(grad_of(pow(p, 0.5), p), {inf, 0.5 / std::sqrt(2.0)});
}

TEST_CASE("elementwise forward values") {
  for (DType dt : dtypes) {
    CAPTURE(dtype_name(dt));
    const double tol = tolerance(dt);
    check_values(sigmoid(vec({-1000, 0, 1000, 2}, dt)), {0, 0.5, 1, 0.8807970779778823}, tol);
    check_values(tanh(vec({-1000, 0, 1000}, dt)), {-1, 0, 1}, tol);
    check_values(exp(vec({0, 1}, dt)), {1, e}, tol);
    check_values(log(vec({1, e, 0}, dt)), {0, 1, -inf}, tol);
    check_values(square(vec({-3, 0.5}, dt)), {9, 0.25}, tol);
    check_values(pow(vec({4, 2}, dt), -0.5), {0.5, 1 / std::sqrt(2.0)}, tol);
    // softplus: log(1 + e^(βx)) / β, linear where βx > threshold; finite for large |x|.
    check_values(softplus(vec({30, -1000, 1000, 0}, dt)), {30, 0, 1000, 0.6931471805599453}, tol);
    check_values(softplus(vec({1}, dt), 2.0, 20.0), {1.0634640055214863}, tol);
    check_values(softplus(vec({1}, dt), 2.0, 1.0), {1}, tol);  // βx = 2 > 1: linear
  }
  Tensor x = vec({30, 1}, DType::float64, true);
  check_values(grad_of(softplus(x, 1.0, 20.0), x), {1, 1 / (1 + 1 / e)});
  check_values(grad_of(softplus(x, 2.0, 20.0), x), {1, 0.8807970779778823});
  // At βx = threshold exactly the log regime still holds, as in torch: slope σ(threshold), not 1.
  Tensor at = vec({20, 0.5}, DType::float64, true);
  check_values(grad_of(softplus(at, 1.0, 20.0), at), {0.9999999979388463, 1 / (1 + std::exp(-0.5))});
  check_values(grad_of(softplus(at, 2.0, 1.0), at), {1, 0.7310585786300049});
}

TEST_CASE("sign and the comparisons are constants of the input dtype") {
  Tensor x = vec({-2, 0, 3, std::nan("")}, DType::float32, true);
  Tensor s = sign(x);
  CHECK_FALSE(s.requires_grad());
  CHECK(s.dtype() == DType::float32);
  check_values(s, {-1, 0, 1, std::nan("")});  // NaN propagates (NumPy; PyTorch gives 0)

  Tensor a =
      tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, {.dtype = DType::float64, .requires_grad = true});
  Tensor b = vec({2, 2, 7}, DType::float64, true);
  const std::size_t tape_before = tape_size();
  Tensor g = gt(a, b);
  CHECK(g.shape() == Shape{2, 3});
  CHECK_FALSE(g.requires_grad());
  CHECK(tape_size() == tape_before);
  check_values(g, {0, 0, 0, 1, 1, 0});
  check_values(ge(a, b), {0, 1, 0, 1, 1, 0});
  check_values(lt(a, b), {1, 0, 1, 0, 0, 1});
  check_values(le(a, b), {1, 1, 1, 0, 0, 1});
  check_values(eq(a, b), {0, 1, 0, 0, 0, 0});
  check_values(eq(vec({std::nan("")}), vec({std::nan("")})), {0});
  check_values(ne(a, b), {1, 0, 1, 1, 1, 1});
  check_values(ne(vec({std::nan("")}), vec({std::nan("")})), {1});
  CHECK_FALSE(ne(a, b).requires_grad());
  check_values(gt(tensor(2.5, {.dtype = DType::float64}), vec({1, 3})), {1, 0});
}

TEST_CASE("where sends an exact 0 to the branch not taken, which can still make NaN: double where") {
  Tensor x = vec({-1, 4}, DType::float64, true);
  const Tensor positive = gt(x, zeros_like(x));
  Tensor lx = log(x);
  CHECK(std::isnan(values(lx)[0]));  // the unselected branch really is NaN
  Tensor y = where(positive, lx, zeros_like(x));
  check_values(y, {0, std::log(4.0)});
  // log's VJP is 0 ⊘ A = 0 at A = −1: no NaN here.
  std::vector<double> g = values(grad_of(y, x));
  CHECK(g[0] == 0);
  CHECK(g[1] == doctest::Approx(0.25));
  // sqrt's is 0 ⊘ (2 sqrt(A)) = 0 ⊘ NaN = NaN at A = −1, as in PyTorch ...
  g = values(grad_of(where(positive, sqrt(x), zeros_like(x)), x));
  CHECK(std::isnan(g[0]));
  CHECK(g[1] == doctest::Approx(0.25));
  // ... and keeping the input out of the branch's domain as well gives 0 there.
  Tensor safe = where(positive, sqrt(where(positive, x, ones_like(x))), zeros_like(x));
  check_values(safe, {0, 2});
  check_values(grad_of(safe, x), {0, 0.25});

  // Three-way broadcasting: condition [2, 1], a [3], b 0-d.
  Tensor cond = reshape(vec({1, 0}), {2, 1});
  Tensor a = vec({1, 2, 3}, DType::float64, true);
  Tensor b = tensor(-1.0, {.dtype = DType::float64, .requires_grad = true});
  Tensor w = where(cond, a, b);
  CHECK(w.shape() == Shape{2, 3});
  check_values(w, {1, 2, 3, -1, -1, -1});
  auto gw =
      grad({w}, {a, b}, {tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, {.dtype = DType::float64})});
  check_values(gw[0], {1, 2, 3});
  check_values(gw[1], {15});
  // The condition may have the other dtype; it is only read as non-zero.
  check_values(where(reshape(vec({1, 0}, DType::float32), {2, 1}), a, b), {1, 2, 3, -1, -1, -1});
}

TEST_CASE("zero-size and 0-d inputs") {
  Tensor empty = zeros({0, 3}, {.dtype = DType::float64, .requires_grad = true});
  CHECK(relu(empty).shape() == Shape{0, 3});
  CHECK(
      where(gt(empty, zeros_like(empty)), empty, tensor(1.0, {.dtype = DType::float64})).shape() ==
      Shape{0, 3});
  const std::vector<std::size_t> none_targets;
  CHECK(cross_entropy(empty, none_targets, Reduction::none).shape() == Shape{0});
  check_values(cross_entropy(empty, none_targets, Reduction::sum), {0});
  check_values(cross_entropy(empty, none_targets), {std::nan("")});  // mean of nothing, as PyTorch
  check_values(binary_cross_entropy_with_logits(empty, zeros_like(empty), Reduction::sum), {0});
  CHECK(grad_of(cross_entropy(empty, none_targets, Reduction::sum), empty).shape() == Shape{0, 3});
  CHECK(grad_of(sum(softmax(empty, 1)), empty).shape() == Shape{0, 3});

  Tensor s = tensor(-2.0, {.dtype = DType::float64, .requires_grad = true});
  check_values(binary_cross_entropy_with_logits(s, tensor(1.0, {.dtype = DType::float64})),
               {std::log1p(std::exp(2.0))});
  check_values(grad_of(clamp(s, -3.0, 0.0) + relu(s) + abs(s), s), {1 + 0 - 1});
  CHECK(sign(s).shape() == Shape{});
}

TEST_CASE("error messages name the op and the offending values") {
  const std::vector<std::size_t> bad{0, 3};
  Tensor logits = zeros({2, 3}, {.dtype = DType::float64});
  check_error<IndexError>([&] { cross_entropy(logits, bad); },
                          {"cross_entropy", "target 3", "position 1", "3 classes", "[2, 3]"});
  const std::vector<std::size_t> three{0, 1, 2};
  check_error<ShapeError>([&] { cross_entropy(logits, three); },
                          {"cross_entropy", "3 targets", "[2, 3]", "expected 2"});
  check_error<ShapeError>(
      [&] {
        cross_entropy(zeros({2, 3, 4}, {.dtype = DType::float64}), three);
      },
      {"cross_entropy", "[2, 3, 4]"});
  check_error<ShapeError>(
      [] {
        binary_cross_entropy_with_logits(zeros({2, 3}, {.dtype = DType::float64}),
                                         zeros({3, 2}, {.dtype = DType::float64}));
      },
      {"binary_cross_entropy_with_logits", "[2, 3]", "[3, 2]"});
  check_error<DTypeError>(
      [] {
        binary_cross_entropy_with_logits(zeros({2}), vec({0, 1}));
      },
      {"binary_cross_entropy_with_logits", "float32", "float64"});
  check_error<ShapeError>(
      [] {
        mse_loss(vec({1, 2, 3}), zeros({3, 1}, {.dtype = DType::float64}));
      },
      {"mse_loss", "[3]", "[3, 1]"});
  check_error<ShapeError>(
      [] {
        where(vec({1, 0}), vec({1, 2, 3}), vec({1}));
      },
      {"where", "[2]", "[3]"});
  check_error<DTypeError>([] { gt(vec({1}), zeros({1})); }, {"gt", "float64", "float32"});
  check_error<DTypeError>([] { where(vec({1}), vec({1}), zeros({1})); },
                          {"where", "float64", "float32"});
  check_error<ValueError>([] { clamp(vec({1}), std::nullopt, std::nullopt); },
                          {"clamp", "min", "max"});
  check_error<IndexError>([] { softmax(zeros({2, 3}), 2); }, {"softmax", "dim 2", "rank 2"});
  check_error<IndexError>([] { logsumexp(tensor(1.0), 1); }, {"logsumexp", "dim 1"});
}

// gradcheck of x ↦ ∂(Σ op(x) ⊙ r)/∂x, the first gradient taken with create_graph: the VJPs
// themselves are differentiated.
TEST_CASE("VJPs are differentiable a second time") {
  using Op = std::function<Tensor(const std::vector<Tensor>&)>;
  struct Case {
    std::string name;
    std::vector<Shape> shapes;
    Op op;
    bool positive = false;
  };
  const std::vector<std::size_t> targets{2, 0, 1};
  const std::vector<Case> cases = {
      {"exp", {{3, 4}}, [](auto& x) { return exp(x[0]); }},
      {"log", {{3, 4}}, [](auto& x) { return log(x[0]); }, true},
      {"sqrt", {{3, 4}}, [](auto& x) { return sqrt(x[0]); }, true},
      {"pow", {{3, 4}}, [](auto& x) { return pow(x[0], 2.5); }, true},
      {"square", {{3, 4}}, [](auto& x) { return square(x[0]) * x[0]; }},
      {"tanh", {{3, 4}}, [](auto& x) { return tanh(x[0]); }},
      {"sigmoid", {{3, 4}}, [](auto& x) { return sigmoid(x[0]); }},
      {"softplus", {{3, 4}}, [](auto& x) { return softplus(x[0], 2.0, 20.0); }},
      {"softmax", {{3, 4}}, [](auto& x) { return softmax(x[0], 0); }},
      {"log_softmax", {{3, 4}}, [](auto& x) { return log_softmax(x[0], -1); }},
      {"logsumexp", {{3, 4}}, [](auto& x) { return logsumexp(x[0], 1); }},
      {"cross_entropy", {{3, 4}}, [&](auto& x) { return cross_entropy(x[0], targets); }},
      {"binary_cross_entropy_with_logits",
       {{3, 4}, {3, 4}},
       [](auto& x) { return binary_cross_entropy_with_logits(x[0], x[1]); }},
      {"mse_loss", {{3, 4}, {3, 4}}, [](auto& x) { return mse_loss(x[0] * x[0], x[1]); }},
      {"where",
       {{3, 4}},
       [](auto& x) { return where(gt(x[0], zeros_like(x[0])), x[0] * x[0], exp(x[0])); }},
  };
  Generator gen(11);
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::vector<Tensor> inputs;
    for (const Shape& s : c.shapes) {
      Tensor x = randn(s, gen, {.dtype = DType::float64});
      if (c.positive) x = abs(x) + 0.5;
      inputs.push_back(x.detach().requires_grad_(true));
    }
    const Op& op = c.op;
    auto first_gradient = [&op](const std::vector<Tensor>& x) {
      AutoGradMode enabled(true);  // also inside gradcheck's no-grad evaluations
      Tensor y = op(x);
      Generator seed_gen(5);
      Tensor r = randn(y.shape(), seed_gen, {.dtype = DType::float64});
      std::vector<Tensor> g = grad({y}, x, {r}, false, true);
      Tensor total = g[0];
      for (std::size_t i = 1; i < g.size(); ++i) total = total + g[i];
      return total;
    };
    GradcheckResult result;
    try {
      result = gradcheck(first_gradient, inputs);
    } catch (const Error& error) {  // e.g. a VJP cut off from the graph: report, go on
      FAIL_CHECK(error.what());
      continue;
    }
    INFO(result.report());
    CHECK(result.passed);
  }
}
