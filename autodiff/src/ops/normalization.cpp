// layer_norm and batch_norm composed from mean, var and elementwise ops: each step is already
// stable (var is two-pass), so a fused kernel would be faster but no more accurate; composition
// differentiates to any order and records no op of its own.
#include "common.hpp"

#include <vector>

namespace matgrad {

namespace {

// weight or bias, when defined, of the given shape and the input's dtype.
void check_affine(std::string_view op, std::string_view what, const Tensor& t, const Tensor& input, const Shape& shape) {
  if (!t.defined()) return;
  detail::check_same_dtype(op, input, t);
  if (t.shape() != shape) {
    fail<ShapeError>("{}: {} of shape {} for input of shape {} (expected {})", op, what, to_string(t.shape()),
                     to_string(input.shape()), to_string(shape));
  }
}

Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias, const Shape& shape, const SourceLocation& caller) {
  if (weight.defined()) y = y * reshape(weight, shape, caller);
  if (bias.defined()) y = y + reshape(bias, shape, caller);
  return y;
}

}  // namespace

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps, const SourceLocation& caller) {
  constexpr std::string_view op = "layer_norm";
  detail::check_defined(op, input);
  const std::size_t k = normalized_shape.size();
  const Shape& shape = input.shape();
  if (k == 0 || k > shape.size() || !std::equal(normalized_shape.begin(), normalized_shape.end(), shape.end() - static_cast<std::ptrdiff_t>(k))) {
    fail<ShapeError>("layer_norm: normalized_shape {} must be a non-empty tail of the input's shape {}",
                     to_string(normalized_shape), to_string(shape));
  }
  check_affine(op, "weight", weight, input, normalized_shape);
  check_affine(op, "bias", bias, input, normalized_shape);
  std::vector<std::ptrdiff_t> dims;
  for (std::size_t d = shape.size() - k; d < shape.size(); ++d) dims.push_back(static_cast<std::ptrdiff_t>(d));
  const auto [v, m] = var_mean(input, dims, 0.0, true, caller);
  const Tensor y = (input - m) * rsqrt(v + eps, caller);
  return affine(y, weight, bias, normalized_shape, caller);
}

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps, const SourceLocation& caller) {
  constexpr std::string_view op = "batch_norm";
  detail::check_defined(op, input);
  if (input.dim() < 2) {
    fail<ShapeError>("batch_norm: expects input of shape [N, C, *], got {}", to_string(input.shape()));
  }
  const std::size_t channels = input.shape()[1];
  check_affine(op, "weight", weight, input, {channels});
  check_affine(op, "bias", bias, input, {channels});
  check_affine(op, "running_mean", running_mean, input, {channels});
  check_affine(op, "running_var", running_var, input, {channels});
  Shape channel_shape(input.dim(), 1);
  channel_shape[1] = channels;
  std::vector<std::ptrdiff_t> dims{0};
  for (std::size_t d = 2; d < input.dim(); ++d) dims.push_back(static_cast<std::ptrdiff_t>(d));
  Tensor m, v;
  if (training) {
    const std::size_t n = input.numel() / std::max<std::size_t>(channels, 1);
    if (n <= 1) {
      fail<ValueError>("batch_norm: training needs more than one value per channel, got input of shape {}",
                       to_string(input.shape()));
    }
    const VarMeanResult batch = var_mean(input, dims, 0.0, true, caller);
    v = batch.var;
    m = batch.mean;
    if (running_mean.defined() || running_var.defined()) {
      NoGradGuard no_grad;
      const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
      if (running_mean.defined()) {
        Tensor r = running_mean;
        r.copy_(r * (1 - momentum) + reshape(m.detach(), {-1}) * momentum);
      }
      if (running_var.defined()) {
        Tensor r = running_var;
        r.copy_(r * (1 - momentum) + (reshape(v.detach(), {-1}) * unbias) * momentum);
      }
    }
  } else {
    if (!running_mean.defined() || !running_var.defined()) {
      fail<ValueError>("batch_norm: eval mode needs running_mean and running_var");
    }
    m = reshape(running_mean, channel_shape, caller);
    v = reshape(running_var, channel_shape, caller);
  }
  const Tensor y = (input - m) * rsqrt(v + eps, caller);
  return affine(y, weight, bias, channel_shape, caller);
}

}  // namespace matgrad
