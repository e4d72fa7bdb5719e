#include "matgrad/nn/metrics.hpp"

#include "matgrad/ops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace matgrad::nn {

std::vector<std::size_t> predict(const Tensor& logits) {
  if (!logits.defined() || logits.dim() != 2) {
    fail<ShapeError>("predict: expects logits of shape [N, C], got {}",
                     logits.defined() ? to_string(logits.shape()) : "an undefined tensor");
  }
  const Tensor index = argmax(logits, 1);
  const auto& v = index.data<std::int64_t>();
  return {v.begin(), v.end()};
}

double accuracy(std::span<const std::size_t> predictions, std::span<const std::size_t> targets) {
  if (predictions.size() != targets.size()) {
    fail<ShapeError>("accuracy: {} predictions for {} targets", predictions.size(), targets.size());
  }
  if (targets.empty()) fail<ValueError>("accuracy: no examples");
  std::size_t correct = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) correct += predictions[i] == targets[i];
  return static_cast<double>(correct) / static_cast<double>(targets.size());
}

double accuracy(const Tensor& logits, std::span<const std::size_t> targets) {
  const std::vector<std::size_t> predictions = predict(logits);
  return accuracy(predictions, targets);
}

ConfusionMatrix::ConfusionMatrix(std::size_t num_classes) : n_(num_classes), counts_(n_ * n_, 0) {
  if (num_classes == 0) fail<ValueError>("ConfusionMatrix: num_classes must be positive");
}

void ConfusionMatrix::update(std::span<const std::size_t> predictions,
                             std::span<const std::size_t> targets) {
  if (predictions.size() != targets.size()) {
    fail<ShapeError>("ConfusionMatrix: {} predictions for {} targets", predictions.size(),
                     targets.size());
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i] >= n_ || predictions[i] >= n_) {
      fail<IndexError>("ConfusionMatrix: example {} has target {} and prediction {}; both must be "
                       "below num_classes = {}",
                       i, targets[i], predictions[i], n_);
    }
  }
  for (std::size_t i = 0; i < targets.size(); ++i) ++counts_[targets[i] * n_ + predictions[i]];
}

void ConfusionMatrix::update(const Tensor& logits, std::span<const std::size_t> targets) {
  const std::vector<std::size_t> predictions = predict(logits);
  update(predictions, targets);
}

std::size_t ConfusionMatrix::operator()(std::size_t target, std::size_t prediction) const {
  if (target >= n_ || prediction >= n_) {
    fail<IndexError>("ConfusionMatrix: ({}, {}) is out of range for {} classes", target, prediction, n_);
  }
  return counts_[target * n_ + prediction];
}

std::size_t ConfusionMatrix::total() const {
  std::size_t total = 0;
  for (std::size_t c : counts_) total += c;
  return total;
}

double ConfusionMatrix::accuracy() const {
  std::size_t correct = 0;
  for (std::size_t c = 0; c < n_; ++c) correct += counts_[c * n_ + c];
  const std::size_t all = total();
  return all ? static_cast<double>(correct) / static_cast<double>(all)
             : std::numeric_limits<double>::quiet_NaN();
}

std::vector<double> ConfusionMatrix::per_class_accuracy() const {
  std::vector<double> out(n_);
  for (std::size_t t = 0; t < n_; ++t) {
    std::size_t row = 0;
    for (std::size_t p = 0; p < n_; ++p) row += counts_[t * n_ + p];
    out[t] = row ? static_cast<double>(counts_[t * n_ + t]) / static_cast<double>(row)
                 : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

std::string ConfusionMatrix::to_string(const std::vector<std::string>& class_names) const {
  auto label = [&](std::size_t c) {
    return c < class_names.size() ? fmt::format("{} {}", c, class_names[c]) : std::to_string(c);
  };
  std::size_t label_width = 4;
  for (std::size_t c = 0; c < n_; ++c) label_width = std::max(label_width, label(c).size());
  std::size_t cell = 3;
  for (std::size_t v : counts_) cell = std::max(cell, std::to_string(v).size());
  std::string out = fmt::format("{:>{}} |", "true", label_width);
  for (std::size_t p = 0; p < n_; ++p) out += fmt::format(" {:>{}}", p, cell);
  out += "   (columns: predicted class)\n";
  out += std::string(label_width + 1, '-') + "+" + std::string(n_ * (cell + 1), '-') + "\n";
  for (std::size_t t = 0; t < n_; ++t) {
    out += fmt::format("{:>{}} |", label(t), label_width);
    for (std::size_t p = 0; p < n_; ++p) out += fmt::format(" {:>{}}", counts_[t * n_ + p], cell);
    out += "\n";
  }
  return out;
}

}  // namespace matgrad::nn
