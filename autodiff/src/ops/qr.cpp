// The QR decomposition (torch.linalg.qr), batched over leading dims, in LAPACK (geqrf, then
// orgqr for Q): A = Q R, Q with orthonormal columns, R upper triangular, k = min(m, n). Modes as
// torch's: "reduced" (Q [*, m, k], R [*, k, n]), "complete" (Q [*, m, m], R [*, m, n]) and "r"
// (R only; Q is an empty tensor). R's diagonal has LAPACK's signs (possibly negative), as torch.
// One record packs Q and R side by side along the last dim ([*, m·q + r·n]), as svd.cpp does,
// so that its rule sees both gradients at once (torch's linalg_qr_backward).
//
// Gradients as torch's: defined for full-rank A (they solve with R); for mode "complete" only
// when m ≤ n (then it is the reduced decomposition), and never for mode "r" (Q is needed). The
// others raise torch's errors when differentiated.
#include "lapack.hpp"

namespace matgrad {

using detail::lapack_int;
using detail::MatrixBatch;
using detail::mT;

namespace {

struct QrLayout {
  MatrixBatch batch;
  std::size_t k = 0, q_cols = 0, r_rows = 0;  // min(m, n); the columns of Q (0: mode "r"); the rows of R
  bool compute_q = true, complete = false;
  std::size_t size() const { return batch.rows * q_cols + r_rows * batch.cols; }
};

QrLayout layout_of(const Tensor& a, std::string_view mode) {
  if (mode != "reduced" && mode != "complete" && mode != "r") {
    fail<ValueError>("qr: mode must be \"reduced\", \"complete\" or \"r\", got \"{}\"", mode);
  }
  QrLayout l;
  l.batch = detail::matrix_batch("qr", a);
  const std::size_t m = l.batch.rows;
  l.k = std::min(m, l.batch.cols);
  l.compute_q = mode != "r";
  l.complete = mode == "complete";
  l.q_cols = !l.compute_q ? 0 : l.complete ? m : l.k;
  l.r_rows = l.complete ? m : l.k;
  return l;
}

QrResult unpack(const Tensor& p, const QrLayout& l) {
  const std::size_t m = l.batch.rows, n = l.batch.cols, q_end = m * l.q_cols;
  return {reshape(slice(p, -1, 0, q_end), l.batch.with({m, l.q_cols})),
          reshape(slice(p, -1, q_end, q_end + l.r_rows * n), l.batch.with({l.r_rows, n}))};
}

Tensor pack(const Tensor& q, const Tensor& r) { return concat({flatten(q, -2), flatten(r, -2)}, -1); }

// The packed decomposition, without history.
Tensor decompose(const Tensor& a, const QrLayout& l) {
  const std::size_t m = l.batch.rows, n = l.batch.cols, k = l.k, qc = l.q_cols, rr = l.r_rows;
  Shape packed = l.batch.batch;
  packed.push_back(l.size());
  return a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    detail::check_finite_matrices("qr", x, l.batch);
    detail::prepare_blas();
    Tensor out = detail::empty_tensor<T>(packed, "qr");
    T* dst = detail::elements_of<T>(out);
    std::vector<T> am, tau(k), q(m * qc), work;
    for (std::size_t i = 0; i < l.batch.count; ++i) {
      T* pq = dst + i * l.size();
      T* pr = pq + m * qc;
      detail::to_column_major(x.data() + i * m * n, m, n, am);
      if (k > 0) {
        T work_size = 0;
        cxxlapack::geqrf<xt::blas_index_t>(lapack_int(m), lapack_int(n), am.data(), lapack_int(m), tau.data(),
                                           &work_size, -1);
        work.resize(std::max<std::size_t>(1, static_cast<std::size_t>(work_size)));
        const auto info = cxxlapack::geqrf<xt::blas_index_t>(lapack_int(m), lapack_int(n), am.data(), lapack_int(m),
                                                             tau.data(), work.data(), lapack_int(work.size()));
        if (info < 0) fail<Error>("qr: internal error: LAPACK geqrf rejected argument {}", -info);
      }
      // R: the upper triangle of the factored matrix, its first rr rows (zero below the diagonal).
      for (std::size_t r = 0; r < rr; ++r) {
        for (std::size_t c = 0; c < n; ++c) pr[r * n + c] = c >= r ? am[r + c * m] : T(0);
      }
      if (qc == 0 || m == 0) continue;
      // Q: the reflectors in the first k columns of an m × qc buffer, expanded by orgqr.
      std::fill(q.begin(), q.end(), T(0));
      std::copy(am.begin(), am.begin() + static_cast<std::ptrdiff_t>(m * k), q.begin());
      T work_size = 0;
      cxxlapack::orgqr<xt::blas_index_t>(lapack_int(m), lapack_int(qc), lapack_int(k), q.data(), lapack_int(m),
                                         tau.data(), &work_size, -1);
      work.resize(std::max<std::size_t>(1, static_cast<std::size_t>(work_size)));
      const auto info = cxxlapack::orgqr<xt::blas_index_t>(lapack_int(m), lapack_int(qc), lapack_int(k), q.data(),
                                                           lapack_int(m), tau.data(), work.data(),
                                                           lapack_int(work.size()));
      if (info < 0) fail<Error>("qr: internal error: LAPACK orgqr rejected argument {}", -info);
      detail::from_column_major(q.data(), m, qc, m, pq);
    }
    return out;
  });
}

