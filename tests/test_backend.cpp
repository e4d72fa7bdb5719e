// The matrix-product backends (matgrad/backend.hpp): every product shape and transpose on each
// backend against a plain triple loop, the MLP's gradients on oneDNN against OpenBLAS, the
// OpenBLAS kernel check on injected (core, CPU) pairs, threads, and what backend_info reports.
#include <matgrad/matgrad.hpp>
#include <matgrad/nn.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>
#ifdef MATGRAD_TEST_OPENMP
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>
#include <mutex>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

std::vector<GemmBackend> available_backends() {
  std::vector<GemmBackend> list{GemmBackend::openblas};
  if (gemm_backend_available(GemmBackend::onednn)) list.push_back(GemmBackend::onednn);
  return list;
}

// Restores the configured float32 backend when a test that switched it ends.
struct BackendGuard {
  GemmBackend saved = gemm_backend(DType::float32);
  ~BackendGuard() { set_gemm_backend(saved); }
};

// op(A) op(B) by a triple loop in double, for rank 2 or 3 (batched) inputs.
Tensor naive_gemm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const Tensor a64 = a.to(DType::float64), b64 = b.to(DType::float64);
  const auto& x = a64.data<double>();
  const auto& y = b64.data<double>();
  const std::size_t r = a.dim(), batch = r == 3 ? a.size(0) : 1;
  const std::size_t ra = a.size(-2), ca = a.size(-1), rb = b.size(-2), cb = b.size(-1);
  const std::size_t m = ta ? ca : ra, k = ta ? ra : ca, n = tb ? rb : cb;
  xt::xarray<double> c = xt::zeros<double>(r == 3 ? Shape{batch, m, n} : Shape{m, n});
  for (std::size_t s = 0; s < batch; ++s) {
    const double* pa = x.data() + s * ra * ca;
    const double* pb = y.data() + s * rb * cb;
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        double sum = 0;
        for (std::size_t l = 0; l < k; ++l) {
          sum += (ta ? pa[l * ca + i] : pa[i * ca + l]) * (tb ? pb[j * cb + l] : pb[l * cb + j]);
        }
        c.data()[s * m * n + i * n + j] = sum;
      }
    }
  }
  return Tensor(std::move(c)).to(a.dtype());
}

// Largest |got − want| relative to the largest |want| (1 when want is all zero).
double rel_error(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape() == want.shape());
  const Tensor g = got.to(DType::float64), w = want.to(DType::float64);
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < g.numel(); ++i) {
    diff = std::max(diff, std::abs(g.data<double>().data()[i] - w.data<double>().data()[i]));
    scale = std::max(scale, std::abs(w.data<double>().data()[i]));
  }
  return diff / std::max(scale, 1.0);
}

double tolerance(DType dtype) { return dtype == DType::float32 ? 2e-6 : 1e-14; }

}  // namespace

TEST_CASE("the configured float32 backend is the default; float64 always runs on OpenBLAS") {
  const std::string configured = MATGRAD_TEST_GEMM;
  CHECK(gemm_backend_available(GemmBackend::openblas));
  CHECK(gemm_backend_available(GemmBackend::onednn) == (configured == "onednn"));
  CHECK(gemm_backend(DType::float32) ==
        (configured == "onednn" ? GemmBackend::onednn : GemmBackend::openblas));
  CHECK(gemm_backend(DType::float64) == GemmBackend::openblas);
  if (configured != "onednn") {
    check_error<ValueError>([] { set_gemm_backend(GemmBackend::onednn); },
                            {"set_gemm_backend", "oneDNN", "MATGRAD_GEMM=blas"});
  }
}

