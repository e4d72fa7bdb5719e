// LayerNorm, BatchNorm1d and Embedding: thin modules over layer_norm, batch_norm and
// index_select (matgrad/ops.hpp).
#include "matgrad/autograd.hpp"
#include "matgrad/nn/init.hpp"
#include "matgrad/nn/layers.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace matgrad::nn {

// ---- LayerNorm ----

LayerNorm::LayerNorm(Shape shape, double eps, bool elementwise_affine, DType dtype)
    : normalized_shape(std::move(shape)), eps(eps) {
  if (normalized_shape.empty()) fail<ValueError>("LayerNorm: normalized_shape is empty");
  register_parameter("weight", &LayerNorm::weight);
  register_parameter("bias", &LayerNorm::bias);
  if (elementwise_affine) {
    weight = ones(normalized_shape, {.dtype = dtype, .requires_grad = true});
    bias = zeros(normalized_shape, {.dtype = dtype, .requires_grad = true});
  }
}

std::string LayerNorm::repr() const {
  return fmt::format("LayerNorm(({},), eps={}, elementwise_affine={})", fmt::join(normalized_shape, ", "), eps,
                     weight.defined() ? "True" : "False");
}

// ---- BatchNorm1d ----

BatchNorm1d::BatchNorm1d(std::size_t features, BatchNormOptions opts) : num_features(features), options(opts) {
  if (options.momentum && !(*options.momentum >= 0 && *options.momentum <= 1)) {
    fail<ValueError>("BatchNorm1d: momentum must be in [0, 1], got {}", *options.momentum);
  }
  register_parameter("weight", &BatchNorm1d::weight);
  register_parameter("bias", &BatchNorm1d::bias);
  register_buffer("running_mean", &BatchNorm1d::running_mean);
  register_buffer("running_var", &BatchNorm1d::running_var);
  register_buffer("num_batches_tracked", &BatchNorm1d::num_batches_tracked);
  if (options.affine) {
    weight = ones({features}, {.dtype = options.dtype, .requires_grad = true});
    bias = zeros({features}, {.dtype = options.dtype, .requires_grad = true});
  }
  if (options.track_running_stats) {
    running_mean = zeros({features}, {.dtype = options.dtype});
    running_var = ones({features}, {.dtype = options.dtype});
    num_batches_tracked = zeros({}, {.dtype = DType::int64});
  }
}

Tensor BatchNorm1d::forward(const Tensor& x) {
  if (!x.defined() || (x.dim() != 2 && x.dim() != 3) || x.size(1) != num_features) {
    fail<ShapeError>("BatchNorm1d({}): expects input of shape [N, {}] or [N, {}, L], got {}", num_features,
                     num_features, num_features, x.defined() ? to_string(x.shape()) : "an undefined tensor");
  }
  const bool track = options.track_running_stats;
  double momentum = options.momentum.value_or(0.0);
  if (training_ && track) {
    std::int64_t& batches = num_batches_tracked.mutable_data<std::int64_t>().data()[0];
    ++batches;
    if (!options.momentum) momentum = 1.0 / static_cast<double>(batches);
  }
  const bool batch_statistics = training_ || !track;
  return batch_norm(x, track ? running_mean : Tensor(), track ? running_var : Tensor(), weight, bias,
                    batch_statistics, momentum, options.eps);
}

std::string BatchNorm1d::repr() const {
  return fmt::format("BatchNorm1d({}, eps={}, momentum={}, affine={}, track_running_stats={})", num_features,
                     options.eps, options.momentum ? fmt::format("{}", *options.momentum) : "None",
                     options.affine ? "True" : "False", options.track_running_stats ? "True" : "False");
}

// ---- Embedding ----

Embedding::Embedding(std::size_t num, std::size_t dim, Generator& generator, std::optional<std::int64_t> padding,
                     DType dtype)
    : num_embeddings(num), embedding_dim(dim) {
  if (padding) {
    const auto n = static_cast<std::int64_t>(num);
    if (*padding < -n || *padding >= n) {
      fail<ValueError>("Embedding: padding_idx {} is out of range for {} embeddings", *padding, num);
    }
    padding_idx = static_cast<std::size_t>(*padding < 0 ? *padding + n : *padding);
  }
  register_parameter("weight", &Embedding::weight);
  weight = zeros({num, dim}, {.dtype = dtype, .requires_grad = true});
  init::normal_(weight, generator);
  if (padding_idx) {  // the padding row starts at zero
    NoGradGuard no_grad;
    weight.visit([&](const auto& w) {
      using T = typename std::decay_t<decltype(w)>::value_type;
      T* row = weight.mutable_data<T>().data() + *padding_idx * dim;
      std::fill(row, row + dim, T(0));
    });
  }
}

Tensor Embedding::forward(const Tensor& indices) {
  if (!indices.defined() || indices.dtype() != DType::int64) {
    fail<DTypeError>("Embedding: indices must be an int64 tensor");
  }
  Tensor table = weight;
  if (padding_idx) {
    // The padding row's value, detached: no gradient reaches it.
    Tensor mask = zeros({num_embeddings, 1}, {.dtype = weight.dtype()});
    mask.visit([&](const auto& m) {
      using T = typename std::decay_t<decltype(m)>::value_type;
      mask.mutable_data<T>().data()[*padding_idx] = T(1);
    });
    table = where(mask, weight.detach(), weight);
  }
  Shape shape = indices.shape();
  shape.push_back(embedding_dim);
  return reshape(index_select(table, 0, reshape(indices, {-1})), shape);
}

std::string Embedding::repr() const {
  return padding_idx ? fmt::format("Embedding({}, {}, padding_idx={})", num_embeddings, embedding_dim, *padding_idx)
                     : fmt::format("Embedding({}, {})", num_embeddings, embedding_dim);
}

}  // namespace matgrad::nn
