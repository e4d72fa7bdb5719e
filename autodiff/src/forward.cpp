// Forward mode: the dual level, dual tensors, and pushing each op's tangent through its JVP
// (called from record()), with the Tangent arithmetic the JVP rules are written in.
#include "forward.hpp"

#include "matgrad/ops.hpp"
#include "tape.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>

namespace matgrad {

namespace {

// The open level of this thread: id 0 when none. Ids are unique across threads, since a leaf
// may be shared between them.
struct Level {
  std::uint64_t id = 0;
  detail::LevelOptions options;
  // The tensors given a tangent in this level, to drop their tangents when it ends; expired
  // entries are swept out whenever the list doubles.
  std::vector<std::weak_ptr<detail::TensorImpl>> duals;
  std::size_t sweep_at = kMinSweep;
  static constexpr std::size_t kMinSweep = 1024;
};

thread_local Level level;
std::atomic<std::uint64_t> next_level_id{1};

void enter(detail::LevelOptions options, std::string_view who) {
  if (level.id != 0) {
    fail<AutogradError>(
        "{}: a dual level is already open on this thread; forward mode has one level at a time "
        "(as in PyTorch){}",
        who,
        who == "DualLevel" ? ""
                           : ": inside a DualLevel, use the helper's Strategy::reverse_mode");
  }
  level.id = next_level_id.fetch_add(1);
  level.options = options;
  detail::forward_mode = true;
}

void exit_level() {
  for (const auto& weak : level.duals) {
    if (auto impl = weak.lock(); impl && impl->tangent && impl->tangent->level == level.id) {
      impl->tangent.reset();
    }
  }
  level = Level();
  detail::forward_mode = false;
}

void attach(const Tensor& t, Tensor value) {
  auto& slot = t.impl()->tangent;
  if (!slot) slot = std::make_unique<detail::TensorImpl::TangentSlot>();
  *slot = {std::move(value), level.id};
  level.duals.push_back(t.impl());
  if (level.duals.size() >= level.sweep_at) {
    std::erase_if(level.duals, [](const auto& weak) { return weak.expired(); });
    level.sweep_at = std::max(Level::kMinSweep, 2 * level.duals.size());
  }
}

Shape batched_shape(const Shape& shape) {
  if (level.options.batch == 0) return shape;
  Shape out{level.options.batch};
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

// Whether `from` broadcasts to `to` (NumPy rules), without throwing.
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const std::size_t lead = to.size() - from.size();
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (from[i] != 1 && from[i] != to[lead + i]) return false;
  }
  return true;
}

bool all_finite(const Tensor& t) {
  return t.visit([](const auto& x) {
    return std::all_of(x.begin(), x.end(), [](auto v) { return std::isfinite(v); });
  });
}

// The tangent a JVP returned, checked against the output and broadcast to its shape: the one
// place where tangent shapes and dtypes are checked (as fit_to_input is for gradients).
Tensor fit_to_output(std::string_view op, const Tangent& t, const Tensor& output) {
  const std::size_t batch = level.options.batch;
  if (t.batch() != batch) {
    fail<Error>("{}: the JVP returned a tangent of {} directions where {} travel together (write "
                "it with Tangent arithmetic or Tangent::map, which keep the directions)",
                op, t.batch() ? t.batch() : 1, batch ? batch : 1);
  }
  const Tensor& value = t.tensor();
  if (value.dtype() != output.dtype()) {
    fail<DTypeError>("{}: the JVP returned a {} tangent for an output of dtype {}", op,
                     dtype_name(value.dtype()), dtype_name(output.dtype()));
  }
  const Shape expected = batched_shape(output.shape());
  if (value.shape() == expected) return value;
  const Tensor a = detail::aligned(t, output.dim());
  if (!broadcasts_to(a.shape(), expected)) {
    fail<ShapeError>("{}: the JVP returned a tangent of shape {}{} for an output of shape {}",
                     op, to_string(t.primal_shape()),
                     batch ? fmt::format(" ({} directions)", batch) : std::string(),
                     to_string(output.shape()));
  }
  return broadcast_to(a, expected);
}

}  // namespace

// ---- the level ----

DualLevel::DualLevel() { enter({}, "DualLevel"); }
DualLevel::~DualLevel() { exit_level(); }

detail::ForwardLevel::ForwardLevel(LevelOptions options, std::string_view who) {
  enter(options, who);
}
detail::ForwardLevel::~ForwardLevel() { exit_level(); }

bool is_forward_ad_enabled() { return level.id != 0; }

const Tensor* detail::tangent_of(const Tensor& t) {
  const auto& slot = t.impl()->tangent;
  return slot && level.id != 0 && slot->level == level.id && slot->value.defined() ? &slot->value
                                                                                   : nullptr;
}

