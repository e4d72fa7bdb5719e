// Zero-copy views (reshape, view, view_as, flatten, squeeze, unsqueeze, narrow, detach): one
// storage and one version counter, so in-place changes are seen through every view and caught
// by the saved-tensor checks; data<T>() as an adaptor over that storage.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>
#include <matgrad/nn.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <thread>
#include <type_traits>

using namespace matgrad;
using namespace matgrad::testing;

static Tensor f64(const NestedList& values, bool requires_grad = false) {
  return tensor(values, {.dtype = DType::float64, .requires_grad = requires_grad});
}

static const double* elements(const Tensor& t) { return t.data<double>().data(); }

// Every view the library makes, of a 2×3 float64 base.
static const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> views = {
    {"reshape", [](const Tensor& a) { return reshape(a, {3, 2}); }},
    {"Tensor::reshape", [](const Tensor& a) { return a.reshape({-1}); }},
    {"view", [](const Tensor& a) { return view(a, {6}); }},
    {"Tensor::view", [](const Tensor& a) { return a.view({3, -1}); }},
    {"view_as", [](const Tensor& a) { return view_as(a, zeros({6, 1})); }},
    {"flatten", [](const Tensor& a) { return flatten(a); }},
    {"unsqueeze", [](const Tensor& a) { return unsqueeze(a, 1); }},
    {"squeeze", [](const Tensor& a) { return squeeze(unsqueeze(a, 0), 0); }},
    {"narrow", [](const Tensor& a) { return narrow(a, 0, 0, 2); }},
    {"detach", [](const Tensor& a) { return a.detach(); }},
    {"nn::Flatten", [](const Tensor& a) { return nn::Flatten()(a); }},
};

TEST_CASE("views share their base's elements and version counter, both ways") {
  for (const auto& entry : views) {  // no structured binding: clang 14 cannot capture one
    const std::string name = entry.first;
    const auto& make = entry.second;
    CAPTURE(name);
    Tensor base = f64({{1, 2, 3}, {4, 5, 6}});
    Tensor v = make(base);
    CHECK(elements(v) == elements(base));  // no copy
    CHECK(v.numel() == 6);

    v.mul_(10.0);  // through the view
    CHECK(base.data<double>()(1, 2) == 60);
    CHECK(base.version() == 1);
    CHECK(v.version() == 1);

    base.fill_(-1.0);  // through the base
    for (double x : v.data<double>()) CHECK(x == -1);
    CHECK(v.version() == 2);

    v.mutable_data<double>().data()[0] = 7;  // and through mutable_data
    CHECK(base.data<double>()(0, 0) == 7);
    CHECK(base.version() == 3);

    base.copy_(f64({{0, 1, 2}, {3, 4, 5}}));
    CHECK(v.data<double>().data()[5] == 5);
    CHECK(v.version() == 4);
  }
}

TEST_CASE("a view of a view shares the first base's storage, and outlives it") {
  Tensor v;
  {
    Tensor base = arange(12.0, {.dtype = DType::float64});
    v = unsqueeze(view(reshape(base, {3, 4}), {2, 6}), 0);
    CHECK(elements(v) == elements(base));
    base.add_(ones_like(base));
  }
  CHECK(v.shape() == Shape{1, 2, 6});
  CHECK(v.data<double>()(0, 1, 5) == 12);  // the storage lives while a view holds it
  CHECK(v.version() == 1);
}

TEST_CASE("changing a view in place after an op saved the base makes backward fail, naming the op") {
  Tensor w = f64({{1, 2, 3}, {4, 5, 6}}, true);
  Tensor a = f64({{1, 0, 2}, {0, 3, 0}});
  Tensor loss = sum(a * w);  // mul saves both inputs
  flatten(a).mul_(2.0);      // a view of a saved input, changed in place
  check_error<AutogradError>([&] { loss.backward(); },
                             {"'mul'", "input 0", "version 0", "version 1", "modified in place"});
  CHECK(!w.grad().defined());
}

TEST_CASE("changing the base in place after an op saved a view makes backward fail, naming the op") {
  Tensor w = f64({{1, 2}, {3, 4}, {5, 6}}, true);
  Tensor base = f64({1, 2, 3, 4, 5, 6});
  Tensor loss = sum(matmul(view(base, {2, 3}), w));  // gemm saves the view
  {
    NoGradGuard no_grad;
    base.add_(ones_like(base));
  }
  check_error<AutogradError>([&] { loss.backward(); }, {"'gemm'", "input 0", "modified in place"});
}

