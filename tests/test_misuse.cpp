// Misuse that other engines get wrong: in-place changes to saved tensors, non-finite values,
// .grad() of a non-leaf.
#include "check_error.hpp"

#include "swish_op.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include <unistd.h>

using namespace matgrad;
using namespace matgrad::testing;

// A braced integer meant for an op's dims or count never becomes the op's call site (the
// caller argument after it): tensordot(a, b, {1}, {0}) once contracted the wrong dims that way.
template <class T>
concept takes_braced_zero = requires(void (*f)(const T&)) { f({0}); };
static_assert(!takes_braced_zero<SourceLocation>);
static_assert(takes_braced_zero<std::vector<std::ptrdiff_t>>);  // the test itself can pass

#if defined(__SANITIZE_ADDRESS__)
#define MATGRAD_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MATGRAD_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef MATGRAD_TEST_UNDER_ASAN
#define MATGRAD_TEST_UNDER_ASAN 0
#endif
// ASan's and TSan's operator new abort on failure instead of throwing std::bad_alloc.
#if MATGRAD_TEST_UNDER_ASAN || defined(__SANITIZE_THREAD__)
#define MATGRAD_TEST_NEW_ABORTS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MATGRAD_TEST_NEW_ABORTS 1
#endif
#endif
#ifndef MATGRAD_TEST_NEW_ABORTS
#define MATGRAD_TEST_NEW_ABORTS 0
#endif

static Tensor f64(const NestedList& values, bool requires_grad = false) {
  return tensor(values, {.dtype = DType::float64, .requires_grad = requires_grad});
}

TEST_CASE("an in-place change to a saved input after the forward makes backward fail") {
  Tensor w = f64({{1, 2}, {3, 4}}, true);
  Tensor x = f64({{1, 0}, {0, 1}});
  Tensor loss = sum(matmul(x, w));
  {
    NoGradGuard no_grad;
    x.add_(ones_like(x));  // x is at version 1; gemm saved it at version 0
  }
  const std::string message = error_of<AutogradError>([&] { loss.backward(); });
  CHECK(message.find("input 0 of 'gemm' (shape [2, 2]) was modified in place") != std::string::npos);
  CHECK(message.find("version 0 then and is at version 1 now") != std::string::npos);
  CHECK(message.find("after backward()") != std::string::npos);
}

TEST_CASE("an optimiser step before backward is caught; after backward it is fine") {
  Tensor w = f64({1, 2}, true);
  Tensor loss = sum(w * w);
  {
    NoGradGuard no_grad;
    w.add_(ones_like(w), -0.1);
  }
  check_error<AutogradError>([&] { loss.backward(); }, {"'mul'", "modified in place"});

  Tensor w2 = f64({1, 2}, true);
  Tensor loss2 = sum(w2 * w2);
  loss2.backward();
  {
    NoGradGuard no_grad;
    w2.add_(w2.grad(), -0.1);
  }
  CHECK(w2.version() == 1);
  CHECK(w2.data<double>()(0) == doctest::Approx(0.8));
}

TEST_CASE("a saved output modified in place is caught too") {
  Tensor x = f64({0.5}, true);
  Tensor y = exp(x);  // exp's VJP reads its output
  Tensor z = sum(y);  // sum saves nothing, so exp is the first to notice
  y.mutable_data<double>()(0) = 7;
  check_error<AutogradError>([&] { z.backward(); }, {"the output of 'exp'", "version 0", "version 1"});
}

TEST_CASE("ops that save nothing do not mind later changes to their inputs") {
  Tensor x = f64({1, 2}, true);
  Tensor c = f64({5, 5});
  Tensor y = sum(x + c);
  {
    NoGradGuard no_grad;
    c.add_(ones_like(c));
  }
  y.backward();
  CHECK(x.grad().data<double>()(0) == 1);
}

