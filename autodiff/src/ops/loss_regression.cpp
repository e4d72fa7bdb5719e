// binary_cross_entropy on probabilities (a fused elementwise rule: torch's gradient is finite at
// p = 0 and 1, where the composed log would give 0 ⊘ 0), and the losses composed from existing
// differentiable ops, each as accurate as a kernel would be: BCE with logits and weights (via
// logsigmoid, stable for large |x|), l1, smooth_l1, huber, kl_div, cosine_similarity,
// cosine_embedding_loss and margin_ranking_loss. Composition differentiates again for free.
#include "matgrad/composed_op.hpp"
#include "loss.hpp"

#include <cmath>
#include <optional>

namespace matgrad {

namespace {

void check_broadcasts_to(std::string_view op, std::string_view what, const Tensor& t, const Tensor& input) {
  if (!t.defined()) return;
  detail::check_same_dtype(op, input, t);
  if (detail::broadcast_shapes(op, t.shape(), input.shape()) != input.shape()) {
    fail<ShapeError>("{}: {} of shape {} does not broadcast to the input's shape {}", op, what,
                     to_string(t.shape()), to_string(input.shape()));
  }
}

Tensor clamped_log(const Tensor& p) { return clamp(log(p), -100.0, std::nullopt); }

}  // namespace

// ℓ = −(Y ⊙ max(log P, −100) + (1 − Y) ⊙ max(log(1 − P), −100)) per element.
static const OpInfo bce_info{
    "binary_cross_entropy",
    "dC = (P − Y) ⊘ max(P ⊙ (1 − P), ε) ⊙ dP + (max(log(1 − P), −100) − max(log(P), −100)) ⊙ dY",
    "tC = (P − Y) ⊘ max(P ⊙ (1 − P), ε) ⊙ tP + (max(log(1 − P), −100) − max(log(P), −100)) ⊙ tY",
    "gP = gC ⊙ (P − Y) ⊘ max(P ⊙ (1 − P), ε), gY = gC ⊙ (max(log(1 − P), −100) − max(log(P), −100)) "
    "(with ε = 1e-12, as torch)",
    "C = binary_cross_entropy(P, Y)"};
static Tensor binary_cross_entropy_elements(const Tensor& p, const Tensor& y, const SourceLocation& caller) {
  Tensor out = detail::map_data(p, [&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const T* t = y.data<T>().data();
    auto c = detail::empty_array<T>(p.shape(), "binary_cross_entropy");
    for (std::size_t i = 0; i < x.size(); ++i) {
      const T v = x.data()[i];
      if (!(v >= T(0) && v <= T(1))) {
        fail<ValueError>("binary_cross_entropy: input element {} is {}; every element must be in [0, 1] (a "
                         "probability; for logits use binary_cross_entropy_with_logits)",
                         i, v);
      }
      const T log_p = std::max(std::log(v), T(-100));
      const T log_q = std::max(std::log1p(-v), T(-100));
      c.data()[i] = -(t[i] * log_p + (T(1) - t[i]) * log_q);
    }
    return c;
  });
  auto slope = [](const Tensor& p, const Tensor& y) { return (p - y) / clamp(p * (1.0 - p), 1e-12, std::nullopt); };
  auto log_ratio = [](const Tensor& p) { return clamped_log(1.0 - p) - clamped_log(p); };
  return record(
      bce_info, std::move(out), {p, y},
      [&](const Tangent& tp, const Tangent& ty) { return slope(p, y) * tp + log_ratio(p) * ty; },
      [p, y, slope, log_ratio](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * slope(p, y) : Tensor(), ctx.needs[1] ? g * log_ratio(p) : Tensor()};
      },
      caller);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BinaryCrossEntropyOptions& options,
                            const SourceLocation& caller) {
  constexpr std::string_view op = "binary_cross_entropy";
  detail::check_loss_shapes(op, input, target);
  check_broadcasts_to(op, "weight", options.weight, input);
  Tensor losses = binary_cross_entropy_elements(input, target, caller);
  if (options.weight.defined()) losses = options.weight * losses;
  return detail::reduce_loss(op, losses, options.reduction, caller);
}

