// Ops on tangents (tangent.hpp). Unbatched, each is the op itself; batched, the directions'
// dimension leads: dims shift by one, reductions leave it alone, and products stack the
// directions into one gemm where they can.
#include "tangent.hpp"

#include "../forward.hpp"
#include "common.hpp"
#include "matgrad/ops.hpp"

#include <algorithm>

namespace matgrad {

namespace {

std::size_t offset(const Tangent& t) { return t.batch() ? 1 : 0; }

Shape with_batch(const Tangent& t, const Shape& shape) {
  if (!t.batch()) return shape;
  Shape out{t.batch()};
  out.insert(out.end(), shape.begin(), shape.end());
  return out;
}

Tangent like(const Tangent& t, Tensor value) { return Tangent(std::move(value), t.batch()); }

std::ptrdiff_t dim_of(const Tangent& t, std::size_t dim) {
  return static_cast<std::ptrdiff_t>(dim + offset(t));
}

// transpose(t, d0, d1), as a reshape when the swap moves no element: the dims of size above 1
// keep their order (a single column of each direction, say).
Tensor swap_dims(const Tensor& t, std::size_t d0, std::size_t d1) {
  Shape swapped = t.shape();
  std::swap(swapped[d0], swapped[d1]);
  auto order = [](const Shape& s, std::size_t a, std::size_t b) {
    std::vector<std::size_t> dims;  // the original dim at each position, sizes above 1 only
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] > 1) dims.push_back(i == a ? b : i == b ? a : i);
    }
    return dims;
  };
  std::vector<std::size_t> moved = order(swapped, d0, d1);
  if (std::is_sorted(moved.begin(), moved.end())) return reshape(t, swapped);
  return transpose(t, static_cast<std::ptrdiff_t>(d0), static_cast<std::ptrdiff_t>(d1));
}

}  // namespace

Tangent tanh_backward(const Tangent& g, const Tensor& c) {
  return g ? like(g, tanh_backward(detail::aligned(g, c.dim()), c)) : g;
}
Tangent sigmoid_backward(const Tangent& g, const Tensor& c) {
  return g ? like(g, sigmoid_backward(detail::aligned(g, c.dim()), c)) : g;
}
// Batched, the slope is computed once for all directions (an exp per element of A, not of G).
Tangent softplus_backward(const Tangent& g, const Tensor& a, double beta, double threshold) {
  if (!g) return g;
  if (!g.batch()) return like(g, softplus_backward(g.tensor(), a, beta, threshold));
  return like(g, detail::aligned(g, a.dim()) * softplus_backward(ones_like(a), a, beta, threshold));
}
Tangent relu_backward(const Tangent& g, const Tensor& a) {
  return g ? like(g, relu_backward(detail::aligned(g, a.dim()), a)) : g;
}

Tangent where(const Tensor& condition, const Tangent& a, const Tangent& b) {
  if (!a && !b) return a;
  const Tangent& some = a ? a : b;
  if (!some.batch()) {
    const Tensor zero = scalar_like(some.tensor(), 0.0);
    return like(some, where(condition, a ? a.tensor() : zero, b ? b.tensor() : zero));
  }
  // Batched: everything broadcast to the output's shape first, [N] ++ the broadcast of the
  // input's shapes, where `where` takes its fast path (its broadcasting one walks strided
  // iterators).
  Shape primal = condition.shape();
  for (const Tangent* t : {&a, &b}) {
    if (*t) primal = detail::broadcast_shapes("where", primal, t->primal_shape());
  }
  Shape shape{some.batch()};
  shape.insert(shape.end(), primal.begin(), primal.end());
  auto full = [&](const Tangent& t) {
    return t ? broadcast_to(detail::aligned(t, primal.size()), shape)
             : zeros(shape, {.dtype = some.tensor().dtype()});
  };
  return like(some, where(broadcast_to(condition, shape), full(a), full(b)));
}

Tangent to(const Tangent& t, DType dtype) { return t ? like(t, t.tensor().to(dtype)) : t; }