// where's VJP reads its condition, which is no differentiable input: it was not checked, and
// the backward below returned [1, 1, 1] instead of failing (the forward used [1, 0, 1]).
// Every other tensor a VJP closure reads is a saved input or output of its record.
TEST_CASE("an in-place change to where's condition makes backward fail") {
  Tensor c = f64({1, 0, 1});
  Tensor x = f64({1, 2, 3}, true);
  Tensor loss = sum(where(c, x, zeros_like(x)));
  {
    NoGradGuard no_grad;
    c.fill_(1);
  }
  check_error<AutogradError>([&] { loss.backward(); },
                             {"input 2 of 'where' (shape [3]) was modified in place", "version 0"});
  // Unchanged, the condition decides the gradient.
  Tensor c2 = f64({1, 0, 1});
  sum(where(c2, x, zeros_like(x))).backward();
  CHECK(x.grad().data<double>()(0) == 1);
  CHECK(x.grad().data<double>()(1) == 0);
  CHECK(x.grad().data<double>()(2) == 1);
}

TEST_CASE("anomaly mode names the first op that makes a NaN or Inf, forward and backward") {
  Tensor x = f64({-1.0, 4.0}, true);
  {
    DetectAnomalyGuard anomaly;
    check_error<AutogradError>([&] { log(x); },
                               {"anomaly: 'log' produced a non-finite output", "shape [2]", "1 NaN",
                                "input 0: shape [2], range [-1, 4]"});
    Tensor z = f64({0.0, 4.0}, true);
    Tensor r = sqrt(z);  // finite forward, infinite gradient at 0
    check_error<AutogradError>([&] { sum(r).backward(); },
                               {"anomaly: the VJP of 'sqrt'", "non-finite gradient for input 0",
                                "1 ±Inf"});
  }
  CHECK_FALSE(is_anomaly_enabled());
  CHECK(std::isnan(log(x).data<double>()(0)));  // off again: no error
}

TEST_CASE(".grad() of a non-leaf explains retain_grad") {
  Tensor x = f64({1, 2}, true);
  Tensor h = x * 2.0;
  sum(h).backward();
  check_error<AutogradError>([&] { h.grad(); }, {"not a leaf", "'mul'", "retain_grad()"});
}

TEST_CASE("huge or overflowing shapes raise clear errors") {
  const std::size_t huge = std::size_t{1} << 62;
  check_error<ShapeError>([&] { zeros({huge, 8}); }, {"zeros", "more elements than memory can address"});
  check_error<ShapeError>([&] { broadcast_to(ones({1}), {huge, 16}); }, {"broadcast_to", "memory"});
  check_error<ShapeError>([&] { randn({huge, huge}, *std::make_unique<Generator>(0)); }, {"randn"});
#if !MATGRAD_TEST_NEW_ABORTS
  check_error<ValueError>([&] { zeros({std::size_t{1} << 44}); }, {"zeros", "out of memory"});
#endif
}

