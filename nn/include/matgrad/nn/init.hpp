// Parameter initialisers, as torch.nn.init: each fills a tensor in place (outside autograd)
// from an explicit, seeded Generator and returns it.
#pragma once

#include "matgrad/tensor.hpp"

#include <cstddef>
#include <utility>

namespace matgrad::nn::init {

enum class Nonlinearity { linear, sigmoid, tanh, relu, leaky_relu, selu };
enum class FanMode { fan_in, fan_out };

// PyTorch's recommended gains: 1 for linear and sigmoid, 5/3 for tanh, √2 for relu,
// √(2 / (1 + slope²)) for leaky_relu (slope = param, 0.01 when param < 0), 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, double param = -1);

// fan_in = size(1) · receptive field, fan_out = size(0) · receptive field, where the receptive
// field is the product of the dims after the first two. Needs at least 2 dims.
std::pair<std::size_t, std::size_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

Tensor& uniform_(Tensor& tensor, Generator& generator, double a = 0, double b = 1);
Tensor& normal_(Tensor& tensor, Generator& generator, double mean = 0, double std = 1);
Tensor& constant_(Tensor& tensor, double value);
Tensor& zeros_(Tensor& tensor);
Tensor& ones_(Tensor& tensor);

// Glorot & Bengio (2010): std = gain · √(2 / (fan_in + fan_out)); the uniform variant draws
// from U(−√3 std, √3 std).
Tensor& xavier_uniform_(Tensor& tensor, Generator& generator, double gain = 1);
Tensor& xavier_normal_(Tensor& tensor, Generator& generator, double gain = 1);

// He et al. (2015): std = gain / √fan, gain = calculate_gain(nonlinearity, a); the uniform
// variant draws from U(−√3 std, √3 std). Defaults as in PyTorch.
Tensor& kaiming_uniform_(Tensor& tensor, Generator& generator, double a = 0,
                         FanMode mode = FanMode::fan_in,
                         Nonlinearity nonlinearity = Nonlinearity::leaky_relu);
Tensor& kaiming_normal_(Tensor& tensor, Generator& generator, double a = 0,
                        FanMode mode = FanMode::fan_in,
                        Nonlinearity nonlinearity = Nonlinearity::leaky_relu);

// Saxe et al. (2013), as torch: the tensor viewed as [size(0), numel / size(0)] gets a (semi-)
// orthogonal matrix times gain, the Q of linalg.qr of a Gaussian draw (of its transpose when
// wide) with its columns' signs those of diag(R). Needs at least 2 dims.
Tensor& orthogonal_(Tensor& tensor, Generator& generator, double gain = 1);
// N(mean, std²) truncated to [a, b], by torch's inverse-CDF method: u uniform between Φ of the
// bounds, mean + std √2 erfinv(2u − 1), clamped to [a, b].
Tensor& trunc_normal_(Tensor& tensor, Generator& generator, double mean = 0, double std = 1, double a = -2,
                      double b = 2);

}  // namespace matgrad::nn::init
