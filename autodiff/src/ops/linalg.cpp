// Matrix products. gemm is the one primitive: every matmul case and every matmul VJP is a gemm
// with transpose flags, so no transpose is ever materialised. detail::gemm (backend.cpp) picks
// the library, and runs a product with a vector side as a matrix-vector product.
#include "matgrad/composed_op.hpp"
#include "../blas.hpp"
#include "common.hpp"

namespace matgrad {

using detail::check_defined;

static std::string describe(const Shape& s, bool transposed) {
  return to_string(s) + (transposed ? "ᵀ" : "");
}

static const OpInfo gemm_info{
    "gemm", "dC = op(dA) op(B) + op(A) op(dB)", "tC = op(tA) op(B) + op(A) op(tB) (two gemms, C's flags)",
    "C = A B: gA = gC Bᵀ, gB = Aᵀ gC (transposed cases likewise, by gemm flags)",
    "C = A B: dC = dA B + A dB: gA = gC Bᵀ, gB = Aᵀ gC; "
    "C = Aᵀ B: dC = dAᵀ B + Aᵀ dB: gA = B gCᵀ, gB = A gC; "
    "C = A Bᵀ: dC = dA Bᵀ + A dBᵀ: gA = gC B, gB = gCᵀ A; "
    "C = Aᵀ Bᵀ: dC = dAᵀ Bᵀ + Aᵀ dBᵀ: gA = Bᵀ gCᵀ, gB = gCᵀ Aᵀ"};

// C = op(A) op(B);  dC = op(dA) op(B) + op(A) op(dB). Reading tr(gCᵀ dC) off for each flag pair:
//   C = A B    =>  gA = gC Bᵀ,     gB = Aᵀ gC
//   C = Aᵀ B   =>  gA = B gCᵀ,     gB = A gC
//   C = A Bᵀ   =>  gA = gC B,      gB = gCᵀ A
//   C = Aᵀ Bᵀ  =>  gA = Bᵀ gCᵀ,    gB = gCᵀ Aᵀ
Tensor gemm(const Tensor& a, const Tensor& b, bool ta, bool tb, const SourceLocation& caller) {
  detail::check_same_dtype("gemm", a, b);
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const std::size_t rank = sa.size();
  if ((rank != 2 && rank != 3) || sb.size() != rank || (rank == 3 && sa[0] != sb[0])) {
    fail<ShapeError>("gemm: expects two matrices or two 3-D batches of equal size, got {} and {}",
                     to_string(sa), to_string(sb));
  }
  const std::size_t batch = rank == 3 ? sa[0] : 1;
  const std::size_t ra = sa[rank - 2], ca = sa[rank - 1], rb = sb[rank - 2], cb = sb[rank - 1];
  const std::size_t m = ta ? ca : ra, k = ta ? ra : ca, kb = tb ? cb : rb, n = tb ? rb : cb;
  if (k != kb) {
    fail<ShapeError>("gemm: inner dimensions differ: {} @ {}", describe(sa, ta), describe(sb, tb));
  }
  Shape out_shape = rank == 3 ? Shape{batch, m, n} : Shape{m, n};
  Tensor out = a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const auto& y = b.data<T>();
    Tensor result = detail::empty_tensor<T>(out_shape, "gemm");
    T* c = detail::elements_of<T>(result);
    if (k == 0) std::fill(c, c + result.numel(), T(0));
    if (m != 0 && n != 0 && k != 0) {
      for (std::size_t i = 0; i < batch; ++i) {
        detail::gemm(ta, tb, m, n, k, x.data() + i * ra * ca, ca, y.data() + i * rb * cb, cb,
                     T(0), c + i * m * n, n);
      }
    }
    return result;
  });
  return record(
      gemm_info, std::move(out), {a, b},
      // (the tangents are da and db here: ta and tb are the flags)
      [&](const Tangent& da, const Tangent& db) { return gemm(da, b, ta, tb) + gemm(a, db, ta, tb); },
      [a, b, ta, tb](const Tensor& g, const VjpContext& ctx) -> Grads {
        Tensor ga, gb;
        if (ctx.needs[0]) ga = !ta ? gemm(g, b, false, !tb) : gemm(b, g, tb, true);
        if (ctx.needs[1]) gb = !tb ? gemm(a, g, !ta, false) : gemm(g, a, true, ta);
        return {ga, gb};
      },
      caller);
}

