#include "matgrad/nn/utils.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"

#include <algorithm>
#include <cmath>

namespace matgrad::nn::utils {

namespace {

std::vector<Tensor> defined_grads(const std::vector<Tensor>& parameters) {
  std::vector<Tensor> grads;
  for (const Tensor& p : parameters) {
    if (p.defined() && p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

}  // namespace

// As torch: the norm of the per-gradient norms (the max of the maxima for inf), in float64 here.
Tensor clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  if (!(norm_type > 0)) fail<ValueError>("clip_grad_norm_: norm_type must be > 0 (or inf), got {}", norm_type);
  NoGradGuard no_grad;
  const std::vector<Tensor> grads = defined_grads(parameters);
  if (grads.empty()) return tensor(0.0, {.dtype = DType::float64});
  std::vector<Tensor> norms;
  for (const Tensor& g : grads) norms.push_back(linalg_vector_norm(g.to(DType::float64), norm_type));
  const Tensor total = linalg_vector_norm(stack(norms), norm_type);
  const double value = total.item();
  if (error_if_nonfinite && !std::isfinite(value)) {
    fail<ValueError>("clip_grad_norm_: the total norm of order {} of the gradients is {}, so they cannot be "
                     "clipped (error_if_nonfinite is set)",
                     norm_type, value);
  }
  const double coef = std::min(max_norm / (value + 1e-6), 1.0);
  for (const Tensor& g : grads) {
    Tensor handle = g;
    handle.mul_(coef);
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  if (!(clip_value >= 0)) fail<ValueError>("clip_grad_value_: clip_value must be ≥ 0, got {}", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& g : defined_grads(parameters)) {
    Tensor handle = g;
    handle.copy_(clamp(g, -clip_value, clip_value));
  }
}

}  // namespace matgrad::nn::utils
