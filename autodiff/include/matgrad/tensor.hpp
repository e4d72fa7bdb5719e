// matgrad::Tensor: a cheap-to-copy handle to an n-dimensional float32 or float64 array that can
// record the ops applied to it on the autograd tape.
#pragma once

#include "matgrad/call_site.hpp"
#include "matgrad/error.hpp"

#include <fmt/format.h>
#include <xtensor/xarray.hpp>

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace matgrad {

enum class DType { float32, float64 };
std::string_view dtype_name(DType dtype);
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::float32; }
template <>
constexpr DType dtype_of<double>() { return DType::float64; }

using Shape = xt::dynamic_shape<std::size_t>;
std::string to_string(const Shape& shape);  // "[3, 4]"

// A shape argument that also accepts one -1 ("infer this dimension"), as in reshape({2, -1}).
class ShapeArg {
 public:
  ShapeArg(std::initializer_list<std::ptrdiff_t> dims) : dims_(dims) {}
  ShapeArg(const Shape& shape) : dims_(shape.begin(), shape.end()) {}
  // Resolves -1 against numel; `op` names the caller in error messages.
  Shape resolve(std::string_view op, std::size_t numel) const;

 private:
  std::vector<std::ptrdiff_t> dims_;
};

struct TensorOptions {
  DType dtype = DType::float32;
  bool requires_grad = false;
};

// Seeded source of randomness for randn/rand and initialisers; nothing in matgrad draws from
// a hidden global generator.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

namespace detail {
struct TensorImpl;
struct Node;
}  // namespace detail

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false
  explicit Tensor(xt::xarray<float> data, bool requires_grad = false);
  explicit Tensor(xt::xarray<double> data, bool requires_grad = false);
  explicit Tensor(std::shared_ptr<detail::TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  DType dtype() const;
  const Shape& shape() const;
  std::size_t dim() const { return shape().size(); }
  std::size_t size(std::ptrdiff_t dim) const;  // negative dims count from the end
  std::size_t numel() const;
  double item() const;  // the value of a one-element tensor

  // Read access to the underlying array; T must match dtype().
  template <class T>
  const xt::xarray<T>& data() const;
  // Write access for in-place updates outside autograd (initialisers, optimisers). Bumps the
  // version counter.
  template <class T>
  xt::xarray<T>& mutable_data();
  // Calls f with the underlying xt::xarray<float> or xt::xarray<double>.
  template <class F>
  decltype(auto) visit(F&& f) const;

  // Differentiable; returns *this when the dtype already matches.
  Tensor to(DType dtype, const SourceLocation& caller = SourceLocation::current()) const;
  // A copy of the data, differentiable.
  Tensor clone(const SourceLocation& caller = SourceLocation::current()) const;

  // Autograd
  bool requires_grad() const;
  Tensor& requires_grad_(bool requires_grad = true);  // leaves only
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward pass reaches this tensor
  void zero_grad();     // drops the gradient (PyTorch's set_to_none behaviour)
  void retain_grad();   // keep grad() for a non-leaf tensor too
  void backward(const Tensor& seed = {}, bool retain_graph = false, bool create_graph = false) const;
  Tensor detach() const;  // a copy of the data, without history; requires_grad() false
  std::uint64_t version() const;  // bumped by every in-place change

  // In-place updates, outside the graph (refused on a leaf that requires grad while grad mode
  // is on, as in PyTorch). `other` broadcasts to this tensor's shape.
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double factor);
  Tensor& copy_(const Tensor& other);
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }

  // Methods mirroring the free functions, for chaining.
  Tensor t(const SourceLocation& caller = SourceLocation::current()) const;
  Tensor reshape(const ShapeArg& shape,
                 const SourceLocation& caller = SourceLocation::current()) const;
  Tensor sum(const SourceLocation& caller = SourceLocation::current()) const;
  Tensor mean(const SourceLocation& caller = SourceLocation::current()) const;

  const std::shared_ptr<detail::TensorImpl>& impl() const { return impl_; }

 private:
  // Inline (called several times per op): the error path is out of line.
  void check_defined(std::string_view what) const {
    if (!impl_) [[unlikely]] fail_undefined(what);
  }
  [[noreturn]] static void fail_undefined(std::string_view what);
  std::shared_ptr<detail::TensorImpl> impl_;
};

