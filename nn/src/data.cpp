#include "matgrad/nn/data.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <span>

namespace matgrad::data {

namespace {

// An IDX file's bytes: gunzipped when the file starts with the gzip magic 1f 8b, else as they
// are. Gzip members may follow one another (as `cat a.gz b.gz` makes) and zero bytes may pad
// the end (gzip(1) and Python's gzip module accept both); anything else after the last member
// is an error, as is a damaged or truncated stream.
class IdxStream {
 public:
  IdxStream(const std::filesystem::path& path, std::string_view op) : name_(path.string()), op_(op) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail<DataError>("{}: {}: no such file", op_, name_);
    if (std::filesystem::is_directory(path, ec)) fail<DataError>("{}: {}: is a directory", op_, name_);
    errno = 0;
    file_.reset(std::fopen(name_.c_str(), "rb"));
    if (!file_) fail<DataError>("{}: {}: cannot open: {}", op_, name_, std::strerror(errno));
    file_size_ = std::filesystem::file_size(path, ec);
    if (ec) fail<DataError>("{}: {}: cannot read its size: {}", op_, name_, ec.message());
    input_.resize(std::size_t{1} << 16);
    stream_.next_in = input_.data();
    stream_.avail_in = 0;
    fill();
    gzip_ = stream_.avail_in >= 2 && stream_.next_in[0] == 0x1f && stream_.next_in[1] == 0x8b;
    if (gzip_ && inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) {
      gzip_ = false;
      fail<DataError>("{}: {}: cannot start decompressing: out of memory", op_, name_);
    }
  }
  ~IdxStream() {
    if (gzip_) inflateEnd(&stream_);
  }
  IdxStream(const IdxStream&) = delete;
  IdxStream& operator=(const IdxStream&) = delete;

  const std::string& name() const { return name_; }
  std::string_view op() const { return op_; }
  bool gzip() const { return gzip_; }
  std::uint64_t file_size() const { return file_size_; }

  // Reads up to n bytes; fewer only at the end of the data.
  std::size_t read(void* buffer, std::size_t n) {
    auto* out = static_cast<unsigned char*>(buffer);
    std::size_t total = 0;
    while (total < n && !finished_) {
      if (stream_.avail_in == 0 && !fill()) {
        if (gzip_) {
          fail<DataError>("{}: {}: truncated gzip stream: the file ends after {} bytes of data, "
                          "inside a compressed member",
                          op_, name_, offset_ + total);
        }
        finished_ = true;
        break;
      }
      if (!gzip_) {
        const std::size_t take = std::min<std::size_t>(n - total, stream_.avail_in);
        std::memcpy(out + total, stream_.next_in, take);
        stream_.next_in += take;
        stream_.avail_in -= static_cast<uInt>(take);
        total += take;
        continue;
      }
      stream_.next_out = out + total;
      stream_.avail_out = static_cast<uInt>(std::min<std::size_t>(n - total, 1u << 30));
      const uInt room = stream_.avail_out;
      const int rc = inflate(&stream_, Z_NO_FLUSH);
      total += room - stream_.avail_out;
      if (rc == Z_STREAM_END) {
        finished_ = !next_member(offset_ + total);
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        fail<DataError>("{}: {}: corrupt gzip stream after {} bytes of data: {}", op_, name_,
                        offset_ + total, stream_.msg ? stream_.msg : "unknown error");
      }
    }
    offset_ += total;
    return total;
  }

 private:
  // Reads more of the file when the input is used up; false at its end.
  bool fill() {
    if (stream_.avail_in > 0) return true;
    const std::size_t got = std::fread(input_.data(), 1, input_.size(), file_.get());
    if (got == 0 && std::ferror(file_.get())) {
      fail<DataError>("{}: {}: read error: {}", op_, name_, std::strerror(errno));
    }
    consumed_ += got;
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(got);
    return got > 0;
  }
  std::uint64_t file_offset() const { return consumed_ - stream_.avail_in; }

  // After a member's end, `delivered` bytes in: whether another member follows (then inflate
  // starts on it).
  bool next_member(std::size_t delivered) {
    while (fill()) {
      if (stream_.next_in[0] == 0x1f) {
        if (inflateReset(&stream_) != Z_OK) {
          fail<DataError>("{}: {}: cannot restart decompressing", op_, name_);
        }
        return true;
      }
      if (stream_.next_in[0] != 0) {
        fail<DataError>("{}: {}: garbage after the gzip stream: byte 0x{:02x} at offset {} of the "
                        "file, after {} bytes of data (neither another gzip member nor zero "
                        "padding)",
                        op_, name_, stream_.next_in[0], file_offset(), delivered);
      }
      ++stream_.next_in;  // zero padding
      --stream_.avail_in;
    }
    return false;
  }