TEST_CASE("a change through a third alias (the base, detached) is caught for a saved view") {
  Tensor w = f64({1, 2, 3, 4}, true);
  Tensor base = f64({{1, 2}, {3, 4}});
  Tensor v = reshape(base, {4});
  Tensor loss = sum(exp(v * w));
  base.detach().zero_();  // a third alias, without history
  check_error<AutogradError>([&] { loss.backward(); }, {"'mul'", "modified in place"});
}

TEST_CASE("detach shares storage: in-place changes to it are seen by the original and caught") {
  Tensor x = f64({0.5, 1.5}, true);
  Tensor y = exp(x);  // exp saves its output
  Tensor d = y.detach();
  CHECK(!d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(elements(d) == elements(y));
  Tensor loss = sum(y);
  d.zero_();  // allowed: d does not require grad, even in grad mode (as in PyTorch)
  CHECK(y.data<double>()(0) == 0);
  CHECK(y.version() == 1);
  check_error<AutogradError>([&] { loss.backward(); }, {"the output of 'exp'", "version 0", "version 1"});

  // The detached tensor of a leaf writes through to the leaf, without touching its gradient.
  Tensor p = f64({1, 2}, true);
  p.detach().add_(f64({10, 10}));
  CHECK(p.data<double>()(1) == 12);
  CHECK(p.version() == 1);
  CHECK(p.requires_grad());
}

TEST_CASE("a copy without history is detach().clone(): its own storage") {
  Tensor x = f64({1, 2, 3}, true);
  Tensor c = x.detach().clone();
  CHECK(elements(c) != elements(x));
  c.fill_(0.0);
  CHECK(x.data<double>()(2) == 3);
  CHECK(x.version() == 0);
}

TEST_CASE("views of tensors that require grad are recorded; their VJPs reshape the gradient") {
  Tensor x = f64({{1, 2, 3}, {4, 5, 6}}, true);
  Tensor v = view(x, {3, 2});
  CHECK(!v.is_leaf());
  CHECK(to_string(v).find("grad_fn=<view>") != std::string::npos);
  CHECK(to_string(narrow(x, 0, 1, 1)).find("grad_fn=<narrow>") != std::string::npos);
  CHECK(to_string(x.reshape({6})).find("grad_fn=<reshape>") != std::string::npos);
  sum(v * f64({{1, 2}, {3, 4}, {5, 6}})).backward();
  CHECK(x.grad().shape() == Shape{2, 3});
  CHECK(x.grad().data<double>()(1, 2) == 6);
  CHECK(elements(x.grad()) != elements(x));
}

TEST_CASE("in-place changes through a view of a leaf that requires grad are refused in grad mode") {
  Tensor x = f64({{1, 2, 3}, {4, 5, 6}}, true);
  for (const auto& entry : views) {
    const std::string name = entry.first;
    CAPTURE(name);
    if (name == "detach") continue;  // detached: no longer requires grad
    Tensor v = entry.second(x);
    CHECK(v.requires_grad());
    check_error<AutogradError>([&] { v.mul_(2.0); }, {"mul_", "requires grad", "NoGradGuard"});
    check_error<AutogradError>([&] { v.fill_(0.0); }, {"fill_"});
    check_error<AutogradError>([&] { v.copy_(zeros_like(v).to(DType::float64)); }, {"copy_"});
  }
  CHECK(x.version() == 0);
  CHECK(x.data<double>()(1, 1) == 5);
  {
    NoGradGuard no_grad;  // as an optimiser step: allowed, and seen by the leaf
    view(x, {6}).add_(f64({1, 1, 1, 1, 1, 1}));
  }
  CHECK(x.data<double>()(1, 1) == 6);
  CHECK(x.version() == 1);
}

TEST_CASE("gradients through views stay correct when a view's gradient aliases another") {
  // reshape's VJP returns a view of the incoming gradient: accumulating into it in place would
  // change the gradient flowing elsewhere (here the seed, and x's other use).
  Tensor x = f64({1, 2, 3, 4}, true);
  Tensor y = reshape(x, {2, 2}) + reshape(x, {2, 2});
  Tensor seed = f64({{1, 2}, {3, 4}});
  y.backward(seed);
  CHECK(x.grad().data<double>() == xt::xarray<double>{2, 4, 6, 8});
  CHECK(seed.data<double>() == xt::xarray<double>{{1, 2}, {3, 4}});
  CHECK(seed.version() == 0);
  CHECK(elements(x.grad()) != elements(seed));
}

TEST_CASE("a view's gradient aliasing the seed is not summed into in place on a non-leaf") {
  // As above, with x a non-leaf: its record's pending gradient starts as a view of the seed
  // (through reshape's VJP), so the second gradient for it must be added out of place.
  Tensor p = f64({1, 2, 3, 4}, true);
  Tensor x = p * f64({1, 1, 1, 1});
  Tensor y = reshape(x, {2, 2}) + reshape(x, {2, 2});
  Tensor seed = f64({{1, 2}, {3, 4}});
  y.backward(seed);
  CHECK(p.grad().data<double>() == xt::xarray<double>{2, 4, 6, 8});
  CHECK(seed.data<double>() == xt::xarray<double>{{1, 2}, {3, 4}});
  CHECK(seed.version() == 0);
}

TEST_CASE("a retained gradient does not alias the gradient flowing on") {
  Tensor x = f64({1, 2}, true);
  Tensor v = reshape(x * f64({1, 1}), {2, 1});
  v.retain_grad();
  Tensor seed = f64({{3}, {4}});
  v.backward(seed);
  CHECK(elements(v.grad()) != elements(seed));
  CHECK(elements(x.grad()) != elements(seed));
  CHECK(elements(x.grad()) != elements(v.grad()));
  v.grad().mul_(0.0);
  CHECK(x.grad().data<double>() == xt::xarray<double>{3, 4});
  CHECK(seed.data<double>()(0, 0) == 3);
  CHECK(seed.data<double>()(1, 0) == 4);
}

TEST_CASE("a detached non-leaf keeps its elements, not its history") {
  const std::size_t before = tape_size();
  Tensor x = f64({0.5, 1.0}, true);
  Tensor d;
  {
    Tensor y = exp(x * x);
    d = y.detach();
    CHECK(tape_size() == before + 2);
    CHECK(elements(d) == elements(y));
  }
  CHECK(tape_size() == before);  // the graph went with y; the storage stays with d
  CHECK(d.data<double>()(1) == doctest::Approx(std::exp(1.0)));
  CHECK(d.is_leaf());
}

TEST_CASE("a view of a non-leaf holds its base's graph; dropping the view frees it") {
  const std::size_t before = tape_size();
  Tensor x = f64({{1, 2}, {3, 4}}, true);
  Tensor v;
  {
    Tensor y = x * x;
    v = view(y, {4});
  }
  CHECK(tape_size() == before + 2);
  sum(v * f64({1, 2, 3, 4})).backward();
  CHECK(x.grad().data<double>() == xt::xarray<double>{{2, 8}, {18, 32}});
  v = Tensor();
  CHECK(tape_size() == before);
}

TEST_CASE("views made, changed and dropped on other threads share one storage") {
  // A view's TensorImpl comes from the slab pool of the thread that made it; the storage it
  // shares is counted atomically, so whichever thread drops the last holder frees it, once
  // (the sanitizer builds check the frees).
  Tensor base = arange(12.0, {.dtype = DType::float64});
  const double* start = elements(base);
  std::vector<Tensor> kept(4);
  std::atomic<int> copies{0};
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < kept.size(); ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 1000; ++i) copies += elements(view(base, {3, 4})) != start;
      kept[k] = narrow(view(base, {4, 3}), 0, static_cast<std::ptrdiff_t>(k), 1);  // outlives the thread
    });
  }
  for (auto& t : threads) t.join();
  CHECK(copies == 0);
  base = Tensor();  // the views now hold the storage alone
  for (std::size_t k = 0; k < kept.size(); ++k) {
    CHECK(elements(kept[k]) == start + 3 * k);
    CHECK(kept[k].data<double>()(0, 2) == static_cast<double>(3 * k + 2));
  }
  kept[1].mul_(2.0);
  CHECK(kept[3].version() == 1);  // one counter for all
  CHECK(kept[0].data<double>()(0, 0) == 0);
  CHECK(kept[1].data<double>()(0, 0) == 6);
  std::thread([&] { kept.resize(1); }).join();  // three dropped there, one here
  CHECK(kept[0].data<double>()(0, 1) == 1);
}

