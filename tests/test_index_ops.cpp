// The ops that take or give int64 indices: values against hand-computed (and PyTorch's)
// results, the gradients where the op table cannot look (ties, repeated indices), and the errors.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

using namespace matgrad;
using matgrad::testing::check_error;

namespace {

Tensor longs(const NestedList& values) { return tensor(values, {.dtype = DType::int64}); }
Tensor f64(const NestedList& values, bool requires_grad = false) {
  return tensor(values, {.dtype = DType::float64, .requires_grad = requires_grad});
}

std::vector<std::int64_t> values_of(const Tensor& t) {
  const auto& x = t.data<std::int64_t>();
  return {x.begin(), x.end()};
}
std::vector<double> doubles(const Tensor& t) {
  const Tensor d = t.detach().to(DType::float64);
  const auto& x = d.data<double>();
  return {x.begin(), x.end()};
}

}  // namespace

TEST_CASE("argmax and argmin give int64, over all elements or a dim, first on ties") {
  const Tensor x = f64({{1, 5, 5}, {7, 0, 7}});
  CHECK(argmax(x).dtype() == DType::int64);
  CHECK(argmax(x).dim() == 0);
  CHECK(argmax(x).item<std::int64_t>() == 3);
  CHECK(argmin(x).item<std::int64_t>() == 4);
  CHECK(argmax(x, std::nullopt, true).shape() == Shape{1, 1});  // keepdim without dim, as torch
  CHECK(values_of(argmax(x, 1)) == std::vector<std::int64_t>{1, 0});
  CHECK(values_of(argmin(x, 0)) == std::vector<std::int64_t>{0, 1, 0});
  CHECK(argmax(x, -1, true).shape() == Shape{2, 1});
  CHECK(argmax(f64({1, NAN, 3, NAN})).item<std::int64_t>() == 1);  // NaN is the maximum, as torch
  CHECK(argmax(longs({3, 9, 9})).item<std::int64_t>() == 1);     // any dtype
  check_error<ShapeError>([] { argmax(f64({})); }, {"argmax: cannot reduce a tensor of shape [0]"});
  check_error<ShapeError>([] { argmin(zeros({2, 0}), 1); }, {"argmin: cannot reduce over dim 1 of size 0"});
  check_error<IndexError>([&] { argmax(x, 2); }, {"argmax: dim 2 is out of range"});
}

TEST_CASE("max and min along a dim give values and int64 indices; the gradient goes to the index") {
  Tensor x = f64({{2, 5, 5}, {7, 7, 1}}, true);
  const ValuesIndices r = max(x, 1);
  CHECK(doubles(r.values) == std::vector<double>{5, 7});
  CHECK(values_of(r.indices) == std::vector<std::int64_t>{1, 0});
  CHECK_FALSE(r.indices.requires_grad());
  sum(r.values).backward();
  CHECK(x.grad().data<double>() == xt::xarray<double>{{0, 1, 0}, {1, 0, 0}});
  const ValuesIndices m = min(x, 0, true);
  CHECK(m.values.shape() == Shape{1, 3});
  CHECK(values_of(m.indices) == std::vector<std::int64_t>{0, 0, 1});
  CHECK(values_of(max(longs({{1, 4}, {3, 2}}), 0).values) == std::vector<std::int64_t>{3, 4});
}

TEST_CASE("max and min of every element split the gradient evenly among ties, as torch") {
  Tensor x = f64({{3, 1, 3}, {3, 0, 2}}, true);
  const Tensor m = max(x);
  CHECK(m.dim() == 0);
  CHECK(m.item() == 3);
  m.backward();
  const double third = 1.0 / 3.0;
  CHECK(doubles(x.grad()) == std::vector<double>{third, 0, third, third, 0, 0});
  x.zero_grad();
  min(x * 2.0).backward();
  CHECK(doubles(x.grad()) == std::vector<double>{0, 0, 0, 0, 2, 0});
  // A NaN maximum shares the gradient among the NaNs.
  Tensor y = f64({NAN, 1, NAN}, true);
  max(y).backward();
  CHECK(doubles(y.grad()) == std::vector<double>{0.5, 0, 0.5});
  CHECK(max(longs({4, -2})).item<std::int64_t>() == 4);
  check_error<ShapeError>([] { max(zeros({0})); }, {"max: cannot reduce a tensor of shape [0]"});
}

