// matgrad::distributed under mpirun (2 and 3 ranks): the collectives, the sampler across real
// ranks, and DistributedDataParallel against one process training on the same global batch.
// Every rank runs every case; assertions are CHECKs (a REQUIRE on one rank would leave the
// others waiting in a collective).
#define DOCTEST_CONFIG_IMPLEMENT
#include <matgrad/distributed.hpp>
#include <matgrad/nn.hpp>

#include <doctest/doctest.h>

#include "../check_error.hpp"

#include <cmath>
#include <cstring>
#include <set>

using namespace matgrad;
using namespace matgrad::distributed;
using matgrad::testing::error_of;

namespace {

ProcessGroup* group = nullptr;
int rank() { return group->rank(); }
int world() { return group->world_size(); }

nn::Sequential mlp(std::uint64_t seed, DType dtype) {
  Generator gen(seed);
  return nn::Sequential{nn::Linear(6, 8, gen, true, dtype), nn::Tanh(),
                        nn::Linear(8, 5, gen, true, dtype), nn::ReLU(),
                        nn::Linear(5, 3, gen, true, dtype)};
}

// A global batch of n rows, the same on every rank.
data::Dataset global_batch(std::size_t n, std::uint64_t seed, DType dtype) {
  Generator gen(seed);
  data::Dataset d{randn({n, 6}, gen, {.dtype = dtype}), std::vector<std::size_t>(n)};
  for (std::size_t i = 0; i < n; ++i) d.targets[i] = (i * 7 + seed) % 3;
  return d;
}

// This rank's rows of a batch: contiguous, as even as possible (11 over 3: 4, 4, 3).
data::Dataset shard(const data::Dataset& d) {
  const std::size_t n = d.size(), w = static_cast<std::size_t>(world()), r = static_cast<std::size_t>(rank());
  const std::size_t begin = r * (n / w) + std::min(r, n % w);
  const std::size_t count = n / w + (r < n % w ? 1 : 0);
  data::Dataset out{slice(d.inputs, 0, begin, begin + count),
                    std::vector<std::size_t>(d.targets.begin() + static_cast<std::ptrdiff_t>(begin),
                                             d.targets.begin() + static_cast<std::ptrdiff_t>(begin + count))};
  return out;
}

// max |a − b| / max |b|
double rel_diff(const Tensor& a, const Tensor& b) {
  const auto x = a.to(DType::float64).data<double>(), y = b.to(DType::float64).data<double>();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    diff = std::max(diff, std::abs(x.data()[i] - y.data()[i]));
    scale = std::max(scale, std::abs(y.data()[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  return a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    return std::memcmp(x.data(), b.data<T>().data(), x.size() * sizeof(T)) == 0;
  });
}

// Whether every rank holds the same bits in t.
bool identical_everywhere(const Tensor& t) {
  const std::vector<Tensor> all = all_gather(t.detach());
  for (const Tensor& other : all) {
    if (!same_bits(other, all[0])) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("the process group: ranks, world size, barrier") {
  CHECK(world() >= 2);
  CHECK(rank() >= 0);
  CHECK(rank() < world());
  CHECK(&ProcessGroup::world() == group);
  CHECK(launched_by_mpi());
  group->barrier();
  CHECK(error_of<DistributedError>([] { ProcessGroup second; }).find("has one already") !=
        std::string::npos);
}

TEST_CASE("all_reduce, broadcast and all_gather on float32 and float64") {
  for (DType dtype : {DType::float32, DType::float64}) {
    const double r = rank(), n = world();
    Tensor t = full({2, 3}, r + 1, {.dtype = dtype});
    all_reduce(t);
    CHECK(t.dtype() == dtype);
    CHECK(t.to(DType::float64).data<double>()(1, 2) == n * (n + 1) / 2);
    Tensor m = tensor({r, -r}, {.dtype = dtype});
    all_reduce(m, ReduceOp::max);
    CHECK(m.to(DType::float64).data<double>()(0) == n - 1);
    CHECK(m.to(DType::float64).data<double>()(1) == 0);
    Tensor a = full({4}, r, {.dtype = dtype});
    all_reduce(a, ReduceOp::avg);
    CHECK(a.to(DType::float64).data<double>()(3) == doctest::Approx((n - 1) / 2));

    Tensor b = full({3}, 10 * r, {.dtype = dtype});
    broadcast(b, world() - 1);
    CHECK(b.to(DType::float64).data<double>()(2) == 10 * (n - 1));

    const std::vector<Tensor> all = all_gather(full({2}, r, {.dtype = dtype}));
    CHECK(all.size() == static_cast<std::size_t>(world()));
    for (std::size_t k = 0; k < all.size(); ++k) {
      CHECK(all[k].dtype() == dtype);
      CHECK(all[k].to(DType::float64).data<double>()(1) == static_cast<double>(k));
    }
  }
}

TEST_CASE("collectives: ranks that disagree get an error naming every rank's tensor") {
  Tensor t = zeros({2, static_cast<std::size_t>(2 + (rank() == 1 ? 1 : 0))});
  const std::string message = error_of<DistributedError>([&] { all_reduce(t); });
  INFO(message);
  CHECK(message.find("all_reduce: the ranks disagree") != std::string::npos);
  CHECK(message.find("rank 0: float32 [2, 2]") != std::string::npos);
  CHECK(message.find("rank 1: float32 [2, 3]") != std::string::npos);
  Tensor d = zeros({2}, {.dtype = rank() == 0 ? DType::float64 : DType::float32});
  CHECK(error_of<DistributedError>([&] { broadcast(d); }).find("float64 [2]") != std::string::npos);
  CHECK(error_of<DistributedError>([&] { broadcast(zeros({1}), world()); }).find("root") !=
        std::string::npos);
  Tensor w = zeros({2}, {.requires_grad = true});
  CHECK(error_of<AutogradError>([&] { all_reduce(w); }).find("NoGradGuard") != std::string::npos);
}

TEST_CASE("broadcast_parameters makes differently seeded modules rank 0's, bitwise") {
  nn::Sequential net = mlp(100 + static_cast<std::uint64_t>(rank()), DType::float64);
  nn::Sequential reference = mlp(100, DType::float64);
  CHECK_FALSE(identical_everywhere(net.parameters()[0]));
  broadcast_parameters(net);
  const auto params = net.parameters(), expected = reference.parameters();
  for (std::size_t k = 0; k < params.size(); ++k) {
    CHECK(same_bits(params[k], expected[k]));
    CHECK(identical_everywhere(params[k]));
  }
  Generator gen(0);
  nn::Sequential smaller{nn::Linear(6, rank() == 0 ? 8 : 7, gen)};
  const std::string message = error_of<DistributedError>([&] { broadcast_parameters(smaller); });
  CHECK(message.find("0.weight float64") == std::string::npos);  // float32 here
  CHECK(message.find("0.weight float32 [8, 6]") != std::string::npos);
  CHECK(message.find("0.weight float32 [7, 6]") != std::string::npos);
}

TEST_CASE("DistributedSampler across the ranks: each example exactly once per epoch") {
  const std::size_t n = 60;  // divisible by 2, 3 and 4
  data::DistributedSampler sampler(n, static_cast<std::size_t>(world()), static_cast<std::size_t>(rank()),
                                   {.seed = 11});
  std::vector<std::size_t> previous;
  for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
    sampler.set_epoch(epoch);
    const std::vector<std::size_t> mine = sampler.indices();
    Tensor t = zeros({mine.size()}, {.dtype = DType::float64});
    for (std::size_t k = 0; k < mine.size(); ++k) t.mutable_data<double>()(k) = static_cast<double>(mine[k]);
    std::vector<std::size_t> count(n, 0);
    for (const Tensor& other : all_gather(t)) {
      for (double v : other.data<double>()) ++count[static_cast<std::size_t>(v)];
    }
    CHECK(count == std::vector<std::size_t>(n, 1));
    CHECK(mine != previous);
    previous = mine;
  }
}

// One DDP step on this rank's share of a global batch against one process on all of it.
template <class Options>
void check_one_step(DType dtype, double tolerance, std::size_t rows, Options options) {
  CAPTURE(dtype_name(dtype));
  CAPTURE(rows);
  DistributedDataParallel ddp(mlp(static_cast<std::uint64_t>(rank()), dtype), options);
  nn::Sequential single = mlp(0, dtype);  // rank 0's parameters, which the wrapper broadcast
  const data::Dataset batch = global_batch(rows, 5, dtype), mine = shard(batch);
  cross_entropy(single(batch.inputs), batch.targets).backward();
  cross_entropy(ddp(mine.inputs), mine.targets).backward();  // reduces in the last hook
  const auto got = ddp.named_parameters();
  const auto expected = single.named_parameters();
  for (std::size_t k = 0; k < got.size(); ++k) {
    CAPTURE(got[k].first);
    CHECK(same_bits(got[k].second, expected[k].second));  // the broadcast at construction
    CHECK(rel_diff(got[k].second.grad(), expected[k].second.grad()) <= tolerance);
    CHECK(identical_everywhere(got[k].second.grad()));
  }
  CHECK(ddp.stats().reductions == 1);
}

TEST_CASE("after one step every gradient is the single-process gradient of the global batch") {
  // 11 and 13 rows: uneven shards on 2 and 3 ranks; one bucket, or one per parameter.
  for (std::size_t rows : {11, 13, 12}) {
    check_one_step(DType::float64, 1e-12, rows, DDPOptions{});
    check_one_step(DType::float64, 1e-12, rows, DDPOptions{.bucket_cap_mb = 0});
    check_one_step(DType::float32, 1e-5, rows, DDPOptions{.bucket_cap_mb = 0.0005});
  }
}

TEST_CASE("buckets: reverse parameter order at first, then the order backward finished them") {
  DistributedDataParallel ddp(mlp(0, DType::float64), {.bucket_cap_mb = 0});
  const auto first = ddp.bucket_layout();
  CHECK(first.size() == 6);
  CHECK(first[0] == std::vector<std::string>{"4.bias"});
  CHECK(first[5] == std::vector<std::string>{"0.weight"});
  const data::Dataset batch = shard(global_batch(12, 1, DType::float64));
  cross_entropy(ddp(batch.inputs), batch.targets).backward();
  const auto rebuilt = ddp.bucket_layout();
  CHECK(rebuilt[0] == std::vector<std::string>{"4.weight"});  // the linear op's input order
  CHECK(rebuilt[1] == std::vector<std::string>{"4.bias"});
  CHECK(rebuilt[5] == std::vector<std::string>{"0.bias"});
  // In the first step's reverse parameter order, 0.bias held back 0.weight's bucket; now
  // every bucket but the last parameter's starts while backward is still computing.
  CHECK(ddp.stats().started_early == 4);
  cross_entropy(ddp(batch.inputs), batch.targets).backward();
  CHECK(ddp.stats().started_early == 5);
  CHECK(ddp.bucket_layout() == rebuilt);
  DistributedDataParallel one(mlp(0, DType::float64));
  CHECK(one.bucket_layout().size() == 1);
  CHECK(one.bucket_layout()[0].size() == 6);
  // 0.0002 MiB (210 bytes) of float32: [4.bias, 4.weight, 2.bias], [2.weight, 0.bias], [0.weight].
  DistributedDataParallel capped(mlp(0, DType::float32), {.bucket_cap_mb = 0.0002});
  CHECK(capped.bucket_layout() == std::vector<std::vector<std::string>>{
                                     {"4.bias", "4.weight", "2.bias"}, {"2.weight", "0.bias"}, {"0.weight"}});
}

TEST_CASE("20 steps: the parameters are bitwise equal on every rank and follow one process") {
  for (DType dtype : {DType::float32, DType::float64}) {
    DistributedDataParallel ddp(mlp(static_cast<std::uint64_t>(rank()), dtype), {.bucket_cap_mb = 0.0002});
    optim::SGD opt(ddp.parameters(), {.lr = 0.1, .momentum = 0.9});
    ddp.attach(opt);
    nn::Sequential single = mlp(0, dtype);
    optim::SGD single_opt(single.parameters(), {.lr = 0.1, .momentum = 0.9});
    for (std::uint64_t step = 0; step < 20; ++step) {
      const data::Dataset batch = global_batch(10 + step % 3, step, dtype), mine = shard(batch);
      opt.zero_grad();
      cross_entropy(ddp(mine.inputs), mine.targets).backward();
      opt.step();
      single_opt.zero_grad();
      cross_entropy(single(batch.inputs), batch.targets).backward();
      single_opt.step();
    }
    const auto params = ddp.parameters(), expected = single.parameters();
    for (std::size_t k = 0; k < params.size(); ++k) {
      CHECK(identical_everywhere(params[k]));
      CHECK(rel_diff(params[k], expected[k]) <= (dtype == DType::float64 ? 1e-10 : 1e-4));
    }
    CHECK(ddp.stats().reductions == 20);
  }
}

TEST_CASE("no_sync accumulates locally, then the next backward reduces everything once") {
  DistributedDataParallel ddp(mlp(0, DType::float64), {.bucket_cap_mb = 0});
  nn::Sequential single = mlp(0, DType::float64);
  std::vector<data::Dataset> batches;
  for (std::uint64_t k = 0; k < 3; ++k) batches.push_back(global_batch(12, 20 + k, DType::float64));
  {
    auto guard = ddp.no_sync();
    for (std::size_t k = 0; k < 2; ++k) {
      const data::Dataset mine = shard(batches[k]);
      cross_entropy(ddp(mine.inputs), mine.targets).backward();
    }
    ddp.finalize();  // a no-op inside no_sync
    CHECK(ddp.stats().reductions == 0);
    CHECK_FALSE(identical_everywhere(ddp.parameters()[0].grad()));  // each rank's own
  }
  const data::Dataset mine = shard(batches[2]);
  cross_entropy(ddp(mine.inputs), mine.targets).backward();
  for (const data::Dataset& b : batches) cross_entropy(single(b.inputs), b.targets).backward();
  CHECK(ddp.stats().reductions == 1);
  const auto got = ddp.parameters(), expected = single.parameters();
  for (std::size_t k = 0; k < got.size(); ++k) {
    CHECK(rel_diff(got[k].grad(), expected[k].grad()) <= 1e-12);
    CHECK(identical_everywhere(got[k].grad()));
  }
}

namespace {
// Two heads; forward uses `b` only on the ranks `uses_b` says.
struct TwoHeads : nn::ModuleBase<TwoHeads> {
  nn::Linear a, b;
  bool uses_b = false;
  explicit TwoHeads(Generator& gen) : a(6, 3, gen, true, DType::float64), b(6, 3, gen, true, DType::float64) {}
  Tensor forward(const Tensor& x) { return uses_b ? a(x) + b(x) : a(x); }
  nn::NamedTensors named_parameters() const {
    nn::NamedTensors out;
    nn::append_parameters(out, "a", a);
    nn::append_parameters(out, "b", b);
    return out;
  }
};
}  // namespace

TEST_CASE("unused parameters: an error naming them, or zeros with find_unused_parameters") {
  const data::Dataset mine = shard(global_batch(12, 3, DType::float64));
  Generator gen(0);
  SUBCASE("refused by default, at finalize() or at the next forward, on every rank") {
    DistributedDataParallel ddp{TwoHeads(gen)};
    cross_entropy(ddp(mine.inputs), mine.targets).backward();
    const std::string message = error_of<DistributedError>([&] { ddp(mine.inputs); });
    CHECK(message.find("b.weight, b.bias") != std::string::npos);
    const std::string at_finalize = error_of<DistributedError>([&] { ddp.finalize(); });
    INFO(at_finalize);
    CHECK(at_finalize.find("2 of 4 parameters got no gradient") != std::string::npos);
    CHECK(at_finalize.find("find_unused_parameters") != std::string::npos);
    // The wrapper is usable again: a step that uses everything.
    ddp.module().uses_b = true;
    cross_entropy(ddp(mine.inputs), mine.targets).backward();
    CHECK(ddp.stats().reductions == 1);
    // The refused pass left nothing behind: the buckets were rebuilt from this pass's order
    // alone, as a fresh wrapper's are (they held a.weight and a.bias twice).
    Generator same(0);
    DistributedDataParallel fresh{TwoHeads(same)};
    fresh.module().uses_b = true;
    cross_entropy(fresh(mine.inputs), mine.targets).backward();
    CHECK(fresh.stats().reductions == 1);
    CHECK(ddp.bucket_layout() == fresh.bucket_layout());
  }
  SUBCASE("find_unused_parameters: used on rank 0 only, b's gradient is rank 0's share") {
    TwoHeads heads(gen);
    heads.uses_b = rank() == 0;
    DistributedDataParallel ddp(heads, {.find_unused_parameters = true});
    Generator same(0);
    TwoHeads reference(same);
    reference.uses_b = true;
    const data::Dataset all = global_batch(12, 3, DType::float64);
    const data::Dataset first = [&] {
      const std::size_t n = 12 / static_cast<std::size_t>(world());
      return data::Dataset{slice(all.inputs, 0, 0, n),
                           std::vector<std::size_t>(all.targets.begin(), all.targets.begin() + static_cast<std::ptrdiff_t>(n))};
    }();
    // Rank 0's rows through a + b, weighted by its share; everyone else's through a alone.
    cross_entropy(reference(first.inputs), first.targets).backward();
    cross_entropy(ddp(mine.inputs), mine.targets).backward();
    // Rank 0 has every gradient and reduces in its last hook, waiting for the others' finalize().
    CHECK(ddp.stats().reductions == (rank() == 0 ? 1u : 0u));
    ddp.finalize();
    CHECK(ddp.stats().reductions == 1);
    const Tensor expected = reference.b.weight.grad() * (1.0 / world());
    CHECK(rel_diff(ddp.module().b.weight.grad(), expected) <= 1e-12);
    CHECK(identical_everywhere(ddp.module().b.weight.grad()));
  }
  SUBCASE("find_unused_parameters: unused everywhere, b keeps an undefined gradient") {
    DistributedDataParallel ddp{TwoHeads(gen), {.find_unused_parameters = true}};
    optim::SGD opt(ddp.parameters(), {.lr = 0.1});
    ddp.attach(opt);
    cross_entropy(ddp(mine.inputs), mine.targets).backward();
    opt.step();  // finalize() first
    CHECK(ddp.stats().reductions == 1);
    CHECK(ddp.module().a.weight.grad().defined());
    CHECK_FALSE(ddp.module().b.weight.grad().defined());
  }
}

TEST_CASE("no_sync with find_unused_parameters: a parameter used only inside no_sync keeps what it accumulated") {
  Generator gen(0), same(0);
  DistributedDataParallel ddp{TwoHeads(gen), {.find_unused_parameters = true}};
  TwoHeads single(same);
  const data::Dataset first = global_batch(12, 30, DType::float64), second = global_batch(12, 31, DType::float64);
  {
    auto guard = ddp.no_sync();
    ddp.module().uses_b = single.uses_b = true;
    const data::Dataset mine = shard(first);
    cross_entropy(ddp(mine.inputs), mine.targets).backward();
    cross_entropy(single(first.inputs), first.targets).backward();
  }
  ddp.module().uses_b = single.uses_b = false;
  const data::Dataset mine = shard(second);
  cross_entropy(ddp(mine.inputs), mine.targets).backward();
  cross_entropy(single(second.inputs), second.targets).backward();
  ddp.finalize();
  CHECK(ddp.stats().reductions == 1);
  const auto got = ddp.parameters(), expected = single.parameters();
  for (std::size_t k = 0; k < got.size(); ++k) {
    CHECK(rel_diff(got[k].grad(), expected[k].grad()) <= 1e-12);
    CHECK(identical_everywhere(got[k].grad()));
  }
}

TEST_CASE("DDP misuse is loud: a gradient twice before the reduction, create_graph") {
  const data::Dataset mine = shard(global_batch(12, 3, DType::float64));
  Generator gen(0);
  DistributedDataParallel ddp{TwoHeads(gen), {.find_unused_parameters = true}};
  cross_entropy(ddp(mine.inputs), mine.targets).backward();
  const std::string twice = error_of<DistributedError>([&] {
    cross_entropy(ddp.module()(mine.inputs), mine.targets).backward();
  });
  CHECK(twice.find("'a.weight' got a gradient a second time") != std::string::npos);
  ddp.finalize();
  ddp.zero_grad();
  DistributedDataParallel plain(mlp(0, DType::float64));
  const std::string graph = error_of<DistributedError>([&] {
    cross_entropy(plain(mine.inputs), mine.targets).backward(Tensor(), false, true);
  });
  CHECK(graph.find("create_graph") != std::string::npos);
  plain.zero_grad();  // a .grad made with create_graph holds its parameter: the cycle of tensor.hpp
}

int main(int argc, char** argv) {
  ProcessGroup pg;
  group = &pg;
  doctest::Context context(argc, argv);
  const int failed = context.run();
  pg.barrier();
  return failed;
}
