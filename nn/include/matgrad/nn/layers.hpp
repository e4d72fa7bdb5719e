// Layers: Linear, Sequential, activations, Dropout, Flatten. Each forward is built from the
// differentiable ops of matgrad/ops.hpp, so its gradient comes from the tape.
#pragma once

#include "matgrad/nn/module.hpp"
#include "matgrad/ops.hpp"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
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

}  // namespace matgrad::nn