void check_differentiable(const QrLayout& l) {
  if (!l.compute_q) {
    fail<AutogradError>("qr: the derivative of linalg.qr depends on Q, which is not computed when mode='r'. Use "
                     "mode='reduced' to differentiate through qr");
  }
  if (l.complete && l.batch.rows > l.batch.cols) {
    fail<AutogradError>("qr: the QR decomposition is not differentiable when mode='complete' and nrows > ncols "
                     "(A has shape [{}, {}]): Q's last {} columns are any basis of the complement",
                     l.batch.rows, l.batch.cols, l.batch.rows - l.batch.cols);
  }
}

// Z R⁻¹ and Z R⁻ᵀ for upper triangular R.
Tensor right_solve(const Tensor& z, const Tensor& r) { return solve_triangular(r, z, true, false); }
Tensor right_solve_transposed(const Tensor& z, const Tensor& r) { return solve_triangular(mT(r), z, false, false); }

// (dQ, dR) of A = Q R with R square (m ≥ n): see the differential above qr_info.
std::pair<Tensor, Tensor> tall_tangent(const Tensor& q, const Tensor& r, const Tensor& da) {
  const Tensor da_rinv = right_solve(da, r);
  const Tensor x = matmul(mT(q), da_rinv);
  const Tensor lower = tril(x, -1);
  const Tensor u = triu(x) + mT(lower);  // X − C, C = lower − lowerᵀ = Qᵀ dQ
  return {da_rinv - matmul(q, u), matmul(u, r)};
}

// gA of A = Q R with R square (m ≥ n): gA = (gQ + Q copyltu(M)) R⁻ᵀ, M = R gRᵀ − gQᵀ Q.
Tensor tall_gradient(const Tensor& q, const Tensor& r, const Tensor& gq, const Tensor& gr) {
  const Tensor mm = matmul(r, mT(gr)) - matmul(mT(gq), q);
  const Tensor sym = tril(mm) + mT(tril(mm, -1));
  return right_solve_transposed(gq + matmul(q, sym), r);
}

}  // namespace

// m ≥ n: A = Q R, QᵀQ = I  =>  dA = dQ R + Q dR, Qᵀ dQ skew (C), dR R⁻¹ upper triangular, so
//   X = Qᵀ dA R⁻¹ = C + dR R⁻¹  =>  C = tril(X, −1) − tril(X, −1)ᵀ,
//   dR = (X − C) R,  dQ = dA R⁻¹ − Q (X − C)
// Read as tr(gQᵀ dQ) + tr(gRᵀ dR) = tr(gQᵀ dA R⁻¹) + tr(M (X − C)), M = R gRᵀ − gQᵀ Q:
//   gA = (gQ + Q copyltu(M)) R⁻ᵀ,  copyltu(M) = tril(M) + tril(M, −1)ᵀ
// m < n: A = [X | Y], R = [R₁ | R₂]: X = Q R₁ is the square case and R₂ = Qᵀ Y, so
//   dR₂ = dQᵀ Y + Qᵀ dY;  gY = Q gR₂, gX from the square case with gQ + Y gR₂ᵀ in place of gQ.
static const OpInfo qr_info{
    "qr", "dR = (X − C) R, dQ = dA R⁻¹ − Q (X − C), X = Qᵀ dA R⁻¹, C = tril(X, −1) − tril(X, −1)ᵀ",
    "tR = (X − C) R, tQ = tA R⁻¹ − Q (X − C), X = Qᵀ tA R⁻¹, C = tril(X, −1) − tril(X, −1)ᵀ",
    "gA = (gQ + Q (tril(M) + tril(M, −1)ᵀ)) R⁻ᵀ, M = R gRᵀ − gQᵀ Q", Saves::output, "C = qr(A)"};
QrResult qr(const Tensor& a, std::string_view mode, const SourceLocation& caller) {
  const QrLayout l = layout_of(a, mode);
  const std::size_t m = l.batch.rows, n = l.batch.cols;
  Tensor packed = record(
      qr_info, decompose(a, l), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        check_differentiable(l);
        const QrResult f = unpack(ctx.output, l);
        return ta.map([&](const Tensor& da) {
          if (m >= n) {
            const auto [dq, dr] = tall_tangent(f.Q, f.R, da);
            return pack(dq, dr);
          }
          const Tensor r1 = slice(f.R, -1, 0, m), y = matmul(f.Q, slice(f.R, -1, m, n));  // Y = Q R₂
          const auto [dq, dr1] = tall_tangent(f.Q, r1, slice(da, -1, 0, m));
          const Tensor dr2 = matmul(mT(dq), y) + matmul(mT(f.Q), slice(da, -1, m, n));
          return pack(dq, concat({dr1, dr2}, -1));
        });
      },
      [l, m, n](const Tensor& g, const VjpContext& ctx) -> Grads {
        check_differentiable(l);
        const QrResult f = unpack(ctx.output, l);
        const QrResult gf = unpack(g, l);
        if (m >= n) return {tall_gradient(f.Q, f.R, gf.Q, gf.R)};
        const Tensor gr2 = slice(gf.R, -1, m, n), y = matmul(f.Q, slice(f.R, -1, m, n));  // Y = Q R₂
        const Tensor gx = tall_gradient(f.Q, slice(f.R, -1, 0, m), gf.Q + matmul(y, mT(gr2)), slice(gf.R, -1, 0, m));
        return {concat({gx, matmul(f.Q, gr2)}, -1)};
      },
      caller);
  QrResult result = unpack(packed, l);
  if (!l.compute_q) result.Q = zeros({0}, {.dtype = a.dtype()});
  return result;
}

}  // namespace matgrad
