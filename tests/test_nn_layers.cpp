// nn layers, initialisers and losses, and small nets that learn XOR and a 2-D spiral.
#include <matgrad/nn.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <numbers>
#include <random>
#include <tuple>

using namespace matgrad;
using namespace matgrad::nn;

static_assert(Module<Linear>);
static_assert(Module<Sequential>);
static_assert(Module<AnyModule>);
static_assert(Module<ReLU> && Module<Tanh> && Module<Sigmoid> && Module<LeakyReLU>);
static_assert(Module<Softmax> && Module<Dropout> && Module<Flatten> && Module<Identity>);
static_assert(Module<GELU> && Module<SiLU> && Module<ELU> && Module<Softplus> && Module<LogSoftmax>);
static_assert(Module<LayerNorm> && Module<BatchNorm1d> && Module<Embedding>);

static std::vector<double> values(const Tensor& t) {
  const auto d = t.to(DType::float64).data<double>();
  return {d.begin(), d.end()};
}

TEST_CASE("Linear computes x Wᵀ + b for inputs of rank 1, 2 and 3") {
  Tensor w = tensor({{1, 2, 3}, {-1, 0, 2}}, {.dtype = DType::float64, .requires_grad = true});
  Tensor b = tensor({0.5, -0.5}, {.dtype = DType::float64, .requires_grad = true});
  Linear fc(w, b);
  CHECK(fc.in_features == 3);
  CHECK(fc.out_features == 2);
  Tensor x = tensor({{1, 1, 1}, {2, 0, -1}}, {.dtype = DType::float64});
  CHECK(values(fc(x)) == std::vector<double>{6.5, 0.5, -0.5, -4.5});
  CHECK(values(fc(tensor({1, 1, 1}, {.dtype = DType::float64}))) == std::vector<double>{6.5, 0.5});
  Tensor x3 = reshape(concat({x, x, x}, 0), {3, 2, 3});
  Tensor y3 = fc(x3);
  CHECK(y3.shape() == Shape{3, 2, 2});
  CHECK(values(y3) == std::vector<double>{6.5, 0.5, -0.5, -4.5, 6.5, 0.5, -0.5, -4.5, 6.5, 0.5, -0.5, -4.5});

  // The gradients come from the tape: dL/dW = gᵀ x, dL/db = Σ g for L = Σ y.
  sum(fc(x)).backward();
  CHECK(values(w.grad()) == std::vector<double>{3, 1, 0, 3, 1, 0});
  CHECK(values(b.grad()) == std::vector<double>{2, 2});

  Linear no_bias(w, Tensor());
  CHECK(no_bias.named_parameters().size() == 1);
  CHECK(values(no_bias(x)) == std::vector<double>{6, 1, -1, -4});
}

TEST_CASE("Linear errors name the layer and the shapes") {
  Generator gen(1);
  Linear fc(4, 3, gen);
  try {
    fc(zeros({2, 5}));
    FAIL("no error");
  } catch (const ShapeError& e) {
    CHECK(std::string(e.what()) == "Linear(4, 3): the input's last dimension must be 4, got shape [2, 5]");
  }
  CHECK_THROWS_AS(fc(zeros({2, 4}, {.dtype = DType::float64})), DTypeError);
  CHECK_THROWS_AS(Linear(zeros({3}), Tensor()), ShapeError);
  CHECK_THROWS_AS(Linear(zeros({3, 2}), zeros({2})), ShapeError);
}

TEST_CASE("Linear's default initialisation is PyTorch's: U(-1/sqrt(in), 1/sqrt(in)), seeded") {
  Generator gen(7);
  Linear fc(400, 300, gen);
  const double bound = 1.0 / std::sqrt(400.0);
  const auto w = values(fc.weight);
  const auto b = values(fc.bias);
  double lo = 1, hi = -1, sum = 0, squares = 0;
  for (double v : w) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
    squares += v * v;
  }
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(lo < -0.99 * bound);  // the whole interval is used
  CHECK(hi > 0.99 * bound);
  const double n = static_cast<double>(w.size());
  CHECK(std::abs(sum / n) < 0.01 * bound);
  CHECK(squares / n == doctest::Approx(bound * bound / 3).epsilon(0.02));  // Var U(-a, a) = a²/3
  for (double v : b) CHECK(std::abs(v) <= bound);
  CHECK(fc.weight.requires_grad());
  CHECK(fc.bias.requires_grad());
  CHECK(fc.weight.dtype() == DType::float32);

  Generator same(7), other(8);
  CHECK(values(Linear(400, 300, same).weight) == w);
  CHECK(values(Linear(400, 300, other).weight) != w);
  CHECK(Linear(3, 2, same, false).named_parameters().size() == 1);
  CHECK(Linear(3, 2, same, true, DType::float64).weight.dtype() == DType::float64);
}

