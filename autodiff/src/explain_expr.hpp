// The small expression language of the OpInfo templates ("gA = gC ⊙ B", "dC = dA B + A dB",
// "C = σ(A)"), for explain(): parse, substitute the user's names and the inlined steps, simplify
// lightly, print. Text that does not parse is kept as tokens, so every template can be shown.
// Private to the library.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace matgrad::detail::expr {

enum class Kind {
  atom,  // a symbol or a number
  call,  // f(x, y)
  add,   // terms with signs
  neg,   // −x
  mul,   // op: "" (juxtaposition: a matrix product or a scalar multiple), "⊙", "⊘", "/"
  post,  // x then op: "ᵀ", "²", "⁻¹", "^p"
  pre,   // op then x: "√"
  wrap,  // ‖x‖, |x|, [x]
  rel,   // x op y: ">", "≤", "=" (inside brackets and arguments)
  text,  // tokens that did not parse, with the spaces between them
};

struct Node;
using Ptr = std::shared_ptr<const Node>;

struct Node {
  Kind kind = Kind::atom;
  std::string op;           // atom: the token; call: the function; the operator otherwise
  std::string close;        // wrap: the closing delimiter
  std::vector<Ptr> kids;
  std::vector<bool> minus;  // add: the sign of each term; text: a space before each token
  bool number = false;      // a numeric literal
  bool scalar = false;      // a scalar: a number, a 0-d tensor's symbol, a product of scalars
  bool ones = false;        // the literal 1 standing for a vector of ones ("gc 1", "1ᵀ gC")
  bool unit = false;        // the scalar 1 (the seed of a scalar output): a product drops it
};

Ptr atom(std::string token, bool scalar = false);
Ptr number(double value);
Ptr unit();
Ptr mul(std::string op, Ptr a, Ptr b);
Ptr post(Ptr a, std::string op);
Ptr call(std::string name, std::vector<Ptr> args);
Ptr add(std::vector<Ptr> terms, std::vector<bool> minus);

// Parses one expression; text that does not parse comes back as a text node.
Ptr parse(std::string_view text);

// Each atom for which `f` returns a node is replaced by it.
using Substitution = std::function<Ptr(const std::string& symbol)>;
Ptr substitute(const Ptr& e, const Substitution& f);

// Whether an atom of e satisfies `pred`.
bool mentions(const Ptr& e, const std::function<bool(const std::string&)>& pred);

// The terms of a sum that mention nothing `pred` matches (0 when none is left); a product
// that mentions one is 0.
Ptr drop_terms(const Ptr& e, const std::function<bool(const std::string&)>& pred);

// Transposes of transposes, double negations, the unit seed, scalar coefficients moved to the
// front and multiplied out, a scalar broadcast by 1 read as the scalar.
Ptr simplify(const Ptr& e);

// Whether e has a product of two non-numeric factors (a matrix product, not an elementwise one).
bool has_matrix_product(const Ptr& e);

// The nodes of e, counted up to `limit` (the count stops there).
std::size_t count_nodes(const Ptr& e, std::size_t limit);

std::string print(const Ptr& e);

// The template "LHS = RHS" split at its first top-level " = ": {"C", "A B"}; for a chain
// "dc = X = Y" the right-hand side is the last one.
struct Equation {
  std::string lhs;
  std::string rhs;
};
Equation split_equation(std::string_view text);

}  // namespace matgrad::detail::expr
