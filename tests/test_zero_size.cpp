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

// Calls check(row, inputs) for every row's shape set that has a dim of size 4, with those set
// to 0; skips (with a message) the rows whose function fixes a shape or an index that no
// longer fits. Returns the number of cases run.
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
      try {
        row.f(inputs);
      } catch (const ShapeError& e) {
        MESSAGE(fmt::format("skipped: {}", e.what()));
        continue;
      } catch (const IndexError& e) {  // a fixed index list
        MESSAGE(fmt::format("skipped: {}", e.what()));
        continue;
      }
      check(row, inputs);
      ++ran;
    }
  }
  return ran;
}

void check_finite(const Tensor& t) {
  t.visit([](const auto& x) {
    for (auto v : x) CHECK(std::isfinite(v));
  });
}

}  // namespace

TEST_CASE("zero-size dimensions work through every op and its VJP") {
  Generator gen(7);
  const std::size_t ran = for_each_zero_size_case(gen, [](const OpRow& row, const std::vector<Tensor>& inputs) {
    const Tensor out = row.f(inputs);
    Tensor seed = ones_like(out);
    std::vector<Tensor> grads;
    REQUIRE_NOTHROW(grads = grad({out}, inputs, {seed}, false, false, /*allow_unused=*/true));
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!grads[i].defined()) continue;
      CHECK(grads[i].shape() == inputs[i].shape());
      check_finite(grads[i]);  // outputs with elements (e.g. a k = 0 product) send finite gradients back
    }
  });
  MESSAGE(fmt::format("{} zero-size checks", ran));
  CHECK(ran >= 40);
}

TEST_CASE("zero-size dimensions work through every op's JVP, one direction and batched") {
  Generator gen(8);
  const std::size_t ran = for_each_zero_size_case(gen, [&](const OpRow& row, const std::vector<Tensor>& inputs) {
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
