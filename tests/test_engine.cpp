// The engine: tape, backward, grad mode, functional grad, memory, deep graphs.
#include "swish_op.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <pthread.h>

#include <cmath>
#include <exception>
#include <functional>
#include <memory>
#include <thread>

using namespace matgrad;

static Tensor leaf(const NestedList& values) {
  return tensor(values, {.dtype = DType::float64, .requires_grad = true});
}

static std::vector<double> values(const Tensor& t) {
  const auto d = t.to(DType::float64).data<double>();
  return {d.begin(), d.end()};
}

TEST_CASE("backward of sum(x ⊙ x) is 2x") {
  Tensor x = leaf({1, -2, 3});
  sum(x * x).backward();
  CHECK(values(x.grad()) == std::vector<double>{2, -4, 6});
  CHECK(x.is_leaf());
  CHECK(x.grad().dtype() == DType::float64);
}

TEST_CASE("fan-out accumulates: d(x² + x)/dx = 2x + 1") {
  Tensor x = leaf({1, 2});
  Tensor y = x * x + x;
  sum(y).backward();
  CHECK(values(x.grad()) == std::vector<double>{3, 5});
}

TEST_CASE("the same tensor as both inputs of one op") {
  Tensor x = leaf({3});
  (x * x).backward();
  CHECK(x.grad().item() == 6);
  Tensor z = leaf({2});
  (z + z).backward();
  CHECK(z.grad().item() == 2);
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = leaf({1, 2});
  sum(3.0 * x).backward();
  sum(3.0 * x).backward();
  CHECK(values(x.grad()) == std::vector<double>{6, 6});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x).backward();
  CHECK(values(x.grad()) == std::vector<double>{1, 1});
}

TEST_CASE("set_grad replaces a leaf's gradient; the next backward accumulates onto it") {
  Tensor x = leaf({1, 2});
  x.set_grad(tensor({10, 20}, {.dtype = DType::float64}));
  sum(x).backward();
  CHECK(values(x.grad()) == std::vector<double>{11, 21});
  x.set_grad(Tensor());
  CHECK_FALSE(x.grad().defined());
  CHECK_THROWS_AS(x.set_grad(tensor({1, 2, 3}, {.dtype = DType::float64})), ShapeError);
  CHECK_THROWS_AS(x.set_grad(tensor({1, 2})), ShapeError);  // float32
  CHECK_THROWS_AS((x * 2.0).set_grad(Tensor()), AutogradError);
}

TEST_CASE("the first .grad does not alias the seed") {
  Tensor x = leaf({1, 2});
  Tensor seed = tensor({10, 20}, {.dtype = DType::float64});
  (x + 0.0).backward(seed);
  sum(x).backward();  // accumulates into x.grad in place
  CHECK(values(seed) == std::vector<double>{10, 20});
  CHECK(values(x.grad()) == std::vector<double>{11, 21});
}

TEST_CASE("NoGradGuard records nothing") {
  Tensor x = leaf({1, 2});
  const std::size_t before = tape_size();
  Tensor y;
  {
    NoGradGuard no_grad;
    CHECK_FALSE(is_grad_enabled());
    y = x * x;
  }
  CHECK(is_grad_enabled());
  CHECK_FALSE(y.requires_grad());
  CHECK(y.is_leaf());
  CHECK(tape_size() == before);
  CHECK_THROWS_AS(sum(y).backward(), AutogradError);
}

TEST_CASE("detach cuts the history") {
  Tensor x = leaf({2});
  Tensor y = x * x;
  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.item() == 4);
  (d * x).backward();  // d is a constant here
  CHECK(x.grad().item() == 4);
}

TEST_CASE("backward with a seed gives the vector-Jacobian product") {
  Tensor a = tensor({{1, 2}, {3, 4}}, {.dtype = DType::float64, .requires_grad = true});
  Tensor b = tensor({{5, 6}, {7, 8}}, {.dtype = DType::float64});
  Tensor c = matmul(a, b);
  Tensor seed = tensor({{1, 0}, {0, 1}}, {.dtype = DType::float64});
  c.backward(seed);
  // gA = gC Bᵀ with gC = I
  CHECK(values(a.grad()) == std::vector<double>{5, 7, 6, 8});
}

