// Runs gradcheck (float64 central differences) over every row of the op table.
#include "op_table.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

using namespace matgrad;
using namespace matgrad::testing;

static Tensor draw(const Shape& shape, Domain domain, Generator& gen) {
  Tensor x = randn(shape, gen, {.dtype = DType::float64});
  auto& v = x.mutable_data<double>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    double& e = v.data()[i];
    switch (domain) {
      case Domain::real: break;
      case Domain::positive: e = std::abs(e) + 0.5; break;
      case Domain::away_from_zero: e = std::copysign(std::abs(e) + 0.2, e); break;
      case Domain::distinct: e = e * 0.1 + 0.37 * static_cast<double>((i * 7) % 11) - 2.0; break;
      case Domain::float32_grid: e = std::round(e * 1024) / 1024; break;
    }
  }
  return x.requires_grad_(true);
}

TEST_CASE("every op passes gradcheck in float64 on several shapes") {
  Generator gen(2024);
  std::size_t checks = 0;
  for (const OpRow& row : op_table()) {
    for (const auto& shapes : row.shapes) {
      std::vector<Tensor> inputs;
      std::string shape_list;
      for (const Shape& s : shapes) {
        inputs.push_back(draw(s, row.domain, gen));
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
