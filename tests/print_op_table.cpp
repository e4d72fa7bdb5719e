// Prints the op tables of the docs from the registries every OpInfo (autograd.hpp) and every
// ComposedOpInfo (composed_op.hpp) join, for scripts/op-table:
//   print_op_table [--link-prefix P]   the Markdown tables, code links prefixed with P
//   print_op_table --check-rows        fails when a registered op has no row in tests/op_table.cpp
//                                      (or no JVP rule or forward equation in its OpInfo), or an
//                                      op-table row names an op with neither kind of entry
// Linked with the whole library archive, so that every op's object file, and its OpInfo, is in.
#define DOCTEST_CONFIG_IMPLEMENT  // op_table.hpp includes doctest; this program has its own main
#include "op_table.hpp"

#include <matgrad/composed_op.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>

using namespace matgrad;

namespace {

// The path from autodiff/src/ on, whatever directory the compiler was given.
std::string source_path(const char* file) {
  const std::string path = file;
  const auto at = path.rfind("autodiff/src/");
  return at == std::string::npos ? std::string() : path.substr(at);
}

// matgrad's own entries (OpInfo or ComposedOpInfo), in the order of their files, then of their lines.
template <class Info>
std::vector<const Info*> library_entries(const std::vector<const Info*>& registered) {
  std::vector<const Info*> ops;
  for (const Info* op : registered) {
    if (!source_path(op->defined_at.file).empty()) ops.push_back(op);
  }
  std::sort(ops.begin(), ops.end(), [](const Info* a, const Info* b) {
    return std::tuple(source_path(a->defined_at.file), a->defined_at.line) <
           std::tuple(source_path(b->defined_at.file), b->defined_at.line);
  });
  return ops;
}

// An op-table row tests the op its name starts with: "softmax dim 0" is softmax's, "gt le" gt's.
bool names_op(std::string_view row, std::string_view op) {
  return row.substr(0, op.size()) == op && (row.size() == op.size() || row[op.size()] == ' ' || row[op.size()] == ',');
}

std::string cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<const OpInfo*> ops = library_entries(registered_ops());
  const std::vector<const ComposedOpInfo*> composed = library_entries(registered_composed_ops());
  if (argc == 2 && std::strcmp(argv[1], "--check-rows") == 0) {
    int missing = 0;
    for (const OpInfo* op : ops) {
      const auto& rows = testing::op_table();
      if (std::none_of(rows.begin(), rows.end(), [&](const testing::OpRow& r) { return r.op == op->name; })) {
        fmt::print(stderr, "op '{}' ({}:{}) has no row in the op table tests/op_table.cpp\n", op->name,
                   source_path(op->defined_at.file), op->defined_at.line);
        ++missing;
      }
      if (op->equation.empty()) {
        fmt::print(stderr, "op '{}' ({}:{}) has no forward equation in its OpInfo (explain() needs it)\n",
                   op->name, source_path(op->defined_at.file), op->defined_at.line);
        ++missing;
      }
      if (op->jvp.empty()) {
        fmt::print(stderr, "op '{}' ({}:{}) has no JVP rule in its OpInfo\n", op->name,
                   source_path(op->defined_at.file), op->defined_at.line);
        ++missing;
      }
    }
    for (const testing::OpRow& row : testing::op_table()) {
      const bool primitive = std::any_of(ops.begin(), ops.end(), [&](const OpInfo* op) { return names_op(row.op, op->name); });
      const bool composite =
          std::any_of(composed.begin(), composed.end(), [&](const ComposedOpInfo* op) { return names_op(row.op, op->name); });
      if (!primitive && !composite) {
        fmt::print(stderr,
                   "op-table row '{}' names an op with neither an OpInfo nor a ComposedOpInfo (matgrad/composed_op.hpp) "
                   "for the docs' tables\n",
                   row.op);
        ++missing;
      }
    }
    if (missing) return 1;
    fmt::print("{} ops, each with a JVP rule and a row in tests/op_table.cpp; {} composed ops; every row's op documented\n",
               ops.size(), composed.size());
    return 0;
  }
  std::string prefix;
  if (argc == 3 && std::strcmp(argv[1], "--link-prefix") == 0) {
    prefix = argv[2];
  } else if (argc != 1) {
    fmt::print(stderr, "usage: print_op_table [--link-prefix P] | --check-rows\n");
    return 2;
  }
  fmt::print("| op | differential | JVP (tangent of the output) | VJP (gradient of each input) | defined in |\n");
  fmt::print("|---|---|---|---|---|\n");
  for (const OpInfo* op : ops) {
    const std::string path = source_path(op->defined_at.file);
    fmt::print("| `{}` | {} | {} | {} | [{}]({}{}) |\n", op->name, cell(op->differential),
               cell(op->jvp), cell(op->vjp), path.substr(path.rfind('/') + 1), prefix, path);
  }
  fmt::print("\n**Composed ops.** Each is built from the ops above (or is a constant, never requiring grad): it records\n"
             "no rule of its own, so its differential, JVP and VJP are those of its parts, chained.\n\n");
  fmt::print("| op | composed of | defined in |\n");
  fmt::print("|---|---|---|\n");
  for (const ComposedOpInfo* op : composed) {
    const std::string path = source_path(op->defined_at.file);
    fmt::print("| `{}` | {} | [{}]({}{}) |\n", op->name, cell(op->definition), path.substr(path.rfind('/') + 1), prefix,
               path);
  }
}
