// The int64 dtype (torch's long): factories, conversions, printing, item, views, arithmetic and
// comparisons, .npy/.npz round trips, and the errors where it meets differentiation.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>
#include <matgrad/nn.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <limits>

using namespace matgrad;
using matgrad::testing::check_error;

namespace {

Tensor longs(const NestedList& values) { return tensor(values, {.dtype = DType::int64}); }

std::vector<std::int64_t> values_of(const Tensor& t) {
  const auto& x = t.data<std::int64_t>();
  return {x.begin(), x.end()};
}

}  // namespace

TEST_CASE("int64 factories: tensor, zeros, ones, full, arange, eye, the _like ones") {
  const Tensor a = longs({{1, 2, 3}, {-4, 5, 6}});
  CHECK(a.dtype() == DType::int64);
  CHECK(dtype_name(a.dtype()) == "int64");
  CHECK(a.shape() == Shape{2, 3});
  CHECK(values_of(a) == std::vector<std::int64_t>{1, 2, 3, -4, 5, 6});
  CHECK(values_of(zeros({3}, {.dtype = DType::int64})) == std::vector<std::int64_t>{0, 0, 0});
  CHECK(values_of(ones({2}, {.dtype = DType::int64})) == std::vector<std::int64_t>{1, 1});
  CHECK(values_of(full({2}, -7, {.dtype = DType::int64})) == std::vector<std::int64_t>{-7, -7});
  CHECK(values_of(arange(5, {.dtype = DType::int64})) == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  CHECK(values_of(arange(10, 2, -3, {.dtype = DType::int64})) == std::vector<std::int64_t>{10, 7, 4});
  CHECK(values_of(eye(2, {.dtype = DType::int64})) == std::vector<std::int64_t>{1, 0, 0, 1});
  CHECK(zeros_like(a).dtype() == DType::int64);
  CHECK(full_like(a, 3).data<std::int64_t>()(1, 2) == 3);
  CHECK(scalar_like(a, 9).item<std::int64_t>() == 9);
  // From an xt::xarray: every int64, beyond doubles' 2^53.
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const Tensor b(xt::xarray<std::int64_t>{big, -big - 1});
  CHECK(b.dtype() == DType::int64);
  CHECK(values_of(b) == std::vector<std::int64_t>{big, -big - 1});
  CHECK(b.numel() == 2);
}

TEST_CASE("int64 factories refuse values that are not integers, and random draws") {
  check_error<ValueError>([] { longs({1.0, 2.5}); }, {"tensor: value 2.5", "int64", "not an integer"});
  check_error<ValueError>([] { full({2}, 0.5, {.dtype = DType::int64}); }, {"full: value 0.5"});
  check_error<ValueError>([] { full({2}, 1e19, {.dtype = DType::int64}); }, {"full: value 1e+19"});
  check_error<ValueError>([] { arange(0, 2, 0.5, {.dtype = DType::int64}); }, {"arange: step 0.5"});
  Generator gen(1);
  check_error<DTypeError>([&] { randn({2}, gen, {.dtype = DType::int64}); }, {"randn", "int64"});
  check_error<DTypeError>([&] { rand({2}, gen, {.dtype = DType::int64}); }, {"rand", "int64"});
}

TEST_CASE("int64 is never differentiable") {
  Tensor a = longs({1, 2});
  check_error<AutogradError>([&] { a.requires_grad_(true); },
                             {"requires_grad_: only floating-point tensors can require gradients", "int64"});
  CHECK_FALSE(a.requires_grad());
  a.requires_grad_(false);  // allowed: it changes nothing
  check_error<AutogradError>([] { zeros({2}, {.dtype = DType::int64, .requires_grad = true}); },
                             {"requires_grad_", "int64"});
  // A cast of a float tensor that requires grad to int64 has no history, as in torch.
  Tensor x = tensor({1.7, -2.7}, {.dtype = DType::float64, .requires_grad = true});
  const Tensor n = x.to(DType::int64);
  CHECK_FALSE(n.requires_grad());
  CHECK(n.is_leaf());
}

TEST_CASE("differentiable ops name themselves and the dtypes when given int64") {
  const Tensor n = longs({1, 2});
  const Tensor x = tensor({1.0, 2.0});
  check_error<DTypeError>([&] { exp(n); }, {"exp: expected a float32 or float64 tensor, got int64", "shape [2]"});
  check_error<DTypeError>([&] { sum(n); }, {"sum:", "int64"});
  check_error<DTypeError>([&] { softmax(n, 0); }, {"softmax:", "int64"});
  check_error<DTypeError>([&] { matmul(n, n); }, {"int64"});
  // torch would promote int64 + float32 to float32; matgrad refuses, as for float32 + float64.
  check_error<DTypeError>([&] { n + x; }, {"add: dtypes differ: int64 and float32", "does not promote"});
  check_error<DTypeError>([&] { x * n; }, {"mul: dtypes differ: float32 and int64"});
  check_error<DTypeError>([&] { n.data<float>(); }, {"data: the tensor holds int64, not float32"});
  check_error<DTypeError>([&] { n.visit([](const auto&) {}); }, {"visit", "int64"});
}

TEST_CASE("to() converts both ways: toward zero into int64, exactly back") {
  const Tensor x = tensor({1.7, -2.7, 0.0, 3.0}, {.dtype = DType::float64});
  const Tensor n = x.to(DType::int64);
  CHECK(values_of(n) == std::vector<std::int64_t>{1, -2, 0, 3});
  const Tensor f = n.to(DType::float32);
  CHECK(f.dtype() == DType::float32);
  CHECK(f.data<float>() == xt::xarray<float>{1, -2, 0, 3});
  CHECK(n.to(DType::int64).impl() == n.impl());  // already int64: the same tensor
  const Tensor big(xt::xarray<std::int64_t>{(std::int64_t{1} << 53) + 1});
  CHECK(big.to(DType::float64).item() == 0x1p53);  // rounds to nearest
  check_error<ValueError>([] { tensor({1.0, NAN}).to(DType::int64); }, {"to: element 1 is nan", "int64"});
  check_error<ValueError>([] { tensor({1e19}).to(DType::int64); }, {"to: element 0", "int64 cannot hold"});
}

TEST_CASE("printing and item, torch style") {
  CHECK(to_string(longs({{1, -20}, {300, 4}})) == "tensor([[  1, -20],\n        [300,   4]])");
  CHECK(to_string(longs(7)) == "tensor(7)");
  CHECK(fmt::format("{}", longs({})) == "tensor([])");
  CHECK(longs(-3).item() == -3.0);
  const Tensor big(xt::xarray<std::int64_t>((std::int64_t{1} << 62) + 1));
  CHECK(big.item<std::int64_t>() == (std::int64_t{1} << 62) + 1);
  CHECK(tensor(2.5).item<double>() == 2.5);
  check_error<ShapeError>([] { longs({1, 2}).item<std::int64_t>(); }, {"item: only a one-element tensor"});
}

TEST_CASE("views, clone, detach and the shape ops keep int64") {
  Tensor a = longs({{1, 2, 3}, {4, 5, 6}});
  const Tensor v = a.view({3, 2});
  CHECK(v.dtype() == DType::int64);
  CHECK(values_of(reshape(a, {-1})) == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6});
  CHECK(values_of(transpose(a, 0, 1)) == std::vector<std::int64_t>{1, 4, 2, 5, 3, 6});
  CHECK(values_of(t(a)) == values_of(transpose(a, 0, 1)));
  CHECK(unsqueeze(a, 0).shape() == Shape{1, 2, 3});
  CHECK(squeeze(unsqueeze(a, 1)).shape() == Shape{2, 3});
  CHECK(values_of(flatten(a)) == values_of(reshape(a, {-1})));
  CHECK(values_of(broadcast_to(longs({1, 2}), {2, 2})) == std::vector<std::int64_t>{1, 2, 1, 2});
  CHECK(values_of(slice(a, 1, 0, 3, 2)) == std::vector<std::int64_t>{1, 3, 4, 6});
  CHECK(values_of(narrow(a, 0, 1, 1)) == std::vector<std::int64_t>{4, 5, 6});
  CHECK(values_of(concat({a, a}, 0)).size() == 12);
  CHECK(stack({a, a}).shape() == Shape{2, 2, 3});
  CHECK(values_of(index_select(a, 1, std::vector<std::size_t>{2, 0})) == std::vector<std::int64_t>{3, 1, 6, 4});
  CHECK(values_of(slice_scatter(a, longs({{9}, {9}}), 1, 1, 2)) == std::vector<std::int64_t>{1, 9, 3, 4, 9, 6});
  // A view and a detached tensor share the storage; a clone does not.
  const Tensor d = a.detach();
  const Tensor c = a.clone();
  a.fill_(7);
  CHECK(v.data<std::int64_t>()(0, 0) == 7);
  CHECK(d.data<std::int64_t>()(1, 2) == 7);
  CHECK(c.data<std::int64_t>()(1, 2) == 6);
  CHECK(c.dtype() == DType::int64);
}

