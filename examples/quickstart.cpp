// A two-layer network on a tiny batch: forward, backward, the gradients, and a finite-difference
// check of every one of them.
#include <matgrad/matgrad.hpp>

#include <fmt/core.h>

using namespace matgrad;

int main() {
  Generator gen(0);
  const TensorOptions param{.dtype = DType::float64, .requires_grad = true};
  Tensor x = randn({4, 3}, gen, {.dtype = DType::float64});  // 4 samples, 3 features
  Tensor y = tensor({{1.0}, {0.0}, {0.0}, {1.0}}, {.dtype = DType::float64});
  Tensor w1 = randn({3, 5}, gen, param), b1 = zeros({5}, param);
  Tensor w2 = randn({5, 1}, gen, param), b2 = zeros({1}, param);

  auto model = [&](const std::vector<Tensor>& p) {
    Tensor hidden = tanh(matmul(x, p[0]) + p[1]);
    Tensor output = sigmoid(matmul(hidden, p[2]) + p[3]);
    return mse_loss(output, y);
  };

  Tensor loss = model({w1, b1, w2, b2});
  loss.backward();
  fmt::print("loss = {:.6f}\n\n", loss.item());
  fmt::print("dloss/dW1 =\n{}\n\ndloss/db1 =\n{}\n\n", w1.grad(), b1.grad());
  fmt::print("dloss/dW2 =\n{}\n\ndloss/db2 =\n{}\n\n", w2.grad(), b2.grad());

  const GradcheckResult check = gradcheck(model, {w1, b1, w2, b2});
  fmt::print("{}", check.report());
  return check.passed ? 0 : 1;
}
