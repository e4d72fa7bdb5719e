// explain(): the backward pass of a recorded program written out as the derivation a person
// would write, one total differential at a time, each step checked by numbers.
//
//   Tensor z1 = (matmul(w1, x) + b1).set_name("Z1");
//   ...
//   Tensor c = (sum(square(a2 - y)) / n).set_name("C");
//   Explanation e = explain(c, {.names = {{"W1", w1}, {"X", x}, {"N", n}},
//                               .program = [&] { return forward(w1, b1, w2, b2); }});
//   fmt::print("{}", e.text());          // or e.markdown(), e.latex(), e.html()
//
// For each step, from the output back: the forward equation in the user's names
// (Z1 = W1 X + b1), its total differential (dZ1 = dW1 X + db1 1ᵀ), and the adjoint equations
// read off it (G_W1 = G_Z1 Xᵀ, G_b1 = G_Z1 1), with every symbol's shape. G_X is ∂ℓ/∂X for
// ℓ = ⟨seed, output⟩ (ℓ = output for a one-element output). A step is a named result; an
// unnamed result read by one record only is written into the step that reads it, any other is
// a step of its own, named #k. A result read along several paths gets the sum of the
// contributions (G_A1 = G_A1⁽¹⁾ + G_A1⁽²⁾); an input broadcast by an elementwise op gets its
// gradient summed over the broadcast dimensions (G_b1 = G_Z1 1); constants are marked (dX = 0).
//
// The numbers beside each step: ‖G‖, and, when `program` is given, a directional
// finite-difference check of the adjoint, ⟨G, D⟩ against (ℓ(X + εD) − ℓ(X − εD)) / 2ε for a
// random direction D. A leaf is perturbed in place (and restored bit for bit); a named result
// as the re-run program names it (Tensor::set_name); an unnamed one (#k) as the record standing
// where its own stands among the re-run's records, found by one more run matched against the
// graph from the output back (so the program must record the same ops in the same order each
// time it runs). An input that cholesky, eigh or eigvalsh reads is perturbed along a symmetric
// D: their gradients, as torch's, are those of the input's symmetric part. Then, per parameter,
// its gradient in closed form by substitution
// through the steps, lightly simplified; a step's gradient whose closed form has grown past
// 200 symbols stays its name (G_#k) in the closed forms before it, so deep graphs stay readable.
//
// The equations come from each op's OpInfo (autograd.hpp): its forward equation, differential
// and VJP, in the letters A, B, C that the op table uses. Call explain on an unreleased graph:
// before backward, or after one with retain_graph; it leaves every .grad() untouched.
#pragma once

#include "matgrad/compare.hpp"
#include "matgrad/tensor.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace matgrad {

struct ExplainOptions {
  // Names of leaves and results, as for to_dot; Tensor::set_name's names are used too.
  NamedTensors names;
  // Recomputes the output from the current values of the leaves (the user's forward pass), for
  // the finite-difference checks; without it only the norms are given.
  std::function<Tensor()> program;
  // ℓ = ⟨seed, output⟩; undefined: 1 for a one-element output, else ones (ℓ = Σ output).
  Tensor seed;
  // Central-difference step and tolerance: |fd − ⟨G, D⟩| ≤ rtol (|fd| + |⟨G, D⟩|) + atol (1 + |ℓ|).
  // 0: 1e-6, 1e-6, 1e-9 for a float64 graph; 1e-2, 2e-2, 1e-4 for a float32 one.
  double eps = 0;
  double rtol = 0;
  double atol = 0;
  std::uint64_t direction_seed = 17;  // for the random directions D
  // Write unnamed results read by one record into the step that reads them, up to 8 records a
  // step (false: one step per record).
  bool inline_unnamed = true;
  std::string title;
};

// A directional finite-difference check of one gradient.
struct ExplainCheck {
  bool checked = false;  // false: no program, or the program does not name this result
  bool passed = false;
  double grad_norm = 0;  // ‖G‖ (Frobenius)
  double predicted = 0;  // ⟨G, D⟩
  double numeric = 0;    // (ℓ(X + εD) − ℓ(X − εD)) / 2ε
  std::string note;      // why it was not checked, or how D was drawn
};

struct ExplainSymbol {
  std::string name;
  Shape shape;
  std::string role;  // "output", "result", "parameter" (a leaf that requires grad), "constant"
};

struct ExplainStep {
  std::string result;                 // "Z1", "#3"
  std::string ops;                    // the records it covers: "gemm, add"
  std::string equation;               // "Z1 = W1 X + b1"
  std::string differential;           // "dZ1 = dW1 X + db1 1ᵀ"
  std::vector<std::string> adjoints;  // "G_W1 = G_Z1 Xᵀ", "G_b1 = G_Z1 1"
  std::vector<std::string> notes;     // constants, broadcasting, fan-out sums
  std::vector<ExplainSymbol> symbols;
  ExplainCheck check;                 // of G_result
  std::string anchor;                 // "step-Z1": the HTML page's id of the step
};

struct ExplainParameter {
  std::string name;
  Shape shape;
  std::string closed_form;  // "G_W1 = ((W2ᵀ (…)) ⊙ A1 ⊙ (1 − A1)) Xᵀ"
  ExplainCheck check;
  std::string anchor;
};

struct HtmlOptions {
  // Where Debian's libjs-katex is; its katex.min.js and katex.min.css are inlined in the page.
  std::string katex_dir = "/usr/share/javascript/katex";
  // Render the chain-rule tree with Graphviz's dot into the page when it is installed.
  bool graph = true;
};

struct Explanation {
  std::string title;
  std::string loss;  // "ℓ = C", or "ℓ = ⟨seed, C⟩"
  std::vector<ExplainStep> steps;  // from the output back
  std::vector<ExplainParameter> parameters;
  std::size_t checks = 0;  // finite-difference checks run
  bool passed = true;      // every check that ran passed
  std::string dot;         // the chain-rule tree (to_dot), each record linked to its step

  std::string text() const;      // Unicode, for a terminal
  std::string markdown() const;  // Markdown with $…$ / $$…$$ LaTeX math
  std::string latex() const;     // a LaTeX fragment (align* environments) for lecture notes
  // A self-contained HTML page: KaTeX inlined, the graph as inline SVG when dot is installed.
  std::string html(const HtmlOptions& options = {}) const;
};

Explanation explain(const Tensor& output, const ExplainOptions& options = {});

// explain's Unicode math as LaTeX (G_W1 → G_{W1}, Xᵀ → X^{\top}, ⊙ → \odot), as the Markdown,
// LaTeX and HTML formats write it.
std::string explain_latex(std::string_view unicode);

// Writes html() to `path`, with KaTeX's fonts copied beside it (fonts/), so that the page
// also renders with KaTeX's own fonts when opened from disk.
void write_html(const Explanation& explanation, const std::string& path, const HtmlOptions& options = {});

}  // namespace matgrad
