// The "no autodiff" reference: an MLP's forward and backward pass written by hand on the same
// kernels matgrad uses (gemm with transpose flags on oneDNN or BLAS, plain loops for bias, ReLU
// and softmax cross-entropy), with every buffer allocated once. Header-only, so that the epoch
// benchmark links nothing but BLAS (and oneDNN).
//
// Layers l = 0..L−1 with weights W_l [out, in] (as nn::Linear and torch.nn.Linear store them)
// and biases b_l [out], batch X [B, in]:
//   Z_l = A_l W_lᵀ + 1 b_lᵀ,  A_{l+1} = relu(Z_l) (l < L−1),  logits = Z_{L−1}
//   loss = mean_i (logsumexp(logits_i) − logits_{i,tᵢ})
// Backward, with D = ∂loss/∂Z:
//   D_{L−1} = (softmax(logits) − onehot(t)) / B
//   gW_l = D_lᵀ A_l,  gb_l = column sums of D_l,  D_{l−1} = (D_l W_l) ⊙ [A_l > 0]
#pragma once

#include <cblas.h>
#ifdef MATGRAD_BENCH_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace bench {

// The library of the hand-coded float32 GEMMs: the one matgrad's float32 GEMMs run on by
// default, so that both sides of a ratio run the same kernels; the GEMM-floor rows switch it.
// float64 GEMMs run on OpenBLAS, as matgrad's do.
enum class Sgemm { openblas, onednn };
#ifdef MATGRAD_BENCH_ONEDNN
inline Sgemm sgemm_library = Sgemm::onednn;
#else
inline Sgemm sgemm_library = Sgemm::openblas;
#endif
// oneDNN's threads: OpenMP's count of the calling thread, which libtorch's set_num_threads also
// sets; so each call sets it, as matgrad does (0: leave it).
inline int onednn_threads = 0;

inline void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a,
                 std::size_t lda, const float* b, std::size_t ldb, float* c, std::size_t ldc,
                 float beta = 0) {
#ifdef MATGRAD_BENCH_ONEDNN
  if (sgemm_library == Sgemm::onednn) {
    if (onednn_threads > 0 && omp_get_max_threads() != onednn_threads) {
      omp_set_num_threads(onednn_threads);
    }
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', dnnl_dim_t(m), dnnl_dim_t(n), dnnl_dim_t(k), 1.0f,
               a, dnnl_dim_t(lda), b, dnnl_dim_t(ldb), beta, c, dnnl_dim_t(ldc));
    return;
  }
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              int(m), int(n), int(k), 1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}
inline void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const double* a,
                 std::size_t lda, const double* b, std::size_t ldb, double* c, std::size_t ldc,
                 double beta = 0) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              int(m), int(n), int(k), 1.0, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// Runs f with the float32 GEMMs on `library`.
template <class F>
void with_sgemm(Sgemm library, F&& f) {
  const Sgemm saved = sgemm_library;
  sgemm_library = library;
  f();
  sgemm_library = saved;
}

template <class T>
class HandMlp {
 public:
  struct Layer {
    std::size_t in, out;
    std::vector<T> w, b, gw, gb;
  };

  // sizes = {784, 256, 128, 10}; weights start at zero (set them with layer(l).w / .b).
  HandMlp(std::vector<std::size_t> sizes, std::size_t max_batch) : sizes_(std::move(sizes)) {
    for (std::size_t l = 0; l + 1 < sizes_.size(); ++l) {
      const std::size_t in = sizes_[l], out = sizes_[l + 1];
      layers_.push_back({in, out, std::vector<T>(in * out), std::vector<T>(out),
                         std::vector<T>(in * out), std::vector<T>(out)});
      z_.emplace_back(max_batch * out);  // Z_l, then A_{l+1} in place (ReLU); the logits last
      d_.emplace_back(max_batch * out);  // D_l
    }
  }

  Layer& layer(std::size_t l) { return layers_[l]; }
  const Layer& layer(std::size_t l) const { return layers_[l]; }
  std::size_t depth() const { return layers_.size(); }
  const T* logits() const { return z_.back().data(); }

