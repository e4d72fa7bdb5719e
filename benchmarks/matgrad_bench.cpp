// matgrad against hand-written backprop and libtorch, in one run: prints one Markdown table
// of absolute times and ratios, headed by the machine, compiler, BLAS and thread settings.
//
//   matgrad_bench [--rounds N] [--quick] [--only SECTION[,SECTION...]]
//   matgrad_bench --profile step|step64|hand|hand64|chain|matmul|logreg|handlogreg [seconds [threads]]
//
// Sections: check (gradients agree), step (MLP training step, float32 and float64, against the
// GEMM floor of each backend), logreg (a logistic-regression gradient: matrix-vector
// products), overhead (per-op cost on tiny tensors), engine (the per-op cost against ADOL-C,
// an HVP against its closed form, hessian/hvp over 10,000 calls, grad beside a large live
// graph, the memory of graphs built and dropped), scaling (batch size, width,
// backward/forward, chain length), epoch (Fashion-MNIST epoch time and peak RSS, each run a
// separate process), ddp (the epoch data-parallel on 2 MPI ranks against one process with 1
// and 2 threads), forward (forward mode: jvp against the plain forward, forward-over-reverse
// hvp against reverse over reverse and one gradient, hessian against its closed form).
//
// Every comparison runs its contenders in interleaved rounds (rotating order) and reports the
// median over rounds; a ratio is the median over rounds of the ratio measured in that round,
// so load on a shared machine hits both sides alike.
#include "bench_util.hpp"
#include "handcoded.hpp"
#ifdef MATGRAD_BENCH_TORCH
#include "torch_peer.hpp"
#endif
#ifdef MATGRAD_BENCH_ADOLC
#include "adolc_peer.hpp"
#endif

#include <matgrad/functional.hpp>
#include <matgrad/nn.hpp>

#include <xtensor/xadapt.hpp>

#include <cblas.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>

using namespace matgrad;
using bench::Contender;
using bench::median;
using bench::ratio_of;

namespace {

#ifdef MATGRAD_BENCH_TORCH
constexpr bool kTorch = true;
#else
constexpr bool kTorch = false;
#endif
#ifdef MATGRAD_BENCH_ADOLC
constexpr bool kAdolc = true;
#else
constexpr bool kAdolc = false;
#endif

struct Config {
  std::size_t rounds = 7;
  double budget = 0.15;  // seconds of repetitions per timed sample
  std::set<std::string> only;
  bool wants(const std::string& section) const { return only.empty() || only.count(section); }
};

// ---- the table ----

enum class Unit { time, per_op, mib, ratio };

struct Row {
  std::string name;
  Unit unit = Unit::time;
  std::optional<double> matgrad, hand, torch, floor_openblas, floor_onednn, other;
  // matgrad / peer, median of per-round ratios
  std::optional<double> vs_hand, vs_torch, vs_floor, vs_other;
  std::string other_name;  // the peer in the "other" column (ADOL-C, a closed form, ...)
  std::string goal;                         // e.g. "≤ 1.05× hand, ≤ 0.80× libtorch"
  std::optional<bool> met;
  std::string verdict;  // when there are two goals: each one's outcome
};

Row make_row(std::string name, Unit unit = Unit::time) {
  Row row;
  row.name = std::move(name);
  row.unit = unit;
  return row;
}

// A per-op overhead row from interleaved samples of {matgrad, hand[, torch]}, with its goal
// as a ratio to libtorch.
Row overhead_row(std::string name, const std::vector<std::vector<double>>& s, std::string goal,
                 double max_vs_torch) {
  Row row = make_row(std::move(name), Unit::per_op);
  row.matgrad = median(s[0]);
  row.hand = median(s[1]);
  row.vs_hand = ratio_of(s[0], s[1]);
  if (kTorch) {
    row.torch = median(s[2]);
    row.vs_torch = ratio_of(s[0], s[2]);
    row.goal = std::move(goal);
    row.met = *row.vs_torch <= max_vs_torch;
  }
  return row;
}

// Adds one more goal to a row: its text joins the goal column, its outcome the verdict.
void add_goal(Row& row, const std::string& goal, bool met) {
  const bool first = row.goal.empty();
  const std::string before = first ? "" : row.verdict.empty() ? (row.met.value_or(true) ? "yes" : "**no**") : row.verdict;
  row.goal = first ? goal : row.goal + ", " + goal;
  row.verdict = first ? "" : before + "; " + goal + (met ? " yes" : " **no**");
  row.met = row.met.value_or(true) && met;
}

std::vector<Row> table;
std::vector<std::string> notes;

std::string format_value(std::optional<double> v, Unit unit) {
  if (!v) return "–";
  const double x = *v;
  switch (unit) {
    case Unit::mib: return fmt::format("{:.0f} MiB", x);
    case Unit::ratio: return fmt::format("{:.2f}", x);
    case Unit::per_op:
      return x < 1e-6 ? fmt::format("{:.0f} ns/op", x * 1e9) : fmt::format("{:.2f} µs/op", x * 1e6);
    case Unit::time:
      if (x < 1e-3) return fmt::format("{:.1f} µs", x * 1e6);
      if (x < 1.0) return fmt::format("{:.3f} ms", x * 1e3);
      return fmt::format("{:.3f} s", x);
  }
  return "?";
}

std::string format_ratio(std::optional<double> r) { return r ? fmt::format("{:.3f}", *r) : "–"; }

void print_table() {
  fmt::print("| benchmark | matgrad | hand-coded | libtorch | GEMM floor OpenBLAS | GEMM floor "
             "oneDNN | other | matgrad / hand | matgrad / libtorch | matgrad / fastest floor | "
             "matgrad / other | goal | met |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
  for (const Row& r : table) {
    const std::string other =
        r.other ? fmt::format("{} ({})", format_value(r.other, r.unit), r.other_name) : "–";
    fmt::print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.name,
               format_value(r.matgrad, r.unit), format_value(r.hand, r.unit),
               format_value(r.torch, r.unit), format_value(r.floor_openblas, r.unit),
               format_value(r.floor_onednn, r.unit), other, format_ratio(r.vs_hand),
               format_ratio(r.vs_torch), format_ratio(r.vs_floor), format_ratio(r.vs_other),
               r.goal.empty() ? "" : r.goal,
               !r.verdict.empty() ? r.verdict : !r.met ? "" : *r.met ? "yes" : "**no**");
  }
  for (const std::string& n : notes) fmt::print("\n{}", n);
  fmt::print("\n");
}

void progress(const std::string& what) {
  std::fprintf(stderr, "[bench] %s\n", what.c_str());
  std::fflush(stderr);
}

// ---- the MLP in matgrad, as a user writes it ----

struct MatgradMlp {
  nn::Sequential model;
  std::unique_ptr<optim::SGD> optimizer;
  Tensor x;
  std::vector<std::size_t> targets;
  Tensor loss;

  MatgradMlp(const std::vector<std::size_t>& sizes, DType dtype, Generator& gen, double lr) {
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      model.push_back(nn::Linear(sizes[l], sizes[l + 1], gen, true, dtype));
      if (l + 2 < sizes.size()) model.push_back(nn::ReLU());
    }
    optimizer = std::make_unique<optim::SGD>(model.parameters(), optim::SGDOptions{.lr = lr});
  }

  double step() {
    optimizer->zero_grad();
    Tensor l = cross_entropy(model(x), targets);
    l.backward();
    optimizer->step();
    return l.item();
  }
  void forward() { loss = cross_entropy(model(x), targets); }
  void backward_only() {
    loss.backward();
    loss = Tensor();
    optimizer->zero_grad();
  }
};

// A batch of pixel-like inputs in [0, 1) and class targets, as float64 values.
struct Batch {
  std::vector<double> x;
  std::vector<std::size_t> targets;
};

Batch make_batch(std::size_t batch, std::size_t features, std::size_t classes, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Batch b;
  b.x.resize(batch * features);
  for (double& v : b.x) v = u(gen);
  b.targets.resize(batch);
  for (std::size_t i = 0; i < batch; ++i) b.targets[i] = gen() % classes;
  return b;
}

