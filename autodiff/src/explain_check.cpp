// explain()'s numbers: ‖G‖ and ⟨G, D⟩ against a central difference of ℓ along D.
#include "explain_check.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"
#include "names.hpp"
#include "tape.hpp"

#include <cmath>

namespace matgrad::detail {

double inner(const Tensor& a, const Tensor& b) {
  return a.visit([&](const auto& x) {
    return b.visit([&](const auto& y) {
      double total = 0;
      for (std::size_t i = 0; i < x.size(); ++i) total += static_cast<double>(x.data()[i]) * static_cast<double>(y.data()[i]);
      return total;
    });
  });
}

namespace {

// Adds step · direction to the elements of t, outside the graph.
void add_in_place(Tensor& t, const Tensor& direction, double step) {
  t.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    T* p = const_cast<T*>(x.data());
    const auto& d = direction.data<T>();
    for (std::size_t i = 0; i < x.size(); ++i) p[i] += static_cast<T>(step * static_cast<double>(d.data()[i]));
  });
}

// The result the re-run program names: replaced by its perturbed value as set_name names it.
struct Target {
  const std::string* name = nullptr;
  const Tensor* direction = nullptr;
  double step = 0;
  bool found = false;
};
thread_local Target target;

void perturb_named(Tensor& named) {
  if (!target.name || target.found || named.name() != *target.name) return;
  if (named.shape() != target.direction->shape() || named.dtype() != target.direction->dtype()) return;
  target.found = true;
  // A new tensor in its place, not an in-place change: the result may be a view of a leaf.
  Tensor moved = named + *target.direction * target.step;
  moved.impl()->name = std::make_unique<std::string>(*target.name);
  named = moved;
}

}  // namespace

GradientChecker::GradientChecker(const ExplainOptions& options, const Tensor& output, const Tensor& seed)
    : options_(options), output_(output), seed_(seed), generator_(options.direction_seed) {
  const bool f64 = output.dtype() == DType::float64;
  eps_ = options.eps > 0 ? options.eps : f64 ? 1e-6 : 1e-2;
  rtol_ = options.rtol > 0 ? options.rtol : f64 ? 1e-6 : 2e-2;
  atol_ = options.atol > 0 ? options.atol : f64 ? 1e-9 : 1e-4;
}

double GradientChecker::loss_with(const Tensor& t, const Tensor& direction, double step, bool leaf,
                                  const std::string& name, bool& found) {
  NoGradGuard no_grad;
  Tensor out;
  if (leaf) {
    Tensor x = t;
    add_in_place(x, direction, step);
    found = true;
    out = options_.program();
  } else {
    target = {&name, &direction, step, false};
    on_set_name = &perturb_named;
    struct Reset {
      ~Reset() {
        on_set_name = nullptr;
        target = {};
      }
    } reset;
    out = options_.program();
    found = target.found;
  }
  if (!out.defined() || out.shape() != output_.shape()) {
    fail<ValueError>("explain: the program returned {} where the output is {}",
                     out.defined() ? to_string(out.shape()) : std::string("an undefined tensor"),
                     to_string(output_.shape()));
  }
  return inner(seed_, out);
}

ExplainCheck GradientChecker::check(const Tensor& t, const Tensor& gradient, bool leaf, const std::string& name) {
  ExplainCheck c;
  if (!gradient.defined()) {
    c.note = "no gradient reaches it";
    return c;
  }
  c.grad_norm = std::sqrt(inner(gradient, gradient));
  if (!options_.program) {
    c.note = "no program to re-run";
    return c;
  }
  if (t.numel() == 0) {
    c.note = "no elements";
    return c;
  }
  Tensor direction = randn(t.shape(), generator_, {.dtype = t.dtype()});
  c.predicted = inner(gradient, direction);
  const TensorImpl& impl = *t.impl();
  const std::uint64_t version = impl.storage->version;
  Tensor saved;
  if (leaf) {
    NoGradGuard no_grad;
    saved = t.detach().clone();
  }
  // Back to the recorded values bit for bit, and to the recorded version: the graph is as it was.
  auto restore = [&] {
    if (!leaf) return;
    t.visit([&](const auto& x) {
      using T = typename std::decay_t<decltype(x)>::value_type;
      std::copy(saved.data<T>().begin(), saved.data<T>().end(), const_cast<T*>(x.data()));
    });
    t.impl()->storage->version = version;
  };
  bool found_plus = false, found_minus = false;
  double plus = 0, minus = 0, base = 0;
  try {
    plus = loss_with(t, direction, eps_, leaf, name, found_plus);
    restore();
    minus = loss_with(t, direction, -eps_, leaf, name, found_minus);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  if (!found_plus || !found_minus) {
    c.note = "the program does not name it (set_name)";
    return c;
  }
  base = std::abs(inner(seed_, output_));
  c.checked = true;
  c.numeric = (plus - minus) / (2 * eps_);
  c.passed = std::abs(c.numeric - c.predicted) <= rtol_ * (std::abs(c.numeric) + std::abs(c.predicted)) +
                                                     atol_ * (1 + base);
  return c;
}

}  // namespace matgrad::detail
