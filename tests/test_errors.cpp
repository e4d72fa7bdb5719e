// Every user mistake raises a matgrad error whose message names the op and the shapes,
// dtypes or values at fault.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <string>

using namespace matgrad;
using namespace matgrad::testing;


static Tensor f64(const Shape& shape, bool requires_grad = false) {
  return ones(shape, {.dtype = DType::float64, .requires_grad = requires_grad});
}

TEST_CASE("shape mismatch in matmul names both shapes") {
  check_error<ShapeError>([] { matmul(f64({3, 4}), f64({5, 2})); },
                          {"matmul: inner dimensions differ: [3, 4] @ [5, 2]"});
  check_error<ShapeError>([] { matmul(f64({2, 3, 4}), f64({3, 4, 5})); },
                          {"matmul: batch dims do not broadcast: [2, 3, 4] @ [3, 4, 5]"});
  check_error<ShapeError>([] { matmul(f64({2, 2, 3, 4}), f64({3, 1, 4, 5})); }, {"matmul", "[2, 2, 3, 4] @ [3, 1, 4, 5]"});
  check_error<ShapeError>([] { gemm(f64({3, 4}), f64({3, 4})); },
                          {"gemm: inner dimensions differ: [3, 4] @ [3, 4]"});
  check_error<ShapeError>([] { gemm(f64({3, 4}), f64({5, 4}), true, false); },
                          {"gemm: inner dimensions differ: [3, 4]ᵀ @ [5, 4]"});
}

TEST_CASE("broadcasting failure names the op and the shapes") {
  check_error<ShapeError>([] { f64({2, 3}) + f64({4}); },
                          {"add", "[2, 3]", "[4]", "cannot be broadcast"});
  check_error<ShapeError>([] { f64({2, 3}) * f64({3, 2}); }, {"mul", "[2, 3]", "[3, 2]"});
}

TEST_CASE("mixed dtypes are refused") {
  check_error<DTypeError>([] { f64({2}) + ones({2}); }, {"add", "float64", "float32"});
  check_error<DTypeError>([] { matmul(f64({2, 2}), ones({2, 2})); }, {"matmul", "float64", "float32"});
  check_error<DTypeError>([] { f64({2}).data<float>(); }, {"float64", "float32"});
}

TEST_CASE("backward on a non-scalar without a seed") {
  check_error<AutogradError>([] { (f64({2, 3}, true) * 2.0).backward(); },
                             {"backward", "[2, 3]", "seed"});
}

TEST_CASE("backward on a tensor that does not require grad") {
  check_error<AutogradError>([] { sum(f64({2})).backward(); }, {"backward", "does not require grad"});
}

TEST_CASE("a seed of the wrong shape or dtype") {
  Tensor y = f64({2, 3}, true) * 2.0;
  check_error<ShapeError>([&] { y.backward(f64({3, 2})); }, {"seed", "[3, 2]", "[2, 3]"});
  check_error<DTypeError>([&] { y.backward(ones({2, 3})); }, {"seed", "float32", "float64"});
}

TEST_CASE("a second backward through a released graph mentions retain_graph") {
  Tensor x = f64({2}, true);
  Tensor y = sum(x * x);
  y.backward();
  check_error<AutogradError>([&] { y.backward(); }, {"retain_graph", "second time"});
}

TEST_CASE("an index or dim out of range") {
  check_error<IndexError>([] { sum(f64({2, 3}), 2); }, {"sum", "dim 2", "rank 2"});
  check_error<IndexError>([] { f64({2, 3}).size(-3); }, {"dim -3"});
  check_error<IndexError>([] { transpose(f64({2, 3}), 0, 5); }, {"transpose", "dim 5"});
}

TEST_CASE("reshape to a different element count") {
  check_error<ShapeError>([] { reshape(f64({2, 3}), {4, 2}); },
                          {"reshape", "[2, 3]", "6 elements", "[4, 2]", "8 elements"});
  check_error<ShapeError>([] { reshape(f64({2, 3}), {4, -1}); }, {"reshape", "size 6"});
}

TEST_CASE("misc misuse") {
  check_error<ShapeError>([] { f64({2, 3}).item(); }, {"item", "[2, 3]"});
  check_error<Error>([] { Tensor() + f64({1}); }, {"undefined"});
  Tensor w = f64({2}, true);
  check_error<AutogradError>([&] { w.add_(f64({2})); }, {"add_", "NoGradGuard"});
  Tensor h = w * 2.0;
  check_error<AutogradError>([&] { h.requires_grad_(false); }, {"leaf", "detach"});
  check_error<ShapeError>([] { t(f64({2, 3, 4})); }, {"t:", "[2, 3, 4]"});
  check_error<ValueError>([] { arange(0, 1, 0); }, {"arange", "step"});
}

