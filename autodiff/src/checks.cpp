// The checks of the engine: roots, saved versions, gradient shapes, anomaly mode.
#include "checks.hpp"

#include "matgrad/ops.hpp"

#include <algorithm>
#include <cmath>

namespace matgrad {

bool is_anomaly_enabled() { return detail::anomaly_mode; }
void set_anomaly_enabled(bool enabled) { detail::anomaly_mode = enabled; }

namespace detail {

namespace {

// "shape [3, 4], range [-1.5, 2]" or, with non-finite values, how many there are.
std::string describe_values(const Tensor& t) {
  return t.visit_any_dtype([&](const auto& x) {
    double lo = INFINITY, hi = -INFINITY;
    std::size_t nan = 0, inf = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double v = x.data()[i];
      if (std::isnan(v)) {
        ++nan;
      } else {
        inf += std::isinf(v) ? 1 : 0;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    std::string text = fmt::format("shape {}", to_string(t.shape()));
    if (nan + inf < x.size()) text += fmt::format(", range [{:.6g}, {:.6g}]", lo, hi);
    if (nan) text += fmt::format(", {} NaN", nan);
    if (inf) text += fmt::format(", {} ±Inf", inf);
    return text;
  });
}

bool all_finite(const Tensor& t) {
  return t.visit_any_dtype([](const auto& x) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x.data()[i])) return false;
    }
    return true;
  });
}

}  // namespace

void check_root(const Tensor& output, const Tensor& seed, std::size_t i) {
  if (!output.defined()) fail<AutogradError>("backward: output {} is an undefined tensor", i);
  if (!output.requires_grad()) {
    fail<AutogradError>(
        "backward: output {} of shape {} does not require grad and has no recorded history "
        "(was it computed under NoGradGuard, or from tensors without requires_grad?)",
        i, to_string(output.shape()));
  }
  if (!seed.defined()) {
    if (output.numel() != 1) {
      fail<AutogradError>(
          "backward: output {} has shape {}; a gradient seed can be implied only for a "
          "one-element output, so pass a seed of that shape",
          i, to_string(output.shape()));
    }
    return;
  }
  if (seed.shape() != output.shape()) {
    fail<ShapeError>("backward: seed of shape {} for output {} of shape {}", to_string(seed.shape()),
                     i, to_string(output.shape()));
  }
  if (seed.dtype() != output.dtype()) {
    fail<DTypeError>("backward: seed of dtype {} for output {} of dtype {}", dtype_name(seed.dtype()),
                     i, dtype_name(output.dtype()));
  }
}

void check_saved_versions(const Node& node) {
  auto fail_modified = [&](const std::string& which, const Shape& shape, std::uint64_t then,
                           std::uint64_t now) {
    fail<AutogradError>(
        "backward: {} of '{}' (shape {}) was modified in place after '{}' saved it for "
        "backward at {}:{}: it was at version {} then and is at version {} now, so the "
        "gradient would be wrong. Make in-place changes (optimiser steps, add_, mutable_data) "
        "after backward(), or change a clone() instead",
        which, node.op->name, to_string(shape), node.op->name, node.where.file, node.where.line,
        then, now);
  };
  for (std::size_t k = 0; k < node.inputs.size(); ++k) {
    const Edge& e = node.inputs[k];
    if (e.saved && e.input && e.input->version() != e.version) {
      fail_modified(fmt::format("input {}", k), shape_of(*e.input), e.version,
                    e.input->version());
    }
  }
  if (node.op->saves_output() && node.output->version() != node.output_version) {
    fail_modified("the output", node.output_shape(), node.output_version, node.output->version());
  }
}

Tensor fit_to_input(const Node& node, std::size_t k, Tensor g) {
  const TensorImpl& input = *node.inputs[k].input;
  if (g.dtype() != dtype_of(input)) {
    fail<DTypeError>("{}: the VJP returned a {} gradient for input {} of dtype {}", node.op->name,
                     dtype_name(g.dtype()), k, dtype_name(dtype_of(input)));
  }
  const Shape& shape = shape_of(input);
  if (g.shape() == shape) return g;
  // A broadcast input gets a gradient of the output's shape; nothing else is acceptable.
  if (g.shape() != node.output_shape()) {
    fail<ShapeError>(
        "{}: the VJP returned a gradient of shape {} for input {} of shape {} (output shape {})",
        node.op->name, to_string(g.shape()), k, to_string(shape), to_string(node.output_shape()));
  }
  return sum_to_size(g, shape);
}

void fail_grad_count(const Node& node, std::size_t count) {
  const std::size_t inputs = node.inputs.size();
  fail<Error>("{}: its VJP (given to record() at {}:{}) returned {} gradient{} for {} input{}; a "
              "VJP returns one per input, in order (an undefined Tensor for none)",
              node.op->name, node.where.file, node.where.line, count, count == 1 ? "" : "s",
              inputs, inputs == 1 ? "" : "s");
}

// apply<Op>: the user's forward or backward is at fault, so the message names it.
void fail_custom_forward(std::string_view op, const SourceLocation& where) {
  fail<Error>("{}: the custom op's forward returned an undefined tensor (apply at {}:{}); forward "
              "must return the op's output",
              op, where.file, where.line);
}

// Called from the VJP, where CallSite holds the record's line (the call of apply).
void fail_custom_backward(std::string_view op, std::size_t returned, std::size_t inputs) {
  const SourceLocation* where = CallSite::current();
  fail<Error>("{}: the custom op's backward returned {} gradient{} for its {} input{} (apply at "
              "{}:{}); backward returns one gradient per input of forward, in order (an "
              "undefined Tensor for an input without one)",
              op, returned, returned == 1 ? "" : "s", inputs, inputs == 1 ? "" : "s",
              where ? where->file : "?", where ? where->line : 0);
}

void check_finite_output(const OpInfo& op, const Tensor& output,
                         std::span<const InputRef> inputs, const SourceLocation& site) {
  if (all_finite(output)) return;
  std::string inputs_text;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& input = inputs[k];
    if (input.defined()) inputs_text += fmt::format("\n  input {}: {}", k, describe_values(input));
  }
  fail<AutogradError>("anomaly: '{}' produced a non-finite output ({}){}\n  recorded at {}:{}",
                      op.name, describe_values(output), inputs_text, site.file, site.line);
}

void check_finite_grads(const Node& node, const Tensor& g, const Grads& grads) {
  for (std::size_t k = 0; k < grads.size(); ++k) {
    if (!grads[k].defined() || all_finite(grads[k])) continue;
    fail<AutogradError>(
        "anomaly: the VJP of '{}' produced a non-finite gradient for input {} ({}) from an "
        "incoming gradient with {}\n  recorded at {}:{}",
        node.op->name, k, describe_values(grads[k]), describe_values(g), node.where.file,
        node.where.line);
  }
}

}  // namespace detail
}  // namespace matgrad