template <class T>
std::vector<T> cast_values(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <class T>
std::vector<double> values_of(const Tensor& t) {
  const auto& a = t.data<T>();
  return std::vector<double>(a.data(), a.data() + a.size());
}

// One MLP configuration with all three implementations on the same weights and batch.
template <class T>
struct MlpSet {
  std::vector<std::size_t> sizes;
  std::size_t batch;
  MatgradMlp mg;
  bench::HandMlp<T> hand;
  std::vector<T> x_hand;
  Batch data;
#ifdef MATGRAD_BENCH_TORCH
  std::unique_ptr<bench::torch_peer::Mlp> torch;
#endif

  MlpSet(std::vector<std::size_t> s, std::size_t b, bool with_torch, Generator& gen)
      : sizes(std::move(s)), batch(b), mg(sizes, dtype_of<T>(), gen, 0.1), hand(sizes, b) {
    data = make_batch(batch, sizes.front(), sizes.back(), 1);
    x_hand = cast_values<T>(data.x);
    mg.x = Tensor(xt::xarray<T>(xt::adapt(x_hand, Shape{batch, sizes.front()})));
    mg.targets = data.targets;
    const std::vector<Tensor> params = mg.model.parameters();
    std::vector<std::vector<double>> w, bias;
    for (std::size_t l = 0; l < hand.depth(); ++l) {
      const auto& pw = params[2 * l].data<T>();
      const auto& pb = params[2 * l + 1].data<T>();
      std::copy(pw.begin(), pw.end(), hand.layer(l).w.begin());
      std::copy(pb.begin(), pb.end(), hand.layer(l).b.begin());
      w.push_back(values_of<T>(params[2 * l]));
      bias.push_back(values_of<T>(params[2 * l + 1]));
    }
#ifdef MATGRAD_BENCH_TORCH
    if (with_torch) {
      torch = std::make_unique<bench::torch_peer::Mlp>(sizes, std::is_same_v<T, double>, w, bias, 0.1);
      torch->set_batch(data.x, data.targets);
    }
#else
    (void)with_torch;
#endif
  }

  double hand_step() { return hand.step(x_hand.data(), data.targets.data(), batch, T(0.1)); }
  void floor(bench::Sgemm library) {
    bench::with_sgemm(library, [&] { hand.gemms_only(x_hand.data(), batch); });
  }
};

// The largest |matgrad − peer| over all parameters' gradients, relative to the largest
// |peer| of the same parameter.
double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// Gradients of one forward/backward on fresh weights: matgrad vs hand-coded (vs libtorch).
template <class T>
void check_gradients(double tolerance) {
  Generator gen(42);
  MlpSet<T> set({784, 256, 128, 10}, 128, kTorch, gen);
  set.mg.optimizer->zero_grad();
  Tensor loss = cross_entropy(set.mg.model(set.mg.x), set.mg.targets);
  loss.backward();
  const double hand_loss = set.hand.forward(set.x_hand.data(), set.data.targets.data(), set.batch);
  set.hand.backward();
  const std::vector<Tensor> params = set.mg.model.parameters();
  double worst_hand = std::abs(loss.item() - hand_loss) / std::abs(hand_loss), worst_torch = 0;
  for (std::size_t l = 0; l < set.hand.depth(); ++l) {
    const auto& L = set.hand.layer(l);
    worst_hand = std::max(worst_hand, max_rel_diff(values_of<T>(params[2 * l].grad()),
                                                   std::vector<double>(L.gw.begin(), L.gw.end())));
    worst_hand = std::max(worst_hand, max_rel_diff(values_of<T>(params[2 * l + 1].grad()),
                                                   std::vector<double>(L.gb.begin(), L.gb.end())));
  }
#ifdef MATGRAD_BENCH_TORCH
  set.torch->step();  // zero_grad, forward, backward, update: the gradients stay until the next
  for (std::size_t k = 0; k < params.size(); ++k) {
    worst_torch = std::max(worst_torch, max_rel_diff(values_of<T>(params[k].grad()), set.torch->grad(k)));
  }
#endif
  // float32 on oneDNN: the same matgrad step with its GEMMs on OpenBLAS instead.
  std::optional<double> worst_backend;
  constexpr double backend_tolerance = 1e-5;
  if (std::is_same_v<T, float> && gemm_backend(DType::float32) == GemmBackend::onednn) {
    std::vector<std::vector<double>> grads{{loss.item()}};
    for (const Tensor& p : params) grads.push_back(values_of<T>(p.grad()));
    set_gemm_backend(GemmBackend::openblas);
    set.mg.optimizer->zero_grad();
    Tensor again = cross_entropy(set.mg.model(set.mg.x), set.mg.targets);
    again.backward();
    set_gemm_backend(GemmBackend::onednn);
    worst_backend = max_rel_diff(grads[0], {again.item()});
    for (std::size_t k = 0; k < params.size(); ++k) {
      worst_backend = std::max(*worst_backend, max_rel_diff(grads[k + 1], values_of<T>(params[k].grad())));
    }
  }
  const bool ok = worst_hand <= tolerance && (!kTorch || worst_torch <= tolerance) &&
                  (!worst_backend || *worst_backend <= backend_tolerance);
  notes.push_back(fmt::format(
      "Gradient cross-check ({}, 784-256-128-10, batch 128, same weights and batch): max "
      "relative difference of matgrad's loss and gradients vs hand-coded {:.1e}{}{}: {}.",
      dtype_name(dtype_of<T>()), worst_hand,
      kTorch ? fmt::format(", vs libtorch {:.1e}", worst_torch) : std::string(),
      worst_backend ? fmt::format(", on oneDNN vs on OpenBLAS {:.1e} (≤ {:.0e})", *worst_backend,
                                  backend_tolerance)
                    : std::string(),
      ok ? fmt::format("agree (≤ {:.0e})", tolerance) : "**DISAGREE**"));
  if (!ok) {
    print_table();
    std::fprintf(stderr, "gradient check failed\n");
    std::exit(1);
  }
}

std::string threads_label(int threads) { return fmt::format("{} thread{}", threads, threads == 1 ? "" : "s"); }

// One thread count for everyone: matgrad's (oneDNN's and OpenBLAS's pools), the hand-coded
// oneDNN calls', and OpenBLAS's for the hand-coded and libtorch peers (libtorch's own
// intra-op threads stay 1, see torch_sample).
void use_threads(int threads) {
  set_num_threads(threads);
  bench::onednn_threads = threads;
}

#ifdef MATGRAD_BENCH_TORCH
// A libtorch sample: its intra-op threads are OpenMP's count of this thread, which matgrad's and
// the hand-coded oneDNN calls set to theirs; put it back to 1 first (more would oversubscribe).
template <class F>
double torch_sample(F&& f, double budget, std::size_t min_calls, std::size_t warmup = 0) {
  bench::torch_peer::set_intra_op_threads(1);
  return bench::time_per_call(std::forward<F>(f), budget, min_calls, warmup);
}
#endif

#ifdef MATGRAD_BENCH_ONEDNN
constexpr bool kOneDnn = true;
#else
constexpr bool kOneDnn = false;
#endif

// The bounds a step row is held to, each on a ratio of matgrad to a peer (0: none).
struct StepGoals {
  double vs_hand = 0, vs_floor = 0, vs_torch = 0;
  std::string text;  // e.g. "≤ 1.05× fastest floor, ≤ 0.80× libtorch"
};

// Which GEMM floors a row times: none, the one of the library matgrad uses, or every one built.
enum class Floors { none, matgrads, every };

// One MLP step comparison, appended to the table.
template <class T>
void step_row(const std::string& name, const Config& cfg, std::vector<std::size_t> sizes,
              std::size_t batch, bool with_torch, Floors floors, const StepGoals& goals) {
  progress(name);
  Generator gen(7);
  MlpSet<T> set(std::move(sizes), batch, with_torch && kTorch, gen);
  auto timed = [&](auto&& f) { return bench::time_per_call(f, cfg.budget, 3, 2); };
  std::vector<Contender> c{{"matgrad", [&] { return timed([&] { set.mg.step(); }); }},
                           {"hand", [&] { return timed([&] { set.hand_step(); }); }}};
  std::optional<std::size_t> at_torch, at_openblas, at_onednn;
#ifdef MATGRAD_BENCH_TORCH
  if (set.torch) {
    at_torch = c.size();
    c.push_back({"torch", [&] { return torch_sample([&] { set.torch->step(); }, cfg.budget, 3, 2); }});
  }
#endif
  // float64 GEMMs run on OpenBLAS only.
  const bool float32 = std::is_same_v<T, float>;
  const bool matgrad_on_onednn = float32 && gemm_backend(DType::float32) == GemmBackend::onednn;
  if (floors == Floors::every || (floors == Floors::matgrads && !matgrad_on_onednn)) {
    at_openblas = c.size();
    c.push_back({"floor OpenBLAS", [&] { return timed([&] { set.floor(bench::Sgemm::openblas); }); }});
  }
  if (float32 && kOneDnn && (floors == Floors::every || (floors == Floors::matgrads && matgrad_on_onednn))) {
    at_onednn = c.size();
    c.push_back({"floor oneDNN", [&] { return timed([&] { set.floor(bench::Sgemm::onednn); }); }});
  }
  const auto s = bench::interleave(c, cfg.rounds);
  Row row = make_row(name);
  row.matgrad = median(s[0]);
  row.hand = median(s[1]);
  row.vs_hand = ratio_of(s[0], s[1]);
  if (at_torch) {
    row.torch = median(s[*at_torch]);
    row.vs_torch = ratio_of(s[0], s[*at_torch]);
  }
  std::optional<std::size_t> fastest;
  for (const auto& at : {at_openblas, at_onednn}) {
    if (at && (!fastest || median(s[*at]) < median(s[*fastest]))) fastest = at;
  }
  if (at_openblas) row.floor_openblas = median(s[*at_openblas]);
  if (at_onednn) row.floor_onednn = median(s[*at_onednn]);
  if (fastest) row.vs_floor = ratio_of(s[0], s[*fastest]);
  row.goal = goals.text;
  std::vector<std::string> verdicts;
  bool all = true;
  auto judge = [&](const char* what, std::optional<double> ratio, double bound) {
    if (bound <= 0 || !ratio) return;
    const bool met = *ratio <= bound;
    all = all && met;
    verdicts.push_back(fmt::format("{} {}", what, met ? "yes" : "**no**"));
  };
  judge("hand", row.vs_hand, goals.vs_hand);
  judge("floor", row.vs_floor, goals.vs_floor);
  judge("libtorch", row.vs_torch, goals.vs_torch);
  if (!verdicts.empty()) {
    row.met = all;
    if (verdicts.size() > 1) row.verdict = fmt::format("{}", fmt::join(verdicts, ", "));
  }
  table.push_back(row);
}

// Floating-point operations of one step's GEMMs: three forward, and two per layer backward
// but one for the first (no gradient for the input).
double step_gemm_flops(const std::vector<std::size_t>& sizes, std::size_t batch) {
  double flops = 0;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    flops += (l == 0 ? 2 : 3) * 2.0 * double(batch) * double(sizes[l]) * double(sizes[l + 1]);
  }
  return flops;
}

// GFLOPS of a large square sgemm on the current threads (the best of 5), on one library.
double square_sgemm_gflops(bench::Sgemm library) {
  constexpr std::size_t n = 1024;
  const std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f);
  std::vector<float> c(n * n);
  double best = 1e9;
  bench::with_sgemm(library, [&] {
    for (int r = 0; r < 5; ++r) {
      const auto start = bench::Clock::now();
      bench::gemm(false, false, n, n, n, a.data(), n, b.data(), n, c.data(), n);
      best = std::min(best, bench::seconds_since(start));
    }
  });
  return 2.0 * n * n * n / best / 1e9;
}

