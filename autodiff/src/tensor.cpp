// Tensor handles, factories, in-place updates and printing.
#include "forward.hpp"
#include "names.hpp"
#include "ops/common.hpp"
#include "tape.hpp"

#include <fmt/format.h>
#include <xtensor/xbuilder.hpp>

#include <cmath>
#include <mutex>
#include <ostream>

#if defined(__SANITIZE_ADDRESS__)
#define MATGRAD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MATGRAD_ASAN 1
#endif
#endif
#ifdef MATGRAD_ASAN
#include <sanitizer/asan_interface.h>
#define MATGRAD_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define MATGRAD_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define MATGRAD_POISON(p, n) ((void)(p), (void)(n))
#define MATGRAD_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace matgrad {

using detail::TensorImpl;

detail::Storage* detail::allocate_small_storage() {
  using Pool = SlabPool<kSmallStorageBytes>;
  auto* s = new (Pool::allocate()) Storage;
  s->release = [](Storage* p) noexcept {
    p->~Storage();
    Pool::deallocate(p);
  };
  return s;
}

// ---- performance machinery: large blocks kept for reuse ----
// glibc hands a freed block above its mmap threshold back to the system, and trims the top of
// its heap when more than twice that is free there, so a loop making the same large tensors
// every step page-faults on each of their pages every time. Test evaluation of the demo's MLP
// (batches of 1000, 2 threads) took 24.4 ms against 14.4 ms hand-coded, 12.6–13.9 ms with glibc's
// trimming turned off by hand; the epoch 1.07× hand, 1.00× so (benchmarks/README.md). Blocks
// are kept by size, rounded up to whole pages, and reused for exactly that size; the oldest
// go when the cache would pass kCacheBytes or kCacheEntries, and all of them when an allocation
// fails (it is tried again). One mutex: a large block costs
// microseconds to fill, the lock tens of nanoseconds. Under AddressSanitizer a kept block is
// poisoned, so that a use after free is still reported.
namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kCacheBytes = std::size_t{64} << 20;
constexpr std::size_t kCacheEntries = 64;

struct CachedStorage : detail::Storage {
  std::size_t bytes = 0;
};
static_assert(sizeof(CachedStorage) <= detail::kStorageHeader);

class BlockCache {
 public:
  void* take(std::size_t bytes) {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = count_; i-- > 0;) {  // the latest freed first: warmest in cache
      if (entries_[i].bytes != bytes) continue;
      void* block = entries_[i].block;
      total_ -= bytes;
      std::copy(entries_ + i + 1, entries_ + count_, entries_ + i);
      --count_;
      MATGRAD_UNPOISON(block, bytes);
      return block;
    }
    return nullptr;
  }
  void give(void* block, std::size_t bytes) noexcept {
    if (bytes > kCacheBytes) return ::operator delete(block);
    const std::lock_guard<std::mutex> lock(mutex_);
    while (count_ == kCacheEntries || total_ + bytes > kCacheBytes) drop_oldest();
    MATGRAD_POISON(block, bytes);
    entries_[count_++] = {block, bytes};
    total_ += bytes;
  }
  void clear() noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    while (count_) drop_oldest();
  }
  std::size_t bytes() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return total_;
  }

 private:
  void drop_oldest() noexcept {
    MATGRAD_UNPOISON(entries_[0].block, entries_[0].bytes);
    ::operator delete(entries_[0].block);
    total_ -= entries_[0].bytes;
    std::copy(entries_ + 1, entries_ + count_, entries_);
    --count_;
  }
  struct Entry {
    void* block;
    std::size_t bytes;
  };
  std::mutex mutex_;
  Entry entries_[kCacheEntries];
  std::size_t count_ = 0, total_ = 0;
};

// Never destroyed: tensors in static storage are freed after it would be.
BlockCache& block_cache() {
  static BlockCache& cache = *new BlockCache;
  return cache;
}

}  // namespace

detail::Storage* detail::allocate_large_storage(std::size_t bytes) {
  bytes = (bytes + kPage - 1) / kPage * kPage;
  void* block = block_cache().take(bytes);
  if (!block) {
    try {
      block = ::operator new(bytes);
    } catch (const std::bad_alloc&) {  // the blocks kept may be what the system lacks
      block_cache().clear();
      block = ::operator new(bytes);
    }
  }
  auto* s = new (block) CachedStorage;
  s->bytes = bytes;
  s->release = [](Storage* p) noexcept {
    const std::size_t size = static_cast<CachedStorage*>(p)->bytes;
    static_cast<CachedStorage*>(p)->~CachedStorage();
    block_cache().give(p, size);
  };
  return s;
}

