// Loss modules, thin wrappers over the fused loss ops of matgrad/ops.hpp (torch.nn.*Loss).
#pragma once

#include "matgrad/ops.hpp"

#include <cstddef>
#include <cstdint>
#include <span>

namespace matgrad::nn {

struct MSELoss {
  Reduction reduction = Reduction::mean;
  Tensor operator()(const Tensor& input, const Tensor& target) const {
    return mse_loss(input, target, reduction);
  }
};

// Softmax cross-entropy from logits [N, C, d...] (or [C]) against class indices (a span, or an
// int64 tensor [N, d...]) or class probabilities shaped as the logits, with torch's options
// (torch.nn.CrossEntropyLoss; their meaning is cross_entropy's, CrossEntropyOptions).
struct CrossEntropyLoss {
  Reduction reduction = Reduction::mean;
  Tensor weight{};
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;

  Tensor operator()(const Tensor& logits, const Tensor& target) const {
    return cross_entropy(logits, target, {.weight = weight, .ignore_index = ignore_index, .reduction = reduction,
                                          .label_smoothing = label_smoothing});
  }
  Tensor operator()(const Tensor& logits, std::span<const std::size_t> targets) const {
    if (!weight.defined() && ignore_index == -100 && label_smoothing == 0.0) {
      return cross_entropy(logits, targets, reduction);
    }
    xt::xarray<std::int64_t> classes = xt::zeros<std::int64_t>({targets.size()});
    for (std::size_t i = 0; i < targets.size(); ++i) classes(i) = static_cast<std::int64_t>(targets[i]);
    return (*this)(logits, logits.dim() == 1 && targets.size() == 1 ? reshape(Tensor(classes), {}) : Tensor(classes));
  }
};

// Binary cross-entropy from logits against targets in [0, 1] of the same shape.
struct BCEWithLogitsLoss {
  Reduction reduction = Reduction::mean;
  Tensor operator()(const Tensor& logits, const Tensor& targets) const {
    return binary_cross_entropy_with_logits(logits, targets, reduction);
  }
};

}  // namespace matgrad::nn
