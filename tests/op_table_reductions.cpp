// The op table's rows for the reductions over a list of dims, the scans and the norms. Each
// reduction row runs the op over every dim, every dim with keepdim, dim 0, dim -1 with keepdim
// and, by rank, two dims (adjacent, and apart: the general kernel), its results side by side.
// Shapes with a 4 also run with it as 0 (test_zero_size.cpp).
#include "op_table.hpp"

namespace matgrad::testing {

namespace {

using In = const std::vector<Tensor>&;
using Shapes = std::vector<std::vector<Shape>>;

const Shapes reduce_shapes = {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}, {{7}}, {{2, 1, 3, 2}}};
// Every dim reduced has 2 elements or more (var and std with correction 1 divide by N − 1).
const Shapes two_or_more = {{{3, 4}}, {{2, 3, 4}}, {{4, 2}}};
const Shapes scan_shapes = {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}, {{7}}};
const Shapes matrix_shapes = {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}};

Tensor side_by_side(std::vector<Tensor> parts) {
  for (Tensor& p : parts) p = reshape(p, {-1});
  return concat(parts);
}

template <class Reduce>
Tensor over_dims(const Tensor& x, Reduce reduce) {
  std::vector<Tensor> parts{reduce(x, DimList(), false), reduce(x, DimList(), true), reduce(x, 0, false),
                            reduce(x, -1, true)};
  if (x.dim() >= 2) parts.push_back(reduce(x, DimList{-1, 0}, false));
  if (x.dim() >= 3) parts.push_back(reduce(x, DimList{1, 2}, true));
  return side_by_side(parts);
}

// The scans along dim 0 and dim -1.
template <class Scan>
Tensor along_dims(const Tensor& x, Scan scan) {
  return side_by_side({scan(x, 0), scan(x, -1)});
}

// x with zeros at fixed places: one in the first slice along the last dim, two in the second
// (prod and cumprod handle them as torch).
Tensor with_zeros(const Tensor& x) {
  Tensor mask = ones_like(x.detach());
  auto& m = mask.mutable_data<double>();
  const std::size_t last = x.dim() ? x.size(-1) : 1;
  if (m.size() > 0) m.data()[0] = 0;
  if (m.size() >= 2 * last && last >= 3) {
    m.data()[last] = 0;
    m.data()[last + 2] = 0;
  }
  return x * mask;
}

}  // namespace

