// Zero-size dimensions go through every op of the gradcheck table and its VJP: each row's
// shapes with every dim of size 4 set to 0. Rows without such a dim are skipped, and so are
// rows whose function fixes a shape or an index that no longer fits (a ShapeError or
// IndexError from the forward).
#include "op_table.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

using namespace matgrad;
using namespace matgrad::testing;

TEST_CASE("zero-size dimensions work through every op and its VJP") {
  Generator gen(7);
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
      ++ran;
    }
  }
  MESSAGE(fmt::format("{} zero-size checks", ran));
  CHECK(ran >= 40);
}
