// The tensor-algebra family (diagonal_pad.cpp, tensor_products.cpp, matrix_exp.cpp, einsum.cpp):
// values on small cases against hand-computed ones or other ops, and the errors. Gradients and
// PyTorch's own samples are checked by the op table and test_torch_samples.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <cmath>

using namespace matgrad;
using matgrad::testing::check_error;

namespace {

const TensorOptions f64{.dtype = DType::float64};

std::vector<double> doubles(const Tensor& t) {
  const Tensor d = t.detach().to(DType::float64);
  const auto& x = d.data<double>();
  return {x.begin(), x.end()};
}

// The largest |a − b|, both of one shape.
double max_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = doubles(a), y = doubles(b);
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

Tensor arange_of(const Shape& shape) {
  Tensor t = zeros(shape, f64);
  auto& v = t.mutable_data<double>();
  for (std::size_t i = 0; i < v.size(); ++i) v.data()[i] = static_cast<double>(i + 1);
  return t;
}

}  // namespace

TEST_CASE("diagonal and diag_embed on small cases") {
  const Tensor a = arange_of({3, 4});  // rows 1 2 3 4 / 5 6 7 8 / 9 10 11 12
  CHECK(doubles(diagonal(a)) == std::vector<double>{1, 6, 11});
  CHECK(doubles(diagonal(a, 1)) == std::vector<double>{2, 7, 12});
  CHECK(doubles(diagonal(a, 3)) == std::vector<double>{4});
  CHECK(diagonal(a, 4).shape() == Shape{0});
  CHECK(doubles(diagonal(a, -1)) == std::vector<double>{5, 10});
  CHECK(doubles(diagonal(a, 0, 1, 0)) == std::vector<double>{1, 6, 11});  // of the transpose
  const Tensor b = arange_of({2, 3, 3});
  CHECK(diagonal(b, 0, 1, 2).shape() == Shape{2, 3});
  CHECK(doubles(diagonal(b, 0, -2, -1)) == std::vector<double>{1, 5, 9, 10, 14, 18});
  CHECK(diagonal(b, 0, 0, 2).shape() == Shape{3, 2});  // the diagonal goes last
  CHECK(doubles(diag_embed(tensor({1, 2}, f64))) == std::vector<double>{1, 0, 0, 2});
  CHECK(doubles(diag_embed(tensor({1, 2}, f64), 1)) == std::vector<double>{0, 1, 0, 0, 0, 2, 0, 0, 0});
  CHECK(doubles(diag_embed(tensor({1, 2}, f64), -1)) == std::vector<double>{0, 0, 0, 1, 0, 0, 0, 2, 0});
  // Any dtype, as torch (int64 was refused by the index_add inside).
  const Tensor longs = tensor({3, -4}, {.dtype = DType::int64});
  CHECK(diag_embed(longs).dtype() == DType::int64);
  CHECK(diag_embed(longs, 1).data<std::int64_t>() == xt::xarray<std::int64_t>{{0, 3, 0}, {0, 0, -4}, {0, 0, 0}});
  CHECK(diagonal(diag_embed(longs)).data<std::int64_t>() == xt::xarray<std::int64_t>{3, -4});
  CHECK(index_add(longs, 0, std::vector<std::size_t>{1, 1}, tensor({5, 6}, {.dtype = DType::int64}))
            .data<std::int64_t>() == xt::xarray<std::int64_t>{3, 7});
  // diagonal undoes diag_embed, for any offset and pair of dims.
  const Tensor c = arange_of({2, 3});
  for (const std::ptrdiff_t k : {-2, 0, 1}) {
    for (const auto& [d1, d2] : std::vector<std::pair<std::ptrdiff_t, std::ptrdiff_t>>{{0, 1}, {2, 0}, {-1, 1}}) {
      INFO(k, " ", d1, " ", d2);
      const Tensor e = diag_embed(c, k, d1, d2);
      CHECK(e.dim() == 3);
      CHECK(doubles(diagonal(e, k, d1, d2)) == doubles(c));
      CHECK(doubles(sum(e)) == doubles(sum(c)));
    }
  }
  check_error<ShapeError>([] { diagonal(zeros({3})); }, {"diagonal: expects a tensor of rank >= 2, got shape [3]"});
  check_error<IndexError>([] { diagonal(zeros({3, 3}), 0, 1, -1); }, {"diagonal: dim1 and dim2 are the same dim"});
  check_error<IndexError>([] { diag_embed(zeros({3}), 0, 0, 2); }, {"diag_embed: dim 2 is out of range"});
  check_error<ShapeError>([] { diag_embed(zeros({})); }, {"diag_embed: expects a tensor of rank >= 1"});
}

