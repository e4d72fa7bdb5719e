// Classification metrics: accuracy and a confusion matrix.
#pragma once

#include "matgrad/tensor.hpp"

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace matgrad::nn {

// Index of the largest logit in each row of [N, C] logits (the first one on ties).
std::vector<std::size_t> predict(const Tensor& logits);

// Fraction of rows whose largest logit is at the target class.
double accuracy(const Tensor& logits, std::span<const std::size_t> targets);
double accuracy(std::span<const std::size_t> predictions, std::span<const std::size_t> targets);

// counts(t, p): examples of true class t predicted as p.
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(std::size_t num_classes);
  void update(std::span<const std::size_t> predictions, std::span<const std::size_t> targets);
  void update(const Tensor& logits, std::span<const std::size_t> targets);

  std::size_t num_classes() const { return n_; }
  std::size_t operator()(std::size_t target, std::size_t prediction) const;
  std::size_t total() const;
  double accuracy() const;
  // Recall of each class: correct / examples of that class (NaN for a class never seen).
  std::vector<double> per_class_accuracy() const;
  // An aligned table, rows = true class, columns = predicted class.
  std::string to_string(const std::vector<std::string>& class_names = {}) const;

 private:
  std::size_t n_;
  std::vector<std::size_t> counts_;
};

}  // namespace matgrad::nn