TEST_CASE("gemm on every backend matches a triple loop: each transpose pair, vectors, k = 1, empty") {
  BackendGuard guard;
  Generator gen(3);
  // (m, n, k): general, a row (gemv), a column (gemv), a dot product, rank 1 (k = 1), empty.
  const std::vector<std::array<std::size_t, 3>> sizes{
      {5, 7, 3}, {17, 33, 9}, {1, 6, 4}, {6, 1, 4}, {1, 1, 5}, {4, 6, 1}, {1, 5, 1},
      {5, 1, 1}, {0, 3, 2},   {3, 0, 2}, {3, 4, 0}, {1, 1, 0}, {70, 1, 300}, {1, 70, 300}};
  for (GemmBackend backend : available_backends()) {
    set_gemm_backend(backend);
    for (DType dtype : {DType::float32, DType::float64}) {
      for (const auto& [m, n, k] : sizes) {
        for (int flags = 0; flags < 4; ++flags) {
          const bool ta = flags & 1, tb = flags & 2;
          for (std::size_t batch : {0, 2}) {  // 0: plain matrices
            auto shape = [&](std::size_t rows, std::size_t cols) {
              return batch ? Shape{batch, rows, cols} : Shape{rows, cols};
            };
            const Tensor a = randn(ta ? shape(k, m) : shape(m, k), gen, {.dtype = dtype});
            const Tensor b = randn(tb ? shape(n, k) : shape(k, n), gen, {.dtype = dtype});
            const Tensor c = gemm(a, b, ta, tb);
            INFO(fmt::format("{} {} m={} n={} k={} ta={} tb={} batch={}", backend_name(backend),
                             dtype_name(dtype), m, n, k, ta, tb, batch));
            CHECK(rel_error(c, naive_gemm(a, b, ta, tb)) <= tolerance(dtype));
          }
        }
      }
    }
  }
}

TEST_CASE("float32 gemm on oneDNN's and OpenBLAS's 2 threads matches a triple loop") {
  // The suite runs with MATGRAD_NUM_THREADS=1; these sizes are large enough to be split.
  BackendGuard guard;
  const int saved = get_num_threads();
  set_num_threads(2);
  Generator gen(8);
  for (GemmBackend backend : available_backends()) {
    set_gemm_backend(backend);
    for (const auto& [m, n, k] : std::vector<std::array<std::size_t, 3>>{
             {130, 90, 70}, {128, 256, 784}, {300, 1, 500}, {1, 300, 500}}) {
      for (int flags = 0; flags < 4; ++flags) {
        const bool ta = flags & 1, tb = flags & 2;
        const Tensor a = randn(ta ? Shape{k, m} : Shape{m, k}, gen);
        const Tensor b = randn(tb ? Shape{n, k} : Shape{k, n}, gen);
        INFO(fmt::format("{} m={} n={} k={} ta={} tb={}", backend_name(backend), m, n, k, ta, tb));
        CHECK(rel_error(gemm(a, b, ta, tb), naive_gemm(a, b, ta, tb)) <= tolerance(DType::float32));
      }
    }
  }
  set_num_threads(saved);
}

TEST_CASE("matmul's vector cases and linear's bias (β = 1) on every backend") {
  BackendGuard guard;
  Generator gen(4);
  for (GemmBackend backend : available_backends()) {
    set_gemm_backend(backend);
    for (DType dtype : {DType::float32, DType::float64}) {
      INFO(backend_name(backend), " ", dtype_name(dtype));
      const TensorOptions o{.dtype = dtype};
      const Tensor m = randn({40, 30}, gen, o), v = randn({30}, gen, o), u = randn({40}, gen, o);
      const Tensor batch = randn({3, 40, 30}, gen, o);
      auto col = [](const Tensor& x) { return reshape(x, {-1, 1}); };
      auto row = [](const Tensor& x) { return reshape(x, {1, -1}); };
      CHECK(rel_error(matmul(m, v), flatten(naive_gemm(m, col(v), false, false))) <= tolerance(dtype));
      CHECK(rel_error(matmul(u, m), flatten(naive_gemm(row(u), m, false, false))) <= tolerance(dtype));
      CHECK(rel_error(matmul(v, v), reshape(naive_gemm(row(v), col(v), false, false), Shape{})) <=
            tolerance(dtype));
      CHECK(rel_error(matmul(batch, v), reshape(naive_gemm(reshape(batch, {120, 30}), col(v), false, false), {3, 40})) <=
            tolerance(dtype));
      const Tensor rows_of_u = broadcast_to(reshape(u, {1, 1, 40}), {3, 1, 40});
      CHECK(rel_error(matmul(u, batch), reshape(naive_gemm(rows_of_u, batch, false, false), {3, 30})) <=
            tolerance(dtype));
      // linear: C = X Wᵀ + 1 bᵀ, with one output (a gemv onto the bias) and with one row.
      for (const auto& [rows, in, out] : std::vector<std::array<std::size_t, 3>>{{8, 30, 1}, {1, 30, 7}, {8, 30, 7}}) {
        const Tensor x = randn({rows, in}, gen, o), w = randn({out, in}, gen, o), b = randn({out}, gen, o);
        const Tensor want = naive_gemm(x, w, false, true) + b;
        CHECK(rel_error(linear(x, w, b), want) <= tolerance(dtype));
        CHECK(rel_error(linear(x, w), naive_gemm(x, w, false, true)) <= tolerance(dtype));
      }
    }
  }
}