TEST_CASE("pad: constant with crops, reflect and replicate, as torch.nn.functional.pad") {
  const Tensor v = tensor({{1, 2, 3, 4}}, f64);
  CHECK(doubles(pad(v, {2, 1}, "constant", 9)) == std::vector<double>{9, 9, 1, 2, 3, 4, 9});
  CHECK(doubles(pad(v, {-1, -2})) == std::vector<double>{2});
  CHECK(doubles(pad(v, {-1, 1, 1, 0})) == std::vector<double>{0, 0, 0, 0, 2, 3, 4, 0});
  CHECK(doubles(pad(v, {2, 1}, "reflect")) == std::vector<double>{3, 2, 1, 2, 3, 4, 3});
  CHECK(doubles(pad(v, {2, 1}, "replicate")) == std::vector<double>{1, 1, 1, 2, 3, 4, 4});
  // A negative pad crops in every mode (torch's kernels shift the source positions).
  CHECK(doubles(pad(v, {-2, 2}, "reflect")) == std::vector<double>{3, 4, 3, 2});
  CHECK(doubles(pad(v, {-2, 2}, "replicate")) == std::vector<double>{3, 4, 4, 4});
  // Departure: reflect and replicate pad any trailing dims of any rank (torch: 1–3 of a batch).
  CHECK(pad(zeros({2, 3, 4, 5}), {1, 1, 1, 1, 1, 1, 1, 1}, "replicate").shape() == Shape{4, 5, 6, 7});
  CHECK(pad(zeros({2, 3}), {}).shape() == Shape{2, 3});
  CHECK(pad(zeros({0, 3}), {1, 1}, "reflect").shape() == Shape{0, 5});
  check_error<ShapeError>([&] { pad(v, {1}); }, {"pad: the pad list has odd length 1"});
  check_error<ShapeError>([&] { pad(v, {1, 1, 1, 1, 1, 1}); }, {"pad: 3 pad pairs for a tensor of rank 2"});
  check_error<ShapeError>([&] { pad(v, {4, 0}, "reflect"); }, {"pad: reflect pads (4, 0) of dim 1 must be smaller than its size 4"});
  check_error<ShapeError>([&] { pad(v, {-3, -2}); }, {"pad: pads (-3, -2) of dim 1 of size 4 leave a negative size"});
  check_error<ShapeError>([] { pad(zeros({2, 0}), {1, 0}, "replicate"); }, {"pad: mode 'replicate' cannot pad dim 1 of size 0"});
  check_error<ValueError>([&] { pad(v, {1, 1}, "circular"); }, {"pad: mode 'circular' is not one of"});
  check_error<ValueError>([&] { pad(v, {1, 1}, "reflect", 2); }, {"pad: a value (2) is only taken by mode 'constant'"});
}

TEST_CASE("slice with negative bounds and movedim of several dims") {
  const Tensor a = arange_of({5});
  CHECK(doubles(slice(a, 0, -3, -1)) == std::vector<double>{3, 4});
  CHECK(doubles(slice(a, 0, -100, 2)) == std::vector<double>{1, 2});  // below −size: 0
  CHECK(doubles(slice(a, -1, 1, -1, 2)) == std::vector<double>{2, 4});
  CHECK(slice(a, 0, -1, -3).shape() == Shape{0});
  CHECK(doubles(slice(a, 0, std::size_t{1}, SIZE_MAX)) == std::vector<double>{2, 3, 4, 5});  // size_t: to the end
  check_error<ValueError>([&] { slice(a, 0, 0, 3, -1); }, {"slice: step must be positive, got -1"});
  const Tensor b = zeros({2, 3, 4, 5});
  CHECK(movedim(b, {0, 1}, {2, 3}).shape() == Shape{4, 5, 2, 3});
  CHECK(movedim(b, {-1, 0}, {0, -1}).shape() == Shape{5, 3, 4, 2});
  CHECK(movedim(b, std::vector<std::ptrdiff_t>{}, std::vector<std::ptrdiff_t>{}).shape() == b.shape());
  const Tensor c = arange_of({2, 3});
  CHECK(doubles(movedim(c, {0}, {1})) == doubles(t(c)));
  check_error<ShapeError>([&] { movedim(b, {0, 1}, {2}); }, {"movedim: 2 source dims but 1 destination dims"});
  check_error<IndexError>([&] { movedim(b, {0, 0}, {1, 2}); }, {"movedim: dim 0 appears more than once"});
}

