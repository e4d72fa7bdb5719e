// Timing helpers shared by the benchmarks: per-call times from repeated calls, medians over
// interleaved rounds, and the machine description for the table's header.
#pragma once

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstddef>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the whole process (user + system), which time slicing with other processes on
// a shared machine does not inflate.
inline double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Makes the compiler assume `value` is read, so that the work computing it is not dropped as
// dead code (a hand-coded loop whose result is discarded, once inlined, can be removed).
template <class T>
inline void keep(const T& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}

// Calls f until `budget` seconds have passed (at least `min_calls` times); seconds per call.
// The first `warmup` calls are not timed: in an interleaved comparison the other contenders
// have just filled the caches with their own data.
template <class F>
double time_per_call(F&& f, double budget, std::size_t min_calls = 1, std::size_t warmup = 0) {
  for (std::size_t i = 0; i < warmup; ++i) f();
  std::size_t calls = 0;
  const auto start = Clock::now();
  do {
    f();
    ++calls;
  } while (calls < min_calls || seconds_since(start) < budget);
  return seconds_since(start) / static_cast<double>(calls);
}

// One contender of an interleaved comparison: `sample` returns the seconds per call of one
// timed sample (it repeats the work itself).
struct Contender {
  std::string name;
  std::function<double()> sample;
};

// Per-contender samples of `rounds` interleaved rounds. Each round runs every contender once,
// in an order rotated from round to round, so slow drifts of the machine's load hit all of
// them alike; the contenders are warmed up once first.
inline std::vector<std::vector<double>> interleave(const std::vector<Contender>& contenders,
                                                   std::size_t rounds) {
  const std::size_t n = contenders.size();
  for (const Contender& c : contenders) c.sample();  // warm-up: caches, allocator, BLAS buffers
  std::vector<std::vector<double>> samples(n);
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (r + k) % n;
      samples[i].push_back(contenders[i].sample());
    }
  }
  return samples;
}

// The median over rounds of a/b measured in the same round: the ratio the table reports.
inline double ratio_of(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) r.push_back(a[i] / b[i]);
  return median(r);
}

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown CPU";
}

inline bool cpu_has(const std::string& flag) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0) return line.find(" " + flag + " ") != std::string::npos ||
                                             line.ends_with(" " + flag);
  }
  return false;
}

}  // namespace bench