// C = X Wᵀ + 1 bᵀ, X [N, in], W [out, in], b [out]: torch.nn.functional.linear (X of another
// rank ≥ 1 is [*, in], its leading dims flattened into N around the product). One record and
// one pass over C instead of gemm then add: C starts as the broadcast bias and the gemm adds
// X Wᵀ onto it (β = 1). The VJP is written with gemm and sum, so it differentiates again.
//   dC = dX Wᵀ + X dWᵀ + 1 dbᵀ  =>  gX = gC W,  gW = gCᵀ X,  gb = 1ᵀ gC (column sums)
static const OpInfo linear_info{"linear", "dC = dX Wᵀ + X dWᵀ + 1 dbᵀ", "tC = tX Wᵀ + linear(X, tW, tb)",
                                "gX = gC W, gW = gCᵀ X, gb = 1ᵀ gC",
    "C = X Wᵀ + 1 bᵀ"};
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b, const SourceLocation& caller) {
  detail::check_same_dtype("linear", x, w);
  if (b.defined()) detail::check_same_dtype("linear", x, b);
  const Shape& sx = x.shape();
  const Shape& sw = w.shape();
  if (sx.empty() || sw.size() != 2 || sx.back() != sw[1]) {
    fail<ShapeError>("linear: expects input [*, in] and weight [out, in], got {} and {}",
                     to_string(sx), to_string(sw));
  }
  const std::size_t in = sx.back(), out = sw[0];
  if (b.defined() && b.shape() != Shape{out}) {
    fail<ShapeError>("linear: the bias must have shape [{}] for weight {}, got {}", out,
                     to_string(sw), to_string(b.shape()));
  }
  // Any other rank, as in torch: the leading dims are rows of one [N, in] product.
  if (sx.size() != 2) {
    Shape out_shape = sx;
    out_shape.back() = out;
    const auto rows = static_cast<std::ptrdiff_t>(detail::dims_product(sx, 0, sx.size() - 1));
    return reshape(linear(reshape(x, {rows, static_cast<std::ptrdiff_t>(in)}, caller), w, b, caller),
                   out_shape, caller);
  }
  const std::size_t rows = sx[0];
  Tensor c = x.visit([&](const auto& xa) {
    using T = typename std::decay_t<decltype(xa)>::value_type;
    Tensor y = detail::empty_tensor<T>({rows, out}, "linear");
    T* dst = detail::elements_of<T>(y);
    const T* bias = b.defined() ? b.data<T>().data() : nullptr;
    parallel_for(dtype_of<T>(), rows, std::max<std::size_t>(1, kGrain / std::max<std::size_t>(out, 1)),
                 [&](std::size_t begin, std::size_t end) {
                   for (std::size_t r = begin; r < end; ++r) {
                     if (bias) {
                       std::copy(bias, bias + out, dst + r * out);
                     } else {
                       std::fill(dst + r * out, dst + (r + 1) * out, T(0));
                     }
                   }
                 });
    if (rows != 0 && out != 0 && in != 0) {
      detail::gemm(false, true, rows, out, in, xa.data(), in, w.data<T>().data(), in, T(1), dst,
                   out);
    }
    return y;
  });
  return record(
      linear_info, std::move(c), {x, w, b},
      [&](const Tangent& tx, const Tangent& tw, const Tangent& tb) {
        return gemm(tx, w, false, true) + linear(x, tw, tb);
      },
      [x, w](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? gemm(g, w) : Tensor(), ctx.needs[1] ? gemm(g, x, true, false) : Tensor(),
                ctx.needs[2] ? sum(g, 0) : Tensor()};
      },
      caller);
}

// C = op(A) v for a matrix A and a vector v (torch.mv; with transpose_a, vᵀA read as Aᵀv): one
// record on gemv where matmul's matrix·vector cases were gemm between two reshapes.
//   C = A v   =>  dC = dA v + A dv    =>  gA = gC vᵀ, gv = Aᵀ gC
//   C = Aᵀ v  =>  dC = dAᵀ v + Aᵀ dv  =>  gA = v gCᵀ, gv = A gC
static const OpInfo mv_info{"mv", "dC = op(dA) v + op(A) dv", "tC = mv(tA, v) + mv(A, tv) (batched: one gemm over the directions)",
                            "C = A v: gA = gC vᵀ, gv = Aᵀ gC; C = Aᵀ v: gA = v gCᵀ, gv = A gC",
    "C = op(A) v"};
