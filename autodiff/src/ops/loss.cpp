// Losses. mse_loss composes existing ops; cross_entropy (class indices, no options) and
// binary_cross_entropy_with_logits (no weights) are fused, numerically stable kernels whose
// VJPs are written with matgrad ops (so they can be differentiated again). The losses with
// options are in loss_classification.cpp and loss_regression.cpp. Input and target shapes must
// match exactly: PyTorch broadcasts the pointwise losses with only a warning, which hides the
// [N] vs [N, 1] mistake, so matgrad refuses it.
#include "matgrad/composed_op.hpp"
#include "loss.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace matgrad {

using detail::check_defined;

void detail::check_loss_shapes(std::string_view op, const Tensor& input, const Tensor& target) {
  detail::check_same_dtype(op, input, target);
  if (input.shape() != target.shape()) {
    fail<ShapeError>("{}: input of shape {} and target of shape {} differ (they must match)", op,
                     to_string(input.shape()), to_string(target.shape()));
  }
}

static void check_kernel_reduction(std::string_view op, Reduction reduction) {
  if (reduction == Reduction::batchmean) {
    fail<ValueError>("{}: reduction batchmean is kl_div's only (use mean, sum or none)", op);
  }
}

Tensor detail::reduce_loss(std::string_view op, const Tensor& losses, Reduction reduction,
                           const SourceLocation& caller) {
  switch (reduction) {
    case Reduction::none: return losses;
    case Reduction::sum: return sum(losses, caller);
    case Reduction::mean: return mean(losses, caller);
    case Reduction::batchmean: break;
  }
  check_kernel_reduction(op, reduction);
  fail<ValueError>("{}: unknown reduction {}", op, static_cast<int>(reduction));
}

static const ComposedOpInfo mse_loss_composed{"mse_loss", "ℓ = reduce((A − T)²)"};
// Composed: square(input − target), then the reduction.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction, const SourceLocation& caller) {
  detail::check_loss_shapes("mse_loss", input, target);
  return detail::reduce_loss("mse_loss", square(sub(input, target, caller), caller), reduction, caller);
}

// The reduced value of per-element losses computed in the kernel (mean of nothing is NaN,
// as in PyTorch).
template <class T>
static Array<T> reduce_values(std::string_view op, const std::vector<T>& losses,
                              Reduction reduction, const Shape& none_shape) {
  if (reduction == Reduction::none) {
    auto out = detail::empty_array<T>(none_shape, op);
    std::copy(losses.begin(), losses.end(), out.data());
    return out;
  }
  double total = detail::total_contiguous(losses.data(), losses.size());
  if (reduction == Reduction::mean) total /= static_cast<double>(losses.size());
  return detail::scalar_array(static_cast<T>(total), op);
}

// The tangent of per-element losses, reduced as the losses were. The mean of no losses is NaN
// but its tangent 0, as PyTorch's (a 1/0 factor would make it NaN; see mean_scale).
static Tangent reduce(const Tangent& losses, Reduction reduction, std::size_t count) {
  switch (reduction) {
    case Reduction::none: return losses;
    case Reduction::sum: return sum(losses);
    case Reduction::mean: return count == 0 ? sum(losses) : sum(losses) / static_cast<double>(count);
    case Reduction::batchmean: break;
  }
  fail<ValueError>("loss: unknown reduction {}", static_cast<int>(reduction));
}

// 1 at [r, t[r]] for each row r of a tensor shaped like logits, 0 elsewhere.
static Tensor onehot(const Tensor& logits, const std::vector<std::size_t>& t) {
  Tensor out = zeros_like(logits);
  out.visit([&](const auto& data) {
    using T = typename std::decay_t<decltype(data)>::value_type;
    T* p = out.mutable_data<T>().data();
    const std::size_t classes = logits.shape().back();
    for (std::size_t r = 0; r < t.size(); ++r) p[r * classes + t[r]] = T(1);
  });
  return out;
}

// gC ÷ n for a mean over n losses. Over none the gradient is empty, and gC stays unscaled: a
// 1/0 factor would multiply the zeros of a second-order pass into NaN.
static Tensor mean_scale(const Tensor& g, std::size_t n) {
  return n == 0 ? g : g / static_cast<double>(n);
}

// ℓᵢ = logsumexp(Aᵢ) − Aᵢ,ₜᵢ for each row i of A [N, C] (a [C] input is one row, giving a 0-d
// loss for Reduction::none). dℓᵢ = Σⱼ (softmax(Aᵢ)ⱼ − [j = tᵢ]) dAᵢⱼ.
static const OpInfo cross_entropy_info{
    "cross_entropy", "dℓ = Σ_classes((softmax(A) − onehot(t)) ⊙ dA) (per row i: dℓᵢ = Σⱼ (softmax(Aᵢ)ⱼ − [j = tᵢ]) dAᵢⱼ)",
    "tℓᵢ = Σⱼ (softmax(Aᵢ)ⱼ − [j = tᵢ]) tAᵢⱼ, reduced as ℓ",
    "gA = (softmax(A) − onehot(t)) ⊙ gC per row (gC ÷ N for mean)",
    "C = cross_entropy(A, t)"};
