// The autograd engine's public face: grad mode, the tape record an op appends, backward and
// the functional grad().
//
// Every differentiable op computes its output, then calls record(): when grad mode is on and
// an input requires grad, one record joins the tape with the op's inputs and its
// vector-Jacobian product (VJP). The tape is the graph of records itself: the output holds its
// record, a record holds its inputs, and a record is freed with the last tensor or record that
// holds it. backward() walks the records reachable from its outputs, latest first; a record
// runs its VJP only when a gradient reaches its output.
#pragma once

#include "matgrad/call_site.hpp"
#include "matgrad/small_vector.hpp"
#include "matgrad/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <new>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace matgrad {

// ---- grad mode (per thread) ----
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

// Sets grad mode for a scope and restores the previous mode at its end.
class AutoGradMode {
 public:
  explicit AutoGradMode(bool enabled) : previous_(is_grad_enabled()) { set_grad_enabled(enabled); }
  ~AutoGradMode() { set_grad_enabled(previous_); }
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;

 private:
  bool previous_;
};

// Ops in its scope record nothing (evaluation, optimiser updates).
class NoGradGuard : public AutoGradMode {
 public:
  NoGradGuard() : AutoGradMode(false) {}
};

// ---- anomaly detection (per thread, off by default) ----
// While on, the first op whose output, or whose VJP's gradient, holds NaN or ±Inf raises an
// AutogradError naming the op and the shapes and ranges of its inputs and outputs.
bool is_anomaly_enabled();
void set_anomaly_enabled(bool enabled);

