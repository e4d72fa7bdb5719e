// What the LAPACK-backed families (cholesky.cpp, eigen.cpp, svd.cpp) share: batches of
// matrices over leading dims, each copied to and from LAPACK's column-major storage, and the
// composed matrix ops their rules are written with (differentiable, so the rules differentiate
// again).
#pragma once

#include "../blas.hpp"
#include "common.hpp"

#include <xtensor-blas/xlinalg.hpp>  // cxxlapack, with the macros its interface needs

#include <cmath>
#include <vector>

namespace matgrad::detail {

// A tensor [*, m, n] read as `count` matrices of m × n (count is the product of the batch dims).
struct MatrixBatch {
  Shape batch;  // the leading dims
  std::size_t count = 1, rows = 0, cols = 0;
  std::size_t matrix_size() const { return rows * cols; }
  // The batch dims followed by `last`: the shape of a per-matrix result.
  Shape with(std::initializer_list<std::size_t> last) const {
    Shape s = batch;
    s.insert(s.end(), last);
    return s;
  }
};

inline MatrixBatch matrix_batch(std::string_view op, const Tensor& a) {
  check_defined(op, a);
  if (a.dim() < 2) {
    fail<ShapeError>("{}: expects a matrix or a batch of matrices [*, m, n], got shape {}", op,
                     to_string(a.shape()));
  }
  MatrixBatch b;
  b.batch.assign(a.shape().begin(), a.shape().end() - 2);
  b.count = dims_product(a.shape(), 0, a.dim() - 2);
  b.rows = a.size(-2);
  b.cols = a.size(-1);
  return b;
}

inline MatrixBatch square_batch(std::string_view op, const Tensor& a) {
  MatrixBatch b = matrix_batch(op, a);
  if (b.rows != b.cols) {
    fail<ShapeError>("{}: expects a square matrix or a batch of them [*, n, n], got shape {}", op, to_string(a.shape()));
  }
  return b;
}

// B of a solve with the n × n matrix `a_name` of shape a_shape: [*, n, k] (left) or [*, k, n].
inline MatrixBatch solve_operand(std::string_view op, std::string_view a_name, const Shape& a_shape, std::size_t n,
                                 const Tensor& b, bool left) {
  const MatrixBatch bb = matrix_batch(op, b);
  if ((left ? bb.rows : bb.cols) != n) {
    fail<ShapeError>("{}: {} of shape {} needs B of shape [*, {}, k] (left) or [*, k, {}] (right), got {} with left={}",
                     op, a_name, to_string(a_shape), n, n, to_string(b.shape()), left);
  }
  return bb;
}

// Batch index i of the leading dims as torch prints it in its errors ("batch element 3").
inline std::string batch_element(const MatrixBatch& b, std::size_t i) {
  return b.batch.empty() ? std::string() : fmt::format(" (batch element {})", i);
}

// Matrix i of the batch (row-major, m × n) into LAPACK's column-major buffer, and back.
template <class T>
void to_column_major(const T* matrix, std::size_t rows, std::size_t cols, std::vector<T>& out) {
  out.resize(rows * cols);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) out[i + j * rows] = matrix[i * cols + j];
  }
}
template <class T>
void from_column_major(const T* buffer, std::size_t rows, std::size_t cols, std::size_t ld, T* matrix) {
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) matrix[i * cols + j] = buffer[i + j * ld];
  }
}

// LAPACK turns NaN or ±Inf into plausible-looking factors or a misleading verdict: say so instead.
template <class T>
void check_finite_matrices(std::string_view op, const Array<T>& x, const MatrixBatch& b) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x.data()[i])) {
      fail<ValueError>("{}: the input of shape {} has a non-finite entry ({}) in matrix {} of the batch", op,
                       to_string(x.shape()), x.data()[i], b.matrix_size() ? i / b.matrix_size() : 0);
    }
  }
}

inline xt::blas_index_t lapack_int(std::size_t n) { return static_cast<xt::blas_index_t>(n); }

// ---- composed matrix ops, over the last two dims ----

// Xᵀ of the last two dims.
inline Tensor mT(const Tensor& x) { return transpose(x, -2, -1); }

// The identity of size n in x's dtype (broadcasts against [*, n, n]).
inline Tensor identity_like(const Tensor& x, std::size_t n) { return eye(n, {.dtype = x.dtype()}); }

// [*, k] → [*, k, k] with the vector on the diagonal, and its adjoint [*, n, n] → [*, n].
inline Tensor diag_embed_of_vectors(const Tensor& v) { return diag_embed(v, 0, -2, -1); }
inline Tensor diagonal_of_matrices(const Tensor& a) { return diagonal(a, 0, -2, -1); }

}  // namespace matgrad::detail
