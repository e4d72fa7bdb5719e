// The tape: a flat, per-thread list of op records in the order they ran. Private to the engine.
#pragma once

#include "matgrad/autograd.hpp"

#include <memory>
#include <vector>

namespace matgrad::detail {

// Where a gradient for one input of a record goes.
struct Edge {
  std::shared_ptr<TensorImpl> leaf;  // a leaf that requires grad: accumulate into it
  Node* node = nullptr;              // an earlier record's output: flow on through it
  Shape shape;                       // the input's shape, which its gradient must have
  DType dtype = DType::float32;
  std::weak_ptr<TensorImpl> constant;  // an input without grad, for to_dot and tape_listing
  // When the op saves its inputs: the input and its version then, to catch in-place changes.
  std::weak_ptr<TensorImpl> saved;
  std::uint64_t saved_version = 0;
};

struct Tape;

struct Node {
  const OpInfo* op = nullptr;
  Tape* tape = nullptr;
  std::size_t index = 0;  // position on the tape, kept current when the tape is compacted
  std::weak_ptr<TensorImpl> output;
  Shape output_shape;
  std::shared_ptr<TensorImpl> saved_output;  // only when op->saves_output(), until released
  std::uint64_t saved_output_version = 0;
  std::vector<Edge> inputs;
  Vjp vjp;
  bool released = false;  // backward ran through it without retain_graph
  double grad_norm = -1;  // ‖gC‖ at the last backward under RecordGradNorms (graph.hpp)
  SourceLocation where;

  // A record stays on the tape while its output is alive outside the record itself, or while
  // a later live record feeds a gradient into it.
  bool output_alive() const { return output.use_count() > (saved_output ? 1 : 0); }
  void release();
};

struct Tape {
  std::vector<std::unique_ptr<Node>> nodes;
  std::size_t collect_at = kMinCollect;  // size at which the next push first compacts
  int backward_depth = 0;                // no compaction while a backward pass runs

  static constexpr std::size_t kMinCollect = 1024;

  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;
  ~Tape();  // tensors still alive keep their values and lose their history

  Node& push();
  void collect();  // drops records that can no longer receive a gradient
};

Tape& current_tape();

// RecordGradNorms (graph.cpp): whether backward stores ‖gC‖ on the records, and the norm.
bool grad_norms_enabled();
double frobenius_norm(const Tensor& t);

}  // namespace matgrad::detail
