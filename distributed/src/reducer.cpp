// DistributedDataParallel's reducer: buckets of gradients, all-reduced as they become final in
// backward (post-accumulate-grad hooks), averaged by the ranks' rows.
//
// A bucket's buffer: its parameters' gradients back to back, each multiplied by this rank's
// weight w (rows since the last reduction), then w itself, then with find_unused_parameters
// one "used here" flag per parameter. After the all-reduce (a sum) the buffer holds Σ w·g,
// Σ w and how many ranks used each parameter; the averaged gradient is Σ w·g / Σ w.
#include "mpi_util.hpp"

#include <matgrad/autograd.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <thread>
#include <variant>

namespace matgrad::distributed::detail {

namespace {
using Clock = std::chrono::steady_clock;
}

struct Reducer::Impl {
  struct Param {
    std::string name;
    Tensor tensor;
    std::size_t bucket = 0, offset = 0, slot = 0;  // slot: its place in the bucket's members
    bool ready = false;                            // its gradient is in the bucket
    bool accumulated = false;                      // it got one inside no_sync() since
    RemovableHandle hook;
  };
  struct Bucket {
    DType dtype = DType::float32;
    std::vector<std::size_t> members;  // parameter indices
    std::size_t numel = 0;             // gradient elements
    std::variant<std::vector<float>, std::vector<double>> buffer;
    std::size_t pending = 0;  // members not ready yet
    MPI_Request request = MPI_REQUEST_NULL;
    bool started = false, done = false;
  };

  Reducer& owner;
  DDPOptions options;
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  std::vector<Param> params;
  std::vector<Bucket> buckets;
  std::size_t next_to_start = 0;  // buckets start in bucket order, the same on every rank
  std::size_t oldest_running = 0;  // buckets before it are done
  std::size_t ready = 0;          // parameters ready since the last reduction
  std::size_t started_early = 0, bytes = 0;  // early: before the last gradient was final
  double rows = 0;                       // passed through forward() since the last reduction
  std::vector<std::size_t> ready_order;  // since the last reset(), until the buckets are rebuilt
  bool rebuilt = false;
  RemovableHandle optimizer_hook;

  // The progress thread, when asked for: it tests the started buckets while backward runs.
  std::mutex mutex;  // MPI calls on the buckets' requests, from either thread
  std::condition_variable wake;
  bool stopping = false;
  std::size_t in_flight = 0;
  std::thread progress_thread;

  Impl(Reducer& owner, nn::NamedTensors named, const ProcessGroup& group, const DDPOptions& opts)
      : owner(owner), options(opts) {
    if (!(options.bucket_cap_mb >= 0)) {
      fail<DistributedError>("DistributedDataParallel: bucket_cap_mb must be >= 0, got {}",
                             options.bucket_cap_mb);
    }
    if (options.progress_thread && !group.thread_multiple()) {
      fail<DistributedError>(
          "DistributedDataParallel: progress_thread needs MPI_THREAD_MULTIPLE: construct the "
          "ProcessGroup with {{.thread_multiple = true}} (this MPI may not provide it)");
    }
    named = nn::detail::unique_parameters(std::move(named));
    for (auto& [name, p] : named) {
      if (!p.requires_grad() || !p.is_leaf()) {
        fail<DistributedError>("DistributedDataParallel: parameter '{}' must be a leaf that "
                               "requires grad", name);
      }
      Param& param = params.emplace_back();
      param.name = name;
      param.tensor = p;
    }
    if (params.empty()) fail<DistributedError>("DistributedDataParallel: the module has no parameters");
    broadcast_parameters(named, options.broadcast_root, group);
    check_mpi(MPI_Comm_dup(group.comm(), &comm), "MPI_Comm_dup");
    MPI_Comm_rank(comm, &rank);
    std::vector<std::size_t> order(params.size());
    std::iota(order.rbegin(), order.rend(), std::size_t{0});  // backward finishes the last first
    build_buckets(order);
    for (std::size_t k = 0; k < params.size(); ++k) {
      params[k].hook = params[k].tensor.register_post_accumulate_grad_hook(
          [this, k](const Tensor&) { on_ready(k); });
    }
    if (options.progress_thread) progress_thread = std::thread([this] { progress_loop(); });
  }

