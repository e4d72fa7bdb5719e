// The process group (MPI's lifetime, aborting the job on errors) and the tensor collectives.
#include "mpi_util.hpp"

#include <matgrad/autograd.hpp>

#include <fmt/format.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace matgrad::distributed {

namespace {

ProcessGroup* the_group = nullptr;

// std::terminate (an exception nothing caught, among others) ends every rank, with the
// exception's message on this one's stderr.
[[noreturn]] void terminate_the_job() {
  std::string message = "std::terminate called without an active exception";
  if (const std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      message = fmt::format("uncaught exception: {}", x.what());
    } catch (...) {
      message = "uncaught exception of unknown type";
    }
  }
  if (the_group) the_group->abort(message);
  std::fprintf(stderr, "%s\n", message.c_str());
  std::abort();
}

int abort_rank = 0, abort_size = 0;

void abort_at_exit() {
  std::fflush(stdout);
  std::fprintf(stderr,
               "[rank %d/%d] exiting after an exception left the ProcessGroup's scope: aborting "
               "every rank\n",
               abort_rank, abort_size);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

}  // namespace

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"}) {
    if (std::getenv(name)) return true;
  }
  return false;
}

ProcessGroup::ProcessGroup(ProcessGroupOptions options) {
  if (the_group) {
    fail<DistributedError>("ProcessGroup: this process has one already (ProcessGroup::world())");
  }
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (finalized) {
    fail<DistributedError>(
        "ProcessGroup: MPI was finalised already in this process, and MPI cannot be "
        "initialised twice: keep one ProcessGroup for the whole program");
  }
  int provided = 0;
  if (initialized) {
    MPI_Query_thread(&provided);
  } else {
    const int required = options.thread_multiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_SERIALIZED;
    detail::check_mpi(MPI_Init_thread(nullptr, nullptr, required, &provided), "MPI_Init_thread");
    owns_mpi_ = true;
  }
  thread_multiple_ = provided >= MPI_THREAD_MULTIPLE;
  detail::check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &world_size_);
  uncaught_at_start_ = std::uncaught_exceptions();
  previous_terminate_ = std::set_terminate(terminate_the_job);
  the_group = this;
}

ProcessGroup::~ProcessGroup() {
  std::set_terminate(previous_terminate_);
  the_group = nullptr;
  if (std::uncaught_exceptions() > uncaught_at_start_) {
    // Finalising would wait for ranks that may be waiting for this one. The exception goes on
    // to whoever catches it (and prints it, we hope); the job ends when this process does.
    abort_rank = rank_;
    abort_size = world_size_;
    std::atexit(abort_at_exit);
    return;
  }
  MPI_Comm_free(&comm_);
  if (owns_mpi_) MPI_Finalize();
}

ProcessGroup& ProcessGroup::world() {
  if (!the_group) {
    fail<DistributedError>(
        "matgrad::distributed: no ProcessGroup exists; construct one first (it initialises MPI)");
  }
  return *the_group;
}

void ProcessGroup::barrier() const { detail::check_mpi(MPI_Barrier(comm_), "MPI_Barrier"); }

void ProcessGroup::abort(std::string_view message, int code) const {
  std::fflush(stdout);
  std::fprintf(stderr, "[rank %d/%d] %.*s\n", rank_, world_size_, static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // MPI_Abort does not return
}

namespace detail {

void check_mpi(int code, std::string_view call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail<DistributedError>("{}: {}", call, std::string_view(text, static_cast<std::size_t>(length)));
}

int mpi_count(std::size_t n, std::string_view op) {
  if (n > static_cast<std::size_t>(INT_MAX)) {
    fail<DistributedError>("{}: {} elements are more than an MPI count holds ({})", op, n, INT_MAX);
  }
  return static_cast<int>(n);
}

std::vector<std::string> gather_strings(const std::string& mine, MPI_Comm comm) {
  int size = 0;
  MPI_Comm_size(comm, &size);
  int length = mpi_count(mine.size(), "gather_strings");
  std::vector<int> lengths(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  check_mpi(MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, comm), "MPI_Allgather");
  int total = 0;
  for (int r = 0; r < size; ++r) {
    offsets[static_cast<std::size_t>(r)] = total;
    total += lengths[static_cast<std::size_t>(r)];
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  check_mpi(MPI_Allgatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(),
                           offsets.data(), MPI_CHAR, comm),
            "MPI_Allgatherv");
  std::vector<std::string> out;
  for (int r = 0; r < size; ++r) {
    out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                             static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
  }
  return out;
}

void check_same_everywhere(std::string_view op, const std::string& description, MPI_Comm comm) {
  // FNV-1a of the description; max(h) = h and max(~h) = ~h on every rank iff all agree.
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : description) h = (h ^ c) * 1099511628211ull;
  std::uint64_t v[2] = {h, ~h};
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, comm), "MPI_Allreduce");
  if (v[0] == h && v[1] == ~h) return;
  const std::vector<std::string> all = gather_strings(description, comm);
  std::string ranks;
  for (std::size_t r = 0; r < all.size(); ++r) ranks += fmt::format("\n  rank {}: {}", r, all[r]);
  fail<DistributedError>("{}: the ranks disagree (every rank must pass the same):{}", op, ranks);
}

