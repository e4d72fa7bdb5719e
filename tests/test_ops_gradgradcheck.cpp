// Runs gradgradcheck (second order, float64 central differences of the first-order gradient)
// over every row of the op table, and checks that gradgradcheck catches VJPs that are not
// differentiable.
#include "check_error.hpp"
#include "op_table.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace matgrad;
using namespace matgrad::testing;

TEST_CASE("every op passes gradgradcheck in float64 on the gradcheck shapes") {
  Generator gen(2024);
  const std::size_t checks = for_each_case(gen, [](const OpRow& row, const std::vector<Tensor>& inputs) {
    GradcheckResult result;
    try {
      result = gradgradcheck(row.f, inputs, {.eps = row.eps});
    } catch (const Error& error) {  // report the row and go on with the others
      FAIL_CHECK(error.what());
      return;
    }
    INFO(result.report());
    CHECK(result.passed);
    CHECK(result.warning.empty());  // every first-order gradient has a history
  });
  MESSAGE(fmt::format("{} ops, {} gradgradchecks", op_table().size(), checks));
  CHECK(checks >= 2 * op_table().size());
}

namespace {

// cube(A) = A³ with a VJP that is right to first order but not recorded as a function of A
// (its A is detached): the first derivative 3A² is right, the second comes out as 0.
const OpInfo cube_detached_info{"cube_detached", "dC = 3 A² ⊙ dA", "", "gA = gC ⊙ 3 A²"};
Tensor cube_detached(const Tensor& a) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = a * a * a;
  }
  return record(cube_detached_info, out, {a}, [a](const Tensor& g) -> Grads {
    const Tensor c = a.detach();
    return {g * (3.0 * c * c)};
  });
}

// The same op whose VJP records A but not gC: the second derivative in A is right, the
// dependence on the cotangent is cut.
const OpInfo cube_cut_info{"cube_cut", "dC = 3 A² ⊙ dA", "", "gA = gC ⊙ 3 A²"};
Tensor cube_cut(const Tensor& a) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = a * a * a;
  }
  return record(cube_cut_info, out, {a},
                [a](const Tensor& g) -> Grads { return {g.detach() * (3.0 * a * a)}; });
}

// Right at first order (3A² = 3 A · A) but half the second derivative: one factor detached.
const OpInfo cube_half_info{"cube_half", "dC = 3 A² ⊙ dA", "", "gA = gC ⊙ 3 A²"};
Tensor cube_half(const Tensor& a) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = a * a * a;
  }
  return record(cube_half_info, out, {a},
                [a](const Tensor& g) -> Grads { return {g * (3.0 * a * a.detach())}; });
}

Tensor input(const NestedList& values) {
  Tensor x = tensor(values, {.dtype = DType::float64});
  return x.requires_grad_(true);
}

}  // namespace

TEST_CASE("gradgradcheck passes a differentiable VJP and reports it like gradcheck") {
  const Tensor x = input({-1.5, -0.3, 0.4, 2.0});
  const GradcheckResult result =
      gradgradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0] * in[0]; }, {x});
  INFO(result.report());
  CHECK(result.passed);
  REQUIRE(result.inputs.size() == 2);  // x, then the cotangent v
  CHECK(result.inputs[0].checked);
  CHECK(result.inputs[0].label.empty());
  CHECK(result.inputs[1].checked);
  CHECK(result.inputs[1].label == "v");
  const std::string report = result.report();
  CHECK(report.rfind("gradgradcheck: passed\n", 0) == 0);
  CHECK(report.find("\n    v  ") != std::string::npos);
  CHECK(x.grad().defined() == false);  // the caller's tensor is untouched
}

