// The registry every OpInfo joins when it is constructed: the op table in the docs is printed
// from it (tests/print_op_table.cpp), not scraped from the sources.
#include "matgrad/autograd.hpp"

#include <algorithm>
#include <mutex>

namespace matgrad {

namespace {

struct Registry {
  std::mutex mutex;
  std::vector<const OpInfo*> ops;
};

// Built on first use, that is during the first OpInfo's construction, so it outlives them all.
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

detail::OpRegistration::OpRegistration(const OpInfo* op) : op_(op) {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.ops.push_back(op);
}

detail::OpRegistration::~OpRegistration() {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  r.ops.erase(std::remove(r.ops.begin(), r.ops.end(), op_), r.ops.end());
}

std::vector<const OpInfo*> registered_ops() {
  Registry& r = registry();
  const std::lock_guard lock(r.mutex);
  return r.ops;
}

}  // namespace matgrad
