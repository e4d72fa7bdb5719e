// matgrad::distributed: data-parallel training over MPI (link matgrad::distributed).
//
//   int main() {
//     distributed::ProcessGroup group;                 // MPI_Init ... MPI_Finalize
//     return group.run([&] {                           // an exception aborts every rank
//       nn::Sequential net = build_model();
//       distributed::DistributedDataParallel ddp(net); // rank 0's parameters everywhere
//       optim::AdamW opt(ddp.parameters());
//       data::DataLoader loader(train, data::DistributedSampler(train.size(),
//                               group.world_size(), group.rank(), {.seed = 0}), {.batch_size = 64});
//       for (const data::Batch& b : loader) {
//         Tensor loss = nn::CrossEntropyLoss()(ddp(b.inputs), b.targets);
//         opt.zero_grad();
//         loss.backward();   // each bucket's MPI_Iallreduce starts as its gradients are final;
//         opt.step();        // backward returned with the averaged gradients
//       }
//       return 0;
//     });
//   }
//
// Run it with mpirun -np N (README: "More than one machine").
#pragma once

#include <matgrad/nn/module.hpp>
#include <matgrad/nn/optim.hpp>

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace matgrad::distributed {

// A collective that cannot go ahead (ranks disagree on shapes or dtypes, DDP misuse).
struct DistributedError : Error {
  using Error::Error;
};

// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun): it sees
// OpenMPI's, PMIx's or PMI's environment. A program can then decide to build a ProcessGroup
// only when there is one to join.
bool launched_by_mpi();

struct ProcessGroupOptions {
  // Ask for MPI_THREAD_MULTIPLE (DDPOptions::progress_thread needs it); otherwise
  // MPI_THREAD_SERIALIZED, enough for backward passes on any one thread at a time.
  bool thread_multiple = false;
};

// All the processes of the job (MPI_COMM_WORLD, duplicated so that matgrad's traffic never
// meets the program's own). Constructing it initialises MPI unless the program already has;
// destroying it finalises MPI when it initialised it. One per process, for the process's
// lifetime (MPI cannot be initialised twice). While it exists:
// - an exception that nothing catches ends the job with its message (a terminate handler
//   prints it and calls MPI_Abort), and so does run(fn) for an exception fn throws, and
//   abort(message) for a program that catches its own;
// - destroyed while an exception propagates, it does not finalise MPI (that would wait for
//   ranks that may be waiting for this one): the exception goes on to whoever catches it, and
//   the job is aborted when this process exits.
// A program that catches an exception and lets the group be destroyed normally would wait in
// MPI_Finalize for the other ranks, which may wait for it: on a failing rank, call abort().
class ProcessGroup {
 public:
  explicit ProcessGroup(ProcessGroupOptions options = {});
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  void barrier() const;
  MPI_Comm comm() const { return comm_; }
  bool thread_multiple() const { return thread_multiple_; }

  // Prints "[rank r/n] message" to stderr and ends the whole job (MPI_Abort) with `code`.
  [[noreturn]] void abort(std::string_view message, int code = 1) const;
  // Returns fn(); an exception it throws aborts the job with its message.
  template <class F>
  int run(F&& fn) const {
    try {
      return fn();
    } catch (const std::exception& e) {
      abort(e.what());
    } catch (...) {
      abort("unknown exception");
    }
  }

  // The group of this process; an error when there is none.
  static ProcessGroup& world();

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, world_size_ = 1;
  bool owns_mpi_ = false, thread_multiple_ = false;
  int uncaught_at_start_ = 0;
  std::terminate_handler previous_terminate_ = nullptr;
};

// ---- collectives on tensors (float32 and float64), in place, as torch.distributed ----
// Every rank must call them in the same order, with tensors of the same shape and dtype (that
// is checked: an error on every rank names what differs). A tensor that requires grad is
// refused while grad mode is on, as for any in-place change.

enum class ReduceOp { sum, product, min, max, avg };

void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::sum,
                const ProcessGroup& group = ProcessGroup::world());
void broadcast(const Tensor& tensor, int root = 0, const ProcessGroup& group = ProcessGroup::world());
// Every rank's tensor, in rank order.
std::vector<Tensor> all_gather(const Tensor& tensor, const ProcessGroup& group = ProcessGroup::world());

// Copies root's parameters into every rank's (names, shapes and dtypes must agree).
void broadcast_parameters(const nn::NamedTensors& parameters, int root = 0,
                          const ProcessGroup& group = ProcessGroup::world());
template <nn::Module M>
void broadcast_parameters(const M& module, int root = 0,
                          const ProcessGroup& group = ProcessGroup::world()) {
  broadcast_parameters(module.named_parameters(), root, group);
}

// ---- DistributedDataParallel ----

struct DDPOptions {
  // Gradients are all-reduced in buckets of about this many MiB (torch's bucket_cap_mb); 0
  // gives every parameter its own bucket.
  double bucket_cap_mb = 25;
  // With true, parameters that get no gradient in a backward count as zero on this rank (and
  // keep an undefined grad when no rank used them); with false that is an error naming them.
  bool find_unused_parameters = false;
  // Which rank's parameters every rank starts from (and whose bucket order all follow).
  int broadcast_root = 0;
  // A thread that drives MPI's progress while backward computes (needs
  // ProcessGroupOptions::thread_multiple); otherwise the hooks drive it (MPI_Test) as each
  // parameter's gradient becomes final.
  bool progress_thread = false;
};

