// Uses the installed matgrad::distributed: a few data-parallel steps on every rank, then checks
// that the ranks hold the same parameters. Run under mpirun -np 2.
#include <matgrad/distributed.hpp>
#include <matgrad/nn.hpp>

#include <fmt/format.h>

#include <cstring>

using namespace matgrad;

int main() {
  distributed::ProcessGroup group;
  return group.run([&] {
    Generator gen(static_cast<std::uint64_t>(group.rank()));  // different, until the broadcast
    distributed::DistributedDataParallel ddp(nn::Sequential{nn::Linear(2, 8, gen), nn::Tanh(), nn::Linear(8, 1, gen)});
    optim::Adam opt(ddp.parameters(), {.lr = 0.05});
    const Tensor x = tensor({{0, 0}, {0, 1}, {1, 0}, {1, 1}});
    const Tensor y = tensor({{0}, {1}, {1}, {0}});
    const std::size_t r = static_cast<std::size_t>(group.rank()) % 2;  // each rank: 2 of the 4 rows
    const Tensor mine_x = slice(x, 0, 2 * r, 2 * r + 2), mine_y = slice(y, 0, 2 * r, 2 * r + 2);
    for (int step = 0; step < 50; ++step) {
      Tensor loss = nn::BCEWithLogitsLoss()(ddp(mine_x), mine_y);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
    bool same = true;
    for (const Tensor& p : ddp.parameters()) {
      const std::vector<Tensor> all = distributed::all_gather(p.detach());
      for (const Tensor& other : all) {
        same = same && std::memcmp(other.data<float>().data(), all[0].data<float>().data(),
                                   p.numel() * sizeof(float)) == 0;
      }
    }
    if (group.rank() == 0) {
      fmt::print("consumer_distributed: {} ranks, {} bucket(s), parameters {} on every rank\n",
                 group.world_size(), ddp.stats().buckets, same ? "identical" : "DIFFERENT");
    }
    return same ? 0 : 1;
  });
}
