// Helpers shared by the loss files (loss.cpp, loss_classification.cpp, loss_regression.cpp).
#pragma once

#include "common.hpp"

namespace matgrad::detail {

// input and target of one floating dtype and the same shape (no broadcasting: PyTorch
// broadcasts the pointwise losses with only a warning, which hides the [N] vs [N, 1] mistake).
void check_loss_shapes(std::string_view op, const Tensor& input, const Tensor& target);

// The per-element losses reduced: themselves, their sum, or their mean (NaN over no element).
// batchmean is kl_div's alone: any other op given it raises a ValueError.
Tensor reduce_loss(std::string_view op, const Tensor& losses, Reduction reduction, const SourceLocation& caller);

}  // namespace matgrad::detail
