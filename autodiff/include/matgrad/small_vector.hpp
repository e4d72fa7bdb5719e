// SmallVector<T, N>: a vector whose first N elements live inside it, so that the common short
// lists of the engine (a VJP's gradients, a record's input edges) allocate nothing. xtensor's
// svector is meant for indices (it neither moves nor destroys its elements), hence this one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace matgrad {

template <class T, std::size_t N>
class SmallVector {
 public:
  SmallVector() noexcept {}  // NOLINT(modernize-use-equals-default): no zero-fill of the buffer
  // From a braced list of elements, `return {g * b, g * a};`, moving the temporaries in (an
  // initializer_list could only copy them).
  template <class... Items>
    requires(sizeof...(Items) > 0 && (std::is_constructible_v<T, Items&&> && ...) &&
             !(sizeof...(Items) == 1 && (std::is_same_v<std::decay_t<Items>, SmallVector> && ...)))
  SmallVector(Items&&... items) {  // NOLINT: implicit, for the braced list
    reserve(sizeof...(Items));
    (emplace_back(std::forward<Items>(items)), ...);
  }
  template <std::input_iterator It>
  SmallVector(It first, It last) {
    reserve(static_cast<std::size_t>(std::distance(first, last)));
    for (; first != last; ++first) emplace_back(*first);
  }
  SmallVector(const std::vector<T>& items)  // NOLINT: implicit, so a VJP may return a vector
      : SmallVector(items.begin(), items.end()) {}
  explicit SmallVector(std::size_t n) { resize(n); }
  SmallVector(const SmallVector& other) : SmallVector(other.begin(), other.end()) {}
  SmallVector(SmallVector&& other) noexcept { take(other); }
  SmallVector& operator=(const SmallVector& other) {
    if (this != &other) {
      clear();
      reserve(other.size());
      for (const T& x : other) emplace_back(x);
    }
    return *this;
  }
  SmallVector& operator=(SmallVector&& other) noexcept {
    if (this != &other) {
      clear();
      free_heap();
      take(other);
    }
    return *this;
  }
  ~SmallVector() {
    clear();
    free_heap();
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }

  void reserve(std::size_t n) {
    if (n <= capacity_) return;
    T* bigger = std::allocator<T>().allocate(n);
    std::uninitialized_move(begin(), end(), bigger);
    std::destroy(begin(), end());
    free_heap();
    data_ = bigger;
    capacity_ = n;
  }
  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == capacity_) reserve(2 * capacity_);
    T* slot = new (data_ + size_) T(std::forward<Args>(args)...);
    ++size_;
    return *slot;
  }
  void push_back(const T& x) { emplace_back(x); }
  void push_back(T&& x) { emplace_back(std::move(x)); }
  void resize(std::size_t n) {
    reserve(n);
    while (size_ < n) emplace_back();
    while (size_ > n) data_[--size_].~T();
  }
  void clear() {
    std::destroy(begin(), end());
    size_ = 0;
  }

 private:
  T* inline_data() { return std::launder(reinterpret_cast<T*>(buffer_)); }
  bool on_heap() const { return data_ != reinterpret_cast<const T*>(buffer_); }
  void free_heap() {
    if (on_heap()) std::allocator<T>().deallocate(data_, capacity_);
    data_ = inline_data();
    capacity_ = N;
  }
  // Takes other's elements (its heap block, or moves of its inline ones); other ends empty.
  void take(SmallVector& other) noexcept {
    if (other.on_heap()) {
      data_ = other.data_;
      capacity_ = other.capacity_;
      size_ = other.size_;
      other.data_ = other.inline_data();
      other.capacity_ = N;
    } else {
      std::uninitialized_move(other.begin(), other.end(), data_);
      size_ = other.size_;
      other.clear();
    }
    other.size_ = 0;
  }

  alignas(T) unsigned char buffer_[N * sizeof(T)];
  T* data_ = inline_data();
  std::size_t size_ = 0;
  std::size_t capacity_ = N;
};

}  // namespace matgrad