// The note under the table: each floor's rate, beside a large sgemm's on the same library.
void floor_note(const Row& row, const std::vector<std::size_t>& sizes, int threads) {
  const double flops = step_gemm_flops(sizes, 128);
  std::vector<std::string> parts;
  if (row.floor_openblas) {
    parts.push_back(fmt::format("OpenBLAS (core {}) {} = {:.0f} GFLOPS (a 1024³ sgemm: {:.0f})",
                                openblas_core(), format_value(*row.floor_openblas, Unit::time),
                                flops / *row.floor_openblas / 1e9,
                                square_sgemm_gflops(bench::Sgemm::openblas)));
  }
  if (row.floor_onednn) {
    parts.push_back(fmt::format("oneDNN {} = {:.0f} GFLOPS (a 1024³ sgemm: {:.0f})",
                                format_value(*row.floor_onednn, Unit::time),
                                flops / *row.floor_onednn / 1e9,
                                square_sgemm_gflops(bench::Sgemm::onednn)));
  }
  notes.push_back(fmt::format(
      "GEMM floors, float32, {}: the 8 GEMMs of a step ({:.1f} MFLOP) on {}. A step on these "
      "GEMMs cannot beat its floor, so the fastest floor bounds matgrad / libtorch from below "
      "at floor / libtorch.",
      threads_label(threads), flops / 1e6, fmt::join(parts, "; ")));
}

void pools_note(const Config& cfg, int threads);

void section_step(const Config& coarse, int default_threads) {
  const std::vector<std::size_t> mlp{784, 256, 128, 10};
  StepGoals f32{.vs_floor = 1.05, .vs_torch = kTorch ? 0.80 : 0.0,
                .text = kTorch ? "≤ 1.05× fastest floor, ≤ 0.80× libtorch" : "≤ 1.05× fastest floor"};
  const StepGoals f64{.vs_hand = 1.05, .text = "≤ 1.05× hand (float64)"};
  // The target rows: three times the rounds at a third of the sample length, so that a change
  // of the shared machine's load within a round (seconds) hits fewer of its samples unevenly.
  Config cfg = coarse;
  cfg.rounds *= 3;
  cfg.budget /= 3;
  for (int threads : {1, default_threads}) {
    use_threads(threads);
    const std::string label = threads_label(threads) + (threads == default_threads ? " (default)" : "");
    step_row<float>("MLP step, float32, batch 128, " + label, cfg, mlp, 128, true, Floors::every, f32);
    floor_note(table.back(), mlp, threads);
    if (default_threads == 1) break;
  }
  for (int threads : {1, default_threads}) {
    use_threads(threads);
    const std::string label = threads_label(threads) + (threads == default_threads ? " (default)" : "");
    step_row<double>("MLP step, float64, batch 128, " + label, cfg, mlp, 128, true, Floors::every, f64);
    if (default_threads == 1) break;
  }
  pools_note(coarse, default_threads);
}

// Both pools in turn at the default threads: a float32 step (oneDNN's OpenMP threads) then a
// float64 step (OpenBLAS's threads), against the two apart. Idle OpenMP threads spin for a
// while before they sleep, and so do OpenBLAS's: pools used in turn can fight for the cores.
void pools_note(const Config& cfg, int threads) {
  if (!kOneDnn || threads < 2) return;
  progress("two pools in turn");
  use_threads(threads);
  Generator gen(9);
  MlpSet<float> f32({784, 256, 128, 10}, 128, false, gen);
  MlpSet<double> f64({784, 256, 128, 10}, 128, false, gen);
  auto timed = [&](auto&& f) { return bench::time_per_call(f, cfg.budget, 3, 2); };
  const auto s = bench::interleave({{"f32", [&] { return timed([&] { f32.mg.step(); }); }},
                                    {"f64", [&] { return timed([&] { f64.mg.step(); }); }},
                                    {"both", [&] { return timed([&] { f32.mg.step(); f64.mg.step(); }); }}},
                                   cfg.rounds);
  std::vector<double> apart;
  for (std::size_t r = 0; r < s[0].size(); ++r) apart.push_back(s[0][r] + s[1][r]);
  notes.push_back(fmt::format(
      "Two pools in turn, {}: a float32 MLP step (oneDNN) then a float64 one (OpenBLAS) take {} "
      "against {} + {} apart: {:.2f}× (1 would mean no interference; matgrad itself never mixes "
      "them within one dtype's products).",
      threads_label(threads), format_value(median(s[2]), Unit::time),
      format_value(median(s[0]), Unit::time), format_value(median(s[1]), Unit::time),
      ratio_of(s[2], apart)));
}

// ---- a logistic-regression gradient: matrix-vector products ----

// mean BCE-with-logits of X w against labels y, X [n, d], and its gradient for w, by hand:
//   z = X w,  loss = mean(softplus(z) − y z),  gw = Xᵀ (σ(z) − y) / n
// with dgemv (the products matgrad now runs) or dgemm with one column (what it ran before).
struct HandLogreg {
  std::size_t n, d;
  std::vector<double> x, y, w, z, gw;
  bool gemv = true;
  double run() {
    if (gemv) {
      cblas_dgemv(CblasRowMajor, CblasNoTrans, int(n), int(d), 1.0, x.data(), int(d), w.data(), 1,
                  0.0, z.data(), 1);
    } else {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(n), 1, int(d), 1.0, x.data(),
                  int(d), w.data(), 1, 0.0, z.data(), 1);
    }
    double loss = 0;
    const double inv_n = 1.0 / double(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double zi = z[i];
      loss += std::max(zi, 0.0) - zi * y[i] + std::log1p(std::exp(-std::abs(zi)));
      z[i] = (1.0 / (1.0 + std::exp(-zi)) - y[i]) * inv_n;
    }
    if (gemv) {
      cblas_dgemv(CblasRowMajor, CblasTrans, int(n), int(d), 1.0, x.data(), int(d), z.data(), 1,
                  0.0, gw.data(), 1);
    } else {
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(d), 1, int(n), 1.0, x.data(),
                  int(d), z.data(), 1, 0.0, gw.data(), 1);
    }
    return loss * inv_n;
  }
};

struct LogregSet {
  HandLogreg hand;
  Tensor x, y, w;
  explicit LogregSet(std::size_t n = 1000, std::size_t d = 50) : hand{n, d, {}, {}, {}, {}, {}} {
    std::mt19937_64 gen(5);
    std::normal_distribution<double> normal;
    hand.x.resize(n * d);
    for (double& v : hand.x) v = normal(gen);
    hand.w.resize(d);
    for (double& v : hand.w) v = 0.1 * normal(gen);
    hand.y.resize(n);
    for (double& v : hand.y) v = double(gen() % 2);
    hand.z.resize(n);
    hand.gw.resize(d);
    x = Tensor(xt::xarray<double>(xt::adapt(hand.x, Shape{n, d})));
    y = Tensor(xt::xarray<double>(xt::adapt(hand.y, Shape{n})));
    w = Tensor(xt::xarray<double>(xt::adapt(hand.w, Shape{d})), true);
  }
  double matgrad_step() {
    Tensor loss = binary_cross_entropy_with_logits(matmul(x, w), y);
    loss.backward();
    const double value = loss.item();
    w.zero_grad();
    return value;
  }
};

void section_logreg(const Config& cfg) {
  use_threads(1);
  progress("logistic-regression gradient");
  LogregSet set;
  // The gradients agree before anything is timed.
  Tensor loss = binary_cross_entropy_with_logits(matmul(set.x, set.w), set.y);
  loss.backward();
  const double hand_loss = set.hand.run();
  const double diff = std::max(std::abs(loss.item() - hand_loss) / std::abs(hand_loss),
                               max_rel_diff(values_of<double>(set.w.grad()), set.hand.gw));
  set.w.zero_grad();
  HandLogreg by_gemm = set.hand;
  by_gemm.gemv = false;
  std::vector<Contender> c{
      {"matgrad", [&] { return bench::time_per_call([&] { set.matgrad_step(); }, cfg.budget, 3, 2); }},
      {"hand", [&] { return bench::time_per_call([&] { bench::keep(set.hand.run()); }, cfg.budget, 3, 2); }},
      {"hand dgemm", [&] { return bench::time_per_call([&] { bench::keep(by_gemm.run()); }, cfg.budget, 3, 2); }}};
  const auto s = bench::interleave(c, cfg.rounds);
  Row row = make_row("logistic-regression gradient, X 1000×50, float64, 1 thread");
  row.matgrad = median(s[0]);
  row.hand = median(s[1]);
  row.vs_hand = ratio_of(s[0], s[1]);
  row.goal = "≤ 1.2× hand";
  row.met = *row.vs_hand <= 1.2;
  table.push_back(row);
  notes.push_back(fmt::format(
      "Logistic regression (mean BCE with logits of X w, gradient for w): matgrad's loss and "
      "gradient vs hand-written {:.1e} relative; the hand-written gradient on dgemv {}, on "
      "dgemm with one column {} ({:.2f}× as long: why matrix-vector products run as gemv).",
      diff, format_value(median(s[1]), Unit::time), format_value(median(s[2]), Unit::time),
      ratio_of(s[2], s[1])));
}

// ---- per-op overhead ----

