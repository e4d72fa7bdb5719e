// compare_tensors and compare_gradients: the worst element, the errors, pass/fail, the report.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>

using namespace matgrad;
using namespace matgrad::testing;

static constexpr TensorOptions f64{.dtype = DType::float64};

TEST_CASE("compare_tensors finds the element that uses most of its allowance") {
  const Tensor expected = tensor({{1.0, 2.0, 3.0}, {100.0, 5.0, 6.0}}, f64);
  Tensor actual = expected.clone();
  actual.mutable_data<double>()(1, 0) = 100.5;  // abs error 0.5, relative 0.005
  actual.mutable_data<double>()(0, 2) = 3.3;    // abs error 0.3, relative 0.1
  const TensorComparison loose = compare_tensors(actual, expected, 0.0, 0.2);
  CHECK(loose.passed);
  CHECK(loose.max_abs_error == doctest::Approx(0.5));
  CHECK(loose.max_rel_error == doctest::Approx(0.1));
  // Judged against the allowance: 0.3 / (0.2·3) > 0.5 / (0.2·100), so (0, 2).
  CHECK(loose.worst_index == Shape{0, 2});
  CHECK(loose.actual == 3.3);
  CHECK(loose.expected == 3.0);

  const TensorComparison tight = compare_tensors(actual, expected, 0.0, 1e-3);
  CHECK_FALSE(tight.passed);
  CHECK(tight.worst_index == Shape{0, 2});

  // An absolute tolerance alone makes the largest error the worst.
  const TensorComparison absolute = compare_tensors(actual, expected, 0.1, 0.0);
  CHECK_FALSE(absolute.passed);
  CHECK(absolute.worst_index == Shape{1, 0});
  CHECK(absolute.actual == 100.5);
  CHECK(absolute.expected == 100.0);
  // No tolerance at all: every error is infinitely over; the larger one is the worst.
  CHECK(compare_tensors(actual, expected, 0.0, 0.0).worst_index == Shape{1, 0});
}

TEST_CASE("compare_tensors: exact agreement, zeros, NaN, dtypes, shapes") {
  const Tensor zero = zeros({2, 2}, f64);
  const TensorComparison same = compare_tensors(zero, zero, 0.0, 0.0);
  CHECK(same.passed);
  CHECK(same.max_rel_error == 0.0);  // 0/0 counts as agreement, not NaN
  CHECK(same.worst_index.size() == 2);

  Tensor nan = zero.clone();
  nan.mutable_data<double>()(1, 1) = std::numeric_limits<double>::quiet_NaN();
  const TensorComparison with_nan = compare_tensors(nan, zero, 1.0, 1.0);
  CHECK_FALSE(with_nan.passed);
  CHECK(with_nan.worst_index == Shape{1, 1});
  CHECK(std::isinf(with_nan.max_abs_error));

  // float32 against float64: compared in float64, so 0.1f differs from 0.1 by ~1.5e-9.
  const TensorComparison mixed =
      compare_tensors(tensor({0.1}), tensor({0.1}, f64), 0.0, 1e-12);
  CHECK_FALSE(mixed.passed);
  CHECK(mixed.max_abs_error == doctest::Approx(std::abs(double(0.1f) - 0.1)));

  check_error<ShapeError>([] { compare_tensors(ones({2, 3}), ones({3, 2}), 0, 0); },
                          {"compare_tensors", "[2, 3]", "[3, 2]"});
}