void empty_cache() { block_cache().clear(); }
std::size_t cached_memory() { return block_cache().bytes(); }
// ---- end of the cache of large blocks ----

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int64: return "int64";
  }
  return "unknown";
}

std::string to_string(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

Shape ShapeArg::resolve(std::string_view op, std::size_t numel) const {
  Shape shape(dims_.size());
  std::size_t known = 1;
  std::ptrdiff_t infer = -1;
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (dims_[i] == -1 && infer < 0) {
      infer = static_cast<std::ptrdiff_t>(i);
    } else if (dims_[i] < 0) {
      fail<ShapeError>("{}: invalid shape [{}]: only one -1 is allowed and no other negative size",
                       op, fmt::join(dims_, ", "));
    } else {
      shape[i] = static_cast<std::size_t>(dims_[i]);
      if (__builtin_mul_overflow(known, shape[i], &known)) {
        fail<ShapeError>("{}: shape [{}] has more elements than memory can address", op,
                         fmt::join(dims_, ", "));
      }
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) {
      fail<ShapeError>("{}: shape [{}] is invalid for input of size {}", op,
                       fmt::join(dims_, ", "), numel);
    }
    shape[static_cast<std::size_t>(infer)] = numel / known;
  }
  return shape;
}

// ---- Tensor ----

template <class A>
static std::shared_ptr<TensorImpl> make_impl(A&& data, bool requires_grad) {
  auto impl = detail::new_impl(std::move(data));
  impl->requires_grad = requires_grad;
  return impl;
}

Tensor::Tensor(xt::xarray<float> data, bool requires_grad)
    : impl_(make_impl(std::move(data), requires_grad)) {}
Tensor::Tensor(xt::xarray<double> data, bool requires_grad)
    : impl_(make_impl(std::move(data), requires_grad)) {}
Tensor::Tensor(Array<float> data, bool requires_grad)
    : impl_(make_impl(std::move(data), requires_grad)) {}
Tensor::Tensor(Array<double> data, bool requires_grad)
    : impl_(make_impl(std::move(data), requires_grad)) {}
Tensor::Tensor(xt::xarray<std::int64_t> data) : impl_(make_impl(std::move(data), false)) {}
Tensor::Tensor(Array<std::int64_t> data) : impl_(make_impl(std::move(data), false)) {}

void Tensor::fail_int64(std::string_view what) {
  fail<DTypeError>("{}: expected a float32 or float64 tensor, got int64 (convert it with "
                   ".to(DType::float32))",
                   what);
}

void Tensor::fail_undefined(std::string_view what) {
  fail<Error>("{}: the tensor is undefined (default-constructed)", what);
}

// A 0-d tensor has no size(0), as in PyTorch (the reductions take dim 0 of it: wrap_dim).
std::size_t Tensor::size(std::ptrdiff_t d) const {
  return shape()[detail::normalize_dim("size", d, dim())];
}

double Tensor::item() const {
  check_defined("item");
  if (numel() != 1) {
    fail<ShapeError>("item: only a one-element tensor has an item; this one has shape {}",
                     to_string(shape()));
  }
  return visit_any_dtype([](const auto& x) { return static_cast<double>(x.data()[0]); });
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::requires_grad_(bool requires_grad) {
  check_defined("requires_grad_");
  if (requires_grad && !is_floating_point(dtype())) {
    fail<AutogradError>(
        "requires_grad_: only floating-point tensors can require gradients, and this one is {} "
        "(as in PyTorch); convert it with .to(DType::float32) first",
        dtype_name(dtype()));
  }
  if (impl_->node && !requires_grad) {
    fail<AutogradError>(
        "requires_grad_: only leaf tensors can change requires_grad; use detach() to get a "
        "tensor without history");
  }
  impl_->requires_grad = requires_grad;
  return *this;
}

bool Tensor::is_leaf() const { return impl_ && impl_->node == nullptr; }

Tensor Tensor::grad() const {
  check_defined("grad");
  if (impl_->node && !impl_->retains_grad) {
    fail<AutogradError>(
        "grad: this tensor (shape {}) is not a leaf: it was computed by '{}', and backward() "
        "keeps gradients only for leaves. Call retain_grad() on it before backward(), or get "
        "its gradient with matgrad::grad(outputs, {{tensor}})",
        to_string(shape()), impl_->node->op->name);
  }
  return impl_->grad;
}

void Tensor::set_grad(const Tensor& grad) {
  check_defined("set_grad");
  if (impl_->node) {
    fail<AutogradError>("set_grad: this tensor (shape {}) is not a leaf: it was computed by '{}'",
                        to_string(shape()), impl_->node->op->name);
  }
  if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype())) {
    fail<ShapeError>("set_grad: a {} gradient of shape {} for a {} tensor of shape {}",
                     dtype_name(grad.dtype()), to_string(grad.shape()), dtype_name(dtype()),
                     to_string(shape()));
  }
  impl_->grad = grad;
}