TEST_CASE("gather, scatter and scatter_add, values as torch.gather and Tensor.scatter_") {
  const Tensor a = f64({{1, 2}, {3, 4}});
  CHECK(doubles(gather(a, 1, longs({{0, 0}, {1, 0}}))) == std::vector<double>{1, 1, 4, 3});
  // Along dim the index may be longer than the input.
  CHECK(doubles(gather(a, 0, longs({{1, 0}, {0, 0}, {1, 1}}))) == std::vector<double>{3, 2, 1, 2, 3, 4});
  const Tensor z = zeros({3, 5}, {.dtype = DType::float64});
  const Tensor src = f64({{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}});
  CHECK(doubles(scatter(z, 0, longs({{0, 1, 2, 0}}), src)) ==
        std::vector<double>{1, 0, 0, 4, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0});
  CHECK(doubles(scatter(zeros({2, 4}, {.dtype = DType::float64}), 1, longs({{2}, {3}}), 1.23)) ==
        std::vector<double>{0, 0, 1.23, 0, 0, 0, 0, 1.23});
  CHECK(doubles(scatter_add(zeros({3}, {.dtype = DType::float64}), 0, longs({0, 2, 0, 0}), f64({1, 2, 3, 4}))) ==
        std::vector<double>{8, 0, 2});
  CHECK(values_of(scatter_add(longs({1, 1}), 0, longs({1, 1}), longs({5, 6}))) == std::vector<std::int64_t>{1, 12});
  // Repeated indices accumulate in the gradient of scatter_add's input too.
  Tensor s = f64({1, 2, 3}, true);
  sum(scatter_add(zeros({2}, {.dtype = DType::float64}), 0, longs({1, 1, 0}), s) * f64({10, 100})).backward();
  CHECK(doubles(s.grad()) == std::vector<double>{100, 100, 10});
}

TEST_CASE("gather and the scatters check the index's dtype, rank, shape and range") {
  const Tensor a = f64({{1, 2}, {3, 4}});
  check_error<DTypeError>([&] { gather(a, 0, f64({{0, 1}})); }, {"gather: index must be an int64 tensor, got float64"});
  check_error<ShapeError>([&] { gather(a, 0, longs({0, 1})); }, {"gather: index has rank 1", "input has rank 2"});
  check_error<ShapeError>([&] { gather(a, 0, longs({{0, 1, 0}})); }, {"gather: index of shape [1, 3] is larger", "dim 1"});
  check_error<IndexError>([&] { gather(a, 1, longs({{0, 2}})); }, {"gather: index 2 is out of range for dim 1 of size 2"});
  check_error<IndexError>([&] { gather(a, 1, longs({{-1, 0}})); }, {"gather: index -1 is out of range"});
  check_error<ShapeError>([&] { scatter(a, 0, longs({{0, 1}}), f64({{1}})); }, {"scatter: index of shape [1, 2] is larger than src of shape [1, 1]"});
  check_error<DTypeError>([&] { scatter_add(a, 0, longs({{0, 1}}), tensor({{1.0, 2.0}})); }, {"scatter_add: dtypes differ: float64 and float32"});
  check_error<ValueError>([] { scatter(longs({1, 2}), 0, longs({0}), 0.5); }, {"scatter: value 0.5"});
}

TEST_CASE("scatter_reduce: each reduction with and without self, as torch") {
  const Tensor a = f64({10, 20, 30, 40});
  const Tensor index = longs({0, 1, 0, 1, 2, 1});
  const Tensor src = f64({1, 2, 3, 4, 5, 6});
  using R = ScatterReduce;
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::sum)) == std::vector<double>{14, 32, 35, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::sum, false)) == std::vector<double>{4, 12, 5, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::prod)) == std::vector<double>{30, 960, 150, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::prod, false)) == std::vector<double>{3, 48, 5, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::mean)) == std::vector<double>{14.0 / 3, 8, 17.5, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::mean, false)) == std::vector<double>{2, 4, 5, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::amax)) == std::vector<double>{10, 20, 30, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::amax, false)) == std::vector<double>{3, 6, 5, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::amin)) == std::vector<double>{1, 2, 5, 40});
  CHECK(doubles(scatter_reduce(a, 0, index, src, R::amin, false)) == std::vector<double>{1, 2, 5, 40});
  // int64 mean rounds down, as torch's.
  CHECK(values_of(scatter_reduce(longs({0, 0}), 0, longs({0, 0, 1}), longs({1, 2, -3}), R::mean, false)) ==
        std::vector<std::int64_t>{1, -3});
}

