// The losses of issue 14 against hand-computed values: torch's weighted mean, ignore_index and
// label smoothing of cross_entropy and nll_loss, BCE's clamp at −100 and its finite gradient at
// p = 0 and 1, kl_div's batchmean, the cosine losses' eps, values and gradients at the kinks,
// and the errors. (PyTorch's own samples are checked in test_torch_samples.)
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

const TensorOptions f64{.dtype = DType::float64};

Tensor labels(std::initializer_list<std::int64_t> v) {
  Tensor t = zeros({v.size()}, {.dtype = DType::int64});
  std::copy(v.begin(), v.end(), t.mutable_data<std::int64_t>().data());
  return t;
}

double at(const Tensor& t, std::size_t i) { return t.detach().to(DType::float64).data<double>().data()[i]; }

// log softmax of one row.
std::vector<double> log_softmax_row(const std::vector<double>& x) {
  double z = 0;
  for (double v : x) z += std::exp(v);
  std::vector<double> out;
  for (double v : x) out.push_back(v - std::log(z));
  return out;
}

}  // namespace

TEST_CASE("cross_entropy: weights, ignore_index and label smoothing as torch's weighted mean") {
  const std::vector<std::vector<double>> rows{{1.0, 2.0, 0.5}, {-1.0, 0.0, 3.0}, {0.2, 0.1, -0.3}};
  const Tensor x = tensor({{1.0, 2.0, 0.5}, {-1.0, 0.0, 3.0}, {0.2, 0.1, -0.3}}, f64);
  const Tensor w = tensor({0.5, 2.0, 1.5}, f64);
  const Tensor t = labels({1, -100, 2});
  const auto l0 = log_softmax_row(rows[0]), l2 = log_softmax_row(rows[2]);
  // Σ w[tᵢ] ℓᵢ / Σ w[tᵢ] over the targets not ignored: rows 0 and 2.
  const double nll = (2.0 * -l0[1] + 1.5 * -l2[2]) / (2.0 + 1.5);
  CHECK(cross_entropy(x, t, {.weight = w}).item() == doctest::Approx(nll).epsilon(1e-14));
  // none: the ignored position is 0.
  const Tensor none = cross_entropy(x, t, {.weight = w, .reduction = Reduction::none});
  CHECK(none.shape() == Shape{3});
  CHECK(at(none, 1) == 0.0);
  CHECK(at(none, 0) == doctest::Approx(2.0 * -l0[1]).epsilon(1e-14));
  // Label smoothing ε: (1 − ε) nll + ε / C Σ_c w_c (−log p_c), the same denominator.
  const double eps = 0.2;
  auto smooth = [&](const std::vector<double>& l) { return -(0.5 * l[0] + 2.0 * l[1] + 1.5 * l[2]); };
  const double smoothed = (1 - eps) * nll + eps / 3 * (smooth(l0) + smooth(l2)) / 3.5;
  CHECK(cross_entropy(x, t, {.weight = w, .label_smoothing = eps}).item() == doctest::Approx(smoothed).epsilon(1e-14));
  // Every target ignored: NaN, and a gradient of zeros (not NaN).
  Tensor xg = x.clone().requires_grad_(true);
  const Tensor all_ignored = cross_entropy(xg, labels({-100, -100, -100}), CrossEntropyOptions{});
  CHECK(std::isnan(all_ignored.item()));
  all_ignored.backward();
  for (double g : xg.grad().data<double>()) CHECK(g == 0.0);
  // The Reduction overload ignores torch's default −100 too.
  CHECK(cross_entropy(x, t).item() == doctest::Approx((-l0[1] - l2[2]) / 2).epsilon(1e-14));
}

