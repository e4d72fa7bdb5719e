// The cost of a Hessian-vector product against a gradient, for an MLP-sized loss.
//
// Loss: mean cross-entropy of a 2-layer tanh network, float64,
//   L(W₁, b₁, W₂, b₂) = CE(tanh(X W₁ + b₁) W₂ + b₂, t).
// A gradient is one forward and one backward. An HVP (Pearlmutter's R-op as a VJP of a VJP)
// is one forward, one backward recorded with create_graph, then a backward through both, so
// theory says a small constant (about 2–4) times a gradient. Each run times one of each,
// interleaved, and the medians are compared.
//
//   hvp_cost [batch] [hidden] [runs]     (defaults 256, 256, 21)
#include <matgrad/matgrad.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

using namespace matgrad;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Repeats f until at least `budget` seconds have passed; the time per call.
template <class F>
double time_per_call(F&& f, double budget) {
  std::size_t calls = 0;
  const auto start = std::chrono::steady_clock::now();
  do {
    f();
    ++calls;
  } while (seconds_since(start) < budget);
  return seconds_since(start) / static_cast<double>(calls);
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t batch = argc > 1 ? std::stoul(argv[1]) : 256;
  const std::size_t hidden = argc > 2 ? std::stoul(argv[2]) : 256;
  const std::size_t runs = std::max<std::size_t>(5, argc > 3 ? std::stoul(argv[3]) : 21);
  const std::size_t features = 64, classes = 10;

  Generator gen(0);
  const TensorOptions f64{.dtype = DType::float64};
  const Tensor x = randn({batch, features}, gen, f64);
  std::vector<std::size_t> targets(batch);
  for (std::size_t i = 0; i < batch; ++i) targets[i] = (i * 7) % classes;
  auto param = [&](Shape shape, double scale) {
    Tensor p = randn(shape, gen, f64) * scale;
    return p.requires_grad_(true);
  };
  const std::vector<Tensor> params = {
      param({features, hidden}, 1.0 / std::sqrt(double(features))), param({hidden}, 0.1),
      param({hidden, classes}, 1.0 / std::sqrt(double(hidden))), param({classes}, 0.1)};
  std::vector<Tensor> v;
  std::size_t count = 0;
  for (const Tensor& p : params) {
    v.push_back(randn(p.shape(), gen, f64));
    count += p.numel();
  }
  const TensorFunction loss = [&](const std::vector<Tensor>& p) {
    return cross_entropy(matmul(tanh(matmul(x, p[0]) + p[1]), p[2]) + p[3], targets);
  };

  auto gradient = [&] { return grad({loss(params)}, params); };
  auto product = [&] { return hvp(loss, params, v).products; };
  // The same product without the helper: grad with create_graph, then the VJP of ⟨g, v⟩.
  auto by_hand = [&] {
    const std::vector<Tensor> g = grad({loss(params)}, params, {}, false, true);
    return grad(g, params, v);
  };

  // The two HVPs agree (and the work is not optimised away).
  const std::vector<Tensor> a = product(), b = by_hand();
  double diff = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    diff = std::max(diff, compare_tensors(a[k], b[k], 0, 0).max_abs_error);
  }

  const double budget = 0.05;  // seconds of repetitions per timed sample
  std::vector<double> t_grad, t_hvp, t_hand;
  for (std::size_t r = 0; r < runs; ++r) {
    t_grad.push_back(time_per_call(gradient, budget));
    t_hvp.push_back(time_per_call(product, budget));
    t_hand.push_back(time_per_call(by_hand, budget));
  }
  const double g = median(t_grad), h = median(t_hvp), m = median(t_hand);
  fmt::print("2-layer tanh MLP, float64: batch {}, {} → {} → {}, {} parameters\n", batch,
             features, hidden, classes, count);
  fmt::print("median of {} interleaved runs ({:.0f} ms of repetitions each)\n", runs,
             budget * 1e3);
  fmt::print("  gradient            {:9.3f} ms\n", g * 1e3);
  fmt::print("  hvp()               {:9.3f} ms   ratio {:.2f}\n", h * 1e3, h / g);
  fmt::print("  grad∘grad by hand   {:9.3f} ms   ratio {:.2f}\n", m * 1e3, m / g);
  fmt::print("(the two HVPs differ by at most {:.1e})\n", diff);
  return diff <= 1e-10 ? 0 : 1;
}
