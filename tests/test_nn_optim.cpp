// Optimisers against PyTorch's update formulas, worked by hand for two steps, and the
// learning-rate schedules against PyTorch's definitions.
#include <matgrad/nn.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <string>

using namespace matgrad;
using namespace matgrad::optim;

// The tiny problem: L(w) = ½ Σ wᵢ², so ∇L = w.
static Tensor param(std::initializer_list<double> values, DType dtype = DType::float64) {
  Tensor p = zeros({values.size()}, {.dtype = dtype});
  std::size_t i = 0;
  for (double v : values) {
    p.visit([&](const auto& x) {
      using T = typename std::decay_t<decltype(x)>::value_type;
      p.mutable_data<T>()(i) = static_cast<T>(v);
    });
    ++i;
  }
  return p.requires_grad_(true);
}

static void step(Optimizer& opt, Tensor& w) {
  opt.zero_grad();
  (0.5 * sum(w * w)).backward();
  opt.step();
}

static double at(const Tensor& w, std::size_t i) { return w.to(DType::float64).data<double>()(i); }

TEST_CASE("SGD with momentum and weight decay: two steps by hand") {
  // lr 0.1, μ 0.9, λ 0.1, w₀ = 1:
  //   g₁ = 1 + 0.1·1 = 1.1,         b₁ = g₁ = 1.1,                w₁ = 1 − 0.1·1.1 = 0.89
  //   g₂ = 0.89 + 0.089 = 0.979,    b₂ = 0.9·1.1 + 0.979 = 1.969,  w₂ = 0.89 − 0.1969 = 0.6931
  Tensor w = param({1.0});
  SGD opt({w}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(0.89).epsilon(1e-15));
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(0.6931).epsilon(1e-15));
}

TEST_CASE("SGD with Nesterov momentum: two steps by hand") {
  // lr 0.1, μ 0.9, λ 0.1, w₀ = 1:
  //   g₁ = 1.1, b₁ = 1.1, d₁ = 1.1 + 0.9·1.1 = 2.09,                     w₁ = 1 − 0.209 = 0.791
  //   g₂ = 1.1·0.791 = 0.8701, b₂ = 0.99 + 0.8701 = 1.8601,
  //   d₂ = 0.8701 + 0.9·1.8601 = 2.54419,                                w₂ = 0.791 − 0.254419 = 0.536581
  Tensor w = param({1.0});
  SGD opt({w}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true});
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(0.791).epsilon(1e-15));
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(0.536581).epsilon(1e-15));
}

// PyTorch's _single_tensor_sgd for one element, step by step, in T.
template <class T>
static T sgd_reference(T w, T g, T& buf, bool first, const SGDOptions& o) {
  T d = o.maximize ? -g : g;
  if (o.weight_decay != 0) d = d + static_cast<T>(o.weight_decay) * w;
  if (o.momentum != 0) {
    buf = first ? d : buf * static_cast<T>(o.momentum) + static_cast<T>(1 - o.dampening) * d;
    d = o.nesterov ? d + static_cast<T>(o.momentum) * buf : buf;
  }
  return w + static_cast<T>(-o.lr) * d;
}

