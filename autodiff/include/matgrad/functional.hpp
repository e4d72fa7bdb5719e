// Derivatives of functions rather than of tensors (torch.autograd.functional): products with
// the Jacobian and the Hessian, and the full matrices for small inputs. All are built on
// grad(); the second-order ones differentiate through a backward pass (create_graph).
//
//   f: ℝⁿ → ℝᵐ at x, J = ∂f/∂x (m × n), and for scalar f, H = ∂²f/∂x² (n × n):
//     vjp(f, x, v)  = Jᵀ v   one backward
//     jvp(f, x, v)  = J v    the double-VJP trick: g(u) = Jᵀ u is linear in a dummy cotangent
//                            u, so J v = ∂⟨g(u), v⟩/∂u: two backwards, no forward mode
//     hvp(f, x, v)  = H v    ∂⟨∇f(x), v⟩/∂x: the VJP of the gradient, two backwards
//     jacobian(f, x)         m backwards, shape f(x).shape ++ x.shape
//     hessian(f, x)          one backward with create_graph, then n more; x.shape ++ x.shape
//
// Each helper evaluates f itself (grad mode on, even under NoGradGuard) and never touches any
// .grad(). Without create_graph it differentiates at a detached copy of x and returns plain
// tensors without history. With create_graph the results are differentiable, in x's own
// history when x requires grad, so that, e.g., a loss of the Hessian can be backpropagated.
// For an f that ignores x the products are zeros. f is run once per call.
#pragma once

#include "matgrad/gradcheck.hpp"  // TensorFunction
#include "matgrad/tensor.hpp"

#include <functional>
#include <vector>

namespace matgrad {

using UnaryTensorFunction = std::function<Tensor(const Tensor& x)>;

// f(x) and one product (vjp: shaped like x; jvp: like f(x); hvp: like x).
struct ProductResult {
  Tensor output;
  Tensor product;
};

// f(x₀, x₁, …) and one product per input (vjp, hvp).
struct ProductResults {
  Tensor output;
  std::vector<Tensor> products;
};

// Jᵀ v, for v shaped like f(x).
ProductResult vjp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph = false);
// J v, for v shaped like x, by the double-VJP trick (see above).
ProductResult jvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph = false);
// H v for a one-element f, by double backward (see above).
ProductResult hvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph = false);
// J[i…, j…] = ∂f(x)[i…]/∂x[j…], of shape f(x).shape ++ x.shape.
Tensor jacobian(const UnaryTensorFunction& f, const Tensor& x, bool create_graph = false);
// H[i…, j…] = ∂²f/∂x[i…]∂x[j…] for a one-element f, of shape x.shape ++ x.shape.
Tensor hessian(const UnaryTensorFunction& f, const Tensor& x, bool create_graph = false);

// ---- several inputs: f(x₀, x₁, …) ----
// Jᵀ v for each input (products[k] shaped like xₖ).
ProductResults vjp(const TensorFunction& f, const std::vector<Tensor>& x, const Tensor& v,
                   bool create_graph = false);
// Σₖ Jₖ vₖ, shaped like f(x).
ProductResult jvp(const TensorFunction& f, const std::vector<Tensor>& x,
                  const std::vector<Tensor>& v, bool create_graph = false);
// (H v)ₖ = Σⱼ ∂²f/∂xₖ∂xⱼ vⱼ for each input.
ProductResults hvp(const TensorFunction& f, const std::vector<Tensor>& x,
                   const std::vector<Tensor>& v, bool create_graph = false);
// Jₖ of shape f(x).shape ++ xₖ.shape.
std::vector<Tensor> jacobian(const TensorFunction& f, const std::vector<Tensor>& x,
                             bool create_graph = false);
// H[k][j] = ∂²f/∂xₖ∂xⱼ of shape xₖ.shape ++ xⱼ.shape.
std::vector<std::vector<Tensor>> hessian(const TensorFunction& f, const std::vector<Tensor>& x,
                                         bool create_graph = false);

}  // namespace matgrad
