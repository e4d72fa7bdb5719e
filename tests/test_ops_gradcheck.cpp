// Runs gradcheck (float64 central differences) over every row of the op table.
#include "op_table.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

using namespace matgrad;
using namespace matgrad::testing;

TEST_CASE("every op passes gradcheck in float64 on several shapes") {
  Generator gen(2024);
  std::size_t checks = 0;
  for (const OpRow& row : op_table()) {
    for (const auto& shapes : row.shapes) {
      std::vector<Tensor> inputs;
      std::string shape_list;
      for (const Shape& s : shapes) {
        inputs.push_back(draw_input(s, row.domain, gen));
        shape_list += to_string(s) + " ";
      }
      INFO(row.op, " on ", shape_list);
      const GradcheckResult result = gradcheck(row.f, inputs, {.eps = row.eps});
      INFO(result.report());
      CHECK(result.passed);
      ++checks;
    }
  }
  MESSAGE(fmt::format("{} ops, {} gradchecks", op_table().size(), checks));
  CHECK(checks >= 2 * op_table().size());
}
