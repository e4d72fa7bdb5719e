// Data: the IDX reader on good and bad files made here, the batch iterator, metrics, and a
// short Fashion-MNIST training run.
#include "nn_test_util.hpp"

#include <matgrad/nn.hpp>

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <zlib.h>

#include <chrono>
#include <functional>
#include <set>

using namespace matgrad;
using namespace matgrad::data;
using matgrad::testing::idx_header;
using matgrad::testing::TempDir;
using matgrad::testing::write_file;
using matgrad::testing::write_gz;

static std::string idx(std::vector<std::uint32_t> dims, std::size_t extra = 0, std::ptrdiff_t missing = 0) {
  std::size_t n = 1;
  for (auto d : dims) n *= d;
  std::string data;
  for (std::size_t i = 0; i < n + extra - static_cast<std::size_t>(missing); ++i) data += static_cast<char>(i % 7);
  return idx_header(dims) + data;
}

static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  } catch (const Error& e) {
    return std::string("(not a DataError) ") + e.what();
  }
  return "(no error)";
}

static bool contains(const std::string& text, const std::string& part) {
  const bool found = text.find(part) != std::string::npos;
  if (!found) MESSAGE("'" << part << "' not in: " << text);
  return found;
}

TEST_CASE("read_idx reads plain and gzip files alike") {
  TempDir dir;
  const std::string bytes = idx({3, 2, 2});
  write_file(dir / "plain-idx3-ubyte", bytes);
  write_gz(dir / "packed-idx3-ubyte.gz", bytes);
  for (const char* name : {"plain-idx3-ubyte", "packed-idx3-ubyte.gz"}) {
    const IdxArray a = read_idx(dir / name);
    CHECK(a.shape == Shape{3, 2, 2});
    REQUIRE(a.data.size() == 12);
    for (std::size_t i = 0; i < 12; ++i) CHECK(a.data[i] == i % 7);
  }
}

TEST_CASE("read_idx_dataset scales images to [0, 1] and keeps labels") {
  TempDir dir;
  std::string images = idx_header({2, 1, 2}) + std::string("\x00\xff\x80\x01", 4);
  write_file(dir / "img", images);
  write_file(dir / "lab", idx_header({2}) + std::string("\x03\x09", 2));
  const Dataset d = read_idx_dataset(dir / "img", dir / "lab");
  CHECK(d.inputs.shape() == Shape{2, 1, 2});
  CHECK(d.inputs.dtype() == DType::float32);
  const auto& x = d.inputs.data<float>();
  CHECK(x(0, 0, 0) == 0.0f);
  CHECK(x(0, 0, 1) == 1.0f);
  CHECK(x(1, 0, 0) == 128.0f / 255.0f);
  CHECK(d.targets == std::vector<std::size_t>{3, 9});
}

TEST_CASE("corrupt IDX files raise DataError naming the file and the fault") {
  TempDir dir;
  struct Case {
    std::string name, bytes, expected;
  };
  const std::vector<Case> cases{
      {"empty", "", "too short for an IDX header: 0 bytes"},
      {"short", std::string("\0\0", 2), "too short for an IDX header: 2 bytes"},
      {"magic", "\x12\x34\x08\x01" + idx({4}).substr(4), "not an IDX file: magic bytes 12 34 08 01"},
      {"type", idx_header({4}, 0x0D) + std::string(16, '\0'), "element type 0x0d is not supported"},
      {"nodims", idx_header({}), "declares 0 dimensions"},
      {"header", idx_header({4, 4, 4}).substr(0, 10), "truncated header: 3 dimensions need 12 bytes of sizes, the file has 6"},
      {"short-data", idx({3, 4, 4}, 0, 5), "truncated: the header declares shape [3, 4, 4] (48 bytes of data) but the file holds only 43"},
      {"long-data", idx({3, 4, 4}, 2), "wrong size: the file continues after the 48 bytes of data"},
      {"overflow", idx_header({0xffffffffu, 0xffffffffu, 0xffffffffu}) + "abc", "multiply to more elements than fit in memory (overflow)"},
      // Large but representable: must fail on the missing data, not try to allocate 16 EB (the
      // plain file holds 3 bytes; the gzip one at most 1032 times its size).
      {"huge", idx_header({0xffffffffu, 0xffffffffu}) + "abc", "(18446744065119617025 bytes of data) but the file holds "},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    write_file(dir / c.name, c.bytes);
    const std::string message = error_of([&] { read_idx(dir / c.name); });
    CHECK(contains(message, (dir / c.name).string()));
    CHECK(contains(message, c.expected));
    // The same inside gzip.
    write_gz(dir / (c.name + ".gz"), c.bytes);
    CHECK(contains(error_of([&] { read_idx(dir / (c.name + ".gz")); }), c.expected));
  }
  CHECK(contains(error_of([&] { read_idx(dir / "absent"); }), "absent: no such file"));
}