Tensor cross_entropy(const Tensor& logits, std::span<const std::size_t> targets,
                     Reduction reduction, const SourceLocation& caller) {
  check_defined("cross_entropy", logits);
  check_kernel_reduction("cross_entropy", reduction);
  const Shape& shape = logits.shape();
  if (shape.size() != 1 && shape.size() != 2) {
    fail<ShapeError>("cross_entropy: expects logits of shape [N, C] or [C], got {}",
                     to_string(shape));
  }
  const bool batched = shape.size() == 2;
  const std::size_t rows = batched ? shape[0] : 1;
  const std::size_t classes = shape.back();
  if (targets.size() != rows) {
    fail<ShapeError>("cross_entropy: {} targets for logits of shape {} (expected {})",
                     targets.size(), to_string(shape), rows);
  }
  for (std::size_t i = 0; i < rows; ++i) {
    if (targets[i] >= classes) {
      fail<IndexError>(
          "cross_entropy: target {} at position {} is out of range for {} classes (logits of "
          "shape {})",
          targets[i], i, classes, to_string(shape));
    }
  }
  std::vector<std::size_t> t(targets.begin(), targets.end());  // the span dies with the call
  const Shape none_shape = batched ? Shape{rows} : Shape{};

  Tensor out = detail::map_data(logits, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    std::vector<T> losses = detail::allocating<T>({rows}, "cross_entropy", [&] { return std::vector<T>(rows); });
    for (std::size_t r = 0; r < rows; ++r) {
      const T* row = x.data() + r * classes;
      T m = -std::numeric_limits<T>::infinity();
      for (std::size_t j = 0; j < classes; ++j) {
        if (row[j] > m) m = row[j];
      }
      double z = 0;  // in double, as the softmax denominators are
      for (std::size_t j = 0; j < classes; ++j) z += std::exp(row[j] - m);
      losses[r] = static_cast<T>(std::log(z)) - (row[t[r]] - m);  // logsumexp − picked, both relative to m
    }
    return reduce_values("cross_entropy", losses, reduction, none_shape);
  });

  return record(
      cross_entropy_info, std::move(out), {logits},
      [&](const Tangent& ta) {
        return reduce(sum((softmax(logits, -1) - onehot(logits, t)) * ta, logits.dim() - 1, false), reduction, rows);
      },
      [logits, t, reduction, batched](const Tensor& g) -> Grads {  // t copied: the JVP reads it too
        Tensor scale = g;
        if (reduction == Reduction::none && batched) scale = unsqueeze(g, 1);
        if (reduction == Reduction::mean) scale = mean_scale(g, t.size());
        return {(softmax(logits, -1) - onehot(logits, t)) * scale};
      },
      caller);
}

// ℓ = max(x, 0) − x y + log(1 + e^−|x|), the stable form of −y log σ(x) − (1 − y) log(1 − σ(x)).
static const OpInfo bce_with_logits_info{
    "binary_cross_entropy_with_logits", "dℓ = (σ(X) − Y) ⊙ dX − X ⊙ dY",
    "tℓ = (σ(X) − Y) ⊙ tX − X ⊙ tY, reduced as ℓ",
    "gX = (σ(X) − Y) ⊙ gC, gY = −X ⊙ gC (gC ÷ numel for mean)",
    "C = binary_cross_entropy_with_logits(X, Y)"};
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets,
                                        Reduction reduction, const SourceLocation& caller) {
  detail::check_loss_shapes("binary_cross_entropy_with_logits", logits, targets);
  check_kernel_reduction("binary_cross_entropy_with_logits", reduction);
  const Shape shape = logits.shape();
  Tensor out = detail::map_data(logits, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const T* y = targets.data<T>().data();
    std::vector<T> losses = detail::allocating<T>(
        x.shape(), "binary_cross_entropy_with_logits", [&] { return std::vector<T>(x.size()); });
    for (std::size_t i = 0; i < losses.size(); ++i) {
      const T v = x.data()[i];
      losses[i] = std::max(v, T(0)) - v * y[i] + std::log1p(std::exp(-std::abs(v)));
    }
    return reduce_values("binary_cross_entropy_with_logits", losses, reduction, shape);
  });
  const std::size_t count = logits.numel();
  return record(
      bce_with_logits_info, std::move(out), {logits, targets},
      [&](const Tangent& tx, const Tangent& ty) {
        return reduce((sigmoid(logits) - targets) * tx - logits * ty, reduction, logits.numel());
      },
      [logits, targets, reduction, count](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor scale = reduction == Reduction::mean ? mean_scale(g, count) : g;
        return {ctx.needs[0] ? (sigmoid(logits) - targets) * scale : Tensor(),
                ctx.needs[1] ? -(logits * scale) : Tensor()};
      },
      caller);
}

}  // namespace matgrad
