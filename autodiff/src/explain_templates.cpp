// Reading an op's OpInfo as explain() templates (explain_templates.hpp).
#include "explain_templates.hpp"

#include "graph_records.hpp"

#include <algorithm>
#include <cctype>
#include <tuple>
#include <utility>

namespace matgrad::detail {

namespace {

// Splits at top-level occurrences of `sep` (outside brackets).
std::vector<std::string> split_top(std::string_view text, std::string_view sep) {
  std::vector<std::string> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    depth += text[i] == '(' || text[i] == '[' ? 1 : text[i] == ')' || text[i] == ']' ? -1 : 0;
    if (depth == 0 && text.substr(i, sep.size()) == sep) {
      parts.emplace_back(text.substr(start, i - start));
      start = i + sep.size();
      i = start - 1;
    }
  }
  parts.emplace_back(text.substr(start));
  for (auto& p : parts) {
    const auto b = p.find_first_not_of(' ');
    const auto e = p.find_last_not_of(' ');
    p = b == std::string::npos ? "" : p.substr(b, e - b + 1);
  }
  return parts;
}

// "C = diag(a): dC = diag(da)" -> "dC = diag(da)": the rule after a variant's own equation
// (a colon inside brackets belongs to a note).
std::string after_condition(const std::string& rule) {
  const std::vector<std::string> parts = split_top(rule, ": ");
  return parts.back();
}

// "dC = Σ_dims(W ⊙ dA), W = [A = C] / k" -> "dC = Σ_dims(W ⊙ dA)" and the definition of W, to be
// substituted into the differential and the adjoints.
std::string take_definitions(const std::string& differential, std::vector<std::pair<std::string, expr::Ptr>>& defs) {
  const std::vector<std::string> parts = split_top(differential, ", ");
  std::string rule = parts[0];
  for (std::size_t k = 1; k < parts.size(); ++k) {
    const expr::Equation d = expr::split_equation(parts[k]);
    const bool symbol = !d.lhs.empty() && d.lhs.find(' ') == std::string::npos && !d.rhs.empty();
    if (symbol) {
      defs.emplace_back(d.lhs, expr::parse(d.rhs));
    } else {
      rule += ", " + parts[k];  // not a definition: part of the rule, which then does not parse
    }
  }
  return rule;
}

bool lower(const std::string& letter) {
  return !letter.empty() && std::islower(static_cast<unsigned char>(letter[0]));
}

// Whether "C = X Y" with X in {A, Aᵀ} and Y in {B, Bᵀ} fits the shapes (last two dims).
bool product_fits(const expr::Ptr& rhs, const std::vector<std::string>& letters,
                  const std::vector<Shape>& in, const Shape& out) {
  using expr::Kind;
  if (rhs->kind != Kind::mul || !rhs->op.empty() || in.size() != 2 || letters.size() != 2) return true;
  auto side = [&](const expr::Ptr& e, std::size_t& rows, std::size_t& cols) {
    const bool t = e->kind == Kind::post && e->op == "ᵀ";
    const expr::Ptr& a = t ? e->kids[0] : e;
    if (a->kind != Kind::atom) return false;
    const auto at = std::find(letters.begin(), letters.end(), a->op);
    if (at == letters.end()) return false;
    const Shape& s = in[static_cast<std::size_t>(at - letters.begin())];
    if (s.size() < 2) return false;
    rows = s[s.size() - 2];
    cols = s[s.size() - 1];
    if (t) std::swap(rows, cols);
    return true;
  };
  std::size_t m = 0, k = 0, k2 = 0, n = 0;
  if (!side(rhs->kids[0], m, k) || !side(rhs->kids[1], k2, n)) return true;
  return out.size() >= 2 && k == k2 && out[out.size() - 2] == m && out[out.size() - 1] == n;
}

}  // namespace

