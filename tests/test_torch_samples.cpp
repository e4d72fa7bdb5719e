// matgrad against PyTorch on PyTorch's own sample inputs: every sample torch's op_db generates
// for an op (tests/torch_samples.json.gz, written by scripts/torch-samples with torch 1.13)
// runs through the matgrad op it maps to below, and the outputs and the VJP (the gradient of
// sum(out ⊙ R) for the cotangent R torch used) must agree with torch's. A sample matgrad
// cannot express (an argument it lacks, a documented departure) is counted, with the reason,
// in the coverage table the test prints; adding an op is one row here.
#include "torch_samples.hpp"

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <type_traits>

using namespace matgrad;
using namespace matgrad::testing;
using nlohmann::json;

namespace {

using Outputs = std::vector<Tensor>;
using Mapping = std::function<Outputs(const Sample&)>;

Reduction reduction_of(const Sample& s, std::size_t position) {
  const Arg r = s.get(position, "reduction");
  if (r.is_none()) return Reduction::mean;
  const std::string name = r.string();
  if (name == "mean") return Reduction::mean;
  if (name == "sum") return Reduction::sum;
  if (name == "none") return Reduction::none;
  if (name == "batchmean") return Reduction::batchmean;
  unsupported("reduction '" + name + "'");
}

// A tensor operand that torch also accepts as a Python number.
Tensor operand(const Arg& a, const Tensor& like) {
  return a.is_tensor() ? a.tensor() : full_like(scalar_like(like, 0.0), a.number());
}

// torch's bool results (all, any) are compared as 0/1 with matgrad's int64 ones.

Shape shape_of(const Sample& s, std::size_t from) {
  // torch takes a shape as one list or as several ints.
  std::vector<std::int64_t> dims;
  if (s.args() == from + 1 && s.arg(from).is_list()) {
    dims = s.arg(from).ints();
  } else {
    for (std::size_t i = from; i < s.args(); ++i) dims.push_back(s.arg(i).integer());
  }
  Shape shape;
  for (auto d : dims) {
    if (d < 0) unsupported("-1 in a shape");
    shape.push_back(static_cast<std::size_t>(d));
  }
  return shape;
}

template <class F>
Mapping unary(F f) {
  return [f](const Sample& s) -> Outputs {
    s.only_kwargs({});
    return {f(s.input().tensor())};
  };
}

// add/sub/mul/div with a tensor or a number as the second operand.
template <class F>
Mapping binary(F f) {
  return [f](const Sample& s) -> Outputs {
    s.only_kwargs({});
    const Tensor a = s.input().tensor();
    return {f(a, operand(s.arg(0), a))};
  };
}

// add, sub and rsub with torch's alpha (1 when absent).
template <class F>
Mapping with_alpha(F f) {
  return [f](const Sample& s) -> Outputs {
    s.only_kwargs({"alpha"});
    const Tensor a = s.input().tensor();
    const Arg alpha = s.get(1, "alpha");
    return {f(a, operand(s.arg(0), a), alpha.is_none() ? 1.0 : alpha.number())};
  };
}

// div with rounding_mode "trunc" or "floor", as the sample's keyword names it.
Mapping rounding_div(const char* mode) {
  return [mode](const Sample& s) -> Outputs {
    s.only_kwargs({"rounding_mode"});
    if (s.get(1, "rounding_mode").string() != mode) unsupported("another rounding mode");
    const Tensor a = s.input().tensor();
    return {div(a, operand(s.arg(0), a), mode)};
  };
}

// A dim argument: None (every dim), an int, or a list of ints (an empty one: every dim).
DimList dims_of(const Arg& a) {
  if (a.is_none()) return {};
  const auto dims = a.ints();
  return std::vector<std::ptrdiff_t>(dims.begin(), dims.end());
}

bool flag(const Arg& a) { return !a.is_none() && a.boolean(); }

// torch.nn.functional.pad(input, pad, mode, value) for one mode.
Mapping padding(const char* mode) {
  return [mode](const Sample& s) -> Outputs {
    s.only_kwargs({"mode", "value"});
    const auto p = s.arg(0).ints();
    const Arg m = s.get(1, "mode"), value = s.get(2, "value");
    if (!m.is_none() && m.string() != mode) unsupported("another mode");
    return {pad(s.input().tensor(), std::vector<std::ptrdiff_t>(p.begin(), p.end()), mode,
                value.is_none() ? 0.0 : value.number())};
  };
}

// linalg.cross(input, other, dim) (dim -1 when absent), or torch.cross whose absent dim is the
// first of size 3.
Mapping crossing(std::optional<std::ptrdiff_t> default_dim) {
  return [default_dim](const Sample& s) -> Outputs {
    s.only_kwargs({"dim"});
    const Tensor a = s.input().tensor(), b = s.arg(0).tensor();
    const Arg dim = s.get(1, "dim");
    std::ptrdiff_t d = default_dim.value_or(0);
    if (!dim.is_none()) {
      d = dim.integer();
    } else if (!default_dim) {
      while (static_cast<std::size_t>(d) < a.dim() && a.shape()[static_cast<std::size_t>(d)] != 3) ++d;
    }
    return {cross(a, b, d)};
  };
}

// sum, mean, amax, amin, prod: reduce(input, dim, keepdim).
template <class Reduce>
Mapping reduction(Reduce reduce) {
  return [reduce](const Sample& s) -> Outputs {
    s.only_kwargs({"dim", "keepdim"});
    return {reduce(s.input().tensor(), dims_of(s.get(0, "dim")), flag(s.get(1, "keepdim")))};
  };
}

// var, std, var_mean, std_mean: (input, dim, unbiased or correction, keepdim).
template <class Statistic>
Mapping statistic(Statistic statistic) {
  return [statistic](const Sample& s) -> Outputs {
    s.only_kwargs({"dim", "unbiased", "correction", "keepdim"});
    const Arg unbiased = s.kwarg("unbiased"), correction = s.kwarg("correction");
    const double c = !correction.is_none() ? correction.number() : unbiased.is_none() || unbiased.boolean() ? 1 : 0;
    return statistic(s.input().tensor(), dims_of(s.get(0, "dim")), c, flag(s.kwarg("keepdim")));
  };
}

// cumsum, cumprod, logcumsumexp: scan(input, dim).
template <class Scan>
Mapping scan(Scan scan) {
  return [scan](const Sample& s) -> Outputs {
    s.only_kwargs({"dim"});
    return {scan(s.input().tensor(), static_cast<std::ptrdiff_t>(s.get(0, "dim").integer()))};
  };
}

Mapping extremum(bool is_max) {
  return [is_max](const Sample& s) -> Outputs {
    s.only_kwargs({});
    const Tensor a = s.input().tensor();
    const auto dim = static_cast<std::ptrdiff_t>(s.arg(0).integer());
    const Arg keep = s.get(1, "keepdim");
    const bool keepdim = !keep.is_none() && keep.boolean();
    const ValuesIndices r = is_max ? max(a, dim, keepdim) : min(a, dim, keepdim);
    return {r.values, r.indices};
  };
}

Mapping arg_extremum(bool is_max) {
  return [is_max](const Sample& s) -> Outputs {
    s.only_kwargs({"dim", "keepdim"});
    const Tensor a = s.input().tensor();
    const Arg dim = s.get(0, "dim");
    const Arg keep = s.get(1, "keepdim");
    const bool keepdim = !keep.is_none() && keep.boolean();
    std::optional<std::ptrdiff_t> d;
    if (!dim.is_none()) d = static_cast<std::ptrdiff_t>(dim.integer());
    return {is_max ? argmax(a, d, keepdim) : argmin(a, d, keepdim)};
  };
}

// all, any and count_nonzero: every element, or one dim, or several for count_nonzero (which
// has no keepdim).
template <class All, class Dim>
Mapping truth_reduction(All all_of, Dim along, bool has_keepdim) {
  return [=](const Sample& s) -> Outputs {
    if (has_keepdim) {
      s.only_kwargs({"dim", "keepdim"});
    } else {
      s.only_kwargs({"dim"});
    }
    const Tensor a = s.input().tensor();
    const Arg dim = s.get(0, "dim");
    const bool keepdim = has_keepdim && !s.get(1, "keepdim").is_none() && s.get(1, "keepdim").boolean();
    if (dim.is_none()) return {all_of(a)};
    if (dim.is_list()) {
      const auto dims = dim.ints();
      if (dims.empty()) return {all_of(a)};
      if (dims.size() != 1) {
        // count_nonzero takes several dims; all and any take one (torch 1.13's too).
        if constexpr (std::is_invocable_v<Dim, const Tensor&, const DimList&, bool>) {
          return {along(a, dims_of(dim), keepdim)};
        } else {
          unsupported(fmt::format("a reduction over {} dims", dims.size()));
        }
      }
      return {along(a, dims[0], keepdim)};
    }
    return {along(a, dim.integer(), keepdim)};
  };
}

Mapping scatter_reduction(ScatterReduce reduce) {
  return [reduce](const Sample& s) -> Outputs {
    s.only_kwargs({"include_self"});
    const Arg self = s.kwarg("include_self");
    return {scatter_reduce(s.input().tensor(), s.arg(0).integer(), s.arg(1).index_tensor(), s.arg(2).tensor(),
                           reduce, self.is_none() || self.boolean())};
  };
}

// A matrix or a batch of them (the LU-based matrix functions are batched).
Tensor matrix(const Sample& s) { return s.input().tensor(); }

const std::map<std::string, Mapping>& mappings() {
  static const std::map<std::string, Mapping> table = {
      // ---- arithmetic ----
      {"add", with_alpha([](const Tensor& a, const Tensor& b, double alpha) { return add(a, b, alpha); })},
      {"sub", with_alpha([](const Tensor& a, const Tensor& b, double alpha) { return sub(a, b, alpha); })},
      // rsub(input, other, alpha) = other − alpha · input.
      {"rsub", with_alpha([](const Tensor& a, const Tensor& b, double alpha) { return sub(b, a, alpha); })},
      {"mul", binary([](const Tensor& a, const Tensor& b) { return a * b; })},
      {"div.no_rounding_mode", binary([](const Tensor& a, const Tensor& b) { return a / b; })},
      {"true_divide", binary([](const Tensor& a, const Tensor& b) { return a / b; })},
      {"neg", unary([](const Tensor& a) { return -a; })},

      // ---- elementwise ----
      {"exp", unary([](const Tensor& a) { return exp(a); })},
      {"log", unary([](const Tensor& a) { return log(a); })},
      {"sqrt", unary([](const Tensor& a) { return sqrt(a); })},
      {"square", unary([](const Tensor& a) { return square(a); })},
      {"abs", unary([](const Tensor& a) { return abs(a); })},
      {"tanh", unary([](const Tensor& a) { return tanh(a); })},
      {"sigmoid", unary([](const Tensor& a) { return sigmoid(a); })},
      {"sign", unary([](const Tensor& a) { return sign(a); })},
      {"nn.functional.relu", unary([](const Tensor& a) { return relu(a); })},
      {"pow",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         if (s.arg(0).is_tensor()) return {pow(s.input().tensor(), s.arg(0).tensor())};
         return {pow(s.input().tensor(), s.arg(0).number())};
       }},
      {"nn.functional.leaky_relu",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"negative_slope"});
         const Arg slope = s.get(0, "negative_slope");
         return {leaky_relu(s.input().tensor(), slope.is_none() ? 0.01 : slope.number())};
       }},
      {"nn.functional.softplus",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"beta", "threshold"});
         const Arg beta = s.get(0, "beta"), threshold = s.get(1, "threshold");
         return {softplus(s.input().tensor(), beta.is_none() ? 1.0 : beta.number(),
                          threshold.is_none() ? 20.0 : threshold.number())};
       }},
      {"clamp",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"min", "max"});
         const Arg lo = s.get(0, "min"), hi = s.get(1, "max");
         if (lo.is_tensor() || hi.is_tensor()) {
           const Tensor a = s.input().tensor();
           return {clamp(a, lo.is_none() ? Tensor() : operand(lo, a), hi.is_none() ? Tensor() : operand(hi, a))};
         }
         return {clamp(s.input().tensor(), lo.is_none() ? std::nullopt : std::optional(lo.number()),
                       hi.is_none() ? std::nullopt : std::optional(hi.number()))};
       }},
      {"clamp_min",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         if (s.arg(0).is_tensor()) return {clamp(s.input().tensor(), s.arg(0).tensor(), Tensor())};
         return {clamp(s.input().tensor(), s.arg(0).number(), std::nullopt)};
       }},
      {"clamp_max",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         if (s.arg(0).is_tensor()) return {clamp(s.input().tensor(), Tensor(), s.arg(0).tensor())};
         return {clamp(s.input().tensor(), std::nullopt, s.arg(0).number())};
       }},
      // torch.where(condition, self, other), with self as the sample's input.
      {"where",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const Tensor a = s.input().tensor();
         return {where(s.arg(0).tensor(), a, operand(s.arg(1), a))};
       }},
      {"gt", binary([](const Tensor& a, const Tensor& b) { return gt(a, b); })},
      {"ge", binary([](const Tensor& a, const Tensor& b) { return ge(a, b); })},
      {"lt", binary([](const Tensor& a, const Tensor& b) { return lt(a, b); })},
      {"le", binary([](const Tensor& a, const Tensor& b) { return le(a, b); })},
      {"eq", binary([](const Tensor& a, const Tensor& b) { return eq(a, b); })},

      // ---- more elementwise functions, binary ops and rounding (issue 14) ----
      {"sin", unary([](const Tensor& a) { return sin(a); })},
      {"cos", unary([](const Tensor& a) { return cos(a); })},
      {"tan", unary([](const Tensor& a) { return tan(a); })},
      {"asin", unary([](const Tensor& a) { return asin(a); })},
      {"acos", unary([](const Tensor& a) { return acos(a); })},
      {"atan", unary([](const Tensor& a) { return atan(a); })},
      {"sinh", unary([](const Tensor& a) { return sinh(a); })},
      {"cosh", unary([](const Tensor& a) { return cosh(a); })},
      {"asinh", unary([](const Tensor& a) { return asinh(a); })},
      {"acosh", unary([](const Tensor& a) { return acosh(a); })},
      {"atanh", unary([](const Tensor& a) { return atanh(a); })},
      {"log1p", unary([](const Tensor& a) { return log1p(a); })},
      {"expm1", unary([](const Tensor& a) { return expm1(a); })},
      {"log2", unary([](const Tensor& a) { return log2(a); })},
      {"log10", unary([](const Tensor& a) { return log10(a); })},
      {"exp2", unary([](const Tensor& a) { return exp2(a); })},
      {"rsqrt", unary([](const Tensor& a) { return rsqrt(a); })},
      {"reciprocal", unary([](const Tensor& a) { return reciprocal(a); })},
      {"erf", unary([](const Tensor& a) { return erf(a); })},
      {"erfc", unary([](const Tensor& a) { return erfc(a); })},
      {"erfinv", unary([](const Tensor& a) { return erfinv(a); })},
      {"lgamma", unary([](const Tensor& a) { return lgamma(a); })},
      {"digamma", unary([](const Tensor& a) { return digamma(a); })},
      {"xlogy", binary([](const Tensor& a, const Tensor& b) { return xlogy(a, b); })},
      {"nn.functional.gelu",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"approximate"});
         const Arg approximate = s.get(0, "approximate");
         return {gelu(s.input().tensor(), approximate.is_none() ? "none" : approximate.string())};
       }},
      {"nn.functional.silu", unary([](const Tensor& a) { return silu(a); })},
      {"nn.functional.elu",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"alpha"});
         const Arg alpha = s.get(0, "alpha");
         return {elu(s.input().tensor(), alpha.is_none() ? 1.0 : alpha.number())};
       }},
      {"nn.functional.selu", unary([](const Tensor& a) { return selu(a); })},
      {"nn.functional.celu",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"alpha"});
         const Arg alpha = s.get(0, "alpha");
         return {celu(s.input().tensor(), alpha.is_none() ? 1.0 : alpha.number())};
       }},
      {"nn.functional.softsign", unary([](const Tensor& a) { return softsign(a); })},
      {"nn.functional.hardtanh",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"min_val", "max_val"});
         const Arg lo = s.get(0, "min_val"), hi = s.get(1, "max_val");
         return {hardtanh(s.input().tensor(), lo.is_none() ? -1.0 : lo.number(), hi.is_none() ? 1.0 : hi.number())};
       }},
      // Departure: torch 1.13's float64 hardsigmoid backward multiplies by float(1/6) (its
      // constant is 1.0f / 6.0f), 3e-8 off; matgrad's gradient is 1/6 (test_elementwise_values).
      {"nn.functional.hardsigmoid",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const Tensor a = s.input().tensor();
         const auto& x = a.data<double>();
         const bool inside = std::any_of(x.begin(), x.end(), [](double v) { return v > -3 && v < 3; });
         if (inside && s.entry().contains("grads")) unsupported("departure: torch's gradient is float(1/6)");
         return {hardsigmoid(a)};
       }},
      {"nn.functional.hardswish", unary([](const Tensor& a) { return hardswish(a); })},
      {"nn.functional.logsigmoid", unary([](const Tensor& a) { return logsigmoid(a); })},
      {"nn.functional.mish", unary([](const Tensor& a) { return mish(a); })},
      {"floor", unary([](const Tensor& a) { return floor(a); })},
      {"ceil", unary([](const Tensor& a) { return ceil(a); })},
      {"trunc", unary([](const Tensor& a) { return trunc(a); })},
      {"frac", unary([](const Tensor& a) { return frac(a); })},
      {"round",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"decimals"});
         const Arg decimals = s.get(0, "decimals");
         return {round(s.input().tensor(), decimals.is_none() ? 0 : static_cast<int>(decimals.integer()))};
       }},
      {"div.trunc_rounding", rounding_div("trunc")},
      {"div.floor_rounding", rounding_div("floor")},
      {"maximum", binary([](const Tensor& a, const Tensor& b) { return maximum(a, b); })},
      {"minimum", binary([](const Tensor& a, const Tensor& b) { return minimum(a, b); })},
      {"fmax", binary([](const Tensor& a, const Tensor& b) { return fmax(a, b); })},
      {"fmin", binary([](const Tensor& a, const Tensor& b) { return fmin(a, b); })},
      {"atan2", binary([](const Tensor& a, const Tensor& b) { return atan2(a, b); })},
      {"hypot", binary([](const Tensor& a, const Tensor& b) { return hypot(a, b); })},
      {"fmod", binary([](const Tensor& a, const Tensor& b) { return fmod(a, b); })},
      {"remainder", binary([](const Tensor& a, const Tensor& b) { return remainder(a, b); })},
      {"copysign", binary([](const Tensor& a, const Tensor& b) { return copysign(a, b); })},
      {"lerp",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const Tensor start = s.input().tensor();
         const Arg weight = s.arg(1);
         if (weight.is_tensor()) return {lerp(start, s.arg(0).tensor(), weight.tensor())};
         return {lerp(start, s.arg(0).tensor(), weight.number())};
       }},

      // ---- shape ----
      {"reshape",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         std::vector<std::int64_t> dims = s.args() == 1 && s.arg(0).is_list() ? s.arg(0).ints() : std::vector<std::int64_t>{};
         if (!(s.args() == 1 && s.arg(0).is_list())) {
           for (std::size_t i = 0; i < s.args(); ++i) dims.push_back(s.arg(i).integer());
         }
         Shape shape;
         const Tensor a = s.input().tensor();
         std::ptrdiff_t known = 1, infer = -1;
         for (std::size_t i = 0; i < dims.size(); ++i) {
           if (dims[i] == -1) {
             infer = static_cast<std::ptrdiff_t>(i);
             shape.push_back(0);
           } else {
             known *= dims[i];
             shape.push_back(static_cast<std::size_t>(dims[i]));
           }
         }
         if (infer >= 0) shape[static_cast<std::size_t>(infer)] = a.numel() / static_cast<std::size_t>(known);
         return {reshape(a, shape)};
       }},
      {"flatten",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"start_dim", "end_dim"});
         const Arg start = s.get(0, "start_dim"), end = s.get(1, "end_dim");
         return {flatten(s.input().tensor(), start.is_none() ? 0 : start.integer(),
                         end.is_none() ? -1 : end.integer())};
       }},
      {"unsqueeze",
       [](const Sample& s) -> Outputs { return {unsqueeze(s.input().tensor(), s.arg(0).integer())}; }},
      {"squeeze",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         if (s.args() == 0) return {squeeze(s.input().tensor())};
         return {squeeze(s.input().tensor(), s.arg(0).integer())};
       }},
      {"transpose",
       [](const Sample& s) -> Outputs {
         return {transpose(s.input().tensor(), s.arg(0).integer(), s.arg(1).integer())};
       }},
      {"t", unary([](const Tensor& a) { return t(a); })},
      {"broadcast_to",
       [](const Sample& s) -> Outputs { return {broadcast_to(s.input().tensor(), shape_of(s, 0))}; }},
      {"sum_to_size",
       [](const Sample& s) -> Outputs { return {sum_to_size(s.input().tensor(), shape_of(s, 0))}; }},

      // ---- linear algebra ----
      {"mm", [](const Sample& s) -> Outputs { return {matmul(s.input().tensor(), s.arg(0).tensor())}; }},
      {"matmul", [](const Sample& s) -> Outputs { return {matmul(s.input().tensor(), s.arg(0).tensor())}; }},
      {"nn.functional.linear",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"bias"});
         const Tensor x = s.input().tensor();
         const Arg bias = s.get(1, "bias");
         return {linear(x, s.arg(0).tensor(), bias.is_none() ? Tensor() : bias.tensor())};
       }},
      {"trace", unary([](const Tensor& a) { return trace(a); })},
      {"outer", [](const Sample& s) -> Outputs { return {outer(s.input().tensor(), s.arg(0).tensor())}; }},
      {"diag",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"diagonal"});
         const Arg k = s.get(0, "diagonal");
         return {diag(s.input().tensor(), k.is_none() ? 0 : k.integer())};
       }},
      {"linalg.inv", [](const Sample& s) -> Outputs { return {inverse(matrix(s))}; }},
      {"linalg.det", [](const Sample& s) -> Outputs { return {det(matrix(s))}; }},
      // Departure: matgrad's logdet refuses det ≤ 0 with a ValueError where torch returns NaN
      // (det < 0) or -inf (det = 0); slogdet gives log|det| for those.
      {"logdet",
       [](const Sample& s) -> Outputs {
         const Tensor a = matrix(s);
         if (a.numel() > 0 && min(det(a.detach())).item() <= 0) unsupported("departure: logdet of det ≤ 0 raises");
         return {logdet(a)};
       }},
      {"linalg.slogdet",
       [](const Sample& s) -> Outputs {
         const SlogdetResult r = slogdet(matrix(s));
         return {r.sign, r.logabsdet};
       }},
      {"linalg.solve",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         return {solve(matrix(s), s.arg(0).tensor())};
       }},

      // The decompositions (batched): solve_triangular's flags are keyword-only in torch.
      {"linalg.solve_triangular",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"upper", "left", "unitriangular"});
         const Arg left = s.get(99, "left");
         return {solve_triangular(s.input().tensor(), s.arg(0).tensor(), flag(s.get(99, "upper")),
                                  left.is_none() || left.boolean(), flag(s.get(99, "unitriangular")))};
       }},
      {"linalg.cholesky",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"upper"});
         return {cholesky(s.input().tensor(), flag(s.get(99, "upper")))};
       }},
      {"cholesky_solve",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"upper"});
         return {cholesky_solve(s.input().tensor(), s.arg(0).tensor(), flag(s.get(1, "upper")))};
       }},
      {"linalg.eigh",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"UPLO"});
         const Arg uplo = s.get(0, "UPLO");
         const EighResult r = eigh(s.input().tensor(), uplo.is_none() ? "L" : uplo.string());
         return {r.eigenvalues, r.eigenvectors};
       }},
      {"linalg.eigvalsh",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"UPLO"});
         const Arg uplo = s.get(0, "UPLO");
         return {eigvalsh(s.input().tensor(), uplo.is_none() ? "L" : uplo.string())};
       }},
      {"linalg.svd",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"full_matrices"});
         const Arg full = s.get(0, "full_matrices");
         const SvdResult r = svd(s.input().tensor(), full.is_none() || full.boolean());
         return {r.U, r.S, r.Vh};
       }},
      {"linalg.svdvals", unary([](const Tensor& a) { return svdvals(a); })},
      {"linalg.qr",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"mode"});
         const Arg mode = s.get(0, "mode");
         const QrResult r = qr(s.input().tensor(), mode.is_none() ? "reduced" : mode.string());
         return {r.Q, r.R};
       }},
      {"linalg.lu_factor",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"pivot"});
         const Arg pivot = s.get(99, "pivot");
         if (!pivot.is_none() && !pivot.boolean()) unsupported("pivot=False");
         const LuFactorResult r = lu_factor(s.input().tensor());
         return {r.LU, r.pivots};
       }},
      {"linalg.lu_solve",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"left", "adjoint"});
         const Arg left = s.get(99, "left");
         return {lu_solve(s.input().tensor(), s.arg(0).index_tensor(), s.arg(1).tensor(), left.is_none() || left.boolean(),
                          flag(s.get(99, "adjoint")))};
       }},
      {"linalg.pinv",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"atol", "rtol", "hermitian"});
         const Arg atol = s.get(99, "atol"), rtol = s.get(99, "rtol");
         return {pinv(s.input().tensor(), atol.is_none() ? std::nullopt : std::optional(atol.number()),
                      rtol.is_none() ? std::nullopt : std::optional(rtol.number()), flag(s.get(99, "hermitian")))};
       }},
      {"linalg.lstsq",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"rcond", "driver"});
         const Arg rcond = s.get(1, "rcond"), driver = s.get(99, "driver");
         const LstsqResult r = lstsq(s.input().tensor(), s.arg(0).tensor(),
                                     rcond.is_none() ? std::nullopt : std::optional(rcond.number()),
                                     driver.is_none() ? "gelsy" : driver.string());
         return {r.solution, r.residuals, r.rank, r.singular_values};
       }},
      // ---- reductions ----
      {"sum", reduction([](const Tensor& a, const DimList& d, bool k) { return sum(a, d, k); })},
      {"mean", reduction([](const Tensor& a, const DimList& d, bool k) { return mean(a, d, k); })},
      {"prod", reduction([](const Tensor& a, const DimList& d, bool k) { return prod(a, d, k); })},
      {"amax", reduction([](const Tensor& a, const DimList& d, bool k) { return amax(a, d, k); })},
      {"amin", reduction([](const Tensor& a, const DimList& d, bool k) { return amin(a, d, k); })},
      {"var", statistic([](const Tensor& a, const DimList& d, double c, bool k) -> Outputs { return {var(a, d, c, k)}; })},
      {"std", statistic([](const Tensor& a, const DimList& d, double c, bool k) -> Outputs { return {matgrad::std(a, d, c, k)}; })},
      {"var_mean", statistic([](const Tensor& a, const DimList& d, double c, bool k) -> Outputs {
         const VarMeanResult r = var_mean(a, d, c, k);
         return {r.var, r.mean};
       })},
      {"logsumexp",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim", "keepdim"});
         return {logsumexp(s.input().tensor(), dims_of(s.get(0, "dim")), flag(s.get(1, "keepdim")))};
       }},
      {"cumsum", scan([](const Tensor& a, std::ptrdiff_t d) { return cumsum(a, d); })},
      {"cumprod", scan([](const Tensor& a, std::ptrdiff_t d) { return cumprod(a, d); })},
      {"logcumsumexp", scan([](const Tensor& a, std::ptrdiff_t d) { return logcumsumexp(a, d); })},
      // torch.norm(input, p, dim, keepdim) with a numeric p (or none: 2).
      {"norm",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"p", "dim", "keepdim"});
         const Arg p = s.get(0, "p");
         if (!p.is_none() && !p.is_number()) unsupported("p '" + p.string() + "'");
         return {norm(s.input().tensor(), p.is_none() ? 2.0 : p.number(), dims_of(s.get(1, "dim")),
                      flag(s.get(2, "keepdim")))};
       }},
      {"linalg.vector_norm",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"ord", "dim", "keepdim"});
         const Arg ord = s.get(0, "ord");
         return {linalg_vector_norm(s.input().tensor(), ord.is_none() ? 2.0 : ord.number(), dims_of(s.get(1, "dim")),
                                    flag(s.get(2, "keepdim")))};
       }},
      // torch.linalg.norm: the vector norm of a vector, or of every element without an ord.
      {"linalg.norm",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"ord", "dim", "keepdim"});
         const Arg ord = s.get(0, "ord"), dim = s.get(1, "dim");
         const Tensor a = s.input().tensor();
         const bool keepdim = flag(s.get(2, "keepdim"));
         if (!ord.is_none() && (a.dim() != 1 || !dim.is_none())) unsupported("an ord with a matrix or dims");
         return {linalg_vector_norm(a, ord.is_none() ? 2.0 : ord.number(), dims_of(dim), keepdim)};
       }},
      {"linalg.matrix_norm",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"ord", "dim", "keepdim"});
         const Arg ord = s.get(0, "ord"), dim = s.get(1, "dim");
         const DimList dims = dim.is_none() ? DimList{-2, -1} : dims_of(dim);
         const bool keepdim = flag(s.get(2, "keepdim"));
         const Tensor a = s.input().tensor();
         if (ord.is_none()) return {linalg_matrix_norm(a, "fro", dims, keepdim)};
         if (!ord.is_number()) return {linalg_matrix_norm(a, ord.string(), dims, keepdim)};
         return {linalg_matrix_norm(a, ord.number(), dims, keepdim)};
       }},
      {"max.reduction_with_dim", extremum(true)},
      {"min.reduction_with_dim", extremum(false)},
      {"max.reduction_no_dim", unary([](const Tensor& a) { return max(a); })},
      {"min.reduction_no_dim", unary([](const Tensor& a) { return min(a); })},
      {"argmax", arg_extremum(true)},
      {"argmin", arg_extremum(false)},
      {"all", truth_reduction([](const Tensor& a) { return all(a); },
                              [](const Tensor& a, std::ptrdiff_t d, bool k) { return all(a, d, k); }, true)},
      {"any", truth_reduction([](const Tensor& a) { return any(a); },
                              [](const Tensor& a, std::ptrdiff_t d, bool k) { return any(a, d, k); }, true)},
      {"count_nonzero", truth_reduction([](const Tensor& a) { return count_nonzero(a); },
                                        [](const Tensor& a, const DimList& d, bool) { return count_nonzero(a, d); },
                                        false)},

      // ---- softmax family ----
      {"softmax",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         return {softmax(s.input().tensor(), s.get(0, "dim").integer())};
       }},
      {"log_softmax",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         return {log_softmax(s.input().tensor(), s.get(0, "dim").integer())};
       }},

      // ---- indexing and joining ----
      {"index_select",
       [](const Sample& s) -> Outputs {
         return {index_select(s.input().tensor(), s.arg(0).integer(), s.arg(1).indices())};
       }},
      {"index_add",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"alpha"});
         const double alpha = s.has("alpha") ? s.kwarg("alpha").number() : 1.0;
         return {index_add(s.input().tensor(), s.arg(0).integer(), s.arg(1).indices(), s.arg(2).tensor(), alpha)};
       }},
      {"gather",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         return {gather(s.input().tensor(), s.arg(0).integer(), s.arg(1).index_tensor())};
       }},
      {"scatter",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const Tensor a = s.input().tensor();
         const Arg src = s.arg(2);
         if (!src.is_tensor()) return {scatter(a, s.arg(0).integer(), s.arg(1).index_tensor(), src.number())};
         return {scatter(a, s.arg(0).integer(), s.arg(1).index_tensor(), src.tensor())};
       }},
      {"scatter_add",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         return {scatter_add(s.input().tensor(), s.arg(0).integer(), s.arg(1).index_tensor(), s.arg(2).tensor())};
       }},
      {"scatter_reduce.sum", scatter_reduction(ScatterReduce::sum)},
      {"scatter_reduce.prod", scatter_reduction(ScatterReduce::prod)},
      {"scatter_reduce.mean", scatter_reduction(ScatterReduce::mean)},
      {"scatter_reduce.amax", scatter_reduction(ScatterReduce::amax)},
      {"scatter_reduce.amin", scatter_reduction(ScatterReduce::amin)},
      {"take_along_dim",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         const Arg dim = s.get(1, "dim");
         std::optional<std::ptrdiff_t> d;
         if (!dim.is_none()) d = dim.integer();
         return {take_along_dim(s.input().tensor(), s.arg(0).index_tensor(), d)};
       }},
      {"index_put",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"accumulate"});
         std::vector<TensorIndex> indices;
         // A bool index is a Mask (matgrad has no bool dtype; tensor() gives it as 0/1).
         for (const Arg& i : s.arg(0).list()) {
           if (i.is_tensor() && i.dtype() == "bool") {
             indices.emplace_back(Mask{i.tensor()});
           } else {
             indices.emplace_back(i.index_tensor());
           }
         }
         const Arg acc = s.get(2, "accumulate");
         return {index_put(s.input().tensor(), indices, s.arg(1).tensor(), !acc.is_none() && acc.boolean())};
       }},
      {"masked_fill",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const Arg value = s.arg(1);
         if (value.is_tensor()) return {masked_fill(s.input().tensor(), s.arg(0).tensor(), value.tensor())};
         return {masked_fill(s.input().tensor(), s.arg(0).tensor(), value.number())};
       }},
      {"masked_select",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         return {masked_select(s.input().tensor(), s.arg(0).tensor())};
       }},
      {"nn.functional.one_hot",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"num_classes"});
         const Arg n = s.get(0, "num_classes");
         return {one_hot(s.input().index_tensor(), n.is_none() ? -1 : n.integer())};
       }},
      // ---- issue 14's remaining surface: ne, narrow, slice_scatter, view ----
      {"ne", binary([](const Tensor& a, const Tensor& b) { return ne(a, b); })},
      // narrow(input, dim, start, length); start may be a 0-d int64 tensor.
      {"narrow",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const Tensor a = s.input().tensor();
         const auto dim = static_cast<std::ptrdiff_t>(s.arg(0).integer());
         const Arg start = s.arg(1);
         const auto first = static_cast<std::ptrdiff_t>(start.is_tensor() ? start.number() : start.integer());
         const auto length = static_cast<std::size_t>(s.arg(2).integer());
         const std::size_t d = static_cast<std::size_t>(dim < 0 ? dim + static_cast<std::ptrdiff_t>(a.dim()) : dim);
         std::size_t before = 1;
         for (std::size_t k = 0; k < d; ++k) before *= a.shape()[k];
         if (before > 1 && length != a.shape()[d]) unsupported("a narrow that is not contiguous (no strided views)");
         return {narrow(a, dim, first, length)};
       }},
      // slice_scatter(input, src, dim=0, start=None, end=None, step=1).
      {"slice_scatter",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim", "start", "end", "step"});
         const Tensor a = s.input().tensor();
         const Arg dim = s.get(1, "dim"), start = s.get(2, "start"), end = s.get(3, "end"), step = s.get(4, "step");
         const std::ptrdiff_t d = dim.is_none() ? 0 : dim.integer();
         const std::ptrdiff_t size = a.dim() == 0 ? 1 : static_cast<std::ptrdiff_t>(a.shape()[static_cast<std::size_t>(d < 0 ? d + static_cast<std::ptrdiff_t>(a.dim()) : d)]);
         auto bound = [size](const Arg& b, std::ptrdiff_t otherwise) {
           if (b.is_none()) return static_cast<std::size_t>(otherwise);
           const std::ptrdiff_t v = b.integer();
           return static_cast<std::size_t>(v < 0 ? std::max<std::ptrdiff_t>(0, v + size) : v);
         };
         return {slice_scatter(a, s.arg(0).tensor(), d, bound(start, 0), bound(end, size),
                               step.is_none() ? 1 : static_cast<std::size_t>(step.integer()))};
       }},
      {"view",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         return {view(s.input().tensor(), shape_of(s, 0))};
       }},

      // ---- rearranging (the shape family) ----
      {"permute",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const auto dims = s.arg(0).ints();
         return {permute(s.input().tensor(), std::vector<std::ptrdiff_t>(dims.begin(), dims.end()))};
       }},
      {"flip",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dims"});
         const auto dims = s.get(0, "dims").ints();
         return {flip(s.input().tensor(), std::vector<std::ptrdiff_t>(dims.begin(), dims.end()))};
       }},
      {"roll",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"shifts", "dims"});
         const auto shifts = s.get(0, "shifts").ints();
         const Arg dims = s.get(1, "dims");
         std::vector<std::ptrdiff_t> d;
         if (!dims.is_none()) {
           const auto v = dims.ints();
           d.assign(v.begin(), v.end());
         }
         return {roll(s.input().tensor(), std::vector<std::ptrdiff_t>(shifts.begin(), shifts.end()), d)};
       }},
      {"triu",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"diagonal"});
         const Arg k = s.get(0, "diagonal");
         return {triu(s.input().tensor(), k.is_none() ? 0 : k.integer())};
       }},
      {"tril",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"diagonal"});
         const Arg k = s.get(0, "diagonal");
         return {tril(s.input().tensor(), k.is_none() ? 0 : k.integer())};
       }},
      {"repeat",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const std::vector<std::size_t> r = s.arg(0).indices();
         return {repeat(s.input().tensor(), r)};
       }},
      {"tile",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const std::vector<std::size_t> r = s.arg(0).indices();
         return {tile(s.input().tensor(), r)};
       }},
      {"expand",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const auto sizes = s.arg(0).ints();
         return {expand(s.input().tensor(), std::vector<std::ptrdiff_t>(sizes.begin(), sizes.end()))};
       }},
      {"unbind",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         const Arg dim = s.get(0, "dim");
         return unbind(s.input().tensor(), dim.is_none() ? 0 : dim.integer());
       }},
      {"chunk",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         const Arg dim = s.get(1, "dim");
         return chunk(s.input().tensor(), static_cast<std::size_t>(s.arg(0).integer()), dim.is_none() ? 0 : dim.integer());
       }},
      {"split",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         const Arg dim = s.get(1, "dim");
         const std::ptrdiff_t d = dim.is_none() ? 0 : dim.integer();
         if (s.arg(0).is_list()) return split(s.input().tensor(), s.arg(0).indices(), d);
         return split(s.input().tensor(), static_cast<std::size_t>(s.arg(0).integer()), d);
       }},
      {"movedim",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const auto from = s.arg(0).ints(), to = s.arg(1).ints();
         if (s.arg(0).is_number()) return {movedim(s.input().tensor(), from[0], to[0])};
         return {movedim(s.input().tensor(), std::vector<std::ptrdiff_t>(from.begin(), from.end()),
                         std::vector<std::ptrdiff_t>(to.begin(), to.end()))};
       }},
      {"cat",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         const Arg dim = s.get(0, "dim");
         return {concat(s.input().tensors(), dim.is_none() ? 0 : dim.integer())};
       }},
      {"stack",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         const Arg dim = s.get(0, "dim");
         return {stack(s.input().tensors(), dim.is_none() ? 0 : dim.integer())};
       }},

      // ---- diagonals, padding, tensor algebra (the tensoralg family) ----
      {"diagonal",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"offset", "dim1", "dim2"});
         const Arg k = s.get(0, "offset"), d1 = s.get(1, "dim1"), d2 = s.get(2, "dim2");
         return {diagonal(s.input().tensor(), k.is_none() ? 0 : k.integer(), d1.is_none() ? 0 : d1.integer(),
                          d2.is_none() ? 1 : d2.integer())};
       }},
      {"diag_embed",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"offset", "dim1", "dim2"});
         const Arg k = s.get(0, "offset"), d1 = s.get(1, "dim1"), d2 = s.get(2, "dim2");
         return {diag_embed(s.input().tensor(), k.is_none() ? 0 : k.integer(), d1.is_none() ? -2 : d1.integer(),
                            d2.is_none() ? -1 : d2.integer())};
       }},
      {"nn.functional.pad.constant", padding("constant")},
      {"nn.functional.pad.reflect", padding("reflect")},
      {"nn.functional.pad.replicate", padding("replicate")},
      {"matrix_exp", unary([](const Tensor& a) { return matrix_exp(a); })},
      {"linalg.matrix_power",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         return {matrix_power(s.input().tensor(), s.arg(0).integer())};
       }},
      {"linalg.multi_dot",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         return {multi_dot(s.input().tensors())};
       }},
      {"kron", binary([](const Tensor& a, const Tensor& b) { return kron(a, b); })},
      {"linalg.cross", crossing(-1)},
      // torch.cross without dim takes the first dim of size 3 (deprecated in torch).
      {"cross", crossing(std::nullopt)},
      {"linalg.vecdot",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim"});
         const Arg dim = s.get(1, "dim");
         return {vecdot(s.input().tensor(), s.arg(0).tensor(), dim.is_none() ? -1 : dim.integer())};
       }},
      {"tensordot",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dims"});
         const Arg dims = s.get(1, "dims");
         const Tensor a = s.input().tensor(), b = s.arg(0).tensor();
         if (dims.is_none()) return {tensordot(a, b)};
         if (!dims.is_list()) return {tensordot(a, b, static_cast<std::size_t>(dims.integer()))};
         const auto pair = dims.list();
         const auto da = pair.at(0).ints(), db = pair.at(1).ints();
         return {tensordot(a, b, std::vector<std::ptrdiff_t>(da.begin(), da.end()), std::vector<std::ptrdiff_t>(db.begin(), db.end()))};
       }},
      {"einsum",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         return {einsum(s.arg(0).string(), s.input().tensors())};
       }},

      // ---- losses ----
      {"nn.functional.mse_loss",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"reduction"});
         return {mse_loss(s.input().tensor(), s.arg(0).tensor(), reduction_of(s, 1))};
       }},
      // Positions after the input, as torch's signatures have them (the samples pass keywords).
      {"nn.functional.cross_entropy",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"weight", "ignore_index", "reduction", "label_smoothing"});
         const Arg weight = s.get(1, "weight"), ignore = s.get(3, "ignore_index"), smoothing = s.get(6, "label_smoothing");
         const Arg target = s.arg(0);
         return {cross_entropy(s.input().tensor(), target.is_tensor() && s.entry().at("args")[0].at("tensor") == "int64" ? target.index_tensor() : target.tensor(),
                               {.weight = weight.is_none() ? Tensor() : weight.tensor(),
                                .ignore_index = ignore.is_none() ? -100 : ignore.integer(),
                                .reduction = reduction_of(s, 5),
                                .label_smoothing = smoothing.is_none() ? 0.0 : smoothing.number()})};
       }},
      {"nn.functional.nll_loss",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"weight", "ignore_index", "reduction"});
         const Arg weight = s.get(1, "weight"), ignore = s.get(3, "ignore_index");
         return {nll_loss(s.input().tensor(), s.arg(0).index_tensor(),
                          {.weight = weight.is_none() ? Tensor() : weight.tensor(),
                           .ignore_index = ignore.is_none() ? -100 : ignore.integer(),
                           .reduction = reduction_of(s, 5)})};
       }},
      {"nn.functional.binary_cross_entropy",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"weight", "reduction"});
         const Arg weight = s.get(1, "weight");
         return {binary_cross_entropy(s.input().tensor(), s.arg(0).tensor(),
                                      {.weight = weight.is_none() ? Tensor() : weight.tensor(), .reduction = reduction_of(s, 4)})};
       }},
      {"nn.functional.binary_cross_entropy_with_logits",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"weight", "reduction", "pos_weight"});
         const Arg weight = s.get(1, "weight"), pos_weight = s.get(5, "pos_weight");
         return {binary_cross_entropy_with_logits(s.input().tensor(), s.arg(0).tensor(),
                                                  {.weight = weight.is_none() ? Tensor() : weight.tensor(),
                                                   .pos_weight = pos_weight.is_none() ? Tensor() : pos_weight.tensor(),
                                                   .reduction = reduction_of(s, 4)})};
       }},
      {"nn.functional.l1_loss",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"reduction"});
         return {l1_loss(s.input().tensor(), s.arg(0).tensor(), reduction_of(s, 3))};
       }},
      {"nn.functional.smooth_l1_loss",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"reduction", "beta"});
         const Arg beta = s.get(4, "beta");
         return {smooth_l1_loss(s.input().tensor(), s.arg(0).tensor(), reduction_of(s, 3), beta.is_none() ? 1.0 : beta.number())};
       }},
      {"nn.functional.huber_loss",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"reduction", "delta"});
         const Arg delta = s.get(2, "delta");
         return {huber_loss(s.input().tensor(), s.arg(0).tensor(), reduction_of(s, 1), delta.is_none() ? 1.0 : delta.number())};
       }},
      {"nn.functional.kl_div",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"reduction", "log_target"});
         return {kl_div(s.input().tensor(), s.arg(0).tensor(), reduction_of(s, 3), flag(s.get(4, "log_target")))};
       }},
      {"nn.functional.cosine_similarity",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"dim", "eps"});
         const Arg dim = s.get(1, "dim"), eps = s.get(2, "eps");
         return {cosine_similarity(s.input().tensor(), s.arg(0).tensor(), dim.is_none() ? 1 : dim.integer(),
                                   eps.is_none() ? 1e-8 : eps.number())};
       }},
      {"nn.functional.cosine_embedding_loss",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"margin", "reduction"});
         const Arg margin = s.get(2, "margin");
         return {cosine_embedding_loss(s.input().tensor(), s.arg(0).tensor(), s.arg(1).tensor(),
                                       margin.is_none() ? 0.0 : margin.number(), reduction_of(s, 5))};
       }},
      {"nn.functional.margin_ranking_loss",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"margin", "reduction"});
         const Arg margin = s.get(2, "margin");
         return {margin_ranking_loss(s.input().tensor(), s.arg(0).tensor(), s.arg(1).tensor(),
                                     margin.is_none() ? 0.0 : margin.number(), reduction_of(s, 5))};
       }},
      // ---- normalisation and lookup ----
      {"nn.functional.layer_norm",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"eps"});
         Shape shape;
         for (auto d : s.arg(0).ints()) shape.push_back(static_cast<std::size_t>(d));
         const Arg weight = s.get(1, "weight"), bias = s.get(2, "bias"), eps = s.get(3, "eps");
         return {layer_norm(s.input().tensor(), shape, weight.is_none() ? Tensor() : weight.tensor(),
                            bias.is_none() ? Tensor() : bias.tensor(), eps.is_none() ? 1e-5 : eps.number())};
       }},
      {"nn.functional.batch_norm",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({"training", "momentum", "eps"});
         const Tensor input = s.input().tensor();
         if (input.dim() < 2) unsupported("an input of rank < 2 (torch: [N, C, *])");
         auto optional = [](const Arg& a) { return a.is_none() ? Tensor() : a.tensor(); };
         // Copies: batch_norm updates the running statistics in place.
         auto copy = [](const Tensor& t) { return t.defined() ? t.detach().clone() : t; };
         const Arg momentum = s.get(5, "momentum"), eps = s.get(6, "eps");
         return {batch_norm(input, copy(optional(s.arg(0))), copy(optional(s.arg(1))), optional(s.get(2, "weight")),
                            optional(s.get(3, "bias")), flag(s.get(4, "training")),
                            momentum.is_none() ? 0.1 : momentum.number(), eps.is_none() ? 1e-5 : eps.number())};
       }},
      // torch's op_db passes the table as the input and the indices as the argument.
      {"nn.functional.embedding",
       [](const Sample& s) -> Outputs {
         s.only_kwargs({});
         const Tensor weight = s.input().tensor(), indices = s.arg(0).index_tensor();
         Shape shape = indices.shape();
         shape.push_back(weight.size(1));
         return {reshape(index_select(weight, 0, reshape(indices, {-1})), shape)};
       }},
  };
  return table;
}