TEST_CASE("a view with history made on another thread backpropagates and frees here") {
  const std::size_t before = tape_size();
  Tensor x = f64({1, 2, 3, 4}, true);
  Tensor v, d;
  std::thread([&] {
    v = reshape(x * x, {2, 2});
    d = v.detach();
  }).join();
  sum(v).backward();
  CHECK(x.grad().data<double>() == xt::xarray<double>{2, 4, 6, 8});
  v = Tensor();
  CHECK(tape_size() == before);
  CHECK(d.data<double>()(1, 1) == 16);
}

TEST_CASE("view refuses only a wrong element count; view_as takes the other's shape") {
  Tensor a = f64({{1, 2, 3}, {4, 5, 6}});
  check_error<ShapeError>([&] { view(a, {4, 2}); }, {"view", "[2, 3]", "6 elements", "[4, 2]", "8 elements"});
  check_error<ShapeError>([&] { a.view({4, -1}); }, {"view", "size 6"});
  check_error<ShapeError>([&] { view_as(a, zeros({5})); }, {"view", "[5]"});
  CHECK(view_as(a, zeros({1, 6, 1})).shape() == Shape{1, 6, 1});
  CHECK(view(scalar_like(a, 3.0), {1, 1}).shape() == Shape{1, 1});
  CHECK(view(zeros({0, 3}), {3, 0}).shape() == Shape{3, 0});
  check_error<ShapeError>([&] { view(zeros({0, 3}), {3, -1, 0}); }, {"view"});  // ambiguous, as in torch
}