TEST_CASE("kron, cross, vecdot, tensordot and multi_dot against their definitions") {
  const Tensor a = tensor({{1, 2}, {3, 4}}, f64), i2 = eye(2, f64);
  CHECK(doubles(kron(a, i2)) == std::vector<double>{1, 0, 2, 0, 0, 1, 0, 2, 3, 0, 4, 0, 0, 3, 0, 4});
  CHECK(doubles(kron(tensor({1, 2}, f64), tensor({1, 10, 100}, f64))) == std::vector<double>{1, 10, 100, 2, 20, 200});
  CHECK(kron(zeros({2, 3, 1}, f64), zeros({4, 5}, f64)).shape() == Shape{2, 12, 5});
  const Tensor e1 = tensor({1, 0, 0}, f64), e2 = tensor({0, 1, 0}, f64);
  CHECK(doubles(cross(e1, e2)) == std::vector<double>{0, 0, 1});
  CHECK(doubles(cross(e2, e1)) == std::vector<double>{0, 0, -1});
  const Tensor u = tensor({{1, 2, 3}}, f64), w = tensor({{4, 5, 6}, {-1, 0, 2}}, f64);
  CHECK(doubles(cross(u, w)) == std::vector<double>{-3, 6, -3, 4, -5, 2});  // broadcast rows
  CHECK(doubles(cross(t(u), t(w), 0)) == std::vector<double>{-3, 4, 6, -5, -3, 2});
  check_error<ShapeError>([&] { cross(a, a); }, {"cross: dim -1 must have size 3"});
  check_error<ShapeError>([&] { cross(e1, u); }, {"cross: a [3] and b [1, 3] must have the same rank"});
  CHECK(doubles(vecdot(w, u)) == std::vector<double>{32, 5});
  CHECK(doubles(vecdot(w, w, 0)) == std::vector<double>{17, 25, 40});
  check_error<ShapeError>([&] { vecdot(w, a); }, {"vecdot"});
  Generator gen(3);
  const Tensor x = randn({2, 3, 4}, gen, f64), y = randn({3, 4, 5}, gen, f64), z = randn({4, 3}, gen, f64);
  CHECK(max_difference(tensordot(x, y), reshape(matmul(reshape(x, {2, 12}), reshape(y, {12, 5})), {2, 5})) < 1e-13);
  CHECK(max_difference(tensordot(x, z, {1, 2}, {1, 0}), matmul(reshape(x, {2, 12}), reshape(t(z), {12}))) < 1e-13);
  CHECK(tensordot(x, z, 0).shape() == Shape{2, 3, 4, 4, 3});
  check_error<ShapeError>([&] { tensordot(x, z, {1}, {0}); }, {"tensordot: dim 1 of a [2, 3, 4] (size 3) and dim 0 of b [4, 3] (size 4) differ"});
  const Tensor m1 = randn({5, 2}, gen, f64), m2 = randn({2, 6}, gen, f64), m3 = randn({6, 3}, gen, f64), v = randn({3}, gen, f64);
  CHECK(max_difference(multi_dot({m1, m2, m3}), matmul(matmul(m1, m2), m3)) < 1e-13);
  CHECK(max_difference(multi_dot({m1, m2, m3, v}), matmul(matmul(m1, matmul(m2, m3)), v)) < 1e-13);
  CHECK(multi_dot({randn({5}, gen, f64), m1, m2, m3, v}).shape() == Shape{});
  check_error<ShapeError>([&] { multi_dot({m1}); }, {"multi_dot: expects at least 2 tensors, got 1"});
  check_error<ShapeError>([&] { multi_dot({m1, m3}); }, {"multi_dot: tensor 1 of shape [6, 3] does not follow shape [5, 2]"});
  check_error<ShapeError>([&] { multi_dot({m1, v, m2}); }, {"multi_dot: tensor 1 has shape [3]; expected a matrix"});
}