// Each size below comes from an integer argument; each is refused by name before anything of
// that size is allocated (the reproducers: diag segfaulted, returned a [2^63+1, 2^63+1]
// tensor with one element, let std::bad_alloc escape; arange returned shape [0]).
TEST_CASE("sizes computed from integer arguments are checked, and the error names the op") {
  const Tensor v = tensor({1.0});
  check_error<ShapeError>([&] { diag(v, (1LL << 32) - 1); }, {"diag", "[4294967296, 4294967296]", "more elements than memory can address"});
  check_error<ShapeError>([&] { diag(v, PTRDIFF_MIN); }, {"diag", "more elements than memory can address"});
  check_error<ShapeError>([&] { diag(v, PTRDIFF_MAX); }, {"diag", "more elements than memory can address"});
  CHECK(diag(v, -2).shape() == Shape{3, 3});
  CHECK(diag(v, -2).data<float>()(2, 0) == 1.0f);
  CHECK(diag(zeros({2, 3}), PTRDIFF_MIN).shape() == Shape{0});  // off the matrix: empty
  check_error<ValueError>([] { arange(0, 1e20); }, {"arange", "1e+20 elements"});
  check_error<ValueError>([] { arange(0, 1, 1e-30); }, {"arange", "1e+30 elements"});
  check_error<ValueError>([] { arange(-1e308, 1e308, 1); }, {"arange", "inf elements"});
  check_error<ShapeError>([] { arange(0, 1e19); }, {"arange", "more elements than memory can address"});
  CHECK(arange(5, 0, -2).shape() == Shape{3});
  const std::size_t big = std::size_t{1} << 40;
  check_error<ShapeError>([&] { eye(big); }, {"eye", "more elements than memory can address"});
  check_error<ShapeError>([&] { ones({big, big}); }, {"ones", "memory"});
  check_error<ShapeError>([&] { full({big, big}, 2.0); }, {"full", "memory"});
  // Products that wrap around 2^64 to the right element count.
  check_error<ShapeError>([] { reshape(ones({4}), {(std::ptrdiff_t{1} << 62) + 1, 4}); }, {"reshape", "more elements than memory can address"});
  check_error<ShapeError>([] { reshape(ones({8}), {(std::ptrdiff_t{1} << 62) + 1, 4, -1}); }, {"reshape", "memory"});
  // No elements, so it exists; [0, big, big] does not (its strides would overflow).
  const Tensor wide = zeros({big, big, 0});
  check_error<ShapeError>([&] { flatten(wide, 0, 1); }, {"flatten", "memory"});
  check_error<ShapeError>([&] { zeros({0, big, big}); }, {"zeros", "memory"});
  check_error<ShapeError>([&] { concat({zeros({std::size_t{1} << 63, 0}), zeros({std::size_t{1} << 63, 0})}); },
                          {"concat", "add up to more than memory can address"});
#if !MATGRAD_TEST_NEW_ABORTS  // as above: under a sanitizer a failed allocation aborts
  check_error<ValueError>([&] { diag(v, 1 << 20); }, {"diag: out of memory allocating shape [1048577, 1048577]"});
  check_error<ValueError>([&] { eye(std::size_t{1} << 21); }, {"eye: out of memory"});
  check_error<ValueError>([&] { index_select(ones({1, std::size_t{1} << 22}), 0, std::vector<std::size_t>(std::size_t{1} << 20, 0)); },
                          {"index_select: out of memory"});
#endif
}

TEST_CASE("norm at zero has gradient 0, as in PyTorch; elsewhere A / ‖A‖") {
  Tensor zero = f64({0.0, 0.0}, true);
  norm(zero).backward();
  CHECK(zero.grad().data<double>()(0) == 0);
  CHECK(zero.grad().data<double>()(1) == 0);
  Tensor rows = f64({{3, 4}, {0, 0}}, true);
  sum(norm(rows, 2, 1)).backward();
  CHECK(rows.grad().data<double>()(0, 0) == doctest::Approx(0.6));
  CHECK(rows.grad().data<double>()(0, 1) == doctest::Approx(0.8));
  CHECK(rows.grad().data<double>()(1, 0) == 0);
  CHECK(norm(rows).item() == doctest::Approx(5.0));
}

TEST_CASE("max over a dim sends the gradient to the first of tied maxima") {
  Tensor x = f64({{2, 5, 5}, {7, 7, 1}}, true);
  sum(max(x, 1).values).backward();
  CHECK(x.grad().data<double>() == xt::xarray<double>{{0, 1, 0}, {1, 0, 0}});
}

TEST_CASE("errors raised in backward point at the user's line that recorded the op") {
  Tensor w = f64({{1, 2}, {3, 4}}, true);
  Tensor x = f64({{1, 0}, {0, 1}});
  const std::string here = fmt::format("test_misuse.cpp:{}", __LINE__ + 1);
  Tensor loss = sum(matmul(x, w));  // matmul → gemm, recorded here
  const std::string operator_line = fmt::format("test_misuse.cpp:{}", __LINE__ + 1);
  Tensor product = w * x;  // an operator records its line too
  Tensor loss2 = sum(product);
  {
    NoGradGuard no_grad;
    x.add_(ones_like(x));
  }
  CHECK(error_of<AutogradError>([&] { loss.backward(); }).find(here) != std::string::npos);
  CHECK(error_of<AutogradError>([&] { loss2.backward(); }).find(operator_line) != std::string::npos);
  DetectAnomalyGuard anomaly;
  const std::string log_line = fmt::format("test_misuse.cpp:{}", __LINE__ + 1);
  CHECK(error_of<AutogradError>([&] { log(-w); }).find(log_line) != std::string::npos);
}

