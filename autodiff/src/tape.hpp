// The tape: the records of the ops, and who holds whom. Private to the engine.
//
// A record (Node) is made by push_record when an op runs with grad mode on and an input that
// requires grad. Ownership runs from the output back to the leaves, as in PyTorch:
//   - the record owns its output tensor's TensorImpl; a Tensor handle to a non-leaf shares the
//     record's reference count (an aliasing shared_ptr), so the handle keeps the record alive;
//   - a record holds each input (Edge::input): a leaf's TensorImpl, or a non-leaf, i.e. its
//     producer's record.
// So a graph lives exactly as long as something outside holds a tensor or record in it, and
// is freed when the last such handle goes, by destroy_record (tape.cpp) without recursion.
// Records are ordered by `sequence`, larger than any of their inputs' (the order of the old
// flat tape, which the walk follows latest first).
#pragma once

#include "matgrad/autograd.hpp"
#include "pool.hpp"

#include <atomic>
#include <cstdint>
#include <memory>

namespace matgrad::detail {

struct Edge {
  // The input, held: a leaf's TensorImpl, or a non-leaf's (whose count is its record's).
  // Undefined for an undefined optional input; dropped at release for constants.
  std::shared_ptr<TensorImpl> input;
  Node* producer = nullptr;  // input->node when the input is a non-leaf that requires grad
  std::uint64_t version = 0;  // the input's version when recorded, if the op saves its inputs
  bool leaf = false;  // a leaf that requires grad: its gradient accumulates into .grad
  bool saved = false;  // the op saves this input: check its version before the VJP

  bool takes_grad() const { return leaf || producer; }
};

struct Node {
  Node() {}  // NOLINT(modernize-use-equals-default): no zero-fill before the initialisers

  std::uint64_t sequence = 0;
  const OpInfo* op = nullptr;
  std::shared_ptr<TensorImpl> output;  // owned; output->node == this
  SmallVector<Edge, 2> inputs;
  Vjp vjp;
  SourceLocation where;
  std::uint64_t output_version = 0;  // when op->saves_output()
  double grad_norm = -1;  // ‖gC‖ at the last backward under RecordGradNorms (graph.hpp)
  bool released = false;  // backward ran through it without retain_graph
  bool retains_grad = false;  // the output's retain_grad() was called: backward keeps its grad
  bool hooked = false;  // the output has had register_hook hooks (on output->hooks, hooks.hpp)

  // Scratch of the one walk (walk.cpp) that has claimed the record: its id, the gradient
  // summed so far, the handle it was reached by (the output as a Tensor, for the VJP), marks.
  std::atomic<std::uint64_t> walk{0};
  Tensor pending;
  const std::shared_ptr<TensorImpl>* handle = nullptr;
  std::uint8_t marks = 0;
  Node* next_orphan = nullptr;  // destroy_record's list of records waiting to be freed

  ~Node();
  const Shape& output_shape() const;
  // Drops what only a VJP needs (the closure with its saved tensors, constant inputs); the
  // inputs that take a gradient stay, so that grad() can tell whether a later pass would run
  // through here and report the second backward.
  void release();
};

// The allocator of records (std::allocate_shared: one block from the pool for the count and
// the record). Its destroy() is called when a record's count reaches zero, and frees it
// without recursing into its inputs.
void destroy_record(Node* node) noexcept;

template <class T>
struct RecordAllocator : PoolAllocator<T> {
  using value_type = T;
  RecordAllocator() = default;
  template <class U>
  RecordAllocator(const RecordAllocator<U>&) {}  // NOLINT: rebinding
  template <class U>
  struct rebind {
    using other = RecordAllocator<U>;
  };
  template <class U>
  void destroy(U* p) {
    if constexpr (std::is_same_v<U, Node>) {
      destroy_record(p);
    } else {
      p->~U();
    }
  }
  template <class U>
  bool operator==(const RecordAllocator<U>&) const { return true; }
};

inline const Shape& shape_of(const TensorImpl& t) {
  if (const auto* f = std::get_if<Array<float>>(&t.data)) return f->shape();
  if (const auto* d = std::get_if<Array<double>>(&t.data)) return d->shape();
  return std::get<Array<std::int64_t>>(t.data).shape();
}
inline DType dtype_of(const TensorImpl& t) { return static_cast<DType>(t.data.index()); }

// RecordGradNorms (graph.cpp): whether backward stores ‖gC‖ on the records, and the norm.
bool grad_norms_enabled();
double frobenius_norm(const Tensor& t);

}  // namespace matgrad::detail