TEST_CASE("cross_entropy: [N, C, d] inputs and probability targets") {
  Generator gen(3);
  const Tensor x = randn({2, 3, 4}, gen, f64);
  const Tensor t = zeros({2, 4}, {.dtype = DType::int64});
  // Moving the classes last gives the [N·d, C] problem.
  const Tensor flat = reshape(permute(x, {0, 2, 1}), {8, 3});
  CHECK(cross_entropy(x, t, CrossEntropyOptions{}).item() ==
        doctest::Approx(cross_entropy(flat, reshape(t, {8})).item()).epsilon(1e-14));
  // One-hot probabilities agree with the class indices; the mean divides by N·d.
  const Tensor onehot = one_hot(reshape(t, {8}), 3).to(DType::float64);
  const Tensor probs = permute(reshape(onehot, {2, 4, 3}), {0, 2, 1});
  CHECK(cross_entropy(x, probs, CrossEntropyOptions{}).item() ==
        doctest::Approx(cross_entropy(x, t, CrossEntropyOptions{}).item()).epsilon(1e-14));
  // ...and with label smoothing: class indices and their one-hot rows smooth alike.
  CHECK(cross_entropy(x, probs, {.label_smoothing = 0.3}).item() ==
        doctest::Approx(cross_entropy(x, t, {.label_smoothing = 0.3}).item()).epsilon(1e-14));
}

TEST_CASE("nll_loss picks −w[t] input[t]") {
  const Tensor logp = tensor({{-0.5, -1.0, -2.0}, {-3.0, -0.1, -0.7}}, f64);
  const Tensor w = tensor({1.0, 2.0, 4.0}, f64);
  CHECK(nll_loss(logp, labels({2, 0}), {.weight = w}).item() == doctest::Approx((4 * 2.0 + 1 * 3.0) / 5).epsilon(1e-15));
  CHECK(nll_loss(logp, labels({2, 0}), {.reduction = Reduction::sum}).item() == doctest::Approx(5.0).epsilon(1e-15));
  CHECK(nll_loss(logp, labels({2, 1}), {.ignore_index = 1}).item() == doctest::Approx(2.0).epsilon(1e-15));
  // A 0-d target for a [C] input.
  Tensor one = zeros({}, {.dtype = DType::int64});
  CHECK(nll_loss(tensor({-0.25, -3.0}, f64), one).item() == 0.25);
}

TEST_CASE("binary_cross_entropy clamps the log at −100 and has torch's finite gradient at 0 and 1") {
  Tensor p = tensor({0.0, 1.0, 0.0, 0.25}, f64).requires_grad_(true);
  const Tensor y = tensor({0.0, 1.0, 1.0, 0.5}, f64);
  const Tensor losses = binary_cross_entropy(p, y, {.reduction = Reduction::none});
  CHECK(at(losses, 0) == 0.0);
  CHECK(at(losses, 1) == 0.0);
  CHECK(at(losses, 2) == 100.0);
  CHECK(at(losses, 3) == doctest::Approx(-(0.5 * std::log(0.25) + 0.5 * std::log(0.75))).epsilon(1e-15));
  sum(losses).backward();
  const auto& g = p.grad().data<double>();
  CHECK(g(0) == 0.0);  // (p − y) / max(p (1 − p), 1e-12)
  CHECK(g(1) == 0.0);
  CHECK(g(2) == doctest::Approx(-1e12).epsilon(1e-12));
  CHECK(g(3) == doctest::Approx((0.25 - 0.5) / (0.25 * 0.75)).epsilon(1e-14));
  // weight broadcasts.
  CHECK(binary_cross_entropy(tensor({0.25, 0.5}, f64), tensor({1.0, 0.0}, f64),
                             {.weight = tensor(2.0, f64), .reduction = Reduction::sum})
            .item() == doctest::Approx(-2 * (std::log(0.25) + std::log(0.5))).epsilon(1e-15));
  check_error<Error>([] { binary_cross_entropy(tensor({1.5}, f64), tensor({1.0}, f64)); },
                     {"binary_cross_entropy", "1.5", "[0, 1]"});
}

