// Showing the recorded graph: Graphviz DOT from an output back to its leaves (the chain-rule
// tree), and a listing of the tape records with the gradient norm that flowed through each.
//
// backward() without retain_graph releases the records it runs through, and a released record
// no longer holds its closure and its constant inputs. Draw or list a graph before backward, or run backward with
// retain_graph = true; both functions raise an AutogradError that says so otherwise.
//
//   Tensor loss = ...;
//   std::string dot = to_dot(loss, {.names = {{"W", w}, {"X", x}}, .vjp_labels = true});
//   RecordGradNorms norms;                  // backward stores ‖gC‖ on each record
//   loss.backward({}, /*retain_graph=*/true);
//   fmt::print("{}", tape_listing(loss, {.names = {{"W", w}}}));
#pragma once

#include "matgrad/compare.hpp"
#include "matgrad/tensor.hpp"

#include <string>

namespace matgrad {

struct DotOptions {
  // Labels for leaves and intermediate results ("W1", "Z1"); others are labelled by their role.
  NamedTensors names;
  // Label each edge with the part of the consumer's VJP rule that sends the gradient down it.
  bool vjp_labels = false;
  // Print each op's differential under its name.
  bool differentials = false;
  std::string title;
};

// The graph behind `output` as a Graphviz digraph: one node per
// record, with its op name and output shape; parameters (leaves that require grad) as filled
// boxes, constants (inputs that do not) as dashed boxes. Arrows run from each result to its
// inputs, the way the gradient flows. Render with `dot -Tsvg graph.dot -o graph.svg`.
std::string to_dot(const Tensor& output, const DotOptions& options = {});

struct TapeListingOptions {
  NamedTensors names;  // as for to_dot
  bool rules = false;  // add each op's VJP rule
};

// The records behind `output` in the order they ran: index, op, output shape, inputs and, when
// backward ran under RecordGradNorms, the Frobenius norm ‖gC‖ of the gradient that reached
// each record (useful to spot vanishing or exploding gradients).
std::string tape_listing(const Tensor& output, const TapeListingOptions& options = {});

// ---- gradient norms (per thread, off by default) ----
bool is_grad_norm_recording_enabled();
void set_grad_norm_recording_enabled(bool enabled);

// While alive, backward() and grad() store on each record the norm of the gradient that
// reached its output (one pass over each gradient, so it is opt-in).
class RecordGradNorms {
 public:
  RecordGradNorms() : previous_(is_grad_norm_recording_enabled()) {
    set_grad_norm_recording_enabled(true);
  }
  ~RecordGradNorms() { set_grad_norm_recording_enabled(previous_); }
  RecordGradNorms(const RecordGradNorms&) = delete;
  RecordGradNorms& operator=(const RecordGradNorms&) = delete;

 private:
  bool previous_;
};

}  // namespace matgrad