// |a - e| <= atol + rtol |e| elementwise, NaN matching NaN; the message names the first miss.
std::optional<std::string> mismatch(const Tensor& actual, const json& expected, const char* what) {
  const Tensor e = decode_tensor(expected);
  if (!actual.defined()) return fmt::format("{}: matgrad gave none, torch {}", what, to_string(e.shape()));
  if (actual.shape() != e.shape()) {
    return fmt::format("{}: shape {} where torch has {}", what, to_string(actual.shape()), to_string(e.shape()));
  }
  const Tensor a = actual.detach().to(DType::float64);
  const auto& x = a.data<double>();
  const auto& y = e.data<double>();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double u = x.data()[i], v = y.data()[i];
    const bool same = (std::isnan(u) && std::isnan(v)) || u == v ||
                      std::abs(u - v) <= 1e-10 + 1e-9 * std::abs(v);
    if (!same) return fmt::format("{}: element {} is {:.17g} where torch has {:.17g}", what, i, u, v);
  }
  return std::nullopt;
}

bool is_float_tensor(const json& v) { return v.is_object() && v.contains("tensor") && v.at("tensor") == "float64"; }

// Runs one sample; returns the first disagreement with torch, if any.
std::optional<std::string> check_sample(const Mapping& map, const Sample& s) {
  const Outputs outputs = map(s);
  const json& expected = s.entry().at("output");
  if (outputs.size() != expected.size()) {
    return fmt::format("{} outputs where torch has {}", outputs.size(), expected.size());
  }
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (!expected[k].is_object() || !expected[k].contains("tensor")) continue;  // a Python value
    if (auto m = mismatch(outputs[k], expected[k], "output")) return fmt::format("output {}: {}", k, *m);
  }
  if (!s.entry().contains("grads")) return std::nullopt;
  // The cotangents go with torch's floating outputs that require grad, in order.
  std::vector<Tensor> roots, seeds;
  std::size_t c = 0;
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (!is_float_tensor(expected[k]) || !expected[k].value("requires_grad", false)) continue;
    const Tensor seed = decode_tensor(s.entry().at("cotangents")[c++]);
    if (outputs[k].requires_grad()) {
      roots.push_back(outputs[k]);
      seeds.push_back(seed);
    }
  }
  std::vector<Tensor> grads(s.leaves().size());
  if (!roots.empty()) grads = grad(roots, s.leaves(), seeds, false, false, /*allow_unused=*/true);
  const json& want = s.entry().at("grads");
  for (std::size_t i = 0; i < grads.size(); ++i) {
    Tensor g = grads[i].defined() ? grads[i] : zeros_like(s.leaves()[i]);
    if (want[i].is_null()) continue;  // torch: not used, i.e. zero
    if (auto m = mismatch(g, want[i], "gradient")) return fmt::format("input {}: {}", i, *m);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("matgrad agrees with PyTorch on PyTorch's own sample inputs") {
  const json samples = load_torch_samples(MATGRAD_TORCH_SAMPLES);
  struct Coverage {
    std::size_t samples = 0, passed = 0;
    std::map<std::string, std::size_t> unsupported;
  };
  std::map<std::string, Coverage> coverage;
  std::size_t unmapped_samples = 0;
  std::vector<std::string> unmapped;
  for (const auto& [name, entries] : samples.at("ops").items()) {
    const auto it = mappings().find(name);
    if (it == mappings().end()) {
      unmapped.push_back(name);
      unmapped_samples += entries.size();
      continue;
    }
    Coverage& cov = coverage[name];
    for (const json& entry : entries) {
      ++cov.samples;
      const Sample sample(entry);
      INFO(name, ": ", sample.describe());
      try {
        const auto problem = check_sample(it->second, sample);
        if (problem) {
          FAIL_CHECK(*problem);
        } else {
          ++cov.passed;
        }
      } catch (const Unsupported& why) {
        ++cov.unsupported[why.what()];
      } catch (const std::exception& e) {
        FAIL_CHECK(fmt::format("matgrad raised: {}", e.what()));
      }
    }
  }
  std::string table = fmt::format("{:<48} {:>7} {:>6}  not expressible\n", "torch op", "samples", "agree");
  std::size_t total = 0, agreed = 0;
  for (const auto& [name, cov] : coverage) {
    std::string reasons;
    for (const auto& [why, n] : cov.unsupported) reasons += fmt::format("{}{} × {}", reasons.empty() ? "" : "; ", n, why);
    table += fmt::format("{:<48} {:>7} {:>6}  {}\n", name, cov.samples, cov.passed, reasons);
    total += cov.samples;
    agreed += cov.passed;
  }
  table += fmt::format("{} of {} samples of {} mapped ops agree with torch; {} ops ({} samples) not mapped yet: {}",
                       agreed, total, coverage.size(), unmapped.size(), unmapped_samples,
                       fmt::join(unmapped, " "));
  MESSAGE(table);
  CHECK(agreed > 0);
}
