// One Fashion-MNIST epoch (MLP 784-256-128-10, SGD lr 0.1, batch 128, shuffled) plus test
// evaluation with matgrad, written as a user would: the nn IDX reader and DataLoader,
// nn::Sequential of nn::Linear and nn::ReLU, cross_entropy, optim::SGD. Prints one line of
// results for matgrad_bench.
#include "bench_util.hpp"
#include "epoch_common.hpp"

#include <matgrad/nn.hpp>

using namespace matgrad;
using bench::Clock;
using bench::seconds_since;

int main(int argc, char** argv) {
  const bench::epoch::Args args = bench::epoch::parse(argc, argv);
  if (args.threads > 0) set_num_threads(args.threads);  // oneDNN's and OpenBLAS's pools
  const auto t0 = Clock::now();
  data::Dataset train = data::load_fashion_mnist(data::Split::train, args.dir);
  data::Dataset test = data::load_fashion_mnist(data::Split::test, args.dir);
  const double load_ms = seconds_since(t0) * 1e3;

  Generator gen(0);
  nn::Sequential model{nn::Linear(784, 256, gen), nn::ReLU(), nn::Linear(256, 128, gen),
                       nn::ReLU(), nn::Linear(128, 10, gen)};
  optim::SGD optimizer(model.parameters(), {.lr = bench::epoch::kLr});
  nn::Flatten flatten;

  const auto t1 = Clock::now();
  data::DataLoader loader(std::move(train), {.batch_size = bench::epoch::kBatch, .shuffle = true});
  double loss_sum = 0;
  std::size_t steps = 0;
  for (const data::Batch& batch : loader) {
    optimizer.zero_grad();
    Tensor loss = cross_entropy(model(flatten(batch.inputs)), batch.targets);
    loss.backward();
    optimizer.step();
    loss_sum += loss.item();
    ++steps;
  }
  const double epoch_ms = seconds_since(t1) * 1e3;

  const auto t2 = Clock::now();
  std::size_t correct = 0;
  {
    NoGradGuard no_grad;
    data::DataLoader test_loader(std::move(test), {.batch_size = bench::epoch::kEvalBatch});
    for (const data::Batch& batch : test_loader) {
      const Tensor predicted_index = argmax(model(flatten(batch.inputs)), 1);
      const auto& predicted = predicted_index.data<std::int64_t>();
      for (std::size_t i = 0; i < batch.targets.size(); ++i) {
        correct += static_cast<std::size_t>(predicted(i)) == batch.targets[i];
      }
    }
  }
  const double eval_ms = seconds_since(t2) * 1e3;
  bench::epoch::report(load_ms, epoch_ms, eval_ms, double(correct) / 10000.0,
                       loss_sum / double(steps));
}
