// Forward mode inside the library: the dual level with the options the functional helpers need,
// and tangent access for the engine, in-place updates and the helpers. Private to autodiff/.
#pragma once

#include "matgrad/autograd.hpp"
#include "matgrad/forward_ad.hpp"

#include <cstddef>

namespace matgrad::detail {

struct LevelOptions {
  std::size_t batch = 0;        // directions carried together (jacfwd, hessian); 0: one
  bool record_tangents = true;  // false: JVPs run without grad mode (a tangent nobody
                                // differentiates in reverse mode need not be recorded)
};

// A dual level with options; DualLevel is one with the defaults.
class ForwardLevel {
 public:
  explicit ForwardLevel(LevelOptions options, std::string_view who);
  ~ForwardLevel();
  ForwardLevel(const ForwardLevel&) = delete;
  ForwardLevel& operator=(const ForwardLevel&) = delete;
};

// t's tangent at the open level, or nullptr.
const Tensor* tangent_of(const Tensor& t);
// The same, undefined when there is none.
Tensor tangent_or_none(const Tensor& t);

// make_dual for the helpers: gives `fresh` (a tensor the caller has just made, with no tangent)
// the tangent, shaped [batch] ++ fresh.shape() in a batched level. No copy.
void attach_tangent(const Tensor& fresh, Tensor tangent);

// The tangent side of the in-place updates (tensor.cpp); each returns at once outside forward
// mode.
void add_tangent_in_place(const Tensor& self, const Tensor& other, double alpha);
void scale_tangent_in_place(const Tensor& self, double factor);
void copy_tangent_in_place(const Tensor& self, const Tensor& other);
void drop_tangent(const Tensor& self);

// A batched tangent's tensor with its input's dims padded by leading 1s to `rank`, so that it
// broadcasts against tensors of that rank ([N, 4] against [3, 4] becomes [N, 1, 4]); an
// unbatched one as it is.
Tensor aligned(const Tangent& t, std::size_t rank);

}  // namespace matgrad::detail