OpTemplates templates_for(const OpInfo& op, const std::vector<Shape>& in, const Shape& out) {
  OpTemplates t;
  if (op.equation.empty()) t.missing = "no forward equation";
  const std::vector<std::string> variants = op.equation.empty() ? std::vector<std::string>{""} : split_top(op.equation, ";");
  const std::vector<std::string> differentials = split_top(op.differential, ";");
  const std::vector<std::string> vjps = split_top(op.vjp, ";");
  bool chosen = false;
  for (std::size_t v = 0; v < variants.size() && !chosen; ++v) {
    const std::vector<std::string> parts = split_top(variants[v], ": ");
    std::string equation = parts[0], differential, vjp;
    for (std::size_t p = 1; p < parts.size(); ++p) {
      (parts[p][0] == 'd' ? differential : vjp) = parts[p];
    }
    if (differential.empty()) {
      differential = differentials.size() == variants.size() ? differentials[v] : differentials[0];
    }
    if (vjp.empty()) vjp = vjps.size() == variants.size() ? vjps[v] : op.vjp;
    differential = after_condition(differential);
    vjp = after_condition(vjp);

    OpTemplates c;
    c.missing = t.missing;
    const expr::Equation eq = expr::split_equation(equation);
    c.output = eq.lhs;
    c.equation = expr::parse(eq.rhs.empty() ? std::string(op.name) + "(…)" : without_remark(eq.rhs));
    std::vector<std::pair<std::string, expr::Ptr>> defs;
    const expr::Equation dif = expr::split_equation(take_definitions(without_remark(differential), defs));
    const expr::Substitution defined = [&](const std::string& symbol) -> expr::Ptr {
      for (const auto& [name, value] : defs) {
        if (name == symbol) return value;
      }
      return nullptr;
    };
    c.differential = expr::substitute(expr::parse(dif.rhs), defined);
    // The inputs are the letters whose gradients the VJP gives, in order.
    std::vector<std::string> adjoint_parts = vjp_parts(vjp, in.size());
    const std::vector<std::string> listed = split_top(vjp, ", ");
    if (listed.size() == 1 && listed[0].find("ₖ = ") != std::string::npos) {
      c.variadic = true;
      adjoint_parts.assign(in.size(), without_remark(listed[0]));
    }
    for (const std::string& part : adjoint_parts) {
      const expr::Equation a = expr::split_equation(part);
      std::string letter = a.lhs.size() > 1 && a.lhs[0] == 'g' ? a.lhs.substr(1) : "";
      if (letter.empty() || a.rhs.empty()) {
        c.missing = "a VJP that does not give one gradient per input";
        letter = std::string(1, static_cast<char>('A' + c.inputs.size()));
      }
      c.inputs.push_back(letter);
      c.adjoints.push_back(expr::substitute(expr::parse(a.rhs.empty() ? part : a.rhs), defined));
    }
    if (c.output.empty()) {
      if (c.missing.empty()) c.missing = "no output letter in the forward equation";
      c.output = "C";
    }
    // Text the parser cannot read is shown as it stands, but cannot be substituted into.
    std::vector<std::tuple<std::string, expr::Ptr, std::string>> parsed = {
        {"forward equation", c.equation, equation}, {"differential", c.differential, differential}};
    for (const auto& [name, value] : defs) parsed.emplace_back("definition of " + name, value, differential);
    for (std::size_t k = 0; k < c.adjoints.size(); ++k) parsed.emplace_back("VJP", c.adjoints[k], adjoint_parts[k]);
    for (const auto& [what, e, text] : parsed) {
      if (c.missing.empty() && e->kind == expr::Kind::text) c.missing = "a " + what + " that does not parse: " + text;
    }
    // Of several variants, the one whose letters fit the shapes: lowercase for a vector or a
    // scalar, and a product whose dimensions agree.
    bool fits = product_fits(c.equation, c.inputs, in, out);
    if (variants.size() > 1) {
      fits = fits && lower(c.output) == (out.size() <= 1);
      for (std::size_t k = 0; k < in.size() && k < c.inputs.size(); ++k) {
        fits = fits && lower(c.inputs[k]) == (in[k].size() <= 1);
      }
    }
    if (fits || v + 1 == variants.size()) {
      c.elementwise = in.size() >= 2 && std::none_of(c.adjoints.begin(), c.adjoints.end(), expr::has_matrix_product);
      t = std::move(c);
      chosen = true;
    }
  }
  return t;
}

}  // namespace matgrad::detail