TEST_CASE("a truncated or damaged gzip stream is an error, not a short read") {
  TempDir dir;
  std::string bytes = idx({50, 28, 28});
  write_gz(dir / "full.gz", bytes);
  const std::string packed = matgrad::testing::read_file(dir / "full.gz");
  write_file(dir / "cut.gz", packed.substr(0, packed.size() / 2));
  CHECK(contains(error_of([&] { read_idx(dir / "cut.gz"); }), "cut.gz"));
  std::string damaged = packed;
  for (std::size_t i = 20; i < 40; ++i) damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
  write_file(dir / "damaged.gz", damaged);
  CHECK(contains(error_of([&] { read_idx(dir / "damaged.gz"); }), "damaged.gz"));
}

TEST_CASE("image and label files must agree") {
  TempDir dir;
  write_file(dir / "img", idx({3, 2, 2}));
  write_file(dir / "lab2", idx_header({2}) + std::string("\x01\x02", 2));
  CHECK(contains(error_of([&] { read_idx_dataset(dir / "img", dir / "lab2"); }),
                 "the counts disagree: " + (dir / "img").string() + " holds 3 images but " +
                     (dir / "lab2").string() + " holds 2 labels"));
  write_file(dir / "lab3", idx_header({3}) + std::string("\x01\x0a\x02", 3));
  CHECK(contains(error_of([&] { read_idx_dataset(dir / "img", dir / "lab3"); }),
                 "label 10 at index 1 is not below num_classes = 10"));
  write_file(dir / "lab2d", idx({3, 1}));
  CHECK(contains(error_of([&] { read_idx_dataset(dir / "img", dir / "lab2d"); }), "expected labels of shape [N], got shape [3, 1]"));
  write_file(dir / "img2d", idx({3, 4}));
  CHECK(contains(error_of([&] { read_idx_dataset(dir / "img2d", dir / "lab3"); }),
                 "expected images of shape [N, rows, cols], got shape [3, 4]"));
}

TEST_CASE("a missing Fashion-MNIST directory says how to install the dataset") {
  TempDir dir;
  CHECK_FALSE(fashion_mnist_available(dir / "none"));
  const std::string message = error_of([&] { load_fashion_mnist(Split::test, dir / "none"); });
  CHECK(contains(message, "t10k-images-idx3-ubyte.gz not found"));
  CHECK(contains(message, "apt-get install dataset-fashion-mnist"));
}

static Dataset numbered(std::size_t n) {
  auto x = xt::xarray<float>::from_shape({n, 2});
  std::vector<std::size_t> y(n);
  for (std::size_t i = 0; i < n; ++i) {
    x(i, 0) = static_cast<float>(i);
    x(i, 1) = -static_cast<float>(i);
    y[i] = i;
  }
  return {Tensor(std::move(x)), y};
}

