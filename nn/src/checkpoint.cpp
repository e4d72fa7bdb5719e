#include "matgrad/nn/checkpoint.hpp"

#include "matgrad/autograd.hpp"

#include <fmt/format.h>
#include <zip.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <map>
#include <set>

namespace matgrad::nn {

namespace {

constexpr char kMagic[] = "\x93NUMPY";  // 6 bytes, then major and minor version

template <class T>
void byteswap_in_place(T* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    auto* b = reinterpret_cast<unsigned char*>(data + i);
    std::reverse(b, b + sizeof(T));
  }
}

// ---- the .npy header: a Python dict literal with three keys ----

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// A parser for exactly what the header may contain: strings, True/False and tuples of ints.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view what) : text_(text), what_(what) {}

  NpyHeader parse() {
    NpyHeader header;
    std::set<std::string> seen;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      if (!seen.insert(key).second) error(fmt::format("key '{}' appears twice", key));
      expect(':');
      skip_space();
      if (key == "descr") {
        header.descr = string_literal();
      } else if (key == "fortran_order") {
        header.fortran_order = boolean();
      } else if (key == "shape") {
        header.shape = tuple();
      } else {
        error(fmt::format("unexpected key '{}'", key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') error("expected ',' or '}'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the dict");
    for (const char* key : {"descr", "fortran_order", "shape"}) {
      if (!seen.count(key)) error(fmt::format("missing key '{}'", key));
    }
    return header;
  }

 private:
  [[noreturn]] void error(const std::string& message) const {
    fail<CheckpointError>("{}: malformed .npy header at offset {}: {} (header: {:?})", what_, pos_,
                          message, std::string(text_.substr(0, 200)));
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error(fmt::format("expected '{}'", c));
    ++pos_;
  }
  std::string string_literal() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') error("expected a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) error("unterminated string");
    std::string out(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    error("expected True or False");
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') error("expected a dimension (a non-negative integer)");
      std::size_t value = 0;
      while (peek() >= '0' && peek() <= '9') {
        const auto digit = static_cast<std::size_t>(peek() - '0');
        if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) {
          error("a dimension does not fit in 64 bits");
        }
        value = value * 10 + digit;
        ++pos_;
      }
      if (shape.size() >= 64) error("more than 64 dimensions");
      shape.push_back(value);
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != ')') error("expected ',' or ')' in the shape");
    }
    ++pos_;
    return shape;
  }

  std::string_view text_;
  std::string_view what_;
  std::size_t pos_ = 0;
};

std::string shape_tuple(const Shape& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

// ---- zip helpers ----

std::string zip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

struct ZipCloser {
  void operator()(zip_t* archive) const {
    if (archive) zip_discard(archive);
  }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;

struct ZipFileCloser {
  void operator()(zip_file_t* file) const {
    if (file) zip_fclose(file);
  }
};

void check_name(std::string_view op, const std::string& name) {
  if (name.empty() || name.find('\0') != std::string::npos) {
    fail<CheckpointError>("{}: invalid tensor name {:?}", op, name);
  }
}

}  // namespace

// ---- .npy ----

namespace {
// NumPy's type codes: '<f4', '<f8' and '<i8' (int64) are read and written.
std::string_view npy_code(DType dtype) {
  switch (dtype) {
    case DType::float32: return "f4";
    case DType::float64: return "f8";
    case DType::int64: return "i8";
  }
  return "?";
}
}  // namespace

std::string to_npy(const Tensor& tensor) {
  if (!tensor.defined()) fail<CheckpointError>("to_npy: the tensor is undefined");
  const std::string_view code = npy_code(tensor.dtype());
  std::string header = fmt::format("{{'descr': '<{}', 'fortran_order': False, 'shape': {}, }}",
                                   code, shape_tuple(tensor.shape()));
  // numpy pads the header with spaces and a newline so that the data starts 64-byte aligned.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 65535) fail<CheckpointError>("to_npy: shape {} gives too long a header", to_string(tensor.shape()));
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  tensor.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    if (x.size() == 0) return;  // x.data() may be null
    const std::size_t offset = out.size();
    out.resize(offset + x.size() * sizeof(T));
    std::memcpy(out.data() + offset, x.data(), x.size() * sizeof(T));
    if constexpr (std::endian::native == std::endian::big) {
      byteswap_in_place(reinterpret_cast<T*>(out.data() + offset), x.size());
    }
  });
  return out;
}