TEST_CASE("matmul's and linear's float32 VJPs on every backend agree with float64's") {
  BackendGuard guard;
  Generator gen(5);
  const std::vector<std::pair<Shape, Shape>> cases{
      {{30, 20}, {20, 10}}, {{20}, {20}}, {{20}, {20, 7}}, {{30, 20}, {20}}, {{1, 20}, {20, 1}},
      {{30, 1}, {1, 7}},    {{30, 1}, {1}}, {{2, 30, 20}, {20}}, {{20}, {2, 20, 7}},
      {{2, 30, 20}, {2, 20, 7}}, {{30, 20}, {2, 20, 7}}};
  for (GemmBackend backend : available_backends()) {
    set_gemm_backend(backend);
    for (const auto& [sa, sb] : cases) {
      INFO(backend_name(backend), " ", to_string(sa), " @ ", to_string(sb));
      const Tensor a64 = randn(sa, gen, {.dtype = DType::float64, .requires_grad = true});
      const Tensor b64 = randn(sb, gen, {.dtype = DType::float64, .requires_grad = true});
      const Tensor a32 = a64.detach().to(DType::float32).requires_grad_();
      const Tensor b32 = b64.detach().to(DType::float32).requires_grad_();
      auto f = [](const Tensor& a, const Tensor& b) { return sum(square(matmul(a, b))); };
      const std::vector<Tensor> g64 = grad({f(a64, b64)}, {a64, b64});
      const std::vector<Tensor> g32 = grad({f(a32, b32)}, {a32, b32});
      CHECK(rel_error(g32[0], g64[0]) <= 1e-5);
      CHECK(rel_error(g32[1], g64[1]) <= 1e-5);
    }
    for (const auto& [rows, in, out] : std::vector<std::array<std::size_t, 3>>{{8, 30, 1}, {1, 30, 7}, {8, 30, 7}}) {
      INFO(backend_name(backend), " linear ", rows, "×", in, " → ", out);
      const TensorOptions o{.dtype = DType::float64, .requires_grad = true};
      const Tensor x = randn({rows, in}, gen, o), w = randn({out, in}, gen, o), b = randn({out}, gen, o);
      std::vector<Tensor> p32;
      for (const Tensor& p : {x, w, b}) p32.push_back(p.detach().to(DType::float32).requires_grad_());
      auto f = [](const std::vector<Tensor>& p) { return sum(square(linear(p[0], p[1], p[2]))); };
      const std::vector<Tensor> g64 = grad({f({x, w, b})}, {x, w, b});
      const std::vector<Tensor> g32 = grad({f(p32)}, p32);
      for (std::size_t i = 0; i < 3; ++i) CHECK(rel_error(g32[i], g64[i]) <= 1e-5);
    }
  }
}

