// PyTorch's own sample inputs (tests/torch_samples.json.gz, written by scripts/torch-samples
// from torch's op_db) decoded for the comparison in test_torch_samples.cpp.
#pragma once

#include <matgrad/matgrad.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace matgrad::testing {

// Thrown by a mapping that cannot express a sample in matgrad (an argument matgrad lacks, or
// a documented departure from PyTorch); the test counts these per op and reason.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] inline void unsupported(const std::string& why) { throw Unsupported(why); }

class Sample;

// One argument as PyTorch passed it: a tensor, a number, a bool, a string, None or a list.
class Arg {
 public:
  Arg(const nlohmann::json* value, const Sample* sample) : value_(value), sample_(sample) {}

  bool is_none() const { return value_->is_null(); }
  bool is_tensor() const { return value_->is_object() && value_->contains("tensor"); }
  bool is_number() const;
  bool is_list() const { return value_->is_array(); }
  std::string kind() const;  // for messages
  std::string dtype() const;  // a tensor's torch dtype: "float64", "int64", "bool", ...

  // A float tensor (float64), the one created for this sample (so gradients refer to it);
  // a bool tensor as 0/1 float64 (matgrad has no bool dtype); an int64 tensor as float64 values.
  Tensor tensor() const;
  // An int64 tensor, an int or a list of ints, as indices (negative ones refused).
  std::vector<std::size_t> indices() const;
  Tensor index_tensor() const;  // an int64 tensor as an int64 Tensor, its shape kept
  double number() const;         // an int, a float or a 0-d float tensor
  std::int64_t integer() const;  // an int
  bool boolean() const;
  std::string string() const;
  std::vector<std::int64_t> ints() const;  // an int or a list of ints
  std::vector<Arg> list() const;
  std::vector<Tensor> tensors() const;  // a list of tensors

 private:
  const nlohmann::json* value_;
  const Sample* sample_;
};

class Sample {
 public:
  explicit Sample(const nlohmann::json& entry);

  Arg input() const { return {&entry_->at("input"), this}; }
  std::size_t args() const { return entry_->at("args").size(); }
  Arg arg(std::size_t i) const;  // unsupported() past the end
  bool has(const std::string& key) const { return entry_->at("kwargs").contains(key); }
  Arg kwarg(const std::string& key) const;  // None when absent
  // The positional argument i, else the keyword argument `key`, else None.
  Arg get(std::size_t i, const std::string& key) const;
  // Fails (unsupported) if the sample passes a keyword argument not listed.
  void only_kwargs(std::initializer_list<const char*> known) const;

  const std::vector<Tensor>& leaves() const { return leaves_; }  // requires grad, in torch's order
  const Tensor& decoded(const nlohmann::json* value) const;
  std::string describe() const;  // "input [3, 4], args (...), kwargs {...}"
  const nlohmann::json& entry() const { return *entry_; }

 private:
  void decode(const nlohmann::json& value);
  const nlohmann::json* entry_;
  std::vector<std::pair<const nlohmann::json*, Tensor>> tensors_;
  std::vector<Tensor> leaves_;
};

// A tensor from its JSON form ({"tensor": dtype, "shape": [...], "data": [...]}), as float64.
Tensor decode_tensor(const nlohmann::json& value);
nlohmann::json load_torch_samples(const std::string& path);

}  // namespace matgrad::testing
