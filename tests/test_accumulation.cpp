// float32 reductions accumulate in double. A float running sum stops growing at 2^24 times its
// addends (Σ of 2^25 ones came out 2^24) and loses digits long before; each case below was off
// by more than 1e-6 when the sums ran in float. Inputs are float32 throughout; the expected
// values are computed in double from the same float inputs.
#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace matgrad;

namespace {

constexpr double kTolerance = 1e-6;  // relative

void check_close(const Tensor& got, double want) {
  INFO("got ", to_string(got), ", want ", want);
  REQUIRE(got.dtype() == DType::float32);
  const auto& x = got.data<float>();
  for (const float v : x) CHECK(static_cast<double>(v) == doctest::Approx(want).epsilon(kTolerance));
}

}  // namespace

// The reproducer, at its size: 2^25 float32 ones (128 MiB), allocated once. (mse_loss,
// 0.667 on a [128, 3, 256, 256] batch of unit errors, is mean(square(·)): checked below.)
TEST_CASE("sum, mean and norm of 2^25 float32 ones") {
  const double n = 1 << 25;
  const Tensor x = ones({1 << 25});
  check_close(sum(x), n);  // was 2^24
  check_close(sum(x, 0), n);
  check_close(mean(x), 1.0);  // was 0.5
  check_close(mean(x, 0), 1.0);
  check_close(norm(x), std::sqrt(n));  // was 4096
  check_close(norm(x, 2, 0), std::sqrt(n));
}

// Columns of 0.1f: the vectorised column sums (sum over a leading dim, sum_to_size, the bias
// gradient of linear and of a broadcast add) keep their digits too.
TEST_CASE("column sums of 2^20 rows: sum over dim 0, sum_to_size, bias gradients") {
  const std::size_t rows = 1 << 20;
  const float tenth = 0.1f;
  const double want = static_cast<double>(rows) * static_cast<double>(tenth);
  const Tensor x = full({rows, 8}, tenth);
  check_close(sum(x, 0), want);
  check_close(sum_to_size(x, {8}), want);
  check_close(sum_to_size(x, {1, 8}), want);
  check_close(mean(x, 0), static_cast<double>(tenth));
  const float squared = tenth * tenth;
  check_close(mse_loss(x, zeros_like(x)), static_cast<double>(squared));

  Tensor bias = zeros({8}, {.requires_grad = true});
  Tensor weight = zeros({8, 1}, {.requires_grad = true});
  linear(ones({rows, 1}), weight, bias).backward(x);
  check_close(bias.grad(), want);
  bias.zero_grad();
  (ones({rows, 8}) + bias).backward(x);  // the engine sums the broadcast gradient
  check_close(bias.grad(), want);
}

// One logit 0 and 2^20 − 1 logits log(0.1): Σ exp is 1 + (2^20 − 1) exp(log 0.1f).
TEST_CASE("softmax, logsumexp and cross_entropy denominators over 2^20 classes") {
  const std::size_t classes = 1 << 20;
  Tensor logits = full({1, classes}, std::log(0.1));
  logits.mutable_data<float>()(0, 0) = 0;
  const float small = logits.data<float>()(0, 1);
  const double z = 1.0 + static_cast<double>(classes - 1) * std::exp(static_cast<double>(small));
  check_close(logsumexp(logits, 1), std::log(z));
  check_close(slice(softmax(logits, 1), 1, 0, 1), 1.0 / z);
  check_close(slice(log_softmax(logits, 1), 1, 0, 1), -std::log(z));
  const std::vector<std::size_t> target{0};
  check_close(cross_entropy(logits, target), std::log(z));
}

TEST_CASE("norm squares in double: float32 entries of 1e20 do not overflow") {
  check_close(norm(full({4}, 1e20)), 2e20);  // was inf: (1e20)² overflows float
  check_close(norm(full({2, 4}, 1e20), 2, 1), 2e20);
}

TEST_CASE("trace accumulates in double") {
  const std::size_t n = 3000;
  const Tensor a = eye(n) * 0.1;
  check_close(trace(a), static_cast<double>(n) * static_cast<double>(0.1f));
}

// Over two dims apart (the general kernel, not the column sums): 2^20 float32 tenths per result.
TEST_CASE("sum, mean, norm and logsumexp over several dims accumulate in double") {
  const float tenth = 0.1f;
  const Tensor x = full({1024, 3, 1024}, tenth);
  check_close(sum(x, {0, 2}), 1048576.0 * static_cast<double>(tenth));
  check_close(mean(x, {-1, 0}), static_cast<double>(tenth));
  check_close(linalg_vector_norm(x, 2, {0, 2}), std::sqrt(1048576.0) * static_cast<double>(tenth));
  const Tensor logits = full({1, 1 << 20}, std::log(0.1));
  const double small = static_cast<double>(logits.data<float>()(0, 0));
  check_close(logsumexp(logits, {0, 1}), std::log(1048576.0 * std::exp(small)));
}