// `ops` ops alternating mul/add/tanh on one-element tensors of `dtype`, from a leaf that
// requires grad: the graph, not yet differentiated.
Tensor chain_graph(std::size_t ops, DType dtype = DType::float32) {
  static const Tensor scale32 = full({1}, 0.999), shift32 = full({1}, 0.001);
  static const Tensor scale64 = full({1}, 0.999, {.dtype = DType::float64});
  static const Tensor shift64 = full({1}, 0.001, {.dtype = DType::float64});
  const bool f64 = dtype == DType::float64;
  Tensor y = full({1}, 0.5, {.dtype = dtype, .requires_grad = true});
  for (std::size_t i = 0; i < ops; ++i) {
    switch (i % 3) {
      case 0: y = y * (f64 ? scale64 : scale32); break;
      case 1: y = y + (f64 ? shift64 : shift32); break;
      default: y = tanh(y); break;
    }
  }
  return y;
}

// The chain, forward and backward.
void matgrad_scalar_chain(std::size_t ops, DType dtype = DType::float32) {
  chain_graph(ops, dtype).backward();
}

// The same chain by hand: values forward, the derivative product backward.
float hand_scalar_chain(std::size_t ops, std::vector<float>& v) {
  v.resize(ops + 1);
  v[0] = 0.5f;
  for (std::size_t i = 0; i < ops; ++i) {
    switch (i % 3) {
      case 0: v[i + 1] = v[i] * 0.999f; break;
      case 1: v[i + 1] = v[i] + 0.001f; break;
      default: v[i + 1] = std::tanh(v[i]); break;
    }
  }
  float g = 1;
  for (std::size_t i = ops; i-- > 0;) {
    switch (i % 3) {
      case 0: g *= 0.999f; break;
      case 1: break;
      default: g *= 1 - v[i + 1] * v[i + 1]; break;
    }
  }
  return g;
}

// A random orthogonal 16×16 matrix (Gram–Schmidt), so that a long product neither blows up
// nor underflows into denormals.
std::vector<float> orthogonal16(std::uint64_t seed) {
  constexpr std::size_t n = 16;
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  std::vector<double> q(n * n);
  for (double& v : q) v = normal(gen);
  for (std::size_t i = 0; i < n; ++i) {
    double* row = &q[i * n];
    for (std::size_t j = 0; j < i; ++j) {
      const double* prev = &q[j * n];
      double dot = 0;
      for (std::size_t k = 0; k < n; ++k) dot += row[k] * prev[k];
      for (std::size_t k = 0; k < n; ++k) row[k] -= dot * prev[k];
    }
    double norm = 0;
    for (std::size_t k = 0; k < n; ++k) norm += row[k] * row[k];
    for (std::size_t k = 0; k < n; ++k) row[k] /= std::sqrt(norm);
  }
  return std::vector<float>(q.begin(), q.end());
}

// Y_{i+1} = Y_i W for 16×16 matrices, then the gradient of sum(Y_n) for W, by hand.
struct HandMatmulChain {
  std::vector<float> w, y0, ys, g, g_next, gw;
  void run(std::size_t ops) {
    constexpr std::size_t n = 16, nn = n * n;
    ys.resize((ops + 1) * nn);
    std::copy(y0.begin(), y0.end(), ys.begin());
    for (std::size_t i = 0; i < ops; ++i) {
      bench::gemm(false, false, n, n, n, &ys[i * nn], n, w.data(), n, &ys[(i + 1) * nn], n);
    }
    g.assign(nn, 1.0f);
    g_next.resize(nn);
    gw.assign(nn, 0.0f);
    for (std::size_t i = ops; i-- > 0;) {
      // gW += Y_iᵀ G,  G ← G Wᵀ
      bench::gemm(true, false, n, n, n, &ys[i * nn], n, g.data(), n, gw.data(), n, 1.0f);
      bench::gemm(false, true, n, n, n, g.data(), n, w.data(), n, g_next.data(), n);
      std::swap(g, g_next);
    }
  }
};

void section_overhead(const Config& cfg) {
  use_threads(1);
  {
    constexpr std::size_t ops = 100000;
    progress("per-op overhead: 1-element chain");
    std::vector<float> scratch;
    std::vector<Contender> c{
        {"matgrad", [&] { return bench::time_per_call([&] { matgrad_scalar_chain(ops); }, cfg.budget, 2) / ops; }},
        {"hand", [&] { return bench::time_per_call([&] { bench::keep(hand_scalar_chain(ops, scratch)); }, cfg.budget, 2) / ops; }}};
#ifdef MATGRAD_BENCH_TORCH
    c.push_back({"torch", [&] { return torch_sample([&] { bench::torch_peer::scalar_chain(ops); }, cfg.budget, 2) / ops; }});
#endif
    Row row = overhead_row("per-op overhead: 100,000 ops mul/add/tanh on 1-element tensors, fwd + bwd",
                           bench::interleave(c, cfg.rounds), "≤ 0.10× libtorch", 0.10);
    add_goal(row, "≤ 250 ns/op", *row.matgrad <= 250e-9);
    table.push_back(row);
  }
  {
    constexpr std::size_t ops = 10000;
    progress("per-op overhead: 16x16 matmul chain");
    const std::vector<float> w = orthogonal16(3), y0 = orthogonal16(4);
    HandMatmulChain hand{w, y0, {}, {}, {}, {}};
    const Tensor wt = Tensor(xt::xarray<float>(xt::adapt(w, Shape{16, 16})), true);
    const Tensor y0t = Tensor(xt::xarray<float>(xt::adapt(y0, Shape{16, 16})));
    auto matgrad_chain = [&] {
      Tensor y = y0t;
      for (std::size_t i = 0; i < ops; ++i) y = matmul(y, wt);
      y.backward(ones_like(y));
      Tensor(wt).zero_grad();
    };
#ifdef MATGRAD_BENCH_TORCH
    bench::torch_peer::MatmulChain torch_chain(w, y0);
#endif
    std::vector<Contender> c{
        {"matgrad", [&] { return bench::time_per_call(matgrad_chain, cfg.budget, 2) / ops; }},
        {"hand", [&] { return bench::time_per_call([&] { hand.run(ops); }, cfg.budget, 2) / ops; }}};
#ifdef MATGRAD_BENCH_TORCH
    c.push_back({"torch", [&] { return torch_sample([&] { torch_chain.run(ops); }, cfg.budget, 2) / ops; }});
#endif
    Row row = overhead_row("per-op overhead: 10,000 matmuls of 16×16 float32, fwd + bwd",
                           bench::interleave(c, cfg.rounds), "≤ 0.50× libtorch", 0.50);
    add_goal(row, "≤ 1.5× hand", *row.vs_hand <= 1.5);
    table.push_back(row);
  }
}

// ---- the engine: cost and memory that follow the live graph ----

// The resident set now, from /proc/self/statm.
double resident_mib() {
  std::ifstream in("/proc/self/statm");
  double pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double peak_resident_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024;
}

// f(x) = Σ softplus(A x) + ½ xᵀx = Σ log(1 + exp(A x)) + ½ xᵀx, A 100×20, and its Hessian-vector
// product in closed form:
// H v = Aᵀ (p ⊙ (1 − p) ⊙ A v) + v, p = σ(A x).
struct LogisticHvp {
  static constexpr std::size_t m = 100, n = 20;
  std::vector<double> a, x, v, z, w, hv;
  Tensor at, xt, vt;
  LogisticHvp() : a(m * n), x(n), v(n), z(m), w(m), hv(n) {
    std::mt19937_64 gen(11);
    std::normal_distribution<double> normal;
    for (double& e : a) e = normal(gen) / std::sqrt(double(n));
    for (double& e : x) e = normal(gen);
    for (double& e : v) e = normal(gen);
    at = Tensor(xt::xarray<double>(xt::adapt(a, Shape{m, n})));
    xt = Tensor(xt::xarray<double>(xt::adapt(x, Shape{n})));
    vt = Tensor(xt::xarray<double>(xt::adapt(v, Shape{n})));
  }
  static Tensor f(const Tensor& a, const Tensor& x) {
    return sum(softplus(matmul(a, x))) + 0.5 * sum(x * x);
  }
  Tensor matgrad_hvp() const {
    return hvp([this](const Tensor& x) { return f(at, x); }, xt, vt).product;
  }
  Tensor matgrad_hessian() const {
    return hessian([this](const Tensor& x) { return f(at, x); }, xt);
  }
  const std::vector<double>& closed_form() {
    for (std::size_t i = 0; i < m; ++i) {
      double ax = 0, av = 0;
      for (std::size_t j = 0; j < n; ++j) {
        ax += a[i * n + j] * x[j];
        av += a[i * n + j] * v[j];
      }
      const double p = 1 / (1 + std::exp(-ax));
      w[i] = p * (1 - p) * av;
    }
    std::copy(v.begin(), v.end(), hv.begin());
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < n; ++j) hv[j] += a[i * n + j] * w[i];
    }
    return hv;
  }
};

// Run as a child (--graphs k): builds and drops k graphs of 1.1M ops in turn, then prints its
// resident set at the start (after one small graph), its peak and after the last graph is gone.
int graphs_child(std::size_t k) {
  chain_graph(1000);  // the allocator, the pool and the thread's state set up
  const double start = resident_mib();
  for (std::size_t i = 0; i < k; ++i) {
    Tensor y = chain_graph(1'100'000);
    if (!y.requires_grad()) return 1;
  }
  fmt::print("start_mib={} peak_mib={} end_mib={}\n", start, peak_resident_mib(), resident_mib());
  return 0;
}

std::map<std::string, double> run_child(const std::string& command);

