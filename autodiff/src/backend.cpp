// Matrix-product backends: which library runs each product, the one thread setting for their
// pools, and the check that OpenBLAS runs kernels fit for this CPU (matgrad/backend.hpp).
#include "blas.hpp"
#include "matgrad/backend.hpp"

#include <cblas.h>
#include <fmt/format.h>
#ifdef MATGRAD_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <mutex>
#include <thread>

namespace matgrad {

namespace {

// ---- the CPU and OpenBLAS's kernels ----

// Instruction-set levels as far as GEMM kernels are concerned.
enum class Isa { sse, avx, avx2, avx512 };

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::sse: return "SSE only";
    case Isa::avx: return "AVX";
    case Isa::avx2: return "AVX2 + FMA";
    case Isa::avx512: return "AVX-512";
  }
  return "?";
}

Isa level(const CpuIsa& cpu) {
  if (cpu.avx512() && cpu.avx2 && cpu.fma) return Isa::avx512;
  if (cpu.avx2 && cpu.fma) return Isa::avx2;
  if (cpu.avx) return Isa::avx;
  return Isa::sse;
}

// The instruction set of the CPU each x86 core of OpenBLAS (0.3.21's DYNAMIC_ARCH list, and the
// target names of fixed builds) is written for; none for a name not listed here.
std::optional<Isa> core_level(std::string_view core) {
  std::string name(core);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  static constexpr std::string_view sse[] = {
      "katmai", "coppermine", "northwood", "prescott", "banias", "yonah", "atom", "core2",
      "penryn", "dunnington", "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona",
      "shanghai", "istanbul", "nano", "bobcat", "sse_generic", "generic"};
  static constexpr std::string_view avx[] = {"sandybridge", "bulldozer", "piledriver",
                                             "steamroller"};
  static constexpr std::string_view avx2[] = {"haswell", "zen", "excavator"};
  static constexpr std::string_view avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
  auto in = [&](const auto& list) { return std::find(std::begin(list), std::end(list), name) != std::end(list); };
  if (in(sse)) return Isa::sse;
  if (in(avx)) return Isa::avx;
  if (in(avx2)) return Isa::avx2;
  if (in(avx512)) return Isa::avx512;
  return std::nullopt;
}

// An OpenBLAS core whose kernels a CPU of this level runs, for OPENBLAS_CORETYPE.
std::string_view core_for(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "SkylakeX";
    case Isa::avx2: return "Haswell";
    case Isa::avx: return "Sandybridge";
    case Isa::sse: return "Prescott";
  }
  return "Prescott";
}

std::string cpu_model_name() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned regs[12] = {};
  unsigned top = __get_cpuid_max(0x80000000u, nullptr);
  if (top >= 0x80000004u) {
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    }
    std::string brand(reinterpret_cast<const char*>(regs), sizeof regs);
    brand.erase(std::find(brand.begin(), brand.end(), '\0'), brand.end());
    const auto first = brand.find_first_not_of(' ');
    const auto last = brand.find_last_not_of(' ');
    if (first != std::string::npos) return brand.substr(first, last - first + 1);
  }
#endif
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

// ---- threads ----

struct ThreadDefault {
  int threads;
  std::string from;
};

// A positive integer at the start of text (OMP_NUM_THREADS may be a list, "4,2").
std::optional<int> leading_count(std::string_view text) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || value < 1) return std::nullopt;
  if (end != text.data() + text.size() && *end != ',') return std::nullopt;
  return value;
}

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadDefault default_threads() {
  if (const char* env = std::getenv("MATGRAD_NUM_THREADS"); env && *env) {
    const std::string_view text(env);
    int value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value < 1) {
      fail<ValueError>("MATGRAD_NUM_THREADS must be a positive integer, got \"{}\"", text);
    }
    return {value, "MATGRAD_NUM_THREADS"};
  }
  if (const char* env = std::getenv("OMP_NUM_THREADS"); env && *env) {
    if (const auto value = leading_count(env)) return {*value, "OMP_NUM_THREADS"};
  }
  return {available_cpus(), "all CPUs"};
}

std::atomic<bool> warning_enabled{true};

#ifdef MATGRAD_HAVE_ONEDNN
constexpr GemmBackend configured_float32 = GemmBackend::onednn;
#else
constexpr GemmBackend configured_float32 = GemmBackend::openblas;
#endif

// The state set up at the first product: threads applied to both pools, OpenBLAS checked.
class Backends {
 public:
  Backends() {
    const ThreadDefault initial = default_threads();
    apply_threads(initial.threads, initial.from);
    if (openblas_warning_enabled()) {
      if (const auto warning = openblas_kernel_warning(openblas_core(), cpu_isa())) {
        std::fprintf(stderr, "%s\n", warning->c_str());
        std::fflush(stderr);
      }
    }
  }