Tensor mv(const Tensor& a, const Tensor& v, bool transpose_a, const SourceLocation& caller) {
  detail::check_same_dtype("mv", a, v);
  const Shape& sa = a.shape();
  if (sa.size() != 2 || v.dim() != 1) {
    fail<ShapeError>("mv: expects a matrix and a vector, got {} and {}", to_string(sa), to_string(v.shape()));
  }
  const std::size_t rows = sa[0], cols = sa[1];
  const std::size_t m = transpose_a ? cols : rows, k = transpose_a ? rows : cols;
  if (v.numel() != k) {
    fail<ShapeError>("mv: inner dimensions differ: {} @ {}", describe(sa, transpose_a), to_string(v.shape()));
  }
  Tensor out = a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor result = detail::empty_tensor<T>({m}, "mv");
    T* c = detail::elements_of<T>(result);
    if (k == 0) std::fill(c, c + m, T(0));
    if (m != 0 && k != 0) detail::gemm(transpose_a, false, m, 1, k, x.data(), cols, v.data<T>().data(), 1, T(0), c, 1);
    return result;
  });
  return record(
      mv_info, std::move(out), {a, v},
      [&](const Tangent& ta, const Tangent& tv) { return mv(ta, v, transpose_a) + mv(a, tv, transpose_a); },
      [a, v, transpose_a](const Tensor& g, const VjpContext& ctx) -> Grads {
        Tensor ga, gv;
        if (ctx.needs[0]) ga = transpose_a ? outer(v, g) : outer(g, v);
        if (ctx.needs[1]) gv = mv(a, g, !transpose_a);
        return {ga, gv};
      },
      caller);
}

static const ComposedOpInfo matmul_composed{"matmul", "C = A B: gemm for matrices; mv for a matrix and a vector; other vectors unsqueezed to a row / column and the result squeezed; batches broadcast (torch.matmul)"};
Tensor matmul(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  detail::check_same_dtype("matmul", a, b);
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  if (sa.empty() || sb.empty()) {
    fail<ShapeError>("matmul: both arguments need at least 1 dimension, got {} @ {}", to_string(sa), to_string(sb));
  }
  const std::size_t ka = sa.back();
  const std::size_t kb = sb.size() == 1 ? sb[0] : sb[sb.size() - 2];
  if (ka != kb) {
    fail<ShapeError>("matmul: inner dimensions differ: {} @ {}", to_string(sa), to_string(sb));
  }
  if (sa.size() == 1 && sb.size() == 1) {
    return reshape(gemm(unsqueeze(a, 0, caller), unsqueeze(b, 1, caller), false, false, caller), Shape{}, caller);
  }
  if (sa.size() == 2 && sb.size() == 1) return mv(a, b, false, caller);
  if (sa.size() == 1 && sb.size() == 2) return mv(b, a, true, caller);  // vᵀ B = Bᵀ v
  if (sa.size() == 1) return squeeze(matmul(unsqueeze(a, 0, caller), b, caller), -2, caller);  // vector · (batched) matrix
  if (sb.size() == 1) return squeeze(matmul(a, unsqueeze(b, 1, caller), caller), -1, caller);  // (batched) matrix · vector
  if (sa.size() == 2 && sb.size() == 2) return gemm(a, b, false, false, caller);
  const std::size_t m = sa[sa.size() - 2], n = sb.back();
  if (sb.size() == 2) {  // [*, m, k] @ [k, n]: one gemm over the stacked rows
    Shape out = sa;
    out.back() = n;
    return reshape(gemm(reshape(a, Shape{detail::dims_product(sa, 0, sa.size() - 1), ka}, caller), b, false, false, caller),
                   out, caller);
  }
  // Batch dims broadcast as elementwise ops do, then one batched gemm over them flattened.
  for (std::size_t i = 3; i <= std::min(sa.size(), sb.size()); ++i) {
    const std::size_t da = sa[sa.size() - i], db = sb[sb.size() - i];
    if (da != db && da != 1 && db != 1) {
      fail<ShapeError>("matmul: batch dims do not broadcast: {} @ {}", to_string(sa), to_string(sb));
    }
  }
  const Shape batch = detail::broadcast_shapes("matmul", Shape(sa.begin(), sa.end() - 2), Shape(sb.begin(), sb.end() - 2));
  auto batched = [&](const Tensor& x, std::size_t rows, std::size_t cols) {
    Shape full = batch;
    full.push_back(rows);
    full.push_back(cols);
    const Tensor expanded = x.shape() == full ? x : broadcast_to(x, full, caller);
    if (full.size() == 3) return expanded;
    return reshape(expanded, Shape{detail::dims_product(batch, 0, batch.size()), rows, cols}, caller);
  };
  const Tensor c = gemm(batched(a, m, ka), batched(b, ka, n), false, false, caller);
  if (batch.size() == 1) return c;
  Shape out = batch;
  out.push_back(m);
  out.push_back(n);
  return reshape(c, out, caller);
}

}  // namespace matgrad