void section_engine(const Config& cfg, const std::filesystem::path& dir) {
  set_num_threads(1);
  // The chain in float64 against ADOL-C, taping + gradient.
  if (kAdolc) {
    constexpr std::size_t ops = 100000;
    progress("engine: 1-element chain, float64, vs ADOL-C");
    std::vector<Contender> c{
        {"matgrad", [&] { return bench::time_per_call([&] { matgrad_scalar_chain(ops, DType::float64); }, cfg.budget, 2) / ops; }}};
#ifdef MATGRAD_BENCH_ADOLC
    c.push_back({"adolc", [&] { return bench::time_per_call([&] { bench::adolc_peer::tape_and_gradient(ops); }, cfg.budget, 2) / ops; }});
#endif
    const auto samples = bench::interleave(c, cfg.rounds);
    Row row = make_row("per-op overhead: 100,000 ops mul/add/tanh, float64, fwd + bwd, vs ADOL-C taping + gradient", Unit::per_op);
    row.matgrad = median(samples[0]);
    row.other = median(samples[1]);
    row.other_name = "ADOL-C";
    row.vs_other = ratio_of(samples[0], samples[1]);
    add_goal(row, "≤ 2.6× ADOL-C", *row.vs_other <= 2.6);
    table.push_back(row);
  } else {
    notes.push_back("ADOL-C rows skipped: libadolc-dev is not installed.");
  }

  // One HVP against its closed form, and hessian()/hvp() over 10,000 calls.
  LogisticHvp problem;
  {
    progress("engine: HVP vs closed form");
    const Tensor hv = problem.matgrad_hvp();
    const std::vector<double>& closed = problem.closed_form();
    double diff = 0;
    for (std::size_t j = 0; j < LogisticHvp::n; ++j) diff = std::max(diff, std::abs(hv.data<double>()(j) - closed[j]));
    std::vector<Contender> c{
        {"matgrad", [&] { return bench::time_per_call([&] { problem.matgrad_hvp(); }, cfg.budget, 3); }},
        {"closed", [&] { return bench::time_per_call([&] { problem.closed_form(); }, cfg.budget, 3); }}};
    const auto samples = bench::interleave(c, cfg.rounds);
    Row row = make_row("hvp() of Σ softplus(A x) + ½ xᵀx, x ∈ R^20, A 100×20, float64");
    row.matgrad = median(samples[0]);
    row.other = median(samples[1]);
    row.other_name = "closed form";
    row.vs_other = ratio_of(samples[0], samples[1]);
    add_goal(row, "≤ 12 µs", *row.matgrad <= 12e-6);
    add_goal(row, "≤ 7× closed form", *row.vs_other <= 7);
    table.push_back(row);
    notes.push_back(fmt::format("hvp() against the closed form Aᵀ(p(1 − p) ⊙ Av) + v: max abs difference {:.1e}.", diff));
  }
  for (const bool is_hessian : {true, false}) {
    const std::string what = is_hessian ? "hessian()" : "hvp()";
    progress("engine: " + what + " over 10,000 calls");
    constexpr std::size_t blocks = 10, per_block = 1000;
    std::vector<double> times, rss;
    for (std::size_t b = 0; b < blocks; ++b) {
      const auto start = bench::Clock::now();
      for (std::size_t i = 0; i < per_block; ++i) {
        if (is_hessian) problem.matgrad_hessian(); else problem.matgrad_hvp();
      }
      times.push_back(bench::seconds_since(start) / per_block);
      rss.push_back(resident_mib());
    }
    // The last five blocks against the first five, by their medians (a shared machine's load
    // moves a single block by more than 10 %); RSS at the end against after the first block.
    const double growth = median({times.begin() + blocks / 2, times.end()}) /
                          median({times.begin(), times.begin() + blocks / 2});
    const double rss_growth = rss.back() / rss[0];
    Row row = make_row(fmt::format("{} 10,000 calls on one thread: time per call (median of 10 blocks of 1,000)", what));
    row.matgrad = median(times);
    row.goal = fmt::format("flat ±10 %: calls 5,001–10,000 / calls 1–5,000 = {:.3f} in time; RSS {:.1f} → {:.1f} MiB ({:.3f})",
                           growth, rss[0], rss.back(), rss_growth);
    row.met = growth <= 1.10 && growth >= 0.90 && rss_growth <= 1.10;
    table.push_back(row);
  }

  // grad of a small graph beside a large live one: the walk touches only the small graph.
  {
    progress("engine: grad beside a live 1M-op graph");
    Tensor w = full({4}, 0.5, {.dtype = DType::float64, .requires_grad = true});
    auto small = [&] {
      Tensor y = w;
      for (int i = 0; i < 100; ++i) y = i % 2 ? tanh(y) : y * 1.01;
      return grad({sum(y)}, {w});
    };
    std::vector<double> empty, beside;
    small();
    for (std::size_t r = 0; r < cfg.rounds; ++r) {
      empty.push_back(bench::time_per_call(small, cfg.budget, 3));
      Tensor big = chain_graph(1'000'000);
      beside.push_back(bench::time_per_call(small, cfg.budget, 3));
    }
    Row row = make_row("grad of a 100-op graph beside a live 1,000,000-op graph (vs with nothing else alive)");
    row.matgrad = median(beside);
    row.other = median(empty);
    row.other_name = "nothing else alive";
    row.vs_other = ratio_of(beside, empty);
    add_goal(row, "≤ 1.1×", *row.vs_other <= 1.1);
    table.push_back(row);
  }

  // Three graphs of 1.1M ops built and dropped in turn, against one: separate processes.
  {
    progress("engine: 1 and 3 graphs of 1.1M ops, one process each");
    std::vector<double> one, three, back;
    const std::size_t rounds = std::max<std::size_t>(3, cfg.rounds / 2);
    for (std::size_t r = 0; r < rounds; ++r) {
      auto a = run_child(fmt::format("'{}' --graphs 1", (dir / "matgrad_bench").string()));
      auto b = run_child(fmt::format("'{}' --graphs 3", (dir / "matgrad_bench").string()));
      if (a.empty() || b.empty()) continue;
      one.push_back(a["peak_mib"]);
      three.push_back(b["peak_mib"]);
      back.push_back(b["end_mib"] / b["start_mib"]);
    }
    if (!one.empty()) {
      Row row = make_row("peak RSS: 3 graphs of 1.1M ops built and dropped in turn (vs 1 graph)", Unit::mib);
      row.matgrad = median(three);
      row.other = median(one);
      row.other_name = "1 graph";
      row.vs_other = ratio_of(three, one);
      add_goal(row, "≤ 1.2× one graph", *row.vs_other <= 1.2);
      table.push_back(row);
      Row end = make_row("RSS after the last of the 3 graphs is dropped, / RSS at the start", Unit::ratio);
      end.matgrad = median(back);
      add_goal(end, "≤ 1.10", *end.matgrad <= 1.10);
      table.push_back(end);
    }
  }
}

// ---- scaling ----

void section_scaling(const Config& cfg) {
  use_threads(1);
  Config quick = cfg;
  quick.rounds = std::max<std::size_t>(5, cfg.rounds - 2);
  quick.budget = cfg.budget * 0.6;
  for (std::size_t batch : {32, 64, 128, 256, 512, 1024}) {
    step_row<float>(fmt::format("scaling: step, batch {}, 784-256-128-10, 1 thread", batch), quick,
                    {784, 256, 128, 10}, batch, false, Floors::matgrads, {});
  }
  for (std::size_t width : {64, 128, 256, 512, 1024, 2048}) {
    step_row<float>(fmt::format("scaling: step, width {}: 784-{}-{}-10, batch 128, 1 thread", width,
                                width, width / 2),
                    quick, {784, width, width / 2, 10}, 128, false, Floors::matgrads, {});
  }

  // Backward / forward: each step timed in two parts, forward (with the loss) and backward.
  {
    progress("scaling: backward/forward");
    Generator gen(7);
    MlpSet<float> set({784, 256, 128, 10}, 128, kTorch, gen);
    struct Split {
      std::vector<double> fwd, bwd;
    };
    std::vector<Split> parts(3);
    auto timed = [&](Split& p, auto&& forward, auto&& backward) {
      double f = 0, b = 0;
      std::size_t calls = 0;
      const auto start = bench::Clock::now();
      do {
        const auto t0 = bench::Clock::now();
        forward();
        const auto t1 = bench::Clock::now();
        backward();
        const auto t2 = bench::Clock::now();
        f += std::chrono::duration<double>(t1 - t0).count();
        b += std::chrono::duration<double>(t2 - t1).count();
        ++calls;
      } while (calls < 3 || bench::seconds_since(start) < cfg.budget);
      p.fwd.push_back(f / calls);
      p.bwd.push_back(b / calls);
      return (f + b) / calls;
    };
    std::vector<Contender> c{
        {"matgrad", [&] { return timed(parts[0], [&] { set.mg.forward(); }, [&] { set.mg.backward_only(); }); }},
        {"hand", [&] {
           return timed(parts[1], [&] { set.hand.forward(set.x_hand.data(), set.data.targets.data(), 128); },
                        [&] { set.hand.backward(); });
         }}};
#ifdef MATGRAD_BENCH_TORCH
    c.push_back({"torch", [&] {
                   bench::torch_peer::set_intra_op_threads(1);
                   return timed(parts[2], [&] { set.torch->forward(); }, [&] { set.torch->backward_only(); });
                 }});
#endif
    for (Split& p : parts) p = {};
    bench::interleave(c, cfg.rounds);
    auto bwd_over_fwd = [](const Split& p) { return ratio_of(p.bwd, p.fwd); };
    Row row = make_row("scaling: backward / forward time, MLP step, float32, batch 128, 1 thread", Unit::ratio);
    // The warm-up samples were pushed too: drop them.
    for (Split& p : parts) {
      if (!p.fwd.empty()) {
        p.fwd.erase(p.fwd.begin());
        p.bwd.erase(p.bwd.begin());
      }
    }
    row.matgrad = bwd_over_fwd(parts[0]);
    row.hand = bwd_over_fwd(parts[1]);
    if (kTorch) row.torch = bwd_over_fwd(parts[2]);
    table.push_back(row);
    // One row per half of the step: its times, and ratios against hand-coded and libtorch.
    auto half_row = [&](const std::string& name, std::vector<double> Split::*half) {
      Row r = make_row(name);
      r.matgrad = median(parts[0].*half);
      r.hand = median(parts[1].*half);
      r.vs_hand = ratio_of(parts[0].*half, parts[1].*half);
      if (kTorch) {
        r.torch = median(parts[2].*half);
        r.vs_torch = ratio_of(parts[0].*half, parts[2].*half);
      }
      table.push_back(r);
    };
    half_row("scaling: forward (with loss) alone, MLP, float32, batch 128, 1 thread", &Split::fwd);
    half_row("scaling: backward alone, MLP, float32, batch 128, 1 thread", &Split::bwd);
  }

  // Chain length: the cost per op of a 1,000,000-op chain against a 100,000-op one.
  {
    progress("scaling: 1,000,000-op chain");
    Config chain = cfg;
    chain.rounds = std::max<std::size_t>(5, cfg.rounds - 2);
    std::vector<Contender> c{
        {"100k", [&] { return bench::time_per_call([&] { matgrad_scalar_chain(100000); }, 0.5, 3) / 1e5; }},
        {"1M", [&] { return bench::time_per_call([&] { matgrad_scalar_chain(1000000); }, 0.5, 1) / 1e6; }}};
    const auto s = bench::interleave(c, chain.rounds);
    Row small = make_row("scaling: chain of 100,000 ops (1-element mul/add/tanh), fwd + bwd, per op", Unit::per_op);
    small.matgrad = median(s[0]);
    table.push_back(small);
    Row row = make_row("scaling: chain of 1,000,000 ops, the same, per op", Unit::per_op);
    row.matgrad = median(s[1]);
    const double growth = ratio_of(s[1], s[0]);
    row.goal = fmt::format("linear: per-op 1M / 100k = {:.2f} (≤ 1.2)", growth);
    row.met = growth <= 1.2;
    table.push_back(row);
  }
}