TEST_CASE("Sequential names parameters as PyTorch does and propagates train/eval") {
  Generator gen(0);
  Sequential net{Flatten(), Linear(4, 3, gen), ReLU(), Sequential{Linear(3, 2, gen), Tanh()},
                 Dropout(0.5)};
  const NamedTensors named = net.named_parameters();
  std::vector<std::string> names;
  for (const auto& [name, p] : named) names.push_back(name);
  CHECK(names == std::vector<std::string>{"1.weight", "1.bias", "3.0.weight", "3.0.bias"});
  CHECK(net.parameters().size() == 4);
  CHECK(net(zeros({5, 2, 2})).shape() == Shape{5, 2});

  CHECK(net.is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net[4].is_training());
  CHECK_FALSE(net[3].get<Sequential>()->operator[](1).is_training());
  net.train();
  CHECK(net[4].is_training());

  // The layer inside is the same object as the one reached through get<>.
  Linear* first = net[1].get<Linear>();
  REQUIRE(first != nullptr);
  CHECK(net[1].get<ReLU>() == nullptr);
  CHECK(first->weight.impl() == named[0].second.impl());

  // A module used twice is one set of parameters.
  AnyModule shared = Linear(2, 2, gen);
  Sequential twice{shared, ReLU(), shared};
  CHECK(twice.parameters().size() == 2);

  const std::string repr = net.repr();
  CHECK(repr.find("(1): Linear(in_features=4, out_features=3, bias=true)") != std::string::npos);
  CHECK(repr.find("(4): Dropout(p=0.5)") != std::string::npos);
  CHECK_THROWS_AS(net[5], IndexError);
}

// A module written as users write theirs: children and a parameter registered once.
struct ScaledNet : ModuleBase<ScaledNet> {
  Linear fc1, fc2;
  Dropout drop{0.5};
  Tensor scale;
  explicit ScaledNet(Generator& gen)
      : fc1(3, 4, gen), fc2(4, 1, gen), scale(ones({1}, {.requires_grad = true})) {
    register_module("fc1", &ScaledNet::fc1);
    register_module("drop", &ScaledNet::drop);
    register_module("fc2", &ScaledNet::fc2);
    register_parameter("scale", &ScaledNet::scale);
  }
  Tensor forward(const Tensor& x) { return fc2(drop(relu(fc1(x)))) * scale; }
};
static_assert(Module<ScaledNet>);

TEST_CASE("a module's registered parameters and children are listed, trained and switched to eval") {
  Generator gen(5);
  ScaledNet net(gen);
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "scale"});
  // A copy lists its own tensors (the registry holds member pointers, not addresses).
  ScaledNet copy = net;
  copy.scale = zeros({1}, {.requires_grad = true});
  CHECK(copy.named_parameters().back().second.impl() == copy.scale.impl());
  CHECK(net.named_parameters().back().second.impl() == net.scale.impl());
  net.eval();
  CHECK_FALSE(net.drop.is_training());
  net.train();
  CHECK(net.drop.is_training());
  // Every registered parameter gets a gradient and is updated.
  optim::SGD opt(net.parameters(), {.lr = 0.1});
  const Tensor before = net.scale.detach().clone();  // detach alone would share the storage
  sum(net(ones({2, 3}))).backward();
  for (const Tensor& p : net.parameters()) CHECK(p.grad().defined());
  opt.step();
  CHECK(values(net.scale) != values(before));
}

TEST_CASE("registering a name twice, or optimising no parameters, is an error") {
  struct Twice : ModuleBase<Twice> {
    Tensor a, b;
    Twice() {
      register_parameter("a", &Twice::a);
      register_parameter("a", &Twice::b);
    }
    Tensor forward(const Tensor& x) { return x; }
  };
  CHECK_THROWS_WITH_AS(Twice(), doctest::Contains("'a' is already registered"), ValueError);
  CHECK_THROWS_WITH_AS(optim::SGD(Identity().parameters()), doctest::Contains("empty parameter list"),
                       ValueError);
}

