// explain()'s numbers: ‖G‖ and ⟨G, D⟩ against a central difference of ℓ along D.
#include "explain_check.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"
#include "names.hpp"
#include "tape.hpp"

#include <fmt/format.h>

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

bool reads_symmetric(const OpInfo& op) {
  return op.name == "cholesky" || op.name == "eigh" || op.name == "eigvalsh";
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

// The result a re-run perturbs: the one set_name gives `name`, or the `position`-th record.
struct Perturbation {
  const std::string* name = nullptr;
  std::size_t position = 0;
  std::size_t records = 0;  // records made so far in this run
  const Tensor* direction = nullptr;
  double step = 0;
  bool found = false;
};
thread_local Perturbation target;

// A new tensor in place of `result`, not an in-place change: the result may be a view of a leaf.
void perturb(Tensor& result) {
  if (result.shape() != target.direction->shape() || result.dtype() != target.direction->dtype()) return;
  target.found = true;
  NoGradGuard no_grad;
  Tensor moved = result.detach() + *target.direction * target.step;
  if (!result.name().empty()) moved.impl()->name = std::make_unique<std::string>(result.name());
  result = moved;
}

void perturb_named(Tensor& named) {
  if (!target.found && named.name() == *target.name) perturb(named);
}

void perturb_record(Tensor& output) {
  if (!target.found && target.records++ == target.position) perturb(output);
}

// Each record the mapping run makes, with its position.
thread_local std::unordered_map<const Node*, std::size_t>* rerun_positions = nullptr;

// A freed record's address may be taken by a later one: the latest position is the live record's.
void note_position(Tensor& output) {
  rerun_positions->insert_or_assign(output.impl()->node, target.records++);
}

struct ResetHooks {
  ~ResetHooks() {
    on_set_name = nullptr;
    on_record = nullptr;
    rerun_positions = nullptr;
    target = {};
  }
};

}  // namespace

GradientChecker::GradientChecker(const ExplainOptions& options, const Tensor& output, const Tensor& seed)
    : options_(options), output_(output), seed_(seed), generator_(options.direction_seed) {
  const bool f64 = output.dtype() == DType::float64;
  eps_ = options.eps > 0 ? options.eps : f64 ? 1e-6 : 1e-2;
  rtol_ = options.rtol > 0 ? options.rtol : f64 ? 1e-6 : 2e-2;
  atol_ = options.atol > 0 ? options.atol : f64 ? 1e-9 : 1e-4;
}

// An unnamed result has no handle in the re-run, so it is found by where its record stands: one
// run with grad on, whose output's graph is matched node by node against the explained one from
// the outputs back, gives each explained record the position of its counterpart among the
// records of a run. The program must record the same ops in the same order on every run.
std::optional<std::size_t> GradientChecker::position_in_rerun(const Node* record) {
  if (!positions_) {
    positions_.emplace();
    std::unordered_map<const Node*, std::size_t> made;
    Tensor rerun;
    {
      AutoGradMode grad_on(true);
      rerun_positions = &made;
      on_record = &note_position;
      ResetHooks reset;
      rerun = options_.program();
    }
    std::vector<std::pair<const Node*, const Node*>> pending;
    if (rerun.defined() && rerun.impl()->node) pending.emplace_back(output_.impl()->node, rerun.impl()->node);
    while (!pending.empty()) {
      const auto [explained, counterpart] = pending.back();
      pending.pop_back();
      const auto made_at = made.find(counterpart);
      if (explained->op != counterpart->op || explained->inputs.size() != counterpart->inputs.size() ||
          made_at == made.end() || !positions_->emplace(explained, made_at->second).second) {
        continue;
      }
      for (std::size_t i = 0; i < explained->inputs.size(); ++i) {
        const Node* a = explained->inputs[i].producer;
        const Node* b = counterpart->inputs[i].producer;
        if (a && b && !positions_->contains(a)) pending.emplace_back(a, b);
      }
    }
  }
  const auto it = positions_->find(record);
  if (it == positions_->end()) return std::nullopt;
  return it->second;
}

double GradientChecker::loss_with(const Tensor& t, const Tensor& direction, double step, const Target& how,
                                  bool& found) {
  Tensor out;
  if (how.leaf) {
    NoGradGuard no_grad;
    Tensor x = t;
    add_in_place(x, direction, step);
    found = true;
    out = options_.program();
  } else {
    const std::optional<std::size_t> position = how.record ? position_in_rerun(how.record) : std::nullopt;
    if (how.record && !position) return 0;
    ResetHooks reset;
    target = {.direction = &direction, .step = step};
    if (position) {
      target.position = *position;
      on_record = &perturb_record;
    } else {
      target.name = &how.name;
      on_set_name = &perturb_named;
    }
    // Records are made, so that the re-run's records can be counted.
    AutoGradMode grad(how.record != nullptr);
    out = options_.program();
    found = target.found;
  }
  if (!out.defined() || out.shape() != output_.shape()) {
    fail<ValueError>("explain: the program returned {} where the output is {}",
                     out.defined() ? to_string(out.shape()) : std::string("an undefined tensor"),
                     to_string(output_.shape()));
  }
  NoGradGuard no_grad;
  return inner(seed_, out);
}

ExplainCheck GradientChecker::check(const Tensor& t, const Tensor& gradient, const Target& how) {
  const bool leaf = how.leaf;
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
  if (!how.symmetric_for.empty()) {
    NoGradGuard no_grad;
    direction = (direction + transpose(direction, -2, -1)) * 0.5;
    c.note = fmt::format("D symmetric: {} reads it as symmetric", how.symmetric_for);
  }
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
    plus = loss_with(t, direction, eps_, how, found_plus);
    restore();
    minus = loss_with(t, direction, -eps_, how, found_minus);
  } catch (...) {
    restore();
    throw;
  }
  restore();
  if (!found_plus || !found_minus) {
    c.note = how.record ? "the program's re-run does not record it as the graph does"
                        : "the program does not name it (set_name)";
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
