// The op table's rows for issue 14's losses: cross_entropy's and nll_loss's options, the
// binary cross-entropies with weights, the regression losses, kl_div and the cosine and ranking
// losses. Class-index targets, weights and ±1 labels are constants built from the shapes.
#include "op_table.hpp"

namespace matgrad::testing {

namespace {

using In = const std::vector<Tensor>&;

std::size_t classes_of(const Tensor& x) { return x.dim() == 1 ? x.size(0) : x.size(1); }

// Class indices for input x ([N, C, d...] or [C]): (3i + 1) mod C at position i, and the
// position 1 (when there is one) set to `ignored`.
Tensor class_targets(const Tensor& x, std::int64_t ignored = -100) {
  Shape shape = x.shape();
  shape.erase(shape.begin() + (x.dim() == 1 ? 0 : 1));
  Tensor t = zeros(shape, {.dtype = DType::int64});
  auto* v = t.mutable_data<std::int64_t>().data();
  const auto c = static_cast<std::int64_t>(classes_of(x));
  for (std::size_t i = 0; i < t.numel(); ++i) v[i] = (3 * static_cast<std::int64_t>(i) + 1) % c;
  if (t.numel() > 1) v[1] = ignored;
  return t;
}

// A constant weight per class: 0.5, 1, 1.5, ...
Tensor class_weight(const Tensor& x) {
  return (arange(static_cast<double>(classes_of(x)), {.dtype = DType::float64}) + 1.0) * 0.5;
}

// ±1 labels shaped as `shape`, alternating from +1.
Tensor signs(const Shape& shape) {
  Tensor t = ones(shape, {.dtype = DType::float64});
  auto* v = t.mutable_data<double>().data();
  for (std::size_t i = 1; i < t.numel(); i += 2) v[i] = -1;
  return t;
}

const std::vector<std::vector<Shape>> class_shapes = {{{4, 3}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{2, 3, 2, 2}}, {{3}}};
const std::vector<std::vector<Shape>> pair_shapes = {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{5, 1}, {5, 1}},
                                                     {{2, 3, 4}, {2, 3, 4}}, {{}, {}}, {{7}, {7}}};

}  // namespace