TEST_CASE("matrix_power by repeated squaring and through the inverse") {
  Generator gen(5);
  const Tensor a = randn({2, 3, 3}, gen, f64) + 4.0 * eye(3, f64);
  Tensor p = a;
  for (int k = 2; k <= 6; ++k) {
    p = matmul(p, a);
    INFO(k);
    CHECK(max_difference(matrix_power(a, k), p) < 1e-13 * max(abs(p)).item<double>());
  }
  const Tensor m = reshape(slice(a, 0, std::size_t{0}, 1), {3, 3});
  CHECK(max_difference(matrix_power(m, -3), matmul(inverse(m), matmul(inverse(m), inverse(m)))) < 1e-13);
  CHECK(max_difference(matrix_power(a, 0), broadcast_to(eye(3, f64), {2, 3, 3})) == 0);
  CHECK(max_difference(matmul(matrix_power(a, -2), matrix_power(a, 2)), broadcast_to(eye(3, f64), {2, 3, 3})) < 1e-12);
  CHECK(matrix_power(zeros({4, 0, 0}, f64), 3).shape() == Shape{4, 0, 0});
  check_error<ShapeError>([] { matrix_power(zeros({2, 3}), 2); }, {"matrix_power: expects square matrices [..., n, n], got shape [2, 3]"});
  check_error<ValueError>([] { matrix_power(zeros({2, 2}, f64), -1); }, {"singular"});
}

TEST_CASE("matrix_exp: closed forms, each Padé degree and the squaring, and the Cookbook's gradient") {
  // A rotation generator: e^{[0 −θ; θ 0]} = [cos θ −sin θ; sin θ cos θ]; θ from the Padé-3 range
  // to one that needs squarings.
  for (const double theta : {0.001, 0.1, 0.5, 1.5, 3.0, 40.0}) {
    INFO(theta);
    const Tensor r = matrix_exp(tensor({{0, -theta}, {theta, 0}}, f64));
    const Tensor want = tensor({{std::cos(theta), -std::sin(theta)}, {std::sin(theta), std::cos(theta)}}, f64);
    CHECK(max_difference(r, want) < 1e-14 * (1 + theta));
  }
  // [a b; 0 a] gives e^a [1 b; 0 1]; diagonal matrices their elementwise exp.
  CHECK(max_difference(matrix_exp(tensor({{4, 6}, {0, 4}}, f64)), std::exp(4.0) * tensor({{1, 6}, {0, 1}}, f64)) <
        1e-12 * std::exp(4.0));
  const Tensor d = matrix_exp(diag(tensor({10, -3, 0}, f64)));
  CHECK(max_difference(diagonal(d), tensor({std::exp(10.0), std::exp(-3.0), 1.0}, f64)) < 1e-13 * std::exp(10.0));  // squarings: a few ulps each
  CHECK(max_difference(d, diag(diagonal(d))) == 0);
  // Batched: each matrix on its own; float32 as well.
  Generator gen(9);
  const Tensor batch = randn({3, 4, 4}, gen, f64);
  const Tensor each = stack({matrix_exp(reshape(slice(batch, 0, std::size_t{0}, 1), {4, 4})),
                             matrix_exp(reshape(slice(batch, 0, std::size_t{1}, 2), {4, 4})),
                             matrix_exp(reshape(slice(batch, 0, std::size_t{2}, 3), {4, 4}))});
  CHECK(max_difference(matrix_exp(batch), each) == 0);
  // A Taylor series (40 terms) of a matrix of norm about 1 agrees to rounding.
  const Tensor x = randn({4, 4}, gen, f64) * 0.3;
  Tensor term = eye(4, f64), series = eye(4, f64);
  for (int k = 1; k < 40; ++k) {
    term = matmul(term, x) / static_cast<double>(k);
    series = series + term;
  }
  CHECK(max_difference(matrix_exp(x), series) < 1e-14);
  CHECK(max_difference(matrix_exp(x.to(DType::float32)), series) < 1e-5);
  CHECK(matrix_exp(zeros({2, 0, 0}, f64)).shape() == Shape{2, 0, 0});
  CHECK(std::isnan(doubles(matrix_exp(tensor({{INFINITY, 0}, {0, 1}}, f64)))[3]));
  // The Matrix Cookbook: ∂ tr(e^X) / ∂X = (e^X)ᵀ.
  const Tensor y = randn({3, 3}, gen, f64).requires_grad_();
  trace(matrix_exp(y)).backward();
  CHECK(max_difference(y.grad(), t(matrix_exp(y.detach()))) < 1e-12);
  check_error<ShapeError>([] { matrix_exp(zeros({2, 3})); }, {"matrix_exp: expects square matrices [..., n, n], got shape [2, 3]"});
}

