// The singular value decomposition (torch.linalg.svd and svdvals), batched over leading dims, in
// LAPACK (gesdd): A = U diag(S) Vh, S descending, k = min(m, n). svd is one record whose
// output packs U, S and Vh side by side along the last dim ([*, m·mu + k + vr·n]); the three
// are cut out of it, so its rule sees their three gradients at once (torch's svd_backward, whose
// parts hold each other: one record cannot hold another that holds it).
//
// Gradients as torch's: S's always (U diag(gS) Vh); U's and Vh's divide by sⱼ² − sᵢ², and by s
// where m ≠ n, so they are inf or NaN at repeated or zero singular values, and only a loss that
// does not depend on the singular vectors' signs has one (e.g. |U|, or U Vh). With
// full_matrices, the columns of U and rows of Vh beyond k get no gradient and no tangent (they
// are any basis of the complement, as in torch). The op table checks at distinct values.
#include "lapack.hpp"

namespace matgrad {

using detail::diag_embed_of_vectors;
using detail::diagonal_of_matrices;
using detail::identity_like;
using detail::lapack_int;
using detail::MatrixBatch;
using detail::mT;

namespace {

struct SvdLayout {
  MatrixBatch batch;
  std::size_t k = 0, mu = 0, vr = 0;  // min(m, n); the columns of U and the rows of Vh
  std::size_t size() const { return batch.rows * mu + k + vr * batch.cols; }
};

SvdLayout layout_of(std::string_view op, const Tensor& a, bool full_matrices) {
  SvdLayout l;
  l.batch = detail::matrix_batch(op, a);
  l.k = std::min(l.batch.rows, l.batch.cols);
  l.mu = full_matrices ? l.batch.rows : l.k;
  l.vr = full_matrices ? l.batch.cols : l.k;
  return l;
}

// U, S and Vh cut out of the packed tensor (differentiable: slice and reshape).
SvdResult unpack(const Tensor& p, const SvdLayout& l) {
  const std::size_t m = l.batch.rows, n = l.batch.cols, u_end = m * l.mu, s_end = u_end + l.k;
  return {reshape(slice(p, -1, 0, u_end), l.batch.with({m, l.mu})), slice(p, -1, u_end, s_end),
          reshape(slice(p, -1, s_end, s_end + l.vr * n), l.batch.with({l.vr, n}))};
}

Tensor pack(const Tensor& u, const Tensor& s, const Tensor& vh) {
  return concat({flatten(u, -2), s, flatten(vh, -2)}, -1);
}

// The packed decomposition, without history.
Tensor decompose(std::string_view op, const Tensor& a, const SvdLayout& l, bool full_matrices) {
  const std::size_t m = l.batch.rows, n = l.batch.cols, k = l.k, mu = l.mu, vr = l.vr;
  Shape packed = l.batch.batch;
  packed.push_back(l.size());
  return a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    detail::check_finite_matrices(op, x, l.batch);
    detail::prepare_blas();
    Tensor out = detail::empty_tensor<T>(packed, op);
    T* dst = detail::elements_of<T>(out);
    std::vector<T> am, u(m * mu), vt(vr * n), work;
    std::vector<xt::blas_index_t> iwork(8 * k);
    for (std::size_t i = 0; i < l.batch.count; ++i) {
      T* pu = dst + i * l.size();
      T* ps = pu + m * mu;
      T* pv = ps + k;
      if (k == 0) {  // no singular values: U and Vh are identities (full) or empty
        for (std::size_t r = 0; r < m * mu; ++r) pu[r] = r / mu == r % mu ? T(1) : T(0);
        for (std::size_t r = 0; r < vr * n; ++r) pv[r] = r / n == r % n ? T(1) : T(0);
        continue;
      }
      detail::to_column_major(x.data() + i * m * n, m, n, am);
      const char jobz = full_matrices ? 'A' : 'S';
      T work_size = 0;
      cxxlapack::gesdd<xt::blas_index_t>(jobz, lapack_int(m), lapack_int(n), am.data(), lapack_int(m), ps, u.data(),
                                         lapack_int(m), vt.data(), lapack_int(vr), &work_size, -1, iwork.data());
      work.resize(static_cast<std::size_t>(work_size));
      const auto info = cxxlapack::gesdd<xt::blas_index_t>(jobz, lapack_int(m), lapack_int(n), am.data(), lapack_int(m),
                                                           ps, u.data(), lapack_int(m), vt.data(), lapack_int(vr),
                                                           work.data(), lapack_int(work.size()), iwork.data());
      if (info > 0) {
        fail<ValueError>("{}: the SVD did not converge for the matrix of shape [{}, {}]{}", op, m, n,
                         detail::batch_element(l.batch, i));
      }
      if (info < 0) fail<Error>("{}: internal error: LAPACK gesdd rejected argument {}", op, -info);
      detail::from_column_major(u.data(), m, mu, m, pu);
      detail::from_column_major(vt.data(), vr, n, vr, pv);
    }
    return out;
  });
}

// The first k columns of U and rows of Vh: the ones the rules see.
SvdResult reduced(const SvdResult& r, std::size_t k) {
  return {slice(r.U, -1, 0, k), r.S, slice(r.Vh, -2, 0, k)};
}

// E + I, Eᵢⱼ = sⱼ² − sᵢ² (1 on the diagonal).
Tensor gaps(const Tensor& s) {
  const Tensor s2 = s * s;
  return unsqueeze(s2, -2) - unsqueeze(s2, -1) + identity_like(s, s.size(-1));
}

}  // namespace

