// The symmetric eigendecomposition (torch.linalg.eigh and eigvalsh), batched over leading dims,
// in LAPACK (syevd). A = V diag(λ) Vᵀ, λ ascending, from A's lower (UPLO "L") or upper ("U")
// triangle. eigh is two records, one per output, each with its rule; the eigenvectors' rule
// recomputes λ = diag(Vᵀ Â V) from its input and output rather than holding λ, so that no two
// records hold each other.
//
// Gradients as torch's: for eigenvalues always defined (V diag(gλ) Vᵀ); for eigenvectors they
// divide by λⱼ − λᵢ, so with repeated eigenvalues they are inf or NaN, and only a loss that
// does not depend on the eigenvectors' sign (or basis of a repeated eigenvalue) has a gradient
// at all (e.g. V diag(f(λ)) Vᵀ). The op table checks them at distinct eigenvalues.
#include "lapack.hpp"

namespace matgrad {

using detail::diag_embed_of_vectors;
using detail::diagonal_of_matrices;
using detail::identity_like;
using detail::lapack_int;
using detail::MatrixBatch;
using detail::mT;

namespace {

bool check_uplo(std::string_view op, std::string_view uplo) {
  if (uplo != "L" && uplo != "U") fail<ValueError>("{}: UPLO must be \"L\" or \"U\", got \"{}\"", op, uplo);
  return uplo == "U";
}

// The symmetric matrix the op reads: A's lower (upper) triangle mirrored.
Tensor symmetric_from(const Tensor& a, bool upper) {
  return upper ? triu(a) + mT(triu(a, 1)) : tril(a) + mT(tril(a, -1));
}

// λ [*, n] and V [*, n, n] (columns the eigenvectors), without history.
std::pair<Tensor, Tensor> symmetric_eigen(std::string_view op, const Tensor& a, bool upper) {
  const MatrixBatch ab = detail::square_batch(op, a);
  const std::size_t n = ab.rows;
  Shape values_shape = ab.batch;
  values_shape.push_back(n);
  return a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    detail::check_finite_matrices(op, x, ab);
    detail::prepare_blas();
    Tensor values = detail::empty_tensor<T>(values_shape, op), vectors = detail::empty_tensor<T>(x.shape(), op);
    T* w = detail::elements_of<T>(values);
    T* v = detail::elements_of<T>(vectors);
    std::vector<T> am, work;
    std::vector<xt::blas_index_t> iwork;
    for (std::size_t i = 0; i < ab.count && n > 0; ++i) {
      detail::to_column_major(x.data() + i * n * n, n, n, am);
      const char uplo = upper ? 'U' : 'L';
      T work_size = 0;
      xt::blas_index_t iwork_size = 0;
      cxxlapack::syevd<xt::blas_index_t>('V', uplo, lapack_int(n), am.data(), lapack_int(n), w + i * n, &work_size, -1,
                                         &iwork_size, -1);
      work.resize(static_cast<std::size_t>(work_size));
      iwork.resize(static_cast<std::size_t>(iwork_size));
      const auto info = cxxlapack::syevd<xt::blas_index_t>('V', uplo, lapack_int(n), am.data(), lapack_int(n), w + i * n,
                                                           work.data(), lapack_int(work.size()), iwork.data(),
                                                           lapack_int(iwork.size()));
      if (info > 0) {
        fail<ValueError>("{}: the eigenvalue algorithm did not converge for the matrix of shape [{}, {}]{}", op, n, n,
                         detail::batch_element(ab, i));
      }
      if (info < 0) fail<Error>("{}: internal error: LAPACK syevd rejected argument {}", op, -info);
      detail::from_column_major(am.data(), n, n, n, v + i * n * n);
    }
    return std::pair{values, vectors};
  });
}

// E + I with Eᵢⱼ = λⱼ − λᵢ: the denominators of the eigenvectors' rules (1 on the diagonal,
// where the numerators are 0).
Tensor gaps(const Tensor& lambda) {
  return unsqueeze(lambda, -2) - unsqueeze(lambda, -1) + identity_like(lambda, lambda.size(-1));
}

}  // namespace

// λ = diag(Vᵀ A V):  dλ = diag(Vᵀ dA V)  =>  gA = V diag(gλ) Vᵀ
static const OpInfo eigvalsh_info{"eigvalsh", "dλ = diag(Vᵀ dA V)", "tλ = diag(Vᵀ tA V)", "gA = V diag(gλ) Vᵀ",
                                  Saves::nothing, "λ = eigvalsh(A)"};
// A V = V diag(λ), VᵀV = I  =>  Vᵀ dA V = Vᵀ dV diag(λ) − diag(λ) Vᵀ dV + diag(dλ), Vᵀ dV skew, so
//   dV = V (F ⊙ (Vᵀ dA V)), Fᵢⱼ = 1 / (λⱼ − λᵢ) (0 on the diagonal)
//   tr(gVᵀ dV) = tr((F ⊙ Vᵀ gV)ᵀ Vᵀ dA V), and dA symmetric  =>  gA = V (½ (Vᵀ gV − gVᵀ V) ⊘ E) Vᵀ
static const OpInfo eigh_info{"eigh", "dV = V (F ⊙ (Vᵀ dA V)), F = 1 ⊘ E (0 on the diagonal), E = λ 1ᵀ − 1 λᵀ",
                              "tV = V (F ⊙ (Vᵀ tA V))", "gA = V (½ (Vᵀ gV − gVᵀ V) ⊘ E) Vᵀ (as torch's)",
                              Saves::inputs_and_output, "V = eigh(A)"};

// Both records; `op` names the op the user called in errors.
static EighResult eigen(std::string_view op, const Tensor& a, std::string_view uplo, const SourceLocation& caller) {
  const bool upper = check_uplo(op, uplo);
  auto [values, vectors] = symmetric_eigen(op, a, upper);
  const Tensor lambda = values;  // for the rules; the recorded λ is another handle
  const Tensor v = record(
      eigh_info, std::move(vectors), {a},
      [&](const Tangent& ta, const JvpContext& ctx) {
        const Tensor& vv = ctx.output;
        const Tensor f = (1.0 - identity_like(lambda, lambda.size(-1))) / gaps(lambda);
        return ta.map([&](const Tensor& d) { return matmul(vv, f * matmul(mT(vv), matmul(d, vv))); });
      },
      [a, upper](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Tensor& vv = ctx.output;
        const Tensor lam = diagonal_of_matrices(matmul(mT(vv), matmul(symmetric_from(a, upper), vv)));
        const Tensor vg = matmul(mT(vv), g);
        return {matmul(vv, matmul(0.5 * (vg - mT(vg)) / gaps(lam), mT(vv)))};
      },
      caller);
  const Tensor l = record(
      eigvalsh_info, std::move(values), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& d) { return diagonal_of_matrices(matmul(mT(v), matmul(d, v))); }); },
      [v](const Tensor& g) -> Grads { return {matmul(v, matmul(diag_embed_of_vectors(g), mT(v)))}; }, caller);
  return {l, v};
}

EighResult eigh(const Tensor& a, std::string_view uplo, const SourceLocation& caller) {
  return eigen("eigh", a, uplo, caller);
}
Tensor eigvalsh(const Tensor& a, std::string_view uplo, const SourceLocation& caller) {
  return eigen("eigvalsh", a, uplo, caller).eigenvalues;
}

}  // namespace matgrad
