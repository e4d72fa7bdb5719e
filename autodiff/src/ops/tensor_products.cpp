// Issue 14's composed linear algebra: kron, linalg.cross, linalg.vecdot, tensordot,
// linalg.multi_dot and linalg.matrix_power. Each is composed from differentiable primitives
// (reshape, permute, mul, sum, index_select, gemm, inverse), so its VJP and JVP fall out of the
// graph exactly: every one is a product whose rule is the primitives' (d(AB) = dA B + A dB), at
// the cost of the same gemm or elementwise pass a rule of its own would make.
#include "matgrad/composed_op.hpp"
#include "common.hpp"

#include <limits>
#include <numeric>
#include <vector>

namespace matgrad {

using detail::check_defined;
using detail::check_same_dtype;
using detail::dims_product;
using detail::normalize_dim;

namespace {

Shape leading(const Shape& s, std::size_t drop) { return Shape(s.begin(), s.end() - static_cast<std::ptrdiff_t>(drop)); }

Shape joined(Shape a, const Shape& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

namespace detail {
// [..., m, k] @ [..., k, n] with the same batch dims (any number of them): one batched gemm.
Tensor batched_matmul(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  if (a.dim() <= 3 && a.dim() == b.dim()) return matmul(a, b, caller);
  const Shape batch = leading(a.shape(), 2);
  const std::size_t count = dims_product(batch, 0, batch.size());
  const std::size_t m = a.shape()[a.dim() - 2], n = b.shape()[b.dim() - 1];
  const Tensor c = matmul(reshape(a, Shape{count, m, a.shape().back()}, caller),
                          reshape(b, Shape{count, b.shape()[b.dim() - 2], n}, caller), caller);
  return reshape(c, joined(batch, Shape{m, n}), caller);
}
}  // namespace detail

static const ComposedOpInfo kron_composed{"kron", "C = reshape(reshape(A, [a₀, 1, a₁, 1, ...]) ⊙ reshape(B, [1, b₀, 1, b₁, ...]), [a₀b₀, a₁b₁, ...])"};
// torch.kron: shapes padded with leading 1s to one rank r; C[i·q + k] = A[i] B[k] in each dim.
// A as [a₀, 1, a₁, 1, ...] times B as [1, b₀, 1, b₁, ...] (a broadcast mul), then merged.
Tensor kron(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  check_same_dtype("kron", a, b);
  const std::size_t rank = std::max(a.dim(), b.dim());
  Shape sa(rank - a.dim(), 1), sb(rank - b.dim(), 1);
  sa.insert(sa.end(), a.shape().begin(), a.shape().end());
  sb.insert(sb.end(), b.shape().begin(), b.shape().end());
  Shape ia, ib, out;
  for (std::size_t d = 0; d < rank; ++d) {
    ia.push_back(sa[d]);
    ia.push_back(1);
    ib.push_back(1);
    ib.push_back(sb[d]);
    out.push_back(sa[d] * sb[d]);
  }
  return reshape(mul(reshape(a, ia, caller), reshape(b, ib, caller), caller), out, caller);
}

static const ComposedOpInfo cross_composed{"cross", "C = A[i+1] ⊙ B[i+2] − A[i+2] ⊙ B[i+1] along dim (index_select, mul, sub)"};
// torch.linalg.cross along dim (of size 3, after broadcasting a against b):
// C = A₍₁₂₀₎ ⊙ B₍₂₀₁₎ − A₍₂₀₁₎ ⊙ B₍₁₂₀₎, the index lists being index_selects along dim.
Tensor cross(const Tensor& a, const Tensor& b, std::ptrdiff_t dim, const SourceLocation& caller) {
  check_same_dtype("cross", a, b);
  if (a.dim() != b.dim()) {
    fail<ShapeError>("cross: a {} and b {} must have the same rank (torch.linalg.cross)", to_string(a.shape()),
                     to_string(b.shape()));
  }
  const Shape shape = detail::broadcast_shapes("cross", a.shape(), b.shape());
  const std::size_t d = normalize_dim("cross", dim, shape.size());
  if (a.shape()[d] != 3 || b.shape()[d] != 3) {
    fail<ShapeError>("cross: dim {} must have size 3 in both, got {} and {}", dim, to_string(a.shape()),
                     to_string(b.shape()));
  }
  const Tensor x = a.shape() == shape ? a : broadcast_to(a, shape, caller);
  const Tensor y = b.shape() == shape ? b : broadcast_to(b, shape, caller);
  static const std::vector<std::size_t> next{1, 2, 0}, after{2, 0, 1};
  const auto sd = static_cast<std::ptrdiff_t>(d);
  return sub(mul(index_select(x, sd, next, caller), index_select(y, sd, after, caller), caller),
             mul(index_select(x, sd, after, caller), index_select(y, sd, next, caller), caller), caller);
}

static const ComposedOpInfo vecdot_composed{"vecdot", "C = Σ_dim A ⊙ B (broadcasting)"};
// torch.linalg.vecdot for real tensors: Σ_dim A ⊙ B, broadcasting (dim of the broadcast shape).
Tensor vecdot(const Tensor& a, const Tensor& b, std::ptrdiff_t dim, const SourceLocation& caller) {
  check_same_dtype("vecdot", a, b);
  const Shape shape = detail::broadcast_shapes("vecdot", a.shape(), b.shape());
  if (shape.empty()) fail<ShapeError>("vecdot: expects tensors of rank >= 1, got two 0-d tensors");
  const std::size_t d = normalize_dim("vecdot", dim, shape.size());
  return sum(mul(a, b, caller), static_cast<std::ptrdiff_t>(d), false, caller);
}

static const ComposedOpInfo tensordot_composed{"tensordot", "C = reshape(gemm(reshape(permute(A), [free, contracted]), reshape(permute(B), [contracted, free]))), the free dims unflattened"};
// torch.tensordot: A's dims_a contracted with B's dims_b (pairwise, equal sizes): A permuted to
// [free, contracted] and B to [contracted, free], each flattened to a matrix, one gemm, and the
// free dims unflattened.
Tensor tensordot(const Tensor& a, const Tensor& b, const std::vector<std::ptrdiff_t>& dims_a,
                 const std::vector<std::ptrdiff_t>& dims_b, const SourceLocation& caller) {
  check_same_dtype("tensordot", a, b);
  if (dims_a.size() != dims_b.size()) {
    fail<ShapeError>("tensordot: {} dims of a but {} of b to contract", dims_a.size(), dims_b.size());
  }
  std::vector<bool> in_a(a.dim(), false), in_b(b.dim(), false);
  std::vector<std::ptrdiff_t> contracted_a, contracted_b;
  std::size_t k = 1;
  for (std::size_t i = 0; i < dims_a.size(); ++i) {
    const std::size_t da = normalize_dim("tensordot", dims_a[i], a.dim()), db = normalize_dim("tensordot", dims_b[i], b.dim());
    if (in_a[da] || in_b[db]) fail<IndexError>("tensordot: a dim is contracted twice ({}, {})", dims_a[i], dims_b[i]);
    if (a.shape()[da] != b.shape()[db]) {
      fail<ShapeError>("tensordot: dim {} of a {} (size {}) and dim {} of b {} (size {}) differ", dims_a[i],
                       to_string(a.shape()), a.shape()[da], dims_b[i], to_string(b.shape()), b.shape()[db]);
    }
    in_a[da] = in_b[db] = true;
    contracted_a.push_back(static_cast<std::ptrdiff_t>(da));
    contracted_b.push_back(static_cast<std::ptrdiff_t>(db));
    k *= a.shape()[da];
  }
  std::vector<std::ptrdiff_t> order_a, order_b = contracted_b;
  Shape free_a, free_b;
  for (std::size_t d = 0; d < a.dim(); ++d) {
    if (!in_a[d]) {
      order_a.push_back(static_cast<std::ptrdiff_t>(d));
      free_a.push_back(a.shape()[d]);
    }
  }
  order_a.insert(order_a.end(), contracted_a.begin(), contracted_a.end());
  for (std::size_t d = 0; d < b.dim(); ++d) {
    if (!in_b[d]) {
      order_b.push_back(static_cast<std::ptrdiff_t>(d));
      free_b.push_back(b.shape()[d]);
    }
  }
  const std::size_t m = dims_product(free_a, 0, free_a.size()), n = dims_product(free_b, 0, free_b.size());
  const Tensor left = reshape(permute(a, order_a, caller), Shape{m, k}, caller);
  const Tensor right = reshape(permute(b, order_b, caller), Shape{k, n}, caller);
  return reshape(gemm(left, right, false, false, caller), joined(free_a, free_b), caller);
}

// tensordot(a, b, n): A's last n dims with B's first n.
Tensor detail::tensordot_count(const Tensor& a, const Tensor& b, std::int64_t count, const SourceLocation& caller) {
  check_same_dtype("tensordot", a, b);
  if (count < 0) fail<ValueError>("tensordot: a negative number of dims to contract, {}", count);
  const auto dims = static_cast<std::size_t>(count);
  if (dims > a.dim() || dims > b.dim()) {
    fail<ShapeError>("tensordot: {} dims to contract, but a is {} and b {}", dims, to_string(a.shape()), to_string(b.shape()));
  }
  std::vector<std::ptrdiff_t> da, db;
  for (std::size_t i = 0; i < dims; ++i) {
    da.push_back(static_cast<std::ptrdiff_t>(a.dim() - dims + i));
    db.push_back(static_cast<std::ptrdiff_t>(i));
  }
  return tensordot(a, b, da, db, caller);
}

static const ComposedOpInfo multi_dot_composed{"multi_dot", "C = A₁ A₂ ⋯ Aₙ by matmul in the cheapest order (the matrix-chain programme)"};
// torch.linalg.multi_dot: A₁ A₂ ⋯ Aₙ in the cheapest order (the matrix-chain dynamic programme on
// m·k·n multiply-adds); the first may be a vector (a row), the last a vector (a column), and
// their dims are dropped from the result as torch's.
Tensor multi_dot(const std::vector<Tensor>& tensors, const SourceLocation& caller) {
  const std::size_t count = tensors.size();
  if (count < 2) fail<ShapeError>("multi_dot: expects at least 2 tensors, got {}", count);
  std::vector<Tensor> m(tensors);
  for (std::size_t i = 0; i < count; ++i) {
    check_same_dtype("multi_dot", tensors[0], tensors[i]);
    const std::size_t rank = tensors[i].dim();
    const bool end = i == 0 || i + 1 == count;
    if (rank != 2 && !(end && rank == 1)) {
      fail<ShapeError>("multi_dot: tensor {} has shape {}; expected a matrix{}", i, to_string(tensors[i].shape()),
                       end ? " or a vector" : "");
    }
    if (rank == 1) m[i] = i == 0 ? unsqueeze(tensors[i], 0, caller) : unsqueeze(tensors[i], 1, caller);
  }
  std::vector<std::size_t> p{m[0].shape()[0]};  // A_i is p[i] × p[i + 1]
  for (std::size_t i = 0; i < count; ++i) {
    if (m[i].shape()[0] != p.back()) {
      fail<ShapeError>("multi_dot: tensor {} of shape {} does not follow shape {}", i, to_string(tensors[i].shape()),
                       to_string(tensors[i - 1].shape()));
    }
    p.push_back(m[i].shape()[1]);
  }
  // cost[i][j]: the cheapest A_i ⋯ A_j; split[i][j]: where its last product splits it.
  std::vector<std::vector<double>> cost(count, std::vector<double>(count, 0));
  std::vector<std::vector<std::size_t>> split(count, std::vector<std::size_t>(count, 0));
  for (std::size_t len = 2; len <= count; ++len) {
    for (std::size_t i = 0; i + len <= count; ++i) {
      const std::size_t j = i + len - 1;
      cost[i][j] = std::numeric_limits<double>::infinity();
      for (std::size_t s = i; s < j; ++s) {
        const double c = cost[i][s] + cost[s + 1][j] + static_cast<double>(p[i]) * static_cast<double>(p[s + 1]) * static_cast<double>(p[j + 1]);
        if (c < cost[i][j]) {
          cost[i][j] = c;
          split[i][j] = s;
        }
      }
    }
  }
  std::vector<std::vector<Tensor>> product(count, std::vector<Tensor>(count));
  for (std::size_t i = 0; i < count; ++i) product[i][i] = m[i];
  // Only the chains on the optimal tree are formed: walk it with an explicit stack.
  struct Job {
    std::size_t i, j;
    bool expanded;
  };
  std::vector<Job> stack{{0, count - 1, false}};
  while (!stack.empty()) {
    Job job = stack.back();
    stack.pop_back();
    if (job.i == job.j) continue;
    const std::size_t s = split[job.i][job.j];
    if (!job.expanded) {
      stack.push_back({job.i, job.j, true});
      stack.push_back({job.i, s, false});
      stack.push_back({s + 1, job.j, false});
      continue;
    }
    product[job.i][job.j] = gemm(product[job.i][s], product[s + 1][job.j], false, false, caller);
  }
  Tensor out = product[0][count - 1];
  if (tensors.back().dim() == 1) out = squeeze(out, -1, caller);
  if (tensors.front().dim() == 1) out = squeeze(out, 0, caller);
  return out;
}

static const ComposedOpInfo matrix_power_composed{"matrix_power", "C = Aᵏ by repeated squaring (matmul); I for k = 0; (inverse(A))^|k| for k < 0"};
// torch.linalg.matrix_power for square matrices [..., n, n]: the identity for k = 0 (constant,
// gradient 0, as torch), repeated squaring for k > 0, and (A⁻¹)^|k| for k < 0, the inverse
// matrix by matrix.
Tensor matrix_power(const Tensor& a, std::int64_t k, const SourceLocation& caller) {
  check_defined("matrix_power", a);
  if (a.dim() < 2 || a.shape()[a.dim() - 1] != a.shape()[a.dim() - 2]) {
    fail<ShapeError>("matrix_power: expects square matrices [..., n, n], got shape {}", to_string(a.shape()));
  }
  const std::size_t n = a.shape().back();
  if (k == 0) return broadcast_to(eye(n, {.dtype = a.dtype()}), a.shape(), caller);
  Tensor base = a;
  if (k < 0) {
    if (a.dim() == 2) {
      base = inverse(a, caller);
    } else {
      const Shape batch = leading(a.shape(), 2);
      std::vector<Tensor> inverses;
      for (const Tensor& m : unbind(reshape(a, Shape{dims_product(batch, 0, batch.size()), n, n}, caller), 0, caller)) {
        inverses.push_back(inverse(m, caller));
      }
      base = inverses.empty() ? a : reshape(stack(inverses, 0, caller), a.shape(), caller);
    }
  }
  auto e = static_cast<std::uint64_t>(k < 0 ? -k : k);
  Tensor result;
  while (true) {
    if (e & 1U) result = result.defined() ? detail::batched_matmul(result, base, caller) : base;
    e >>= 1U;
    if (e == 0) break;
    base = detail::batched_matmul(base, base, caller);
  }
  return result;
}

}  // namespace matgrad