void Tensor::zero_grad() {
  check_defined("zero_grad");
  impl_->grad = Tensor();
}

Tensor& Tensor::set_name(std::string_view name) {
  check_defined("set_name");
  impl_->name = name.empty() ? nullptr : std::make_unique<std::string>(name);
  if (detail::on_set_name) detail::on_set_name(*this);
  return *this;
}

std::string_view Tensor::name() const {
  check_defined("name");
  return impl_->name ? std::string_view(*impl_->name) : std::string_view();
}

void Tensor::retain_grad() {
  check_defined("retain_grad");
  if (!impl_->requires_grad) {
    fail<AutogradError>("retain_grad: the tensor does not require grad");
  }
  if (impl_->node) {  // leaves keep their grad anyway
    impl_->retains_grad = true;
    impl_->node->retains_grad = true;
  }
}

void Tensor::backward(const Tensor& seed, bool retain_graph, bool create_graph) const {
  matgrad::backward({*this}, {seed}, retain_graph, create_graph);
}

Tensor Tensor::detach() const {
  check_defined("detach");
  return detail::view_of(*this, shape());
}

std::uint64_t Tensor::version() const {
  check_defined("version");
  return impl_->version();
}

static void check_in_place(std::string_view op, const Tensor& t) {
  if (t.requires_grad() && is_grad_enabled()) {
    fail<AutogradError>(
        "{}: an in-place update of a tensor that requires grad would corrupt its gradient; do "
        "it under NoGradGuard (as optimisers do)",
        op);
  }
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_defined("add_");
  check_in_place("add_", *this);
  detail::check_same_dtype_any("add_", *this, other);
  if (detail::broadcast_shapes("add_", shape(), other.shape()) != shape()) {
    fail<ShapeError>("add_: shape {} does not broadcast to {}", to_string(other.shape()),
                     to_string(shape()));
  }
  if (dtype() == DType::int64) detail::check_integral_scalar("add_", "alpha", alpha);
  visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto& self = const_cast<Array<T>&>(x);
    const auto& y = other.data<T>();
    const T a = static_cast<T>(alpha);
    if (y.shape() == self.shape()) {
      for (std::size_t i = 0; i < self.size(); ++i) self.data()[i] += a * y.data()[i];
    } else {
      self += a * xt::broadcast(y, self.shape());
    }
  });
  impl_->bump_version();
  detail::add_tangent_in_place(*this, other, alpha);
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  check_defined("mul_");
  check_in_place("mul_", *this);
  if (dtype() == DType::int64) detail::check_integral_scalar("mul_", "factor", factor);
  visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto& self = const_cast<Array<T>&>(x);
    for (auto& v : self) v *= static_cast<T>(factor);
  });
  impl_->bump_version();
  detail::scale_tangent_in_place(*this, factor);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& other) {
  check_defined("copy_");
  check_in_place("copy_", *this);
  detail::check_same_dtype_any("copy_", *this, other);
  if (other.shape() != shape()) {
    fail<ShapeError>("copy_: shape {} into shape {}", to_string(other.shape()), to_string(shape()));
  }
  visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const auto& y = other.data<T>();
    std::copy(y.data(), y.data() + y.size(), const_cast<T*>(x.data()));
  });
  impl_->bump_version();
  detail::copy_tangent_in_place(*this, other);
  return *this;
}

