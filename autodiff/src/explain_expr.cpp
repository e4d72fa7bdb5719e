// The expression language of the OpInfo templates: tokens, a precedence parser, substitution,
// light simplification and printing (explain_expr.hpp).
#include "explain_expr.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>

namespace matgrad::detail::expr {

namespace {

int precedence(const Ptr& e) {
  switch (e->kind) {
    case Kind::text:
    case Kind::rel: return 0;
    case Kind::add: return 1;
    case Kind::mul: return 2;
    case Kind::neg:
    case Kind::pre: return 3;
    case Kind::post: return 4;
    default: return 5;
  }
}

std::string wrapped(const Ptr& e, int min) {
  const std::string s = print(e);
  return precedence(e) < min ? "(" + s + ")" : s;
}

bool is_coefficient_product(const Ptr& e) {
  return e->kind == Kind::mul && e->op.empty() && e->kids[0]->scalar;
}

Ptr with_flags(Ptr e) {
  if (e->kind == Kind::mul || e->kind == Kind::neg || e->kind == Kind::post) {
    bool scalar = std::all_of(e->kids.begin(), e->kids.end(), [](const Ptr& k) { return k->scalar; });
    if (scalar != e->scalar) {
      auto n = std::make_shared<Node>(*e);
      n->scalar = scalar;
      return n;
    }
  }
  return e;
}

std::optional<double> value_of(const Ptr& e) {
  if (e->kind != Kind::atom || !e->number || e->ones) return std::nullopt;
  try {
    return e->op == "½" ? 0.5 : std::stod(e->op);
  } catch (...) {
    return std::nullopt;
  }
}

bool is_unit(const Ptr& e) { return e->unit || (e->kind == Kind::post && e->op == "ᵀ" && e->kids[0]->unit); }

Ptr simplify_once(const Ptr& e, bool& changed);

Ptr simplify_kids(const Ptr& e, bool& changed) {
  if (e->kids.empty()) return e;
  auto n = std::make_shared<Node>(*e);
  for (auto& k : n->kids) k = simplify_once(k, changed);
  return with_flags(n);
}

Ptr simplify_once(const Ptr& in, bool& changed) {
  Ptr e = simplify_kids(in, changed);
  auto done = [&](Ptr r) {
    changed = true;
    return with_flags(std::move(r));
  };
  switch (e->kind) {
    case Kind::post:
      if (e->op == "ᵀ" && e->kids[0]->kind == Kind::post && e->kids[0]->op == "ᵀ") return done(e->kids[0]->kids[0]);
      if (e->op == "ᵀ" && (e->kids[0]->unit || e->kids[0]->scalar) && e->kids[0]->kind == Kind::atom) return done(e->kids[0]);
      break;
    case Kind::neg:
      if (e->kids[0]->kind == Kind::neg) return done(e->kids[0]->kids[0]);
      break;
    case Kind::add: {
      std::vector<Ptr> terms;
      std::vector<bool> minus;
      bool flattened = false;
      for (std::size_t i = 0; i < e->kids.size(); ++i) {
        const Ptr& k = e->kids[i];
        if (k->kind == Kind::neg) {
          terms.push_back(k->kids[0]);
          minus.push_back(!e->minus[i]);
          flattened = true;
        } else if (k->kind == Kind::add && !e->minus[i]) {
          for (std::size_t j = 0; j < k->kids.size(); ++j) {
            terms.push_back(k->kids[j]);
            minus.push_back(k->minus[j]);
          }
          flattened = true;
        } else {
          terms.push_back(k);
          minus.push_back(e->minus[i]);
        }
      }
      if (flattened) return done(add(terms, minus));
      if (terms.size() == 1 && !minus[0]) return done(terms[0]);
      break;
    }
    case Kind::mul: {
      Ptr a = e->kids[0], b = e->kids[1];
      const std::string& op = e->op;
      if (a->kind == Kind::neg) return done(std::make_shared<Node>(Node{Kind::neg, "", "", {mul(op, a->kids[0], b)}, {}}));
      if (b->kind == Kind::neg) return done(std::make_shared<Node>(Node{Kind::neg, "", "", {mul(op, a, b->kids[0])}, {}}));
      // a scalar broadcast by a vector of ones, used in a product, is the scalar
      auto unbroadcast = [](const Ptr& x) -> Ptr {
        if (x->kind == Kind::mul && x->op.empty() && x->kids[0]->scalar && x->kids[1]->ones) return x->kids[0];
        if (x->kind == Kind::mul && x->op.empty() && x->kids[1]->scalar && x->kids[0]->kind == Kind::post &&
            x->kids[0]->kids[0]->ones)
          return x->kids[1];
        return nullptr;
      };
      if (auto s = unbroadcast(a)) return done(mul(op, s, b));
      if (auto s = unbroadcast(b)) return done(mul(op, a, s));
      if (op.empty() || op == "⊙") {
        if (is_unit(a)) return done(b);
        if (is_unit(b)) return done(a);
      }
      if ((op == "⊘" || op == "/") && is_unit(b)) return done(a);
      if (op == "⊙" && a->scalar) return done(mul("", a, b));
      if (op == "⊙" && b->scalar) return done(mul("", b, a));
      if (op == "⊘" && b->scalar) return done(mul("/", a, b));
      if (op == "/" && is_unit(a)) return done(mul("/", number(1), b));
      if (op.empty() && b->scalar && !a->scalar) return done(mul("", b, a));
      if (op.empty() && a->scalar) {
        // (a literal 1 in front is kept: in "1 dbᵀ" it is a vector of ones)
        const auto va = value_of(a);
        // a (b x) = (a b) x and a (b / y) = (a b) / y for numbers a, b
        if (va && b->kind == Kind::mul && (b->op.empty() || b->op == "/")) {
          if (const auto vb = value_of(b->kids[0])) return done(mul(b->op, number(*va * *vb), b->kids[1]));
        }
        if (va) {
          if (const auto vb = value_of(b)) return done(number(*va * *vb));
        }
        // s (t x) = (s t) x for scalars s, t: the coefficients gathered in front
        if (b->kind == Kind::mul && b->op.empty() && b->kids[0]->scalar && !b->kids[1]->scalar) {
          return done(mul("", mul("", a, b->kids[0]), b->kids[1]));
        }
        // (a / y) s = (a s) / y
        if (a->kind == Kind::mul && a->op == "/" && b->scalar) {
          return done(mul("/", mul("", a->kids[0], b), a->kids[1]));
        }
      }
      break;
    }
    default: break;
  }
  return e;
}

}  // namespace

Ptr atom(std::string token, bool scalar) {
  auto n = std::make_shared<Node>();
  n->op = std::move(token);
  n->scalar = scalar;
  return n;
}

Ptr number(double value) {
  auto n = std::make_shared<Node>();
  n->op = value == std::round(value) && std::abs(value) < 1e15 ? fmt::format("{}", static_cast<long long>(value))
                                                               : fmt::format("{:.6g}", value);
  n->number = n->scalar = true;
  return n;
}

Ptr unit() {
  auto n = std::make_shared<Node>();
  n->op = "1";
  n->number = n->scalar = n->unit = true;
  return n;
}

Ptr mul(std::string op, Ptr a, Ptr b) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::mul;
  n->op = std::move(op);
  n->kids = {std::move(a), std::move(b)};
  return with_flags(n);
}

