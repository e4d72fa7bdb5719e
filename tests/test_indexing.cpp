// Indexing and joining: forward values against hand-computed results, gradients of index lists
// with repeats, concat with more inputs than the engine's 32-bit needs mask, double backward
// through every VJP, and the error messages.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

constexpr TensorOptions f64{.dtype = DType::float64};

// Checks shape, dtype and every value exactly (the ops only move and add small integers).
void check_tensor(const Tensor& t, const Shape& shape, const std::vector<double>& values,
                  DType dtype = DType::float64) {
  REQUIRE(t.defined());
  CHECK(to_string(t.shape()) == to_string(shape));
  CHECK(t.dtype() == dtype);
  REQUIRE(t.numel() == values.size());
  t.visit([&](const auto& x) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      INFO("element ", i);
      CHECK(static_cast<double>(x.data()[i]) == values[i]);
    }
  });
}


bool has(const std::string& message, const std::string& part) {
  return message.find(part) != std::string::npos;
}

// A 2-D double tensor with values 0, 1, 2, ... in row-major order.
Tensor iota(std::size_t rows, std::size_t cols) {
  return reshape(arange(static_cast<double>(rows * cols), f64), {static_cast<std::ptrdiff_t>(rows),
                                                                 static_cast<std::ptrdiff_t>(cols)});
}

using Index = std::vector<std::size_t>;

}  // namespace

TEST_CASE("index_select picks slices along a dim, repeats allowed") {
  const Tensor a = tensor({{1, 2}, {3, 4}, {5, 6}}, f64);
  check_tensor(index_select(a, 0, Index{2, 0, 2}), {3, 2}, {5, 6, 1, 2, 5, 6});
  check_tensor(index_select(a, 1, Index{1, 1, 0}), {3, 3}, {2, 2, 1, 4, 4, 3, 6, 6, 5});
  check_tensor(index_select(a, -1, Index{1}), {3, 1}, {2, 4, 6});
  // 3-D along the middle dim: [2, 3, 2] -> [2, 2, 2]
  const Tensor b = reshape(arange(12.0, f64), {2, 3, 2});
  check_tensor(index_select(b, 1, Index{2, 0}), {2, 2, 2}, {4, 5, 0, 1, 10, 11, 6, 7});
  // An empty index list gives an empty dim.
  check_tensor(index_select(a, 0, Index{}), {0, 2}, {});
  check_tensor(index_select(a, 1, Index{}), {3, 0}, {});
  // float32 keeps its dtype.
  check_tensor(index_select(tensor({7, 8, 9}), 0, Index{1, 1}), {2}, {8, 8}, DType::float32);
}

TEST_CASE("index_add accumulates repeated indices") {
  const Tensor a = ones({3, 2}, f64);
  const Tensor s = tensor({{1, 2}, {3, 4}, {5, 6}}, f64);
  check_tensor(index_add(a, 0, Index{2, 0, 2}, s), {3, 2}, {4, 5, 1, 1, 7, 9});
  // Along dim 1: columns 0 and 2 of source go to column 1, column 1 to column 0.
  const Tensor a2 = zeros({2, 2}, f64);
  const Tensor s2 = tensor({{1, 2, 3}, {4, 5, 6}}, f64);
  check_tensor(index_add(a2, 1, Index{1, 0, 1}, s2), {2, 2}, {2, 4, 5, 10});
  // No indices: a unchanged (source has an empty dim).
  check_tensor(index_add(a, 0, Index{}, zeros({0, 2}, f64)), {3, 2}, {1, 1, 1, 1, 1, 1});
  check_tensor(index_add(tensor({1, 1}), 0, Index{1, 1}, tensor({2, 3})), {2}, {1, 6},
               DType::float32);
}