TEST_CASE("einsum: explicit and implicit outputs, traces, diagonals, ellipses, several operands") {
  Generator gen(11);
  const Tensor a = randn({3, 4}, gen, f64), b = randn({4, 5}, gen, f64), s = randn({4, 4}, gen, f64);
  CHECK(max_difference(einsum("ij,jk->ik", {a, b}), matmul(a, b)) < 1e-14);
  CHECK(max_difference(einsum("ij,jk", {a, b}), matmul(a, b)) < 1e-14);
  CHECK(max_difference(einsum("ij,jk->ki", {a, b}), t(matmul(a, b))) < 1e-14);
  CHECK(max_difference(einsum("ba", {a}), t(a)) == 0);  // implicit: alphabetical
  CHECK(max_difference(einsum("Ba", {a}), a) == 0);     // capitals sort first, as torch
  CHECK(max_difference(einsum("ii", {s}), trace(s)) < 1e-14);
  CHECK(max_difference(einsum("ii->i", {s}), diagonal(s)) == 0);
  CHECK(max_difference(einsum("ij->", {a}), sum(a)) < 1e-14);
  CHECK(max_difference(einsum("i j , j k -> i k", {a, b}), matmul(a, b)) < 1e-14);
  const Tensor c = randn({2, 3, 3}, gen, f64);
  CHECK(max_difference(einsum("bii->b", {c}), sum(diagonal(c, 0, 1, 2), -1)) < 1e-14);
  const Tensor r = randn({2, 3, 2}, gen, f64);
  CHECK(max_difference(einsum("iji->j", {r}), sum(diagonal(r, 0, 0, 2), -1)) < 1e-14);
  const Tensor batch = randn({2, 3, 4}, gen, f64);
  CHECK(max_difference(einsum("...ij,jk->...ik", {batch, b}), matmul(batch, b)) < 1e-14);
  const Tensor one = randn({1, 4, 2}, gen, f64), two = randn({2, 4, 2}, gen, f64);
  CHECK(max_difference(einsum("...ij,...jk", {batch, one}), matmul(batch, one)) < 1e-14);  // the batch broadcasts
  CHECK(max_difference(einsum("bij,bjk->bik", {batch, two}), matmul(batch, two)) < 1e-14);
  const Tensor u4 = randn({4}, gen, f64);  // the output drops the ellipsis: summed, as torch
  CHECK(max_difference(einsum("...ik, ...j -> ij", {batch, u4}), outer(sum(batch, {0, 2}), u4)) < 1e-14);
  const Tensor v = randn({4}, gen, f64), w = randn({3}, gen, f64);
  CHECK(max_difference(einsum("i,i->", {v, v}), sum(v * v)) < 1e-14);
  CHECK(max_difference(einsum("i,j->ij", {w, v}), outer(w, v)) == 0);
  const Tensor m = randn({5, 2}, gen, f64);
  CHECK(max_difference(einsum("ij,jk,kl->il", {a, b, m}), matmul(matmul(a, b), m)) < 1e-13);
  CHECK(max_difference(einsum("i,ij,j", {w, a, v}), sum(matmul(w, a) * v)) < 1e-13);
  check_error<ValueError>([&] { einsum("ij,jk->ik", {a}); }, {"einsum: 'ij,jk->ik' has 2 operand terms but 1 operands are given"});
  check_error<ShapeError>([&] { einsum("ijk->i", {a}); }, {"einsum: term 0 of 'ijk->i' names 3 dims but operand 0 has shape [3, 4]"});
  check_error<ShapeError>([&] { einsum("ij,ij->i", {a, b}); }, {"einsum: label i of 'ij,ij->i' has size 4 in operand 1"});
  check_error<ValueError>([&] { einsum("i1->i", {v}); }, {"einsum: 'i1->i' has the character '1'"});
  check_error<ValueError>([&] { einsum("ij->ii", {a}); }, {"einsum: the output of 'ij->ii' names a label twice"});
  check_error<ValueError>([&] { einsum("ij->k", {a}); }, {"einsum: the output of 'ij->k' names a label no operand has"});
  check_error<ShapeError>([&] { einsum("ii->i", {a}); }, {"einsum: label i of 'ii->i' has size 4 in operand 0 (shape [3, 4]) but 3 elsewhere"});
  check_error<ShapeError>([] { einsum("ii->i", {zeros({1, 3})}); }, {"einsum: a label repeated in operand 0 of 'ii->i' covers dims of sizes 1 and 3"});
  check_error<ValueError>([&] { tensordot(a, b, -1); }, {"tensordot: a negative number of dims to contract, -1"});
  check_error<ValueError>([&] { einsum("i..->i", {v}); }, {"not one ellipsis"});
}