  // The mean cross-entropy of the batch; leaves D_{L−1} ready for backward().
  T forward(const T* x, const std::size_t* targets, std::size_t batch) {
    x_ = x;
    batch_ = batch;
    const T* a = x;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      T* z = z_[l].data();
      gemm(false, true, batch, L.out, L.in, a, L.in, L.w.data(), L.in, z, L.out);
      const bool hidden = l + 1 < layers_.size();
      for (std::size_t i = 0; i < batch; ++i) {
        T* row = z + i * L.out;
        const T* b = L.b.data();
        if (hidden) {
          for (std::size_t j = 0; j < L.out; ++j) row[j] = std::max(row[j] + b[j], T(0));
        } else {
          for (std::size_t j = 0; j < L.out; ++j) row[j] += b[j];
        }
      }
      a = z;
    }
    // Softmax cross-entropy and its gradient in one pass over the logits.
    const std::size_t classes = layers_.back().out;
    const T* logits = z_.back().data();
    T* d = d_.back().data();
    double loss = 0;
    const T inv_batch = T(1) / static_cast<T>(batch);
    for (std::size_t i = 0; i < batch; ++i) {
      const T* row = logits + i * classes;
      T* drow = d + i * classes;
      T m = -std::numeric_limits<T>::infinity();
      for (std::size_t j = 0; j < classes; ++j) m = std::max(m, row[j]);
      T s = 0;
      for (std::size_t j = 0; j < classes; ++j) {
        drow[j] = std::exp(row[j] - m);
        s += drow[j];
      }
      loss += std::log(s) - (row[targets[i]] - m);
      const T scale = inv_batch / s;
      for (std::size_t j = 0; j < classes; ++j) drow[j] *= scale;
      drow[targets[i]] -= inv_batch;
    }
    return static_cast<T>(loss / static_cast<double>(batch));
  }

  void backward() {
    const std::size_t batch = batch_;
    for (std::size_t l = layers_.size(); l-- > 0;) {
      Layer& L = layers_[l];
      const T* d = d_[l].data();
      const T* a = l == 0 ? x_ : z_[l - 1].data();
      gemm(true, false, L.out, L.in, batch, d, L.out, a, L.in, L.gw.data(), L.in);
      T* gb = L.gb.data();
      std::fill(gb, gb + L.out, T(0));
      for (std::size_t i = 0; i < batch; ++i) {
        const T* row = d + i * L.out;
        for (std::size_t j = 0; j < L.out; ++j) gb[j] += row[j];
      }
      if (l == 0) break;  // no gradient for the input
      T* prev = d_[l - 1].data();
      gemm(false, false, batch, L.in, L.out, d, L.out, L.w.data(), L.in, prev, L.in);
      const std::size_t n = batch * L.in;
      for (std::size_t i = 0; i < n; ++i) prev[i] = a[i] > T(0) ? prev[i] : T(0);
    }
  }

  void sgd(T lr) {
    for (Layer& L : layers_) {
      for (std::size_t i = 0; i < L.w.size(); ++i) L.w[i] -= lr * L.gw[i];
      for (std::size_t i = 0; i < L.b.size(); ++i) L.b[i] -= lr * L.gb[i];
    }
  }

  T step(const T* x, const std::size_t* targets, std::size_t batch, T lr) {
    const T loss = forward(x, targets, batch);
    backward();
    sgd(lr);
    return loss;
  }

  // Only the 8 GEMMs of a step (3 forward, 5 backward) on the same buffers: the floor.
  void gemms_only(const T* x, std::size_t batch) {
    const T* a = x;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const Layer& L = layers_[l];
      gemm(false, true, batch, L.out, L.in, a, L.in, L.w.data(), L.in, z_[l].data(), L.out);
      a = z_[l].data();
    }
    for (std::size_t l = layers_.size(); l-- > 0;) {
      Layer& L = layers_[l];
      const T* src = l == 0 ? x : z_[l - 1].data();
      gemm(true, false, L.out, L.in, batch, d_[l].data(), L.out, src, L.in, L.gw.data(), L.in);
      if (l > 0) gemm(false, false, batch, L.in, L.out, d_[l].data(), L.out, L.w.data(), L.in,
                      d_[l - 1].data(), L.in);
    }
  }

 private:
  std::vector<std::size_t> sizes_;
  std::vector<Layer> layers_;
  std::vector<std::vector<T>> z_, d_;
  const T* x_ = nullptr;
  std::size_t batch_ = 0;
};

}  // namespace bench