TEST_CASE("the MLP's float32 gradients on oneDNN agree with the OpenBLAS path to 1e-5") {
  if (!gemm_backend_available(GemmBackend::onednn)) {
    check_error<ValueError>([] { set_gemm_backend(GemmBackend::onednn); }, {"without oneDNN"});
    return;
  }
  BackendGuard guard;
  Generator gen(11);
  nn::Sequential net{nn::Linear(784, 256, gen), nn::ReLU(), nn::Linear(256, 128, gen), nn::ReLU(),
                     nn::Linear(128, 10, gen)};
  const Tensor x = rand({128, 784}, gen);
  std::vector<std::size_t> targets(128);
  for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = (i * 7 + 3) % 10;
  auto gradients = [&](GemmBackend backend) {
    set_gemm_backend(backend);
    net.zero_grad();
    Tensor loss = cross_entropy(net(x), targets);
    loss.backward();
    std::vector<Tensor> out{loss.detach()};
    for (const Tensor& p : net.parameters()) out.push_back(p.grad().detach());
    return out;
  };
  const std::vector<Tensor> onednn = gradients(GemmBackend::onednn);
  const std::vector<Tensor> openblas = gradients(GemmBackend::openblas);
  REQUIRE(onednn.size() == 7);
  for (std::size_t i = 0; i < onednn.size(); ++i) {
    INFO((i == 0 ? std::string("loss") : fmt::format("gradient of parameter {}", i - 1)));
    const double error = rel_error(onednn[i], openblas[i]);
    CHECK(error <= 1e-5);
  }
}

TEST_CASE("the OpenBLAS kernel check, on injected (core, CPU) pairs") {
  const CpuIsa sse{};
  const CpuIsa avx{.avx = true};
  const CpuIsa avx2{.avx = true, .avx2 = true, .fma = true};
  CpuIsa avx512 = avx2;
  avx512.avx512f = avx512.avx512bw = avx512.avx512dq = avx512.avx512vl = true;
  CpuIsa knl = avx2;  // AVX-512F without BW/DQ/VL: not the set SkylakeX's kernels need
  knl.avx512f = true;

  // Below the CPU: a warning that says what was found, what it costs and what to do.
  const auto prescott = openblas_kernel_warning("Prescott", avx512);
  REQUIRE(prescott);
  for (const char* part : {"Prescott kernels", "AVX-512", "slower", "OPENBLAS_CORETYPE=SkylakeX",
                           "newer OpenBLAS", "MATGRAD_NO_OPENBLAS_WARNING=1",
                           "set_openblas_warning(false)"}) {
    CHECK_MESSAGE(prescott->find(part) != std::string::npos, part);
  }
  const auto on_avx2 = openblas_kernel_warning("Prescott", avx2);
  REQUIRE(on_avx2);
  CHECK(on_avx2->find("OPENBLAS_CORETYPE=Haswell") != std::string::npos);
  CHECK(openblas_kernel_warning("Sandybridge", avx2));
  CHECK(openblas_kernel_warning("Nehalem", avx512));
  CHECK(openblas_kernel_warning("PRESCOTT", avx2));  // a fixed build reports its target in capitals
  const auto on_avx = openblas_kernel_warning("Core2", avx);
  REQUIRE(on_avx);
  CHECK(on_avx->find("OPENBLAS_CORETYPE=Sandybridge") != std::string::npos);
  CHECK(openblas_kernel_warning("Zen", knl) == std::nullopt);
  CHECK(openblas_kernel_warning("Prescott", knl));

  // AVX2 kernels on an AVX-512 CPU (what 0.3.21 runs on a Zen 5): 1.6–1.8× slower there.
  const auto haswell = openblas_kernel_warning("Haswell", avx512);
  REQUIRE(haswell);
  CHECK(haswell->find("Haswell kernels (AVX2 + FMA)") != std::string::npos);
  CHECK(haswell->find("OPENBLAS_CORETYPE=SkylakeX") != std::string::npos);
  CHECK(openblas_kernel_warning("Zen", avx512));

  // At or above the CPU's level, or a name the check does not know.
  CHECK(openblas_kernel_warning("Zen", avx2) == std::nullopt);
  CHECK(openblas_kernel_warning("Haswell", avx2) == std::nullopt);
  CHECK(openblas_kernel_warning("HASWELL", avx2) == std::nullopt);
  CHECK(openblas_kernel_warning("SkylakeX", avx512) == std::nullopt);
  CHECK(openblas_kernel_warning("Cooperlake", avx512) == std::nullopt);
  CHECK(openblas_kernel_warning("Sandybridge", avx) == std::nullopt);
  CHECK(openblas_kernel_warning("Prescott", sse) == std::nullopt);
  CHECK(openblas_kernel_warning("SomeFutureCore", avx512) == std::nullopt);

  // This machine's own pair is what backend_info reports.
  CHECK(backend_info().openblas_warning == openblas_kernel_warning(openblas_core(), cpu_isa()));
}

