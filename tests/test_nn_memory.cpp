// The loaders under memory pressure. This binary replaces the global operator new, so that a
// test can make large allocations fail (as a memory limit does) and see the largest one a
// loader asks for: a bomb must be refused before anything large is allocated, and a failed
// allocation must come out as the loader's error naming the file, never as std::bad_alloc.
#include "nn_test_util.hpp"

#include <matgrad/nn.hpp>

#include <doctest/doctest.h>
#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>

using namespace matgrad;
using namespace matgrad::testing;

namespace {

std::atomic<std::size_t> fail_above{std::numeric_limits<std::size_t>::max()};
std::atomic<std::size_t> largest{0};
std::atomic<int> failures_left{-1};  // of allocations above fail_above; -1: all of them fail

void* allocate(std::size_t n) {
  if (n > fail_above.load(std::memory_order_relaxed)) {
    int left = failures_left.load(std::memory_order_relaxed);
    if (left < 0) throw std::bad_alloc();
    while (left > 0 && !failures_left.compare_exchange_weak(left, left - 1)) {
    }
    if (left > 0) throw std::bad_alloc();  // this one was among the failures
  }
  std::size_t seen = largest.load(std::memory_order_relaxed);
  while (n > seen && !largest.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

// For a scope: allocations of more than `limit` bytes fail (only the first `failures` of them,
// if given), and largest() is the largest allocation asked for.
class MemoryWatch {
 public:
  explicit MemoryWatch(std::size_t limit = std::numeric_limits<std::size_t>::max(), int failures = -1) {
    largest = 0;
    failures_left = failures;
    fail_above = limit;
  }
  ~MemoryWatch() {
    fail_above = std::numeric_limits<std::size_t>::max();
    failures_left = -1;
  }
  MemoryWatch(const MemoryWatch&) = delete;
  MemoryWatch& operator=(const MemoryWatch&) = delete;
  std::size_t largest_allocation() const { return largest; }
};

template <class E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

bool contains(const std::string& text, const std::string& part) {
  const bool found = text.find(part) != std::string::npos;
  if (!found) MESSAGE("'" << part << "' not in: " << text);
  return found;
}

// One gzip member of `bytes` followed by members of zeros, `zeros` in all: a small file that
// truly holds all of them, as issue 11's bomb did (a member of 1 MiB of zeros is ~1 KiB).
void write_gz_bomb(const std::filesystem::path& path, const std::string& bytes, std::size_t zeros) {
  auto member = [](const std::string& data) {
    z_stream s{};
    REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&s, data.size()), '\0');
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    s.avail_in = static_cast<uInt>(data.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
  };
  constexpr std::size_t chunk = std::size_t{1} << 20;
  const std::string full = member(std::string(chunk, '\0'));
  std::ofstream out(path, std::ios::binary);
  const std::string head = member(bytes);
  out.write(head.data(), static_cast<std::streamsize>(head.size()));
  for (std::size_t left = zeros; left > 0; left -= std::min(left, chunk)) {
    const std::string m = left >= chunk ? full : member(std::string(left, '\0'));
    out.write(m.data(), static_cast<std::streamsize>(m.size()));
  }
}

// The decompressed size of a gzip file, counted by zlib.
std::size_t gunzipped_size(const std::filesystem::path& path) {
  gzFile f = gzopen(path.string().c_str(), "rb");
  REQUIRE(f != nullptr);
  std::vector<char> buffer(std::size_t{1} << 20);
  std::size_t total = 0;
  for (int got; (got = gzread(f, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0;) {
    total += static_cast<std::size_t>(got);
  }
  gzclose(f);
  return total;
}

}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

TEST_CASE("the watch sees allocations and makes large ones fail") {
  MemoryWatch watch(1 << 20);
  std::vector<char> small(1000);
  CHECK(watch.largest_allocation() >= 1000);
  CHECK_THROWS_AS(std::vector<char>(2 << 20), std::bad_alloc);
}

TEST_CASE("a tensor that cannot be allocated empties the cache of large blocks and tries again") {
  empty_cache();
  { const Tensor kept = zeros({std::size_t{1} << 18}); }  // 1 MiB, kept when freed
  REQUIRE(cached_memory() > 0);
  MemoryWatch watch(1 << 20, 1);  // the next allocation of more than 1 MiB fails
  const Tensor t = full({std::size_t{1} << 19}, 3.0);  // 2 MiB: fails, then the retry succeeds
  CHECK(t.numel() == std::size_t{1} << 19);
  CHECK(t.data<float>()(12345) == 3.0f);
  CHECK(cached_memory() == 0);
}

// Issue 11: a 762 KB .gz holding 1,000,000 zero images made read_idx_dataset allocate 784 MB
// and then 3.1 GB; under a 2 GiB limit std::bad_alloc escaped.
TEST_CASE("an IDX gzip bomb is refused from its headers, before anything large is allocated") {
  TempDir dir;
  constexpr std::size_t n = 1'000'000;
  write_gz_bomb(dir / "images.gz", idx_header({n, 28, 28}), n * 28 * 28);
  write_gz_bomb(dir / "labels.gz", idx_header({n}), n);
  CHECK(std::filesystem::file_size(dir / "images.gz") < 1'000'000);
  CHECK(gunzipped_size(dir / "images.gz") == 16 + n * 28 * 28);  // it truly holds them
  MemoryWatch watch(std::size_t{64} << 20);  // a process with 64 MiB to spare
  const std::string message = error_of<data::DataError>(
      [&] { data::read_idx_dataset(dir / "images.gz", dir / "labels.gz"); });
  CHECK(contains(message, (dir / "images.gz").string()));
  CHECK(contains(message, "the header declares shape [1000000, 28, 28], 3136000000 bytes as float32"));
  CHECK(contains(message, "max_bytes = 2147483648"));
  CHECK(watch.largest_allocation() < std::size_t{1} << 20);
  // With a lower limit, read_idx refuses the 784 MB of bytes the same way.
  const std::string bytes = error_of<data::DataError>([&] { data::read_idx(dir / "images.gz", 100 << 20); });
  CHECK(contains(bytes, "784000000 bytes of data, more than max_bytes = 104857600"));
  CHECK(watch.largest_allocation() < std::size_t{1} << 20);
}

// Issue 11: an 80-byte header declaring shape (1,) followed by 1 GiB of zeros was read whole
// before the header was checked.
TEST_CASE("an npz bomb is refused from the member's header, before the rest is read") {
  TempDir dir;
  write_raw_npz(dir / "bomb.npz", {{"w.npy", npz_bomb_member(std::size_t{16} << 20)}}, true);
  CHECK(std::filesystem::file_size(dir / "bomb.npz") < 64 * 1024);
  MemoryWatch watch(std::size_t{64} << 20);
  CHECK(contains(error_of<nn::CheckpointError>([&] { nn::load_npz(dir / "bomb.npz"); }),
                 "wrong data size: shape [1] of float64 needs 8 bytes, the array holds 16777216"));
  CHECK(watch.largest_allocation() < std::size_t{1} << 20);
}

TEST_CASE("an allocation that fails in a loader raises the loader's error naming the file") {
  TempDir dir;
  write_file(dir / "images", idx_header({200, 28, 28}) + std::string(200 * 28 * 28, '\x10'));
  write_file(dir / "labels", idx_header({200}) + std::string(200, '\x01'));
  {
    MemoryWatch watch(512 << 10);  // the 627,200 bytes of float32 images fail
    const std::string message = error_of<data::DataError>(
        [&] { data::read_idx_dataset(dir / "images", dir / "labels"); });
    CHECK(contains(message, "read_idx_dataset: out of memory while reading " + (dir / "images").string()));
    CHECK(contains(message, "(628800 bytes for the images as float32 and the labels)"));
  }
  {
    MemoryWatch watch(100 << 10);  // the 156,800 bytes
    CHECK(contains(error_of<data::DataError>([&] { data::read_idx(dir / "images"); }),
                   "read_idx: " + (dir / "images").string() + ": out of memory while reading its 156800 bytes"));
  }
  nn::save_npz(dir / "w.npz", {{"w", ones({300, 300})}});
  {
    MemoryWatch watch(256 << 10);  // the 360,000 bytes of w
    CHECK(contains(error_of<nn::CheckpointError>([&] { nn::load_npz(dir / "w.npz"); }),
                   "load_npz: " + (dir / "w.npz").string() + ": out of memory"));
    CHECK(contains(error_of<nn::CheckpointError>([&] { nn::read_checkpoint(dir / "w.npz"); }), "out of memory"));
  }
  // With room, all of them load.
  CHECK(data::read_idx_dataset(dir / "images", dir / "labels").size() == 200);
  CHECK(nn::load_npz(dir / "w.npz")[0].second.shape() == Shape{300, 300});
}
