// Forward mode as torch.autograd.forward_ad has it: the dual level, make_dual / unpack_dual,
// tangents through every op (also under NoGradGuard), their checks, custom ops, and forward
// and reverse mode composed both ways. The per-op JVP checks are in test_ops_jvp.cpp.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <thread>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

constexpr TensorOptions f64{.dtype = DType::float64};
constexpr TensorOptions f64_grad{.dtype = DType::float64, .requires_grad = true};

void check_close(const Tensor& actual, const Tensor& expected, double tol = 1e-12) {
  REQUIRE(actual.defined());
  REQUIRE(actual.shape() == expected.shape());
  const TensorComparison c = compare_tensors(actual, expected, tol, tol);
  INFO("actual   ", actual, "\nexpected ", expected);
  CHECK(c.passed);
}

std::string line_below(int offset, const SourceLocation& here = SourceLocation::current()) {
  return fmt::format("test_forward.cpp:{}", here.line + static_cast<unsigned>(offset));
}

}  // namespace

TEST_CASE("a dual tensor's tangent goes through every op, and the level drops it at its end") {
  const Tensor x = tensor({0.5, -1.0, 2.0}, f64);
  const Tensor v = tensor({1.0, 2.0, -1.0}, f64);
  Tensor y;
  CHECK_FALSE(is_forward_ad_enabled());
  {
    const DualLevel level;
    CHECK(is_forward_ad_enabled());
    const Tensor dual = make_dual(x, v);
    CHECK_FALSE(unpack_dual(x).tangent.defined());  // the primal itself is left alone
    check_close(unpack_dual(dual).tangent, v);
    y = dual * exp(dual);
    const UnpackedDual u = unpack_dual(y);
    check_close(u.primal, exp(x) * x);
    check_close(u.tangent, (exp(x) * x + exp(x)) * v);  // d(x eˣ) = (eˣ + x eˣ) dx
    CHECK_FALSE(unpack_dual(u.primal).tangent.defined());
  }
  CHECK_FALSE(is_forward_ad_enabled());
  CHECK_FALSE(unpack_dual(y).tangent.defined());
  {
    const DualLevel again;  // a new level does not see the old one's tangents
    CHECK_FALSE(unpack_dual(y).tangent.defined());
  }
}

// A recorded tangent that reads its op's output (exp: tC = tA ⊙ C) holds that output's record,
// which holds the tangent: such graphs live until the level ends (README, forward mode), and
// the level's end frees them all.
TEST_CASE("graphs with recorded tangents are freed when the level ends") {
  const Tensor w = tensor({0.5, 1.0}, f64_grad);
  const std::size_t before = tape_size();
  {
    const DualLevel level;
    const Tensor x = make_dual(w, tensor({1.0, 1.0}, f64));
    for (int i = 0; i < 100; ++i) {
      const Tensor y = tanh(exp(x) * x);
      CHECK(unpack_dual(y).tangent.requires_grad());  // recorded: reverse over forward
    }
    CHECK(tape_size() > before);
  }
  CHECK(tape_size() == before);
}

TEST_CASE("tensors without a tangent count as zero, and an output of them has none") {
  const DualLevel level;
  const Tensor a = tensor({1.0, 2.0}, f64), b = tensor({3.0, 4.0}, f64);
  const Tensor da = make_dual(a, tensor({1.0, 0.0}, f64));
  CHECK_FALSE(unpack_dual(a * b).tangent.defined());
  check_close(unpack_dual(da * b).tangent, tensor({3.0, 0.0}, f64));  // tA ⊙ B, tB absent
  check_close(unpack_dual(b / da).tangent, tensor({-3.0, 0.0}, f64));  // −B ⊙ tA ⊘ A²
}

TEST_CASE("tangents propagate under NoGradGuard, as in PyTorch") {
  const DualLevel level;
  const Tensor x = make_dual(tensor({0.3, 0.7}, f64), tensor({1.0, 1.0}, f64));
  NoGradGuard no_grad;
  const Tensor y = tanh(x);
  CHECK_FALSE(y.requires_grad());
  check_close(unpack_dual(y).tangent, 1.0 - square(tanh(tensor({0.3, 0.7}, f64))));
}

