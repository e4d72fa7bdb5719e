// What the optimisers share (optim.cpp, optim_adaptive.cpp): hyperparameter checks and the
// parsing of state dicts.
#pragma once

#include "matgrad/nn/optim.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace matgrad::optim::detail {

Tensor copy_of(const Tensor& t);  // detached, own storage
Tensor scalar(double value);      // 0-d float64

// A ValueError naming op and what unless value is finite and in [low, high] (or [low, high)).
void check_hyper(std::string_view op, std::string_view what, double value, double low, double high,
                 bool high_open = false);

// The parsed form of a state dict: hyperparameters and per-parameter entries by key.
struct ParsedState {
  std::map<std::string, Tensor> hyper;
  std::vector<std::map<std::string, Tensor>> per_param;
};

// Splits "state.<i>.<key>" entries and checks that every key is one this optimiser knows and
// that every hyperparameter key is there.
ParsedState parse_state(std::string_view op, const NamedTensors& state, std::size_t num_params,
                        const std::vector<std::string>& hyper_keys, const std::vector<std::string>& param_keys,
                        const std::string& source);

// A "state.<i>.step" entry: one positive integer.
std::uint64_t read_step(std::string_view op, const std::string& source, std::size_t i, const Tensor& t);

// A buffer entry must have its parameter's shape and dtype.
void check_buffer(std::string_view op, const std::string& source, std::size_t i, const std::string& key,
                  const Tensor& buffer, const Tensor& param);

}  // namespace matgrad::optim::detail