TEST_CASE_TEMPLATE("SGD: every combination of options, 1000 elements, bitwise PyTorch's formula", T,
                   float, double) {
  // 1000 elements: the vectorised loops and their scalar tails both run.
  const std::size_t n = 1000;
  Generator gen(3);
  const DType dtype = std::is_same_v<T, float> ? DType::float32 : DType::float64;
  const Tensor start = randn({n}, gen, {.dtype = dtype});
  const Tensor grad1 = randn({n}, gen, {.dtype = dtype}), grad2 = randn({n}, gen, {.dtype = dtype});
  for (const double momentum : {0.0, 0.9}) {
    for (const double dampening : {0.0, 0.25}) {
      for (const bool nesterov : {false, true}) {
        if (nesterov && (momentum == 0 || dampening != 0)) continue;
        for (const double weight_decay : {0.0, 0.01}) {
          for (const bool maximize : {false, true}) {
            const SGDOptions o{.lr = 0.1, .momentum = momentum, .dampening = dampening,
                               .weight_decay = weight_decay, .nesterov = nesterov, .maximize = maximize};
            CAPTURE(momentum);
            CAPTURE(dampening);
            CAPTURE(nesterov);
            CAPTURE(weight_decay);
            CAPTURE(maximize);
            Tensor w = start.clone().requires_grad_(true);
            SGD opt({w}, o);
            std::vector<T> expected(start.data<T>().begin(), start.data<T>().end()), buf(n);
            bool first = true;
            for (const Tensor& g : {grad1, grad2}) {
              w.set_grad(g.clone());
              opt.step();
              for (std::size_t i = 0; i < n; ++i) {
                expected[i] = sgd_reference<T>(expected[i], g.data<T>()(i), buf[i], first, o);
              }
              first = false;
            }
            std::size_t differ = 0;
            for (std::size_t i = 0; i < n; ++i) differ += w.data<T>()(i) != expected[i];
            CHECK(differ == 0);
          }
        }
      }
    }
  }
}

// Two steps of opt's kind on a parameter of n elements, starting from the same values and
// gradients, with set_num_threads(threads).
template <class MakeOptimizer>
static std::vector<float> two_steps(std::size_t n, int threads, MakeOptimizer make) {
  const int before = get_num_threads();
  set_num_threads(threads);
  Generator gen(11);
  Tensor w = randn({n}, gen).requires_grad_(true);
  auto opt = make(w);
  for (int s = 0; s < 2; ++s) {
    w.set_grad(randn({n}, gen));
    opt.step();
  }
  set_num_threads(before);
  return {w.data<float>().begin(), w.data<float>().end()};
}

TEST_CASE("SGD and Adam: a large parameter split over threads is updated as on one thread, bitwise") {
  // 100,003 elements: two or three chunks of whole vectors and a ragged last one (the optimisers
  // split updates of at least 2 × 32,768 elements over set_num_threads()).
  const std::size_t n = 100003;
  auto sgd = [](Tensor& w) { return SGD({w}, {.lr = 0.1, .momentum = 0.9, .nesterov = true}); };
  auto adamw = [](Tensor& w) { return AdamW({w}, {.lr = 0.01}); };
  auto amsgrad = [](Tensor& w) { return Adam({w}, {.lr = 0.01, .weight_decay = 0.1, .amsgrad = true}); };
  for (const int threads : {2, 3}) {
    CAPTURE(threads);
    CHECK(two_steps(n, threads, sgd) == two_steps(n, 1, sgd));
    CHECK(two_steps(n, threads, adamw) == two_steps(n, 1, adamw));
    CHECK(two_steps(n, threads, amsgrad) == two_steps(n, 1, amsgrad));
  }
}

TEST_CASE("SGD: dampening applies from the second step; plain SGD; maximize") {
  // μ 0.9, τ 0.5: b₁ = g₁ = 1 (no dampening on the first step), w₁ = 0.9;
  // g₂ = 0.9, b₂ = 0.9·1 + 0.5·0.9 = 1.35, w₂ = 0.9 − 0.135 = 0.765
  Tensor w = param({1.0, -2.0});
  SGD opt({w}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(0.9).epsilon(1e-15));
  CHECK(at(w, 1) == doctest::Approx(-1.8).epsilon(1e-15));
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(0.765).epsilon(1e-15));
  CHECK(at(w, 1) == doctest::Approx(-1.53).epsilon(1e-15));

  Tensor v = param({2.0});
  SGD plain({v}, {.lr = 0.25});
  step(plain, v);
  step(plain, v);
  CHECK(at(v, 0) == 2.0 * 0.75 * 0.75);  // exact in binary

  Tensor u = param({2.0});
  SGD up({u}, {.lr = 0.25, .maximize = true});
  step(up, u);
  CHECK(at(u, 0) == 2.5);
}