TEST_CASE("in-place updates of int64 tensors") {
  Tensor a = longs({1, 2, 3});
  a.add_(longs({10, 10, 10}), 2);
  CHECK(values_of(a) == std::vector<std::int64_t>{21, 22, 23});
  a.mul_(-1);
  CHECK(values_of(a) == std::vector<std::int64_t>{-21, -22, -23});
  a.copy_(longs({0, 1, 2}));
  CHECK(values_of(a) == std::vector<std::int64_t>{0, 1, 2});
  a.zero_();
  CHECK(values_of(a) == std::vector<std::int64_t>{0, 0, 0});
  check_error<ValueError>([&] { a.mul_(0.5); }, {"mul_: factor 0.5"});
  check_error<ValueError>([&] { a.fill_(1.5); }, {"fill_: value 1.5"});
  check_error<DTypeError>([&] { a.add_(tensor({1.0, 1.0, 1.0})); }, {"add_: dtypes differ: int64 and float32"});
}

TEST_CASE("int64 arithmetic and comparisons, broadcasting, as torch") {
  const Tensor a = longs({{7, -7}, {6, 0}});
  const Tensor b = longs({2, -3});
  CHECK(values_of(a + b) == std::vector<std::int64_t>{9, -10, 8, -3});
  CHECK(values_of(a - b) == std::vector<std::int64_t>{5, -4, 4, 3});
  CHECK(values_of(a * b) == std::vector<std::int64_t>{14, 21, 12, 0});
  CHECK(values_of(-a) == std::vector<std::int64_t>{-7, 7, -6, 0});
  CHECK(values_of(a + 1.0) == std::vector<std::int64_t>{8, -6, 7, 1});
  CHECK(values_of(2.0 * a) == std::vector<std::int64_t>{14, -14, 12, 0});
  check_error<ValueError>([&] { a + 0.5; }, {"add: scalar 0.5 for an int64 tensor", "not an integer"});
  // div is true division into float32, as torch's; floor_divide and remainder round down.
  const Tensor q = a / b;
  CHECK(q.dtype() == DType::float32);
  CHECK(q.data<float>() == xt::xarray<float>{{3.5f, 7.0f / 3.0f}, {3.0f, -0.0f}});
  CHECK((a / 2.0).dtype() == DType::float32);
  CHECK(values_of(floor_divide(a, b)) == std::vector<std::int64_t>{3, 2, 3, 0});
  CHECK(values_of(floor_divide(longs({-7, 7, -7}), longs({2, -2, -2}))) == std::vector<std::int64_t>{-4, -4, 3});
  CHECK(values_of(remainder(longs({-7, 7, -7, 7}), longs({2, -2, -2, 2}))) ==
        std::vector<std::int64_t>{1, -1, -1, 1});
  check_error<ValueError>([&] { floor_divide(a, longs({0})); }, {"floor_divide: integer division by zero"});
  check_error<ValueError>([&] { remainder(a, longs({0})); }, {"remainder: integer division by zero"});
  // Overflow wraps, as torch's (no undefined behaviour).
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const Tensor m(xt::xarray<std::int64_t>{lo});
  CHECK(values_of(-m) == std::vector<std::int64_t>{lo});
  CHECK(values_of(m - longs({1})) == std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::max()});
  CHECK(values_of(floor_divide(m, longs({-1}))) == std::vector<std::int64_t>{lo});
  CHECK(values_of(remainder(m, longs({-1}))) == std::vector<std::int64_t>{0});
  // Comparisons give 0/1 in the inputs' dtype (matgrad has no bool).
  CHECK(values_of(gt(a, b)) == std::vector<std::int64_t>{1, 0, 1, 1});
  CHECK(values_of(eq(a, longs({7, 0}))) == std::vector<std::int64_t>{1, 0, 0, 1});
  CHECK(values_of(le(a, b)) == std::vector<std::int64_t>{0, 1, 0, 0});
  CHECK(values_of(ne(a, longs({7, 0}))) == std::vector<std::int64_t>{0, 1, 1, 0});
  CHECK(ne(a, b).dtype() == DType::int64);
  CHECK(gt(a, b).dtype() == DType::int64);
  check_error<DTypeError>([&] { lt(a, tensor({1.0})); }, {"lt: dtypes differ: int64 and float32"});
  check_error<DTypeError>([&] { ne(a, tensor({1.0})); }, {"ne: dtypes differ: int64 and float32"});
  // where takes an int64 condition for float branches, and int64 branches.
  const Tensor w = where(longs({1, 0}), tensor({1.0, 2.0}), tensor({3.0, 4.0}));
  CHECK(w.data<float>() == xt::xarray<float>{1, 4});
  CHECK(values_of(where(tensor({0.0, 1.0}), longs({1, 2}), longs({3, 4}))) == std::vector<std::int64_t>{3, 2});
}

