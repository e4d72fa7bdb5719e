#include "matgrad/nn/data.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

namespace matgrad::data {

namespace {

// A gzip or plain file read through zlib (gzread passes plain files through unchanged).
class GzReader {
 public:
  explicit GzReader(const std::filesystem::path& path) : name_(path.string()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail<DataError>("read_idx: {}: no such file", name_);
    if (std::filesystem::is_directory(path, ec)) fail<DataError>("read_idx: {}: is a directory", name_);
    errno = 0;
    file_ = gzopen(name_.c_str(), "rb");
    if (!file_) {
      fail<DataError>("read_idx: {}: cannot open: {}", name_,
                      errno ? std::strerror(errno) : "out of memory");
    }
    gzbuffer(file_, 1u << 17);
  }
  ~GzReader() {
    if (file_) gzclose_r(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  // Reads up to n bytes; fewer only at the end of the data. A corrupt stream raises.
  std::size_t read(void* buffer, std::size_t n) {
    auto* out = static_cast<unsigned char*>(buffer);
    std::size_t total = 0;
    while (total < n) {
      const auto want = static_cast<unsigned>(std::min<std::size_t>(n - total, 1u << 30));
      const int got = gzread(file_, out + total, want);
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        fail<DataError>("read_idx: {}: corrupt or truncated gzip stream after {} bytes of data: {}",
                        name_, offset_ + total, message ? message : "unknown error");
      }
      if (got == 0) break;
      total += static_cast<std::size_t>(got);
    }
    offset_ += total;
    return total;
  }

 private:
  std::string name_;
  gzFile file_ = nullptr;
  std::size_t offset_ = 0;
};

std::string shape_text(const Shape& s) { return to_string(s); }

}  // namespace

IdxArray read_idx(const std::filesystem::path& path) {
  const std::string name = path.string();
  GzReader in(path);
  unsigned char magic[4];
  if (const std::size_t got = in.read(magic, 4); got < 4) {
    fail<DataError>("read_idx: {}: too short for an IDX header: {} bytes (need 4 magic bytes)",
                    name, got);
  }
  if (magic[0] != 0 || magic[1] != 0) {
    fail<DataError>("read_idx: {}: not an IDX file: magic bytes {:02x} {:02x} {:02x} {:02x}, "
                    "expected 00 00 <type> <dims>",
                    name, magic[0], magic[1], magic[2], magic[3]);
  }
  if (magic[2] != 0x08) {
    fail<DataError>("read_idx: {}: element type 0x{:02x} is not supported; only unsigned bytes "
                    "(0x08), as in MNIST and Fashion-MNIST",
                    name, magic[2]);
  }
  const std::size_t ndim = magic[3];
  if (ndim == 0) fail<DataError>("read_idx: {}: the header declares 0 dimensions", name);
  std::vector<unsigned char> raw(4 * ndim);
  if (const std::size_t got = in.read(raw.data(), raw.size()); got < raw.size()) {
    fail<DataError>("read_idx: {}: truncated header: {} dimensions need {} bytes of sizes, the "
                    "file has {}",
                    name, ndim, raw.size(), got);
  }
  IdxArray out;
  out.shape.resize(ndim);
  std::size_t count = 1;
  bool overflow = false;
  for (std::size_t d = 0; d < ndim; ++d) {
    const unsigned char* b = &raw[4 * d];
    const std::uint32_t size = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                               (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
    out.shape[d] = size;
    if (size != 0 && count > std::numeric_limits<std::size_t>::max() / size) overflow = true;
    count *= size;
  }
  if (overflow) {
    fail<DataError>("read_idx: {}: the dimensions {} multiply to more elements than fit in "
                    "memory (overflow)",
                    name, shape_text(out.shape));
  }
  // Grown chunk by chunk, so a header that lies about its size costs no more memory than the
  // data actually present.
  constexpr std::size_t chunk = std::size_t{1} << 22;
  out.data.reserve(std::min(count, chunk));
  while (out.data.size() < count) {
    const std::size_t have = out.data.size();
    const std::size_t want = std::min(chunk, count - have);
    out.data.resize(have + want);
    const std::size_t got = in.read(out.data.data() + have, want);
    if (got < want) {
      fail<DataError>("read_idx: {}: truncated: the header declares shape {} ({} bytes of data) "
                      "but the file holds only {}",
                      name, shape_text(out.shape), count, have + got);
    }
  }
  unsigned char extra;
  if (in.read(&extra, 1) != 0) {
    fail<DataError>("read_idx: {}: wrong size: the file continues after the {} bytes of data "
                    "that its header (shape {}) declares",
                    name, count, shape_text(out.shape));
  }
  return out;
}

Dataset read_idx_dataset(const std::filesystem::path& images_path,
                         const std::filesystem::path& labels_path, std::size_t num_classes) {
  const IdxArray images = read_idx(images_path);
  const IdxArray labels = read_idx(labels_path);
  if (images.shape.size() != 3) {
    fail<DataError>("read_idx_dataset: {}: expected images of shape [N, rows, cols], got shape {}",
                    images_path.string(), shape_text(images.shape));
  }
  if (labels.shape.size() != 1) {
    fail<DataError>("read_idx_dataset: {}: expected labels of shape [N], got shape {}",
                    labels_path.string(), shape_text(labels.shape));
  }
  if (images.shape[0] != labels.shape[0]) {
    fail<DataError>("read_idx_dataset: the counts disagree: {} holds {} images but {} holds {} "
                    "labels",
                    images_path.string(), images.shape[0], labels_path.string(), labels.shape[0]);
  }
  Dataset out;
  out.targets.resize(labels.data.size());
  for (std::size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= num_classes) {
      fail<DataError>("read_idx_dataset: {}: label {} at index {} is not below num_classes = {}",
                      labels_path.string(), labels.data[i], i, num_classes);
    }
    out.targets[i] = labels.data[i];
  }
  auto pixels = xt::xarray<float>::from_shape(images.shape);
  std::transform(images.data.begin(), images.data.end(), pixels.begin(),
                 [](std::uint8_t b) { return static_cast<float>(b) / 255.0f; });
  out.inputs = Tensor(std::move(pixels));
  return out;
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names{"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};
  return names;
}

// The file for one part of a split: "<prefix>-<part>" with or without ".gz".
static std::filesystem::path fashion_mnist_file(const std::filesystem::path& dir,
                                                const std::string& stem) {
  std::error_code ec;
  for (const std::string& name : {stem + ".gz", stem}) {
    if (std::filesystem::is_regular_file(dir / name, ec)) return dir / name;
  }
  return {};
}

static const char* split_prefix(Split split) { return split == Split::train ? "train" : "t10k"; }

bool fashion_mnist_available(const std::filesystem::path& dir) {
  for (Split split : {Split::train, Split::test}) {
    for (const char* part : {"images-idx3-ubyte", "labels-idx1-ubyte"}) {
      if (fashion_mnist_file(dir, fmt::format("{}-{}", split_prefix(split), part)).empty()) {
        return false;
      }
    }
  }
  return true;
}

Dataset load_fashion_mnist(Split split, const std::filesystem::path& dir) {
  std::filesystem::path files[2];
  const char* parts[2] = {"images-idx3-ubyte", "labels-idx1-ubyte"};
  for (int k = 0; k < 2; ++k) {
    const std::string stem = fmt::format("{}-{}", split_prefix(split), parts[k]);
    files[k] = fashion_mnist_file(dir, stem);
    if (files[k].empty()) {
      fail<DataError>("Fashion-MNIST: {} not found (nor without .gz). Install the dataset with: "
                      "apt-get install dataset-fashion-mnist (scripts/setup dataset-fashion-mnist "
                      "does it)",
                      (dir / (stem + ".gz")).string());
    }
  }
  return read_idx_dataset(files[0], files[1], fashion_mnist_classes().size());
}

Dataset head(const Dataset& dataset, std::size_t n) {
  DataLoader all(dataset, {.batch_size = std::max<std::size_t>(1, dataset.size())});
  Batch batch = all.batch(0, std::min(n, dataset.size()));
  return {batch.inputs.clone(), std::move(batch.targets)};
}

std::pair<double, double> mean_std(const Tensor& inputs) {
  if (!inputs.defined() || inputs.numel() == 0) fail<ValueError>("mean_std: no elements");
  return inputs.visit([](const auto& x) {
    const double n = static_cast<double>(x.size());
    double sum = 0;
    for (auto v : x) sum += static_cast<double>(v);
    const double mean = sum / n;
    double squares = 0;
    for (auto v : x) squares += (static_cast<double>(v) - mean) * (static_cast<double>(v) - mean);
    return std::pair{mean, std::sqrt(squares / n)};
  });
}

void standardize_(Tensor& inputs, double mean, double std) {
  if (!(std > 0) || !std::isfinite(std) || !std::isfinite(mean)) {
    fail<ValueError>("standardize_: needs a finite mean and a positive std, got mean {} std {}",
                     mean, std);
  }
  NoGradGuard no_grad;
  auto apply = [&](auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const T m = static_cast<T>(mean), s = static_cast<T>(std);
    for (T& v : x) v = (v - m) / s;
  };
  if (inputs.dtype() == DType::float32) {
    apply(inputs.mutable_data<float>());
  } else {
    apply(inputs.mutable_data<double>());
  }
}

// ---- DataLoader ----

DataLoader::DataLoader(Dataset dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(options), generator_(options.seed) {
  if (!dataset_.inputs.defined() || dataset_.inputs.dim() == 0) {
    fail<ShapeError>("DataLoader: inputs must have a batch dimension, got {}",
                     dataset_.inputs.defined() ? to_string(dataset_.inputs.shape()) : "undefined");
  }
  if (dataset_.inputs.size(0) != dataset_.targets.size()) {
    fail<ShapeError>("DataLoader: {} input rows (shape {}) but {} targets", dataset_.inputs.size(0),
                     to_string(dataset_.inputs.shape()), dataset_.targets.size());
  }
  if (options_.batch_size == 0) fail<ValueError>("DataLoader: batch_size must be positive");
  order_.resize(dataset_.targets.size());
  std::iota(order_.begin(), order_.end(), std::size_t{0});
}

std::size_t DataLoader::size() const {
  const std::size_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::size_t DataLoader::end_position() const {
  return options_.drop_last ? size() * options_.batch_size : dataset_.size();
}

DataLoader::iterator DataLoader::begin() {
  if (options_.shuffle) {
    // A fresh permutation per epoch (Fisher–Yates), so epoch k depends only on seed and k.
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    for (std::size_t i = order_.size(); i > 1; --i) {
      std::uniform_int_distribution<std::size_t> pick(0, i - 1);
      std::swap(order_[i - 1], order_[pick(generator_.engine())]);
    }
  }
  return iterator(this, 0);
}

DataLoader::iterator DataLoader::end() const { return iterator(this, end_position()); }

Batch DataLoader::batch(std::size_t first, std::size_t count) const {
  if (first > order_.size() || count > order_.size() - first) {
    fail<IndexError>("DataLoader::batch: rows [{}, {}) are out of range for {} examples", first,
                     first + count, order_.size());
  }
  Batch out;
  out.targets.resize(count);
  const std::size_t start = count ? order_[first] : 0;
  bool consecutive = true;
  for (std::size_t k = 0; k < count && consecutive; ++k) consecutive = order_[first + k] == start + k;
  if (consecutive) {  // rows in storage order (no shuffle): a view of them, no copy
    for (std::size_t k = 0; k < count; ++k) out.targets[k] = dataset_.targets[start + k];
    NoGradGuard no_grad;
    out.inputs = narrow(dataset_.inputs, 0, static_cast<std::ptrdiff_t>(start), count);
    return out;
  }
  Shape shape = dataset_.inputs.shape();
  const std::size_t rows = shape[0];
  const std::size_t row_size = rows ? dataset_.inputs.numel() / rows : 0;
  shape[0] = count;
  out.inputs = dataset_.inputs.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto gathered = xt::xarray<T>::from_shape(shape);
    for (std::size_t k = 0; k < count; ++k) {
      const std::size_t row = order_[first + k];
      std::copy_n(x.data() + row * row_size, row_size, gathered.data() + k * row_size);
      out.targets[k] = dataset_.targets[row];
    }
    return Tensor(std::move(gathered));
  });
  return out;
}

DataLoader::iterator::iterator(const DataLoader* loader, std::size_t position)
    : loader_(loader), position_(position) {
  if (position_ < loader_->end_position()) load();
}

void DataLoader::iterator::load() {
  const std::size_t count =
      std::min(loader_->options_.batch_size, loader_->end_position() - position_);
  batch_ = loader_->batch(position_, count);
}

DataLoader::iterator& DataLoader::iterator::operator++() {
  position_ = std::min(position_ + loader_->options_.batch_size, loader_->end_position());
  if (position_ < loader_->end_position()) load();
  return *this;
}

}  // namespace matgrad::data
