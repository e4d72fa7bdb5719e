// The notes' two-layer network (docs/matrix-calculus.md § 4) explained by explain(): its
// backward pass written out as the derivation of the notes, one total differential at a time,
// each step checked by finite differences, in all four formats.
//
//   Z1 = W1 X + b1    A1 = σ(Z1)    Z2 = W2 A1 + b2    A2 = σ(Z2)    C = (1/N) Σ (A2 − Y)²
//
//   explain_notes [DIR]    prints the text; writes explain_notes.{txt,md,tex,html} to DIR
//                          (default out/explain_notes); exits 1 when a check fails
#include <matgrad/explain.hpp>
#include <matgrad/matgrad.hpp>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

using namespace matgrad;

int main(int argc, char** argv) {
  const std::filesystem::path dir = argc > 1 ? argv[1] : "out/explain_notes";
  Generator gen(4);
  const TensorOptions f64{.dtype = DType::float64};
  const std::size_t samples = 5;  // columns are samples, as in the notes
  Tensor x = randn({2, samples}, gen, f64), y = rand({1, samples}, gen, f64);
  Tensor w1 = randn({3, 2}, gen, f64).requires_grad_(), b1 = randn({3, 1}, gen, f64).requires_grad_();
  Tensor w2 = randn({1, 3}, gen, f64).requires_grad_(), b2 = randn({1, 1}, gen, f64).requires_grad_();
  Tensor n = tensor(static_cast<double>(samples), f64);  // N, the number of entries averaged

  // The forward pass, each result named as in the notes.
  auto forward = [&] {
    Tensor z1 = (matmul(w1, x) + b1).set_name("Z1");
    Tensor a1 = sigmoid(z1).set_name("A1");
    Tensor z2 = (matmul(w2, a1) + b2).set_name("Z2");
    Tensor a2 = sigmoid(z2).set_name("A2");
    return (sum(square(a2 - y)) / n).set_name("C");
  };
  const Tensor c = forward();
  const Explanation e = explain(c, {.names = {{"W1", w1}, {"b1", b1}, {"W2", w2}, {"b2", b2}, {"X", x}, {"Y", y}, {"N", n}},
                                    .program = forward,
                                    .title = "The notes' two-layer network"});
  fmt::print("{}", e.text());

  std::filesystem::create_directories(dir);
  std::ofstream(dir / "explain_notes.txt") << e.text();
  std::ofstream(dir / "explain_notes.md") << e.markdown();
  std::ofstream(dir / "explain_notes.tex") << e.latex();
  write_html(e, (dir / "explain_notes.html").string());
  fmt::print("\nwrote {}/explain_notes.{{txt,md,tex,html}}\n", dir.string());
  return e.passed && e.checks > 0 ? 0 : 1;
}