TEST_CASE("retain_graph allows a second backward; without it the error names retain_graph") {
  Tensor x = leaf({1, 2});
  Tensor y = sum(exp(x));
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  CHECK(x.grad().data<double>()(0) == doctest::Approx(2 * std::exp(1.0)));
  try {
    y.backward();
    FAIL("a second backward through a released graph must throw");
  } catch (const AutogradError& e) {
    CHECK(std::string(e.what()).find("retain_graph") != std::string::npos);
  }
}

TEST_CASE("functional grad leaves .grad untouched and reaches intermediates") {
  Tensor x = leaf({1, 2, 3});
  Tensor h = x * x;
  Tensor y = sum(h * 2.0);
  auto g = grad({y}, {x, h}, {}, /*retain_graph=*/true);
  CHECK(values(g[0]) == std::vector<double>{4, 8, 12});
  CHECK(values(g[1]) == std::vector<double>{2, 2, 2});
  CHECK_FALSE(x.grad().defined());
  Tensor unused = leaf({5});
  CHECK_THROWS_WITH_AS(grad({y}, {unused}, {}, true), doctest::Contains("allow_unused"),
                       AutogradError);
  auto g2 = grad({y}, {unused, x}, {}, false, false, /*allow_unused=*/true);
  CHECK_FALSE(g2[0].defined());
  CHECK(values(g2[1]) == std::vector<double>{4, 8, 12});
}

TEST_CASE("grad of several outputs with seeds sums their VJPs") {
  Tensor x = leaf({1, 2});
  Tensor y1 = x * 3.0;
  Tensor y2 = x * x;
  auto g = grad({y1, y2}, {x}, {ones_like(y1), tensor({1, 10}, {.dtype = DType::float64})});
  CHECK(values(g[0]) == std::vector<double>{3 + 2, 3 + 40});
}

TEST_CASE("retain_grad keeps the gradient of a non-leaf") {
  Tensor x = leaf({1, 2});
  Tensor h = x * 3.0;
  h.retain_grad();
  sum(h * h).backward();
  CHECK(values(h.grad()) == std::vector<double>{6, 12});
  CHECK(values(x.grad()) == std::vector<double>{18, 36});
}

TEST_CASE("records run only when a gradient reaches them") {
  Tensor x = leaf({1});
  Tensor unrelated = x * 5.0;  // on the tape, but not on the path to y
  Tensor y = x * 2.0;
  y.backward();
  CHECK(x.grad().item() == 2);
  unrelated.backward();  // its record was not released by the first backward
  CHECK(x.grad().item() == 7);
}

TEST_CASE("to(dtype) is differentiable and gradients come back in the input's dtype") {
  Tensor x = leaf({1, 2});
  Tensor y = sum(x.to(DType::float32) * 2.0);
  CHECK(y.dtype() == DType::float32);
  y.backward();
  CHECK(x.grad().dtype() == DType::float64);
  CHECK(values(x.grad()) == std::vector<double>{2, 2});
}

