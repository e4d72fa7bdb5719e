// The parser of the templates' expression language (explain_expr.hpp): UTF-8 tokens and a
// precedence parser; what does not parse is kept as a text node of its tokens.
#include "explain_expr.hpp"

#include <cctype>
#include <optional>

namespace matgrad::detail::expr {

namespace {

// ---- tokens ----

char32_t decode(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (int k = 1; k < n && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

bool is_subscript(char32_t c) {
  return (c >= 0x2080 && c <= 0x209C) || c == 0x1D62 || c == 0x2C7C || c == 0x1D63;
}
bool is_superscript(char32_t c) {
  return c == 0x1D40 || c == 0xB9 || c == 0xB2 || c == 0xB3 || (c >= 0x2070 && c <= 0x207F);
}
bool is_letter(char32_t c) {
  return (c < 0x80 && (std::isalpha(static_cast<int>(c)) || c == '_' || c == '#')) ||
         (c >= 0x370 && c <= 0x3FF) || c == 0x2113;  // Greek, ℓ
}
bool is_digit(char32_t c) { return c < 0x80 && std::isdigit(static_cast<int>(c)); }
bool is_prime(char32_t c) { return c == '\'' || c == 0x2032; }  // gelu′(A)

enum class Tok { ident, number, sup, op, end };
struct Token {
  Tok kind;
  std::string text;
  bool space_before = false;
};

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  bool space = false;
  while (i < s.size()) {
    const std::size_t start = i;
    const char32_t c = decode(s, i);
    if (c == ' ') {
      space = true;
      continue;
    }
    Token t{Tok::op, {}, space};
    space = false;
    auto extend = [&](auto pred) {
      while (i < s.size()) {
        std::size_t j = i;
        if (!pred(decode(s, j))) break;
        i = j;
      }
    };
    if (is_letter(c)) {
      t.kind = Tok::ident;
      extend([](char32_t d) { return is_letter(d) || is_digit(d) || is_subscript(d) || is_prime(d); });
    } else if (is_digit(c) || c == U'½') {
      t.kind = Tok::number;
      extend([](char32_t d) { return is_digit(d) || d == '.'; });
    } else if (is_superscript(c)) {
      t.kind = Tok::sup;
      extend(is_superscript);
    }
    t.text = std::string(s.substr(start, i - start));
    out.push_back(std::move(t));
  }
  out.push_back({Tok::end, {}, false});
  return out;
}

// ---- parser ----

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  std::optional<Ptr> parse_all() {
    auto e = relation("");
    if (!e || t_[at_].kind != Tok::end) return std::nullopt;
    return e;
  }

 private:
  const Token& peek() const { return t_[at_]; }
  bool is(std::string_view op) const { return peek().kind == Tok::op && peek().text == op; }

  std::optional<Ptr> relation(std::string_view closer) {
    auto left = sum(closer);
    if (!left) return std::nullopt;
    while (is(">") || is("<") || is("≤") || is("≥") || is("=") || is("≠")) {
      const std::string op = t_[at_++].text;
      auto right = sum(closer);
      if (!right) return std::nullopt;
      auto n = std::make_shared<Node>();
      n->kind = Kind::rel;
      n->op = op;
      n->kids = {*left, *right};
      left = n;
    }
    return left;
  }

  std::optional<Ptr> sum(std::string_view closer) {
    std::vector<Ptr> terms;
    std::vector<bool> minus;
    bool negative = false;
    if (is("−") || is("-")) {
      ++at_;
      negative = true;
    }
    auto first = product(closer);
    if (!first) return std::nullopt;
    terms.push_back(*first);
    minus.push_back(negative);
    while (is("+") || is("−") || is("-")) {
      const bool m = t_[at_++].text != "+";
      auto term = product(closer);
      if (!term) return std::nullopt;
      terms.push_back(*term);
      minus.push_back(m);
    }
    if (terms.size() == 1 && !minus[0]) return terms[0];
    return add(terms, minus);
  }

  bool starts_primary(std::string_view closer) const {
    const Token& k = peek();
    if (k.kind == Tok::ident || k.kind == Tok::number) return true;
    if (k.kind != Tok::op) return false;
    if (k.text == closer) return false;
    return k.text == "(" || k.text == "[" || k.text == "√" || k.text == "‖" || k.text == "|";
  }

  std::optional<Ptr> product(std::string_view closer) {
    auto left = prefix(closer);
    if (!left) return std::nullopt;
    while (true) {
      std::string op;
      if (is("⊙") || is("⊘") || is("/") || is("÷")) {
        op = t_[at_++].text;
        if (op == "÷") op = "/";
      } else if (!starts_primary(closer)) {
        break;
      }
      auto right = prefix(closer);
      if (!right) return std::nullopt;
      auto n = std::make_shared<Node>();
      n->kind = Kind::mul;
      n->op = op;
      n->kids = {*left, *right};
      left = n;
    }
    return left;
  }

  std::optional<Ptr> prefix(std::string_view closer) {
    if (is("−") || is("-")) {
      ++at_;
      auto kid = prefix(closer);
      if (!kid) return std::nullopt;
      auto n = std::make_shared<Node>();
      n->kind = Kind::neg;
      n->kids = {*kid};
      return n;
    }
    if (is("√")) {
      ++at_;
      auto kid = prefix(closer);
      if (!kid) return std::nullopt;
      auto n = std::make_shared<Node>();
      n->kind = Kind::pre;
      n->op = "√";
      n->kids = {*kid};
      return n;
    }
    return postfix();
  }

  std::optional<Ptr> postfix() {
    auto e = primary();
    if (!e) return std::nullopt;
    while (true) {
      if (peek().kind == Tok::sup && !peek().space_before) {
        e = post(mark_ones(*e), t_[at_++].text);
      } else if (is("^")) {
        ++at_;
        auto p = primary();
        if (!p) return std::nullopt;
        e = post(*e, "^" + ((*p)->kind == Kind::atom ? print(*p) : "(" + print(*p) + ")"));
      } else {
        return e;
      }
    }
  }

  static Ptr mark_ones(const Ptr& e) {
    if (e->kind != Kind::atom || e->op != "1") return e;
    auto n = std::make_shared<Node>(*e);
    n->ones = true;
    n->scalar = false;
    return n;
  }

  std::optional<Ptr> primary() {
    const Token k = peek();
    if (k.kind == Tok::number) {
      ++at_;
      auto n = std::make_shared<Node>();
      n->op = k.text;
      n->number = n->scalar = true;
      // A 1 right of a juxtaposition is a vector of ones: marked by product() below.
      if (k.text == "1" && at_ >= 2 && t_[at_ - 2].kind == Tok::ident) n->ones = true, n->scalar = false;
      return n;
    }
    if (k.kind == Tok::ident) {
      ++at_;
      if (is("(") && !peek().space_before) {
        ++at_;
        std::vector<Ptr> args;
        while (!is(")")) {
          auto a = relation(")");
          if (!a) return std::nullopt;
          args.push_back(*a);
          if (is(",")) {
            ++at_;
          } else if (!is(")")) {
            return std::nullopt;
          }
        }
        ++at_;
        return call(k.text, std::move(args));
      }
      return atom(k.text);
    }
    if (k.kind != Tok::op) return std::nullopt;
    const std::string open = k.text;
    std::string close;
    if (open == "(") close = ")";
    if (open == "[") close = "]";
    if (open == "‖" || open == "|") close = open;
    if (close.empty()) return std::nullopt;
    ++at_;
    auto inner = relation(close);
    if (!inner || !is(close)) return std::nullopt;
    ++at_;
    if (open == "(") return inner;
    auto n = std::make_shared<Node>();
    n->kind = Kind::wrap;
    n->op = open;
    n->close = close;
    n->kids = {*inner};
    return n;
  }

  std::vector<Token> t_;
  std::size_t at_ = 0;
};

}  // namespace

Ptr parse(std::string_view text) {
  std::vector<Token> tokens = tokenize(text);
  if (auto e = Parser(tokens).parse_all()) return *e;
  auto n = std::make_shared<Node>();
  n->kind = Kind::text;
  for (const Token& t : tokens) {
    if (t.kind == Tok::end) break;
    n->kids.push_back(atom(t.text));
    n->minus.push_back(t.space_before);
  }
  return n;
}

}  // namespace matgrad::detail::expr