TEST_CASE("narrow is a view of a contiguous range, and refuses a strided one") {
  Tensor a = reshape(arange(12.0, {.dtype = DType::float64}), {4, 3});
  Tensor rows = narrow(a, 0, 1, 2);
  CHECK(rows.shape() == Shape{2, 3});
  CHECK(elements(rows) == elements(a) + 3);
  CHECK(rows.data<double>()(1, 2) == 8);
  rows.fill_(0.0);
  CHECK(a.data<double>()(2, 0) == 0);
  CHECK(a.data<double>()(3, 0) == 9);
  CHECK(narrow(a, 0, -1, 1).data<double>()(0, 1) == 10);
  CHECK(narrow(a, 1, 0, 3).shape() == Shape{4, 3});  // the whole dim: contiguous
  CHECK(narrow(unsqueeze(a, 0), 1, 3, 1).data<double>()(0, 0, 2) == 11);
  CHECK(narrow(a, 0, 4, 0).numel() == 0);
  check_error<ShapeError>([&] { narrow(a, 1, 0, 2); }, {"narrow", "[4, 3]", "not contiguous", "slice"});
  check_error<IndexError>([&] { narrow(a, 0, 3, 2); }, {"narrow", "start 3 + length 2", "size 4"});
  check_error<IndexError>([&] { narrow(a, 0, -5, 1); }, {"narrow", "start -5"});
  check_error<IndexError>([&] { narrow(a, 0, 5, 0); }, {"narrow", "start 5"});  // torch raises too (slice clamps)
  check_error<IndexError>([&] { narrow(a, 2, 0, 1); }, {"narrow", "dim 2"});
}

TEST_CASE("t, transpose and slice still copy") {
  Tensor a = f64({{1, 2}, {3, 4}});
  for (const Tensor& c : {t(a), transpose(a, 0, 1), slice(a, 0, 0, 1)}) {
    CHECK(elements(c) != elements(a));
  }
}