TEST_CASE("scatter_reduce amax and amin share the gradient among ties, as torch") {
  Tensor a = f64({5, 0}, true);
  Tensor src = f64({5, 1, 5}, true);
  sum(scatter_reduce(a, 0, longs({0, 1, 0}), src, ScatterReduce::amax)).backward();
  const double third = 1.0 / 3.0;
  CHECK(doubles(a.grad()) == std::vector<double>{third, 0});
  CHECK(doubles(src.grad()) == std::vector<double>{third, 1, third});
}

TEST_CASE("scatter_reduce prod refuses a gradient through a zero factor, by name") {
  Tensor a = f64({1, 2}, true);
  const Tensor src = f64({0, 3});
  check_error<ValueError>([&] { scatter_reduce(a, 0, longs({0, 1}), src, ScatterReduce::prod); },
                          {"scatter_reduce: the gradient of prod where a factor is 0"});
  NoGradGuard no_grad;  // the value is fine
  CHECK(doubles(scatter_reduce(a, 0, longs({0, 1}), src, ScatterReduce::prod)) == std::vector<double>{0, 6});
}

TEST_CASE("take_along_dim, index_put, masked_fill and masked_select") {
  const Tensor a = f64({{10, 30, 20}, {60, 40, 50}});
  const Tensor order = longs({{0, 2, 1}, {1, 2, 0}});
  CHECK(doubles(take_along_dim(a, order, 1)) == std::vector<double>{10, 20, 30, 40, 50, 60});
  CHECK(doubles(take_along_dim(a, longs({{1}}), 1)) == std::vector<double>{30, 40});  // broadcasting
  CHECK(doubles(take_along_dim(a, longs({5, 0}))) == std::vector<double>{50, 10});
  const Tensor z = zeros({3, 2}, {.dtype = DType::float64});
  CHECK(doubles(index_put(z, {longs({0, -1})}, f64({1, 2}))) == std::vector<double>{1, 2, 0, 0, 1, 2});
  CHECK(doubles(index_put(z, {longs({0, 0}), longs({1, 1})}, f64({1, 2}), true)) ==
        std::vector<double>{0, 3, 0, 0, 0, 0});
  check_error<IndexError>([&] { index_put(z, {longs({3})}, f64(1)); }, {"index_put: index 3 is out of range for dim 0 of size 3"});
  check_error<ShapeError>([&] { index_put(z, {longs({0})}, f64({1, 2, 3})); }, {"index_put:", "[3]", "[1, 2]"});
  CHECK(doubles(masked_fill(a, longs({1, 0, 1}), -1.0)) == std::vector<double>{-1, 30, -1, -1, 40, -1});
  CHECK(doubles(masked_fill(f64({1}), longs({1, 0}), 0.0)) == std::vector<double>{0, 1});  // broadcasts, as torch
  check_error<ShapeError>([&] { masked_fill(f64({1, 2}), longs({1, 0, 1}), 0.0); }, {"where: shapes", "cannot be broadcast"});
  CHECK(doubles(masked_select(a, gt(a, f64(25)))) == std::vector<double>{30, 60, 40, 50});
  CHECK(doubles(masked_select(f64({{1}, {2}}), longs({1, 0, 1}))) == std::vector<double>{1, 1, 2, 2});
  Tensor x = f64({1, 2, 3}, true);
  sum(masked_select(x, longs({1, 0, 1})) * f64({5, 7})).backward();
  CHECK(doubles(x.grad()) == std::vector<double>{5, 0, 7});
}

