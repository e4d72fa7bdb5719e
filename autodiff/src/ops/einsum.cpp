// torch.einsum, composed: each operand's repeated labels become diagonals (traces, diagonals),
// labels no later operand and not the output names are summed out, and the operands are
// contracted left to right, each pair as one batched gemm after a permute and a reshape. The
// gradient falls out of the graph (diagonal, sum, permute, reshape and gemm are differentiable,
// twice), and the work is that of the gemms a hand-written contraction would call.
#include "matgrad/composed_op.hpp"
#include "common.hpp"

#include <array>
#include <numeric>
#include <string>
#include <vector>

namespace matgrad {

namespace detail {
Tensor batched_matmul(const Tensor& a, const Tensor& b, const SourceLocation& caller);  // tensor_products.cpp
}

namespace {

// Labels: 'A'–'Z' are 0–25, 'a'–'z' 26–51 (so sorting them sorts the letters as torch's implicit
// output does), and the dims an ellipsis stands for are 52 + their position among the broadcast
// ellipsis dims.
constexpr int letters = 52;

int label_of(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' : c - 'a' + 26; }
bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

struct Term {
  std::vector<int> letters_before, letters_after;  // around the ellipsis, if any
  bool ellipsis = false;
};

Term parse_term(std::string_view eq, std::string_view term) {
  Term t;
  for (std::size_t i = 0; i < term.size(); ++i) {
    const char c = term[i];
    if (c == '.') {
      if (t.ellipsis || term.substr(i, 3) != "...") {
        fail<ValueError>("einsum: '{}' has a '.' that is not one ellipsis '...' (in '{}')", eq, term);
      }
      t.ellipsis = true;
      i += 2;
    } else if (is_letter(c)) {
      (t.ellipsis ? t.letters_after : t.letters_before).push_back(label_of(c));
    } else {
      fail<ValueError>("einsum: '{}' has the character '{}', not a letter, ',', '->' or '...'", eq, c);
    }
  }
  return t;
}

struct Labelled {
  Tensor x;
  std::vector<int> labels;  // one per dim of x
};

// Sums x over the dims whose label `keep` does not hold.
void sum_out(Labelled& t, const std::array<bool, 256>& keep, const SourceLocation& caller) {
  for (std::size_t d = t.labels.size(); d-- > 0;) {
    if (keep[static_cast<std::size_t>(t.labels[d])]) continue;
    t.x = sum(t.x, static_cast<std::ptrdiff_t>(d), false, caller);
    t.labels.erase(t.labels.begin() + static_cast<std::ptrdiff_t>(d));
  }
}

std::vector<std::ptrdiff_t> positions(const std::vector<int>& labels, const std::vector<int>& order) {
  std::vector<std::ptrdiff_t> p;
  for (const int l : order) {
    p.push_back(static_cast<std::ptrdiff_t>(std::find(labels.begin(), labels.end(), l) - labels.begin()));
  }
  return p;
}

// a and b contracted over their common labels that `keep` does not hold; the common labels it
// holds are batch dims. Result labels: batch, a's own, b's own.
Labelled contract(Labelled a, Labelled b, const std::array<bool, 256>& keep, const std::array<std::size_t, 256>& size,
                  const SourceLocation& caller) {
  std::array<bool, 256> in_a{}, in_b{};
  for (const int l : a.labels) in_a[static_cast<std::size_t>(l)] = true;
  for (const int l : b.labels) in_b[static_cast<std::size_t>(l)] = true;
  std::array<bool, 256> keep_a = keep, keep_b = keep;
  for (std::size_t l = 0; l < 256; ++l) {
    keep_a[l] = keep[l] || in_b[l];
    keep_b[l] = keep[l] || in_a[l];
  }
  sum_out(a, keep_a, caller);
  sum_out(b, keep_b, caller);
  std::vector<int> batch, summed, own_a, own_b;
  for (const int l : a.labels) {
    const auto u = static_cast<std::size_t>(l);
    (in_b[u] ? (keep[u] ? batch : summed) : own_a).push_back(l);
  }
  for (const int l : b.labels) {
    if (!in_a[static_cast<std::size_t>(l)]) own_b.push_back(l);
  }
  // A size-1 dim facing a larger one broadcasts.
  auto full_size = [&](Labelled& t) {
    Shape s;
    for (const int l : t.labels) s.push_back(size[static_cast<std::size_t>(l)]);
    if (s != t.x.shape()) t.x = broadcast_to(t.x, s, caller);
  };
  full_size(a);
  full_size(b);
  auto count = [&](const std::vector<int>& ls) {
    std::size_t n = 1;
    for (const int l : ls) n *= size[static_cast<std::size_t>(l)];
    return n;
  };
  std::vector<int> order_a = batch, order_b = batch;
  order_a.insert(order_a.end(), own_a.begin(), own_a.end());
  order_a.insert(order_a.end(), summed.begin(), summed.end());
  order_b.insert(order_b.end(), summed.begin(), summed.end());
  order_b.insert(order_b.end(), own_b.begin(), own_b.end());
  const Tensor left = reshape(permute(a.x, positions(a.labels, order_a), caller), Shape{count(batch), count(own_a), count(summed)}, caller);
  const Tensor right = reshape(permute(b.x, positions(b.labels, order_b), caller), Shape{count(batch), count(summed), count(own_b)}, caller);
  Labelled out;
  out.labels = batch;
  out.labels.insert(out.labels.end(), own_a.begin(), own_a.end());
  out.labels.insert(out.labels.end(), own_b.begin(), own_b.end());
  Shape shape;
  for (const int l : out.labels) shape.push_back(size[static_cast<std::size_t>(l)]);
  out.x = reshape(detail::batched_matmul(left, right, caller), shape, caller);
  return out;
}

}  // namespace

static const ComposedOpInfo einsum_composed{"einsum", "C = Σ over the letters not in the output of Π operands: diagonal for a repeated letter, sum for a letter no one else names, then left to right one batched gemm (after permute, reshape) per pair"};
Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands, const SourceLocation& caller) {
  if (operands.empty()) fail<ValueError>("einsum: '{}' is given no operands", equation);
  for (const Tensor& x : operands) detail::check_same_dtype("einsum", operands[0], x);
  std::string eq;
  for (const char c : equation) {
    if (c != ' ') eq.push_back(c);
  }
  const std::size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<Term> terms;
  for (std::size_t start = 0;;) {
    const std::size_t comma = lhs.find(',', start);
    terms.push_back(parse_term(equation, std::string_view(lhs).substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != operands.size()) {
    fail<ValueError>("einsum: '{}' has {} operand terms but {} operands are given", equation, terms.size(), operands.size());
  }
  // Each operand's labels, the ellipsis dims aligned to the right (they broadcast).
  std::size_t ellipsis_dims = 0;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    const std::size_t named = terms[k].letters_before.size() + terms[k].letters_after.size();
    if (operands[k].dim() < named || (!terms[k].ellipsis && operands[k].dim() != named)) {
      fail<ShapeError>("einsum: term {} of '{}' names {} dims{} but operand {} has shape {}", k, equation, named,
                       terms[k].ellipsis ? " (and an ellipsis)" : "", k, to_string(operands[k].shape()));
    }
    ellipsis_dims = std::max(ellipsis_dims, operands[k].dim() - named);
  }
  std::array<std::size_t, 256> size{};
  std::array<int, 256> appearances{};
  std::array<bool, 256> seen{};
  std::vector<Labelled> ops;
  for (std::size_t k = 0; k < terms.size(); ++k) {
    const Term& t = terms[k];
    Labelled op{operands[k], t.letters_before};
    const std::size_t span = operands[k].dim() - t.letters_before.size() - t.letters_after.size();
    for (std::size_t e = 0; e < span; ++e) op.labels.push_back(letters + static_cast<int>(ellipsis_dims - span + e));
    op.labels.insert(op.labels.end(), t.letters_after.begin(), t.letters_after.end());
    for (std::size_t d = 0; d < op.labels.size(); ++d) {
      const auto l = static_cast<std::size_t>(op.labels[d]);
      const std::size_t n = op.x.shape()[d];
      if (seen[l] && size[l] != n && size[l] != 1 && n != 1) {
        fail<ShapeError>("einsum: label {} of '{}' has size {} in operand {} (shape {}) but {} elsewhere",
                         l < letters ? std::string(1, static_cast<char>(l < 26 ? 'A' + l : 'a' + l - 26)) : "of the ellipsis",
                         equation, n, k, to_string(op.x.shape()), size[l]);
      }
      size[l] = seen[l] ? std::max(size[l], n) : n;
      seen[l] = true;
      ++appearances[l];
    }
    // Repeated labels within one operand: their diagonal, put last.
    for (bool repeated = true; repeated;) {
      repeated = false;
      for (std::size_t i = 0; i < op.labels.size() && !repeated; ++i) {
        for (std::size_t j = i + 1; j < op.labels.size() && !repeated; ++j) {
          if (op.labels[i] != op.labels[j]) continue;
          if (op.x.shape()[i] != op.x.shape()[j]) {
            fail<ShapeError>("einsum: a label repeated in operand {} of '{}' covers dims of sizes {} and {} (shape {})", k,
                             equation, op.x.shape()[i], op.x.shape()[j], to_string(op.x.shape()));
          }
          const int l = op.labels[i];
          op.x = diagonal(op.x, 0, static_cast<std::ptrdiff_t>(i), static_cast<std::ptrdiff_t>(j), caller);
          op.labels.erase(op.labels.begin() + static_cast<std::ptrdiff_t>(j));
          op.labels.erase(op.labels.begin() + static_cast<std::ptrdiff_t>(i));
          op.labels.push_back(l);
          repeated = true;
        }
      }
    }
    ops.push_back(std::move(op));
  }
  // The output's labels: as written, or (implicit) the ellipsis then the letters used once, sorted.
  std::vector<int> output;
  if (arrow != std::string::npos) {
    const Term out = parse_term(equation, std::string_view(eq).substr(arrow + 2));
    output = out.letters_before;
    // An output without the ellipsis sums its dims out (torch's sample "...ik, ...j -> ij").
    if (out.ellipsis) {
      for (std::size_t e = 0; e < ellipsis_dims; ++e) output.push_back(letters + static_cast<int>(e));
    }
    output.insert(output.end(), out.letters_after.begin(), out.letters_after.end());
    std::array<bool, 256> named{};
    for (const int l : output) {
      const auto u = static_cast<std::size_t>(l);
      if (named[u]) fail<ValueError>("einsum: the output of '{}' names a label twice", equation);
      if (!seen[u]) fail<ValueError>("einsum: the output of '{}' names a label no operand has", equation);
      named[u] = true;
    }
  } else {
    for (std::size_t e = 0; e < ellipsis_dims; ++e) output.push_back(letters + static_cast<int>(e));
    for (int l = 0; l < letters; ++l) {
      if (appearances[static_cast<std::size_t>(l)] == 1) output.push_back(l);
    }
  }
  std::array<bool, 256> in_output{};
  for (const int l : output) in_output[static_cast<std::size_t>(l)] = true;
  // Left to right: what the output or a later operand needs is kept.
  Labelled result = std::move(ops[0]);
  for (std::size_t k = 1; k <= ops.size(); ++k) {
    std::array<bool, 256> keep = in_output;
    for (std::size_t j = k + 1; j < ops.size(); ++j) {
      for (const int l : ops[j].labels) keep[static_cast<std::size_t>(l)] = true;
    }
    if (k == ops.size()) {
      sum_out(result, keep, caller);
      break;
    }
    result = contract(std::move(result), std::move(ops[k]), keep, size, caller);
  }
  Shape shape;
  for (const int l : output) shape.push_back(size[static_cast<std::size_t>(l)]);
  Tensor out = result.labels == output ? result.x : permute(result.x, positions(result.labels, output), caller);
  return out.shape() == shape ? out : broadcast_to(out, shape, caller);
}

}  // namespace matgrad
