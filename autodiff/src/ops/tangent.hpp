// Ops on tangents, for the JVP rules: each is the op of the same name applied to a tangent,
// where an absent tangent stays absent (zero costs nothing) and batched tangents (jacfwd,
// hessian: [directions] ++ the input's shape) keep their leading dimension out of the way. Dims
// are the input's own, as in the op's code. The arithmetic is in autograd.hpp.
#pragma once

#include "matgrad/autograd.hpp"

#include <span>
#include <vector>

namespace matgrad {

Tangent tanh_backward(const Tangent& g, const Tensor& c);
Tangent sigmoid_backward(const Tangent& g, const Tensor& c);
Tangent softplus_backward(const Tangent& g, const Tensor& a, double beta, double threshold);
Tangent relu_backward(const Tangent& g, const Tensor& a);
Tangent where(const Tensor& condition, const Tangent& a, const Tangent& b);
Tangent to(const Tangent& t, DType dtype);

Tangent reshape(const Tangent& t, const Shape& shape);
Tangent unsqueeze(const Tangent& t, std::size_t dim);
Tangent transpose(const Tangent& t, std::size_t dim0, std::size_t dim1);
Tangent broadcast_to(const Tangent& t, const Shape& shape);
Tangent sum_to_size(const Tangent& t, const Shape& shape);
Tangent sum(const Tangent& t);  // of all the input's elements
Tangent sum(const Tangent& t, std::size_t dim, bool keepdim);
Tangent trace(const Tangent& t);

Tangent index_select(const Tangent& t, std::size_t dim, std::span<const std::size_t> index);
Tangent slice(const Tangent& t, std::size_t dim, std::size_t start, std::size_t end, std::size_t step);
// These three need every tangent they combine: make absent ones zeros first (or_zeros).
Tangent index_add(const Tangent& a, std::size_t dim, std::span<const std::size_t> index,
                  const Tangent& source);
Tangent slice_scatter(const Tangent& a, const Tangent& source, std::size_t dim, std::size_t start,
                      std::size_t end, std::size_t step);
Tangent concat(const std::vector<Tangent>& parts, std::size_t dim);

// op(tA) op(B) and op(A) op(tB), as gemm with the same flags.
Tangent gemm(const Tangent& a, const Tensor& b, bool transpose_a, bool transpose_b);
Tangent gemm(const Tensor& a, const Tangent& b, bool transpose_a, bool transpose_b);
// op(tA) v and op(A) tv, as mv does.
Tangent mv(const Tangent& a, const Tensor& v, bool transpose_a);
Tangent mv(const Tensor& a, const Tangent& v, bool transpose_a);
// X tWᵀ + 1 tbᵀ: linear's terms in its weight and bias, one gemm when unbatched.
Tangent linear(const Tensor& x, const Tangent& weight, const Tangent& bias);

}  // namespace matgrad