TEST_CASE("zero_grad drops the gradients of every parameter") {
  Generator gen(0);
  Sequential net{Linear(3, 4, gen), ReLU(), Linear(4, 1, gen)};
  sum(net(ones({2, 3}))).backward();
  for (const Tensor& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("activation modules apply their ops") {
  Tensor x = tensor({-2, 0.5, 3}, {.dtype = DType::float64});
  CHECK(values(ReLU()(x)) == std::vector<double>{0, 0.5, 3});
  CHECK(values(LeakyReLU(0.1)(x))[0] == doctest::Approx(-0.2));
  CHECK(values(Tanh()(x))[2] == doctest::Approx(std::tanh(3.0)));
  CHECK(values(Sigmoid()(x))[1] == doctest::Approx(1 / (1 + std::exp(-0.5))));
  const auto p = values(Softmax()(x));
  CHECK(p[0] + p[1] + p[2] == doctest::Approx(1.0));
  CHECK(p[2] == doctest::Approx(std::exp(3.0) / (std::exp(-2.0) + std::exp(0.5) + std::exp(3.0))));
  CHECK(Flatten()(zeros({2, 3, 4})).shape() == Shape{2, 12});
  CHECK(Flatten(0)(zeros({2, 3, 4})).shape() == Shape{24});
}

TEST_CASE("Dropout: identity in eval mode; in train mode a seeded, scaled mask that gradients follow") {
  Tensor x = ones({200, 100}, {.dtype = DType::float64, .requires_grad = true});
  Dropout drop(0.3, 42);
  drop.eval();
  CHECK(drop(x).impl() == x.impl());
  drop.train();
  Tensor y = drop(x);
  const auto v = values(y);
  std::size_t kept = 0;
  for (double e : v) {
    CHECK((e == 0 || e == doctest::Approx(1 / 0.7)));
    kept += e != 0;
  }
  CHECK(static_cast<double>(kept) / static_cast<double>(v.size()) == doctest::Approx(0.7).epsilon(0.03));
  sum(y).backward();
  CHECK(values(x.grad()) == v);  // x is all ones: the gradient is the mask itself

  Dropout again(0.3, 42), other(0.3, 43);
  CHECK(values(again(x)) == v);
  CHECK(values(other(x)) != v);
  CHECK(values(Dropout(0.0)(x)) == values(x));
  CHECK(values(sum(Dropout(1.0)(x))) == std::vector<double>{0});
  CHECK_THROWS_AS(Dropout(1.5), ValueError);
}

TEST_CASE("initialisers: gains, fans, bounds and standard deviations") {
  using namespace init;
  CHECK(calculate_gain(Nonlinearity::relu) == doctest::Approx(std::sqrt(2.0)));
  CHECK(calculate_gain(Nonlinearity::tanh) == doctest::Approx(5.0 / 3.0));
  CHECK(calculate_gain(Nonlinearity::leaky_relu) == doctest::Approx(std::sqrt(2.0 / (1 + 1e-4))));
  CHECK(calculate_gain(Nonlinearity::leaky_relu, std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3)));
  CHECK(calculate_gain(Nonlinearity::sigmoid) == 1.0);
  CHECK(calculate_fan_in_and_fan_out(zeros({3, 4, 5})) == std::pair<std::size_t, std::size_t>{20, 15});
  CHECK_THROWS_AS(calculate_fan_in_and_fan_out(zeros({3})), ShapeError);

  Generator gen(3);
  auto stats = [](const Tensor& t) {
    const auto v = values(t);
    double lo = 1e9, hi = -1e9, sum = 0, squares = 0;
    for (double e : v) {
      lo = std::min(lo, e);
      hi = std::max(hi, e);
      sum += e;
      squares += e * e;
    }
    const double n = static_cast<double>(v.size());
    return std::tuple{lo, hi, sum / n, std::sqrt(squares / n - (sum / n) * (sum / n))};
  };
  Tensor w = zeros({300, 500});
  {
    xavier_uniform_(w, gen);
    const double a = std::sqrt(6.0 / 800);
    auto [lo, hi, mean, std] = stats(w);
    CHECK(lo >= -a);
    CHECK(hi <= a);
    CHECK(std == doctest::Approx(a / std::sqrt(3.0)).epsilon(0.02));
  }
  {
    xavier_normal_(w, gen, 2.0);
    auto [lo, hi, mean, std] = stats(w);
    CHECK(std::abs(mean) < 0.002);
    CHECK(std == doctest::Approx(2.0 * std::sqrt(2.0 / 800)).epsilon(0.02));
  }
  {
    kaiming_uniform_(w, gen, 0, FanMode::fan_in, Nonlinearity::relu);
    const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 500);
    auto [lo, hi, mean, std] = stats(w);
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    CHECK(std == doctest::Approx(std::sqrt(2.0 / 500)).epsilon(0.02));
  }
  {
    kaiming_normal_(w, gen, 0, FanMode::fan_out, Nonlinearity::relu);
    auto [lo, hi, mean, std] = stats(w);
    CHECK(std == doctest::Approx(std::sqrt(2.0 / 300)).epsilon(0.02));
  }
  {
    uniform_(w, gen, 2, 3);
    auto [lo, hi, mean, std] = stats(w);
    CHECK(lo >= 2);
    CHECK(hi < 3);
    CHECK(mean == doctest::Approx(2.5).epsilon(0.005));
  }
  {
    normal_(w, gen, -1, 0.5);
    auto [lo, hi, mean, std] = stats(w);
    CHECK(mean == doctest::Approx(-1).epsilon(0.005));
    CHECK(std == doctest::Approx(0.5).epsilon(0.02));
  }
  constant_(w, 0.25);
  CHECK(std::get<0>(stats(w)) == 0.25);
  CHECK(std::get<1>(stats(w)) == 0.25);

  // Seeded: the same generator state gives the same values, in float64 as in float32.
  Generator g1(11), g2(11);
  Tensor a = zeros({4, 5}, {.dtype = DType::float64}), b = zeros({4, 5}, {.dtype = DType::float64});
  CHECK(values(xavier_normal_(a, g1)) == values(xavier_normal_(b, g2)));

  // Parameters that require grad are filled outside autograd.
  Tensor p = zeros({3, 3}, {.requires_grad = true});
  kaiming_normal_(p, gen);
  CHECK(p.is_leaf());
  CHECK_THROWS_AS(uniform_(p, gen, 1, 0), ValueError);
}