TEST_CASE("Adam: two steps by hand") {
  // lr 0.1, β (0.9, 0.999), ε 1e-8, w₀ = 1. Step 1: g = 1, m = 0.1, v = 0.001,
  //   w₁ = 1 − (0.1 / (1 − 0.9)) · 0.1 / (√0.001 / √(1 − 0.999) + 1e-8) = 1 − 0.1 / (1 + 1e-8).
  // Step 2: g = w₁, m = 0.09 + 0.1 w₁, v = 0.000999 + 0.001 w₁²,
  //   w₂ = w₁ − (0.1 / 0.19) · m / (√v / √0.001999 + 1e-8).
  Tensor w = param({1.0});
  Adam opt({w}, {.lr = 0.1});
  step(opt, w);
  const double w1 = 1 - 0.1 / (1 + 1e-8);
  CHECK(at(w, 0) == doctest::Approx(w1).epsilon(1e-15));
  CHECK(at(w, 0) == doctest::Approx(0.900000001).epsilon(1e-15));
  step(opt, w);
  const double m = 0.9 * 0.1 + 0.1 * w1, v = 0.999 * 0.001 + 0.001 * w1 * w1;
  const double w2 = w1 - (0.1 / (1 - 0.81)) * m / (std::sqrt(v) / std::sqrt(1 - 0.999 * 0.999) + 1e-8);
  CHECK(at(w, 0) == doctest::Approx(w2).epsilon(1e-14));
  CHECK(at(w, 0) == doctest::Approx(0.800412229712338).epsilon(1e-14));
}

TEST_CASE("Adam with L2 weight decay and AdamW with decoupled decay differ as PyTorch's do") {
  // Adam, λ 0.1: g = 1 + 0.1 = 1.1, m̂ = 1.1, v̂ = 1.21: w₁ = 1 − 0.1 · 1.1 / (1.1 + 1e-8).
  Tensor a = param({1.0});
  Adam adam({a}, {.lr = 0.1, .weight_decay = 0.1});
  step(adam, a);
  CHECK(at(a, 0) == doctest::Approx(1 - 0.1 * 1.1 / (1.1 + 1e-8)).epsilon(1e-15));

  // AdamW, λ 0.1: w ← w (1 − 0.1·0.1) = 0.99 first, then the Adam step with g = 1 (the
  // gradient at w₀): w₁ = 0.99 − 0.1 / (1 + 1e-8).
  // Step 2: g = w₁, w ← w₁ · 0.99, m = 0.09 + 0.1 w₁, v = 0.000999 + 0.001 w₁².
  Tensor b = param({1.0});
  AdamW adamw({b}, {.lr = 0.1, .weight_decay = 0.1});
  step(adamw, b);
  const double w1 = 0.99 - 0.1 / (1 + 1e-8);
  CHECK(at(b, 0) == doctest::Approx(w1).epsilon(1e-15));
  CHECK(at(b, 0) == doctest::Approx(0.890000001).epsilon(1e-15));
  step(adamw, b);
  const double m = 0.09 + 0.1 * w1, v = 0.000999 + 0.001 * w1 * w1;
  const double w2 = w1 * 0.99 - (0.1 / 0.19) * m / (std::sqrt(v) / std::sqrt(1 - 0.999 * 0.999) + 1e-8);
  CHECK(at(b, 0) == doctest::Approx(w2).epsilon(1e-14));
  CHECK(at(b, 0) == doctest::Approx(0.781571856954161).epsilon(1e-14));
  CHECK(AdamWOptions{}.weight_decay == 0.01);  // PyTorch's AdamW default
  CHECK(adamw.name() == "AdamW");
}

TEST_CASE("Adam with amsgrad keeps the running maximum of v") {
  // A gradient that shrinks: L = c·w with c = 1 then 0.1 (v falls below its maximum).
  Tensor w = param({0.0});
  Adam opt({w}, {.lr = 0.1, .beta2 = 0.5, .amsgrad = true});
  double m = 0, v = 0, v_max = 0, ref = 0;
  int t = 0;
  for (double c : {1.0, 0.1}) {
    opt.zero_grad();
    sum(c * w).backward();
    opt.step();
    ++t;
    m = 0.9 * m + 0.1 * c;
    v = 0.5 * v + 0.5 * c * c;
    v_max = std::max(v_max, v);
    ref -= (0.1 / (1 - std::pow(0.9, t))) * m / (std::sqrt(v_max) / std::sqrt(1 - std::pow(0.5, t)) + 1e-8);
  }
  CHECK(v < v_max);  // the case exercises the maximum
  CHECK(at(w, 0) == doctest::Approx(ref).epsilon(1e-14));
}

