// Decoding of tests/torch_samples.json.gz (see torch_samples.hpp).
#include "torch_samples.hpp"

#include <zlib.h>

#include <cmath>
#include <limits>

namespace matgrad::testing {

using nlohmann::json;

namespace {

double decode_number(const json& v) {
  if (v.is_string()) {  // JSON has no NaN or infinities: the generator writes them as strings
    const std::string s = v.get<std::string>();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    throw std::runtime_error("torch samples: bad number " + s);
  }
  return v.get<double>();
}

std::string describe(const json& v) {
  if (v.is_object() && v.contains("tensor")) {
    Shape shape;
    for (const auto& d : v.at("shape")) shape.push_back(d.get<std::size_t>());
    const std::string dtype = v.at("tensor").get<std::string>();
    return to_string(shape) + (dtype == "float64" ? "" : " " + dtype);
  }
  if (v.is_object() && v.contains("float")) return v.at("float").dump();
  if (v.is_array()) {
    std::string text = "[";
    for (std::size_t i = 0; i < v.size(); ++i) text += (i ? ", " : "") + describe(v[i]);
    return text + "]";
  }
  return v.dump();
}

}  // namespace

Tensor decode_tensor(const json& value) {
  Shape shape;
  for (const auto& d : value.at("shape")) shape.push_back(d.get<std::size_t>());
  Tensor t = zeros(shape, {.dtype = DType::float64});
  auto& x = t.mutable_data<double>();
  const json& data = value.at("data");
  if (data.size() != x.size()) throw std::runtime_error("torch samples: data does not fit the shape");
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = decode_number(data[i]);
  return t;
}

json load_torch_samples(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw std::runtime_error("cannot open " + path);
  std::string text;
  char buffer[1 << 16];
  int n;
  while ((n = gzread(file, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  gzclose(file);
  if (n < 0) throw std::runtime_error("cannot read " + path);
  return json::parse(text);
}

// ---- Sample ----

Sample::Sample(const json& entry) : entry_(&entry) {
  // The same order as the generator's list of differentiable tensors: input, args, kwargs.
  decode(entry.at("input"));
  for (const auto& a : entry.at("args")) decode(a);
  for (const auto& [key, v] : entry.at("kwargs").items()) decode(v);
}

void Sample::decode(const json& value) {
  if (value.is_array()) {
    for (const auto& v : value) decode(v);
    return;
  }
  if (!value.is_object() || !value.contains("tensor")) return;
  Tensor t = decode_tensor(value);
  if (value.value("requires_grad", false)) {
    t.requires_grad_(true);
    leaves_.push_back(t);
  }
  tensors_.emplace_back(&value, t);
}

const Tensor& Sample::decoded(const json* value) const {
  for (const auto& [v, t] : tensors_) {
    if (v == value) return t;
  }
  throw std::runtime_error("torch samples: not a tensor of this sample");
}

Arg Sample::arg(std::size_t i) const {
  if (i >= args()) unsupported("fewer arguments than the mapping expects");
  return {&entry_->at("args")[i], this};
}

Arg Sample::kwarg(const std::string& key) const {
  static const json none = nullptr;
  const json& kwargs = entry_->at("kwargs");
  return {kwargs.contains(key) ? &kwargs.at(key) : &none, this};
}

Arg Sample::get(std::size_t i, const std::string& key) const {
  return i < args() ? arg(i) : kwarg(key);
}

void Sample::only_kwargs(std::initializer_list<const char*> known) const {
  for (const auto& [key, v] : entry_->at("kwargs").items()) {
    bool found = false;
    for (const char* k : known) found = found || key == k;
    if (!found) unsupported("keyword argument '" + key + "'");
  }
}

std::string Sample::describe() const {
  std::string text = "input " + testing::describe(entry_->at("input"));
  if (args() > 0) text += ", args " + testing::describe(entry_->at("args"));
  if (!entry_->at("kwargs").empty()) {
    text += ", kwargs {";
    bool first = true;
    for (const auto& [key, v] : entry_->at("kwargs").items()) {
      text += (first ? "" : ", ") + key + ": " + testing::describe(v);
      first = false;
    }
    text += "}";
  }
  return text;
}

// ---- Arg ----

bool Arg::is_number() const {
  return value_->is_number() || (value_->is_object() && value_->contains("float"));
}

std::string Arg::kind() const { return describe(*value_); }

std::string Arg::dtype() const {
  if (!is_tensor()) unsupported("expected a tensor, got " + kind());
  return value_->at("tensor").get<std::string>();
}

Tensor Arg::tensor() const {
  if (!is_tensor()) unsupported("expected a tensor, got " + kind());
  return sample_->decoded(value_);
}

std::vector<std::size_t> Arg::indices() const {
  std::vector<std::int64_t> values;
  if (is_tensor()) {
    if (value_->at("tensor") != "int64") unsupported("indices of dtype " + value_->at("tensor").get<std::string>());
    for (const auto& v : value_->at("data")) values.push_back(v.get<std::int64_t>());
  } else {
    values = ints();
  }
  std::vector<std::size_t> out;
  for (std::int64_t v : values) {
    if (v < 0) unsupported("negative index");
    out.push_back(static_cast<std::size_t>(v));
  }
  return out;
}

Tensor Arg::index_tensor() const {
  if (!is_tensor()) unsupported("expected an int64 tensor, got " + kind());
  if (value_->at("tensor") != "int64") unsupported("indices of dtype " + value_->at("tensor").get<std::string>());
  Shape shape;
  for (const auto& d : value_->at("shape")) shape.push_back(d.get<std::size_t>());
  Tensor t = zeros(shape, {.dtype = DType::int64});
  auto& x = t.mutable_data<std::int64_t>();
  const auto& data = value_->at("data");
  if (data.size() != x.size()) throw std::runtime_error("torch samples: data does not fit the shape");
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = data[i].get<std::int64_t>();
  return t;
}

double Arg::number() const {
  if (value_->is_object() && value_->contains("float")) return decode_number(value_->at("float"));
  if (value_->is_number()) return value_->get<double>();
  if (is_tensor() && value_->at("shape").empty()) return decode_number(value_->at("data")[0]);
  unsupported("expected a number, got " + kind());
}

std::int64_t Arg::integer() const {
  if (!value_->is_number_integer()) unsupported("expected an int, got " + kind());
  return value_->get<std::int64_t>();
}

bool Arg::boolean() const {
  if (!value_->is_boolean()) unsupported("expected a bool, got " + kind());
  return value_->get<bool>();
}

std::string Arg::string() const {
  if (!value_->is_string()) unsupported("expected a string, got " + kind());
  return value_->get<std::string>();
}

std::vector<std::int64_t> Arg::ints() const {
  if (value_->is_number_integer()) return {value_->get<std::int64_t>()};
  if (!value_->is_array()) unsupported("expected ints, got " + kind());
  std::vector<std::int64_t> out;
  for (const auto& v : *value_) {
    if (!v.is_number_integer()) unsupported("expected ints, got " + kind());
    out.push_back(v.get<std::int64_t>());
  }
  return out;
}

std::vector<Arg> Arg::list() const {
  if (!value_->is_array()) unsupported("expected a list, got " + kind());
  std::vector<Arg> out;
  for (const auto& v : *value_) out.emplace_back(&v, sample_);
  return out;
}

std::vector<Tensor> Arg::tensors() const {
  std::vector<Tensor> out;
  for (const Arg& a : list()) out.push_back(a.tensor());
  return out;
}

}  // namespace matgrad::testing