TEST_CASE("slice follows PyTorch's start:end:step, end clipped to the size") {
  const Tensor x = arange(10.0, f64);
  check_tensor(slice(x, 0, 1, 100, 3), {3}, {1, 4, 7});
  check_tensor(slice(x, 0, 2, 5), {3}, {2, 3, 4});
  check_tensor(slice(x, 0, 9, 10, 5), {1}, {9});
  check_tensor(slice(x, 0, 4, 4), {0}, {});    // start == end: empty
  check_tensor(slice(x, 0, 6, 2), {0}, {});    // start > end: empty
  check_tensor(slice(x, 0, 10, 12), {0}, {});  // start == size: empty
  const Tensor m = iota(3, 4);
  check_tensor(slice(m, 1, 1, 3), {3, 2}, {1, 2, 5, 6, 9, 10});
  check_tensor(slice(m, 0, 0, 3, 2), {2, 4}, {0, 1, 2, 3, 8, 9, 10, 11});
  check_tensor(slice(m, -1, 3, 4), {3, 1}, {3, 7, 11});
  // A step beyond the size takes the start alone (the count once wrapped around to 0).
  check_tensor(slice(x, 0, 0, 5, SIZE_MAX), {1}, {0});  // int bounds, a size_t step
  check_tensor(slice(x, 0, 3, SIZE_MAX, SIZE_MAX - 1), {1}, {3});
  check_tensor(slice_scatter(x, tensor({-1.0}, f64), 0, 2, 10, SIZE_MAX), {10},
               {0, 1, -1, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("slice_scatter replaces the slice by source") {
  check_tensor(slice_scatter(zeros({5}, f64), tensor({7, 8}, f64), 0, 1, 5, 2), {5},
               {0, 7, 0, 8, 0});
  const Tensor m = iota(2, 3);
  check_tensor(slice_scatter(m, reshape(tensor({-1, -2}, f64), {2, 1}), 1, 2, 3), {2, 3}, {0, 1, -1, 3, 4, -2});
  check_tensor(slice_scatter(m, tensor({{9, 9, 9}}, f64), 0, 1, 7), {2, 3}, {0, 1, 2, 9, 9, 9});
  // An empty slice with an empty source leaves a unchanged.
  check_tensor(slice_scatter(m, zeros({2, 0}, f64), 1, 3, 3), {2, 3}, {0, 1, 2, 3, 4, 5});
}

TEST_CASE("concat joins along a dim") {
  const Tensor a = tensor({{1, 2}, {3, 4}}, f64);
  const Tensor b = tensor({{5, 6}}, f64);
  const Tensor c = reshape(tensor({7, 8}, f64), {2, 1});
  check_tensor(concat({a, b}, 0), {3, 2}, {1, 2, 3, 4, 5, 6});
  check_tensor(concat({a, c, a}, 1), {2, 5}, {1, 2, 7, 1, 2, 3, 4, 8, 3, 4});
  check_tensor(concat({a, c}, -1), {2, 3}, {1, 2, 7, 3, 4, 8});
  check_tensor(concat({a}, 0), {2, 2}, {1, 2, 3, 4});
  check_tensor(concat({zeros({0, 2}, f64), b, zeros({0, 2}, f64)}, 0), {1, 2}, {5, 6});
  check_tensor(concat({tensor({1, 2}), tensor({3})}), {3}, {1, 2, 3}, DType::float32);
  // 3-D along the middle dim
  const Tensor p = reshape(arange(4.0, f64), {2, 1, 2});
  const Tensor q = reshape(arange(10.0, 14.0, 1.0, f64), {2, 1, 2});
  check_tensor(concat({p, q}, 1), {2, 2, 2}, {0, 1, 10, 11, 2, 3, 12, 13});
}

TEST_CASE("stack adds a dim") {
  const Tensor a = tensor({1, 2, 3}, f64);
  const Tensor b = tensor({4, 5, 6}, f64);
  check_tensor(stack({a, b}), {2, 3}, {1, 2, 3, 4, 5, 6});
  check_tensor(stack({a, b}, 1), {3, 2}, {1, 4, 2, 5, 3, 6});
  check_tensor(stack({a, b, a}, -1), {3, 3}, {1, 4, 1, 2, 5, 2, 3, 6, 3});
  check_tensor(stack({tensor(1.0, f64), tensor(2.0, f64), tensor(3.0, f64)}), {3}, {1, 2, 3});
  const Tensor m = iota(2, 2);
  check_tensor(stack({m, m * 10.0}, 1), {2, 2, 2}, {0, 1, 0, 10, 2, 3, 20, 30});
}

TEST_CASE("gradients of repeated indices accumulate, and index lists are copied") {
  Tensor x = zeros({4}, f64).requires_grad_();
  Tensor y;
  {
    Index idx{2, 0, 2};
    y = index_select(x, 0, idx);
    idx.assign({1, 1, 1});  // a VJP that kept a view of the list would now see 1, 1, 1
  }
  sum(y * tensor({1, 2, 3}, f64)).backward();
  check_tensor(x.grad(), {4}, {2, 0, 4, 0});

  Tensor a = zeros({3}, f64).requires_grad_();
  Tensor s = zeros({4}, f64).requires_grad_();
  {
    Index idx{1, 1, 0, 2};
    y = index_add(a, 0, idx, s);
    idx.assign({0, 0, 0, 0});
  }
  sum(y * tensor({10, 20, 30}, f64)).backward();
  check_tensor(a.grad(), {3}, {10, 20, 30});
  check_tensor(s.grad(), {4}, {20, 20, 10, 30});

  Tensor m = zeros({5}, f64).requires_grad_();
  sum(slice(m, 0, 1, 100, 2) * tensor({3, 4}, f64)).backward();
  check_tensor(m.grad(), {5}, {0, 3, 0, 4, 0});

  Tensor base = zeros({5}, f64).requires_grad_();
  Tensor src = zeros({2}, f64).requires_grad_();
  sum(slice_scatter(base, src, 0, 0, 5, 3) * arange(1.0, 6.0, 1.0, f64)).backward();
  check_tensor(base.grad(), {5}, {0, 2, 3, 0, 5});
  check_tensor(src.grad(), {2}, {1, 4});
}

TEST_CASE("empty index lists and empty slices give zero gradients") {
  Tensor x = ones({3, 2}, f64).requires_grad_();
  Tensor y = index_select(x, 0, Index{});
  CHECK(y.requires_grad());
  y.backward(zeros({0, 2}, f64));
  check_tensor(x.grad(), {3, 2}, {0, 0, 0, 0, 0, 0});
  x.zero_grad();
  slice(x, 1, 2, 2).backward(zeros({3, 0}, f64));
  check_tensor(x.grad(), {3, 2}, {0, 0, 0, 0, 0, 0});
}

TEST_CASE("concat of more than 32 tensors delivers every gradient") {
  constexpr std::size_t n = 40;
  std::vector<Tensor> parts;
  for (std::size_t k = 0; k < n; ++k) {
    // Input 33 does not require grad: it must get nothing, and nothing may break.
    parts.push_back(full({1}, static_cast<double>(k), f64).requires_grad_(k != 33));
  }
  const Tensor weights = arange(100.0, 100.0 + n, 1.0, f64);
  Tensor y = sum(concat(parts) * weights);
  CHECK(y.item() == 98540.0);  // Σₖ k (100 + k) for k < 40
  y.backward({}, true);
  for (std::size_t k = 0; k < n; ++k) {
    INFO("input ", k);
    if (k == 33) {
      CHECK_FALSE(parts[k].grad().defined());
    } else {
      REQUIRE(parts[k].grad().defined());
      CHECK(parts[k].grad().item() == 100.0 + static_cast<double>(k));
    }
  }
  // grad() asks for a few of them only, beyond the mask's 32 bits as well.
  const auto g = grad({y}, {parts[3], parts[35], parts[39]});
  CHECK(g[0].item() == 103.0);
  CHECK(g[1].item() == 135.0);
  CHECK(g[2].item() == 139.0);
  // stack goes through concat too
  Tensor z = sum(stack(parts, 1) * weights);  // [1, 40]
  const auto h = grad({z}, {parts[0], parts[38]});
  CHECK(h[0].item() == 100.0);
  CHECK(h[1].item() == 138.0);
}

// For an affine map L(x) = J x + b, the gradient of ½‖L(x)‖² is Jᵀ L(x), so the gradient of
// ⟨Jᵀ L(x), v⟩ in x (a double backward through L's VJP) is JᵀJ v: the first-order gradient of
// ½‖L(v) − L(0)‖² in v.
namespace {
void check_double_backward(const std::function<Tensor(const Tensor&)>& L, const Shape& shape) {
  Generator gen(7);
  const Tensor x = randn(shape, gen, f64).requires_grad_();
  const Tensor v = randn(shape, gen, f64).requires_grad_();
  const Tensor lx = L(x);
  const Tensor gx = grad({sum(lx * lx) * 0.5}, {x}, {}, false, true)[0];
  REQUIRE(gx.requires_grad());
  const Tensor second = grad({sum(gx * v.detach())}, {x})[0];
  const Tensor jv = L(v) - L(zeros(shape, f64));
  const Tensor first = grad({sum(jv * jv) * 0.5}, {v})[0];
  const auto& s = second.data<double>();
  const auto& f = first.data<double>();
  REQUIRE(s.size() == f.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    INFO("element ", i);
    CHECK(std::abs(s.data()[i] - f.data()[i]) <= 1e-12 * (1 + std::abs(f.data()[i])));
  }
}
}  // namespace

TEST_CASE("every VJP is itself differentiable (double backward)") {
  Generator gen(3);
  const Tensor c = randn({4, 3}, gen, f64);  // constants, no grad
  const Tensor c2 = randn({2, 3}, gen, f64);
  SUBCASE("index_select") {
    check_double_backward([](const Tensor& x) { return index_select(x, 0, Index{2, 0, 2, 3}); },
                          {4, 3});
  }
  SUBCASE("index_add, in a") {
    check_double_backward([&](const Tensor& x) { return index_add(x, 1, Index{0, 0, 2}, c2); },
                          {2, 3});
  }
  SUBCASE("index_add, in source") {
    check_double_backward([&](const Tensor& x) { return index_add(c, 0, Index{1, 1, 3}, x); },
                          {3, 3});
  }
  SUBCASE("slice") {
    check_double_backward([](const Tensor& x) { return slice(x, 0, 1, 9, 2); }, {4, 3});
  }
  SUBCASE("slice_scatter, in a") {
    check_double_backward([&](const Tensor& x) { return slice_scatter(x, c2, 0, 0, 4, 3); },
                          {4, 3});
  }
  SUBCASE("slice_scatter, in source") {
    check_double_backward([&](const Tensor& x) { return slice_scatter(c, x, 0, 1, 4, 2); },
                          {2, 3});
  }
  SUBCASE("concat") {
    check_double_backward([&](const Tensor& x) { return concat({c, x, x}, 0); }, {2, 3});
  }
  SUBCASE("stack") {
    check_double_backward([&](const Tensor& x) { return stack({x, c2}, -1); }, {2, 3});
  }
}

TEST_CASE("an index out of range names the op, the index, the dim and its size") {
  const Tensor a = zeros({5, 2}, f64);
  std::string m = error_of<IndexError>([&] { index_select(a, 0, Index{1, 7}); });
  CHECK(m == "index_select: index 7 is out of range for dim 0 of size 5");
  m = error_of<IndexError>([&] { index_select(a, -1, Index{2}); });
  CHECK(m == "index_select: index 2 is out of range for dim 1 of size 2");
  m = error_of<IndexError>([&] { index_add(a, 0, Index{0, 5}, zeros({2, 2}, f64)); });
  CHECK(m == "index_add: index 5 is out of range for dim 0 of size 5");
  m = error_of<IndexError>([&] { index_select(a, 2, Index{0}); });
  CHECK(has(m, "index_select"));
  CHECK(has(m, "dim 2"));
  CHECK(has(m, "rank 2"));
}

// A start beyond the size was an IndexError; torch's slice clamps it, as Python's x[6:] does.
TEST_CASE("slice and slice_scatter clamp a start beyond the size to an empty slice, as torch") {
  const Tensor a = iota(5, 2);
  check_tensor(slice(a, 0, 6, 8), {0, 2}, {});
  check_tensor(slice(a, 0, 6, 2), {0, 2}, {});
  check_tensor(slice(a, -1, 7, 9), {5, 0}, {});
  check_tensor(slice(a, 0, SIZE_MAX, SIZE_MAX, 3), {0, 2}, {});
  check_tensor(slice_scatter(a, zeros({0, 2}, f64), 0, 9, 12), {5, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor x = arange(4.0, {.dtype = DType::float64, .requires_grad = true});
  sum(slice(x, 0, 5, 10)).backward();  // empty: a zero gradient
  check_tensor(x.grad(), {4}, {0, 0, 0, 0});
}

TEST_CASE("slice and slice_scatter refuse step 0 and a source of the wrong shape") {
  const Tensor a = zeros({5, 3}, f64);
  std::string m = error_of<ValueError>([&] { slice(a, 1, 0, 3, 0); });
  CHECK(has(m, "slice:"));
  CHECK(has(m, "step"));
  CHECK(has(m, "got 0"));
  m = error_of<ValueError>([&] { slice_scatter(a, a, 0, 0, 5, 0); });
  CHECK(has(m, "slice_scatter:"));
  CHECK(has(m, "got 0"));
  m = error_of<ShapeError>([&] { slice_scatter(a, zeros({3, 3}, f64), 0, 1, 5, 2); });
  CHECK(m == "slice_scatter: source has shape [3, 3] but the slice 1:5:2 of dim 0 of a [5, 3] has "
             "shape [2, 3]");
  m = error_of<ShapeError>([&] { index_add(a, 1, Index{0, 1}, zeros({5, 3}, f64)); });
  CHECK(has(m, "index_add:"));
  CHECK(has(m, "[5, 3]"));
  CHECK(has(m, "[5, 2]"));
  m = error_of<DTypeError>([&] { slice_scatter(a, zeros({2, 3}), 0, 1, 5, 2); });
  CHECK(has(m, "slice_scatter:"));
  CHECK(has(m, "float32"));
}

TEST_CASE("concat and stack name the offending input and the shapes") {
  const Tensor a = zeros({2, 3}, f64);
  std::string m = error_of<ShapeError>([&] { concat({a, a, zeros({2, 4}, f64)}, 0); });
  CHECK(m == "concat: input 2 has shape [2, 4] but input 0 has shape [2, 3]; shapes must match "
             "except along dim 0");
  m = error_of<ShapeError>([&] { concat({a, zeros({2, 3, 1}, f64)}, 1); });
  CHECK(m == "concat: input 1 has rank 3 (shape [2, 3, 1]) but input 0 has rank 2 (shape [2, 3])");
  m = error_of<ValueError>([&] { concat({}, 0); });
  CHECK(has(m, "concat:"));
  CHECK(has(m, "at least one"));
  m = error_of<ShapeError>([&] { concat({tensor(1.0, f64), tensor(2.0, f64)}); });
  CHECK(has(m, "concat:"));
  CHECK(has(m, "0-d"));
  m = error_of<DTypeError>([&] { concat({a, zeros({1, 3})}, 0); });
  CHECK(m == "concat: input 1 has dtype float32 but input 0 has dtype float64");
  m = error_of<ShapeError>([&] { stack({a, a, zeros({3, 2}, f64)}); });
  CHECK(m == "stack: input 2 has shape [3, 2] but input 0 has shape [2, 3]; all must be equal");
  m = error_of<ValueError>([&] { stack({}); });
  CHECK(has(m, "stack:"));
  m = error_of<IndexError>([&] { stack({a, a}, 3); });
  CHECK(has(m, "stack:"));
  CHECK(has(m, "dim 3"));
}
