// The tape: a flat, per-thread list of op records in the order they ran. Private to the engine.
#pragma once

#include "matgrad/autograd.hpp"

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace matgrad::detail {

// Where a gradient for one input of a record goes.
struct Edge {
  Node* node = nullptr;              // an earlier record's output: flow on through it
  std::shared_ptr<TensorImpl> leaf;  // a leaf that requires grad: accumulate into it
  Shape shape;                       // the input's shape, which its gradient must have
  DType dtype = DType::float32;
  std::weak_ptr<TensorImpl> constant;  // an input without grad, for to_dot and tape_listing
  // When the op saves its inputs: the input and its version then, to catch in-place changes.
  std::weak_ptr<TensorImpl> saved;
  std::uint64_t saved_version = 0;
};

struct Tape;

// A record's input edges: up to kInline of them inside the record itself (every op but the
// few with three or more inputs), so reading a record's edges (the reverse walk, compaction)
// touches no second allocation, and recording allocates no edge list.
class EdgeList {
 public:
  static constexpr std::size_t kInline = 2;

  EdgeList() = default;
  EdgeList(const EdgeList&) = delete;
  EdgeList& operator=(const EdgeList&) = delete;

  void reserve(std::size_t n) {
    if (n > kInline) heap_.reserve(n);
  }
  void push_back(Edge&& edge) {
    if (heap_.capacity() == 0 && size_ < kInline) {
      inline_[size_++] = std::move(edge);
      return;
    }
    if (heap_.empty()) {
      for (std::size_t i = 0; i < size_; ++i) heap_.push_back(std::move(inline_[i]));
    }
    heap_.push_back(std::move(edge));
    ++size_;
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Edge& operator[](std::size_t i) { return begin()[i]; }
  const Edge& operator[](std::size_t i) const { return begin()[i]; }
  Edge* begin() { return heap_.empty() ? inline_ : heap_.data(); }
  Edge* end() { return begin() + size_; }
  const Edge* begin() const { return heap_.empty() ? inline_ : heap_.data(); }
  const Edge* end() const { return begin() + size_; }

 private:
  friend void prefetch_for_collect(const Node* node);
  std::size_t size_ = 0;
  std::vector<Edge> heap_;
  Edge inline_[kInline];
};

struct Node {
  // User-provided, so that make_unique<Node>() only runs the member initialisers below instead
  // of first zeroing the whole record (value-initialisation).
  Node() {}  // NOLINT(modernize-use-equals-default)

  // What compaction reads comes first (index, output, saved_output, the inputs' producers),
  // so that it touches few of the record's cache lines (see prefetch_for_collect).
  std::size_t index = 0;  // position on the tape, kept current when the tape is compacted
  std::weak_ptr<TensorImpl> output;
  std::shared_ptr<TensorImpl> saved_output;  // only when op->saves_output(), until released
  const void* output_address = nullptr;  // output's object, only ever prefetched (see prefetch)
  const OpInfo* op = nullptr;
  EdgeList inputs;
  Shape output_shape;
  std::uint64_t saved_output_version = 0;
  Vjp vjp;
  bool released = false;  // backward ran through it without retain_graph
  bool retains_grad = false;  // the output's retain_grad() was called: backward keeps its grad
  double grad_norm = -1;  // ‖gC‖ at the last backward under RecordGradNorms (graph.hpp)
  SourceLocation where;

  // A record stays on the tape while its output is alive outside the record itself, or while
  // a later live record feeds a gradient into it.
  bool output_alive() const { return output.use_count() > (saved_output ? 1 : 0); }
  void release();
};

// Asks for a record's cache lines ahead of the reverse walk and the compaction, which visit
// records one after another; the records are separate allocations, which the hardware cannot
// predict, and on long graphs the walks otherwise wait on memory for most of their time.
inline void prefetch(const Node* node) {
  const char* p = reinterpret_cast<const char*>(node);
  for (std::size_t offset = 0; offset < sizeof(Node); offset += 64) __builtin_prefetch(p + offset);
}

// Only the lines compaction reads: the record's header and its inline edges' producers.
inline void prefetch_for_collect(const Node* node) {
  __builtin_prefetch(node);
  for (const Edge& edge : node->inputs.inline_) __builtin_prefetch(&edge.node);
}

// The shared count of a record's output: 8 bytes before the object in make_shared's single
// allocation. Integer arithmetic, as the object may be gone (a prefetch never faults).
inline void prefetch_output_count(const Node* node) {
  __builtin_prefetch(
      reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(node->output_address) - 8));
}

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

// The record that computed `t` when it is on `tape`; null for a leaf, and for a tensor whose
// recording thread has ended (a constant now). A record on another thread's tape is never
// read, as that thread may free it at any moment: `who` and `what` ("matmul", "an input")
// name it in the AutogradError raised instead.
[[noreturn]] void fail_other_thread(std::string_view who, std::string_view what);
inline Node* record_of(const TensorImpl& t, const Tape& tape, std::string_view who,
                       std::string_view what) {
  const Tape* owner = t.recorded_on.load(std::memory_order_acquire);
  if (owner == &tape) return t.node;
  if (owner) fail_other_thread(who, what);
  return nullptr;
}

// RecordGradNorms (graph.cpp): whether backward stores ‖gC‖ on the records, and the norm.
bool grad_norms_enabled();
double frobenius_norm(const Tensor& t);

}  // namespace matgrad::detail