TEST_CASE("the OpenBLAS warning is silenced by set_openblas_warning(false) or the environment") {
  CHECK(openblas_warning_enabled());
  set_openblas_warning(false);
  CHECK_FALSE(openblas_warning_enabled());
  set_openblas_warning(true);
  CHECK(openblas_warning_enabled());
  setenv("MATGRAD_NO_OPENBLAS_WARNING", "1", 1);
  CHECK_FALSE(openblas_warning_enabled());
  setenv("MATGRAD_NO_OPENBLAS_WARNING", "0", 1);
  CHECK(openblas_warning_enabled());
  unsetenv("MATGRAD_NO_OPENBLAS_WARNING");
  CHECK(openblas_warning_enabled());
}

TEST_CASE("CpuIsa: this CPU's features, and how they read") {
  const CpuIsa cpu = cpu_isa();
  CHECK((!cpu.avx2 || cpu.avx));  // AVX2 implies AVX, as CPUID reports them
  CHECK((!cpu.avx512() || cpu.avx512f));
  const CpuIsa avx2{.avx = true, .avx2 = true, .fma = true};
  CHECK(avx2.to_string() == "AVX2, FMA, no AVX-512");
  CpuIsa avx512 = avx2;
  avx512.avx512f = avx512.avx512bw = avx512.avx512dq = avx512.avx512vl = true;
  CHECK(avx512.to_string() == "AVX-512 (F, BW, DQ, VL), AVX2, FMA");
  CHECK(CpuIsa{}.to_string() == "SSE only");
}

TEST_CASE("set_num_threads governs both pools; backend_info reports it") {
  const int saved = get_num_threads();
  CHECK(saved >= 1);
  check_error<ValueError>([] { set_num_threads(0); }, {"set_num_threads", "at least 1", "got 0"});
  check_error<ValueError>([] { set_num_threads(-2); }, {"got -2"});
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  const BackendInfo info = backend_info();
  CHECK(info.threads == 1);
  CHECK(info.threads_from == "set_num_threads");
  CHECK(info.openblas_core == openblas_core());
  CHECK(info.gemm_float64 == GemmBackend::openblas);
  CHECK(info.gemm_float32 == gemm_backend(DType::float32));
  const std::string text = info.to_string();
  INFO(text);
  CHECK(text.find("threads: 1 (set_num_threads)") != std::string::npos);
  CHECK(text.find("core " + openblas_core()) != std::string::npos);
  CHECK(text.find(info.gemm_float32 == GemmBackend::onednn ? "float32 on oneDNN " : "float32 on OpenBLAS") !=
        std::string::npos);
#ifdef MATGRAD_TEST_OPENMP
  CHECK_FALSE(info.onednn_version.empty());
  // OpenMP's count is per thread: a thread that never set it still runs oneDNN on the setting.
  set_num_threads(2);
  int seen = 0;
  std::thread([&] {
    omp_set_num_threads(5);
    const Tensor a = ones({4, 4});
    (void)gemm(a, a);
    seen = omp_get_max_threads();
  }).join();
  CHECK(seen == 2);
#endif
  set_num_threads(saved);
}

namespace {

// The chunks parallel_for ran body on, and on how many distinct threads.
struct Chunks {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  std::size_t threads = 0;
};

Chunks run_chunks(DType dtype, std::size_t n, std::size_t grain) {
  std::mutex mutex;
  Chunks out;
  std::vector<std::thread::id> ids;
  parallel_for(dtype, n, grain, [&](std::size_t begin, std::size_t end) {
    const std::lock_guard lock(mutex);
    out.ranges.emplace_back(begin, end);
    if (std::find(ids.begin(), ids.end(), std::this_thread::get_id()) == ids.end()) {
      ids.push_back(std::this_thread::get_id());
    }
  });
  std::sort(out.ranges.begin(), out.ranges.end());
  out.threads = ids.size();
  return out;
}

}  // namespace