TEST_CASE("loss modules wrap the loss ops with their reduction") {
  Tensor input = tensor({{1, 2}, {3, 5}}, {.dtype = DType::float64});
  Tensor target = tensor({{1, 0}, {0, 5}}, {.dtype = DType::float64});
  CHECK(MSELoss()(input, target).item() == doctest::Approx((4.0 + 9.0) / 4));
  CHECK(MSELoss{Reduction::sum}(input, target).item() == doctest::Approx(13.0));

  const std::vector<std::size_t> classes{1, 0};
  const double ce0 = std::log(std::exp(1.0) + std::exp(2.0)) - 2.0;
  const double ce1 = std::log(std::exp(3.0) + std::exp(5.0)) - 3.0;
  CHECK(CrossEntropyLoss()(input, classes).item() == doctest::Approx((ce0 + ce1) / 2));
  CHECK(CrossEntropyLoss{Reduction::sum}(input, classes).item() == doctest::Approx(ce0 + ce1));
  // An int64 tensor target, as the functional cross_entropy (and torch's module) takes.
  const Tensor class_tensor = tensor({1, 0}, {.dtype = DType::int64});
  CHECK(CrossEntropyLoss()(input, class_tensor).item() == doctest::Approx((ce0 + ce1) / 2));
  CHECK(CrossEntropyLoss{Reduction::sum}(input, class_tensor).item() == doctest::Approx(ce0 + ce1));
  // torch's options: ignore_index drops the second target, weight and label_smoothing as cross_entropy's.
  CHECK(CrossEntropyLoss{.ignore_index = 0}(input, class_tensor).item() == doctest::Approx(ce0));
  CHECK(CrossEntropyLoss{.ignore_index = 0}(input, classes).item() == doctest::Approx(ce0));
  const Tensor w = tensor({2.0, 1.0}, {.dtype = DType::float64});
  const CrossEntropyOptions options{.weight = w, .label_smoothing = 0.2};
  CHECK(CrossEntropyLoss{.weight = w, .label_smoothing = 0.2}(input, class_tensor).item() ==
        doctest::Approx(cross_entropy(input, class_tensor, options).item()));
  CHECK(CrossEntropyLoss{.weight = w, .label_smoothing = 0.2}(input, classes).item() ==
        doctest::Approx(cross_entropy(input, class_tensor, options).item()));

  Tensor logits = tensor({0.0, 2.0}, {.dtype = DType::float64});
  Tensor labels = tensor({1.0, 0.0}, {.dtype = DType::float64});
  const double b0 = std::log(2.0), b1 = std::log(1 + std::exp(2.0));
  CHECK(BCEWithLogitsLoss()(logits, labels).item() == doctest::Approx((b0 + b1) / 2));
  CHECK(BCEWithLogitsLoss{Reduction::sum}(logits, labels).item() == doctest::Approx(b0 + b1));
}