TEST_CASE("a float condition and int64 masks drive where in a differentiable graph") {
  Tensor x = tensor({1.0, -2.0, 3.0}, {.dtype = DType::float64, .requires_grad = true});
  const Tensor mask = gt(x.detach(), scalar_like(x, 0.0)).to(DType::int64);
  sum(where(mask, x * x, x)).backward();
  CHECK(x.grad().data<double>() == xt::xarray<double>{2, 1, 6});
}

TEST_CASE(".npy and .npz round trips of int64 tensors") {
  const std::int64_t big = std::numeric_limits<std::int64_t>::max();
  const Tensor a(xt::xarray<std::int64_t>{{1, -2}, {big, -big - 1}});
  const std::string bytes = nn::to_npy(a);
  CHECK(bytes.find("'descr': '<i8'") != std::string::npos);
  const Tensor back = nn::from_npy(bytes);
  CHECK(back.dtype() == DType::int64);
  CHECK(back.shape() == Shape{2, 2});
  CHECK(values_of(back) == values_of(a));
  const auto path = std::filesystem::temp_directory_path() / "matgrad_test_int64.npz";
  nn::save_npz(path, {{"labels", a}, {"empty", zeros({0, 3}, {.dtype = DType::int64})},
                      {"weights", tensor({1.5, 2.5})}});
  const nn::NamedTensors loaded = nn::load_npz(path);
  std::filesystem::remove(path);
  REQUIRE(loaded.size() == 3);
  CHECK(loaded[0].first == "labels");
  CHECK(loaded[0].second.dtype() == DType::int64);
  CHECK(values_of(loaded[0].second) == values_of(a));
  CHECK(loaded[1].second.dtype() == DType::int64);
  CHECK(loaded[1].second.shape() == Shape{0, 3});
  CHECK(loaded[2].second.dtype() == DType::float32);
  // Other integer widths are refused by name.
  std::string i4 = bytes;
  i4.replace(i4.find("<i8"), 3, "<i4");
  check_error<nn::CheckpointError>([&] { nn::from_npy(i4); }, {"unsupported dtype '<i4'", "int64 ('<i8')"});
}

TEST_CASE("index_add with alpha: an integer alpha scales an int64 source, a fractional one is refused") {
  const std::vector<std::size_t> index{2, 0, 2};
  const Tensor a = longs({1, 1, 1}), source = longs({1, 2, 3});
  CHECK(values_of(index_add(a, 0, index, source, 3)) == std::vector<std::int64_t>{7, 1, 13});
  CHECK_THROWS_WITH_AS(index_add(a, 0, index, source, 0.5), doctest::Contains("index_add: alpha 0.5 is not an integer"),
                       ValueError);
}