  ~Impl() {
    for (Param& p : params) p.hook.remove();
    optimizer_hook.remove();
    if (progress_thread.joinable()) {
      {
        std::lock_guard lock(mutex);
        stopping = true;
      }
      wake.notify_one();
      progress_thread.join();
    }
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm);
  }

  double weight() const { return rows > 0 ? rows : 1.0; }
  std::size_t extra_slots(const Bucket& b) const {
    return 1 + (options.find_unused_parameters ? b.members.size() : 0);
  }

  // Buckets of about bucket_cap_mb in `order`, one dtype each.
  void build_buckets(const std::vector<std::size_t>& order) {
    const double cap = options.bucket_cap_mb * 1024 * 1024;
    buckets.clear();
    std::ptrdiff_t open[2] = {-1, -1};  // the bucket being filled, per dtype
    std::size_t open_bytes[2] = {0, 0};
    for (std::size_t k : order) {
      Param& p = params[k];
      const int d = p.tensor.dtype() == DType::float32 ? 0 : 1;
      const std::size_t bytes = p.tensor.numel() * (d == 0 ? sizeof(float) : sizeof(double));
      if (open[d] < 0 || static_cast<double>(open_bytes[d] + bytes) > cap) {
        open[d] = static_cast<std::ptrdiff_t>(buckets.size());
        open_bytes[d] = 0;
        buckets.emplace_back();
        buckets.back().dtype = p.tensor.dtype();
      }
      Bucket& b = buckets[static_cast<std::size_t>(open[d])];
      p.bucket = static_cast<std::size_t>(open[d]);
      p.offset = b.numel;
      p.slot = b.members.size();
      b.members.push_back(k);
      b.numel += p.tensor.numel();
      open_bytes[d] += bytes;
    }
    for (Bucket& b : buckets) {
      const std::size_t count = b.numel + extra_slots(b);
      mpi_count(count, "DistributedDataParallel bucket");
      if (b.dtype == DType::float32) {
        b.buffer = std::vector<float>(count);
      } else {
        b.buffer = std::vector<double>(count);
      }
      b.pending = b.members.size();
    }
  }

  // The post-accumulate-grad hook of parameter k: its .grad() is final for this backward.
  void on_ready(std::size_t k) {
    Param& p = params[k];
    if (owner.no_sync_depth_ > 0) {
      p.accumulated = true;
      return;
    }
    if (p.ready) {
      fail<DistributedError>(
          "DistributedDataParallel: parameter '{}' got a gradient a second time before its "
          "gradients were reduced (another parameter got none yet?): run the backward passes "
          "that accumulate inside no_sync(), or call finalize() between them",
          p.name);
    }
    const Tensor g = p.tensor.grad();
    if (g.requires_grad()) {
      fail<DistributedError>(
          "DistributedDataParallel: '{}' has a gradient that requires grad (backward with "
          "create_graph): averaged gradients cannot be differentiated through the reduction",
          p.name);
    }
    std::unique_lock lock(mutex, std::defer_lock);
    if (progress_thread.joinable()) lock.lock();
    p.ready = true;
    ++ready;
    if (!rebuilt) ready_order.push_back(k);
    Bucket& b = buckets[p.bucket];
    std::visit(
        [&](auto& buffer) {
          using T = typename std::decay_t<decltype(buffer)>::value_type;
          copy_weighted(g.data<T>(), buffer.data() + p.offset);
        },
        b.buffer);
    --b.pending;
    start_ready_buckets(ready < params.size());
    test_started();
    if (lock.owns_lock()) lock.unlock();
    if (ready == params.size()) reduce();  // every gradient is in: finish now, as torch does
  }

  template <class T>
  void copy_weighted(const Array<T>& grad, T* out) const {
    const T w = static_cast<T>(weight());
    for (std::size_t i = 0; i < grad.size(); ++i) out[i] = w * grad.data()[i];
  }

  void start_ready_buckets(bool early) {
    bool any = false;
    while (next_to_start < buckets.size() && buckets[next_to_start].pending == 0) {
      start(buckets[next_to_start++]);
      started_early += early ? 1 : 0;
      any = true;
    }
    if (any && progress_thread.joinable()) wake.notify_one();
  }