namespace {

// What a .npy header says, checked: enough to allocate the array and read its data.
struct NpyLayout {
  Shape shape;
  DType dtype = DType::float64;
  bool swap = false;     // stored in the other byte order
  bool fortran = false;  // column-major
  std::size_t count = 0;
  std::size_t data_offset = 0;  // bytes of magic, version, length and header
  std::size_t data_bytes = 0;
};

// A header longer than this is refused unread: a float array's needs about a hundred bytes
// (NumPy itself reads at most 10,000 unless told otherwise).
constexpr std::size_t kMaxHeaderBytes = 65536;

// Reads and checks the header of a .npy of `size` bytes; read(buffer, n) returns the next n
// bytes in order (fewer only at the end).
template <class Read>
NpyLayout read_npy_header(Read&& read, std::size_t size, std::string_view what) {
  unsigned char preamble[12];
  if (read(preamble, 10) < 10 || std::memcmp(preamble, kMagic, 6) != 0) {
    fail<CheckpointError>("{}: not a .npy array: it does not start with the magic \\x93NUMPY", what);
  }
  const std::size_t major = preamble[6];
  std::size_t header_len = 0;
  NpyLayout layout;
  if (major == 1) {
    header_len = preamble[8] | std::size_t{preamble[9]} << 8;
    layout.data_offset = 10;
  } else if (major == 2 || major == 3) {
    if (read(preamble + 10, 2) < 2) fail<CheckpointError>("{}: truncated .npy header", what);
    header_len = preamble[8] | std::size_t{preamble[9]} << 8 | std::size_t{preamble[10]} << 16 |
                 std::size_t{preamble[11]} << 24;
    layout.data_offset = 12;
  } else {
    fail<CheckpointError>("{}: unsupported .npy format version {}.{}", what, major, preamble[7]);
  }
  if (size < layout.data_offset || header_len > size - layout.data_offset) {
    fail<CheckpointError>("{}: truncated .npy: the header declares {} bytes but only {} follow",
                          what, header_len, size - std::min(size, layout.data_offset));
  }
  if (header_len > kMaxHeaderBytes) {
    fail<CheckpointError>("{}: the .npy header declares {} bytes, more than the {} read for a "
                          "float array's",
                          what, header_len, kMaxHeaderBytes);
  }
  std::string text(header_len, '\0');
  if (read(text.data(), header_len) < header_len) fail<CheckpointError>("{}: truncated .npy header", what);
  layout.data_offset += header_len;
  const NpyHeader header = HeaderParser(text, what).parse();
  const std::string_view descr = header.descr;
  if (descr.size() != 3 || (descr[0] != '<' && descr[0] != '>' && descr[0] != '=') ||
      (descr.substr(1) != "f4" && descr.substr(1) != "f8" && descr.substr(1) != "i8")) {
    fail<CheckpointError>("{}: unsupported dtype '{}': only float32 ('<f4'), float64 ('<f8') "
                          "and int64 ('<i8') arrays can be loaded",
                          what, descr);
  }
  layout.shape = header.shape;
  layout.fortran = header.fortran_order;
  layout.dtype = descr.substr(1) == "f4" ? DType::float32 : descr.substr(1) == "f8" ? DType::float64 : DType::int64;
  const std::size_t item = layout.dtype == DType::float32 ? 4 : 8;
  layout.swap = (descr[0] == '>') != (std::endian::native == std::endian::big) && descr[0] != '=';
  layout.count = 1;
  for (std::size_t d : header.shape) {
    if (d != 0 && layout.count > std::numeric_limits<std::size_t>::max() / item / d) {
      fail<CheckpointError>("{}: shape {} is too large (its byte size overflows)", what,
                            to_string(header.shape));
    }
    layout.count *= d;
  }
  layout.data_bytes = layout.count * item;
  return layout;
}

// Allocates the array and reads its data (the header checked that they agree in size), in C
// order: a Fortran-ordered array is read as its transpose and transposed back.
template <class Read>
Tensor read_npy_data(Read&& read, const NpyLayout& layout, std::string_view what) {
  auto build = [&](auto zero) {
    using T = decltype(zero);
    const bool transposed = layout.fortran && layout.shape.size() > 1;
    Shape stored = layout.shape;
    if (transposed) std::reverse(stored.begin(), stored.end());
    auto a = xt::xarray<T>::from_shape(stored);
    if (layout.count > 0 && read(a.data(), layout.data_bytes) < layout.data_bytes) {
      fail<CheckpointError>("{}: truncated: shape {} needs {} bytes of data", what,
                            to_string(layout.shape), layout.data_bytes);
    }
    if (layout.swap) byteswap_in_place(a.data(), layout.count);
    if (!transposed) return Tensor(std::move(a));
    return Tensor(xt::xarray<T>(xt::transpose(a)));
  };
  switch (layout.dtype) {
    case DType::float32: return build(float{});
    case DType::float64: return build(double{});
    case DType::int64: break;
  }
  return build(std::int64_t{});
}

[[noreturn]] void fail_data_size(std::string_view what, const NpyLayout& layout,
                                 std::size_t available, std::string_view holder) {
  fail<CheckpointError>("{}: wrong data size: shape {} of {} needs {} bytes, the {} holds {}",
                        what, to_string(layout.shape), dtype_name(layout.dtype),
                        layout.data_bytes, holder, available);
}

}  // namespace

