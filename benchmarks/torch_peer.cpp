// libtorch versions of the benchmarked workloads, written as a libtorch user would write them.
#include "torch_peer.hpp"

#include <torch/torch.h>

namespace bench::torch_peer {

std::string version() { return TORCH_VERSION; }

void set_threads(int threads) {
  torch::set_num_threads(threads);
  torch::set_num_interop_threads(1);
}

void set_intra_op_threads(int threads) { torch::set_num_threads(threads); }

static torch::Tensor from_values(const std::vector<double>& v, torch::IntArrayRef shape,
                                 torch::Dtype dtype) {
  return torch::tensor(v, torch::dtype(torch::kFloat64)).reshape(shape).to(dtype);
}

struct Mlp::Impl {
  torch::nn::Sequential model;
  std::unique_ptr<torch::optim::SGD> optimizer;
  torch::Dtype dtype;
  torch::Tensor x, targets, loss;
};

Mlp::Mlp(const std::vector<std::size_t>& sizes, bool float64,
         const std::vector<std::vector<double>>& weights,
         const std::vector<std::vector<double>>& biases, double lr)
    : impl_(std::make_unique<Impl>()) {
  impl_->dtype = float64 ? torch::kFloat64 : torch::kFloat32;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const auto in = static_cast<std::int64_t>(sizes[l]), out = static_cast<std::int64_t>(sizes[l + 1]);
    torch::nn::Linear linear(in, out);
    linear->to(impl_->dtype);
    {
      torch::NoGradGuard no_grad;
      linear->weight.copy_(from_values(weights[l], {out, in}, impl_->dtype));
      linear->bias.copy_(from_values(biases[l], {out}, impl_->dtype));
    }
    impl_->model->push_back(linear);
    if (l + 2 < sizes.size()) impl_->model->push_back(torch::nn::ReLU());
  }
  impl_->optimizer = std::make_unique<torch::optim::SGD>(impl_->model->parameters(),
                                                         torch::optim::SGDOptions(lr));
}

Mlp::~Mlp() = default;

void Mlp::set_batch(const std::vector<double>& x, const std::vector<std::size_t>& targets) {
  const auto batch = static_cast<std::int64_t>(targets.size());
  impl_->x = from_values(x, {batch, static_cast<std::int64_t>(x.size()) / batch}, impl_->dtype);
  std::vector<std::int64_t> t(targets.begin(), targets.end());
  impl_->targets = torch::tensor(t, torch::kLong);
}

double Mlp::step() {
  Impl& m = *impl_;
  m.optimizer->zero_grad();
  torch::Tensor loss = torch::nn::functional::cross_entropy(m.model->forward(m.x), m.targets);
  loss.backward();
  m.optimizer->step();
  return loss.item<double>();
}

void Mlp::forward() {
  Impl& m = *impl_;
  m.loss = torch::nn::functional::cross_entropy(m.model->forward(m.x), m.targets);
}

void Mlp::backward_only() {
  impl_->loss.backward();
  impl_->loss = torch::Tensor();
  impl_->optimizer->zero_grad();
}

std::vector<double> Mlp::grad(std::size_t k) const {
  const auto params = impl_->model->parameters();
  torch::Tensor g = params.at(k).grad().to(torch::kFloat64).contiguous().flatten();
  return std::vector<double>(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
}

void scalar_chain(std::size_t ops) {
  torch::Tensor x = torch::full({1}, 0.5f, torch::requires_grad());
  const torch::Tensor scale = torch::full({1}, 0.999f), shift = torch::full({1}, 0.001f);
  torch::Tensor y = x;
  for (std::size_t i = 0; i < ops; ++i) {
    switch (i % 3) {
      case 0: y = y * scale; break;
      case 1: y = y + shift; break;
      default: y = torch::tanh(y); break;
    }
  }
  y.backward(torch::ones_like(y));
}

struct MatmulChain::Impl {
  torch::Tensor w, y0;
};

MatmulChain::MatmulChain(const std::vector<float>& w, const std::vector<float>& y0)
    : impl_(std::make_unique<Impl>()) {
  impl_->w = torch::from_blob(const_cast<float*>(w.data()), {16, 16}).clone().requires_grad_(true);
  impl_->y0 = torch::from_blob(const_cast<float*>(y0.data()), {16, 16}).clone();
}

MatmulChain::~MatmulChain() = default;

void MatmulChain::run(std::size_t ops) {
  torch::Tensor y = impl_->y0;
  for (std::size_t i = 0; i < ops; ++i) y = torch::mm(y, impl_->w);
  y.backward(torch::ones_like(y));
  impl_->w.mutable_grad() = torch::Tensor();
}

}  // namespace bench::torch_peer
