// A minimal IDX reader (gzip or plain, through zlib) for the hand-coded and libtorch epoch
// benchmarks, which do not link matgrad: the bytes of the file, then the caller converts them
// into its own buffer, as matgrad's data::read_idx_dataset does.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace bench {

struct RawIdx {
  std::vector<std::size_t> shape;
  std::vector<std::uint8_t> data;
};

inline RawIdx read_idx_raw(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    std::exit(2);
  }
  auto read = [&](void* p, std::size_t n) {
    if (gzread(f, p, static_cast<unsigned>(n)) != static_cast<int>(n)) {
      std::fprintf(stderr, "%s: truncated\n", path.c_str());
      std::exit(2);
    }
  };
  unsigned char magic[4];
  read(magic, 4);
  RawIdx out;
  std::size_t count = 1;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    read(b, 4);
    out.shape.push_back((std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16) |
                        (std::size_t{b[2]} << 8) | std::size_t{b[3]});
    count *= out.shape.back();
  }
  out.data.resize(count);
  read(out.data.data(), count);
  gzclose(f);
  return out;
}

// "<dir>/<stem>.gz", or the plain file when only that exists.
inline std::string fashion_file(const std::string& dir, const std::string& stem) {
  const std::string gz = dir + "/" + stem + ".gz";
  return std::filesystem::exists(gz) ? gz : dir + "/" + stem;
}

}  // namespace bench