// (1 − y) x − (1 + (p_w − 1) y) log σ(x), torch's stable form; times the weight.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets, const BCEWithLogitsOptions& options,
                                        const SourceLocation& caller) {
  constexpr std::string_view op = "binary_cross_entropy_with_logits";
  detail::check_loss_shapes(op, logits, targets);
  check_broadcasts_to(op, "weight", options.weight, logits);
  check_broadcasts_to(op, "pos_weight", options.pos_weight, logits);
  if (!options.weight.defined() && !options.pos_weight.defined()) {
    return binary_cross_entropy_with_logits(logits, targets, options.reduction, caller);
  }
  const Tensor log_weight = options.pos_weight.defined() ? 1.0 + (options.pos_weight - 1.0) * targets : Tensor();
  const Tensor log_sig = logsigmoid(logits, caller);
  Tensor losses = (1.0 - targets) * logits - (log_weight.defined() ? log_weight * log_sig : log_sig);
  if (options.weight.defined()) losses = options.weight * losses;
  return detail::reduce_loss(op, losses, options.reduction, caller);
}

static const ComposedOpInfo l1_loss_composed{"l1_loss", "ℓ = reduce(|A − T|)"};
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, const SourceLocation& caller) {
  detail::check_loss_shapes("l1_loss", input, target);
  return detail::reduce_loss("l1_loss", abs(sub(input, target, caller), caller), reduction, caller);
}

static const ComposedOpInfo smooth_l1_loss_composed{"smooth_l1_loss", "ℓ = reduce(where(|A − T| < β, (A − T)² / (2β), |A − T| − β/2))"};
// where(|d| < β, ½ d² / β, |d| − ½ β): at |d| = β both branches have slope ±1, as torch's.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta,
                      const SourceLocation& caller) {
  constexpr std::string_view op = "smooth_l1_loss";
  detail::check_loss_shapes(op, input, target);
  if (!(beta >= 0)) fail<ValueError>("{}: beta must be ≥ 0, got {}", op, beta);
  const Tensor d = sub(input, target, caller);
  const Tensor a = abs(d, caller);
  if (beta == 0) return detail::reduce_loss(op, a, reduction, caller);
  const Tensor losses = where(lt(a, scalar_like(a, beta)), (0.5 / beta) * square(d, caller), a - 0.5 * beta, caller);
  return detail::reduce_loss(op, losses, reduction, caller);
}

static const ComposedOpInfo huber_loss_composed{"huber_loss", "ℓ = reduce(where(|A − T| < δ, (A − T)² / 2, δ (|A − T| − δ/2)))"};
// where(|d| < δ, ½ d², δ (|d| − ½ δ)).
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta,
                  const SourceLocation& caller) {
  constexpr std::string_view op = "huber_loss";
  detail::check_loss_shapes(op, input, target);
  if (!(delta > 0)) fail<ValueError>("{}: delta must be > 0, got {}", op, delta);
  const Tensor d = sub(input, target, caller);
  const Tensor a = abs(d, caller);
  const Tensor losses = where(lt(a, scalar_like(a, delta)), 0.5 * square(d, caller), delta * (a - 0.5 * delta), caller);
  return detail::reduce_loss(op, losses, reduction, caller);
}

static const ComposedOpInfo kl_div_composed{"kl_div", "ℓ = reduce(xlogy(T, T) − T ⊙ A), or reduce(exp(T) ⊙ (T − A)) with log_target; batchmean: sum / N"};
// xlogy(y, y) − y x (0 where y = 0, as torch), or eʸ (y − x) with log_target.
Tensor kl_div(const Tensor& input, const Tensor& target, Reduction reduction, bool log_target,
              const SourceLocation& caller) {
  constexpr std::string_view op = "kl_div";
  detail::check_loss_shapes(op, input, target);
  const Tensor losses = log_target ? exp(target, caller) * (target - input)
                                   : xlogy(target, target, caller) - target * input;
  if (reduction != Reduction::batchmean) return detail::reduce_loss(op, losses, reduction, caller);
  const Tensor total = sum(losses, caller);
  return input.dim() == 0 ? total : total / static_cast<double>(input.size(0));
}