  void apply_threads(int threads, std::string from) {
    {
      const std::lock_guard lock(mutex_);
      threads_from_ = std::move(from);
    }
    threads_.store(threads);
    openblas_set_num_threads(threads);
#ifdef MATGRAD_HAVE_ONEDNN
    omp_set_num_threads(threads);
#endif
  }

#ifdef MATGRAD_HAVE_ONEDNN
  // OpenMP's thread count is a per-thread setting: a thread other than the one that set it
  // starts from OpenMP's default, so each call from such a thread sets it first.
  void use_threads_in_openmp() const {
    const int threads = threads_.load(std::memory_order_relaxed);
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
  }
#endif

  int threads() const { return threads_.load(); }
  std::string threads_from() const {
    const std::lock_guard lock(mutex_);
    return threads_from_;
  }
  GemmBackend float32() const { return float32_.load(std::memory_order_relaxed); }
  void set_float32(GemmBackend backend) { float32_.store(backend); }

 private:
  std::atomic<int> threads_{1};
  std::atomic<GemmBackend> float32_{configured_float32};
  mutable std::mutex mutex_;
  std::string threads_from_;
};

Backends& backends() {
  static Backends instance;
  return instance;
}

// ---- the products ----

// BLAS takes int dimensions (OpenBLAS's default 32-bit interface).
void check_blas_dims(std::size_t m, std::size_t n, std::size_t k, std::size_t lda, std::size_t ldb,
                     std::size_t ldc) {
  constexpr auto limit = static_cast<std::size_t>(INT_MAX);
  if (std::max({m, n, k, lda, ldb, ldc}) > limit) {
    fail<ShapeError>("matrix product: the dimensions {}×{} by {}×{} exceed BLAS's limit of {} "
                     "per dimension",
                     m, k, k, n, INT_MAX);
  }
}

int as_int(std::size_t v) { return static_cast<int>(v); }

template <class T>
void blas_gemv(bool trans, std::size_t rows, std::size_t cols, const T* a, std::size_t lda,
               const T* x, std::size_t incx, T beta, T* y, std::size_t incy) {
  const auto t = trans ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemv(CblasRowMajor, t, as_int(rows), as_int(cols), 1.0f, a, as_int(lda), x,
                as_int(incx), beta, y, as_int(incy));
  } else {
    cblas_dgemv(CblasRowMajor, t, as_int(rows), as_int(cols), 1.0, a, as_int(lda), x,
                as_int(incx), beta, y, as_int(incy));
  }
}

// The BLAS route: gemv when op(B) is one column or op(A) one row, ger when k = 1, else gemm.
template <class T>
void blas_product(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a,
                  std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  check_blas_dims(m, n, k, lda, ldb, ldc);
  if (n == 1) {
    // C[:, 0] = op(A) · op(B)[:, 0]; that column of B is strided by ldb unless B is stored as a row.
    blas_gemv<T>(ta, ta ? k : m, ta ? m : k, a, lda, b, tb ? 1 : ldb, beta, c, ldc);
  } else if (m == 1) {
    // C[0, :]ᵀ = op(B)ᵀ · op(A)[0, :]ᵀ.
    blas_gemv<T>(!tb, tb ? n : k, tb ? k : n, b, ldb, a, ta ? lda : 1, beta, c, 1);
  } else if (k == 1) {
    // C = β C + a bᵀ, a rank-1 update: the column op(A) and the row op(B).
    if (beta == T(0)) {
      for (std::size_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, T(0));
    } else if (beta != T(1)) {
      for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] *= beta;
      }
    }
    const int incx = ta ? 1 : as_int(lda), incy = tb ? as_int(ldb) : 1;
    if constexpr (std::is_same_v<T, float>) {
      cblas_sger(CblasRowMajor, as_int(m), as_int(n), 1.0f, a, incx, b, incy, c, as_int(ldc));
    } else {
      cblas_dger(CblasRowMajor, as_int(m), as_int(n), 1.0, a, incx, b, incy, c, as_int(ldc));
    }
  } else {
    const auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
    if constexpr (std::is_same_v<T, float>) {
      cblas_sgemm(CblasRowMajor, opa, opb, as_int(m), as_int(n), as_int(k), 1.0f, a, as_int(lda),
                  b, as_int(ldb), beta, c, as_int(ldc));
    } else {
      cblas_dgemm(CblasRowMajor, opa, opb, as_int(m), as_int(n), as_int(k), 1.0, a, as_int(lda),
                  b, as_int(ldb), beta, c, as_int(ldc));
    }
  }
}