std::string describe(const Tensor& t) {
  return fmt::format("{} {}", dtype_name(t.dtype()), to_string(t.shape()));
}

}  // namespace detail

namespace {

void check_tensor(std::string_view op, const Tensor& t, const ProcessGroup& group) {
  if (!t.defined()) fail<DistributedError>("{}: the tensor is undefined", op);
  if (t.requires_grad() && is_grad_enabled()) {
    fail<AutogradError>(
        "{}: an in-place update of a tensor that requires grad would corrupt its gradient; do "
        "it under NoGradGuard",
        op);
  }
  detail::check_same_everywhere(op, detail::describe(t), group.comm());
}

void check_root(std::string_view op, int root, const ProcessGroup& group) {
  if (root < 0 || root >= group.world_size()) {
    fail<DistributedError>("{}: root {} is not a rank of this group of {}", op, root,
                           group.world_size());
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
    case ReduceOp::avg: return MPI_SUM;
    case ReduceOp::product: return MPI_PROD;
    case ReduceOp::min: return MPI_MIN;
    case ReduceOp::max: return MPI_MAX;
  }
  return MPI_SUM;
}

}  // namespace

void all_reduce(const Tensor& tensor, ReduceOp op, const ProcessGroup& group) {
  check_tensor("all_reduce", tensor, group);
  Tensor t = tensor;
  t.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto& data = t.mutable_data<T>();
    detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, data.data(), detail::mpi_count(data.size(), "all_reduce"),
                                    detail::mpi_type<T>(), mpi_op(op), group.comm()),
                      "MPI_Allreduce");
    if (op == ReduceOp::avg) {
      const T scale = T(1) / static_cast<T>(group.world_size());
      for (T& v : data) v *= scale;
    }
  });
}

void broadcast(const Tensor& tensor, int root, const ProcessGroup& group) {
  check_root("broadcast", root, group);
  check_tensor("broadcast", tensor, group);
  Tensor t = tensor;
  t.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto& data = t.mutable_data<T>();
    detail::check_mpi(MPI_Bcast(data.data(), detail::mpi_count(data.size(), "broadcast"),
                                detail::mpi_type<T>(), root, group.comm()),
                      "MPI_Bcast");
  });
}

std::vector<Tensor> all_gather(const Tensor& tensor, const ProcessGroup& group) {
  if (!tensor.defined()) fail<DistributedError>("all_gather: the tensor is undefined");
  detail::check_same_everywhere("all_gather", detail::describe(tensor), group.comm());
  return tensor.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const std::size_t n = x.size(), ranks = static_cast<std::size_t>(group.world_size());
    std::vector<T> all(n * ranks);
    const int count = detail::mpi_count(n, "all_gather");
    detail::check_mpi(MPI_Allgather(x.data(), count, detail::mpi_type<T>(), all.data(), count,
                                    detail::mpi_type<T>(), group.comm()),
                      "MPI_Allgather");
    std::vector<Tensor> out;
    for (std::size_t r = 0; r < ranks; ++r) {
      auto part = xt::xarray<T>::from_shape(x.shape());
      std::copy_n(all.data() + r * n, n, part.data());
      out.emplace_back(std::move(part));
    }
    return out;
  });
}

void broadcast_parameters(const nn::NamedTensors& parameters, int root, const ProcessGroup& group) {
  check_root("broadcast_parameters", root, group);
  std::string description = fmt::format("{} parameters", parameters.size());
  for (const auto& [name, p] : parameters) {
    if (!p.defined()) fail<DistributedError>("broadcast_parameters: '{}' is undefined", name);
    description += fmt::format(", {} {}", name, detail::describe(p));
  }
  detail::check_same_everywhere("broadcast_parameters", description, group.comm());
  NoGradGuard no_grad;
  // One message per dtype: the parameters packed back to back.
  auto send = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T> packed;
    for (const auto& [name, p] : parameters) {
      if (p.dtype() != dtype_of<T>()) continue;
      const auto& x = p.template data<T>();
      packed.insert(packed.end(), x.begin(), x.end());
    }
    if (packed.empty()) return;
    detail::check_mpi(MPI_Bcast(packed.data(), detail::mpi_count(packed.size(), "broadcast_parameters"),
                                detail::mpi_type<T>(), root, group.comm()),
                      "MPI_Bcast");
    if (group.rank() == root) return;
    std::size_t offset = 0;
    for (const auto& [name, p] : parameters) {
      if (p.dtype() != dtype_of<T>()) continue;
      Tensor target = p;
      auto& x = target.template mutable_data<T>();
      std::copy_n(packed.data() + offset, x.size(), x.data());
      offset += x.size();
    }
  };
  send(float{});
  send(double{});
}

}  // namespace matgrad::distributed
