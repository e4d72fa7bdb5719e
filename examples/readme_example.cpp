// The example in README.md ("Fifteen lines"), kept compiling and running as a smoke test.
#include <matgrad/matgrad.hpp>
using namespace matgrad;

int main() {
  Generator gen(0);
  Tensor x = randn({4, 3}, gen, {.dtype = DType::float64});
  Tensor w = randn({3, 2}, gen, {.dtype = DType::float64, .requires_grad = true});
  Tensor b = zeros({2}, {.dtype = DType::float64, .requires_grad = true});

  Tensor loss = mean(square(tanh(matmul(x, w) + b)));   // recorded on the tape
  loss.backward();                                       // walks it in reverse
  fmt::print("dL/dW =\n{}\ndL/db = {}\n", w.grad(), b.grad());

  auto f = [&](const std::vector<Tensor>& p) { return mean(square(tanh(matmul(x, p[0]) + p[1]))); };
  fmt::print("{}", gradcheck(f, {w, b}).report());       // finite differences agree
}
