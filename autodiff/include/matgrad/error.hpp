// Exceptions raised by matgrad. Every message names the op and the shapes, dtypes or values at
// fault, e.g. "matmul: inner dimensions differ: [3, 4] @ [5, 2]".
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace matgrad {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Shapes that do not fit the op (mismatch, broadcasting failure, bad reshape, rank).
struct ShapeError : Error {
  using Error::Error;
};
// Mixed or unsupported dtypes.
struct DTypeError : Error {
  using Error::Error;
};
// An index or dimension out of range.
struct IndexError : Error {
  using Error::Error;
};
// A value outside an op's domain (a singular matrix, a negative size, a float32 gradcheck).
struct ValueError : Error {
  using Error::Error;
};
// Misuse of the autograd machinery (backward without a seed, released graph, ...).
struct AutogradError : Error {
  using Error::Error;
};

template <class E = Error, class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw E(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace matgrad
