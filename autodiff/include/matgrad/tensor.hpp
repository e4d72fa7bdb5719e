// matgrad::Tensor: a cheap-to-copy handle to an n-dimensional float32, float64 or int64 array
// that can record the ops applied to it on the autograd tape.
//
// int64 (torch's `long`) holds indices and class labels: the results of argmax and max's
// indices, the index of gather/scatter/index_select, the targets of cross_entropy. It is never
// differentiable (requires_grad_(true) on it is an AutogradError). Where torch would promote an
// int64 operand of a floating-point op to float, matgrad refuses with a DTypeError naming the op
// and both dtypes (as it refuses float32 with float64): convert with .to(DType::float32).
#pragma once

#include "matgrad/call_site.hpp"
#include "matgrad/error.hpp"
#include "matgrad/hooks.hpp"
#include "matgrad/storage.hpp"

#include <fmt/format.h>
#include <xtensor/xarray.hpp>

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace matgrad {

enum class DType { float32, float64, int64 };
std::string_view dtype_name(DType dtype);
constexpr bool is_floating_point(DType dtype) { return dtype != DType::int64; }
template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::float32; }
template <>
constexpr DType dtype_of<double>() { return DType::float64; }
template <>
constexpr DType dtype_of<std::int64_t>() { return DType::int64; }

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
struct HookList;
}  // namespace detail

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor: defined() is false
  // Takes the array's elements over (no copy).
  explicit Tensor(xt::xarray<float> data, bool requires_grad = false);
  explicit Tensor(xt::xarray<double> data, bool requires_grad = false);
  explicit Tensor(Array<float> data, bool requires_grad = false);
  explicit Tensor(Array<double> data, bool requires_grad = false);
  explicit Tensor(xt::xarray<std::int64_t> data);  // int64: never requires grad
  explicit Tensor(Array<std::int64_t> data);
  explicit Tensor(std::shared_ptr<detail::TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  DType dtype() const;
  const Shape& shape() const;
  std::size_t dim() const { return shape().size(); }
  std::size_t size(std::ptrdiff_t dim) const;  // negative dims count from the end
  std::size_t numel() const;
  double item() const;  // the value of a one-element tensor
  // The value as T (item<std::int64_t>() is exact for every int64, where item() rounds past 2^53).
  template <class T>
  T item() const;

  // Read access to the elements: an xtensor adaptor over the storage this tensor shares with
  // its views (matgrad::Array, storage.hpp); T must match dtype().
  template <class T>
  const Array<T>& data() const;
  // Write access for in-place updates outside autograd (initialisers, optimisers): writes are
  // seen by every view. Bumps the version counter the views share.
  template <class T>
  Array<T>& mutable_data();
  // Calls f with the const Array<float> or Array<double>; an int64 tensor raises a DTypeError
  // (ops check their inputs' dtypes first, to name themselves in that error).
  template <class F>
  decltype(auto) visit(F&& f) const;
  // Calls f with the const Array<float>, Array<double> or Array<std::int64_t>.
  template <class F>
  decltype(auto) visit_any_dtype(F&& f) const;

  // Differentiable between float32 and float64; returns *this when the dtype already matches.
  // To int64 truncates toward zero, as torch (NaN and values outside int64 raise a ValueError,
  // where torch's result is undefined); from int64 rounds to nearest. Neither is differentiable:
  // the result never requires grad.
  Tensor to(DType dtype, const SourceLocation& caller = SourceLocation::current()) const;
  // A copy of the data, differentiable.
  Tensor clone(const SourceLocation& caller = SourceLocation::current()) const;

  // Autograd
  bool requires_grad() const;
  Tensor& requires_grad_(bool requires_grad = true);  // leaves only
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward pass reaches this tensor
  // Replaces the gradient of a leaf (Python's x.grad = g): same shape and dtype, or undefined.
  void set_grad(const Tensor& grad);
  void zero_grad();     // drops the gradient (PyTorch's set_to_none behaviour)
  void retain_grad();   // keep grad() for a non-leaf tensor too
  // A name for explain() and the graph views (<matgrad/explain.hpp>): "W1", "Z1". Call it where
  // the tensor is made, `Tensor z1 = (matmul(w1, x) + b1).set_name("Z1");`, so that explain's
  // finite-difference checks, which re-run the program, can find the tensor again by its name.
  Tensor& set_name(std::string_view name);
  std::string_view name() const;  // empty when unnamed
  // With create_graph, a leaf's .grad is recorded, and its records hold the leaf: a reference
  // cycle, as in PyTorch, that keeps both alive until the leaf's .grad is reset (zero_grad).
  // grad() returns the gradients instead and makes no cycle.
  void backward(const Tensor& seed = {}, bool retain_graph = false, bool create_graph = false) const;
  // The same elements without history (PyTorch's detach): shares this tensor's storage and
  // version counter, so in-place changes through either are seen by both. For a copy without
  // history: detach().clone().
  Tensor detach() const;
  std::uint64_t version() const;  // bumped by every in-place change, shared with the views

  // Gradient hooks; matgrad/hooks.hpp states when they run. register_hook also takes a
  // callable returning void (it only looks); the post-accumulate hook is for leaves only.
  RemovableHandle register_hook(GradHook hook) const;
  template <class F>
    requires std::is_void_v<std::invoke_result_t<F&, const Tensor&>>
  RemovableHandle register_hook(F hook) const {
    return register_hook(GradHook([hook = std::move(hook)](const Tensor& g) mutable {
      hook(g);
      return Tensor();
    }));
  }
  RemovableHandle register_post_accumulate_grad_hook(PostAccumulateGradHook hook) const;

  // In-place updates, outside the graph (refused on a leaf that requires grad while grad mode
  // is on, as in PyTorch). `other` broadcasts to this tensor's shape.
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double factor);
  Tensor& copy_(const Tensor& other);
  Tensor& fill_(double value);
  Tensor& zero_();

  // Methods mirroring the free functions, for chaining.
  Tensor t(const SourceLocation& caller = SourceLocation::current()) const;
  Tensor reshape(const ShapeArg& shape,
                 const SourceLocation& caller = SourceLocation::current()) const;
  Tensor view(const ShapeArg& shape, const SourceLocation& caller = SourceLocation::current()) const;
  Tensor view_as(const Tensor& other,
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
  [[noreturn]] static void fail_int64(std::string_view what);
  Tensor& fill_in_place(std::string_view op, double value);  // fill_ and zero_
  std::shared_ptr<detail::TensorImpl> impl_;
};

