// One Fashion-MNIST epoch (MLP 784-256-128-10, SGD lr 0.1, batch 128, shuffled) plus test
// evaluation with libtorch, written as a libtorch user would. Intra-op threads 1 (OpenBLAS
// runs the GEMMs with its own threads; more would oversubscribe the cores). Prints one line of
// results for matgrad_bench.
#include "bench_util.hpp"
#include "epoch_common.hpp"
#include "idx_raw.hpp"

#include <torch/torch.h>

using namespace bench;

namespace {

struct Split {
  torch::Tensor x, t;
};

Split load(const std::string& dir, const std::string& prefix) {
  Split s;
  {
    const RawIdx images = read_idx_raw(fashion_file(dir, prefix + "-images-idx3-ubyte"));
    const auto n = static_cast<std::int64_t>(images.shape[0]);
    s.x = torch::empty({n, 784}, torch::kFloat32);
    float* p = s.x.data_ptr<float>();
    for (std::size_t i = 0; i < images.data.size(); ++i) p[i] = images.data[i] / 255.0f;
  }
  const RawIdx labels = read_idx_raw(fashion_file(dir, prefix + "-labels-idx1-ubyte"));
  s.t = torch::empty({static_cast<std::int64_t>(labels.data.size())}, torch::kLong);
  for (std::size_t i = 0; i < labels.data.size(); ++i) s.t.data_ptr<std::int64_t>()[i] = labels.data[i];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const epoch::Args args = epoch::parse(argc, argv);
  torch::set_num_threads(1);
  torch::manual_seed(0);
  const auto t0 = Clock::now();
  const Split train = load(args.dir, "train");
  const Split test = load(args.dir, "t10k");
  const double load_ms = seconds_since(t0) * 1e3;

  torch::nn::Sequential model(torch::nn::Linear(784, 256), torch::nn::ReLU(),
                              torch::nn::Linear(256, 128), torch::nn::ReLU(),
                              torch::nn::Linear(128, 10));
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(epoch::kLr));

  const auto t1 = Clock::now();
  const std::int64_t n = train.x.size(0), batch = epoch::kBatch;
  const torch::Tensor order = torch::randperm(n, torch::kLong);
  double loss_sum = 0;
  std::size_t steps = 0;
  for (std::int64_t first = 0; first < n; first += batch) {
    const torch::Tensor idx = order.slice(0, first, std::min(first + batch, n));
    const torch::Tensor x = train.x.index_select(0, idx), t = train.t.index_select(0, idx);
    optimizer.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), t);
    loss.backward();
    optimizer.step();
    loss_sum += loss.item<double>();
    ++steps;
  }
  const double epoch_ms = seconds_since(t1) * 1e3;

  const auto t2 = Clock::now();
  std::int64_t correct = 0;
  {
    torch::NoGradGuard no_grad;
    const std::int64_t m = test.x.size(0), eval = epoch::kEvalBatch;
    for (std::int64_t first = 0; first < m; first += eval) {
      const std::int64_t last = std::min(first + eval, m);
      const torch::Tensor predicted = model->forward(test.x.slice(0, first, last)).argmax(1);
      correct += predicted.eq(test.t.slice(0, first, last)).sum().item<std::int64_t>();
    }
  }
  const double eval_ms = seconds_since(t2) * 1e3;
  epoch::report(load_ms, epoch_ms, eval_ms, double(correct) / double(test.x.size(0)),
                loss_sum / double(steps));
}