// The line `offset` lines below the caller's, as errors print it.
static std::string line_below(int offset, const SourceLocation& here = SourceLocation::current()) {
  return fmt::format("test_misuse.cpp:{}", here.line + static_cast<unsigned>(offset));
}

TEST_CASE("ops composed of others record every part at the user's line") {
  DetectAnomalyGuard anomaly;
  Tensor x = f64({1, INFINITY}, true);
  const std::string mean_line = line_below(1);
  std::string message = error_of<AutogradError>([&] { mean(x); });  // mean = div(sum(x), n)
  CHECK(message.find("'sum'") != std::string::npos);
  CHECK(message.find(mean_line) != std::string::npos);
  const std::string matmul_line = line_below(1);
  message = error_of<AutogradError>([&] { matmul(x, f64({1, 2})); });  // reshape, gemm, reshape
  CHECK(message.find("'reshape'") != std::string::npos);
  CHECK(message.find(matmul_line) != std::string::npos);
  const std::string loss_line = line_below(1);
  message = error_of<AutogradError>([&] { mse_loss(x, f64({0, 0})); });
  CHECK(message.find("'sub'") != std::string::npos);
  CHECK(message.find(loss_line) != std::string::npos);
}

TEST_CASE("records made by a VJP in a create_graph pass point at the line of the op it differentiates") {
  Tensor w = f64({0.5, -1.0}, true);
  const std::string exp_line = line_below(1);
  Tensor e = exp(w);
  const Tensor g = grad({sum(e)}, {w}, {}, false, /*create_graph=*/true)[0];  // g = 1 ⊙ e: a mul
  {
    NoGradGuard no_grad;
    e.add_(ones_like(e));  // the mul saved e
  }
  const std::string message = error_of<AutogradError>([&] { g.backward(ones_like(g)); });
  INFO(message);
  CHECK(message.find("'mul'") != std::string::npos);
  CHECK(message.find(exp_line) != std::string::npos);
}

TEST_CASE("a custom op applied with apply<Op> is recorded at the line of the apply") {
  Tensor x = f64({0.5, -1.0}, true);
  const std::string apply_line = line_below(1);
  Tensor y = apply<Swish>(x);
  {
    NoGradGuard no_grad;
    x.add_(ones_like(x));
  }
  const std::string message = error_of<AutogradError>([&] { sum(y).backward(); });
  INFO(message);
  CHECK(message.find("'swish'") != std::string::npos);
  CHECK(message.find(apply_line) != std::string::npos);
}

// Resident set size now, from /proc/self/statm (pages).
static std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t total = 0, resident = 0;
  statm >> total >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

TEST_CASE("a 100,000-step training loop keeps memory and the tape flat") {
  Generator gen(3);
  Tensor w1 = randn({8, 16}, gen, {.requires_grad = true});
  Tensor w2 = randn({16, 1}, gen, {.requires_grad = true});
  Tensor x = randn({32, 8}, gen);
  Tensor y = randn({32, 1}, gen);
  auto step = [&] {
    Tensor loss = mse_loss(matmul(tanh(matmul(x, w1)), w2), y);
    loss.backward();
    NoGradGuard no_grad;
    for (Tensor* w : {&w1, &w2}) {
      w->add_(w->grad(), -1e-3);
      w->zero_grad();
    }
  };
  for (int i = 0; i < 2'000; ++i) step();  // warm up the allocator and the tape
  const std::size_t before = resident_bytes();
  std::size_t largest_tape = 0;
  for (int i = 0; i < 100'000; ++i) {
    step();
    largest_tape = std::max(largest_tape, tape_size());
  }
  const std::size_t after = resident_bytes();
  INFO("RSS before ", before / 1024, " KiB, after ", after / 1024, " KiB");
#if !MATGRAD_TEST_UNDER_ASAN  // ASan's quarantine holds freed memory (LeakSanitizer checks there)
  CHECK(after <= before + (4u << 20));  // a leak of even 40 bytes a step would show
#endif
  CHECK(largest_tape <= 2048);
}
