// Forward mode over every row of the op table, in float64 on the gradcheck shapes:
//   1. each JVP against central differences (jvpcheck), one input's tangent at a time;
//   2. the adjoint identity ⟨ḡ, J ẋ⟩ = ⟨Jᵀ ḡ, ẋ⟩ between each op's two rules, to 1e-12;
//   3. forward-over-reverse HVPs and Hessians against reverse-over-reverse ones;
//   4. jacfwd (all directions at once, batched tangents) against the reverse-mode Jacobian.
// Zero-size inputs go through forward mode in test_zero_size.cpp.
#include "op_table.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

double dot(const Tensor& a, const Tensor& b) { return sum(a * b).item(); }
double abs_dot(const Tensor& a, const Tensor& b) { return sum(abs(a * b)).item(); }

std::string describe(const TensorComparison& c) {
  return fmt::format("max abs error {:.3e} at {}: {:.17g} against {:.17g}", c.max_abs_error,
                     to_string(c.worst_index), c.actual, c.expected);
}

// J ẋ by forward mode, for the tangents `dx` (undefined: none for that input).
Tensor forward_product(const OpRow& row, const std::vector<Tensor>& x, const std::vector<Tensor>& dx) {
  NoGradGuard no_grad;
  const DualLevel level;
  std::vector<Tensor> duals = x;
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (dx[k].defined()) duals[k] = make_dual(x[k], dx[k]);
  }
  const Tensor y = row.f(duals);
  const Tensor t = unpack_dual(y).tangent;
  return t.defined() ? t : zeros_like(y);
}

// A random direction or cotangent; on the float32 grid for rows that round-trip through float32
// (`to`), so that the rounding of one rule is not the rounding of the other.
Tensor direction(const Shape& shape, const OpRow& row, Generator& gen) {
  return draw_input(shape, row.domain == Domain::float32_grid ? Domain::float32_grid : Domain::real, gen)
      .detach();
}

// ⟨R, f(x)⟩ for a fixed random R: a scalar with every entry of f's Jacobian in play.
TensorFunction scalarized(const OpRow& row, const Tensor& r) {
  return [&row, r](const std::vector<Tensor>& x) {
    const Tensor y = row.f(x);
    return y.numel() == 1 ? sum(y) : sum(y * r);
  };
}

}  // namespace

TEST_CASE("every op's JVP agrees with central differences in float64") {
  Generator gen(2024);
  const std::size_t checks = for_each_case(gen, [](const OpRow& row, const std::vector<Tensor>& inputs) {
    GradcheckResult result;
    try {
      result = jvpcheck(row.f, inputs, {.eps = row.eps});
    } catch (const Error& error) {
      FAIL_CHECK(error.what());
      return;
    }
    INFO(result.report());
    CHECK(result.passed);
  });
  MESSAGE(fmt::format("{} ops, {} JVP checks", op_table().size(), checks));
  CHECK(checks >= 2 * op_table().size());
}

TEST_CASE("each op's JVP and VJP are adjoint: ⟨ḡ, J ẋ⟩ = ⟨Jᵀ ḡ, ẋ⟩ to 1e-12") {
  Generator gen(7);
  std::size_t identities = 0;
  for_each_case(gen, [&](const OpRow& row, const std::vector<Tensor>& inputs) {
    std::vector<Tensor> dx;
    for (const Tensor& x : inputs) dx.push_back(direction(x.shape(), row, gen));
    const Tensor y = row.f(inputs);
    const Tensor gbar = direction(y.shape(), row, gen);
    std::vector<Tensor> vjp(inputs.size());
    if (y.requires_grad()) vjp = grad({y}, inputs, {gbar}, false, false, true);
    // All tangents at once, then each alone (the others absent, which every rule must read as
    // zero): ⟨ḡ, Σₖ Jₖ ẋₖ⟩ = Σₖ ⟨Jₖᵀ ḡ, ẋₖ⟩, and term by term.
    for (std::size_t only = 0; only <= inputs.size(); ++only) {
      std::vector<Tensor> tangents(inputs.size());
      double rhs = 0, scale = 0;
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        if (only < inputs.size() && k != only) continue;
        tangents[k] = dx[k];
        if (vjp[k].defined()) {
          rhs += dot(vjp[k], dx[k]);
          scale += abs_dot(vjp[k], dx[k]);
        }
      }
      const Tensor jv = forward_product(row, inputs, tangents);
      const double lhs = dot(gbar, jv);
      scale += abs_dot(gbar, jv);
      INFO(fmt::format("tangents of {}: ⟨ḡ, J ẋ⟩ = {:.17g}, ⟨Jᵀ ḡ, ẋ⟩ = {:.17g}",
                       only < inputs.size() ? fmt::format("input {}", only) : "every input", lhs, rhs));
      CHECK(std::abs(lhs - rhs) <= 1e-12 * scale);
      CHECK(std::isfinite(lhs));
      ++identities;
    }
  });
  MESSAGE(fmt::format("{} adjoint identities", identities));
  CHECK(identities >= 3 * op_table().size());
}

TEST_CASE("forward-over-reverse HVPs and Hessians equal reverse-over-reverse ones") {
  Generator gen(11);
  for_each_case(gen, [&](const OpRow& row, const std::vector<Tensor>& inputs) {
    const Tensor r = randn(row.f(inputs).shape(), gen, {.dtype = DType::float64});
    const TensorFunction phi = scalarized(row, r);
    std::vector<Tensor> v;
    for (const Tensor& x : inputs) v.push_back(randn(x.shape(), gen, {.dtype = DType::float64}));
    const ProductResults fwd = hvp(phi, inputs, v);
    const ProductResults rev = hvp(phi, inputs, v, false, Strategy::reverse_mode);
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const TensorComparison c = compare_tensors(fwd.products[k], rev.products[k], 1e-10, 1e-8);
      INFO("H v, input ", k, ": ", describe(c));
      CHECK(c.passed);
    }
    const auto h_fwd = hessian(phi, inputs);
    const auto h_rev = hessian(phi, inputs, false, Strategy::reverse_mode);
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      for (std::size_t j = 0; j < inputs.size(); ++j) {
        const TensorComparison c = compare_tensors(h_fwd[k][j], h_rev[k][j], 1e-10, 1e-8);
        INFO("Hessian block [", k, "][", j, "]: ", describe(c));
        CHECK(c.passed);
      }
    }
  });
}

TEST_CASE("jacfwd, with every direction's tangent in one pass, equals the reverse-mode Jacobian") {
  Generator gen(13);
  for_each_case(gen, [&](const OpRow& row, const std::vector<Tensor>& inputs) {
    const std::vector<Tensor> fwd = jacfwd(row.f, inputs);
    const std::vector<Tensor> rev = jacobian(row.f, inputs);
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      CHECK(fwd[k].shape() == rev[k].shape());
      const TensorComparison c = compare_tensors(fwd[k], rev[k], 1e-12, 1e-10);
      INFO("input ", k, ": ", describe(c));
      CHECK(c.passed);
    }
  });
}