// Issue 11: the undefined-tensor message named numel (called inside item), zero_'s named fill_.
TEST_CASE("methods on an undefined tensor and in-place misuse name the method called") {
  const std::string item = error_of<Error>([] { Tensor().item(); });
  CHECK(item.find("item: the tensor is undefined") != std::string::npos);
  CHECK(item.find("numel") == std::string::npos);
  const std::string zero = error_of<Error>([] { Tensor().zero_(); });
  CHECK(zero.find("zero_: the tensor is undefined") != std::string::npos);
  Tensor w = f64({2}, true);
  const std::string in_place = error_of<AutogradError>([&] { w.zero_(); });
  CHECK(in_place.find("zero_: an in-place update") != std::string::npos);
  CHECK(in_place.find("fill_") == std::string::npos);
  check_error<AutogradError>([&] { w.fill_(2); }, {"fill_: an in-place update"});
}

// Custom ops as apply<> structs: errors name the op, the function at fault and the user's line.
struct Twice {
  static inline const OpInfo info{"twice", "dC = 2 dA", "", "gA = 2 gC"};
  static Tensor forward(const Tensor& x) { return x * 2.0; }
  static Grads backward(const Tensor& g, const Tensor&) { return {g * 2.0}; }
};
struct TooManyGradients {
  static inline const OpInfo info{"too_many_gradients", "dC = dA", "", "gA = gC"};
  static Tensor forward(const Tensor& x) { return x * 1.0; }
  static Grads backward(const Tensor& g, const Tensor&) { return {g, g}; }
};
struct NoOutput {
  static inline const OpInfo info{"no_output", "dC = dA", "", "gA = gC"};
  static Tensor forward(const Tensor&, const Tensor&) { return Tensor(); }
  static Grads backward(const Tensor& g, const Tensor&, const Tensor&) { return {g, g}; }
};

TEST_CASE("a custom op made with apply<> reports the user's line, not the library header") {
  Tensor x = f64({3}, true);
  const std::string here = fmt::format("test_errors.cpp:{}", __LINE__ + 1);
  Tensor loss = sum(apply<Twice>(x));
  {
    NoGradGuard no_grad;
    x.add_(f64({3}));  // after Twice saved it
  }
  const std::string message = error_of<AutogradError>([&] { loss.backward(); });
  INFO(message);
  CHECK(message.find("'twice' saved it for backward at") != std::string::npos);
  CHECK(message.find(here) != std::string::npos);
  CHECK(message.find("autograd.hpp") == std::string::npos);
  // The same under anomaly mode, which points at the line too.
  DetectAnomalyGuard anomaly;
  Tensor inf = full({1}, INFINITY, {.dtype = DType::float64, .requires_grad = true});
  const std::string anomaly_line = fmt::format("test_errors.cpp:{}", __LINE__ + 1);
  const std::string forward = error_of<AutogradError>([&] { apply<Twice>(inf); });
  CHECK(forward.find(anomaly_line) != std::string::npos);
}

TEST_CASE("a custom op whose backward returns the wrong number of gradients, or whose forward none") {
  Tensor x = f64({3}, true);
  const std::string line = fmt::format("test_errors.cpp:{}", __LINE__ + 1);
  Tensor loss = sum(apply<TooManyGradients>(x));
  const std::string message = error_of<Error>([&] { loss.backward(); });
  INFO(message);
  CHECK(message.find("too_many_gradients: the custom op's backward returned 2 gradients for its 1 input") != std::string::npos);
  CHECK(message.find(line) != std::string::npos);
  CHECK(message.find("internal error") == std::string::npos);

  const std::string forward_line = fmt::format("test_errors.cpp:{}", __LINE__ + 1);
  const std::string none = error_of<Error>([&] { apply<NoOutput>(x, x); });
  INFO(none);
  CHECK(none.find("no_output: the custom op's forward returned an undefined tensor") != std::string::npos);
  CHECK(none.find(forward_line) != std::string::npos);
  CHECK(none.find("internal error") == std::string::npos);
  // Also when no input requires grad (nothing is recorded, the output is still checked).
  check_error<Error>([] { apply<NoOutput>(f64({1}), f64({1})); }, {"no_output", "forward"});
}

TEST_CASE("an op written with record() whose VJP returns the wrong count, or with no output") {
  static const OpInfo info{"my_op", "dC = dA", "", "gA = gC"};
  Tensor x = f64({2}, true);
  const std::string line = fmt::format("test_errors.cpp:{}", __LINE__ + 1);
  Tensor y = record(info, x * 1.0, {x}, [](const Tensor& g) -> Grads { return {g, g, g}; });
  const std::string message = error_of<Error>([&] { sum(y).backward(); });
  INFO(message);
  CHECK(message.find("my_op: its VJP (given to record() at") != std::string::npos);
  CHECK(message.find("returned 3 gradients for 1 input;") != std::string::npos);
  CHECK(message.find(line) != std::string::npos);
  CHECK(message.find("internal error") == std::string::npos);
  const std::string none = error_of<Error>(
      [&] { record(info, Tensor(), {x}, [](const Tensor& g) -> Grads { return {g}; }); });
  CHECK(none.find("my_op: record() was given an undefined output tensor") != std::string::npos);
  CHECK(none.find("internal error") == std::string::npos);
}
