// The two-layer network of the neural-network notes, with its backward pass derived by hand
// through total differentials, checked against autodiff in float64 and then trained both ways
// side by side; forward mode pushes one direction dW1 through the same differentials. Writes
// the chain-rule tree (Graphviz) to --out and renders it when `dot` is installed.
//
//   Z1 = W1 X + b1    A1 = σ(Z1)    Z2 = W2 A1 + b2    A2 = σ(Z2)    C = mean((A2 − Y)²)
//
// Columns are samples, as in the notes: X is [n0, m], Y is [n2, m], b1 and b2 are columns
// added to every sample.
//
//   handwritten_vs_autodiff [--out DIR] [--steps N]     (default out/handwritten_vs_autodiff, 300)
#include <matgrad/matgrad.hpp>

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace matgrad;
namespace fs = std::filesystem;

namespace {

struct Params {
  Tensor w1, b1, w2, b2;
};

struct Forward {
  Tensor z1, a1, z2, a2, c;
};

Forward forward(const Params& p, const Tensor& x, const Tensor& y) {
  Forward f;
  f.z1 = matmul(p.w1, x) + p.b1;
  f.a1 = sigmoid(f.z1);
  f.z2 = matmul(p.w2, f.a1) + p.b2;
  f.a2 = sigmoid(f.z2);
  f.c = mse_loss(f.a2, y);  // the mean over all n2·m entries
  return f;
}

// The gradient of C with respect to each parameter, read off the total differential
// dC = tr(G_Wᵀ dW) + ... one layer at a time, from the output back. G_D denotes ∂C/∂D, a
// matrix of D's shape, so that dC = tr(G_Dᵀ dD) = Σᵢⱼ (G_D)ᵢⱼ dDᵢⱼ.
Params hand_gradients(const Params& p, const Tensor& x, const Tensor& y, const Forward& f) {
  NoGradGuard no_grad;
  const double n = static_cast<double>(y.numel());

  // C = (1/n) tr((A2 − Y)ᵀ (A2 − Y))
  // dC = (2/n) tr((A2 − Y)ᵀ dA2)                                  =>  G_A2 = (2/n)(A2 − Y)
  const Tensor g_a2 = (2.0 / n) * (f.a2 - y);

  // dA2 = σ'(Z2) ⊙ dZ2, σ'(Z2) = A2 ⊙ (1 − A2)
  // dC = tr(G_A2ᵀ (σ'(Z2) ⊙ dZ2)) = tr((G_A2 ⊙ σ'(Z2))ᵀ dZ2)      =>  G_Z2 = G_A2 ⊙ σ'(Z2)
  const Tensor g_z2 = g_a2 * (f.a2 * (1.0 - f.a2));

  // dZ2 = dW2 A1 + W2 dA1 + db2 1ᵀ
  // tr(G_Z2ᵀ dW2 A1) = tr((G_Z2 A1ᵀ)ᵀ dW2)                         =>  G_W2 = G_Z2 A1ᵀ
  // tr(G_Z2ᵀ W2 dA1) = tr((W2ᵀ G_Z2)ᵀ dA1)                         =>  G_A1 = W2ᵀ G_Z2
  // tr(G_Z2ᵀ db2 1ᵀ) = tr((G_Z2 1)ᵀ db2)                           =>  G_b2 = G_Z2 1
  const Tensor g_w2 = matmul(g_z2, t(f.a1));
  const Tensor g_a1 = matmul(t(p.w2), g_z2);
  const Tensor g_b2 = sum(g_z2, 1, /*keepdim=*/true);

  // dA1 = σ'(Z1) ⊙ dZ1                                             =>  G_Z1 = G_A1 ⊙ σ'(Z1)
  const Tensor g_z1 = g_a1 * (f.a1 * (1.0 - f.a1));

  // dZ1 = dW1 X + db1 1ᵀ (X is data: no dX term)                   =>  G_W1 = G_Z1 Xᵀ, G_b1 = G_Z1 1
  const Tensor g_w1 = matmul(g_z1, t(x));
  const Tensor g_b1 = sum(g_z1, 1, /*keepdim=*/true);
  return {g_w1, g_b1, g_w2, g_b2};
}

NamedTensors named(const Params& p) {
  return {{"W1", p.w1}, {"b1", p.b1}, {"W2", p.w2}, {"b2", p.b2}};
}

// p ← p − lr g, outside the graph.
void step(Params& p, const Params& g, double lr) {
  NoGradGuard no_grad;
  p.w1.add_(g.w1, -lr);
  p.b1.add_(g.b1, -lr);
  p.w2.add_(g.w2, -lr);
  p.b2.add_(g.b2, -lr);
}

Params copy(const Params& p) {
  auto leaf = [](const Tensor& t) { return t.detach().clone().requires_grad_(true); };
  return {leaf(p.w1), leaf(p.b1), leaf(p.w2), leaf(p.b2)};
}

// Writes the chain-rule tree and renders it with Graphviz when it is installed.
void draw(const Forward& f, const Params& p, const Tensor& x, const Tensor& y, const fs::path& out) {
  const NamedTensors names = {{"W1", p.w1}, {"b1", p.b1}, {"W2", p.w2}, {"b2", p.b2},
                              {"X", x},     {"Y", y},     {"Z1", f.z1}, {"A1", f.a1},
                              {"Z2", f.z2}, {"A2", f.a2}, {"C", f.c}};
  const fs::path dot_file = out / "chain-rule-tree.dot";
  std::ofstream(dot_file) << to_dot(
      f.c, {.names = names,
            .vjp_labels = true,
            .title = "The chain-rule tree of C: each arrow carries the gradient by its VJP"});
  fmt::print("wrote {}\n", dot_file.string());
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    fmt::print("graphviz is not installed (apt-get install graphviz): not rendering it\n");
    return;
  }
  for (const char* format : {"svg", "png"}) {
    const fs::path image = out / fmt::format("chain-rule-tree.{}", format);
    const std::string command = fmt::format("dot -T{} -Gdpi=110 '{}' -o '{}'", format,
                                            dot_file.string(), image.string());
    if (std::system(command.c_str()) != 0) {
      fmt::print(stderr, "dot failed: {}\n", command);
      std::exit(1);
    }
    fmt::print("wrote {}\n", image.string());
  }
}

}  // namespace

