// Gradient hooks: the contract stated in matgrad/hooks.hpp, one case per point.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace matgrad;
using matgrad::testing::check_error;

static Tensor leaf(const NestedList& values) {
  return tensor(values, {.dtype = DType::float64, .requires_grad = true});
}

static std::vector<double> values(const Tensor& t) {
  const auto d = t.to(DType::float64).data<double>();
  return {d.begin(), d.end()};
}

TEST_CASE("register_hook on a non-leaf sees its total gradient once and may replace it") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 3.0;
  std::vector<std::vector<double>> seen;
  y.register_hook([&](const Tensor& g) {
    seen.push_back(values(g));
    return g * 10.0;
  });
  sum(y * y + y).backward();  // two uses of y: dL/dy = 2y + 1 = [7, 13]
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == std::vector<double>{7, 13});
  CHECK(values(x.grad()) == std::vector<double>{210, 390});  // 3 · 10 · (2y + 1)
}

TEST_CASE("register_hook on a leaf sees the pass's total, before it is added to .grad") {
  Tensor x = leaf({1, 2});
  std::vector<std::vector<double>> seen;
  x.register_hook([&](const Tensor& g) {
    seen.push_back(values(g));
    return g * 2.0;
  });
  sum(x * 3.0 + x * x + x).backward();  // three uses: 3 + 2x + 1 = [6, 8]
  REQUIRE(seen.size() == 1);
  CHECK(seen[0] == std::vector<double>{6, 8});
  CHECK(values(x.grad()) == std::vector<double>{12, 16});
  sum(x).backward();  // a second pass: its own total, hooked, added to .grad
  REQUIRE(seen.size() == 2);
  CHECK(seen[1] == std::vector<double>{1, 1});
  CHECK(values(x.grad()) == std::vector<double>{14, 18});
}

TEST_CASE("several hooks run in registration order, each on the previous one's result") {
  Tensor x = leaf({1});
  Tensor y = x * 1.0;
  std::string order;
  y.register_hook([&](const Tensor& g) {
    order += "a";
    return g * 2.0;
  });
  y.register_hook([&](const Tensor& g) { order += "b"; });  // looks only: keeps the gradient
  y.register_hook([&](const Tensor& g) {
    order += "c";
    return g + 1.0;
  });
  x.register_hook([&](const Tensor& g) {
    order += "d";
    CHECK(g.item() == 3);  // (1 · 2) + 1, not (1 + 1) · 2
    return Tensor();       // undefined: unchanged
  });
  y.backward();
  CHECK(order == "abcd");
  CHECK(x.grad().item() == 3);
}

TEST_CASE("a hook on the output of backward sees the seed") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2.0;
  std::vector<double> seen;
  y.register_hook([&](const Tensor& g) { seen = values(g); });
  y.backward(tensor({5, 7}, {.dtype = DType::float64}));
  CHECK(seen == std::vector<double>{5, 7});
  CHECK(values(x.grad()) == std::vector<double>{10, 14});
}

TEST_CASE("hooks on a leaf that is itself the output of backward") {
  Tensor x = leaf({4});
  int post = 0;
  x.register_hook([](const Tensor& g) { return g * 3.0; });
  x.register_post_accumulate_grad_hook([&](const Tensor& t) {
    ++post;
    CHECK(t.grad().item() == 3);
  });
  x.backward();
  CHECK(post == 1);
  CHECK(x.grad().item() == 3);
}

TEST_CASE("retain_grad keeps the hooked gradient, whichever was asked first") {
  Tensor x = leaf({1, 2});
  Tensor a = x * 1.0, b = x * 1.0;
  a.retain_grad();
  a.register_hook([](const Tensor& g) { return g * 5.0; });
  b.register_hook([](const Tensor& g) { return g * 5.0; });
  b.retain_grad();
  sum(a + b).backward();
  CHECK(values(a.grad()) == std::vector<double>{5, 5});
  CHECK(values(b.grad()) == std::vector<double>{5, 5});
  CHECK(values(x.grad()) == std::vector<double>{10, 10});
}

TEST_CASE("a non-leaf's hook stays with its record when the tensor handle is gone") {
  Tensor x = leaf({1});
  Tensor z;
  int calls = 0;
  {
    Tensor y = x * 2.0;
    y.register_hook([&](const Tensor& g) {
      ++calls;
      return g * 0.5;
    });
    z = y * 3.0;
  }
  z.backward();
  CHECK(calls == 1);
  CHECK(x.grad().item() == 3);  // 2 · 0.5 · 3
}

