// One Fashion-MNIST epoch (MLP 784-256-128-10, SGD lr 0.1, batch 128, shuffled) plus test
// evaluation with the hand-coded reference: the peak RSS and time of a program without
// autodiff. Prints one line of results for matgrad_bench.
#include "bench_util.hpp"
#include "epoch_common.hpp"
#include "handcoded.hpp"
#include "idx_raw.hpp"

#include <numeric>
#include <random>

using namespace bench;

namespace {

struct Split {
  std::vector<float> x;  // [n, 784], bytes / 255
  std::vector<std::size_t> t;
  std::size_t n = 0;
};

Split load(const std::string& dir, const std::string& prefix) {
  Split s;
  {
    const RawIdx images = read_idx_raw(fashion_file(dir, prefix + "-images-idx3-ubyte"));
    s.n = images.shape[0];
    s.x.resize(images.data.size());
    for (std::size_t i = 0; i < images.data.size(); ++i) s.x[i] = images.data[i] / 255.0f;
  }
  const RawIdx labels = read_idx_raw(fashion_file(dir, prefix + "-labels-idx1-ubyte"));
  s.t.assign(labels.data.begin(), labels.data.end());
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const epoch::Args args = epoch::parse(argc, argv);
  onednn_threads = args.threads;
  constexpr std::size_t kIn = 784;
  const auto t0 = Clock::now();
  const Split train = load(args.dir, "train");
  const Split test = load(args.dir, "t10k");
  const double load_ms = seconds_since(t0) * 1e3;

  HandMlp<float> mlp({kIn, 256, 128, epoch::kClasses}, epoch::kEvalBatch);
  std::mt19937_64 gen(0);
  for (std::size_t l = 0; l < mlp.depth(); ++l) {
    auto& L = mlp.layer(l);
    std::uniform_real_distribution<float> u(-1.0f / std::sqrt(float(L.in)), 1.0f / std::sqrt(float(L.in)));
    for (float& v : L.w) v = u(gen);
    for (float& v : L.b) v = u(gen);
  }

  const auto t1 = Clock::now();
  std::vector<std::size_t> order(train.n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (std::size_t i = order.size(); i > 1; --i) {
    std::uniform_int_distribution<std::size_t> pick(0, i - 1);
    std::swap(order[i - 1], order[pick(gen)]);
  }
  std::vector<float> xb(epoch::kBatch * kIn);
  std::vector<std::size_t> tb(epoch::kBatch);
  double loss = 0;
  std::size_t steps = 0;
  for (std::size_t first = 0; first < train.n; first += epoch::kBatch) {
    const std::size_t count = std::min(epoch::kBatch, train.n - first);
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t row = order[first + k];
      std::copy_n(train.x.data() + row * kIn, kIn, xb.data() + k * kIn);
      tb[k] = train.t[row];
    }
    loss += mlp.step(xb.data(), tb.data(), count, static_cast<float>(epoch::kLr));
    ++steps;
  }
  const double epoch_ms = seconds_since(t1) * 1e3;

  const auto t2 = Clock::now();
  std::size_t correct = 0;
  for (std::size_t first = 0; first < test.n; first += epoch::kEvalBatch) {
    const std::size_t count = std::min(epoch::kEvalBatch, test.n - first);
    mlp.forward(test.x.data() + first * kIn, test.t.data() + first, count);
    const float* logits = mlp.logits();
    for (std::size_t i = 0; i < count; ++i) {
      const float* row = logits + i * epoch::kClasses;
      const auto best = static_cast<std::size_t>(std::max_element(row, row + epoch::kClasses) - row);
      correct += best == test.t[first + i];
    }
  }
  const double eval_ms = seconds_since(t2) * 1e3;
  epoch::report(load_ms, epoch_ms, eval_ms, double(correct) / double(test.n), loss / double(steps));
}
