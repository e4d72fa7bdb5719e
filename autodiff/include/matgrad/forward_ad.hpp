// Forward-mode automatic differentiation, as torch.autograd.forward_ad: dual tensors carry a
// tangent, and every op pushes its differential forward, dC = L(dA, dB), at once.
//
//   {
//     DualLevel level;                     // forward mode on this thread, until the scope ends
//     Tensor x = make_dual(x0, v);         // x0 with the tangent v
//     Tensor y = f(x);                     // every op computes y and its tangent J v
//     Tensor jv = unpack_dual(y).tangent;  // J v (undefined if y does not depend on x)
//   }                                      // the level's tangents are dropped
//
// Tensors without a tangent count as having a zero one. Tangents propagate through every op,
// also under NoGradGuard (grad mode is reverse mode's switch, as in PyTorch), and compose with
// reverse mode both ways: a tangent computed from tensors that require grad is itself recorded
// (reverse over forward), and the VJPs that backward() and grad() run push tangents too
// (forward over reverse: the tangent of a gradient is a Hessian-vector product).
//
// One level at a time per thread, as in PyTorch. In-place updates (add_, mul_, copy_, fill_)
// update the tangent too; mutable_data() does not.
#pragma once

#include "matgrad/tensor.hpp"

#include <cstdint>

namespace matgrad {

// The scope of forward mode on this thread (PyTorch's dual_level): entering it while another is
// open is an error; leaving it drops every tangent made in it.
class DualLevel {
 public:
  DualLevel();
  ~DualLevel();
  DualLevel(const DualLevel&) = delete;
  DualLevel& operator=(const DualLevel&) = delete;
};

// Whether a dual level is open on this thread.
bool is_forward_ad_enabled();

// A tensor with primal's value and history (an identity op in reverse mode) and `tangent` as
// its tangent, which must have primal's shape and dtype. Needs an open DualLevel; primal must
// not have a tangent of its own already.
Tensor make_dual(const Tensor& primal, const Tensor& tangent,
                 const SourceLocation& caller = SourceLocation::current());

struct UnpackedDual {
  Tensor primal;   // the value without the tangent (an identity op in reverse mode)
  Tensor tangent;  // undefined when the tensor has no tangent (outside a level, or zero)
};
UnpackedDual unpack_dual(const Tensor& tensor,
                         const SourceLocation& caller = SourceLocation::current());

}  // namespace matgrad