TEST_CASE("float32 parameters follow the same formulas; parameters without grad are skipped") {
  Tensor w = param({1.0, 3.0}, DType::float32);
  Tensor frozen = param({5.0}, DType::float32);
  Adam opt({w, frozen}, {.lr = 0.1});
  step(opt, w);  // frozen gets no gradient
  CHECK(at(w, 0) == doctest::Approx(0.9).epsilon(1e-6));
  CHECK(at(w, 1) == doctest::Approx(2.9).epsilon(1e-6));
  CHECK(at(frozen, 0) == 5.0);
  const nn::NamedTensors state = opt.state_dict();
  for (const auto& [name, t] : state) CHECK(name.find("state.1.") == std::string::npos);
  CHECK(w.dtype() == DType::float32);
  CHECK(w.is_leaf());
}

TEST_CASE("optimisers refuse bad hyperparameters and bad parameters, naming them") {
  Tensor w = param({1.0});
  CHECK_THROWS_WITH_AS(SGD({w}, {.lr = -1}), "SGD: invalid learning rate -1: expected a value in [0, inf]", ValueError);
  CHECK_THROWS_AS(SGD({w}, {.lr = 0.1, .nesterov = true}), ValueError);
  CHECK_THROWS_AS(Adam({w}, {.beta1 = 1.0}), ValueError);
  CHECK_THROWS_AS(Adam({w}, {.eps = -1}), ValueError);
  CHECK_THROWS_WITH_AS(Adam({w, w}), "Adam: parameter 1 is the same tensor as parameter 0", ValueError);
  CHECK_THROWS_WITH_AS(SGD({zeros({2})}), "SGD: parameter 0 (shape [2]) does not require grad", ValueError);
  CHECK_THROWS_AS(SGD({w * 2.0}), ValueError);
}

TEST_CASE("step pre-hooks run before every step, in order, and see the gradients it will use") {
  Tensor w = param({1.0});
  SGD sgd({w}, {.lr = 0.5});
  AdamW adamw({param({1.0})});
  std::string order;
  RemovableHandle first = sgd.register_step_pre_hook([&](Optimizer& opt) {
    order += "a";
    CHECK(&opt == &sgd);
    NoGradGuard no_grad;
    w.grad().mul_(2.0);  // e.g. averaging gradients: the step uses what the hook leaves
  });
  sgd.register_step_pre_hook([&](Optimizer&) { order += "b"; });
  int adam_calls = 0;
  adamw.register_step_pre_hook([&](Optimizer&) { ++adam_calls; });
  step(sgd, w);  // ∇ = 1, doubled: w = 1 − 0.5 · 2
  CHECK(order == "ab");
  CHECK(at(w, 0) == 0);
  first.remove();
  sgd.step();
  CHECK(order == "abb");
  adamw.step();
  CHECK(adam_calls == 1);
}

TEST_CASE("StepLR: lr = base · γ^⌊epoch / step_size⌋") {
  Tensor w = param({1.0});
  SGD opt({w}, {.lr = 1.0});
  StepLR schedule(opt, 2, 0.1);
  std::vector<double> lrs{opt.lr()};
  for (int e = 0; e < 5; ++e) {
    schedule.step();
    lrs.push_back(opt.lr());
  }
  const std::vector<double> expected{1, 1, 0.1, 0.1, 0.01, 0.01};
  for (std::size_t i = 0; i < lrs.size(); ++i) CHECK(lrs[i] == doctest::Approx(expected[i]).epsilon(1e-15));
  CHECK(schedule.get_last_lr() == opt.lr());
}