TEST_CASE("compare_gradients by position and by name") {
  const Tensor g1 = tensor({{1.0, 2.0}, {3.0, 4.0}}, f64);
  const Tensor g2 = tensor({0.5, -0.5}, f64);
  Tensor g2_off = g2.clone();
  g2_off.mutable_data<double>()(1) = -0.5 * (1 + 1e-6);

  const GradientComparison by_position = compare_gradients({g1, g2}, {g1.clone(), g2_off});
  REQUIRE(by_position.rows.size() == 2);
  CHECK(by_position.rows[0].name == "0");
  CHECK(by_position.rows[0].passed);
  CHECK(by_position.rows[0].max_abs_error == 0.0);
  CHECK_FALSE(by_position.rows[1].passed);  // 5e-7 > 1e-7 + 1e-7 · 0.5
  CHECK_FALSE(by_position.passed);
  CHECK_FALSE(static_cast<bool>(by_position));
  CHECK(by_position.rows[1].worst_index == Shape{1});
  CHECK(by_position.rows[1].hand == -0.5);
  CHECK(by_position.rows[1].autodiff == -0.5 * (1 + 1e-6));
  CHECK(by_position.rows[1].max_rel_error == doctest::Approx(1e-6 / (1 + 1e-6)));

  // Names are matched, whatever the order; rows follow the hand-derived list.
  const GradientComparison by_name =
      compare_gradients({{"W", g1}, {"b", g2}}, {{"b", g2_off}, {"W", g1}}, {.rtol = 1e-5});
  CHECK(by_name.passed);
  CHECK(by_name.rows[0].name == "W");
  CHECK(by_name.row("b").shape == Shape{2});
  CHECK(by_name.row("b").max_abs_error == doctest::Approx(5e-7));
  check_error<IndexError>([&] { by_name.row("c"); }, {"no tensor named 'c'"});
}

TEST_CASE("compare_gradients refuses lists that do not match") {
  const Tensor g = ones({2}, f64);
  check_error<ValueError>([&] { compare_gradients(std::vector<Tensor>{g}, std::vector<Tensor>{}); },
                          {"1 hand-derived gradients but 0 autodiff gradients"});
  check_error<ValueError>([&] { compare_gradients({{"W", g}}, {{"b", g}}); },
                          {"'W' has a hand-derived gradient but no autodiff one"});
  check_error<ValueError>([&] { compare_gradients({{"W", g}}, {{"W", g}, {"b", g}}); },
                          {"'b' has an autodiff gradient but no hand-derived one"});
  check_error<ValueError>([&] { compare_gradients({{"W", g}, {"W", g}}, {{"W", g}}); },
                          {"'W' appears twice"});
  check_error<ShapeError>([&] { compare_gradients({{"W", ones({2, 3}, f64)}}, {{"W", ones({3, 2}, f64)}}); },
                          {"'W'", "hand-derived gradient has shape [2, 3]", "autodiff gradient has shape [3, 2]"});
  Tensor unused = ones({2}, {.dtype = DType::float64, .requires_grad = true});
  check_error<ValueError>([&] { compare_gradients({{"u", g}}, {{"u", unused.grad()}}); },
                          {"'u'", "autodiff gradient is undefined", "backward"});
}

TEST_CASE("the report is an aligned table with the labels and a verdict per tensor") {
  const Tensor g = tensor({1.0, 2.0, 3.0}, f64);
  Tensor off = g.clone();
  off.mutable_data<double>()(2) = 3.5;
  const GradientComparison cmp = compare_gradients(
      {{"weight", g}, {"b", ones({2, 2}, f64)}}, {{"weight", off}, {"b", ones({2, 2}, f64)}},
      {.atol = 1e-9, .rtol = 1e-9, .hand_label = "closed form"});
  const std::string report = cmp.report();
  INFO(report);
  CHECK(report.find("closed form vs autodiff: FAILED (atol 1.0e-09, rtol 1.0e-09)") == 0);
  std::istringstream lines(report);
  std::string title, header, first, second;
  std::getline(lines, title);
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  CHECK(header.find("tensor") == 0);
  CHECK(header.find("closed form") != std::string::npos);
  CHECK(first.find("weight") == 0);
  CHECK(first.find("FAIL") != std::string::npos);
  CHECK(first.find("[2]") != std::string::npos);  // the worst element's index
  CHECK(second.find("ok") != std::string::npos);
  // Columns line up: the shape column starts at the same offset on every line.
  CHECK(first.find("[3]") == header.find("shape"));
  CHECK(second.find("[2, 2]") == header.find("shape"));
}

TEST_CASE("gradcheck reports through the same comparison") {
  Tensor x = tensor({0.3, -1.2, 2.0}, {.dtype = DType::float64, .requires_grad = true});
  const GradcheckResult ok = gradcheck([](const std::vector<Tensor>& in) { return sum(exp(in[0])); }, {x});
  CHECK(ok.passed);
  REQUIRE(ok.inputs.size() == 1);
  CHECK(ok.inputs[0].worst_index.size() == 1);
  CHECK(ok.inputs[0].max_rel_error < 1e-6);
}
