// What happens at the first matrix product of a process (its own test executable, so that no
// product ran before): MATGRAD_NUM_THREADS is read, and the OpenBLAS kernel check prints its
// warning on stderr exactly when openblas_kernel_warning finds one for this machine, once.
#include <matgrad/matgrad.hpp>

#include "check_error.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

// What f writes to file descriptor 2 (stderr).
template <class F>
std::string capture_stderr(F&& f) {
  std::fflush(stderr);
  char path[] = "/tmp/matgrad-stderr-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const int saved = dup(2);
  dup2(fd, 2);
  try {
    f();
  } catch (...) {
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    unlink(path);
    throw;
  }
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unlink(path);
  return text;
}

}  // namespace

TEST_CASE("the first product applies MATGRAD_NUM_THREADS and prints the OpenBLAS check once") {
  unsetenv("MATGRAD_NO_OPENBLAS_WARNING");
  const Tensor a = ones({3, 3}, {.dtype = DType::float64});

  setenv("MATGRAD_NUM_THREADS", "two", 1);
  check_error<ValueError>([&] { (void)gemm(a, a); }, {"MATGRAD_NUM_THREADS", "positive integer", "\"two\""});

  setenv("MATGRAD_NUM_THREADS", "3", 1);
  const std::string first = capture_stderr([&] { CHECK(gemm(a, a).sum().item() == 27.0); });
  const auto expected = openblas_kernel_warning(openblas_core(), cpu_isa());
  CHECK(first == (expected ? *expected + "\n" : std::string()));
  CHECK(get_num_threads() == 3);
  CHECK(backend_info().threads_from == "MATGRAD_NUM_THREADS");

  const std::string later = capture_stderr([&] {
    (void)gemm(a, a);
    (void)matmul(ones({4, 4}), ones({4}));
    (void)inverse(eye(3, {.dtype = DType::float64}));
  });
  CHECK(later.empty());
  unsetenv("MATGRAD_NUM_THREADS");
}
