// Second order: gradients with create_graph are themselves differentiable, and the functional
// helpers (vjp, jvp, hvp, jacobian, hessian) match closed forms.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

constexpr TensorOptions f64{.dtype = DType::float64};
constexpr TensorOptions f64_grad{.dtype = DType::float64, .requires_grad = true};

// Element-by-element agreement in float64 (|a − e| ≤ atol + rtol |e|).
void check_close(const Tensor& actual, const Tensor& expected, double atol = 1e-12,
                 double rtol = 1e-10) {
  REQUIRE(actual.defined());
  REQUIRE(actual.shape() == expected.shape());
  const TensorComparison c = compare_tensors(actual, expected, atol, rtol);
  INFO("worst at ", to_string(c.worst_index), ": ", fmt::format("{:.17g}", c.actual), " vs ",
       fmt::format("{:.17g}", c.expected), "\nactual   ", actual, "\nexpected ", expected);
  CHECK(c.passed);
}

double value(const Tensor& t, std::size_t k) { return t.data<double>().data()[k]; }

// A tensor from a function of the flat index, of the given shape.
template <class F>
Tensor build(const Shape& shape, F f) {
  Tensor t = zeros(shape, f64);
  auto& d = t.mutable_data<double>();
  for (std::size_t k = 0; k < d.size(); ++k) d.data()[k] = f(k);
  return t;
}

// The logistic regression data: X [n, d] with a column of ones, labels y ∈ {0, 1}.
struct Logistic {
  Tensor x, y;
};
Logistic logistic_data(std::size_t n, std::size_t d, std::uint64_t seed) {
  Generator gen(seed);
  Tensor x = randn({n, d}, gen, f64);
  for (std::size_t i = 0; i < n; ++i) x.mutable_data<double>()(i, 0) = 1.0;
  Tensor y = build({n}, [&](std::size_t i) { return value(x, i * d + 1) + 0.5 > 0 ? 1.0 : 0.0; });
  return {x, y};
}

}  // namespace

// ---- create_graph: backward and grad build differentiable gradients ----

TEST_CASE("the second and third derivatives of x³ by grad(create_graph)") {
  const Tensor x = tensor({-1.5, 0.5, 2.0}, f64_grad);
  const Tensor y = sum(x * x * x);
  const Tensor g = grad({y}, {x}, {}, false, true)[0];
  CHECK(g.requires_grad());
  CHECK_FALSE(g.is_leaf());  // it has a history: the backward pass was recorded
  check_close(g, 3.0 * square(x.detach()));
  const Tensor g2 = grad({sum(g)}, {x}, {}, false, true)[0];
  CHECK(g2.requires_grad());
  check_close(g2, 6.0 * x.detach());
  const Tensor g3 = grad({sum(g2)}, {x})[0];
  CHECK_FALSE(g3.requires_grad());  // no create_graph: a plain tensor
  check_close(g3, full({3}, 6.0, f64));
  CHECK_FALSE(x.grad().defined());  // grad() leaves .grad() alone
}

TEST_CASE("grad without create_graph returns tensors without history") {
  const Tensor x = tensor({0.3, -0.7}, f64_grad);
  const Tensor g = grad({sum(exp(x))}, {x})[0];
  CHECK_FALSE(g.requires_grad());
  CHECK(g.is_leaf());
  check_close(g, exp(x.detach()));
}

TEST_CASE(".grad after backward(create_graph) is differentiable") {
  Tensor x = tensor({-1.0, 0.25, 1.5}, f64_grad);
  sum(x * x * x).backward({}, false, true);
  const Tensor g = x.grad();
  REQUIRE(g.defined());
  CHECK(g.requires_grad());
  CHECK_FALSE(g.is_leaf());
  check_close(g, 3.0 * square(x.detach()));

  // A second backward with create_graph accumulates, out of place, into a differentiable sum.
  sum(x * x).backward({}, false, true);
  const Tensor total = x.grad();
  CHECK(total.requires_grad());
  check_close(total, 3.0 * square(x.detach()) + 2.0 * x.detach());
  check_close(g, 3.0 * square(x.detach()));  // the first .grad was not modified in place

  // Backward through .grad itself: d/dx Σ (3x² + 2x) = 6x + 2.
  x.zero_grad();
  sum(total).backward();
  check_close(x.grad(), 6.0 * x.detach() + 2.0);
  CHECK_FALSE(x.grad().requires_grad());
}

