// Data: the IDX format of MNIST and Fashion-MNIST (plain or gzip), the Fashion-MNIST files
// of Debian's dataset-fashion-mnist package, and a batch iterator with seeded shuffling.
// Files are untrusted: every malformed one raises a DataError naming the file and the values
// at fault, nothing is read beyond what the file holds, and the sizes a header declares are
// checked before anything is allocated, against what the file can hold and against max_bytes
// (default_max_load_bytes, 2 GiB, unless the caller gives another limit).
#pragma once

#include "matgrad/nn/load_limit.hpp"
#include "matgrad/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace matgrad::data {

// Raised for a malformed or missing data file.
struct DataError : Error {
  using Error::Error;
};

// An IDX file's contents: dims from the header, then the unsigned bytes in row-major order.
struct IdxArray {
  Shape shape;
  std::vector<std::uint8_t> data;
};

// Reads an IDX file of unsigned bytes (type code 0x08), gzip-compressed or plain. A gzip file
// may hold several members and end in zero padding (as gzip(1) allows); other bytes after the
// stream are an error. Data of more than max_bytes is refused before it is read.
IdxArray read_idx(const std::filesystem::path& path,
                  std::size_t max_bytes = default_max_load_bytes);

// Inputs [N, ...] (any dtype) with one class index per row.
struct Dataset {
  Tensor inputs;
  std::vector<std::size_t> targets;
  std::size_t size() const { return targets.size(); }
};

// Images [N, rows, cols] as float32 in [0, 1] (byte / 255) and labels < num_classes, from an
// IDX3 image file and an IDX1 label file that must agree on N. Both headers are checked first:
// the images as float32 and the labels (8 bytes each) must fit in max_bytes.
Dataset read_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels,
                         std::size_t num_classes = 10,
                         std::size_t max_bytes = default_max_load_bytes);

enum class Split { train, test };

inline const std::filesystem::path fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";
// The class names in label order.
const std::vector<std::string>& fashion_mnist_classes();
// {train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz) from `dir`; a missing file raises a
// DataError that says to `apt-get install dataset-fashion-mnist`.
Dataset load_fashion_mnist(Split split, const std::filesystem::path& dir = fashion_mnist_dir);
bool fashion_mnist_available(const std::filesystem::path& dir = fashion_mnist_dir);

// The first n examples (all when n ≥ size), copied.
Dataset head(const Dataset& dataset, std::size_t n);

// Mean and (population) standard deviation over all elements.
std::pair<double, double> mean_std(const Tensor& inputs);
// inputs ← (inputs − mean) / std, in place; std must be positive.
void standardize_(Tensor& inputs, double mean, double std);

struct Batch {
  // The rows of the dataset's inputs: a view of them (sharing their storage) when they are
  // consecutive, as without shuffling; gathered into a tensor of its own otherwise.
  Tensor inputs;
  std::vector<std::size_t> targets;
};

struct DataLoaderOptions {
  std::size_t batch_size = 64;
  bool shuffle = false;
  bool drop_last = false;
  std::uint64_t seed = 0;  // the shuffling generator's seed
};

struct DistributedSamplerOptions {
  bool shuffle = true;
  std::uint64_t seed = 0;  // the same on every rank
  bool drop_last = false;
};

// This rank's share of a dataset in data-parallel training, as torch.utils.data's
// DistributedSampler: every rank draws the same permutation for an epoch (from the seed and
// the epoch alone, so ranks agree without talking), pads it by repeating its first examples
// to a multiple of num_replicas (or, with drop_last, drops the tail) and takes every
// num_replicas-th example from position `rank`. The ranks' shares then partition the padded
// permutation: each example exactly once per epoch when the size divides evenly.
// Epoch e's permutation is the one a shuffling DataLoader with the same seed uses in its e-th
// epoch, so with one replica it is that loader's order, and with num_replicas ranks each
// taking batch_size / num_replicas rows per step, the ranks' batches of a step together are
// that loader's batch (torch draws its permutations differently; its sampler is seeded with
// seed + epoch).
class DistributedSampler {
 public:
  DistributedSampler(std::size_t dataset_size, std::size_t num_replicas, std::size_t rank,
                     DistributedSamplerOptions options = {});

  // Chooses the permutation (torch: call it before each epoch, or every epoch is the same;
  // a DataLoader holding the sampler does it for you).
  void set_epoch(std::uint64_t epoch);
  std::uint64_t epoch() const { return epoch_; }
  // This rank's dataset indices for the current epoch, in order: size() of them.
  std::vector<std::size_t> indices() const;
  std::size_t size() const { return num_samples_; }  // per rank
  std::size_t total_size() const { return num_samples_ * num_replicas_; }
  std::size_t dataset_size() const { return dataset_size_; }
  std::size_t num_replicas() const { return num_replicas_; }
  std::size_t rank() const { return rank_; }

 private:
  std::size_t dataset_size_, num_replicas_, rank_;
  DistributedSamplerOptions options_;
  std::size_t num_samples_ = 0;
  std::uint64_t epoch_ = 0;
  Generator generator_;            // has drawn the permutations of epochs [0, drawn_)
  std::uint64_t drawn_ = 0;
  std::vector<std::size_t> order_;  // the current epoch's permutation of the dataset
};

// Batches of a Dataset. Each begin() starts an epoch; with shuffle, epoch k uses the k-th
// permutation drawn from the seeded generator, so runs are reproducible. With a
// DistributedSampler (and no shuffle), an epoch is the sampler's indices for this rank: each
// begin() sets the sampler's epoch to the loader's epoch counter, 0 first, then 1, 2, ...
// (set_epoch moves it, e.g. to resume).
class DataLoader {
 public:
  DataLoader(Dataset dataset, DataLoaderOptions options = {});
  DataLoader(Dataset dataset, DistributedSampler sampler, DataLoaderOptions options = {});

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = const Batch*;
    using reference = const Batch&;

    iterator() = default;
    const Batch& operator*() const { return batch_; }
    const Batch* operator->() const { return &batch_; }
    iterator& operator++();
    bool operator==(const iterator& other) const { return position_ == other.position_; }

   private:
    friend class DataLoader;
    iterator(const DataLoader* loader, std::size_t position);
    void load();
    const DataLoader* loader_ = nullptr;
    std::size_t position_ = 0;  // index of the batch's first row in the epoch's order
    Batch batch_;
  };

  iterator begin();
  iterator end() const;
  std::size_t size() const;  // batches per epoch
  const Dataset& dataset() const { return dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  const std::optional<DistributedSampler>& sampler() const { return sampler_; }
  // The epoch the next begin() gives the sampler.
  void set_epoch(std::uint64_t epoch) { next_epoch_ = epoch; }
  // Rows [first, first + count) of the current epoch's order as one batch (a view of them when
  // they are consecutive, see Batch).
  Batch batch(std::size_t first, std::size_t count) const;

 private:
  std::size_t end_position() const;
  std::size_t rows() const;  // per epoch
  Dataset dataset_;
  DataLoaderOptions options_;
  Generator generator_;
  std::vector<std::size_t> order_;
  std::optional<DistributedSampler> sampler_;
  std::uint64_t next_epoch_ = 0;
};

}  // namespace matgrad::data
