// Every user mistake raises a matgrad error whose message names the op and the shapes,
// dtypes or values at fault.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace matgrad;
using namespace matgrad::testing;


static Tensor f64(const Shape& shape, bool requires_grad = false) {
  return ones(shape, {.dtype = DType::float64, .requires_grad = requires_grad});
}

TEST_CASE("shape mismatch in matmul names both shapes") {
  check_error<ShapeError>([] { matmul(f64({3, 4}), f64({5, 2})); },
                          {"matmul: inner dimensions differ: [3, 4] @ [5, 2]"});
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