std::vector<OpRow> reductions_rows() {
  return {
      {"sum", reduce_shapes,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return sum(a, d, k); }); }},
      {"mean", reduce_shapes,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return mean(a, d, k); }); }},
      {"prod", reduce_shapes,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return prod(a, d, k); }); },
       Domain::away_from_zero},
      {"prod with zeros", {{{3, 4}}, {{2, 5}}, {{2, 3, 4}}, {{}}},
       [](In x) {
         return over_dims(with_zeros(x[0]), [](const Tensor& a, const DimList& d, bool k) { return prod(a, d, k); });
       }},
      // Correction 0 (N = 1 gives 0) and 2 on slices of 3 or more.
      {"var", reduce_shapes,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return var(a, d, 0, k); }); }},
      {"var correction 1", two_or_more,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return var(a, d, 1, k); }); }},
      {"var correction 2", {{{3, 4}}, {{3, 5, 4}}},
       [](In x) { return side_by_side({var(x[0], {}, 2), var(x[0], -1, 2, true), var(x[0], {0, -1}, 2)}); }},
      {"std", two_or_more,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return std(a, d, 1, k); }); }},
      {"std correction 0", reduce_shapes,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return std(a, d, 0, k); }); }},
      {"var_mean std_mean", two_or_more,
       [](In x) {
         const VarMeanResult v = var_mean(x[0], {0, -1}, 1, true);
         const StdMeanResult s = std_mean(x[0], -1);
         return side_by_side({v.var, v.mean, s.std, s.mean});
       }},
      {"amax", reduce_shapes,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return amax(a, d, k); }); },
       Domain::distinct},
      {"amin", reduce_shapes,
       [](In x) { return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return amin(a, d, k); }); },
       Domain::distinct},
      // Every element twice: each extremum ties with its copy and takes half of the gradient.
      {"amax amin ties", {{{3, 4}}, {{1, 5}}, {{2, 3, 4}}, {{5}}},
       [](In x) {
         const Tensor twice = stack({x[0], x[0]}, -1);
         return side_by_side({amax(twice, {}), amax(twice, -1), amin(twice, {0, -1}, true)});
       },
       Domain::distinct},
      {"logsumexp", reduce_shapes,
       [](In x) {
         return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return logsumexp(a, d, k); });
       }},
      {"logsumexp large inputs", {{{3, 4}}, {{2, 3, 4}}},
       [](In x) { return side_by_side({logsumexp(x[0] + 1000.0, -1), logsumexp(x[0] * 3.0 - 1000.0, {0, -1})}); }},

      // ---- scans ----
      {"cumsum", scan_shapes, [](In x) { return along_dims(x[0], [](const Tensor& a, std::ptrdiff_t d) { return cumsum(a, d); }); }},
      {"cumprod", scan_shapes,
       [](In x) { return along_dims(x[0], [](const Tensor& a, std::ptrdiff_t d) { return cumprod(a, d); }); },
       Domain::away_from_zero},
      {"cumprod with zeros", {{{3, 4}}, {{2, 5}}, {{2, 3, 4}}, {{}}},
       [](In x) { return along_dims(with_zeros(x[0]), [](const Tensor& a, std::ptrdiff_t d) { return cumprod(a, d); }); }},
      {"logcumsumexp", scan_shapes,
       [](In x) { return along_dims(x[0], [](const Tensor& a, std::ptrdiff_t d) { return logcumsumexp(a, d); }); }},
      {"logcumsumexp large inputs", {{{3, 4}}, {{2, 3, 4}}},
       [](In x) { return side_by_side({logcumsumexp(x[0] * 3.0 + 1000.0, -1), logcumsumexp(x[0] - 1000.0, 0)}); }},

      // ---- norms ----
      {"linalg_vector_norm", reduce_shapes,
       [](In x) {
         return over_dims(x[0], [](const Tensor& a, const DimList& d, bool k) { return linalg_vector_norm(a, 2, d, k); });
       }},
      // Away from 0, where |A| has its kink.
      {"linalg_vector_norm ord 1, 3, 0.5, -1.5, 0", reduce_shapes,
       [](In x) {
         std::vector<Tensor> parts;
         for (const double ord : {1.0, 3.0, 0.5, -1.5, 0.0}) {
           parts.push_back(linalg_vector_norm(x[0], ord));
           parts.push_back(linalg_vector_norm(x[0], ord, -1, true));
         }
         return side_by_side(parts);
       },
       Domain::away_from_zero},
      {"linalg_vector_norm ord ±inf", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}, {{}}, {{7}}},
       [](In x) {
         const double inf = std::numeric_limits<double>::infinity();
         return side_by_side({linalg_vector_norm(x[0], inf), linalg_vector_norm(x[0], -inf, 0, true),
                              linalg_vector_norm(x[0], inf, -1)});
       },
       Domain::distinct},
      {"norm", reduce_shapes,
       [](In x) { return side_by_side({norm(x[0]), norm(x[0], 2, -1, true), norm(x[0], 3, 0)}); }, Domain::away_from_zero},
      {"linalg_matrix_norm", matrix_shapes,
       [](In x) {
         const double inf = std::numeric_limits<double>::infinity();
         std::vector<Tensor> parts{linalg_matrix_norm(x[0]), linalg_matrix_norm(x[0], "fro", {0, -1}, true)};
         for (const double ord : {1.0, -1.0, inf, -inf}) {
           parts.push_back(linalg_matrix_norm(x[0], ord));
           parts.push_back(linalg_matrix_norm(x[0], ord, {-1, 0}, true));
         }
         return side_by_side(parts);
       },
       Domain::away_from_zero},
  };
}

}  // namespace matgrad::testing
