// Uses the installed matgrad: trains XOR with matgrad::nn and round-trips a checkpoint.
#include <matgrad/nn.hpp>

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

using namespace matgrad;

int main() {
  Generator gen(0);
  nn::Sequential net{nn::Linear(2, 8, gen), nn::Tanh(), nn::Linear(8, 1, gen)};
  optim::Adam opt(net.parameters(), {.lr = 0.05});
  const Tensor x = tensor({{0, 0}, {0, 1}, {1, 0}, {1, 1}});
  const Tensor y = tensor({{0}, {1}, {1}, {0}});
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    Tensor loss = nn::BCEWithLogitsLoss()(net(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  const auto path = std::filesystem::temp_directory_path() / "matgrad-consumer.npz";
  nn::save_checkpoint(path, net, &opt);
  Generator other(1);
  nn::Sequential copy{nn::Linear(2, 8, other), nn::Tanh(), nn::Linear(8, 1, other)};
  nn::load_checkpoint(path, copy);
  std::filesystem::remove(path);
  NoGradGuard no_grad;
  const double difference = sum(abs(net(x) - copy(x))).item();
  fmt::print("consumer: XOR loss {:.4f} -> {:.4f}; reloaded checkpoint differs by {}\n", first, last, difference);
  return last < 0.05 && difference == 0 ? 0 : 1;
}
