// Logistic regression trained by Newton's method with the exact Hessian from autodiff.
//
// The loss ℓ(w) = mean(log(1 + e^(xᵢᵀw)) − yᵢ xᵢᵀw) has gradient Xᵀ(p − y)/n and Hessian
// Xᵀ diag(p ⊙ (1 − p)) X / n, with p = σ(Xw). Autodiff gets the Hessian by differentiating
// through its own backward pass (hessian()); each step checks it against the closed form and
// solves H Δ = ∇ℓ by Cholesky. Near the optimum the gradient norm roughly squares from one
// step to the next (quadratic convergence). Exits non-zero if a check fails.
#include <matgrad/matgrad.hpp>

#include <fmt/core.h>

#include <cmath>
#include <vector>

using namespace matgrad;

// Solves A z = b for a symmetric positive definite A (A = L Lᵀ, then two triangular solves).
static std::vector<double> cholesky_solve(const xt::xarray<double>& a, std::vector<double> b) {
  const std::size_t n = b.size();
  std::vector<double> l(n * n, 0.0);
  for (std::size_t j = 0; j < n; ++j) {
    double d = a(j, j);
    for (std::size_t k = 0; k < j; ++k) d -= l[j * n + k] * l[j * n + k];
    if (!(d > 0)) fail<ValueError>("cholesky_solve: the matrix is not positive definite");
    l[j * n + j] = std::sqrt(d);
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = a(i, j);
      for (std::size_t k = 0; k < j; ++k) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / l[j * n + j];
    }
  }
  for (std::size_t i = 0; i < n; ++i) {  // L c = b
    for (std::size_t k = 0; k < i; ++k) b[i] -= l[i * n + k] * b[k];
    b[i] /= l[i * n + i];
  }
  for (std::size_t i = n; i-- > 0;) {  // Lᵀ z = c
    for (std::size_t k = i + 1; k < n; ++k) b[i] -= l[k * n + i] * b[k];
    b[i] /= l[i * n + i];
  }
  return b;
}

int main() {
  constexpr std::size_t n = 500, d = 4;
  constexpr TensorOptions f64{.dtype = DType::float64};

  // Features with an intercept column; labels drawn from a logistic model, so that the classes
  // overlap and the maximum-likelihood w is finite.
  Generator gen(42);
  Tensor x = randn({n, d}, gen, f64);
  for (std::size_t i = 0; i < n; ++i) x.mutable_data<double>()(i, 0) = 1.0;
  const Tensor w_true = tensor({0.5, -1.0, 2.0, 0.75}, f64);
  const Tensor p_true = sigmoid(matmul(x, w_true));
  const Tensor draw = rand({n}, gen, f64);
  const Tensor y = lt(draw, p_true);  // 1 with probability p_true

  auto loss = [&](const Tensor& w) { return binary_cross_entropy_with_logits(matmul(x, w), y); };

  Tensor w = zeros({d}, {.dtype = DType::float64, .requires_grad = true});
  bool ok = true;
  double previous_norm = 0;
  fmt::print("Newton's method on logistic regression: n = {}, d = {}\n\n", n, d);
  fmt::print("{:>4}  {:>20}  {:>10}  {:>14}  {:>18}\n", "step", "loss", "‖∇ℓ‖",
             "‖∇ℓ‖/‖∇ℓ‖²prev", "max|H − closed|");
  int step = 0;
  for (; step < 20; ++step) {
    const Tensor value = loss(w);
    const Tensor g = grad({value}, {w})[0];
    const double norm = std::sqrt(sum(square(g)).item());

    const Tensor h = hessian(loss, w);  // double backward, d × d
    Tensor closed;
    {
      NoGradGuard no_grad;
      const Tensor p = sigmoid(matmul(x, w));
      closed = matmul(t(x) * (p * (1.0 - p)), x) / static_cast<double>(n);
    }
    const TensorComparison agree = compare_tensors(h, closed, 1e-13, 1e-10);
    ok = ok && agree.passed;

    fmt::print("{:>4}  {:>20.15f}  {:>10.3e}  {:>14}  {:>18.3e}  {}\n", step, value.item(), norm,
               step == 0 ? std::string("") : fmt::format("{:.3f}", norm / (previous_norm * previous_norm)),
               agree.max_abs_error, agree.passed ? "" : "HESSIAN MISMATCH");
    if (norm < 1e-12) break;
    previous_norm = norm;

    // w ← w − H⁻¹ ∇ℓ
    const auto& gv = g.data<double>();
    const std::vector<double> delta =
        cholesky_solve(h.data<double>(), std::vector<double>(gv.begin(), gv.end()));
    NoGradGuard no_grad;
    for (std::size_t k = 0; k < d; ++k) w.mutable_data<double>()(k) -= delta[k];
  }

  fmt::print("\nw = {}\n(the data were drawn with w = {})\n", w, w_true);
  // One Hessian-vector product (two backwards, no d × d matrix) against the closed form.
  const Tensor v = tensor({1.0, -2.0, 0.5, 3.0}, f64);
  const Tensor hv = hvp(loss, w, v).product;
  const Tensor p = sigmoid(matmul(x, w.detach()));
  const Tensor closed_hv = matmul(t(x), p * (1.0 - p) * matmul(x, v)) / static_cast<double>(n);
  const TensorComparison hv_agree = compare_tensors(hv, closed_hv, 1e-13, 1e-10);
  fmt::print("H v by hvp() vs Xᵀ(p ⊙ (1 − p) ⊙ Xv)/n: max abs error {:.3e}\n",
             hv_agree.max_abs_error);
  ok = ok && hv_agree.passed;

  const bool converged = step <= 8;
  fmt::print("{} in {} Newton steps; Hessians {}\n", converged ? "converged" : "NOT CONVERGED",
             step, ok ? "agree with the closed form" : "DISAGREE with the closed form");
  return ok && converged ? 0 : 1;
}
