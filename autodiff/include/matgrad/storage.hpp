// The elements of a tensor, shared by the tensor and its views, and matgrad::Array<T>: the
// xtensor adaptor through which Tensor::data<T>() and mutable_data<T>() expose them.
//
// A Storage is one reference-counted block holding the elements and the version counter that a
// tensor and every view of it (reshape, view, flatten, squeeze, unsqueeze, detach) share, so
// that an in-place change through any of them is seen by all and caught by every saved-tensor
// check. A fresh block is a single allocation: the header, then the elements.
#pragma once

#include "matgrad/error.hpp"

#include <xtensor/xarray.hpp>
#include <xtensor/xbuffer_adaptor.hpp>
#include <xtensor/xstorage.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

namespace matgrad {

using Shape = xt::dynamic_shape<std::size_t>;
std::string to_string(const Shape& shape);  // "[3, 4]"

// A freed tensor block of 64 KiB or more is not handed back to the system but kept, up to
// 64 MiB in all (the oldest dropped first), for the next tensor of the same size: a training
// or evaluation loop makes tensors of the same shapes every step, and each fresh block
// page-faults on every page it touches (PyTorch's caching allocator does this on GPUs).
// empty_cache() frees the blocks kept, as torch.cuda.empty_cache() does; cached_memory() gives
// their bytes. Freeing a graph of 2^18 records or more at once also empties the cache, and so
// does an allocation that fails, before it is tried again.
void empty_cache();
std::size_t cached_memory();

namespace detail {

struct Storage {
  std::atomic<std::size_t> refs{1};  // atomic: leaves (and their views) are read from many threads
  std::uint64_t version = 0;         // bumped by every in-place change through any holder
  void (*release)(Storage*) noexcept = nullptr;
};

// The elements start this far into a fresh block: malloc's alignment, as xt::xarray's.
inline constexpr std::size_t kStorageHeader = 32;
static_assert(sizeof(Storage) <= kStorageHeader);

template <class T>
T* elements_after(Storage* s) {
  return reinterpret_cast<T*>(reinterpret_cast<unsigned char*>(s) + kStorageHeader);
}

// Blocks of up to this many bytes, header included (eight doubles, sixteen floats), come from
// the engine's slab pool (src/pool.hpp), as its records and tensors do: a small tensor's
// elements are its op's one remaining trip through malloc otherwise.
inline constexpr std::size_t kSmallStorageBytes = kStorageHeader + 64;
Storage* allocate_small_storage();  // a kSmallStorageBytes block from the pool
// Blocks of this many bytes or more, header included, come from and go back to the cache of
// large blocks (empty_cache above; src/tensor.cpp).
inline constexpr std::size_t kCachedStorageBytes = std::size_t{64} << 10;
Storage* allocate_large_storage(std::size_t bytes);  // a block of at least `bytes`

// A block of n uninitialised elements after the header.
template <class T>
Storage* allocate_storage(std::size_t n) {
  static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= kStorageHeader);
  if (n <= (kSmallStorageBytes - kStorageHeader) / sizeof(T)) return allocate_small_storage();
  if (n > (static_cast<std::size_t>(PTRDIFF_MAX) - kStorageHeader) / sizeof(T)) throw std::bad_alloc();
  const std::size_t bytes = kStorageHeader + n * sizeof(T);
  if (bytes >= kCachedStorageBytes) return allocate_large_storage(bytes);
  void* block = ::operator new(bytes);
  auto* s = new (block) Storage;
  s->release = [](Storage* p) noexcept {
    p->~Storage();
    ::operator delete(static_cast<void*>(p));
  };
  return s;
}

// A block that takes over an xt::xarray's elements (Tensor's constructor from xt::xarray): no
// copy, one small allocation for the header.
template <class T>
struct AdoptedStorage : Storage {
  explicit AdoptedStorage(xt::uvector<T>&& elements) : elements(std::move(elements)) {
    release = [](Storage* p) noexcept { delete static_cast<AdoptedStorage*>(p); };
  }
  xt::uvector<T> elements;
};

// The container under matgrad::Array<T>: a handle on a Storage with its element pointer and
// count. Value semantics, like xt::xarray's buffer: copying it copies the elements, assigning to
// it writes them in place (the count must match: a tensor's elements are never reallocated, so
// its views keep seeing them). Only a tensor's view shares a block, through SharedBuffer(share,
// other, offset, count).
template <class T>
class SharedBuffer : public xt::xbuffer_adaptor_base<SharedBuffer<T>> {
 public:
  using value_type = T;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using allocator_type = std::allocator<T>;
  using temporary_type = xt::uvector<T>;

  struct share_t {};
  static constexpr share_t share{};

