#include "matgrad/nn/layers.hpp"

#include "matgrad/nn/init.hpp"

#include <fmt/format.h>

#include <cmath>
#include <unordered_set>

namespace matgrad::nn {

NamedTensors detail::unique_parameters(NamedTensors named) {
  std::unordered_set<const void*> seen;
  NamedTensors out;
  out.reserve(named.size());
  for (auto& entry : named) {
    if (seen.insert(entry.second.impl().get()).second) out.push_back(std::move(entry));
  }
  return out;
}

// ---- Linear ----

Linear::Linear(std::size_t in, std::size_t out, Generator& generator, bool with_bias, DType dtype)
    : in_features(in), out_features(out) {
  register_parameter("weight", &Linear::weight);
  register_parameter("bias", &Linear::bias);
  weight = zeros({out, in}, {.dtype = dtype, .requires_grad = true});
  if (with_bias) bias = zeros({out}, {.dtype = dtype, .requires_grad = true});
  reset_parameters(generator);
}

Linear::Linear(Tensor w, Tensor b) : weight(std::move(w)), bias(std::move(b)) {
  register_parameter("weight", &Linear::weight);
  register_parameter("bias", &Linear::bias);
  if (!weight.defined() || weight.dim() != 2) {
    fail<ShapeError>("Linear: the weight must be a matrix [out_features, in_features], got {}",
                     weight.defined() ? to_string(weight.shape()) : "an undefined tensor");
  }
  out_features = weight.size(0);
  in_features = weight.size(1);
  if (bias.defined() && (bias.shape() != Shape{out_features} || bias.dtype() != weight.dtype())) {
    fail<ShapeError>("Linear: the bias must be a {} vector of shape [{}], got {} {}",
                     dtype_name(weight.dtype()), out_features, dtype_name(bias.dtype()),
                     to_string(bias.shape()));
  }
}

void Linear::reset_parameters(Generator& generator) {
  // kaiming_uniform(a = √5) gives bound = √(2 / (1 + 5)) · √(3 / fan_in) = 1 / √fan_in.
  if (weight.numel() == 0) return;  // nothing to draw; PyTorch skips it as well
  init::kaiming_uniform_(weight, generator, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    init::uniform_(bias, generator, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  if (!x.defined()) fail<Error>("Linear: the input is an undefined tensor");
  if (x.dim() == 0 || x.size(-1) != in_features) {
    fail<ShapeError>("Linear({}, {}): the input's last dimension must be {}, got shape {}",
                     in_features, out_features, in_features, to_string(x.shape()));
  }
  if (x.dtype() != weight.dtype()) {
    fail<DTypeError>("Linear({}, {}): the input is {} but the weight is {}", in_features,
                     out_features, dtype_name(x.dtype()), dtype_name(weight.dtype()));
  }
  return linear(x, weight, bias);
}

std::string Linear::repr() const {
  return fmt::format("Linear(in_features={}, out_features={}, bias={})", in_features, out_features,
                     bias.defined());
}

// ---- Sequential ----

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (AnyModule& m : modules_) y = m.forward(y);
  return y;
}

NamedTensors Sequential::named_parameters() const {
  NamedTensors out;
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    append_parameters(out, std::to_string(i), modules_[i]);
  }
  return detail::unique_parameters(std::move(out));
}

NamedTensors Sequential::named_buffers() const {
  NamedTensors out;
  for (std::size_t i = 0; i < modules_.size(); ++i) append_buffers(out, std::to_string(i), modules_[i]);
  return out;
}

void Sequential::train(bool mode) {
  training_ = mode;
  for (AnyModule& m : modules_) m.train(mode);
}

std::string Sequential::repr() const {
  std::string out = "Sequential(\n";
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    std::string child = modules_[i].repr();
    std::string indented;
    for (char c : child) {
      indented += c;
      if (c == '\n') indented += "  ";
    }
    out += fmt::format("  ({}): {}\n", i, indented);
  }
  return out + ")";
}

AnyModule& Sequential::operator[](std::size_t i) {
  if (i >= modules_.size()) {
    fail<IndexError>("Sequential: index {} is out of range for {} modules", i, modules_.size());
  }
  return modules_[i];
}
const AnyModule& Sequential::operator[](std::size_t i) const {
  return const_cast<Sequential&>(*this)[i];
}

// ---- activations and shape modules ----

std::string LeakyReLU::repr() const { return fmt::format("LeakyReLU(negative_slope={})", negative_slope); }
std::string Softmax::repr() const { return fmt::format("Softmax(dim={})", dim); }
std::string LogSoftmax::repr() const { return fmt::format("LogSoftmax(dim={})", dim); }
std::string GELU::repr() const { return fmt::format("GELU(approximate='{}')", approximate); }
std::string ELU::repr() const { return fmt::format("ELU(alpha={})", alpha); }
std::string Softplus::repr() const { return fmt::format("Softplus(beta={}, threshold={})", beta, threshold); }
std::string Flatten::repr() const {
  return fmt::format("Flatten(start_dim={}, end_dim={})", start_dim, end_dim);
}

// ---- Dropout ----

Dropout::Dropout(double p, std::uint64_t seed) : p(p), generator_(seed) {
  if (!(p >= 0 && p <= 1)) fail<ValueError>("Dropout: p must be in [0, 1], got {}", p);
}

template <class T>
static void to_dropout_mask(Array<T>& u, double p) {
  const T keep = static_cast<T>(1.0 / (1.0 - p));
  const T threshold = static_cast<T>(p);
  for (T& v : u) v = v >= threshold ? keep : T(0);
}

Tensor Dropout::forward(const Tensor& x) {
  if (!training_ || p == 0) return x;
  if (p == 1) return x * zeros_like(x);
  // mask = 1{u ≥ p} / (1 − p), u ~ U[0, 1): the product's gradient is the same mask.
  Tensor mask = rand(x.shape(), generator_, {.dtype = x.dtype()});
  if (mask.dtype() == DType::float32) {
    to_dropout_mask(mask.mutable_data<float>(), p);
  } else {
    to_dropout_mask(mask.mutable_data<double>(), p);
  }
  return x * mask;
}

std::string Dropout::repr() const { return fmt::format("Dropout(p={})", p); }

}  // namespace matgrad::nn
