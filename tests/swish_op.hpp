// A custom op for the tests of apply<Op>: C = A ⊙ σ(A), dC = (σ + A σ (1 − σ)) ⊙ dA, with a
// VJP and no JVP.
#pragma once
#include <matgrad/matgrad.hpp>

struct Swish {
  static inline const matgrad::OpInfo info{"swish", "dC = (σ(A) + A σ(A)(1 − σ(A))) ⊙ dA", "",
                                           "gA = gC ⊙ (σ(A) + A σ(A)(1 − σ(A)))"};
  static matgrad::Tensor forward(const matgrad::Tensor& x) { return x * matgrad::sigmoid(x); }
  static matgrad::Grads backward(const matgrad::Tensor& g, const matgrad::Tensor& x) {
    const matgrad::Tensor s = matgrad::sigmoid(x);
    return {g * (s + x * s * (1.0 - s))};
  }
};