// Runs f on a thread with a 1 MiB stack (the default is 8 MiB), rethrowing what it throws.
static void on_small_stack(const std::function<void()>& f) {
  struct Call {
    const std::function<void()>* f;
    std::exception_ptr error;
  } call{&f, nullptr};
  pthread_attr_t attr;
  REQUIRE(pthread_attr_init(&attr) == 0);
  REQUIRE(pthread_attr_setstacksize(&attr, 1 << 20) == 0);
  pthread_t thread;
  REQUIRE(pthread_create(&thread, &attr, [](void* p) -> void* {
    auto* c = static_cast<Call*>(p);
    try {
      (*c->f)();
    } catch (...) {
      c->error = std::current_exception();
    }
    return nullptr;
  }, &call) == 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  if (call.error) std::rethrow_exception(call.error);
}

TEST_CASE("a chain of 1,000,000 ops builds, backprops and frees on a 1 MiB stack") {
  const std::size_t before = tape_size();
  double gradient = 0, dropped_gradient = 0;
  std::size_t alive = 0, after_backward = 0, after_drop = 0;
  int hook_calls = 0;
  on_small_stack([&] {
    Tensor x = tensor({1.0}, {.dtype = DType::float64, .requires_grad = true});
    // A hooked leaf: backward first finds, over the whole chain, when x's gradient is final.
    x.register_post_accumulate_grad_hook([&](const Tensor&) { ++hook_calls; });
    const double factor = 1.0 + 1e-6;
    {
      Tensor y = x;
      for (int i = 0; i < 1'000'000; ++i) y = y * factor;
      alive = tape_size() - before;
      y.backward();
      after_backward = tape_size() - before;  // released, but y still holds its history
      gradient = x.grad().item();
    }
    after_drop = tape_size() - before;
    // A chain dropped without backward is freed the same way.
    {
      Tensor y = x;
      for (int i = 0; i < 500'000; ++i) y = tanh(y) + 1.0;
      Tensor z = y;
      dropped_gradient = grad({sum(z)}, {x})[0].item();
    }
  });
  CHECK(hook_calls == 1);
  CHECK(alive == 1'000'000);
  CHECK(after_backward == 1'000'000);
  CHECK(after_drop == 0);
  CHECK(tape_size() == before);
  CHECK(gradient == doctest::Approx(std::pow(1.0 + 1e-6, 1e6)).epsilon(1e-9));
  CHECK(std::isfinite(dropped_gradient));
}

TEST_CASE("dropping the last handle to a graph frees it at once") {
  const std::size_t before = tape_size();
  Tensor x = leaf({1, 2});
  std::weak_ptr<detail::TensorImpl> inner;
  {
    Tensor h = exp(x * 2.0);
    inner = h.impl();
    Tensor y = sum(h * h);
    CHECK(tape_size() == before + 4);
    h = Tensor();
    CHECK_FALSE(inner.expired());  // y's records hold h
  }
  CHECK(inner.expired());
  CHECK(tape_size() == before);
  // A graph built from a leaf and dropped without backward leaves nothing either.
  for (int i = 0; i < 1000; ++i) Tensor unused = sum(tanh(x * 3.0));
  CHECK(tape_size() == before);
}

TEST_CASE("retain_graph keeps exactly what a later pass can reach") {
  const std::size_t before = tape_size();
  Tensor x = leaf({1, 2});
  Tensor y = sum(exp(x) * x);
  y.backward({}, /*retain_graph=*/true);
  CHECK(tape_size() == before + 3);
  y.backward();
  CHECK(tape_size() == before + 3);  // released (y still holds the records)
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("retain_graph"), AutogradError);
  y = Tensor();
  CHECK(tape_size() == before);
  // A graph kept by a gradient recorded with create_graph lives as long as that gradient.
  Tensor g = grad({sum(exp(x))}, {x}, {}, false, /*create_graph=*/true)[0];
  CHECK(tape_size() > before);
  CHECK(values(grad({sum(g)}, {x})[0]) == values(exp(x).detach()));
  g = Tensor();
  CHECK(tape_size() == before);
}

// A custom op whose VJP counts its calls: which records a walk runs.
static int identity_calls = 0;
static Tensor counted_identity(const Tensor& a) {
  static const OpInfo info{"counted_identity", "dC = dA", "", "gA = gC", Saves::nothing};
  return record(info, a.detach(), {a}, [](const Tensor& g) -> Grads {
    ++identity_calls;
    return {g};
  });
}

TEST_CASE("backward and grad run only the records between their outputs and inputs") {
  Tensor x = leaf({1});
  Tensor w = leaf({2});
  Tensor other = counted_identity(x * 3.0);  // alive, but not behind y
  Tensor side = counted_identity(w) * 5.0;   // behind y, but not on a path to x
  Tensor y = x * 2.0 + side;
  identity_calls = 0;
  CHECK(grad({y}, {x}, {}, /*retain_graph=*/true)[0].item() == 2);
  CHECK(identity_calls == 0);
  y.backward();
  CHECK(identity_calls == 1);  // side's, to reach w
  CHECK(w.grad().item() == 5);
  other.backward();
  CHECK(identity_calls == 2);
}

TEST_CASE("a backward that reaches records another backward is walking is refused") {
  static const OpInfo reentrant{"reentrant", "dC = dA", "", "gA = gC", Saves::nothing};
  Tensor x = leaf({1});
  Tensor h = x * 2.0;
  // Walked after h * 3 has sent h its gradient, so the inner backward finds h's record claimed.
  Tensor r = record(reentrant, h.detach(), {h}, [&](const Tensor& g) -> Grads {
    AutoGradMode enabled(true);
    sum(h).backward({}, true);
    return {g};
  });
  Tensor y = r + h * 3.0;
  CHECK_THROWS_WITH_AS(y.backward({}, true), doctest::Contains("another backward pass"),
                       AutogradError);
  // The records were given back: the same graph backprops once nothing else walks it.
  x.zero_grad();
  Tensor z = sum(h * h);
  z.backward();
  CHECK(x.grad().item() == 8);
}

TEST_CASE("a training-style loop of 10,000 steps leaves no records behind") {
  Generator gen(1);
  Tensor w = randn({4, 3}, gen, {.dtype = DType::float64, .requires_grad = true});
  Tensor xb = randn({8, 4}, gen, {.dtype = DType::float64});
  const std::size_t before = tape_size();
  std::size_t largest = 0;
  for (int step = 0; step < 10'000; ++step) {
    Tensor loss = mean(square(tanh(matmul(xb, w))));
    loss.backward();
    {
      NoGradGuard no_grad;
      w.add_(w.grad(), -0.01);
    }
    w.zero_grad();
    largest = std::max(largest, tape_size() - before);
  }
  CHECK(largest > 0);
  CHECK(largest < 10);  // one step's records, until its loss goes
  CHECK(tape_size() == before);
}

TEST_CASE("a freed large block is reused for the next tensor of its size; empty_cache frees it") {
  empty_cache();
  REQUIRE(cached_memory() == 0);
  const float* block = nullptr;
  {
    const Tensor a = zeros({256, 256});  // 256 KiB: kept when freed
    block = a.data<float>().data();
    CHECK(cached_memory() == 0);
  }
  CHECK(cached_memory() >= 256 * 256 * sizeof(float));
  {
    const Tensor b = full({256, 256}, 2.0);
    CHECK(b.data<float>().data() == block);
    CHECK(cached_memory() == 0);
    CHECK(xt::all(xt::equal(b.data<float>(), 2.0f)));
    const Tensor c = zeros({256, 257});  // another size: a block of its own
    CHECK(c.data<float>().data() != block);
  }
  CHECK(cached_memory() >= 2 * 256 * 256 * sizeof(float));
  empty_cache();
  CHECK(cached_memory() == 0);

  { const Tensor small = zeros({1000}); }  // 4 KiB: malloc's bins keep it well enough
  CHECK(cached_memory() == 0);
  { const Tensor huge = zeros({std::size_t{17} << 20}); }  // 68 MiB: more than the whole cache
  CHECK(cached_memory() == 0);

  {  // 96 MiB freed: the cache keeps at most 64 MiB, the latest freed
    std::vector<Tensor> blocks;
    for (int i = 0; i < 24; ++i) blocks.push_back(zeros({std::size_t{1} << 20}));
  }
  CHECK(cached_memory() > 0);
  CHECK(cached_memory() <= std::size_t{64} << 20);
  empty_cache();
  CHECK(cached_memory() == 0);
}

TEST_CASE("hessian called repeatedly frees each call's graphs") {
  Generator gen(3);
  const Tensor a = randn({6, 4}, gen, {.dtype = DType::float64});
  const Tensor x = randn({4}, gen, {.dtype = DType::float64});
  auto f = [&](const Tensor& v) { return sum(log(1.0 + exp(matmul(a, v)))) + 0.5 * sum(v * v); };
  const std::size_t before = tape_size();
  const Tensor first = hessian(f, x);
  for (int i = 0; i < 200; ++i) {
    const Tensor h = hessian(f, x);
    CHECK(tape_size() == before);
    CHECK(values(h) == values(first));
  }
}

TEST_CASE("each thread has its own tape and gets the same gradients") {
  auto run = [] {
    Tensor x = tensor({{0.5, -1.0}, {2.0, 0.25}}, {.dtype = DType::float64, .requires_grad = true});
    Tensor y = sum(tanh(matmul(x, x)) * 3.0);
    y.backward();
    return values(x.grad());
  };
  const auto expected = run();
  std::vector<std::vector<double>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 50; ++k) results[i] = run();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) CHECK(r == expected);
}