Tensor from_npy(std::string_view bytes, std::string_view what) {
  std::size_t position = 0;
  auto read = [&](void* buffer, std::size_t n) {
    const std::size_t take = std::min(n, bytes.size() - position);
    if (take > 0) std::memcpy(buffer, bytes.data() + position, take);
    position += take;
    return take;
  };
  const NpyLayout layout = read_npy_header(read, bytes.size(), what);
  if (bytes.size() - layout.data_offset != layout.data_bytes) {
    fail_data_size(what, layout, bytes.size() - layout.data_offset, "array");
  }
  return read_npy_data(read, layout, what);
}

// ---- .npz ----

void save_npz(const std::filesystem::path& path, const NamedTensors& tensors) {
  const std::string file = path.string();
  std::set<std::string> names;
  std::vector<std::string> buffers;  // libzip reads them at zip_close
  buffers.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    check_name("save_npz", name);
    if (!names.insert(name).second) fail<CheckpointError>("save_npz: {}: tensor name '{}' appears twice", file, name);
    buffers.push_back(to_npy(t));
  }
  // libzip's own messages for these ("Operation not supported", "No such file or directory")
  // do not say which part of the path is wrong.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    fail<CheckpointError>("save_npz: {}: is a directory; give the path of the .npz file to write",
                          file);
  }
  const std::filesystem::path parent = path.parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
    fail<CheckpointError>("save_npz: {}: cannot create it: the directory {} does not exist", file,
                          parent.string());
  }
  int code = 0;
  ZipHandle archive(zip_open(file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (!archive) fail<CheckpointError>("save_npz: {}: cannot create: {}", file, zip_message(code));
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const std::string member = tensors[i].first + ".npy";
    zip_source_t* source = zip_source_buffer(archive.get(), buffers[i].data(), buffers[i].size(), 0);
    if (!source) fail<CheckpointError>("save_npz: {}: {}", file, zip_strerror(archive.get()));
    const zip_int64_t index = zip_file_add(archive.get(), member.c_str(), source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      fail<CheckpointError>("save_npz: {}: cannot add '{}': {}", file, member, zip_strerror(archive.get()));
    }
    // Stored, as numpy.savez does: the members stay readable by every zip tool.
    zip_set_file_compression(archive.get(), static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  if (zip_close(archive.get()) != 0) {
    fail<CheckpointError>("save_npz: {}: cannot write: {}", file, zip_strerror(archive.get()));
  }
  archive.release();  // zip_close freed it
}

namespace {

// The name that appears twice in an archive libzip refused for it (ZIP_ER_EXISTS), found by
// opening it again without the consistency checks.
std::string duplicate_member(const std::string& file) {
  int code = 0;
  ZipHandle archive(zip_open(file.c_str(), ZIP_RDONLY, &code));
  if (!archive) return "?";
  std::set<std::string> seen;
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* name = zip_get_name(archive.get(), static_cast<zip_uint64_t>(i), 0);
    if (name && !seen.insert(name).second) return name;
  }
  return "?";
}

NamedTensors read_npz(const std::string& file, std::size_t max_bytes) {
  int code = 0;
  ZipHandle archive(zip_open(file.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!archive && code == ZIP_ER_EXISTS) {
    fail<CheckpointError>("load_npz: {}: member '{}' appears twice in the archive", file,
                          duplicate_member(file));
  }
  if (!archive) {
    fail<CheckpointError>("load_npz: {}: not a readable .npz (zip) archive: {}", file, zip_message(code));
  }
  std::error_code ec;
  const std::uint64_t file_size = std::filesystem::file_size(file, ec);
  const zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  NamedTensors out;
  std::set<std::string> names;
  std::size_t loaded_bytes = 0;
  for (zip_int64_t i = 0; i < entries; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t stat;
    zip_stat_init(&stat);
    constexpr zip_uint64_t needed = ZIP_STAT_NAME | ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD;
    if (zip_stat_index(archive.get(), index, 0, &stat) != 0 || (stat.valid & needed) != needed) {
      fail<CheckpointError>("load_npz: {}: member {}: {}", file, i, zip_strerror(archive.get()));
    }
    const std::string member = stat.name;
    if (member.size() <= 4 || member.substr(member.size() - 4) != ".npy") {
      fail<CheckpointError>("load_npz: {}: member '{}' is not a .npy array", file, member);
    }
    const std::string name = member.substr(0, member.size() - 4);
    if (!names.insert(name).second) fail<CheckpointError>("load_npz: {}: member '{}' appears twice", file, member);
    const std::string what = fmt::format("{}: member '{}'", file, member);
    // The sizes in the archive's directory are claims too: a stored member holds what it
    // occupies, a deflated one at most 1032 times that, and no member occupies more than the file.
    constexpr zip_uint64_t kMaxDeflateRatio = 1032;
    const bool stored = stat.comp_method == ZIP_CM_STORE;
    if (stat.comp_size > file_size ||
        (stored ? stat.size != stat.comp_size
                : (stat.comp_size < std::numeric_limits<zip_uint64_t>::max() / kMaxDeflateRatio &&
                   stat.size > stat.comp_size * kMaxDeflateRatio))) {
      fail<CheckpointError>("load_npz: {}: member '{}' claims {} bytes from {} {}, which the "
                            "archive of {} bytes cannot hold",
                            file, member, stat.size, stat.comp_size,
                            stored ? "stored" : "compressed", file_size);
    }
    std::unique_ptr<zip_file_t, ZipFileCloser> in(zip_fopen_index(archive.get(), index, 0));
    if (!in) fail<CheckpointError>("load_npz: {}: cannot open member '{}': {}", file, member, zip_strerror(archive.get()));
    auto read = [&](void* buffer, std::size_t n) {
      std::size_t total = 0;
      while (total < n) {
        const zip_int64_t got = zip_fread(in.get(), static_cast<char*>(buffer) + total, n - total);
        if (got < 0) {
          fail<CheckpointError>("load_npz: {}: member '{}' is corrupt: {}", file, member,
                                zip_file_strerror(in.get()));
        }
        if (got == 0) break;
        total += static_cast<std::size_t>(got);
      }
      return total;
    };
    // The header first: the data it declares must be what the member holds, and within the
    // limit, before the array is allocated and the rest streamed into it.
    const NpyLayout layout = read_npy_header(read, stat.size, what);
    if (stat.size - layout.data_offset != layout.data_bytes) {
      fail_data_size(what, layout, stat.size - layout.data_offset, "array");
    }
    if (layout.data_bytes > max_bytes - loaded_bytes) {
      fail<CheckpointError>("load_npz: {}: member '{}' of shape {} takes {} bytes, which with the "
                            "{} of the members before it is more than max_bytes = {} (the limit "
                            "on what a loader allocates for an untrusted file; pass a larger "
                            "max_bytes to read it)",
                            file, member, to_string(layout.shape), layout.data_bytes,
                            loaded_bytes, max_bytes);
    }
    Tensor t = read_npy_data(read, layout, what);
    // Read to the end, so that libzip checks the CRC.
    char extra;
    if (read(&extra, 1) != 0) {
      fail<CheckpointError>("load_npz: {}: member '{}' holds more than its declared {} bytes", file,
                            member, stat.size);
    }
    loaded_bytes += layout.data_bytes;
    out.emplace_back(name, std::move(t));
  }
  return out;
}

}  // namespace

NamedTensors load_npz(const std::filesystem::path& path, std::size_t max_bytes) {
  const std::string file = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    fail<CheckpointError>("load_npz: {}: is a directory, not an .npz file", file);
  }
  if (!std::filesystem::is_regular_file(path, ec)) {
    fail<CheckpointError>("load_npz: {}: no such file", file);
  }
  try {
    return read_npz(file, max_bytes);
  } catch (const std::bad_alloc&) {
    fail<CheckpointError>("load_npz: {}: out of memory while reading it", file);
  }
}

// ---- state dicts and checkpoints ----

namespace {

// Checks everything load_state_dict would copy, and returns the source tensor for each
// parameter in order.
std::vector<Tensor> match_state(const NamedTensors& parameters, const NamedTensors& state,
                                bool strict, const std::string& source) {
  std::map<std::string, Tensor> by_name;
  for (const auto& [name, t] : state) {
    if (!by_name.emplace(name, t).second) {
      fail<CheckpointError>("load_state_dict: {}: entry '{}' appears twice", source, name);
    }
  }
  std::vector<Tensor> matched;
  std::set<std::string> used;
  for (const auto& [name, p] : parameters) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      fail<CheckpointError>("load_state_dict: {}: missing parameter '{}' (shape {} in the module)",
                            source, name, to_string(p.shape()));
    }
    const Tensor& t = it->second;
    if (!t.defined()) fail<CheckpointError>("load_state_dict: {}: parameter '{}' is undefined", source, name);
    if (t.shape() != p.shape()) {
      fail<CheckpointError>("load_state_dict: {}: parameter '{}' has shape {} in the module but {} "
                            "in the state",
                            source, name, to_string(p.shape()), to_string(t.shape()));
    }
    if (t.dtype() != p.dtype()) {
      fail<CheckpointError>("load_state_dict: {}: parameter '{}' is {} in the module but {} in the "
                            "state",
                            source, name, dtype_name(p.dtype()), dtype_name(t.dtype()));
    }
    used.insert(name);
    matched.push_back(t);
  }
  if (strict) {
    for (const auto& [name, t] : state) {
      if (!used.count(name)) {
        fail<CheckpointError>("load_state_dict: {}: unexpected parameter '{}' (shape {}): the module "
                              "has no parameter of that name",
                              source, name, to_string(t.shape()));
      }
    }
  }
  return matched;
}