TEST_CASE("index_put with a mask (torch's bool index), nonzero, and masked_fill with a tensor value") {
  CHECK(values_of(nonzero(f64({{0, 3}, {2, 0}}))) == std::vector<std::int64_t>{0, 1, 1, 0});
  CHECK(nonzero(f64({{0, 3}, {2, 0}})).shape() == Shape{2, 2});
  CHECK(nonzero(zeros({3})).shape() == Shape{0, 1});
  CHECK(nonzero(f64(5)).shape() == Shape{1, 0});  // as torch
  const Tensor z = zeros({3, 2}, {.dtype = DType::float64});
  // a[m] = v: the rows where m is non-zero (any dtype), values broadcasting to [2, 2].
  CHECK(doubles(index_put(z, {Mask{longs({1, 0, 1})}}, f64({5, 6}))) == std::vector<double>{5, 6, 0, 0, 5, 6});
  CHECK(doubles(index_put(z, {Mask{f64({0, 1, 1})}}, f64({{1, 2}, {3, 4}}), true)) ==
        std::vector<double>{0, 0, 1, 2, 3, 4});
  // A mask over both dims addresses elements; mixed with an int64 index it is one index tensor.
  CHECK(doubles(index_put(z, {Mask{longs({{1, 0}, {0, 0}, {0, 1}})}}, f64(7))) == std::vector<double>{7, 0, 0, 0, 0, 7});
  CHECK(doubles(index_put(z, {longs({2}), Mask{longs({0, 1})}}, f64(9))) == std::vector<double>{0, 0, 0, 0, 0, 9});
  CHECK(doubles(index_put(z, {Mask{zeros({3})}}, f64(1))) == std::vector<double>(6, 0.0));  // nothing selected
  check_error<IndexError>([&] { index_put(z, {Mask{longs({1, 0})}}, f64(1)); },
                          {"index_put: the mask of shape [2] at dim 0 does not match the indexed tensor of shape [3, 2]"});
  check_error<IndexError>([&] { index_put(z, {Mask{longs(1)}}, f64(1)); }, {"index_put: a 0-d mask"});
  check_error<IndexError>([&] { index_put(z, {longs({0}), Mask{longs({{1, 1}})}}, f64(1)); }, {"index_put: the mask"});
  // The gradient of values is the sum of the output's over the positions each value fills.
  Tensor v = f64({1, 2}, true);
  sum(index_put(z, {Mask{longs({1, 0, 1})}}, v) * f64({{1, 10}, {100, 1000}, {3, 30}})).backward();
  CHECK(doubles(v.grad()) == std::vector<double>{4, 40});

  Tensor a = f64({1, 2, 3}, true);
  Tensor value = f64(5, true);
  const Tensor filled = masked_fill(a, longs({1, 0, 1}), value);
  CHECK(doubles(filled) == std::vector<double>{5, 2, 5});
  sum(filled * f64({2, 3, 4})).backward();
  CHECK(value.grad().item() == 6);  // 2 + 4: the gradient over the mask
  CHECK(doubles(a.grad()) == std::vector<double>{0, 3, 0});
  check_error<ShapeError>([&] { masked_fill(a, longs({1, 0, 1}), f64({5})); }, {"masked_fill", "0-d", "[1]"});
  check_error<DTypeError>([&] { masked_fill(a, longs({1, 0, 1}), longs(5)); }, {"masked_fill"});
}