TEST_CASE("CosineAnnealingLR follows half a cosine from base to eta_min") {
  Tensor w = param({1.0});
  Adam opt({w}, {.lr = 0.2});
  CosineAnnealingLR schedule(opt, 4, 0.0);
  // 0.2 · (1 + cos(π k / 4)) / 2 for k = 0..4
  const std::vector<double> expected{0.2, 0.1 * (1 + std::sqrt(0.5)), 0.1, 0.1 * (1 - std::sqrt(0.5)), 0.0};
  CHECK(opt.lr() == doctest::Approx(expected[0]));
  for (std::size_t k = 1; k < expected.size(); ++k) {
    schedule.step();
    CHECK(opt.lr() == doctest::Approx(expected[k]).epsilon(1e-12));
  }
}

TEST_CASE("OneCycleLR: PyTorch's phases for lr and momentum (Adam's β1)") {
  Tensor w = param({1.0});
  Adam opt({w}, {.lr = 123});  // the schedule replaces the lr
  // total 10: phase 1 ends at step 0.3·10 − 1 = 2, phase 2 at step 9.
  OneCycleLR schedule(opt, 1.0, 10);
  CHECK(opt.lr() == doctest::Approx(1.0 / 25));  // initial_lr = max_lr / div_factor
  CHECK(opt.momentum() == doctest::Approx(0.95));  // max_momentum
  schedule.step();
  // step 1: pct = ½ in phase 1: 1 + (0.04 − 1)/2 · (cos(π/2) + 1) = 0.52
  CHECK(opt.lr() == doctest::Approx(0.52).epsilon(1e-12));
  CHECK(opt.momentum() == doctest::Approx(0.90).epsilon(1e-12));
  schedule.step();
  CHECK(opt.lr() == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(opt.momentum() == doctest::Approx(0.85).epsilon(1e-12));
  for (int s = 3; s <= 9; ++s) schedule.step();
  // step 9: the end of phase 2: min_lr = initial_lr / final_div_factor
  CHECK(opt.lr() == doctest::Approx(0.04 / 1e4).epsilon(1e-12));
  CHECK(opt.momentum() == doctest::Approx(0.95).epsilon(1e-12));
  // Half-way through phase 2 (step 5.5 is not a step; check lr_at(6): pct = 4/7).
  const double pct = 4.0 / 7.0;
  CHECK(schedule.lr_at(6) == doctest::Approx(0.04e-4 + (1 - 0.04e-4) / 2 * (std::cos(std::numbers::pi * pct) + 1)));
  schedule.step();  // step 10 = total_steps is allowed, as in PyTorch
  CHECK_THROWS_WITH_AS(schedule.step(), "OneCycleLR: tried to step 11 times; the schedule has total_steps = 10", ValueError);

  SGD sgd({w}, {.lr = 0.1, .momentum = 0.9});
  OneCycleLR linear(sgd, 2.0, 10, {.cos_anneal = false, .cycle_momentum = false});
  linear.step();
  CHECK(sgd.lr() == doctest::Approx(0.08 + (2.0 - 0.08) * 0.5));
  CHECK(sgd.momentum() == 0.9);
}

TEST_CASE("RMSprop, centered, with momentum and weight decay: two steps by hand") {
  // torch.optim.RMSprop: g ← ∇ + λw; v ← αv + (1 − α)g²; ḡ ← αḡ + (1 − α)g;
  // b ← μb + g / (√(v − ḡ²) + ε); w ← w − γb. lr 0.1, α 0.9, ε 1e-8, λ 0.1, μ 0.5, w₀ = 1:
  //   g₁ = 1.1, v₁ = 0.121, ḡ₁ = 0.11, √(v₁ − ḡ₁²) = √0.1089 = 0.33, b₁ = 1.1 / 0.33000001
  Tensor w = param({1.0});
  RMSprop opt({w}, {.lr = 0.1, .alpha = 0.9, .eps = 1e-8, .weight_decay = 0.1, .momentum = 0.5, .centered = true});
  step(opt, w);
  const double b1 = 1.1 / (0.33 + 1e-8), w1 = 1 - 0.1 * b1;
  CHECK(at(w, 0) == doctest::Approx(w1).epsilon(1e-14));
  //   g₂ = 1.1 w₁, v₂ = 0.9·0.121 + 0.1 g₂², ḡ₂ = 0.9·0.11 + 0.1 g₂, b₂ = 0.5 b₁ + g₂ / (√(v₂ − ḡ₂²) + ε)
  const double g2 = 1.1 * w1, v2 = 0.9 * 0.121 + 0.1 * g2 * g2, a2 = 0.9 * 0.11 + 0.1 * g2;
  const double b2 = 0.5 * b1 + g2 / (std::sqrt(v2 - a2 * a2) + 1e-8);
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(w1 - 0.1 * b2).epsilon(1e-14));
}

