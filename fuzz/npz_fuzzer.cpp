// The checkpoint reader (.npz: a zip of .npy members) and the .npy parser on arbitrary bytes:
// a well-formed result within the memory limit or a matgrad::Error, never a crash, an
// over-read or an allocation past the limit.
// The first byte picks how the rest becomes an archive and which max_bytes applies:
//   bits 0-1  0 the bytes are the .npz file; 1 they are one stored member; 2 one deflated
//             member (small bytes that expand, such as long runs of zeros); 3 two stored
//             members, the first of 4 × (the second byte) bytes, from the bytes after it
//   bits 2-4  max_bytes: the default, or 0, 8, 64, 4096, 65536, 1 MiB, SIZE_MAX
// Every mode also parses the bytes with from_npy.
#include <matgrad/nn.hpp>

#include <zip.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

constexpr std::size_t kLimits[8] = {matgrad::default_max_load_bytes, 0, 8, 64, 4096, 65536,
                                    std::size_t{1} << 20, std::numeric_limits<std::size_t>::max()};

std::size_t bytes_of(const matgrad::Tensor& t) {
  return t.numel() * (t.dtype() == matgrad::DType::float32 ? 4 : 8);
}

// An archive of the given members, as libzip writes it (false when libzip refuses).
bool write_archive(const std::string& path, std::string_view first, std::string_view second,
                   bool two, bool deflate) {
  int code = 0;
  zip_t* archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!archive) return false;
  auto add = [&](const char* name, std::string_view bytes) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    if (!source) return;
    const zip_int64_t index = zip_file_add(archive, name, source, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(source);
      return;
    }
    zip_set_file_compression(archive, static_cast<zip_uint64_t>(index),
                             deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
  };
  add("model/a.npy", first);
  if (two) add("model/b.npy", second);
  if (zip_close(archive) != 0) {
    zip_discard(archive);
    return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const int mode = data[0] & 3;
  const std::size_t max_bytes = kLimits[(data[0] >> 2) & 7];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    const matgrad::Tensor t = matgrad::nn::from_npy(bytes);
    if (bytes_of(t) > bytes.size()) __builtin_trap();
  } catch (const matgrad::Error&) {
  }
  const std::string path = "/tmp/matgrad-npz-fuzz-" + std::to_string(getpid()) + ".npz";
  bool written = true;
  if (mode == 0) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  } else {
    if (mode == 3 && !bytes.empty()) {
      const std::string_view rest = bytes.substr(1);
      const std::size_t split = std::min<std::size_t>(4 * static_cast<unsigned char>(bytes[0]), rest.size());
      written = write_archive(path, rest.substr(0, split), rest.substr(split), true, false);
    } else {
      written = write_archive(path, bytes, {}, false, mode == 2);
    }
  }
  if (written) {
    try {
      std::size_t total = 0;
      for (const auto& [name, tensor] : matgrad::nn::load_npz(path, max_bytes)) total += bytes_of(tensor);
      if (total > max_bytes) __builtin_trap();
    } catch (const matgrad::Error&) {
    }
  }
  unlink(path.c_str());
  return 0;
}