TEST_CASE("a non-leaf made on another thread keeps its history after the thread ends") {
  Tensor x = leaf({1});
  Tensor y;
  std::thread other([&] { y = x * 2.0; });
  other.join();
  CHECK_FALSE(y.is_leaf());
  Tensor z = y * 3.0;  // recorded here, on a record made there
  z.backward();
  CHECK(x.grad().item() == 6);
}

TEST_CASE("a custom op defined by forward and VJP passes gradcheck and records one record") {
  Tensor x = leaf({-1.5, 0.0, 2.0});
  const std::size_t before = tape_size();
  Tensor y = apply<Swish>(x);
  CHECK(tape_size() == before + 1);
  auto result = gradcheck([](const std::vector<Tensor>& in) { return apply<Swish>(in[0]); }, {x});
  INFO(result.report());
  CHECK(result.passed);
}

TEST_CASE("a wrong VJP is caught by gradcheck") {
  static const OpInfo wrong{"wrong_square", "dC = 2A ⊙ dA", "", "gA = gC ⊙ A (missing the 2)"};
  auto f = [](const std::vector<Tensor>& in) {
    const Tensor& a = in[0];
    Tensor out = a.detach() * a.detach();
    return record(wrong, out, {a}, [a](const Tensor& g) -> Grads { return {g * a}; });
  };
  auto result = gradcheck(f, {leaf({1, 2, 3})});
  CHECK_FALSE(result.passed);
  CHECK(result.report().find("FAIL") != std::string::npos);
  CHECK(result.inputs[0].analytic == doctest::Approx(result.inputs[0].numeric / 2).epsilon(1e-6));
}