TEST_CASE("mixed partials agree in either order") {
  // f(a, b) = exp(a b): ∂²f/∂a∂b = exp(a b)(1 + a b).
  const Tensor a = tensor({0.4, -0.8, 1.1}, f64_grad);
  const Tensor b = tensor({-0.3, 0.9, 0.6}, f64_grad);
  const Tensor expected = exp(a.detach() * b.detach()) * (1.0 + a.detach() * b.detach());
  const std::vector<Tensor> g = grad({sum(exp(a * b))}, {a, b}, {}, false, true);
  const Tensor dadb = grad({sum(g[0])}, {b}, {}, true)[0];  // ∂/∂b of ∂f/∂a; both use f's graph
  const Tensor dbda = grad({sum(g[1])}, {a})[0];  // ∂/∂a of ∂f/∂b
  check_close(dadb, expected);
  check_close(dbda, expected);
}

TEST_CASE("a gradient penalty backpropagates to the parameters") {
  // f(x, w) = Σ w ⊙ x²: ∇ₓf = 2 w ⊙ x, penalty P = Σ (∇ₓf)² = 4 Σ w² x², ∂P/∂w = 8 w ⊙ x².
  const Tensor x = tensor({0.5, -1.2, 2.0}, f64_grad);
  const Tensor w = tensor({1.5, 0.3, -0.7}, f64_grad);
  const Tensor gx = grad({sum(w * x * x)}, {x}, {}, false, true)[0];
  sum(square(gx)).backward();
  check_close(w.grad(), 8.0 * w.detach() * square(x.detach()));
  check_close(x.grad(), 8.0 * square(w.detach()) * x.detach());  // ∂P/∂x = 8 w² x
}

// ---- the functional helpers against closed forms ----

TEST_CASE("hessian of xᵀAx is A + Aᵀ") {
  Generator gen(1);
  const Tensor a = randn({4, 4}, gen, f64);  // not symmetric
  const Tensor x = randn({4}, gen, f64);
  const Tensor h = hessian([&](const Tensor& v) { return matmul(v, matmul(a, v)); }, x);
  CHECK(h.shape() == Shape{4, 4});
  CHECK_FALSE(h.requires_grad());
  check_close(h, a + t(a));
}

TEST_CASE("hessian of sum(exp(X)) is diag(exp X), shaped X.shape ++ X.shape") {
  Generator gen(2);
  const Tensor x = randn({2, 3}, gen, f64);
  const Tensor h = hessian([](const Tensor& v) { return sum(exp(v)); }, x);
  CHECK(h.shape() == Shape{2, 3, 2, 3});
  const Tensor expected = build({2, 3, 2, 3}, [&](std::size_t k) {
    const std::size_t row = k / 6, col = k % 6;  // flat indices into X
    return row == col ? std::exp(value(x, row)) : 0.0;
  });
  check_close(h, expected);
}

TEST_CASE("hessian of a linear function is zero, and of a constant too") {
  Generator gen(3);
  const Tensor x = randn({3}, gen, f64);
  check_close(hessian([](const Tensor& v) { return sum(v * 2.0); }, x), zeros({3, 3}, f64));
  const Tensor c = randn({}, gen, f64);
  check_close(hessian([&](const Tensor&) { return c; }, x), zeros({3, 3}, f64));
  check_close(jacobian([&](const Tensor&) { return c; }, x), zeros({3}, f64));
}