Ptr post(Ptr a, std::string op) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::post;
  n->op = std::move(op);
  n->kids = {std::move(a)};
  return with_flags(n);
}

Ptr call(std::string name, std::vector<Ptr> args) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::call;
  n->op = std::move(name);
  n->kids = std::move(args);
  return n;
}

Ptr add(std::vector<Ptr> terms, std::vector<bool> minus) {
  auto n = std::make_shared<Node>();
  n->kind = Kind::add;
  n->kids = std::move(terms);
  n->minus = std::move(minus);
  return n;
}

Ptr substitute(const Ptr& e, const Substitution& f) {
  if (e->kind == Kind::atom) {
    if (e->number) return e;
    if (Ptr r = f(e->op)) return r;
    return e;
  }
  if (e->kids.empty()) return e;
  auto n = std::make_shared<Node>(*e);
  for (auto& k : n->kids) k = substitute(k, f);
  return with_flags(n);
}

std::size_t count_nodes(const Ptr& e, std::size_t limit) {
  std::size_t count = 0;
  std::vector<const Node*> pending{e.get()};
  while (!pending.empty() && count < limit) {
    const Node* n = pending.back();
    pending.pop_back();
    ++count;
    for (const Ptr& k : n->kids) pending.push_back(k.get());
  }
  return count;
}