  SharedBuffer() = default;
  explicit SharedBuffer(std::size_t n) : storage_(allocate_storage<T>(n)), size_(n) {
    data_ = elements_after<T>(storage_);
  }
  explicit SharedBuffer(xt::uvector<T>&& elements) : size_(elements.size()) {
    auto* adopted = new AdoptedStorage<T>(std::move(elements));
    storage_ = adopted;
    data_ = adopted->elements.data();
  }
  // Elements [offset, offset + count) of other's block, shared with it.
  SharedBuffer(share_t, const SharedBuffer& other, std::size_t offset, std::size_t count) noexcept
      : storage_(other.storage_), data_(other.data_ + offset), size_(count) {
    if (storage_) storage_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  SharedBuffer(const SharedBuffer& other) : SharedBuffer(other.size_) {
    std::copy(other.data_, other.data_ + size_, data_);
  }
  SharedBuffer(SharedBuffer&& other) noexcept
      : storage_(std::exchange(other.storage_, nullptr)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  SharedBuffer& operator=(const SharedBuffer& other) {
    if (this != &other) assign(other.data_, other.size_);
    return *this;
  }
  // xt::xarray_adaptor's own move assignment copies its buffer (it was written for adaptors
  // of borrowed memory), so this one writes elements too, rather than stealing the block.
  SharedBuffer& operator=(SharedBuffer&& other) {
    if (this != &other) assign(other.data_, other.size_);
    return *this;
  }
  // Where xtensor assigns an expression: it evaluates into a temporary, then moves it here.
  SharedBuffer& operator=(temporary_type&& tmp) {
    assign(tmp.data(), tmp.size());
    return *this;
  }
  ~SharedBuffer() { reset(); }

  std::size_t size() const noexcept { return size_; }
  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  void resize(std::size_t n) {
    if (n == size_) return;
    if (storage_) fail_resize(n);
    *this = SharedBuffer(n);
  }
  void swap(SharedBuffer& other) noexcept {
    std::swap(storage_, other.storage_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }

  Storage* block() const noexcept { return storage_; }
  // Whether another buffer (a view, or an Array copy in flight) holds this block too.
  bool shared() const noexcept { return storage_ && storage_->refs.load(std::memory_order_acquire) > 1; }

 private:
  void assign(const T* from, std::size_t n) {
    if (!storage_) {
      SharedBuffer fresh(n);
      swap(fresh);
    } else if (n != size_) {
      fail_resize(n);
    }
    std::copy(from, from + n, data_);
  }
  [[noreturn]] void fail_resize(std::size_t n) const {
    fail<ShapeError>(
        "Array: cannot resize an array of {} elements to {}: its storage is a tensor's (or a "
        "copy's) and is never reallocated; make a new tensor or xt::xarray instead",
        size_, n);
  }
  void reset() noexcept {
    if (storage_ && storage_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      storage_->release(storage_);
    }
    storage_ = nullptr;
    data_ = nullptr;
    size_ = 0;
  }

  Storage* storage_ = nullptr;
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace detail
}  // namespace matgrad

namespace xt {
template <class T>
struct buffer_inner_types<matgrad::detail::SharedBuffer<T>> {
  using value_type = T;
  using reference = T&;
  using const_reference = const T&;
  using pointer = T*;
  using const_pointer = const T*;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using iterator = T*;
  using const_iterator = const T*;
  using reverse_iterator = std::reverse_iterator<iterator>;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;
  using index_type = size_type;
};

// xtensor evaluates an expression assigned to an Array into this temporary, then copies it in.
template <class T>
struct temporary_container<matgrad::detail::SharedBuffer<T>> {
  using type = uvector<T>;
};
}  // namespace xt

namespace matgrad {

// What Tensor::data<T>() returns a reference to: an xt::xarray_adaptor, row-major with the
// tensor's shape, over the tensor's storage. It reads like xt::xarray<T> (data(), shape(),
// x(i, j), iteration, xtensor expressions); copying it makes an array of one's own; assigning
// to it (through mutable_data: =, +=, ...) writes the tensor's elements, which its views share.
// Its shape is fixed: an assignment of another shape raises a ShapeError and changes nothing.
template <class T>
using Array = xt::xarray_adaptor<detail::SharedBuffer<T>, xt::layout_type::row_major, Shape>;

namespace detail {
[[noreturn]] inline void fail_assign(const Shape& to, const Shape& from) {
  fail<ShapeError>(
      "Array: cannot assign an array of shape {} to one of shape {}: a tensor's shape is fixed "
      "(copy_ and add_ broadcast; build a new tensor for another shape)",
      to_string(from), to_string(to));
}
}  // namespace detail

}  // namespace matgrad

// xtensor's assignments to an adaptor set the shape before they write the buffer, so a buffer
// that refuses a new size would leave a tensor's shape changed; these check the shape first.
// (Explicit specialisations of the three assignment members, for float and double.)
namespace xt {
#define MATGRAD_ARRAY_ASSIGNMENTS(T)                                                          \
  template <>                                                                                 \
  inline matgrad::Array<T>& matgrad::Array<T>::operator=(temporary_type&& rhs) {              \
    if (rhs.shape() != this->shape()) matgrad::detail::fail_assign(this->shape(), rhs.shape()); \
    m_storage = std::move(rhs.storage());                                                     \
    return *this;                                                                             \
  }                                                                                           \
  template <>                                                                                 \
  inline matgrad::Array<T>& matgrad::Array<T>::operator=(const matgrad::Array<T>& rhs) {      \
    if (rhs.shape() != this->shape()) matgrad::detail::fail_assign(this->shape(), rhs.shape()); \
    m_storage = rhs.m_storage;                                                                \
    return *this;                                                                             \
  }                                                                                           \
  template <>                                                                                 \
  inline matgrad::Array<T>& matgrad::Array<T>::operator=(matgrad::Array<T>&& rhs) {           \
    if (rhs.shape() != this->shape()) matgrad::detail::fail_assign(this->shape(), rhs.shape()); \
    m_storage = rhs.m_storage;                                                                \
    return *this;                                                                             \
  }
MATGRAD_ARRAY_ASSIGNMENTS(float)
MATGRAD_ARRAY_ASSIGNMENTS(double)
#undef MATGRAD_ARRAY_ASSIGNMENTS
}  // namespace xt