Tensor& Tensor::fill_(double value) { return fill_in_place("fill_", value); }
Tensor& Tensor::zero_() { return fill_in_place("zero_", 0.0); }

Tensor& Tensor::fill_in_place(std::string_view op, double value) {
  check_defined(op);
  check_in_place(op, *this);
  if (dtype() == DType::int64) detail::check_integral_scalar(op, "value", value);
  visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    std::fill(const_cast<Array<T>&>(x).begin(), const_cast<Array<T>&>(x).end(),
              static_cast<T>(value));
  });
  impl_->bump_version();
  detail::drop_tangent(*this);
  return *this;
}

Tensor Tensor::t(const SourceLocation& caller) const { return matgrad::t(*this, caller); }
Tensor Tensor::reshape(const ShapeArg& shape, const SourceLocation& caller) const {
  return matgrad::reshape(*this, shape, caller);
}
Tensor Tensor::view(const ShapeArg& shape, const SourceLocation& caller) const {
  return matgrad::view(*this, shape, caller);
}
Tensor Tensor::view_as(const Tensor& other, const SourceLocation& caller) const {
  return matgrad::view_as(*this, other, caller);
}
Tensor Tensor::sum(const SourceLocation& caller) const { return matgrad::sum(*this, caller); }
Tensor Tensor::mean(const SourceLocation& caller) const { return matgrad::mean(*this, caller); }

// ---- conversions: differentiable ----

// C = A in another dtype;  dC = dA  =>  gA = gC in A's dtype
static const OpInfo to_info{"to", "dC = dA (cast)", "tC = tA cast to C's dtype", "gA = gC cast back to A's dtype",
                            Saves::nothing,
    "C = to(A, dtype)"};
Tensor Tensor::to(DType target, const SourceLocation& caller) const {
  check_defined("to");
  if (dtype() == target) return *this;
  Tensor out = visit_any_dtype([&](const auto& x) {
    using S = typename std::decay_t<decltype(x)>::value_type;
    auto cast = [&](auto zero) {
      using U = decltype(zero);
      Tensor y = detail::empty_tensor<U>(x.shape(), "to");
      U* dst = detail::elements_of<U>(y);
      for (std::size_t i = 0; i < x.size(); ++i) {
        const S v = x.data()[i];
        if constexpr (std::is_integral_v<U> && !std::is_integral_v<S>) {
          // int64 holds [-2^63, 2^63): outside it (and NaN) the cast would be undefined.
          if (!(v >= S(-0x1p63) && v < S(0x1p63))) {
            fail<ValueError>("to: element {} is {}, which int64 cannot hold", i, static_cast<double>(v));
          }
        }
        dst[i] = static_cast<U>(v);
      }
      return y;
    };
    switch (target) {
      case DType::float32: return cast(float{});
      case DType::float64: return cast(double{});
      case DType::int64: break;
    }
    return cast(std::int64_t{});
  });
  // Casts to or from int64 are not differentiable (the output never requires grad).
  if (!is_floating_point(target) || !is_floating_point(dtype())) return out;
  const DType source = dtype();
  return record(
      to_info, std::move(out), {*this},
      [target](const Tangent& ta) { return matgrad::to(ta, target); },
      [source](const Tensor& g) -> Grads { return {g.to(source)}; }, caller);
}

// C = A;  dC = dA  =>  gA = gC
static const OpInfo clone_info{"clone", "dC = dA", "tC = tA", "gA = gC", Saves::nothing,
    "C = clone(A)"};
Tensor Tensor::clone(const SourceLocation& caller) const {
  check_defined("clone");
  Tensor out = detail::copy(*this);
  return record(
      clone_info, std::move(out), {*this},
      [](const Tangent& ta) { return ta; },
      [](const Tensor& g) -> Grads { return {g}; }, caller);
}

// ---- factories ----

template <class Make>
static Tensor make(TensorOptions options, Make&& make_array) {
  Tensor t;
  switch (options.dtype) {
    case DType::float32: t = Tensor(make_array(float{})); break;
    case DType::float64: t = Tensor(make_array(double{})); break;
    case DType::int64: t = Tensor(make_array(std::int64_t{})); break;
  }
  t.requires_grad_(options.requires_grad);
  return t;
}