TEST_CASE("RemovableHandle: remove takes the hook out, is idempotent and outlives the tensor") {
  Tensor x = leaf({1});
  int a = 0, b = 0;
  RemovableHandle ha = x.register_hook([&](const Tensor&) { ++a; });
  RemovableHandle hb = x.register_post_accumulate_grad_hook([&](const Tensor&) { ++b; });
  CHECK(ha.active());
  CHECK(hb.active());
  (x * 2.0).backward();
  CHECK((a == 1 && b == 1));
  ha.remove();
  ha.remove();
  CHECK_FALSE(ha.active());
  CHECK(hb.active());
  (x * 2.0).backward();
  CHECK((a == 1 && b == 2));
  RemovableHandle copy = hb;
  copy.remove();
  CHECK_FALSE(hb.active());
  (x * 2.0).backward();
  CHECK(b == 2);
  CHECK(x.grad().item() == 6);

  RemovableHandle orphan;
  {
    Tensor t = leaf({1});
    orphan = t.register_hook([](const Tensor& g) { return g; });
  }
  CHECK_FALSE(orphan.active());
  orphan.remove();  // harmless
  RemovableHandle none;
  none.remove();
}

TEST_CASE("a hook may remove itself while it runs; the others of the pass still run") {
  Tensor x = leaf({1});
  Tensor y = x * 1.0;
  int first = 0, second = 0;
  RemovableHandle self;
  self = y.register_hook([&](const Tensor& g) {
    ++first;
    self.remove();
    return g * 2.0;
  });
  y.register_hook([&](const Tensor& g) {
    ++second;
    return g * 3.0;
  });
  y.backward(Tensor(), true);
  CHECK(x.grad().item() == 6);
  y.backward();
  CHECK(first == 1);
  CHECK(second == 2);
  CHECK(x.grad().item() == 9);  // 6 + 3
}

TEST_CASE("retain_graph: hooks run on every pass; post-accumulate hooks see the accumulated .grad") {
  Tensor w = leaf({2});
  Tensor y = w * w;
  std::vector<double> grad_seen, post_seen;
  w.register_hook([&](const Tensor& g) { grad_seen.push_back(g.item()); });
  w.register_post_accumulate_grad_hook([&](const Tensor& t) { post_seen.push_back(t.grad().item()); });
  y.backward(Tensor(), true);
  y.backward(Tensor(), true);
  CHECK(grad_seen == std::vector<double>{4, 4});
  CHECK(post_seen == std::vector<double>{4, 8});
}

TEST_CASE("create_graph: hooks see and return gradients that are part of the graph") {
  SUBCASE("a leaf's hook scales its gradient; the second derivative carries the factor") {
    Tensor x = leaf({1, 2});
    x.register_hook([](const Tensor& g) { return g * 3.0; });
    sum(x * x * x).backward(Tensor(), false, true);  // .grad = 3 · 3x²
    Tensor gx = x.grad();
    CHECK(gx.requires_grad());
    CHECK(values(gx) == std::vector<double>{9, 36});
    // d(Σ 9x²)/dx = 18x, and grad() returns the leaf's hooked gradient: 3 · 18x.
    const std::vector<Tensor> h = grad({sum(gx)}, {x});
    CHECK(values(h[0]) == std::vector<double>{54, 108});
    x.zero_grad();  // x.grad's records hold x: the cycle of backward(create_graph) (tensor.hpp)
  }
  SUBCASE("a non-leaf's hook computes with its gradient; that computation is differentiated") {
    Tensor x = leaf({1, 2});
    Tensor y = x * x;
    bool saw_graph = false;
    RemovableHandle hook = y.register_hook([&](const Tensor& g) {
      saw_graph = g.requires_grad();
      return g * y;  // recorded: grad mode is on in a create_graph pass
    });
    const std::vector<Tensor> g = grad({sum(y * y)}, {x}, {}, true, true);  // gy = 2y, hooked 2y²
    CHECK(saw_graph);
    CHECK(values(g[0]) == std::vector<double>{4, 128});  // 2y² · 2x = 4x⁵
    SUBCASE("the hook gone: d(Σ 4x⁵)/dx = 20x⁴") {
      hook.remove();
      CHECK(values(grad({sum(g[0])}, {x})[0]) == std::vector<double>{20, 320});
    }
    SUBCASE("the hook still there runs in the second pass too, on the gradient reaching y") {
      // F = Σ 4x·y², y = x²: ∂F/∂y = 8xy is hooked to 8xy²; 4y² + 8xy² · 2x = 4x⁴ + 16x⁶.
      CHECK(values(grad({sum(g[0])}, {x})[0]) == std::vector<double>{20, 1088});
    }
  }
}

TEST_CASE("grad(): hooks run on the inputs' gradients and on the path; .grad and post hooks untouched") {
  Tensor x = leaf({1, 2});
  Tensor unrelated_leaf = leaf({5});
  Tensor y = x * 2.0;
  int y_calls = 0, x_calls = 0, post = 0, other = 0;
  y.register_hook([&](const Tensor& g) {
    ++y_calls;
    return g * 10.0;
  });
  x.register_hook([&](const Tensor& g) {
    ++x_calls;
    return g + 1.0;
  });
  x.register_post_accumulate_grad_hook([&](const Tensor&) { ++post; });
  unrelated_leaf.register_hook([&](const Tensor&) { ++other; });
  Tensor z = sum(y) + sum(unrelated_leaf);
  const std::vector<Tensor> g = grad({z}, {x, x}, {}, true);
  CHECK(y_calls == 1);
  CHECK(x_calls == 1);  // once, though x is listed twice
  CHECK(values(g[0]) == std::vector<double>{21, 21});
  CHECK(values(g[1]) == std::vector<double>{21, 21});
  CHECK(post == 0);
  CHECK(other == 0);  // not an input of grad()
  CHECK_FALSE(x.grad().defined());
  // grad() with respect to the hooked non-leaf returns the hooked gradient.
  const std::vector<Tensor> gy = grad({z}, {y});
  CHECK(values(gy[0]) == std::vector<double>{10, 10});
}