TEST_CASE("data<T>() is an xtensor adaptor over the storage; what code written for xt::xarray does") {
  Tensor t = f64({{1, 2, 3}, {4, 5, 6}});
  static_assert(std::is_same_v<decltype(t.data<double>()), const Array<double>&>);
  static_assert(std::is_same_v<decltype(t.mutable_data<double>()), Array<double>&>);

  const auto& x = t.data<double>();  // compiles as before: a reference, no copy
  CHECK(x.data() == elements(t));
  CHECK(x.shape() == Shape{2, 3});
  CHECK(x(1, 0) == 4);
  CHECK(x.dimension() == 2);
  const xt::xarray<double> doubled = 2.0 * x + xt::ones<double>({3});  // expressions
  CHECK(doubled(1, 2) == 13);

  auto copy = t.data<double>();  // a copy, as xt::xarray's was: its own elements
  copy(0, 0) = 100;
  CHECK(t.data<double>()(0, 0) == 1);
  xt::xarray<double> owned = t.data<double>();  // converts by copying
  CHECK(owned.data() != elements(t));

  // Assigning through mutable_data writes the shared elements (views see it), with a version bump.
  Tensor v = flatten(t);
  t.mutable_data<double>() = 2.0 * x;
  CHECK(v.data<double>()(5) == 12);
  t.mutable_data<double>() += xt::ones<double>({2, 3});
  CHECK(v.data<double>()(0) == 3);
  CHECK(v.version() == 2);

  // A different shape is refused before anything changes.
  check_error<ShapeError>([&] { t.mutable_data<double>() = xt::xarray<double>{1, 2, 3, 4, 5, 6}; },
                          {"Array", "[6]", "[2, 3]"});
  check_error<ShapeError>([&] { t.mutable_data<double>() = v.data<double>(); }, {"[6]", "[2, 3]"});
  check_error<ShapeError>([&] { t.mutable_data<double>() = xt::zeros<double>({4}); }, {"[4]"});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.data<double>()(1, 2) == 13);
  t.mutable_data<double>() = f64({{0, 0, 0}, {0, 0, 7}}).data<double>();  // same shape: fine
  CHECK(v.data<double>()(5) == 7);
}

// The README's migration note, checked: what code written for the old `const xt::xarray<T>&`
// return of data<T>() does now.
template <class T>
double first_of(const xt::xarray<T>& x) {
  return x.data()[0];
}
static double first_of_copy(const xt::xarray<double>& x) { return x.data()[0]; }
template <class A>
concept DeducesAsXarray = requires(const A& a) { first_of(a); };
static_assert(!DeducesAsXarray<Array<double>>);  // a template on xt::xarray<T> no longer deduces
static_assert(DeducesAsXarray<xt::xarray<double>>);
static_assert(!std::is_convertible_v<Array<double>&, xt::xarray<double>&>);  // nor binds as a reference
static_assert(std::is_convertible_v<const Array<double>&, xt::xarray<double>>);  // but converts (a copy)

TEST_CASE("migration: binding data<T>() to const xt::xarray<T>& compiles and copies") {
  Tensor t = f64({1, 2, 3});
  const xt::xarray<double>& bound = t.data<double>();
  CHECK(bound.data() != elements(t));
  CHECK(bound(2) == 3);
  CHECK(first_of_copy(t.data<double>()) == 1);
  CHECK(first_of(xt::xarray<double>(t.data<double>())) == 1);
}

TEST_CASE("a tensor from an xt::xarray takes its elements over; from an Array too") {
  xt::xarray<float> source = {{1, 2}, {3, 4}};
  const float* where = source.data();
  Tensor t(std::move(source));
  CHECK(t.data<float>().data() == where);
  CHECK(t.data<float>()(1, 0) == 3);

  Array<float> copy = t.data<float>();
  Tensor u(copy);  // copies (an lvalue Array)
  CHECK(u.data<float>().data() != t.data<float>().data());
  const float* moved = copy.data();
  Tensor w(std::move(copy));
  CHECK(w.data<float>().data() == moved);
}

TEST_CASE("DataLoader batches in storage order are views of the dataset; shuffled ones are gathered") {
  const std::size_t n = 10;
  Tensor inputs = reshape(arange(static_cast<double>(2 * n)), {static_cast<std::ptrdiff_t>(n), 2});
  std::vector<std::size_t> targets(n);
  for (std::size_t i = 0; i < n; ++i) targets[i] = i % 3;
  const float* rows = inputs.data<float>().data();

  data::DataLoader plain({inputs, targets}, {.batch_size = 4});
  std::size_t first = 0;
  for (const data::Batch& b : plain) {
    CHECK(b.inputs.data<float>().data() == rows + 2 * first);  // no copy
    CHECK(b.inputs.shape() == Shape{b.targets.size(), 2});
    CHECK(b.targets[0] == first % 3);
    CHECK(!b.inputs.requires_grad());
    first += b.targets.size();
  }
  CHECK(first == n);

  data::DataLoader shuffled({inputs, targets}, {.batch_size = 4, .shuffle = true, .seed = 1});
  for (const data::Batch& b : shuffled) {
    for (std::size_t k = 0; k < b.targets.size(); ++k) {
      const auto row = static_cast<std::size_t>(b.inputs.data<float>()(k, 0)) / 2;
      CHECK(b.targets[k] == row % 3);
    }
  }
  // head() stays a copy.
  CHECK(data::head({inputs, targets}, 3).inputs.data<float>().data() != rows);
}