TEST_CASE("RMSprop without momentum: w ← w − γ g / (√v + ε)") {
  // lr 0.01, α 0.99, ε 1e-8 (torch's defaults), w₀ = 2: g₁ = 2, v₁ = 0.04, w₁ = 2 − 0.01·2 / (0.2 + 1e-8)
  Tensor w = param({2.0});
  RMSprop opt({w});
  step(opt, w);
  const double w1 = 2 - 0.01 * 2 / (0.2 + 1e-8);
  CHECK(at(w, 0) == doctest::Approx(w1).epsilon(1e-15));
  const double v2 = 0.99 * 0.04 + 0.01 * w1 * w1;
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(w1 - 0.01 * w1 / (std::sqrt(v2) + 1e-8)).epsilon(1e-15));
}

TEST_CASE("Adagrad with lr_decay, weight decay and an initial accumulator: two steps by hand") {
  // torch.optim.Adagrad: γₜ = γ / (1 + (t − 1)η); g ← ∇ + λw; s ← s + g²; w ← w − γₜ g / (√s + ε).
  // lr 0.1, η 0.5, λ 0.1, s₀ 0.4, ε 1e-10, w₀ = 1: g₁ = 1.1, s₁ = 1.61, w₁ = 1 − 0.1·1.1 / (√1.61 + ε)
  Tensor w = param({1.0});
  Adagrad opt({w}, {.lr = 0.1, .lr_decay = 0.5, .weight_decay = 0.1, .initial_accumulator_value = 0.4});
  step(opt, w);
  const double w1 = 1 - 0.1 * 1.1 / (std::sqrt(1.61) + 1e-10);
  CHECK(at(w, 0) == doctest::Approx(w1).epsilon(1e-15));
  //   γ₂ = 0.1 / 1.5, g₂ = 1.1 w₁, s₂ = 1.61 + g₂²
  const double g2 = 1.1 * w1, s2 = 1.61 + g2 * g2;
  step(opt, w);
  CHECK(at(w, 0) == doctest::Approx(w1 - (0.1 / 1.5) * g2 / (std::sqrt(s2) + 1e-10)).epsilon(1e-15));
  CHECK_THROWS_AS(opt.set_momentum(0.9), ValueError);
}

TEST_CASE("RMSprop and Adagrad resume exactly from their state_dict") {
  auto run = [](auto make, bool resume) {
    Tensor w = param({1.0, -2.0, 0.5});
    auto opt = make(w);
    step(opt, w);
    step(opt, w);
    if (resume) {
      Tensor w2 = w.detach().clone().requires_grad_(true);
      auto fresh = make(w2);
      fresh.load_state_dict(opt.state_dict());
      step(fresh, w2);
      return at(w2, 1);
    }
    step(opt, w);
    return at(w, 1);
  };
  auto rms = [](Tensor& w) { return RMSprop({w}, {.lr = 0.05, .momentum = 0.3, .centered = true}); };
  auto ada = [](Tensor& w) { return Adagrad({w}, {.lr = 0.05, .lr_decay = 0.1}); };
  CHECK(run(rms, true) == run(rms, false));
  CHECK(run(ada, true) == run(ada, false));
  Tensor w = param({1.0});
  Adagrad opt({w});
  CHECK_THROWS_AS(opt.load_state_dict({{"lr", tensor(0.1)}}), ValueError);  // no per-parameter state
}
