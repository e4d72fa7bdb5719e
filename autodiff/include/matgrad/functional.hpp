// Derivatives of functions rather than of tensors (torch.autograd.functional, with JAX's jacfwd
// and linearize): products with the Jacobian and the Hessian, and the full matrices for small
// inputs.
//
//   f: ℝⁿ → ℝᵐ at x, J = ∂f/∂x (m × n), and for scalar f, H = ∂²f/∂x² (n × n):
//     vjp(f, x, v)    = Jᵀ v  one backward
//     jvp(f, x, v)    = J v   forward mode: f run once with the tangent v
//     hvp(f, x, v)    = H v   forward over reverse: the tangent v pushed through f and through its
//                             backward, whose gradient then carries H v as its tangent
//     jacobian(f, x)          one backward per output element, shape f(x).shape ++ x.shape
//     jacfwd(f, x)            the same by forward mode: f run once with n tangents side by side
//     hessian(f, x)           forward over reverse with n tangents side by side: one forward and
//                             one backward; x.shape ++ x.shape
//     linearize(f, x)         f(x) and the map v ↦ J v, evaluating f once
//
// Strategy::reverse_mode keeps the reverse-only ways: jvp by the double-VJP trick (g(u) = Jᵀ u
// is linear in a dummy cotangent u, so J v = ∂⟨g(u), v⟩/∂u: two backwards), hvp and hessian by
// reverse over reverse (the VJP of the gradient, recorded with create_graph).
//
// Each helper evaluates f itself (grad mode on, even under NoGradGuard) and never touches any
// .grad(). Without create_graph it differentiates at a detached copy of x and returns plain
// tensors without history. With create_graph the results are differentiable, in x's own
// history when x requires grad, so that, e.g., a loss of the Hessian can be backpropagated.
// For an f that ignores x the products are zeros. f is run once per call (jacobian and jacfwd
// with many inputs: once per chunk of directions). The forward-mode ways open a dual level, so
// they cannot run inside another (DualLevel): use Strategy::reverse_mode there.
#pragma once

#include "matgrad/gradcheck.hpp"  // TensorFunction
#include "matgrad/tensor.hpp"

#include <functional>
#include <vector>

namespace matgrad {

using UnaryTensorFunction = std::function<Tensor(const Tensor& x)>;

// How jvp, hvp, jacobian and hessian are computed (see above); PyTorch's `strategy` and
// `outer_jacobian_strategy`.
enum class Strategy { forward_mode, reverse_mode };

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
// J v, for v shaped like x.
ProductResult jvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph = false, Strategy strategy = Strategy::forward_mode);
// H v for a one-element f.
ProductResult hvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph = false, Strategy outer = Strategy::forward_mode);
// J[i…, j…] = ∂f(x)[i…]/∂x[j…], of shape f(x).shape ++ x.shape.
Tensor jacobian(const UnaryTensorFunction& f, const Tensor& x, bool create_graph = false,
                Strategy strategy = Strategy::reverse_mode);
// jacobian(f, x, create_graph, Strategy::forward_mode): for few inputs and many outputs.
Tensor jacfwd(const UnaryTensorFunction& f, const Tensor& x, bool create_graph = false);
// H[i…, j…] = ∂²f/∂x[i…]∂x[j…] for a one-element f, of shape x.shape ++ x.shape.
Tensor hessian(const UnaryTensorFunction& f, const Tensor& x, bool create_graph = false,
               Strategy outer = Strategy::forward_mode);

// f(x), and v ↦ J v at that x without evaluating f again (JAX's linearize): f's backward is
// recorded once as g(u) = Jᵀ u, linear in a dummy cotangent u, and each call is one backward
// through it, J v = ∂⟨g(u), v⟩/∂u. Holds f's graph for as long as `jvp` lives.
struct Linearization {
  Tensor output;
  std::function<Tensor(const Tensor& v)> jvp;
};
Linearization linearize(const UnaryTensorFunction& f, const Tensor& x);

// ---- several inputs: f(x₀, x₁, …) ----
// Jᵀ v for each input (products[k] shaped like xₖ).
ProductResults vjp(const TensorFunction& f, const std::vector<Tensor>& x, const Tensor& v,
                   bool create_graph = false);
// Σₖ Jₖ vₖ, shaped like f(x).
ProductResult jvp(const TensorFunction& f, const std::vector<Tensor>& x,
                  const std::vector<Tensor>& v, bool create_graph = false,
                  Strategy strategy = Strategy::forward_mode);
// (H v)ₖ = Σⱼ ∂²f/∂xₖ∂xⱼ vⱼ for each input.
ProductResults hvp(const TensorFunction& f, const std::vector<Tensor>& x,
                   const std::vector<Tensor>& v, bool create_graph = false,
                   Strategy outer = Strategy::forward_mode);
// Jₖ of shape f(x).shape ++ xₖ.shape.
std::vector<Tensor> jacobian(const TensorFunction& f, const std::vector<Tensor>& x,
                             bool create_graph = false, Strategy strategy = Strategy::reverse_mode);
std::vector<Tensor> jacfwd(const TensorFunction& f, const std::vector<Tensor>& x,
                           bool create_graph = false);
// H[k][j] = ∂²f/∂xₖ∂xⱼ of shape xₖ.shape ++ xⱼ.shape.
std::vector<std::vector<Tensor>> hessian(const TensorFunction& f, const std::vector<Tensor>& x,
                                         bool create_graph = false,
                                         Strategy outer = Strategy::forward_mode);

}  // namespace matgrad