std::vector<OpRow> losses_rows() {
  return {
      {"cross_entropy weight ignore_index", class_shapes,
       [](In x) { return cross_entropy(x[0], class_targets(x[0]), {.weight = class_weight(x[0])}); }},
      {"cross_entropy label_smoothing sum", class_shapes,
       [](In x) {
         return cross_entropy(x[0], class_targets(x[0], 0),
                              {.weight = class_weight(x[0]), .ignore_index = 0, .reduction = Reduction::sum,
                               .label_smoothing = 0.2});
       }},
      {"cross_entropy none [N, C, d...]", class_shapes,
       [](In x) {
         return cross_entropy(x[0], class_targets(x[0]), {.reduction = Reduction::none, .label_smoothing = 0.1});
       }},
      // Differentiable in the probabilities too (softmax of the second input).
      {"cross_entropy probability targets", {{{4, 3}, {4, 3}}, {{1, 5}, {1, 5}}, {{2, 3, 4}, {2, 3, 4}}, {{5}, {5}}},
       [](In x) {
         const std::ptrdiff_t d = x[0].dim() == 1 ? 0 : 1;
         return cross_entropy(x[0], softmax(x[1], d), {.weight = class_weight(x[0]), .label_smoothing = 0.1});
       }},
      {"nll_loss", class_shapes,
       [](In x) { return nll_loss(x[0], class_targets(x[0]), {.weight = class_weight(x[0])}); }},
      {"nll_loss none", class_shapes,
       [](In x) { return nll_loss(x[0], class_targets(x[0], 0), {.ignore_index = 0, .reduction = Reduction::none}); }},
      // Probabilities and targets in (0, 1); the weight broadcasts.
      {"binary_cross_entropy",
       {{{3, 4}, {3, 4}, {4}}, {{1, 5}, {1, 5}, {1, 5}}, {{5, 1}, {5, 1}, {1}}, {{}, {}, {}}, {{2, 3, 4}, {2, 3, 4}, {3, 1}}},
       [](In x) { return binary_cross_entropy(sigmoid(x[0]), sigmoid(x[1]), {.weight = x[2]}); }},
      {"binary_cross_entropy none", pair_shapes,
       [](In x) { return binary_cross_entropy(sigmoid(x[0]), sigmoid(x[1]), {.reduction = Reduction::none}); }},
      {"binary_cross_entropy_with_logits weight pos_weight",
       {{{3, 4}, {3, 4}, {3, 4}, {4}}, {{5, 1}, {5, 1}, {1}, {1}}, {{}, {}, {}, {}}, {{2, 3, 4}, {2, 3, 4}, {3, 1}, {4}}},
       [](In x) {
         return binary_cross_entropy_with_logits(x[0], sigmoid(x[1]),
                                                 {.weight = x[2], .pos_weight = exp(x[3]), .reduction = Reduction::sum});
       }},
      {"binary_cross_entropy_with_logits pos_weight", {{{3, 4}, {3, 4}, {4}}, {{1, 5}, {1, 5}, {5}}},
       [](In x) { return binary_cross_entropy_with_logits(x[0] * 10.0, sigmoid(x[1]), {.pos_weight = exp(x[2])}); }},
      {"l1_loss", pair_shapes, [](In x) { return l1_loss(x[0], x[1]); }},
      {"l1_loss none", pair_shapes, [](In x) { return l1_loss(x[0], x[1], Reduction::none); }},
      {"smooth_l1_loss", pair_shapes, [](In x) { return smooth_l1_loss(x[0], x[1], Reduction::sum, 0.7); }},
      {"smooth_l1_loss beta 0", pair_shapes, [](In x) { return smooth_l1_loss(x[0], x[1], Reduction::mean, 0.0); }},
      {"huber_loss", pair_shapes, [](In x) { return huber_loss(x[0], x[1], Reduction::none, 0.6); }},
      // Log-probabilities against probabilities (or log-probabilities), along the last dim.
      {"kl_div batchmean", pair_shapes,
       [](In x) { return kl_div(log_softmax(x[0], -1), softmax(x[1], -1), Reduction::batchmean); }},
      {"kl_div log_target", pair_shapes,
       [](In x) { return kl_div(log_softmax(x[0], -1), log_softmax(x[1], -1), Reduction::mean, true); }},
      {"kl_div none", pair_shapes, [](In x) { return kl_div(x[0], softmax(x[1], -1), Reduction::none); }},
      // Reducing a dim of size 1 (or one an input is broadcast along) gives ±1, with a gradient
      // that is zero up to rounding, which no relative check can hold: those cases, 0-d
      // included, are in test_losses.
      {"cosine_similarity", {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}, {{2, 3, 4}, {3, 1}}, {{4, 3}, {1, 3}}},
       [](In x) { return cosine_similarity(x[0], x[1]); }},
      {"cosine_similarity dim 0", {{{5, 1}, {5, 1}}, {{5, 3}, {5, 1}}},
       [](In x) { return cosine_similarity(x[0], x[1], 0); }},
      {"cosine_similarity dim -1", {{{7}, {7}}, {{3, 4}, {4}}},
       [](In x) { return cosine_similarity(x[0], x[1], -1); }},
      {"cosine_embedding_loss", {{{4, 3}, {4, 3}}, {{1, 5}, {1, 5}}, {{5, 2}, {5, 2}}, {{3}, {3}}},
       [](In x) {
         const Tensor y = x[0].dim() == 1 ? tensor(-1.0, {.dtype = DType::float64}) : signs({x[0].size(0)});
         return cosine_embedding_loss(x[0], x[1], y, 0.1, Reduction::sum);
       }},
      {"margin_ranking_loss", pair_shapes,
       [](In x) { return margin_ranking_loss(x[0], x[1], signs(x[0].shape()), 0.3); }},
  };
}

}  // namespace matgrad::testing