// ---- small nets that must learn ----

// Full-batch training; returns the final loss.
template <class Net, class Loss>
static double train(Net& net, optim::Optimizer& opt, int steps, Loss&& loss_of) {
  double last = 0;
  for (int s = 0; s < steps; ++s) {
    Tensor loss = loss_of(net);
    opt.zero_grad();
    loss.backward();
    opt.step();
    last = loss.item();
  }
  return last;
}

static std::vector<double> snapshot(const Sequential& net) {
  std::vector<double> out;
  for (const Tensor& p : net.parameters()) {
    const auto v = values(p);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

struct XorRun {
  double loss;
  std::vector<double> probabilities;
  std::vector<double> parameters;
};

static XorRun learn_xor(std::uint64_t seed) {
  Generator gen(seed);
  Sequential net{Linear(2, 8, gen), Tanh(), Linear(8, 1, gen)};
  optim::Adam opt(net.parameters(), {.lr = 0.05});
  const Tensor x = tensor({{0, 0}, {0, 1}, {1, 0}, {1, 1}});
  const Tensor y = tensor({{0}, {1}, {1}, {0}});
  const double loss = train(net, opt, 300, [&](Sequential& n) { return BCEWithLogitsLoss()(n(x), y); });
  NoGradGuard no_grad;
  return {loss, values(sigmoid(net(x))), snapshot(net)};
}

TEST_CASE("a 2-8-1 tanh net learns XOR, deterministically") {
  const XorRun run = learn_xor(1);
  MESSAGE(fmt::format("XOR: final loss {:.5f}, p = {:.4f}", run.loss, fmt::join(run.probabilities, ", ")));
  CHECK(run.loss < 0.02);
  CHECK(run.probabilities[0] < 0.05);
  CHECK(run.probabilities[1] > 0.95);
  CHECK(run.probabilities[2] > 0.95);
  CHECK(run.probabilities[3] < 0.05);
  const XorRun again = learn_xor(1);
  CHECK(again.loss == run.loss);  // bitwise
  CHECK(again.parameters == run.parameters);
  CHECK(learn_xor(2).parameters != run.parameters);
}

// CS231n's spiral: 3 arms of 100 points, r ∈ [0, 1], angle 4 radians per arm plus noise.
static data::Dataset spiral(Generator& gen) {
  const std::size_t per_class = 100, classes = 3;
  auto points = xt::xarray<float>::from_shape({per_class * classes, 2});
  std::vector<std::size_t> labels(per_class * classes);
  std::normal_distribution<double> noise(0.0, 0.2);
  for (std::size_t c = 0; c < classes; ++c) {
    for (std::size_t i = 0; i < per_class; ++i) {
      const double r = static_cast<double>(i) / (per_class - 1);
      const double t = 4.0 * (static_cast<double>(c) + r) + noise(gen.engine());
      points(c * per_class + i, 0) = static_cast<float>(r * std::sin(t));
      points(c * per_class + i, 1) = static_cast<float>(r * std::cos(t));
      labels[c * per_class + i] = c;
    }
  }
  return {Tensor(std::move(points)), labels};
}

static std::pair<double, std::vector<double>> learn_spiral(std::uint64_t seed) {
  Generator gen(seed);
  const data::Dataset d = spiral(gen);
  Sequential net{Linear(2, 64, gen), ReLU(), Linear(64, 64, gen), ReLU(), Linear(64, 3, gen)};
  optim::Adam opt(net.parameters(), {.lr = 0.01});
  data::DataLoader loader(d, {.batch_size = 100, .shuffle = true, .seed = seed});
  for (int epoch = 0; epoch < 250; ++epoch) {
    for (const data::Batch& batch : loader) {
      Tensor loss = CrossEntropyLoss()(net(batch.inputs), batch.targets);
      opt.zero_grad();
      loss.backward();
      opt.step();
    }
  }
  NoGradGuard no_grad;
  return {accuracy(net(d.inputs), d.targets), snapshot(net)};
}

TEST_CASE("a 2-64-64-3 ReLU net learns a 3-arm spiral, deterministically") {
  const auto [acc, params] = learn_spiral(5);
  MESSAGE(fmt::format("spiral: training accuracy {:.4f}", acc));
  CHECK(acc >= 0.97);
  const auto [acc2, params2] = learn_spiral(5);
  CHECK(acc2 == acc);
  CHECK(params2 == params);
}

TEST_CASE("GELU, SiLU, ELU, Softplus and LogSoftmax modules apply their ops") {
  const Tensor x = tensor({{-1.5, 0.0, 2.0}, {0.5, -0.25, 30.0}}, {.dtype = DType::float64});
  CHECK(values(GELU("tanh")(x)) == values(gelu(x, "tanh")));
  CHECK(values(GELU()(x)) == values(gelu(x)));
  CHECK(values(SiLU()(x)) == values(silu(x)));
  CHECK(values(ELU(0.5)(x)) == values(elu(x, 0.5)));
  CHECK(values(Softplus(2.0, 10.0)(x)) == values(softplus(x, 2.0, 10.0)));
  CHECK(values(LogSoftmax(0)(x)) == values(log_softmax(x, 0)));
  CHECK(GELU("tanh").repr() == "GELU(approximate='tanh')");
  CHECK(Softplus().repr() == "Softplus(beta=1, threshold=20)");
  CHECK(LogSoftmax(1).repr() == "LogSoftmax(dim=1)");
}

TEST_CASE("LayerNorm normalises the last dims, with a trained weight and bias") {
  LayerNorm norm({3}, 1e-5, true, DType::float64);
  const Tensor x = tensor({{1.0, 2.0, 3.0}, {-1.0, 5.0, 2.0}}, {.dtype = DType::float64});
  const auto y = values(norm(x));
  // Row 0: mean 2, biased var 2/3.
  const double s = std::sqrt(2.0 / 3 + 1e-5);
  CHECK(y[0] == doctest::Approx(-1 / s).epsilon(1e-14));
  CHECK(y[2] == doctest::Approx(1 / s).epsilon(1e-14));
  CHECK(norm.named_parameters().size() == 2);
  Tensor loss = sum(norm(x) * x);
  loss.backward();
  CHECK(norm.weight.grad().defined());
  CHECK(LayerNorm({4}, 1e-5, false).parameters().empty());
  CHECK_THROWS_AS(norm(tensor({1.0, 2.0}, {.dtype = DType::float64})), ShapeError);
  CHECK(norm.repr() == "LayerNorm((3,), eps=1e-05, elementwise_affine=True)");
}

TEST_CASE("BatchNorm1d: batch statistics in training, running ones (unbiased var, momentum) in eval") {
  BatchNorm1d bn(2, {.dtype = DType::float64});
  const Tensor x = tensor({{1.0, 10.0}, {3.0, 20.0}, {5.0, 60.0}}, {.dtype = DType::float64});
  const auto y = values(bn(x));
  // Channel 0: mean 3, biased var 8/3.
  CHECK(y[0] == doctest::Approx(-2 / std::sqrt(8.0 / 3 + 1e-5)).epsilon(1e-14));
  // running = 0.9 running + 0.1 batch, with the unbiased var (4 for channel 0, 700 for channel 1).
  CHECK(values(bn.running_mean) == std::vector<double>{0.1 * 3, 0.1 * 30});
  CHECK(values(bn.running_var)[0] == doctest::Approx(0.9 + 0.1 * 4).epsilon(1e-15));
  CHECK(values(bn.running_var)[1] == doctest::Approx(0.9 + 0.1 * 700).epsilon(1e-15));
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);
  bn.eval();
  const auto z = values(bn(x));
  CHECK(z[0] == doctest::Approx((1 - 0.3) / std::sqrt(1.3 + 1e-5)).epsilon(1e-14));
  CHECK(bn.num_batches_tracked.item<std::int64_t>() == 1);  // eval leaves the statistics
  // [N, C, L] inputs; momentum nullopt is the cumulative average.
  BatchNorm1d cumulative(2, {.momentum = std::nullopt, .affine = false, .dtype = DType::float64});
  cumulative(reshape(x, {3, 2, 1}));
  cumulative(reshape(x * 3.0, {3, 2, 1}));
  CHECK(values(cumulative.running_mean)[0] == doctest::Approx((3 + 9) / 2.0).epsilon(1e-15));
  CHECK(cumulative.parameters().empty());
  // Without running statistics, eval uses the batch's.
  BatchNorm1d untracked(2, {.track_running_stats = false, .dtype = DType::float64});
  untracked.eval();
  CHECK(values(untracked(x))[0] == doctest::Approx(y[0]).epsilon(1e-14));
  CHECK(untracked.named_buffers().empty());
  CHECK_THROWS_AS(bn(tensor({{1.0, 2.0, 3.0}}, {.dtype = DType::float64})), ShapeError);
  // Buffers are named as torch's, after the parameters.
  const NamedTensors state = nn::state_dict(bn);
  REQUIRE(state.size() == 5);
  CHECK(state[2].first == "running_mean");
  CHECK(state[4].first == "num_batches_tracked");
}

TEST_CASE("Embedding looks rows up by int64 index; the padding row gets no gradient") {
  Generator gen(5);
  Embedding emb(4, 3, gen, 1, DType::float64);
  CHECK(values(emb.weight)[3] == 0.0);  // row 1 starts at zero
  Tensor idx = zeros({2, 2}, {.dtype = DType::int64});
  auto* v = idx.mutable_data<std::int64_t>().data();
  v[0] = 0, v[1] = 1, v[2] = 3, v[3] = 1;
  const Tensor out = emb(idx);
  CHECK(out.shape() == Shape{2, 2, 3});
  CHECK(values(out)[9] == values(emb.weight)[3]);
  sum(out * out + out).backward();
  const auto g = values(emb.weight.grad());
  for (std::size_t j = 0; j < 3; ++j) {
    CHECK(g[3 + j] == 0.0);  // padding_idx 1
    CHECK(g[j] == doctest::Approx(2 * values(emb.weight)[j] + 1).epsilon(1e-15));
  }
  CHECK(Embedding(4, 3, gen, -1).padding_idx == 3u);
  CHECK_THROWS_AS(Embedding(4, 3, gen, 4), ValueError);
  CHECK_THROWS_AS(emb(tensor({0.0})), DTypeError);
  Tensor bad = zeros({1}, {.dtype = DType::int64});
  bad.mutable_data<std::int64_t>().data()[0] = 4;
  CHECK_THROWS_AS(emb(bad), IndexError);
}

TEST_CASE("clip_grad_norm_ and clip_grad_value_") {
  Tensor a = tensor({3.0, 0.0}, {.dtype = DType::float64, .requires_grad = true});
  Tensor b = tensor({4.0}, {.dtype = DType::float64, .requires_grad = true});
  Tensor unused = tensor({1.0}, {.dtype = DType::float64, .requires_grad = true});
  auto make_grads = [&] {
    a.zero_grad();
    b.zero_grad();
    sum(a * a / 2.0 + 0.0 * a).backward();
    sum(b * b / 2.0).backward();  // grads: a = [3, 0], b = [4]
  };
  make_grads();
  const Tensor total = nn::utils::clip_grad_norm_({a, b, unused}, 1.0);
  CHECK(total.item() == 5.0);
  CHECK(values(a.grad())[0] == doctest::Approx(3 * 1.0 / (5 + 1e-6)).epsilon(1e-15));
  CHECK(values(b.grad())[0] == doctest::Approx(4 * 1.0 / (5 + 1e-6)).epsilon(1e-15));
  make_grads();
  CHECK(nn::utils::clip_grad_norm_({a, b}, 10.0).item() == 5.0);  // below max_norm: unchanged
  CHECK(values(b.grad())[0] == 4.0);
  make_grads();
  CHECK(nn::utils::clip_grad_norm_({a, b}, 2.0, INFINITY).item() == 4.0);
  CHECK(values(b.grad())[0] == doctest::Approx(4 * 2.0 / (4 + 1e-6)).epsilon(1e-15));
  make_grads();
  CHECK(nn::utils::clip_grad_norm_({a, b}, 1.0, 1.0).item() == 7.0);
  {
    NoGradGuard no_grad;
    b.grad().mutable_data<double>()(0) = NAN;
  }
  CHECK_THROWS_AS(nn::utils::clip_grad_norm_({a, b}, 1.0, 2.0, true), ValueError);
  make_grads();
  nn::utils::clip_grad_value_({a, b}, 3.5);
  CHECK(values(a.grad()) == std::vector<double>{3.0, 0.0});
  CHECK(values(b.grad()) == std::vector<double>{3.5});
  CHECK(nn::utils::clip_grad_norm_({unused}, 1.0).item() == 0.0);
}

TEST_CASE("orthogonal_ and trunc_normal_") {
  Generator gen(11);
  for (const Shape& shape : {Shape{5, 3}, Shape{3, 5}, Shape{4, 2, 2}}) {
    Tensor w = zeros(shape, {.dtype = DType::float64});
    nn::init::orthogonal_(w, gen, 2.0);
    const Tensor m = reshape(w, {static_cast<std::ptrdiff_t>(shape[0]), -1});
    // The smaller Gram matrix is gain² I.
    const Tensor gram = m.size(0) < m.size(1) ? matmul(m, t(m)) : matmul(t(m), m);
    const auto g = values(gram);
    const std::size_t n = gram.size(0);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) CHECK(g[i * n + j] == doctest::Approx(i == j ? 4.0 : 0.0).epsilon(1e-12));
    }
  }
  // As torch: Q of the QR of the Gaussian draw, signed by diag(R), so Qᵀ (draw) = R is upper
  // triangular with a positive diagonal (the transposes for a wide tensor).
  for (const Shape& shape : {Shape{5, 3}, Shape{3, 5}}) {
    Generator g1(3), g2(3);
    Tensor draw = zeros(shape, {.dtype = DType::float64}), w = zeros(shape, {.dtype = DType::float64});
    nn::init::normal_(draw, g1, 0.0, 1.0);
    nn::init::orthogonal_(w, g2, 2.0);
    const bool wide = shape[0] < shape[1];
    const Tensor r = wide ? matmul(w, t(draw)) / 2.0 : matmul(t(w), draw) / 2.0;  // [3, 3]
    const auto rv = values(r);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(rv[i * 3 + i] > 0.1);
      for (std::size_t j = 0; j < i; ++j) CHECK(std::abs(rv[i * 3 + j]) < 1e-12);
    }
  }
  Tensor v = zeros({1}, {.dtype = DType::float64});
  CHECK_THROWS_AS(nn::init::orthogonal_(v, gen), ShapeError);
  Tensor big = zeros({20000}, {.dtype = DType::float64});
  nn::init::trunc_normal_(big, gen, 1.0, 2.0, 0.0, 3.0);
  const auto d = values(big);
  double mean = 0;
  for (double x : d) {
    CHECK((x >= 0.0 && x <= 3.0));
    mean += x / static_cast<double>(d.size());
  }
  // The mean of N(μ, σ²) truncated to [a, b] is μ + σ (φ(α) − φ(β)) / (Φ(β) − Φ(α)), α = −0.5, β = 1 here.
  const double phi_a = std::exp(-0.125) / std::sqrt(2 * std::numbers::pi), phi_b = std::exp(-0.5) / std::sqrt(2 * std::numbers::pi);
  const double z = 0.5 * (std::erf(1 / std::sqrt(2.0)) - std::erf(-0.5 / std::sqrt(2.0)));
  CHECK(mean == doctest::Approx(1 + 2 * (phi_a - phi_b) / z).epsilon(0.02));
  CHECK_THROWS_AS(nn::init::trunc_normal_(big, gen, 0, 1, 2, 1), ValueError);
}