TEST_CASE("DataLoader: batches in order, a last short batch or drop_last") {
  DataLoader loader(numbered(10), {.batch_size = 4});
  CHECK(loader.size() == 3);
  std::vector<std::size_t> sizes, seen;
  for (const Batch& b : loader) {
    sizes.push_back(b.targets.size());
    CHECK(b.inputs.shape() == Shape{b.targets.size(), 2});
    for (std::size_t k = 0; k < b.targets.size(); ++k) {
      CHECK(b.inputs.data<float>()(k, 0) == static_cast<float>(b.targets[k]));
      CHECK(b.inputs.data<float>()(k, 1) == -static_cast<float>(b.targets[k]));
      seen.push_back(b.targets[k]);
    }
  }
  CHECK(sizes == std::vector<std::size_t>{4, 4, 2});
  CHECK(seen == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

  DataLoader dropping(numbered(10), {.batch_size = 4, .drop_last = true});
  CHECK(dropping.size() == 2);
  std::size_t batches = 0;
  for (const Batch& b : dropping) {
    CHECK(b.targets.size() == 4);
    ++batches;
  }
  CHECK(batches == 2);
  CHECK_THROWS_AS(DataLoader(numbered(3), {.batch_size = 0}), ValueError);
  CHECK_THROWS_AS(DataLoader(Dataset{zeros({3, 2}), {1, 2}}), ShapeError);
}

static std::vector<std::vector<std::size_t>> epochs(DataLoader& loader, int n) {
  std::vector<std::vector<std::size_t>> out;
  for (int e = 0; e < n; ++e) {
    std::vector<std::size_t> order;
    for (const Batch& b : loader) order.insert(order.end(), b.targets.begin(), b.targets.end());
    out.push_back(order);
  }
  return out;
}

TEST_CASE("DataLoader shuffling: a permutation per epoch, reproducible from the seed") {
  DataLoader a(numbered(50), {.batch_size = 8, .shuffle = true, .seed = 7});
  DataLoader b(numbered(50), {.batch_size = 8, .shuffle = true, .seed = 7});
  DataLoader c(numbered(50), {.batch_size = 8, .shuffle = true, .seed = 8});
  const auto ea = epochs(a, 3), eb = epochs(b, 3), ec = epochs(c, 3);
  CHECK(ea == eb);
  CHECK(ea != ec);
  CHECK(ea[0] != ea[1]);
  for (const auto& order : ea) {
    CHECK(std::set<std::size_t>(order.begin(), order.end()).size() == 50);
    std::vector<std::size_t> identity(50);
    std::iota(identity.begin(), identity.end(), std::size_t{0});
    CHECK(order != identity);
  }
}

TEST_CASE("head, mean_std and standardize_") {
  const Dataset d = head(numbered(10), 3);
  CHECK(d.targets == std::vector<std::size_t>{0, 1, 2});
  CHECK(d.inputs.shape() == Shape{3, 2});
  Tensor x = tensor({{1, 3}, {5, 7}}, {.dtype = DType::float64});
  const auto [mean, std] = mean_std(x);
  CHECK(mean == 4.0);
  CHECK(std == doctest::Approx(std::sqrt(5.0)));
  standardize_(x, mean, std);
  const auto [m2, s2] = mean_std(x);
  CHECK(std::abs(m2) < 1e-15);
  CHECK(s2 == doctest::Approx(1.0));
  CHECK_THROWS_AS(standardize_(x, 0, 0), ValueError);
}

TEST_CASE("accuracy and the confusion matrix") {
  using namespace matgrad::nn;
  Tensor logits = tensor({{2, 1, 0}, {0, 3, 1}, {1, 0, 5}, {4, 4, 0}});  // ties: first index
  const std::vector<std::size_t> targets{0, 2, 2, 1};
  CHECK(predict(logits) == std::vector<std::size_t>{0, 1, 2, 0});
  CHECK(accuracy(logits, targets) == 0.5);
  ConfusionMatrix cm(3);
  cm.update(logits, targets);
  CHECK(cm(0, 0) == 1);
  CHECK(cm(2, 1) == 1);
  CHECK(cm(2, 2) == 1);
  CHECK(cm(1, 0) == 1);
  CHECK(cm(1, 1) == 0);
  CHECK(cm.total() == 4);
  CHECK(cm.accuracy() == 0.5);
  const auto per_class = cm.per_class_accuracy();
  CHECK(per_class[0] == 1.0);
  CHECK(per_class[1] == 0.0);
  CHECK(per_class[2] == 0.5);
  CHECK(cm.to_string({"a", "b", "c"}).find("2 c |   0   1   1") != std::string::npos);
  CHECK_THROWS_AS(cm.update(std::vector<std::size_t>{3}, std::vector<std::size_t>{0}), IndexError);
  CHECK_THROWS_AS(accuracy(logits, std::vector<std::size_t>{0}), ShapeError);
}

TEST_CASE("a short Fashion-MNIST run lowers the loss") {
  if (!fashion_mnist_available()) {
    MESSAGE("SKIPPED: Fashion-MNIST is not installed in " << fashion_mnist_dir.string()
            << " (apt-get install dataset-fashion-mnist)");
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  Dataset train = head(load_fashion_mnist(Split::train), 4000);
  Dataset test = head(load_fashion_mnist(Split::test), 2000);
  CHECK(train.inputs.shape() == Shape{4000, 28, 28});
  const auto [mean, std] = mean_std(train.inputs);
  standardize_(train.inputs, mean, std);
  standardize_(test.inputs, mean, std);

  Generator gen(0);
  nn::Sequential net{nn::Flatten(), nn::Linear(784, 128, gen), nn::ReLU(), nn::Linear(128, 10, gen)};
  optim::AdamW opt(net.parameters(), {.lr = 1e-3});
  DataLoader loader(train, {.batch_size = 64, .shuffle = true, .seed = 1});
  std::vector<double> losses;
  for (int epoch = 0; epoch < 2; ++epoch) {
    for (const Batch& b : loader) {
      Tensor loss = nn::CrossEntropyLoss()(net(b.inputs), b.targets);
      opt.zero_grad();
      loss.backward();
      opt.step();
      losses.push_back(loss.item());
    }
  }
  auto mean_of = [&](std::size_t first, std::size_t count) {
    double s = 0;
    for (std::size_t i = first; i < first + count; ++i) s += losses[i];
    return s / static_cast<double>(count);
  };
  const double early = mean_of(0, 10), late = mean_of(losses.size() - 20, 20);
  NoGradGuard no_grad;
  const double acc = nn::accuracy(net(test.inputs), test.targets);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE(fmt::format("Fashion-MNIST, 4000 images, {} steps: loss {:.3f} -> {:.3f}, test accuracy {:.3f} ({:.1f} s)",
                      losses.size(), early, late, acc, seconds));
  CHECK(losses.size() == 126);
  CHECK(late < 0.5 * early);
  CHECK(acc > 0.75);
}

// Issue 11: bytes after the gzip stream were ignored. More members and zero padding are gzip
// (`cat a.gz b.gz`, tape blocks), anything else is not.
TEST_CASE("garbage after a gzip stream is an error; further members and zero padding are not") {
  TempDir dir;
  const std::string bytes = idx({4, 3, 2});
  write_gz(dir / "one.gz", bytes);
  const std::string packed = matgrad::testing::read_file(dir / "one.gz");
  write_file(dir / "garbage.gz", packed + "trailing garbage");
  const std::string message = error_of([&] { read_idx(dir / "garbage.gz"); });
  CHECK(contains(message, (dir / "garbage.gz").string()));
  CHECK(contains(message, fmt::format("garbage after the gzip stream: byte 0x74 at offset {} of the "
                                      "file, after 40 bytes of data",
                                      packed.size())));
  write_file(dir / "zeros-then-garbage.gz", packed + std::string(7, '\0') + "x");
  CHECK(contains(error_of([&] { read_idx(dir / "zeros-then-garbage.gz"); }), "byte 0x78"));
  // A second member that is not gzip after all.
  write_file(dir / "bad-member.gz", packed + std::string("\x1f\x00 not a member", 15));
  CHECK(contains(error_of([&] { read_idx(dir / "bad-member.gz"); }), "corrupt gzip stream after 40 bytes of data"));

  write_gz(dir / "head.gz", bytes.substr(0, 10));
  write_gz(dir / "tail.gz", bytes.substr(10));
  write_file(dir / "members.gz", matgrad::testing::read_file(dir / "head.gz") +
                                     matgrad::testing::read_file(dir / "tail.gz"));
  write_file(dir / "padded.gz", packed + std::string(512, '\0'));
  for (const char* name : {"members.gz", "padded.gz"}) {
    INFO(name);
    const IdxArray a = read_idx(dir / name);
    CHECK(a.shape == Shape{4, 3, 2});
    CHECK(std::string(a.data.begin(), a.data.end()) == bytes.substr(16));
  }
}

TEST_CASE("read_idx and read_idx_dataset keep to max_bytes, checked from the headers") {
  TempDir dir;
  write_file(dir / "img", idx({10, 28, 28}));
  write_file(dir / "lab", idx_header({10}) + std::string(10, '\x01'));
  write_gz(dir / "img.gz", idx({10, 28, 28}));
  for (const char* name : {"img", "img.gz"}) {
    INFO(name);
    CHECK(read_idx(dir / name, 7840).data.size() == 7840);  // inclusive
    const std::string message = error_of([&] { read_idx(dir / name, 7839); });
    CHECK(contains(message, "the header declares shape [10, 28, 28], 7840 bytes of data, more than max_bytes = 7839"));
    // As float32 with 8-byte labels: 31,360 + 80 bytes.
    CHECK(read_idx_dataset(dir / name, dir / "lab", 10, 31440).size() == 10);
    CHECK(contains(error_of([&] { read_idx_dataset(dir / name, dir / "lab", 10, 31439); }),
                   "31360 bytes as float32 (and 80 for the labels), more than max_bytes = 31439"));
  }
  CHECK(default_max_load_bytes == std::size_t{2} << 30);
}

// A header that claims far more than its gzip file can expand to is refused before reading:
// deflate expands at most 1032-fold.
TEST_CASE("a gzip IDX header that claims more than the file can hold is refused unread") {
  TempDir dir;
  write_gz(dir / "liar.gz", idx_header({100000, 28, 28}) + std::string(100, '\0'));
  const auto size = std::filesystem::file_size(dir / "liar.gz");
  CHECK(contains(error_of([&] { read_idx(dir / "liar.gz"); }),
                 fmt::format("(78400000 bytes of data) but the file holds at most {} once "
                             "decompressed (gzip expands {} bytes at most 1032-fold)",
                             size * 1032, size)));
}