Shape NestedList::shape() const {
  if (is_scalar_) return {};
  Shape shape{items_.size()};
  if (items_.empty()) return shape;
  const Shape inner = items_[0].shape();
  for (std::size_t i = 1; i < items_.size(); ++i) {
    if (items_[i].shape() != inner) {
      fail<ShapeError>("tensor: ragged nested list: item 0 has shape {} but item {} has shape {}",
                       to_string(inner), i, to_string(items_[i].shape()));
    }
  }
  shape.insert(shape.end(), inner.begin(), inner.end());
  return shape;
}

void NestedList::flatten_into(std::vector<double>& out) const {
  if (is_scalar_) {
    out.push_back(value_);
    return;
  }
  for (const NestedList& item : items_) item.flatten_into(out);
}

Tensor tensor(const NestedList& values, TensorOptions options) {
  const Shape shape = values.shape();
  std::vector<double> flat;
  values.flatten_into(flat);
  if (options.dtype == DType::int64) {
    for (const double v : flat) detail::check_integral_scalar("tensor", "value", v);
  }
  return make(options, [&](auto zero) {
    using T = decltype(zero);
    auto a = detail::empty_array<T>(shape, "tensor");
    std::transform(flat.begin(), flat.end(), a.begin(), [](double v) { return static_cast<T>(v); });
    return a;
  });
}

// `op` names the factory in allocation errors.
static Tensor filled(std::string_view op, const Shape& shape, double value, TensorOptions options) {
  if (options.dtype == DType::int64) detail::check_integral_scalar(op, "value", value);
  return make(options, [&](auto zero) {
    using T = decltype(zero);
    auto a = detail::empty_array<T>(shape, op);
    std::fill(a.begin(), a.end(), static_cast<T>(value));
    return a;
  });
}
Tensor full(const Shape& shape, double value, TensorOptions options) {
  return filled("full", shape, value, options);
}
Tensor zeros(const Shape& shape, TensorOptions options) { return filled("zeros", shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return filled("ones", shape, 1.0, options); }
Tensor full_like(const Tensor& like, double value) {
  return full(like.shape(), value, {.dtype = like.dtype()});
}
Tensor zeros_like(const Tensor& like) { return full_like(like, 0.0); }
Tensor ones_like(const Tensor& like) { return full_like(like, 1.0); }
Tensor scalar_like(const Tensor& like, double value) { return full({}, value, {.dtype = like.dtype()}); }

template <class Dist>
static Tensor random(std::string_view op, const Shape& shape, Generator& gen,
                     TensorOptions options, Dist dist) {
  if (!is_floating_point(options.dtype)) {
    fail<DTypeError>("{}: draws floating-point numbers; dtype {} is not one (as in PyTorch)", op,
                     dtype_name(options.dtype));
  }
  return make(options, [&](auto zero) {
    using T = decltype(zero);
    auto a = detail::empty_array<T>(shape, op);
    for (auto& v : a) v = static_cast<T>(dist(gen.engine()));
    return a;
  });
}
Tensor randn(const Shape& shape, Generator& gen, TensorOptions options) {
  return random("randn", shape, gen, options, std::normal_distribution<double>(0.0, 1.0));
}
Tensor rand(const Shape& shape, Generator& gen, TensorOptions options) {
  return random("rand", shape, gen, options, std::uniform_real_distribution<double>(0.0, 1.0));
}

Tensor eye(std::size_t rows, std::size_t cols, TensorOptions options) {
  Tensor t = filled("eye", {rows, cols}, 0.0, {.dtype = options.dtype});
  t.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    auto& a = const_cast<Array<T>&>(x);
    for (std::size_t i = 0; i < std::min(rows, cols); ++i) a(i, i) = T(1);
  });
  return t.requires_grad_(options.requires_grad);
}
Tensor eye(std::size_t n, TensorOptions options) { return eye(n, n, options); }

