// The Fashion-MNIST epoch of bench_epoch_matgrad (MLP 784-256-128-10, SGD lr 0.1, global
// batch 128, shuffled) data-parallel under mpirun: each rank takes 128 / N rows of every step
// through DistributedSampler and DistributedDataParallel. Rank 0 prints one line for
// matgrad_bench: the epoch's time, the time finalising the all-reduces after backward
// (exposed communication) per step, the bytes all-reduced per step and the bucket count.
//
//   mpirun -np 2 bench_epoch_ddp [--threads N] [--bucket-mb X] [--progress-thread]
#include "bench_util.hpp"
#include "epoch_common.hpp"

#include <matgrad/distributed.hpp>
#include <matgrad/nn.hpp>

#include <cstring>

using namespace matgrad;
using bench::Clock;
using bench::seconds_since;

int main(int argc, char** argv) {
  const bench::epoch::Args args = bench::epoch::parse(argc, argv);
  if (args.threads > 0) set_num_threads(args.threads);  // oneDNN's and OpenBLAS's pools
  distributed::DDPOptions ddp_options;
  bool thread_multiple = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--bucket-mb") && i + 1 < argc) ddp_options.bucket_cap_mb = std::atof(argv[++i]);
    if (!std::strcmp(argv[i], "--progress-thread")) ddp_options.progress_thread = thread_multiple = true;
  }
  distributed::ProcessGroup group({.thread_multiple = thread_multiple});
  return group.run([&] {
    const auto t0 = Clock::now();
    data::Dataset train = data::load_fashion_mnist(data::Split::train, args.dir);
    data::Dataset test = data::load_fashion_mnist(data::Split::test, args.dir);
    const double load_ms = seconds_since(t0) * 1e3;

    const auto ranks = static_cast<std::size_t>(group.world_size());
    Generator gen(0);
    distributed::DistributedDataParallel model(
        nn::Sequential{nn::Linear(784, 256, gen), nn::ReLU(), nn::Linear(256, 128, gen), nn::ReLU(),
                       nn::Linear(128, 10, gen)},
        ddp_options);
    optim::SGD optimizer(model.parameters(), {.lr = bench::epoch::kLr});
    nn::Flatten flatten;
    data::DistributedSampler sampler(train.size(), ranks, static_cast<std::size_t>(group.rank()));
    data::DataLoader loader(std::move(train), std::move(sampler), {.batch_size = bench::epoch::kBatch / ranks});

    group.barrier();
    const auto t1 = Clock::now();
    double loss_sum = 0;
    std::size_t steps = 0;
    for (const data::Batch& batch : loader) {
      optimizer.zero_grad();
      Tensor loss = cross_entropy(model(flatten(batch.inputs)), batch.targets);
      loss.backward();  // the reduction finishes in the last parameter's hook
      optimizer.step();
      loss_sum += loss.item();
      ++steps;
    }
    const double epoch_ms = seconds_since(t1) * 1e3;

    const auto t2 = Clock::now();
    std::size_t correct = 0;
    if (group.rank() == 0) {
      NoGradGuard no_grad;
      data::DataLoader test_loader(std::move(test), {.batch_size = bench::epoch::kEvalBatch});
      for (const data::Batch& batch : test_loader) {
        const Tensor predicted_index = argmax(model.module()(flatten(batch.inputs)), 1);
        const auto& predicted = predicted_index.data<std::int64_t>();
        for (std::size_t i = 0; i < batch.targets.size(); ++i) {
          correct += static_cast<std::size_t>(predicted(i)) == batch.targets[i];
        }
      }
    }
    const double eval_ms = seconds_since(t2) * 1e3;
    const distributed::DDPStats& stats = model.stats();
    group.barrier();
    if (group.rank() == 0) {
      bench::epoch::report(load_ms, epoch_ms, eval_ms, double(correct) / 10000.0, loss_sum / double(steps));
      std::printf("ranks=%zu steps=%zu exposed_ms_per_step=%.4f bytes_per_step=%zu buckets=%zu "
                  "started_early=%zu\n",
                  ranks, steps, stats.total_wait_seconds * 1e3 / double(stats.reductions),
                  stats.bytes_per_step, stats.buckets, stats.started_early);
    }
    return 0;
  });
}
