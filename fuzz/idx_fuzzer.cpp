// The IDX readers on arbitrary bytes: they must return a well-formed result within the memory
// limit or raise a matgrad::Error, never crash, over-read or allocate past the limit.
// The first byte picks how the rest becomes files and which max_bytes applies:
//   bits 0-1  0 plain; 1 gzip; 2 gzip, then raw trailing bytes (zero padding or garbage);
//             3 gzip in two members
//   bits 2-4  max_bytes: the default, or 0, 1, 64, 4096, 65536, 1 MiB, SIZE_MAX
//   bit 5     read_idx_dataset instead of read_idx: images and labels split the bytes
// The second byte (when present) says where to split.
#include <matgrad/nn.hpp>

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

std::string scratch_path(const char* suffix) {
  return "/tmp/matgrad-idx-fuzz-" + std::to_string(getpid()) + suffix;
}

void append_gz(const std::string& path, std::string_view bytes) {
  gzFile out = gzopen(path.c_str(), "ab");
  if (!bytes.empty()) gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(out);
}

void append_raw(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::app)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Writes `bytes` to a fresh file in the given mode; `split` picks the member boundary or the
// start of the trailing bytes.
std::string write(const char* suffix, int mode, std::string_view bytes, std::size_t split) {
  const std::string path = scratch_path(suffix);
  unlink(path.c_str());
  split = bytes.empty() ? 0 : split % (bytes.size() + 1);
  switch (mode) {
    case 0: append_raw(path, bytes); break;
    case 1: append_gz(path, bytes); break;
    case 2:
      append_gz(path, bytes.substr(0, split));
      append_raw(path, bytes.substr(split));
      break;
    default:
      append_gz(path, bytes.substr(0, split));
      append_gz(path, bytes.substr(split));
  }
  return path;
}

constexpr std::size_t kLimits[8] = {matgrad::default_max_load_bytes, 0, 1, 64, 4096, 65536,
                                    std::size_t{1} << 20, std::numeric_limits<std::size_t>::max()};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const int mode = data[0] & 3;
  const std::size_t max_bytes = kLimits[(data[0] >> 2) & 7];
  const bool dataset = data[0] & 32;
  const std::size_t split = data[1];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);
  try {
    if (!dataset) {
      const std::string path = write(".idx", mode, bytes, split);
      const auto array = matgrad::data::read_idx(path, max_bytes);
      std::size_t n = 1;
      for (auto d : array.shape) n *= d;
      if (n != array.data.size()) __builtin_trap();     // the header and the data agree
      if (array.data.size() > max_bytes) __builtin_trap();  // within the limit
    } else {
      // Images and labels each get part of the bytes, in the same mode.
      const std::size_t cut = bytes.empty() ? 0 : (split * 7) % (bytes.size() + 1);
      const std::string images = write(".img", mode, bytes.substr(0, cut), split);
      const std::string labels = write(".lab", mode, bytes.substr(cut), split);
      const auto set = matgrad::data::read_idx_dataset(images, labels, 10, max_bytes);
      if (set.inputs.shape().size() != 3 || set.inputs.size(0) != set.size()) __builtin_trap();
      if (set.inputs.numel() * sizeof(float) + set.size() * sizeof(std::size_t) > max_bytes) {
        __builtin_trap();
      }
      for (std::size_t label : set.targets) {
        if (label >= 10) __builtin_trap();
      }
    }
  } catch (const matgrad::Error&) {
  }
  for (const char* suffix : {".idx", ".img", ".lab"}) unlink(scratch_path(suffix).c_str());
  return 0;
}