  void start(Bucket& b) {
    std::visit(
        [&](auto& buffer) {
          using T = typename std::decay_t<decltype(buffer)>::value_type;
          buffer[b.numel] = static_cast<T>(weight());
          if (options.find_unused_parameters) {
            for (std::size_t s = 0; s < b.members.size(); ++s) {
              buffer[b.numel + 1 + s] = params[b.members[s]].ready ? T(1) : T(0);
            }
          }
          check_mpi(MPI_Iallreduce(MPI_IN_PLACE, buffer.data(), static_cast<int>(buffer.size()),
                                   mpi_type<T>(), MPI_SUM, comm, &b.request),
                    "MPI_Iallreduce");
          bytes += buffer.size() * sizeof(T);
        },
        b.buffer);
    b.started = true;
    ++in_flight;
  }

  // Lets MPI move the started all-reduces on (they advance only inside MPI calls).
  void test_started() {
    for (std::size_t i = oldest_running; i < next_to_start; ++i) {
      Bucket& b = buckets[i];
      if (b.done) continue;
      int flag = 0;
      check_mpi(MPI_Test(&b.request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
      if (flag) {
        b.done = true;
        --in_flight;
      }
    }
    while (oldest_running < next_to_start && buckets[oldest_running].done) ++oldest_running;
  }

  void progress_loop() {
    std::unique_lock lock(mutex);
    while (true) {
      wake.wait(lock, [&] { return stopping || in_flight > 0; });
      if (stopping) return;
      test_started();
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      lock.lock();
    }
  }

  // Starts what is left (what no_sync() accumulated for a parameter without gradient in this
  // pass, unused parameters as zero when allowed), waits for every bucket and writes the
  // averages into .grad().
  void reduce() {
    for (Param& p : params) {
      if (p.ready || !p.accumulated) continue;
      p.ready = true;  // its gradient is final since the no_sync() pass that gave it
      ++ready;
      std::visit(
          [&](auto& buffer) {
            using T = typename std::decay_t<decltype(buffer)>::value_type;
            copy_weighted(p.tensor.grad().template data<T>(), buffer.data() + p.offset);
          },
          buckets[p.bucket].buffer);
      --buckets[p.bucket].pending;
    }
    if (ready < params.size()) {
      std::vector<std::string> missing;
      for (const Param& p : params) {
        if (!p.ready) missing.push_back(p.name);
      }
      if (!options.find_unused_parameters) {
        wait_started();
        reset();
        fail<DistributedError>(
            "DistributedDataParallel: {} of {} parameters got no gradient in this backward: "
            "{}. Every parameter must take part in the loss on every rank; pass "
            "find_unused_parameters = true to count them as zero",
            missing.size(), params.size(), fmt::join(missing, ", "));
      }
      for (Bucket& b : buckets) {
        for (std::size_t k : b.members) {
          if (params[k].ready) continue;
          std::visit([&](auto& buffer) {
            std::fill_n(buffer.data() + params[k].offset, params[k].tensor.numel(), 0);
          }, b.buffer);
        }
        b.pending = 0;
      }
    }
    std::unique_lock lock(mutex, std::defer_lock);
    if (progress_thread.joinable()) lock.lock();
    start_ready_buckets(false);
    const auto wait_start = Clock::now();
    wait_started();
    const double waited = std::chrono::duration<double>(Clock::now() - wait_start).count();
    if (lock.owns_lock()) lock.unlock();

    NoGradGuard no_grad;
    for (Bucket& b : buckets) {
      std::visit(
          [&](auto& buffer) {
            using T = typename std::decay_t<decltype(buffer)>::value_type;
            const T inverse = T(1) / buffer[b.numel];
            for (std::size_t s = 0; s < b.members.size(); ++s) {
              Param& p = params[b.members[s]];
              if (options.find_unused_parameters && buffer[b.numel + 1 + s] == T(0)) continue;
              Tensor g = p.tensor.grad();
              if (!g.defined()) {  // unused here, used elsewhere
                g = zeros_like(p.tensor);
                p.tensor.set_grad(g);
              }
              auto& x = g.template mutable_data<T>();
              const T* in = buffer.data() + p.offset;
              for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = in[i] * inverse;
            }
          },
          b.buffer);
    }
    DDPStats& stats = owner.stats_;
    stats.buckets = buckets.size();
    stats.bytes_per_step = bytes;
    stats.started_early = started_early;
    stats.wait_seconds = waited;
    stats.total_wait_seconds += waited;
    ++stats.reductions;
    if (!rebuilt) rebuild();
    reset();
  }

  void wait_started() {
    for (Bucket& b : buckets) {
      if (b.started && !b.done) {
        check_mpi(MPI_Wait(&b.request, MPI_STATUS_IGNORE), "MPI_Wait");
        b.done = true;
        --in_flight;
      }
    }
  }

  void reset() {
    for (Param& p : params) p.ready = p.accumulated = false;
    for (Bucket& b : buckets) {
      b.pending = b.members.size();
      b.started = b.done = false;
      b.request = MPI_REQUEST_NULL;
    }
    next_to_start = oldest_running = ready = started_early = bytes = 0;
    rows = 0;
    ready_order.clear();  // a refused reduction's order must not reach rebuild()
  }

  // Once, after the first reduction that completes: buckets in the order the gradients became
  // final there (the broadcast root's order, so that every rank builds the same buckets), as
  // torch does.
  void rebuild() {
    rebuilt = true;
    std::vector<int> order(params.size());
    if (rank == options.broadcast_root) {
      std::vector<char> seen(params.size(), 0);
      std::size_t n = 0;
      for (std::size_t k : ready_order) {
        order[n++] = static_cast<int>(k);
        seen[k] = 1;
      }
      for (std::size_t k = params.size(); k-- > 0;) {
        if (!seen[k]) order[n++] = static_cast<int>(k);
      }
    }
    check_mpi(MPI_Bcast(order.data(), static_cast<int>(order.size()), MPI_INT,
                        options.broadcast_root, comm),
              "MPI_Bcast");
    build_buckets(std::vector<std::size_t>(order.begin(), order.end()));
  }
};

Reducer::Reducer(nn::NamedTensors parameters, const ProcessGroup& group, const DDPOptions& options)
    : impl_(std::make_unique<Impl>(*this, std::move(parameters), group, options)) {}

Reducer::~Reducer() {
  bool in_flight = false;
  for (const auto& b : impl_->buckets) in_flight = in_flight || (b.started && !b.done);
  if (in_flight) {
    if (std::uncaught_exceptions() > 0) {
      // MPI may still write into the buffers, and waiting could hang: the job is failing.
      static_cast<void>(impl_.release());  // deliberately leaked
      return;
    }
    impl_->wait_started();
  }
}

void Reducer::before_forward(const Tensor& input) {
  if (!is_grad_enabled()) return;
  if (no_sync_depth_ == 0 && impl_->ready > 0) {
    std::vector<std::string> missing;
    for (const auto& p : impl_->params) {
      if (!p.ready) missing.push_back(p.name);
    }
    fail<DistributedError>(
        "DistributedDataParallel: forward() before the last backward's gradients were reduced: "
        "{} got none ({}). With find_unused_parameters, call finalize() (or attach the "
        "optimiser) before the next forward; otherwise every parameter must take part in the loss",
        missing.size() == 1 ? "a parameter" : fmt::format("{} parameters", missing.size()),
        fmt::join(missing, ", "));
  }
  impl_->rows += input.defined() && input.dim() > 0 ? static_cast<double>(input.size(0)) : 1.0;
}

void Reducer::finalize() {
  if (no_sync_depth_ > 0 || impl_->ready == 0) return;  // nothing to reduce
  impl_->reduce();
}

RemovableHandle Reducer::attach(optim::Optimizer& optimizer) {
  impl_->optimizer_hook.remove();
  impl_->optimizer_hook = optimizer.register_step_pre_hook([this](optim::Optimizer&) { finalize(); });
  return impl_->optimizer_hook;
}

std::vector<std::vector<std::string>> Reducer::bucket_layout() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& b : impl_->buckets) {
    out.emplace_back();
    for (std::size_t k : b.members) out.back().push_back(impl_->params[k].name);
  }
  return out;
}

}  // namespace matgrad::distributed::detail
