// Layers: Linear, Sequential, activations, Dropout, Flatten, LayerNorm, BatchNorm1d, Embedding. Each forward is built from the
// differentiable ops of matgrad/ops.hpp, so its gradient comes from the tape.
#pragma once

#include "matgrad/nn/module.hpp"
#include "matgrad/ops.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

namespace matgrad::nn {

// y = x Wᵀ + b, with W of shape [out_features, in_features] and b of shape [out_features].
// Initialised as in PyTorch: W ~ kaiming_uniform(a = √5), i.e. U(−1/√in, 1/√in), and
// b ~ U(−1/√in, 1/√in). x may have any rank ≥ 1 with last dimension in_features.
class Linear : public ModuleBase<Linear> {
 public:
  Linear(std::size_t in_features, std::size_t out_features, Generator& generator,
         bool bias = true, DType dtype = DType::float32);
  // Around given tensors (bias may be undefined); they are used as they are, not copied.
  Linear(Tensor weight, Tensor bias);

  Tensor forward(const Tensor& x);
  std::string repr() const;
  void reset_parameters(Generator& generator);  // PyTorch's default initialisation

  std::size_t in_features = 0;
  std::size_t out_features = 0;
  Tensor weight;
  Tensor bias;  // undefined when built without bias
};

// Applies its modules in order; parameters are named "<index>.<name>" as in PyTorch.
class Sequential : public ModuleBase<Sequential> {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<AnyModule> modules) : modules_(modules) {}

  template <Module M>
  Sequential& push_back(M module) {
    modules_.emplace_back(std::move(module));
    return *this;
  }

  Tensor forward(const Tensor& x);
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  void train(bool mode = true);
  std::string repr() const;

  std::size_t size() const { return modules_.size(); }
  AnyModule& operator[](std::size_t i);
  const AnyModule& operator[](std::size_t i) const;
  auto begin() { return modules_.begin(); }
  auto end() { return modules_.end(); }

 private:
  std::vector<AnyModule> modules_;
};

struct ReLU : ModuleBase<ReLU> {
  Tensor forward(const Tensor& x) { return relu(x); }
  std::string repr() const { return "ReLU()"; }
};

struct Tanh : ModuleBase<Tanh> {
  Tensor forward(const Tensor& x) { return tanh(x); }
  std::string repr() const { return "Tanh()"; }
};

struct Sigmoid : ModuleBase<Sigmoid> {
  Tensor forward(const Tensor& x) { return sigmoid(x); }
  std::string repr() const { return "Sigmoid()"; }
};

struct LeakyReLU : ModuleBase<LeakyReLU> {
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
  std::string repr() const;
  double negative_slope;
};

struct Softmax : ModuleBase<Softmax> {
  explicit Softmax(std::ptrdiff_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& x) { return softmax(x, dim); }
  std::string repr() const;
  std::ptrdiff_t dim;
};

// Flattens dims start_dim..end_dim into one; the default keeps the batch dimension.
struct Flatten : ModuleBase<Flatten> {
  explicit Flatten(std::ptrdiff_t start_dim = 1, std::ptrdiff_t end_dim = -1)
      : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) { return flatten(x, start_dim, end_dim); }
  std::string repr() const;
  std::ptrdiff_t start_dim, end_dim;
};

struct GELU : ModuleBase<GELU> {
  explicit GELU(std::string approximate = "none") : approximate(std::move(approximate)) {}
  Tensor forward(const Tensor& x) { return gelu(x, approximate); }
  std::string repr() const;
  std::string approximate;  // "none" (x Φ(x)) or "tanh"
};

struct SiLU : ModuleBase<SiLU> {
  Tensor forward(const Tensor& x) { return silu(x); }
  std::string repr() const { return "SiLU()"; }
};

struct ELU : ModuleBase<ELU> {
  explicit ELU(double alpha = 1.0) : alpha(alpha) {}
  Tensor forward(const Tensor& x) { return elu(x, alpha); }
  std::string repr() const;
  double alpha;
};

struct Softplus : ModuleBase<Softplus> {
  explicit Softplus(double beta = 1.0, double threshold = 20.0) : beta(beta), threshold(threshold) {}
  Tensor forward(const Tensor& x) { return softplus(x, beta, threshold); }
  std::string repr() const;
  double beta, threshold;
};

// The dim defaults to the last, as Softmax's here (torch's implicit dim is deprecated).
struct LogSoftmax : ModuleBase<LogSoftmax> {
  explicit LogSoftmax(std::ptrdiff_t dim = -1) : dim(dim) {}
  Tensor forward(const Tensor& x) { return log_softmax(x, dim); }
  std::string repr() const;
  std::ptrdiff_t dim;
};

struct Identity : ModuleBase<Identity> {
  Tensor forward(const Tensor& x) { return x; }
  std::string repr() const { return "Identity()"; }
};

// In train mode zeroes each element with probability p and scales the rest by 1/(1 − p), so
// the expectation is unchanged; in eval mode the identity. The mask comes from its own
// seeded generator, so a run is reproducible.
class Dropout : public ModuleBase<Dropout> {
 public:
  explicit Dropout(double p = 0.5, std::uint64_t seed = 0);
  Tensor forward(const Tensor& x);
  std::string repr() const;
  double p;

 private:
  Generator generator_;
};

// layer_norm over the last dims, those of normalized_shape; with elementwise_affine, a weight
// (ones) and a bias (zeros) of that shape, as torch.nn.LayerNorm.
class LayerNorm : public ModuleBase<LayerNorm> {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::float32);
  Tensor forward(const Tensor& x) { return layer_norm(x, normalized_shape, weight, bias, eps); }
  std::string repr() const;

  Shape normalized_shape;
  double eps;
  Tensor weight, bias;  // undefined without elementwise_affine
};

struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;  // nullopt: the cumulative average, 1 / num_batches_tracked
  bool affine = true;
  bool track_running_stats = true;
  DType dtype = DType::float32;
};

// torch.nn.BatchNorm1d over [N, C] or [N, C, L]: in training, the batch's statistics, and the
// running ones updated (momentum; the running var unbiased, as torch); in eval, the running
// statistics (the batch's without track_running_stats). Buffers running_mean (zeros),
// running_var (ones) and num_batches_tracked (int64) are saved with the parameters.
class BatchNorm1d : public ModuleBase<BatchNorm1d> {
 public:
  explicit BatchNorm1d(std::size_t num_features, BatchNormOptions options = {});
  Tensor forward(const Tensor& x);
  std::string repr() const;

  std::size_t num_features;
  BatchNormOptions options;
  Tensor weight, bias;  // ones and zeros; undefined without affine
  Tensor running_mean, running_var, num_batches_tracked;  // undefined without track_running_stats
};

// A lookup table [num_embeddings, embedding_dim], N(0, 1) initialised, indexed by an int64
// tensor of any shape (the output has a trailing embedding_dim). The row padding_idx starts
// at zero and gets no gradient, as torch's.
class Embedding : public ModuleBase<Embedding> {
 public:
  Embedding(std::size_t num_embeddings, std::size_t embedding_dim, Generator& generator,
            std::optional<std::int64_t> padding_idx = std::nullopt, DType dtype = DType::float32);
  Tensor forward(const Tensor& indices);
  std::string repr() const;

  std::size_t num_embeddings, embedding_dim;
  std::optional<std::size_t> padding_idx;  // a negative one counts from the end, as torch
  Tensor weight;
};

}  // namespace matgrad::nn
