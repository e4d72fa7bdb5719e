// The libtorch peer behind a plain interface, so the benchmark driver compiles without torch's
// headers (torch_peer.cpp is built only when find_package(Torch) works).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace bench::torch_peer {

std::string version();
// Intra-op threads of libtorch, and inter-op 1 (once: libtorch refuses a second inter-op
// setting). OpenBLAS has its own pool, set with openblas_set_num_threads.
void set_threads(int threads);
// Intra-op threads only: OpenMP's count of the calling thread, which others (matgrad's oneDNN
// calls) set too.
void set_intra_op_threads(int threads);

// The same MLP as HandMlp (torch::nn::Sequential of Linear and ReLU, cross_entropy, SGD), in
// float32 or float64, with weights copied from the given arrays ([out, in] and [out], as
// float64 values).
class Mlp {
 public:
  Mlp(const std::vector<std::size_t>& sizes, bool float64,
      const std::vector<std::vector<double>>& weights, const std::vector<std::vector<double>>& biases,
      double lr);
  ~Mlp();
  // The batch every step uses: x [batch, sizes[0]] as float64 values, class indices.
  void set_batch(const std::vector<double>& x, const std::vector<std::size_t>& targets);
  double step();      // zero_grad, forward, loss, backward, SGD step; the loss
  void forward();     // forward and loss only (kept for backward_only)
  void backward_only();  // backward of the last forward, then zero_grad
  // The gradient of parameter k after a step's backward (W0, b0, W1, b1, ...), as float64.
  std::vector<double> grad(std::size_t k) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Chains for the per-op overhead, forward and backward: `ops` ops alternating mul/add/tanh on
// one-element tensors; `ops` 16×16 matmuls y ← y W (W orthogonal, float32).
void scalar_chain(std::size_t ops);
class MatmulChain {
 public:
  explicit MatmulChain(const std::vector<float>& w16x16, const std::vector<float>& y0);
  ~MatmulChain();
  void run(std::size_t ops);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bench::torch_peer
