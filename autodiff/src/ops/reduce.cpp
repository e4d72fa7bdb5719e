// The plan of a reduction over a list of dims, and the rules the weighted reductions share
// (reduce.hpp).
#include "reduce.hpp"

#include <algorithm>

namespace matgrad::detail {

ReducePlan plan_reduction(std::string_view op, const Shape& shape, const DimList& dims, bool keepdim) {
  ReducePlan p;
  p.input_shape = shape;
  p.keepdim = keepdim;
  const std::size_t rank = shape.size();
  SmallVector<bool, 8> reduced;
  for (std::size_t d = 0; d < rank; ++d) reduced.push_back(dims.all());
  for (const std::ptrdiff_t dim : dims.dims()) {
    const std::size_t d = wrap_dim(op, dim, rank);
    if (rank == 0) {
      if (reduced.empty()) reduced.push_back(false);  // a 0-d shape's one dim
    }
    if (reduced[d]) {
      fail<IndexError>("{}: dim {} appears more than once in the list of dims {}", op, d,
                       fmt::join(dims.dims(), ", "));
    }
    reduced[d] = true;
  }
  if (rank == 0) {  // a 0-d tensor is its own reduction over dim 0 or -1
    reduced.clear();
  }
  for (std::size_t d = 0; d < rank; ++d) {
    if (reduced[d]) {
      p.dims.push_back(d);
      p.count *= shape[d];
      p.kept_shape.push_back(1);
      if (keepdim) p.out_shape.push_back(1);
    } else {
      p.kept_shape.push_back(shape[d]);
      p.out_shape.push_back(shape[d]);
    }
  }
  // Coalesce: adjacent dims of the same kind merge, size-1 dims drop out.
  SmallVector<bool, 8> kinds;
  for (std::size_t d = 0; d < rank; ++d) {
    if (shape[d] == 1) continue;
    if (!kinds.empty() && kinds.back() == reduced[d]) {
      p.groups.back() *= shape[d];
    } else {
      p.groups.push_back(shape[d]);
      kinds.push_back(reduced[d]);
    }
  }
  p.out_strides.resize(p.groups.size());
  std::size_t stride = 1;
  for (std::size_t k = p.groups.size(); k-- > 0;) {
    if (kinds[k]) continue;
    p.out_strides[k] = stride;
    stride *= p.groups[k];
  }
  const auto blocks = std::count(kinds.begin(), kinds.end(), true);
  if (blocks <= 1) {
    p.one_block = true;
    bool seen = false;
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      if (kinds[k]) {
        p.n = p.groups[k];
        seen = true;
      } else {
        (seen ? p.inner : p.outer) *= p.groups[k];
      }
    }
    // With no reduced group left (only size-1 dims reduced), n = 1: the kernel copies.
  }
  return p;
}

void check_nonempty(std::string_view op, const ReducePlan& p) {
  if (p.count != 0) return;
  for (std::size_t d : p.dims) {
    if (p.input_shape[d] == 0) {
      fail<IndexError>("{}: expected reduction dim {} of shape {} to have a non-zero size (the "
                       "reduction has no identity)", op, d, to_string(p.input_shape));
    }
  }
}

Tangent sum_over(const Tangent& t, const ReducePlan& p) {
  if (!t || p.dims.empty()) return t;
  const std::size_t offset = t.batch() ? 1 : 0;
  return Tangent(sum(t.tensor(), DimList(p.signed_dims(offset)), p.keepdim), t.batch());
}

Tensor record_weighted(const OpInfo& info, Tensor out, const Tensor& a, const ReducePlan& plan,
                       Weights weights, const SourceLocation& caller) {
  return record(
      info, std::move(out), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        return sum_over(ta * weights(a, unreduce(ctx.output, plan)), plan);
      },
      [a, plan, weights](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {unreduce(g, plan) * weights(a, unreduce(ctx.output, plan))};
      },
      caller);
}

Tensor over_nonzero(const Tensor& g, const Tensor& c) {
  const Tensor zero = scalar_like(c, 0.0);
  const Tensor nonzero = 1.0 - eq(c, zero);
  return where(nonzero, g / where(nonzero, c, ones_like(c)), zero);
}

}  // namespace matgrad::detail
