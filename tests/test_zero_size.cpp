// Zero-size dimensions go through every op of the gradcheck table, its VJP and its JVP: each
// row's shapes with every dim of size 4 set to 0. Rows without such a dim are skipped, and so are
// rows whose function fixes a shape or an index that no longer fits (a ShapeError or
// IndexError from the forward).
#include "op_table.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

// Calls check(row, inputs, out) for each row's shapes with every dim of size 4 set to 0, out
// being the row's function of fresh inputs of those shapes; skips (with a message) the rows
// whose function fixes a shape or an index that no longer fits. Returns the number of cases
// checked.
template <class Check>
std::size_t for_each_zero_size_case(Generator& gen, Check&& check) {
  std::size_t ran = 0;
  for (const OpRow& row : op_table()) {
    for (const auto& shapes : row.shapes) {
      bool has_four = false;
      std::vector<Tensor> inputs;
      std::string shape_list;
      for (Shape s : shapes) {
        for (auto& d : s) {
          if (d == 4) {
            d = 0;
            has_four = true;
          }
        }
        inputs.push_back(draw_input(s, row.domain, gen));
        shape_list += to_string(s) + " ";
      }
      if (!has_four) continue;
      INFO(row.op, " on ", shape_list);
      Tensor out;
      try {
        out = row.f(inputs);
      } catch (const ShapeError& e) {
        MESSAGE(fmt::format("skipped: {}", e.what()));
        continue;
      } catch (const IndexError& e) {  // a fixed index list
        MESSAGE(fmt::format("skipped: {}", e.what()));
        continue;
      }
      check(row, inputs, out);
      ++ran;
    }
  }
  return ran;
}

}  // namespace

TEST_CASE("zero-size dimensions work through every op and its VJP") {
  Generator gen(7);
  const std::size_t ran = for_each_zero_size_case(gen, [](const OpRow&, const std::vector<Tensor>& inputs, const Tensor& out) {
    Tensor seed = ones_like(out);
    std::vector<Tensor> grads;
    REQUIRE_NOTHROW(grads = grad({out}, inputs, {seed}, false, false, /*allow_unused=*/true));
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!grads[i].defined()) continue;
      CHECK(grads[i].shape() == inputs[i].shape());
      // Outputs with elements (e.g. a k = 0 product) send finite gradients back.
      grads[i].visit([](const auto& g) {
        for (auto v : g) CHECK(std::isfinite(v));
      });
    }
  });
  MESSAGE(fmt::format("{} zero-size checks", ran));
  CHECK(ran >= 40);
}

TEST_CASE("zero-size dimensions work through every op's JVP, one direction and batched") {
  Generator gen(8);
  const std::size_t ran = for_each_zero_size_case(gen, [&](const OpRow& row, const std::vector<Tensor>& inputs, const Tensor&) {
    std::vector<Tensor> v;
    for (const Tensor& x : inputs) v.push_back(randn(x.shape(), gen, {.dtype = DType::float64}));
    ProductResult jv;
    REQUIRE_NOTHROW(jv = jvp(row.f, inputs, v));
    CHECK(jv.product.shape() == jv.output.shape());
    // Finite where the output is (a mean over nothing is NaN, as in PyTorch, and so is its
    // tangent).
    const auto& value = jv.output.data<double>();
    const auto& tangent = jv.product.data<double>();
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (std::isfinite(value.data()[i])) CHECK(std::isfinite(tangent.data()[i]));
    }
    std::vector<Tensor> fwd, rev;
    REQUIRE_NOTHROW(fwd = jacfwd(row.f, inputs));  // every input entry's direction at once
    rev = jacobian(row.f, inputs);
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      CHECK(fwd[k].shape() == rev[k].shape());
      CHECK(compare_tensors(fwd[k], rev[k], 1e-12, 1e-10).passed);
    }
  });
  MESSAGE(fmt::format("{} zero-size JVP checks", ran));
  CHECK(ran >= 40);
}

// Second order through zero-size dims: with the first gradient g(u) = Jᵀ u taken with
// create_graph, ∂⟨g(u), 1⟩/∂u = J 1 (the double-VJP JVP) and ∂⟨g(u), 1⟩/∂x (the HVP) must be
// finite, and J 1 = 0 exactly when no input has an element (J has no columns). A 1/0 factor in
// a VJP (the mean of nothing) made J 1 NaN; PyTorch gives zeros.
TEST_CASE("second derivatives through zero-size dimensions are finite, and zero without inputs") {
  Generator gen(8);
  const std::size_t ran = for_each_zero_size_case(gen, [](const OpRow&, const std::vector<Tensor>& inputs, const Tensor& out) {
    bool all_empty = true;
    for (const Tensor& x : inputs) all_empty = all_empty && x.numel() == 0;
    Tensor u = ones_like(out).requires_grad_(true);
    std::vector<Tensor> g;
    REQUIRE_NOTHROW(g = grad({out}, inputs, {u}, false, /*create_graph=*/true, /*allow_unused=*/true));
    Tensor total = sum(u) * 0.0;  // keeps u in the graph when no gradient depends on it
    for (const Tensor& gi : g) {
      if (gi.defined() && gi.requires_grad()) total = total + sum(gi);
    }
    std::vector<Tensor> wanted = inputs;
    wanted.push_back(u);
    std::vector<Tensor> second;
    REQUIRE_NOTHROW(second = grad({total}, wanted, {}, false, false, /*allow_unused=*/true));
    for (std::size_t i = 0; i < second.size(); ++i) {
      if (!second[i].defined()) continue;
      second[i].visit([&](const auto& s) {
        for (auto v : s) {
          CHECK(std::isfinite(v));
          if (all_empty && i + 1 == second.size()) CHECK(v == 0);
        }
      });
    }
  });
  MESSAGE(fmt::format("{} zero-size second-order checks", ran));
  CHECK(ran >= 40);
}

// The reproducers.
TEST_CASE("jvp of mean over an empty dim, and second order of the mean losses over nothing") {
  const Tensor empty = zeros({0, 3}, {.dtype = DType::float64});
  const auto mean0 = [](const Tensor& x) { return mean(x, 0); };
  const ProductResult r = jvp(mean0, empty, zeros_like(empty));
  CHECK(r.output.shape() == Shape{3});
  CHECK(std::isnan(r.output.data<double>()(0)));  // the mean of nothing, as in PyTorch
  for (const double v : r.product.data<double>()) CHECK(v == 0);
  const auto mean_all = [](const Tensor& x) { return mean(x); };
  CHECK(jvp(mean_all, empty, zeros_like(empty)).product.item() == 0);
  const auto bce = [](const Tensor& x) { return binary_cross_entropy_with_logits(x, zeros_like(x)); };
  CHECK(jvp(bce, empty, zeros_like(empty)).product.item() == 0);
  const auto ce = [](const Tensor& x) { return cross_entropy(x, std::vector<std::size_t>{}); };
  CHECK(jvp(ce, empty, zeros_like(empty)).product.item() == 0);
  const auto mse = [](const Tensor& x) { return mse_loss(x, zeros_like(x)); };
  CHECK(jvp(mse, empty, zeros_like(empty)).product.item() == 0);
}
