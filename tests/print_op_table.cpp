// Prints the op table of the docs from the registry every OpInfo joins (autograd.hpp), for
// scripts/op-table:
//   print_op_table [--link-prefix P]   the Markdown table, code links prefixed with P
//   print_op_table --check-rows        fails when a registered op has no row in tests/op_table.cpp
//                                      (or no JVP rule or forward equation in its OpInfo)
// Linked with the whole library archive, so that every op's object file, and its OpInfo, is in.
#define DOCTEST_CONFIG_IMPLEMENT  // op_table.hpp includes doctest; this program has its own main
#include "op_table.hpp"

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

// matgrad's own ops, in the order of their files, then of their lines.
std::vector<const OpInfo*> library_ops() {
  std::vector<const OpInfo*> ops;
  for (const OpInfo* op : registered_ops()) {
    if (!source_path(op->defined_at.file).empty()) ops.push_back(op);
  }
  std::sort(ops.begin(), ops.end(), [](const OpInfo* a, const OpInfo* b) {
    return std::tuple(source_path(a->defined_at.file), a->defined_at.line) <
           std::tuple(source_path(b->defined_at.file), b->defined_at.line);
  });
  return ops;
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
  const std::vector<const OpInfo*> ops = library_ops();
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
    if (missing) return 1;
    fmt::print("{} ops, each with a JVP rule and a row in tests/op_table.cpp\n", ops.size());
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
}
