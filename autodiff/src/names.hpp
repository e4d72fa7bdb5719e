// Tensor::set_name's one hook: explain() (explain.cpp) perturbs a named result while it re-runs
// the user's program for a finite-difference check. Private to the library.
#pragma once

#include "matgrad/tensor.hpp"

namespace matgrad::detail {

// Called by set_name on this thread when set; null otherwise.
inline thread_local void (*on_set_name)(Tensor& named) = nullptr;

}  // namespace matgrad::detail