Tensor detail::tangent_or_none(const Tensor& t) {
  const Tensor* tangent = tangent_of(t);
  return tangent ? *tangent : Tensor();
}

void detail::attach_tangent(const Tensor& fresh, Tensor tangent) { attach(fresh, std::move(tangent)); }

// ---- dual tensors ----

Tensor make_dual(const Tensor& primal, const Tensor& tangent, const SourceLocation& caller) {
  if (level.id == 0) {
    fail<AutogradError>("make_dual: no dual level is open on this thread: open a DualLevel first "
                        "(a tangent lives in its scope)");
  }
  if (!primal.defined() || !tangent.defined()) {
    fail<ValueError>("make_dual: the {} is an undefined tensor", primal.defined() ? "tangent" : "primal");
  }
  if (tangent.dtype() != primal.dtype()) {
    fail<DTypeError>("make_dual: the tangent has dtype {} but the primal has dtype {}; a tangent "
                     "must have its primal's dtype",
                     dtype_name(tangent.dtype()), dtype_name(primal.dtype()));
  }
  const Shape expected = batched_shape(primal.shape());
  if (tangent.shape() != expected) {
    fail<ShapeError>("make_dual: the tangent has shape {} but the primal has shape {}; a tangent "
                     "must have its primal's shape{}",
                     to_string(tangent.shape()), to_string(primal.shape()),
                     level.options.batch
                         ? fmt::format(", after the {} directions of this level", level.options.batch)
                         : std::string());
  }
  if (detail::tangent_of(primal)) {
    fail<AutogradError>("make_dual: the primal (shape {}) already has a tangent at this level; a "
                        "dual tensor of a dual tensor is not supported (as in PyTorch): make it "
                        "from unpack_dual(t).primal",
                        to_string(primal.shape()));
  }
  Tensor dual;
  {
    detail::SuspendForwardMode no_tangents;
    dual = reshape(primal, primal.shape(), caller);  // a tensor of its own, identity in reverse mode
  }
  attach(dual, tangent);
  return dual;
}

UnpackedDual unpack_dual(const Tensor& tensor, const SourceLocation& caller) {
  if (!tensor.defined()) fail<ValueError>("unpack_dual: the tensor is undefined");
  const Tensor* tangent = detail::tangent_of(tensor);
  if (!tangent) return {tensor, Tensor()};
  detail::SuspendForwardMode no_tangents;
  return {reshape(tensor, tensor.shape(), caller), *tangent};
}

// ---- pushing tangents through an op ----

void detail::JvpRef::fail_arity(std::string_view op, std::size_t arity, std::size_t inputs) {
  fail<Error>("{}: internal error: the JVP takes {} tangents but the op has {} inputs", op, arity,
              inputs);
}

Tensor detail::push_tangent(const OpInfo& op, Tensor output, std::span<const InputRef> inputs,
                            const JvpRef& jvp, const SourceLocation& where) {
  const std::size_t batch = level.options.batch;
  std::vector<Tangent> tangents(inputs.size(), Tangent(Tensor(), batch));
  std::optional<std::size_t> first;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& input = inputs[k];
    if (!input.defined()) continue;
    if (const Tensor* t = tangent_of(input)) {
      tangents[k] = Tangent(*t, batch);
      if (!first) first = k;
    }
  }
  if (!first) return output;  // every tangent is zero, and so is the output's
  if (!jvp) {
    fail<AutogradError>(
        "{}: forward-mode AD reached this op (input {} has a tangent), but it was defined "
        "without a JVP: give record() a JVP rule before the VJP (for apply<Op>, a static "
        "Op::jvp(tangents..., inputs...))",
        op.name, *first);
  }
  const bool is_input = std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& input) {
    return input.impl() == output.impl();
  });
  if (is_input) output = output.detach();
  const SourceLocation& site = CallSite::current() ? *CallSite::current() : where;
  Tensor value;
  {
    SuspendForwardMode no_tangents;  // the rule's own ops: one level at a time
    const CallSite at(site);
    std::optional<NoGradGuard> no_grad;
    if (!level.options.record_tangents) no_grad.emplace();
    const Tangent result = jvp(op.name, Tangents(tangents, batch), JvpContext{output});
    if (!result) return output;
    value = fit_to_output(op.name, result, output);
  }
  if (is_anomaly_enabled() && !all_finite(value)) {
    fail<AutogradError>("anomaly: the JVP of '{}' produced a non-finite tangent for an output of "
                        "shape {}\n  recorded at {}:{}",
                        op.name, to_string(output.shape()), site.file, site.line);
  }
  attach(output, std::move(value));
  return output;
}

// ---- in-place updates carry the tangent along ----

