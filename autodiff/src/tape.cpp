// The tape: grad mode, making a record, and freeing records without recursion.
#include "checks.hpp"
#include "names.hpp"
#include "ops/common.hpp"

#include <algorithm>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace matgrad {

namespace {
thread_local bool grad_enabled = true;
// Records alive in the process, for tape_size().
std::atomic<std::size_t> live_records{0};
// The sequence number of this thread's latest record.
thread_local std::uint64_t last_sequence = 0;
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }
std::size_t tape_size() { return live_records.load(std::memory_order_relaxed); }

namespace detail {

bool should_record(std::span<const InputRef> inputs) {
  if (!grad_enabled) return false;
  return std::any_of(inputs.begin(), inputs.end(), [](const InputRef& ref) {
    const Tensor& t = ref;
    return t.defined() && t.requires_grad();
  });
}

Tensor push_record(const OpInfo& op, Tensor output, std::span<const InputRef> inputs, Vjp vjp,
                   const SourceLocation& where) {
  const SourceLocation& site = CallSite::current() ? *CallSite::current() : where;
  if (!output.defined()) {
    fail<Error>("{}: record() was given an undefined output tensor (at {}:{}); the forward "
                "computation of '{}' must return a tensor",
                op.name, site.file, site.line, op.name);
  }
  // The record takes its output over: an op that handed back an input, or a tensor already in
  // a graph, gets a copy of its own.
  const bool is_input = std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& input) {
    return input.impl() == output.impl();
  });
  if (is_input || output.impl()->node || output.impl()->requires_grad) output = detail::copy(output);
  if (anomaly_enabled()) check_finite_output(op, output, inputs, site);

  auto node = std::allocate_shared<Node>(RecordAllocator<Node>());
  live_records.fetch_add(1, std::memory_order_relaxed);
  node->op = &op;
  node->where = site;
  node->vjp = std::move(vjp);
  std::uint64_t sequence = last_sequence + 1;
  node->inputs.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge& edge = node->inputs.emplace_back();
    if (!input.defined()) continue;
    const TensorImpl& impl = *input.impl();
    edge.input = input.impl();
    if (impl.requires_grad) {
      edge.producer = impl.node;
      edge.leaf = impl.node == nullptr;
      if (impl.node) sequence = std::max(sequence, impl.node->sequence + 1);
    }
    if (op.saves_inputs()) {
      edge.saved = true;
      edge.version = impl.version();
    }
  }
  node->sequence = last_sequence = sequence;
  TensorImpl& impl = *output.impl();
  impl.requires_grad = true;
  impl.node = node.get();
  node->output_version = impl.version();
  node->output = output.impl();
  // The handle returned shares the record's count: holding it holds the record.
  Tensor recorded(std::shared_ptr<TensorImpl>(std::move(node), &impl));
  if (on_record) [[unlikely]] on_record(recorded);
  return recorded;
}

Node::~Node() {
  live_records.fetch_sub(1, std::memory_order_relaxed);
  // A handle to the output that does not go through the record (one the op kept) outlives
  // it as a tensor without history.
  if (output.use_count() > 1) {
    output->node = nullptr;
    output->requires_grad = false;
    output->hooks.reset();  // they were for the gradient flowing through this record
  }
}

const Shape& Node::output_shape() const { return shape_of(*output); }

void Node::release() {
  vjp.reset();
  for (Edge& e : inputs) {
    if (!e.takes_grad()) e.input.reset();
  }
  released = true;
}

namespace {

// ---- memory machinery: where freed memory goes back to the system (small objects come from
// pool.hpp's slabs, large tensor blocks are kept by tensor.cpp's cache) ----
// glibc keeps small freed blocks (a one-element tensor's data, 32 bytes) in bins that are not
// merged back into the heap, so after a large graph is freed its pages stay resident though
// free, and interleaved with those blocks the rest cannot be returned either (three graphs of
// 1.1M ops built and dropped in turn: 745 MiB resident at the end, 7 MiB after a trim). After
// freeing a graph of this many records at once (a few hundred MB) the pages go back to the
// system; a trim takes a few milliseconds, against a free of about 100 ms.
constexpr std::size_t kTrimAfter = std::size_t{1} << 18;
void return_free_memory() {
  empty_cache();
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// Records whose count reached zero while another one was being freed on this thread, linked
// through next_orphan; each holds its last reference in `pending`. Plain pointers, so that
// they are usable while the thread's other thread_locals are being destroyed.
thread_local Node* orphans = nullptr;
thread_local bool freeing = false;
}  // namespace

// Freeing a record drops its references to its inputs' records; freeing one of those from
// here would recurse once per record of a chain. Instead an input record that only this one
// holds is moved to the orphan list, and the outermost call frees the list in a loop.
void destroy_record(Node* node) noexcept {
  const bool outermost = !freeing;
  freeing = true;
  node->vjp.reset();  // the closure may hold the last references to other records
  for (Edge& e : node->inputs) {
    if (e.producer && e.input.use_count() == 1) {
      Node* input = e.producer;
      input->pending = Tensor(std::move(e.input));
      input->next_orphan = orphans;
      orphans = input;
    }
  }
  node->~Node();
  if (!outermost) return;
  std::size_t freed = 1;
  while (orphans) {
    Node* next = orphans;
    orphans = next->next_orphan;
    next->next_orphan = nullptr;
    Tensor last = std::move(next->pending);  // freed here: destroy_record(next), no deeper
    ++freed;
  }
  freeing = false;
  if (freed >= kTrimAfter) return_free_memory();
}

}  // namespace detail
}  // namespace matgrad