// What the last synchronised backward did, for benchmarks and logs.
struct DDPStats {
  std::size_t buckets = 0;
  std::size_t bytes_per_step = 0;        // all-reduced by this rank, weights included
  std::size_t started_early = 0;  // buckets started before the last gradient was final
  double wait_seconds = 0;               // finalize() waiting for the all-reduces
  std::uint64_t reductions = 0;          // synchronised steps so far
  double total_wait_seconds = 0;         // over all of them
};

namespace detail {
class Reducer;
}

// Data-parallel training of a module (torch.nn.parallel.DistributedDataParallel): every rank
// holds the whole module and runs its own share of each batch; the gradients are averaged
// across ranks, so that each rank's optimiser takes the same step from the same parameters.
// - At construction, every rank's parameters become broadcast_root's (bitwise).
// - Each parameter gets a post-accumulate-grad hook: the gradients go, in the order they are
//   final in backward (the reverse of the parameters' order at first, then the order the
//   first backward showed), into buckets of about bucket_cap_mb; a bucket's MPI_Iallreduce
//   starts as soon as its last gradient is final (buckets start in bucket order on every rank,
//   as MPI requires), while backward goes on computing the rest.
// - The hook of the last parameter to get its gradient waits for every bucket and writes the
//   averaged gradients into .grad(), so backward() returns with them, as torch's does. When a
//   parameter gets no gradient (find_unused_parameters), finalize() does that instead;
//   attach(opt) makes opt.step() call it first (harmless otherwise: it then has nothing to do).
// - The average weights each rank by the rows it passed through forward() since the last
//   reduction (the batch dimension), so with a mean-reduced loss the result is the gradient of
//   the global batch even when the ranks' shares differ (e.g. 128 rows over 3 ranks: 43, 43,
//   42). torch divides by the world size instead: the same whenever the shares are equal.
// - no_sync(): backward passes in its scope only accumulate locally; the first backward after
//   it reduces everything accumulated (torch's gradient accumulation).
// - A parameter that gets no gradient is an error naming it, unless find_unused_parameters.
// - Misuse is loud: a second backward before finalize(), a forward before it, create_graph.
template <nn::Module M>
class DistributedDataParallel : public nn::ModuleBase<DistributedDataParallel<M>> {
 public:
  explicit DistributedDataParallel(M module, DDPOptions options = {},
                                   const ProcessGroup& group = ProcessGroup::world())
      : module_(std::move(module)),
        reducer_(std::make_unique<detail::Reducer>(module_.named_parameters(), group, options)) {}

  Tensor forward(const Tensor& x);
  nn::NamedTensors named_parameters() const { return module_.named_parameters(); }
  void train(bool mode = true) {
    module_.train(mode);
    this->training_ = mode;
  }
  bool is_training() const { return module_.is_training(); }
  M& module() { return module_; }
  const M& module() const { return module_; }

  // Reduces what the last backward left unreduced (parameters without gradient count as zero
  // with find_unused_parameters, else an error names them); nothing to do after a backward
  // that gave every parameter a gradient, or inside no_sync().
  void finalize();
  // opt.step() calls finalize() first, until the handle is removed or this wrapper is gone.
  RemovableHandle attach(optim::Optimizer& optimizer);

  // While the guard lives, backward passes do not synchronise.
  class NoSync {
   public:
    explicit NoSync(detail::Reducer& reducer);
    ~NoSync();
    NoSync(const NoSync&) = delete;
    NoSync& operator=(const NoSync&) = delete;

   private:
    detail::Reducer& reducer_;
  };
  [[nodiscard]] NoSync no_sync() { return NoSync(*reducer_); }

  const DDPStats& stats() const;
  // The parameters' names, bucket by bucket, in the order the buckets are all-reduced.
  std::vector<std::vector<std::string>> bucket_layout() const;

 private:
  M module_;
  std::unique_ptr<detail::Reducer> reducer_;
};

// ---- the reducer behind DistributedDataParallel (not a module: one per wrapper) ----
namespace detail {

class Reducer {
 public:
  Reducer(nn::NamedTensors parameters, const ProcessGroup& group, const DDPOptions& options);
  ~Reducer();
  Reducer(const Reducer&) = delete;
  Reducer& operator=(const Reducer&) = delete;

  void before_forward(const Tensor& input);
  void finalize();
  RemovableHandle attach(optim::Optimizer& optimizer);
  void enter_no_sync() { ++no_sync_depth_; }
  void leave_no_sync() { --no_sync_depth_; }
  const DDPStats& stats() const { return stats_; }
  std::vector<std::vector<std::string>> bucket_layout() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int no_sync_depth_ = 0;
  DDPStats stats_;
  friend struct Impl;
};

}  // namespace detail

template <nn::Module M>
Tensor DistributedDataParallel<M>::forward(const Tensor& x) {
  reducer_->before_forward(x);
  return module_.forward(x);
}

template <nn::Module M>
void DistributedDataParallel<M>::finalize() {
  reducer_->finalize();
}

template <nn::Module M>
RemovableHandle DistributedDataParallel<M>::attach(optim::Optimizer& optimizer) {
  return reducer_->attach(optimizer);
}

template <nn::Module M>
DistributedDataParallel<M>::NoSync::NoSync(detail::Reducer& reducer) : reducer_(reducer) {
  reducer_.enter_no_sync();
}

template <nn::Module M>
DistributedDataParallel<M>::NoSync::~NoSync() {
  reducer_.leave_no_sync();
}

template <nn::Module M>
const DDPStats& DistributedDataParallel<M>::stats() const {
  return reducer_->stats();
}

template <nn::Module M>
std::vector<std::vector<std::string>> DistributedDataParallel<M>::bucket_layout() const {
  return reducer_->bucket_layout();
}

}  // namespace matgrad::distributed
