// Well-known identities of matrix calculus (The Matrix Cookbook, §2) reproduced by autodiff:
// each gradient computed by backward is compared with its closed form, in float64. Exits
// non-zero when any of them disagrees.
#include <matgrad/matgrad.hpp>

#include <fmt/format.h>

#include <functional>
#include <string>

using namespace matgrad;

namespace {

struct Identity {
  std::string name;                          // "∂ f / ∂X = closed form"
  Tensor at;                                 // the point X
  std::function<Tensor(const Tensor&)> f;    // the scalar function of X
  std::function<Tensor(const Tensor&)> gradient;  // its closed-form gradient at X
};

}  // namespace

int main() {
  const TensorOptions f64{.dtype = DType::float64};
  Generator gen(11);
  auto randm = [&](std::size_t rows, std::size_t cols) { return randn({rows, cols}, gen, f64); };
  // Square points far enough from singular that X⁻¹ is accurate to a few ulps.
  auto invertible = [&](std::size_t n) { return randm(n, n) + static_cast<double>(n) * eye(n, f64); };

  const Tensor a_mat = randm(3, 4), b_mat = randm(5, 3), sq = randm(4, 4);
  const Tensor a = randn({4}, gen, f64), b = randn({4}, gen, f64), v = randn({3}, gen, f64);
  const Tensor tall = randm(6, 4), rhs = randn({6}, gen, f64);
  const Tensor x_pos = invertible(4);
  Tensor x_neg = invertible(4).detach();
  x_neg.mutable_data<double>()(0, 0) = -20.0;  // flips the sign of det X
  const Tensor sym = randm(4, 4);
  const Tensor w3 = randn({3}, gen, f64), w3_4 = randn({4}, gen, f64);
  // Symmetric positive definite with eigenvalues 1, 2, 3, 4 (a rotated diagonal).
  const Tensor rotation = qr(randm(4, 4)).Q;
  const Tensor spd_rotated = matmul(rotation * arange(1.0, 5.0, 1.0, f64), t(rotation));
  const Tensor spd_distinct = 0.5 * (spd_rotated + t(spd_rotated));

  const std::vector<Identity> identities = {
      {"∂ tr(X)/∂X = I", randm(4, 4), [](const Tensor& x) { return trace(x); },
       [&](const Tensor&) { return eye(4, f64); }},
      {"∂ tr(AXB)/∂X = AᵀBᵀ", randm(4, 5),
       [&](const Tensor& x) { return trace(matmul(matmul(a_mat, x), b_mat)); },
       [&](const Tensor&) { return matmul(t(a_mat), t(b_mat)); }},
      {"∂ tr(XA)/∂X = Aᵀ", randm(4, 4), [&](const Tensor& x) { return trace(matmul(x, sq)); },
       [&](const Tensor&) { return t(sq); }},
      {"∂ aᵀXb/∂X = abᵀ", randm(4, 4), [&](const Tensor& x) { return matmul(a, matmul(x, b)); },
       [&](const Tensor&) { return outer(a, b); }},
      {"∂ tr(XᵀX)/∂X = 2X", randm(3, 4), [](const Tensor& x) { return trace(matmul(t(x), x)); },
       [](const Tensor& x) { return 2.0 * x; }},
      {"∂ tr(XᵀAX)/∂X = (A + Aᵀ)X", randm(4, 3),
       [&](const Tensor& x) { return trace(matmul(matmul(t(x), sq), x)); },
       [&](const Tensor& x) { return matmul(sq + t(sq), x); }},
      {"∂ tr(XBXᵀ)/∂X = XBᵀ + XB", randm(3, 4),
       [&](const Tensor& x) { return trace(matmul(matmul(x, sq), t(x))); },
       [&](const Tensor& x) { return matmul(x, t(sq)) + matmul(x, sq); }},
      {"∂ tr(X²)/∂X = 2Xᵀ", randm(4, 4), [](const Tensor& x) { return trace(matmul(x, x)); },
       [](const Tensor& x) { return 2.0 * t(x); }},
      {"∂ xᵀAx/∂x = (A + Aᵀ)x", randn({4}, gen, f64),
       [&](const Tensor& x) { return matmul(x, matmul(sym, x)); },
       [&](const Tensor& x) { return matmul(sym + t(sym), x); }},
      {"∂ ‖Ax − b‖²/∂x = 2Aᵀ(Ax − b)", randn({4}, gen, f64),
       [&](const Tensor& x) { return sum(square(matmul(tall, x) - rhs)); },
       [&](const Tensor& x) { return 2.0 * matmul(t(tall), matmul(tall, x) - rhs); }},
      {"∂ log det X/∂X = X⁻ᵀ", x_pos, [](const Tensor& x) { return logdet(x); },
       [](const Tensor& x) { return t(inverse(x)); }},
      {"∂ log|det X|/∂X = X⁻ᵀ (det X < 0)", x_neg,
       [](const Tensor& x) { return slogdet(x).logabsdet; },
       [](const Tensor& x) { return t(inverse(x)); }},
      {"∂ det X/∂X = det(X) X⁻ᵀ", x_pos, [](const Tensor& x) { return det(x); },
       [](const Tensor& x) { return det(x) * t(inverse(x)); }},
      {"∂ tr(X⁻¹A)/∂X = −X⁻ᵀAᵀX⁻ᵀ", x_pos,
       [&](const Tensor& x) { return trace(matmul(inverse(x), sq)); },
       [&](const Tensor& x) {
         const Tensor inv_t = t(inverse(x));
         return -matmul(matmul(inv_t, t(sq)), inv_t);
       }},
      {"∂ aᵀX⁻¹b/∂X = −X⁻ᵀabᵀX⁻ᵀ", x_pos,
       [&](const Tensor& x) { return matmul(a, matmul(inverse(x), b)); },
       [&](const Tensor& x) {
         const Tensor inv_t = t(inverse(x));
         return -matmul(matmul(inv_t, outer(a, b)), inv_t);
       }},
      {"∂ aᵀ solve(X, b)/∂X = −X⁻ᵀa (X⁻¹b)ᵀ", x_pos,
       [&](const Tensor& x) { return matmul(a, solve(x, b)); },
       [&](const Tensor& x) { return -outer(matmul(t(inverse(x)), a), matmul(inverse(x), b)); }},
      {"∂ tr(diag(x) A)/∂x = diag(A)", randn({4}, gen, f64),
       [&](const Tensor& x) { return trace(matmul(diag(x), sq)); },
       [&](const Tensor&) { return diag(sq); }},
      {"∂ tr(x vᵀ A)/∂x = Aᵀv", randn({4}, gen, f64),
       [&](const Tensor& x) { return trace(matmul(outer(x, v), a_mat)); },
       [&](const Tensor&) { return matmul(t(a_mat), v); }},
      {"∂ tr(e^X)/∂X = (e^X)ᵀ", randm(4, 4), [](const Tensor& x) { return trace(matrix_exp(x)); },
       [](const Tensor& x) { return t(matrix_exp(x)); }},
      {"∂ tr(X³)/∂X = 3(X²)ᵀ", randm(4, 4), [](const Tensor& x) { return trace(matrix_power(x, 3)); },
       [](const Tensor& x) { return 3.0 * t(matrix_power(x, 2)); }},
      {"∂ vᵀ(x × w)/∂x = w × v", randn({3}, gen, f64), [&](const Tensor& x) { return vecdot(v, cross(x, w3)); },
       [&](const Tensor&) { return cross(w3, v); }},
      // The decompositions: eigenvalues of a symmetric X (distinct), the Cholesky factor, the
      // pseudoinverse and least squares.
      {"∂ λ₂/∂X = v₂v₂ᵀ (X symmetric, eigh)", spd_distinct,
       [](const Tensor& x) { return sum(slice(eigvalsh(x), 0, 2, 3)); },
       [](const Tensor& x) {
         const Tensor v2 = slice(eigh(x).eigenvectors, 1, 2, 3);
         return matmul(v2, t(v2));
       }},
      {"∂ 2 Σ log Lᵢᵢ/∂X = X⁻ᵀ (X = LLᵀ, cholesky)", spd_distinct,
       [](const Tensor& x) { return 2.0 * sum(log(diagonal(cholesky(x)))); },
       [](const Tensor& x) { return t(inverse(x)); }},
      {"∂ ‖X‖_*/∂X = U Vᵀ (the nuclear norm, X = U Σ Vᵀ of full rank, svd)", tall,
       [](const Tensor& x) { return linalg_matrix_norm(x, "nuc"); },
       [](const Tensor& x) {
         const SvdResult f = svd(x, false);
         return matmul(f.U, f.Vh);
       }},
      {"∂ σ₁/∂X = u₁v₁ᵀ (the largest singular value, svdvals)", tall,
       [](const Tensor& x) { return sum(slice(svdvals(x), 0, 0, 1)); },
       [](const Tensor& x) {
         const SvdResult f = svd(x, false);
         return matmul(slice(f.U, 1, 0, 1), slice(f.Vh, 0, 0, 1));
       }},
      {"∂ tr(X⁺)/∂X = −(X⁻²)ᵀ (X invertible, pinv)", x_pos, [](const Tensor& x) { return trace(pinv(x)); },
       [](const Tensor& x) { return -t(matrix_power(inverse(x), 2)); }},
      {"∂ cᵀ lstsq(A, b)/∂b = A(AᵀA)⁻¹c (the normal equations)", rhs,
       [&](const Tensor& y) { return vecdot(w3_4, lstsq(tall, y).solution); },
       [&](const Tensor&) { return matmul(tall, solve(matmul(t(tall), tall), w3_4)); }},
      {"∂ min‖Ax − b‖²/∂b = 2(b − Ax*) (lstsq's residual)", rhs,
       [&](const Tensor& y) { return sum(lstsq(tall, y, std::nullopt, "gelsd").residuals); },
       [&](const Tensor& y) { return 2.0 * (y - matmul(tall, lstsq(tall, y).solution)); }},
  };

  NamedTensors closed_forms, autodiff;
  for (const Identity& id : identities) {
    Tensor x = id.at.detach().requires_grad_(true);
    autodiff.emplace_back(id.name, grad({id.f(x)}, {x})[0]);
    NoGradGuard no_grad;
    closed_forms.emplace_back(id.name, id.gradient(x));
  }
  const GradientComparison cmp =
      compare_gradients(closed_forms, autodiff,
                        {.atol = 1e-13, .rtol = 1e-12, .hand_label = "closed form",
                         .name_label = "identity"});
  fmt::print("{} matrix-calculus identities, autodiff against the closed form:\n\n{}",
             identities.size(), cmp.report());
  return cmp.passed ? 0 : 1;
}
