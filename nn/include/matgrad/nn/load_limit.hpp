// The memory limit of the loaders of untrusted files: read_idx, read_idx_dataset, load_npz,
// read_checkpoint and load_checkpoint.
#pragma once

#include <cstddef>

namespace matgrad {

// The most a loader allocates for what it returns unless the caller passes another max_bytes:
// 2 GiB, room for an MNIST-format dataset of up to 680,000 images of 28×28 as float32
// (Fashion-MNIST's training set takes 188 MB) and for a model of 500 million float32
// parameters. A file's header is checked against the limit, and against what the file can
// actually hold, before anything is allocated; an allocation that fails all the same raises
// the loader's error naming the file, never std::bad_alloc.
inline constexpr std::size_t default_max_load_bytes = std::size_t{2} << 30;

}  // namespace matgrad