Tensor arange(double start, double end, double step, TensorOptions options) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step)) {
    fail<ValueError>("arange: start {}, end {}, step {}: the step must be non-zero and all finite",
                     start, end, step);
  }
  // The count as a double first: it is refused before any conversion could overflow (2^64 and
  // up, or +inf when end − start overflows).
  const double count = std::ceil((end - start) / step);
  if (!(count < 0x1p64)) {
    fail<ValueError>("arange: start {}, end {}, step {} would give {:.3g} elements, more than "
                     "memory can address",
                     start, end, step, count);
  }
  const std::size_t n = count > 0 ? static_cast<std::size_t>(count) : 0;
  if (options.dtype == DType::int64) {
    detail::check_integral_scalar("arange", "start", start);
    detail::check_integral_scalar("arange", "step", step);
  }
  return make(options, [&](auto zero) {
    using T = decltype(zero);
    auto a = detail::empty_array<T>({n}, "arange");
    for (std::size_t i = 0; i < n; ++i) a(i) = static_cast<T>(start + static_cast<double>(i) * step);
    return a;
  });
}
Tensor arange(double end, TensorOptions options) { return arange(0.0, end, 1.0, options); }

// ---- printing ----

// Like PyTorch: aligned columns, and past 1000 elements only the first and last three entries
// of each dimension, with "..." between.
std::string to_string(const Tensor& tensor) {
  if (!tensor.defined()) return "tensor(undefined)";
  constexpr std::size_t kThreshold = 1000, kEdge = 3;
  std::string body;
  tensor.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const Shape& s = x.shape();
    const std::size_t rank = s.size();
    const bool summarise = x.size() > kThreshold;
    // The indices shown along each dim; npos stands for "...".
    std::vector<std::vector<std::size_t>> shown(rank);
    for (std::size_t d = 0; d < rank; ++d) {
      for (std::size_t i = 0; i < s[d]; ++i) {
        if (summarise && s[d] > 2 * kEdge && i == kEdge) {
          shown[d].push_back(std::string::npos);
          i = s[d] - kEdge - 1;
        } else {
          shown[d].push_back(i);
        }
      }
    }
    const auto strides = x.strides();
    std::vector<std::string> cells;
    std::vector<std::size_t> pos(rank, 0);
    bool empty = false;
    for (std::size_t d = 0; d < rank; ++d) empty = empty || shown[d].empty();
    std::size_t width = 0;
    if (!empty) {
      for (;;) {
        bool ellipsis = false;
        std::size_t offset = 0;
        for (std::size_t d = 0; d < rank; ++d) {
          const std::size_t i = shown[d][pos[d]];
          ellipsis = ellipsis || i == std::string::npos;
          if (i != std::string::npos) offset += i * static_cast<std::size_t>(strides[d]);
        }
        if (ellipsis) {
          cells.push_back("...");
        } else if constexpr (std::is_integral_v<T>) {
          cells.push_back(fmt::format("{}", x.data()[offset]));
        } else {
          cells.push_back(fmt::format("{:.4f}", static_cast<double>(x.data()[offset])));
        }
        width = std::max(width, cells.back().size());
        std::size_t d = rank;
        while (d > 0 && ++pos[d - 1] == shown[d - 1].size()) pos[--d] = 0;
        if (d == 0) break;
      }
    }
    if (rank == 0) {
      body = cells.front();
      return;
    }
    // Lay the cells out with brackets: after each cell, count the dims that close.
    body.append(rank, '[');
    std::vector<std::size_t> count(rank, 0);
    for (std::size_t c = 0; c < cells.size(); ++c) {
      body.append(width - cells[c].size(), ' ');
      body += cells[c];
      std::size_t closing = 0;
      for (std::size_t d = rank; d-- > 0;) {
        if (++count[d] < shown[d].size()) break;
        count[d] = 0;
        ++closing;
      }
      body.append(closing, ']');
      if (c + 1 == cells.size()) break;
      body += ',';
      if (closing == 0) {
        body += ' ';
      } else {
        body.append(closing, '\n');
        body.append(7 + rank - closing, ' ');  // under "tensor(" and the open brackets
        body.append(closing, '[');
      }
    }
    if (empty) body.append(rank, ']');
  });
  std::string out = "tensor(" + body;
  // float32 and int64 are torch's default dtypes, which it does not print.
  if (tensor.dtype() == DType::float64) out += fmt::format(", dtype={}", dtype_name(tensor.dtype()));
  if (!tensor.is_leaf()) {
    out += fmt::format(", grad_fn=<{}>", tensor.impl()->node->op->name);
  } else if (tensor.requires_grad()) {
    out += ", requires_grad=true";
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) { return out << to_string(tensor); }

}  // namespace matgrad