namespace detail {
using Data = std::variant<Array<float>, Array<double>, Array<std::int64_t>>;

struct TensorImpl {
  // Takes the array (and its storage) over.
  template <class T>
  explicit TensorImpl(Array<T>&& array) : data(std::in_place_type<Array<T>>, std::move(array)) {
    attach();
  }
  // Takes an xt::xarray's elements over, without copying them.
  template <class T>
  explicit TensorImpl(xt::xarray<T>&& array)
      : data(std::in_place_type<Array<T>>, SharedBuffer<T>(std::move(array.storage())), array.shape()) {
    attach();
  }
  // An array of `shape` with uninitialised elements in a fresh storage (detail::empty_tensor).
  template <class T>
  TensorImpl(std::in_place_type_t<T>, const Shape& shape)
      : data(std::in_place_type<Array<T>>, SharedBuffer<T>(xt::compute_size(shape)), shape) {
    attach();
  }
  // A view: base's storage (its elements from `offset` on, and its version counter) under
  // `shape`, which fits in what base holds from offset on.
  struct ViewOf {};
  TensorImpl(ViewOf, const TensorImpl& base, const Shape& shape, std::size_t offset = 0)
      : data(std::visit(
            [&](const auto& x) -> Data {
              using A = std::decay_t<decltype(x)>;
              using Buffer = typename A::storage_type;
              return Data(std::in_place_type<A>,
                          Buffer(Buffer::share, x.storage(), offset, xt::compute_size(shape)), shape);
            },
            base.data)) {
    attach();
  }
  // Not copyable: `storage` points into the block `data` holds (a copied Array copies the
  // elements into a block of its own).
  TensorImpl(const TensorImpl&) = delete;
  TensorImpl& operator=(const TensorImpl&) = delete;

