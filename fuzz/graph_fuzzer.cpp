// Builds a random graph of smooth ops on random shapes from the fuzzer's bytes and checks its
// backward pass against finite differences (gradcheck, float64). A mismatch aborts, so the
// fuzzer keeps the input as a crash; a matgrad::Error from a shape that does not fit is fine.
#include <matgrad/matgrad.hpp>

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace matgrad;

namespace {

Shape random_shape(FuzzedDataProvider& in) {
  Shape shape(in.ConsumeIntegralInRange<std::size_t>(0, 3));
  for (auto& d : shape) d = in.ConsumeIntegralInRange<std::size_t>(1, 4);
  return shape;
}

Tensor random_leaf(FuzzedDataProvider& in) {
  Tensor t = zeros(random_shape(in), {.dtype = DType::float64});
  for (auto& v : t.mutable_data<double>()) v = in.ConsumeFloatingPointInRange<double>(-2.0, 2.0);
  return t.requires_grad_(true);
}

// One step of the graph: a new tensor from one or two existing ones. Every op is smooth on
// bounded inputs, so finite differences are meaningful.
Tensor random_op(FuzzedDataProvider& in, const std::vector<Tensor>& pool) {
  const Tensor& a = pool[in.ConsumeIntegralInRange<std::size_t>(0, pool.size() - 1)];
  const Tensor& b = pool[in.ConsumeIntegralInRange<std::size_t>(0, pool.size() - 1)];
  const auto dim = [&](const Tensor& t) {
    return static_cast<std::ptrdiff_t>(in.ConsumeIntegralInRange<std::size_t>(0, t.dim() - 1));
  };
  switch (in.ConsumeIntegralInRange(0, 17)) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / (square(b) + 1.0);
    case 4: return tanh(a);
    case 5: return sigmoid(a);
    case 6: return exp(tanh(a));
    case 7: return log(square(a) + 0.5);
    case 8: {
      if (a.dim() == 0) return sum(a);
      const std::ptrdiff_t d = dim(a);
      return sum(a, d, in.ConsumeBool());
    }
    case 9: {
      if (a.dim() == 0) return mean(a);
      const std::ptrdiff_t d = dim(a);
      return mean(a, d, in.ConsumeBool());
    }
    case 10: return a.dim() >= 1 && b.dim() >= 1 ? matmul(a, b) : a * b;
    case 11: return a.dim() ? softmax(a, dim(a)) : a;
    case 12: return a.dim() ? log_softmax(a, dim(a)) : a;
    case 13: {
      if (a.dim() == 0) return a;
      const std::ptrdiff_t d = dim(a);
      return logsumexp(a, d, in.ConsumeBool());
    }
    case 14: return a.dim() >= 2 ? transpose(a, 0, -1) : reshape(a, {-1});
    case 15: return a.dim() ? concat({a, a * 2.0}, dim(a)) : stack({a, b * 0.5 + a});
    case 16: {
      if (a.dim() == 0) return a;
      const std::ptrdiff_t d = dim(a);
      const std::size_t n = a.size(d);
      std::vector<std::size_t> index(in.ConsumeIntegralInRange<std::size_t>(0, 4));
      for (auto& i : index) i = in.ConsumeIntegralInRange<std::size_t>(0, n - 1);
      return index_select(a, d, index);
    }
    default: {
      if (a.dim() == 0) return a;
      const std::ptrdiff_t d = dim(a);
      const std::size_t start = in.ConsumeIntegralInRange<std::size_t>(0, a.size(d));
      const std::size_t length = in.ConsumeIntegralInRange<std::size_t>(0, 4);
      return slice(a, d, start, start + length, in.ConsumeIntegralInRange<std::size_t>(1, 2));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  std::vector<Tensor> leaves;
  const std::size_t n_leaves = in.ConsumeIntegralInRange<std::size_t>(1, 3);
  for (std::size_t i = 0; i < n_leaves; ++i) leaves.push_back(random_leaf(in));
  // The ops as bytes, replayed on any leaves gradcheck hands back.
  const std::vector<std::uint8_t> program = in.ConsumeRemainingBytes<std::uint8_t>();
  auto build = [&](const std::vector<Tensor>& x) {
    FuzzedDataProvider ops(program.data(), program.size());
    std::vector<Tensor> pool = x;
    for (int step = 0; step < 6 && ops.remaining_bytes() > 0; ++step) {
      pool.push_back(random_op(ops, pool));
    }
    return pool;
  };
  auto f = [&](const std::vector<Tensor>& x) { return build(x).back(); };
  try {
    // Finite differences say nothing where a value is infinite (logsumexp over an empty dim is
    // −inf, rightly) or so large that rounding swamps the step. That holds for every value of
    // the graph, not only the output: an infinite one times a zero gradient is NaN in a VJP (as
    // in torch), where the output may not depend on it at all (an empty one, say).
    {
      NoGradGuard no_grad;
      for (const Tensor& t : build(leaves)) {
        for (double v : t.data<double>()) {
          if (!(std::abs(v) < 1e8)) return 0;
        }
      }
    }
    const GradcheckResult result = gradcheck(f, leaves);
    if (!result.passed) {
      std::fprintf(stderr, "gradient mismatch\n%s", result.report().c_str());
      std::abort();
    }
  } catch (const matgrad::Error&) {
    // Shapes that do not fit the op are rejected cleanly: nothing to report.
  }
  return 0;
}