TEST_CASE("only one dual level at a time, and make_dual checks its arguments") {
  const Tensor x = zeros({2, 3}, f64);
  check_error<AutogradError>([&] { make_dual(x, ones_like(x)); }, {"make_dual", "no dual level", "DualLevel"});
  const DualLevel level;
  check_error<AutogradError>([] { DualLevel nested; }, {"DualLevel", "already open", "one level"});
  check_error<ShapeError>([&] { make_dual(x, zeros({3, 2}, f64)); },
                          {"make_dual", "[3, 2]", "[2, 3]", "shape"});
  check_error<DTypeError>([&] { make_dual(x, zeros({2, 3})); }, {"make_dual", "float32", "float64"});
  const Tensor dual = make_dual(x, ones_like(x));
  check_error<AutogradError>([&] { make_dual(dual, ones_like(x)); }, {"make_dual", "already has a tangent"});
  CHECK(unpack_dual(make_dual(unpack_dual(dual).primal, x)).tangent.defined());
  check_error<AutogradError>([&] { hvp([](const Tensor& t) { return sum(t); }, x, x); },
                             {"hvp", "already open", "Strategy::reverse_mode"});
  CHECK(hvp([](const Tensor& t) { return sum(t * t); }, x, x, false, Strategy::reverse_mode).product.defined());
}

TEST_CASE("the engine broadcasts a tangent to the output's shape, as it sums gradients back") {
  const DualLevel level;
  const Tensor row = make_dual(tensor({1.0, 2.0}, f64), tensor({10.0, 20.0}, f64));  // [2]
  const Tensor m = tensor({{1.0, 1.0}, {2.0, 2.0}, {3.0, 3.0}}, f64);                // [3, 2]
  const Tensor t = unpack_dual(m + row).tangent;  // tA + tB with tA absent: broadcast
  REQUIRE(t.defined());
  CHECK(t.shape() == Shape{3, 2});
  check_close(t, tensor({{10.0, 20.0}, {10.0, 20.0}, {10.0, 20.0}}, f64));
  check_close(unpack_dual(where(gt(m, scalar_like(m, 1.5)), row, m)).tangent,
              tensor({{0.0, 0.0}, {10.0, 20.0}, {10.0, 20.0}}, f64));
}

// docs/matrix-calculus.md § 7: reverse mode gives where(X > 0, sqrt(X), 0) a NaN gradient at
// X < 0 (0 ⊘ NaN); the JVP selects the branch's tangent instead of multiplying by a mask.
TEST_CASE("where's JVP selects: the NaN tangent of the branch not taken stays out") {
  const DualLevel level;
  const Tensor x = make_dual(tensor({-1.0, 4.0}, f64), tensor({1.0, 1.0}, f64));
  const Tensor zero = scalar_like(x, 0.0);
  const Tensor y = where(gt(x, zero), sqrt(x), zero);
  const Tensor t = unpack_dual(sqrt(x)).tangent;
  CHECK(std::isnan(t.data<double>()(0)));  // the branch itself has a NaN tangent at -1
  check_close(unpack_dual(y).tangent, tensor({0.0, 0.25}, f64));
}

TEST_CASE("in-place updates carry the tangent along; mutable data does not") {
  const DualLevel level;
  Tensor x = make_dual(tensor({1.0, 2.0}, f64), tensor({1.0, 1.0}, f64));
  const Tensor y = make_dual(tensor({5.0, 5.0}, f64), tensor({2.0, 3.0}, f64));
  x.add_(y, 2.0);
  check_close(unpack_dual(x).tangent, tensor({5.0, 7.0}, f64));
  x.mul_(0.5);
  check_close(unpack_dual(x).tangent, tensor({2.5, 3.5}, f64));
  x.copy_(y);
  check_close(unpack_dual(x).tangent, tensor({2.0, 3.0}, f64));
  x.fill_(1.0);
  CHECK_FALSE(unpack_dual(x).tangent.defined());
  Tensor plain = tensor({0.0, 0.0}, f64);
  plain.add_(y);  // a tensor without a tangent takes the other's
  check_close(unpack_dual(plain).tangent, tensor({2.0, 3.0}, f64));
}

