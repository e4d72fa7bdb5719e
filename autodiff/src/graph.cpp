// The recorded graph as Graphviz DOT and as a listing, read off the tape records.
#include "matgrad/graph.hpp"

#include "graph_records.hpp"
#include "tape.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace matgrad {

namespace {
thread_local bool grad_norms = false;
}  // namespace

bool is_grad_norm_recording_enabled() { return grad_norms; }
void set_grad_norm_recording_enabled(bool enabled) { grad_norms = enabled; }

namespace detail {

bool grad_norms_enabled() { return grad_norms; }

double frobenius_norm(const Tensor& t) {
  return t.visit([](const auto& x) {
    double total = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double v = x.data()[i];
      total += v * v;
    }
    return std::sqrt(total);
  });
}

// The records that `output` depends on, oldest first, found without recursion.
std::vector<const Node*> records_behind(std::string_view who, const Tensor& output) {
  if (!output.defined()) fail<ValueError>("{}: the output is an undefined tensor", who);
  std::vector<const Node*> found;
  const Node* root = output.impl()->node;
  if (!root) return found;
  std::unordered_set<const Node*> seen{root};
  std::vector<const Node*> stack{root};
  while (!stack.empty()) {
    const Node* node = stack.back();
    stack.pop_back();
    if (node->released) {
      fail<AutogradError>(
          "{}: the record of '{}' (output shape {}) was released by backward, so its inputs are "
          "gone; show the graph before backward, or pass retain_graph=true to backward",
          who, node->op->name, to_string(node->output_shape()));
    }
    found.push_back(node);
    for (const Edge& e : node->inputs) {
      if (e.producer && seen.insert(e.producer).second) stack.push_back(e.producer);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const Node* a, const Node* b) { return a->sequence < b->sequence; });
  return found;
}

std::string without_remark(std::string rule) {
  if (rule.empty() || rule.back() != ')') return rule;
  std::size_t open = rule.size() - 1;
  for (int depth = 0;; --open) {
    depth += rule[open] == ')' ? 1 : rule[open] == '(' ? -1 : 0;
    if (depth == 0) break;
    if (open == 0) return rule;
  }
  if (open == 0 || rule[open - 1] != ' ') return rule;
  const auto first = static_cast<unsigned char>(rule[open + 1]);
  if (!std::islower(first) && !std::isdigit(first)) return rule;
  bool prose = false;
  for (std::size_t i = open + 1, run = 0; i < rule.size(); ++i) {
    const auto c = static_cast<unsigned char>(rule[i]);
    if (c >= 'a' && c <= 'z') {
      ++run;
      continue;
    }
    const bool bounded = i - run == open + 1 || std::string_view(" ,:;").find(rule[i - run - 1]) != std::string_view::npos;
    prose = prose || (run >= 3 && bounded && std::string_view(" ,:;)").find(rule[i]) != std::string_view::npos);
    run = 0;
  }
  if (!prose) return rule;
  rule.erase(open - 1);
  return rule;
}

// The part of a VJP rule for each input: "gA = gC ⊙ B, gB = gC ⊙ A" gives "gA = gC ⊙ B" and
// "gB = gC ⊙ A". Rules that do not split into one gradient per input stay whole.
std::vector<std::string> vjp_parts(std::string_view rule, std::size_t inputs) {
  std::vector<std::string> parts;
  std::string current;
  int depth = 0;
  auto flush = [&] {
    const auto begin = current.find_first_not_of(' ');
    current = begin == std::string::npos ? "" : current.substr(begin);
    if (const auto colon = current.find(": g"); colon != std::string::npos) {
      current = current.substr(colon + 2);  // "C = A B: gA = ..." -> "gA = ..."
    }
    // A closing remark such as "(transposed cases likewise, by gemm flags)" stays in the docs.
    current = without_remark(current);
    if (!current.empty()) parts.push_back(current);
    current.clear();
  };
  for (char c : rule) {
    depth += c == '(' ? 1 : c == ')' ? -1 : 0;
    if (depth == 0 && (c == ',' || c == ';')) {
      flush();
    } else {
      current += c;
    }
  }
  flush();
  const bool per_input =
      parts.size() == inputs &&
      std::all_of(parts.begin(), parts.end(), [](const std::string& p) {
        return p.size() > 3 && p[0] == 'g' && p.find(" = ") != std::string::npos;
      });
  return per_input ? parts : std::vector<std::string>(inputs, std::string(rule));
}

}  // namespace detail

namespace {

using detail::Edge;
using detail::Node;
using detail::TensorImpl;
using detail::records_behind;
using detail::vjp_parts;

using Names = std::unordered_map<const TensorImpl*, std::string>;

Names name_map(const NamedTensors& names) {
  Names map;
  for (const auto& [name, tensor] : names) {
    if (tensor.defined()) map.emplace(tensor.impl().get(), name);
  }
  return map;
}

// From the map, else from Tensor::set_name.
std::string name_of(const Names& names, const TensorImpl* impl) {
  const auto it = names.find(impl);
  if (it != names.end()) return it->second;
  return impl && impl->name ? *impl->name : std::string();
}

std::string output_name(const Names& names, const Node& node) {
  return name_of(names, node.output.get());
}

// Each record's position in a listing, its name there ("r3", "#3").
using Positions = std::unordered_map<const Node*, std::size_t>;
Positions positions_of(const std::vector<const Node*>& nodes) {
  Positions at;
  for (std::size_t i = 0; i < nodes.size(); ++i) at.emplace(nodes[i], i);
  return at;
}

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string fmt_norm(double norm) { return norm < 0 ? "-" : fmt::format("{:.4e}", norm); }

}  // namespace