Tangent reshape(const Tangent& t, const Shape& shape) {
  return t ? like(t, reshape(t.tensor(), with_batch(t, shape))) : t;
}
Tangent unsqueeze(const Tangent& t, std::size_t dim) {
  return t ? like(t, unsqueeze(t.tensor(), dim_of(t, dim))) : t;
}
Tangent transpose(const Tangent& t, std::size_t dim0, std::size_t dim1) {
  return t ? like(t, transpose(t.tensor(), dim_of(t, dim0), dim_of(t, dim1))) : t;
}
Tangent broadcast_to(const Tangent& t, const Shape& shape) {
  return t ? like(t, broadcast_to(detail::aligned(t, shape.size()), with_batch(t, shape))) : t;
}

Tangent sum_to_size(const Tangent& t, const Shape& shape) {
  if (!t || !t.batch()) return t ? like(t, sum_to_size(t.tensor(), shape)) : t;
  // [N] ++ shape would line N up with one of the input's dims: pad the target to its rank.
  Shape target;
  for (std::size_t i = shape.size(); i < t.primal_dim(); ++i) target.push_back(1);
  target.insert(target.end(), shape.begin(), shape.end());
  const Tensor summed = sum_to_size(t.tensor(), with_batch(t, target));
  return like(t, target == shape ? summed : reshape(summed, with_batch(t, shape)));
}

Tangent sum(const Tangent& t) {
  if (!t || !t.batch()) return t ? like(t, sum(t.tensor())) : t;
  const auto n = static_cast<std::ptrdiff_t>(t.batch());
  return like(t, sum(reshape(t.tensor(), {n, -1}), 1));
}
// Over dim 0 of a 0-d input (its one element, as in PyTorch), the tangent as it is.
Tangent sum(const Tangent& t, std::size_t dim, bool keepdim) {
  if (!t || t.primal_dim() == 0) return t;
  return like(t, sum(t.tensor(), dim_of(t, dim), keepdim));
}

Tangent trace(const Tangent& t) {
  if (!t || !t.batch()) return t ? like(t, trace(t.tensor())) : t;
  const Shape s = t.primal_shape();
  return sum(t * eye(s[0], s[1], {.dtype = t.tensor().dtype()}));
}

// A 0-d input takes the one index 0 (checked by the op): its batched tangent is the result's.
Tangent index_select(const Tangent& t, std::size_t dim, std::span<const std::size_t> index) {
  if (t && t.batch() && t.primal_dim() == 0) return t;
  return t ? like(t, index_select(t.tensor(), dim_of(t, dim), index)) : t;
}
Tangent slice(const Tangent& t, std::size_t dim, std::size_t start, std::size_t end, std::size_t step) {
  return t ? like(t, slice(t.tensor(), dim_of(t, dim), start, end, step)) : t;
}
Tangent index_add(const Tangent& a, std::size_t dim, std::span<const std::size_t> index,
                  const Tangent& source) {
  if (a.batch() && a.primal_dim() == 0) {  // one index, 0; a source of shape [] or [1]
    return like(a, a.tensor() + reshape(source.tensor(), a.tensor().shape()));
  }
  return like(a, index_add(a.tensor(), dim_of(a, dim), index, source.tensor()));
}
Tangent slice_scatter(const Tangent& a, const Tangent& source, std::size_t dim, std::size_t start,
                      std::size_t end, std::size_t step) {
  return like(a, slice_scatter(a.tensor(), source.tensor(), dim_of(a, dim), start, end, step));
}
Tangent concat(const std::vector<Tangent>& parts, std::size_t dim) {
  std::vector<Tensor> values;
  values.reserve(parts.size());
  for (const Tangent& p : parts) values.push_back(p.tensor());
  return like(parts.front(), concat(values, dim_of(parts.front(), dim)));
}