TEST_CASE("reverse over forward: a tangent computed from tensors that require grad is recorded") {
  const Tensor x = tensor({0.5, -1.0, 2.0}, f64_grad);
  const Tensor v = tensor({1.0, 2.0, -1.0}, f64_grad);
  Tensor jv;
  {
    const DualLevel level;
    const Tensor dual = make_dual(x, v);
    jv = unpack_dual(dual * dual * dual).tangent;  // 3 x² v
  }
  REQUIRE(jv.requires_grad());
  const std::vector<Tensor> g = grad({sum(jv)}, {x, v});
  check_close(g[0], 6.0 * x.detach() * v.detach());  // ∂(Σ 3x²v)/∂x
  check_close(g[1], 3.0 * square(x.detach()));       // ∂(Σ 3x²v)/∂v
}

TEST_CASE("forward over reverse: the VJPs' ops carry tangents, so the gradient's is H v") {
  const Tensor x0 = tensor({0.5, -1.0, 2.0}, f64);
  const Tensor v = tensor({1.0, 2.0, -1.0}, f64);
  const DualLevel level;
  const Tensor x = make_dual(x0.detach().requires_grad_(true), v);
  const Tensor y = sum(exp(x) * x);
  SUBCASE("through grad") {
    const Tensor g = grad({y}, {x})[0];
    CHECK_FALSE(g.requires_grad());  // no create_graph: the VJPs ran without recording
    check_close(unpack_dual(g).tangent, (x0 + 2.0) * exp(x0) * v);  // (x eˣ)'' = (x + 2) eˣ
  }
  SUBCASE("with create_graph, into a fan-out") {
    const Tensor g = grad({y + y}, {x}, {}, false, true)[0];
    check_close(unpack_dual(g).tangent, 2.0 * (x0 + 2.0) * exp(x0) * v);
  }
}

// C = A³ with both rules, as a struct for apply<Op>, and one without a JVP.
struct Cube {
  static inline const OpInfo info{"cube", "dC = 3 A² ⊙ dA", "tC = 3 A² ⊙ tA", "gA = 3 gC ⊙ A²"};
  static Tensor forward(const Tensor& a) { return a * a * a; }
  static Tangent jvp(const Tangent& ta, const Tensor& a) { return (3.0 * a * a) * ta; }
  static Grads backward(const Tensor& g, const Tensor& a) { return {3.0 * g * a * a}; }
};
struct CubeWithoutJvp {
  static inline const OpInfo info{"cube_without_jvp", "dC = 3 A² ⊙ dA", "", "gA = 3 gC ⊙ A²"};
  static Tensor forward(const Tensor& a) { return a * a * a; }
  static Grads backward(const Tensor& g, const Tensor& a) { return {3.0 * g * a * a}; }
};

TEST_CASE("custom ops: a JVP given to apply<Op> or record() is used; without one, forward mode names the op") {
  const Tensor x = tensor({0.5, -1.0}, f64);
  const DualLevel level;
  const Tensor dual = make_dual(x, ones_like(x));
  check_close(unpack_dual(apply<Cube>(dual)).tangent, 3.0 * x * x);
  CHECK(apply<CubeWithoutJvp>(x).defined());  // fine without tangents
  check_error<AutogradError>([&] { apply<CubeWithoutJvp>(dual); },
                             {"cube_without_jvp", "without a JVP", "Op::jvp"});
  static const OpInfo only_vjp{"only_vjp", "dC = dA", "", "gA = gC"};
  check_error<AutogradError>(
      [&] { record(only_vjp, x.clone(), {dual}, [](const Tensor& g) -> Grads { return {g}; }); },
      {"only_vjp", "input 0 has a tangent", "record()"});
  // A JVP's result is checked like a VJP's: its shape and dtype against the output.
  static const OpInfo wrong{"wrong_tangent", "dC = dA", "tC = tA", "gA = gC"};
  auto with_jvp = [&](auto jvp) {
    return record(wrong, x.clone(), {dual}, jvp, [](const Tensor& g) -> Grads { return {g}; });
  };
  check_error<ShapeError>([&] { with_jvp([](const Tangent&) { return Tangent(zeros({3}, f64)); }); },
                          {"wrong_tangent", "tangent of shape [3]", "output of shape [2]"});
  check_error<DTypeError>([&] { with_jvp([](const Tangent& t) { return Tangent(t.tensor().to(DType::float32)); }); },
                          {"wrong_tangent", "float32 tangent", "float64"});
}

