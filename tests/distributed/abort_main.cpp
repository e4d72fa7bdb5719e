// A data-parallel job in which rank 1 throws in the middle of training while the others go on
// into the next step's all-reduce. tests/distributed/expect_abort runs it under mpirun and
// checks that the whole job ends promptly, non-zero, with the exception's message.
//   abort_main run        the exception leaves ProcessGroup::run
//   abort_main uncaught   nothing catches it (std::terminate)
//   abort_main unwind     it propagates out of the group's scope to a catch in main
#include <matgrad/distributed.hpp>
#include <matgrad/nn.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

using namespace matgrad;

namespace {

int train(const distributed::ProcessGroup& group) {
  Generator gen(0);
  distributed::DistributedDataParallel ddp(nn::Sequential{nn::Linear(4, 3, gen)});
  optim::SGD opt(ddp.parameters(), {.lr = 0.1});
  const Tensor x = randn({8, 4}, gen);
  const std::vector<std::size_t> y{0, 1, 2, 0, 1, 2, 0, 1};
  for (int step = 0; step < 1000; ++step) {
    if (step == 3 && group.rank() == 1) {
      throw std::runtime_error("rank 1 ran out of patience at step 3");
    }
    opt.zero_grad();
    cross_entropy(ddp(x), y).backward();
    opt.step();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "run";
  if (mode == "run") {
    distributed::ProcessGroup group;
    return group.run([&] { return train(group); });
  }
  if (mode == "uncaught") {
    distributed::ProcessGroup group;
    return train(group);
  }
  try {
    distributed::ProcessGroup group;
    return train(group);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "abort_main: %s\n", e.what());
    return 1;
  }
}