TEST_CASE("post-accumulate hooks run as soon as the leaf's .grad is final, before the walk goes on") {
  // Forward order: w1 is used first, w2 last, so backward finishes w2 first. w1 is used twice
  // (by the first and a middle record): its hook waits for the lower record.
  Tensor x = tensor({1, 2}, {.dtype = DType::float64});
  Tensor w1 = leaf({3, 4}), w2 = leaf({5, 6});
  Tensor h1 = x * w1;               // record 0: feeds w1
  Tensor h2 = h1 * w1;              // record 1: feeds w1 again
  Tensor early = h2 * 1.0;          // record 2
  bool early_hook_ran = false;
  early.register_hook([&](const Tensor&) { early_hook_ran = true; });
  Tensor out = sum(early * w2);     // records 3, 4: w2 is fed by record 3
  std::string events;
  w2.register_post_accumulate_grad_hook([&](const Tensor& t) {
    events += "w2 ";
    CHECK(values(t.grad()) == values(h2));
    CHECK_FALSE(early_hook_ran);        // the walk has not reached record 2 yet
    CHECK_FALSE(w1.grad().defined());
  });
  w1.register_post_accumulate_grad_hook([&](const Tensor& t) {
    events += "w1 ";
    CHECK(values(t.grad()) == std::vector<double>{2 * 1 * 3 * 5, 2 * 2 * 4 * 6});  // d(x w1² w2)/dw1, whole
  });
  out.backward();
  CHECK(events == "w2 w1 ");
  CHECK(early_hook_ran);
}

TEST_CASE("a post-accumulate hook waits only for the records this backward can reach") {
  Tensor a = leaf({1, 2}), w = leaf({3, 4});
  Tensor unrelated = w * 5.0;  // an earlier record that feeds w, out of this backward's reach
  Tensor h = a * 2.0;
  std::string events;
  h.register_hook([&](const Tensor&) { events += "h "; });
  w.register_post_accumulate_grad_hook([&](const Tensor& t) {
    events += "w ";
    CHECK(values(t.grad()) == std::vector<double>{2, 4});
  });
  sum(h * w).backward();
  CHECK(events == "w h ");  // w is final once mul(h, w) has run, before h's record
  CHECK(values(a.grad()) == std::vector<double>{6, 8});
  CHECK(unrelated.requires_grad());
}

TEST_CASE("a hooked leaf among several outputs of backward, itself one of them") {
  Tensor w = leaf({2});
  std::vector<double> seen;
  int post = 0;
  w.register_hook([&](const Tensor& g) {
    seen.push_back(g.item());
    return g * 2.0;
  });
  w.register_post_accumulate_grad_hook([&](const Tensor&) { ++post; });
  backward({w * w, w}, {tensor({1.0}, {.dtype = DType::float64}), tensor({10.0}, {.dtype = DType::float64})});
  CHECK(seen == std::vector<double>{14});  // once, on the sum: 2w + 10
  CHECK(post == 1);
  CHECK(w.grad().item() == 28);
}

TEST_CASE("a leaf to which no gradient flows gets no hook call") {
  static const OpInfo info{"drops_w", "dC = dA", "", "gA = gC, gW = (none)"};
  Tensor a = leaf({1}), w = leaf({2});
  int calls = 0;
  w.register_hook([&](const Tensor&) { ++calls; });
  w.register_post_accumulate_grad_hook([&](const Tensor&) { ++calls; });
  Tensor y = record(info, a.detach(), {a, w}, [](const Tensor& g) -> Grads { return {g, Tensor()}; });
  y.backward();
  CHECK(calls == 0);
  CHECK(a.grad().item() == 1);
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("hooks: errors name the op, the shapes and the rule") {
  Tensor x = leaf({1, 2});
  Tensor y = x * 2.0;
  y.register_hook([](const Tensor& g) { return sum(g); });
  check_error<ShapeError>([&] { sum(y).backward(); },
                          {"register_hook", "'mul'", "test_hooks.cpp", "shape []", "shape [2]"});
  Tensor c = tensor({1.0});
  check_error<AutogradError>([&] { c.register_hook([](const Tensor& g) { return g; }); },
                             {"register_hook", "does not require grad"});
  check_error<AutogradError>([&] { y.register_post_accumulate_grad_hook([](const Tensor&) {}); },
                             {"non-leaf", "'mul'"});
  Tensor z = leaf({1});
  check_error<ValueError>([&] { z.register_hook(GradHook()); }, {"empty"});
  z.register_hook([](const Tensor& g) { return g.to(DType::float32); });
  check_error<ShapeError>([&] { (z * 1.0).backward(); }, {"a leaf", "float32", "float64"});
}
