// Checkpoints: .npy/.npz round trips (bitwise), optimiser state, and every loader error case
// on small bad files made here.
#include "nn_test_util.hpp"

#include <matgrad/nn.hpp>

#include <doctest/doctest.h>
#include <zip.h>

#include <cstring>
#include <functional>
#include <limits>

using namespace matgrad;
using namespace matgrad::nn;
using matgrad::testing::TempDir;

static std::string bytes_of(const Tensor& t) {
  return t.visit([](const auto& x) {
    return std::string(reinterpret_cast<const char*>(x.data()), x.size() * sizeof(x.data()[0]));
  });
}

static Sequential make_net(std::uint64_t seed, std::size_t hidden = 4) {
  Generator gen(seed);
  return Sequential{Linear(3, hidden, gen), ReLU(), Linear(hidden, 2, gen)};
}

// Writes an archive whose members are given as raw bytes, to make malformed checkpoints.
static void write_raw_npz(const std::filesystem::path& path,
                          const std::vector<std::pair<std::string, std::string>>& members) {
  int code = 0;
  zip_t* archive = zip_open(path.string().c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  REQUIRE(archive != nullptr);
  for (const auto& [name, bytes] : members) {
    zip_source_t* source = zip_source_buffer(archive, bytes.data(), bytes.size(), 0);
    REQUIRE(source != nullptr);
    REQUIRE(zip_file_add(archive, name.c_str(), source, ZIP_FL_ENC_UTF_8) >= 0);
  }
  REQUIRE(zip_close(archive) == 0);
}

static std::string npy_with_header(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
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
      {"Fortran-ordered arrays are not supported",
       npy_with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four_floats)},
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