namespace detail {
using Data = std::variant<xt::xarray<float>, xt::xarray<double>>;

struct TensorImpl {
  TensorImpl() = default;
  // Takes the array over; constructing `data` in place (rather than assigning to a default
  // one, whose 0-d array would allocate its one element first) saves an allocation per tensor.
  template <class T>
  explicit TensorImpl(xt::xarray<T>&& array) : data(std::in_place_type<xt::xarray<T>>, std::move(array)) {}
  explicit TensorImpl(const Data& array) : data(array) {}
  // An array of `shape` with uninitialised elements, built in place (detail::empty_tensor).
  template <class T>
  TensorImpl(std::in_place_type_t<xt::xarray<T>> type, const Shape& shape) : data(type, shape) {}

  // The fields the engine reads of every input and output come first, on the cache line of
  // the shared count that make_shared puts just before the object.
  std::uint64_t version = 0;
  // The graph fields. A non-leaf belongs to the record that produced it (`node`, null for
  // leaves): the record owns this object, and a Tensor handle to it shares the record's
  // reference count, so holding the tensor holds its whole history.
  Node* node = nullptr;
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  Data data;
  // Forward mode (forward.cpp): the tangent and the dual level it belongs to, null until a
  // dual level gives this tensor a tangent (one pointer per tensor outside forward mode). A
  // tangent of a level that has ended counts as none (and is dropped when the level ends).
  struct TangentSlot {
    Tensor value;
    std::uint64_t level = 0;
  };
  std::unique_ptr<TangentSlot> tangent;
};
}  // namespace detail

inline DType Tensor::dtype() const {
  check_defined("dtype");
  return impl_->data.index() == 0 ? DType::float32 : DType::float64;
}

inline const Shape& Tensor::shape() const {
  check_defined("shape");
  if (const auto* f = std::get_if<xt::xarray<float>>(&impl_->data)) return f->shape();
  return std::get<xt::xarray<double>>(impl_->data).shape();
}

inline std::size_t Tensor::numel() const {
  check_defined("numel");
  if (const auto* f = std::get_if<xt::xarray<float>>(&impl_->data)) return f->size();
  return std::get<xt::xarray<double>>(impl_->data).size();
}

template <class T>
const xt::xarray<T>& Tensor::data() const {
  check_defined("data");
  if (const auto* array = std::get_if<xt::xarray<T>>(&impl_->data)) return *array;
  fail<DTypeError>("data: the tensor holds {}, not {}", dtype_name(dtype()),
                   dtype_name(dtype_of<T>()));
}

template <class T>
xt::xarray<T>& Tensor::mutable_data() {
  const auto& array = data<T>();
  ++impl_->version;
  return const_cast<xt::xarray<T>&>(array);
}

template <class F>
decltype(auto) Tensor::visit(F&& f) const {
  check_defined("visit");
  return std::visit(std::forward<F>(f), std::as_const(impl_->data));
}

// Values for tensor(): a number, or a braced list of them nested to any depth. {2.0} is a
// 1-D tensor of one element and {{1}, {0}} a 2×1 matrix, as in libtorch's torch::tensor.
class NestedList {
 public:
  NestedList(double value) : value_(value), is_scalar_(true) {}  // NOLINT: implicit by design
  NestedList(std::initializer_list<NestedList> items) : items_(items) {}

  Shape shape() const;  // throws ShapeError for ragged lists
  void flatten_into(std::vector<double>& out) const;

 private:
  double value_ = 0;
  bool is_scalar_ = false;
  std::vector<NestedList> items_;
};

// Factories. tensor({{1, 2}, {3, 4}}) is a 2×2 float32 matrix; tensor(2.0) is 0-d.
Tensor tensor(const NestedList& values, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, double value);
Tensor scalar_like(const Tensor& like, double value);  // 0-d, like's dtype
Tensor randn(const Shape& shape, Generator& generator, TensorOptions options = {});  // N(0, 1)
Tensor rand(const Shape& shape, Generator& generator, TensorOptions options = {});   // U[0, 1)
Tensor eye(std::size_t n, TensorOptions options = {});
Tensor eye(std::size_t rows, std::size_t cols, TensorOptions options = {});
Tensor arange(double end, TensorOptions options = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});

// Printing, PyTorch style: tensor([[1.0000, 2.0000], ...], dtype=float64, requires_grad=true)
std::string to_string(const Tensor& tensor);
std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

}  // namespace matgrad

template <>
struct fmt::formatter<matgrad::Tensor> : fmt::formatter<std::string_view> {
  template <class Context>
  auto format(const matgrad::Tensor& tensor, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(matgrad::to_string(tensor), ctx);
  }
};