// ---- forward mode (issue 13): JVPs, HVPs and Hessians against their baselines ----

// A ratio row: the median over rounds of a / b, against a goal of at most `max`.
void ratio_row(std::string name, const std::vector<double>& a, const std::vector<double>& b,
               double max) {
  Row row = make_row(std::move(name), Unit::ratio);
  row.matgrad = ratio_of(a, b);
  row.goal = fmt::format("≤ {:.2f}", max);
  row.met = *row.matgrad <= max;
  table.push_back(row);
}

// The 784-256-128-10 ReLU MLP's loss as a function of its parameters (weight, bias per layer)
// and of its input: what jvp, hvp and hessian differentiate.
struct FunctionalMlp {
  Tensor x;
  std::vector<std::size_t> targets;
  std::vector<Tensor> params;

  FunctionalMlp(DType dtype, Generator& gen) {
    const std::vector<std::size_t> sizes{784, 256, 128, 10};
    const Batch b = make_batch(128, sizes.front(), sizes.back(), 1);
    x = Tensor(xt::xarray<double>(xt::adapt(b.x, Shape{128, sizes.front()}))).to(dtype);
    targets = b.targets;
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(sizes[l]));
      params.push_back((rand({sizes[l + 1], sizes[l]}, gen, {.dtype = dtype}) * 2.0 - 1.0) * bound);
      params.push_back((rand({sizes[l + 1]}, gen, {.dtype = dtype}) * 2.0 - 1.0) * bound);
    }
  }
  Tensor loss(const Tensor& input, const std::vector<Tensor>& p) const {
    Tensor h = input;
    for (std::size_t l = 0; l < 3; ++l) {
      h = linear(h, p[2 * l], p[2 * l + 1]);
      if (l < 2) h = relu(h);
    }
    return cross_entropy(h, targets);
  }
  std::vector<Tensor> directions(Generator& gen) const {
    std::vector<Tensor> v;
    for (const Tensor& p : params) v.push_back(randn(p.shape(), gen, {.dtype = p.dtype()}) * 0.01);
    return v;
  }
};

// One HVP comparison: forward over reverse against reverse over reverse and against one
// gradient, interleaved; two ratio rows and the times in a note.
void hvp_rows(const std::string& what, const Config& cfg, const TensorFunction& f,
              const std::vector<Tensor>& x, const std::vector<Tensor>& v) {
  progress("forward mode: hvp, " + what);
  std::vector<Tensor> leaves;
  for (const Tensor& p : x) leaves.push_back(p.detach().requires_grad_(true));
  const std::vector<Tensor> a = hvp(f, x, v).products;
  const std::vector<Tensor> b = hvp(f, x, v, false, Strategy::reverse_mode).products;
  double diff = 0;
  for (std::size_t k = 0; k < a.size(); ++k) diff = std::max(diff, compare_tensors(a[k], b[k], 0, 0).max_abs_error);
  std::vector<Contender> c{
      {"forward over reverse", [&] { return bench::time_per_call([&] { hvp(f, x, v); }, cfg.budget, 3, 1); }},
      {"reverse over reverse",
       [&] { return bench::time_per_call([&] { hvp(f, x, v, false, Strategy::reverse_mode); }, cfg.budget, 3, 1); }},
      {"gradient", [&] { return bench::time_per_call([&] { grad({f(leaves)}, leaves); }, cfg.budget, 3, 1); }}};
  const auto s = bench::interleave(c, cfg.rounds);
  ratio_row(fmt::format("forward mode: hvp forward over reverse / reverse over reverse, {}", what), s[0], s[1], 0.8);
  ratio_row(fmt::format("forward mode: hvp forward over reverse / one gradient, {}", what), s[0], s[2], 3.0);
  notes.push_back(fmt::format("hvp, {}: forward over reverse {}, reverse over reverse {}, one gradient {} "
                              "(medians); the two HVPs differ by at most {:.1e}.",
                              what, format_value(median(s[0]), Unit::time),
                              format_value(median(s[1]), Unit::time),
                              format_value(median(s[2]), Unit::time), diff));
}

void section_forward(const Config& cfg) {
  use_threads(1);
  {
    progress("forward mode: jvp of the MLP forward");
    Generator gen(7);
    const FunctionalMlp mlp(DType::float32, gen);
    const std::vector<Tensor> v = mlp.directions(gen);
    const Tensor vx = randn(mlp.x.shape(), gen) * 0.01;
    const TensorFunction of_params = [&](const std::vector<Tensor>& p) { return mlp.loss(mlp.x, p); };
    const TensorFunction of_input = [&](const std::vector<Tensor>& in) { return mlp.loss(in[0], mlp.params); };
    std::vector<Contender> c{
        {"forward", [&] {
           return bench::time_per_call([&] { NoGradGuard no_grad; mlp.loss(mlp.x, mlp.params); }, cfg.budget, 3, 1);
         }},
        {"jvp, weights", [&] { return bench::time_per_call([&] { jvp(of_params, mlp.params, v); }, cfg.budget, 3, 1); }},
        {"jvp, input", [&] { return bench::time_per_call([&] { jvp(of_input, {mlp.x}, {vx}); }, cfg.budget, 3, 1); }}};
    const auto s = bench::interleave(c, cfg.rounds);
    ratio_row("forward mode: jvp / plain forward, MLP 784-256-128-10 loss, float32, batch 128, tangent on every weight and bias",
              s[1], s[0], 1.6);
    ratio_row("forward mode: jvp / plain forward, the same, tangent on the input batch", s[2], s[0], 1.6);
    notes.push_back(fmt::format("jvp of the MLP loss (float32, 1 BLAS thread): plain forward {}, jvp along the "
                                "weights {}, along the input {} (medians).",
                                format_value(median(s[0]), Unit::time), format_value(median(s[1]), Unit::time),
                                format_value(median(s[2]), Unit::time)));
  }
  {
    Generator gen(8);
    const FunctionalMlp mlp(DType::float64, gen);
    const TensorFunction f = [&](const std::vector<Tensor>& p) { return mlp.loss(mlp.x, p); };
    hvp_rows("MLP 784-256-128-10 loss, float64, batch 128 (235,146 parameters)", cfg, f, mlp.params,
             mlp.directions(gen));
  }
  {
    Generator gen(9);
    const std::size_t n = 1000, d = 100;
    const Tensor x = randn({n, d}, gen, {.dtype = DType::float64});
    const Tensor y = lt(rand({n}, gen, {.dtype = DType::float64}), sigmoid(matmul(x, randn({d}, gen, {.dtype = DType::float64}))));
    const TensorFunction f = [&](const std::vector<Tensor>& w) {
      return binary_cross_entropy_with_logits(matmul(x, w[0]), y);
    };
    hvp_rows("logistic regression loss, float64, X 1000×100", cfg, f, {randn({d}, gen, {.dtype = DType::float64}) * 0.1},
             {randn({d}, gen, {.dtype = DType::float64})});
  }
  {
    progress("forward mode: hessian against the closed form");
    constexpr int m = 100, n = 20;
    Generator gen(10);
    const Tensor a = randn({m, n}, gen, {.dtype = DType::float64});
    const Tensor x0 = randn({n}, gen, {.dtype = DType::float64});
    const UnaryTensorFunction f = [&](const Tensor& x) { return sum(softplus(matmul(a, x))) + 0.5 * sum(x * x); };
    // Aᵀ diag(p ⊙ (1 − p)) A + I, p = σ(A x), by hand with BLAS.
    const std::vector<double> av(a.data<double>().begin(), a.data<double>().end());
    const std::vector<double> xv(x0.data<double>().begin(), x0.data<double>().end());
    std::vector<double> z(m), scaled(m * n), h(n * n);
    auto closed_form = [&] {
      cblas_dgemv(CblasRowMajor, CblasNoTrans, m, n, 1.0, av.data(), n, xv.data(), 1, 0.0, z.data(), 1);
      for (int i = 0; i < m; ++i) {
        const double p = 1.0 / (1.0 + std::exp(-z[i])), w = p * (1.0 - p);
        for (int j = 0; j < n; ++j) scaled[i * n + j] = w * av[i * n + j];
      }
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, m, 1.0, scaled.data(), n, av.data(), n, 0.0,
                  h.data(), n);
      for (int i = 0; i < n; ++i) h[i * n + i] += 1.0;
    };
    closed_form();
    const Tensor autodiff = hessian(f, x0);
    double diff = 0;
    for (int k = 0; k < n * n; ++k) diff = std::max(diff, std::abs(autodiff.data<double>().data()[k] - h[k]));
    std::vector<Contender> c{
        {"hessian", [&] { return bench::time_per_call([&] { hessian(f, x0); }, cfg.budget, 3, 1); }},
        {"reverse over reverse",
         [&] { return bench::time_per_call([&] { hessian(f, x0, false, Strategy::reverse_mode); }, cfg.budget, 3, 1); }},
        {"closed form", [&] { return bench::time_per_call(closed_form, cfg.budget, 3, 1); }}};
    const auto s = bench::interleave(c, cfg.rounds);
    Row row = make_row("forward mode: hessian of Σ log(1 + exp(A x)) + ½ xᵀx, A 100×20, float64, forward over reverse");
    row.matgrad = median(s[0]);
    row.hand = median(s[2]);
    row.vs_hand = ratio_of(s[0], s[2]);
    row.goal = "≤ 10× hand (the closed form Aᵀ diag(p(1 − p)) A + I with BLAS)";
    row.met = *row.vs_hand <= 10.0;
    table.push_back(row);
    Row rev = make_row("forward mode: the same Hessian by reverse over reverse (Strategy::reverse_mode)");
    rev.matgrad = median(s[1]);
    rev.hand = median(s[2]);
    rev.vs_hand = ratio_of(s[1], s[2]);
    table.push_back(rev);
    notes.push_back(fmt::format("The Hessian by forward over reverse agrees with the closed form to {:.1e}.", diff));
  }
}

