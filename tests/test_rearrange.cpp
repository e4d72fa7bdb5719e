// The shape family (rearrange.cpp): values on small cases, int64 inputs, and the errors.
// Gradients and PyTorch's own samples are checked by the op table and test_torch_samples.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

using namespace matgrad;
using matgrad::testing::check_error;

namespace {
std::vector<double> doubles(const Tensor& t) {
  const Tensor d = t.detach().to(DType::float64);
  const auto& x = d.data<double>();
  return {x.begin(), x.end()};
}
}  // namespace

TEST_CASE("permute, movedim, flip, roll, triu, tril, repeat, tile, expand on small cases") {
  const Tensor a = tensor({{1, 2, 3}, {4, 5, 6}});
  CHECK(doubles(permute(a, {1, 0})) == std::vector<double>{1, 4, 2, 5, 3, 6});
  CHECK(movedim(zeros({2, 3, 4}), 0, -1).shape() == Shape{3, 4, 2});
  CHECK(doubles(flip(a, {-1})) == std::vector<double>{3, 2, 1, 6, 5, 4});
  CHECK(doubles(roll(a, {1}, {1})) == std::vector<double>{3, 1, 2, 6, 4, 5});
  CHECK(doubles(roll(a, {-1})) == std::vector<double>{2, 3, 4, 5, 6, 1});
  CHECK(doubles(triu(a)) == std::vector<double>{1, 2, 3, 0, 5, 6});
  CHECK(doubles(tril(a, -1)) == std::vector<double>{0, 0, 0, 4, 0, 0});
  CHECK(doubles(repeat(tensor({1, 2}), {2, 2})) == std::vector<double>{1, 2, 1, 2, 1, 2, 1, 2});
  CHECK(tile(a, {2}).shape() == Shape{2, 6});
  CHECK(expand(tensor({{1}, {2}}), {3, -1, 2}).shape() == Shape{3, 2, 2});
  const auto parts = chunk(tensor({1, 2, 3, 4, 5}), 2);
  REQUIRE(parts.size() == 2);
  CHECK(doubles(parts[1]) == std::vector<double>{4, 5});
  CHECK(unbind(a, 1).size() == 3);
  CHECK(doubles(unbind(a, 1)[2]) == std::vector<double>{3, 6});
  CHECK(split(a, {1, 2}, 1)[1].shape() == Shape{2, 2});
  const Tensor n = tensor({{1, 2}, {3, 4}}, {.dtype = DType::int64});
  CHECK(permute(n, {1, 0}).dtype() == DType::int64);
  CHECK(flip(n, {0}).data<std::int64_t>()(0, 0) == 3);
}

TEST_CASE("the shape family names itself and the dims at fault") {
  const Tensor a = zeros({2, 3});
  check_error<ShapeError>([&] { permute(a, {0}); }, {"permute: 1 dims given for a tensor of rank 2"});
  check_error<IndexError>([&] { permute(a, {1, 1}); }, {"permute: dim 1 appears more than once"});
  check_error<IndexError>([&] { flip(a, {2}); }, {"flip: dim 2 is out of range"});
  check_error<ShapeError>([&] { roll(a, {1, 2}, {0}); }, {"roll: 2 shifts for 1 dims"});
  check_error<ShapeError>([] { triu(zeros({3})); }, {"triu: expects a tensor of rank >= 2, got shape [3]"});
  check_error<ShapeError>([&] { repeat(a, {2}); }, {"repeat: 1 repeats for a tensor of rank 2"});
  check_error<ShapeError>([&] { expand(a, {-1, -2}); }, {"expand: size -2 at dim 1"});
  check_error<ShapeError>([&] { expand(a, {-1, 2, 3}); }, {"expand: size -1 at dim 0", "existing dim only"});
  check_error<ShapeError>([&] { expand(a, {4, 3}); }, {"broadcast_to: shapes [2, 3] and [4, 3] cannot be broadcast together"});
  check_error<ShapeError>([&] { split(a, {1, 1}, 1); }, {"split: sizes add up to 2 but dim 1 has size 3"});
  check_error<ValueError>([&] { chunk(a, 0); }, {"chunk: chunks must be positive"});
}
