// Threads: the contract the README states, as tests (they run under ThreadSanitizer in CI,
// build-tsan, which turns a data race into a failure even when the numbers come out right).
//  - Each thread records on its own tape; leaves may be shared.
//  - backward() on several threads at once accumulates into a shared leaf's .grad exactly.
//  - A non-leaf belongs to the thread that computed it: another thread gets an AutogradError
//    while that thread lives, and a constant (value kept, history gone) once it has ended;
//    using it while the thread exits gives one or the other, never a data race.
#include "check_error.hpp"

#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace matgrad;
using namespace matgrad::testing;

TEST_CASE("concurrent backward() into one shared leaf loses no contribution") {
  // Issue 11: 8 threads × 2000 backward passes lost 4–125 of the 16,000 contributions.
  constexpr int kThreads = 8, kSteps = 2000;
  // Large enough that two threads' updates of w.grad() often overlap when they are not
  // serialised (the sums stay exact integers in float64 either way).
  Tensor w = zeros({1024}, {.dtype = DType::float64, .requires_grad = true});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&w] {
      for (int k = 0; k < kSteps; ++k) {
        // Two edges into w per pass (fan-out): d/dw sum(2w + w) = 3.
        Tensor loss = sum(w * 2.0 + w);
        loss.backward();
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto& g = w.grad().data<double>();
  std::size_t exact = 0;
  for (double v : g) exact += v == 3.0 * kThreads * kSteps ? 1 : 0;
  INFO("w.grad()[0] = " << g(0) << ", expected " << 3.0 * kThreads * kSteps);
  CHECK(exact == g.size());
}

TEST_CASE("concurrent backward() and grad() on threads that share leaves agree with one thread") {
  Tensor w = tensor({{0.5, -1.0}, {2.0, 0.25}}, {.dtype = DType::float64, .requires_grad = true});
  auto loss_of = [&w](double scale) { return sum(tanh(matmul(w, w)) * scale); };
  const std::vector<double> expected = [&] {
    const Tensor g = grad({loss_of(1.0)}, {w})[0];
    return std::vector<double>(g.data<double>().begin(), g.data<double>().end());
  }();
  constexpr int kThreads = 4, kSteps = 100;
  std::vector<std::vector<double>> functional(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kSteps; ++k) {
        loss_of(1.0).backward();  // into w.grad(), shared
        const Tensor g = grad({loss_of(1.0)}, {w})[0];  // leaves w.grad() alone
        functional[t].assign(g.data<double>().begin(), g.data<double>().end());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : functional) CHECK(r == expected);
  const auto& accumulated = w.grad().data<double>();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(accumulated.data()[i] == doctest::Approx(expected[i] * kThreads * kSteps).epsilon(1e-12));
  }
}

TEST_CASE("a non-leaf used while its recording thread exits: an error or a constant, never a race") {
  Tensor x = tensor({1.0, 2.0}, {.dtype = DType::float64, .requires_grad = true});
  int refused = 0, constant = 0;
  std::vector<std::string> other_messages;
  for (int round = 0; round < 20; ++round) {
    Tensor y;
    std::promise<void> made;
    // The thread ends as soon as y is handed over; its tape goes with it, while this thread
    // keeps using y.
    std::thread recorder([&] {
      y = x * 2.0;
      made.set_value();
    });
    made.get_future().wait();
    for (int k = 0; k < 100; ++k) {
      try {
        Tensor z = y * 3.0;
        if (z.requires_grad()) {
          other_messages.emplace_back("y * 3.0 requires grad");
        } else {
          ++constant;
        }
      } catch (const AutogradError& e) {
        const std::string message = e.what();
        if (message.find("another thread") != std::string::npos) {
          ++refused;
        } else {
          other_messages.push_back(message);
        }
      }
    }
    recorder.join();
    // Once the thread has ended, y is a constant: same value, no history.
    CHECK(y.is_leaf());
    CHECK_FALSE(y.requires_grad());
    CHECK(y.data<double>() == xt::xarray<double>{2.0, 4.0});
    CHECK_FALSE((y * 3.0).requires_grad());
  }
  INFO("refused " << refused << ", constant " << constant);
  CHECK(other_messages.empty());
  for (const auto& m : other_messages) MESSAGE(m);
  CHECK(refused + constant == 20 * 100);
}

TEST_CASE("another thread's live non-leaf: its values can be read, its record cannot be used") {
  Tensor x = tensor({1.0, 2.0}, {.dtype = DType::float64, .requires_grad = true});
  Tensor y;
  std::promise<void> made, done;
  std::thread recorder([&] {
    y = x * 2.0;
    made.set_value();
    done.get_future().wait();
  });
  made.get_future().wait();
  CHECK(y.data<double>() == xt::xarray<double>{2.0, 4.0});
  CHECK(y.requires_grad());
  CHECK_FALSE(y.is_leaf());
  CHECK(to_string(y).find("grad_fn=<on another thread>") != std::string::npos);
  check_error<AutogradError>([&] { y.retain_grad(); }, {"retain_grad", "another thread"});
  check_error<AutogradError>([&] { y.grad(); }, {"grad", "another thread"});
  check_error<AutogradError>([&] { sum(y).backward(); }, {"sum", "another thread"});
  check_error<AutogradError>([&] { y.backward(ones_like(y)); }, {"backward", "another thread"});
  check_error<AutogradError>([&] { grad({sum(x)}, {y}); }, {"grad", "another thread"});
  done.set_value();
  recorder.join();
  CHECK(to_string(y).find("grad_fn") == std::string::npos);
}

TEST_CASE("backward after the recording thread ended says that the history went with it") {
  Tensor x = tensor({1.0, 2.0}, {.dtype = DType::float64, .requires_grad = true});
  Tensor loss;
  std::thread([&] { loss = sum(x * 2.0); }).join();
  const std::string message = error_of<AutogradError>([&] { loss.backward(); });
  INFO(message);
  CHECK(message.find("thread") != std::string::npos);
  CHECK(message.find("ended") != std::string::npos);
  CHECK(message.find("history") != std::string::npos);
  CHECK(message.find("NoGradGuard") == std::string::npos);
  // grad() says the same, and a tensor that never had history still gets the NoGradGuard hint.
  check_error<AutogradError>([&] { grad({loss}, {x}); }, {"ended", "history"});
  Tensor plain = tensor({1.0});
  check_error<AutogradError>([&] { plain.backward(); }, {"NoGradGuard"});
}

TEST_CASE("a history-less tensor from an ended thread can become a leaf again") {
  Tensor x = tensor({1.0, 2.0}, {.dtype = DType::float64, .requires_grad = true});
  Tensor y;
  std::thread([&] { y = x * 2.0; }).join();
  y.requires_grad_(true);
  CHECK(y.requires_grad());
  CHECK(y.is_leaf());
  sum(y * y).backward();
  CHECK(y.grad().data<double>() == xt::xarray<double>{4.0, 8.0});
  CHECK_FALSE(x.grad().defined());
}
