// explain()'s two hooks (explain_check.cpp): while it re-runs the user's program for a
// finite-difference check, it perturbs a result that set_name names, or one it finds by its
// position among the records the re-run makes. Private to the library.
#pragma once

#include "matgrad/tensor.hpp"

namespace matgrad::detail {

// Called by set_name on this thread when set; null otherwise.
inline thread_local void (*on_set_name)(Tensor& named) = nullptr;

// Called by push_record (tape.cpp) on this thread when set, with the tensor the op returns
// (which holds its record); null otherwise.
inline thread_local void (*on_record)(Tensor& output) = nullptr;

}  // namespace matgrad::detail
