// cross_entropy with torch's options and nll_loss, composed from log_softmax, gather and the
// reductions: as accurate as a fused kernel (log_softmax is the stable part) and differentiable
// to any order, so they record no op of their own. The plain case, class indices of [N, C] or
// [C] logits without options, goes to the fused kernel of loss.cpp.
#include "matgrad/composed_op.hpp"
#include "loss.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace matgrad {

namespace {

// The class dim of an input [N, C, d...] or [C].
std::size_t class_dim(const Tensor& input) { return input.dim() == 1 ? 0 : 1; }

// A constant of the given shape and dtype holding values.
Tensor constant(const Shape& shape, const std::vector<double>& values, DType dtype) {
  Tensor t = zeros(shape, {.dtype = DType::float64});
  std::copy(values.begin(), values.end(), t.mutable_data<double>().data());
  return dtype == DType::float64 ? t : t.to(dtype);
}

void check_input(std::string_view op, const Tensor& input, const Tensor& weight) {
  detail::check_defined(op, input);
  if (input.dim() == 0) {
    fail<ShapeError>("{}: expects input of shape [N, C, d...] or [C], got a 0-d tensor", op);
  }
  const std::size_t classes = input.shape()[class_dim(input)];
  if (weight.defined()) {
    detail::check_same_dtype(op, input, weight);
    if (weight.shape() != Shape{classes}) {
      fail<ShapeError>("{}: weight of shape {} for input of shape {} (expected [{}], one per class)", op,
                       to_string(weight.shape()), to_string(input.shape()), classes);
    }
  }
}

// weight (or ones) shaped to broadcast along the class dim of input.
Tensor class_weights(const Tensor& input, const Tensor& weight) {
  const std::size_t classes = input.shape()[class_dim(input)];
  Tensor w = weight.defined() ? weight : ones({classes}, {.dtype = input.dtype()});
  Shape shape(input.dim(), 1);
  shape[class_dim(input)] = classes;
  return reshape(w, shape);
}

// Class-index targets, read once: each target as an index (an ignored one reads class 0), its
// weight w[t] (0 where ignored), and whether it counts.
struct ClassTargets {
  Tensor index;   // int64, the target's shape
  Tensor weight;  // the input's dtype, the target's shape
  Tensor counts;  // 1 where not ignored, else 0
  double total_weight = 0;
};

ClassTargets read_targets(std::string_view op, const Tensor& input, const Tensor& target, const Tensor& weight,
                          std::int64_t ignore_index) {
  detail::check_index_tensor(op, "target", target);
  Shape expected = input.shape();
  expected.erase(expected.begin() + static_cast<std::ptrdiff_t>(class_dim(input)));
  if (target.shape() != expected) {
    fail<ShapeError>("{}: target of shape {} for input of shape {} (expected {}: the input's shape without "
                     "the class dim 1, 0-d for an input [C])",
                     op, to_string(target.shape()), to_string(input.shape()), to_string(expected));
  }
  const std::size_t classes = input.shape()[class_dim(input)];
  std::vector<double> w(classes, 1.0);
  if (weight.defined()) {
    const Tensor w64 = weight.detach().to(DType::float64);
    std::copy(w64.data<double>().begin(), w64.data<double>().end(), w.begin());
  }
  const auto& t = target.data<std::int64_t>();
  const std::size_t n = target.numel();
  ClassTargets out;
  out.index = zeros(target.shape(), {.dtype = DType::int64});
  std::int64_t* index = out.index.mutable_data<std::int64_t>().data();
  std::vector<double> tw(n), counts(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t c = t.data()[i];
    if (c == ignore_index) continue;
    if (c < 0 || static_cast<std::size_t>(c) >= classes) {
      fail<IndexError>("{}: target {} at position {} is out of range for {} classes (input of shape {}; "
                       "ignore_index is {})",
                       op, c, i, classes, to_string(input.shape()), ignore_index);
    }
    index[i] = c;
    tw[i] = w[static_cast<std::size_t>(c)];
    counts[i] = 1;
    out.total_weight += tw[i];
  }
  out.weight = constant(target.shape(), tw, input.dtype());
  out.counts = constant(target.shape(), counts, input.dtype());
  return out;
}

// input[t] at each position, shaped as the target.
Tensor pick(const Tensor& input, const Tensor& index, const SourceLocation& caller) {
  const auto d = static_cast<std::ptrdiff_t>(class_dim(input));
  return squeeze(gather(input, d, unsqueeze(index, d, caller), caller), d, caller);
}

// The per-position losses reduced with torch's weighted mean, Σ ℓ / Σ w[t]. When every target
// is ignored (or there are none) the mean is NaN, its gradient 0 (a 1/0 factor would make it NaN).
Tensor reduce_weighted(std::string_view op, const Tensor& losses, const ClassTargets& targets, Reduction reduction,
                       const SourceLocation& caller) {
  if (reduction != Reduction::mean) return detail::reduce_loss(op, losses, reduction, caller);
  const Tensor total = sum(losses, caller);
  if (targets.total_weight == 0) return total + std::numeric_limits<double>::quiet_NaN();
  return total / targets.total_weight;
}

// −Σ_c w_c p_c over the class dim, for per-class log-probabilities p.
Tensor weighted_class_sum(const Tensor& log_probs, const Tensor& w, const SourceLocation& caller) {
  return -sum(log_probs * w, static_cast<std::ptrdiff_t>(class_dim(log_probs)), false, caller);
}

Tensor class_index_loss(std::string_view op, const Tensor& log_probs, const Tensor& target, const Tensor& weight,
                        std::int64_t ignore_index, Reduction reduction, double label_smoothing,
                        const SourceLocation& caller) {
  const ClassTargets targets = read_targets(op, log_probs, target, weight, ignore_index);
  const Tensor zero = scalar_like(log_probs, 0.0);
  Tensor losses = -(targets.weight * pick(log_probs, targets.index, caller));
  if (label_smoothing > 0) {
    const auto classes = static_cast<double>(log_probs.shape()[class_dim(log_probs)]);
    const Tensor smooth = weighted_class_sum(log_probs, class_weights(log_probs, weight.defined() ? weight.detach() : weight), caller);
    losses = (1 - label_smoothing) * losses + (label_smoothing / classes) * smooth;
  }
  // where, not a product with the counts: an ignored position's −inf must not make a NaN.
  losses = where(targets.counts, losses, zero, caller);
  return reduce_weighted(op, losses, targets, reduction, caller);
}

void check_options(std::string_view op, Reduction reduction, double label_smoothing) {
  if (reduction == Reduction::batchmean) detail::reduce_loss(op, Tensor(), reduction, SourceLocation::current());
  if (!(label_smoothing >= 0 && label_smoothing <= 1)) {
    fail<ValueError>("{}: label_smoothing must be in [0, 1], got {}", op, label_smoothing);
  }
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options,
                     const SourceLocation& caller) {
  constexpr std::string_view op = "cross_entropy";
  check_input(op, input, options.weight);
  detail::check_defined_any_dtype(op, target);
  check_options(op, options.reduction, options.label_smoothing);
  const Tensor log_probs = log_softmax(input, static_cast<std::ptrdiff_t>(class_dim(input)), caller);
  if (target.dtype() == DType::int64) {
    return class_index_loss(op, log_probs, target, options.weight, options.ignore_index, options.reduction,
                            options.label_smoothing, caller);
  }
  // Probability targets: −Σ_c w_c y_c log p_c per position, the mean over positions.
  detail::check_same_dtype(op, input, target);
  if (target.shape() != input.shape()) {
    fail<ShapeError>("{}: probability target of shape {} for input of shape {} (they must match; class "
                     "indices are an int64 tensor)",
                     op, to_string(target.shape()), to_string(input.shape()));
  }
  if (options.ignore_index != -100) {
    fail<ValueError>("{}: ignore_index ({}) applies to class-index targets only, not to probabilities", op,
                     options.ignore_index);
  }
  const double eps = options.label_smoothing;
  const auto classes = static_cast<double>(input.shape()[class_dim(input)]);
  const Tensor y = eps > 0 ? target * (1 - eps) + eps / classes : target;
  const Tensor losses = weighted_class_sum(log_probs * y, class_weights(input, options.weight), caller);
  if (options.reduction != Reduction::mean) return detail::reduce_loss(op, losses, options.reduction, caller);
  const Tensor total = sum(losses, caller);
  if (losses.numel() == 0) return total + std::numeric_limits<double>::quiet_NaN();
  return total / static_cast<double>(losses.numel());
}

// Class indices of [N, C] or [C] logits go to the fused kernel unless one is −100 (torch's
// default ignore_index); anything else to the composed form above.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Reduction reduction, const SourceLocation& caller) {
  detail::check_defined("cross_entropy", logits);
  detail::check_defined_any_dtype("cross_entropy", targets);
  const bool fused_shape = (logits.dim() == 2 && targets.dim() == 1 && targets.shape()[0] == logits.shape()[0]) ||
                           (logits.dim() == 1 && targets.dim() == 0);
  if (targets.dtype() == DType::int64 && fused_shape && reduction != Reduction::batchmean) {
    const auto& t = targets.data<std::int64_t>();
    const std::size_t classes = logits.shape().back();
    std::vector<std::size_t> positions(t.size());
    bool in_range = true;
    for (std::size_t i = 0; i < t.size() && in_range; ++i) {
      in_range = t.data()[i] >= 0 && static_cast<std::size_t>(t.data()[i]) < classes;
      positions[i] = static_cast<std::size_t>(t.data()[i]);
    }
    if (in_range) return cross_entropy(logits, std::span<const std::size_t>(positions), reduction, caller);
  }
  return cross_entropy(logits, targets, CrossEntropyOptions{.reduction = reduction}, caller);
}

static const ComposedOpInfo nll_loss_composed{"nll_loss", "ℓᵢ = −w[tᵢ] A[i, tᵢ] (gather), reduced by the weighted mean Σ ℓᵢ / Σ w[tᵢ] over the targets ≠ ignore_index, or sum / none"};
Tensor nll_loss(const Tensor& input, const Tensor& target, const NllLossOptions& options, const SourceLocation& caller) {
  constexpr std::string_view op = "nll_loss";
  check_input(op, input, options.weight);
  check_options(op, options.reduction, 0.0);
  return class_index_loss(op, input, target, options.weight, options.ignore_index, options.reduction, 0.0, caller);
}

}  // namespace matgrad