TEST_CASE("all, any and count_nonzero give int64 (matgrad has no bool dtype)") {
  const Tensor a = f64({{1, 0, 2}, {3, 4, 5}});
  CHECK(all(a).dtype() == DType::int64);
  CHECK(all(a).item<std::int64_t>() == 0);
  CHECK(any(a).item<std::int64_t>() == 1);
  CHECK(values_of(all(a, 1)) == std::vector<std::int64_t>{0, 1});
  CHECK(values_of(any(zeros({2, 2}), 0, true)) == std::vector<std::int64_t>{0, 0});
  CHECK(all(zeros({0})).item<std::int64_t>() == 1);  // vacuous truth, as torch
  CHECK(any(zeros({0})).item<std::int64_t>() == 0);
  CHECK(count_nonzero(a).item<std::int64_t>() == 5);
  CHECK(values_of(count_nonzero(a, 0)) == std::vector<std::int64_t>{2, 1, 2});
  CHECK(count_nonzero(f64({NAN, 0})).item<std::int64_t>() == 1);  // NaN is not zero
  CHECK(values_of(count_nonzero(longs({{0, 7}, {0, 0}}), -1)) == std::vector<std::int64_t>{1, 0});
  // Several dims, as torch.count_nonzero(a, dim=(0, 2)); {} is every dim, a 0-d input takes 0 or -1.
  Tensor b = zeros({2, 3, 2}, {.dtype = DType::float64});
  auto& bv = b.mutable_data<double>();
  for (std::size_t i = 0; i < bv.size(); ++i) bv.data()[i] = i % 3 == 0 ? 0.0 : 1.0;  // 0 at 0, 3, 6, 9
  CHECK(values_of(count_nonzero(b, {0, 2})) == std::vector<std::int64_t>{2, 2, 4});
  CHECK(values_of(count_nonzero(b, {-1, 0})) == std::vector<std::int64_t>{2, 2, 4});
  CHECK(values_of(count_nonzero(b, {1, 2})) == std::vector<std::int64_t>{4, 4});
  CHECK(count_nonzero(b, {0, 1, 2}).shape() == Shape{});
  CHECK(count_nonzero(b, {}).item<std::int64_t>() == 8);
  CHECK(count_nonzero(f64(3), {0}).item<std::int64_t>() == 1);
  CHECK(values_of(count_nonzero(zeros({0, 2}), {0})) == std::vector<std::int64_t>{0, 0});
  check_error<IndexError>([&] { count_nonzero(b, {0, -3}); }, {"count_nonzero"});
  check_error<IndexError>([&] { count_nonzero(b, {3}); }, {"count_nonzero"});
}

TEST_CASE("one_hot of int64 labels or a span, and its errors") {
  CHECK(values_of(one_hot(longs({2, 0}))) == std::vector<std::int64_t>{0, 0, 1, 1, 0, 0});
  CHECK(one_hot(longs({{1}, {0}}), 3).shape() == Shape{2, 1, 3});
  CHECK(one_hot(longs(4)).shape() == Shape{5});
  CHECK(values_of(one_hot(std::vector<std::size_t>{1}, 2)) == std::vector<std::int64_t>{0, 1});
  check_error<IndexError>([] { one_hot(longs({3}), 3); }, {"one_hot: label 3 (element 0) is out of range for 3 classes"});
  check_error<IndexError>([] { one_hot(longs({-1})); }, {"one_hot: label -1 (element 0) is negative"});
  check_error<ValueError>([] { one_hot(longs({})); }, {"one_hot: cannot infer num_classes from empty labels"});
  check_error<DTypeError>([] { one_hot(f64({1})); }, {"one_hot: labels must be an int64 tensor, got float64"});
}

TEST_CASE("cross_entropy and index_select take int64 tensors as the span overloads do") {
  const Tensor logits = f64({{1, 2, 3}, {0, -1, 5}});
  const std::vector<std::size_t> targets{2, 0};
  CHECK(cross_entropy(logits, longs({2, 0})).item() == cross_entropy(logits, targets).item());
  CHECK(cross_entropy(f64({1, 2}), longs(1), Reduction::none).item() ==
        cross_entropy(f64({1, 2}), std::vector<std::size_t>{1}, Reduction::none).item());
  check_error<ShapeError>([&] { cross_entropy(logits, longs({0})); }, {"cross_entropy: target of shape [1] for input of shape [2, 3]"});
  check_error<IndexError>([&] { cross_entropy(logits, longs({0, 3})); }, {"cross_entropy: target 3 at position 1 is out of range for 3 classes"});
  check_error<IndexError>([&] { cross_entropy(logits, longs({0, -1})); }, {"cross_entropy: target -1"});
  // Floating targets are class probabilities (torch's), shaped as the logits.
  check_error<ShapeError>([&] { cross_entropy(logits, f64({0, 1})); }, {"cross_entropy: probability target of shape [2] for input of shape [2, 3]"});
  CHECK(doubles(index_select(logits, 1, longs({2, 2}))) == std::vector<double>{3, 3, 5, 5});
  check_error<ShapeError>([&] { index_select(logits, 0, longs({{0}})); }, {"index_select: index must be 0-d or 1-D"});
  check_error<IndexError>([&] { index_select(logits, 0, longs({2})); }, {"index_select: index 2 is out of range for size 2"});
}
