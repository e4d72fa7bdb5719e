// Checkpoints: .npy/.npz round trips (bitwise), optimiser state, and every loader error case
// on small bad files made here.
#include "nn_test_util.hpp"

#include <matgrad/nn.hpp>

#include <doctest/doctest.h>
#include <zip.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>

using namespace matgrad;
using namespace matgrad::nn;
using matgrad::testing::npy_with_header;
using matgrad::testing::TempDir;
using matgrad::testing::write_raw_npz;

static std::string bytes_of(const Tensor& t) {
  return t.visit([](const auto& x) {
    return std::string(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(x.data()[0]));
  });
}

static Sequential make_net(std::uint64_t seed, std::size_t hidden = 4) {
  Generator gen(seed);
  return Sequential{Linear(3, hidden, gen), ReLU(), Linear(hidden, 2, gen)};
}

static std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

static bool contains(const std::string& text, const std::string& part) {
  const bool found = text.find(part) != std::string::npos;
  if (!found) MESSAGE("'" << part << "' not in: " << text);
  return found;
}

TEST_CASE(".npy bytes follow NumPy's format 1.0") {
  const Tensor t = tensor({{1, 2, 3}, {4, 5, 6}});
  const std::string npy = to_npy(t);
  CHECK(npy.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t header_len = static_cast<unsigned char>(npy[8]) | static_cast<unsigned char>(npy[9]) << 8;
  CHECK((10 + header_len) % 64 == 0);
  const std::string header = npy.substr(10, header_len);
  CHECK(header.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
  CHECK(header.back() == '\n');
  CHECK(npy.size() == 10 + header_len + 6 * 4);
  CHECK(to_npy(tensor({1.0}, {.dtype = DType::float64})).find("'shape': (1,)") != std::string::npos);
  CHECK(to_npy(tensor(2.0)).find("'shape': ()") != std::string::npos);
  CHECK(bytes_of(from_npy(npy)) == bytes_of(t));
  CHECK(from_npy(npy).shape() == Shape{2, 3});
  // Big-endian data is swapped on load.
  const std::string be = npy_with_header("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }",
                                         std::string("\x3f\xf8\0\0\0\0\0\0", 8));
  CHECK(from_npy(be).item() == 1.5);
}

TEST_CASE("a checkpoint round trip is bitwise exact, special values included") {
  TempDir dir;
  Sequential net = make_net(1);
  {
    NoGradGuard no_grad;
    auto& w = net.parameters()[0].mutable_data<float>();
    w(0, 0) = std::numeric_limits<float>::quiet_NaN();
    w(0, 1) = -0.0f;
    w(0, 2) = std::numeric_limits<float>::infinity();
    w(1, 0) = std::numeric_limits<float>::denorm_min();
    w(1, 1) = std::numeric_limits<float>::max();
    std::uint32_t payload = 0x7fc12345;  // a NaN with a payload
    std::memcpy(&w(1, 2), &payload, 4);
  }
  const Tensor extra64 = tensor({0.1, 1e-300, -2.5}, {.dtype = DType::float64});
  save_checkpoint(dir / "net.npz", net, nullptr, {{"stats", extra64}});

  Sequential other = make_net(2);
  for (std::size_t i = 0; i < 4; ++i) CHECK(bytes_of(other.parameters()[i]) != bytes_of(net.parameters()[i]));
  const NamedTensors extras = load_checkpoint(dir / "net.npz", other);
  for (std::size_t i = 0; i < 4; ++i) CHECK(bytes_of(other.parameters()[i]) == bytes_of(net.parameters()[i]));
  REQUIRE(extras.size() == 1);
  CHECK(extras[0].first == "stats");
  CHECK(bytes_of(extras[0].second) == bytes_of(extra64));
  CHECK(extras[0].second.dtype() == DType::float64);
  // Loaded parameters are still trainable leaves, and their own storage.
  CHECK(other.parameters()[0].requires_grad());
  CHECK(other.parameters()[0].is_leaf());
  CHECK(other.parameters()[0].impl() != net.parameters()[0].impl());

  // Archive members, as numpy.load would list them.
  std::vector<std::string> names;
  for (const auto& [name, t] : load_npz(dir / "net.npz")) names.push_back(name);
  CHECK(names == std::vector<std::string>{"model/0.weight", "model/0.bias", "model/2.weight", "model/2.bias",
                                          "extra/stats"});
}

// Trains a few steps on a fixed batch; returns the net's parameters as bytes.
static std::vector<std::string> run_steps(Sequential& net, optim::Optimizer& opt, int steps) {
  const Tensor x = tensor({{0.5, -1, 2}, {1, 0.25, -0.5}, {-1, 1, 1}});
  const std::vector<std::size_t> y{0, 1, 1};
  for (int s = 0; s < steps; ++s) {
    Tensor loss = CrossEntropyLoss()(net(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  std::vector<std::string> out;
  for (const Tensor& p : net.parameters()) out.push_back(bytes_of(p));
  return out;
}

TEST_CASE("optimiser state round trips: a resumed run continues exactly") {
  TempDir dir;
  SUBCASE("AdamW") {
    Sequential a = make_net(3);
    optim::AdamW opt_a(a.parameters(), {.lr = 0.01, .amsgrad = true});
    run_steps(a, opt_a, 3);
    save_checkpoint(dir / "a.npz", a, &opt_a);
    const auto continued = run_steps(a, opt_a, 2);

    Sequential b = make_net(4);
    optim::AdamW opt_b(b.parameters(), {.lr = 0.5, .amsgrad = true});
    load_checkpoint(dir / "a.npz", b, &opt_b);
    CHECK(opt_b.lr() == 0.01);
    CHECK(run_steps(b, opt_b, 2) == continued);
  }
  SUBCASE("SGD with momentum") {
    Sequential a = make_net(3);
    optim::SGD opt_a(a.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    run_steps(a, opt_a, 3);
    save_checkpoint(dir / "s.npz", a, &opt_a);
    const auto continued = run_steps(a, opt_a, 2);

    Sequential b = make_net(4);
    optim::SGD opt_b(b.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    load_checkpoint(dir / "s.npz", b, &opt_b);
    CHECK(run_steps(b, opt_b, 2) == continued);

    // Without the momentum buffers the runs would differ: the check above can fail.
    Sequential c = make_net(4);
    optim::SGD opt_c(c.parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
    load_checkpoint(dir / "s.npz", c);
    CHECK(run_steps(c, opt_c, 2) != continued);
  }
}

TEST_CASE("loading into a module of other shapes names the parameter and changes nothing") {
  TempDir dir;
  Sequential small = make_net(1, 4);
  save_checkpoint(dir / "small.npz", small);
  Sequential big = make_net(2, 5);
  const std::string before = bytes_of(big.parameters()[0]);
  const std::string message = error_of([&] { load_checkpoint(dir / "small.npz", big); });
  CHECK(contains(message, "small.npz"));
  CHECK(contains(message, "parameter '0.weight' has shape [5, 3] in the module but [4, 3]"));
  CHECK(bytes_of(big.parameters()[0]) == before);
  CHECK_THROWS_AS(load_checkpoint(dir / "small.npz", big), CheckpointError);

  // A missing parameter, an unexpected one, a dtype mismatch.
  Generator gen(0);
  Sequential deeper{Linear(3, 4, gen), ReLU(), Linear(4, 2, gen), ReLU(), Linear(2, 2, gen)};
  CHECK(contains(error_of([&] { load_checkpoint(dir / "small.npz", deeper); }),
                 "missing parameter '4.weight' (shape [2, 2] in the module)"));
  Sequential no_bias{Linear(3, 4, gen), ReLU(), Linear(4, 2, gen, false)};
  CHECK(contains(error_of([&] { load_checkpoint(dir / "small.npz", no_bias); }), "unexpected parameter '2.bias'"));
  load_state_dict(no_bias, read_checkpoint(dir / "small.npz").model, /*strict=*/false);
  CHECK(bytes_of(no_bias.parameters()[2]) == bytes_of(small.parameters()[2]));
  Sequential f64{Linear(3, 4, gen, true, DType::float64), ReLU(), Linear(4, 2, gen)};
  CHECK(contains(error_of([&] { load_checkpoint(dir / "small.npz", f64); }),
                 "parameter '0.weight' is float64 in the module but float32"));
}

TEST_CASE("optimiser state errors: absent, of another optimiser, of other shapes") {
  TempDir dir;
  Sequential net = make_net(1);
  save_checkpoint(dir / "plain.npz", net);
  optim::Adam adam(net.parameters());
  CHECK(contains(error_of([&] { load_checkpoint(dir / "plain.npz", net, &adam); }), "holds no optimizer state"));

  optim::Adam trained(net.parameters(), {.lr = 0.01});
  run_steps(net, trained, 1);
  save_checkpoint(dir / "adam.npz", net, &trained);
  optim::SGD sgd(net.parameters(), {.lr = 0.1, .momentum = 0.9});
  CHECK(contains(error_of([&] { load_checkpoint(dir / "adam.npz", net, &sgd); }), "unexpected entry 'state.0.step'"));

  Sequential wider = make_net(1, 6);
  optim::Adam wide_adam(wider.parameters());
  // The model check fails first; with a matching model but mismatched state the state check names it.
  const NamedTensors state = read_checkpoint(dir / "adam.npz").optimizer;
  CHECK(contains(error_of([&] { wide_adam.load_state_dict(state, "adam.npz"); }),
                 "entry 'state.0.exp_avg' is float32 [4, 3] but parameter 0 is float32 [6, 3]"));
}

TEST_CASE("damaged archives raise CheckpointError naming the file and the fault") {
  TempDir dir;
  CHECK(contains(error_of([&] { load_npz(dir / "absent.npz"); }), "absent.npz: no such file"));

  matgrad::testing::write_file(dir / "garbage.npz", "this is not a zip archive at all");
  CHECK(contains(error_of([&] { load_npz(dir / "garbage.npz"); }), "not a readable .npz (zip) archive"));

  Sequential net = make_net(1);
  save_checkpoint(dir / "good.npz", net);
  const std::string good = matgrad::testing::read_file(dir / "good.npz");
  matgrad::testing::write_file(dir / "cut.npz", good.substr(0, good.size() / 2));
  CHECK_THROWS_AS(load_npz(dir / "cut.npz"), CheckpointError);

  // One flipped data byte: the stored member's CRC no longer matches.
  std::string flipped = good;
  const std::size_t data = flipped.find("\x93NUMPY") + 128 + 5;
  flipped[data] = static_cast<char>(flipped[data] ^ 0x40);
  matgrad::testing::write_file(dir / "flipped.npz", flipped);
  CHECK(contains(error_of([&] { load_npz(dir / "flipped.npz"); }), "is corrupt"));

  write_raw_npz(dir / "readme.npz", {{"README.txt", "hello"}});
  CHECK(contains(error_of([&] { load_npz(dir / "readme.npz"); }), "member 'README.txt' is not a .npy array"));

  write_raw_npz(dir / "other.npz", {{"weights/w.npy", to_npy(zeros({2}))}});
  CHECK(contains(error_of([&] { read_checkpoint(dir / "other.npz"); }), "unexpected member 'weights/w.npy'"));
}

TEST_CASE("malformed .npy members: each fault is named") {
  TempDir dir;
  const std::string four_floats(16, '\0');
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  const std::vector<std::pair<std::string, std::string>> cases{
      {"not a .npy array: it does not start with the magic", "not a numpy array"},
      {"unsupported .npy format version 9.0", std::string("\x93NUMPY\x09\x00\x10\x00", 10)},
      {"truncated .npy: the header declares 4096 bytes", std::string("\x93NUMPY\x01\x00\x00\x10{}", 12)},
      {"unsupported dtype '<i4'",
       npy_with_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", four_floats)},
      {"wrong data size: shape [2, 2] of float32 needs 16 bytes, the array holds 12",
       npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four_floats.substr(4))},
      {"the .npy header declares 100000 bytes, more than the 65536 read",
       std::string("\x93NUMPY\x02\x00\xa0\x86\x01\x00", 12) + std::string(100000, ' ')},
      {"wrong data size: shape [2, 2] of float32 needs 16 bytes, the array holds 15",
       npy_with_header(ok_dict, four_floats.substr(1))},
      {"wrong data size: shape [2, 2] of float32 needs 16 bytes, the array holds 17",
       npy_with_header(ok_dict, four_floats + "x")},
      {"is too large (its byte size overflows)",
       npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "")},
      {"a dimension does not fit in 64 bits",
       npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", "")},
      {"missing key 'shape'", npy_with_header("{'descr': '<f4', 'fortran_order': False, }", four_floats)},
      {"unexpected key 'extra'",
       npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'extra': 1}", four_floats)},
      {"expected ',' or ')' in the shape",
       npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2; 2), }", four_floats)},
      {"unterminated string", npy_with_header("{'descr: <f4}", four_floats)},
  };
  for (const auto& [expected, bytes] : cases) {
    INFO(expected);
    CHECK(contains(error_of([&] { from_npy(bytes, "m.npy"); }), expected));
    // The same bytes inside an archive: the message names the file and the member.
    write_raw_npz(dir / "bad.npz", {{"model/w.npy", bytes}});
    const std::string message = error_of([&] { load_npz(dir / "bad.npz"); });
    CHECK(contains(message, "bad.npz: member 'model/w.npy'"));
    CHECK(contains(message, expected));
  }
}

TEST_CASE("save_npz refuses duplicate and empty names and unwritable paths") {
  TempDir dir;
  CHECK_THROWS_AS(save_npz(dir / "d.npz", {{"a", zeros({1})}, {"a", zeros({1})}}), CheckpointError);
  CHECK_THROWS_AS(save_npz(dir / "e.npz", {{"", zeros({1})}}), CheckpointError);
  CHECK(contains(error_of([&] { save_npz(dir / "no" / "such" / "dir.npz", {{"a", zeros({1})}}); }), "dir.npz"));
}

// Issue 11: `np.savez(f, w=W.T)` writes W.T in Fortran order (its memory is W's, read by
// columns); matgrad refused it. The bytes below are what NumPy writes for W.T, built by hand.
static std::string fortran_npy(const std::string& descr, const std::string& shape,
                               const std::string& data) {
  return npy_with_header("{'descr': '" + descr + "', 'fortran_order': True, 'shape': " + shape + ", }", data);
}

template <class T>
static std::string raw_bytes(std::initializer_list<T> values, bool big_endian = false) {
  std::string out;
  for (T v : values) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if (big_endian) std::reverse(b, b + sizeof(T));
    out.append(b, sizeof(T));
  }
  return out;
}

TEST_CASE("Fortran-ordered arrays load in C order with the same values") {
  // W.T for W = [[1, 2, 3], [4, 5, 6]]: shape (3, 2), Fortran order, so its bytes are W's.
  const Tensor wt = from_npy(fortran_npy("<f8", "(3, 2)", raw_bytes<double>({1, 2, 3, 4, 5, 6})));
  CHECK(wt.shape() == Shape{3, 2});
  CHECK(wt.data<double>() == xt::xarray<double>{{1, 4}, {2, 5}, {3, 6}});
  // Three dims, big-endian float32: element [i, j, k] is at i + 2 j + 6 k.
  std::vector<float> column_major(24);
  for (std::size_t n = 0; n < 24; ++n) column_major[n] = static_cast<float>(n);
  std::string be;
  for (float v : column_major) be += raw_bytes<float>({v}, true);
  const Tensor c = from_npy(fortran_npy(">f4", "(2, 3, 4)", be));
  REQUIRE(c.shape() == Shape{2, 3, 4});
  const auto& x = c.data<float>();
  bool all = true;
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      for (std::size_t k = 0; k < 4; ++k) all = all && x(i, j, k) == static_cast<float>(i + 2 * j + 6 * k);
    }
  }
  CHECK(all);
  // One dimension or none: the same bytes either way.
  CHECK(from_npy(fortran_npy("<f4", "(3,)", raw_bytes<float>({1, 2, 3}))).data<float>() ==
        xt::xarray<float>{1, 2, 3});
  CHECK(from_npy(fortran_npy("<f8", "()", raw_bytes<double>({7}))).item() == 7.0);
  CHECK(from_npy(fortran_npy("<f8", "(0, 3)", "")).shape() == Shape{0, 3});
  // Inside an archive, as np.savez(f, w=W.T) writes it; a later C-order save round trips.
  TempDir dir;
  write_raw_npz(dir / "savez.npz", {{"w.npy", fortran_npy("<f8", "(3, 2)", raw_bytes<double>({1, 2, 3, 4, 5, 6}))}});
  const NamedTensors loaded = load_npz(dir / "savez.npz");
  REQUIRE(loaded.size() == 1);
  CHECK(loaded[0].first == "w");
  CHECK(loaded[0].second.data<double>() == xt::xarray<double>{{1, 4}, {2, 5}, {3, 6}});
  save_npz(dir / "again.npz", loaded);
  CHECK(bytes_of(load_npz(dir / "again.npz")[0].second) == bytes_of(loaded[0].second));
}

// Issue 11: saving or loading a zero-size tensor passed a null pointer to memcpy (UBSan).
TEST_CASE("zero-size tensors save and load") {
  TempDir dir;
  const NamedTensors empty{{"a", zeros({0})},
                           {"b", zeros({2, 0, 3}, {.dtype = DType::float64})},
                           {"c", zeros({0, 0})}};
  save_npz(dir / "empty.npz", empty);
  const NamedTensors loaded = load_npz(dir / "empty.npz");
  REQUIRE(loaded.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(loaded[i].first == empty[i].first);
    CHECK(loaded[i].second.shape() == empty[i].second.shape());
    CHECK(loaded[i].second.dtype() == empty[i].second.dtype());
  }
  CHECK(from_npy(to_npy(zeros({0, 5}))).shape() == Shape{0, 5});
}

TEST_CASE("an npz bomb is refused from the member's header") {
  TempDir dir;
  write_raw_npz(dir / "bomb.npz", {{"w.npy", matgrad::testing::npz_bomb_member(std::size_t{4} << 20)}}, true);
  CHECK(std::filesystem::file_size(dir / "bomb.npz") < 32 * 1024);
  CHECK(contains(error_of([&] { load_npz(dir / "bomb.npz"); }),
                 "bomb.npz: member 'w.npy': wrong data size: shape [1] of float64 needs 8 bytes, "
                 "the array holds 4194304"));
  // A deflated member that is what it says loads.
  write_raw_npz(dir / "fine.npz", {{"w.npy", to_npy(ones({300, 300}))}}, true);
  CHECK(load_npz(dir / "fine.npz")[0].second.shape() == Shape{300, 300});
}

TEST_CASE("load_npz, read_checkpoint and load_checkpoint keep to max_bytes") {
  TempDir dir;
  save_npz(dir / "two.npz", {{"a", ones({100})}, {"b", ones({10, 10}, {.dtype = DType::float64})}});
  CHECK(load_npz(dir / "two.npz", 1200).size() == 2);  // 400 + 800 bytes: within, inclusive
  const std::string message = error_of([&] { load_npz(dir / "two.npz", 1199); });
  CHECK(contains(message, "two.npz: member 'b.npy' of shape [10, 10] takes 800 bytes, which with the 400"));
  CHECK(contains(message, "max_bytes = 1199"));
  Sequential net = make_net(1);  // 3×4 + 4 + 4×2 + 2 = 26 floats, 104 bytes
  save_checkpoint(dir / "net.npz", net);
  CHECK(contains(error_of([&] { read_checkpoint(dir / "net.npz", 100); }), "max_bytes = 100"));
  CHECK(contains(error_of([&] { load_checkpoint(dir / "net.npz", net, nullptr, 100); }), "max_bytes = 100"));
  CHECK(read_checkpoint(dir / "net.npz", 104).model.size() == 4);
}

// Issue 11: these surfaced libzip's "File already exists" and "Operation not supported".
TEST_CASE("a duplicate member, or a directory for a file, is named as such") {
  TempDir dir;
  // libzip will not write two members of one name: write "a" and "b", then rename b to a.
  write_raw_npz(dir / "twice.npz", {{"model/a.npy", to_npy(zeros({2}))}, {"model/b.npy", to_npy(ones({2}))}});
  std::string bytes = matgrad::testing::read_file(dir / "twice.npz");
  for (std::size_t at = bytes.find("model/b.npy"); at != std::string::npos; at = bytes.find("model/b.npy")) {
    bytes[at + 6] = 'a';
  }
  matgrad::testing::write_file(dir / "twice.npz", bytes);
  const std::string twice = error_of([&] { load_npz(dir / "twice.npz"); });
  CHECK(contains(twice, "twice.npz: member 'model/a.npy' appears twice"));
  CHECK(twice.find("already exists") == std::string::npos);

  std::filesystem::create_directories(dir / "out.npz");
  const std::string saved = error_of([&] { save_npz(dir / "out.npz", {{"a", zeros({1})}}); });
  CHECK(contains(saved, (dir / "out.npz").string() + ": is a directory"));
  CHECK(saved.find("not supported") == std::string::npos);
  CHECK(contains(error_of([&] { save_checkpoint(dir / "out.npz", make_net(1)); }), "is a directory"));
  CHECK(contains(error_of([&] { load_npz(dir / "out.npz"); }), "out.npz: is a directory"));
  CHECK(contains(error_of([&] { save_npz(dir / "no" / "such" / "dir.npz", {{"a", zeros({1})}}); }),
                 "the directory " + (dir / "no" / "such").string() + " does not exist"));
}

TEST_CASE("BatchNorm1d's running statistics are saved and loaded with the parameters") {
  TempDir dir;
  Generator gen(3);
  Sequential net{Linear(3, 4, gen), BatchNorm1d(4), ReLU()};
  const Tensor x = tensor({{0.5, -1, 2}, {1, 0.25, -0.5}, {-1, 1, 1}});
  net(x);
  net(x * 2.0);
  auto* bn = net[1].get<BatchNorm1d>();
  REQUIRE(bn != nullptr);
  CHECK(bn->num_batches_tracked.item<std::int64_t>() == 2);
  save_checkpoint(dir / "bn.npz", net);
  std::vector<std::string> names;
  for (const auto& [name, t] : load_npz(dir / "bn.npz")) names.push_back(name);
  CHECK(names == std::vector<std::string>{"model/0.weight", "model/0.bias", "model/1.weight", "model/1.bias",
                                          "model/1.running_mean", "model/1.running_var",
                                          "model/1.num_batches_tracked"});
  Generator other_gen(4);
  Sequential other{Linear(3, 4, other_gen), BatchNorm1d(4), ReLU()};
  load_checkpoint(dir / "bn.npz", other);
  auto* loaded = other[1].get<BatchNorm1d>();
  CHECK(bytes_of(loaded->running_mean) == bytes_of(bn->running_mean));
  CHECK(bytes_of(loaded->running_var) == bytes_of(bn->running_var));
  CHECK(loaded->num_batches_tracked.item<std::int64_t>() == 2);
  net.eval();
  other.eval();
  CHECK(bytes_of(other(x)) == bytes_of(net(x)));
  // A checkpoint without the buffers is refused (strict), naming the missing entry.
  save_checkpoint(dir / "params.npz", net.named_parameters());
  CHECK(contains(error_of([&] { load_checkpoint(dir / "params.npz", other); }), "running_mean"));
}