  std::string name_;
  std::string_view op_;
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Closer> file_;  // closed also when the constructor throws
  std::uint64_t file_size_ = 0;
  std::vector<unsigned char> input_;
  z_stream stream_{};  // in plain files too, next_in and avail_in are the read position
  bool gzip_ = false;
  bool finished_ = false;
  std::uint64_t consumed_ = 0;  // bytes read from the file
  std::size_t offset_ = 0;      // bytes of data delivered
};

std::string shape_text(const Shape& s) { return to_string(s); }

// An IDX header, read and checked: the dims, and the element count they multiply to.
struct IdxHeader {
  Shape shape;
  std::size_t count = 1;
  std::size_t size = 0;  // bytes, magic included
};

IdxHeader read_header(IdxStream& in) {
  const std::string& name = in.name();
  const std::string_view op = in.op();
  unsigned char magic[4];
  if (const std::size_t got = in.read(magic, 4); got < 4) {
    fail<DataError>("{}: {}: too short for an IDX header: {} bytes (need 4 magic bytes)", op, name,
                    got);
  }
  if (magic[0] != 0 || magic[1] != 0) {
    fail<DataError>("{}: {}: not an IDX file: magic bytes {:02x} {:02x} {:02x} {:02x}, expected "
                    "00 00 <type> <dims>",
                    op, name, magic[0], magic[1], magic[2], magic[3]);
  }
  if (magic[2] != 0x08) {
    fail<DataError>("{}: {}: element type 0x{:02x} is not supported; only unsigned bytes (0x08), "
                    "as in MNIST and Fashion-MNIST",
                    op, name, magic[2]);
  }
  const std::size_t ndim = magic[3];
  if (ndim == 0) fail<DataError>("{}: {}: the header declares 0 dimensions", op, name);
  unsigned char raw[4 * 255];
  if (const std::size_t got = in.read(raw, 4 * ndim); got < 4 * ndim) {
    fail<DataError>("{}: {}: truncated header: {} dimensions need {} bytes of sizes, the file has "
                    "{}",
                    op, name, ndim, 4 * ndim, got);
  }
  IdxHeader header;
  header.shape.resize(ndim);
  header.size = 4 + 4 * ndim;
  bool overflow = false;
  for (std::size_t d = 0; d < ndim; ++d) {
    const unsigned char* b = &raw[4 * d];
    const std::uint32_t size = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                               (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
    header.shape[d] = size;
    if (size != 0 && header.count > std::numeric_limits<std::size_t>::max() / size) overflow = true;
    header.count *= size;
  }
  if (overflow) {
    fail<DataError>("{}: {}: the dimensions {} multiply to more elements than fit in memory "
                    "(overflow)",
                    op, name, shape_text(header.shape));
  }
  return header;
}

// Checks, before anything is allocated, that the data the header declares can be in the file:
// exactly for a plain file; for gzip, within the 1032-fold that deflate can expand at most.
void check_declared_size(const IdxStream& in, const IdxHeader& header) {
  const std::uint64_t size = in.file_size();
  if (!in.gzip()) {
    const std::uint64_t available = size - std::min<std::uint64_t>(size, header.size);
    if (available < header.count) {
      fail<DataError>("{}: {}: truncated: the header declares shape {} ({} bytes of data) but the "
                      "file holds only {}",
                      in.op(), in.name(), shape_text(header.shape), header.count, available);
    }
    if (available > header.count) {
      fail<DataError>("{}: {}: wrong size: the file continues after the {} bytes of data that "
                      "its header (shape {}) declares",
                      in.op(), in.name(), header.count, shape_text(header.shape));
    }
    return;
  }
  constexpr std::uint64_t kMaxDeflateRatio = 1032;
  if (size <= std::numeric_limits<std::uint64_t>::max() / kMaxDeflateRatio &&
      header.count > size * kMaxDeflateRatio) {
    fail<DataError>("{}: {}: truncated: the header declares shape {} ({} bytes of data) but the "
                    "file holds at most {} once decompressed (gzip expands {} bytes at most "
                    "{}-fold)",
                    in.op(), in.name(), shape_text(header.shape), header.count,
                    size * kMaxDeflateRatio, size, kMaxDeflateRatio);
  }
}

// The data after the header, in chunks, each passed to take(bytes, n) in order; then checks
// that the file ends there.
template <class Take>
void read_data(IdxStream& in, const IdxHeader& header, Take&& take) {
  std::vector<std::uint8_t> chunk(std::min<std::size_t>(header.count, std::size_t{1} << 16));
  for (std::size_t have = 0; have < header.count;) {
    const std::size_t want = std::min(chunk.size(), header.count - have);
    const std::size_t got = in.read(chunk.data(), want);
    if (got < want) {
      fail<DataError>("{}: {}: truncated: the header declares shape {} ({} bytes of data) but the "
                      "file holds only {}",
                      in.op(), in.name(), shape_text(header.shape), header.count, have + got);
    }
    take(chunk.data(), have, got);
    have += got;
  }
  unsigned char extra;
  if (in.read(&extra, 1) != 0) {
    fail<DataError>("{}: {}: wrong size: the file continues after the {} bytes of data that its "
                    "header (shape {}) declares",
                    in.op(), in.name(), header.count, shape_text(header.shape));
  }
}

[[noreturn]] void fail_limit(std::string_view op, const std::string& name, const Shape& shape,
                             std::size_t bytes, std::string_view as, std::size_t max_bytes) {
  fail<DataError>("{}: {}: the header declares shape {}, {} bytes {}, more than max_bytes = {} "
                  "(the limit on what a loader allocates for an untrusted file; pass a larger "
                  "max_bytes to read it)",
                  op, name, to_string(shape), bytes, as, max_bytes);
}

// x * y, or SIZE_MAX when it overflows (then above any limit).
std::size_t saturating_mul(std::size_t x, std::size_t y) {
  return y != 0 && x > std::numeric_limits<std::size_t>::max() / y ? std::numeric_limits<std::size_t>::max()
                                                                   : x * y;
}

}  // namespace

IdxArray read_idx(const std::filesystem::path& path, std::size_t max_bytes) {
  std::size_t needed = 0;
  try {
    IdxStream in(path, "read_idx");
    IdxArray out;
    const IdxHeader header = read_header(in);
    out.shape = header.shape;
    check_declared_size(in, header);
    if (header.count > max_bytes) {
      fail_limit("read_idx", in.name(), header.shape, header.count, "of data", max_bytes);
    }
    needed = header.count;
    out.data.resize(header.count);
    read_data(in, header, [&](const std::uint8_t* bytes, std::size_t at, std::size_t n) {
      std::memcpy(out.data.data() + at, bytes, n);
    });
    return out;
  } catch (const std::bad_alloc&) {
    fail<DataError>("read_idx: {}: out of memory while reading its {} bytes of data",
                    path.string(), needed);
  }
}

Dataset read_idx_dataset(const std::filesystem::path& images_path,
                         const std::filesystem::path& labels_path, std::size_t num_classes,
                         std::size_t max_bytes) {
  constexpr std::string_view op = "read_idx_dataset";
  std::size_t needed = 0;
  try {
    IdxStream images(images_path, op), labels(labels_path, op);
    const IdxHeader image_header = read_header(images);
    const IdxHeader label_header = read_header(labels);
    // Everything the headers declare is checked before anything is allocated.
    if (image_header.shape.size() != 3) {
      fail<DataError>("{}: {}: expected images of shape [N, rows, cols], got shape {}", op,
                      images.name(), shape_text(image_header.shape));
    }
    if (label_header.shape.size() != 1) {
      fail<DataError>("{}: {}: expected labels of shape [N], got shape {}", op, labels.name(),
                      shape_text(label_header.shape));
    }
    const std::size_t n = image_header.shape[0];
    if (n != label_header.shape[0]) {
      fail<DataError>("{}: the counts disagree: {} holds {} images but {} holds {} labels", op,
                      images.name(), n, labels.name(), label_header.shape[0]);
    }
    check_declared_size(images, image_header);
    check_declared_size(labels, label_header);
    const std::size_t pixel_bytes = saturating_mul(image_header.count, sizeof(float));
    const std::size_t label_bytes = saturating_mul(n, sizeof(std::size_t));
    if (pixel_bytes > max_bytes || label_bytes > max_bytes - pixel_bytes) {
      fail_limit(op, images.name(), image_header.shape, pixel_bytes,
                 fmt::format("as float32 (and {} for the labels)", label_bytes), max_bytes);
    }
    needed = pixel_bytes + label_bytes;

    Dataset out;
    out.targets.resize(n);
    read_data(labels, label_header, [&](const std::uint8_t* bytes, std::size_t at, std::size_t count) {
      for (std::size_t i = 0; i < count; ++i) {
        if (bytes[i] >= num_classes) {
          fail<DataError>("{}: {}: label {} at index {} is not below num_classes = {}", op,
                          labels.name(), bytes[i], at + i, num_classes);
        }
        out.targets[at + i] = bytes[i];
      }
    });
    auto pixels = xt::xarray<float>::from_shape(image_header.shape);
    read_data(images, image_header, [&](const std::uint8_t* bytes, std::size_t at, std::size_t count) {
      std::transform(bytes, bytes + count, pixels.data() + at,
                     [](std::uint8_t b) { return static_cast<float>(b) / 255.0f; });
    });
    out.inputs = Tensor(std::move(pixels));
    return out;
  } catch (const std::bad_alloc&) {
    fail<DataError>("{}: out of memory while reading {} and {} ({} bytes for the images as "
                    "float32 and the labels)",
                    op, images_path.string(), labels_path.string(), needed);
  }
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

// ---- shuffling ----

// order ← a fresh permutation of [0, order.size()) (Fisher–Yates), drawn from gen: a
// shuffling DataLoader's epoch, and a DistributedSampler's.
static void draw_permutation(std::vector<std::size_t>& order, Generator& gen) {
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (std::size_t i = order.size(); i > 1; --i) {
    std::uniform_int_distribution<std::size_t> pick(0, i - 1);
    std::swap(order[i - 1], order[pick(gen.engine())]);
  }
}

// ---- DistributedSampler ----

DistributedSampler::DistributedSampler(std::size_t dataset_size, std::size_t num_replicas,
                                       std::size_t rank, DistributedSamplerOptions options)
    : dataset_size_(dataset_size), num_replicas_(num_replicas), rank_(rank), options_(options),
      generator_(options.seed), order_(dataset_size) {
  if (num_replicas == 0) fail<ValueError>("DistributedSampler: num_replicas must be positive");
  if (rank >= num_replicas) {
    fail<ValueError>("DistributedSampler: invalid rank {}, rank should be in the interval [0, {}]",
                     rank, num_replicas - 1);
  }
  // torch: drop_last keeps ⌊n / replicas⌋ per rank, otherwise ⌈n / replicas⌉ with padding.
  num_samples_ = options.drop_last ? dataset_size / num_replicas
                                   : (dataset_size + num_replicas - 1) / num_replicas;
  set_epoch(0);
}

void DistributedSampler::set_epoch(std::uint64_t epoch) {
  epoch_ = epoch;
  if (!options_.shuffle) {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    return;
  }
  if (epoch < drawn_ || drawn_ == 0) {  // start the stream again
    generator_ = Generator(options_.seed);
    drawn_ = 0;
  }
  while (drawn_ <= epoch) {
    draw_permutation(order_, generator_);
    ++drawn_;
  }
}

std::vector<std::size_t> DistributedSampler::indices() const {
  std::vector<std::size_t> out(num_samples_);
  for (std::size_t k = 0; k < num_samples_; ++k) {
    // Position in the padded permutation; padding repeats it from its start, cyclically.
    const std::size_t position = rank_ + k * num_replicas_;
    out[k] = order_[position % dataset_size_];
  }
  return out;
}

// ---- DataLoader ----

DataLoader::DataLoader(Dataset dataset, DistributedSampler sampler, DataLoaderOptions options)
    : DataLoader(std::move(dataset), options) {
  if (options.shuffle) {
    fail<ValueError>("DataLoader: shuffle and a sampler are mutually exclusive (the sampler "
                     "shuffles: DistributedSamplerOptions::shuffle)");
  }
  if (sampler.dataset_size() != dataset_.size()) {
    fail<ValueError>("DataLoader: the sampler is for a dataset of {} examples, this one has {}",
                     sampler.dataset_size(), dataset_.size());
  }
  sampler_ = std::move(sampler);
  order_ = sampler_->indices();
}

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

std::size_t DataLoader::rows() const { return sampler_ ? sampler_->size() : dataset_.size(); }

std::size_t DataLoader::size() const {
  const std::size_t n = rows(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::size_t DataLoader::end_position() const {
  return options_.drop_last ? size() * options_.batch_size : rows();
}

DataLoader::iterator DataLoader::begin() {
  if (sampler_) {
    sampler_->set_epoch(next_epoch_++);
    order_ = sampler_->indices();
  } else if (options_.shuffle) {
    // A fresh permutation per epoch, so epoch k depends only on seed and k.
    draw_permutation(order_, generator_);
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
  // Shuffled: the rows gathered into a tensor of their own (index_select allocates it from the
  // cache of large blocks, so that every step's batch reuses the last one's memory).
  const std::span<const std::size_t> rows(order_.data() + first, count);
  for (std::size_t k = 0; k < count; ++k) out.targets[k] = dataset_.targets[rows[k]];
  NoGradGuard no_grad;
  out.inputs = index_select(dataset_.inputs, 0, rows);
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