class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : previous_(is_anomaly_enabled()) { set_anomaly_enabled(true); }
  ~DetectAnomalyGuard() { set_anomaly_enabled(previous_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_;
};

// ---- the description of an op, one line of the derivative table ----

// What an op's VJP reads besides gC. Saved inputs are checked at backward for in-place changes
// made after the op ran (their version counters); a saved output is handed to the VJP as
// VjpContext::output.
enum class Saves { inputs, output, inputs_and_output, nothing };

struct OpInfo;

namespace detail {
// Links an OpInfo into the registry of ops for as long as it lives (registered_ops()).
class OpRegistration {
 public:
  explicit OpRegistration(const OpInfo* op);
  ~OpRegistration();
  OpRegistration(const OpRegistration&) = delete;
  OpRegistration& operator=(const OpRegistration&) = delete;

 private:
  const OpInfo* op_;
};
}  // namespace detail

// One line of the derivative table, written beside the op's code as
//   static const OpInfo mul_info{"mul", "dC = dA ⊙ B + A ⊙ dB", "tC = tA ⊙ B + A ⊙ tB",
//                                "gA = gC ⊙ B, gB = gC ⊙ A", "C = A ⊙ B"};
// the matrix differential, then the two rules read off it: the JVP (the differential pushed
// forward, tangents tX in place of dX) and the VJP; then, optionally, what the op computes
// (the forward equation, for explain() in <matgrad/explain.hpp>) and what its VJP saves. The
// inputs are the letters whose gradients the VJP gives, in order (gA, gB: A then B); the
// output is the letter left of "=" in the forward equation. Every OpInfo registers itself with
// the file and line it is written on: the op table in the docs is printed from that registry
// (scripts/op-table), so it cannot miss an op.
struct OpInfo {
  std::string_view name;          // "gemm"
  std::string_view differential;  // "dC = dA B + A dB"
  std::string_view jvp;           // "tC = tA B + A tB" (empty for an op without one)
  std::string_view vjp;           // "gA = gC Bᵀ, gB = Aᵀ gC"
  Saves saves = Saves::inputs;
  std::string_view equation;      // "C = A B": the forward equation, in the letters above
  SourceLocation defined_at;      // where this OpInfo is written
  detail::OpRegistration registration{this};

  OpInfo(std::string_view name, std::string_view differential, std::string_view jvp,
         std::string_view vjp, Saves saves = Saves::inputs, std::string_view equation = {},
         SourceLocation defined_at = SourceLocation::current())
      : name(name), differential(differential), jvp(jvp), vjp(vjp), saves(saves),
        equation(equation), defined_at(defined_at) {}
  OpInfo(std::string_view name, std::string_view differential, std::string_view jvp,
         std::string_view vjp, std::string_view equation, Saves saves = Saves::inputs,
         SourceLocation defined_at = SourceLocation::current())
      : OpInfo(name, differential, jvp, vjp, saves, equation, defined_at) {}
  // {name, differential, vjp} would read the VJP as the JVP: give the JVP, or "" for an op
  // without one, in third place.
  OpInfo(std::string_view name, std::string_view differential, std::string_view vjp) = delete;
  OpInfo(std::string_view name, std::string_view differential, std::string_view vjp, Saves saves) = delete;

  constexpr bool saves_inputs() const {
    return saves == Saves::inputs || saves == Saves::inputs_and_output;
  }
  constexpr bool saves_output() const {
    return saves == Saves::output || saves == Saves::inputs_and_output;
  }
};

// Every OpInfo alive in the program (matgrad's own ops and any custom ones), in no particular
// order.
std::vector<const OpInfo*> registered_ops();

// Gradients returned by a VJP, one per input in order; an undefined Tensor means "none". Up to
// three live inside it (every op but concat), so a VJP's result allocates nothing. Built like a
// vector: return {g * b, g * a};
using Grads = SmallVector<Tensor, 3>;

// Which inputs need a gradient; a VJP may skip the others (they are discarded anyway). The
// mask holds the first kBits inputs; any later input (concat of many tensors) counts as needed.
class Needs {
 public:
  static constexpr std::size_t kBits = 32;
  explicit Needs(std::uint32_t mask = ~0u) : mask_(mask) {}
  bool operator[](std::size_t input) const { return input >= kBits || ((mask_ >> input) & 1u); }

 private:
  std::uint32_t mask_;
};

struct VjpContext {
  Tensor output;  // the op's output C, defined when the op's OpInfo saves it
  Needs needs;
};

// ---- what a JVP rule sees (forward mode, <matgrad/forward_ad.hpp>) ----

// The tangent of one input of an op: absent, which means zero and costs nothing, or a tensor
// shaped like the input. Arithmetic with tensors and scalars keeps absent tangents absent, so
// a rule is written as its differential reads: dC = dA ⊙ B + A ⊙ dB is `tA * b + a * tB`.
//
// Under jacfwd and hessian the tangents of many directions travel together: the tensor then
// has a leading dimension of batch() directions, [batch()] ++ the input's shape. Tangent
// arithmetic and map() handle that; a rule that works on tensor() itself must too.
class Tangent {
 public:
  Tangent() = default;  // absent
  explicit Tangent(Tensor value, std::size_t batch = 0) : value_(std::move(value)), batch_(batch) {}

  bool defined() const { return value_.defined(); }
  explicit operator bool() const { return defined(); }
  const Tensor& tensor() const { return value_; }
  std::size_t batch() const { return batch_; }  // 0: one direction
  // The rank and shape of the input it is the tangent of (without the batch dimension).
  std::size_t primal_dim() const { return value_.dim() - (batch_ ? 1 : 0); }
  Shape primal_shape() const;

  // f(tangent) for a linear function f of one direction (an op applied to a tensor shaped like
  // the input); with batched tangents, f is applied to each direction in turn. Absent stays
  // absent.
  template <class F>
  Tangent map(F&& f) const {
    if (!defined()) return *this;
    if (batch_ == 0) return Tangent(f(value_));
    return map_directions(std::function<Tensor(const Tensor&)>(std::forward<F>(f)));
  }
  // This tangent, or zeros shaped like `primal` when absent (for ops such as concat whose
  // output tangent is made of the inputs' tangents side by side).
  Tangent or_zeros(const Tensor& primal) const;

 private:
  Tangent map_directions(const std::function<Tensor(const Tensor&)>& f) const;
  Tensor value_;
  std::size_t batch_ = 0;  // kept by absent tangents too: every tangent of one pass has the same
};

Tangent operator+(const Tangent& a, const Tangent& b);
Tangent operator-(const Tangent& a, const Tangent& b);
Tangent operator-(const Tangent& a);
Tangent operator*(const Tangent& a, const Tensor& b);
Tangent operator*(const Tensor& a, const Tangent& b);
Tangent operator*(const Tangent& a, double b);
Tangent operator*(double a, const Tangent& b);
Tangent operator/(const Tangent& a, const Tensor& b);
Tangent operator/(const Tangent& a, double b);

// The tangents of all inputs of an op, for a rule over a variable number of them (concat).
class Tangents {
 public:
  Tangents(std::span<const Tangent> tangents, std::size_t batch) : tangents_(tangents), batch_(batch) {}
  std::size_t size() const { return tangents_.size(); }
  const Tangent& operator[](std::size_t k) const { return tangents_[k]; }
  std::size_t batch() const { return batch_; }

 private:
  std::span<const Tangent> tangents_;
  std::size_t batch_;
};

struct JvpContext {
  const Tensor& output;  // the op's output C
};

// A move-only callable Grads(const Tensor& gC, const VjpContext&) that stores small closures
// (up to four captured tensors) inline, so recording an op allocates no closure.
class Vjp {
 public:
  Vjp() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Vjp>>>
  Vjp(F&& f) {  // NOLINT: implicit from any VJP closure
    using Fn = std::decay_t<F>;
    if constexpr (sizeof(Fn) <= kInline && alignof(Fn) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<Fn>) {
      new (buffer_) Fn(std::forward<F>(f));
      ops_ = &inline_ops<Fn>;
    } else {
      *reinterpret_cast<Fn**>(buffer_) = new Fn(std::forward<F>(f));
      ops_ = &heap_ops<Fn>;
    }
  }
  Vjp(Vjp&& other) noexcept { take(other); }
  Vjp& operator=(Vjp&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  ~Vjp() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  Grads operator()(const Tensor& grad, const VjpContext& ctx) const {
    return ops_->call(buffer_, grad, ctx);
  }
  void reset() {
    if (ops_) ops_->destroy(buffer_);
    ops_ = nullptr;
  }

 private:
  static constexpr std::size_t kInline = 64;
  struct Ops {
    Grads (*call)(const unsigned char*, const Tensor&, const VjpContext&);
    void (*move)(unsigned char* from, unsigned char* to);
    void (*destroy)(unsigned char*);
  };
  template <class Fn>
  static Grads invoke(const Fn& fn, const Tensor& grad, const VjpContext& ctx) {
    if constexpr (std::is_invocable_v<const Fn&, const Tensor&, const VjpContext&>) {
      return fn(grad, ctx);
    } else {
      return fn(grad);
    }
  }
  template <class Fn>
  static constexpr Ops inline_ops{
      [](const unsigned char* b, const Tensor& g, const VjpContext& c) {
        return invoke(*std::launder(reinterpret_cast<const Fn*>(b)), g, c);
      },
      [](unsigned char* from, unsigned char* to) {
        Fn* f = std::launder(reinterpret_cast<Fn*>(from));
        new (to) Fn(std::move(*f));
        f->~Fn();
      },
      [](unsigned char* b) { std::launder(reinterpret_cast<Fn*>(b))->~Fn(); }};
  template <class Fn>
  static constexpr Ops heap_ops{
      [](const unsigned char* b, const Tensor& g, const VjpContext& c) {
        return invoke(**reinterpret_cast<Fn* const*>(b), g, c);
      },
      [](unsigned char* from, unsigned char* to) {
        *reinterpret_cast<Fn**>(to) = *reinterpret_cast<Fn**>(from);
      },
      [](unsigned char* b) { delete *reinterpret_cast<Fn**>(b); }};
  void take(Vjp& other) noexcept {
    ops_ = other.ops_;
    if (ops_) ops_->move(other.buffer_, buffer_);
    other.ops_ = nullptr;
  }

  alignas(std::max_align_t) unsigned char buffer_[kInline];
  const Ops* ops_ = nullptr;
};

namespace detail {
// An input listed to record(): a reference, so that listing the inputs copies no tensor handle
// (each copy would be two atomic reference-count updates).
class InputRef {
 public:
  InputRef(const Tensor& tensor) : tensor_(&tensor) {}  // NOLINT: implicit from any tensor
  operator const Tensor&() const { return *tensor_; }   // NOLINT
  const Tensor& get() const { return *tensor_; }

 private:
  const Tensor* tensor_;
};

Tensor push_record(const OpInfo& op, Tensor output, std::span<const InputRef> inputs, Vjp vjp,
                   const SourceLocation& where);
bool should_record(std::span<const InputRef> inputs);

// Whether tangents propagate on this thread: a dual level is open and no JVP is running (a
// JVP's own ops compute no tangents: there is one level at a time). record() reads only this
// when forward mode is off.
inline thread_local bool forward_mode = false;

// Turns tangent propagation off for a scope: the JVPs' own ops, apply<Op>'s forward.
class SuspendForwardMode {
 public:
  SuspendForwardMode() : previous_(forward_mode) { forward_mode = false; }
  ~SuspendForwardMode() { forward_mode = previous_; }
  SuspendForwardMode(const SuspendForwardMode&) = delete;
  SuspendForwardMode& operator=(const SuspendForwardMode&) = delete;

 private:
  bool previous_;
};

// A JVP rule in one of the forms record() takes, called through a plain function pointer:
//   Tangent(const Tangent& tA[, const Tangent& tB[, const Tangent& tC]][, const JvpContext&])
//   Tangent(const Tangents& t[, const JvpContext&])
// one tangent per input, in order (or all of them), and the op's output in the context. A rule
// may return a Tensor instead of a Tangent (one direction per input, or batched like them).
template <class F>
concept JvpRule =
    std::is_invocable_v<const F&, const Tangents&, const JvpContext&> ||
    std::is_invocable_v<const F&, const Tangents&> ||
    std::is_invocable_v<const F&, const Tangent&, const JvpContext&> ||
    std::is_invocable_v<const F&, const Tangent&> ||
    std::is_invocable_v<const F&, const Tangent&, const Tangent&, const JvpContext&> ||
    std::is_invocable_v<const F&, const Tangent&, const Tangent&> ||
    std::is_invocable_v<const F&, const Tangent&, const Tangent&, const Tangent&, const JvpContext&> ||
    std::is_invocable_v<const F&, const Tangent&, const Tangent&, const Tangent&>;

template <class F>
concept VjpRule = std::is_invocable_v<const F&, const Tensor&, const VjpContext&> ||
                  std::is_invocable_v<const F&, const Tensor&>;

class JvpRef {
 public:
  JvpRef() = default;  // an op without a JVP
  template <JvpRule F>
  explicit JvpRef(const F& rule) : rule_(&rule), call_(&call<F>) {}

  explicit operator bool() const { return call_ != nullptr; }
  // Fails (naming the op) when the rule's arity is not the op's number of inputs.
  Tangent operator()(std::string_view op, const Tangents& t, const JvpContext& ctx) const {
    return call_(rule_, op, t, ctx);
  }

 private:
  [[noreturn]] static void fail_arity(std::string_view op, std::size_t arity, std::size_t inputs);
  template <class R>
  static Tangent as_tangent(R&& result, std::size_t batch) {
    if constexpr (std::is_convertible_v<R, Tangent>) {
      return std::forward<R>(result);
    } else {
      return Tangent(Tensor(std::forward<R>(result)), batch);
    }
  }
  template <class F>
  static Tangent call(const void* rule, std::string_view op, const Tangents& t,
                      const JvpContext& ctx) {
    const F& f = *static_cast<const F*>(rule);
    auto arity = [&](std::size_t n) {
      if (t.size() != n) fail_arity(op, n, t.size());
    };
    using T = const Tangent&;
    using C = const JvpContext&;
    if constexpr (std::is_invocable_v<const F&, const Tangents&, C>) {
      return as_tangent(f(t, ctx), t.batch());
    } else if constexpr (std::is_invocable_v<const F&, const Tangents&>) {
      return as_tangent(f(t), t.batch());
    } else if constexpr (std::is_invocable_v<const F&, T, C>) {
      arity(1);
      return as_tangent(f(t[0], ctx), t.batch());
    } else if constexpr (std::is_invocable_v<const F&, T>) {
      arity(1);
      return as_tangent(f(t[0]), t.batch());
    } else if constexpr (std::is_invocable_v<const F&, T, T, C>) {
      arity(2);
      return as_tangent(f(t[0], t[1], ctx), t.batch());
    } else if constexpr (std::is_invocable_v<const F&, T, T>) {
      arity(2);
      return as_tangent(f(t[0], t[1]), t.batch());
    } else if constexpr (std::is_invocable_v<const F&, T, T, T, C>) {
      arity(3);
      return as_tangent(f(t[0], t[1], t[2], ctx), t.batch());
    } else {
      arity(3);
      return as_tangent(f(t[0], t[1], t[2]), t.batch());
    }
  }

  const void* rule_ = nullptr;
  Tangent (*call_)(const void*, std::string_view, const Tangents&, const JvpContext&) = nullptr;
};

// Gives `output` its tangent from the inputs' tangents by the JVP (forward.cpp); returns the
// output, copied first if it is one of the inputs. Fails, naming the op, when an input has a
// tangent and the op has no JVP.
Tensor push_tangent(const OpInfo& op, Tensor output, std::span<const InputRef> inputs,
                    const JvpRef& jvp, const SourceLocation& where);

// The body of every record() overload below.
template <class F>
Tensor record_rules(const OpInfo& op, Tensor output, std::span<const InputRef> list,
                    const JvpRef& jvp, F&& vjp, const SourceLocation& where) {
  if (forward_mode) [[unlikely]] {
    if (should_record(list)) output = push_record(op, std::move(output), list, Vjp(std::forward<F>(vjp)), where);
    return push_tangent(op, std::move(output), list, jvp, where);
  }
  if (!should_record(list)) return output;
  return push_record(op, std::move(output), list, Vjp(std::forward<F>(vjp)), where);
}
}  // namespace detail

// Records `output = op(inputs)` on the tape with its VJP, when grad mode is on and an input
// requires grad, and gives it its tangent by the JVP, when a dual level is open and an input
// has a tangent; returns output (then requires_grad() is true, or it has a tangent). Use the
// tensor returned: it holds the record (the one passed in does not).
//
// The JVP takes the inputs' tangents (absent ones mean zero: see Tangent) and returns the
// output's; the VJP is a closure taking (const Tensor& gC) or (const Tensor& gC, const
// VjpContext&) and returning one gradient per input. Write both with matgrad's own ops so
// that they can themselves be differentiated (forward over reverse, reverse over forward). The
// engine sums each gradient back over broadcast dimensions to its input's shape, and
// broadcasts each tangent to the output's shape, so both rules are written as if no
// broadcasting happened. The JVP runs at once, while the op is being recorded: it may capture
// the op's locals by reference.
//
// `where` is the user's line, for errors raised later in backward: every op takes
// `caller = SourceLocation::current()` and passes it here, and an op composed of others passes
// its caller on to them (mean(a, caller) = div(sum(a, caller), n, caller)). The ops that a VJP
// runs during a create_graph pass, and those a JVP runs, are recorded at the line of the
// record they serve.
//
//   // C = A ⊙ B;  dC = dA ⊙ B + A ⊙ dB  =>  tC = tA ⊙ B + A ⊙ tB,  gA = gC ⊙ B,  gB = gC ⊙ A
//   return record(mul_info, out, {a, b},
//                 [&](const Tangent& ta, const Tangent& tb) { return ta * b + a * tb; },
//                 [a, b](const Tensor& g) -> Grads { return {g * b, g * a}; }, caller);
template <detail::JvpRule J, detail::VjpRule F>
Tensor record(const OpInfo& op, Tensor output, std::initializer_list<detail::InputRef> inputs,
              const J& jvp, F&& vjp, const SourceLocation& where = SourceLocation::current()) {
  const std::span<const detail::InputRef> list(inputs.begin(), inputs.size());
  return detail::record_rules(op, std::move(output), list, detail::JvpRef(jvp), std::forward<F>(vjp), where);
}

// An op without a JVP (a custom op that gives only its VJP): forward mode through it is an
// error that names it.
template <detail::VjpRule F>
Tensor record(const OpInfo& op, Tensor output, std::initializer_list<detail::InputRef> inputs,
              F&& vjp, const SourceLocation& where = SourceLocation::current()) {
  const std::span<const detail::InputRef> list(inputs.begin(), inputs.size());
  return detail::record_rules(op, std::move(output), list, detail::JvpRef(), std::forward<F>(vjp), where);
}

// The same for an op with a variable number of inputs (concat). A template on the vector type,
// so that a braced list of tensors picks the overloads above.
template <detail::JvpRule J, detail::VjpRule F, class V>
  requires std::is_same_v<V, std::vector<Tensor>>
Tensor record(const OpInfo& op, Tensor output, const V& inputs, const J& jvp, F&& vjp,
              const SourceLocation& where = SourceLocation::current()) {
  const std::vector<detail::InputRef> list(inputs.begin(), inputs.end());
  return detail::record_rules(op, std::move(output), list, detail::JvpRef(jvp), std::forward<F>(vjp), where);
}

// The first input of apply<Op>, remembering the line apply was called on (a variadic function
// cannot take a defaulted SourceLocation after its inputs; the conversion to this type can).
struct FirstInput {
  FirstInput(const Tensor& tensor, SourceLocation where = SourceLocation::current())  // NOLINT
      : tensor(tensor), where(where) {}
  const Tensor& tensor;
  SourceLocation where;
};

namespace detail {
template <class Op, class... Inputs>
concept HasJvp = requires(const Inputs&... inputs) {
  Op::jvp((static_cast<void>(inputs), std::declval<const Tangent&>())..., inputs...);
};
}  // namespace detail

// A custom op as a small struct (PyTorch's autograd.Function):
//   struct Swish {  // C = A ⊙ σ(A)
//     static inline const OpInfo info{"swish", "dC = (σ + A σ(1 − σ)) ⊙ dA",
//                                     "tC = (σ + A σ(1 − σ)) ⊙ tA", "gA = gC ⊙ (σ + A σ(1 − σ))"};
//     static Tensor forward(const Tensor& x) { return x * sigmoid(x); }
//     static Tangent jvp(const Tangent& tx, const Tensor& x) { ... }   // optional
//     static Grads backward(const Tensor& g, const Tensor& x) { ... }
//   };
//   Tensor y = apply<Swish>(x);
// forward runs without recording and without tangents; jvp receives one tangent per input,
// then the inputs; backward receives gC and the inputs and returns one gradient per input.
// Without a jvp, forward mode through the op is an error that names it. Errors raised later in
// backward point at the line that called apply.
namespace detail {
[[noreturn]] void fail_custom_forward(std::string_view op, const SourceLocation& where);
[[noreturn]] void fail_custom_backward(std::string_view op, std::size_t returned, std::size_t inputs);
}  // namespace detail

template <class Op, class... Rest>
Tensor apply(FirstInput first, const Rest&... rest) {
  static_assert((std::is_same_v<Rest, Tensor> && ...), "apply: inputs must be Tensors");
  constexpr std::size_t inputs = 1 + sizeof...(Rest);
  const Tensor& a = first.tensor;
  Tensor output;
  {
    NoGradGuard no_grad;
    detail::SuspendForwardMode no_tangents;
    output = Op::forward(a, rest...);
  }
  if (!output.defined()) detail::fail_custom_forward(Op::info.name, first.where);
  auto vjp = [a, rest...](const Tensor& g) -> Grads {
    Grads grads = Op::backward(g, a, rest...);
    if (grads.size() != inputs) detail::fail_custom_backward(Op::info.name, grads.size(), inputs);
    return grads;
  };
  if constexpr (detail::HasJvp<Op, Tensor, Rest...>) {
    auto jvp = [&](const Tangents& t) {
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return Op::jvp(t[I]..., a, rest...);
      }(std::make_index_sequence<inputs>());
    };
    return record(Op::info, std::move(output), {a, rest...}, jvp, std::move(vjp), first.where);
  } else {
    return record(Op::info, std::move(output), {a, rest...}, std::move(vjp), first.where);
  }
}

// ---- running the tape backwards ----

// Accumulates d(sum of seeds · outputs)/d(leaf) into leaf.grad() for every leaf that requires
// grad. A seed may be omitted (undefined) for a one-element output.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds = {},
              bool retain_graph = false, bool create_graph = false);

// Returns d(sum of seeds · outputs)/d(input) for each input, leaving every .grad() untouched.
// An input the outputs do not depend on raises an error unless allow_unused (then its
// gradient is undefined).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& seeds = {}, bool retain_graph = false,
                         bool create_graph = false, bool allow_unused = false);

// Number of records alive in the process: records recorded and not yet freed (a record is freed
// with the last tensor or later record that holds it, whether or not backward ran through it).
std::size_t tape_size();

}  // namespace matgrad
