// Dim arguments read as PyTorch reads them: a 0-d tensor counts as one dim of size 1 (dim 0 or
// -1) for the reductions, index_select, index_add, transpose, squeeze, flatten and the softmax
// family, while size(d), slice and concat refuse it; squeeze leaves dims not of size 1 alone.
// The gradients of these cases are checked by the op table (its 0-d rows).
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

Tensor scalar(double v, bool requires_grad = false) {
  return tensor(v, {.dtype = DType::float64, .requires_grad = requires_grad});
}

double value(const Tensor& t) {
  REQUIRE(t.dim() == 0);
  return t.item();
}

}  // namespace

TEST_CASE("a 0-d tensor reduces over dim 0 or -1 as one element and stays 0-d") {
  const Tensor s = scalar(-2.5);
  for (const std::ptrdiff_t d : {0, -1}) {
    CAPTURE(d);
    for (const bool keepdim : {false, true}) {
      CHECK(value(sum(s, d, keepdim)) == -2.5);
      CHECK(value(mean(s, d, keepdim)) == -2.5);
      CHECK(value(norm(s, 2, d, keepdim)) == 2.5);
      CHECK(value(max(s, d, keepdim).values) == -2.5);
      CHECK(value(min(s, d, keepdim).values) == -2.5);
      CHECK(max(s, d, keepdim).indices.item<std::int64_t>() == 0);
      CHECK(value(logsumexp(s, d, keepdim)) == -2.5);
    }
    CHECK(argmax(s, d).dim() == 0);
    CHECK(argmax(s, d).dtype() == DType::int64);
    CHECK(argmax(s, d).item<std::int64_t>() == 0);
    CHECK(argmin(s, d).item<std::int64_t>() == 0);
    CHECK(value(transpose(s, d, 0)) == -2.5);
    CHECK(value(squeeze(s, d)) == -2.5);
    CHECK(flatten(s, d, d).shape() == Shape{1});
  }
  const std::vector<std::size_t> zero{0};
  CHECK(value(index_select(s, 0, zero)) == -2.5);
  CHECK(value(index_add(s, -1, zero, scalar(4))) == 1.5);
  CHECK(value(index_add(s, 0, zero, tensor({4.0}, {.dtype = DType::float64}))) == 1.5);
}

TEST_CASE("gradients through the 0-d reductions and index ops") {
  Tensor s = scalar(3.0, true);
  const std::vector<std::size_t> zero{0};
  Tensor y = sum(s, 0) + mean(s, -1) + max(s, 0, true).values + norm(s, 2, 0) + index_select(s, 0, zero) +
             transpose(s, 0, -1);
  y.backward();
  CHECK(s.grad().shape() == Shape{});
  CHECK(s.grad().item() == 6.0);
  Tensor source = tensor({2.0}, {.dtype = DType::float64, .requires_grad = true});
  index_add(s, 0, zero, source).backward();
  CHECK(source.grad().shape() == Shape{1});
  CHECK(source.grad().item() == 1.0);
}

TEST_CASE("0-d tensors outside [-1, 0], or where PyTorch has no dim, are refused by name") {
  const Tensor s = scalar(1.0);
  check_error<IndexError>([&] { sum(s, 1); }, {"sum: dim 1 is out of range for a 0-d tensor (expected 0 or -1)"});
  check_error<IndexError>([&] { max(s, -2); }, {"max: dim -2", "0-d", "0 or -1"});
  check_error<IndexError>([&] { transpose(s, 0, 1); }, {"transpose: dim 1", "0-d"});
  // PyTorch: "dimension specified as 0 but tensor has no dimensions".
  check_error<IndexError>([&] { s.size(0); }, {"size: dim 0 given for a 0-d tensor, which has no dims"});
  check_error<IndexError>([&] { s.size(-1); }, {"size: dim -1", "0-d"});
  check_error<IndexError>([&] { slice(s, 0, 0, 1); }, {"slice: dim 0 given for a 0-d tensor"});
  check_error<ShapeError>([&] { concat({s, s}, 0); }, {"concat", "0-d"});
  const std::vector<std::size_t> two{0, 0}, one{1};
  check_error<IndexError>([&] { index_select(s, 0, two); }, {"index_select", "exactly one index", "got 2"});
  check_error<IndexError>([&] { index_select(s, 0, one); }, {"index_select", "index 1 is out of range"});
  check_error<ShapeError>([&] { index_add(s, 0, std::vector<std::size_t>{0}, tensor({1.0, 2.0}, {.dtype = DType::float64})); },
                          {"index_add", "source has shape [2]"});
  // The message for a tensor with dims still gives the range.
  check_error<IndexError>([] { sum(zeros({2, 3}), -3); }, {"sum: dim -3 is out of range for a tensor of rank 2 (expected -2 to 1)"});
}

TEST_CASE("squeeze(t, d) leaves a dim not of size 1 alone; squeeze(t) removes every size-1 dim") {
  const Tensor t = zeros({2, 1, 3, 1});
  CHECK(squeeze(t, 0).shape() == Shape{2, 1, 3, 1});
  CHECK(squeeze(t, 1).shape() == Shape{2, 3, 1});
  CHECK(squeeze(t, -1).shape() == Shape{2, 1, 3});
  CHECK(squeeze(t).shape() == Shape{2, 3});
  CHECK(squeeze(zeros({1, 1})).shape() == Shape{});
  CHECK(squeeze(zeros({0, 1})).shape() == Shape{0});
  CHECK(squeeze(zeros({4})).shape() == Shape{4});
  check_error<IndexError>([&] { squeeze(t, 4); }, {"squeeze: dim 4", "rank 4"});
  Tensor x = tensor({{1.0}, {2.0}}, {.dtype = DType::float64, .requires_grad = true});
  sum(squeeze(x) * squeeze(x, 1)).backward();  // d Σ xᵢ² = 2x, back in x's shape
  CHECK(x.grad().shape() == Shape{2, 1});
  CHECK(x.grad().data<double>()(1, 0) == 4.0);
}
