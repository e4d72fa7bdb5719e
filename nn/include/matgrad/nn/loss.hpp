// Loss modules, thin wrappers over the fused loss ops of matgrad/ops.hpp (torch.nn.*Loss).
#pragma once

#include "matgrad/ops.hpp"

#include <cstddef>
#include <span>

namespace matgrad::nn {

struct MSELoss {
  Reduction reduction = Reduction::mean;
  Tensor operator()(const Tensor& input, const Tensor& target) const {
    return mse_loss(input, target, reduction);
  }
};

// Softmax cross-entropy from logits [N, C] (or [C]) against class indices.
struct CrossEntropyLoss {
  Reduction reduction = Reduction::mean;
  Tensor operator()(const Tensor& logits, std::span<const std::size_t> targets) const {
    return cross_entropy(logits, targets, reduction);
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