TEST_CASE("binary_cross_entropy_with_logits with weight and pos_weight") {
  const Tensor x = tensor({{0.3, -1.2}, {2.0, 0.0}}, f64);
  const Tensor y = tensor({{1.0, 0.0}, {0.25, 1.0}}, f64);
  const Tensor pw = tensor({3.0, 0.5}, f64);  // per class (the last dim)
  const Tensor w = tensor({{2.0}, {1.0}}, f64);
  auto log_sigmoid = [](double v) { return -std::log1p(std::exp(-v)); };
  const double xs[2][2] = {{0.3, -1.2}, {2.0, 0.0}}, ys[2][2] = {{1.0, 0.0}, {0.25, 1.0}};
  const double pws[2] = {3.0, 0.5}, ws[2] = {2.0, 1.0};
  double want = 0;
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      want += -ws[i] * (pws[j] * ys[i][j] * log_sigmoid(xs[i][j]) + (1 - ys[i][j]) * log_sigmoid(-xs[i][j]));
    }
  }
  CHECK(binary_cross_entropy_with_logits(x, y, {.weight = w, .pos_weight = pw, .reduction = Reduction::sum}).item() ==
        doctest::Approx(want).epsilon(1e-14));
  // Large logits stay finite.
  CHECK(std::isfinite(binary_cross_entropy_with_logits(tensor({800.0, -800.0}, f64), tensor({0.0, 1.0}, f64),
                                                       {.pos_weight = tensor({2.0}, f64)})
                          .item()));
}

TEST_CASE("regression losses: values and gradients at the kinks as torch's") {
  Tensor x = tensor({0.0, 0.5, 2.0, -3.0}, f64).requires_grad_(true);
  const Tensor y = zeros({4}, f64);
  // smooth_l1 with beta 0.5: at |d| = beta the quadratic ends (slope ±1 on both sides).
  const Tensor s = smooth_l1_loss(x, y, Reduction::none, 0.5);
  CHECK(at(s, 1) == 0.25);
  CHECK(at(s, 2) == 1.75);
  sum(s).backward();
  CHECK(x.grad().data<double>()(0) == 0.0);
  CHECK(x.grad().data<double>()(1) == 1.0);
  CHECK(x.grad().data<double>()(3) == -1.0);
  x.zero_grad();
  const Tensor h = huber_loss(x, y, Reduction::none, 2.0);
  CHECK(at(h, 2) == 2.0);  // |d| = δ: δ (|d| − δ/2) = ½ d² = 2
  CHECK(at(h, 3) == 4.0);  // 2 (3 − 1)
  sum(h).backward();
  CHECK(x.grad().data<double>()(2) == 2.0);
  CHECK(x.grad().data<double>()(3) == -2.0);
  x.zero_grad();
  const Tensor l1 = l1_loss(x, y, Reduction::sum);
  CHECK(l1.item() == 5.5);
  l1.backward();
  CHECK(x.grad().data<double>()(0) == 0.0);  // sign(0) = 0
  check_error<Error>([&] { l1_loss(x, tensor({1.0}, f64)); }, {"l1_loss", "[4]", "[1]"});
  check_error<Error>([&] { mse_loss(x, y, Reduction::batchmean); }, {"mse_loss", "batchmean"});
}

TEST_CASE("kl_div: pointwise y (log y − x), 0 where y = 0, and batchmean") {
  const Tensor logq = tensor({{std::log(0.5), std::log(0.5)}, {std::log(0.25), std::log(0.75)}}, f64);
  const Tensor p = tensor({{1.0, 0.0}, {0.5, 0.5}}, f64);
  const double row0 = 1.0 * (0 - std::log(0.5));
  const double row1 = 0.5 * (std::log(0.5) - std::log(0.25)) + 0.5 * (std::log(0.5) - std::log(0.75));
  CHECK(kl_div(logq, p, Reduction::batchmean).item() == doctest::Approx((row0 + row1) / 2).epsilon(1e-14));
  CHECK(kl_div(logq, p).item() == doctest::Approx((row0 + row1) / 4).epsilon(1e-14));
  CHECK(at(kl_div(logq, p, Reduction::none), 1) == 0.0);
  const Tensor logp = tensor({{0.0, -1000.0}, {std::log(0.5), std::log(0.5)}}, f64);
  CHECK(kl_div(logq, logp, Reduction::sum, true).item() == doctest::Approx(row0 + row1).epsilon(1e-14));
}

