// The one door to BLAS and oneDNN for matrix products (backend.cpp; matgrad/backend.hpp says
// which library runs what).
#pragma once

#include <cstddef>

namespace matgrad::detail {

// C = op(A) op(B) + β C in row-major storage, op(X) = Xᵀ where the flag is set: op(A) is m×k,
// op(B) k×n, and lda, ldb, ldc are the row strides of A, B, C as stored. Any of m, n, k may be
// 0. A product with m = 1 or n = 1 runs as a matrix-vector product, one with k = 1 as a rank-1
// update.
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a,
          std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc);
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const double* a,
          std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
          std::size_t ldc);

// Applies the thread setting and runs the OpenBLAS check, once: for code that calls LAPACK.
void prepare_blas();

}  // namespace matgrad::detail
