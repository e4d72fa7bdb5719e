// Checkpoints as NumPy .npz archives (a zip of .npy members, written with libzip), which
// Python opens with numpy.load. Members: "model/<parameter name>", "optimizer/<state key>"
// and "extra/<key>" for anything else the caller wants to keep (e.g. input statistics).
// Values round-trip bitwise. Archives are untrusted on load: every malformed member raises
// CheckpointError naming the file, the member and the values at fault. A member's header is
// read first and checked against the size the archive gives the member and against max_bytes
// (default_max_load_bytes, 2 GiB, for all members together) before its array is allocated and
// the rest streamed into it; running out of memory all the same is a CheckpointError too.
#pragma once

#include "matgrad/nn/load_limit.hpp"
#include "matgrad/nn/module.hpp"
#include "matgrad/nn/optim.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace matgrad::nn {

struct CheckpointError : Error {
  using Error::Error;
};

// One tensor as the bytes of a .npy file (format 1.0, little-endian, C order).
std::string to_npy(const Tensor& tensor);
// Parses .npy bytes of dtype float32 or float64, either byte order, C or Fortran order (a
// Fortran-ordered array, such as np.save of W.T writes, comes back in C order with the same
// values); `what` names the data in error messages.
Tensor from_npy(std::string_view bytes, std::string_view what = "npy");

// Writes an .npz with one "<name>.npy" member per tensor (stored, like numpy.savez).
void save_npz(const std::filesystem::path& path, const NamedTensors& tensors);
// Reads every member of an .npz, in archive order (members as from_npy reads them).
NamedTensors load_npz(const std::filesystem::path& path,
                      std::size_t max_bytes = default_max_load_bytes);

// The module overloads save and load its parameters and buffers (state_dict in module.hpp).
// Copies `state` into the module's parameters after checking all of them: names, shapes and
// dtypes must match exactly; with strict, entries the module lacks are errors too.
void load_state_dict(const NamedTensors& parameters, const NamedTensors& state, bool strict = true,
                     const std::string& source = "state");
template <Module M>
void load_state_dict(M& module, const NamedTensors& state, bool strict = true,
                     const std::string& source = "state") {
  load_state_dict(nn::state_dict(module), state, strict, source);
}

struct Checkpoint {
  NamedTensors model, optimizer, extra;
};

void save_checkpoint(const std::filesystem::path& path, const NamedTensors& parameters,
                     const optim::Optimizer* optimizer = nullptr, const NamedTensors& extra = {});
template <Module M>
void save_checkpoint(const std::filesystem::path& path, const M& module,
                     const optim::Optimizer* optimizer = nullptr, const NamedTensors& extra = {}) {
  save_checkpoint(path, nn::state_dict(module), optimizer, extra);
}

Checkpoint read_checkpoint(const std::filesystem::path& path,
                           std::size_t max_bytes = default_max_load_bytes);

// Loads parameters (and the optimiser's state when given: the file must hold it) into place
// and returns the extras.
NamedTensors load_checkpoint(const std::filesystem::path& path, const NamedTensors& parameters,
                             optim::Optimizer* optimizer = nullptr,
                             std::size_t max_bytes = default_max_load_bytes);
template <Module M>
NamedTensors load_checkpoint(const std::filesystem::path& path, M& module,
                             optim::Optimizer* optimizer = nullptr,
                             std::size_t max_bytes = default_max_load_bytes) {
  return load_checkpoint(path, nn::state_dict(module), optimizer, max_bytes);
}

}  // namespace matgrad::nn