// ---- the Fashion-MNIST epoch and its peak RSS, one process per run ----

std::map<std::string, double> run_child(const std::string& command) {
  std::map<std::string, double> out;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return out;
  char line[4096];
  std::string text;
  while (std::fgets(line, sizeof line, pipe)) text += line;
  const int status = pclose(pipe);
  if (status != 0) {
    std::fprintf(stderr, "%s failed (status %d)\n", command.c_str(), status);
    return {};
  }
  std::istringstream in(text);
  std::string item;
  while (in >> item) {
    const auto eq = item.find('=');
    if (eq != std::string::npos) out[item.substr(0, eq)] = std::atof(item.c_str() + eq + 1);
  }
  return out;
}

void section_epoch(const Config& cfg, int default_threads, const std::filesystem::path& dir) {
  if (!data::fashion_mnist_available()) {
    notes.push_back("Epoch and memory rows skipped: Fashion-MNIST is not installed "
                    "(apt-get install dataset-fashion-mnist).");
    return;
  }
  std::vector<std::string> names{"matgrad", "handcoded"};
  if (kTorch) names.push_back("torch");
  std::map<std::string, std::vector<std::map<std::string, double>>> runs;
  const std::size_t rounds = std::max<std::size_t>(5, cfg.rounds - 2);
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < names.size(); ++k) {
      const std::string& name = names[(r + k) % names.size()];
      progress(fmt::format("epoch round {}/{}: {}", r + 1, rounds, name));
      const std::string cmd = fmt::format("'{}' --threads {}", (dir / ("bench_epoch_" + name)).string(),
                                          default_threads);
      auto result = run_child(cmd);
      if (result.empty()) {
        notes.push_back(fmt::format("Epoch run of {} failed; its epoch rows are incomplete.", name));
        continue;
      }
      runs[name].push_back(result);
    }
  }
  auto series = [&](const std::string& name, const std::string& key) {
    std::vector<double> v;
    for (const auto& m : runs[name]) v.push_back(m.at(key));
    return v;
  };
  auto fill = [&](Row& row, const std::string& key, double scale) {
    auto m = series("matgrad", key), h = series("handcoded", key);
    for (double& v : m) v *= scale;
    for (double& v : h) v *= scale;
    if (!m.empty()) row.matgrad = median(m);
    if (!h.empty()) row.hand = median(h);
    if (!m.empty() && !h.empty()) row.vs_hand = ratio_of(m, h);
    if (kTorch) {
      auto t = series("torch", key);
      for (double& v : t) v *= scale;
      if (!t.empty()) row.torch = median(t);
      if (!m.empty() && !t.empty()) row.vs_torch = ratio_of(m, t);
    }
  };
  Row time = make_row(fmt::format("Fashion-MNIST epoch (469 steps, batch 128, SGD, shuffled), {} (default)",
                               threads_label(default_threads)));
  fill(time, "epoch_ms", 1e-3);
  time.goal = "≤ 1.02× hand";
  if (time.vs_hand) time.met = *time.vs_hand <= 1.02;
  if (kTorch) {
    time.goal += ", < 1.00× libtorch";
    if (time.vs_hand && time.vs_torch) {
      const bool hand_met = *time.vs_hand <= 1.02, torch_met = *time.vs_torch < 1.0;
      time.met = hand_met && torch_met;
      time.verdict = fmt::format("hand {}, libtorch {}", hand_met ? "yes" : "**no**",
                                 torch_met ? "yes" : "**no**");
    }
  }
  table.push_back(time);
  Row eval = make_row("test evaluation (10,000 images, batches of 1000), same runs");
  fill(eval, "eval_ms", 1e-3);
  eval.goal = "≤ 1.05× hand";
  if (eval.vs_hand) eval.met = *eval.vs_hand <= 1.05;
  table.push_back(eval);
  Row rss = make_row("peak RSS: load + one epoch + test evaluation (getrusage, separate processes)", Unit::mib);
  fill(rss, "maxrss_kib", 1.0 / 1024);
  rss.goal = "≤ 1.10× hand";
  if (rss.vs_hand) rss.met = *rss.vs_hand <= 1.10;
  table.push_back(rss);
  std::string acc = "Test accuracy after the epoch (sanity, not timed):";
  for (const std::string& name : names) {
    const auto a = series(name, "accuracy");
    if (!a.empty()) acc += fmt::format(" {} {:.3f};", name, median(a));
  }
  notes.push_back(acc);
}

// ---- data-parallel: the same epoch on MPI ranks against one process, one process per run ----

struct DdpRow {
  std::string name;
  double epoch_ms = 0;
  std::optional<double> vs_1x1, vs_1x2, exposed_share;
  std::optional<double> exposed_us, bytes, buckets, accuracy;
  std::string goal;
  std::optional<bool> met;
};
std::vector<DdpRow> ddp_table;

void section_ddp(const Config& cfg, const std::filesystem::path& dir) {
#ifndef MATGRAD_BENCH_DDP
  (void)cfg, (void)dir;
  notes.push_back("Data-parallel rows skipped: matgrad::distributed is not built (MPI not found).");
#else
  if (!data::fashion_mnist_available()) {
    notes.push_back("Data-parallel rows skipped: Fashion-MNIST is not installed.");
    return;
  }
  // The threads of every run: MATGRAD_NUM_THREADS and --threads (set_num_threads) alike;
  // mpirun passes the variable on to its ranks (-x).
  const std::string single = fmt::format("'{}'", (dir / "bench_epoch_matgrad").string());
  const std::string mpirun = fmt::format("{}{} --oversubscribe -x MATGRAD_NUM_THREADS -np 2 '{}'",
                                         MATGRAD_MPIEXEC, geteuid() == 0 ? " --allow-run-as-root" : "",
                                         (dir / "bench_epoch_ddp").string());
  struct Run {
    std::string name, command;
  };
  const std::vector<Run> runs{
      {"1x1", "MATGRAD_NUM_THREADS=1 " + single + " --threads 1"},
      {"1x2", "MATGRAD_NUM_THREADS=2 " + single + " --threads 2"},
      {"2x1", "MATGRAD_NUM_THREADS=1 " + mpirun + " --threads 1"},
      {"2x1 small", "MATGRAD_NUM_THREADS=1 " + mpirun + " --threads 1 --bucket-mb 0.25"},
      {"2x1 thread", "MATGRAD_NUM_THREADS=1 " + mpirun + " --threads 1 --bucket-mb 0.25 --progress-thread"},
  };
  std::map<std::string, std::vector<std::map<std::string, double>>> results;
  const std::size_t rounds = std::max<std::size_t>(5, cfg.rounds - 2);
  for (std::size_t r = 0; r < rounds; ++r) {
    for (std::size_t k = 0; k < runs.size(); ++k) {
      const Run& run = runs[(r + k) % runs.size()];
      progress(fmt::format("data-parallel round {}/{}: {}", r + 1, rounds, run.name));
      auto result = run_child(run.command + " 2>&1");
      if (result.empty() || !result.count("epoch_ms")) {
        notes.push_back(fmt::format("Data-parallel run '{}' failed: {}", run.name, run.command));
        return;
      }
      results[run.name].push_back(result);
    }
  }
  auto series = [&](const std::string& name, const std::string& key) {
    std::vector<double> v;
    for (const auto& m : results[name]) v.push_back(m.at(key));
    return v;
  };
  auto row = [&](const std::string& name, const std::string& run) {
    DdpRow out;
    out.name = name;
    const auto epoch = series(run, "epoch_ms");
    out.epoch_ms = median(epoch);
    if (run != "1x1") out.vs_1x1 = ratio_of(epoch, series("1x1", "epoch_ms"));
    if (run != "1x2" && run != "1x1") out.vs_1x2 = ratio_of(epoch, series("1x2", "epoch_ms"));
    out.accuracy = median(series(run, "accuracy"));
    if (results[run].front().count("exposed_ms_per_step")) {
      const auto exposed = series(run, "exposed_ms_per_step"), steps = series(run, "steps");
      std::vector<double> share;
      for (std::size_t i = 0; i < exposed.size(); ++i) share.push_back(exposed[i] / (epoch[i] / steps[i]));
      out.exposed_us = median(exposed) * 1e3;
      out.exposed_share = median(share);
      out.bytes = median(series(run, "bytes_per_step"));
      out.buckets = median(series(run, "buckets"));
    }
    return out;
  };
  ddp_table.push_back(row("1 process × 1 thread", "1x1"));
  ddp_table.push_back(row("1 process × 2 threads", "1x2"));
  DdpRow two = row("2 ranks × 1 thread, DDP, default 25 MiB buckets", "2x1");
  two.goal = "≤ 0.60× 1 × 1; exposed ≤ 10 % of a step";
  const bool epoch_met = two.vs_1x1 && *two.vs_1x1 <= 0.60;
  const bool exposed_met = two.exposed_share && *two.exposed_share <= 0.10;
  two.met = epoch_met && exposed_met;
  ddp_table.push_back(two);
  DdpRow small = row("2 ranks × 1 thread, DDP, 0.25 MiB buckets", "2x1 small");
  small.goal = two.goal;
  small.met = small.vs_1x1 && *small.vs_1x1 <= 0.60 && small.exposed_share && *small.exposed_share <= 0.10;
  ddp_table.push_back(small);
  DdpRow threaded = row("the same, and a progress thread (MPI_THREAD_MULTIPLE) testing the all-reduces", "2x1 thread");
  ddp_table.push_back(threaded);
#endif
}

