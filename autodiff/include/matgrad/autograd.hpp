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

struct OpInfo {
  std::string_view name;          // "matmul"
  std::string_view differential;  // "dC = dA B + A dB"
  std::string_view vjp;           // "gA = gC Bᵀ, gB = Aᵀ gC"
  Saves saves = Saves::inputs;

  constexpr bool saves_inputs() const {
    return saves == Saves::inputs || saves == Saves::inputs_and_output;
  }
  constexpr bool saves_output() const {
    return saves == Saves::output || saves == Saves::inputs_and_output;
  }
};

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
}  // namespace detail

// Records `output = op(inputs)` on the tape with its VJP, when grad mode is on and an input
// requires grad; returns output (then requires_grad() is true). Use the tensor returned: it
// holds the record (the one passed in does not). The VJP is a closure taking
// (const Tensor& gC) or (const Tensor& gC, const VjpContext&) and returning one gradient per
// input. Write it with matgrad's own ops so that it can itself be differentiated. The engine
// sums each gradient back over broadcast dimensions to its input's shape.
//
//   // C = A ⊙ B;  dC = dA ⊙ B + A ⊙ dB  =>  gA = gC ⊙ B,  gB = gC ⊙ A
//   return record(mul_info, out, {a, b}, [a, b](const Tensor& g) -> Grads { return {g * b, g * a}; });
template <class F>
Tensor record(const OpInfo& op, Tensor output, std::initializer_list<detail::InputRef> inputs,
              F&& vjp, const SourceLocation& where = SourceLocation::current()) {
  const std::span<const detail::InputRef> list(inputs.begin(), inputs.size());
  if (!detail::should_record(list)) return output;
  return detail::push_record(op, std::move(output), list, Vjp(std::forward<F>(vjp)), where);
}

// The same for an op with a variable number of inputs (concat). A template on the vector type,
// so that a braced list of tensors picks the overload above.
template <class F, class V>
  requires std::is_same_v<V, std::vector<Tensor>>
Tensor record(const OpInfo& op, Tensor output, const V& inputs, F&& vjp,
              const SourceLocation& where = SourceLocation::current()) {
  const std::vector<detail::InputRef> list(inputs.begin(), inputs.end());
  if (!detail::should_record(list)) return output;
  return detail::push_record(op, std::move(output), list, Vjp(std::forward<F>(vjp)), where);
}

// A custom op as a small struct (PyTorch's autograd.Function):
//   struct Swish {
//     static constexpr OpInfo info{"swish", "dC = (σ + A σ(1 − σ)) ⊙ dA", "gA = gC ⊙ (σ + A σ(1 − σ))"};
//     static Tensor forward(const Tensor& x) { return x * sigmoid(x); }
//     static Grads backward(const Tensor& g, const Tensor& x) { ... }
//   };
//   Tensor y = apply<Swish>(x);
// forward runs without recording; backward receives gC and the inputs and returns one gradient
// per input. Errors raised later in backward point at the line that called apply.
namespace detail {
// apply's first input and the caller's line: the default argument of a converting constructor
// is evaluated where the conversion happens, in the call of apply.
struct LocatedTensor {
  LocatedTensor(const Tensor& t, const SourceLocation& at = SourceLocation::current())  // NOLINT
      : tensor(t), where(at) {}
  const Tensor& tensor;
  SourceLocation where;
};
[[noreturn]] void fail_custom_forward(std::string_view op, const SourceLocation& where);
[[noreturn]] void fail_custom_backward(std::string_view op, std::size_t returned, std::size_t inputs);
}  // namespace detail

template <class Op, class... Inputs>
Tensor apply(detail::LocatedTensor first, const Inputs&... rest) {
  static_assert((std::is_same_v<Inputs, Tensor> && ...), "apply: inputs must be Tensors");
  constexpr std::size_t inputs = 1 + sizeof...(Inputs);
  const Tensor& x = first.tensor;
  Tensor output;
  {
    NoGradGuard no_grad;
    output = Op::forward(x, rest...);
  }
  if (!output.defined()) detail::fail_custom_forward(Op::info.name, first.where);
  return record(
      Op::info, std::move(output), {x, rest...},
      [x, rest...](const Tensor& g) -> Grads {
        Grads grads = Op::backward(g, x, rest...);
        if (grads.size() != inputs) detail::fail_custom_backward(Op::info.name, grads.size(), inputs);
        return grads;
      },
      first.where);
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
