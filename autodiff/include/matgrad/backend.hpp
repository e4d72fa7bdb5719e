// Where matgrad's matrix products run, on how many threads, and whether the system's OpenBLAS
// runs kernels fit for this CPU.
//
// float32 GEMMs (gemm, linear, matmul in every form and their VJPs) run on oneDNN's
// dnnl_sgemm when matgrad was configured with -DMATGRAD_GEMM=onednn (the default), otherwise
// on the system BLAS; float64 GEMMs and LAPACK always run on the system BLAS (OpenBLAS).
// Products with one side a vector run as matrix-vector products (BLAS gemv; on oneDNN its
// sgemm, which routes them to its own gemv kernels). backend_info() says what runs here.
#pragma once

#include "matgrad/tensor.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace matgrad {

enum class GemmBackend { openblas, onednn };
std::string_view backend_name(GemmBackend backend);  // "OpenBLAS", "oneDNN"

// True when this build has the backend (OpenBLAS always; oneDNN with -DMATGRAD_GEMM=onednn).
bool gemm_backend_available(GemmBackend backend);
// The backend of float32 GEMMs from now on (float64 ones always run on OpenBLAS): the
// configured one by default; another is for A/B comparisons and cross-checks. A ValueError if
// the backend is not in this build.
void set_gemm_backend(GemmBackend backend);
GemmBackend gemm_backend(DType dtype);

// One thread count for every pool matgrad's products run on: oneDNN's OpenMP threads and
// OpenBLAS's threads together (OpenMP's count is per thread: matgrad sets it on each thread
// that runs a product). The default, applied at the first product, is MATGRAD_NUM_THREADS if
// set, else OMP_NUM_THREADS, else every CPU this process may run on. float32 products all run
// on oneDNN's pool, float64 ones and LAPACK on OpenBLAS's, so a model in one dtype keeps n
// threads on n cores. Idle threads of either pool spin for a while before they sleep: a
// program that alternates float32 products with float64 ones or LAPACK at more than one
// thread, or calls matgrad from several threads at once, oversubscribes the cores (set 1).
void set_num_threads(int threads);
int get_num_threads();

// Runs body(begin, end) on contiguous chunks that cover [0, n), one per thread of
// set_num_threads() and each at least `grain` elements long, on OpenMP's pool (the one oneDNN's
// products run on) when `dtype` is float32 and its products run on oneDNN; otherwise, for fewer
// than 2·grain elements, or inside a parallel region, as body(0, n) on the calling thread. As
// at::parallel_for, it is for loops whose every element is independent of the others, so that
// the result is the same to the last bit for any thread count. Not float64: OpenBLAS has a
// pool of its own, and OpenMP's threads spinning beside it made the float64 MLP step at 2
// threads 1.97× as long. An exception thrown by body reaches the caller once every chunk has
// ended. kGrain is PyTorch's grain (at::internal::GRAIN_SIZE).
inline constexpr std::size_t kGrain = std::size_t{1} << 15;
template <class F>
void parallel_for(DType dtype, std::size_t n, std::size_t grain, const F& body);

// What this CPU can run (CPUID, with the operating system's support for the registers).
struct CpuIsa {
  bool avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;

  bool avx512() const { return avx512f && avx512bw && avx512dq && avx512vl; }  // SkylakeX's set
  std::string to_string() const;  // e.g. "AVX2, FMA, no AVX-512"
};
CpuIsa cpu_isa();
std::string openblas_core();  // the kernels OpenBLAS chose at start-up, e.g. "Zen", "Prescott"

// The warning for OpenBLAS running kernels below what the CPU can run, or none. A pure
// function of the core OpenBLAS names and the CPU's features, so that it is tested with any
// pair. It warns when the core's instruction set is below the CPU's: Prescott (SSE3) or
// Sandybridge (AVX) on an AVX2 or AVX-512 CPU, and an AVX2 core (Haswell, Zen) on an AVX-512
// one. Measured: Prescott kernels 4–5× below SkylakeX's on an Intel AVX-512 CPU; Haswell
// kernels, which 0.3.21 picks for an AMD EPYC of family 26 (Zen 5), 1.6× below SkylakeX's in
// float64 and 1.8× in float32 there (benchmarks/README.md). A core name it does not know gives
// no warning.
std::optional<std::string> openblas_kernel_warning(std::string_view core, const CpuIsa& cpu);
// Whether the warning above is printed (once, on stderr, at the first product or LAPACK call):
// on unless set_openblas_warning(false) or MATGRAD_NO_OPENBLAS_WARNING is set (not to "0").
void set_openblas_warning(bool enabled);
bool openblas_warning_enabled();

struct BackendInfo {
  GemmBackend gemm_float32 = GemmBackend::openblas;
  GemmBackend gemm_float64 = GemmBackend::openblas;
  std::string onednn_version;  // "2.6.3"; empty when not built
  std::string onednn_isa;      // the kernels oneDNN dispatches to here, e.g. "AVX2"
  std::string openblas_config; // openblas_get_config(): version and build options
  std::string openblas_core;
  std::string cpu_model;
  CpuIsa cpu;
  int threads = 1;
  std::string threads_from;  // "MATGRAD_NUM_THREADS", "OMP_NUM_THREADS", "set_num_threads", "all CPUs"
  std::optional<std::string> openblas_warning;  // the check's finding, printed or not

  // A few lines for a program's header: backends per dtype, OpenBLAS's core, the CPU, threads.
  std::string to_string() const;
};
BackendInfo backend_info();

namespace detail {
void parallel_chunks(DType dtype, std::size_t n, std::size_t grain,
                     void (*run)(const void* body, std::size_t begin, std::size_t end),
                     const void* body);
}  // namespace detail

template <class F>
void parallel_for(DType dtype, std::size_t n, std::size_t grain, const F& body) {
  if (n < 2 * grain || dtype != DType::float32) {  // inline: the common case costs a compare
    body(std::size_t{0}, n);
    return;
  }
  detail::parallel_chunks(
      dtype, n, grain,
      [](const void* f, std::size_t begin, std::size_t end) { (*static_cast<const F*>(f))(begin, end); },
      &body);
}

}  // namespace matgrad
