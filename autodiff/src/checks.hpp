// The checks of the engine, out of the way of the tape and the walk: the roots of a backward
// pass, saved values changed in place, gradients of the wrong shape, and anomaly mode.
#pragma once

#include "tape.hpp"

#include <span>

namespace matgrad::detail {

// Anomaly mode (DetectAnomalyGuard), per thread.
inline thread_local bool anomaly_mode = false;
inline bool anomaly_enabled() { return anomaly_mode; }

// backward(outputs, seeds): output i is defined, requires grad, and its seed (if any) matches.
void check_root(const Tensor& output, const Tensor& seed, std::size_t i);

// A value a VJP reads must be the one the forward saw (version counters).
void check_saved_versions(const Node& node);

// The gradient a VJP returned for input k, summed over broadcast dimensions to the input's
// shape: the one place where gradient shapes and dtypes are checked.
Tensor fit_to_input(const Node& node, std::size_t k, Tensor g);
// Whether g fits input k as it is (the common case, checked inline).
inline bool fits_input(const Node& node, std::size_t k, const Tensor& g) {
  const TensorImpl& input = *node.inputs[k].input;
  return g.impl()->data.index() == input.data.index() && g.shape() == shape_of(input);
}

// The VJP returned one gradient per input.
[[noreturn]] void fail_grad_count(const Node& node, std::size_t count);
inline void check_grad_count(const Node& node, std::size_t count) {
  if (count != node.inputs.size()) [[unlikely]] fail_grad_count(node, count);
}

// Anomaly mode: an op's output, or a VJP's gradients, hold NaN or ±Inf.
void check_finite_output(const OpInfo& op, const Tensor& output,
                         std::span<const InputRef> inputs, const SourceLocation& site);
void check_finite_grads(const Node& node, const Tensor& g, const Grads& grads);

}  // namespace matgrad::detail
