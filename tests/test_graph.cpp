// to_dot and tape_listing: the records behind an output, leaves drawn by kind, VJP labels,
// gradient norms, and the error after the graph is released.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

using namespace matgrad;
using namespace matgrad::testing;

static std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// C = mean((σ(W X + b) − Y)²): W and b parameters, X and Y constants.
struct Net {
  Generator gen{7};
  Tensor w = randn({2, 3}, gen, {.dtype = DType::float64, .requires_grad = true});
  Tensor b = randn({2, 1}, gen, {.dtype = DType::float64, .requires_grad = true});
  Tensor x = randn({3, 4}, gen, {.dtype = DType::float64});
  Tensor y = rand({2, 4}, gen, {.dtype = DType::float64});
  Tensor z = matmul(w, x) + b;
  Tensor a = sigmoid(z);
  Tensor c = mean(square(a - y));
  NamedTensors names{{"W", w}, {"b", b}, {"X", x}, {"Y", y}, {"Z", z}, {"A", a}, {"C", c}};
};

TEST_CASE("to_dot draws one node per record and the leaves by kind") {
  Net net;
  const std::string dot = to_dot(net.c, {.names = net.names});
  INFO(dot);
  CHECK(dot.find("digraph matgrad {") == 0);
  CHECK(dot.back() == '\n');
  // gemm, add, sigmoid, sub, square, sum, div (mean = sum / n): seven records.
  CHECK(count(dot, "shape=ellipse") == 7);
  CHECK(count(dot, "peripheries=2") == 1);  // the output
  CHECK(dot.find("label=\"C = div\\n[]\"") != std::string::npos);
  CHECK(dot.find("label=\"Z = add\\n[2, 4]\"") != std::string::npos);
  CHECK(dot.find("label=\"A = sigmoid\\n[2, 4]\"") != std::string::npos);
  CHECK(dot.find("label=\"gemm\\n[2, 4]\"") != std::string::npos);
  // Parameters filled, constants dashed, each drawn once.
  CHECK(dot.find("label=\"W\\n[2, 3]\", shape=box, style=\"filled,rounded\"") != std::string::npos);
  CHECK(dot.find("label=\"b\\n[2, 1]\", shape=box, style=\"filled,rounded\"") != std::string::npos);
  CHECK(dot.find("label=\"X\\n[3, 4]\", shape=box, style=\"dashed,rounded\"") != std::string::npos);
  CHECK(dot.find("label=\"Y\\n[2, 4]\", shape=box, style=\"dashed,rounded\"") != std::string::npos);
  CHECK(count(dot, "shape=box") == 5);  // W, b, X, Y and the 0-d divisor of the mean
  CHECK(dot.find("label=\"constant\\n[]\"") != std::string::npos);
  // 2 (gemm) + 2 (add) + 1 + 2 (sub) + 1 + 1 + 2 (div) edges.
  CHECK(count(dot, " -> ") == 11);
  CHECK(count(dot, "arrowhead=none") == 3);  // to X, Y and the divisor: no gradient flows there
  CHECK(dot.find("gA = ") == std::string::npos);  // no VJP labels unless asked
}

TEST_CASE("to_dot labels each edge with its part of the VJP rule") {
  Net net;
  const std::string dot =
      to_dot(net.c, {.names = net.names, .vjp_labels = true, .differentials = true, .title = "net"});
  INFO(dot);
  CHECK(dot.find("label=\"net\"") != std::string::npos);
  CHECK(dot.find("[label=\" gA = gC ⊙ C ⊙ (1 − C) \"]") != std::string::npos);  // sigmoid
  CHECK(dot.find("[label=\" gB = gC \"]") != std::string::npos);                // add, to b
  CHECK(dot.find("[label=\" gA = gC Bᵀ \"]") != std::string::npos);  // gemm, to W (prefix cut)
  CHECK(dot.find("dC = C ⊙ (1 − C) ⊙ dA") != std::string::npos);      // sigmoid's differential
  CHECK(count(dot, "[label=\" g") == 8);  // every edge that carries a gradient, none to constants
}

TEST_CASE("to_dot of a leaf, and after the graph is released") {
  Net net;
  const std::string leaf = to_dot(net.w, {.names = net.names});
  CHECK(count(leaf, "shape=box") == 1);
  CHECK(count(leaf, " -> ") == 0);
  net.c.backward();
  check_error<AutogradError>([&] { to_dot(net.c); },
                             {"to_dot", "'div'", "released by backward", "retain_graph=true"});
  check_error<AutogradError>([&] { tape_listing(net.c); }, {"tape_listing", "retain_graph=true"});
  Net kept;
  kept.c.backward({}, /*retain_graph=*/true);
  CHECK(count(to_dot(kept.c), "shape=ellipse") == 7);
}

TEST_CASE("tape_listing shows the records in order, with gradient norms when recorded") {
  Net net;
  net.a.retain_grad();
  {
    const std::string before = tape_listing(net.c, {.names = net.names});
    INFO(before);
    CHECK(before.find("7 records behind the output") == 0);
    CHECK(before.find("A = sigmoid") != std::string::npos);
    CHECK(before.find("W [2, 3], X [3, 4]") != std::string::npos);  // gemm's inputs
    CHECK(count(before, "  -\n") == 7);  // no norms recorded yet
  }
  CHECK_FALSE(is_grad_norm_recording_enabled());
  {
    RecordGradNorms norms;
    CHECK(is_grad_norm_recording_enabled());
    net.c.backward({}, /*retain_graph=*/true);
  }
  CHECK_FALSE(is_grad_norm_recording_enabled());
  const std::string after = tape_listing(net.c, {.names = net.names, .rules = true});
  INFO(after);
  const Tensor a_grad = net.a.grad();
  double norm = 0;
  for (double v : a_grad.data<double>()) norm += v * v;
  const std::string a_line = after.substr(after.find("A = sigmoid"));
  CHECK(a_line.substr(0, a_line.find('\n')).find(fmt::format("{:.4e}", std::sqrt(norm))) !=
        std::string::npos);
  CHECK(after.find("1.0000e+00") != std::string::npos);  // ‖gC‖ = 1 at the output
  CHECK(count(tape_listing(net.c), "  -\n") == 0);
  CHECK(after.find("gA = gC ⊙ C ⊙ (1 − C)") != std::string::npos);
  // Lines are in tape order: gemm before add before sigmoid.
  CHECK(after.find("gemm") < after.find("Z = add"));
  CHECK(after.find("Z = add") < after.find("A = sigmoid"));
}

TEST_CASE("to_dot walks a long chain without recursion") {
  Tensor x = ones({1}, {.dtype = DType::float64, .requires_grad = true});
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;
  const std::string dot = to_dot(y);
  CHECK(count(dot, "shape=ellipse") == 100000);
}

TEST_CASE("a constant freed after recording is still drawn, unnamed") {
  Tensor x = ones({2}, {.dtype = DType::float64, .requires_grad = true});
  Tensor y;
  {
    const Tensor k = full({2}, 3.0, {.dtype = DType::float64});
    y = x + k;  // add keeps nothing of its inputs, so k is gone after this scope
  }
  const Tensor other = zeros({2}, {.dtype = DType::float64});
  const std::string dot = to_dot(y, {.names = {{"x", x}, {"other", other}}});
  INFO(dot);
  CHECK(dot.find("label=\"constant\\n[2]\"") != std::string::npos);
  CHECK(dot.find("other") == std::string::npos);
  CHECK(count(dot, " -> ") == 2);
}