  std::uint64_t version() const { return storage->version; }
  void bump_version() { ++storage->version; }
  // Whether a view (or anything else) holds this tensor's storage too: then writing it in place
  // would change what they see.
  bool storage_shared() const { return storage->refs.load(std::memory_order_acquire) > 1; }

  // The fields the engine reads of every input and output come first, on the cache line of
  // the shared count that make_shared puts just before the object.
  Storage* storage = nullptr;  // the block `data` adapts (owned through `data`): the version
  // The graph fields. A non-leaf belongs to the record that produced it (`node`, null for
  // leaves): the record owns this object, and a Tensor handle to it shares the record's
  // reference count, so holding the tensor holds its whole history.
  Node* node = nullptr;
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  Data data;
  std::shared_ptr<HookList> hooks;  // register_hook's and, on a leaf, the post-accumulate ones
  // Forward mode (forward.cpp): the tangent and the dual level it belongs to, null until a
  // dual level gives this tensor a tangent (one pointer per tensor outside forward mode). A
  // tangent of a level that has ended counts as none (and is dropped when the level ends).
  struct TangentSlot {
    Tensor value;
    std::uint64_t level = 0;
  };
  std::unique_ptr<TangentSlot> tangent;
  std::unique_ptr<std::string> name;  // Tensor::set_name; null when unnamed

 private:
  void attach() {
    storage = std::visit([](const auto& x) { return x.storage().block(); }, data);
  }
};
}  // namespace detail

// The variant's alternatives are in DType's order.
inline DType Tensor::dtype() const {
  check_defined("dtype");
  return static_cast<DType>(impl_->data.index());
}

inline const Shape& Tensor::shape() const {
  check_defined("shape");
  if (const auto* f = std::get_if<Array<float>>(&impl_->data)) return f->shape();
  if (const auto* d = std::get_if<Array<double>>(&impl_->data)) return d->shape();
  return std::get<Array<std::int64_t>>(impl_->data).shape();
}

inline std::size_t Tensor::numel() const {
  check_defined("numel");
  if (const auto* f = std::get_if<Array<float>>(&impl_->data)) return f->size();
  if (const auto* d = std::get_if<Array<double>>(&impl_->data)) return d->size();
  return std::get<Array<std::int64_t>>(impl_->data).size();
}

template <class T>
const Array<T>& Tensor::data() const {
  check_defined("data");
  if (const auto* array = std::get_if<Array<T>>(&impl_->data)) return *array;
  fail<DTypeError>("data: the tensor holds {}, not {}", dtype_name(dtype()),
                   dtype_name(dtype_of<T>()));
}

template <class T>
Array<T>& Tensor::mutable_data() {
  const auto& array = data<T>();
  impl_->bump_version();
  return const_cast<Array<T>&>(array);
}

template <class F>
decltype(auto) Tensor::visit(F&& f) const {
  check_defined("visit");
  if (const auto* d = std::get_if<Array<double>>(&impl_->data)) return std::forward<F>(f)(*d);
  if (const auto* x = std::get_if<Array<float>>(&impl_->data)) return std::forward<F>(f)(*x);
  fail_int64("visit");
}

template <class F>
decltype(auto) Tensor::visit_any_dtype(F&& f) const {
  check_defined("visit_any_dtype");
  return std::visit(std::forward<F>(f), std::as_const(impl_->data));
}

template <class T>
T Tensor::item() const {
  const double unused = item();  // the checks; exact for the floating types
  if constexpr (std::is_same_v<T, double>) {
    return unused;
  } else {
    return visit_any_dtype([](const auto& x) { return static_cast<T>(x.data()[0]); });
  }
}

// Values for tensor(): a number, or a braced list of them nested to any depth. {2.0} is a
// 1-D tensor of one element and {{1}, {0}} a 2×1 matrix, as in libtorch's torch::tensor.
// Numbers are doubles: an int64 tensor made from a list holds integers up to 2^53 exactly, and a
// value that is not an integer is refused (ValueError); Tensor(xt::xarray<std::int64_t>) takes any.
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