std::string to_dot(const Tensor& output, const DotOptions& options) {
  const std::vector<const Node*> nodes = records_behind("to_dot", output);
  const Names names = name_map(options.names);
  std::string out = "digraph matgrad {\n  rankdir=TB;\n  graph [fontname=\"Helvetica\"];\n";
  out += "  node [fontname=\"Helvetica\", fontsize=11];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#555555\"];\n";
  if (!options.title.empty()) {
    out += fmt::format("  labelloc=t;\n  label=\"{}\";\n", escape(options.title));
  }
  // Leaves get one DOT node each, however many records read them.
  std::unordered_map<const void*, std::string> leaf_ids;
  auto leaf_node = [&](const void* key, bool parameter, const std::string& name,
                       const Shape& shape) {
    auto [it, inserted] = leaf_ids.emplace(key, fmt::format("l{}", leaf_ids.size()));
    if (inserted) {
      const std::string label =
          fmt::format("{}\n{}", name.empty() ? (parameter ? "parameter" : "constant") : name,
                      to_string(shape));
      out += fmt::format(
          "  {} [label=\"{}\", shape=box, {}];\n", it->second, escape(label),
          parameter ? "style=\"filled,rounded\", fillcolor=\"#cfe2ff\""
                    : "style=\"dashed,rounded\", fontcolor=\"#555555\"");
    }
    return it->second;
  };

  if (!output.impl()->node) {
    leaf_node(output.impl().get(), output.requires_grad(), name_of(names, output.impl().get()),
              output.shape());
    return out + "}\n";
  }
  const Node* root = output.impl()->node;
  const Positions at = positions_of(nodes);
  for (const Node* node : nodes) {
    const std::string name = output_name(names, *node);
    std::string label = fmt::format("{}{}\n{}", name.empty() ? "" : name + " = ", node->op->name,
                                    to_string(node->output_shape()));
    if (options.differentials) label = fmt::format("{}\n{}", label, node->op->differential);
    out += fmt::format("  r{} [label=\"{}\", shape=ellipse{}];\n", at.at(node), escape(label),
                       node == root ? ", peripheries=2, style=bold" : "");
  }
  for (const Node* node : nodes) {
    const std::vector<std::string> parts = vjp_parts(node->op->vjp, node->inputs.size());
    for (std::size_t k = 0; k < node->inputs.size(); ++k) {
      const Edge& e = node->inputs[k];
      std::string target;
      if (e.producer) {
        target = fmt::format("r{}", at.at(e.producer));
      } else if (e.input) {
        target = leaf_node(e.input.get(), e.leaf, name_of(names, e.input.get()),
                           detail::shape_of(*e.input));
      } else {
        continue;  // an undefined optional input
      }
      std::string attributes;
      if (options.vjp_labels && e.takes_grad()) {
        attributes = fmt::format(" [label=\" {} \"]", escape(parts[k]));
      } else if (!e.takes_grad()) {
        attributes = " [style=dashed, arrowhead=none]";  // no gradient flows to a constant
      }
      out += fmt::format("  r{} -> {}{};\n", at.at(node), target, attributes);
    }
  }
  return out + "}\n";
}

namespace {

std::string listing(const std::vector<const Node*>& nodes, const TapeListingOptions& options,
                    std::string heading) {
  const Names names = name_map(options.names);
  const Positions at = positions_of(nodes);
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"#", "op", "output", "inputs", "‖gC‖"});
  if (options.rules) rows.front().push_back("VJP");
  for (const Node* node : nodes) {
    const std::string name = output_name(names, *node);
    std::vector<std::string> inputs;
    for (const Edge& e : node->inputs) {
      if (e.producer) {
        const std::string input_name = output_name(names, *e.producer);
        inputs.push_back(fmt::format("{} {}",
                                     input_name.empty() ? fmt::format("#{}", at.at(e.producer)) : input_name,
                                     to_string(e.producer->output_shape())));
      } else if (e.input) {
        const std::string input_name = name_of(names, e.input.get());
        inputs.push_back(fmt::format(
            "{} {}", input_name.empty() ? (e.leaf ? "param" : "const") : input_name,
            to_string(detail::shape_of(*e.input))));
      }
    }
    std::string input_text = fmt::format("{}", fmt::join(inputs, ", "));
    if (node->released) input_text = "(released by backward)";
    rows.push_back({std::to_string(at.at(node)),
                    name.empty() ? std::string(node->op->name)
                                 : fmt::format("{} = {}", name, node->op->name),
                    to_string(node->output_shape()), input_text, fmt_norm(node->grad_norm)});
    if (options.rules) rows.back().push_back(std::string(node->op->vjp));
  }
  auto width_of = [](std::string_view s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
      return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
  };
  std::vector<std::size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t j = 0; j < row.size(); ++j) width[j] = std::max(width[j], width_of(row[j]));
  }
  std::string out = std::move(heading);
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t j = 0; j < row.size(); ++j) {
      const std::size_t fill = width[j] - width_of(row[j]);
      // Index and norm right-aligned, text left-aligned.
      if (j == 0 || j == 4) {
        line += std::string(fill, ' ') + row[j];
      } else {
        line += row[j] + std::string(fill, ' ');
      }
      line += "  ";
    }
    out += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
  }
  return out;
}

}  // namespace

std::string tape_listing(const Tensor& output, const TapeListingOptions& options) {
  const std::vector<const Node*> nodes = records_behind("tape_listing", output);
  return listing(nodes, options, fmt::format("{} records behind the output\n", nodes.size()));
}

}  // namespace matgrad
