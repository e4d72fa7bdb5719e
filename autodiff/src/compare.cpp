// Element-by-element comparison of tensors, shared by gradcheck and compare_gradients.
#include "matgrad/compare.hpp"

#include "matgrad/autograd.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace matgrad {

namespace {

Shape unravel(std::size_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  return index;
}

Tensor as_float64(const Tensor& t) {
  if (t.dtype() == DType::float64) return t;
  NoGradGuard no_grad;
  return t.to(DType::float64);
}

// Columns are counted in code points, so names such as "∂tr(AXB)/∂X" line up.
std::size_t display_width(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(std::string_view s, std::size_t width) {
  std::string out(s);
  out.append(width - std::min(width, display_width(s)), ' ');
  return out;
}

}  // namespace

TensorComparison compare_tensors(const Tensor& actual, const Tensor& expected, double atol,
                                 double rtol) {
  if (!actual.defined() || !expected.defined()) {
    fail<ValueError>("compare_tensors: an input is an undefined tensor");
  }
  if (actual.shape() != expected.shape()) {
    fail<ShapeError>("compare_tensors: shapes differ: {} (actual) and {} (expected)",
                     to_string(actual.shape()), to_string(expected.shape()));
  }
  const Tensor a = as_float64(actual);
  const Tensor e = as_float64(expected);
  const auto& av = a.data<double>();
  const auto& ev = e.data<double>();
  TensorComparison c;
  // The worst element uses the largest share of its allowance (ties: the larger error).
  double worst_share = -1, worst_err = -1;
  for (std::size_t k = 0; k < ev.size(); ++k) {
    const double err = std::abs(av.data()[k] - ev.data()[k]);
    const double allowed = atol + rtol * std::abs(ev.data()[k]);
    const double rel = err == 0 ? 0 : err / std::max(std::abs(ev.data()[k]), atol);
    c.max_abs_error = std::max(c.max_abs_error, std::isnan(err) ? INFINITY : err);
    c.max_rel_error = std::max(c.max_rel_error, std::isnan(rel) ? INFINITY : rel);
    const double share = err == 0 ? 0 : std::isnan(err) ? INFINITY : err / allowed;
    if (share > worst_share || (share == worst_share && err > worst_err)) {
      worst_share = share;
      worst_err = err;
      c.worst_index = unravel(k, ev.shape());
      c.actual = av.data()[k];
      c.expected = ev.data()[k];
    }
    if (!(err <= allowed)) c.passed = false;  // NaN fails
  }
  return c;
}

const GradientComparisonRow& GradientComparison::row(std::string_view name) const {
  for (const GradientComparisonRow& r : rows) {
    if (r.name == name) return r;
  }
  fail<IndexError>("GradientComparison::row: no tensor named '{}'", name);
}

static GradientComparisonRow compare_one(const std::string& name, const Tensor& hand,
                                         const Tensor& autodiff,
                                         const GradientComparisonOptions& options) {
  if (!hand.defined() || !autodiff.defined()) {
    fail<ValueError>("compare_gradients: '{}': the {} gradient is undefined{}", name,
                     hand.defined() ? "autodiff" : "hand-derived",
                     hand.defined() ? " (did backward reach this tensor?)" : "");
  }
  if (hand.shape() != autodiff.shape()) {
    fail<ShapeError>("compare_gradients: '{}': the hand-derived gradient has shape {} but the "
                     "autodiff gradient has shape {}",
                     name, to_string(hand.shape()), to_string(autodiff.shape()));
  }
  const TensorComparison c = compare_tensors(hand, autodiff, options.atol, options.rtol);
  return {name,    hand.shape(),  c.passed,   c.max_abs_error, c.max_rel_error,
          c.worst_index, c.actual, c.expected};
}

static GradientComparison finish(GradientComparison result) {
  for (const GradientComparisonRow& r : result.rows) result.passed = result.passed && r.passed;
  return result;
}

GradientComparison compare_gradients(const std::vector<Tensor>& hand,
                                     const std::vector<Tensor>& autodiff,
                                     const GradientComparisonOptions& options) {
  if (hand.size() != autodiff.size()) {
    fail<ValueError>("compare_gradients: {} hand-derived gradients but {} autodiff gradients",
                     hand.size(), autodiff.size());
  }
  GradientComparison result;
  result.options = options;
  for (std::size_t k = 0; k < hand.size(); ++k) {
    result.rows.push_back(compare_one(std::to_string(k), hand[k], autodiff[k], options));
  }
  return finish(std::move(result));
}

GradientComparison compare_gradients(const NamedTensors& hand, const NamedTensors& autodiff,
                                     const GradientComparisonOptions& options) {
  auto names_of = [](const NamedTensors& list, std::string_view which) {
    std::set<std::string> names;
    for (const auto& [name, tensor] : list) {
      if (!names.insert(name).second) {
        fail<ValueError>("compare_gradients: the name '{}' appears twice among the {} gradients",
                         name, which);
      }
    }
    return names;
  };
  const std::set<std::string> hand_names = names_of(hand, "hand-derived");
  const std::set<std::string> autodiff_names = names_of(autodiff, "autodiff");
  for (const auto& [name, tensor] : hand) {
    if (!autodiff_names.count(name)) {
      fail<ValueError>("compare_gradients: '{}' has a hand-derived gradient but no autodiff one",
                       name);
    }
  }
  for (const auto& [name, tensor] : autodiff) {
    if (!hand_names.count(name)) {
      fail<ValueError>("compare_gradients: '{}' has an autodiff gradient but no hand-derived one",
                       name);
    }
  }
  GradientComparison result;
  result.options = options;
  for (const auto& [name, h] : hand) {
    const std::string& key = name;  // clang 14 cannot capture a structured binding
    const auto it = std::find_if(autodiff.begin(), autodiff.end(),
                                 [&](const auto& entry) { return entry.first == key; });
    result.rows.push_back(compare_one(name, h, it->second, options));
  }
  return finish(std::move(result));
}

std::string GradientComparison::report() const {
  const std::vector<std::string> titles = {options.name_label, "shape", "max abs err", "max rel err",
                                           "worst at", options.hand_label, options.autodiff_label};
  std::vector<std::vector<std::string>> cells;
  for (const GradientComparisonRow& r : rows) {
    cells.push_back({r.name, to_string(r.shape), fmt::format("{:.3e}", r.max_abs_error),
                     fmt::format("{:.3e}", r.max_rel_error), to_string(r.worst_index),
                     fmt::format("{:.10g}", r.hand), fmt::format("{:.10g}", r.autodiff),
                     r.passed ? "ok" : "FAIL"});
  }
  std::vector<std::size_t> width(titles.size());
  for (std::size_t j = 0; j < titles.size(); ++j) {
    width[j] = display_width(titles[j]);
    for (const auto& line : cells) width[j] = std::max(width[j], display_width(line[j]));
  }
  // Text columns left-aligned, numbers right-aligned.
  auto cell = [&](std::size_t j, const std::string& text) {
    const bool number = j >= 2 && j != 4;
    return number ? std::string(width[j] - std::min(width[j], display_width(text)), ' ') + text
                  : pad(text, width[j]);
  };
  std::string out = fmt::format("{} vs {}: {} (atol {:.1e}, rtol {:.1e})\n", options.hand_label,
                                options.autodiff_label, passed ? "passed" : "FAILED",
                                options.atol, options.rtol);
  std::string header;
  for (std::size_t j = 0; j < titles.size(); ++j) header += cell(j, titles[j]) + "  ";
  out += header.substr(0, header.find_last_not_of(' ') + 1) + "\n";
  for (const auto& line : cells) {
    for (std::size_t j = 0; j < titles.size(); ++j) out += cell(j, line[j]) + "  ";
    out += line.back() + "\n";
  }
  return out;
}

}  // namespace matgrad