// k = 0: the product is zero, C = β C (BLAS would reject the leading dimension of an empty A).
template <class T>
void scale_only(std::size_t m, std::size_t n, T beta, T* c, std::size_t ldc) {
  if (beta == T(1)) return;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
  }
}

}  // namespace

// ---- public API ----

std::string_view backend_name(GemmBackend backend) {
  return backend == GemmBackend::onednn ? "oneDNN" : "OpenBLAS";
}

bool gemm_backend_available(GemmBackend backend) {
#ifdef MATGRAD_HAVE_ONEDNN
  (void)backend;
  return true;
#else
  return backend == GemmBackend::openblas;
#endif
}

void set_gemm_backend(GemmBackend backend) {
  if (!gemm_backend_available(backend)) {
    fail<ValueError>("set_gemm_backend: this matgrad was configured without {} "
                     "(-DMATGRAD_GEMM=blas); only OpenBLAS is available",
                     backend_name(backend));
  }
  backends().set_float32(backend);
}

GemmBackend gemm_backend(DType dtype) {
  return dtype == DType::float32 ? backends().float32() : GemmBackend::openblas;
}

void set_num_threads(int threads) {
  if (threads < 1) fail<ValueError>("set_num_threads: expects at least 1 thread, got {}", threads);
  backends().apply_threads(threads, "set_num_threads");
}

int get_num_threads() { return backends().threads(); }

