// Defining a differentiable op of your own: swish(x) = x σ(x), given by its forward and its VJP.
#include <matgrad/matgrad.hpp>

#include <fmt/core.h>

using namespace matgrad;

// As a struct (PyTorch's autograd.Function): forward runs without recording, backward gets gC
// and the inputs. Writing backward with matgrad ops keeps it differentiable.
struct Swish {
  // C = A ⊙ σ(A);  dC = (σ(A) + A ⊙ σ(A) ⊙ (1 − σ(A))) ⊙ dA
  static inline const OpInfo info{"swish", "dC = (σ + A σ (1 − σ)) ⊙ dA",
                               "gA = gC ⊙ (σ + A σ (1 − σ))"};
  static Tensor forward(const Tensor& x) { return x * sigmoid(x); }
  static Grads backward(const Tensor& g, const Tensor& x) {
    const Tensor s = sigmoid(x);
    return {g * (s + x * s * (1.0 - s))};
  }
};

// The same op with record(), the way matgrad's own ops are written: the VJP reads the output C
// (Saves::inputs_and_output), since gA = gC ⊙ (C + σ(A)(1 − C)).
static const OpInfo swish_info{"swish", "dC = (C + σ(A)(1 − C)) ⊙ dA",
                                   "gA = gC ⊙ (C + σ(A)(1 − C))", Saves::inputs_and_output};
Tensor swish(const Tensor& x) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = x * sigmoid(x);
  }
  return record(swish_info, out, {x}, [x](const Tensor& g, const VjpContext& ctx) -> Grads {
    const Tensor& c = ctx.output;
    return {g * (c + sigmoid(x) * (1.0 - c))};
  });
}

int main() {
  Tensor x = tensor({-2.0, -0.5, 0.0, 1.0, 3.0}, {.dtype = DType::float64, .requires_grad = true});
  Tensor y = apply<Swish>(x);
  sum(y).backward();
  fmt::print("swish(x)      = {}\nd swish / dx  = {}\n\n", y, x.grad());

  bool ok = true;
  for (const auto& [name, f] : std::vector<std::pair<const char*, TensorFunction>>{
           {"apply<Swish>", [](const std::vector<Tensor>& in) { return apply<Swish>(in[0]); }},
           {"swish (record)", [](const std::vector<Tensor>& in) { return swish(in[0]); }}}) {
    const GradcheckResult check = gradcheck(f, {x});
    fmt::print("{}: {}", name, check.report());
    ok = ok && check.passed;
  }
  return ok ? 0 : 1;
}