TEST_CASE("parallel_for: float32 on oneDNN's pool in one chunk per thread, each ≥ grain; else one chunk") {
  const int saved = get_num_threads();
  BackendGuard guard;
  set_num_threads(2);
  const std::size_t n = 100003, grain = kGrain;
#if defined(MATGRAD_TEST_OPENMP) && !defined(__SANITIZE_THREAD__)
  const bool splits = true;
#else
  const bool splits = false;  // no OpenMP, or ThreadSanitizer (parallel_for runs on one thread)
#endif
  const Chunks split = run_chunks(DType::float32, n, grain);
  REQUIRE(split.ranges.size() == (splits ? 2u : 1u));
  CHECK(split.threads == split.ranges.size());
  std::size_t covered = 0;
  for (const auto& [begin, end] : split.ranges) {
    CHECK(begin == covered);  // contiguous, in order, no gaps or overlaps
    CHECK(end - begin >= grain);
    if (end != n) CHECK(end % 16 == 0);  // whole vectors but the last
    covered = end;
  }
  CHECK(covered == n);
  // One chunk: fewer than 2 × grain elements, float64 (OpenBLAS's pool), OpenBLAS for float32,
  // one thread.
  CHECK(run_chunks(DType::float32, 2 * grain - 1, grain).ranges.size() == 1);
  CHECK(run_chunks(DType::float64, n, grain).ranges.size() == 1);
  set_gemm_backend(GemmBackend::openblas);
  CHECK(run_chunks(DType::float32, n, grain).ranges.size() == 1);
  set_gemm_backend(guard.saved);
  set_num_threads(1);
  CHECK(run_chunks(DType::float32, n, grain).ranges.size() == 1);
  CHECK(run_chunks(DType::float32, 0, grain).ranges == std::vector<std::pair<std::size_t, std::size_t>>{{0, 0}});
  // An exception thrown in a chunk reaches the caller.
  set_num_threads(2);
  check_error<ValueError>(
      [&] {
        parallel_for(DType::float32, n, grain, [](std::size_t begin, std::size_t) {
          fail<ValueError>("parallel_for test: the chunk from {} throws", begin);
        });
      },
      {"parallel_for test", "throws"});
  set_num_threads(saved);
}

TEST_CASE("pointwise ops and linear's bias split over 2 threads match 1 thread bitwise") {
  const int saved = get_num_threads();
  Generator gen(5);
  // 317 × 331 = 104,927 elements: two chunks of whole vectors and a ragged end.
  const Tensor x = randn({317, 331}, gen), y = randn({317, 331}, gen);
  const Tensor row = randn({331}, gen), column = randn({317, 1}, gen), scalar = randn({}, gen);
  const Tensor w = randn({300, 331}, gen), b = randn({300}, gen);
  auto results = [&] {
    return std::vector<Tensor>{relu(x), tanh(x), x + y, x * row, row - x, x / column, column * x,
                               x * scalar, scalar - x, relu_backward(y, x), linear(x, w, b),
                               linear(x, w)};
  };
  set_num_threads(1);
  const std::vector<Tensor> one = results();
  set_num_threads(2);
  const std::vector<Tensor> two = results();
  set_num_threads(saved);
  REQUIRE(one.size() == two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    CAPTURE(i);
    REQUIRE(one[i].shape() == two[i].shape());
    CHECK(std::equal(one[i].data<float>().begin(), one[i].data<float>().end(), two[i].data<float>().begin()));
  }
  // And against plain loops, so that both are right rather than wrong alike.
  for (std::size_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>().data()[i];
    const std::size_t r = i / 331, c = i % 331;
    REQUIRE(one[0].data<float>().data()[i] == std::max(v, 0.0f));
    REQUIRE(two[3].data<float>().data()[i] == v * row.data<float>().data()[c]);
    REQUIRE(two[5].data<float>().data()[i] == v / column.data<float>().data()[r]);
  }
}
