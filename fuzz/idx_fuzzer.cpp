// The IDX reader on arbitrary bytes, plain or gzip-compressed (the first byte picks which):
// it must return a well-formed array or raise a matgrad::Error, never crash or over-read.
#include <matgrad/nn.hpp>

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

std::string scratch_path(const char* suffix) {
  return "/tmp/matgrad-idx-fuzz-" + std::to_string(getpid()) + suffix;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool compress = data[0] & 1;
  const std::string path = scratch_path(compress ? ".gz" : ".idx");
  if (compress) {
    gzFile out = gzopen(path.c_str(), "wb");
    if (size > 1) gzwrite(out, data + 1, static_cast<unsigned>(size - 1));
    gzclose(out);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data + 1),
                                                static_cast<std::streamsize>(size - 1));
  }
  try {
    const auto array = matgrad::data::read_idx(path);
    std::size_t n = 1;
    for (auto d : array.shape) n *= d;
    if (n != array.data.size()) __builtin_trap();  // the header and the data must agree
  } catch (const matgrad::Error&) {
  }
  unlink(path.c_str());
  return 0;
}