namespace {

// op(X) op(Y) for one batched operand (the directions leading) and one plain one, as a batched
// gemm with the plain operand repeated: the general case, for 3-D batches of matrices and the
// transposed ones that do not stack.
Tensor repeated_gemm(const Tensor& x, const Tensor& y, bool tx, bool ty, bool x_batched,
                     std::size_t n) {
  const Tensor& plain = x_batched ? y : x;
  Shape repeated{n};
  repeated.insert(repeated.end(), plain.shape().begin(), plain.shape().end());
  Tensor xs = x_batched ? x : broadcast_to(x, repeated);
  Tensor ys = x_batched ? broadcast_to(y, repeated) : y;
  if (xs.dim() == 3) return gemm(xs, ys, tx, ty);
  // [n, b, r, c]: fold the directions into the gemm's batch, then unfold them.
  auto fold = [](const Tensor& t) {
    const Shape& s = t.shape();
    return reshape(t, Shape{s[0] * s[1], s[2], s[3]});
  };
  const Tensor c = gemm(fold(xs), fold(ys), tx, ty);
  const Shape& cs = c.shape();
  return reshape(c, Shape{n, xs.shape()[1], cs[1], cs[2]});
}

}  // namespace

Tangent gemm(const Tangent& a, const Tensor& b, bool ta, bool tb) {
  if (!a || !a.batch()) return a ? like(a, gemm(a.tensor(), b, ta, tb)) : a;
  const Tensor& v = a.tensor();
  const Shape& s = v.shape();
  if (v.dim() == 3 && !ta) {  // the directions' rows stacked: one gemm
    const Tensor c = gemm(reshape(v, Shape{s[0] * s[1], s[2]}), b, false, tb);
    return like(a, reshape(c, Shape{s[0], s[1], c.shape()[1]}));
  }
  return like(a, repeated_gemm(v, b, ta, tb, true, a.batch()));
}

Tangent gemm(const Tensor& a, const Tangent& b, bool ta, bool tb) {
  if (!b || !b.batch()) return b ? like(b, gemm(a, b.tensor(), ta, tb)) : b;
  const Tensor& v = b.tensor();
  const Shape& s = v.shape();
  if (v.dim() == 3 && tb) {  // op(A) Bᵢᵀ = (Bᵢ op(A)ᵀ)ᵀ: the directions' rows stacked
    const Tensor c = gemm(reshape(v, Shape{s[0] * s[1], s[2]}), a, false, !ta);
    return like(b, swap_dims(reshape(c, Shape{s[0], s[1], c.shape()[1]}), 1, 2));
  }
  if (v.dim() == 3) {  // op(A) Bᵢ = (Bᵢᵀ op(A)ᵀ)ᵀ: the same, Bᵢᵀ's rows stacked
    const Tensor rows = reshape(swap_dims(v, 1, 2), Shape{s[0] * s[2], s[1]});
    const Tensor c = gemm(rows, a, false, !ta);
    return like(b, swap_dims(reshape(c, Shape{s[0], s[2], c.shape()[1]}), 1, 2));
  }
  return like(b, repeated_gemm(a, v, ta, tb, false, b.batch()));
}

Tangent mv(const Tangent& a, const Tensor& v, bool ta) {
  if (!a || !a.batch()) return a ? like(a, mv(a.tensor(), v, ta)) : a;
  const Tensor& t = a.tensor();
  const Shape& s = t.shape();
  if (!ta) {  // the directions' rows stacked: one product
    return like(a, reshape(mv(reshape(t, Shape{s[0] * s[1], s[2]}), v, false), Shape{s[0], s[1]}));
  }
  return reshape(gemm(a, reshape(v, Shape{v.numel(), 1}), true, false), Shape{s[2]});
}

Tangent mv(const Tensor& a, const Tangent& v, bool ta) {
  if (!v || !v.batch()) return v ? like(v, mv(a, v.tensor(), ta)) : v;
  return like(v, gemm(v.tensor(), a, false, !ta));  // op(A) vᵢ for every direction, as the rows of V op(A)ᵀ
}

Tangent linear(const Tensor& x, const Tangent& weight, const Tangent& bias) {
  if (!weight) return bias;
  if (!weight.batch()) return like(weight, linear(x, weight.tensor(), bias ? bias.tensor() : Tensor()));
  return gemm(x, weight, false, true) + bias;
}

}  // namespace matgrad
