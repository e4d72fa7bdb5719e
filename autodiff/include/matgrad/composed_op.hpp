// The docs' line for an op without a rule of its own: one composed from other ops (its
// gradient is theirs, so it needs no VJP or JVP) or a constant one (its result never requires
// grad). Written beside the function, as an OpInfo is beside a primitive:
//   static const ComposedOpInfo mean_doc{"mean", "C = sum(A, dims) / N (N: the elements reduced)"};
// Each registers itself with its file and line: scripts/op-table prints the docs' second table,
// "Composed ops", from the registry, and its --check fails when an op-table row (tests/op_table*.cpp)
// names an op with neither an OpInfo nor a ComposedOpInfo.
#pragma once

#include "matgrad/call_site.hpp"

#include <string_view>
#include <vector>

namespace matgrad {

struct ComposedOpInfo;

namespace detail {
class ComposedOpRegistration {
 public:
  explicit ComposedOpRegistration(const ComposedOpInfo* op);
  ~ComposedOpRegistration();
  ComposedOpRegistration(const ComposedOpRegistration&) = delete;
  ComposedOpRegistration& operator=(const ComposedOpRegistration&) = delete;

 private:
  const ComposedOpInfo* op_;
};
}  // namespace detail

struct ComposedOpInfo {
  std::string_view name;        // "mean"
  std::string_view definition;  // one formula line, in the ops it is built of
  SourceLocation defined_at;
  detail::ComposedOpRegistration registration{this};

  ComposedOpInfo(std::string_view name, std::string_view definition, SourceLocation defined_at = SourceLocation::current())
      : name(name), definition(definition), defined_at(defined_at) {}
};

// Every ComposedOpInfo alive in the program, in no particular order.
std::vector<const ComposedOpInfo*> registered_composed_ops();

}  // namespace matgrad
