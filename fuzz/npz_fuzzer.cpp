// The checkpoint reader (.npz: a zip of .npy members) and the .npy parser on arbitrary bytes:
// a well-formed result or a matgrad::Error, never a crash or an over-read.
#include <matgrad/nn.hpp>

#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    const matgrad::Tensor t = matgrad::nn::from_npy(bytes);
    if (t.numel() * (t.dtype() == matgrad::DType::float32 ? 4 : 8) > size) __builtin_trap();
  } catch (const matgrad::Error&) {
  }
  const std::string path = "/tmp/matgrad-npz-fuzz-" + std::to_string(getpid()) + ".npz";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
  try {
    matgrad::nn::load_npz(path);
  } catch (const matgrad::Error&) {
  }
  unlink(path.c_str());
  return 0;
}
