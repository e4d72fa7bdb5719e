#include "matgrad/nn/init.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"

#include <cmath>
#include <random>
#include <vector>

namespace matgrad::nn::init {

namespace {

void check(std::string_view op, const Tensor& tensor) {
  if (!tensor.defined()) fail<Error>("{}: the tensor is undefined", op);
}

// Writes draw() into every element, in storage order, outside autograd.
template <class Draw>
Tensor& fill(Tensor& tensor, Draw&& draw) {
  NoGradGuard no_grad;
  if (tensor.dtype() == DType::float32) {
    for (float& v : tensor.mutable_data<float>()) v = static_cast<float>(draw());
  } else {
    for (double& v : tensor.mutable_data<double>()) v = draw();
  }
  return tensor;
}

std::size_t fan(std::string_view op, const Tensor& tensor, FanMode mode) {
  check(op, tensor);
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const std::size_t f = mode == FanMode::fan_in ? fan_in : fan_out;
  if (f == 0) fail<ValueError>("{}: the fan of a tensor of shape {} is 0", op, to_string(tensor.shape()));
  return f;
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: {
      const double slope = param < 0 ? 0.01 : param;
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case Nonlinearity::selu: return 0.75;
  }
  fail<ValueError>("calculate_gain: unknown nonlinearity {}", static_cast<int>(nonlinearity));
}

std::pair<std::size_t, std::size_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  check("calculate_fan_in_and_fan_out", tensor);
  if (tensor.dim() < 2) {
    fail<ShapeError>(
        "calculate_fan_in_and_fan_out: fan in and fan out need a tensor of at least 2 dims, got "
        "shape {}",
        to_string(tensor.shape()));
  }
  std::size_t receptive = 1;
  for (std::size_t d = 2; d < tensor.dim(); ++d) receptive *= tensor.shape()[d];
  return {tensor.shape()[1] * receptive, tensor.shape()[0] * receptive};
}

Tensor& uniform_(Tensor& tensor, Generator& generator, double a, double b) {
  check("uniform_", tensor);
  if (!(a <= b)) fail<ValueError>("uniform_: expects a <= b, got a = {}, b = {}", a, b);
  std::uniform_real_distribution<double> dist(a, b);
  return fill(tensor, [&] { return dist(generator.engine()); });
}

Tensor& normal_(Tensor& tensor, Generator& generator, double mean, double std) {
  check("normal_", tensor);
  if (!(std >= 0)) fail<ValueError>("normal_: std must be >= 0, got {}", std);
  if (std == 0) return constant_(tensor, mean);
  std::normal_distribution<double> dist(mean, std);
  return fill(tensor, [&] { return dist(generator.engine()); });
}

Tensor& constant_(Tensor& tensor, double value) {
  check("constant_", tensor);
  NoGradGuard no_grad;
  tensor.fill_(value);
  return tensor;
}
Tensor& zeros_(Tensor& tensor) { return constant_(tensor, 0.0); }
Tensor& ones_(Tensor& tensor) { return constant_(tensor, 1.0); }

Tensor& xavier_uniform_(Tensor& tensor, Generator& generator, double gain) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double a = std::sqrt(3.0) * std;
  return uniform_(tensor, generator, -a, a);
}

Tensor& xavier_normal_(Tensor& tensor, Generator& generator, double gain) {
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(tensor, generator, 0.0, std);
}

Tensor& kaiming_uniform_(Tensor& tensor, Generator& generator, double a, FanMode mode,
                         Nonlinearity nonlinearity) {
  const double f = static_cast<double>(fan("kaiming_uniform_", tensor, mode));
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(f);
  const double bound = std::sqrt(3.0) * std;
  return uniform_(tensor, generator, -bound, bound);
}

Tensor& kaiming_normal_(Tensor& tensor, Generator& generator, double a, FanMode mode,
                        Nonlinearity nonlinearity) {
  const double f = static_cast<double>(fan("kaiming_normal_", tensor, mode));
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(f);
  return normal_(tensor, generator, 0.0, std);
}

Tensor& orthogonal_(Tensor& tensor, Generator& generator, double gain) {
  check("orthogonal_", tensor);
  if (tensor.dim() < 2) {
    fail<ShapeError>("orthogonal_: needs a tensor of at least 2 dims, got shape {}", to_string(tensor.shape()));
  }
  const std::size_t rows = tensor.shape()[0];
  const std::size_t cols = rows == 0 ? 0 : tensor.numel() / rows;
  if (tensor.numel() == 0) return tensor;
  // As torch: the Q of a tall Gaussian draw (the transpose of a wide one), its columns' signs
  // fixed by diag(R), so that Q is uniform over the orthogonal matrices.
  NoGradGuard no_grad;
  Tensor draw = zeros({rows, cols}, {.dtype = DType::float64});
  normal_(draw, generator, 0.0, 1.0);
  const bool wide = rows < cols;
  const QrResult f = qr(wide ? t(draw) : draw);
  Tensor q = f.Q * sign(diagonal(f.R));
  if (wide) q = t(q);
  tensor.copy_(reshape(gain * q, tensor.shape()).to(tensor.dtype()));
  return tensor;
}

Tensor& trunc_normal_(Tensor& tensor, Generator& generator, double mean, double std, double a, double b) {
  check("trunc_normal_", tensor);
  if (!(std > 0) || !(a < b)) {
    fail<ValueError>("trunc_normal_: expects std > 0 and a < b, got std = {}, a = {}, b = {}", std, a, b);
  }
  auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double lower = cdf((a - mean) / std), upper = cdf((b - mean) / std);
  NoGradGuard no_grad;
  Tensor u = zeros(tensor.shape(), {.dtype = DType::float64});
  uniform_(u, generator, 2 * lower - 1, 2 * upper - 1);
  const Tensor values = clamp(erfinv(u) * (std * std::sqrt(2.0)) + mean, a, b);
  tensor.copy_(values.to(tensor.dtype()));
  return tensor;
}

}  // namespace matgrad::nn::init
