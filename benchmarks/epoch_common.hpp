// What the three epoch programs share: the workload's settings, the command line and the one
// line of results the driver (matgrad_bench) reads back.
#pragma once

#include <sys/resource.h>

#include <cblas.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace bench::epoch {

constexpr std::size_t kBatch = 128;
constexpr std::size_t kEvalBatch = 1000;
constexpr double kLr = 0.1;
constexpr std::size_t kClasses = 10;

struct Args {
  int threads = 0;  // threads of the products (OpenBLAS's here; matgrad's and oneDNN's in their
                    // programs); 0 keeps the defaults
  std::string dir = "/usr/share/datasets/fashion-mnist";
};

inline Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) a.threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--data-dir")) a.dir = argv[i + 1];
  }
  if (a.threads > 0) openblas_set_num_threads(a.threads);
  return a;
}

inline long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

// One line, "key=value ...", parsed by the driver.
inline void report(double load_ms, double epoch_ms, double eval_ms, double accuracy, double loss) {
  std::printf("load_ms=%.3f epoch_ms=%.3f eval_ms=%.3f maxrss_kib=%ld accuracy=%.4f loss=%.4f "
              "openblas_threads=%d\n",
              load_ms, epoch_ms, eval_ms, peak_rss_kib(), accuracy, loss,
              openblas_get_num_threads());
}

}  // namespace bench::epoch
