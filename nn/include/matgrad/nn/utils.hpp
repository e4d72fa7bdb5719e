// torch.nn.utils: gradient clipping over a list of parameters, in place, outside autograd.
// Parameters whose grad() is undefined are skipped, as in PyTorch.
#pragma once

#include "matgrad/tensor.hpp"

#include <limits>
#include <vector>

namespace matgrad::nn::utils {

// Scales every gradient by min(1, max_norm / (total + 1e-6)), total being the norm of order
// norm_type (any p > 0, or infinity: the largest |g|) of all gradients together; returns total
// (0-d float64; 0 without gradients). A NaN or infinite total raises a ValueError with
// error_if_nonfinite (else the gradients are scaled by the NaN or 0 factor, as torch's).
Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
// Clamps every gradient element into [−clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);

}  // namespace matgrad::nn::utils