// dP = Uᵀ dA V (k × k);  dS = diag(dP);  with X = dP − diag(dS):
//   dU = U ((X S + S Xᵀ) ⊘ E) + (I − U Uᵀ) dA V S⁻¹        (the last term where m > k)
//   dV = V ((S X + Xᵀ S) ⊘ E) + (I − V Vᵀ) dAᵀ U S⁻¹       (where n > k), dVh = dVᵀ
// Read as tr(gUᵀ dU) + tr(gSᵀ dS) + tr(gVhᵀ dVh) = tr(gAᵀ dA), torch's linalg_svd_backward:
//   R = (skew(Uᵀ gU) S + S skew(Vh gVhᵀ)) ⊘ E + diag(gS), skew(X) = X − Xᵀ
//   gA = U R Vh + (I − U Uᵀ) gU S⁻¹ Vh (m > k), or + U S⁻¹ gVh (I − Vhᵀ Vh) (n > k)
static const OpInfo svd_info{
    "svd", "dS = diag(Uᵀ dA V), dU = U (F ⊙ (Uᵀ dA V S + S Vᵀ dAᵀ U)) + (I − U Uᵀ) dA V S⁻¹",
    "tS = diag(Uᵀ tA V), tU = U (F ⊙ (Uᵀ tA V S + S Vᵀ tAᵀ U)) + (I − U Uᵀ) tA V S⁻¹",
    "gA = U ((skew(Uᵀ gU) S + S skew(Vh gVhᵀ)) ⊘ E + diag(gS)) Vh + (I − U Uᵀ) gU S⁻¹ Vh",
    Saves::output, "C = svd(A)"};
SvdResult svd(const Tensor& a, bool full_matrices, const SourceLocation& caller) {
  const SvdLayout l = layout_of("svd", a, full_matrices);
  const std::size_t m = l.batch.rows, n = l.batch.cols, k = l.k;
  Tensor packed = record(
      svd_info, decompose("svd", a, l, full_matrices), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        const SvdResult r = reduced(unpack(ctx.output, l), k);
        const Tensor v = mT(r.Vh), e = gaps(r.S), s_row = unsqueeze(r.S, -2), s_col = unsqueeze(r.S, -1);
        return ta.map([&](const Tensor& da) {
          const Tensor dp = matmul(mT(r.U), matmul(da, v));
          const Tensor ds = diagonal_of_matrices(dp);
          const Tensor x = dp - diag_embed_of_vectors(ds);
          Tensor du = matmul(r.U, (x * s_row + s_col * mT(x)) / e);
          Tensor dv = matmul(v, (s_col * x + mT(x) * s_row) / e);
          if (m > k) {
            const Tensor w = matmul(da, v / s_row);
            du = du + w - matmul(r.U, matmul(mT(r.U), w));
          }
          if (n > k) {
            const Tensor w = matmul(mT(da), r.U / s_row);
            dv = dv + w - matmul(v, matmul(r.Vh, w));
          }
          if (l.mu > k) du = concat({du, zeros(l.batch.with({m, l.mu - k}), {.dtype = da.dtype()})}, -1);
          Tensor dvh = mT(dv);
          if (l.vr > k) dvh = concat({dvh, zeros(l.batch.with({l.vr - k, n}), {.dtype = da.dtype()})}, -2);
          return pack(du, ds, dvh);
        });
      },
      [l, m, n, k](const Tensor& g, const VjpContext& ctx) -> Grads {
        const SvdResult r = reduced(unpack(ctx.output, l), k);
        const SvdResult gr = reduced(unpack(g, l), k);
        const Tensor s_row = unsqueeze(r.S, -2), s_col = unsqueeze(r.S, -1);
        const Tensor ug = matmul(mT(r.U), gr.U), vg = matmul(r.Vh, mT(gr.Vh));
        const Tensor rr = ((ug - mT(ug)) * s_row + s_col * (vg - mT(vg))) / gaps(r.S) + diag_embed_of_vectors(gr.S);
        if (m > k) {
          const Tensor w = gr.U / s_row;
          return {matmul(matmul(r.U, rr) + w - matmul(r.U, matmul(mT(r.U), w)), r.Vh)};
        }
        if (n > k) {
          const Tensor w = gr.Vh / s_col;
          return {matmul(r.U, matmul(rr, r.Vh) + w - matmul(matmul(w, mT(r.Vh)), r.Vh))};
        }
        return {matmul(r.U, matmul(rr, r.Vh))};
      },
      caller);
  return unpack(packed, l);
}

// dS = diag(Uᵀ dA V)  =>  gA = U diag(gS) Vh (defined at repeated singular values too)
static const OpInfo svdvals_info{"svdvals", "dS = diag(Uᵀ dA V)", "tS = diag(Uᵀ tA V)", "gA = U diag(gS) Vh",
                                 Saves::nothing, "S = svdvals(A)"};
Tensor svdvals(const Tensor& a, const SourceLocation& caller) {
  detail::matrix_batch("svdvals", a);
  // U and Vh come from svd's record, so that the rule below differentiates again.
  const SvdResult r = svd(a, false, caller);
  Tensor values = detail::copy(r.S.detach());
  return record(
      svdvals_info, std::move(values), {a},
      [&](const Tangent& ta) {
        return ta.map([&](const Tensor& d) { return diagonal_of_matrices(matmul(mT(r.U), matmul(d, mT(r.Vh)))); });
      },
      [u = r.U, vh = r.Vh](const Tensor& g) -> Grads { return {matmul(u * unsqueeze(g, -2), vh)}; }, caller);
}

}  // namespace matgrad
