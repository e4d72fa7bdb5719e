#include <torch/torch.h>

int main() {
  torch::Tensor x = torch::ones({2, 2}, torch::requires_grad());
  torch::mm(x, x).sum().backward();
  return x.grad().defined() ? 0 : 1;
}