TEST_CASE("gradgradcheck fails a VJP that is right to first order only") {
  const Tensor x = input({-1.5, -0.3, 0.4, 2.0});
  SUBCASE("A detached: no second derivative at all") {
    auto f = [](const std::vector<Tensor>& in) { return cube_detached(in[0]); };
    const GradcheckResult first = gradcheck(f, {x});
    INFO(first.report());
    CHECK(first.passed);
    const GradcheckResult second = gradgradcheck(f, {x});
    INFO(second.report());
    CHECK_FALSE(second.passed);
    CHECK_FALSE(second.inputs[0].passed);  // d²/dx² is 6x, autodiff says 0
    CHECK(second.inputs[1].passed);        // still linear in v, and recorded so
    CHECK(second.inputs[0].analytic == 0.0);
    CHECK(second.report().find("FAIL") != std::string::npos);
  }
  SUBCASE("one factor detached: half the second derivative") {
    auto f = [](const std::vector<Tensor>& in) { return cube_half(in[0]); };
    CHECK(gradcheck(f, {x}).passed);
    const GradcheckResult second = gradgradcheck(f, {x});
    INFO(second.report());
    CHECK_FALSE(second.inputs[0].passed);
    CHECK(second.inputs[0].analytic == doctest::Approx(0.5 * second.inputs[0].numeric).epsilon(1e-6));
  }
  SUBCASE("gC detached: the Jacobian-vector side is cut") {
    auto f = [](const std::vector<Tensor>& in) { return cube_cut(in[0]); };
    CHECK(gradcheck(f, {x}).passed);
    const GradcheckResult second = gradgradcheck(f, {x});
    INFO(second.report());
    CHECK_FALSE(second.passed);
    CHECK(second.inputs[0].passed);
    CHECK_FALSE(second.inputs[1].passed);
  }
}

TEST_CASE("gradgradcheck on several inputs, some without grad, and a linear function") {
  Generator gen(3);
  const Tensor a = randn({3, 4}, gen, {.dtype = DType::float64, .requires_grad = true});
  const Tensor b = randn({4, 2}, gen, {.dtype = DType::float64});  // a constant
  const Tensor c = randn({2}, gen, {.dtype = DType::float64, .requires_grad = true});
  auto f = [](const std::vector<Tensor>& in) { return tanh(matmul(in[0], in[1]) + in[2]); };
  const GradcheckResult result = gradgradcheck(f, {a, b, c});
  INFO(result.report());
  CHECK(result.passed);
  REQUIRE(result.inputs.size() == 4);
  CHECK(result.inputs[0].checked);
  CHECK_FALSE(result.inputs[1].checked);
  CHECK(result.report().find("(does not require grad)") != std::string::npos);
  CHECK(result.inputs[2].checked);
  CHECK(result.inputs[3].label == "v");

  // A linear map: the second derivative is exactly zero and the first gradient does not depend
  // on x, only on v.
  const GradcheckResult linear =
      gradgradcheck([&](const std::vector<Tensor>& in) { return matmul(in[0], b) * 2.0; }, {a});
  INFO(linear.report());
  CHECK(linear.passed);
  CHECK(linear.inputs[0].max_abs_error < 1e-8);
  CHECK(linear.inputs[0].analytic == 0.0);
}

TEST_CASE("gradgradcheck refuses float32 and inputs without grad") {
  check_error<ValueError>(
      [] {
        gradgradcheck([](const std::vector<Tensor>& in) { return square(in[0]); },
                      {ones({3}, {.requires_grad = true})});
      },
      {"gradgradcheck", "input 0", "float32"});
  check_error<ValueError>(
      [] {
        gradgradcheck([](const std::vector<Tensor>& in) { return square(in[0]); },
                      {ones({3}, {.dtype = DType::float64})});
      },
      {"gradgradcheck", "no input requires grad"});
  const GradcheckResult rough =
      gradgradcheck([](const std::vector<Tensor>& in) { return square(in[0]); },
                    {ones({3}, {.requires_grad = true})},
                    {.eps = 1e-2, .atol = 1e-2, .allow_float32 = true});
  CHECK(rough.warning.find("float32") != std::string::npos);
}
