// explain(): the recorded graph read back as steps of matrix calculus (matgrad/explain.hpp).
// The steps are built from each record's OpInfo templates (explain_templates.cpp), in the
// expression language of explain_expr.cpp; the numbers come from explain_check.cpp.
#include "matgrad/explain.hpp"

#include "explain_check.hpp"
#include "explain_templates.hpp"
#include "graph_records.hpp"
#include "matgrad/autograd.hpp"
#include "matgrad/graph.hpp"
#include "matgrad/ops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace matgrad {

namespace {

namespace ex = detail::expr;
using detail::Edge;
using detail::Node;
using detail::TensorImpl;

const std::string kSuperscripts[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
const std::string kSubscripts[] = {"₀", "₁", "₂", "₃", "₄", "₅", "₆", "₇", "₈", "₉"};

std::string digits(std::size_t k, const std::string (&table)[10]) {
  std::string s;
  for (char c : std::to_string(k)) s += table[c - '0'];
  return s;
}

std::string anchor_of(const std::string& name) {
  std::string a = "step-";
  for (unsigned char c : name) a += std::isalnum(c) ? static_cast<char>(c) : c == '#' ? 'n' : '_';
  return a;
}

// One value of the graph: a record's output or a leaf, with how the steps call it.
struct Value {
  std::string name;
  Shape shape;
  std::string role;      // "output", "result", "parameter", "constant"
  const Node* producer = nullptr;
  Tensor handle;         // a tensor for it (holding the record, for a result)
  bool takes_grad = false;
  bool scalar_constant = false;  // an unnamed 0-d constant, written as its value
};

// What one boundary operand receives from one step.
struct Contribution {
  std::size_t step;
  ex::Ptr expr;
  std::size_t line;  // its line among the step's adjoints
};

class Explainer {
 public:
  Explainer(const Tensor& output, const ExplainOptions& options) : output_(output), options_(options) {}

  Explanation run() {
    nodes_ = detail::records_behind("explain", output_);
    if (nodes_.empty()) {
      fail<ValueError>("explain: the output (shape {}) has no recorded history: nothing to explain "
                       "(does any input require grad?)", to_string(output_.shape()));
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) index_[nodes_[i]] = i;
    collect_values();
    choose_steps();
    seed_ = options_.seed.defined() ? options_.seed : ones_like(output_);
    if (seed_.shape() != output_.shape()) {
      fail<ShapeError>("explain: the seed has shape {} but the output {}", to_string(seed_.shape()),
                       to_string(output_.shape()));
    }
    const bool unit_seed = !options_.seed.defined() && output_.numel() == 1;
    Explanation e;
    e.title = options_.title;
    const std::string out_name = value(output_.impl().get()).name;
    e.loss = unit_seed ? "ℓ = " + out_name : fmt::format("ℓ = ⟨S, {}⟩", out_name);
    for (std::size_t s = 0; s < roots_.size(); ++s) e.steps.push_back(build_step(s, unit_seed));
    finish_fan_out(e);
    closed_forms(e, unit_seed);
    numbers(e);
    e.dot = graph();
    return e;
  }

 private:
  Value& value(const TensorImpl* impl) { return values_.at(impl); }

  std::string given_name(const TensorImpl* impl) const {
    for (const auto& [name, t] : options_.names) {
      if (t.defined() && t.impl().get() == impl) return name;
    }
    return impl->name ? *impl->name : std::string();
  }

  void collect_values() {
    std::size_t parameters = 0, constants = 0;
    auto leaf = [&](const Edge& e) {
      const TensorImpl* impl = e.input.get();
      if (values_.count(impl)) return;
      Value v;
      v.name = given_name(impl);
      v.shape = detail::shape_of(*impl);
      v.handle = Tensor(e.input);
      v.takes_grad = e.leaf;
      v.role = e.leaf ? "parameter" : "constant";
      if (v.name.empty()) {
        if (!e.leaf && v.handle.numel() == 1 && v.shape.empty()) {
          v.name = ex::print(ex::number(v.handle.item()));
          v.scalar_constant = true;
        } else {
          v.name = e.leaf ? fmt::format("P{}", parameters++) : fmt::format("K{}", constants++);
        }
      }
      values_.emplace(impl, std::move(v));
    };
    for (const Node* n : nodes_) {
      Value v;
      v.producer = n;
      v.shape = n->output_shape();
      v.takes_grad = true;
      v.name = given_name(n->output.get());
      v.role = n == output_.impl()->node ? "output" : "result";
      values_.emplace(n->output.get(), std::move(v));
    }
    values_.at(output_.impl().get()).handle = output_;
    for (const Node* n : nodes_) {
      for (const Edge& e : n->inputs) {
        if (!e.input) continue;
        if (e.producer) {
          value(e.input.get()).handle = Tensor(e.input);
          consumers_[e.producer]++;
          consumer_[e.producer] = n;
        } else {
          leaf(e);
        }
      }
    }
  }

  // A step writes its inlined records as one expression, and its differential repeats the
  // inner expressions once per factor of the chain rule: k records make a differential of
  // O(k²) symbols. Capping k keeps each step readable and explain linear in the graph.
  static constexpr std::size_t kMaxRecordsPerStep = 8;
  static constexpr std::size_t kMaxClosedFormNodes = 200;

  void choose_steps() {
    const Node* root = output_.impl()->node;
    records_of_step_.clear();
    // Newest first, so a record's one consumer has its step before the record is placed.
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
      const Node* n = *it;
      Value& v = value(n->output.get());
      bool is_root = n == root || !v.name.empty() || consumers_[n] != 1 || !options_.inline_unnamed;
      std::size_t step = 0;
      if (!is_root) {
        step = step_of_.at(consumer_.at(n));
        is_root = records_of_step_[step].size() >= kMaxRecordsPerStep;
      }
      if (is_root) {
        if (v.name.empty()) {
          v.name = fmt::format("#{}", index_.at(n));
          unnamed_.insert(n);
        }
        step = roots_.size();
        roots_.push_back(n);
        records_of_step_.emplace_back();
      }
      step_of_[n] = step;
      records_of_step_[step].push_back(n);
    }
    for (auto& records : records_of_step_) std::reverse(records.begin(), records.end());
  }

  bool inlined(const Node* n) const { return n && roots_[step_of_.at(n)] != n; }

  static ex::Ptr named(const Value& v) { return ex::atom(v.name, v.shape.empty()); }

  // dX as it enters an elementwise op that broadcasts X from `from` to `to`.
  static ex::Ptr broadcast_differential(ex::Ptr d, const Shape& from, const Shape& to) {
    if (from == to || from.empty()) return d;
    if (to.size() == 2 && from.size() == 2 && from[1] == 1 && from[0] == to[0]) return ex::mul("", d, ex::post(ones(), "ᵀ"));
    if (to.size() == 2 && from.size() == 2 && from[0] == 1 && from[1] == to[1]) return ex::mul("", ones(), d);
    if (to.size() == 2 && from.size() == 1 && from[0] == to[1]) return ex::mul("", ones(), ex::post(d, "ᵀ"));
    return ex::call("broadcast_to", {d, ex::atom(to_string(to))});
  }

  // The gradient summed back over the broadcast dimensions.
  static ex::Ptr broadcast_sum(ex::Ptr g, const Shape& from, const Shape& to) {
    if (from == to) return g;
    if (to.size() == 2 && from.size() == 2 && from[1] == 1 && from[0] == to[0]) return ex::mul("", g, ones());
    if (to.size() == 2 && from.size() == 2 && from[0] == 1 && from[1] == to[1]) return ex::mul("", ex::post(ones(), "ᵀ"), g);
    if (to.size() == 2 && from.size() == 1 && from[0] == to[1]) return ex::mul("", ex::post(g, "ᵀ"), ones());
    if (from.empty() || (from.size() == 1 && from[0] == 1)) return ex::mul("", ex::atom("Σ"), g);
    return ex::call("sum_to_size", {g, ex::atom(to_string(from))});
  }

  static ex::Ptr ones() {
    auto n = std::make_shared<ex::Node>();
    n->op = "1";
    n->number = n->ones = true;
    return n;
  }

  struct RecordForms {
    detail::OpTemplates t;
    ex::Ptr forward, differential;
  };

  ExplainStep build_step(std::size_t s, bool unit_seed) {
    const Node* root = roots_[s];
    Value& rv = value(root->output.get());
    ExplainStep step;
    step.result = rv.name;
    step.anchor = anchor_of(rv.name);
    const std::vector<const Node*>& records = records_of_step_[s];
    std::vector<std::string> ops;
    std::map<std::string, ExplainSymbol> symbols;
    symbols[rv.name] = {rv.name, rv.shape, rv.role};
    std::vector<std::string> constants;
    for (const Node* n : records) {
      ops.emplace_back(n->op->name);
      std::vector<Shape> shapes;
      for (const Edge& e : n->inputs) shapes.push_back(e.input ? detail::shape_of(*e.input) : Shape{});
      RecordForms f{detail::templates_for(*n->op, shapes, n->output_shape()), nullptr, nullptr};
      if (!f.t.missing.empty()) missing_.push_back(fmt::format("{}: {}", n->op->name, f.t.missing));
      const bool broadcasts = f.t.elementwise && std::all_of(shapes.begin(), shapes.end(), [&](const Shape& sh) {
        return broadcastable(sh, n->output_shape());
      });
      auto input_of = [&](const std::string& symbol, std::string& stem) -> int {
        for (std::size_t k = 0; k < f.t.inputs.size() && k < n->inputs.size(); ++k) {
          const std::string& letter = f.t.inputs[k];
          if (f.t.variadic) {
            if (symbol == letter || symbol == "d" + letter) {
              stem = symbol == letter ? "" : "d";
              return -2;
            }
          } else if (symbol == letter) {
            stem = "";
            return static_cast<int>(k);
          } else if (symbol == "d" + letter) {
            stem = "d";
            return static_cast<int>(k);
          }
        }
        return -1;
      };
      auto operand = [&](std::size_t k, bool differential) -> ex::Ptr {
        const Edge& e = n->inputs[k];
        if (!e.input) return ex::atom("∅");
        if (inlined(e.producer)) {
          const RecordForms& inner = forms_.at(e.producer);
          return differential ? inner.differential : inner.forward;
        }
        const Value& v = value(e.input.get());
        if (!differential) return v.scalar_constant ? ex::number(v.handle.item()) : named(v);
        if (!v.takes_grad) return ex::number(0);
        ex::Ptr d = ex::atom("d" + v.name);
        return broadcasts ? broadcast_differential(d, v.shape, n->output_shape()) : d;
      };
      auto list = [&](bool differential) {
        std::vector<std::string> parts;
        for (std::size_t k = 0; k < n->inputs.size(); ++k) parts.push_back(ex::print(operand(k, differential)));
        return ex::atom(fmt::format("{}", fmt::join(parts, ", ")));
      };
      auto subst = [&](const std::string& symbol) -> ex::Ptr {
        std::string stem;
        const int k = input_of(symbol, stem);
        if (k == -2) return list(stem == "d");
        if (k >= 0) return operand(static_cast<std::size_t>(k), stem == "d");
        if (symbol == f.t.output) return inlined(n) ? forms_.at(n).forward : named(value(n->output.get()));
        return nullptr;
      };
      // Terms in the differential of a constant drop out.
      auto constant_d = [&](const std::string& symbol) {
        std::string stem;
        const int k = input_of(symbol, stem);
        if (k < 0 || stem != "d") return false;
        const Edge& e = n->inputs[static_cast<std::size_t>(k)];
        return !e.takes_grad();
      };
      forms_[n].t = f.t;
      forms_[n].forward = ex::simplify(ex::substitute(f.t.equation, subst));
      forms_[n].differential = ex::simplify(ex::substitute(ex::drop_terms(f.t.differential, constant_d), subst));
      for (std::size_t k = 0; k < n->inputs.size(); ++k) {
        const Edge& e = n->inputs[k];
        if (!e.input || e.producer) continue;
        const Value& v = value(e.input.get());
        symbols[v.name] = {v.name, v.shape, v.role};
        if (!v.takes_grad && !v.scalar_constant &&
            std::find(constants.begin(), constants.end(), v.name) == constants.end()) {
          constants.push_back(v.name);
        }
        if (v.takes_grad && broadcasts && v.shape != n->output_shape()) {
          step.notes.push_back(fmt::format("{} {} is broadcast to {}: its gradient is summed over the broadcast dimensions",
                                           v.name, to_string(v.shape), to_string(n->output_shape())));
        }
      }
      for (const Edge& e : n->inputs) {
        if (e.producer && !inlined(e.producer)) {
          const Value& v = value(e.input.get());
          symbols[v.name] = {v.name, v.shape, v.role};
          if (broadcasts && v.shape != n->output_shape()) {
            step.notes.push_back(fmt::format("{} {} is broadcast to {}: its gradient is summed over the broadcast dimensions",
                                             v.name, to_string(v.shape), to_string(n->output_shape())));
          }
        }
      }
    }
    step.ops = fmt::format("{}", fmt::join(ops, ", "));
    step.equation = rv.name + " = " + ex::print(forms_.at(root).forward);
    step.differential = "d" + rv.name + " = " + ex::print(forms_.at(root).differential);
    for (const std::string& c : constants) step.notes.push_back(fmt::format("{} is a constant: d{} = 0", c, c));
    if (root == output_.impl()->node) {
      step.notes.insert(step.notes.begin(), unit_seed ? fmt::format("G_{} = 1 (ℓ = {})", rv.name, rv.name)
                                                      : fmt::format("G_{} = S, the seed", rv.name));
    }
    // The adjoints, newest record first: each input's G from its consumer's.
    struct Line {
      std::size_t record, input;
      const TensorImpl* key;
      ex::Ptr expr;
    };
    std::vector<Line> lines;
    std::unordered_map<const Node*, ex::Ptr> g;
    g[root] = root == output_.impl()->node && unit_seed ? ex::unit() : ex::atom("G_" + rv.name, rv.shape.empty());
    for (auto it = records.rbegin(); it != records.rend(); ++it) {
      const Node* n = *it;
      const RecordForms& f = forms_.at(n);
      if (!g.count(n)) continue;  // its consumer's template gives no adjoint for it
      const bool broadcasts = f.t.elementwise;
      for (std::size_t k = 0; k < n->inputs.size() && k < f.t.adjoints.size(); ++k) {
        const Edge& e = n->inputs[k];
        if (!e.input || !e.takes_grad()) continue;
        const std::string gc = "g" + f.t.output;
        auto subst = [&](const std::string& symbol) -> ex::Ptr {
          if (symbol == gc) return g.at(n);
          if (symbol == f.t.output) return inlined(n) ? f.forward : named(value(n->output.get()));
          for (std::size_t j = 0; j < f.t.inputs.size() && j < n->inputs.size(); ++j) {
            if (symbol == f.t.inputs[j] && !f.t.variadic) {
              const Edge& ej = n->inputs[j];
              if (!ej.input) return nullptr;
              if (inlined(ej.producer)) return forms_.at(ej.producer).forward;
              const Value& v = value(ej.input.get());
              return v.scalar_constant ? ex::number(v.handle.item()) : named(v);
            }
          }
          if (f.t.variadic && symbol.size() > 3 && symbol.compare(symbol.size() - 3, 3, "ₖ") == 0) {
            return ex::atom(symbol.substr(0, symbol.size() - 3) + digits(k, kSubscripts));
          }
          return nullptr;
        };
        ex::Ptr contribution = ex::substitute(f.t.adjoints[k], subst);
        const Shape& in_shape = detail::shape_of(*e.input);
        if (broadcasts && in_shape != n->output_shape() && broadcastable(in_shape, n->output_shape())) {
          contribution = broadcast_sum(contribution, in_shape, n->output_shape());
        }
        contribution = ex::simplify(contribution);
        if (inlined(e.producer)) {
          g[e.producer] = contribution;
        } else {
          lines.push_back({index_.at(n), k, e.input.get(), contribution});
        }
      }
    }
    // In the order of the forward pass: oldest record first, then its inputs in order.
    std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
      return std::tie(a.record, a.input) < std::tie(b.record, b.input);
    });
    for (const Line& l : lines) {
      step.adjoints.push_back("");  // written by finish_fan_out, once the count is known
      contributions_[l.key].push_back({s, l.expr, step.adjoints.size() - 1});
    }
    for (const auto& [name, symbol] : symbols) step.symbols.push_back(symbol);
    return step;
  }

  static bool broadcastable(const Shape& from, const Shape& to) {
    if (from.size() > to.size()) return false;
    for (std::size_t i = 0; i < from.size(); ++i) {
      const std::size_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
      if (f != t && f != 1) return false;
    }
    return true;
  }

  // Writes each adjoint line: G_X = …, or G_X⁽ᵏ⁾ = … with the sum where X has several uses.
  void finish_fan_out(Explanation& e) {
    for (auto& [key, list] : contributions_) {
      const Value& v = value(key);
      for (std::size_t k = 0; k < list.size(); ++k) {
        const std::string lhs = list.size() == 1 ? "G_" + v.name : "G_" + v.name + "⁽" + digits(k + 1, kSuperscripts).substr(0) + "⁾";
        e.steps[list[k].step].adjoints[list[k].line] = lhs + " = " + ex::print(list[k].expr);
      }
      if (list.size() > 1) {
        std::vector<std::string> terms;
        for (std::size_t k = 0; k < list.size(); ++k) terms.push_back("G_" + v.name + "⁽" + digits(k + 1, kSuperscripts) + "⁾");
        fan_out_[key] = fmt::format("G_{} = {}", v.name, fmt::join(terms, " + "));
        if (v.producer) {
          e.steps[step_of_.at(v.producer)].notes.insert(e.steps[step_of_.at(v.producer)].notes.begin(),
                                                        fmt::format("{} is read along {} paths: {}", v.name, list.size(), fan_out_[key]));
        }
      }
    }
  }

  // G of each step's result and each parameter by substitution through the steps.
  void closed_forms(Explanation& e, bool unit_seed) {
    std::unordered_map<std::string, ex::Ptr> closed;  // "G_Z1" -> its closed form
    const Value& out = value(output_.impl().get());
    closed["G_" + out.name] = unit_seed ? ex::unit() : ex::atom("S");
    auto closed_of = [&](const TensorImpl* key) {
      const auto it = contributions_.find(key);
      if (it == contributions_.end()) return ex::number(0);
      std::vector<ex::Ptr> terms;
      for (const Contribution& c : it->second) {
        terms.push_back(ex::substitute(c.expr, [&](const std::string& symbol) -> ex::Ptr {
          const auto at = closed.find(symbol);
          return at == closed.end() ? nullptr : at->second;
        }));
      }
      return ex::simplify(terms.size() == 1 ? terms[0] : ex::add(terms, std::vector<bool>(terms.size(), false)));
    };
    for (std::size_t s = 1; s < roots_.size(); ++s) {
      const Value& v = value(roots_[s]->output.get());
      // A closed form grown past kMaxClosedFormNodes stays the symbol G_#k in the forms of the
      // steps before it: they stay readable, and their cost linear in the graph.
      ex::Ptr form = closed_of(roots_[s]->output.get());
      if (ex::count_nodes(form, kMaxClosedFormNodes) < kMaxClosedFormNodes) closed["G_" + v.name] = std::move(form);
    }
    for (const auto& [key, v] : values_) {
      if (v.producer || !v.takes_grad) continue;
      ExplainParameter p;
      p.name = v.name;
      p.shape = v.shape;
      p.anchor = "param-" + anchor_of(v.name).substr(5);
      const std::string form = ex::print(closed_of(key));
      p.closed_form = "G_" + v.name + " = " + (form.size() > 4000 ? fmt::format("(a closed form of {} characters)", form.size()) : form);
      parameters_.push_back(key);
      e.parameters.push_back(std::move(p));
    }
    std::vector<std::size_t> order(e.parameters.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return e.parameters[a].name < e.parameters[b].name; });
    std::vector<ExplainParameter> sorted;
    std::vector<const TensorImpl*> keys;
    for (std::size_t i : order) {
      sorted.push_back(std::move(e.parameters[i]));
      keys.push_back(parameters_[i]);
    }
    e.parameters = std::move(sorted);
    parameters_ = std::move(keys);
  }

  void numbers(Explanation& e) {
    std::vector<Tensor> targets;
    for (const Node* r : roots_) targets.push_back(value(r->output.get()).handle);
    for (const TensorImpl* p : parameters_) targets.push_back(value(p).handle);
    std::vector<Tensor> grads(targets.size());
    grads[0] = seed_;
    if (targets.size() > 1) {
      const std::vector<Tensor> rest(targets.begin() + 1, targets.end());
      const std::vector<Tensor> g = grad({output_}, rest, {seed_}, /*retain_graph=*/true, false, /*allow_unused=*/true);
      std::copy(g.begin(), g.end(), grads.begin() + 1);
    }
    std::unordered_map<const TensorImpl*, std::string_view> read_symmetric;
    for (const Node* n : nodes_) {
      if (detail::reads_symmetric(*n->op) && n->inputs[0].input) read_symmetric.emplace(n->inputs[0].input.get(), n->op->name);
    }
    auto symmetric_for = [&](const Tensor& t) {
      const auto it = read_symmetric.find(t.impl().get());
      return it == read_symmetric.end() ? std::string_view{} : it->second;
    };
    detail::GradientChecker checker(options_, output_, seed_);
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const bool parameter = i >= roots_.size();
      const Node* root = parameter ? nullptr : roots_[i];
      ExplainCheck c = checker.check(targets[i], grads[i],
                                     {.leaf = parameter,
                                      .name = parameter ? e.parameters[i - roots_.size()].name : e.steps[i].result,
                                      .record = unnamed_.contains(root) ? root : nullptr,
                                      .symmetric_for = symmetric_for(targets[i])});
      if (c.checked) {
        ++e.checks;
        e.passed = e.passed && c.passed;
      }
      (parameter ? e.parameters[i - roots_.size()].check : e.steps[i].check) = std::move(c);
    }
    for (const std::string& m : missing_) {
      if (std::find(e.steps.front().notes.begin(), e.steps.front().notes.end(), m) == e.steps.front().notes.end()) {
        e.steps.front().notes.push_back("template missing: " + m);
      }
    }
  }

  // to_dot's tree, each record linked to the step that shows it.
  std::string graph() {
    NamedTensors names;
    for (const auto& [key, v] : values_) {
      if (v.handle.defined()) names.emplace_back(v.name, v.handle);
    }
    DotOptions dot_options;
    dot_options.names = names;
    dot_options.vjp_labels = true;
    std::string dot = to_dot(output_, dot_options);
    std::string links;
    for (const Node* n : nodes_) {
      const Value& root = value(roots_[step_of_.at(n)]->output.get());
      links += fmt::format("  r{} [URL=\"#{}\", target=\"_top\", tooltip=\"{}\"];\n", index_.at(n), anchor_of(root.name),
                           root.name);
    }
    return dot.substr(0, dot.rfind('}')) + links + "}\n";
  }

  Tensor output_;
  const ExplainOptions& options_;
  Tensor seed_;
  std::vector<const Node*> nodes_;
  std::unordered_set<const Node*> unnamed_;  // roots named #k: no set_name to find them by
  std::unordered_map<const Node*, std::size_t> index_;
  std::unordered_map<const TensorImpl*, Value> values_;
  std::unordered_map<const Node*, std::size_t> consumers_;
  std::unordered_map<const Node*, const Node*> consumer_;  // the last one seen; read where there is one
  std::vector<const Node*> roots_;  // one per step, newest first
  std::unordered_map<const Node*, std::size_t> step_of_;
  std::vector<std::vector<const Node*>> records_of_step_;  // each step's records, oldest first
  std::unordered_map<const Node*, RecordForms> forms_;
  std::map<const TensorImpl*, std::vector<Contribution>> contributions_;
  std::map<const TensorImpl*, std::string> fan_out_;
  std::vector<const TensorImpl*> parameters_;
  std::vector<std::string> missing_;
};

}  // namespace

Explanation explain(const Tensor& output, const ExplainOptions& options) {
  if (!output.defined()) fail<ValueError>("explain: the output is an undefined tensor");
  return Explainer(output, options).run();
}

}  // namespace matgrad
