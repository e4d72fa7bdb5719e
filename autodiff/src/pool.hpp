// ---- performance machinery: where the engine's small objects come from ----
//
// Every op makes a record (Node) and one or more TensorImpls, ~300 bytes each, and a long
// graph frees them all at once; through malloc that was a third of the instructions of a
// 1-element op (callgrind, 100,000-op chain). Here they come from slabs of 64 KiB: a thread
// cuts blocks off its current slab in order, and a slab goes back to malloc (as one block,
// which merges and can be returned to the system) when the last of its blocks is freed, on
// whichever thread. A block is the object preceded by a pointer to its slab. The A/B run that
// justifies it is in benchmarks/README.md.
#pragma once

#include "matgrad/tensor.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace matgrad::detail {

template <std::size_t Size>
class SlabPool {
 public:
  static void* allocate() {
    Cursor& c = cursor();
    if (c.next == c.end) c.refill();
    char* block = c.next;
    c.next += kBlock;
    *reinterpret_cast<Slab**>(block) = c.slab;
    return block + kHeader;
  }
  static void deallocate(void* p) noexcept {
    Slab* slab = *reinterpret_cast<Slab**>(static_cast<char*>(p) - kHeader);
    release(slab, 1);
  }

 private:
  static constexpr std::size_t kHeader = alignof(std::max_align_t);
  static constexpr std::size_t kBlock = (kHeader + Size + kHeader - 1) / kHeader * kHeader;
  static constexpr std::size_t kSlabBytes = std::size_t{64} << 10;
  struct Slab {
    // Blocks not yet freed, counting those not yet cut, plus one while it is a thread's
    // current slab (so that it is not freed under the cursor).
    std::atomic<std::size_t> live;
  };
  static constexpr std::size_t kFirst = (sizeof(Slab) + kHeader - 1) / kHeader * kHeader;
  static constexpr std::size_t kBlocks = (kSlabBytes - kFirst) / kBlock;

  static void release(Slab* slab, std::size_t n) noexcept {
    if (slab->live.fetch_sub(n, std::memory_order_acq_rel) == n) {
      slab->~Slab();
      std::free(slab);
    }
  }

  struct Cursor {
    Slab* slab = nullptr;
    char* next = nullptr;
    char* end = nullptr;
    void refill() {
      void* memory = std::malloc(kSlabBytes);
      if (!memory) throw std::bad_alloc();
      retire();
      slab = new (memory) Slab{{kBlocks + 1}};
      next = static_cast<char*>(memory) + kFirst;
      end = next + kBlocks * kBlock;
    }
    // The blocks never cut count as freed, and the cursor lets go.
    void retire() noexcept {
      if (slab) release(slab, static_cast<std::size_t>(end - next) / kBlock + 1);
      slab = nullptr;
      next = end = nullptr;
    }
    ~Cursor() { retire(); }
  };
  static Cursor& cursor() {
    thread_local Cursor c;
    return c;
  }
};

// An allocator for std::allocate_shared drawing single objects from the slab pool of their size.
template <class T>
struct PoolAllocator {
  using value_type = T;
  PoolAllocator() = default;
  template <class U>
  PoolAllocator(const PoolAllocator<U>&) {}  // NOLINT: rebinding
  T* allocate(std::size_t n) {
    if (n != 1) return std::allocator<T>().allocate(n);
    return static_cast<T*>(SlabPool<sizeof(T)>::allocate());
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n != 1) return std::allocator<T>().deallocate(p, n);
    SlabPool<sizeof(T)>::deallocate(p);
  }
  template <class U>
  bool operator==(const PoolAllocator<U>&) const { return true; }
};

// A TensorImpl from the pool: every tensor the library makes comes through here (and, when it
// has at most kSmallStorageBytes of elements and header, its storage too: tensor.cpp).
template <class... Args>
std::shared_ptr<TensorImpl> new_impl(Args&&... args) {
  return std::allocate_shared<TensorImpl>(PoolAllocator<TensorImpl>(), std::forward<Args>(args)...);
}

}  // namespace matgrad::detail