namespace {

Tangent tangent_in_level(const Tensor& t) {
  return Tangent(t.defined() ? detail::tangent_or_none(t) : Tensor(), level.options.batch);
}

// Sets self's tangent to t broadcast to self's shape (none when t is absent).
void replace_tangent(const Tensor& self, const Tangent& t) {
  if (!t) {
    detail::drop_tangent(self);
    return;
  }
  attach(self, fit_to_output("in-place update", t, self));
}

}  // namespace

void detail::add_tangent_in_place(const Tensor& self, const Tensor& other, double alpha) {
  if (!forward_mode) return;
  const Tangent a = tangent_in_level(self), b = tangent_in_level(other);
  if (!a && !b) return;
  SuspendForwardMode no_tangents;
  NoGradGuard no_grad;  // an in-place update is outside the graph, its tangent too
  replace_tangent(self, alpha == 1.0 ? a + b : a + b * alpha);
}

void detail::scale_tangent_in_place(const Tensor& self, double factor) {
  if (!forward_mode) return;
  const Tangent a = tangent_in_level(self);
  if (!a) return;
  SuspendForwardMode no_tangents;
  NoGradGuard no_grad;
  replace_tangent(self, a * factor);
}

void detail::copy_tangent_in_place(const Tensor& self, const Tensor& other) {
  if (!forward_mode) return;
  replace_tangent(self, tangent_in_level(other));
}

void detail::drop_tangent(const Tensor& self) {
  auto& slot = self.impl()->tangent;
  if (slot && level.id != 0 && slot->level == level.id) slot.reset();
}

// ---- Tangent ----

Shape Tangent::primal_shape() const {
  const Shape& s = value_.shape();
  return batch_ ? Shape(s.begin() + 1, s.end()) : s;
}

Tangent Tangent::or_zeros(const Tensor& primal) const {
  if (defined()) return *this;
  Shape shape = primal.shape();
  if (batch_) shape.insert(shape.begin(), batch_);
  return Tangent(zeros(shape, {.dtype = primal.dtype()}), batch_);
}

Tangent Tangent::map_directions(const std::function<Tensor(const Tensor&)>& f) const {
  const Shape shape = primal_shape();
  std::vector<Tensor> results;
  results.reserve(batch_);
  for (std::size_t i = 0; i < batch_; ++i) results.push_back(f(reshape(slice(value_, 0, i, i + 1), shape)));
  return Tangent(stack(results, 0), batch_);
}

Tensor detail::aligned(const Tangent& t, std::size_t rank) {
  const std::size_t r = t.primal_dim();
  if (!t.batch() || r >= rank) return t.tensor();
  const Shape& s = t.tensor().shape();
  Shape shape{s[0]};
  for (std::size_t i = r; i < rank; ++i) shape.push_back(1);
  shape.insert(shape.end(), s.begin() + 1, s.end());
  return reshape(t.tensor(), shape);
}

namespace {

std::size_t joint_batch(const Tangent& a, const Tangent& b) { return a.defined() ? a.batch() : b.batch(); }

}  // namespace

Tangent operator+(const Tangent& a, const Tangent& b) {
  if (!b) return a;
  if (!a) return b;
  const std::size_t rank = std::max(a.primal_dim(), b.primal_dim());
  return Tangent(detail::aligned(a, rank) + detail::aligned(b, rank), joint_batch(a, b));
}

Tangent operator-(const Tangent& a, const Tangent& b) {
  if (!b) return a;
  if (!a) return -b;
  const std::size_t rank = std::max(a.primal_dim(), b.primal_dim());
  return Tangent(detail::aligned(a, rank) - detail::aligned(b, rank), joint_batch(a, b));
}

Tangent operator-(const Tangent& a) { return a ? Tangent(-a.tensor(), a.batch()) : a; }

Tangent operator*(const Tangent& a, const Tensor& b) {
  return a ? Tangent(detail::aligned(a, b.dim()) * b, a.batch()) : a;
}
Tangent operator*(const Tensor& a, const Tangent& b) {
  return b ? Tangent(a * detail::aligned(b, a.dim()), b.batch()) : b;
}
Tangent operator*(const Tangent& a, double b) { return a ? Tangent(a.tensor() * b, a.batch()) : a; }
Tangent operator*(double a, const Tangent& b) { return b ? Tangent(a * b.tensor(), b.batch()) : b; }
Tangent operator/(const Tangent& a, const Tensor& b) {
  return a ? Tangent(detail::aligned(a, b.dim()) / b, a.batch()) : a;
}
Tangent operator/(const Tangent& a, double b) { return a ? Tangent(a.tensor() / b, a.batch()) : a; }

}  // namespace matgrad
