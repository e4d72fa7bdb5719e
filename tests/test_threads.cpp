// Threads: the contract the README states, as tests (they run under ThreadSanitizer in CI,
// build-tsan, which turns a data race into a failure even when the numbers come out right).
//  - Leaves may be shared by threads that each build and walk their own graphs.
//  - backward() on several threads at once accumulates into a shared leaf's .grad exactly.
//  - A tensor keeps its history when the thread that computed it ends, also while another
//    thread is using it, and graphs are freed on any thread (issue 11: backward after the
//    recording thread ended said the tensor had no history; test_engine.cpp's "a non-leaf
//    made on another thread keeps its history after the thread ends" covers that case).
#include <matgrad/matgrad.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace matgrad;

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

TEST_CASE("a non-leaf used while its recording thread exits keeps its history, and no race") {
  Tensor x = tensor({1.0, 2.0}, {.dtype = DType::float64, .requires_grad = true});
  int recorded = 0;
  for (int round = 0; round < 20; ++round) {
    Tensor y;
    std::promise<void> made;
    std::future<void> handed = made.get_future();
    // The thread ends as soon as y is handed over, while this thread keeps using y.
    std::thread recorder([&] {
      y = x * 2.0;
      made.set_value();
    });
    handed.wait();
    Tensor total = zeros({2}, {.dtype = DType::float64});
    for (int k = 0; k < 100; ++k) {
      Tensor z = y * 3.0;
      recorded += z.requires_grad() ? 1 : 0;
      total = total + z;
    }
    recorder.join();
    sum(total).backward();  // 100 × 3 × 2 per element, through records made on both threads
  }
  CHECK(recorded == 20 * 100);
  CHECK(x.grad().data<double>() == xt::xarray<double>{12000.0, 12000.0});
}

// Records and tensors come from per-thread slabs (pool.hpp). A maker thread hands its graph over
// and exits at once, so that its slabs are let go while two other threads use and free the
// blocks cut from them; every record is freed exactly once, wherever it goes.
TEST_CASE("graphs made on threads that exit, used and freed on others while they exit") {
  Tensor x = tensor({1.0, -2.0, 0.5}, {.dtype = DType::float64, .requires_grad = true});
  const std::size_t before = tape_size();
  constexpr int kRounds = 10, kMakers = 4, kOps = 300;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Tensor> made(kMakers);
    std::vector<std::promise<void>> ready(kMakers);
    std::vector<std::future<void>> handed;
    for (auto& r : ready) handed.push_back(r.get_future());
    std::vector<std::thread> makers;
    for (int t = 0; t < kMakers; ++t) {
      makers.emplace_back([&, t] {
        Tensor h = x;
        for (int k = 0; k < kOps; ++k) h = h * 1.0 + 0.0;  // 600 records: more than a slab of them
        made[t] = h;
        ready[t].set_value();
      });
    }
    // Even makers' graphs are dropped on a second thread, odd ones backpropagated and dropped
    // here, each as soon as its maker has handed it over.
    std::thread freer([&] {
      for (int t = 0; t < kMakers; t += 2) {
        handed[t].wait();
        made[t] = Tensor();
      }
    });
    for (int t = 1; t < kMakers; t += 2) {
      handed[t].wait();
      sum(made[t]).backward();
      made[t] = Tensor();
    }
    freer.join();
    for (auto& m : makers) m.join();
  }
  CHECK(tape_size() == before);
  CHECK(x.grad().data<double>() == xt::xarray<double>{20.0, 20.0, 20.0});  // 10 rounds × 2
}

// Graphs that share a non-leaf: a walk claims the records it reaches, so of two backward passes
// through y at the same time one runs and the other stops with an error before touching y;
// every pass that ran delivered its whole gradient.
TEST_CASE("concurrent backward() through one shared non-leaf: each pass runs whole or is refused") {
  Tensor x = tensor({1.0, 2.0}, {.dtype = DType::float64, .requires_grad = true});
  Tensor y = x * 2.0;
  constexpr int kThreads = 4, kSteps = 200;
  std::atomic<int> ran{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < kSteps; ++k) {
        Tensor loss = sum(y * 3.0);
        try {
          loss.backward({}, /*retain_graph=*/true);
          ++ran;
        } catch (const AutogradError& e) {
          const bool claimed = std::string(e.what()).find("another backward pass") != std::string::npos;
          ++(claimed ? refused : other);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  INFO("ran " << ran << ", refused " << refused);
  CHECK(other == 0);
  CHECK(ran + refused == kThreads * kSteps);
  CHECK(ran > 0);
  const double expected = 6.0 * ran;
  CHECK(x.grad().data<double>() == xt::xarray<double>{expected, expected});
}
