// The registries every OpInfo and every ComposedOpInfo join when constructed: the op tables in
// the docs are printed from them (tests/print_op_table.cpp), not scraped from the sources.
#include "matgrad/autograd.hpp"
#include "matgrad/composed_op.hpp"

#include <algorithm>
#include <mutex>

namespace matgrad {

namespace {

template <class Info>
struct Registry {
  std::mutex mutex;
  std::vector<const Info*> ops;

  void add(const Info* op) {
    const std::lock_guard lock(mutex);
    ops.push_back(op);
  }
  void remove(const Info* op) {
    const std::lock_guard lock(mutex);
    ops.erase(std::remove(ops.begin(), ops.end(), op), ops.end());
  }
  std::vector<const Info*> all() {
    const std::lock_guard lock(mutex);
    return ops;
  }
};

// Built on first use, that is during the first registration, so it outlives them all.
template <class Info>
Registry<Info>& registry() {
  static Registry<Info> r;
  return r;
}

}  // namespace

detail::OpRegistration::OpRegistration(const OpInfo* op) : op_(op) { registry<OpInfo>().add(op); }
detail::OpRegistration::~OpRegistration() { registry<OpInfo>().remove(op_); }
std::vector<const OpInfo*> registered_ops() { return registry<OpInfo>().all(); }

detail::ComposedOpRegistration::ComposedOpRegistration(const ComposedOpInfo* op) : op_(op) {
  registry<ComposedOpInfo>().add(op);
}
detail::ComposedOpRegistration::~ComposedOpRegistration() { registry<ComposedOpInfo>().remove(op_); }
std::vector<const ComposedOpInfo*> registered_composed_ops() { return registry<ComposedOpInfo>().all(); }

}  // namespace matgrad