TEST_CASE("jacobian of W x is W in x, and δᵢⱼ xₖ in W") {
  Generator gen(4);
  const Tensor w = randn({3, 5}, gen, f64);
  const Tensor x = randn({5}, gen, f64);
  check_close(jacobian([&](const Tensor& v) { return matmul(w, v); }, x), w);

  const std::vector<Tensor> j =
      jacobian([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {w, x});
  REQUIRE(j.size() == 2);
  CHECK(j[0].shape() == Shape{3, 3, 5});
  check_close(j[0], build({3, 3, 5}, [&](std::size_t k) {
                const std::size_t i = k / 15, r = (k / 5) % 3, c = k % 5;
                return i == r ? value(x, c) : 0.0;
              }));
  check_close(j[1], w);
}

TEST_CASE("jvp of tanh is (1 − tanh²) ⊙ v, by the double-VJP trick") {
  Generator gen(5);
  const Tensor x = randn({2, 3}, gen, f64);
  const Tensor v = randn({2, 3}, gen, f64);
  const auto [y, jv] = jvp([](const Tensor& a) { return tanh(a); }, x, v);
  check_close(y, tanh(x));
  check_close(jv, (1.0 - square(tanh(x))) * v);
  CHECK_FALSE(jv.requires_grad());
}

TEST_CASE("jvp and vjp agree with the Jacobian matrix") {
  Generator gen(6);
  const Tensor x = randn({4}, gen, f64);
  const Tensor v = randn({4}, gen, f64);
  const Tensor w = randn({3}, gen, f64);
  const Tensor m = randn({3, 4}, gen, f64);
  auto f = [&](const Tensor& a) { return softmax(matmul(m, a * a), 0); };  // ℝ⁴ → ℝ³
  const Tensor j = jacobian(f, x);
  REQUIRE(j.shape() == Shape{3, 4});
  check_close(jvp(f, x, v).product, matmul(j, v));
  check_close(vjp(f, x, w).product, matmul(w, j));

  // Several inputs: Σₖ Jₖ vₖ, and one Jᵀ w per input.
  auto g = [](const std::vector<Tensor>& in) { return tanh(matmul(in[0], in[1])); };
  const Tensor b = randn({4, 2}, gen, f64);
  const Tensor vb = randn({4, 2}, gen, f64);
  const Tensor wy = randn({3, 2}, gen, f64);
  const std::vector<Tensor> jg = jacobian(g, {m, b});
  const Tensor vm = randn({3, 4}, gen, f64);
  const Tensor jv = jvp(g, {m, b}, {vm, vb}).product;
  const Tensor by_matrix = reshape(matmul(reshape(jg[0], {6, 12}), flatten(vm)) +
                                       matmul(reshape(jg[1], {6, 8}), flatten(vb)),
                                   {3, 2});
  check_close(jv, by_matrix);
  const ProductResults back = vjp(g, {m, b}, wy);
  check_close(back.products[0], reshape(matmul(flatten(wy), reshape(jg[0], {6, 12})), {3, 4}));
  check_close(back.products[1], reshape(matmul(flatten(wy), reshape(jg[1], {6, 8})), {4, 2}));
}

TEST_CASE("hvp is the Hessian times v, for the logistic loss Xᵀ diag(p ⊙ (1 − p)) X / n") {
  const auto [x, y] = logistic_data(20, 3, 7);
  Generator gen(8);
  const Tensor w = randn({3}, gen, f64) * 0.5;
  auto loss = [&](const Tensor& v) {
    return binary_cross_entropy_with_logits(matmul(x, v), y);
  };
  const Tensor p = sigmoid(matmul(x, w));
  const Tensor closed = matmul(t(x) * (p * (1.0 - p)), x) / 20.0;
  const Tensor h = hessian(loss, w);
  check_close(h, closed);

  const Tensor v = randn({3}, gen, f64);
  const auto [value_at_w, hv] = hvp(loss, w, v);
  check_close(value_at_w, loss(w));
  check_close(hv, matmul(closed, v));
}

TEST_CASE("hessian and hvp over several inputs: f(a, b) = Σ a² ⊙ b³") {
  // ∂²f/∂a² = diag(2 b³), ∂²f/∂a∂b = diag(6 a b²), ∂²f/∂b² = diag(6 a² b).
  const Tensor a = tensor({0.5, -1.0, 1.5}, f64);
  const Tensor b = tensor({1.2, 0.4, -0.8}, f64);
  auto f = [](const std::vector<Tensor>& in) { return sum(square(in[0]) * pow(in[1], 3.0)); };
  auto diag_of = [](const Tensor& d) {
    return build({3, 3}, [&](std::size_t k) { return k / 3 == k % 3 ? value(d, k / 3) : 0.0; });
  };
  const Tensor haa = diag_of(2.0 * pow(b, 3.0));
  const Tensor hab = diag_of(6.0 * a * square(b));
  const Tensor hbb = diag_of(6.0 * square(a) * b);
  const auto h = hessian(f, {a, b});
  REQUIRE(h.size() == 2);
  REQUIRE(h[0].size() == 2);
  check_close(h[0][0], haa);
  check_close(h[0][1], hab);
  check_close(h[1][0], hab);
  check_close(h[1][1], hbb);

  const Tensor va = tensor({0.3, -0.2, 0.9}, f64);
  const Tensor vb = tensor({-1.1, 0.6, 0.25}, f64);
  const ProductResults hv = hvp(f, {a, b}, {va, vb});
  check_close(hv.products[0], matmul(haa, va) + matmul(hab, vb));
  check_close(hv.products[1], matmul(hab, va) + matmul(hbb, vb));
}

TEST_CASE("with create_graph the helpers' results are differentiable in x") {
  // f = Σ x⁴: H = diag(12 x²), Σ H = 12 Σ x², whose gradient is 24 x.
  Tensor x = tensor({0.5, -1.0, 2.0}, f64_grad);
  auto f = [](const Tensor& v) { return sum(pow(v, 4.0)); };
  const Tensor h = hessian(f, x, true);
  CHECK(h.requires_grad());
  sum(h).backward();
  check_close(x.grad(), 24.0 * x.detach());

  // H v = 12 x² ⊙ v, so ∂⟨H v, 1⟩/∂x = 24 x ⊙ v.
  x.zero_grad();
  const Tensor v = tensor({1.0, 2.0, -0.5}, f64);
  sum(hvp(f, x, v, true).product).backward();
  check_close(x.grad(), 24.0 * x.detach() * v);

  // jvp of x³ is 3x² ⊙ v; its derivative in x is 6x ⊙ v (a double-VJP differentiated again).
  x.zero_grad();
  sum(jvp([](const Tensor& a) { return a * a * a; }, x, v, true).product).backward();
  check_close(x.grad(), 6.0 * x.detach() * v);

  // Without create_graph nothing has history and x.grad() is untouched.
  x.zero_grad();
  const Tensor plain = hessian(f, x);
  CHECK_FALSE(plain.requires_grad());
  CHECK_FALSE(hvp(f, x, v).product.requires_grad());
  CHECK_FALSE(hvp(f, x, v).output.requires_grad());
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("with create_graph, an x with a history is differentiated through it") {
  // x = 2 w; f(x) = Σ x⁴, H = diag(12 x²) = diag(48 w²); Σ H = 48 Σ w², gradient 96 w.
  Tensor w = tensor({0.5, -1.0, 2.0}, f64_grad);
  const Tensor x = w * 2.0;
  auto f = [](const Tensor& v) { return sum(pow(v, 4.0)); };
  const Tensor h = hessian(f, x, true);
  check_close(h, build({3, 3}, [&](std::size_t k) {
                return k / 3 == k % 3 ? 12.0 * std::pow(2.0 * value(w.detach(), k / 3), 2) : 0.0;
              }));
  sum(h).backward({}, /*retain_graph=*/true);  // x = 2w is used again below
  check_close(w.grad(), 96.0 * w.detach());

  // jacobian of x ↦ x³ at x = 2w is diag(3x²); its sum is 3 Σ 4 w², gradient 24 w.
  w.zero_grad();
  sum(jacobian([](const Tensor& v) { return v * v * v; }, x, true)).backward();
  check_close(w.grad(), 24.0 * w.detach());
}

TEST_CASE("the same tensor passed twice is differentiated separately in each place") {
  // f(a, b) = Σ a² ⊙ b at a = b = x: ∂²f/∂a² = diag(2b), ∂²f/∂a∂b = diag(2a), ∂²f/∂b² = 0.
  Tensor x = tensor({0.5, -1.5}, f64_grad);
  auto f = [](const std::vector<Tensor>& in) { return sum(square(in[0]) * in[1]); };
  for (const bool create_graph : {false, true}) {
    CAPTURE(create_graph);
    const auto h = hessian(f, {x, x}, create_graph);
    const Tensor diag2x = tensor({{1.0, 0.0}, {0.0, -3.0}}, f64);
    check_close(h[0][0], diag2x);
    check_close(h[0][1], diag2x);
    check_close(h[1][0], diag2x);
    check_close(h[1][1], zeros({2, 2}, f64));
    CHECK(h[0][0].requires_grad() == create_graph);
  }
  // d/dx Σ h[0][0] = d/dx Σ 2x = 2 per element.
  sum(hessian(f, {x, x}, true)[0][0]).backward();
  check_close(x.grad(), full({2}, 2.0, f64));
}

TEST_CASE("the helpers work under NoGradGuard and on one-element and 0-d inputs") {
  NoGradGuard no_grad;
  const Tensor x = tensor(0.7, f64);  // 0-d
  const Tensor h = hessian([](const Tensor& v) { return exp(v * 2.0); }, x);
  CHECK(h.shape() == Shape{});
  CHECK(h.item() == doctest::Approx(4.0 * std::exp(1.4)).epsilon(1e-12));
  const Tensor j = jacobian([](const Tensor& v) { return stack({v, v * v}, 0); }, x);
  CHECK(j.shape() == Shape{2});
  check_close(j, tensor({1.0, 1.4}, f64));
}

TEST_CASE("the helpers refuse non-scalar f for hessian/hvp and mismatched vectors") {
  const Tensor x = zeros({3}, f64);
  auto f = [](const Tensor& v) { return exp(v); };
  check_error<ShapeError>([&] { hessian(f, x); }, {"hessian", "one element", "[3]"});
  check_error<ShapeError>([&] { hvp(f, x, x); }, {"hvp", "one element"});
  check_error<ShapeError>([&] { jvp(f, x, zeros({2}, f64)); }, {"jvp", "[2]", "[3]"});
  check_error<ShapeError>([&] { vjp(f, x, zeros({4}, f64)); }, {"vjp", "[4]", "f(x)", "[3]"});
  check_error<DTypeError>([&] { jvp(f, x, zeros({3})); }, {"jvp", "float32", "float64"});
  check_error<ValueError>(
      [&] { jvp([](const std::vector<Tensor>& in) { return in[0]; }, {x, x}, {x}); },
      {"jvp", "1 vectors for 2 inputs"});
}