TEST_CASE("a custom op's JVP written with Tangent arithmetic and map() works with batched tangents") {
  // C = A[::-1] (reversed) ⊙ 2: map() applies the reversal to each direction of jacfwd.
  static const OpInfo reversed{"reversed_twice", "dC = 2 rev(dA)", "tC = 2 rev(tA)", "gA = 2 rev(gC)"};
  auto rev = [](const Tensor& t) { return index_select(t, 0, std::vector<std::size_t>{2, 1, 0}); };
  auto op = [&](const Tensor& a) {
    return record(
        reversed, rev(a.detach()) * 2.0, {a},
        [&](const Tangent& ta) { return ta.map(rev) * 2.0; },
        [&](const Tensor& g) -> Grads { return {rev(g) * 2.0}; });
  };
  const Tensor x = tensor({1.0, 2.0, 3.0}, f64);
  const Tensor j = jacfwd([&](const Tensor& a) { return op(a) * a; }, x);
  check_close(j, jacobian([&](const Tensor& a) { return op(a) * a; }, x));
}

TEST_CASE("records made by a JVP point at the line of the op they serve") {
  const Tensor x = tensor({0.5, -1.0}, f64_grad);
  Tensor y, jv;
  {
    const DualLevel level;
    const Tensor dual = make_dual(x, ones_like(x));
    const std::string exp_line = line_below(1);
    y = exp(dual);                // its JVP records tA ⊙ C: a mul saving C
    jv = unpack_dual(y).tangent;
    {
      NoGradGuard no_grad;
      y.add_(ones_like(y));
    }
    const std::string message = error_of<AutogradError>([&] { sum(jv).backward(); });
    INFO(message);
    CHECK(message.find("'mul'") != std::string::npos);
    CHECK(message.find(exp_line) != std::string::npos);
  }
}

TEST_CASE("anomaly detection stops at a JVP that makes a non-finite tangent") {
  const DetectAnomalyGuard anomaly;
  const DualLevel level;
  const Tensor x = make_dual(tensor({0.0, 1.0}, f64), tensor({1.0, 1.0}, f64));
  check_error<AutogradError>([&] { sqrt(x); }, {"anomaly", "JVP of 'sqrt'", "non-finite tangent"});
}

TEST_CASE("each thread has its own dual level") {
  const DualLevel level;
  const Tensor x = make_dual(tensor({1.0, 2.0}, f64), tensor({1.0, 1.0}, f64));
  bool other_sees_level = true, other_sees_tangent = true;
  std::thread other([&] {
    other_sees_level = is_forward_ad_enabled();
    other_sees_tangent = unpack_dual(x * 2.0).tangent.defined();
  });
  other.join();
  CHECK_FALSE(other_sees_level);
  CHECK_FALSE(other_sees_tangent);
  check_close(unpack_dual(x * 2.0).tangent, tensor({2.0, 2.0}, f64));
}

TEST_CASE("make_dual and unpack_dual are identity ops in reverse mode") {
  const Tensor x = tensor({1.0, 2.0}, f64_grad);
  const DualLevel level;
  const Tensor dual = make_dual(x, tensor({1.0, 1.0}, f64));
  const Tensor primal = unpack_dual(dual * dual).primal;
  check_close(grad({sum(primal)}, {x})[0], 2.0 * x.detach());
}