TEST_CASE("cosine_similarity, cosine_embedding_loss and margin_ranking_loss") {
  const Tensor a = tensor({{3.0, 4.0}, {0.0, 0.0}}, f64);
  const Tensor b = tensor({{4.0, 3.0}, {1.0, 0.0}}, f64);
  const Tensor c = cosine_similarity(a, b);
  CHECK(at(c, 0) == doctest::Approx(24.0 / 25).epsilon(1e-15));
  CHECK(at(c, 1) == 0.0);  // a zero vector: its norm clamped at eps, not NaN
  // Broadcasting, along dim -1.
  CHECK(cosine_similarity(a, tensor({4.0, 3.0}, f64), -1).shape() == Shape{2});
  // eps as torch: each squared norm clamped at eps².
  CHECK(cosine_similarity(tensor({0.3}, f64), tensor({0.2}, f64), 0, 0.5).item() ==
        doctest::Approx(0.06 / 0.25).epsilon(1e-14));
  // 0-d inputs (a dim of size 1): ±1, with gradient 0.
  Tensor s0 = tensor(-2.0, f64).requires_grad_(true);
  const Tensor c0 = cosine_similarity(s0, tensor(3.0, f64), 0);
  CHECK(c0.item() == doctest::Approx(-1.0).epsilon(1e-15));
  c0.backward();
  CHECK(std::abs(s0.grad().item()) < 1e-15);
  const Tensor y = tensor({1.0, -1.0}, f64);
  const Tensor e = cosine_embedding_loss(a, b, y, 0.0, Reduction::none);
  CHECK(at(e, 0) == doctest::Approx(1 - 24.0 / 25).epsilon(1e-12));
  CHECK(at(e, 1) == 0.0);
  // margin_ranking_loss at its kink: the gradient passes (torch's clamp_min).
  Tensor x1 = tensor({1.0, 2.0}, f64).requires_grad_(true);
  const Tensor x2 = tensor({0.5, 0.0}, f64);
  const Tensor r = margin_ranking_loss(x1, x2, tensor({1.0, -1.0}, f64), 0.5, Reduction::sum);
  CHECK(r.item() == 2.5);  // max(0, −0.5 + 0.5) + max(0, 2 + 0.5)
  r.backward();
  CHECK(x1.grad().data<double>()(0) == -1.0);
  CHECK(x1.grad().data<double>()(1) == 1.0);
  check_error<Error>([&] { cosine_embedding_loss(a, b, tensor({1.0}, f64)); },
                     {"cosine_embedding_loss", "[2, 2]", "[1]"});
}

TEST_CASE("loss option errors name the op and the values at fault") {
  const Tensor x = tensor({{1.0, 2.0, 0.5}, {-1.0, 0.0, 3.0}}, f64);
  check_error<Error>([&] { cross_entropy(x, labels({1, 3}), CrossEntropyOptions{}); },
                     {"cross_entropy", "target 3", "3 classes"});
  check_error<Error>([&] { cross_entropy(x, labels({1}), CrossEntropyOptions{}); }, {"cross_entropy", "[1]", "[2, 3]"});
  check_error<Error>([&] { cross_entropy(x, labels({1, 0}), {.weight = tensor({1.0, 2.0}, f64)}); },
                     {"cross_entropy", "weight", "[2]"});
  check_error<Error>([&] { cross_entropy(x, labels({1, 0}), {.label_smoothing = 1.5}); },
                     {"cross_entropy", "label_smoothing", "1.5"});
  check_error<Error>([&] { cross_entropy(x, zeros({2, 3}, f64), {.ignore_index = 0}); }, {"cross_entropy", "ignore_index"});
  check_error<Error>([&] { nll_loss(x, labels({-1, 0})); }, {"nll_loss", "target -1"});
  check_error<Error>([&] { nll_loss(x, x); }, {"nll_loss", "int64"});
}