// ---- performance machinery: loops split over matgrad's threads (parallel_for) ----
// ThreadSanitizer cannot see libgomp's barriers (libgomp is not built with it), so every write
// after a parallel region looks like a race with the workers' reads: its builds run every loop
// on one thread (tests/tsan.supp says the same of oneDNN's products).
void detail::parallel_chunks(DType dtype, std::size_t n, std::size_t grain,
                             void (*run)(const void*, std::size_t, std::size_t), const void* body) {
#if defined(MATGRAD_HAVE_ONEDNN) && !defined(__SANITIZE_THREAD__)
  const auto threads = static_cast<std::size_t>(std::max(1, get_num_threads()));
  const std::size_t chunks = std::min(threads, n / std::max<std::size_t>(grain, 1));
  if (chunks > 1 && gemm_backend(dtype) == GemmBackend::onednn && !omp_in_parallel()) {
    const std::size_t chunk = (n / chunks + 15) / 16 * 16;  // whole vectors but the last
    std::exception_ptr error;
    std::mutex error_mutex;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::size_t begin = std::min(n, c * chunk), end = c + 1 == chunks ? n : std::min(n, begin + chunk);
      if (begin >= end) continue;
      try {
        run(body, begin, end);
      } catch (...) {  // an exception may not leave an OpenMP region
        const std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#else
  (void)dtype;
  (void)grain;
#endif
  run(body, 0, n);
}
// ---- end of parallel_for ----

CpuIsa cpu_isa() {
  CpuIsa isa;
#if defined(__x86_64__) || defined(__i386__)
  // libgcc's checks include the operating system's support (XGETBV) for the wider registers.
  __builtin_cpu_init();
  isa.avx = __builtin_cpu_supports("avx");
  isa.avx2 = __builtin_cpu_supports("avx2");
  isa.fma = __builtin_cpu_supports("fma");
  isa.avx512f = __builtin_cpu_supports("avx512f");
  isa.avx512bw = __builtin_cpu_supports("avx512bw");
  isa.avx512dq = __builtin_cpu_supports("avx512dq");
  isa.avx512vl = __builtin_cpu_supports("avx512vl");
#endif
  return isa;
}

std::string CpuIsa::to_string() const {
  if (avx512()) return "AVX-512 (F, BW, DQ, VL), AVX2, FMA";
  std::string s = avx2 ? (fma ? "AVX2, FMA" : "AVX2") : avx ? "AVX" : "SSE only";
  if (avx512f) s += ", AVX-512F without the rest of SkylakeX's set";
  else if (avx2) s += ", no AVX-512";
  return s;
}

std::string openblas_core() {
  const char* core = openblas_get_corename();
  return core ? core : "unknown";
}

std::optional<std::string> openblas_kernel_warning(std::string_view core, const CpuIsa& cpu) {
  const std::optional<Isa> kernels = core_level(core);
  if (!kernels) return std::nullopt;
  const Isa cpu_level = level(cpu);
  if (*kernels >= cpu_level) return std::nullopt;
  return fmt::format(
      "matgrad: warning: OpenBLAS runs its {} kernels ({}), but this CPU has {}: OpenBLAS did "
      "not recognise the CPU and fell back to an older core. Its products (float64 GEMMs; "
      "float32 ones too unless oneDNN runs them; matrix-vector products; LAPACK) may run "
      "several times slower than this CPU allows (measured on AVX-512 CPUs: Prescott kernels "
      "4–5× slower, Haswell kernels 1.6–1.8× slower). To fix it, start the program with "
      "OPENBLAS_CORETYPE={} in its environment (a core this CPU runs), or install a newer "
      "OpenBLAS. Silence this warning with "
      "MATGRAD_NO_OPENBLAS_WARNING=1 or matgrad::set_openblas_warning(false).",
      core, isa_name(*kernels), cpu.to_string(), core_for(cpu_level));
}

void set_openblas_warning(bool enabled) { warning_enabled.store(enabled); }

bool openblas_warning_enabled() {
  if (!warning_enabled.load()) return false;
  const char* env = std::getenv("MATGRAD_NO_OPENBLAS_WARNING");
  return !env || !*env || std::string_view(env) == "0";
}

BackendInfo backend_info() {
  Backends& state = backends();
  BackendInfo info;
  info.gemm_float32 = state.float32();
  info.gemm_float64 = GemmBackend::openblas;
#ifdef MATGRAD_HAVE_ONEDNN
  const dnnl_version_t* v = dnnl_version();
  info.onednn_version = fmt::format("{}.{}.{}", v->major, v->minor, v->patch);
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: info.onednn_isa = "SSE4.1"; break;
    case dnnl_cpu_isa_avx: info.onednn_isa = "AVX"; break;
    case dnnl_cpu_isa_avx2: info.onednn_isa = "AVX2"; break;
    case dnnl_cpu_isa_avx2_vnni: info.onednn_isa = "AVX2 VNNI"; break;
    case dnnl_cpu_isa_avx512_core: info.onednn_isa = "AVX-512"; break;
    case dnnl_cpu_isa_avx512_core_vnni: info.onednn_isa = "AVX-512 VNNI"; break;
    case dnnl_cpu_isa_avx512_core_bf16: info.onednn_isa = "AVX-512 BF16"; break;
    case dnnl_cpu_isa_avx512_core_amx: info.onednn_isa = "AVX-512 AMX"; break;
    default: info.onednn_isa = "other"; break;
  }
#endif
  info.openblas_config = openblas_get_config();
  info.openblas_core = openblas_core();
  info.cpu_model = cpu_model_name();
  info.cpu = cpu_isa();
  info.threads = state.threads();
  info.threads_from = state.threads_from();
  info.openblas_warning = openblas_kernel_warning(info.openblas_core, info.cpu);
  return info;
}

std::string BackendInfo::to_string() const {
  std::string f32 = gemm_float32 == GemmBackend::onednn
                        ? fmt::format("oneDNN {} (dnnl_sgemm, {} kernels)", onednn_version, onednn_isa)
                        : "OpenBLAS";
  std::string s = fmt::format(
      "GEMM: float32 on {}; float64 and LAPACK on OpenBLAS\n"
      "OpenBLAS: {} (core {}){}\n"
      "CPU: {} ({})\n"
      "threads: {} ({}), for oneDNN's and OpenBLAS's pools alike\n",
      f32, openblas_config, openblas_core,
      openblas_warning ? ": BELOW THIS CPU, see the warning on stderr" : "", cpu_model,
      cpu.to_string(), threads, threads_from);
  return s;
}

// ---- the products ----

namespace detail {

void prepare_blas() { backends(); }

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
  Backends& state = backends();
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
#ifdef MATGRAD_HAVE_ONEDNN
  if (state.float32() == GemmBackend::onednn) {
    // Row-major, like cblas_sgemm's CblasRowMajor. oneDNN's C API has no sgemv, but its sgemm
    // runs n = 1 (A as stored) and m = 1 (Bᵀ) on its own gemv kernels, and the two transposed
    // layouts as fast (measured against cblas_sgemv); so float32 products never switch to
    // OpenBLAS's pool, whose spinning idle threads would take the cores from this one's.
    state.use_threads_in_openmp();
    const auto d = [](std::size_t v) { return static_cast<dnnl_dim_t>(v); };
    const dnnl_status_t status =
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', d(m), d(n), d(k), 1.0f, a, d(lda), b, d(ldb),
                   beta, c, d(ldc));
    if (status != dnnl_success) {
      fail<Error>("matrix product: oneDNN's dnnl_sgemm failed (status {}) on {}×{} by {}×{}",
                  static_cast<int>(status), m, k, k, n);
    }
    return;
  }
#else
  (void)state;
#endif
  blas_product<float>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const double* a,
          std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
          std::size_t ldc) {
  backends();
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  blas_product<double>(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace detail

}  // namespace matgrad