TEST_CASE("gradcheck refuses float32 unless asked, and numerical_grad is exposed") {
  Tensor x32 = tensor({1, 2}, {.requires_grad = true});
  auto f = [](const std::vector<Tensor>& in) { return sum(in[0] * in[0]); };
  CHECK_THROWS_WITH_AS(gradcheck(f, {x32}), doctest::Contains("float64"), ValueError);
  auto rough = gradcheck(f, {x32}, {.atol = 1e-2, .rtol = 1e-2, .allow_float32 = true});
  CHECK_FALSE(rough.warning.empty());
  auto numeric = numerical_grad(f, {leaf({1, 2})});
  CHECK(numeric[0].data<double>()(0) == doctest::Approx(2.0).epsilon(1e-8));
  CHECK(numeric[0].data<double>()(1) == doctest::Approx(4.0).epsilon(1e-8));
}

TEST_CASE("printing: aligned, with dtype and autograd state, summarised when large") {
  CHECK(to_string(tensor({{1, -2}, {3, 4}})) ==
        "tensor([[ 1.0000, -2.0000],\n        [ 3.0000,  4.0000]])");
  CHECK(to_string(tensor(2.5, {.dtype = DType::float64})) == "tensor(2.5000, dtype=float64)");
  Tensor x = tensor({1, 2}, {.requires_grad = true});
  CHECK(fmt::format("{}", x) == "tensor([1.0000, 2.0000], requires_grad=true)");
  CHECK(to_string(x * x) == "tensor([1.0000, 4.0000], grad_fn=<mul>)");
  CHECK(to_string(zeros({0, 3})) == "tensor([[]])");
  const std::string big = to_string(arange(2000.0).reshape({2, 1000}));
  CHECK(big == "tensor([[   0.0000,    1.0000,    2.0000,       ...,  997.0000,  998.0000,  999.0000],\n"
               "        [1000.0000, 1001.0000, 1002.0000,       ..., 1997.0000, 1998.0000, 1999.0000]])");
}

TEST_CASE("grad with respect to an intermediate alone") {
  Tensor x = leaf({1, 2});
  Tensor h = x * x;
  auto g = grad({sum(h * 3.0)}, {h});
  CHECK(values(g[0]) == std::vector<double>{3, 3});
}

TEST_CASE("grad through records released by an earlier grad raises the retain_graph error") {
  Tensor a = leaf({-0.8});
  Tensor b = leaf({0.9});
  auto g = grad({sum(exp(a * b))}, {a, b}, {}, false, /*create_graph=*/true);
  grad({sum(g[0])}, {b});  // without retain_graph: frees the records g[1] also depends on
  CHECK_THROWS_WITH_AS(grad({sum(g[1])}, {a}), doctest::Contains("retain_graph"), AutogradError);
}

TEST_CASE("records released earlier do not matter to a grad that does not pass through them") {
  Tensor x = leaf({2});
  Tensor w = leaf({3});
  Tensor part = exp(w);
  Tensor total = sum(x * x) + sum(part);
  grad({sum(part)}, {w});  // releases exp's record
  CHECK(grad({total}, {x})[0].item() == 4);
  CHECK_THROWS_WITH_AS(grad({total}, {w}), doctest::Contains("retain_graph"), AutogradError);
}
