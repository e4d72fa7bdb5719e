// Defining a differentiable op of your own: swish(x) = x σ(x), given by its forward, its JVP
// (forward mode) and its VJP (reverse mode), both read off its differential.
#include <matgrad/matgrad.hpp>

#include <fmt/core.h>

using namespace matgrad;

// As a struct (PyTorch's autograd.Function): forward runs without recording, jvp gets the
// input's tangent and the input, backward gets gC and the input. Writing both rules with
// matgrad ops keeps them differentiable.
struct Swish {
  // C = A ⊙ σ(A);  dC = (σ(A) + A ⊙ σ(A) ⊙ (1 − σ(A))) ⊙ dA
  static inline const OpInfo info{"swish", "dC = (σ + A σ (1 − σ)) ⊙ dA",
                                  "tC = (σ + A σ (1 − σ)) ⊙ tA", "gA = gC ⊙ (σ + A σ (1 − σ))"};
  static Tensor forward(const Tensor& x) { return x * sigmoid(x); }
  static Tensor slope(const Tensor& x) {
    const Tensor s = sigmoid(x);
    return s + x * s * (1.0 - s);
  }
  static Tangent jvp(const Tangent& tx, const Tensor& x) { return slope(x) * tx; }
  static Grads backward(const Tensor& g, const Tensor& x) { return {g * slope(x)}; }
};

// The same op with record(), the way matgrad's own ops are written: both rules read the output
// C (JvpContext::output, and VjpContext::output as the OpInfo saves it), since
// dC = (C + σ(A)(1 − C)) ⊙ dA.
static const OpInfo swish_info{"swish", "dC = (C + σ(A)(1 − C)) ⊙ dA", "tC = (C + σ(A)(1 − C)) ⊙ tA",
                               "gA = gC ⊙ (C + σ(A)(1 − C))", Saves::inputs_and_output};
Tensor swish(const Tensor& x) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = x * sigmoid(x);
  }
  return record(
      swish_info, out, {x},
      [&](const Tangent& tx, const JvpContext& ctx) {
        const Tensor& c = ctx.output;
        return (c + sigmoid(x) * (1.0 - c)) * tx;
      },
      [x](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor& c = ctx.output;
        return {g * (c + sigmoid(x) * (1.0 - c))};
      });
}

int main() {
  Tensor x = tensor({-2.0, -0.5, 0.0, 1.0, 3.0}, {.dtype = DType::float64, .requires_grad = true});
  Tensor y = apply<Swish>(x);
  sum(y).backward();
  fmt::print("swish(x)      = {}\nd swish / dx  = {}\n", y, x.grad());
  {
    DualLevel level;  // forward mode: the tangent of swish(x) along a direction v
    const Tensor v = ones_like(x);
    fmt::print("J v (v = 1)   = {}\n\n", unpack_dual(swish(make_dual(x, v))).tangent);
  }

  bool ok = true;
  for (const auto& [name, f] : std::vector<std::pair<const char*, TensorFunction>>{
           {"apply<Swish>", [](const std::vector<Tensor>& in) { return apply<Swish>(in[0]); }},
           {"swish (record)", [](const std::vector<Tensor>& in) { return swish(in[0]); }}}) {
    const GradcheckResult check = gradcheck(f, {x});
    fmt::print("{}: {}", name, check.report());
    // Forward and reverse mode agree: J v for v = 1 is the diagonal of J, which is x.grad().
    const Tensor jv = jvp(f, {x}, {ones_like(x)}).product;
    const double gap = compare_tensors(jv, x.grad(), 1e-12, 1e-12).max_abs_error;
    fmt::print("{}: forward mode J·1 against reverse mode Jᵀ·1, max |difference| {:.1e}\n\n", name, gap);
    ok = ok && check.passed && gap <= 1e-12;
  }
  return ok ? 0 : 1;
}