int main(int argc, char** argv) {
  fs::path out = "out/handwritten_vs_autodiff";
  int steps = 300;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else if (arg == "--steps" && i + 1 < argc) {
      steps = std::atoi(argv[++i]);
    } else {
      fmt::print(stderr, "usage: handwritten_vs_autodiff [--out DIR] [--steps N]\n");
      return 2;
    }
  }
  fs::create_directories(out);

  // XOR on two inputs, four samples as columns; 2-4-1 network.
  const TensorOptions f64{.dtype = DType::float64};
  const Tensor x = tensor({{0, 0, 1, 1}, {0, 1, 0, 1}}, f64);
  const Tensor y = tensor({{0, 1, 1, 0}}, f64);
  Generator gen(3);
  const TensorOptions param{.dtype = DType::float64, .requires_grad = true};
  Params p{randn({4, 2}, gen, param), zeros({4, 1}, param), randn({1, 4}, gen, param),
           zeros({1, 1}, param)};

  // 1. One forward pass; the gradients by hand and by autodiff.
  const Forward f = forward(p, x, y);
  const Params hand = hand_gradients(p, x, y, f);
  const std::vector<Tensor> auto_grads = grad({f.c}, {p.w1, p.b1, p.w2, p.b2}, {}, true);
  const Params autodiff{auto_grads[0], auto_grads[1], auto_grads[2], auto_grads[3]};
  fmt::print("C = {:.12f}\n\n", f.c.item());
  const GradientComparison cmp =
      compare_gradients(named(hand), named(autodiff), {.atol = 0.0, .rtol = 1e-12});
  fmt::print("{}\n", cmp.report());

  // 1b. Forward mode: the same differentials pushed forwards along one direction dW1 (every
  // other parameter held, so dW2 = db1 = db2 = 0), by hand and by matgrad's JVPs; both give
  // dC, which the adjoint identity says is tr(G_W1ᵀ dW1).
  const Tensor dw1 = randn(p.w1.shape(), gen, f64);
  double dc_hand = 0, dc_forward = 0;
  {
    NoGradGuard no_grad;
    const double n = static_cast<double>(y.numel());
    const Tensor dz1 = matmul(dw1, x);                 // dZ1 = dW1 X
    const Tensor da1 = f.a1 * (1.0 - f.a1) * dz1;      // dA1 = σ'(Z1) ⊙ dZ1
    const Tensor dz2 = matmul(p.w2, da1);              // dZ2 = W2 dA1
    const Tensor da2 = f.a2 * (1.0 - f.a2) * dz2;      // dA2 = σ'(Z2) ⊙ dZ2
    dc_hand = sum((2.0 / n) * (f.a2 - y) * da2).item();  // dC = tr(G_A2ᵀ dA2)
    DualLevel level;
    const Forward pushed = forward({make_dual(p.w1, dw1), p.b1, p.w2, p.b2}, x, y);
    dc_forward = unpack_dual(pushed.c).tangent.item();
  }
  const double dc_reverse = sum(autodiff.w1 * dw1).item();  // tr(G_W1ᵀ dW1)
  const double dc_gap = std::max(std::abs(dc_hand - dc_reverse), std::abs(dc_forward - dc_reverse));
  fmt::print("\nalong a random dW1: dC by hand {:.15f}, by forward mode {:.15f}, "
             "tr(G_W1ᵀ dW1) {:.15f}\n",
             dc_hand, dc_forward, dc_reverse);

  // 2. The chain-rule tree, and the tape with the gradient norm through every record.
  draw(f, p, x, y, out);
  {
    RecordGradNorms norms;
    f.c.backward({}, /*retain_graph=*/true);
  }
  fmt::print("\n{}\n",
             tape_listing(f.c, {.names = {{"W1", p.w1}, {"b1", p.b1}, {"W2", p.w2}, {"b2", p.b2},
                                          {"X", x}, {"Y", y}, {"Z1", f.z1}, {"A1", f.a1},
                                          {"Z2", f.z2}, {"A2", f.a2}, {"C", f.c}}}));

  // 3. Training twice from the same start: one copy stepped with the hand-derived gradients,
  // one with autodiff's.
  Params by_hand = copy(p), by_autodiff = copy(p);
  const double lr = 2.0;
  // The largest gradient disagreement over all steps, relative to each gradient's largest entry:
  // an entry that is itself a cancellation (b1's first is 1e-3 of its neighbours at step 114)
  // carries the rounding of its larger terms, which two product kernels order differently.
  double worst = 0;
  fmt::print("{:>5}  {:>16}  {:>16}\n", "step", "C (by hand)", "C (autodiff)");
  for (int s = 0; s <= steps; ++s) {
    const Forward fh = forward(by_hand, x, y);
    const Params gh = hand_gradients(by_hand, x, y, fh);
    const Forward fa = forward(by_autodiff, x, y);
    const std::vector<Tensor> ga =
        grad({fa.c}, {by_autodiff.w1, by_autodiff.b1, by_autodiff.w2, by_autodiff.b2});
    const GradientComparison c = compare_gradients(named(gh), named({ga[0], ga[1], ga[2], ga[3]}),
                                                   {.atol = 0.0, .rtol = 1e-12});
    for (std::size_t k = 0; k < c.rows.size(); ++k) {
      worst = std::max(worst, c.rows[k].max_abs_error / max(abs(ga[k])).item());
    }
    if (s % 50 == 0) fmt::print("{:>5}  {:>16.12f}  {:>16.12f}\n", s, fh.c.item(), fa.c.item());
    if (s == steps) break;
    step(by_hand, gh, lr);
    step(by_autodiff, {ga[0], ga[1], ga[2], ga[3]}, lr);
  }
  const GradientComparison weights =
      compare_gradients(named(by_hand), named(by_autodiff),
                        {.atol = 0.0, .rtol = 1e-12, .hand_label = "trained by hand",
                         .autodiff_label = "trained by autodiff"});
  bool bitwise = true;
  for (const auto& row : weights.rows) bitwise = bitwise && row.max_abs_error == 0;
  fmt::print("\nlargest gradient disagreement over {} steps, relative to each gradient's largest "
             "entry: {:.3e}\n",
             steps, worst);
  fmt::print("weights after {} steps ({}):\n{}", steps,
             bitwise ? "bitwise identical" : "equal to rounding, not bitwise", weights.report());

  const bool ok = cmp.passed && weights.passed && worst <= 1e-12 &&
                  dc_gap <= 1e-12 * (1.0 + std::abs(dc_reverse));
  fmt::print("\n{}\n", ok ? "hand-derived and autodiff gradients agree"
                          : "FAILED: hand-derived and autodiff gradients disagree");
  return ok ? 0 : 1;
}