static const ComposedOpInfo cosine_similarity_composed{"cosine_similarity", "C = Σ_dim A ⊙ B / √(max(Σ_dim A², ε²) max(Σ_dim B², ε²))"};
// Σ x₁x₂ ⊘ √(max(Σx₁², ε²) max(Σx₂², ε²)) along dim. torch clamps the squared norms in place with
// gradients off, so the gradient passes the clamp as if it were not there: n + (max(n, ε²) − n)
// with the correction detached does the same.
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::ptrdiff_t dim, double eps,
                         const SourceLocation& caller) {
  constexpr std::string_view op = "cosine_similarity";
  detail::check_same_dtype(op, x1, x2);
  const Shape shape = detail::broadcast_shapes(op, x1.shape(), x2.shape());
  const Tensor a = x1.shape() == shape ? x1 : broadcast_to(x1, shape, caller);
  const Tensor b = x2.shape() == shape ? x2 : broadcast_to(x2, shape, caller);
  (void)detail::wrap_dim(op, dim, shape.size());  // the check
  auto clamped_square_norm = [&](const Tensor& x) {
    const Tensor n = sum(square(x, caller), dim, true, caller);
    return n + (clamp(n, eps * eps, std::nullopt) - n).detach();
  };
  const Tensor denominator = rsqrt(clamped_square_norm(a) * clamped_square_norm(b), caller);
  return sum(a * b * denominator, dim, false, caller);
}

static const ComposedOpInfo cosine_embedding_loss_composed{"cosine_embedding_loss", "ℓ = reduce(where(t = 1, 1 − cos, 0) + where(t = −1, max(cos − margin, 0), 0)), cos = Σ A ⊙ B / √((Σ A² + 10⁻¹²)(Σ B² + 10⁻¹²)) over the last dim"};
// torch's: cos = Σ x₁x₂ / √((Σx₁² + 1e-12)(Σx₂² + 1e-12)) over the last dim.
Tensor cosine_embedding_loss(const Tensor& x1, const Tensor& x2, const Tensor& target, double margin,
                             Reduction reduction, const SourceLocation& caller) {
  constexpr std::string_view op = "cosine_embedding_loss";
  detail::check_same_dtype(op, x1, x2);
  detail::check_same_dtype(op, x1, target);
  const bool batched = target.dim() == 1;
  if (target.dim() > 1 || x1.shape() != x2.shape() || x1.dim() != (batched ? 2u : 1u) ||
      (batched && target.size(0) != x1.size(0))) {
    fail<ShapeError>("{}: inputs of shapes {} and {} with target {} (expected [N, D], [N, D] and [N], or [D], "
                     "[D] and a 0-d target)",
                     op, to_string(x1.shape()), to_string(x2.shape()), to_string(target.shape()));
  }
  const std::ptrdiff_t d = batched ? 1 : 0;
  constexpr double epsilon = 1e-12;
  const Tensor dot = sum(x1 * x2, d, false, caller);
  const Tensor n1 = sum(square(x1, caller), d, false, caller) + epsilon;
  const Tensor n2 = sum(square(x2, caller), d, false, caller) + epsilon;
  const Tensor cos = dot / sqrt(n1 * n2, caller);
  const Tensor zero = zeros_like(cos);
  const Tensor positive = where(eq(target, scalar_like(target, 1.0)), 1.0 - cos, zero, caller);
  const Tensor negative =
      where(eq(target, scalar_like(target, -1.0)), clamp(cos - margin, 0.0, std::nullopt, caller), zero, caller);
  return detail::reduce_loss(op, positive + negative, reduction, caller);
}

static const ComposedOpInfo margin_ranking_loss_composed{"margin_ranking_loss", "ℓ = reduce(max(−t ⊙ (A − B) + margin, 0))"};
Tensor margin_ranking_loss(const Tensor& x1, const Tensor& x2, const Tensor& target, double margin,
                           Reduction reduction, const SourceLocation& caller) {
  constexpr std::string_view op = "margin_ranking_loss";
  detail::check_same_dtype(op, x1, x2);
  detail::check_same_dtype(op, x1, target);
  const Tensor losses = clamp(margin - target * (x1 - x2), 0.0, std::nullopt, caller);
  return detail::reduce_loss(op, losses, reduction, caller);
}

}  // namespace matgrad