void copy_into(const NamedTensors& parameters, const std::vector<Tensor>& values) {
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    Tensor p = parameters[i].second;
    p.copy_(values[i]);
  }
}

constexpr std::string_view kModel = "model/", kOptimizer = "optimizer/", kExtra = "extra/";

}  // namespace

void load_state_dict(const NamedTensors& parameters, const NamedTensors& state, bool strict,
                     const std::string& source) {
  copy_into(parameters, match_state(parameters, state, strict, source));
}

void save_checkpoint(const std::filesystem::path& path, const NamedTensors& parameters,
                     const optim::Optimizer* optimizer, const NamedTensors& extra) {
  NamedTensors all;
  for (const auto& [name, t] : parameters) all.emplace_back(std::string(kModel) + name, t);
  if (optimizer) {
    for (const auto& [name, t] : optimizer->state_dict()) all.emplace_back(std::string(kOptimizer) + name, t);
  }
  for (const auto& [name, t] : extra) all.emplace_back(std::string(kExtra) + name, t);
  save_npz(path, all);
}

Checkpoint read_checkpoint(const std::filesystem::path& path, std::size_t max_bytes) {
  Checkpoint out;
  for (auto& entry : load_npz(path, max_bytes)) {  // not a structured binding: clang 14 lambdas
    const std::string& name = entry.first;
    Tensor& t = entry.second;
    auto strip = [&](std::string_view prefix) { return name.substr(prefix.size()); };
    if (name.starts_with(kModel)) {
      out.model.emplace_back(strip(kModel), std::move(t));
    } else if (name.starts_with(kOptimizer)) {
      out.optimizer.emplace_back(strip(kOptimizer), std::move(t));
    } else if (name.starts_with(kExtra)) {
      out.extra.emplace_back(strip(kExtra), std::move(t));
    } else {
      fail<CheckpointError>("read_checkpoint: {}: unexpected member '{}.npy' (expected model/, "
                            "optimizer/ or extra/ entries)",
                            path.string(), name);
    }
  }
  return out;
}

NamedTensors load_checkpoint(const std::filesystem::path& path, const NamedTensors& parameters,
                             optim::Optimizer* optimizer, std::size_t max_bytes) {
  Checkpoint checkpoint = read_checkpoint(path, max_bytes);
  const std::string source = path.string();
  // Check the model first, then let the optimiser check and load, then copy the model: a
  // failure anywhere leaves both untouched.
  const std::vector<Tensor> values = match_state(parameters, checkpoint.model, true, source);
  if (optimizer) {
    if (checkpoint.optimizer.empty()) {
      fail<CheckpointError>("load_checkpoint: {}: the checkpoint holds no optimizer state", source);
    }
    optimizer->load_state_dict(checkpoint.optimizer, source);
  }
  copy_into(parameters, values);
  return std::move(checkpoint.extra);
}

}  // namespace matgrad::nn
