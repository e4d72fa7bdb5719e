// Runs gradcheck (float64 central differences) over every row of the op table.
#include "op_table.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

using namespace matgrad;
using namespace matgrad::testing;

TEST_CASE("every op passes gradcheck in float64 on several shapes") {
  Generator gen(2024);
  const std::size_t checks = for_each_case(gen, [](const OpRow& row, const std::vector<Tensor>& inputs) {
    const GradcheckResult result = gradcheck(row.f, inputs, {.eps = row.eps});
    INFO(result.report());
    CHECK(result.passed);
  });
  MESSAGE(fmt::format("{} ops, {} gradchecks", op_table().size(), checks));
  CHECK(checks >= 2 * op_table().size());
}