bool mentions(const Ptr& e, const std::function<bool(const std::string&)>& pred) {
  if (e->kind == Kind::atom) return !e->number && pred(e->op);
  return std::any_of(e->kids.begin(), e->kids.end(), [&](const Ptr& k) { return mentions(k, pred); });
}

Ptr drop_terms(const Ptr& e, const std::function<bool(const std::string&)>& pred) {
  if (e->kind == Kind::add) {
    std::vector<Ptr> terms;
    std::vector<bool> minus;
    for (std::size_t i = 0; i < e->kids.size(); ++i) {
      Ptr t = drop_terms(e->kids[i], pred);
      if (t->kind == Kind::atom && t->op == "0") continue;
      terms.push_back(t);
      minus.push_back(e->minus[i]);
    }
    if (terms.empty()) return number(0);
    if (terms.size() == 1 && !minus[0]) return terms[0];
    return add(terms, minus);
  }
  if (e->kind == Kind::mul || e->kind == Kind::neg || e->kind == Kind::post || e->kind == Kind::atom) {
    return mentions(e, pred) ? number(0) : e;
  }
  return e;
}

Ptr simplify(const Ptr& e) {
  Ptr r = e;
  for (int round = 0; round < 64; ++round) {
    bool changed = false;
    r = simplify_once(r, changed);
    if (!changed) break;
  }
  return r;
}

bool has_matrix_product(const Ptr& e) {
  if (e->kind == Kind::mul && e->op.empty() && !e->kids[0]->number && !e->kids[1]->number) return true;
  return std::any_of(e->kids.begin(), e->kids.end(), has_matrix_product);
}

std::string print(const Ptr& e) {
  switch (e->kind) {
    case Kind::atom: return e->op;
    case Kind::call: {
      std::vector<std::string> args;
      for (const Ptr& k : e->kids) args.push_back(print(k));
      return fmt::format("{}({})", e->op, fmt::join(args, ", "));
    }
    case Kind::add: {
      std::string s;
      for (std::size_t i = 0; i < e->kids.size(); ++i) {
        if (i == 0) {
          s += e->minus[0] ? "−" + wrapped(e->kids[0], 2) : wrapped(e->kids[0], 1);
        } else {
          s += e->minus[i] ? " − " + wrapped(e->kids[i], 2) : " + " + wrapped(e->kids[i], 1);
        }
      }
      return s;
    }
    case Kind::neg: return "−" + wrapped(e->kids[0], 2);
    case Kind::pre: return e->op + wrapped(e->kids[0], 4);
    case Kind::post: return wrapped(e->kids[0], 5) + e->op;
    case Kind::wrap: return e->op + print(e->kids[0]) + e->close;
    case Kind::rel: return wrapped(e->kids[0], 1) + " " + e->op + " " + wrapped(e->kids[1], 1);
    case Kind::mul: {
      const Ptr& a = e->kids[0];
      const Ptr& b = e->kids[1];
      std::string left;
      if (a->kind == Kind::mul) {
        const bool same = a->op == e->op || (is_coefficient_product(a) && e->op != "/");
        left = same ? print(a) : "(" + print(a) + ")";
      } else {
        left = wrapped(a, 2);
      }
      const std::string right = b->kind == Kind::mul ? "(" + print(b) + ")" : wrapped(b, 3);
      if (e->op.empty()) return left + " " + right;
      if (e->op == "/") {
        const bool tight = precedence(a) >= 4 && precedence(b) >= 4;
        return tight ? left + "/" + right : left + " / " + right;
      }
      return left + " " + e->op + " " + right;
    }
    case Kind::text: {
      std::string s;
      for (std::size_t i = 0; i < e->kids.size(); ++i) {
        if (i > 0 && e->minus[i]) s += ' ';
        s += e->kids[i]->kind == Kind::atom ? e->kids[i]->op : "(" + print(e->kids[i]) + ")";
      }
      return s;
    }
  }
  return {};
}

Equation split_equation(std::string_view text) {
  std::vector<std::size_t> at;
  int depth = 0;
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    depth += text[i] == '(' || text[i] == '[' ? 1 : text[i] == ')' || text[i] == ']' ? -1 : 0;
    if (depth == 0 && text.substr(i, 3) == " = ") at.push_back(i);
  }
  if (at.empty()) return {std::string(), std::string(text)};
  return {std::string(text.substr(0, at.front())), std::string(text.substr(at.back() + 3))};
}

}  // namespace matgrad::detail::expr