void print_ddp_table() {
  if (ddp_table.empty()) return;
  fmt::print("\n| Fashion-MNIST epoch, global batch 128, SGD (one process per run; mpirun -np 2 for "
             "the ranks) | epoch | / 1 × 1 thread | / 1 × 2 threads | all-reduce wait after "
             "backward, per step | share of a step | all-reduced per step | buckets | test "
             "accuracy | goal | met |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
  auto opt = [](std::optional<double> v, const char* f) {
    return v ? fmt::format(fmt::runtime(f), *v) : std::string("–");
  };
  for (const DdpRow& r : ddp_table) {
    fmt::print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.name,
               format_value(r.epoch_ms * 1e-3, Unit::time), opt(r.vs_1x1, "{:.3f}"),
               opt(r.vs_1x2, "{:.3f}"), opt(r.exposed_us, "{:.0f} µs"),
               opt(r.exposed_share ? std::optional<double>(*r.exposed_share * 100) : std::nullopt, "{:.1f} %"),
               opt(r.bytes ? std::optional<double>(*r.bytes / 1024) : std::nullopt, "{:.0f} KiB"),
               opt(r.buckets, "{:.0f}"), opt(r.accuracy, "{:.4f}"), r.goal,
               !r.met ? "" : *r.met ? "yes" : "**no**");
  }
}

}  // namespace

// Runs one workload alone for `seconds`, for `perf record -g`: step (matgrad's MLP step,
// float32), step64, hand and hand64 (the hand-coded step, for its profile beside matgrad's),
// chain (1-element ops), matmul (16×16 chain), logreg and handlogreg (the logistic-regression
// gradient, matgrad's and hand-written); one thread by default.
int profile(const std::string& what, double seconds, int threads) {
  use_threads(threads);
  Generator gen(7);
  std::function<void()> work;
  std::unique_ptr<MlpSet<float>> set32;
  std::unique_ptr<MlpSet<double>> set64;
  const Tensor w = Tensor(xt::xarray<float>(xt::adapt(orthogonal16(3), Shape{16, 16})), true);
  const Tensor y0 = Tensor(xt::xarray<float>(xt::adapt(orthogonal16(4), Shape{16, 16})));
  LogregSet logreg;
  if (what == "step" || what == "hand") {
    set32 = std::make_unique<MlpSet<float>>(std::vector<std::size_t>{784, 256, 128, 10}, 128, false, gen);
    if (what == "step") work = [&] { set32->mg.step(); };
    else work = [&] { set32->hand_step(); };
  } else if (what == "step64" || what == "hand64") {
    set64 = std::make_unique<MlpSet<double>>(std::vector<std::size_t>{784, 256, 128, 10}, 128, false, gen);
    if (what == "step64") work = [&] { set64->mg.step(); };
    else work = [&] { set64->hand_step(); };
  } else if (what == "chain") {
    work = [] { matgrad_scalar_chain(100000); };
  } else if (what == "matmul") {
    work = [&] {
      Tensor y = y0;
      for (int i = 0; i < 10000; ++i) y = matmul(y, w);
      y.backward(ones_like(y));
      Tensor(w).zero_grad();
    };
  } else if (what == "logreg") {
    work = [&] { logreg.matgrad_step(); };
  } else if (what == "handlogreg") {
    work = [&] { bench::keep(logreg.hand.run()); };
  } else {
    std::fprintf(stderr, "--profile: step, step64, hand, hand64, chain, matmul, logreg or handlogreg\n");
    return 2;
  }
  std::size_t calls = 0;
  const auto start = bench::Clock::now();
  const double cpu_start = bench::cpu_seconds();
  while (bench::seconds_since(start) < seconds) {
    work();
    ++calls;
  }
  fmt::print("{}: {} calls, {:.3f} ms per call, {:.3f} ms CPU per call\n", what, calls,
             bench::seconds_since(start) / calls * 1e3, (bench::cpu_seconds() - cpu_start) / calls * 1e3);
  return 0;
}

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--graphs" && i + 1 < argc) return graphs_child(std::stoul(argv[i + 1]));
    if (arg == "--profile" && i + 1 < argc) {
      return profile(argv[i + 1], i + 2 < argc ? std::atof(argv[i + 2]) : 10.0,
                     i + 3 < argc ? std::atoi(argv[i + 3]) : 1);
    }
    if (arg == "--rounds" && i + 1 < argc) {
      cfg.rounds = std::max<std::size_t>(1, std::stoul(argv[++i]));
    } else if (arg == "--quick") {
      cfg.rounds = 3;
      cfg.budget = 0.05;
    } else if (arg == "--only" && i + 1 < argc) {
      std::stringstream list(argv[++i]);
      std::string s;
      while (std::getline(list, s, ',')) cfg.only.insert(s);
    } else {
      std::fprintf(stderr, "usage: matgrad_bench [--rounds N] [--quick] [--only check,step,logreg,overhead,engine,scaling,epoch,ddp,forward]\n");
      return 2;
    }
  }
  const int default_threads = get_num_threads();  // MATGRAD_NUM_THREADS, else every CPU
  std::string backends = backend_info().to_string();
#ifdef MATGRAD_BENCH_TORCH
  bench::torch_peer::set_threads(1);
#endif
  const std::filesystem::path dir = std::filesystem::canonical("/proc/self/exe").parent_path();

  if (cfg.wants("check")) {
    use_threads(1);
    check_gradients<float>(1e-4);
    check_gradients<double>(1e-10);
  }
  if (cfg.wants("step")) section_step(cfg, default_threads);
  if (cfg.wants("logreg")) section_logreg(cfg);
  if (cfg.wants("overhead")) section_overhead(cfg);
  if (cfg.wants("engine")) section_engine(cfg, dir);
  if (cfg.wants("scaling")) section_scaling(cfg);
  if (cfg.wants("epoch")) section_epoch(cfg, default_threads, dir);
  if (cfg.wants("ddp")) section_ddp(cfg, dir);
  if (cfg.wants("forward")) section_forward(cfg);

  use_threads(default_threads);
  fmt::print("## matgrad benchmarks\n\n");
  fmt::print("- machine: {}, {} cores{}\n", bench::cpu_model(), std::thread::hardware_concurrency(),
             bench::cpu_has("avx512f") ? ", AVX-512" : "");
  fmt::print("- compiler: {} {} ({}{})\n",
#if defined(__clang__)
             "clang++",
#else
             "g++",
#endif
             __VERSION__, MATGRAD_BENCH_FLAGS,
#ifdef MATGRAD_BENCH_NATIVE
             ", -march=native"
#else
             ", no -march=native"
#endif
  );
  backends.pop_back();
  fmt::print("- matgrad's backend_info():\n  - {}\n", fmt::join(
      [&] {
        std::vector<std::string> lines;
        std::istringstream in(backends);
        for (std::string line; std::getline(in, line);) lines.push_back(line);
        return lines;
      }(), "\n  - "));
  fmt::print("- threads: rows say how many, set for matgrad's pools (set_num_threads), the "
             "hand-coded oneDNN calls and OpenBLAS alike; the hand-coded float32 GEMMs run on "
             "{}, as matgrad's do; the GEMM floors on each library\n",
             kOneDnn ? "oneDNN" : "OpenBLAS");
#ifdef MATGRAD_BENCH_TORCH
  fmt::print("- libtorch {}: intra-op threads 1, inter-op 1 (its GEMMs run on OpenBLAS as "
             "detected, with the rows' threads; more intra-op threads would oversubscribe the "
             "cores)\n",
             bench::torch_peer::version());
#else
  fmt::print("- libtorch: not built (find_package(Torch) failed or libtorch-dev is absent); its "
             "column is empty\n");
#endif
  fmt::print("- medians of {} interleaved rounds ({:.0f} ms of repetitions per sample; the MLP step "
             "rows {} rounds of {:.0f} ms); ratios are medians of per-round ratios; scaling and "
             "epoch rows use ≥ 5 rounds\n\n",
             cfg.rounds, cfg.budget * 1e3, 3 * cfg.rounds, cfg.budget / 3 * 1e3);
  print_table();
  print_ddp_table();
  bool all_met = true;
  for (const Row& r : table) all_met = all_met && (!r.met || *r.met);
  for (const DdpRow& r : ddp_table) all_met = all_met && (!r.met || *r.met);
  fmt::print("\nTargets: {}\n", all_met ? "all met" : "not all met (see the met column)");
  return 0;
}
